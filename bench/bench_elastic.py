"""Bulk indexing throughput: the spool of a local SQLite file sent to an index, by batch size.

Builds N synthetic articles (about 600-word bodies, ~5% Khmer) into a temp SQLite file through
``ElasticStore.put`` (so each is stored and queued in the spool), then, for each batch size,
copies that file and times ``ElasticStore.sync(force=True)`` into a fresh alias. Prints docs/s
per batch size, and separately what our side costs per document (reading the article back,
``indexer.mapping.document``, JSON serialisation, marking the spool) with no server involved.

The bench pins itself to core 0. A local target (``standin``: tests/es_standin.py, a Python
stand-in that is NOT Elasticsearch and evaluates nothing; ``osmem``: osmem-server, an in-memory
OpenSearch-compatible engine, also NOT Elasticsearch) runs in a child process pinned to core 1,
so its CPU is not charged to ours; the wall time still includes waiting for its answers, and
its CPU time is printed next to it. A URL target is a real cluster (user:password@ may be in
the URL); each run uses a throwaway alias that is deleted afterwards.

    .venv/bin/python bench/bench_elastic.py [--docs 20000] [--target standin|osmem|URL]
        [--es-url URL] [--batch-sizes 100,250,500,1000,2000]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from elasticsearch import Elasticsearch  # noqa: E402
from elasticsearch.helpers import expand_action  # noqa: E402

from crawler import db  # noqa: E402
from crawler.models import Article  # noqa: E402
from indexer import mapping  # noqa: E402
from indexer.elastic import ElasticStore  # noqa: E402

BENCH_CORE, SERVER_CORE = 0, 1
SOURCES = ["wp-news", "atom-times", "khmer-daily"]
VOCABULARY = (  # noqa: SIM905 (one list literal would take 59 lines)
    "the ministry said navy pier drills officials statement embassy training exercise of "
    "sanctions court appeal border visit minister general commander agreement talks and port "
    "ship budget aid delegation security cooperation defence partnership province capital to "
    "Washington Beijing Phnom Penh Ream base joint patrol maritime envoy spokesman a in on "
    "week report vessel equipment donation ceremony officers bilateral relations press"
).split()
#: Khmer phrases (defence, navy, ministry, the United States, port, exercise, cooperation ...).
KHMER = [
    "ក្រសួងការពារជាតិ",
    "កងទ័ពជើងទឹក",
    "សហរដ្ឋអាមេរិក",
    "កម្ពុជា",
    "កំពង់ផែ",
    "សមយុទ្ធរួមគ្នា",
    "កិច្ចសហប្រតិបត្តិការ",
    "រដ្ឋមន្ត្រី",
    "ទំនាក់ទំនងទ្វេភាគី",
    "ជំនួយយោធា",
    "ព្រំដែន",
    "មូលដ្ឋានរាម",
]


# -- the corpus --------------------------------------------------------------------------------


def make_article(i: int, rng: random.Random, khmer: bool) -> Article:
    """Article ``i``: a 10-word title and ~600 words in 6-10 paragraphs (Khmer ones: phrases)."""
    pool = KHMER if khmer else VOCABULARY
    words_per_paragraph = 600 // rng.randint(6, 10)
    paragraphs = [
        " ".join(rng.choices(pool, k=words_per_paragraph)).capitalize()
        for _ in range(600 // words_per_paragraph)
    ]
    source = SOURCES[2] if khmer else SOURCES[i % 2]
    url = f"http://{source}.example/{2024 + i % 2}/story-{i:06d}/"
    text = "\n\n".join(paragraphs)
    fetched = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=7 * i)
    article_id = hashlib.sha256(url.encode()).hexdigest()
    return Article(
        id=article_id,
        url=url,
        source=source,
        title=" ".join(rng.choices(pool, k=10)).capitalize(),
        text=text,
        published_at=fetched - timedelta(hours=rng.randint(1, 48)),
        fetched_at=fetched,
        authors=[f"Reporter {i % 37}"],
        language="km" if khmer else "en",
        body_hash=hashlib.sha256(text.encode()).hexdigest(),
        story_id=article_id,
        fetch_url=url,
        summary=paragraphs[0][:200],
        matched_rules=rng.sample(["us-cambodia", "ream", "drills", "aid"], k=rng.randint(0, 2)),
    )


def build_db(path: Path, count: int, khmer_share: float) -> float:
    """Store ``count`` articles through ``ElasticStore.put``; the seconds the puts took."""
    rng = random.Random(5)
    conn = db.connect(path)
    store = ElasticStore(conn, Elasticsearch("http://127.0.0.1:9"), "unused")  # never contacted
    articles = [make_article(i, rng, rng.random() < khmer_share) for i in range(count)]
    start = time.perf_counter()
    for article in articles:
        store.put(article)
    elapsed = time.perf_counter() - start
    conn.close()  # the last connection checkpoints the WAL: the file alone is the database
    return elapsed


# -- the target, in its own process --------------------------------------------------------------


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _tree(pid: int) -> list[int]:
    """``pid`` and its children (one level: the osmem-server binary under the tier process)."""
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            kids += [int(k) for k in (task / "children").read_text().split()]
    return [pid, *kids]


class _Forget(list):
    """A request log that keeps nothing (the stand-in records every request otherwise)."""

    def append(self, item: object) -> None:
        pass


def _serve(kind: str, core: int | None, pipe) -> None:
    """Child process: run the stand-in or the osmem tier, answer stats requests until "stop"."""
    if core is not None:
        os.sched_setaffinity(0, {core})  # set before osmem-server is spawned: it inherits it
    if kind == "standin":
        from tests.es_standin import EsStandIn

        standin = EsStandIn()
        standin.requests = _Forget()
        standin.start()
        url, stop = standin.url, standin.stop
    else:
        from tests.osmem_tier import start_osmem_tier

        url, stop = start_osmem_tier()
    pipe.send(url)
    while (command := pipe.recv()) != "stop":
        pids = _tree(os.getpid()) if command == "stats" else []
        pipe.send((sum(map(_proc_cpu, pids)), sum(map(_proc_rss_mb, pids))))
    stop()
    pipe.send("stopped")


@dataclass
class Target:
    """Where the bulk requests go; ``stats()`` is (server CPU s, server RSS MB) or None."""

    url: str
    description: str
    pipe: object = None

    def stats(self) -> tuple[float, float] | None:
        if self.pipe is None:
            return None
        self.pipe.send("stats")
        return self.pipe.recv()


DESCRIPTIONS = {
    "standin": "tests/es_standin.py, a Python HTTP stand-in (NOT Elasticsearch): it parses and "
    "stores each document but evaluates nothing; 'answers instantly' up to its own Python cost",
    "osmem": "osmem-server behind tests/osmem_tier.py's media-type proxy: an in-memory "
    "OpenSearch-compatible engine (NOT Elasticsearch), indexing for real",
}


@contextlib.contextmanager
def start_target(kind: str, core: int | None = SERVER_CORE) -> Iterator[Target]:
    """A running target: ``standin`` or ``osmem`` in a child process pinned to ``core`` (None:
    not pinned), or a cluster URL (nothing started)."""
    if kind not in DESCRIPTIONS:
        yield Target(kind, f"a real cluster at {_redact(kind)}")
        return
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.Process(target=_serve, args=(kind, core, child), daemon=True)
    proc.start()
    try:
        where = f"in a child process pinned to core {core}" if core is not None else "(shared core)"
        yield Target(parent.recv(), f"{DESCRIPTIONS[kind]}; {where}", parent)
    finally:
        with contextlib.suppress(OSError, EOFError):
            parent.send("stop")
            parent.recv()
        proc.join(10)


def server_core() -> int | None:
    """The core for a local target: core 1 when this process may use more than one, else None
    (call before ``pin``)."""
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    return SERVER_CORE if {BENCH_CORE, SERVER_CORE} <= cores else None


def _redact(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rsplit('@', 1)[-1]}"


def pin() -> str:
    """Pin this process to core 0 (as bench_pipeline does); say what was done."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    os.sched_setaffinity(0, {BENCH_CORE})
    return f"pinned to core {BENCH_CORE}"


