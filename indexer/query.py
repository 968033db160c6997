"""The query language: a Lucene ``query_string`` subset, parsed with luqum into a small AST.

One language for search, scope and alert rules. ``parse(query)`` returns an immutable tree of
``Term``, ``Phrase``, ``Range``, ``And``, ``Or`` and ``Not`` nodes, or raises
``QuerySyntaxError`` with a 1-based column. The meaning below is the contract that the in-process
matcher (alerts.matcher) and every store (indexer.sqlite, the Elasticsearch store) implement;
tests/test_query_agreement.py holds them to it.

Syntax
    terms, ``"phrases"``, ``AND`` / ``OR`` / ``NOT`` / ``-term`` / ``+term``, parentheses; two
    clauses side by side are ANDed. ``field:term``, ``field:"phrase"``, ``field:(a OR b)``.
    ``"a b"~N`` proximity, ``sanction*`` prefix, ``published_at:[2026-01-01 TO *]`` ranges
    (``[]`` inclusive, ``{}`` exclusive, ``*`` open), ``published_at:>=2026-01-01``.
    Unsupported, and refused with QuerySyntaxError: fuzzy ``term~``, regexes, boosts ``^``,
    wildcards other than one trailing ``*``, ``&&`` / ``||`` / ``!`` and unknown fields.

Fields
    no field: title or text (each term on its own; a phrase within one field); ``title:``,
    ``text:``; ``source:`` and ``language:`` exact, case-insensitive; ``url:`` the canonical URL
    exactly, or by prefix when the value ends in ``*`` (quote URLs: ``url:"https://x.org/a/*"``);
    ``published_at:`` ranges (a bare date means that whole day).

Matching a term or phrase against title/text
    Case-insensitive, Latin diacritics folded (crawler.text.fold). The term's text is split into
    words exactly as the article is (crawler.text.words, the FTS5 unicode61 tokenizer's rule).
    - A term matches a word equal to it; a prefix term ``sanction*`` a word starting with it.
      A term that splits into several words (``U.S.``) is a phrase of them.
    - A phrase matches those words consecutively within one field.
    - ``"a b c"~N`` is FTS5's ``NEAR(a b c, N)``: in one field, some occurrence of each word such
      that, with M the position of the last of them, every word sits at position >= M - 1 - N
      (so at most N other words separate two words; order does not matter).
    - A term or phrase containing Khmer script matches when its ``substring_form`` (normalised,
      folded, whitespace runs as one space) is a substring of the field's ``substring_form``;
      slop and ``*`` are ignored for it (a substring already matches prefixes).
    - A term or phrase with no word characters at all (``-``, ``&``) is dropped from the query.

Ranges
    ``published_at`` bounds are ISO dates or datetimes, UTC when no offset is given. A bare date
    stands for the whole day: ``[2026-01-01 TO 2026-01-31]`` includes all of 31 January and
    ``{2026-01-01 TO *]`` starts on 2 January. An article without published_at never matches a
    range.

NOT
    ``NOT a`` / ``-a`` matches what ``a`` does not; a query of only NOT clauses matches every
    article except those.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import luqum.tree as lt
from luqum.exceptions import IllegalCharacterError, ParseError, ParseSyntaxError
from luqum.parser import parser as _luqum_parser

from crawler.errors import QuerySyntaxError
from crawler.text import has_khmer, substring_form, words

TEXT_FIELDS = ("title", "text")
#: How much more a match in the title counts than one in the text, on every store.
TITLE_WEIGHT = 4.0
TEXT_WEIGHT = 1.0
FIELDS = ("title", "text", "source", "language", "url", "published_at")


@dataclass(frozen=True)
class Term:
    """A single term; ``field`` None means title or text; ``prefix`` for ``term*``."""

    field: str | None
    text: str
    prefix: bool = False


@dataclass(frozen=True)
class Phrase:
    """A quoted phrase; ``slop`` set for ``"a b"~N`` (NEAR semantics)."""

    field: str | None
    text: str
    slop: int | None = None


@dataclass(frozen=True)
class Range:
    """A range over a datetime field; ``None`` bounds are open. Bounds are aware (UTC)."""

    field: str
    low: datetime | None
    high: datetime | None
    include_low: bool = True
    include_high: bool = True


@dataclass(frozen=True)
class And:
    """All children match."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """At least one child matches."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """The child does not match."""

    child: Node


Node = Term | Phrase | Range | And | Or | Not


@dataclass(frozen=True)
class TextMatch:
    """How a Term or Phrase over title/text is matched (shared by the matcher and the stores).

    Either ``needle`` (a Khmer substring) or ``words`` (folded words) is set. With ``slop`` the
    words form a NEAR group; otherwise a phrase, whose last word is a prefix when ``prefix``.
    """

    fields: tuple[str, ...]
    words: tuple[str, ...] = ()
    needle: str = ""
    prefix: bool = False
    slop: int | None = None


def text_match(node: Term | Phrase) -> TextMatch:
    """Analyse a title/text Term or Phrase into what must be found (see the module docstring)."""
    fields = TEXT_FIELDS if node.field is None else (node.field,)
    if has_khmer(node.text):
        return TextMatch(fields, needle=substring_form(node.text.rstrip("*")))
    ws = tuple(words(node.text))
    if isinstance(node, Term):
        return TextMatch(fields, ws, prefix=node.prefix)
    slop = node.slop if len(ws) > 1 else None
    return TextMatch(fields, ws, slop=slop)


def parse(query: str) -> Node:
    """Parse ``query`` into the AST; raise QuerySyntaxError (with a 1-based column) if invalid."""
    if not query.strip():
        raise QuerySyntaxError("empty query", query, 1)
    try:
        tree = _luqum_parser.parse(query)
    except (ParseSyntaxError, IllegalCharacterError, ParseError) as exc:
        raise QuerySyntaxError(_describe(exc), query, _error_column(exc, query)) from None
    node = _Builder(query).build(tree, None)
    if node is None:
        raise QuerySyntaxError("the query has no searchable words", query, 1)
    return node


def _describe(exc: Exception) -> str:
    msg = str(exc)
    if "unexpected end" in msg:
        return "unexpected end of query (unclosed parenthesis or missing term?)"
    if msg.startswith("Illegal character '\""):
        return "unclosed quote"
    m = re.search(r"unexpected\s+'(.*)'", msg)
    if m:
        return f"unexpected {m.group(1)!r}"
    m = re.search(r"Illegal character '(.*)' at", msg)
    return f"illegal character {m.group(1)[:1]!r}" if m else "syntax error"


def _error_column(exc: Exception, query: str) -> int:
    m = re.search(r"at position (\d+)", str(exc))
    if m:
        return int(m.group(1)) + 1
    depth_stack: list[int] = []
    in_quote = False
    for i, ch in enumerate(query):
        if ch == '"' and (i == 0 or query[i - 1] != "\\"):
            in_quote = not in_quote
        elif not in_quote and ch == "(":
            depth_stack.append(i)
        elif not in_quote and ch == ")" and depth_stack:
            depth_stack.pop()
    if depth_stack:
        return depth_stack[-1] + 1
    return max(len(query.rstrip()), 1)


class _Builder:
    """Turns a luqum tree into our AST, refusing what the contract does not define."""

    def __init__(self, query: str):
        self.query = query

    def fail(self, message: str, item: lt.Item) -> QuerySyntaxError:
        pos = getattr(item, "pos", None)
        return QuerySyntaxError(message, self.query, pos + 1 if pos is not None else None)

    def build(self, item: lt.Item, field: str | None) -> Node | None:
        if isinstance(item, lt.SearchField):
            return self.build(item.expr, self.field_name(item, field))
        if isinstance(item, lt.Group | lt.FieldGroup | lt.Plus):
            return self.build(item.children[0], field)
        if isinstance(item, lt.Not | lt.Prohibit):
            child = self.build(item.children[0], field)
            return Not(child) if child is not None else None
        if isinstance(item, lt.AndOperation | lt.UnknownOperation | lt.OrOperation):
            return self.operation(item, field)
        if isinstance(item, lt.Range | lt.From | lt.To):
            return self.range(item, field)
        if isinstance(item, lt.Proximity):
            return self.proximity(item, field)
        if isinstance(item, lt.Word):
            return self.word(item, field)
        if isinstance(item, lt.Phrase):
            return self.phrase(item, _unquote(item.value), None, field)
        if isinstance(item, lt.Fuzzy):
            raise self.fail('fuzzy terms (~) are not supported; use a phrase "a b"~N', item)
        if isinstance(item, lt.Boost):
            raise self.fail("boosts (^) are not supported", item)
        if isinstance(item, lt.Regex):
            raise self.fail("regular expressions are not supported", item)
        raise self.fail(f"unsupported syntax {str(item)!r}", item)

    def field_name(self, item: lt.SearchField, outer: str | None) -> str:
        if outer is not None:
            raise self.fail("a field cannot be nested inside another field", item)
        if item.name not in FIELDS:
            raise self.fail(f"unknown field {item.name!r} (known: {', '.join(FIELDS)})", item)
        return item.name

    def operation(self, item: lt.BaseOperation, field: str | None) -> Node | None:
        for child in item.children:
            if isinstance(child, lt.Word) and child.value in ("&&", "||"):
                raise self.fail(f"{child.value!r} is not supported; use AND / OR", child)
        kids = [k for k in (self.build(c, field) for c in item.children) if k is not None]
        if not kids:
            return None
        if len(kids) == 1:
            return kids[0]
        cls = Or if isinstance(item, lt.OrOperation) else And
        flat: list[Node] = []
        for k in kids:
            flat.extend(k.children if isinstance(k, cls) else (k,))
        return cls(tuple(flat))

    def word(self, item: lt.Word, field: str | None) -> Node | None:
        raw = item.value
        if raw.startswith("!"):
            raise self.fail("'!' is not supported; use NOT", item)
        if field == "published_at":
            return self.day_range(item, raw)
        body, prefix = (
            (raw[:-1], True)
            if raw.endswith("*") and not raw.endswith("\\*")
            else (
                raw,
                False,
            )
        )
        if re.search(r"(?<!\\)[*?]", body):
            raise self.fail("wildcards are only supported at the end of a term (term*)", item)
        text = _unescape(body)
        if field in ("source", "language", "url"):
            return Term(field, text, prefix and field == "url")
        node = Term(field, text, prefix)
        return node if _searchable(node) else None

    def phrase(self, item: lt.Item, text: str, slop: int | None, field: str | None) -> Node | None:
        if field == "published_at":
            return self.day_range(item, text)
        if field == "url":
            return Term("url", text[:-1], True) if text.endswith("*") else Term("url", text)
        if field in ("source", "language"):
            return Term(field, text)
        node = Phrase(field, text, slop)
        return node if _searchable(node) else None

    def proximity(self, item: lt.Proximity, field: str | None) -> Node | None:
        if not isinstance(item.term, lt.Phrase):
            raise self.fail("proximity (~N) needs a phrase", item)
        if item.degree is None:
            raise self.fail('give the proximity distance: "a b"~N', item)
        slop = int(float(item.degree))
        return self.phrase(item, _unquote(item.term.value), slop, field)

    def range(self, item: lt.Item, field: str | None) -> Range:
        if field != "published_at":
            raise self.fail("ranges are only supported on published_at", item)
        if isinstance(item, lt.Range):
            low = self.bound(item.low, item.include_low, upper=False)
            high = self.bound(item.high, item.include_high, upper=True)
        elif isinstance(item, lt.From):
            low, high = self.bound(item.a, item.include, upper=False), (None, True)
        else:
            low, high = (None, True), self.bound(item.a, item.include, upper=True)
        return Range(field, low[0], high[0], low[1], high[1])

    def bound(self, item: lt.Item, inclusive: bool, *, upper: bool) -> tuple[datetime | None, bool]:
        raw = _unquote(item.value) if isinstance(item, lt.Phrase) else _unescape(str(item.value))
        if raw == "*":
            return None, True
        value, whole_day = self.parse_time(item, raw)
        if not whole_day:
            return value, inclusive
        next_day = value + timedelta(days=1)
        if upper:
            return (next_day, False) if inclusive else (value, False)
        return (value, True) if inclusive else (next_day, True)

    def day_range(self, item: lt.Item, raw: str) -> Range:
        value, whole_day = self.parse_time(item, raw)
        if not whole_day:
            return Range("published_at", value, value, True, True)
        return Range("published_at", value, value + timedelta(days=1), True, False)

    def parse_time(self, item: lt.Item, raw: str) -> tuple[datetime, bool]:
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                d = date.fromisoformat(raw)
                return datetime(d.year, d.month, d.day, tzinfo=UTC), True
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise self.fail(f"not a date: {raw!r} (use 2026-01-31 or ISO 8601)", item) from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC), False


def _searchable(node: Term | Phrase) -> bool:
    m = text_match(node)
    return bool(m.words or m.needle)


def _unquote(value: str) -> str:
    return _unescape(value[1:-1])


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)
