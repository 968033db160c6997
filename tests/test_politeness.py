"""Politeness: Retry-After on 429/503, robots.txt error answers as allow-all, Crawl-delay floors.

Unit cases call the middlewares directly; crawl cases run a real Scrapy crawl in a subprocess
(Twisted's reactor starts once per process) against a threaded HTTP server on loopback, and
read back the crawl's stats, its log and what the spider saw (including its slot's delay).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import pytest
import scrapy
from scrapy.core.downloader import Slot
from scrapy.crawler import CrawlerProcess
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from spiders.middlewares import BackoffRetryMiddleware
from spiders.politeness import SlotDelayFloors, retry_after_seconds

REPO = Path(__file__).resolve().parent.parent
UA = "beatwatch-test (+mailto:ops@example.org)"
PAGE = b"<html><body><p>A short page about nothing in particular.</p></body></html>"

Answer = tuple[int, dict[str, str], bytes]


# --- a loopback server whose answers each test scripts -------------------------------------


class ScriptedServer:
    """Answers each path from a script: a list of answers used in turn, the last one repeated.

    An answer is ``(status, headers, body)`` or a callable returning one (to stamp dates at
    serve time). Unscripted paths get 200 and a small page. ``hits`` logs
    ``(monotonic time, path)`` for every request.
    """

    def __init__(self) -> None:
        self.script: dict[str, list[Answer | Callable[[], Answer]]] = {}
        self.hits: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def times(self, path: str) -> list[float]:
        return [t for t, p in self.hits if p == path]

    def _answer(self, path: str) -> Answer:
        with self._lock:
            self.hits.append((time.monotonic(), path))
            answers = self.script.get(path)
            if not answers:
                return 200, {"Content-Type": "text/html"}, PAGE
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return answer() if callable(answer) else answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, headers, body = server._answer(self.path)
                self.send_response_only(status)
                headers = {"Date": formatdate(usegmt=True), **headers}
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    running = ScriptedServer().start()
    yield running
    running.stop()


def robots(body: str, status: int = 200) -> list[Answer]:
    return [(status, {"Content-Type": "text/plain"}, body.encode())]


# --- a real crawl in a subprocess ---------------------------------------------------------


class ReportingSpider(scrapy.Spider):
    """Fetches its start URLs and records what came back, with its download slot's delay."""

    name = "reporting"
    custom_settings: ClassVar[dict] = {"HTTPERROR_ALLOW_ALL": True}

    def __init__(self, urls: list[str], seen: list[dict], **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.urls, self.seen = urls, seen

    async def start(self):
        for url in self.urls:
            yield Request(url, dont_filter=True)

    def parse(self, response):
        slot = self.crawler.engine.downloader.slots.get(response.meta.get("download_slot"))
        self.seen.append(
            {
                "url": response.url,
                "status": response.status,
                "slot_delay": slot.delay if slot else None,
            }
        )


BASE_SETTINGS = {
    "USER_AGENT": UA,
    "ROBOTSTXT_OBEY": True,
    "ROBOTSTXT_USER_AGENT": UA,
    "DOWNLOAD_DELAY": 0,
    "DOWNLOAD_DELAY_JITTER": 0,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
    "RETRY_TIMES": 2,
    "RETRY_HTTP_CODES": [500, 502, 503, 504, 429],
    "BEATWATCH_RETRY_BACKOFF": 0,
    "DOWNLOADER_MIDDLEWARES": {
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
        "spiders.middlewares.RobotsPolicyMiddleware": 100,
        "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
        "spiders.middlewares.BackoffRetryMiddleware": 550,
    },
    "EXTENSIONS": {
        "scrapy.extensions.throttle.AutoThrottle": None,
        "spiders.politeness.CrawlDelayAutoThrottle": 0,
    },
    "AUTOTHROTTLE_ENABLED": True,
    "AUTOTHROTTLE_START_DELAY": 0,
    "TELNETCONSOLE_ENABLED": False,
    "LOG_LEVEL": "INFO",
}


def crawl_main(spec_json: str) -> None:
    """Subprocess entry: crawl ``spec["urls"]`` with ``spec["settings"]``; print a JSON report."""
    spec = json.loads(spec_json)
    seen: list[dict] = []
    process = CrawlerProcess({**BASE_SETTINGS, **spec.get("settings", {})})
    crawler = process.create_crawler(ReportingSpider)
    process.crawl(crawler, urls=spec["urls"], seen=seen)
    process.start()
    print(json.dumps({"stats": crawler.stats.get_stats(), "seen": seen}, default=str))


class CrawlResult:
    def __init__(self, report: dict, log: str) -> None:
        self.stats: dict = report["stats"]
        self.seen: list[dict] = report["seen"]
        self.log = log

    def status_of(self, url: str) -> int | None:
        return next((s["status"] for s in self.seen if s["url"] == url), None)

    def log_lines(self, *needles: str) -> list[str]:
        return [line for line in self.log.splitlines() if all(n in line for n in needles)]


def crawl(urls: list[str], **settings: object) -> CrawlResult:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from tests.test_politeness import crawl_main; crawl_main(sys.argv[1])",
            json.dumps({"urls": urls, "settings": settings}),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return CrawlResult(json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr)


# --- Retry-After parsing ------------------------------------------------------------------

NOW = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (b"7", 7.0),
        (" 0 ", 0.0),
        ("Mon, 02 Mar 2026 08:00:30 GMT", 30.0),
        ("Mon, 02 Mar 2026 07:59:00 GMT", 0.0),  # already past: retry now
        ("Mon, 02 Mar 2026 09:00:00 +0100", 0.0),  # same instant as NOW, other zone
    ],
)
def test_retry_after_reads_seconds_and_http_dates(value: str | bytes, seconds: float) -> None:
    assert retry_after_seconds(value, now=NOW) == seconds


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "nan", "inf", "32 Foo 2026"])
def test_retry_after_that_cannot_be_read_is_none(value: str | None) -> None:
    assert retry_after_seconds(value, now=NOW) is None


