"""The same query means the same thing everywhere: matcher and SQLite store agree on the corpus."""

from __future__ import annotations

import random

import pytest

from alerts.matcher import Document, Matcher
from crawler.db import connect
from crawler.text import words
from indexer.sqlite import SQLiteStore
from tests.corpus import ARTICLES, slugs

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


@pytest.fixture(scope="module")
def store():
    s = SQLiteStore(connect(":memory:"))
    for article in ARTICLES:
        s.put(article)
    return s


@pytest.fixture(scope="module")
def documents():
    return [(a.id, Document.from_article(a)) for a in ARTICLES]


def _matcher_ids(query, documents):
    m = Matcher(query)
    return {i for i, doc in documents if m.matches_doc(doc)}


def _store_ids(query, store):
    return {h.id for h in store.search(query, all_copies=True, limit=10_000).hits}


@pytest.mark.parametrize(("query", "expected"), RULES, ids=[q for q, _ in RULES])
def test_matcher_accepts_exactly_what_the_store_returns(query, expected, store, documents):
    in_process = _matcher_ids(query, documents)
    searched = _store_ids(query, store)
    assert slugs(in_process) == slugs(searched)
    if expected is not None:
        assert slugs(in_process) == expected


def test_the_corpus_exercises_empty_full_and_near_full_results(store, documents):
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


def test_random_boolean_queries_agree_between_matcher_and_store(store, documents):
    rng = random.Random(20260101)
    vocab = _vocabulary()
    disagreements = []
    for _ in range(300):
        query = _random_query(rng, vocab)
        if _matcher_ids(query, documents) != _store_ids(query, store):
            disagreements.append(query)
    assert disagreements == []
