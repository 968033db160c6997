"""A local HTTP stand-in for contract tests of the Elasticsearch store. It is NOT Elasticsearch.

It answers the official ``elasticsearch`` client the way the REST API would for the calls our store
makes: product header, compatible-with=8 media types, index templates applied to new indices,
aliases (atomic ``_aliases``, write index), ``_bulk`` with external versioning, ``dynamic: strict``
and ``_source.excludes``, ``_search``/scroll/``_count``, info, plugins, health and ES-shaped errors.
Queries are NOT evaluated: a search answers every document of the index (or a canned response).
Everything written is visible at once, as if each request refreshed; delete tombstones never
expire. Every request is recorded, and faults can be injected per request (``fail_next``), per
bulk item (``fail_items``) or per connection (``refuse``/``accept``, ``stop``/``restart``).
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import itertools
import json
import re
import socket
import threading
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

# fmt: off
MEDIA_TYPE = "application/vnd.elasticsearch+json;compatible-with=8"
ACCEPTED_TYPES = {"application/json", "application/x-ndjson", "application/vnd.elasticsearch+json",
                  "application/vnd.elasticsearch+x-ndjson"}
BULK_META = {"_index", "_id", "version", "version_type", "routing", "require_alias", "pipeline",
             "if_seq_no", "if_primary_term", "dynamic_templates"}
ALIAS_OPTIONS = ("is_write_index", "filter", "routing", "index_routing", "search_routing",
                 "is_hidden")
EXTERNAL = ("external", "external_gte")
SHARDS = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}
FAULT_TYPES = {400: "illegal_argument_exception", 401: "security_exception",
               403: "security_exception", 404: "resource_not_found_exception",
               409: "version_conflict_engine_exception",
               429: "es_rejected_execution_exception", 503: "unavailable_shards_exception"}
WRITE_INDEX_HINT = ("The write index may be explicitly disabled using is_write_index=false or "
                    "the alias points to multiple indices without one being designated as a "
                    "write index")
_V = "action_request_validation_exception"
ERRORS = {  # key: (status, type, reason template)
    "no_index": (404, "index_not_found_exception", "no such index [{name}]"),
    "not_alias": (404, "index_not_found_exception", "no such index [{name}] and [require_alias] "
                  "request flag is [true] and [{name}] is not an alias"),
    "auth": (401, "security_exception", "unable to authenticate user for REST request [{name}]"),
    "media": (406, "media_type_header_exception", "Content-Type header [{name}] is not supported"),
    "parse": (400, "x_content_parse_exception", "cannot parse the request body: {why}"),
    "method": (405, "illegal_argument_exception", "Incorrect HTTP method for uri [{name}] and "
               "method [{why}]"),
    "no_handler": (400, "illegal_argument_exception", "no handler found for uri [{name}] and "
                   "method [{why}]"),
    "no_writer": (400, "illegal_argument_exception", "no write index is defined for alias [{name}]."
                  " " + WRITE_INDEX_HINT),
    "validation": (400, _V, "Validation Failed: 1: {why};"),
    "template_exists": (400, "illegal_argument_exception", "index template [{name}] already "
                        "exists"),
    "no_template": (404, "resource_not_found_exception", "index template matching [{name}] not "
                    "found"),
    "bad_name": (400, "invalid_index_name_exception", "Invalid index name [{name}], {why}"),
    "index_exists": (400, "resource_already_exists_exception", "index [{name}/{why}] already "
                     "exists"),
    "alias_is_index": (400, "invalid_alias_name_exception", "Invalid alias name [{name}]: an index "
                       "or data stream exists with the same name as the alias"),
    "wildcard": (400, "illegal_argument_exception", "Wildcard expressions or all indices are not "
                 "allowed"),
    "is_alias": (400, "illegal_argument_exception", "The provided expression [{name}] matches an "
                 "alias, specify the corresponding concrete indices instead."),
    "alias_missing": (404, "aliases_not_found_exception", "aliases [{name}] missing"),
    "two_writers": (400, "illegal_state_exception", "alias [{name}] has more than one write index "
                    "[{why}]"),
    "unknown": (400, "illegal_argument_exception", "{why} (not supported by this stand-in)"),
    "bad_line": (400, "illegal_argument_exception", "Malformed action/metadata line [{name}], "
                 "expected field [create], [delete], [index] or [update] but found [{why}]"),
    "bad_meta": (400, "illegal_argument_exception", "Action/metadata line [{name}] contains an "
                 "unknown parameter [{why}]"),
    "no_newline": (400, "illegal_argument_exception", "The bulk request must be terminated by a "
                   "newline [\\n]"),
    "conflict": (409, "version_conflict_engine_exception", "[{name}]: version conflict, current "
                 "version [{why}] is higher or equal to the one provided [{version}]"),
    "exists": (409, "version_conflict_engine_exception", "[{name}]: version conflict, document "
               "already exists (current version [{why}])"),
    "strict": (400, "strict_dynamic_mapping_exception", "[1:2] mapping set to strict, dynamic "
               "introduction of [{name}] within [{why}] is not allowed"),
    "not_object": (400, "document_parsing_exception", "[1:2] object mapping for [{name}] tried to "
                   "parse field [{name}] as object, but found a concrete value"),
    "bad_value": (400, "document_parsing_exception", "[1:2] failed to parse field [{name}] of type "
                  "[{why}] in document with id '{version}'. Preview of field's value: '{value}'"),
    "no_scroll": (404, "search_phase_execution_exception", "all shards failed"),
    "injected": (0, "", "injected by the stand-in"),
    "bug": (500, "exception", "the stand-in failed: {why}"),
}
ROUTES = [(m.split(), re.compile(p), h) for m, p, h in [
    ("GET HEAD", r"/", "_info"),
    ("GET", r"/_nodes/plugins", "_plugins"),
    ("GET", r"/_cluster/health(?:/(?P<index>[^/]+))?", "_health"),
    ("PUT POST", r"(?:/(?P<index>[^/]+))?/_bulk", "_bulk"),
    ("GET POST", r"/_search/scroll(?:/(?P<scroll_id>[^/]+))?", "_scroll"),
    ("DELETE", r"/_search/scroll(?:/(?P<scroll_id>[^/]+))?", "_clear_scroll"),
    ("GET POST", r"(?:/(?P<index>[^/]+))?/_search", "_search"),
    ("GET POST", r"(?:/(?P<index>[^/]+))?/_count", "_count"),
    ("GET POST", r"(?:/(?P<index>[^/]+))?/_refresh", "_refresh"),
    ("GET HEAD PUT POST DELETE", r"/_index_template(?:/(?P<name>[^/]+))?", "_template"),
    ("POST", r"/_aliases", "_update_aliases"),
    ("GET HEAD", r"(?:/(?P<index>[^/]+))?/_alias(?:/(?P<name>[^/]+))?", "_get_alias"),
    ("GET", r"(?:/(?P<index>[^/]+))?/_mapping", "_get_mapping"),
    ("GET HEAD PUT DELETE", r"/(?P<index>[^/_][^/]*)", "_index"),
]]
# fmt: on


class _Refusal(Exception):
    """An error to answer in Elasticsearch's shape: ``{"error": {...}, "status": N}``."""

    def __init__(self, key: str, status: int = 0, kind: str = "", **fields: Any) -> None:
        default_status, default_kind, template = ERRORS[key]
        fields = {"name": "", "why": "", "version": "", "value": "", **fields}
        extra = fields.pop("extra", {})
        super().__init__(template.format(**fields))
        self.status = status or default_status
        self.error = {"type": kind or default_kind, "reason": str(self), **extra}
        if self.error["type"] == "index_not_found_exception":
            self.error |= {"resource.type": "index_or_alias", "resource.id": fields["name"]}
            self.error |= {"index_uuid": "_na_", "index": fields["name"]}

    def body(self) -> dict:
        return {"error": {"root_cause": [dict(self.error)], **self.error}, "status": self.status}


