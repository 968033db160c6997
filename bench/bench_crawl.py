"""Crawl engine throughput: pages fetched and handed to the pipeline per second, no extraction.

A loopback HTTP server (its own process, so it does not share our interpreter) serves a sitemap
of N article URLs and small article pages. The real source spider (robots.txt, retries,
politeness middlewares, per-origin bookkeeping, seen-URL checks) crawls it with download delay 0;
extraction is replaced by a stub and the pipeline by one stage that counts items. Prints pages/s.

    .venv/bin/python bench/bench_crawl.py [--pages 3000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from scrapy.crawler import CrawlerProcess  # noqa: E402

from crawler import db  # noqa: E402
from crawler.config import load_config  # noqa: E402
from crawler.state import RunState  # noqa: E402
from spiders.extraction import Extracted  # noqa: E402
from spiders.settings import scrapy_settings  # noqa: E402
from spiders.source import SourceSpider  # noqa: E402

PAGE = b"<html><head><title>t</title></head><body><p>" + b"word " * 400 + b"</p></body></html>"


def serve(port_queue: multiprocessing.Queue, pages: int) -> None:
    """Serve robots.txt, a sitemap of ``pages`` URLs and the pages themselves, forever."""
    urls = "".join(
        f"<url><loc>/a/{i}/</loc><lastmod>2026-11-0{1 + i % 9}</lastmod></url>"
        for i in range(pages)
    )
    sitemap = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{urls}</urlset>"
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/sitemap.xml":
                body, ctype = sitemap, "application/xml"
            elif self.path == "/robots.txt":
                body, ctype = b"User-agent: *\nAllow: /\n", "text/plain"
            else:
                body, ctype = PAGE, "text/html; charset=utf-8"
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


class CountStage:
    """The whole pipeline of this benchmark: count what arrives."""

    @classmethod
    def from_crawler(cls, crawler):
        stage = cls()
        stage.stats = crawler.stats
        return stage

    def process_item(self, item):
        self.stats.inc_value("bench/items")
        self.stats.set_value("bench/last_item", time.perf_counter())
        return item


class BenchSpider(SourceSpider):
    """The source spider with extraction stubbed out."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.extractor = lambda body, url: Extracted(title="t", text="word " * 10)


def run(pages: int, concurrency: int) -> None:
    ports: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(ports, pages), daemon=True)
    server.start()
    port = ports.get(timeout=30)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.yaml"
        config.write_text(
            "crawl: {download_delay: 0, autothrottle: false,"
            f" concurrency_per_host: {concurrency}}}\n"
            f"sources:\n  - name: bench\n    sitemaps: [http://127.0.0.1:{port}/sitemap.xml]\n"
            "    allowed_domains: [127.0.0.1]\n    max_age: 3650d\n",
            encoding="utf-8",
        )
        settings = load_config(config)
        state = RunState(db.connect(Path(tmp) / "bench.db"))
        scrapy_cfg = scrapy_settings(settings.crawl)
        scrapy_cfg.update(
            ITEM_PIPELINES={"bench_crawl.CountStage": 100},
            CONCURRENT_REQUESTS=concurrency,
            LOG_LEVEL="WARNING",
        )
        process = CrawlerProcess(scrapy_cfg)
        crawler = process.create_crawler(BenchSpider)
        process.crawl(crawler, source=settings.sources[0], state=state)
        started = time.perf_counter()
        process.start()
    server.terminate()
    stats = crawler.stats.get_stats()
    items = stats.get("bench/items", 0)
    elapsed = stats.get("bench/last_item", time.perf_counter()) - started
    print(f"pages: {pages}, concurrency: {concurrency}, items handed to the pipeline: {items}")
    print(f"engine throughput: {items / elapsed:.0f} pages/s ({elapsed:.2f} s, start-up included)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    run(args.pages, args.concurrency)


if __name__ == "__main__":
    main()
