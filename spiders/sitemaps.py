"""Sitemap parsing: sitemap indexes, urlsets and Google News sitemaps into plain entries.

Pure functions over fetched bytes, never a fetch. Bad input never raises: a body that is not a
sitemap gives ``ok=False`` with a warning saying what it was, a broken one keeps what lxml can
recover. gzip is recognised by its magic bytes, whatever the URL or Content-Type said, and is
decompressed as lxml reads it, never past ``max_bytes`` (the sitemap protocol's 50 MB limit), so
a gzip bomb costs a bounded read, not memory. Namespaces are matched by local name, so sitemaps
that omit or misdeclare them parse the same. Each entry is freed from the tree once read, so a
50,000-URL news sitemap parses in well under a second and little memory.
"""

from __future__ import annotations

import gzip
import html.entities
import io
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import urljoin

from lxml import etree

MAX_SITEMAP_BYTES = 50 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_ROOT_KINDS = {"urlset": "urlset", "sitemapindex": "index"}
_ENTRY_TAG = {"urlset": "url", "index": "sitemap"}
_FEED_ROOTS = {"rss", "feed", "rdf"}
_YEAR_MONTH = re.compile(r"^(\d{4})(?:-(\d{2}))?$")
_UNFINISHED = re.compile(r"Premature end of data in tag (\S+)")
_ENTITY = re.compile(rb"&(#[0-9]+;|#x[0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]{0,31};)?")
_XML_ENTITIES = {b"amp;", b"lt;", b"gt;", b"quot;", b"apos;"}
_ENTITY_ERRORS = {
    etree.ErrorTypes.ERR_ENTITYREF_SEMICOL_MISSING,
    etree.ErrorTypes.ERR_NAME_REQUIRED,
    etree.ErrorTypes.ERR_UNDECLARED_ENTITY,
    etree.ErrorTypes.WAR_UNDECLARED_ENTITY,
}
_ROBOTS_SITEMAP = re.compile(r"^\s*sitemap\s*:\s*(\S+)", re.IGNORECASE)


@dataclass(slots=True)
class SitemapEntry:
    """One ``<url>`` of a urlset (or one child ``<sitemap>`` of an index) and its dates."""

    loc: str
    lastmod: datetime | None = None
    published: datetime | None = None
    title: str | None = None
    language: str | None = None

    @property
    def date(self) -> datetime | None:
        """The date that places the entry in a time window: publication first, then lastmod."""
        return self.published or self.lastmod


