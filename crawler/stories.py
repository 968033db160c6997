"""Near-duplicate story detection: MinHash signatures with LSH banding, persisted in SQLite.

A body's signature is a one-permutation MinHash (Li, Owen & Zhang 2012) with rotation
densification (Shrivastava & Li 2014) over its shingles: word 4-grams of Latin paragraphs, and
character 12-grams of Khmer paragraphs (Khmer writes no spaces between words). Short boilerplate
paragraphs ("Read more", bylines, share buttons) are dropped first, and a body left with too few
shingles has no signature, so empty or tiny pages never cluster together.

The index lives in the caller's SQLite file: one row per article (its signature as a blob) and
``BANDS`` rows per article keyed by the hash of a band of ``ROWS`` MinHash values. A lookup is
one indexed query over the band keys, then an exact comparison of the candidates' signatures;
nothing is loaded into memory at start, so memory stays bounded as the corpus grows.
"""

from __future__ import annotations

import re
import sqlite3
import struct
from dataclasses import dataclass
from hashlib import blake2b

from crawler.text import has_khmer, words

NUM_HASHES = 128  # MinHash values per signature (one-permutation bins)
ROWS = 2  # values per LSH band
BANDS = 32  # bands over the first BANDS * ROWS values; all NUM_HASHES verify a candidate
LATIN_SHINGLE = 4  # words
KHMER_SHINGLE = 12  # characters (about two words)
MIN_SHINGLES = 30  # fewer than this after boilerplate removal: no signature
MIN_JACCARD = 0.2  # estimated Jaccard below this never joins
MIN_CONTAINMENT = 0.6  # estimated share of the smaller body found in the larger
STRONG_JACCARD = 0.5  # joins whatever the containment
MAX_CANDIDATES = 64  # signatures compared exactly per lookup, most shared bands first

