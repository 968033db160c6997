"""The store conformance suite: the same articles, queries and expected hits on every store.

Written once and run on each store the machine has: the embedded SQLite store always; the
Elasticsearch store when ``BEATWATCH_TEST_ES_URL`` points at a real cluster (the GitHub Actions
workflow starts one). Every query must return exactly what the in-process alert matcher accepts
on the shared corpus (Khmer, phrases, proximity, prefixes, ranges, fields, NOT), and the
stores must agree on story collapse, filters, paging and facets. Scores are not compared.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from alerts.matcher import Document, Matcher
from crawler.text import words
from tests.corpus import ARTICLES, BY_SLUG, LONG_TOKEN, WIRE_HASH, slugs
from tests.stores import STORE_KINDS, open_store

_PHNOM_PENH = ZoneInfo("Asia/Phnom_Penh")

RULES = [
    # (query, expected corpus slugs, or None when only agreement is checked)
    ("Ream", None),
    ('"Ream Naval Base"', {"ream-pier"}),
    ('"Kem Sokha"', {"kem-sokha-verdict", "kem-sokha-appeal"}),
    ("Kem AND Sokha", {"kem-sokha-verdict", "kem-sokha-appeal", "sokha-travel"}),
    ('"Angkor Sentinel" OR "Ream Naval Base"', None),
    ('"military cooperation"', None),
    ('"military cooperation" AND "Angkor Sentinel"', None),
    ('"military cooperation"~2', None),
    ('"cooperation military"~0', None),
    ('"cooperation military"~3', None),
    ('"military cooperation planners"~4', None),
    ('"lifted curfew Ream"~5', {"late-evening"}),  # 5 words between the first and last
    ('"lifted curfew Ream"~4', set()),
    ('"Ream curfew"~1', set()),
    ('"Ream curfew"~2', {"late-evening"}),
    (LONG_TOKEN, {"long-token"}),
    (LONG_TOKEN[:1001] + "*", {"long-token"}),
    (f'"appendix {LONG_TOKEN} ends"', {"long-token"}),
    ("sanction*", {"sanctions-officials", "sanctions-arms"}),
    ("sanction", {"sanctions-arms"}),
    ("title:sanction*", None),
    ("text:Ream AND NOT title:Ream", None),
    ("Ream -pier", None),
    ("NOT Ream", None),
    ("-Ream -Sokha -Sentinel", None),
    ("(Ream OR Sokha) AND (court OR pier)", None),
    ("title:(Ream OR Sokha)", None),
    ("source:rfa", None),
    ("source:RFA AND Ream", None),
    ("language:km", None),
    ("language:fr OR language:km", None),
    ('url:"https://rfa.example.org/news/ream-satellite"', {"ream-satellite"}),
    ('url:"https://rfa.example.org/news/*"', None),
    ("published_at:[2026-01-10 TO *]", None),
    ("published_at:[2026-01-05 TO 2026-01-07]", None),
    ("published_at:{2026-01-05 TO 2026-01-07}", None),
    ("published_at:<2026-01-04", None),
    ("NOT published_at:[2026-01-01 TO *]", None),
    ("coopération", None),
    ("cooperation AND language:fr", None),
    ('"Etats Unis"', {"coop-fr"}),
    ("attache", {"ream-visit"}),
    ("U.S.", None),
    ('"us cambodia"', {"us-usage"}),
    ("O'Brien", {"hyphen-apostrophe"}),
    ("deep-water", None),
    ('"កឹម សុខា"', {"km-sokha"}),
    ("កឹម\u200bសុខា", set()),
    ('"មូលដ្ឋានទ័ពជើងទឹករាម"', {"km-ream-zwsp"}),
    ("ស្ត្រី", {"km-sokha", "km-sanctions"}),
    ("ស្រ្តី", {"km-sokha", "km-sanctions"}),
    ("សម្ដេច", {"km-ream-zwsp", "km-samdech"}),
    ("២០២៦", {"km-coop"}),
    ("2026", {"km-coop"}),
    ("សុ", None),
    ("title:កម្ពុជា", {"km-coop"}),
    ('"អង្គរ សិនទីណែល" AND "Angkor Sentinel"', {"km-sentinel"}),
    ("ទណ្ឌកម្ម OR sanctions", None),
    ("subscribe OR newsletter OR advertisement", set()),
    ("NOT sailors", None),
    ("naval AND NOT (Ream OR China)", None),
    ("defence OR Ream OR Sokha OR language:km OR Sentinel OR penalties", None),
]


@pytest.fixture(scope="module", params=STORE_KINDS)
def store(request):
    with open_store(request.param, ARTICLES) as s:
        yield s


@pytest.fixture(scope="module")
def documents():
    return [(a.id, Document.from_article(a)) for a in ARTICLES]


def _matcher_ids(query, documents):
    m = Matcher(query)
    return {i for i, doc in documents if m.matches_doc(doc)}


def _store_ids(query, store):
    return {h.id for h in store.search(query, all_copies=True, limit=10_000).hits}


@pytest.mark.parametrize(("query", "expected"), RULES, ids=[q[:60] for q, _ in RULES])
def test_matcher_accepts_exactly_what_the_store_returns(query, expected, store, documents):
    in_process = _matcher_ids(query, documents)
    searched = _store_ids(query, store)
    assert slugs(in_process) == slugs(searched)
    if expected is not None:
        assert slugs(in_process) == expected


def test_the_corpus_exercises_empty_full_and_near_full_results(documents):
    sizes = [len(_matcher_ids(q, documents)) for q, _ in RULES]
    assert 0 in sizes
    assert len(ARTICLES) - 1 in sizes  # NOT sailors: everything but one
    assert len(RULES) >= 40


def _vocabulary() -> list[str]:
    vocab = sorted({w for a in ARTICLES for w in words(a.title + " " + a.text) if w.isascii()})
    return [*vocab, "កឹម សុខា", "ស្ត្រី", "សហរដ្ឋអាមេរិក", "zzzabsent"]


def _random_query(rng: random.Random, vocab: list[str], depth: int = 0) -> str:
    roll = rng.random()
    if depth >= 2 or roll < 0.35:
        w = rng.choice(vocab)
        kind = rng.random()
        if " " in w or kind < 0.15:
            return f'"{w} {rng.choice(vocab)}"' if " " not in w else f'"{w}"'
        if kind < 0.25:
            return f'"{w} {rng.choice(vocab)}"~{rng.randint(0, 4)}'
        if kind < 0.35 and len(w) > 3 and w.isascii():
            return f"{w[:3]}*"
        if kind < 0.45:
            return f"{rng.choice(['title', 'text'])}:{w}"
        return w
    op = rng.choice([" AND ", " OR ", " "])
    parts = [_random_query(rng, vocab, depth + 1) for _ in range(rng.randint(2, 3))]
    parts = [f"NOT {p}" if rng.random() < 0.2 else p for p in parts]
    return "(" + op.join(parts) + ")"


def test_random_boolean_queries_agree_with_the_matcher(store, documents):
    rng = random.Random(20260101)
    vocab = _vocabulary()
    disagreements = []
    for _ in range(300):
        query = _random_query(rng, vocab)
        if _matcher_ids(query, documents) != _store_ids(query, store):
            disagreements.append(query)
    assert disagreements == []


def _story_of(article_id):
    return next(a.story_id for a in ARTICLES if a.id == article_id)


def test_one_hit_per_story_and_total_counts_stories(store):
    wire = [a for a in ARTICLES if a.body_hash == WIRE_HASH]
    assert len(wire) >= 3
    result = store.search('"Phnom Penh"', limit=100)
    story_ids = [h.story_id for h in result.hits]
    assert len(story_ids) == len(set(story_ids)) == result.total
    assert wire[0].story_id in story_ids
    every = store.search('"Phnom Penh"', limit=100, all_copies=True)
    assert every.total == len(every.hits) > result.total
    assert {h.story_id for h in every.hits} == set(story_ids)


def test_all_copies_total_counts_articles_beyond_the_page(store, documents):
    expected = _matcher_ids("Cambodia OR Cambodian", documents)
    page = store.search("Cambodia OR Cambodian", limit=2, all_copies=True)
    assert page.total == len(expected)
    assert len(page.hits) == 2


def test_paging_walks_every_story_once(store, documents):
    query = "Cambodia OR Cambodian OR Ream"
    stories = {_story_of(i) for i in _matcher_ids(query, documents)}
    seen: list[str] = []
    for offset in range(0, len(stories) + 3, 3):
        page = store.search(query, limit=3, offset=offset)
        assert page.total == len(stories)
        seen += [h.story_id for h in page.hits]
    assert sorted(seen) == sorted(stories)


def test_filters_by_source_language_and_dates(store, documents):
    query = "Cambodia OR Cambodian OR Ream OR Sokha OR កម្ពុជា OR សុខា"
    matched = [a for a in ARTICLES if a.id in _matcher_ids(query, documents)]

    def ids(**filters):
        return {h.id for h in store.search(query, all_copies=True, limit=500, **filters).hits}

    assert ids(sources=["rfa"]) == {a.id for a in matched if a.source == "rfa"} != set()
    assert ids(languages=["KM"]) == {a.id for a in matched if a.language == "km"} != set()
    since, until = date(2026, 1, 5), date(2026, 1, 9)
    in_window = {
        a.id for a in matched if a.published_at and since <= a.published_at.date() <= until
    }
    assert ids(since=since, until=until) == in_window != set()
    instant = datetime(2026, 1, 9, 8, tzinfo=UTC)
    assert ids(until=instant) == {
        a.id for a in matched if a.published_at and a.published_at < instant
    }


def test_facets_count_matching_articles_by_source_language_and_local_day(store, documents):
    query = "Cambodia OR Cambodian OR Ream OR Sokha"
    matched = [a for a in ARTICLES if a.id in _matcher_ids(query, documents)]
    facets = store.search(query, limit=1, facets=True, tz="Asia/Phnom_Penh").facets
    assert facets.sources == dict(sorted(Counter(a.source for a in matched).items()))
    assert facets.languages == dict(
        sorted(Counter(a.language for a in matched if a.language).items())
    )
    local_days = Counter(
        a.published_at.astimezone(_PHNOM_PENH).date().isoformat() for a in matched if a.published_at
    )
    assert facets.days == dict(sorted(local_days.items()))


def test_a_late_evening_article_falls_on_the_next_local_day(store):
    late = BY_SLUG["late-evening"]
    assert late.published_at.hour >= 17  # UTC; after midnight in Phnom Penh
    utc = store.search("curfew", facets=True).facets.days
    local = store.search("curfew", facets=True, tz="Asia/Phnom_Penh").facets.days
    assert utc == {late.published_at.date().isoformat(): 1}
    assert local == {late.published_at.astimezone(_PHNOM_PENH).date().isoformat(): 1}


def test_hits_carry_the_article_fields_and_a_marked_snippet(store):
    [hit] = store.search('"Ream Naval Base"').hits
    article = BY_SLUG["ream-pier"]
    assert (hit.id, hit.url, hit.title, hit.source) == (
        article.id,
        article.url,
        article.title,
        article.source,
    )
    assert hit.published_at == article.published_at
    assert hit.story_id == article.story_id
    assert "<mark>Ream Naval Base</mark>" in hit.snippet


def test_titles_outrank_bodies(store):
    hits = store.search("sanctions", all_copies=True, limit=10).hits
    in_title = [h.id for h in hits if "sanction" in h.title.lower()]
    assert in_title and hits[0].id in in_title


def test_an_article_without_a_language_is_left_out_of_the_language_facet(store):
    facets = store.search(LONG_TOKEN, facets=True).facets
    assert (facets.sources, facets.languages) == ({"cambodianess": 1}, {})
