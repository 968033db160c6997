"""The query language translated to the Elasticsearch Query DSL, from the parsed tree, and the
cluster's answer read back into a SearchResult.

Built from the same ``indexer.query`` AST and ``text_match`` analysis as the SQLite compiler and
the in-process matcher, over the matching fields of ``indexer.mapping``, so a query means the
same thing on every store:

- a word is a ``term`` on ``<field>_words`` (our own folded words), a prefix a ``prefix``; a phrase
  ``match_phrase``; a phrase ending in a prefix a ``span_near`` ending in ``span_multi``;
- ``"a b c"~N`` (FTS5 NEAR: at most N tokens between the first and last word) is an unordered
  ``span_near`` with Lucene slop ``N + 2 - k`` for k distinct words (Lucene counts the window's
  width minus the words themselves);
- Khmer is a ``wildcard`` substring query on ``<field>_khmer``; ``source:`` / ``language:`` a
  ``term`` on the folded key; ``url:`` a ``term`` or ``prefix`` on the URL; ranges ``range``.

Title clauses are boosted as on SQLite (``TITLE_WEIGHT``); scores differ between stores, the
set of matches does not.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from crawler.models import Facets, SearchHit, SearchResult
from crawler.text import fold
from indexer.highlight import passage
from indexer.mapping import MAX_WORD, article_from_source
from indexer.query import TITLE_WEIGHT, And, Node, Not, Or, Range, Term, TextMatch, text_match
from indexer.store import Filters, filter_nodes

MATCH_ALL: dict[str, Any] = {"match_all": {}}
MATCH_NONE: dict[str, Any] = {"match_none": {}}
SORT = [
    {"_score": {"order": "desc"}},
    {"published_at": {"order": "asc", "missing": "_last"}},
    {"fetched_at": {"order": "asc"}},
    {"id": {"order": "asc"}},
]


def query(node: Node, filters: Filters | None = None) -> dict[str, Any]:
    """The ``query`` object for ``node`` with the search filters as non-scoring clauses."""
    extra = [translate(f) for f in filter_nodes(filters or Filters())]
    if not extra:
        return translate(node)
    return {"bool": {"must": [translate(node)], "filter": extra}}


def translate(node: Node) -> dict[str, Any]:
    """One AST node as a Query DSL clause."""
    if isinstance(node, And):
        return _and(node)
    if isinstance(node, Or):
        return {
            "bool": {"should": [translate(c) for c in node.children], "minimum_should_match": 1}
        }
    if isinstance(node, Not):
        return {"bool": {"must": [MATCH_ALL], "must_not": [translate(node.child)]}}
    if isinstance(node, Range):
        return _range(node)
    if node.field in ("source", "language"):
        return {"term": {f"{node.field}_key": fold(node.text)}}
    if node.field == "url":
        kind = "prefix" if isinstance(node, Term) and node.prefix else "term"
        return {kind: {"url": node.text}}
    return _text(text_match(node))


def _and(node: And) -> dict[str, Any]:
    must = [translate(c) for c in node.children if not isinstance(c, Not)]
    must_not = [translate(c.child) for c in node.children if isinstance(c, Not)]
    body: dict[str, Any] = {"must": must or [MATCH_ALL]}
    if must_not:
        body["must_not"] = must_not
    return {"bool": body}


def _range(node: Range) -> dict[str, Any]:
    bounds: dict[str, str] = {}
    if node.low is not None:
        bounds["gte" if node.include_low else "gt"] = _iso(node.low)
    if node.high is not None:
        bounds["lte" if node.include_high else "lt"] = _iso(node.high)
    if not bounds:
        return {"exists": {"field": node.field}}
    return {"range": {node.field: bounds}}


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _text(m: TextMatch) -> dict[str, Any]:
    clauses = [_field_clause(m, f) for f in m.fields]
    return clauses[0] if len(clauses) == 1 else _any(clauses)


def _any(clauses: list[dict[str, Any]]) -> dict[str, Any]:
    return {"bool": {"should": clauses, "minimum_should_match": 1}}


def _field_clause(m: TextMatch, field: str) -> dict[str, Any]:
    boost = TITLE_WEIGHT if field == "title" else 1.0
    if m.needle:
        value = "*" + _wildcard_escape(m.needle) + "*"
        return {"wildcard": {f"{field}_khmer": {"value": value, "boost": boost}}}
    name = f"{field}_words"
    ws = [w[:MAX_WORD] for w in m.words]  # as indexed (indexer.mapping)
    unique = list(dict.fromkeys(ws))
    if m.slop is not None:  # NEAR; one distinct word is just that word
        return _near(name, unique, m.slop, boost) if len(unique) > 1 else _term(name, ws[0], boost)
    if len(ws) == 1:
        return (
            {"prefix": {name: {"value": ws[0], "boost": boost}}}
            if m.prefix
            else _term(name, ws[0], boost)
        )
    if m.prefix:
        spans: list[dict[str, Any]] = [{"span_term": {name: w}} for w in ws[:-1]]
        spans.append({"span_multi": {"match": {"prefix": {name: {"value": ws[-1]}}}}})
        return {"span_near": {"clauses": spans, "slop": 0, "in_order": True, "boost": boost}}
    return {"match_phrase": {name: {"query": " ".join(ws), "boost": boost}}}


def _term(name: str, word: str, boost: float) -> dict[str, Any]:
    return {"term": {name: {"value": word, "boost": boost}}}


def _near(name: str, unique: list[str], slop: int, boost: float) -> dict[str, Any]:
    lucene_slop = slop + 2 - len(unique)
    if lucene_slop < 0:
        return MATCH_NONE  # k distinct words cannot fit in a window that narrow
    spans = [{"span_term": {name: w}} for w in unique]
    return {"span_near": {"clauses": spans, "slop": lucene_slop, "in_order": False, "boost": boost}}


def _wildcard_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def search_body(
    node: Node,
    filters: Filters | None,
    *,
    limit: int,
    offset: int,
    all_copies: bool,
    facets: bool = False,
    tz: str = "UTC",
) -> dict[str, Any]:
    """The whole ``_search`` body: query, order, paging, story collapse and the aggregations."""
    body: dict[str, Any] = {
        "query": query(node, filters),
        "sort": SORT,
        "from": offset,
        "size": limit,
        "track_total_hits": True,
    }
    aggs: dict[str, Any] = {}
    if not all_copies:
        body["collapse"] = {"field": "story_id"}
        aggs["stories"] = {"cardinality": {"field": "story_id", "precision_threshold": 40000}}
    if facets:
        aggs.update(facet_aggs(tz))
    if aggs:
        body["aggs"] = aggs
    return body


def facet_aggs(tz: str) -> dict[str, Any]:
    """Counts of matching articles by source, language and publication day in ``tz``."""
    return {
        "source": {"terms": {"field": "source", "size": 1000}},
        "language": {"terms": {"field": "language", "size": 1000}},
        "day": {
            "date_histogram": {
                "field": "published_at",
                "calendar_interval": "day",
                "time_zone": tz,
                "min_doc_count": 1,
                "format": "yyyy-MM-dd",
            }
        },
    }


def read_result(answer: dict, node: Node, *, all_copies: bool, facets: bool) -> SearchResult:
    """The ``_search`` answer as a SearchResult; snippets are ours, from the hit's text."""
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
    a = article_from_source(raw["_source"])
    return SearchHit(
        id=a.id, url=a.url, title=a.title, source=a.source, published_at=a.published_at,
        language=a.language, score=float(raw.get("_score") or 0.0),
        snippet=passage(node, a.title, a.text).html(), story_id=a.story_id,
    )  # fmt: skip
