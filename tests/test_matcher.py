"""alerts.matcher and indexer.highlight: matching rules in-process and quoting the passage."""

from __future__ import annotations

import dataclasses

import pytest

from alerts.matcher import Document, Matcher, RuleSet
from crawler.errors import QuerySyntaxError
from indexer.highlight import passage
from indexer.query import parse
from tests.corpus import BY_SLUG


def _marked(p):
    return [p.text[s:e] for s, e in p.spans]


def test_a_term_matches_in_the_title_or_the_text():
    m = Matcher("pier")
    assert m.matches(BY_SLUG["ream-pier"])  # title and text
    assert not m.matches(BY_SLUG["kem-sokha-verdict"])


def test_each_term_may_sit_in_a_different_field_but_a_phrase_sits_in_one():
    article = dataclasses.replace(
        BY_SLUG["ream-pier"], title="Kem spoke", text="Sokha listened to the speech."
    )
    assert Matcher("Kem AND Sokha").matches(article)
    assert not Matcher('"Kem Sokha"').matches(article)


def test_field_queries_look_at_one_field_only():
    article = BY_SLUG["ream-visit"]  # "Ream" in both title and text, "naval" only in text
    assert Matcher("title:Ream").matches(article)
    assert not Matcher("title:naval").matches(article)
    assert Matcher("text:naval").matches(article)


def test_matching_is_case_and_latin_diacritic_insensitive():
    assert Matcher("ATTACHE").matches(BY_SLUG["ream-visit"])
    assert Matcher("coopération").matches(BY_SLUG["coop-dialogue"])


def test_khmer_matches_across_zero_width_spaces_and_subscript_orders():
    assert Matcher('"មូលដ្ឋានទ័ពជើងទឹករាម"').matches(BY_SLUG["km-ream-zwsp"])
    assert Matcher("ស្ត្រី").matches(BY_SLUG["km-sokha"])  # stored as ស្រ្តី
    assert Matcher("សម្តេច").matches(BY_SLUG["km-ream-zwsp"])  # stored as សម្ដេច


def test_proximity_allows_n_words_between_in_any_order():
    article = BY_SLUG["coop-cooperation-mil"]  # "... cooperation in the military sphere ..."
    assert Matcher('"military cooperation"~2').matches(article)
    assert not Matcher('"military cooperation"').matches(article)


def test_ranges_never_match_an_undated_article():
    undated = BY_SLUG["undated-brief"]
    assert not Matcher("published_at:[* TO *]").matches(undated)
    assert Matcher("NOT published_at:[2026-01-01 TO *]").matches(undated)


def test_url_prefix_and_exact_source():
    article = BY_SLUG["ream-satellite"]
    assert Matcher('url:"https://rfa.example.org/news/*"').matches(article)
    assert not Matcher('url:"https://rfa.example.org/news/"').matches(article)
    assert Matcher("source:RFA").matches(article)
    assert not Matcher("source:rf").matches(article)


def test_a_matcher_can_be_built_from_a_parsed_node():
    assert Matcher(parse("Ream")).matches(BY_SLUG["ream-pier"])


def test_a_bad_rule_raises_query_syntax_error():
    with pytest.raises(QuerySyntaxError):
        Matcher("Ream AND (")


def test_rule_set_names_the_matching_rules_in_order():
    rules = RuleSet({"ream": "Ream", "sokha": '"Kem Sokha"', "sanctions": "sanction*"})
    assert rules.match(BY_SLUG["sanctions-officials"]) == ["ream", "sanctions"]
    doc = Document.from_article(BY_SLUG["kem-sokha-appeal"])
    assert rules.match(doc) == ["sokha"]


def test_passage_marks_phrases_whole_and_terms_as_tokens():
    p = Matcher('"Kem Sokha" AND treason').passage(BY_SLUG["kem-sokha-verdict"])
    assert _marked(p) == ["Kem Sokha", "treason"]


def test_passage_marks_khmer_substrings():
    p = Matcher("សុខា").passage(BY_SLUG["km-sokha"])
    assert _marked(p) == ["សុខា"]
    assert p.html().count("<mark>") == 1


def test_passage_does_not_mark_negated_terms():
    p = passage(parse("Ream -pier"), "Ream", "The pier at Ream is new.")
    assert _marked(p) == ["Ream"]


def test_passage_picks_the_window_with_the_most_distinct_terms_and_cuts_at_words():
    filler = " ".join(f"word{i}" for i in range(120))
    text = f"Ream was mentioned. {filler} Later Ream and Sokha and sanctions appear. {filler}"
    p = passage(parse("Ream AND Sokha AND sanction*"), "Title", text, width=120)
    assert _marked(p) == ["Ream", "Sokha", "sanctions"]
    assert p.text.startswith("…") and p.text.endswith("…")
    assert len(p.text) <= 125
    words = p.text.strip("…").split(" ")
    assert all(w in text.split(" ") or w.rstrip(".") in text for w in words)


def test_passage_falls_back_to_the_title_when_only_the_title_matched():
    p = passage(parse("Navy"), "Navy chief retires", "The commander thanked his sailors.")
    assert (p.text, _marked(p)) == ("Navy chief retires", ["Navy"])


def test_passage_falls_back_to_the_start_of_the_text_when_nothing_positive_matched():
    text = "First sentence here. " * 40
    p = passage(parse("NOT zebra"), "Title", text, width=100)
    assert p.spans == [] and p.text.startswith("First sentence") and p.text.endswith("…")


def test_passage_html_escapes_page_text():
    p = passage(parse("Ream"), "t", "<b>Ream</b> & co")
    assert p.html() == "&lt;b&gt;<mark>Ream</mark>&lt;/b&gt; &amp; co"
