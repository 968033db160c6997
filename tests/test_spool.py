"""indexer.spool: what Elasticsearch has acknowledged, what waits, what it refused."""

from __future__ import annotations

import dataclasses

from crawler.db import connect
from indexer.spool import Spool
from indexer.sqlite import SQLiteStore
from tests.corpus import ARTICLES, BY_SLUG


def _spool_with(articles):
    conn = connect(":memory:")
    store = SQLiteStore(conn)
    for a in articles:
        store.put(a)
    return Spool(conn)


def test_queued_articles_wait_in_order_until_acknowledged():
    spool = _spool_with([])
    for slug in ("ream-pier", "km-coop", "coop-fr"):
        spool.queue(BY_SLUG[slug].id)
    first = spool.pending(2)
    assert [q.article_id for q in first] == [BY_SLUG["ream-pier"].id, BY_SLUG["km-coop"].id]
    spool.mark_indexed([(first[0], 1)])
    assert [q.article_id for q in spool.pending(10)] == [
        BY_SLUG["km-coop"].id,
        BY_SLUG["coop-fr"].id,
    ]
    assert spool.pending(10, after=first[1].queued_seq)[0].article_id == BY_SLUG["coop-fr"].id
    backlog = spool.backlog()
    assert (backlog.pending, backlog.indexed, backlog.rejected) == (2, 1, 0)
    assert backlog.oldest_pending is not None


def test_an_edit_queued_after_a_send_is_not_marked_by_the_older_acknowledgement():
    spool = _spool_with([])
    article_id = BY_SLUG["ream-pier"].id
    spool.queue(article_id)
    [sent] = spool.pending(10)
    spool.queue(article_id)  # edited while the bulk request was in flight
    spool.mark_indexed([(sent, 1)])
    [waiting] = spool.pending(10)
    assert waiting.article_id == article_id and waiting.queued_seq > sent.queued_seq


def test_refused_documents_are_kept_with_the_reason_and_transient_failures_retried():
    spool = _spool_with([])
    spool.queue("a" * 64)
    spool.queue("b" * 64)
    a, b = spool.pending(10)
    spool.mark_failed([(a, "400 mapper_parsing_exception: bad date")], permanent=True)
    spool.mark_failed([(b, "503 unavailable_shards_exception")], permanent=False)
    assert [q.article_id for q in spool.pending(10)] == ["b" * 64]
    assert spool.rejected() == [("a" * 64, "400 mapper_parsing_exception: bad date")]
    assert spool.backlog().rejected == 1


def test_a_first_migration_queues_every_stored_article_once():
    spool = _spool_with(ARTICLES)
    spool.queue(ARTICLES[0].id)
    assert spool.queue_unspooled() == len(ARTICLES) - 1
    assert spool.queue_unspooled() == 0
    pending = spool.pending(1000)
    assert sorted(q.article_id for q in pending) == sorted(a.id for a in ARTICLES)
    assert len({q.queued_seq for q in pending}) == len(pending)


def test_requeue_since_sends_again_what_raced_a_rebuild():
    spool = _spool_with([])
    spool.queue("a" * 64)
    mark = spool.last_seq()
    spool.queue("b" * 64)
    entries = spool.pending(10)
    spool.mark_indexed([(q, 1) for q in entries])
    assert spool.requeue_since(mark) == 1
    assert [q.article_id for q in spool.pending(10)] == ["b" * 64]


def test_the_article_table_gains_matched_rules_on_an_old_database(tmp_path):
    path = tmp_path / "old.db"
    conn = connect(path)
    conn.execute(
        "CREATE TABLE articles (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
        " url TEXT NOT NULL,"
        " source TEXT NOT NULL, title TEXT NOT NULL, text TEXT NOT NULL, published_at TEXT,"
        " fetched_at TEXT NOT NULL, authors TEXT NOT NULL DEFAULT '[]', language TEXT,"
        " body_hash TEXT NOT NULL DEFAULT '', story_id TEXT NOT NULL DEFAULT '',"
        " revision INTEGER NOT NULL DEFAULT 1, fetch_url TEXT NOT NULL DEFAULT '',"
        " summary TEXT NOT NULL DEFAULT '', source_key TEXT NOT NULL, language_key TEXT NOT NULL)"
    )
    store = SQLiteStore(conn)
    article = dataclasses.replace(BY_SLUG["ream-pier"], matched_rules=["ream", "base"])
    store.put(article)
    assert store.get(article.id).matched_rules == ["base", "ream"]


