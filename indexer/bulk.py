"""Bulk writes into Elasticsearch: idempotent index actions, retried, every document sorted.

Each article is one ``index`` action with ``_id`` = article id, ``version`` = revision and
``version_type: external``. Every document ends with exactly one outcome:

- ``acknowledged``: written (201/200), or a 409 saying the cluster holds this very revision
  already (a replay after a lost acknowledgement);
- ``rejected``: refused for good: a 400 (mapping), or a 409 saying the cluster holds a
  *different* revision than this database (only a rebuild from this database can settle it);
- ``deferred``: 429/5xx still failing after the retries, or the index missing: try later.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

from crawler.models import Article
from indexer import mapping

RETRY_STATUSES = (429, 500, 502, 503, 504)
_HELD = re.compile(r"current version \[(\d+)\]")


@dataclass
class BulkResult:
    """One bulk write sorted by outcome; entries are whatever the caller passed in."""

    acknowledged: list[tuple[Any, int]] = field(default_factory=list)  # (entry, revision)
    rejected: list[tuple[Any, str]] = field(default_factory=list)  # (entry, reason)
    deferred: list[tuple[Any, str]] = field(default_factory=list)
    written: int = 0  # acknowledged by a 2xx (the rest of acknowledged were 409 replays)
    index_missing: bool = False

    def add(self, other: BulkResult) -> None:
        """Take ``other``'s outcomes into this result (one write after another)."""
        self.acknowledged += other.acknowledged
        self.rejected += other.rejected
        self.deferred += other.deferred
        self.written += other.written
        self.index_missing = self.index_missing or other.index_missing


def write(
    client: Elasticsearch,
    articles: dict[Any, Article],
    index: str,
    *,
    retries: int,
    backoff: float,
    through_alias: bool,
) -> BulkResult:
    """Write ``articles`` (by caller's entry) into ``index``; connection errors and timeouts
    are retried with backoff and then raised (elastic_transport errors)."""
    by_id = {article.id: entry for entry, article in articles.items()}
    outcomes: dict[str, tuple[bool, dict]] = {}
    actions = list(_actions(articles.values(), index))
    for ok, info in _bulk(client, actions, retries, backoff, through_alias):
        outcomes[info["_id"]] = (ok, info)  # a resent batch overwrites: one outcome each
    result = BulkResult()
    for article_id, (ok, info) in outcomes.items():
        entry = by_id[article_id]
        _sort(result, entry, articles[entry], ok, info)
    return result


def _sort(result: BulkResult, entry: Any, article: Article, ok: bool, info: dict) -> None:
    status = info.get("status", 0)
    if ok:
        result.acknowledged.append((entry, article.revision))
        result.written += 1
    elif status == 409 and _held_revision(info) in (article.revision, None):
        result.acknowledged.append((entry, article.revision))
    elif status == 409:
        held = _held_revision(info)
        why = f"the cluster holds revision {held}, this database {article.revision}: run rebuild"
        result.rejected.append((entry, why))
    elif status == 404:
        result.index_missing = True
        result.deferred.append((entry, reason(info)))
    elif status == 400:
        result.rejected.append((entry, reason(info)))
    else:
        result.deferred.append((entry, reason(info)))


def _held_revision(info: dict) -> int | None:
    match = _HELD.search(reason(info))
    return int(match.group(1)) if match else None


def _bulk(
    client: Elasticsearch, actions: list[dict], retries: int, backoff: float, through_alias: bool
) -> Iterator[tuple[bool, dict]]:
    once = client.options(max_retries=0)  # retried here, with backoff
    extra = {"require_alias": True} if through_alias else {}
    for attempt in range(retries + 1):
        try:
            for ok, item in streaming_bulk(
                once,
                actions,
                chunk_size=len(actions) or 1,
                max_retries=retries,
                initial_backoff=backoff,
                max_backoff=60,
                retry_on_status=RETRY_STATUSES,
                raise_on_error=False,
                **extra,
            ):
                yield ok, item.get("index", {})
            return
        except (TransportConnectionError, ConnectionTimeout):
            if attempt == retries:
                raise
            time.sleep(min(60.0, backoff * 2**attempt))


def _actions(articles: Any, index: str) -> Iterator[dict]:
    for article in articles:
        yield {
            "_op_type": "index",
            "_index": index,
            "_id": article.id,
            "version": article.revision,
            "version_type": "external",
            "_source": mapping.document(article),
        }


def reason(info: dict) -> str:
    """A bulk item's error as one line: status, type and reason."""
    error = info.get("error")
    if isinstance(error, dict):
        return f"{info.get('status')} {error.get('type', '')}: {error.get('reason', '')}".strip()
    return f"{info.get('status')} {error}"
