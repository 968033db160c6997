"""The Elasticsearch store: articles kept in the local SQLite file, searched in Elasticsearch.

Writes go to the local store first (``indexer.sqlite``: the record, with its revisions, which
dedup and stories read under the write lock, and a complete embedded index too) and are queued
in the spool (``indexer.spool``) in the same transaction. ``sync`` sends the queue in bulk
(``indexer.bulk``: idempotent by article id and revision) and marks entries indexed only once
Elasticsearch acknowledges them. While the cluster cannot be reached the crawl goes on and the
spool grows; the next ``sync`` replays it. Searches are translated from the parsed query
(``indexer.dsl``).

Clients query the alias ``<index>``; documents live in ``<index>-000001`` (then ``-000002`` ...
after ``beatwatch index rebuild``), created from the index template of ``indexer.mapping``.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch, NotFoundError

from crawler.db import transaction
from crawler.errors import BeatwatchError, StoreUnavailable
from crawler.models import Article, Facets, SearchResult
from indexer import bulk, dsl, esclient, mapping
from indexer.query import parse
from indexer.spool import Backlog, Queued, Spool
from indexer.sqlite import SQLiteStore
from indexer.store import Filters, PutOutcome, Revision, SyncReport

log = logging.getLogger(__name__)

#: After a failed full sync, wait this long before trying again (the spool keeps everything).
#: A batch that fails in the middle of a crawl is not retried before the end-of-pass sync.
RETRY_AFTER_DOWN = 30.0
FLUSH_AFTER = 5.0
#: A batch sent in the middle of a crawl waits at most this long for the cluster.
QUICK_TIMEOUT = 5.0
#: A batch being sent is held from other processes for at least this long (see Spool.claim).
MIN_CLAIM = 60.0
#: Elasticsearch's default index.max_result_window: paging deeper is refused.
MAX_RESULT_WINDOW = 10_000


class ElasticStore:
    """The Store over a local SQLite connection and an Elasticsearch cluster."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        client: Elasticsearch,
        alias: str,
        *,
        batch_size: int = 500,
        retries: int = 3,
        retry_backoff: float = 1.0,
        url: str = "",
        shards: int = 1,
        replicas: int = 0,
        timeout: float = 30.0,
    ):
        self.local = SQLiteStore(conn)
        self.spool = Spool(conn)
        self.client = client
        self.alias = alias
        self.batch_size = batch_size
        self.retries = retries
        self.retry_backoff = retry_backoff
        self.url = url
        self.shards = shards
        self.replicas = replicas
        self.quick_timeout = min(timeout, QUICK_TIMEOUT)
        # Long enough for every attempt of one bulk request and the waits between them.
        waits = retry_backoff * (2**retries - 1)
        self.claim_lease = max(MIN_CLAIM, 2 * (timeout * (retries + 1) + waits))
        self.sent = SyncReport()  # every sync of this process, added up
        self._ready = False
        self._down_until = 0.0
        self._last_flush = time.monotonic()
        self._unsent = 0  # queued by this process since its last sync

    @classmethod
    def from_settings(cls, es: Any, conn: sqlite3.Connection) -> ElasticStore:
        """The store for ``store.elasticsearch`` settings over the beatwatch database."""
        return cls(
            conn,
            esclient.client_from_settings(es),
            es.index,
            batch_size=es.batch_size,
            retries=es.retries,
            retry_backoff=es.retry_backoff,
            url=es.url,
            shards=es.shards,
            replicas=es.replicas,
            timeout=es.timeout,
        )

    # -- the local side: what dedup, stories and history read -----------------------------

    def put(self, article: Article) -> PutOutcome:
        """Store locally and queue for the cluster, in one transaction; see ``Store.put``."""
        with transaction(self.local.conn):
            outcome = self.local.put(article)
            if outcome != "unchanged":
                self.spool.queue(article.id)
        self._unsent += outcome != "unchanged"
        return outcome

    def get(self, id: str) -> Article | None:
        """The stored article with this id, or None."""
        return self.local.get(id)

    def story_for_body_hash(self, body_hash: str) -> str | None:
        """The story_id of a stored article with this body hash, or None."""
        return self.local.story_for_body_hash(body_hash)

    def copies(self, story_id: str) -> list[Article]:
        """All articles of a story, earliest fetched first."""
        return self.local.copies(story_id)

    def revisions(self, id: str) -> list[Revision]:
        """Earlier versions of an article, oldest first."""
        return self.local.revisions(id)

    def count(self) -> int:
        """How many articles are stored (locally; ``backlog`` says how many await the cluster)."""
        return self.local.count()

    def backlog(self) -> Backlog:
        """The spool's counts: pending, rejected, indexed."""
        return self.spool.backlog()

    # -- writes to the cluster -----------------------------------------------------------

    def ensure_index(self, *, quick: bool = False) -> str:
        """Make sure the alias and its index exist (template first); queue what the spool
        has never seen or saw at an older revision (stored while the backend was sqlite).
        Return the concrete index the alias points at."""
        client = self._client(quick)
        try:
            current = esclient.ensure_index(
                client, self.alias, self.url, shards=self.shards, replicas=self.replicas
            )
        except (TransportError, ApiError) as exc:
            raise self._unavailable(exc) from exc
        self._finish_rebuild()
        requeued = self.spool.reconcile()
        if requeued:
            log.info("index: queued %d articles stored without the spool", requeued)
        self._ready = True
        return current

    def _finish_rebuild(self) -> None:
        """A rebuild that died after moving the alias: queue again what raced its copy."""
        record = self.spool.rebuild_record(self.alias)
        if record is None or not record.switched:
            return
        requeued = self.spool.requeue_since(record.mark)
        self.spool.end_rebuild(self.alias)
        log.warning(
            "finished an interrupted rebuild into %s: %d articles queued again; %s was kept",
            record.new_index,
            requeued,
            record.old_index,
        )

    def sync(self, *, force: bool = False, refresh: bool = False) -> SyncReport | None:
        """Send queued articles: everything when ``force``, else one batch once enough have
        waited. Never raises for the cluster's sake: the report says, the spool keeps all.

        A batch sent mid-crawl gets one attempt with a short timeout (a cluster that does not
        answer must not stall the crawl); a forced sync retries with backoff."""
        now = time.monotonic()
        if not force and (now < self._down_until or not self._due(now)):
            return None
        report = SyncReport()
        try:
            self.drain(report, force=force)
            if refresh:
                self.client.indices.refresh(index=self.alias)
        except (BeatwatchError, TransportError, ApiError) as exc:
            report.error = str(exc) if isinstance(exc, BeatwatchError) else esclient.describe(exc)
            self._down_until = time.monotonic() + (RETRY_AFTER_DOWN if force else float("inf"))
            log.warning("index: %s; %d articles wait in the spool", report.error, self._pending())
        self._last_flush = time.monotonic()
        self._unsent = 0
        self.sent.add(report)
        return report

    def _pending(self) -> int:
        return self.backlog().pending

    def _due(self, now: float) -> bool:
        if self._unsent >= self.batch_size:
            return True
        return self._unsent > 0 and now - self._last_flush >= FLUSH_AFTER

    def drain(
        self,
        report: SyncReport,
        *,
        force: bool = True,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Send the pending entries through the alias (all of them, or one quick batch unless
        ``force``), calling ``on_progress(done, total)`` after each batch; cluster errors raise."""
        if not self._ready:
            self.ensure_index(quick=not force)
        total = self._pending() if on_progress else 0
        after, done = 0, 0
        while batch := self.spool.claim(self.batch_size, after=after, lease=self.claim_lease):
            try:
                self.send(batch, report, index=self.alias, quick=not force)
            finally:
                self.spool.release(batch)
            after, done = batch[-1].queued_seq, done + len(batch)
            if on_progress:
                on_progress(done, total)
            if not force:
                return

    def send(
        self, batch: list[Queued], report: SyncReport, *, index: str, quick: bool = False
    ) -> None:
        """Bulk-write ``batch`` through the alias and record each document's fate in the spool."""
        result = self.write(batch, report, index=index, quick=quick, through_alias=True)
        self.spool.mark_indexed(result.acknowledged)
        self.spool.mark_failed(result.rejected, permanent=True)
        self.spool.mark_failed(result.deferred, permanent=False)
        if result.index_missing:
            self._ready = False  # recreated from the template by the next sync
            raise StoreUnavailable(f"Elasticsearch at {self.url}: the alias {self.alias} is gone")

    def write(
        self,
        batch: list[Queued],
        report: SyncReport,
        *,
        index: str,
        quick: bool = False,
        through_alias: bool = False,
    ) -> bulk.BulkResult:
        """Bulk-write the articles of ``batch`` into ``index``, count them into ``report``."""
        articles = {q: self.local.get(q.article_id) for q in batch}
        found = {q: a for q, a in articles.items() if a is not None}
        try:
            result = bulk.write(
                self._client(quick),
                found,
                index,
                retries=0 if quick else self.retries,
                backoff=self.retry_backoff,
                through_alias=through_alias,
            )
        except (TransportError, ApiError) as exc:
            raise self._unavailable(exc) from exc
        result.rejected += [(q, "no such article") for q, a in articles.items() if a is None]
        _count(report, result)
        return result

    def _client(self, quick: bool) -> Elasticsearch:
        if not quick:
            return self.client
        return self.client.options(request_timeout=self.quick_timeout, max_retries=0)

    def _unavailable(self, exc: Exception) -> StoreUnavailable:
        where = self.url or "the cluster"
        return StoreUnavailable(f"Elasticsearch at {where} failed: {esclient.describe(exc)}")

    # -- reads -------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        sources: list[str] | None = None,
        languages: list[str] | None = None,
        since: datetime | date | None = None,
        until: datetime | date | None = None,
        limit: int = 20,
        all_copies: bool = False,
        offset: int = 0,
        facets: bool = False,
        tz: str = "UTC",
    ) -> SearchResult:
        """Hits for ``query`` from the cluster; the same meaning as on SQLite (see Store)."""
        node = parse(query)
        if offset + limit > MAX_RESULT_WINDOW:
            raise BeatwatchError(f"Elasticsearch pages at most {MAX_RESULT_WINDOW} hits deep")
        filters = Filters(sources=sources, languages=languages, since=since, until=until)
        body = dsl.search_body(
            node, filters, limit=limit, offset=offset, all_copies=all_copies, facets=facets, tz=tz
        )
        try:
            answer = self.client.search(index=self.alias, **body).body
        except NotFoundError:  # nothing has been indexed yet: no alias, no hits
            empty = Facets(sources={}, languages={}, days={}) if facets else None
            return SearchResult(total=0, hits=[], facets=empty)
        except (TransportError, ApiError) as exc:
            raise self._search_error(exc) from exc
        return dsl.read_result(answer, node, all_copies=all_copies, facets=facets)

    def _search_error(self, exc: Exception) -> BeatwatchError:
        if isinstance(exc, ApiError) and exc.status_code == 400:
            return BeatwatchError(f"Elasticsearch refused the search: {esclient.describe(exc)}")
        return self._unavailable(exc)

    def index_status(self, *, cluster: bool = True) -> dict:
        """For ``status``: the spool, the last refused and failing documents, and (asked with a
        3 s timeout) the cluster."""
        data = {
            "spool": self.backlog().to_json(),
            "refused": [{"id": i, "reason": r} for i, r in self.spool.rejected(5)],
            "failing": [{"id": i, "reason": r} for i, r in self.spool.failing(5)],
        }
        if cluster:
            data["cluster"] = self.cluster_status()
        return data

    def cluster_status(self, timeout: float = 3.0) -> dict:
        """The alias, its index and how many documents it holds, or why it cannot be reached
        (asked once, with a short timeout: ``status`` must answer when the cluster does not)."""
        quick = self.client.options(request_timeout=timeout, max_retries=0)
        status: dict[str, Any] = {"url": self.url, "alias": self.alias}
        try:
            target = esclient.alias_target(quick, self.alias, self.url)
            docs = quick.count(index=self.alias).body["count"] if target else 0
            version = esclient.mapping_version(quick, target) if target else None
        except (TransportError, ApiError, BeatwatchError) as exc:
            error = str(exc) if isinstance(exc, BeatwatchError) else esclient.describe(exc)
            return {**status, "reachable": False, "error": error}
        return {
            **status,
            "reachable": True,
            "index": target,
            "documents": docs,
            "mapping_current": target is None or mapping.is_current(version),
        }

    def close(self) -> None:
        """Close the client's connections (the SQLite connection belongs to the caller)."""
        self.client.close()


def _count(report: SyncReport, result: bulk.BulkResult) -> None:
    report.indexed += result.written
    report.already += len(result.acknowledged) - result.written
    report.rejected += len(result.rejected)
    report.deferred += len(result.deferred)
    for entry, reason in result.rejected + result.deferred:
        report.reasons.append(f"{entry.article_id}: {reason}")
    for entry, reason in result.rejected:
        log.error("index: document %s refused: %s", entry.article_id, reason)