def _matches(method: str, path_regex: str, rec: Recorded) -> bool:
    """The request has that method (or ``method`` is "*") and its path matches ``re.search``."""
    return method in (rec.method, "*") and re.search(path_regex, rec.path) is not None


class Hold:
    """A request kept waiting by ``EsStandIn.hold_next``."""

    def __init__(self, method: str, path_regex: str) -> None:
        self.method, self.path_regex = method, path_regex
        self.arrived, self.released = threading.Event(), threading.Event()

    def matches(self, rec: Recorded) -> bool:
        return _matches(self.method, self.path_regex, rec)

    def wait_arrived(self, timeout: float = 30) -> None:
        """Block until the held request has come in."""
        assert self.arrived.wait(timeout), f"no {self.method} {self.path_regex} came in"

    def release(self) -> None:
        """Let the held request be answered."""
        self.released.set()


@dataclass
class Recorded:
    """One request as received: header names lower-cased, body after gzip decoding."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any = None  # parsed body; for _bulk the list of parsed NDJSON lines


@dataclass
class Doc:
    """A stored document: ``source`` as _source returns it, ``indexed`` as it was sent."""

    source: dict | None
    indexed: dict
    version: int
    seq_no: int


@dataclass
class Index:
    """A concrete index; ``template`` names the index template applied when it was created."""

    name: str
    settings: dict
    mappings: dict
    aliases: dict[str, dict]
    template: str | None = None
    docs: dict[str, Doc] = field(default_factory=dict)
    tombstones: dict[str, int] = field(default_factory=dict)


def _flat(tree: dict, prefix: str = "") -> dict:
    out: dict = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def _text(value: Any) -> Any:
    if isinstance(value, list):
        return [_text(v) for v in value]
    return str(value).lower() if isinstance(value, bool) else str(value)


def _settings(*layers: dict) -> dict:
    """Merge settings layers the way ES reports them: under ``index``, leaves as strings."""
    flat = {"index.number_of_shards": "1", "index.number_of_replicas": "1"}
    for layer in layers:
        flat |= {k if k.startswith("index.") else f"index.{k}": v for k, v in _flat(layer).items()}
    nested: dict = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = _text(value)
    return nested


def _merge(base: dict, top: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in top.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merge(out[key], value) if both else copy.deepcopy(value)
    return out


def _strip(source: dict, patterns: list[str], prefix: str = "") -> dict:
    out = {}
    for key, value in source.items():
        path = prefix + key
        if not any(fnmatchcase(path, p) for p in patterns):
            out[key] = _strip(value, patterns, path + ".") if isinstance(value, dict) else value
    return copy.deepcopy(out)


def _fits(kind: str | None, value: Any, fmt: str | None) -> bool:
    if isinstance(value, dict):
        return False
    if kind == "date" and fmt is None and not isinstance(value, int):
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(str(value)) is not None
        return False
    if kind in ("integer", "long", "short", "byte", "float", "double"):
        return (
            not isinstance(value, bool) and re.fullmatch(r"-?\d+(\.\d+)?", str(value)) is not None
        )
    return kind != "boolean" or value in (True, False, "true", "false", "")


def _check(mapping: dict, doc: dict, doc_id: str, dynamic: str = "true", within: str = "") -> None:
    """Reject fields a strict mapping lacks and values a mapped leaf type cannot parse."""
    dynamic = str(mapping.get("dynamic", dynamic)).lower()
    for key, value in doc.items():
        spec, path = mapping.get("properties", {}).get(key), f"{within}{key}"
        if spec is None and dynamic == "strict":
            raise _Refusal("strict", name=key, why=within.rstrip(".") or "_doc")
        for item in [] if spec is None else value if isinstance(value, list) else [value]:
            if item is not None and ("properties" in spec or spec.get("type") == "object"):
                if not isinstance(item, dict):
                    raise _Refusal("not_object", name=path)
                _check(spec, item, doc_id, dynamic, path + ".")
            elif item is not None and not _fits(spec.get("type"), item, spec.get("format")):
                raise _Refusal("bad_value", name=path, why=spec["type"], version=doc_id, value=item)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, standin: EsStandIn) -> None:
        self.standin, self.sockets = standin, set()
        super().__init__(("127.0.0.1", port), _Handler)

    def process_request(self, request, client_address) -> None:
        self.sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        self.sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hung up, or a connection closed by stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, body, extra = self.server.standin._answer(self.command, self.path, headers, raw)
        if status == 0:
            self.close_connection = True  # hang up without an answer
            return
        payload = b"" if body is None or self.command == "HEAD" else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Type", MEDIA_TYPE)
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class EsStandIn:
    """An in-memory stand-in for the Elasticsearch REST API on 127.0.0.1 (not Elasticsearch)."""

    def __init__(
        self,
        plugins: list[str] | None = None,
        *,
        version: str = "8.15.0",
        auth: str | None = None,
        auto_create_index: bool = True,
    ) -> None:
        """``plugins``: names ``_nodes/plugins`` lists; ``auth``: the exact Authorization header
        to require (401 otherwise), None for any; ``auto_create_index`` as the ES setting."""
        self.plugins, self.version, self.auth = list(plugins or []), version, auth
        self.auto_create_index = auto_create_index
        self.requests: list[Recorded] = []
        self.templates: dict[str, dict] = {}
        self.indices: dict[str, Index] = {}
        self._faults: list[list] = []
        self._item_faults: dict[str, list] = {}
        self._canned: list = [None, 0]
        self._holds: list[Hold] = []
        self._scrolls: dict[str, list] = {}
        self._seq = itertools.count()
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._port = 0

    def start(self) -> EsStandIn:
        """Listen on 127.0.0.1: a free port the first time, the same port after a stop."""
        self._server = _Server(self._port, self)
        self._port = self._server.server_address[1]
        serve = self._server.serve_forever
        threading.Thread(target=serve, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Close the listening socket and every open connection: new requests are refused."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            for sock in list(server.sockets):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def restart(self) -> EsStandIn:
        """Stop, then listen on the same port again; the data is kept."""
        self.stop()
        return self.start()

    refuse, accept = stop, start

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, stable across stop/restart."""
        return f"http://127.0.0.1:{self._port}"

    def __enter__(self) -> EsStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def requests_to(self, method: str, path_regex: str) -> list[Recorded]:
        """Recorded requests with that method whose path (no query) matches by ``re.search``."""
        return [r for r in self.requests if r.method == method and re.search(path_regex, r.path)]

    def clear(self) -> None:
        """Forget the recorded requests (the data stays)."""
        self.requests.clear()

    def docs(self, name: str) -> dict[str, Doc]:
        """The documents of an index, or of every index behind an alias, by _id."""
        with self._lock:
            return {i: d for n in self._resolve(name) for i, d in self.indices[n].docs.items()}

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        body: dict | None = None,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests matching method (or "*") and path (``re.search``)
        with ``status`` and an ES-shaped error body; status 0 hangs up without answering."""
        kind = FAULT_TYPES.get(status, "exception")
        body = body or _Refusal("injected", status=status, kind=kind).body()
        with self._lock:
            self._faults.append([method.upper(), path_regex, status, body, times, headers or {}])

    def hold_next(self, method: str, path_regex: str) -> Hold:
        """Keep the next request matching method (or "*") and path (``re.search``) waiting,
        unanswered, until ``release()`` (a slow cluster); others are answered meanwhile."""
        hold = Hold(method.upper(), path_regex)
        with self._lock:
            self._holds.append(hold)
        return hold

    def fail_items(self, doc_id: str, status: int, error_type: str, times: int = 1) -> None:
        """Fail that document's bulk item with ``status``/``error_type`` for the next attempts."""
        with self._lock:
            self._item_faults[doc_id] = [status, error_type, times]

    def set_search_response(self, body: dict, times: int = 1) -> None:
        """Answer the next ``times`` ``_search`` requests with ``body`` exactly as given."""
        with self._lock:
            self._canned = [copy.deepcopy(body), times]

    def _answer(self, method: str, target: str, headers: dict, raw: bytes) -> tuple:
        split = urlsplit(target)
        if headers.get("content-encoding") == "gzip":
            raw = gzip.decompress(raw)
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        rec = Recorded(method, split.path, params, headers, raw)
        self._wait_if_held(rec)
        with self._lock:
            self.requests.append(rec)
            for fault in self._faults:
                if fault[4] > 0 and _matches(fault[0], fault[1], rec):
                    fault[4] -= 1
                    return fault[2], fault[3], fault[5]
            try:
                return (*self._route(rec), {})
            except _Refusal as err:
                extra = {"WWW-Authenticate": 'ApiKey, Basic realm="security"'}
                return err.status, err.body(), extra if err.status == 401 else {}
            except Exception as exc:  # a stand-in bug: answer 500 rather than hang up
                traceback.print_exc()
                return 500, _Refusal("bug", why=repr(exc)).body(), {}

    def _wait_if_held(self, rec: Recorded) -> None:
        with self._lock:
            hold = next((h for h in self._holds if h.matches(rec)), None)
            if hold is not None:
                self._holds.remove(hold)
        if hold is not None:
            hold.arrived.set()
            hold.released.wait(timeout=60)

    def _route(self, rec: Recorded) -> tuple[int, dict | None]:
        if self.auth is not None and rec.headers.get("authorization") != self.auth:
            raise _Refusal("auth", name=rec.path)
        kind = rec.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if rec.body and kind not in ACCEPTED_TYPES:
            raise _Refusal("media", name=kind)
        try:
            if rec.path.endswith("/_bulk"):
                rec.json = [json.loads(line) for line in rec.body.splitlines() if line.strip()]
            elif rec.body:
                rec.json = json.loads(rec.body)
        except ValueError as exc:
            raise _Refusal("parse", why=exc) from exc
        allowed = False
        for methods, pattern, handler in ROUTES:
            if match := pattern.fullmatch(rec.path):
                allowed = True
                if rec.method in methods:
                    args = {k: unquote(v) for k, v in match.groupdict().items() if v}
                    return getattr(self, handler)(rec, **args)
        raise _Refusal("method" if allowed else "no_handler", name=rec.path, why=rec.method)

    def _resolve(self, expr: str | None) -> list[str]:
        """Concrete index names for a comma list of indices, aliases and wildcards."""
        names: list[str] = []
        for part in (expr or "_all").split(","):
            if part in ("_all", "*"):
                names += self.indices
            elif part in self.indices:
                names.append(part)
            else:
                matched = [
                    n
                    for n, ix in self.indices.items()
                    if ("*" in part and fnmatchcase(n, part))
                    or any(fnmatchcase(a, part) for a in ix.aliases)
                ]
                if not matched and "*" not in part:
                    raise _Refusal("no_index", name=part)
                names += matched
        return list(dict.fromkeys(names))

    def _write_index(self, name: str) -> Index:
        if name in self.indices:
            return self.indices[name]
        members = [ix for ix in self.indices.values() if name in ix.aliases]
        writers = [ix for ix in members if ix.aliases[name].get("is_write_index")]
        if len(members) == 1 and members[0].aliases[name].get("is_write_index") is not False:
            return members[0]
        if writers:
            return writers[0]
        if members:
            raise _Refusal("no_writer", name=name)
        if not self.auto_create_index:
            raise _Refusal("no_index", name=name)
        return self._create(name, {})

    def _info(self, rec: Recorded) -> tuple[int, dict]:
        version = {
            "number": self.version,
            "build_flavor": "default",
            "build_type": "docker",
            "lucene_version": "9.11.1",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0",
        }
        return 200, {
            "name": "standin-0",
            "cluster_name": "beatwatch-standin",
            "cluster_uuid": "standin",
            "version": version,
            "tagline": "You Know, for Search",
        }

    def _plugins(self, rec: Recorded) -> tuple[int, dict]:
        plugins = [
            {
                "name": p,
                "version": self.version,
                "elasticsearch_version": self.version,
                "description": f"{p} (stand-in)",
                "extended_plugins": [],
            }
            for p in self.plugins
        ]
        node = {"name": "standin-0", "version": self.version, "plugins": plugins, "modules": []}
        return 200, {
            "_nodes": {"total": 1, "successful": 1, "failed": 0},
            "cluster_name": "beatwatch-standin",
            "nodes": {"standin-node": node},
        }

    def _health(self, rec: Recorded, index: str | None = None) -> tuple[int, dict]:
        """Yellow while any index wants replicas (one node); waiting for green then times out."""
        names = self._resolve(index)
        yellow = any(self.indices[n].settings["index"]["number_of_replicas"] != "0" for n in names)
        timed_out = yellow and rec.params.get("wait_for_status") == "green"
        return (408 if timed_out else 200), {
            "cluster_name": "beatwatch-standin",
            "status": "yellow" if yellow else "green",
            "timed_out": timed_out,
            "number_of_nodes": 1,
            "number_of_data_nodes": 1,
            "active_primary_shards": len(names),
            "active_shards": len(names),
            "unassigned_shards": len(names) if yellow else 0,
        }

    def _refresh(self, rec: Recorded, index: str | None = None) -> tuple[int, dict]:
        count = len(self._resolve(index))
        return 200, {"_shards": {"total": 2 * count, "successful": count, "failed": 0}}

    def _template(self, rec: Recorded, name: str | None = None) -> tuple[int, dict | None]:
        if rec.method in ("PUT", "POST"):
            if name is None or not (rec.json or {}).get("index_patterns"):
                raise _Refusal("validation", why="index patterns are missing")
            if rec.params.get("create") == "true" and name in self.templates:
                raise _Refusal("template_exists", name=name)
            self.templates[name] = copy.deepcopy(rec.json)
            return 200, {"acknowledged": True}
        found = [n for n in self.templates if name is None or fnmatchcase(n, name)]
        if name and not found:
            raise _Refusal("no_template", name=name)
        if rec.method == "DELETE":
            for n in found:
                del self.templates[n]
            return 200, {"acknowledged": True}
        templates = [{"name": n, "index_template": self.templates[n]} for n in found]
        return 200, None if rec.method == "HEAD" else {"index_templates": templates}

    def _create(self, name: str, body: dict) -> Index:
        """Create an index, applying the highest-priority index template matching its name."""
        if name != name.lower() or name[0] in "_-+" or re.search(r'[\\/*?"<>| ,#:]', name):
            raise _Refusal("bad_name", name=name, why="must be lowercase, without [_-+] first")
        if name in self.indices:
            raise _Refusal(
                "index_exists", name=name, why=self.indices[name].settings["index"]["uuid"]
            )
        if any(name in ix.aliases for ix in self.indices.values()):
            raise _Refusal("bad_name", name=name, why="already exists as alias")
        matching = [
            (t.get("priority", 0), n)
            for n, t in self.templates.items()
            if any(fnmatchcase(name, p) for p in t["index_patterns"])
        ]
        template = max(matching)[1] if matching else None
        layer = self.templates[template].get("template", {}) if template else {}
        aliases = copy.deepcopy({**layer.get("aliases", {}), **body.get("aliases", {})})
        for alias in aliases:
            if alias in self.indices:
                raise _Refusal("alias_is_index", name=alias)
        settings = _settings(layer.get("settings", {}), body.get("settings", {}))
        settings["index"] |= {"provided_name": name, "uuid": uuid.uuid4().hex[:22]}
        mappings = _merge(layer.get("mappings", {}), body.get("mappings", {}))
        self._check_writers({**{n: ix.aliases for n, ix in self.indices.items()}, name: aliases})
        self.indices[name] = Index(name, settings, mappings, aliases, template)
        return self.indices[name]

    def _index(self, rec: Recorded, index: str) -> tuple[int, dict | None]:
        if rec.method == "PUT":
            self._create(index, rec.json or {})
            return 200, {"acknowledged": True, "shards_acknowledged": True, "index": index}
        if rec.method == "DELETE":
            for part in index.split(","):
                if "*" in part or part == "_all":
                    raise _Refusal("wildcard")
                if part not in self.indices and self._resolve(part):
                    raise _Refusal("is_alias", name=part)
            for part in self._resolve(index):
                del self.indices[part]
            return 200, {"acknowledged": True}
        found = {n: self.indices[n] for n in self._resolve(index)}
        out = {
            n: {"aliases": i.aliases, "mappings": i.mappings, "settings": i.settings}
            for n, i in found.items()
        }
        return 200, None if rec.method == "HEAD" else copy.deepcopy(out)

    def _get_mapping(self, rec: Recorded, index: str | None = None) -> tuple[int, dict]:
        names = self._resolve(index)
        return 200, {n: {"mappings": copy.deepcopy(self.indices[n].mappings)} for n in names}

    def _get_alias(self, rec: Recorded, index: str | None = None, name: str | None = None) -> tuple:
        patterns = name.split(",") if name else ["*"]
        out = {}
        for n in self._resolve(index):
            aliases = self.indices[n].aliases
            found = {a: o for a, o in aliases.items() if any(fnmatchcase(a, p) for p in patterns)}
            if found or not name:
                out[n] = {"aliases": copy.deepcopy(found)}
        status = 404 if name and not out else 200
        if status == 404:  # ES answers this one with a bare string as the error
            out = {"error": f"alias [{name}] missing", "status": 404}
        return status, None if rec.method == "HEAD" else out

    def _update_aliases(self, rec: Recorded) -> tuple[int, dict]:
        """Validate every action against a copy, then commit them all at once, as ES does."""
        actions = (rec.json or {}).get("actions")
        if not actions:
            raise _Refusal("validation", why="no actions specified")
        staged = {n: copy.deepcopy(ix.aliases) for n, ix in self.indices.items()}
        dropped: set[str] = set()
        for action in actions:
            ((kind, spec),) = action.items()
            exprs = spec.get("indices") or [spec.get("index")]
            if not all(exprs):
                raise _Refusal("validation", why="One of [index] or [indices] is required")
            targets = [n for e in exprs for n in self._resolve(e)]
            if kind == "remove_index":
                for expr in exprs:
                    if expr not in self.indices and "*" not in expr:
                        raise _Refusal("is_alias", name=expr)
                dropped |= set(targets)
                continue
            for target, alias in itertools.product(targets, spec.get("aliases") or [spec["alias"]]):
                if kind == "add" and alias in self.indices:
                    raise _Refusal("alias_is_index", name=alias)
                if kind == "add":
                    staged[target][alias] = {k: spec[k] for k in ALIAS_OPTIONS if k in spec}
                elif kind == "remove" and alias in staged[target]:
                    del staged[target][alias]
                elif kind == "remove":
                    extra = {"resource.type": "aliases", "resource.id": alias}
                    raise _Refusal("alias_missing", name=alias, extra=extra)
                else:
                    raise _Refusal("unknown", why=f"alias action [{kind}]")
        self._check_writers({n: a for n, a in staged.items() if n not in dropped})
        for n in dropped:
            del self.indices[n]
        for n, aliases in staged.items():
            if n not in dropped:
                self.indices[n].aliases = aliases
        return 200, {"acknowledged": True, "errors": False}

    @staticmethod
    def _check_writers(aliases_by_index: dict[str, dict]) -> None:
        writers: dict[str, list[str]] = {}
        for index, aliases in aliases_by_index.items():
            for alias, options in aliases.items():
                if options.get("is_write_index"):
                    writers.setdefault(alias, []).append(index)
        for alias, indices in writers.items():
            if len(indices) > 1:
                raise _Refusal("two_writers", name=alias, why=",".join(indices))

    def _bulk(self, rec: Recorded, index: str | None = None) -> tuple[int, dict]:
        """Validate the whole request first (ES rejects it all), then apply item by item."""
        lines, ops, n = rec.json or [], [], 0
        while n < len(lines):
            if not isinstance(lines[n], dict) or len(lines[n]) != 1:
                raise _Refusal("bad_line", name=n + 1, why=lines[n])
            ((op, meta),) = lines[n].items()
            if op == "update":
                raise _Refusal("unknown", why="bulk [update]")
            if op not in ("index", "create", "delete"):
                raise _Refusal("bad_line", name=n + 1, why=op)
            if unknown := sorted(set(meta) - BULK_META):
                raise _Refusal("bad_meta", name=n + 1, why=unknown[0])
            self._validate_op(op, meta, index)
            source = None if op == "delete" else (lines[n + 1 : n + 2] or [None])[0]
            if op != "delete" and not isinstance(source, dict):
                raise _Refusal("no_newline")
            ops.append((op, meta, source))
            n += 1 if op == "delete" else 2
        if rec.params.get("require_alias") == "true":  # the request's default for every action
            ops = [(op, {"require_alias": True, **meta}, source) for op, meta, source in ops]
        items = [{op: self._bulk_item(op, meta, source, index)} for op, meta, source in ops]
        errors = any("error" in item for entry in items for item in entry.values())
        return 200, {"took": 1, "errors": errors, "items": items}

    @staticmethod
    def _validate_op(op: str, meta: dict, index: str | None) -> None:
        external = meta.get("version_type") in EXTERNAL
        if not meta.get("_index", index):
            raise _Refusal("validation", why="index is missing")
        if op == "create" and "version_type" in meta:
            why = "create operations only support internal versioning. use index instead"
            raise _Refusal("validation", why=why)
        if "version" in meta and not external:
            why = "internal versioning can not be used for optimistic concurrency control. "
            raise _Refusal("validation", why=why + "Please use `if_seq_no` and `if_primary_term`")
        if external and "version" not in meta:
            raise _Refusal("validation", why="an explicit version is required")

    def _bulk_item(self, op: str, meta: dict, source: dict | None, index: str | None) -> dict:
        name = meta.get("_index", index)
        doc_id = str(meta.get("_id") or uuid.uuid4().hex[:20])
        item: dict = {"_index": name, "_id": doc_id}
        try:
            fault = self._item_faults.get(doc_id)
            if fault and fault[2] > 0:
                fault[2] -= 1
                raise _Refusal("injected", status=fault[0], kind=fault[1])
            if meta.get("require_alias") and not any(
                name in i.aliases for i in self.indices.values()
            ):
                raise _Refusal("not_alias", name=name)
            target = self._write_index(name)
            item["_index"] = target.name
            return item | self._write(target, op, doc_id, meta, source)
        except _Refusal as err:
            return item | {"status": err.status, "error": err.error | {"index": item["_index"]}}

    def _write(self, ix: Index, op: str, doc_id: str, meta: dict, source: dict | None) -> dict:
        current = ix.docs.get(doc_id)
        known = current.version if current else ix.tombstones.get(doc_id)
        extra = {"index_uuid": ix.settings["index"]["uuid"], "shard": "0"}
        if meta.get("version_type") in EXTERNAL:
            version = int(meta["version"])
            gte = meta["version_type"] == "external_gte"
            if known is not None and (version < known or (version == known and not gte)):
                raise _Refusal("conflict", name=doc_id, why=known, version=version, extra=extra)
        elif op == "create" and current:
            raise _Refusal("exists", name=doc_id, why=current.version, extra=extra)
        else:
            version = (known or 0) + 1
        out = {
            "_version": version,
            "_seq_no": next(self._seq),
            "_primary_term": 1,
            "_shards": {"total": 2, "successful": 1, "failed": 0},
        }
        if op == "delete":
            ix.tombstones[doc_id] = version
            if ix.docs.pop(doc_id, None) is None:
                return out | {"result": "not_found", "status": 404}
            return out | {"result": "deleted", "status": 200}
        assert source is not None
        _check(ix.mappings, source, doc_id)
        keep = ix.mappings.get("_source", {})
        stored = None if keep.get("enabled") is False else _strip(source, keep.get("excludes", []))
        ix.docs[doc_id] = Doc(stored, copy.deepcopy(source), version, out["_seq_no"])
        ix.tombstones.pop(doc_id, None)
        if current is None:
            return out | {"result": "created", "status": 201}
        return out | {"result": "updated", "status": 200}

    def _page(self, hits: list, total: int, body: dict, scroll_id: str | None = None) -> dict:
        page: dict = {"total": {"value": total, "relation": "eq"}}
        if body.get("track_total_hits", True) is False:
            del page["total"]
        page |= {"max_score": 1.0 if hits else None, "hits": hits}
        out = {"took": 1, "timed_out": False, "_shards": dict(SHARDS), "hits": page}
        return out | ({"_scroll_id": scroll_id} if scroll_id else {})

    def _search(self, rec: Recorded, index: str | None = None) -> tuple[int, dict]:
        """Every document of the resolved indices as a hit, paged by from/size (or scroll)."""
        body, names = rec.json or {}, self._resolve(index)
        if self._canned[1] > 0:
            self._canned[1] -= 1
            return 200, copy.deepcopy(self._canned[0])
        hits = []
        for n in names:
            for doc_id, doc in self.indices[n].docs.items():
                hit = {"_index": n, "_id": doc_id, "_score": 1.0}
                if doc.source is not None and body.get("_source", True) is not False:
                    hit["_source"] = copy.deepcopy(doc.source)
                hits.append(hit)
        size = int(rec.params.get("size", body.get("size", 10)))
        start = int(rec.params.get("from", body.get("from", 0)))
        if "scroll" not in rec.params:
            return 200, self._page(hits[start : start + size], len(hits), body)
        if start:
            raise _Refusal("validation", why="using [from] is not allowed in a scroll context")
        scroll_id = uuid.uuid4().hex
        self._scrolls[scroll_id] = [hits[size:], size, len(hits)]
        return 200, self._page(hits[:size], len(hits), body, scroll_id)

    def _scroll(self, rec: Recorded, scroll_id: str | None = None) -> tuple[int, dict]:
        scroll_id = (rec.json or {}).get("scroll_id") or rec.params.get("scroll_id") or scroll_id
        if scroll_id not in self._scrolls:
            cause = {
                "type": "search_context_missing_exception",
                "reason": f"No search context found for id [{scroll_id}]",
            }
            raise _Refusal("no_scroll", extra={"phase": "query", "caused_by": cause})
        rest, size, total = self._scrolls[scroll_id]
        self._scrolls[scroll_id][0] = rest[size:]
        return 200, self._page(rest[:size], total, {}, scroll_id)

    def _clear_scroll(self, rec: Recorded, scroll_id: str | None = None) -> tuple[int, dict]:
        ids = (rec.json or {}).get("scroll_id") or (scroll_id.split(",") if scroll_id else [])
        ids = [ids] if isinstance(ids, str) else ids
        ids = list(self._scrolls) if ids == ["_all"] else ids
        freed = [i for i in ids if self._scrolls.pop(i, None) is not None]
        return (200 if freed or not ids else 404), {"succeeded": True, "num_freed": len(freed)}

    def _count(self, rec: Recorded, index: str | None = None) -> tuple[int, dict]:
        total = sum(len(self.indices[n].docs) for n in self._resolve(index))
        return 200, {"count": total, "_shards": dict(SHARDS)}


@pytest.fixture
def es_standin() -> Iterator[EsStandIn]:
    """A running stand-in (not Elasticsearch), stopped after the test."""
    with EsStandIn() as standin:
        yield standin
