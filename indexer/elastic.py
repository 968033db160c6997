"""The Elasticsearch store: articles kept in the local SQLite file, searched in Elasticsearch.

Writes go to the local store first (``indexer.sqlite``: the record, with its revisions, which
dedup and stories read under the write lock) and are queued in the spool (``indexer.spool``) in
the same transaction. ``sync`` sends the queue with ``streaming_bulk``, idempotent by article id
and revision (``version_type: external``: a replay of what the cluster already holds answers
409 and counts as acknowledged), and marks entries indexed only once Elasticsearch says so.
While the cluster cannot be reached the crawl goes on and the spool grows; the next ``sync``
replays it. Searches are translated from the parsed query (``indexer.dsl``).

Clients query the alias ``<index>``; documents live in ``<index>-000001`` (then ``-000002`` ...
after ``beatwatch index rebuild``), created from the index template of ``indexer.mapping``.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TransportError
from elasticsearch import ApiError, Elasticsearch, NotFoundError
from elasticsearch.helpers import streaming_bulk

from crawler.errors import BeatwatchError, StoreUnavailable
from crawler.models import Article, Facets, SearchHit, SearchResult
from indexer import dsl, mapping
from indexer.highlight import passage
from indexer.query import Node, parse
from indexer.spool import Backlog, Queued, Spool
from indexer.sqlite import SQLiteStore
from indexer.store import Filters, PutOutcome, Revision, SyncReport

log = logging.getLogger(__name__)

RETRY_STATUSES = (429, 500, 502, 503, 504)
#: After a failed full sync, wait this long before trying again (the spool keeps everything).
#: A batch that fails in the middle of a crawl is not retried before the end-of-pass sync.
RETRY_AFTER_DOWN = 30.0
FLUSH_AFTER = 5.0


@dataclass
class BulkResult:
    """One bulk write sorted: acknowledged (entry, revision), refused for good, to retry."""

    acknowledged: list[tuple[Queued, int]] = field(default_factory=list)
    rejected: list[tuple[Queued, str]] = field(default_factory=list)
    deferred: list[tuple[Queued, str]] = field(default_factory=list)


def client_from_settings(es: Any) -> Elasticsearch:
    """The official client for ``store.elasticsearch`` settings (credentials, TLS, timeout)."""
    options: dict[str, Any] = {
        "request_timeout": es.timeout,
        "max_retries": es.retries,
        "retry_on_timeout": True,
        "retry_on_status": (),  # statuses are retried with backoff by streaming_bulk
        "verify_certs": es.verify_certs,
    }
    if es.ca_certs:
        options["ca_certs"] = es.ca_certs
    if es.api_key:
        options["api_key"] = es.api_key
    elif es.username:
        options["basic_auth"] = (es.username, es.password or "")
    return Elasticsearch(es.url, **options)


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
    ):
        self.local = SQLiteStore(conn)
        self.spool = Spool(conn)
        self.client = client
        self.alias = alias
        self.batch_size = batch_size
        self.retries = retries
        self.retry_backoff = retry_backoff
        self.url = url
        self._ready = False
        self._down_until = 0.0
        self._last_flush = time.monotonic()
        self._unsent = 0  # queued by this process since its last sync
        self.sent = SyncReport()  # every sync of this process, added up

    @classmethod
    def from_settings(cls, es: Any, conn: sqlite3.Connection) -> ElasticStore:
        """The store for ``store.elasticsearch`` settings over the beatwatch database."""
        return cls(
            conn,
            client_from_settings(es),
            es.index,
            batch_size=es.batch_size,
            retries=es.retries,
            retry_backoff=es.retry_backoff,
            url=es.url,
        )

    # -- the local side: what dedup, stories and history read -----------------------------

    def put(self, article: Article) -> PutOutcome:
        """Store locally and queue for the cluster (one transaction); see ``Store.put``."""
        outcome = self.local.put(article)
        if outcome != "unchanged":
            self.spool.queue(article.id)
            self._unsent += 1
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

    # -- the cluster side --------------------------------------------------------------------

    def ensure_index(self) -> str:
        """Put the index template and create the first index behind the alias if missing;
        return the concrete index the alias points at."""
        try:
            current = self._alias_target()
            if current is None:
                self._put_template()
                current = f"{self.alias}-000001"
                self.client.indices.create(
                    index=current, aliases={self.alias: {"is_write_index": True}}
                )
                log.info("created index %s behind alias %s", current, self.alias)
        except (TransportError, ApiError) as exc:
            raise self._unavailable(exc) from exc
        self._ready = True
        return current

    def _alias_target(self) -> str | None:
        return _alias_target(self.client, self.alias, self.url)

    def _put_template(self) -> None:
        icu = self.has_icu()
        self.client.indices.put_index_template(
            name=self.alias, **mapping.template(self.alias, icu=icu)
        )

    def has_icu(self) -> bool:
        """True when every node has the analysis-icu plugin (the Khmer sub-field uses it)."""
        try:
            nodes = self.client.nodes.info(metric="plugins").body.get("nodes", {})
        except ApiError as exc:  # e.g. a user without the monitor privilege
            log.warning("cannot list plugins (%s); Khmer sub-fields use the standard analyzer", exc)
            return False
        names = [{p.get("name") for p in n.get("plugins", [])} for n in nodes.values()]
        return bool(names) and all("analysis-icu" in n for n in names)

    def sync(self, *, force: bool = False, refresh: bool = False) -> SyncReport | None:
        """Send queued articles: everything when ``force``, else one batch once enough have
        waited. Never raises for an unreachable cluster: the report says, the spool keeps all.

        A batch sent mid-crawl gets one attempt (a cluster that does not answer must not stall
        the crawl); a forced sync retries with backoff."""
        now = time.monotonic()
        if not force and (now < self._down_until or not self._due(now)):
            return None
        report = SyncReport()
        try:
            self._drain(report, force=force)
            if refresh:
                self.client.indices.refresh(index=self.alias)
        except StoreUnavailable as exc:
            report.error = str(exc)
            wait = RETRY_AFTER_DOWN if force else float("inf")
            self._down_until = time.monotonic() + wait
            log.warning("index: %s; %d articles wait in the spool", exc, self.backlog().pending)
        self._last_flush = time.monotonic()
        self._unsent = 0
        self.sent.add(report)
        return report

    def _due(self, now: float) -> bool:
        if self._unsent >= self.batch_size:
            return True
        return self._unsent > 0 and now - self._last_flush >= FLUSH_AFTER

    def _drain(self, report: SyncReport, *, force: bool) -> None:
        if not self._ready:
            self.ensure_index()
        after = 0
        retries = self.retries if force else 0
        while batch := self.spool.pending(self.batch_size, after=after):
            self.send(batch, report, index=self.alias, retries=retries)
            after = batch[-1].queued_seq
            if not force:
                return

    def send(
        self, batch: list[Queued], report: SyncReport, *, index: str, retries: int | None = None
    ) -> None:
        """Bulk-write ``batch`` through the alias and record each document's fate in the spool."""
        result = self.write(batch, report, index=index, retries=retries)
        self.spool.mark_indexed(result.acknowledged)
        self.spool.mark_failed(result.rejected, permanent=True)
        self.spool.mark_failed(result.deferred, permanent=False)

    def write(
        self, batch: list[Queued], report: SyncReport, *, index: str, retries: int | None = None
    ) -> BulkResult:
        """Bulk-write the articles of ``batch`` into ``index``; sort each into the result
        (``retries`` after 429/5xx or a refused connection: the store's setting by default)."""
        articles = {q.article_id: self.local.get(q.article_id) for q in batch}
        by_id = {q.article_id: q for q in batch if articles[q.article_id] is not None}
        result = BulkResult()
        result.rejected = [(q, "no such article") for q in batch if q.article_id not in by_id]
        actions = list(_actions(articles, index))
        for success, item in self._bulk(actions, self.retries if retries is None else retries):
            info = item.get("index", {})
            entry = by_id[info["_id"]]
            status = info.get("status", 0)
            if success or status == 409:
                result.acknowledged.append((entry, articles[entry.article_id].revision))  # type: ignore[union-attr]
                report.indexed += success
                report.already += not success
                continue
            reason = _reason(info)
            (result.rejected if status == 400 else result.deferred).append((entry, reason))
            report.reasons.append(f"{entry.article_id}: {reason}")
        report.rejected += len(result.rejected)
        report.deferred += len(result.deferred)
        for entry, reason in result.rejected:
            log.error("index: document %s refused: %s", entry.article_id, reason)
        return result

    def _bulk(self, actions: list[dict], retries: int) -> Iterator[tuple[bool, dict]]:
        once = self.client.options(max_retries=0)  # retried here, with backoff
        for attempt in range(retries + 1):
            try:
                yield from streaming_bulk(
                    once,
                    actions,
                    chunk_size=self.batch_size,
                    max_retries=retries,
                    initial_backoff=self.retry_backoff,
                    max_backoff=60,
                    retry_on_status=RETRY_STATUSES,
                    raise_on_error=False,
                )
                return
            except TransportConnectionError as exc:
                if attempt == retries:
                    raise self._unavailable(exc) from exc
                time.sleep(min(60.0, self.retry_backoff * 2**attempt))
            except (TransportError, ApiError) as exc:
                raise self._unavailable(exc) from exc

    def _unavailable(self, exc: Exception) -> StoreUnavailable:
        status = getattr(exc, "status_code", None) or getattr(
            getattr(exc, "meta", None), "status", None
        )
        what = {401: "refused the credentials", 403: "refused access"}.get(status or 0, "failed")
        return StoreUnavailable(
            f"Elasticsearch at {self.url or 'the cluster'} {what}: {_short(exc)}"
        )

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
        return _result(answer, node, all_copies=all_copies, facets=facets)

    def _search_error(self, exc: Exception) -> BeatwatchError:
        if isinstance(exc, ApiError) and exc.status_code == 400:
            return BeatwatchError(f"Elasticsearch refused the search: {_short(exc)}")
        return self._unavailable(exc)

    def cluster_status(self, timeout: float = 3.0) -> dict:
        """The alias, its index and how many documents it holds, or why it cannot be reached
        (asked once, with a short timeout: ``status`` must answer when the cluster does not)."""
        quick = self.client.options(request_timeout=timeout, max_retries=0)
        try:
            target = _alias_target(quick, self.alias, self.url)
            docs = quick.count(index=self.alias).body["count"] if target else 0
        except (TransportError, ApiError, BeatwatchError) as exc:
            return {"url": self.url, "alias": self.alias, "reachable": False, "error": _short(exc)}
        return {
            "url": self.url,
            "alias": self.alias,
            "reachable": True,
            "index": target,
            "documents": docs,
        }

    def close(self) -> None:
        """Close the client's connections (the SQLite connection belongs to the caller)."""
        self.client.close()