# -- the measurements --------------------------------------------------------------------------


@dataclass
class Run:
    """One timed sync."""

    batch_size: int
    seconds: float
    cpu: float
    server_cpu: float | None
    server_rss: float | None
    indexed: int
    held: int


def timed_sync(target: Target, template: Path, folder: Path, batch_size: int) -> Run:
    """Copy the spooled database, sync it into a fresh alias with ``batch_size``; time that."""
    path = folder / f"run-{batch_size}.db"
    shutil.copyfile(template, path)
    conn = db.connect(path)
    alias = f"bw-bench-{uuid.uuid4().hex[:8]}"
    client = Elasticsearch(target.url, request_timeout=300)
    store = ElasticStore(conn, client, alias, batch_size=batch_size, url=target.url)
    try:
        store.ensure_index()  # template + index creation are not part of the throughput
        before = target.stats()
        start, cpu = time.perf_counter(), time.process_time()
        report = store.sync(force=True)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        after = target.stats()
        if report is None or report.error:
            raise SystemExit(f"sync failed: {report and report.error}")
        if report.rejected or report.deferred or store.backlog().pending:
            raise SystemExit(f"not all indexed: {report.to_json()}")
        client.indices.refresh(index=alias)
        held = client.count(index=alias).body["count"]
        server_cpu = after[0] - before[0] if before and after else None
        return Run(
            batch_size, seconds, cpu, server_cpu, after[1] if after else None, report.indexed, held
        )
    finally:
        _drop(client, alias)
        client.close()
        conn.close()
        path.unlink()


