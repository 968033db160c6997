"""Crawl progress: a live status line on a terminal, a periodic structured log line otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, ClassVar

from scrapy import signals
from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

LOG_EVERY_SECONDS = 30.0
REDRAW_SECONDS = 0.1


class CrawlProgress:
    """A Scrapy extension; all the crawlers of one pass share one board of per-source counts."""

    board: ClassVar[dict[str, dict[str, int]]] = {}
    _last_log: ClassVar[float] = 0.0

    def __init__(self, stats: Any, tty: bool):
        self.stats = stats
        self.tty = tty
        self._last_update = 0.0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlProgress:
        ext = cls(crawler.stats, sys.stderr.isatty())
        for signal in (signals.item_scraped, signals.item_dropped, signals.response_received):
            crawler.signals.connect(ext.update, signal=signal)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def update(self, spider: Any, **_: Any) -> None:
        now = time.monotonic()
        if now - self._last_update < REDRAW_SECONDS:
            return
        self._last_update = now
        stats = self.stats.get_stats()
        self.board[spider.source.name] = {
            "requested": stats.get("beatwatch/entries/requested", 0),
            "fetched": stats.get("beatwatch/fetched", 0),
            "skipped": sum(v for k, v in stats.items() if k.startswith("beatwatch/skipped/")),
            "new": stats.get("beatwatch/articles/new", 0),
            "errors": stats.get("beatwatch/articles/fetch_errors", 0)
            + stats.get("beatwatch/feeds/errors", 0),
        }
        self._show()

    def spider_closed(self, spider: Any, reason: str) -> None:
        self._last_update = 0.0
        self.update(spider)

    @classmethod
    def finish(cls) -> None:
        """End the live line once every crawler of the pass has closed."""
        if cls.board and sys.stderr.isatty():
            sys.stderr.write("\n")

    def _show(self) -> None:
        keys = ("requested", "fetched", "skipped", "new", "errors")
        totals = {k: sum(c[k] for c in self.board.values()) for k in keys}
        if self.tty:
            sys.stderr.write(
                f"\r{_bar(totals)} {len(self.board)} sources:"
                f" {totals['fetched']}/{totals['requested']} fetched,"
                f" {totals['new']} new, {totals['errors']} errors   "
            )
            sys.stderr.flush()
            return
        now = time.monotonic()
        if now - CrawlProgress._last_log >= LOG_EVERY_SECONDS:
            CrawlProgress._last_log = now
            logger.info(
                "Crawl progress: %(fetched)d fetched, %(new)d new, %(errors)d errors",
                totals,
                extra={"progress": self.board},
            )


def _bar(totals: dict[str, int], width: int = 20) -> str:
    """``[#####.....]``: pages that have an outcome, out of the article pages requested so far."""
    done = totals["fetched"] + totals["skipped"] + totals["errors"]
    share = min(1.0, done / totals["requested"]) if totals["requested"] else 0.0
    filled = round(share * width)
    return "[" + "#" * filled + "." * (width - filled) + "]"


class TaskProgress:
    """Progress of one long command (``index migrate``, ``index rebuild``): a bar on a
    terminal, a structured log line every ``LOG_EVERY_SECONDS`` otherwise."""

    def __init__(self, label: str, *, stream: Any = None):
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        """Show that ``done`` of ``total`` items are through."""
        now = time.monotonic()
        if self.tty:
            share = {"requested": total, "fetched": done, "skipped": 0, "errors": 0}
            self.stream.write(f"\r{_bar(share)} {self.label}: {done}/{total}   ")
            self.stream.flush()
            self._drawn = True
        elif now - self._last >= LOG_EVERY_SECONDS or done >= total:
            self._last = now
            logger.info(
                "%(label)s: %(done)d of %(total)d",
                {"label": self.label, "done": done, "total": total},
            )

    def close(self) -> None:
        """End the bar's line."""
        if self._drawn:
            self.stream.write("\n")
