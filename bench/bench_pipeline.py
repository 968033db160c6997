"""Processing throughput: pages on disk through extract, scope, dedup, match and store.

Pins itself to one core, writes N distinct article pages (variants of the fixture outlets' pages)
to a temp folder, then runs each through the real pipeline stages with the shipped scope and
200 alert rules (the shipped beat rules plus synthetic ones), storing into a fresh SQLite file.
Prints articles/s for the whole path and the time each stage takes per article.

``--backend elasticsearch`` stores through ``ElasticStore`` instead: each article is written to
the SQLite file and queued in the spool (StoreStage), batches of 500 are sent from StoreStage
(``store.sync()``), and the final ``sync(force=True)`` is inside the timed region. The target is
tests/es_standin.py (NOT Elasticsearch) run in a child process pinned to the other core, so its
own CPU is not charged to the pipeline (the wall time still includes waiting for its answers;
its CPU time is printed). ``--spooled N`` first fills the spool with N rows of earlier crawls
(an archive of N articles has N rows: one per article). ``--compare`` runs both backends on the
same pages (alternately, ``--rounds`` times each (default 3), best kept, after a short warm-up)
and prints the overhead: between the best runs, and measured inside each elasticsearch run.

    .venv/bin/python bench/bench_pipeline.py [--pages 1000] [--rules 200]
        [--backend sqlite|elasticsearch] [--target standin|osmem|URL] [--spooled 0]
        [--compare [--rounds 3]]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from elasticsearch import Elasticsearch  # noqa: E402

from alerts.matcher import Matcher, RuleSet  # noqa: E402
from bench.bench_elastic import Target, pin, server_core, start_target  # noqa: E402
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
from indexer.elastic import ElasticStore  # noqa: E402
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


@dataclass
class Result:
    """One timed pass over the pages."""

    backend: str
    pages: int
    elapsed: float = 0.0
    cpu: float = 0.0
    hits: int = 0
    stored: int = 0
    held: int | None = None  # documents the index holds at the end (elasticsearch)
    server_cpu: float | None = None
    sends: int = 0  # syncs that sent something, the final one included
    send_seconds: float = 0.0
    queue_seconds: float = 0.0  # Spool.queue inside ElasticStore.put
    outcomes: Counter[str] = field(default_factory=Counter)
    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    @property
    def es_seconds(self) -> float:
        """The time only the elasticsearch path spends: queueing and sending."""
        return self.send_seconds + self.queue_seconds


def open_store(backend: str, conn, target: Target | None):
    """The store for ``backend``: SQLiteStore, or ElasticStore over a fresh alias at ``target``."""
    if backend == "sqlite":
        return SQLiteStore(conn), None
    alias = f"bw-bench-pipeline-{uuid.uuid4().hex[:8]}"
    assert target is not None
    client = Elasticsearch(target.url, request_timeout=120)
    return ElasticStore(conn, client, alias, batch_size=500, url=target.url), alias


def _time_es_work(store: ElasticStore, result: Result) -> None:
    """Wrap ``store.sync`` and ``store.spool.queue`` (instance attributes: StoreStage and
    ElasticStore.put call them there) to add up the time the elasticsearch path adds."""
    sync, queue = store.sync, store.spool.queue

    def timed_sync(**kwargs):
        t = time.perf_counter()
        report = sync(**kwargs)
        if report is not None:
            result.sends += 1
            result.send_seconds += time.perf_counter() - t
            if report.error or report.rejected or report.deferred:
                raise SystemExit(f"sync failed: {report.to_json()}")
        return report

    def timed_queue(*args, **kwargs):
        t = time.perf_counter()
        queue(*args, **kwargs)
        result.queue_seconds += time.perf_counter() - t

    store.sync = timed_sync
    store.spool.queue = timed_queue


def run_once(
    backend: str,
    folder: Path,
    variants: list[tuple[Path, str, str]],
    rules: RuleSet,
    scope: Matcher,
    target: Target | None = None,
    quiet: bool = False,
    spooled: int = 0,
) -> Result:
    """Run every page through the stages into a fresh database; time it. ``spooled``: spool
    rows of earlier crawls (indexed) put in first, as in a database that has been in use."""
    db_path = folder / f"bench-{backend}-{uuid.uuid4().hex[:6]}.db"
    conn = db.connect(db_path)
    store, alias = open_store(backend, conn, target)
    result = Result(backend, len(variants))
    if isinstance(store, ElasticStore):
        _fill_spool(conn, spooled)
        store.ensure_index()  # template and first index: set-up, not throughput
        _time_es_work(store, result)
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
    timings = result.timings
    server_before = target.stats() if target and isinstance(store, ElasticStore) else None
    start, cpu = time.perf_counter(), time.process_time()
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
            result.outcomes[dropped.outcome] += 1
            continue
        result.outcomes[item.outcome] += 1
        result.hits += len(item.hits)
        if n % 200 == 0 and not quiet:
            print(f"  {backend}: {n}/{len(variants)} pages", file=sys.stderr)
    t = time.perf_counter()
    store.sync(force=True)  # the rest of the spool: part of the elasticsearch path's cost
    timings["sync"].append(time.perf_counter() - t)
    result.elapsed = time.perf_counter() - start
    result.cpu = time.process_time() - cpu
    if server_before is not None:
        result.server_cpu = target.stats()[0] - server_before[0]
    result.stored = store.count()
    if isinstance(store, ElasticStore):
        store.client.indices.refresh(index=alias)
        result.held = store.client.count(index=alias).body["count"]
        _drop_alias(store.client, alias)
        store.close()
    conn.close()
    return result


def _fill_spool(conn, rows: int) -> None:
    """``rows`` spool entries already indexed (their articles are not needed for the timing)."""
    at = datetime.now(UTC).isoformat()
    with db.transaction(conn):
        conn.executemany(
            "INSERT INTO es_spool (article_id, state, queued_seq, queued_at, indexed_revision) "
            "VALUES (?, 'indexed', ?, ?, 1)",
            ((f"earlier-{i:07d}", i + 1, at) for i in range(rows)),
        )


def _drop_alias(client: Elasticsearch, alias: str) -> None:
    for index in client.indices.get_alias(name=alias).body:
        client.indices.delete(index=index)
    client.indices.delete_index_template(name=alias)


def prepare(folder: Path, pages: int, rule_count: int):
    """The page files, the compiled rules and the shipped scope."""
    rng = random.Random(7)
    variants = write_variants(folder, pages, rng)
    rules = RuleSet(build_rules(rule_count, rng))
    scope = Matcher(load_config(ROOT / "config" / "beatwatch.yaml").scope)
    return variants, rules, scope


def run(pages: int, rule_count: int, backend: str, target_name: str, spooled: int) -> None:
    core = server_core()
    pin()
    with tempfile.TemporaryDirectory() as tmp, _target(backend, target_name, core) as target:
        folder = Path(tmp)
        variants, rules, scope = prepare(folder, pages, rule_count)
        result = run_once(backend, folder, variants, rules, scope, target, spooled=spooled)
    if target is not None:
        print(f"target: {target.description}")
    print(
        f"pages: {pages}, rules: {rule_count} + the shipped scope, alert hits: {result.hits}, "
        f"one core, backend: {backend}"
    )
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items())))
    print(f"whole path: {pages / result.elapsed:.1f} articles/s ({result.elapsed:.2f} s)")
    extract_total = sum(result.timings["extract"])
    print(f"extraction alone: {pages / extract_total:.1f} pages/s")
    print(f"{'stage':<10} {'median ms':>10} {'mean ms':>10} {'share':>7}")
    for name, values in result.timings.items():
        if name == "sync" and backend == "sqlite":
            continue
        share = sum(values) / result.elapsed
        print(
            f"{name:<10} {statistics.median(values) * 1e3:>10.2f} "
            f"{statistics.fmean(values) * 1e3:>10.2f} {share:>6.0%}"
        )
    if backend == "elasticsearch":
        _print_index(result)


def _print_index(result: Result) -> None:
    server = f", target CPU {result.server_cpu:.2f} s" if result.server_cpu is not None else ""
    print(
        f"bulk sends: {result.sends} syncs, {result.send_seconds:.2f} s of the store stage and "
        f"final sync (batch 500){server}; spool queueing in put: {result.queue_seconds:.2f} s"
    )
    agree = "equal" if result.held == result.stored else "MISMATCH"
    print(f"stored articles: {result.stored}, documents in the index: {result.held} ({agree})")


@contextlib.contextmanager
def _target(backend: str, name: str, core: int | None):
    if backend == "sqlite":
        yield None
        return
    with start_target(name, core) as target:
        yield target


def compare(pages: int, rule_count: int, rounds: int, target_name: str, spooled: int) -> None:
    """Both backends on the same pages, alternately; best of ``rounds`` each."""
    core = server_core()
    pin()
    results: dict[str, list[Result]] = {"sqlite": [], "elasticsearch": []}
    with tempfile.TemporaryDirectory() as tmp, start_target(target_name, core) as target:
        folder = Path(tmp)
        variants, rules, scope = prepare(folder, pages, rule_count)
        warm = variants[: min(20, len(variants))]
        for backend in results:  # imports, caches and connections: not measured
            run_once(backend, folder, warm, rules, scope, target, quiet=True)
        for r in range(rounds):
            for backend in results:
                print(f"  round {r + 1}/{rounds}: {backend}", file=sys.stderr)
                results[backend].append(
                    run_once(backend, folder, variants, rules, scope, target, True, spooled)
                )
    print(f"target: {target.description}")
    print(
        f"pages: {pages}, rules: {rule_count} + the shipped scope, pipeline pinned to one core, "
        f"spool rows of earlier crawls: {spooled}"
    )
    print(
        f"{'backend':<14} {'articles/s':>10} {'wall s':>8} {'CPU s':>7} {'target CPU s':>13} "
        f"{'stored':>7} {'in index':>9}  all rounds (articles/s)"
    )
    best = {}
    for backend, runs in results.items():
        b = best[backend] = min(runs, key=lambda x: x.elapsed)
        server = f"{b.server_cpu:13.2f}" if b.server_cpu is not None else f"{'-':>13}"
        held = f"{b.held:>9}" if b.held is not None else f"{'-':>9}"
        every = ", ".join(f"{pages / x.elapsed:.1f}" for x in runs)
        print(
            f"{backend:<14} {pages / b.elapsed:>10.1f} {b.elapsed:>8.2f} {b.cpu:>7.2f} "
            f"{server} {b.stored:>7} {held}  {every}"
        )
    sq, es = best["sqlite"], best["elasticsearch"]
    print("outcomes (each run): " + ", ".join(f"{k} {v}" for k, v in sorted(es.outcomes.items())))
    _print_index(es)
    wall = es.elapsed / sq.elapsed - 1
    cpu = es.cpu / sq.cpu - 1
    instant = (es.elapsed - (es.server_cpu or 0.0)) / sq.elapsed - 1
    direct = sorted(r.es_seconds / (r.elapsed - r.es_seconds) for r in results["elasticsearch"])
    noise = max(r.elapsed for r in results["sqlite"]) / sq.elapsed - 1
    print("overhead of the elasticsearch backend (spool + bulk replay), per article:")
    print(f"  wall clock, best runs:              {wall:+.1%}")
    print(f"  wall minus the stand-in's CPU time: {instant:+.1%}  (as if it answered instantly)")
    print(f"  pipeline process CPU time:          {cpu:+.1%}")
    print(
        f"  measured inside each run:           +{statistics.median(direct):.1%} median "
        f"({', '.join(f'+{d:.1%}' for d in direct)}): spool queueing + every sync that sent, "
        "over the rest of that run"
    )
    print(
        f"  (run-to-run noise: the sqlite rounds differ by up to {noise:.0%}; the in-run figure "
        "does not depend on it)"
    )
    store = {k: sum(v.timings["store"]) + sum(v.timings["sync"]) for k, v in best.items()}
    print(
        f"store stage + final sync: sqlite {store['sqlite'] * 1e3 / pages:.2f} ms/article, "
        f"elasticsearch {store['elasticsearch'] * 1e3 / pages:.2f} ms/article"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "elasticsearch"], default="sqlite")
    parser.add_argument(
        "--target", default="standin", help="for elasticsearch: standin, osmem or a cluster URL"
    )
    parser.add_argument("--compare", action="store_true", help="both backends, same pages")
    parser.add_argument(
        "--spooled",
        type=int,
        default=0,
        help="elasticsearch: spool rows of earlier crawls already in the database",
    )
    parser.add_argument("--rounds", type=int, default=3, help="--compare: runs per backend")
    args = parser.parse_args()
    if args.compare:
        compare(args.pages, args.rules, args.rounds, args.target, args.spooled)
    else:
        run(args.pages, args.rules, args.backend, args.target, args.spooled)


if __name__ == "__main__":
    main()
