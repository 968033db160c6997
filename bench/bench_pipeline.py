"""Processing throughput: pages on disk through extract, scope, dedup, match and store.

Pins itself to one core, writes N distinct article pages (variants of the fixture outlets' pages)
to a temp folder, then runs each through the real pipeline stages with the shipped scope and
200 alert rules (the shipped beat rules plus synthetic ones), storing into a fresh SQLite file.
Prints articles/s for the whole path and the time each stage takes per article.

    .venv/bin/python bench/bench_pipeline.py [--pages 1000] [--rules 200]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerts.matcher import Matcher, RuleSet  # noqa: E402
from crawler import db  # noqa: E402
from crawler.config import load_config  # noqa: E402
from crawler.models import FeedFields, FetchedPage  # noqa: E402
from crawler.pipeline import Candidate, Dropped  # noqa: E402
from crawler.pipeline.alert import AlertMatchStage  # noqa: E402
from crawler.pipeline.dedup import DedupStage  # noqa: E402
from crawler.pipeline.normalise import NormaliseStage  # noqa: E402
from crawler.pipeline.scope import ScopeStage  # noqa: E402
from crawler.pipeline.store import StoreStage  # noqa: E402
from crawler.runtime import Runtime  # noqa: E402
from crawler.state import RunState  # noqa: E402
from crawler.stories import StoryIndex  # noqa: E402
from indexer import SQLiteStore  # noqa: E402
from spiders.extraction import extract  # noqa: E402

SITE = ROOT / "tests" / "fixture_site"
WORDS = [
    "ministry",
    "navy",
    "pier",
    "drills",
    "officials",
    "statement",
    "embassy",
    "training",
    "exercise",
    "sanctions",
    "court",
    "appeal",
    "border",
    "visit",
    "minister",
    "general",
    "commander",
    "agreement",
    "talks",
    "port",
    "ship",
    "budget",
    "aid",
    "delegation",
    "security",
    "cooperation",
    "defence",
    "partnership",
    "province",
    "capital",
    "Washington",
    "Beijing",
]


def fixture_pages() -> list[tuple[Path, str]]:
    """The article pages of the three outlets, with their text as served."""
    pages = []
    for outlet in ("wp-news", "atom-times", "khmer-daily"):
        for path in sorted((SITE / outlet).rglob("index.html")):
            if "private" not in path.parts:
                pages.append((path, outlet))
    return pages


def body_paragraphs(path: Path, outlet: str) -> list[str]:
    """The page's body paragraphs, from the extraction fixtures' expected text."""
    rel = path.parent.relative_to(SITE / outlet)
    expected = (SITE / "expected" / outlet / rel).with_suffix(".txt").read_text(encoding="utf-8")
    return [p for p in expected.split("\n") if len(p) > 40]


def write_variants(folder: Path, count: int, rng: random.Random) -> list[tuple[Path, str, str]]:
    """``count`` distinct stories: each fixture page with the words of its body paragraphs
    shuffled (same vocabulary and page weight, but no longer near-duplicates of each other)."""
    sources = [(path, outlet, body_paragraphs(path, outlet)) for path, outlet in fixture_pages()]
    out = []
    for i in range(count):
        path, outlet, paragraphs = sources[i % len(sources)]
        html = path.read_text(encoding="utf-8").replace("{{BASE}}", f"http://{outlet}.example")
        for paragraph in paragraphs:
            shuffled = paragraph.split()
            rng.shuffle(shuffled)
            html = html.replace(paragraph, " ".join(shuffled), 1)
        target = folder / f"page-{i:05d}.html"
        target.write_text(html, encoding="utf-8")
        out.append((target, outlet, f"http://{outlet}.example/variant/{i}/"))
    return out


def build_rules(count: int, rng: random.Random) -> dict[str, str]:
    """The shipped beat rules, then synthetic phrase/boolean rules up to ``count``."""
    shipped = load_config(ROOT / "config" / "beatwatch.yaml").alerts.rules
    rules = {r.name: r.query for r in shipped}
    while len(rules) < count:
        a, b, c = rng.sample(WORDS, 3)
        shape = rng.randrange(4)
        query = [f'"{a} {b}"', f"{a} AND ({b} OR {c})", f'"{a} {b}"~3 -{c}', f"{a}* AND {b}"][shape]
        rules[f"synthetic-{len(rules)}"] = query
    return rules


def run(pages: int, rule_count: int) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        variants = write_variants(folder, pages, rng)
        rules = RuleSet(build_rules(rule_count, rng))
        scope = Matcher(load_config(ROOT / "config" / "beatwatch.yaml").scope)
        conn = db.connect(folder / "bench.db")
        store = SQLiteStore(conn)
        runtime = Runtime(
            settings=None,
            conn=conn,
            store=store,
            state=RunState(conn),
            rules=rules,
            rule_modes={name: "immediate" for name in rules.matchers},
            scope=scope,
            stories=StoryIndex(conn),
        )
        stages = {
            "normalise": NormaliseStage(),
            "scope": ScopeStage(scope),
            "dedup": DedupStage(store, runtime.stories),
            "match": AlertMatchStage(rules),
            "store": StoreStage(runtime),
        }
        timings: dict[str, list[float]] = defaultdict(list)
        hits = 0
        outcomes: Counter[str] = Counter()
        start = time.perf_counter()
        for n, (path, outlet, url) in enumerate(variants, 1):
            t0 = time.perf_counter()
            body = path.read_bytes()
            page = extract(body, url)
            t1 = time.perf_counter()
            timings["extract"].append(t1 - t0)
            item: FetchedPage | Candidate = FetchedPage(
                source=outlet,
                url=url,
                fetch_url=url,
                fetched_at=datetime.now(UTC),
                title=page.title,
                text=page.text,
                published_at=page.published_at,
                authors=page.authors,
                language=page.language,
                rel_canonical=None,
                entry=FeedFields(),
            )
            try:
                for name, stage in stages.items():
                    t = time.perf_counter()
                    item = stage.process_item(item)
                    timings[name].append(time.perf_counter() - t)
            except Dropped as dropped:
                outcomes[dropped.outcome] += 1
                continue
            outcomes[item.outcome] += 1
            hits += len(item.hits)
            if n % 200 == 0:
                print(f"  {n}/{pages} pages", file=sys.stderr)
        elapsed = time.perf_counter() - start
        conn.close()
    print(f"pages: {pages}, rules: {rule_count} + the shipped scope, alert hits: {hits}, one core")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    print(f"whole path: {pages / elapsed:.1f} articles/s ({elapsed:.2f} s)")
    extract_total = sum(timings["extract"])
    print(f"extraction alone: {pages / extract_total:.1f} pages/s")
    print(f"{'stage':<10} {'median ms':>10} {'mean ms':>10} {'share':>7}")
    for name, values in timings.items():
        share = sum(values) / elapsed
        print(
            f"{name:<10} {statistics.median(values) * 1e3:>10.2f} "
            f"{statistics.fmean(values) * 1e3:>10.2f} {share:>6.0%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--rules", type=int, default=200)
    args = parser.parse_args()
    run(args.pages, args.rules)


if __name__ == "__main__":
    main()