# --- BackoffRetryMiddleware, called directly ----------------------------------------------


def retry_middleware(**settings: object) -> tuple[BackoffRetryMiddleware, list[float], object]:
    crawler = get_crawler(
        scrapy.Spider,
        settings_dict={
            "RETRY_TIMES": 2,
            "RETRY_HTTP_CODES": [500, 503, 429],
            "BEATWATCH_RETRY_BACKOFF": 1.0,
            **settings,
        },
    )
    crawler.spider = crawler._create_spider("unit")
    mw = BackoffRetryMiddleware.from_crawler(crawler)
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    mw.sleep = record
    return mw, waits, crawler.stats


def answer(status: int, headers: dict[str, str] | None = None) -> tuple[Request, HtmlResponse]:
    url = "http://127.0.0.1/page"
    return Request(url), HtmlResponse(url, status=status, headers=headers or {}, body=PAGE)


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_replaces_the_exponential_backoff(status: int) -> None:
    mw, waits, stats = retry_middleware()
    request, response = answer(status, {"Retry-After": "7"})
    result = asyncio.run(mw.process_response(request, response))
    assert isinstance(result, Request)
    assert waits == [7.0]
    assert stats.get_value("beatwatch/retry_after/honoured") == 1


def test_retry_after_date_is_counted_from_the_response_date() -> None:
    mw, waits, _ = retry_middleware()
    sent = datetime.now(UTC) - timedelta(hours=5)  # a server clock far behind ours
    request, response = answer(
        503,
        {
            "Date": formatdate(sent.timestamp(), usegmt=True),
            "Retry-After": formatdate((sent + timedelta(seconds=40)).timestamp(), usegmt=True),
        },
    )
    assert isinstance(asyncio.run(mw.process_response(request, response)), Request)
    assert waits == [40.0]


def test_retry_after_up_to_the_maximum_is_honoured() -> None:
    mw, waits, _ = retry_middleware(BEATWATCH_RETRY_AFTER_MAX=30)
    request, response = answer(429, {"Retry-After": "30"})
    assert isinstance(asyncio.run(mw.process_response(request, response)), Request)
    assert waits == [30.0]


def test_retry_after_beyond_the_maximum_gives_up_and_passes_the_response_on() -> None:
    mw, waits, stats = retry_middleware(BEATWATCH_RETRY_AFTER_MAX=30)
    request, response = answer(429, {"Retry-After": "31"})
    assert asyncio.run(mw.process_response(request, response)) is response
    assert waits == []
    assert stats.get_value("beatwatch/retry_after/too_long") == 1
    assert stats.get_value("retry/count") is None


