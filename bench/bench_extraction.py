"""Pages per second and body-text F1 of spiders.extraction.extract on the fixture pages.

Compares trafilatura settings (defaults, favor_precision, fast, favor_recall) on the fixture
article pages repeated to about 500 pages, and trafilatura's bare_extraction alone to show
what extract() adds on top. F1 is over word tokens against tests/fixture_site/expected/.

    .venv/bin/python bench/bench_extraction.py [--pages 500]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from spiders.extraction import TRAFILATURA_SETTINGS, extract

SITE = Path(__file__).resolve().parent.parent / "tests" / "fixture_site"
BASE = "http://127.0.0.2:8123"
COMMON = {"with_metadata": True, "include_comments": False, "include_tables": False}
CONFIGS = {
    "defaults (comments on)": {"with_metadata": True},
    "defaults": COMMON,
    "favor_precision": {**COMMON, "favor_precision": True},
    "favor_precision (shipped)": dict(TRAFILATURA_SETTINGS),
    "fast": {**COMMON, "fast": True},
    "favor_recall": {**COMMON, "favor_recall": True},
}


def fixture_pages() -> list[tuple[str, bytes, str]]:
    """(url, page bytes, expected body) for every fixture page that has an expected body."""
    pages = []
    for txt in sorted((SITE / "expected").rglob("*.txt")):
        rel = txt.relative_to(SITE / "expected").with_suffix("")
        outlet, path = rel.parts[0], "/".join(rel.parts[1:])
        raw = (SITE / outlet / path / "index.html").read_bytes()
        pages.append((f"{BASE}/{path}/", raw.replace(b"{{BASE}}", BASE.encode()), txt.read_text()))
    return pages


def f1(got: str, want: str) -> float:
    tokens_got = Counter(re.findall(r"\w+", got.replace("\u200b", "")))
    tokens_want = Counter(re.findall(r"\w+", want.replace("\u200b", "")))
    overlap = sum((tokens_got & tokens_want).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(tokens_got.values()), overlap / sum(tokens_want.values())
    return 2 * precision * recall / (precision + recall)


def measure(run, pages, total: int) -> float:
    """Pages per second of ``run(url, raw)`` over ``total`` pages cycling through ``pages``."""
    start = time.perf_counter()
    for i in range(total):
        url, raw, _ = pages[i % len(pages)]
        run(url, raw)
    return total / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    args = parser.parse_args()
    pages = fixture_pages()
    print(f"{len(pages)} fixture article pages, {args.pages} extractions per row\n")
    print(f"{'settings':<28} {'pages/s':>8} {'mean F1':>8} {'min F1':>7} {'exact':>6}")
    for name, settings in CONFIGS.items():
        scores = [f1(extract(raw, url, settings=settings).text, want) for url, raw, want in pages]
        exact = sum(
            extract(raw, url, settings=settings).text == want.strip() for url, raw, want in pages
        )
        rate = measure(
            lambda url, raw, s=settings: extract(raw, url, settings=s), pages, args.pages
        )
        mean = sum(scores) / len(scores)
        print(f"{name:<28} {rate:8.1f} {mean:8.3f} {min(scores):7.3f} {exact:3d}/{len(pages)}")
    bare = dict(TRAFILATURA_SETTINGS)
    rate = measure(
        lambda url, raw: trafilatura.bare_extraction(raw, url=url, **bare), pages, args.pages
    )
    print(f"{'bare_extraction, shipped':<28} {rate:8.1f}   (trafilatura alone, no extract() work)")


if __name__ == "__main__":
    main()
