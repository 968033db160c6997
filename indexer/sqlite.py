"""The embedded store: articles in SQLite, searched with FTS5.

Tables (all ``IF NOT EXISTS``, in the one beatwatch database):

- ``articles``: every Article field (authors as JSON, datetimes as ISO UTC), plus folded
  ``source_key`` / ``language_key`` for the exact-match fields.
- ``article_revisions``: the title and text each edit replaced.
- ``articles_fts``: contentless FTS5 (``unicode61 remove_diacritics 2``, marks kept inside words)
  over ``crawler.text.words`` of the normalised title and text, rowid = ``articles.seq``. Indexing
  our own word split means the store and the in-process matcher see the same words.
- ``articles_khmer`` + ``articles_trigram``: for articles that contain Khmer script only (no
  other article can contain a Khmer substring), ``substring_form`` of title and text and a
  trigram index over it. Terms of 3+ characters use the trigram index; shorter ones ``instr()``.

``compile(query, filters)`` shows the SQL a search runs. The store never commits on its own
account: multi-statement writes run in ``crawler.db.transaction`` (a savepoint inside a caller's
transaction).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from crawler.db import transaction
from crawler.models import Article, Facets, SearchHit, SearchResult
from crawler.text import fold, has_khmer, normalize, substring_form, words
from indexer.highlight import passage
from indexer.query import (
    TEXT_WEIGHT,
    TITLE_WEIGHT,
    And,
    Node,
    Not,
    Or,
    Phrase,
    Range,
    Term,
    TextMatch,
    parse,
    text_match,
)
from indexer.store import Filters, PutOutcome, Revision, SyncReport, filter_nodes

_TRIGRAM_MIN = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    source TEXT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    published_at TEXT,
    fetched_at TEXT NOT NULL,
    authors TEXT NOT NULL DEFAULT '[]',
    language TEXT,
    body_hash TEXT NOT NULL DEFAULT '',
    story_id TEXT NOT NULL DEFAULT '',
    revision INTEGER NOT NULL DEFAULT 1,
    fetch_url TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '',
    source_key TEXT NOT NULL,
    language_key TEXT NOT NULL,
    matched_rules TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS articles_body_hash ON articles (body_hash);
CREATE INDEX IF NOT EXISTS articles_story ON articles (story_id);
CREATE INDEX IF NOT EXISTS articles_url ON articles (url);
CREATE INDEX IF NOT EXISTS articles_published ON articles (published_at);
CREATE TABLE IF NOT EXISTS article_revisions (
    article_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (article_id, revision)
);
CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5(
    title, text, content='',
    tokenize="unicode61 remove_diacritics 2 categories 'L* N* M* Co'"
);
CREATE TABLE IF NOT EXISTS articles_khmer (seq INTEGER PRIMARY KEY, title TEXT, text TEXT);
CREATE VIRTUAL TABLE IF NOT EXISTS articles_trigram USING fts5(
    title, text, content='articles_khmer', content_rowid='seq',
    tokenize='trigram case_sensitive 1'
);
"""

_COLUMNS = [
    "id", "url", "source", "title", "text", "published_at", "fetched_at", "authors", "language",
    "body_hash", "story_id", "revision", "fetch_url", "summary", "source_key", "language_key",
    "matched_rules",
]  # fmt: skip
#: Columns added after the first release, with their definitions (for existing databases).
_ADDED = {"matched_rules": "TEXT NOT NULL DEFAULT '[]'"}


