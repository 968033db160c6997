"""Text normalisation and tokenisation shared by extraction, the stores and the alert matcher.

Three forms of an article's text:

- ``normalize(text)``: what is stored and displayed. NFC, zero-width characters removed, Khmer
  digits as ASCII digits, the two orders of Khmer subscript letters unified, whitespace tidied.
- ``fold(s)``: for matching only. Case-folded, Latin diacritics removed (never Khmer marks).
- ``tokens(text)`` / ``words(text)``: the words of a text, folded. A word is a maximal run of
  letters, digits, marks and private-use characters (Unicode L*, N*, M*, Co), which is what
  SQLite FTS5's ``unicode61 remove_diacritics 2 categories 'L* N* M* Co'`` tokenizer does.
  The SQLite store indexes exactly ``words()`` of each field, so it and the in-process matcher
  see the same token sequence by construction.
- ``substring_form(s)``: the folded text with every whitespace run as one space, in which Khmer
  terms are looked up as substrings (Khmer writes no spaces between words).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import lru_cache
from typing import NamedTuple

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_KHMER_DIGITS = {0x17E0 + i: str(i) for i in range(10)}
_TRANSLATED = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u17e0-\u17e9]")
_COENG = "\u17d2"
_COENG_RO = "\u17d2\u179a"
_SUBSCRIPT_RUN = re.compile("(?:\u17d2[\u1780-\u17b3])+")
_BLANKS = " \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"
# Runs of blanks other than one plain space (which would be replaced by itself).
_HSPACE = re.compile(f"[{_BLANKS}]{{2,}}|[{_BLANKS[1:]}]")
_LINE_BREAKS = re.compile("\r\n|[\r\u2028\u2029\v\f\x85]")
_BLANK_LINES = re.compile(r"\n{3,}")
_KHMER = re.compile("[\u1780-\u17ff\u19e0-\u19ff]")

_LATIN_LETTER = (
    "A-Za-z\u00aa\u00ba\u00c0-\u024f\u1d00-\u1dbf\u1e00-\u1eff"
    "\u2c60-\u2c7f\ua720-\ua7ff\uab30-\uab6f"
)
_DIACRITIC = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_LATIN_DIACRITICS = re.compile(f"([{_LATIN_LETTER}])[{_DIACRITIC}]+")


class Token(NamedTuple):
    """One word: ``text`` is folded; ``[start, end)`` are offsets into the tokenised input."""

    text: str
    start: int
    end: int


def normalize(text: str) -> str:
    """Return the stored/displayed form of ``text``; ``normalize(normalize(t)) == normalize(t)``."""
    if _TRANSLATED.search(text):  # str.translate is slow: only when there is work for it
        text = text.translate(_ZERO_WIDTH).translate(_KHMER_DIGITS)
    text = unicodedata.normalize("NFC", text)
    if _COENG in text:
        text = text.replace("\u17d2\u178a", "\u17d2\u178f")  # COENG DA is written as COENG TA
        text = _SUBSCRIPT_RUN.sub(_coeng_ro_last, text)
    text = _LINE_BREAKS.sub("\n", text)
    lines = [_HSPACE.sub(" ", line).strip() for line in text.split("\n")]
    text = "\n".join(lines)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    text = text.strip()
    return unicodedata.normalize("NFC", text)


def _coeng_ro_last(match: re.Match[str]) -> str:
    run = match.group()
    pairs = [run[i : i + 2] for i in range(0, len(run), 2)]
    return "".join([p for p in pairs if p != _COENG_RO] + [p for p in pairs if p == _COENG_RO])


def fold(s: str) -> str:
    """Return ``s`` case-folded with the diacritics of Latin letters removed, for matching."""
    if s.isascii():
        return s.lower()
    s = unicodedata.normalize("NFKD", s.casefold())
    return unicodedata.normalize("NFC", _LATIN_DIACRITICS.sub(r"\1", s))


def has_khmer(s: str) -> bool:
    """True if ``s`` contains a Khmer character (such terms are matched as substrings)."""
    return _KHMER.search(s) is not None


def substring_form(s: str) -> str:
    """The folded, normalised ``s`` with whitespace runs as single spaces: the Khmer haystack."""
    return " ".join(fold(normalize(s)).split())


@lru_cache(maxsize=1)
def _word_pattern() -> re.Pattern[str]:
    # Python's \w covers L* and N* (plus "_"); add every M* and Co character as a range.
    extra: list[str] = []
    start = prev = -2
    for cp in range(sys.maxunicode + 1):
        cat = unicodedata.category(chr(cp))
        if cat[0] == "M" or cat == "Co":
            if cp != prev + 1:
                if start >= 0:
                    extra.append(_range(start, prev))
                start = cp
            prev = cp
    extra.append(_range(start, prev))
    return re.compile(f"(?:[^\\W_]|[{''.join(extra)}])+")


def _range(lo: int, hi: int) -> str:
    return re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"


_ASCII_WORD = re.compile("[a-z0-9]+")


def tokens(text: str) -> list[Token]:
    """The folded words of ``text`` with their offsets in ``text``.

    A run whose folded form splits further (``½`` folds to ``1⁄2``) yields several tokens that
    share the run's offsets.
    """
    if text.isascii():
        return [Token(m.group(), *m.span()) for m in _ASCII_WORD.finditer(text.lower())]
    out: list[Token] = []
    for m in _word_pattern().finditer(text):
        out.extend(Token(p, m.start(), m.end()) for p in _folded_parts(m.group()))
    return out


@lru_cache(maxsize=65536)
def _folded_parts(run: str) -> tuple[str, ...]:
    """The folded word(s) of one run of word characters (words repeat: cached)."""
    folded = fold(run)
    parts = _word_pattern().findall(folded)
    return (folded,) if len(parts) == 1 and parts[0] == folded else tuple(parts)


def spans(text: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` offsets of ``tokens(text)``, computed faster."""
    if text.isascii():
        return [m.span() for m in _ASCII_WORD.finditer(text.lower())]
    return [(t.start, t.end) for t in tokens(text)]


def words(text: str) -> list[str]:
    """The folded words of ``text`` (the texts of ``tokens(text)``), computed faster."""
    if text.isascii():
        return _ASCII_WORD.findall(text.lower())
    return [p for run in _word_pattern().findall(text) for p in _folded_parts(run)]
