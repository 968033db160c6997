"""indexer.query: the Lucene query_string subset and its syntax errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawler.errors import QuerySyntaxError
from indexer.query import And, Not, Or, Phrase, Range, Term, parse, text_match


def test_terms_side_by_side_are_anded():
    assert parse("Ream base") == And((Term(None, "Ream"), Term(None, "base")))


def test_or_and_and_nest_as_written():
    assert parse("(Ream OR Sokha) AND court") == And(
        (Or((Term(None, "Ream"), Term(None, "Sokha"))), Term(None, "court"))
    )


def test_minus_and_not_both_negate():
    assert parse("Ream -pier NOT China") == And(
        (Term(None, "Ream"), Not(Term(None, "pier")), Not(Term(None, "China")))
    )


def test_a_query_of_only_not_clauses_is_allowed():
    assert parse("NOT Ream") == Not(Term(None, "Ream"))


def test_phrase_with_proximity_has_slop():
    assert parse('"military cooperation"~5') == Phrase(None, "military cooperation", 5)


def test_trailing_star_is_a_prefix_term():
    assert parse("sanction*") == Term(None, "sanction", prefix=True)


def test_field_applies_to_a_group():
    assert parse("title:(Ream OR base)") == Or((Term("title", "Ream"), Term("title", "base")))


def test_url_prefix_is_a_quoted_url_ending_in_star():
    assert parse('url:"https://rfa.example.org/news/*"') == Term(
        "url", "https://rfa.example.org/news/", prefix=True
    )


def test_date_range_bounds_are_utc_and_inclusive_per_bracket():
    assert parse("published_at:[2026-01-01 TO *]") == Range(
        "published_at", datetime(2026, 1, 1, tzinfo=UTC), None, True, True
    )


def test_an_inclusive_upper_date_covers_the_whole_day():
    node = parse("published_at:[2026-01-01 TO 2026-01-31]")
    assert node.high == datetime(2026, 2, 1, tzinfo=UTC) and not node.include_high


def test_an_exclusive_lower_date_starts_the_next_day():
    node = parse("published_at:{2026-01-01 TO *]")
    assert node.low == datetime(2026, 1, 2, tzinfo=UTC) and node.include_low


def test_full_iso_bounds_keep_their_offset_converted_to_utc():
    node = parse('published_at:["2026-01-01T07:00:00+07:00" TO *]')
    assert node.low == datetime(2026, 1, 1, 0, tzinfo=UTC)


def test_a_term_with_no_word_characters_is_dropped():
    assert parse("Ream & base") == And((Term(None, "Ream"), Term(None, "base")))


def test_khmer_terms_are_substrings_of_the_normalised_form():
    m = text_match(parse('"កឹម\u200b  សុខា"'))
    assert m.needle == "កឹម សុខា" and m.words == ()


def test_a_term_that_splits_into_words_is_a_phrase_of_them():
    m = text_match(parse("U.S."))
    assert m.words == ("u", "s") and m.slop is None


@pytest.mark.parametrize(
    ("query", "message", "column"),
    [
        ("Ream AND (base", "unexpected end", 10),  # the unclosed parenthesis
        ('"Kem Sokha', "unclosed quote", 1),
        ("Ream ) base", "unexpected ')'", 6),
        ("author:Sokha", "unknown field 'author'", 1),
        ("Ream OR sokha~2", "fuzzy", 9),
        ("Ream^2", "boosts", 1),
        ("/Re+am/", "regular expressions", 1),
        ("Re?m", "wildcards", 1),
        ("Ream || base", "'||'", 6),
        ("published_at:[soon TO *]", "not a date", 15),
        ("source:[a TO b]", "ranges are only supported on published_at", 8),
        ("", "empty query", 1),
        ("- &", "no searchable words", 1),
    ],
)
def test_syntax_errors_name_the_problem_and_its_column(query, message, column):
    with pytest.raises(QuerySyntaxError) as info:
        parse(query)
    assert message in info.value.message
    assert info.value.position == column
    assert info.value.query == query
