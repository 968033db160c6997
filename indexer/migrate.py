"""Moving the index: SQLite into Elasticsearch and back, and rebuilding the cluster's index.

Every operation is resumable: run it again after an interruption and it carries on, because
writes are idempotent (external versions in Elasticsearch; revisions in SQLite) and progress is
recorded as it is acknowledged (the spool; a rebuild's record of where it copies to).
``on_progress(done, total)`` is called after each batch so the caller can draw a bar.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError, NotFoundError
from elasticsearch.helpers import ScanError, scan

from crawler.errors import BeatwatchError, StoreUnavailable
from crawler.models import Article
from indexer import esclient
from indexer.bulk import BulkResult
from indexer.elastic import ElasticStore
from indexer.mapping import article_from_source
from indexer.spool import RebuildRecord
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
        store.drain(report, on_progress=on_progress)
    return report.to_json()


def to_sqlite(store: ElasticStore, on_progress: Progress = _quiet) -> dict[str, int]:
    """Copy every document of the cluster into the local store; newer local revisions win."""
    counts = {"new": 0, "updated": 0, "unchanged": 0, "kept_local": 0}
    with _resumable():
        try:
            total = store.client.count(index=store.alias).body["count"]
        except NotFoundError:
            raise BeatwatchError(f"{store.url} holds no index {store.alias!r}") from None
        hits = scan(store.client, index=store.alias, query={"query": {"match_all": {}}}, size=500)
        for done, hit in enumerate(hits, start=1):
            counts[_copy_back(store, article_from_source(hit["_source"]))] += 1
            if done % 500 == 0 or done == total:
                on_progress(done, total)
    return counts


def _copy_back(store: ElasticStore, article: Article) -> str:
    local = store.local.get(article.id)
    if local is None:
        return store.local.put(article)
    if local.revision >= article.revision:
        return "kept_local" if local.revision > article.revision else "unchanged"
    store.local.put(article, revision=article.revision)
    return "updated"


def rebuild(store: ElasticStore, *, keep_old: bool = False, on_progress: Progress = _quiet) -> dict:
    """Recreate the index from the stored articles under a new name, then switch the alias.

    The alias moves only once every article is in the new index (or refused for good by it).
    Writes that reach the old index through the alias while the copy runs are queued again
    after the switch and sent to the new one. The old index is deleted unless ``keep_old``, or
    unless the new one refused documents (then it is kept for comparison).
    """
    with _resumable():
        record = _start(store)
        copied = _copy(store, record, on_progress)
        _switch(store, record)
        store.spool.mark_indexed(copied.acknowledged)
        requeued = store.spool.requeue_since(record.mark)
        deleted = _drop_old(store, record, keep=keep_old or bool(copied.rejected))
        store.spool.end_rebuild(store.alias)
    after = store.sync(force=True)
    return {
        "old_index": record.old_index,
        "new_index": record.new_index,
        "copied": len(copied.acknowledged),
        "rejected": len(copied.rejected),
        "requeued": requeued,
        "old_deleted": deleted,
        "sync": after.to_json() if after else None,
    }


def _start(store: ElasticStore) -> RebuildRecord:
    """The rebuild to run: the recorded one when it can resume, else a new one."""
    old = store.ensure_index()  # also finishes a rebuild that died after its switch
    record = store.spool.rebuild_record(store.alias)
    if record is not None and record.old_index == old and not record.switched:
        log.info("resuming the rebuild into %s", record.new_index)
        return record
    new = _create_next(store)
    mark = store.spool.last_seq()
    store.spool.start_rebuild(store.alias, old, new, mark)
    return RebuildRecord(old, new, mark, False)


def _create_next(store: ElasticStore) -> str:
    pattern = re.compile(re.escape(store.alias) + r"-(\d{6})$")
    names = store.client.indices.get(index=f"{store.alias}-0*").body
    numbers = [int(m.group(1)) for n in names if (m := pattern.match(n))]
    new = f"{store.alias}-{max(numbers, default=0) + 1:06d}"
    esclient.put_template(store.client, store.alias, shards=store.shards, replicas=store.replicas)
    store.client.indices.create(index=new)
    return new


def _copy(store: ElasticStore, record: RebuildRecord, on_progress: Progress) -> BulkResult:
    """Write every entry up to the mark into the new index; retry what it deferred once."""
    entries = store.spool.entries(upto=record.mark)
    done = BulkResult()
    report = SyncReport()
    for start in range(0, len(entries), store.batch_size):
        batch = entries[start : start + store.batch_size]
        done.add(store.write(batch, report, index=record.new_index))
        on_progress(start + len(batch), len(entries))
    if done.deferred:
        retry = [entry for entry, _ in done.deferred]
        done.deferred = []
        done.add(store.write(retry, report, index=record.new_index))
    store.spool.mark_failed(done.rejected, permanent=True)
    if done.deferred:
        raise BeatwatchError(
            f"{len(done.deferred)} articles could not be written to {record.new_index} now"
            f" (e.g. {done.deferred[0][1]}); the alias still points at {record.old_index}"
        )
    return done


def _switch(store: ElasticStore, record: RebuildRecord) -> None:
    store.client.indices.refresh(index=record.new_index)
    store.client.indices.update_aliases(
        actions=[
            {"remove": {"index": record.old_index, "alias": store.alias}},
            {"add": {"index": record.new_index, "alias": store.alias, "is_write_index": True}},
        ]
    )
    store.spool.rebuild_switched(store.alias)
    log.info("alias %s now points at %s (was %s)", store.alias, record.new_index, record.old_index)


def _drop_old(store: ElasticStore, record: RebuildRecord, *, keep: bool) -> bool:
    if keep:
        return False
    try:
        store.client.indices.delete(index=record.old_index)
    except (TransportError, ApiError) as exc:
        log.warning("could not delete %s (%s); delete it by hand", record.old_index, exc)
        return False
    return True


@contextmanager
def _resumable() -> Iterator[None]:
    """Cluster errors as one clear BeatwatchError that says the command can be resumed."""
    try:
        yield
    except (TransportError, ApiError) as exc:
        raise BeatwatchError(
            f"Elasticsearch failed: {esclient.describe(exc)}; run the command again to resume"
        ) from exc
    except (StoreUnavailable, ScanError) as exc:
        raise BeatwatchError(f"{exc}; run the command again to resume") from exc
    except BeatwatchError as exc:
        raise BeatwatchError(f"{exc}; run the command again to resume") from exc