def _drop(client: Elasticsearch, alias: str) -> None:
    """Delete the throwaway alias's indices and template (names, no wildcards)."""
    with contextlib.suppress(Exception):
        for index in client.indices.get_alias(name=alias).body:
            client.indices.delete(index=index)
    with contextlib.suppress(Exception):
        client.indices.delete_index_template(name=alias)


@dataclass
class ClientCost:
    """Our side per document, in seconds, measured without any server; bytes per document."""

    read: float
    build: float
    serialise: float
    spool: float
    bytes_per_doc: float

    @property
    def total(self) -> float:
        return self.read + self.build + self.serialise + self.spool


def client_cost(template: Path, folder: Path, batch_size: int = 500) -> ClientCost:
    """Time the steps of ``ElasticStore.write`` that are ours, on a copy of the spooled file:
    reading articles and spool entries back, ``mapping.document``, the client's JSON
    serialisation of each bulk line, and the spool's claim, ``mark_indexed`` and release."""
    path = folder / "cost.db"
    shutil.copyfile(template, path)
    conn = db.connect(path)
    store = ElasticStore(conn, Elasticsearch("http://127.0.0.1:9"), "unused")
    serializer = store.client.transport.serializers.get_serializer("application/json")
    read = build = dump = spool = 0.0
    docs = size = 0
    after = 0
    while True:
        t0 = time.perf_counter()
        batch = store.spool.claim(batch_size, after=after, lease=store.claim_lease)
        articles = {q.article_id: store.local.get(q.article_id) for q in batch}
        t1 = time.perf_counter()
        if not batch:
            break
        actions = [_action(a) for a in articles.values() if a is not None]
        t2 = time.perf_counter()
        for action in actions:
            header, body = expand_action(action)
            size += len(serializer.dumps(header)) + len(serializer.dumps(body)) + 2
        t3 = time.perf_counter()
        store.spool.mark_indexed([(q, articles[q.article_id].revision) for q in batch])
        store.spool.release(batch)
        t4 = time.perf_counter()
        read, build, dump, spool = read + t1 - t0, build + t2 - t1, dump + t3 - t2, spool + t4 - t3
        docs += len(batch)
        after = batch[-1].queued_seq
    conn.close()
    path.unlink()
    return ClientCost(read / docs, build / docs, dump / docs, spool / docs, size / docs)


def _action(article: Article) -> dict:
    """The bulk action ElasticStore sends for ``article`` (as built in ``indexer.bulk``)."""
    return {
        "_op_type": "index",
        "_index": "unused",
        "_id": article.id,
        "version": article.revision,
        "version_type": "external",
        "_source": mapping.document(article),
    }


def document_only(template: Path, sample: int = 2000) -> float:
    """Seconds per ``mapping.document`` call alone (articles already in memory)."""
    conn = db.connect(template)
    store = ElasticStore(conn, Elasticsearch("http://127.0.0.1:9"), "unused")
    ids = [r[0] for r in conn.execute("SELECT id FROM articles LIMIT ?", (sample,))]
    articles = [store.local.get(i) for i in ids]
    conn.close()
    start = time.perf_counter()
    for article in articles:
        mapping.document(article)
    return (time.perf_counter() - start) / len(articles)


# -- the report --------------------------------------------------------------------------------


