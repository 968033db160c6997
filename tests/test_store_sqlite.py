"""indexer.sqlite.SQLiteStore: storing, editing, story collapse, filters and the SQL it runs."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest

from concurrently import at_once
from crawler.db import connect, transaction
from crawler.errors import QuerySyntaxError
from indexer.sqlite import Filters, SQLiteStore, compile
from tests.corpus import ARTICLES, BY_SLUG, WIRE_HASH, slugs


@pytest.fixture
def store():
    return SQLiteStore(connect(":memory:"))


@pytest.fixture
def full(store):
    for article in ARTICLES:
        store.put(article)
    return store


def _ids(result):
    return [h.id for h in result.hits]


def test_put_reports_new_then_unchanged_without_writing(store):
    article = BY_SLUG["ream-pier"]
    assert store.put(article) == "new"
    later = dataclasses.replace(article, fetched_at=datetime(2026, 3, 1, tzinfo=UTC))
    assert store.put(later) == "unchanged"
    assert store.get(article.id).fetched_at == article.fetched_at


def test_get_returns_what_was_put(store):
    article = dataclasses.replace(BY_SLUG["km-coop"], authors=["Sok Chea", "Dara"])
    store.put(article)
    assert store.get(article.id) == article
    assert store.get("0" * 64) is None


def test_an_edit_bumps_the_revision_keeps_the_old_text_and_the_story(store):
    article = BY_SLUG["ream-pier"]
    store.put(article)
    edited = dataclasses.replace(
        article,
        text="The pier opened after a delay, the ministry said.",
        body_hash="edited",
        story_id="someone-else",
        fetched_at=datetime(2026, 1, 4, tzinfo=UTC),
    )
    assert store.put(edited) == "updated"
    stored = store.get(article.id)
    assert (stored.revision, stored.story_id, stored.text) == (2, article.story_id, edited.text)
    [old] = store.revisions(article.id)
    assert (old.revision, old.text, old.fetched_at) == (1, article.text, article.fetched_at)


def test_an_edit_is_searchable_by_its_new_words_only(store):
    article = BY_SLUG["km-sokha"]
    store.put(article)
    edited = dataclasses.replace(article, text="Deep-water pier. ថ្មី", body_hash="edited")
    store.put(edited)
    assert _ids(store.search("pier", all_copies=True)) == [article.id]
    assert _ids(store.search("តុលាការ", all_copies=True)) == []  # only in the old text
    assert _ids(store.search("ថ្មី", all_copies=True)) == [article.id]
    assert store.count() == 1


def test_a_write_inside_a_rolled_back_caller_transaction_is_undone(store):
    with pytest.raises(RuntimeError), transaction(store.conn):
        store.put(BY_SLUG["ream-pier"])
        raise RuntimeError("caller failed")
    assert store.count() == 0
    assert _ids(store.search("Ream")) == []


def test_story_for_body_hash_and_copies_earliest_first(full):
    original = BY_SLUG["wire-original"]
    assert full.story_for_body_hash(WIRE_HASH) == original.story_id
    assert full.story_for_body_hash("no-such-hash") is None
    copies = full.copies(original.story_id)
    assert [c.url.rsplit("/", 1)[1] for c in copies] == [
        "wire-original",
        "wire-copy-kt",
        "wire-copy-ppp",
    ]


def test_search_returns_one_hit_per_story_and_counts_stories(full):
    result = full.search('"military cooperation"')
    assert result.total == 2
    assert len({h.story_id for h in result.hits}) == 2
    story = BY_SLUG["wire-original"].story_id
    [shown] = [h for h in result.hits if h.story_id == story]
    copies = [h for h in full.search('"military cooperation"', all_copies=True).hits
              if h.story_id == story]  # fmt: skip
    assert shown.score == max(h.score for h in copies) > min(h.score for h in copies)


def test_among_equally_scored_copies_the_earliest_published_is_shown(store):
    first = BY_SLUG["wire-copy-kt"]
    later = dataclasses.replace(
        first,
        id="f" * 64,
        url="https://b.example.org/x",
        published_at=datetime(2026, 1, 30, tzinfo=UTC),
    )
    store.put(later)
    store.put(first)
    result = store.search('"military cooperation"')
    assert (result.total, _ids(result)) == (1, [first.id])


def test_all_copies_returns_every_article_and_counts_articles(full):
    result = full.search('"military cooperation"', all_copies=True)
    assert result.total == 4
    assert slugs(_ids(result)) >= {"wire-original", "wire-copy-kt", "wire-copy-ppp"}


def test_hits_are_ordered_by_score_with_title_matches_first(full):
    result = full.search("Ream")
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    assert "Ream" in result.hits[0].title


def test_limit_and_offset_page_through_hits_keeping_the_total(full):
    everything = full.search("Ream OR Sokha", limit=100)
    page = full.search("Ream OR Sokha", limit=3, offset=3)
    assert page.total == everything.total
    assert _ids(page) == _ids(everything)[3:6]
    beyond = full.search("Ream OR Sokha", offset=500)
    assert (beyond.total, beyond.hits) == (everything.total, [])


def test_filters_by_source_language_and_dates_are_anded(full):
    assert slugs(_ids(full.search("Ream", sources=["RFA"]))) == {"ream-satellite"}
    assert slugs(_ids(full.search("NOT zzz", languages=["fr"]))) == {"coop-fr"}
    assert slugs(_ids(full.search("Sokha", since=date(2026, 1, 5)))) == {
        "kem-sokha-appeal",
        "sokha-travel",
    }
    assert slugs(_ids(full.search("Sokha", until=date(2026, 1, 11)))) == {
        "kem-sokha-verdict",
        "kem-sokha-appeal",
    }
    until_time = datetime(2026, 1, 11, 7, tzinfo=UTC)
    assert slugs(_ids(full.search("Sokha", until=until_time))) == {"kem-sokha-verdict"}


def test_snippets_mark_the_matched_words_html_escaped(full):
    [hit] = full.search('"Kem Sokha" AND treason AND court', sources=["rfa"]).hits
    assert "<mark>Kem Sokha</mark>" in hit.snippet
    assert "<mark>treason</mark>" in hit.snippet


def test_hits_serialise_as_the_search_json_interface(full):
    hit = full.search('"Ream Naval Base"').hits[0].to_json()
    assert hit["published_at"] == "2026-01-03T08:00:00+00:00"
    assert set(hit) == {"id", "url", "title", "source", "published_at", "language", "score",
                        "snippet", "story_id"}  # fmt: skip


def test_a_bad_query_raises_before_any_sql_runs(full):
    with pytest.raises(QuerySyntaxError) as info:
        full.search('"Kem Sokha')
    assert info.value.position == 1


def test_short_khmer_terms_fall_back_to_instr_and_long_ones_use_trigrams(full):
    short_sql, _ = compile("សុ")
    assert "instr(" in short_sql and "articles_trigram" not in short_sql
    long_sql, _ = compile('"កឹម សុខា"')
    assert "articles_trigram MATCH" in long_sql
    assert slugs(_ids(full.search("សុ"))) == {"km-sokha"}


def test_compile_merges_a_pure_word_subtree_into_one_match():
    sql, params = compile('Ream AND ("Kem Sokha" OR sentinel) -china source:rfa')
    assert sql.count("MATCH") == 1
    assert params[0] == '("ream") AND (("kem sokha") OR ("sentinel")) NOT ("china")'
    assert "a.source_key = ?" in sql and "rfa" in params
    assert "bm25(articles_fts, 4.0, 1.0)" in sql


def test_compile_uses_a_subquery_for_words_under_or_with_plain_fields():
    sql, params = compile("Ream OR source:rfa", Filters(languages=["en"]))
    assert "a.seq IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)" in sql
    assert "LEFT JOIN" in sql  # the score still comes from BM25 of the word part
    assert params[-2:] == [20, 0]


def test_compile_has_no_score_without_a_positive_word_part():
    sql, _ = compile("NOT Ream")
    assert "0.0 AS score" in sql and "bm25" not in sql


def test_proximity_and_prefix_compile_to_near_and_star():
    _, params = compile('"military cooperation"~5 AND title:sanction*')
    assert params[0] == '(NEAR("military" "cooperation", 5)) AND (title : "sanction"*)'


def test_reopening_the_same_database_keeps_the_index(tmp_path):
    path = tmp_path / "bw.db"
    first = SQLiteStore(connect(path))
    first.put(BY_SLUG["ream-pier"])
    first.conn.close()
    again = SQLiteStore(connect(path))
    assert _ids(again.search("pier")) == [BY_SLUG["ream-pier"].id]


def _made_before_matched_rules(path) -> None:
    """A database as an earlier beatwatch left it: one article, no ``matched_rules`` column."""
    conn = connect(path)
    SQLiteStore(conn).put(BY_SLUG["ream-pier"])
    conn.execute("ALTER TABLE articles DROP COLUMN matched_rules")
    conn.close()


def test_a_database_from_an_earlier_version_gains_the_new_column(tmp_path):
    path = tmp_path / "old.db"
    _made_before_matched_rules(path)
    store = SQLiteStore(connect(path))
    assert store.get(BY_SLUG["ream-pier"].id).matched_rules == []
    other = next(a for a in ARTICLES if a.id != BY_SLUG["ream-pier"].id)
    assert store.put(dataclasses.replace(other, matched_rules=["ream"])) == "new"
    assert store.get(other.id).matched_rules == ["ream"]


def test_processes_opening_an_earlier_database_together_all_upgrade_it(tmp_path):
    for round_ in range(10):
        path = tmp_path / f"old-{round_}.db"
        _made_before_matched_rules(path)
        assert at_once(lambda _, path=path: SQLiteStore(connect(path)), 4) == []
        assert SQLiteStore(connect(path)).get(BY_SLUG["ream-pier"].id).matched_rules == []