class SQLiteStore:
    """The Store over a connection from ``crawler.db.connect``."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        _create(conn)

    def put(self, article: Article, *, revision: int | None = None) -> PutOutcome:
        """Insert, update (an edit) or leave alone; see ``Store.put``. ``revision`` numbers an
        update as given instead of the next one (copying a newer revision from elsewhere)."""
        old = self.conn.execute("SELECT * FROM articles WHERE id = ?", (article.id,)).fetchone()
        if old is None:
            with transaction(self.conn):
                cur = self.conn.execute(_INSERT, _row(article))
                self._index(cur.lastrowid, article.title, article.text)
            return "new"
        if _same_body(old, article) and old["title"] == article.title:
            return "unchanged"
        with transaction(self.conn):
            self.conn.execute(
                "INSERT OR REPLACE INTO article_revisions VALUES (?, ?, ?, ?, ?, ?)",
                (
                    old["id"],
                    old["revision"],
                    old["title"],
                    old["text"],
                    old["body_hash"],
                    old["fetched_at"],
                ),
            )
            self._unindex(old["seq"], old["title"], old["text"])
            values = _row(article)
            values[_COLUMNS.index("story_id")] = old["story_id"]
            values[_COLUMNS.index("revision")] = revision or old["revision"] + 1
            sets = ", ".join(f"{c} = ?" for c in _COLUMNS)
            self.conn.execute(f"UPDATE articles SET {sets} WHERE seq = ?", (*values, old["seq"]))
            self._index(old["seq"], article.title, article.text)
        return "updated"

    def _index(self, seq: int | None, title: str, text: str) -> None:
        title, text = normalize(title), normalize(text)
        self.conn.execute(
            "INSERT INTO articles_fts (rowid, title, text) VALUES (?, ?, ?)",
            (seq, " ".join(words(title)), " ".join(words(text))),
        )
        if has_khmer(title) or has_khmer(text):
            forms = (seq, substring_form(title), substring_form(text))
            self.conn.execute("INSERT INTO articles_khmer VALUES (?, ?, ?)", forms)
            self.conn.execute(
                "INSERT INTO articles_trigram (rowid, title, text) VALUES (?, ?, ?)", forms
            )

    def _unindex(self, seq: int, title: str, text: str) -> None:
        title, text = normalize(title), normalize(text)
        self.conn.execute(
            "INSERT INTO articles_fts (articles_fts, rowid, title, text) "
            "VALUES ('delete', ?, ?, ?)",
            (seq, " ".join(words(title)), " ".join(words(text))),
        )
        row = self.conn.execute("SELECT * FROM articles_khmer WHERE seq = ?", (seq,)).fetchone()
        if row is not None:
            self.conn.execute(
                "INSERT INTO articles_trigram (articles_trigram, rowid, title, text) "
                "VALUES ('delete', ?, ?, ?)",
                (seq, row["title"], row["text"]),
            )
            self.conn.execute("DELETE FROM articles_khmer WHERE seq = ?", (seq,))

    def get(self, id: str) -> Article | None:
        """The stored article with this id, or None."""
        row = self.conn.execute("SELECT * FROM articles WHERE id = ?", (id,)).fetchone()
        return _article(row) if row is not None else None

    def story_for_body_hash(self, body_hash: str) -> str | None:
        """The story_id of a stored article with this body hash (the earliest), or None."""
        if not body_hash:
            return None
        row = self.conn.execute(
            "SELECT story_id FROM articles WHERE body_hash = ? ORDER BY fetched_at, seq LIMIT 1",
            (body_hash,),
        ).fetchone()
        return row["story_id"] if row is not None else None

    def copies(self, story_id: str) -> list[Article]:
        """All articles of a story, earliest fetched first."""
        rows = self.conn.execute(
            "SELECT * FROM articles WHERE story_id = ? ORDER BY fetched_at, seq", (story_id,)
        )
        return [_article(r) for r in rows]

    def count(self) -> int:
        """How many articles are stored."""
        return self.conn.execute("SELECT count(*) FROM articles").fetchone()[0]

    def revisions(self, id: str) -> list[Revision]:
        """Earlier versions of an article, oldest first."""
        rows = self.conn.execute(
            "SELECT * FROM article_revisions WHERE article_id = ? ORDER BY revision", (id,)
        )
        return [
            Revision(
                revision=r["revision"],
                title=r["title"],
                text=r["text"],
                body_hash=r["body_hash"],
                fetched_at=datetime.fromisoformat(r["fetched_at"]),
            )
            for r in rows
        ]

    def search(
        self,
        query: str,
        *,
        sources: list[str] | None = None,
        languages: list[str] | None = None,
        since: datetime | date | None = None,
        until: datetime | date | None = None,
        limit: int = 20,
        all_copies: bool = False,
        offset: int = 0,
        facets: bool = False,
        tz: str = "UTC",
    ) -> SearchResult:
        """Hits for ``query``, best first; one per story unless ``all_copies`` (see Store)."""
        node = parse(query)
        filters = Filters(sources=sources, languages=languages, since=since, until=until)
        result = self._hits(node, filters, all_copies, limit, offset)
        if facets:
            result.facets = self._facets(node, filters, ZoneInfo(tz))
        return result

    def _hits(
        self, node: Node, filters: Filters, all_copies: bool, limit: int, offset: int
    ) -> SearchResult:
        sql, params = compile(node, filters, all_copies=all_copies, limit=limit, offset=offset)
        ranked = self.conn.execute(sql, params).fetchall()
        if not ranked:
            total = 0
            if offset > 0:
                count_sql, count_params = compile(node, filters, all_copies=all_copies, limit=-1)
                total = len(self.conn.execute(count_sql, count_params).fetchall())
            return SearchResult(total=total, hits=[])
        seqs = [r["seq"] for r in ranked]
        marks = ",".join("?" * len(seqs))
        rows = {
            r["seq"]: r
            for r in self.conn.execute(f"SELECT * FROM articles WHERE seq IN ({marks})", seqs)
        }
        hits = [_hit(rows[r["seq"]], r["score"], node) for r in ranked]
        return SearchResult(total=ranked[0]["total"], hits=hits)

    def _facets(self, node: Node, filters: Filters, tz: ZoneInfo) -> Facets:
        sql, params = compile(node, filters, all_copies=True, limit=-1)
        rows = self.conn.execute(
            "SELECT a.source, a.language, a.published_at FROM articles a "
            f"JOIN ({sql}) m ON m.seq = a.seq",
            params,
        )
        sources: Counter[str] = Counter()
        languages: Counter[str] = Counter()
        days: Counter[str] = Counter()
        for source, language, published in rows:
            sources[source] += 1
            if language:
                languages[language] += 1
            if published:
                days[datetime.fromisoformat(published).astimezone(tz).date().isoformat()] += 1
        return Facets(
            sources=dict(sorted(sources.items())),
            languages=dict(sorted(languages.items())),
            days=dict(sorted(days.items())),
        )

    sent = None  # nothing is sent anywhere: this store is the index

    def sync(self, *, force: bool = False, refresh: bool = False) -> SyncReport | None:
        """Nothing to send: this store is the index."""
        return None

    def index_status(self, *, cluster: bool = True) -> dict:
        """Nothing beyond the article count: there is no remote index."""
        return {}

    def close(self) -> None:
        """Nothing to release: the connection belongs to the caller."""


def _create(conn: sqlite3.Connection) -> None:
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    _add_columns(conn)


def _add_columns(conn: sqlite3.Connection) -> None:
    """Add the columns a database made by an earlier beatwatch lacks.

    Checked and added under the write lock: crawl processes started together on an upgraded
    file would otherwise both find a column missing and the second fail to add it.
    """
    if _ADDED.keys() <= _columns(conn):
        return
    with transaction(conn):
        have = _columns(conn)
        for column, definition in _ADDED.items():
            if column not in have:
                conn.execute(f"ALTER TABLE articles ADD COLUMN {column} {definition}")


def _columns(conn: sqlite3.Connection) -> set[str]:
    return {r["name"] for r in conn.execute("PRAGMA table_info(articles)")}


_INSERT = f"INSERT INTO articles ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"


def _same_body(old: sqlite3.Row, new: Article) -> bool:
    if old["body_hash"] and new.body_hash:
        return old["body_hash"] == new.body_hash
    return old["text"] == new.text


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _row(a: Article) -> list:
    return [
        a.id, a.url, a.source, a.title, a.text,
        _iso(a.published_at) if a.published_at else None, _iso(a.fetched_at),
        json.dumps(a.authors, ensure_ascii=False), a.language, a.body_hash, a.story_id,
        a.revision, a.fetch_url, a.summary, fold(a.source or ""), fold(a.language or ""),
        json.dumps(sorted(a.matched_rules), ensure_ascii=False),
    ]  # fmt: skip


def _article(r: sqlite3.Row) -> Article:
    return Article(
        id=r["id"], url=r["url"], source=r["source"], title=r["title"], text=r["text"],
        published_at=datetime.fromisoformat(r["published_at"]) if r["published_at"] else None,
        fetched_at=datetime.fromisoformat(r["fetched_at"]), authors=json.loads(r["authors"]),
        language=r["language"], body_hash=r["body_hash"], story_id=r["story_id"],
        revision=r["revision"], fetch_url=r["fetch_url"], summary=r["summary"],
        matched_rules=json.loads(r["matched_rules"]),
    )  # fmt: skip


def _hit(row: sqlite3.Row, score: float, node: Node) -> SearchHit:
    a = _article(row)
    return SearchHit(
        id=a.id, url=a.url, title=a.title, source=a.source, published_at=a.published_at,
        language=a.language, score=float(score), snippet=passage(node, a.title, a.text).html(),
        story_id=a.story_id,
    )  # fmt: skip


# --- query compilation -------------------------------------------------------------------


def compile(
    query: str | Node,
    filters: Filters | None = None,
    *,
    all_copies: bool = False,
    limit: int = 20,
    offset: int = 0,
) -> tuple[str, list]:
    """The SQL (and its parameters) ``search`` runs: rows of ``seq, score, total``.

    Title/text words become FTS5 MATCH expressions (a whole subtree of them one MATCH), Khmer
    substrings trigram MATCHes (or ``instr``), the other fields plain SQL; filters are ANDed.
    When the query's AND has a positive FTS part it drives the search and gives the BM25 score.
    """
    node = parse(query) if isinstance(query, str) else query
    clauses = list(node.children) if isinstance(node, And) else [node]
    clauses += filter_nodes(filters or Filters())
    driving = [c for c in clauses if _fts(c) is not None and not isinstance(c, Not)]
    params: list = []
    if driving:
        negative = [c for c in clauses if isinstance(c, Not) and _fts(c.child) is not None]
        rest = [c for c in clauses if c not in driving and c not in negative]
        match = " AND ".join(f"({_fts(c)})" for c in driving)
        match += "".join(f" NOT ({_fts(c.child)})" for c in negative)
        source = "articles_fts JOIN articles a ON a.seq = articles_fts.rowid"
        where = ["articles_fts MATCH ?"]
        params.append(match)
        score = f"-bm25(articles_fts, {TITLE_WEIGHT}, {TEXT_WEIGHT})"
    else:
        rest, source, where, score = clauses, "articles a", [], "0.0"
        positives = [_fts_leaf(m) for m in _positive_fts_leaves(node)]
        if positives:
            source += (
                " LEFT JOIN (SELECT rowid, bm25(articles_fts, "
                f"{TITLE_WEIGHT}, {TEXT_WEIGHT}) AS rank FROM articles_fts "
                "WHERE articles_fts MATCH ?) s ON s.rowid = a.seq"
            )
            params.append(" OR ".join(f"({p})" for p in positives))
            score = "COALESCE(-s.rank, 0.0)"
    for c in rest:
        where.append(_sql(c, params))
    matched = (
        f"SELECT a.seq AS seq, {score} AS score, a.published_at AS p, a.fetched_at AS f, "
        f"COALESCE(NULLIF(a.story_id, ''), a.id) AS story FROM {source}"
        + (f" WHERE {' AND '.join(where)}" if where else "")
    )
    order = "score DESC, p IS NULL, p, f, seq"
    if not all_copies:
        matched = (
            f"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY story ORDER BY {order}) "
            f"AS rn FROM ({matched})) WHERE rn = 1"
        )
    sql = (
        f"SELECT seq, score, COUNT(*) OVER () AS total FROM ({matched}) "
        f"ORDER BY {order} LIMIT ? OFFSET ?"
    )
    return sql, [*params, limit, offset]


def _is_word_leaf(node: Node) -> bool:
    return isinstance(node, Term | Phrase) and node.field in (None, "title", "text")


def _fts(node: Node) -> str | None:
    """The FTS5 expression for a subtree made only of word leaves, or None."""
    if _is_word_leaf(node):
        m = text_match(node)  # type: ignore[arg-type]
        return None if m.needle else _fts_leaf(m)
    if isinstance(node, Or):
        parts = [_fts(c) for c in node.children]
        if any(p is None for p in parts) or any(isinstance(c, Not) for c in node.children):
            return None
        return " OR ".join(f"({p})" for p in parts)
    if isinstance(node, And):
        pos = [c for c in node.children if not isinstance(c, Not)]
        neg = [c.child for c in node.children if isinstance(c, Not)]
        parts, negs = [_fts(c) for c in pos], [_fts(c) for c in neg]
        if not pos or None in parts or None in negs:
            return None
        return " AND ".join(f"({p})" for p in parts) + "".join(f" NOT ({n})" for n in negs)
    return None


def _fts_leaf(m: TextMatch) -> str:
    unique = list(dict.fromkeys(m.words))
    if m.slop is not None and len(unique) > 1:
        expr = f"NEAR({' '.join(f'{chr(34)}{w}{chr(34)}' for w in unique)}, {m.slop})"
    elif m.slop is not None:
        expr = f'"{unique[0]}"'
    else:
        expr = '"' + " ".join(m.words) + '"' + ("*" if m.prefix else "")
    return expr if len(m.fields) == 2 else f"{m.fields[0]} : {expr}"


def _positive_fts_leaves(node: Node, negated: bool = False) -> list[TextMatch]:
    if isinstance(node, And | Or):
        return [m for c in node.children for m in _positive_fts_leaves(c, negated)]
    if isinstance(node, Not):
        return _positive_fts_leaves(node.child, not negated)
    if _is_word_leaf(node) and not negated:
        m = text_match(node)  # type: ignore[arg-type]
        return [] if m.needle else [m]
    return []


def _sql(node: Node, params: list) -> str:
    """A boolean SQL expression over ``articles a`` (never NULL, so NOT is exact)."""
    fts = _fts(node)
    if fts is not None:
        params.append(fts)
        return "a.seq IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)"
    if isinstance(node, And | Or):
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(_sql(c, params) for c in node.children) + ")"
    if isinstance(node, Not):
        return f"NOT ({_sql(node.child, params)})"
    if isinstance(node, Range):
        return _range_sql(node, params)
    if node.field in ("source", "language"):
        params.append(fold(node.text))
        return f"a.{node.field}_key = ?"
    if node.field == "url":
        if isinstance(node, Term) and node.prefix:
            params.extend([len(node.text), node.text])
            return "substr(a.url, 1, ?) = ?"
        params.append(node.text)
        return "a.url = ?"
    return _khmer_sql(text_match(node), params)


def _range_sql(node: Range, params: list) -> str:
    parts = ["a.published_at IS NOT NULL"]
    if node.low is not None:
        parts.append(f"a.published_at {'>=' if node.include_low else '>'} ?")
        params.append(_iso(node.low))
    if node.high is not None:
        parts.append(f"a.published_at {'<=' if node.include_high else '<'} ?")
        params.append(_iso(node.high))
    return "(" + " AND ".join(parts) + ")"


def _khmer_sql(m: TextMatch, params: list) -> str:
    if len(m.needle) >= _TRIGRAM_MIN:
        quoted = '"' + m.needle.replace('"', '""') + '"'
        params.append(quoted if len(m.fields) == 2 else f"{m.fields[0]} : {quoted}")
        return "a.seq IN (SELECT rowid FROM articles_trigram WHERE articles_trigram MATCH ?)"
    tests = " OR ".join(f"instr({f}, ?) > 0" for f in m.fields)
    params.extend([m.needle] * len(m.fields))
    return f"a.seq IN (SELECT seq FROM articles_khmer WHERE {tests})"