def _alias_target(client: Elasticsearch, alias: str, url: str) -> str | None:
    """The index the alias writes to; None when neither alias nor index exists."""
    if client.indices.exists_alias(name=alias):
        return sorted(client.indices.get_alias(name=alias).body)[-1]
    if client.indices.exists(index=alias):
        raise BeatwatchError(
            f"{url}: {alias!r} is an index, not an alias; beatwatch needs an alias (move the"
            " data with the reindex API, or choose another store.elasticsearch.index)"
        )
    return None


def _actions(articles: dict[str, Article | None], index: str) -> Iterator[dict]:
    for article in articles.values():
        if article is not None:
            yield {
                "_op_type": "index",
                "_index": index,
                "_id": article.id,
                "version": article.revision,
                "version_type": "external",
                "_source": mapping.document(article),
            }


def _reason(info: dict) -> str:
    error = info.get("error")
    if isinstance(error, dict):
        return f"{info.get('status')} {error.get('type', '')}: {error.get('reason', '')}".strip()
    return f"{info.get('status')} {error}"


def _short(exc: Exception) -> str:
    """What went wrong, in a line: the socket error, the timeout, or the API error's reason."""
    if isinstance(exc, ConnectionTimeout):
        return "no answer in time (a timeout)"
    if isinstance(exc, TransportConnectionError):
        cause = re.search(r"\[Errno -?\d+\] ([^)\]]+)", str(exc))
        return f"cannot connect ({cause.group(1) if cause else 'connection error'})"
    if isinstance(exc, ApiError):
        error = exc.info.get("error") if isinstance(exc.info, dict) else None
        if isinstance(error, dict):
            return f"{exc.status_code} {error.get('type')}: {error.get('reason')}"[:300]
        return f"{exc.status_code} {exc.error}"
    text = str(exc)
    return text if len(text) < 300 else text[:297] + "..."