def run(docs: int, target_name: str, sizes: list[int], khmer_share: float, repeat: int) -> None:
    core = server_core()
    pinned = pin()
    with tempfile.TemporaryDirectory() as tmp, start_target(target_name, core) as target:
        folder = Path(tmp)
        template = folder / "spooled.db"
        put_seconds = build_db(template, docs, khmer_share)
        khmer = _count(template, "SELECT count(*) FROM articles WHERE language = 'km'")
        print(f"target: {target.description}")
        print(f"bench process: {pinned}; {docs} articles ({khmer} Khmer), ~600 words each")
        print(
            f"spooling: ElasticStore.put x {docs}: {docs / put_seconds:.0f} puts/s "
            f"({put_seconds * 1e3 / docs:.2f} ms each: SQLite store + FTS + spool row)"
        )
        cost = client_cost(template, folder)
        doc_only = document_only(template)
        _print_cost(cost, doc_only)
        print()
        print(
            f"{'batch':>6} {'docs/s':>8} {'wall s':>8} {'our CPU s':>10} {'server CPU s':>13} "
            f"{'wall-server':>12} {'req MB':>7} {'server RSS MB':>14}"
        )
        runs = []
        for size in sizes:
            best = min(
                (timed_sync(target, template, folder, size) for _ in range(repeat)),
                key=lambda r: r.seconds,
            )
            runs.append(best)
            _print_run(best, docs, cost)
            if best.held != docs or best.indexed != docs:
                print(f"  !! the index holds {best.held} documents, {best.indexed} indexed")
        _print_notes(runs, cost, docs, repeat)


def _count(path: Path, sql: str) -> int:
    conn = db.connect(path)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def _print_cost(cost: ClientCost, doc_only: float) -> None:
    print(
        "our side per document (no server; batches of 500): "
        f"read back {cost.read * 1e6:.0f} us, "
        f"build (mapping.document) {cost.build * 1e6:.0f} us "
        f"[alone, in memory: {doc_only * 1e6:.0f} us], "
        f"JSON serialisation {cost.serialise * 1e6:.0f} us, "
        f"spool mark {cost.spool * 1e6:.0f} us; "
        f"total {cost.total * 1e6:.0f} us = at most {1 / cost.total:.0f} docs/s on one core"
    )
    print(f"bulk body: {cost.bytes_per_doc / 1024:.1f} KiB per document (action + source lines)")


def _print_run(run: Run, docs: int, cost: ClientCost) -> None:
    server = f"{run.server_cpu:13.2f}" if run.server_cpu is not None else f"{'-':>13}"
    rest = f"{run.seconds - run.server_cpu:12.2f}" if run.server_cpu is not None else f"{'-':>12}"
    rss = f"{run.server_rss:14.0f}" if run.server_rss is not None else f"{'-':>14}"
    request_mb = cost.bytes_per_doc * run.batch_size / 2**20
    print(
        f"{run.batch_size:>6} {docs / run.seconds:>8.0f} {run.seconds:>8.2f} {run.cpu:>10.2f} "
        f"{server} {rest} {request_mb:>7.1f} {rss}"
    )


def _print_notes(runs: list[Run], cost: ClientCost, docs: int, repeat: int) -> None:
    best = min(runs, key=lambda r: r.seconds)
    print()
    print(
        f"fastest: batch {best.batch_size}, {docs / best.seconds:.0f} docs/s; our measured side "
        f"is {cost.total * docs / best.seconds:.0%} of that wall time"
    )
    print(
        "columns: wall s = the timed sync(force=True); our CPU s = this process's CPU in it "
        "(read, build, serialise, HTTP client, response handling, spool); server CPU s = the "
        "target's processes (- for a real cluster); wall-server = wall minus server CPU, roughly "
        f"what an instantly answering server would leave; req MB = one bulk request's body; "
        f"best of {repeat} run(s) per size"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--target", default="standin", help="standin, osmem, or a cluster URL")
    parser.add_argument("--es-url", help="a real cluster (same as --target URL)")
    parser.add_argument("--batch-sizes", default="100,250,500,1000,2000")
    parser.add_argument("--khmer-share", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=1, help="runs per batch size; best kept")
    args = parser.parse_args()
    target = args.es_url or args.target
    if target not in DESCRIPTIONS and "://" not in target:
        parser.error("--target is standin, osmem or an http(s):// URL")
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    run(args.docs, target, sizes, args.khmer_share, args.repeat)


if __name__ == "__main__":
    main()