_MIN_WORDS = 8
_MIN_KHMER_CHARS = 40
_BIN_BITS = 7  # log2(NUM_HASHES)
_VALUE_MASK = (1 << (64 - _BIN_BITS)) - 1
_SIG_FORMAT = f"<{NUM_HASHES}Q"
_KHMER_LETTER = re.compile("[\u1780-\u17ff\u19e0-\u19ff]")
_LETTER = re.compile(r"[^\W\d_]")
_NOT_KHMER = re.compile("[^\u1780-\u17d3\u17d7\u17dc-\u17ff\u19e0-\u19ff0-9]+")
_BOILERPLATE = re.compile(
    r"^\W*(read (more|also|next)|related( stories| articles)?\b|follow us|subscribe|sign up|"
    r"share (this|on)|click here|copyright|all rights reserved|photo\b|image\b|source\b|"
    r"this (article|story) (first )?(appeared|was (first )?published)|download our app|"
    r"join our|like us on|advertisement)",
    re.IGNORECASE,
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS story_signatures (
    seq INTEGER PRIMARY KEY,
    article_id TEXT NOT NULL UNIQUE,
    story_id TEXT NOT NULL,
    shingles INTEGER NOT NULL,
    sig BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS story_signatures_story ON story_signatures (story_id, seq);
CREATE TABLE IF NOT EXISTS story_bands (
    key INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (key, seq)
) WITHOUT ROWID;
"""

assert NUM_HASHES == 1 << _BIN_BITS and BANDS * ROWS <= NUM_HASHES


@dataclass(frozen=True)
class Signature:
    """The MinHash of one body: ``NUM_HASHES`` 57-bit values and the number of shingles."""

    values: tuple[int, ...]
    shingles: int

    def jaccard(self, other: Signature) -> float:
        """The estimated Jaccard similarity of the two bodies' shingle sets."""
        same = sum(a == b for a, b in zip(self.values, other.values, strict=True))
        return same / NUM_HASHES

    def containment(self, other: Signature, jaccard: float) -> float:
        """The estimated share of the smaller body's shingles that the other body also has."""
        inter = jaccard / (1.0 + jaccard) * (self.shingles + other.shingles)
        return min(1.0, inter / min(self.shingles, other.shingles))

    def band_keys(self) -> list[int]:
        """One signed 64-bit key per LSH band (the band number is part of the hashed bytes)."""
        packed = struct.pack(_SIG_FORMAT, *self.values)
        width = 8 * ROWS
        return [
            _hash64(bytes((band,)) + packed[band * width : (band + 1) * width], signed=True)
            for band in range(BANDS)
        ]


def content_paragraphs(text: str) -> list[tuple[bool, list[str] | str]]:
    """The content paragraphs of a normalised body, boilerplate lines dropped.

    Each is ``(True, khmer_chars)`` for a Khmer paragraph (its letters, signs and digits, no
    spaces or punctuation) or ``(False, words)`` for any other.
    """
    kept: list[tuple[bool, list[str] | str]] = []
    for para in text.split("\n"):
        if not para or _BOILERPLATE.match(para):
            continue
        if has_khmer(para) and _is_khmer(para):
            chars = _NOT_KHMER.sub("", para)
            if len(chars) >= _MIN_KHMER_CHARS:
                kept.append((True, chars))
        else:
            ws = words(para)
            if len(ws) >= _MIN_WORDS:
                kept.append((False, ws))
    return kept


def shingles(text: str) -> set[str]:
    """The shingle set of a normalised body: word 4-grams (Latin), character 12-grams (Khmer)."""
    out: set[str] = set()
    for khmer, seq in content_paragraphs(text):
        if khmer:
            n = KHMER_SHINGLE
            out.update(seq[i : i + n] for i in range(len(seq) - n + 1))
        else:
            n = LATIN_SHINGLE
            out.update(map(" ".join, zip(*(seq[i:] for i in range(n)), strict=False)))
    return out


def minhash(items: set[str]) -> tuple[int, ...]:
    """One-permutation MinHash of ``items`` with rotation densification for empty bins."""
    bins: list[int | None] = [None] * NUM_HASHES
    shift, mask, from_bytes = 64 - _BIN_BITS, _VALUE_MASK, int.from_bytes
    for item in items:
        h = from_bytes(blake2b(item.encode(), digest_size=8).digest(), "little")
        b, v = h >> shift, h & mask
        cur = bins[b]
        if cur is None or v < cur:
            bins[b] = v
    if None in bins:
        return _densify(bins)
    return tuple(bins)  # type: ignore[arg-type]


def _densify(bins: list[int | None]) -> tuple[int, ...]:
    # An empty bin takes the value of the next non-empty bin to its right (circularly), offset by
    # the distance so that borrowed values differ from original ones.
    out = list(bins)
    for i in range(NUM_HASHES):
        if bins[i] is None:
            for d in range(1, NUM_HASHES):
                v = bins[(i + d) % NUM_HASHES]
                if v is not None:
                    out[i] = (v + d * (_VALUE_MASK + 1)) & 0xFFFFFFFFFFFFFFFF
                    break
    return tuple(out)  # type: ignore[arg-type]


def _hash64(data: bytes, signed: bool = False) -> int:
    return int.from_bytes(blake2b(data, digest_size=8).digest(), "little", signed=signed)


def _is_khmer(para: str) -> bool:
    letters = len(_LETTER.findall(para))
    return letters > 0 and 2 * len(_KHMER_LETTER.findall(para)) >= letters


class StoryIndex:
    """Near-duplicate index persisted in the SQLite file; survives restarts; memory bounded."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        for statement in _SCHEMA.split(";"):  # executescript would COMMIT a caller's transaction
            if statement.strip():
                conn.execute(statement)

    def signature(self, text: str, language: str | None = None) -> Signature | None:
        """The signature of a normalised body, or None if too little content is left to compare.

        ``language`` is accepted for the interface; the script of each paragraph decides how it
        is shingled, so a mixed Khmer/English page needs no language hint.
        """
        items = shingles(text)
        if len(items) < MIN_SHINGLES:
            return None
        return Signature(minhash(items), len(items))

    def nearest(self, sig: Signature) -> tuple[str, float] | None:
        """(story_id, estimated Jaccard) of the nearest stored near-duplicate, else None.

        Among equally similar candidates the oldest story wins.
        """
        keys = sig.band_keys()
        marks = ",".join("?" * len(keys))
        rows = self.conn.execute(
            f"SELECT seq, count(*) AS n FROM story_bands WHERE key IN ({marks}) "
            "GROUP BY seq ORDER BY n DESC, seq LIMIT ?",
            (*keys, MAX_CANDIDATES),
        ).fetchall()
        if not rows:
            return None
        marks = ",".join("?" * len(rows))
        best: tuple[float, int, str] | None = None  # (-jaccard, story's first seq, story_id)
        for row in self.conn.execute(
            "SELECT s.story_id, s.shingles, s.sig, "
            "(SELECT min(seq) FROM story_signatures f WHERE f.story_id = s.story_id) AS first "
            f"FROM story_signatures s WHERE s.seq IN ({marks})",
            [r["seq"] for r in rows],
        ):
            other = Signature(struct.unpack(_SIG_FORMAT, row["sig"]), row["shingles"])
            j = sig.jaccard(other)
            if not _joins(sig, other, j):
                continue
            key = (-j, row["first"], row["story_id"])
            if best is None or key < best:
                best = key
        return (best[2], -best[0]) if best is not None else None

    def add(self, article_id: str, story_id: str, sig: Signature) -> None:
        """Store the article's signature, replacing its earlier one (an edit).

        Runs inside the caller's transaction (``crawler.db.transaction``) if there is one.
        """
        blob = struct.pack(_SIG_FORMAT, *sig.values)
        old = self.conn.execute(
            "SELECT seq, sig FROM story_signatures WHERE article_id = ?", (article_id,)
        ).fetchone()
        if old is not None:
            seq = old["seq"]
            previous = Signature(struct.unpack(_SIG_FORMAT, old["sig"]), 1)
            self.conn.executemany(
                "DELETE FROM story_bands WHERE key = ? AND seq = ?",
                [(k, seq) for k in previous.band_keys()],
            )
            self.conn.execute(
                "UPDATE story_signatures SET story_id = ?, shingles = ?, sig = ? WHERE seq = ?",
                (story_id, sig.shingles, blob, seq),
            )
        else:
            seq = self.conn.execute(
                "INSERT INTO story_signatures (article_id, story_id, shingles, sig) "
                "VALUES (?, ?, ?, ?)",
                (article_id, story_id, sig.shingles, blob),
            ).lastrowid
        self.conn.executemany(
            "INSERT OR IGNORE INTO story_bands (key, seq) VALUES (?, ?)",
            [(k, seq) for k in sig.band_keys()],
        )

    def count(self) -> int:
        """The number of articles with a stored signature."""
        return self.conn.execute("SELECT count(*) FROM story_signatures").fetchone()[0]


def _joins(a: Signature, b: Signature, jaccard: float) -> bool:
    if jaccard >= STRONG_JACCARD:
        return True
    return jaccard >= MIN_JACCARD and a.containment(b, jaccard) >= MIN_CONTAINMENT
