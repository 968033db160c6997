"""Parse a 50,000-URL Google News sitemap and filter it to a 3-day window, on one core.

Generates the sitemap (seeded: the same bytes every run), then times parse_sitemap +
filter_entries over it, plain and gzipped, several runs each, pinned to one CPU. Peak memory
is measured in a fresh child process per variant that only reads the body and parses it, so
neither generating the sitemap nor another variant's peak is counted.
Targets (issue 3): under 5 s, under 300 MB.

    .venv/bin/python bench/bench_sitemap.py [--urls 50000] [--runs 5]
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from spiders.sitemaps import filter_entries, parse_sitemap

END = datetime(2026, 11, 6, 12, tzinfo=UTC)
SINCE = END - timedelta(days=3)
ICT = timezone(timedelta(hours=7))
URL = "https://news.example.org/news-sitemap.xml"
HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
    ' xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">'
)
WORDS = ("Ream", "naval", "base", "defence", "talks", "sanctions", "court", "appeal", "pier",
         "drills", "port", "ministry")  # fmt: skip


def news_sitemap(count: int, seed: int = 20261106) -> bytes:
    """A Google News sitemap of ``count`` urls over the 30 days before END, like a big outlet's."""
    rng = random.Random(seed)
    parts = [HEAD]
    for i in range(count):
        when = (END - timedelta(seconds=rng.randrange(30 * 86400))).astimezone(ICT)
        slug = "-".join(rng.choices(WORDS, k=6))
        title = " ".join(rng.choices(WORDS, k=9)).capitalize()
        stamp = when.isoformat(timespec="seconds")
        parts.append(
            f"<url><loc>https://news.example.org/{when:%Y/%m}/{slug}-{i}/</loc>"
            f"<lastmod>{stamp}</lastmod>"
            "<news:news><news:publication><news:name>Example News</news:name>"
            "<news:language>en</news:language></news:publication>"
            f"<news:publication_date>{stamp}</news:publication_date>"
            f"<news:title>{title} &amp; more</news:title></news:news>"
            f"<image:image><image:loc>https://img.example.org/{i}.jpg</image:loc></image:image>"
            "</url>"
        )
    parts.append("</urlset>\n")
    return "\n".join(parts).encode()


def run_once(body: bytes) -> tuple[float, int, int]:
    """Seconds for parse + filter, total entries, entries in the window."""
    start = time.perf_counter()
    sitemap = parse_sitemap(body, URL)
    recent = filter_entries(sitemap.entries, since=SINCE, until=END)
    elapsed = time.perf_counter() - start
    assert sitemap.ok and not sitemap.warnings, sitemap.warnings
    return elapsed, len(sitemap.entries), len(recent)


def pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity here)"


def peak_mb_in_child(body: bytes) -> tuple[float, float]:
    """Peak RSS of a fresh process that reads ``body`` from a file, before and after parsing it."""
    with tempfile.NamedTemporaryFile(suffix=".xml") as handle:
        handle.write(body)
        handle.flush()
        out = subprocess.run(
            [sys.executable, __file__, "--child", handle.name],
            check=True,
            capture_output=True,
            text=True,
        )
    before, after = out.stdout.split()[-2:]
    return float(before), float(after)


def peak_rss_mb() -> float:
    """This process's peak RSS: Linux VmHWM (ru_maxrss there survives the exec from a big
    parent, so it would report the parent's peak), else ru_maxrss."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def child(path: str) -> None:
    pin_one_core()
    body = Path(path).read_bytes()
    before = peak_rss_mb()
    run_once(body)
    print(f"{before:.1f} {peak_rss_mb():.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    print(pin_one_core())
    plain = news_sitemap(args.urls)
    packed = gzip.compress(plain)
    print(f"{args.urls} urls: {len(plain) / 1e6:.1f} MB plain, {len(packed) / 1e6:.1f} MB gzipped")
    print(f"window {SINCE:%Y-%m-%d %H:%M} .. {END:%Y-%m-%d %H:%M} UTC\n")
    print(f"{'variant':<8} {'median s':>9} {'min s':>7} {'max s':>7} {'entries':>8}"
          f" {'in window':>10} {'peak RSS MB':>12} {'before parse':>13}")  # fmt: skip
    for name, body in (("plain", plain), ("gzip", packed)):
        runs = [run_once(body) for _ in range(args.runs)]
        times = [t for t, _, _ in runs]
        _, total, recent = runs[0]
        before, peak = peak_mb_in_child(body)
        print(f"{name:<8} {statistics.median(times):9.3f} {min(times):7.3f} {max(times):7.3f}"
              f" {total:8d} {recent:10d} {peak:12.1f} {before:13.1f}")  # fmt: skip
    print("\ntargets: median < 5 s, peak RSS < 300 MB ('before parse': interpreter and body)")


if __name__ == "__main__":
    main()
