"""Moving the index: SQLite into Elasticsearch and back, and rebuilding the cluster's index.

Every operation is resumable: run it again after an interruption and it carries on, because
writes are idempotent (external versions in Elasticsearch; ``put`` in SQLite) and progress is
recorded as it is acknowledged (the spool; the rebuild's new index already holding documents).
``on_progress(done, total)`` is called after each batch so the caller can draw a bar.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError
from elasticsearch.helpers import scan

from crawler.errors import BeatwatchError, StoreUnavailable
from crawler.models import Article
from indexer import mapping
from indexer.elastic import ElasticStore, article_from_source
from indexer.spool import Queued
from indexer.store import SyncReport

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


def _quiet(done: int, total: int) -> None:
    """The default progress callback: nothing."""


def to_elasticsearch(store: ElasticStore, on_progress: Progress = _quiet) -> dict[str, Any]:
    """Copy every locally stored article into the cluster (what it does not hold yet)."""
    report = SyncReport()
    with _resumable():
        store.ensure_index()
        store.spool.queue_unspooled()
        total, done, after = store.backlog().pending, 0, 0
        while batch := store.spool.pending(store.batch_size, after=after):
            store.send(batch, report, index=store.alias)
            after, done = batch[-1].queued_seq, done + len(batch)
            on_progress(done, total)
    return report.to_json()


def to_sqlite(store: ElasticStore, on_progress: Progress = _quiet) -> dict[str, int]:
    """Copy every document of the cluster into the local store; newer local revisions win."""
    counts = {"new": 0, "updated": 0, "unchanged": 0, "kept_local": 0}
    with _resumable():
        total = store.client.count(index=store.alias).body["count"]
        hits = scan(store.client, index=store.alias, query={"query": {"match_all": {}}}, size=500)
        for done, hit in enumerate(hits, start=1):
            counts[_copy_back(store, article_from_source(hit["_source"]))] += 1
            if done % 500 == 0 or done == total:
                on_progress(done, total)
    return counts


def _copy_back(store: ElasticStore, article: Article) -> str:
    local = store.local.get(article.id)
    if local is None or local.revision < article.revision:
        return store.local.put(article)
    return "kept_local" if local.revision > article.revision else "unchanged"


def rebuild(store: ElasticStore, *, keep_old: bool = False, on_progress: Progress = _quiet) -> dict:
    """Recreate the index from the stored articles under a new name, then switch the alias.

    Writes that arrive through the alias while the copy runs go to the old index; they are
    queued again after the switch and sent to the new one, as are documents the new index
    could not take for now.
    """
    report = SyncReport()
    acknowledged: list[tuple[Queued, int]] = []
    deferred: list[tuple[Queued, str]] = []
    with _resumable():
        old = store.ensure_index()
        new = _next_index(store, old)
        store.spool.queue_unspooled()
        mark = store.spool.last_seq()
        entries = _all_entries(store, mark)
        for start in range(0, len(entries), store.batch_size):
            batch = entries[start : start + store.batch_size]
            result = store.write(batch, report, index=new)
            acknowledged += result.acknowledged
            deferred += result.deferred
            store.spool.mark_failed(result.rejected, permanent=True)
            on_progress(start + len(batch), len(entries))
        _switch(store, old, new, keep_old=keep_old)
    store.spool.mark_indexed(acknowledged)
    store.spool.mark_failed(deferred, permanent=False)  # not in the new index: send again
    requeued = store.spool.requeue_since(mark)
    after = store.sync(force=True)
    return {
        "old_index": old,
        "new_index": new,
        "copied": report.indexed + report.already,
        "rejected": report.rejected,
        "deferred": report.deferred,
        "requeued": requeued,
        "old_deleted": not keep_old,
        "sync": after.to_json() if after else None,
    }


def _all_entries(store: ElasticStore, mark: int) -> list[Queued]:
    rows = store.spool.conn.execute(
        "SELECT article_id, queued_seq FROM es_spool WHERE queued_seq <= ? ORDER BY queued_seq",
        (mark,),
    )
    return [Queued(r[0], r[1]) for r in rows]


def _next_index(store: ElasticStore, old: str) -> str:
    """A new concrete index one number past the highest; an unfinished one is reused."""
    pattern = re.compile(re.escape(store.alias) + r"-(\d{6})$")
    names = store.client.indices.get(index=f"{store.alias}-*").body
    numbers = sorted(int(m.group(1)) for n in names if (m := pattern.match(n)))
    if numbers and f"{store.alias}-{numbers[-1]:06d}" != old:
        unfinished = f"{store.alias}-{numbers[-1]:06d}"
        log.info("resuming the rebuild into %s", unfinished)
        return unfinished
    new = f"{store.alias}-{(numbers[-1] if numbers else 0) + 1:06d}"
    body = mapping.template(store.alias, icu=store.has_icu())
    store.client.indices.put_index_template(name=store.alias, **body)
    store.client.indices.create(index=new)
    return new


def _switch(store: ElasticStore, old: str, new: str, *, keep_old: bool) -> None:
    store.client.indices.refresh(index=new)
    store.client.indices.update_aliases(
        actions=[
            {"remove": {"index": old, "alias": store.alias}},
            {"add": {"index": new, "alias": store.alias, "is_write_index": True}},
        ]
    )
    log.info("alias %s now points at %s (was %s)", store.alias, new, old)
    if not keep_old:
        store.client.indices.delete(index=old)


@contextmanager
def _resumable() -> Iterator[None]:
    """Cluster errors as one clear BeatwatchError that says the command can be resumed."""
    try:
        yield
    except (TransportError, ApiError, StoreUnavailable) as exc:
        raise BeatwatchError(f"{exc}; run the command again to resume") from exc