def _result(answer: dict, node: Node, *, all_copies: bool, facets: bool) -> SearchResult:
    hits = [_hit(h, node) for h in answer["hits"]["hits"]]
    aggs = answer.get("aggregations", {})
    if all_copies or "stories" not in aggs:
        total = answer["hits"]["total"]["value"]
    else:
        total = aggs["stories"]["value"]
    result = SearchResult(total=total, hits=hits)
    if facets:
        result.facets = Facets(
            sources=_buckets(aggs.get("source")),
            languages=_buckets(aggs.get("language")),
            days=_buckets(aggs.get("day"), key="key_as_string"),
        )
    return result


def _buckets(agg: dict | None, key: str = "key") -> dict[str, int]:
    buckets = (agg or {}).get("buckets", [])
    return dict(sorted((str(b[key]), b["doc_count"]) for b in buckets if b["doc_count"]))


def _hit(raw: dict, node: Node) -> SearchHit:
    src = raw["_source"]
    published = src.get("published_at")
    return SearchHit(
        id=src["id"],
        url=src["url"],
        title=src["title"],
        source=src["source"],
        published_at=datetime.fromisoformat(published) if published else None,
        language=src.get("language"),
        score=float(raw.get("_score") or 0.0),
        snippet=passage(node, src["title"], src["text"]).html(),
        story_id=src["story_id"],
    )


def article_from_source(src: dict) -> Article:
    """An Article from a document's ``_source`` (for moving data back to SQLite)."""
    published = src.get("published_at")
    return Article(
        id=src["id"],
        url=src["url"],
        source=src["source"],
        title=src["title"],
        text=src["text"],
        published_at=datetime.fromisoformat(published) if published else None,
        fetched_at=datetime.fromisoformat(src["fetched_at"]),
        authors=list(src.get("authors") or []),
        language=src.get("language"),
        body_hash=src.get("body_hash", ""),
        story_id=src.get("story_id", ""),
        revision=int(src.get("revision", 1)),
        fetch_url=src.get("fetch_url", ""),
        summary=src.get("summary", ""),
        matched_rules=list(src.get("matched_rules") or []),
    )
