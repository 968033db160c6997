"""The in-process matcher: does an article match an alert rule (or the scope query)?

A ``Matcher`` is compiled once from a query; ``Document.from_article`` tokenises and folds an
article once, so many rules can test it cheaply (``RuleSet.match`` does exactly that). The
meaning of every query is the contract in indexer.query; a search for a rule's query on any
store returns exactly the articles the matcher accepts (tests/test_query_agreement.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from crawler.models import Article, Passage
from crawler.text import fold
from indexer.highlight import Document, find, passage_for
from indexer.query import And, Node, Not, Or, Phrase, Range, Term, parse, text_match

Predicate = Callable[[Document], bool]

__all__ = ["Document", "Matcher", "RuleSet"]


class Matcher:
    """One query compiled into a predicate over prepared documents."""

    def __init__(self, query: str | Node):
        self.node: Node = parse(query) if isinstance(query, str) else query
        self._predicate = _compile(self.node)

    def matches(self, article: Article) -> bool:
        """True if ``article`` matches the query."""
        return self._predicate(Document.from_article(article))

    def matches_doc(self, doc: Document) -> bool:
        """True if the prepared ``doc`` matches (prepare it once for many matchers)."""
        return self._predicate(doc)

    def passage(self, article: Article | Document, width: int = 300) -> Passage:
        """The quoted passage for ``article``: the same one the search snippet shows."""
        doc = article if isinstance(article, Document) else Document.from_article(article)
        return passage_for(self.node, doc.title, doc.text, width)


class RuleSet:
    """Named rules matched together against each article (the article is prepared once)."""

    def __init__(self, rules: Mapping[str, str | Node]):
        self.matchers = {name: Matcher(query) for name, query in rules.items()}

    def match(self, article: Article | Document) -> list[str]:
        """Names of the rules ``article`` matches, in the rules' order."""
        doc = article if isinstance(article, Document) else Document.from_article(article)
        return [name for name, m in self.matchers.items() if m.matches_doc(doc)]


def _compile(node: Node) -> Predicate:
    if isinstance(node, And):
        parts = [_compile(c) for c in node.children]
        return lambda doc: all(p(doc) for p in parts)
    if isinstance(node, Or):
        parts = [_compile(c) for c in node.children]
        return lambda doc: any(p(doc) for p in parts)
    if isinstance(node, Not):
        inner = _compile(node.child)
        return lambda doc: not inner(doc)
    if isinstance(node, Range):
        return _range(node)
    if node.field in ("source", "language"):
        key, attr = fold(node.text), node.field
        return lambda doc: getattr(doc, attr) == key
    if node.field == "url":
        return _url(node)
    return _text(node)


def _text(node: Term | Phrase) -> Predicate:
    m = text_match(node)
    if m.fields == ("title", "text"):
        return lambda doc: find(m, doc.title) or find(m, doc.text)
    name = m.fields[0]
    return lambda doc: find(m, doc.field(name))


def _url(node: Term | Phrase) -> Predicate:
    value = node.text
    if isinstance(node, Term) and node.prefix:
        return lambda doc: doc.url.startswith(value)
    return lambda doc: doc.url == value


def _range(node: Range) -> Predicate:
    def check(doc: Document) -> bool:
        t: datetime | None = doc.published_at
        if t is None:
            return False
        if node.low is not None and (t < node.low or (t == node.low and not node.include_low)):
            return False
        return node.high is None or t < node.high or (t == node.high and node.include_high)

    return check
