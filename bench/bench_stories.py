"""Benchmark story assignment: labelled precision/recall, then latency at 1,000,000 signatures.

    .venv/bin/python bench/bench_stories.py                       # both parts
    .venv/bin/python bench/bench_stories.py --skip-latency        # the labelled evaluation only
    .venv/bin/python bench/bench_stories.py --stored 100000 --db /tmp/bw-stories.db

Part 1 feeds the corpus of bench/gen_stories.py in publication order through ``StoryIndex``
exactly as the pipeline does (join the nearest story or start a new one; bodies without a
signature start their own story) and prints pairwise precision and recall of story assignment,
with exact body hashing (sha256 of the normalised body) as the baseline, and per copy kind the
share of copies placed in their true story. Part 2 stores ``--stored`` synthetic signatures
(direct band rows via executemany), then times assigning new articles (signature + nearest +
add, each in its own transaction) and prints median, p95, peak RSS and the file size.
Targets: precision >= 0.99, recall >= 0.95, median < 2 ms, memory < 2 GB.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import statistics
import struct
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_stories import generate

from crawler import stories
from crawler.db import connect, transaction
from crawler.stories import Signature, StoryIndex


def pairwise(labels: dict[str, str], predicted: dict[str, str]) -> tuple[float, float]:
    """Pairwise precision and recall of a clustering against the true labels."""

    def pairs(counter: Counter) -> int:
        return sum(n * (n - 1) // 2 for n in counter.values())

    both = pairs(Counter((predicted[a], labels[a]) for a in labels))
    pred = pairs(Counter(predicted.values()))
    true = pairs(Counter(labels.values()))
    return (both / pred if pred else 1.0), (both / true if true else 1.0)


def assign_minhash(corpus: list[dict], index: StoryIndex) -> dict[str, str]:
    """Story per article from the StoryIndex, fed in publication order."""
    out = {}
    for art in corpus:
        sig = index.signature(art["text"], art["language"])
        story = art["id"]
        if sig is not None:
            hit = index.nearest(sig)
            story = hit[0] if hit else art["id"]
            with transaction(index.conn):
                index.add(art["id"], story, sig)
        out[art["id"]] = story
    return out


def assign_exact(corpus: list[dict]) -> dict[str, str]:
    """Story per article by exact body hash (the baseline); an empty body is its own story."""
    first: dict[str, str] = {}
    out = {}
    for art in corpus:
        if not art["text"]:
            out[art["id"]] = art["id"]
            continue
        h = hashlib.sha256(art["text"].encode()).hexdigest()
        out[art["id"]] = first.setdefault(h, art["id"])
    return out


def evaluate(n_stories: int, seed: int) -> None:
    """Print precision/recall for the StoryIndex and the exact-hash baseline."""
    corpus = list(generate(n_stories, seed))
    labels = {a["id"]: a["story"] for a in corpus}
    kinds = Counter(a["kind"] for a in corpus)
    print(
        f"corpus: {len(corpus)} articles, {len(set(labels.values()))} true stories, "
        f"seed {seed}; kinds {dict(sorted(kinds.items()))}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        index = StoryIndex(connect(Path(tmp) / "eval.db"))
        t0 = time.perf_counter()
        got = assign_minhash(corpus, index)
        took = time.perf_counter() - t0
    for name, pred in (("minhash-lsh", got), ("exact-hash", assign_exact(corpus))):
        p, r = pairwise(labels, pred)
        print(f"{name:12s} pairwise precision {p:.4f}  recall {r:.4f}")
    print(f"minhash-lsh assigned {len(corpus)} articles in {took:.2f} s")
    print("share of copies in their true story's first-seen cluster, by kind:")
    first_of: dict[str, str] = {}
    for a in corpus:
        first_of.setdefault(a["story"], a["id"])
    placed: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for a in corpus:
        if a["kind"] in ("original", "tiny"):
            continue
        placed[a["kind"]][0] += got[a["id"]] == got[first_of[a["story"]]]
        placed[a["kind"]][1] += 1
    for kind, (ok, n) in sorted(placed.items()):
        print(f"  {kind:18s} {ok}/{n} = {ok / n:.3f}")


def compare_datasketch(n_stories: int, seed: int) -> None:
    """Same shingles, datasketch MinHash + in-memory MinHashLSH: quality and signature time."""
    from datasketch import MinHash, MinHashLSH  # optional: pip install datasketch

    corpus = list(generate(n_stories, seed))
    labels = {a["id"]: a["story"] for a in corpus}
    lsh = MinHashLSH(threshold=stories.MIN_JACCARD, num_perm=stories.NUM_HASHES)
    story_of: dict[str, str] = {}
    sizes: dict[str, int] = {}
    hashes: dict[str, MinHash] = {}
    pred, ds_ms, own_ms = {}, [], []
    for art in corpus:
        items = stories.shingles(art["text"])
        t = time.perf_counter()
        stories.minhash(items)
        own_ms.append((time.perf_counter() - t) * 1000)
        story = art["id"]
        if len(items) >= stories.MIN_SHINGLES:
            t = time.perf_counter()
            mh = MinHash(num_perm=stories.NUM_HASHES)
            mh.update_batch([s.encode() for s in items])
            ds_ms.append((time.perf_counter() - t) * 1000)
            best = None
            for other in lsh.query(mh):
                j = mh.jaccard(hashes[other])
                inter = j / (1 + j) * (len(items) + sizes[other])
                if j >= stories.STRONG_JACCARD or (
                    j >= stories.MIN_JACCARD
                    and inter / min(len(items), sizes[other]) >= stories.MIN_CONTAINMENT
                ):
                    best = max(best or (j, other), (j, other))
            story = story_of[best[1]] if best else art["id"]
            lsh.insert(art["id"], mh)
            hashes[art["id"]], sizes[art["id"]], story_of[art["id"]] = mh, len(items), story
        pred[art["id"]] = story
    p, r = pairwise(labels, pred)
    print(f"datasketch   pairwise precision {p:.4f}  recall {r:.4f}  (MinHashLSH in memory)")
    print(
        f"minhash of one body: datasketch median {statistics.median(ds_ms):.3f} ms, "
        f"own one-permutation median {statistics.median(own_ms):.3f} ms"
    )


def synthetic_signature(rng: random.Random) -> Signature:
    """A random signature (57-bit values), as if of an unrelated ~500-shingle body."""
    return Signature(tuple(rng.getrandbits(57) for _ in range(stories.NUM_HASHES)), 500)


def fill(index: StoryIndex, n: int, rng: random.Random) -> None:
    """Store ``n`` synthetic signatures fast: direct signature and band rows in big batches."""
    conn = index.conn
    start = index.count()
    batch = 20_000
    t0 = time.perf_counter()
    for lo in range(start, n, batch):
        sigs, bands = [], []
        for seq in range(lo + 1, min(n, lo + batch) + 1):
            sig = synthetic_signature(rng)
            sigs.append(
                (
                    seq,
                    f"syn{seq:08d}",
                    f"syn{seq:08d}",
                    sig.shingles,
                    struct.pack(f"<{stories.NUM_HASHES}Q", *sig.values),
                )
            )
            bands.extend((k, seq) for k in sig.band_keys())
        bands.sort()
        with transaction(conn):
            conn.executemany("INSERT INTO story_signatures VALUES (?, ?, ?, ?, ?)", sigs)
            conn.executemany("INSERT INTO story_bands VALUES (?, ?)", bands)
        done = min(n, lo + batch)
        rate = (done - start) / (time.perf_counter() - t0)
        print(f"\rstored {done:,}/{n:,} signatures ({rate:,.0f}/s)", end="", file=sys.stderr)
    print(file=sys.stderr)


def latency(stored: int, db: str | None, queries: int, seed: int, cache_mib: int) -> None:
    """Print assignment latency (signature + nearest + add) with ``stored`` signatures."""
    tmp = None
    if db is None:
        tmp = tempfile.TemporaryDirectory()
        db = str(Path(tmp.name) / "stories.db")
    conn = connect(db)
    if cache_mib:
        conn.execute(f"PRAGMA cache_size=-{cache_mib * 1024}")
    index = StoryIndex(conn)
    t0 = time.perf_counter()
    fill(index, stored, random.Random(seed))
    print(f"fill: {index.count():,} signatures stored in {time.perf_counter() - t0:.1f} s")
    corpus = [a for a in generate(max(60, queries // 3), seed + 1) if a["kind"] != "tiny"]
    times, joined = [], 0
    for i, art in enumerate(corpus[:queries]):
        t = time.perf_counter()
        sig = index.signature(art["text"], art["language"])
        if sig is not None:
            hit = index.nearest(sig)
            with transaction(conn):
                index.add(art["id"], hit[0] if hit else art["id"], sig)
            joined += hit is not None
        times.append((time.perf_counter() - t) * 1000)
        if i % 100 == 0:
            print(f"\rquery {i}/{queries}", end="", file=sys.stderr)
    print(file=sys.stderr)
    times.sort()
    p95 = times[int(0.95 * (len(times) - 1))]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size_mb = sum(p.stat().st_size for p in Path(db).parent.glob(Path(db).name + "*")) / 2**20
    print(
        f"assign one article with {stored:,} stored: median {statistics.median(times):.3f} ms"
        f"  p95 {p95:.3f} ms  ({len(times)} articles, {joined} joined a story)"
    )
    print(f"peak RSS {rss_mb:.0f} MiB; database file {size_mb:.0f} MiB")
    conn.close()
    if tmp is not None:
        tmp.cleanup()


def main() -> None:
    """Run the labelled evaluation and the latency benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=480, help="original stories in the corpus")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--stored", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--db", help="database file for the latency part (reused if present)")
    parser.add_argument("--cache-mib", type=int, default=0, help="SQLite page cache (0: default)")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--compare-datasketch", action="store_true", help="needs datasketch")
    args = parser.parse_args()
    evaluate(args.stories, args.seed)
    if args.compare_datasketch:
        compare_datasketch(args.stories, args.seed)
    if not args.skip_latency:
        latency(args.stored, args.db, args.queries, args.seed, args.cache_mib)


if __name__ == "__main__":
    main()