def test_an_acknowledgement_from_before_a_requeue_leaves_the_entry_pending():
    spool = _spool_with([])
    spool.queue("a" * 64)
    mark = spool.last_seq() - 1
    [in_flight] = spool.pending(10)
    spool.requeue_since(mark)  # a rebuild switched the alias meanwhile
    spool.mark_indexed([(in_flight, 1)])  # the old index acknowledged the crawl's write
    [waiting] = spool.pending(10)
    assert waiting.article_id == "a" * 64 and waiting.queued_seq != in_flight.queued_seq


def test_reconcile_queues_articles_stored_or_edited_without_the_spool():
    conn = connect(":memory:")
    store, spool = SQLiteStore(conn), Spool(conn)
    first, second = ARTICLES[0], ARTICLES[1]
    store.put(first)
    spool.queue(first.id)
    spool.mark_indexed([(q, 1) for q in spool.pending(10)])
    store.put(
        dataclasses.replace(first, text="Edited while the backend was sqlite.", body_hash="e")
    )
    store.put(second)
    assert spool.reconcile() == 2
    assert sorted(q.article_id for q in spool.pending(10)) == sorted([first.id, second.id])
    assert spool.reconcile() == 0


def test_a_rebuild_record_lives_until_it_is_ended():
    spool = _spool_with([])
    assert spool.rebuild_record("bw") is None
    spool.start_rebuild("bw", "bw-000001", "bw-000002", 7)
    spool.rebuild_switched("bw")
    record = spool.rebuild_record("bw")
    assert (record.old_index, record.new_index, record.mark, record.switched) == (
        "bw-000001",
        "bw-000002",
        7,
        True,
    )
    spool.end_rebuild("bw")
    assert spool.rebuild_record("bw") is None


def _two_senders(tmp_path, slugs=("ream-pier", "km-coop", "coop-fr")):
    """Two processes' spools over one database file, with ``slugs`` queued."""
    path = tmp_path / "beatwatch.db"
    first = Spool(connect(path))
    for slug in slugs:
        first.queue(BY_SLUG[slug].id)
    return first, Spool(connect(path))


def test_a_sender_skips_the_entries_another_holds(tmp_path):
    a, b = _two_senders(tmp_path)
    held = a.claim(2, lease=60, now=1000)
    assert [q.article_id for q in b.claim(10, lease=60, now=1001)] == [BY_SLUG["coop-fr"].id]
    assert b.claim(10, lease=60, now=1002) == []
    a.release(held)  # e.g. the cluster refused the request: nothing was marked
    assert b.claim(10, lease=60, now=1003) == held


def test_a_claim_lapses_when_its_sender_died(tmp_path):
    a, b = _two_senders(tmp_path, slugs=("ream-pier",))
    held = a.claim(10, lease=60, now=1000)
    assert b.claim(10, lease=60, now=1059) == []
    assert b.claim(10, lease=60, now=1061) == held


def test_an_edit_queued_while_held_is_free_for_any_sender(tmp_path):
    a, b = _two_senders(tmp_path, slugs=("ream-pier",))
    [old] = a.claim(10, lease=60, now=1000)
    b.queue(old.article_id)  # edited while the first sender's request was in flight
    [new] = b.claim(10, lease=60, now=1001)
    assert new.article_id == old.article_id and new.queued_seq > old.queued_seq
    a.release([old])
    assert b.claim(10, lease=60, now=1002) == []  # still held by the second sender
    assert [q.article_id for q in a.pending(10)] == [old.article_id]
