"""Where a query matches in an article, and the passage that quotes it.

``Document`` holds an article tokenised and folded once (shared by every rule that looks at it);
``find``/``spans`` decide a title/text match exactly as the contract in indexer.query says.
``passage(node, title, text)`` picks the window of the text with the most distinct matched terms,
which search snippets and alert emails both quote.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime

from crawler.models import Article, Passage
from crawler.text import fold, has_khmer, normalize, substring_form, words
from crawler.text import spans as word_spans
from indexer.query import And, Node, Not, Or, Phrase, Term, TextMatch, text_match

ELLIPSIS = "…"


@dataclass
class FieldView:
    """One normalised field: its words, word positions and (for Khmer text) substring form.

    Word offsets and the sorted vocabulary are computed only when needed (highlighting, prefix
    terms), so preparing an article for matching stays cheap.
    """

    text: str
    words: list[str]
    positions: dict[str, list[int]]
    haystack: str | None
    _spans: list[tuple[int, int]] | None = field(default=None, repr=False)
    _vocab: list[str] | None = field(default=None, repr=False)
    _mapped: tuple[str, list[int], list[int]] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, raw: str) -> FieldView:
        """Tokenise and index ``normalize(raw)``."""
        text = normalize(raw)
        ws = words(text)
        positions: dict[str, list[int]] = {}
        for i, w in enumerate(ws):
            if w in positions:
                positions[w].append(i)
            else:
                positions[w] = [i]
        haystack = substring_form(text) if has_khmer(text) else None
        return cls(text, ws, positions, haystack)

    @property
    def spans(self) -> list[tuple[int, int]]:
        """``(start, end)`` in ``text`` of each word."""
        if self._spans is None:
            self._spans = word_spans(self.text)
        return self._spans

    @property
    def vocab(self) -> list[str]:
        """The distinct words, sorted (for prefix lookups)."""
        if self._vocab is None:
            self._vocab = sorted(self.positions)
        return self._vocab

    def mapped_haystack(self) -> tuple[str, list[int], list[int]]:
        """The substring form built character by character, with each char's source span."""
        if self._mapped is None:
            out: list[str] = []
            starts: list[int] = []
            ends: list[int] = []
            for i, ch in enumerate(self.text):
                if ch.isspace():
                    if out and out[-1] != " ":
                        out.append(" ")
                        starts.append(i)
                        ends.append(i + 1)
                    continue
                for f in fold(ch):
                    out.append(f)
                    starts.append(i)
                    ends.append(i + 1)
            self._mapped = ("".join(out), starts, ends)
        return self._mapped


@dataclass
class Document:
    """An article prepared once for matching against many rules."""

    title: FieldView
    text: FieldView
    source: str
    language: str
    url: str
    published_at: datetime | None

    @classmethod
    def from_article(cls, article: Article) -> Document:
        """Prepare ``article``: fields normalised, tokenised and folded once."""
        published = article.published_at
        if published is not None:
            published = (
                published.replace(tzinfo=UTC) if published.tzinfo is None else published
            ).astimezone(UTC)
        return cls(
            FieldView.of(article.title),
            FieldView.of(article.text),
            fold(article.source or ""),
            fold(article.language or ""),
            article.url,
            published,
        )

    def field(self, name: str) -> FieldView:
        """The ``title`` or ``text`` view."""
        return self.title if name == "title" else self.text


def find(m: TextMatch, fv: FieldView) -> bool:
    """True if ``m`` matches somewhere in the field."""
    if m.needle:
        return fv.haystack is not None and m.needle in fv.haystack
    if m.slop is not None:
        return bool(_near_clumps(m, fv, first_only=True))
    if len(m.words) == 1:
        w = m.words[0]
        if not m.prefix:
            return w in fv.positions
        i = bisect_left(fv.vocab, w)
        return i < len(fv.vocab) and fv.vocab[i].startswith(w)
    return bool(_phrase_starts(m, fv, first_only=True))


def spans(m: TextMatch, fv: FieldView) -> list[tuple[int, int]]:
    """Every ``[start, end)`` of ``fv.text`` where ``m`` matches (whole tokens or the substring)."""
    if m.needle:
        if fv.haystack is None or m.needle not in fv.haystack:
            return []
        hay, starts, ends = fv.mapped_haystack()
        out = []
        i = hay.find(m.needle)
        while i >= 0:
            out.append((starts[i], ends[i + len(m.needle) - 1]))
            i = hay.find(m.needle, i + 1)
        return out
    offsets = fv.spans
    if m.slop is not None:
        return [offsets[p] for clump in _near_clumps(m, fv) for p in clump]
    n = len(m.words)
    return [(offsets[p][0], offsets[p + n - 1][1]) for p in _phrase_starts(m, fv)]