def test_unreadable_or_missing_retry_after_falls_back_to_exponential_backoff() -> None:
    mw, waits, stats = retry_middleware()
    request, response = answer(503, {"Retry-After": "whenever"})
    retry = asyncio.run(mw.process_response(request, response))
    asyncio.run(mw.process_response(retry, answer(503)[1]))
    assert waits == [1.0, 2.0]
    assert stats.get_value("beatwatch/retry_after/honoured") is None


def test_retry_after_on_other_statuses_is_not_a_reason_to_wait_that_long() -> None:
    mw, waits, _ = retry_middleware()
    request, response = answer(500, {"Retry-After": "90"})
    assert isinstance(asyncio.run(mw.process_response(request, response)), Request)
    assert waits == [1.0]


def test_no_wait_once_retries_are_exhausted_or_forbidden() -> None:
    mw, waits, _ = retry_middleware(RETRY_TIMES=0)
    request, response = answer(429, {"Retry-After": "5"})
    assert asyncio.run(mw.process_response(request, response)) is response
    request = Request("http://127.0.0.1/page", meta={"dont_retry": True})
    assert asyncio.run(mw.process_response(request, response)) is response
    assert waits == []


# --- Retry-After in a real crawl ----------------------------------------------------------


def test_crawl_waits_the_retry_after_seconds_before_retrying(server: ScriptedServer) -> None:
    server.script["/busy"] = [(429, {"Retry-After": "1"}, b""), (200, {}, PAGE)]
    result = crawl([server.base + "/busy"])
    first, second = server.times("/busy")
    assert second - first >= 0.9
    assert result.status_of(server.base + "/busy") == 200
    assert result.stats["beatwatch/retry_after/honoured"] == 1
    assert result.log_lines("Retry-After: waiting 1.0s", "/busy")


def test_crawl_waits_until_a_retry_after_http_date(server: ScriptedServer) -> None:
    def unavailable() -> Answer:
        now = time.time()
        headers = {
            "Date": formatdate(now, usegmt=True),
            "Retry-After": formatdate(now + 2, usegmt=True),
        }
        return 503, headers, b""

    server.script["/maintenance"] = [unavailable, (200, {}, PAGE)]
    result = crawl([server.base + "/maintenance"])
    first, second = server.times("/maintenance")
    assert second - first >= 1.9
    assert result.stats["beatwatch/retry_after/honoured"] == 1
    assert result.log_lines("Retry-After: waiting 2.0s", "/maintenance")


def test_crawl_gives_up_on_a_retry_after_longer_than_the_maximum(server: ScriptedServer) -> None:
    server.script["/later"] = [(429, {"Retry-After": "3600"}, b""), (200, {}, PAGE)]
    result = crawl([server.base + "/later"], BEATWATCH_RETRY_AFTER_MAX=60)
    assert len(server.times("/later")) == 1
    assert result.status_of(server.base + "/later") == 429
    assert result.stats["beatwatch/retry_after/too_long"] == 1
    assert "retry/count" not in result.stats
    assert result.log_lines("WARNING", "/later", "3600s")


# --- robots.txt answered with an error ----------------------------------------------------

DISALLOW_ALL = "User-agent: *\nDisallow: /\n"


@pytest.mark.parametrize("status", [403, 500])
def test_robots_error_answer_means_allow_all_with_one_warning(
    server: ScriptedServer, status: int
) -> None:
    # The error page's body reads like rules; it must not be taken as rules.
    server.script["/robots.txt"] = robots(DISALLOW_ALL, status)
    urls = [server.base + "/one", server.base + "/two"]
    result = crawl(urls)
    assert [result.status_of(u) for u in urls] == [200, 200]
    assert result.stats[f"beatwatch/robots/allow_all/{status}"] == 1
    assert "robotstxt/forbidden" not in result.stats
    warnings = result.log_lines("WARNING", "robots.txt of 127.0.0.1", f"HTTP {status}")
    assert len(warnings) == 1


