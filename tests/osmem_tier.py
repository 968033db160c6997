"""The osmem-server test tier: an in-memory OpenSearch-compatible engine behind a small proxy.

osmem-server (PyPI ``osmem-server``) is not Elasticsearch. It answers the official
``elasticsearch`` 8 client once two things are smoothed over, which is all this proxy does:

- requests: ``application/vnd.elasticsearch+json; compatible-with=8`` (and ``+x-ndjson``) in
  ``Content-Type`` / ``Accept`` become plain ``application/json`` / ``application/x-ndjson``,
  which osmem-server accepts (it answers 406 to the vendor types);
- responses: a JSON ``Content-Type`` is given back in the vendor form the client asked for, and
  ``X-Elastic-Product: Elasticsearch`` is set so the client's product check passes.

``BEATWATCH_OSMEM`` names the osmem-server binary (pip installs it inside the package, at
``site-packages/osmem_server/bin/osmem-server``). Unset, :func:`osmem_executable` returns None
and the tests that need the tier skip. Use::

    with start_osmem_tier(exe) as url:        # or: url, stop = start_osmem_tier(exe)
        Elasticsearch(url).info()
"""

from __future__ import annotations

import collections
import http.client
import json
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

ENV = "BEATWATCH_OSMEM"
PRODUCT_HEADER = ("X-Elastic-Product", "Elasticsearch")
STARTUP_TIMEOUT = 30.0

_VENDOR = re.compile(r"application/vnd\.elasticsearch\+([\w.-]+)(?:\s*;\s*compatible-with=(\d+))?")
_PLAIN_JSON = re.compile(r"application/(json|x-ndjson)\b(?:\s*;\s*charset=[\w-]+)?", re.I)
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class OsmemTierError(RuntimeError):
    """The osmem-server tier could not be started: bad ``BEATWATCH_OSMEM`` or a dead server."""


def osmem_executable() -> str | None:
    """The osmem-server binary named by ``BEATWATCH_OSMEM``, else the one the installed
    ``osmem-server`` package carries (a test extra on Linux x86-64), else None.

    A set variable that names no executable file is an error, not a skip: a CI job that meant
    to run the tier must not pass by silently running nothing.
    """
    path = os.environ.get(ENV, "").strip()
    if not path:
        try:
            import osmem_server
        except ImportError:
            return None
        return str(osmem_server.resolve_binary())
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise OsmemTierError(f"{ENV}={path!r} is not an executable file")
    return path


def plain_media_type(value: str) -> str:
    """``application/vnd.elasticsearch+X; compatible-with=N`` as ``application/X``."""
    return _VENDOR.sub(r"application/\1", value)


def vendor_media_type(value: str, version: str = "8") -> str:
    """``application/json`` (or ``x-ndjson``) as the client's compatible-with vendor type."""
    return _PLAIN_JSON.sub(
        lambda m: f"application/vnd.elasticsearch+{m.group(1).lower()};compatible-with={version}",
        value,
    )


class OsmemTier(NamedTuple):
    """A running tier: the proxy's URL for the client, and ``stop()`` to end proxy and server.

    Unpack it (``url, stop = ...``) or use it as a context manager that yields the URL.
    """

    url: str
    stop: Callable[[], None]

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_osmem_tier(executable: str | None = None) -> OsmemTier:
    """Start osmem-server on a free loopback port, wait until it answers, and front it.

    ``executable`` defaults to :func:`osmem_executable`; with neither, this raises
    :class:`OsmemTierError`. The server exits with this process (``--parent-pid``) even if
    ``stop`` is never called.
    """
    executable = executable or osmem_executable()
    if executable is None:
        raise OsmemTierError(f"no osmem-server binary: set {ENV}")
    server = OsmemProcess(executable)
    try:
        server.wait_until_answering()
        proxy = MediaTypeProxy(server.host, server.port)
    except BaseException:
        server.stop()
        raise

    def stop() -> None:
        proxy.stop()
        server.stop()

    return OsmemTier(proxy.url, stop)


