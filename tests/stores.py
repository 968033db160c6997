"""Stores for the conformance suite: each kind opened over the same corpus, then torn down.

- ``sqlite`` always runs.
- ``elasticsearch`` runs when ``BEATWATCH_TEST_ES_URL`` names a real cluster (a throwaway alias
  ``bw-conformance-<random>`` is created and deleted again).
- ``osmem`` is the Elasticsearch store against osmem-server, an in-memory OpenSearch-compatible
  engine (not Elasticsearch) behind the media-type proxy of ``tests.osmem_tier``; it runs
  wherever the osmem-server binary is (a test extra on Linux x86-64). It checks our requests
  against a real query engine: translation, mappings, collapse, aggregations, versions.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from crawler.db import connect
from crawler.models import Article
from tests.osmem_tier import osmem_executable, start_osmem_tier

ES_URL = os.environ.get("BEATWATCH_TEST_ES_URL", "")

STORE_KINDS = [
    "sqlite",
    pytest.param(
        "elasticsearch",
        marks=pytest.mark.skipif(not ES_URL, reason="BEATWATCH_TEST_ES_URL is not set"),
    ),
    pytest.param(
        "osmem",
        marks=pytest.mark.skipif(osmem_executable() is None, reason="no osmem-server binary"),
    ),
]


@contextmanager
def open_store(kind: str, articles: list[Article]) -> Iterator:
    """A store of ``kind`` holding ``articles``, searchable at once."""
    if kind == "sqlite":
        from indexer.sqlite import SQLiteStore

        store = SQLiteStore(connect(":memory:"))
        for article in articles:
            store.put(article)
        yield store
        return
    if kind == "osmem":
        with start_osmem_tier() as url, _elastic_store(url, articles) as store:
            yield store
        return
    with _elastic_store(ES_URL, articles) as store:
        yield store


@contextmanager
def _elastic_store(url: str, articles: list[Article]) -> Iterator:
    from elasticsearch import Elasticsearch

    from indexer.elastic import ElasticStore

    alias = f"bw-conformance-{uuid.uuid4().hex[:8]}"
    client = Elasticsearch(url, request_timeout=60)
    store = ElasticStore(connect(":memory:"), client, alias, batch_size=50, url=url)
    try:
        for article in articles:
            store.put(article)
        report = store.sync(force=True, refresh=True)
        assert report is not None and report.error is None, report
        assert report.rejected == 0, report.reasons
        yield store
    finally:
        client.indices.delete(index=f"{alias}-*", ignore_unavailable=True)
        client.options(ignore_status=404).indices.delete_index_template(name=alias)
        client.close()
