"""The osmem-server tier: the media-type proxy on its own, then the official client through it.

The proxy tests run everywhere against a small recording upstream. The tests marked with the
``tier`` fixture need the osmem-server binary (``BEATWATCH_OSMEM``, or the installed
package) and skip without it.
"""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from elasticsearch import ConflictError, Elasticsearch, NotFoundError, helpers

from tests.osmem_tier import (
    ENV,
    MediaTypeProxy,
    OsmemTierError,
    osmem_executable,
    plain_media_type,
    start_osmem_tier,
    vendor_media_type,
)

VENDOR_JSON = "application/vnd.elasticsearch+json; compatible-with=8"
VENDOR_NDJSON = "application/vnd.elasticsearch+x-ndjson; compatible-with=8"


def test_vendor_media_types_become_plain_for_the_upstream() -> None:
    assert plain_media_type(VENDOR_JSON) == "application/json"
    assert plain_media_type(VENDOR_NDJSON) == "application/x-ndjson"
    assert plain_media_type("text/plain") == "text/plain"


def test_plain_json_answers_go_back_in_the_vendor_form() -> None:
    assert (
        vendor_media_type("application/json; charset=UTF-8")
        == "application/vnd.elasticsearch+json;compatible-with=8"
    )
    assert vendor_media_type("text/plain; charset=UTF-8") == "text/plain; charset=UTF-8"


class _Recorder(BaseHTTPRequestHandler):
    """An upstream that refuses vendor types as osmem-server does and records what it got."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append({"headers": dict(self.headers), "body": body, "path": self.path})
        vendor = "vnd.elasticsearch" in (self.headers.get("Content-Type") or "")
        payload = json.dumps({"status": 406 if vendor else 200}).encode()
        self.send_response(406 if vendor else 200)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[ThreadingHTTPServer, list[dict]]]:
    seen: ClassVar[list[dict]] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("R", (_Recorder,), {"seen": seen}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, seen
    server.shutdown()
    server.server_close()


def _post(url: str, body: bytes, content_type: str) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type, "Accept": VENDOR_JSON}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_proxy_forwards_plain_types_and_answers_as_elasticsearch_client_expects(recorder) -> None:
    server, seen = recorder
    proxy = MediaTypeProxy(*server.server_address[:2])
    try:
        ndjson = b'{"index":{"_index":"x"}}\n{"a":1}\n'
        status, headers, body = _post(proxy.url + "/_bulk?refresh=true", ndjson, VENDOR_NDJSON)
    finally:
        proxy.stop()
    assert status == 200, body
    assert seen[0]["path"] == "/_bulk?refresh=true"
    assert seen[0]["body"] == ndjson
    assert seen[0]["headers"]["Content-Type"] == "application/x-ndjson"
    assert seen[0]["headers"]["Accept"] == "application/json"
    assert headers["X-Elastic-Product"] == "Elasticsearch"
    assert headers["Content-Type"] == "application/vnd.elasticsearch+json;compatible-with=8"


def test_proxy_answers_502_when_the_upstream_is_gone() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    proxy = MediaTypeProxy("127.0.0.1", dead_port)
    try:
        status, _, _ = _post(proxy.url + "/_search", b"{}", VENDOR_JSON)
    finally:
        proxy.stop()
    assert status == 502


def test_unset_variable_falls_back_to_the_package_and_a_wrong_path_is_an_error(
    monkeypatch, tmp_path
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    try:
        import osmem_server
    except ImportError:
        assert osmem_executable() is None
    else:
        assert osmem_executable() == str(osmem_server.resolve_binary())
    monkeypatch.setenv(ENV, str(tmp_path / "no-such-binary"))
    with pytest.raises(OsmemTierError):
        osmem_executable()


@pytest.fixture(scope="module")
def tier() -> Iterator[str]:
    """The proxy URL of a running osmem-server tier; skips without a binary."""
    executable = osmem_executable()
    if executable is None:
        pytest.skip("no osmem-server binary (set BEATWATCH_OSMEM or install osmem-server)")
    with start_osmem_tier(executable) as url:
        yield url


@pytest.fixture
def es(tier: str) -> Iterator[Elasticsearch]:
    client = Elasticsearch(tier, request_timeout=30)
    yield client
    client.indices.delete(index="tier-*", allow_no_indices=True, expand_wildcards="all")
    client.close()


def test_official_client_indexes_and_finds_a_document_through_osmem(es: Elasticsearch) -> None:
    es.indices.create(index="tier-a", mappings={"properties": {"title": {"type": "text"}}})
    es.index(index="tier-a", id="n1", document={"title": "naval exercise resumes"})
    es.indices.refresh(index="tier-a")
    found = es.search(index="tier-a", query={"match": {"title": "exercise"}})
    missed = es.search(index="tier-a", query={"match": {"title": "harbour"}})
    assert [h["_id"] for h in found["hits"]["hits"]] == ["n1"]
    assert missed["hits"]["hits"] == []


def test_bulk_replay_of_the_same_external_version_is_a_409(es: Elasticsearch) -> None:
    action = {"_index": "tier-b", "_id": "a", "version": 3, "version_type": "external"}
    first = list(helpers.streaming_bulk(es, [{**action, "_source": {"n": 1}}]))
    replay = list(
        helpers.streaming_bulk(es, [{**action, "_source": {"n": 2}}], raise_on_error=False)
    )
    assert first[0][1]["index"]["status"] == 201
    assert replay[0][1]["index"]["status"] == 409
    with pytest.raises(ConflictError):
        es.index(index="tier-b", id="a", document={"n": 3}, version=3, version_type="external")


def test_khmer_substring_is_found_in_a_wildcard_field(es: Elasticsearch) -> None:
    es.indices.create(index="tier-k", mappings={"properties": {"body": {"type": "wildcard"}}})
    es.index(index="tier-k", id="k", document={"body": "ព្រះរាជាណាចក្រកម្ពុជា"}, refresh=True)
    hit = es.search(index="tier-k", query={"wildcard": {"body": {"value": "*កម្ពុជា*"}}})
    miss = es.search(index="tier-k", query={"wildcard": {"body": {"value": "*អាមេរិក*"}}})
    assert [h["_id"] for h in hit["hits"]["hits"]] == ["k"]
    assert miss["hits"]["hits"] == []


def test_errors_keep_their_status_through_the_proxy(es: Elasticsearch) -> None:
    with pytest.raises(NotFoundError):
        es.search(index="tier-missing", query={"match_all": {}})
    assert es.indices.exists(index="tier-missing").body is False


def test_stop_ends_both_proxy_and_server() -> None:
    executable = osmem_executable()
    if executable is None:
        pytest.skip("no osmem-server binary (set BEATWATCH_OSMEM or install osmem-server)")
    url, stop = start_osmem_tier(executable)
    assert Elasticsearch(url).ping()
    stop()
    assert not Elasticsearch(url, max_retries=0, request_timeout=2).ping()