class OsmemProcess:
    """An osmem-server child process on ``127.0.0.1:0``; it prints its URL once listening."""

    def __init__(self, executable: str, *args: str) -> None:
        cmd = [executable, "--addr", "127.0.0.1:0", "--no-ja", "--parent-pid", str(os.getpid())]
        self._proc = subprocess.Popen(
            [*cmd, *args],
            stdin=subprocess.PIPE,  # closing it stops the server
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._ready = threading.Event()
        self._banner: dict[str, Any] = {}
        self.output: collections.deque[str] = collections.deque(maxlen=50)
        threading.Thread(target=self._drain, name="osmem-output", daemon=True).start()

    def _drain(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self.output.append(line.rstrip())
            if not self._ready.is_set() and line.startswith("{"):
                try:
                    banner = json.loads(line)
                except ValueError:
                    continue
                if isinstance(banner, dict) and "url" in banner:
                    self._banner = banner
                    self._ready.set()
        self._ready.set()  # exited: wake the waiter, which then sees no banner

    @property
    def url(self) -> str:
        return str(self._banner["url"])

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1].rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def wait_until_answering(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Block until the server has printed its URL and answers ``GET /`` with 200."""
        deadline = time.monotonic() + timeout
        if not self._ready.wait(timeout) or not self._banner:
            raise OsmemTierError(f"osmem-server did not start: {self._tail()}")
        while True:
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise OsmemTierError(f"osmem-server does not answer: {self._tail()}")
            time.sleep(0.05)

    def _tail(self) -> str:
        return " | ".join(self.output) or f"exit code {self._proc.poll()}"

    def stop(self, grace: float = 5.0) -> None:
        """Close its stdin (it exits on that), and kill it if it lingers."""
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.close()
                self._proc.wait(grace)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()


class MediaTypeProxy:
    """A loopback HTTP/1.1 proxy to one upstream that rewrites media types as described above."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        handler = type("Handler", (_ProxyHandler,), {"upstream": (upstream_host, upstream_port)})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="osmem-proxy", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream: tuple[str, int]
    _conn: http.client.HTTPConnection | None = None

    def do_GET(self) -> None:
        self._forward()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _forward(self) -> None:
        body = self._read_body()
        headers = {
            k: plain_media_type(v) if k.lower() in ("content-type", "accept") else v
            for k, v in self.headers.items()
            if k.lower() not in _HOP_BY_HOP
        }
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        try:
            status, reason, resp_headers, resp_body = self._upstream(body, headers)
        except (http.client.HTTPException, OSError) as exc:
            self._answer(502, "Bad Gateway", [("Content-Type", "text/plain")], str(exc).encode())
            return
        vendor = _VENDOR.search(self.headers.get("Accept") or "")
        out = []
        for k, v in resp_headers:
            if k.lower() in _HOP_BY_HOP or k.lower() == PRODUCT_HEADER[0].lower():
                continue
            if k.lower() == "content-type" and vendor:
                v = vendor_media_type(v, vendor.group(2) or "8")
            out.append((k, v))
        out.append(PRODUCT_HEADER)
        length = dict((k.lower(), v) for k, v in resp_headers).get("content-length")
        self._answer(status, reason, out, resp_body, head_length=length)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _upstream(
        self, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        """One round trip, on this client connection's own upstream connection.

        A kept-alive upstream connection the server has since closed is retried once on a
        fresh one; a failure on a fresh connection is final.
        """
        while True:
            reused = self._conn is not None
            if self._conn is None:
                self._conn = http.client.HTTPConnection(*self.upstream, timeout=60)
            try:
                self._conn.request(self.command, self.path, body=body or None, headers=headers)
                resp = self._conn.getresponse()
                data = resp.read()
            except (http.client.HTTPException, OSError):
                self._conn.close()
                self._conn = None
                if not reused:
                    raise
                continue
            if resp.will_close:
                self._conn.close()
                self._conn = None
            return resp.status, resp.reason, resp.getheaders(), data

    def _answer(
        self,
        status: int,
        reason: str,
        headers: list[tuple[str, str]],
        body: bytes,
        head_length: str | None = None,
    ) -> None:
        self.send_response_only(status, reason)
        for k, v in headers:
            self.send_header(k, v)
        is_head = self.command == "HEAD"
        self.send_header("Content-Length", (head_length or "0") if is_head else str(len(body)))
        self.end_headers()
        if not is_head:
            self.wfile.write(body)

    def finish(self) -> None:
        super().finish()
        if self._conn is not None:
            self._conn.close()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: pytest output is for test results
