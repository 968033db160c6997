"""crawler.text: the stored form, the matching fold and the word split."""

from __future__ import annotations

import random
import sqlite3

import pytest

from crawler.text import fold, has_khmer, normalize, substring_form, tokens, words

COENG_TA_RO = "ស\u17d2\u178f\u17d2\u179aី"  # ស្ត្រី, subscript TA then RO
COENG_RO_TA = "ស\u17d2\u179a\u17d2\u178fី"  # ស្រ្តី, subscript RO then TA


def test_normalize_unifies_the_two_orders_of_subscript_ro():
    assert normalize(COENG_RO_TA) == normalize(COENG_TA_RO) == COENG_TA_RO


def test_normalize_writes_coeng_da_as_coeng_ta():
    assert normalize("សម\u17d2\u178aេច") == "សម\u17d2\u178fេច"


def test_normalize_removes_zero_width_characters():
    assert normalize("កឹម\u200bសុខា\u200c\u200d\u2060\ufeff") == "កឹមសុខា"


def test_normalize_turns_khmer_digits_into_ascii():
    assert normalize("ឆ្នាំ ២០២៦") == "ឆ្នាំ 2026"


def test_normalize_composes_to_nfc():
    assert normalize("cafe\u0301") == "caf\u00e9"


def test_normalize_collapses_spaces_and_keeps_one_blank_line_between_paragraphs():
    raw = "  First\t\t line  \r\n\r\n\r\n\n  Second\u00a0 line \n"
    assert normalize(raw) == "First line\n\nSecond line"


def test_normalize_keeps_single_line_breaks():
    assert normalize("one\ntwo") == "one\ntwo"


ALPHABET = (
    list(" \t\n\r\u00a0\u200b\u200c\u200d\ufeff")
    + list("aeEé\u0301\u0308ß")
    + [chr(c) for c in range(0x1780, 0x17FF)]
    + ["\u17d2\u179a", "\u17d2\u178a", "\u17d2\u178f"]
)


@pytest.mark.parametrize("seed", range(5))
def test_normalize_is_idempotent_on_random_strings(seed):
    rng = random.Random(seed)
    for _ in range(400):
        s = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 25)))
        once = normalize(s)
        assert normalize(once) == once, repr(s)


def test_fold_removes_latin_diacritics_and_case():
    assert fold("Coopération ÉTATS Hun Sèn") == "cooperation etats hun sen"


def test_fold_keeps_khmer_vowel_signs_and_marks():
    khmer = "កឹម សុខា ស្ត្រី"
    assert fold(khmer) == khmer


def test_fold_keeps_marks_of_non_latin_letters():
    assert fold("ά") == "ά"


def test_tokens_give_folded_words_with_offsets_in_the_input():
    text = "Café  O'Neill"
    assert [(t.text, text[t.start : t.end]) for t in tokens(text)] == [
        ("cafe", "Café"),
        ("o", "O"),
        ("neill", "Neill"),
    ]


def test_tokens_keep_a_khmer_word_with_its_marks_whole():
    assert words("កម្ពុជា និង") == ["កម្ពុជា", "និង"]


def test_words_split_at_hyphens_apostrophes_and_dots():
    assert words("deep-water U.S. port's") == ["deep", "water", "u", "s", "port", "s"]


def _fts5_words(text: str) -> list[str]:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE f USING fts5(x, tokenize='unicode61 remove_diacritics 2')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(f, 'instance')")
    conn.execute("INSERT INTO f VALUES (?)", (text,))
    return [r[0] for r in conn.execute("SELECT term FROM v ORDER BY offset")]


@pytest.mark.parametrize(
    "text",
    [
        "Ream Naval Base, near Sihanoukville: a deep-water pier (2026).",
        "Coopération militaire: les États-Unis et le Cambodge à Phnom Penh",
        "O'Brien's U.S.-Cambodia report_draft #3 — 27 years; Tea Banh’s remarks",
        "Ñandú, Ærø, Łódź, Dvořák, naïve façade, Schrödinger",
    ],
)
def test_words_agree_with_sqlite_unicode61_on_latin_text(text):
    assert words(normalize(text)) == _fts5_words(normalize(text))


def test_has_khmer():
    assert has_khmer("Angkor អង្គរ")
    assert not has_khmer("Angkor Sentinel")


def test_substring_form_collapses_all_whitespace_to_single_spaces():
    assert substring_form(" កឹម\n\nសុខា\t ") == "កឹម សុខា"