def test_robots_404_means_allow_all_logged_at_info(server: ScriptedServer) -> None:
    server.script["/robots.txt"] = robots(DISALLOW_ALL, 404)
    result = crawl([server.base + "/page"])
    assert result.status_of(server.base + "/page") == 200
    assert result.stats["beatwatch/robots/allow_all/404"] == 1
    assert result.log_lines("INFO", "robots.txt of 127.0.0.1", "HTTP 404")
    assert not result.log_lines("WARNING", "robots.txt")


def test_robots_disallow_is_obeyed_when_robots_answers_200(server: ScriptedServer) -> None:
    server.script["/robots.txt"] = robots("User-agent: *\nDisallow: /private\n")
    result = crawl([server.base + "/private/memo", server.base + "/public"])
    assert "/private/memo" not in [p for _, p in server.hits]
    assert result.status_of(server.base + "/public") == 200
    assert result.stats["robotstxt/forbidden"] == 1
    assert not any(k.startswith("beatwatch/robots/allow_all") for k in result.stats)


# --- Crawl-delay --------------------------------------------------------------------------


def test_crawl_delay_sets_a_floor_on_the_slot_that_autothrottle_keeps(
    server: ScriptedServer,
) -> None:
    server.script["/robots.txt"] = robots("User-agent: *\nCrawl-delay: 1\n")
    urls = [server.base + f"/page{i}" for i in range(3)]
    result = crawl(urls)
    # Seen after AutoThrottle has adjusted the slot for each response.
    assert [s["slot_delay"] for s in result.seen] == [1.0, 1.0, 1.0]
    times = sorted(t for t, p in server.hits if p.startswith("/page"))
    assert all(b - a >= 0.9 for a, b in itertools.pairwise(times))
    assert result.stats["beatwatch/robots/crawl_delay/hosts"] == 1
    assert len(result.log_lines("INFO", "Crawl-delay 1s")) == 1


def test_crawl_delay_for_another_user_agent_is_ignored(server: ScriptedServer) -> None:
    server.script["/robots.txt"] = robots("User-agent: otherbot\nCrawl-delay: 9\n")
    result = crawl([server.base + "/page"])
    assert result.seen[0]["slot_delay"] < 1
    assert "beatwatch/robots/crawl_delay/hosts" not in result.stats


def test_crawl_delay_is_capped_by_the_maximum(server: ScriptedServer) -> None:
    server.script["/robots.txt"] = robots("User-agent: beatwatch-test\nCrawl-delay: 3600\n")
    result = crawl([server.base + "/a", server.base + "/b"], BEATWATCH_CRAWL_DELAY_MAX=1.5)
    assert [s["slot_delay"] for s in result.seen] == [1.5, 1.5]
    assert result.stats["beatwatch/robots/crawl_delay/capped"] == 1
    assert result.log_lines("Crawl-delay 3600s", "waiting 1.5s", "BEATWATCH_CRAWL_DELAY_MAX")


def downloader_stand_in(**per_slot: dict) -> SimpleNamespace:
    """The two things ``SlotDelayFloors.enforce`` touches on Scrapy's Downloader."""
    return SimpleNamespace(slots={}, per_slot_settings=dict(per_slot), _delay=0.25)


def test_floor_lifts_a_live_slot_but_never_lowers_one() -> None:
    floors = SlotDelayFloors()
    downloader = downloader_stand_in()
    downloader.slots["a.example"] = Slot(concurrency=2, delay=0.5, jitter=0)
    downloader.slots["b.example"] = Slot(concurrency=2, delay=9.0, jitter=0)
    for key in ("a.example", "b.example"):
        floors.raise_to(key, 3.0)
        floors.enforce(downloader, key)
    assert downloader.slots["a.example"].delay == 3.0
    assert downloader.slots["b.example"].delay == 9.0


def test_floor_outlives_the_slot_so_a_recreated_slot_starts_at_it() -> None:
    # Scrapy drops idle slots and recreates them from the per-slot settings.
    floors = SlotDelayFloors()
    downloader = downloader_stand_in(**{"a.example": {"concurrency": 4}})
    floors.raise_to("a.example", 2.0)
    floors.raise_to("a.example", 1.0)  # a lower delay never replaces a higher floor
    floors.enforce(downloader, "a.example")
    assert downloader.per_slot_settings["a.example"] == {"concurrency": 4, "delay": 2.0}
    floors.enforce(downloader, "c.example")  # no floor: nothing configured
    assert "c.example" not in downloader.per_slot_settings
