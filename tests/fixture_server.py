"""A real HTTP server on loopback serving the fixture outlets in tests/fixture_site/.

Each outlet folder is served on its own loopback address (127.0.0.2, 127.0.0.3, ...) so that
allowed_domains, robots.txt and per-host politeness behave as on the web. ``{{BASE}}`` in a file
becomes the outlet's ``http://host:port`` and ``{{HOSTPORT}}`` its ``host:port``; ``/x.xml.gz``
is served as ``x.xml`` gzipped when only the plain file exists. Every outlet also answers:

    /status/<code>        that status, small HTML body
    /redirect/<n>/<path>  n 302 hops, then <path>
    /loop                 a redirect to itself, forever
    /big                  an HTML page of 6 MB
    /docs/report.pdf      a small PDF; /img/photo.jpg an image
    /slow/<path>          waits 3 s, then serves <path>
    /flaky/<n>/<path>     503 for the first n requests, then serves <path>

Feeds get an ETag (the body's hash) and a Last-Modified, and answer 304 to a matching
conditional request. ``site.put(path, body)`` replaces or adds a file for the test's duration;
``site.requests`` lists ``(method, path, headers)`` of every request served.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SITE_ROOT = Path(__file__).parent / "fixture_site"
LAST_MODIFIED = formatdate(1_764_000_000, usegmt=True)

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/rss+xml",
    ".rdf": "application/rdf+xml",
    ".txt": "text/plain",
    ".pdf": "application/pdf",
    ".jpg": "image/jpeg",
    ".png": "image/png",
}
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64 + b"\xff\xd9"


@dataclass
class Site:
    """One outlet: its folder, its address once started, overrides and the request log."""

    name: str
    host: str
    folder: Path
    port: int = 0
    overrides: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str, dict]] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def put(self, path: str, body: str | bytes) -> None:
        """Serve ``body`` at ``path`` (``{{BASE}}`` substituted) instead of the file there."""
        self.overrides[path] = body.encode("utf-8") if isinstance(body, str) else body

    def paths_requested(self) -> list[str]:
        return [path for _, path, _ in self.requests]

    def resolve(self, path: str) -> tuple[bytes, str] | None:
        """The body and content type for a path, from the overrides or the folder."""
        clean = path.split("?", 1)[0]
        if path in self.overrides or clean in self.overrides:
            body = self.overrides.get(path, self.overrides.get(clean))
            return self._subst(body), _type_of(clean)
        target = self.folder / clean.lstrip("/")
        if clean.endswith(".gz") and not target.is_file():
            plain = self.resolve(clean.removesuffix(".gz"))
            return (gzip.compress(plain[0], mtime=0), "application/x-gzip") if plain else None
        if clean.endswith("/"):
            for index in ("index.html", "index.xml"):
                if (target / index).is_file():
                    target = target / index
                    break
        if not target.is_file():
            return None
        return self._subst(target.read_bytes()), _type_of(target.name)

    def _subst(self, body: bytes) -> bytes:
        body = body.replace(b"{{BASE}}", self.base.encode("ascii"))
        return body.replace(b"{{HOSTPORT}}", f"{self.host}:{self.port}".encode("ascii"))


def _type_of(name: str) -> str:
    if name.endswith("atom.xml") or name.endswith("atom03.xml"):
        return "application/atom+xml"
    if name.endswith("/index.xml") or name == "index.xml":
        return "application/rss+xml"
    suffix = Path(name).suffix
    return TYPES.get(suffix, "text/html; charset=utf-8")


class _Handler(BaseHTTPRequestHandler):
    site: Site
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        self.site.requests.append(("GET", self.path, dict(self.headers.items())))
        path = self.path
        if path.startswith("/status/"):
            code = int(path.split("/")[2])
            return self._send(code, f"<html><body>status {code}</body></html>".encode())
        if path.startswith("/redirect/"):
            _, _, hops, rest = path.split("/", 3)
            n = int(hops)
            target = f"/redirect/{n - 1}/{rest}" if n > 1 else "/" + rest
            return self._send(302, b"", headers={"Location": self.site.url(target)})
        if path == "/loop":
            return self._send(302, b"", headers={"Location": self.site.url("/loop")})
        if path == "/big":
            body = b"<html><body><p>" + b"filler text " * 520_000 + b"</p></body></html>"
            return self._send(200, body)
        if path.startswith("/flaky/"):
            _, _, times, rest = path.split("/", 3)
            served = self.site.failures.get(path, 0)
            if served < int(times):
                self.site.failures[path] = served + 1
                return self._send(503, b"<html><body>try later</body></html>")
            path = "/" + rest
        if path.startswith("/slow/"):
            time.sleep(3)
            path = path.removeprefix("/slow")
        if path.endswith(".pdf"):
            return self._send(200, PDF, "application/pdf")
        if path.endswith(".jpg"):
            return self._send(200, JPEG, "image/jpeg")
        found = self.site.resolve(path)
        if found is None:
            return self._send(404, b"<html><body>not found</body></html>")
        body, ctype = found
        if "xml" in ctype or "rdf" in ctype:
            return self._send_feed(body, ctype)
        return self._send(200, body, ctype)

    def _send_feed(self, body: bytes, ctype: str) -> None:
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        validators = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
        if self.headers.get("If-None-Match") == etag:
            return self._send(304, b"", headers=validators)
        self._send(200, body, ctype, headers=validators)

    def _send(
        self,
        code: int,
        body: bytes,
        ctype: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(code)
        if code != 304:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if code != 304:
            self.wfile.write(body)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A crawler hanging up on /big mid-body is expected; anything else is a real fault.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class FixtureSites:
    """Starts one loopback server per outlet folder; ``sites[name]`` gives each outlet."""

    def __init__(self, root: Path = SITE_ROOT):
        folders = sorted(p for p in root.iterdir() if p.is_dir() and p.name != "expected")
        self.sites = {
            p.name: Site(name=p.name, host=f"127.0.0.{i + 2}", folder=p)
            for i, p in enumerate(folders)
        }
        self._servers: list[ThreadingHTTPServer] = []

    def __getitem__(self, name: str) -> Site:
        return self.sites[name]

    def start(self) -> FixtureSites:
        for site in self.sites.values():
            handler = type(f"Handler_{site.name}", (_Handler,), {"site": site})
            server = _QuietServer((site.host, 0), handler)
            site.port = server.server_address[1]
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self._servers.append(server)
        return self

    def reset(self) -> None:
        """Forget overrides and request logs between tests."""
        for site in self.sites.values():
            site.overrides.clear()
            site.requests.clear()
            site.failures.clear()

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
