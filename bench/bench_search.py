"""Benchmark the embedded store: index build rate and search latency with snippets.

    .venv/bin/python bench/bench_search.py                 # 100,000 articles, temporary file
    .venv/bin/python bench/bench_search.py --articles 20000 --db /tmp/bw-bench.db   # reuse

Generates seeded synthetic articles (~400 words of English-like text with the beat's phrases
sprinkled in at low rates, 5% of them copies of an earlier story), then times each query 30
times after a warm-up (limit 20, one hit per story, snippets included) and prints the median and
95th percentile in milliseconds. Target: median under 50 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.db import connect, transaction
from crawler.models import Article
from indexer.sqlite import SQLiteStore

QUERIES = ['"military cooperation" AND "Kem Sokha"', '"Ream Naval Base" OR "Angkor Sentinel"']
PHRASES = [  # (phrase, chance per article)
    ("military cooperation", 0.03),
    ("Kem Sokha", 0.02),
    ("Ream Naval Base", 0.01),
    ("Angkor Sentinel", 0.005),
    ("sanctions", 0.02),
]
_COMMON_WORDS = (
    "the of and to a in that is was he for it with as his on be at by had are but from or have "
    "an they which one you were her all she there would their we him been has when who will more "
    "no if out so said what up its about into than them can only other new some could time these "
    "two may then do first any my now such like our over man me even most made after also did "
    "many before must through back years where much your way well down should because each just "
    "those people how too little state good very make world still own see men work long get here "
    "between both life being under never day same another know while last might us great old year "
    "off come since against go came right used take three"
)
_TOPICAL_WORDS = (
    "government minister ministry defence army navy officials port pier dock base talks treaty "
    "court verdict appeal opposition election party parliament embassy ambassador envoy washington "
    "beijing phnom penh cambodia china united states military training exercise drills soldiers "
    "officers equipment funding aid investment trade exports tariffs garment factory workers union "
    "province district river border thailand vietnam laos mekong dam energy electricity road "
    "bridge airport tourism angkor temple festival monsoon rice farmers harvest prices inflation "
    "bank loan debt budget tax reform police arrest journalist media press statement spokesman "
    "analyst report survey satellite images dredging coast sihanoukville kampot koh kong ream "
    "sentinel cooperation relations ties visit meeting summit delegation agreement signed"
)
COMMON = _COMMON_WORDS.split()
TOPICAL = _TOPICAL_WORDS.split()


def _vocabulary(rng: random.Random) -> tuple[list[str], list[float]]:
    syllables = ["ka", "ro", "mi", "te", "sa", "lon", "vir", "dan", "pel", "tor", "es", "ing"]
    rare = {"".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(6000)}
    vocab = COMMON + TOPICAL + sorted(rare)
    weights = [1.0 / (rank + 1) ** 1.05 for rank in range(len(vocab))]  # roughly Zipf
    return vocab, weights


def _text(rng: random.Random, vocab: list[str], weights: list[float], n_words: int) -> str:
    body = rng.choices(vocab, weights, k=n_words)
    for phrase, rate in PHRASES:
        if rng.random() < rate:
            body.insert(rng.randrange(len(body)), phrase)
    sentences, i = [], 0
    while i < len(body):
        n = rng.randint(8, 22)
        sentence = " ".join(body[i : i + n])
        sentences.append(sentence[:1].upper() + sentence[1:] + ".")
        i += n
    return "\n\n".join(" ".join(sentences[j : j + 4]) for j in range(0, len(sentences), 4))


def build(store: SQLiteStore, n: int, seed: int = 7) -> float:
    """Insert ``n`` synthetic articles; return articles per second."""
    rng = random.Random(seed)
    vocab, weights = _vocabulary(rng)
    start = time.perf_counter()
    base = datetime(2025, 1, 1, tzinfo=UTC)
    stories: list[tuple[str, str]] = []
    batch = 1000
    for first in range(0, n, batch):
        with transaction(store.conn):
            for i in range(first, min(n, first + batch)):
                store.put(_article(rng, i, base, vocab, weights, stories))
        done = min(n, first + batch)
        rate = done / (time.perf_counter() - start)
        print(f"\rindexed {done:,}/{n:,} ({rate:,.0f}/s)", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return n / (time.perf_counter() - start)


def _article(rng, i, base, vocab, weights, stories) -> Article:
    url = f"https://outlet{i % 12}.example.org/news/{i}"
    aid = hashlib.sha256(url.encode()).hexdigest()
    if stories and rng.random() < 0.05:
        story_id, text = rng.choice(stories)
    else:
        story_id, text = aid, _text(rng, vocab, weights, rng.randint(300, 500))
        if len(stories) < 5000:
            stories.append((story_id, text))
    title = " ".join(rng.choices(vocab, weights, k=rng.randint(5, 10))).capitalize()
    when = base + timedelta(minutes=7 * i)
    return Article(
        id=aid,
        url=url,
        source=f"outlet{i % 12}",
        title=title,
        text=text,
        published_at=when,
        fetched_at=when + timedelta(minutes=5),
        language="en",
        body_hash=hashlib.sha256(text.encode()).hexdigest(),
        story_id=story_id,
    )


def time_query(store: SQLiteStore, query: str, runs: int = 30) -> tuple[float, float, int]:
    """Median and p95 milliseconds of ``store.search(query)`` with snippets, and the total."""
    total = store.search(query, limit=20).total  # warm-up
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        store.search(query, limit=20)
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))], total


def main() -> None:
    """Build (or reuse) the benchmark database and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=100_000)
    ap.add_argument("--db", type=Path, help="database file to build or reuse")
    args = ap.parse_args()
    tmp = None
    if args.db is None:
        tmp = tempfile.TemporaryDirectory(prefix="bw-bench-")
        args.db = Path(tmp.name) / "bench.db"
    store = SQLiteStore(connect(args.db))
    have = store.count()
    if have < args.articles:
        if have:
            sys.exit(f"{args.db} holds {have} articles, fewer than --articles; use a new file")
        rate = build(store, args.articles)
        print(f"index build: {args.articles:,} articles at {rate:,.0f} articles/s")
    else:
        print(f"reusing {args.db} ({have:,} articles)")
    for query in QUERIES:
        median, p95, total = time_query(store, query)
        print(f"{query}: median {median:.1f} ms, p95 {p95:.1f} ms ({total:,} stories)")
    store.conn.close()
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