def _phrase_starts(m: TextMatch, fv: FieldView, first_only: bool = False) -> list[int]:
    ws, n, out = fv.words, len(m.words), []
    last = m.words[-1]
    if n == 1 and m.prefix:
        candidates: list[int] = [i for i, w in enumerate(ws) if w.startswith(last)]
        return candidates[:1] if first_only else candidates
    for p in fv.positions.get(m.words[0], ()):
        if p + n > len(ws):
            break
        if all(ws[p + i] == m.words[i] for i in range(1, n - 1)) and (
            ws[p + n - 1].startswith(last) if m.prefix else ws[p + n - 1] == last
        ):
            out.append(p)
            if first_only:
                break
    return out


def _near_clumps(m: TextMatch, fv: FieldView, first_only: bool = False) -> list[list[int]]:
    """FTS5 NEAR: each word at a position in [M - 1 - slop, M], M the last word's position."""
    lists = [fv.positions.get(w) for w in dict.fromkeys(m.words)]
    if not all(lists):
        return []
    assert m.slop is not None
    clumps: list[list[int]] = []
    for anchor in lists:
        for top in anchor:  # type: ignore[union-attr]
            clump = []
            for pos in lists:
                i = bisect_right(pos, top) - 1  # type: ignore[arg-type]
                if i < 0 or pos[i] < top - 1 - m.slop:  # type: ignore[index]
                    break
                clump.append(pos[i])  # type: ignore[index]
            else:
                clumps.append(clump)
                if first_only:
                    return clumps
    return clumps


def positive_text_leaves(node: Node, negated: bool = False) -> list[TextMatch]:
    """The title/text terms and phrases of ``node`` that are not under a NOT."""
    if isinstance(node, And | Or):
        return [m for c in node.children for m in positive_text_leaves(c, negated)]
    if isinstance(node, Not):
        return positive_text_leaves(node.child, not negated)
    if isinstance(node, Term | Phrase) and node.field in (None, "title", "text") and not negated:
        return [text_match(node)]
    return []


def passage(node: Node, title: str, text: str, width: int = 300) -> Passage:
    """The passage of ``text`` (or the title) that best shows why ``node`` matched."""
    return passage_for(node, FieldView.of(title), FieldView.of(text), width)


def passage_for(node: Node, title: FieldView, text: FieldView, width: int = 300) -> Passage:
    """``passage`` over already prepared fields (the matcher's Document)."""
    leaves = positive_text_leaves(node)
    found = _leaf_spans(leaves, text, "text")
    if found:
        return _window(text.text, found, width)
    in_title = _leaf_spans(leaves, title, "title")
    if in_title:
        return Passage(text=title.text.replace("\n", " "), spans=_merge([s for s, _ in in_title]))
    return _window(text.text, [], width)


def _leaf_spans(leaves: list[TextMatch], fv: FieldView, name: str) -> list[tuple[tuple, int]]:
    found = [(span, k) for k, m in enumerate(leaves) if name in m.fields for span in spans(m, fv)]
    return sorted(found)


def _window(text: str, found: list[tuple[tuple[int, int], int]], width: int) -> Passage:
    text = text.replace("\n", " ")  # same length: offsets stay valid
    start, end = _best_window(found, width)
    start, end = _snap(text, start, end, found)
    body = text[start:end]
    lead = len(body) - len(body.lstrip())
    body = body.strip()
    offset = start + lead
    prefix = ELLIPSIS if start > 0 else ""
    suffix = ELLIPSIS if end < len(text) else ""
    inside = [
        (s - offset + len(prefix), e - offset + len(prefix))
        for (s, e), _ in found
        if s >= offset and e <= offset + len(body)
    ]
    return Passage(text=prefix + body + suffix, spans=_merge(inside))


def _best_window(found: list[tuple[tuple[int, int], int]], width: int) -> tuple[int, int]:
    if not found:
        return 0, width
    lead = width // 4
    best = (-1, -1, 0)
    best_start = 0
    for i, ((s, _), _) in enumerate(found[:500]):
        ws = max(0, s - lead)
        we = ws + width
        inside = [k for (a, b), k in found[i:] if a >= ws and b <= we]
        score = (len(set(inside)), len(inside), -ws)
        if score > best:
            best, best_start = score, ws
    return best_start, best_start + width


def _snap(text: str, start: int, end: int, found: list) -> tuple[int, int]:
    """Move the cut ends to word boundaries without cutting into a matched span."""
    end = min(end, len(text))
    if start > 0:
        space = text.rfind(" ", max(0, start - 30), start + 1)
        start = space + 1 if space >= 0 else start
    if end < len(text):
        cover = max([e for (s, e), _ in found if start <= s < end] or [start])
        space = text.rfind(" ", cover, end + 1)
        end = space if space > cover else max(end, cover)
    return start, end


def _merge(items: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for s, e in sorted(items):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged
