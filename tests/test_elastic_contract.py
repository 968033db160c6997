"""Contract tests of the Elasticsearch store: the official client against a local HTTP stand-in.

The stand-in (tests/es_standin.py) is not Elasticsearch: it records the requests and answers
them the way the REST API does (templates, aliases, external versions, bulk item errors), and
it can be told to fail. These tests check what the store sends and how it behaves under 409,
429, 5xx, 400 and a refused connection. What queries *match* is the conformance suite's job.
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime

import pytest
from elasticsearch import Elasticsearch
from elasticsearch.helpers import bulk

from crawler.db import connect
from crawler.errors import BeatwatchError, StoreUnavailable
from indexer import mapping
from indexer.elastic import ElasticStore
from indexer.mapping import HIDDEN
from tests.corpus import ARTICLES, BY_SLUG

ALIAS = "bw-test"


def _searchable(standin) -> ElasticStore:
    store = _store(standin)
    store.ensure_index()
    return store


def _store(standin, conn=None, **options) -> ElasticStore:
    client = Elasticsearch(standin.url, max_retries=0, retry_on_status=(), request_timeout=5)
    options = {"batch_size": 4, "retries": 2, "retry_backoff": 0.01, **options}
    return ElasticStore(conn or connect(":memory:"), client, ALIAS, url=standin.url, **options)


def _bulks(standin) -> list:
    return [r for r in standin.requests if r.path.endswith("/_bulk")]


def _bulk_lines(standin) -> list[dict]:
    return [line for r in _bulks(standin) for line in r.json]


def _put_all(store, articles=ARTICLES[:6]):
    for article in articles:
        store.put(article)


def test_the_first_sync_creates_a_strict_template_and_an_index_behind_the_alias(es_standin):
    store = _store(es_standin)
    _put_all(store)
    store.sync(force=True)
    template = es_standin.templates[ALIAS]
    assert template["index_patterns"] == [f"{ALIAS}-0*"]
    mappings = template["template"]["mappings"]
    assert mappings["dynamic"] == "strict"
    assert mappings["_source"]["excludes"] == HIDDEN
    props = mappings["properties"]
    assert props["title"]["analyzer"] == "english"
    assert props["title"]["fields"]["khmer"]["analyzer"] == "bw_khmer"
    assert {props[k]["type"] for k in ("id", "source", "language", "story_id")} == {"keyword"}
    assert props["published_at"]["type"] == props["fetched_at"]["type"] == "date"
    [created] = es_standin.requests_to("PUT", rf"^/{ALIAS}-000001$")
    assert created.json["aliases"] == {ALIAS: {"is_write_index": True}}
    assert set(es_standin.docs(ALIAS)) == {a.id for a in ARTICLES[:6]}


def test_word_fields_index_short_prefixes_so_a_phrase_prefix_is_one_term(es_standin):
    # Elasticsearch then rewrites a prefix of up to 5 characters, also inside span_multi, into
    # one term on the prefix sub-field instead of expanding it past the clause limit.
    store = _store(es_standin)
    store.sync(force=True)
    props = es_standin.templates[ALIAS]["template"]["mappings"]["properties"]
    for name in ("title_words", "text_words"):
        assert props[name]["index_options"] == "positions"
        assert props[name]["index_prefixes"] == {"min_chars": 1, "max_chars": 5}


def test_khmer_sub_fields_use_the_standard_analyzer_without_the_plugin(es_standin):
    store = _store(es_standin)
    store.sync(force=True)
    analysis = es_standin.templates[ALIAS]["template"]["settings"]["analysis"]
    assert analysis["analyzer"]["bw_khmer"] == {"type": "standard"}


def test_with_analysis_icu_the_khmer_analyzer_is_the_icu_tokenizer():
    from tests.es_standin import EsStandIn

    with EsStandIn(plugins=["analysis-icu"]) as standin:
        _store(standin).sync(force=True)
        analyzer = standin.templates[ALIAS]["template"]["settings"]["analysis"]["analyzer"]
    assert analyzer["bw_khmer"]["tokenizer"] == "icu_tokenizer"


def test_a_second_process_reuses_the_alias_without_recreating_anything(es_standin):
    conn = connect(":memory:")
    _store(es_standin, conn).sync(force=True)
    es_standin.clear()
    again = _store(es_standin, conn)
    _put_all(again, ARTICLES[:1])
    again.sync(force=True)
    assert [r for r in es_standin.requests if r.method == "PUT" and "_bulk" not in r.path] == []


def test_an_index_where_the_alias_should_be_is_refused_clearly(es_standin):
    Elasticsearch(es_standin.url).indices.create(index=ALIAS)
    store = _store(es_standin)
    with pytest.raises(BeatwatchError, match="is an index, not an alias"):
        store.ensure_index()


def test_bulk_bodies_are_idempotent_index_actions_in_batches(es_standin):
    store = _store(es_standin, batch_size=4)
    _put_all(store, ARTICLES[:10])
    report = store.sync(force=True)
    assert (report.indexed, report.already, report.error) == (10, 0, None)
    bulks = _bulks(es_standin)
    assert [len(r.json) // 2 for r in bulks] == [4, 4, 2]
    action, doc = _bulk_lines(es_standin)[:2]
    first = ARTICLES[0]
    assert action == {
        "index": {"_index": ALIAS, "_id": first.id, "version": 1, "version_type": "external"}
    }
    assert doc["id"] == first.id and doc["story_id"] == first.story_id
    assert doc["title_words"] and doc["text_words"]
    assert store.backlog().pending == 0 and store.backlog().indexed == 10


def test_hidden_matching_fields_are_indexed_but_not_returned_in_source(es_standin):
    store = _store(es_standin)
    khmer = BY_SLUG["km-coop"]
    store.put(khmer)
    store.sync(force=True)
    stored = es_standin.docs(ALIAS)[khmer.id]
    assert "text_khmer" in stored.indexed and "text_khmer" not in stored.source
    assert stored.source["text"] == khmer.text


def test_an_edit_is_written_as_the_next_version(es_standin):
    store = _store(es_standin)
    article = BY_SLUG["ream-pier"]
    store.put(article)
    store.sync(force=True)
    store.put(dataclasses.replace(article, text=article.text + " It reopened.", body_hash="e2"))
    store.sync(force=True)
    doc = es_standin.docs(ALIAS)[article.id]
    assert doc.version == 2 and doc.source["text"].endswith("It reopened.")


def test_a_replay_of_what_the_cluster_holds_answers_409_and_counts_as_indexed(es_standin):
    conn = connect(":memory:")
    store = _store(es_standin, conn)
    _put_all(store)
    store.sync(force=True)
    conn.execute("UPDATE es_spool SET state = 'pending'")  # as if the acknowledgement was lost
    report = _store(es_standin, conn).sync(force=True)
    assert (report.indexed, report.already) == (0, 6)
    assert store.backlog().pending == 0
    assert {d.version for d in es_standin.docs(ALIAS).values()} == {1}


def test_429_on_an_item_is_retried_with_backoff(es_standin):
    store = _store(es_standin)
    _put_all(store)
    es_standin.fail_items(ARTICLES[2].id, 429, "es_rejected_execution_exception", times=2)
    report = store.sync(force=True)
    assert report.indexed == 6 and report.deferred == 0
    retried = [line for line in _bulk_lines(es_standin) if "index" in line]
    assert [a["index"]["_id"] for a in retried].count(ARTICLES[2].id) == 3


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_whole_bulk_request_refused_for_a_while_is_retried(es_standin, status):
    store = _store(es_standin)
    _put_all(store)
    store.ensure_index()
    es_standin.fail_next("*", r"_bulk$", status, times=2)
    report = store.sync(force=True)
    assert (report.indexed, report.error) == (6, None)


def test_a_cluster_failing_past_the_retries_leaves_everything_in_the_spool(es_standin):
    store = _store(es_standin)
    _put_all(store)
    store.ensure_index()
    es_standin.fail_next("*", r"_bulk$", 503, times=50)
    report = store.sync(force=True)
    assert report.error and "503" in report.error
    assert store.backlog().pending == 6
    assert es_standin.docs(ALIAS) == {}


def test_a_document_refused_for_good_is_reported_and_the_rest_indexed(es_standin):
    store = _store(es_standin)
    _put_all(store)
    bad = ARTICLES[1].id
    es_standin.fail_items(bad, 400, "mapper_parsing_exception", times=1)
    report = store.sync(force=True)
    assert (report.indexed, report.rejected) == (5, 1)
    assert any(bad in r and "mapper_parsing_exception" in r for r in report.reasons)
    [(refused_id, reason)] = store.spool.rejected()
    assert refused_id == bad and "mapper_parsing_exception" in reason
    assert store.backlog().pending == 0


def test_a_refused_connection_spools_and_the_next_sync_replays_once(es_standin):
    conn = connect(":memory:")
    store = _store(es_standin, conn)
    _put_all(store, ARTICLES[:3])
    store.sync(force=True)
    es_standin.stop()
    _put_all(store, ARTICLES[3:8])
    down = store.sync(force=True)
    assert down.error and store.backlog().pending == 5
    assert store.sync() is None  # a crawl does not hammer a dead cluster after each article
    es_standin.restart()
    report = _store(es_standin, conn).sync(force=True)
    assert (report.indexed, report.already, report.error) == (5, 0, None)
    docs = es_standin.docs(ALIAS)
    assert set(docs) == {a.id for a in ARTICLES[:8]}
    assert {d.version for d in docs.values()} == {1}


def test_two_processes_syncing_at_once_send_each_document_once(es_standin, tmp_path):
    path = tmp_path / "beatwatch.db"
    first, second = _store(es_standin, connect(path)), _store(es_standin, connect(path))
    _put_all(first)  # six articles: batches of four and two
    first.ensure_index()
    slow = es_standin.hold_next("*", r"/_bulk$")
    sending = threading.Thread(target=first.sync, kwargs={"force": True})
    sending.start()
    slow.wait_arrived()  # the first process's batch of four is in flight
    second.sync(force=True)
    slow.release()
    sending.join(timeout=30)
    sent = [line["index"]["_id"] for line in _bulk_lines(es_standin) if "index" in line]
    assert sorted(sent) == sorted(a.id for a in ARTICLES[:6])
    assert (first.sent.indexed, second.sent.indexed) == (4, 2)
    assert first.backlog().pending == 0


def test_a_sync_before_the_batch_is_full_waits(es_standin, monkeypatch):
    monkeypatch.setattr("indexer.elastic.FLUSH_AFTER", 3600.0)
    store = _store(es_standin, batch_size=4)
    _put_all(store, ARTICLES[:3])
    assert store.sync() is None
    store.put(ARTICLES[3])
    assert store.sync().indexed == 4


def test_credentials_go_in_the_authorization_header(es_standin):
    from types import SimpleNamespace

    from indexer.esclient import client_from_settings

    base = dict(url=es_standin.url, timeout=5, retries=0, verify_certs=True, ca_certs=None)
    for creds, expected in [
        ({"api_key": "c2VjcmV0", "username": None, "password": None}, "ApiKey c2VjcmV0"),
        ({"api_key": None, "username": "elastic", "password": "pw"}, "Basic ZWxhc3RpYzpwdw=="),
    ]:
        client_from_settings(SimpleNamespace(**base, **creds)).info()
        assert es_standin.requests[-1].headers["authorization"] == expected


def _canned(hits, stories=None):
    body = {
        "took": 1,
        "timed_out": False,
        "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
        "hits": {"total": {"value": len(hits), "relation": "eq"}, "max_score": 1.0, "hits": hits},
    }
    if stories is not None:
        body["aggregations"] = {"stories": {"value": stories}}
    return body


def _source_hit(article, score=2.5):
    src = {k: v for k, v in dataclasses.asdict(article).items()}
    src["published_at"] = article.published_at.isoformat() if article.published_at else None
    src["fetched_at"] = article.fetched_at.isoformat()
    return {"_index": f"{ALIAS}-000001", "_id": article.id, "_score": score, "_source": src}


def test_a_search_asks_for_one_hit_per_story_and_counts_stories(es_standin):
    store = _searchable(es_standin)
    article = BY_SLUG["ream-pier"]
    es_standin.set_search_response(_canned([_source_hit(article)], stories=7))
    result = store.search('"Ream Naval Base" AND source:khmer-times', limit=5, offset=10)
    [request] = es_standin.requests_to("POST", rf"^/{ALIAS}/_search$")
    body = request.json
    assert body["collapse"] == {"field": "story_id"}
    assert body["aggs"]["stories"]["cardinality"]["field"] == "story_id"
    assert (body["from"], body["size"]) == (10, 5)
    assert body["sort"][0] == {"_score": {"order": "desc"}}
    must = body["query"]["bool"]["must"]
    assert {"term": {"source_key": "khmer-times"}} in must
    assert result.total == 7
    [hit] = result.hits
    assert (hit.id, hit.score, hit.published_at) == (article.id, 2.5, article.published_at)
    assert "<mark>Ream Naval Base</mark>" in hit.snippet


def test_all_copies_drops_the_collapse_and_counts_articles(es_standin):
    store = _searchable(es_standin)
    es_standin.set_search_response(_canned([_source_hit(BY_SLUG["ream-pier"])]))
    result = store.search("Ream", all_copies=True)
    body = es_standin.requests_to("POST", r"_search$")[-1].json
    assert "collapse" not in body and result.total == 1


def test_filters_are_non_scoring_clauses(es_standin):
    store = _searchable(es_standin)
    es_standin.set_search_response(_canned([]))
    store.search("Ream", sources=["rfa"], languages=["en"], since=datetime(2026, 1, 2, tzinfo=UTC))
    query = es_standin.requests_to("POST", r"_search$")[-1].json["query"]["bool"]
    assert len(query["filter"]) == 3
    assert {"range": {"published_at": {"gte": "2026-01-02T00:00:00.000000+00:00"}}} in query[
        "filter"
    ]


def test_facets_ask_for_terms_and_a_daily_histogram_in_the_timezone(es_standin):
    store = _searchable(es_standin)
    canned = _canned([], stories=0)
    canned["aggregations"].update(
        source={
            "buckets": [{"key": "rfa", "doc_count": 3}, {"key": "cambodianess", "doc_count": 1}]
        },
        language={"buckets": [{"key": "en", "doc_count": 4}]},
        day={"buckets": [{"key_as_string": "2026-01-03", "key": 1, "doc_count": 4}]},
    )
    es_standin.set_search_response(canned)
    facets = store.search("Ream", facets=True, tz="Asia/Phnom_Penh").facets
    aggs = es_standin.requests_to("POST", r"_search$")[-1].json["aggs"]
    assert aggs["day"]["date_histogram"]["time_zone"] == "Asia/Phnom_Penh"
    assert aggs["source"]["terms"]["field"] == "source"
    assert facets.sources == {"cambodianess": 1, "rfa": 3}
    assert facets.days == {"2026-01-03": 4}


def test_a_search_the_cluster_refuses_or_cannot_answer_is_a_clear_error(es_standin):
    store = _searchable(es_standin)
    es_standin.fail_next("POST", r"_search$", 400, times=1)
    with pytest.raises(BeatwatchError, match="refused the search"):
        store.search("Ream")
    es_standin.stop()
    with pytest.raises(StoreUnavailable, match=r"Elasticsearch at http://127\.0\.0\.1"):
        store.search("Ream")


def test_a_search_before_anything_was_indexed_finds_nothing(es_standin):
    result = _store(es_standin).search("Ream", facets=True)
    assert (result.total, result.hits, result.facets.sources) == (0, [], {})


def test_status_reports_the_cluster_or_why_it_cannot_be_reached(es_standin):
    store = _store(es_standin)
    _put_all(store)
    store.sync(force=True)
    up = store.cluster_status()
    assert (up["reachable"], up["index"], up["documents"]) == (True, f"{ALIAS}-000001", 6)
    es_standin.stop()
    down = store.cluster_status()
    assert down["reachable"] is False and down["error"]


def test_an_index_made_with_other_mappings_is_flagged_for_a_rebuild(es_standin, caplog):
    client = Elasticsearch(es_standin.url)
    client.indices.create(
        index=f"{ALIAS}-000001",
        aliases={ALIAS: {"is_write_index": True}},
        mappings={"_meta": {"beatwatch_mapping": mapping.MAPPING_VERSION - 1}},
    )
    store = _store(es_standin)
    assert store.cluster_status()["mapping_current"] is False
    with caplog.at_level("WARNING", logger="indexer.esclient"):
        store.ensure_index()
    assert "beatwatch index rebuild" in caplog.text
    assert _store(es_standin).cluster_status()["mapping_current"] is False


def test_an_index_made_by_this_beatwatch_has_current_mappings(es_standin, caplog):
    store = _store(es_standin)
    with caplog.at_level("WARNING", logger="indexer.esclient"):
        store.ensure_index()
    assert caplog.text == ""
    assert store.cluster_status()["mapping_current"] is True


def test_a_batch_failing_mid_crawl_waits_for_the_end_of_pass_sync(es_standin):
    store = _store(es_standin, batch_size=2)
    store.ensure_index()
    es_standin.stop()
    _put_all(store, ARTICLES[:2])
    failed = store.sync()
    assert failed is not None and failed.error
    es_standin.restart()
    _put_all(store, ARTICLES[2:4])
    assert store.sync() is None  # the rest of the crawl does not wait on the cluster again
    final = store.sync(force=True)
    assert (final.indexed, final.error) == (4, None)
    assert store.sent.indexed == 4 and store.sent.error is None


class HungServer:
    """A loopback socket that accepts connections and never answers: a hung cluster."""

    def __init__(self):
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def _settings(url, **extra):
    from types import SimpleNamespace

    values = dict(
        url=url, index=ALIAS, api_key=None, username=None, password=None, verify_certs=True,
        ca_certs=None, timeout=0.5, batch_size=2, retries=3, retry_backoff=0.01, shards=1,
        replicas=0,
    )  # fmt: skip
    return SimpleNamespace(**{**values, **extra})


def test_a_hung_cluster_costs_a_crawl_one_short_attempt(tmp_path):
    hung = HungServer()
    try:
        store = ElasticStore.from_settings(_settings(hung.url), connect(tmp_path / "bw.db"))
        _put_all(store, ARTICLES[:2])
        failed = store.sync()
        assert failed.error and "timeout" in failed.error
        assert len(hung.accepted) == 1  # no transport retries mid-crawl
        _put_all(store, ARTICLES[2:4])
        assert store.sync() is None and len(hung.accepted) == 1
        assert store.backlog().pending == 4
    finally:
        hung.close()


def test_an_index_named_like_the_alias_is_reported_by_sync_not_raised(es_standin):
    Elasticsearch(es_standin.url).indices.create(index=ALIAS)
    store = _store(es_standin)
    _put_all(store)
    report = store.sync(force=True)
    assert "is an index, not an alias" in report.error
    assert store.backlog().pending == 6


def test_a_deleted_index_is_recreated_from_the_template_not_auto_created(es_standin):
    conn = connect(":memory:")
    store = _store(es_standin, conn)
    _put_all(store, ARTICLES[:2])
    store.sync(force=True)
    Elasticsearch(es_standin.url).indices.delete(index=f"{ALIAS}-000001")
    _put_all(store, ARTICLES[2:4])
    lost = store.sync(force=True)
    assert lost.error and ALIAS not in es_standin.indices  # no index named like the alias
    assert all(r.params.get("require_alias") == "true" for r in _bulks(es_standin))
    again = store.sync(force=True)
    assert again.error is None
    assert set(es_standin.docs(ALIAS)) == {a.id for a in ARTICLES[2:4]}
    assert es_standin.indices[f"{ALIAS}-000001"].template == ALIAS


def test_an_edit_stored_while_the_backend_was_sqlite_reaches_the_cluster(es_standin):
    from indexer.sqlite import SQLiteStore

    conn = connect(":memory:")
    store = _store(es_standin, conn)
    article = BY_SLUG["ream-pier"]
    store.put(article)
    store.sync(force=True)
    SQLiteStore(conn).put(dataclasses.replace(article, text="Edited offline.", body_hash="e2"))
    SQLiteStore(conn).put(BY_SLUG["coop-fr"])
    report = _store(es_standin, conn).sync(force=True)
    assert report.indexed == 2
    assert es_standin.docs(ALIAS)[article.id].version == 2
    assert BY_SLUG["coop-fr"].id in es_standin.docs(ALIAS)


def test_a_409_for_another_revision_is_refused_not_taken_as_indexed(es_standin):
    conn = connect(":memory:")
    store = _store(es_standin, conn)
    article = BY_SLUG["ream-pier"]
    store.put(article)
    store.sync(force=True)
    newer = dataclasses.replace(article, text="A newer text elsewhere.", revision=3)
    action = {"_index": ALIAS, "_id": article.id, "version": 3, "version_type": "external"}
    bulk(Elasticsearch(es_standin.url), [{**action, "_source": mapping.document(newer)}])
    conn.execute("UPDATE es_spool SET state = 'pending'")
    report = _store(es_standin, conn).sync(force=True)
    assert report.rejected == 1 and "holds revision 3" in report.reasons[0]


def test_a_cluster_demanding_credentials_says_so(tmp_path):
    from tests.es_standin import EsStandIn

    with EsStandIn(auth="ApiKey c2VjcmV0") as standin:
        store = ElasticStore.from_settings(_settings(standin.url), connect(tmp_path / "bw.db"))
        _put_all(store, ARTICLES[:1])
        report = store.sync(force=True)
        assert "401" in report.error and "api_key" in report.error
        assert "401" in store.cluster_status()["error"]
        good = ElasticStore.from_settings(
            _settings(standin.url, api_key="c2VjcmV0"), connect(tmp_path / "bw.db")
        )
        assert good.sync(force=True).indexed == 1


def _two_processes(es_standin, tmp_path):
    """Two stores on one database file, as a crawl and a rebuild in two processes."""
    path = tmp_path / "bw.db"
    return _store(es_standin, connect(path)), _store(es_standin, connect(path))


def test_a_rebuild_sends_writes_that_raced_its_copy_to_the_new_index(es_standin, tmp_path):
    from indexer import migrate

    rebuilder, crawler = _two_processes(es_standin, tmp_path)
    _put_all(crawler, ARTICLES[:6])
    crawler.sync(force=True)
    late = ARTICLES[6]

    def crawl_meanwhile(done, total):
        if done == crawler.batch_size:  # after the first batch of the copy
            crawler.put(late)
            crawler.sync(force=True)  # through the alias: into the old index

    result = migrate.rebuild(rebuilder, on_progress=crawl_meanwhile)
    assert result["requeued"] == 1 and result["old_deleted"]
    assert set(es_standin.indices) == {f"{ALIAS}-000002"}
    assert set(es_standin.docs(ALIAS)) == {a.id for a in ARTICLES[:7]}


def test_a_rebuild_killed_after_the_switch_is_finished_by_the_next_sync(
    es_standin, tmp_path, monkeypatch
):
    from indexer import migrate

    rebuilder, crawler = _two_processes(es_standin, tmp_path)
    _put_all(crawler, ARTICLES[:4])
    crawler.sync(force=True)
    real_switch = migrate._switch

    def switch_then_die(store, record):
        crawler.put(ARTICLES[4])
        crawler.sync(force=True)  # raced the copy: lands in the old index
        real_switch(store, record)
        raise KeyboardInterrupt  # killed before the raced write was queued again

    monkeypatch.setattr(migrate, "_switch", switch_then_die)
    with pytest.raises(KeyboardInterrupt):
        migrate.rebuild(rebuilder)
    after = _store(es_standin, connect(tmp_path / "bw.db"))
    assert after.sync(force=True).indexed == 1
    docs = es_standin.docs(f"{ALIAS}-000002")
    assert set(docs) == {a.id for a in ARTICLES[:5]}
    assert after.spool.rebuild_record(ALIAS) is None


def test_a_rebuild_that_cannot_copy_everything_does_not_switch_and_resumes(es_standin, tmp_path):
    from indexer import migrate

    store = _store(es_standin, connect(tmp_path / "bw.db"))
    _put_all(store, ARTICLES[:5])
    store.sync(force=True)
    es_standin.fail_items(ARTICLES[3].id, 503, "unavailable_shards_exception", times=100)
    with pytest.raises(BeatwatchError, match=r"could not be written.*still points at"):
        migrate.rebuild(store)
    assert es_standin.indices[f"{ALIAS}-000001"].aliases  # still the live index
    es_standin.fail_items(ARTICLES[3].id, 503, "unavailable_shards_exception", times=0)
    result = migrate.rebuild(store)
    assert result["new_index"] == f"{ALIAS}-000002"  # the unfinished one, resumed
    assert set(es_standin.indices) == {f"{ALIAS}-000002"}
    assert set(es_standin.docs(ALIAS)) == {a.id for a in ARTICLES[:5]}


def test_migrating_back_keeps_newer_local_revisions_and_copies_newer_ones_verbatim(
    es_standin, tmp_path
):
    from indexer import migrate

    article = BY_SLUG["ream-pier"]
    cluster_side = _store(es_standin, connect(tmp_path / "a.db"))
    cluster_side.put(article)
    cluster_side.put(dataclasses.replace(article, text="Second text.", body_hash="r2"))
    cluster_side.put(dataclasses.replace(article, text="Third text.", body_hash="r3"))
    cluster_side.put(BY_SLUG["coop-fr"])
    cluster_side.sync(force=True)
    local = _store(es_standin, connect(tmp_path / "b.db"))
    local.local.put(article)  # revision 1 here, 3 in the cluster
    local.local.put(BY_SLUG["coop-fr"])
    local.local.put(dataclasses.replace(BY_SLUG["coop-fr"], text="Edited here.", body_hash="h"))
    counts = migrate.to_sqlite(local)
    assert (counts["updated"], counts["kept_local"]) == (1, 1)
    copied = local.get(article.id)
    assert (copied.revision, copied.text) == (3, "Third text.")
    assert local.get(BY_SLUG["coop-fr"].id).text == "Edited here."