@dataclass
class Sitemap:
    """A parsed sitemap; ``ok`` is False when the body was not a sitemap at all."""

    kind: Literal["index", "urlset", "unknown"] = "unknown"
    entries: list[SitemapEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ok: bool = False


def parse_sitemap(body: bytes, url: str, *, max_bytes: int = MAX_SITEMAP_BYTES) -> Sitemap:
    """Parse a fetched sitemap body; ``loc``s are made absolute against ``url`` (its own URL).

    Accepts XML urlsets and indexes (gzipped or not, with or without namespaces) and the
    protocol's plain-text form (one URL a line). Never raises on bad input.
    """
    warnings: list[str] = []
    reader = _Reader(bytes(body or b""), max_bytes, warnings)
    head = reader.head()
    if not head:
        return Sitemap(warnings=[*warnings, "empty body"])
    if head[:1] == b"<" or head.startswith(_BOMS):
        sitemap, bad_entities = _parse_xml(reader, url)
        if bad_entities:
            sitemap = _parse_escaped(bytes(body), url, max_bytes)
    else:
        sitemap = _parse_text(reader.read_all(), url)
    sitemap.warnings[:0] = warnings
    return sitemap


def filter_entries(
    entries: list[SitemapEntry], *, since: datetime | None, until: datetime | None = None
) -> list[SitemapEntry]:
    """The entries whose ``date`` is in ``[since, until)``; naive bounds are taken as UTC.

    Undated entries are kept only when no window is set at all: once a window is asked for,
    an entry that cannot be placed in it is dropped, so a routine run with ``max_age`` never
    fetches a whole undated archive (the spider must fall back to its seen-URL check instead).
    """
    if since is None and until is None:
        return list(entries)
    low, high = _aware(since), _aware(until)
    return [
        e
        for e in entries
        if (d := e.date) is not None and (low is None or d >= low) and (high is None or d < high)
    ]


def filter_index(entries: list[SitemapEntry], *, since: datetime | None) -> list[SitemapEntry]:
    """The child sitemaps of an index that may hold entries dated ``since`` or later.

    A child whose ``lastmod`` is before ``since`` has not changed since then, so nothing in it
    is newer; a child without ``lastmod`` is always kept. ``until`` does not apply here: a
    recently modified child can still hold old entries.
    """
    low = _aware(since)
    if low is None:
        return list(entries)
    return [e for e in entries if e.lastmod is None or e.lastmod >= low]


def sitemaps_from_robots(robots_txt: str | bytes, url: str) -> list[str]:
    """The ``Sitemap:`` URLs of a robots.txt (any case), absolute against ``url``, deduplicated."""
    if isinstance(robots_txt, bytes):
        robots_txt = robots_txt.decode("utf-8", errors="replace")
    found: dict[str, None] = {}
    for line in robots_txt.lstrip("\ufeff").splitlines():
        match = _ROBOTS_SITEMAP.match(line)
        if not match:
            continue
        absolute = _absolute(match.group(1), url)
        if absolute is not None:
            found.setdefault(absolute, None)
    return list(found)


def parse_w3c_date(value: str | None) -> datetime | None:
    """An aware datetime from a W3C datetime (``2026-11``, ``2026-11-03T09:15+07:00`` ...).

    Naive values are taken as UTC; RFC 822 dates (seen in the wild) are accepted too;
    anything else gives None.
    """
    if not value or not (text := value.strip()):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = _fallback_date(text)
        if parsed is None:
            return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _fallback_date(text: str) -> datetime | None:
    if match := _YEAR_MONTH.match(text):
        year, month = int(match.group(1)), int(match.group(2) or 1)
        return datetime(year, month, 1, tzinfo=UTC) if 1 <= month <= 12 and year else None
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _mb(size: int) -> str:
    mb = size / 1024 / 1024
    return f"{mb:.0f} MB" if mb >= 10 or mb == int(mb) else f"{mb:.1f} MB"


def _absolute(loc: str, base: str) -> str | None:
    """``loc`` resolved against ``base``; None unless the result is an http(s) URL."""
    loc = loc.strip()
    if loc.startswith(("http://", "https://")):
        return loc
    if not loc:
        return None
    try:
        absolute = urljoin(base, loc)
    except ValueError:
        return None
    return absolute if absolute.startswith(("http://", "https://")) else None


class _Reader:
    """``read()`` over the body for lxml: gunzipped (as many layers as it has: a .gz served
    with Content-Encoding gzip arrives double-wrapped), streamed so that no uncompressed copy
    is held, and ending quietly at ``max_bytes`` or at a corrupt gzip stream, with a warning."""

    def __init__(self, body: bytes, max_bytes: int, warnings: list[str]) -> None:
        self._warnings, self._left, self._pending = warnings, max_bytes, b""
        self._max = max_bytes
        self._source: io.BytesIO | gzip.GzipFile = io.BytesIO(body)
        first = body[:2]
        for _ in range(3):
            if first != GZIP_MAGIC:
                break
            self._source = gzip.GzipFile(fileobj=self._source, mode="rb")
            try:
                first = self._source.peek(2)[:2]
            except (OSError, EOFError, zlib.error) as exc:
                self._fail(exc)

    def head(self) -> bytes:
        """The body up to its first non-blank bytes (b"" when it is blank), kept for read()."""
        while not self._pending.strip():
            chunk = self._read(65536)
            if not chunk:
                return b""
            self._pending += chunk
        # blank lines before "<?xml" are common and harmless, but an XML error for lxml
        self._pending = self._pending.lstrip()
        return self._pending

    def read(self, size: int = -1) -> bytes:
        if self._pending:
            out, self._pending = self._pending, b""
            return out
        return self._read(size)

    def _fail(self, exc: BaseException) -> None:
        self._warnings.append(f"gzip: {exc or type(exc).__name__}: parsed what came before")
        self._left = -1

    def read_all(self) -> bytes:
        chunks = [self._pending]
        self._pending = b""
        while chunks[-1] or len(chunks) == 1:
            chunks.append(self._read(1 << 16))  # small reads: a gzip error loses one
        return b"".join(chunks)

    def _read(self, size: int) -> bytes:
        if self._left <= 0:
            self._check_overflow()
            return b""
        want = self._left if size is None or size < 0 else min(size, self._left)
        try:
            chunk = self._source.read(want)
        except (OSError, EOFError, zlib.error) as exc:
            self._fail(exc)
            return b""
        self._left -= len(chunk)
        return chunk

    def _check_overflow(self) -> None:
        """At the cap: warn once if the body goes on past it."""
        if self._left < 0:
            return
        self._left = -1
        try:
            more = self._source.read(1)
        except (OSError, EOFError, zlib.error):
            more = b""
        if more:
            self._warnings.append(f"body exceeds {_mb(self._max)} uncompressed: stopped there")


def _parse_text(data: bytes, url: str) -> Sitemap:
    """The protocol's text form: every non-blank line a URL. Anything else is not a sitemap."""
    lines = data.decode("utf-8", errors="replace").split()
    if not all(line.startswith(("http://", "https://")) for line in lines):
        return Sitemap(warnings=[f"not XML: starts with {data.strip()[:24]!r}"])
    return Sitemap(kind="urlset", entries=[SitemapEntry(loc=line) for line in lines], ok=True)


def _parse_escaped(body: bytes, url: str, max_bytes: int) -> Sitemap:
    """Parse again with bare ``&`` and HTML-only entities (``&nbsp;``) made valid XML, the most
    common breakage in real sitemaps, which lxml's recovery would otherwise cut out of URLs."""
    fixed = _ENTITY.sub(_escape_entity, _Reader(body, max_bytes, []).read_all())
    sitemap, _ = _parse_xml(_Reader(fixed, max_bytes, []), url)
    sitemap.warnings.insert(0, "unescaped '&' or HTML entities in the XML: escaped, parsed again")
    return sitemap


def _escape_entity(match: re.Match) -> bytes:
    name = match.group(1)
    if name is None:
        return b"&amp;"
    if name.startswith(b"#") or name in _XML_ENTITIES:
        return match.group(0)
    char = html.entities.html5.get(name.decode("ascii"))
    return char.encode("ascii", "xmlcharrefreplace") if char else b"&amp;" + name


def _local(tag: object, cache: dict) -> str | None:
    """The lower-cased local name of an element tag ('{ns}url', 'news:title', 'URL' ...)."""
    name = cache.get(tag)
    if name is None:
        if not isinstance(tag, str):  # comments, processing instructions, entities
            return None
        name = cache[tag] = tag.rpartition("}")[2].rpartition(":")[2].lower()
    return name


def _parse_xml(reader: _Reader, url: str) -> tuple[Sitemap, bool]:
    """The sitemap, and whether lxml met bare ``&`` or undefined entities on the way."""
    result = Sitemap()
    names: dict = {}
    context = etree.iterparse(
        reader,
        events=("end",),
        recover=True,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
    )
    stats = _Counts()
    root = None
    entry_tag = None
    last_kept = False
    try:
        for _, element in context:
            if root is None:
                root = element.getroottree().getroot()
                entry_tag = _start(root, names, result)
                if entry_tag is None:
                    break
            is_entry = _local(element.tag, names) == entry_tag
            if is_entry:  # at any depth: recovery nests entries that follow an unclosed tag
                entry = _entry(element, url, names, stats)
                last_kept = entry is not None
                if last_kept:
                    result.entries.append(entry)
            if element.getparent() is root:
                _free(element, root)
            elif is_entry:
                element.clear()
    except etree.XMLSyntaxError as exc:
        if root is None:
            result.warnings.append(f"not XML: {_message(exc)}")
            return result, False
    except (etree.LxmlError, ValueError, UnicodeError) as exc:
        result.warnings.append(f"unreadable XML: {_message(exc)}")
    if root is None:
        result.warnings.append(f"not XML: {_first_error(context) or 'no element found'}")
        return result, False
    if result.ok and any(e.type in _ENTITY_ERRORS for e in context.error_log):
        return result, True
    if result.ok:
        cut = None
        if last_kept and _cut_inside_entry(context, root, entry_tag, names):
            cut = result.entries.pop()
        _note_errors(context, result)
        if cut is not None:
            result.warnings.append(f"body cut off inside the last entry: dropped {cut.loc!r}")
        result.warnings.extend(stats.warnings())
    return result, False


def _start(root: etree._Element, names: dict, result: Sitemap) -> str | None:
    """Set the sitemap's kind from its root element; the entry tag to read, or None."""
    name = _local(root.tag, names) or "?"
    kind = _ROOT_KINDS.get(name)
    if kind is None:
        hint = " (an RSS or Atom feed, not a sitemap)" if name in _FEED_ROOTS else ""
        result.warnings.append(f"not a sitemap: root element <{name}>{hint}")
        return None
    result.kind, result.ok = kind, True
    return _ENTRY_TAG[kind]


def _free(element: etree._Element, root: etree._Element) -> None:
    """Drop a top-level element already read, and those before it, from the growing tree."""
    element.clear()
    while element.getprevious() is not None:
        del root[0]


class _Counts:
    """What was skipped while reading entries, reported once per sitemap, not once per entry."""

    def __init__(self) -> None:
        self.no_loc = 0
        self.bad_loc: list[str] = []
        self.bad_dates: list[str] = []

    def warnings(self) -> list[str]:
        out = []
        if self.no_loc:
            out.append(f"{self.no_loc} entries without <loc> skipped")
        if self.bad_loc:
            out.append(f"{len(self.bad_loc)} entries with a non-http loc skipped "
                       f"(first: {self.bad_loc[0]!r})")  # fmt: skip
        if self.bad_dates:
            out.append(f"{len(self.bad_dates)} unreadable dates ignored "
                       f"(first: {self.bad_dates[0]!r})")  # fmt: skip
        return out

    def date(self, text: str | None) -> datetime | None:
        parsed = parse_w3c_date(text)
        if parsed is None and text and text.strip():
            self.bad_dates.append(text.strip()[:80])
        return parsed


def _entry(element: etree._Element, url: str, names: dict, stats: _Counts) -> SitemapEntry | None:
    """One entry from a ``<url>``/``<sitemap>`` element; its own children only (an
    ``<image:loc>`` inside is not the page's loc)."""
    loc = lastmod = None
    news = None
    for child in element:
        name = _local(child.tag, names)
        if name == "loc" and loc is None:
            loc = _text(child)
        elif name == "lastmod":
            lastmod = child.text
        elif name == "news":
            news = child
    if not loc or not loc.strip():
        stats.no_loc += 1
        return None
    absolute = _absolute(loc, url)
    if absolute is None:
        stats.bad_loc.append(loc.strip()[:80])
        return None
    entry = SitemapEntry(loc=absolute, lastmod=stats.date(lastmod))
    if news is not None:
        _news(news, entry, names, stats)
    return entry


def _text(element: etree._Element) -> str:
    """The element's text; an unexpanded entity inside (never resolved, by design) leaves
    the text on both sides of it, not just the part before."""
    if not len(element):
        return element.text or ""
    tails = (child.tail or "" for child in element if child.tag is etree.Entity)
    return (element.text or "") + "".join(tails)


def _news(news: etree._Element, entry: SitemapEntry, names: dict, stats: _Counts) -> None:
    """Google News fields: ``publication_date``, ``title`` and ``publication/language``."""
    for child in news.iter():
        name = _local(child.tag, names)
        if name == "publication_date":
            entry.published = stats.date(child.text)
        elif name == "title" and (title := " ".join(_text(child).split())):
            entry.title = title
        elif name == "language" and child.text and child.text.strip():
            entry.language = child.text.strip().lower().replace("_", "-")


def _cut_inside_entry(
    context: etree.iterparse, root: etree._Element, entry_tag: str | None, names: dict
) -> bool:
    """Whether the body ended inside an element of the last entry (its loc or a date), whose
    text may then be cut short: libxml2 reports the innermost element left open."""
    for error in context.error_log:
        match = _UNFINISHED.match(error.message)
        if match:
            open_tag = _local(match.group(1), names)
            return open_tag not in (entry_tag, _local(root.tag, names))
    return False


def _note_errors(context: etree.iterparse, result: Sitemap) -> None:
    """One warning for what lxml had to recover from, if anything."""
    errors = [e for e in context.error_log if e.level >= etree.ErrorLevels.ERROR]
    if not errors:
        return
    if all(e.domain == etree.ErrorDomains.NAMESPACE for e in errors):
        result.warnings.append(f"namespace prefixes not declared: {errors[0].message}")
        return
    first = next(e for e in errors if e.domain != etree.ErrorDomains.NAMESPACE)
    result.warnings.append(
        f"malformed XML at line {first.line}: {first.message}: "
        f"recovered {len(result.entries)} entries"
    )


def _first_error(context: etree.iterparse) -> str | None:
    for error in context.error_log:
        if error.level >= etree.ErrorLevels.ERROR:
            return f"{error.message} (line {error.line})"
    return None


def _message(exc: BaseException) -> str:
    return str(exc).split(" (<string>", 1)[0] or type(exc).__name__
