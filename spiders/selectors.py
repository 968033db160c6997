"""Per-source extraction overrides: CSS or XPath selectors for title, body, date and author.

For outlets whose template defeats generic extraction (a body in ``<div class="para">`` blocks,
a date only in a ``data-`` attribute), the source config names where each field is. Each set
selector replaces that field of what ``spiders.extraction.extract`` found; unset selectors, and
selectors that match nothing, leave the generic result alone.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, fields, replace
from datetime import datetime

from lxml.html import HtmlElement
from parsel import Selector, SelectorList

from spiders.extraction import MIN_TEXT_CHARS, Extracted, decode_html, parse_datetime

logger = logging.getLogger(__name__)

XPATH_PREFIX = "xpath:"
# Elements that start and end a paragraph of body text; <br> ends one too.
BLOCK_TAGS = frozenset(
    {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "section",
     "article", "header", "footer", "aside", "figure", "figcaption", "ul", "ol", "dl", "dt", "dd",
     "table", "tr", "td", "th", "main", "nav", "form", "address", "hr"}
)  # fmt: skip
# Elements whose content is never text a reader sees.
SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "object",
                       "button", "select", "textarea"})  # fmt: skip
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\ufeff"))  # as trafilatura drops them
_BYLINE_PREFIX = re.compile(r"^(by|ដោយ)(\s*:\s*|\s+)", re.IGNORECASE)


@dataclass(frozen=True)
class Selectors:
    """Where one source's pages keep each field; ``None`` means use generic extraction.

    A value starting with "/", "(" or "xpath:" is XPath, anything else CSS (parsel's dialect,
    so ``::text`` and ``::attr(name)`` work).
    """

    title: str | None = None
    body: str | None = None
    date: str | None = None
    author: str | None = None

    def any_set(self) -> bool:
        """True when at least one field has a selector (otherwise nothing needs parsing)."""
        return any(getattr(self, f.name) for f in fields(self))


def is_xpath(expr: str) -> bool:
    """True when ``expr`` is written as XPath rather than CSS."""
    expr = expr.strip()
    return expr.startswith(("/", "(", XPATH_PREFIX))


def validate_selector(expr: str) -> str | None:
    """An error message if ``expr`` is not a valid CSS selector or XPath expression, else None."""
    if not expr or not expr.strip():
        return "empty selector"
    try:
        _select(Selector(text="<html><body><p>x</p></body></html>"), expr)
    except Exception as exc:  # parsel/cssselect/lxml raise several unrelated types
        kind = "XPath" if is_xpath(expr) else "CSS selector"
        return f"invalid {kind} {expr!r}: {exc}"
    return None


def apply_selectors(
    html: str | bytes, url: str, selectors: Selectors, base: Extracted
) -> Extracted:
    """``base`` (the generic extraction of this page) with each set selector's field replaced.

    title: the matched texts joined; body: one line per paragraph block of the matched
    elements (less than ``MIN_TEXT_CHARS`` gives "", an empty body); date: the ``datetime`` or
    ``content`` attribute of the match, else its text, as an aware datetime; author: the matched
    texts. A selector that matches nothing, or is invalid, leaves the field as it was. Never raises.
    """
    if not selectors.any_set():
        return base
    text = decode_html(html) if isinstance(html, bytes) else html
    if not text or not text.strip():
        return base
    try:
        page = Selector(text=text)
    except Exception:
        logger.warning("selectors: page %s could not be parsed", url, exc_info=True)
        return base
    changes: dict[str, object] = {}
    for name, expr, build in (
        ("title", selectors.title, _title),
        ("text", selectors.body, _body),
        ("published_at", selectors.date, _date),
        ("authors", selectors.author, _authors),
    ):
        if not expr:
            continue
        try:
            matched = _select(page, expr)
            value = build(matched) if matched else None
        except Exception:
            logger.warning("selectors: %s selector %r failed on %s", name, expr, url, exc_info=True)
            continue
        if value is not None:
            changes[name] = value
    return replace(base, **changes)


def _select(page: Selector, expr: str) -> SelectorList:
    expr = expr.strip()
    if expr.startswith(XPATH_PREFIX):
        return page.xpath(expr[len(XPATH_PREFIX) :].strip())
    return page.xpath(expr) if is_xpath(expr) else page.css(expr)


def _title(matched: SelectorList) -> str | None:
    title = " ".join(t for t in (_node_text(m) for m in _outermost(matched)) if t)
    return title or None


def _body(matched: SelectorList) -> str:
    blocks: list[str] = []
    for node in _outermost(matched):
        if isinstance(node.root, HtmlElement):
            blocks.extend(_blocks(node.root))
        elif text := _tidy(str(node.root)):
            blocks.append(text)
    body = "\n".join(blocks)
    return body if len(body) >= MIN_TEXT_CHARS else ""


def _date(matched: SelectorList) -> datetime | None:
    for node in matched:
        root = node.root
        if isinstance(root, HtmlElement):
            candidates = [root.get("datetime"), root.get("content"), _node_text(node)]
        else:
            candidates = [str(root)]
        for value in candidates:
            if value and (when := parse_datetime(value)):
                return when
    return None


def _authors(matched: SelectorList) -> list[str] | None:
    names: list[str] = []
    for node in _outermost(matched):
        name = _BYLINE_PREFIX.sub("", _node_text(node))
        if name and name not in names:
            names.append(name)
    return names or None


def _outermost(matched: SelectorList) -> list[Selector]:
    """The matches that are not inside another match, so nested matches are not read twice."""
    elements = {id(m.root) for m in matched if isinstance(m.root, HtmlElement)}
    kept = []
    for node in matched:
        root = node.root
        if isinstance(root, HtmlElement) and any(id(a) in elements for a in root.iterancestors()):
            continue
        kept.append(node)
    return kept


def _node_text(node: Selector) -> str:
    """The visible text of a matched element (scripts and styles left out), or a matched string."""
    if isinstance(node.root, HtmlElement):
        return " ".join(_blocks(node.root))
    return _tidy(str(node.root))


def _blocks(root: HtmlElement) -> list[str]:
    """The text of ``root`` split into paragraphs at block elements and <br>, whitespace tidied."""
    blocks: list[str] = []
    buffer: list[str] = []

    def flush() -> None:
        if text := _tidy("".join(buffer)):
            blocks.append(text)
        buffer.clear()

    def walk(element: HtmlElement) -> None:
        tag = element.tag if isinstance(element.tag, str) else None  # comments: a function
        if tag is None or tag.lower() in SKIP_TAGS:
            return
        is_block = tag.lower() in BLOCK_TAGS or tag.lower() == "br"
        if is_block:
            flush()
        buffer.append(element.text or "")
        for child in element:
            walk(child)
            buffer.append(child.tail or "")
        if is_block:
            flush()

    walk(root)
    flush()
    return blocks


def _tidy(text: str) -> str:
    return " ".join(text.translate(_INVISIBLE).split())
