"""One crawl pass: every enabled (or named) source once, then alert composition and delivery.

Scrapy's reactor runs once per process, so a pass is one process: ``beatwatch crawl`` in the
foreground, or a child process that the scheduler starts for each due source.
"""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass, field
from typing import Any

from scrapy.crawler import Crawler, CrawlerProcess

from alerts import compose, outbox
from alerts.mailer import mailer_from_settings, sender_from_settings
from crawler.logs import quiet_libraries
from crawler.pipeline import STAGES
from crawler.progress import CrawlProgress
from crawler.runtime import Runtime, utcnow
from spiders.base import Window
from spiders.settings import scrapy_settings
from spiders.source import SourceSpider

logger = logging.getLogger(__name__)

SUMMARY_KEYS = (
    "fetched",
    "new",
    "updated",
    "unchanged",
    "duplicates",
    "out_of_scope",
    "empty",
    "errors",
)
ENDPOINTS = ("feeds", "sitemaps", "listings")


@dataclass
class SourceSummary:
    """What one source's crawl did: the run summary counters and the problems met."""

    source: str
    status: str
    counts: dict[str, int]
    details: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        """The per-source object of ``crawl --json``."""
        return {"status": self.status, **self.counts, "details": self.details}


@dataclass
class CrawlReport:
    """The whole pass: per-source summaries and what alert delivery did."""

    sources: list[SourceSummary]
    alerts: dict[str, int]
    index: dict[str, Any] | None = None

    def to_json(self) -> dict:
        """The ``crawl --json`` object (``index`` only with a remote index)."""
        totals = {k: sum(s.counts[k] for s in self.sources) for k in SUMMARY_KEYS}
        out = {
            "sources": {s.source: s.to_json() for s in self.sources},
            "totals": totals,
            "alerts": self.alerts,
        }
        if self.index is not None:
            out["index"] = self.index
        return out


def summarise(source: str, stats: dict[str, Any]) -> SourceSummary:
    """Turn a crawler's stats into the run summary for its source."""
    bw = {k.removeprefix("beatwatch/"): v for k, v in stats.items() if k.startswith("beatwatch/")}
    articles_errors = bw.get("articles/fetch_errors", 0) + bw.get("articles/error", 0)
    endpoint_errors = sum(bw.get(f"{kind}/errors", 0) for kind in ENDPOINTS)
    counts = {
        "fetched": bw.get("fetched", 0),
        "new": bw.get("articles/new", 0),
        "updated": bw.get("articles/updated", 0),
        "unchanged": bw.get("articles/unchanged", 0),
        "duplicates": bw.get("articles/duplicate", 0),
        "out_of_scope": bw.get("articles/out_of_scope", 0),
        "empty": bw.get("articles/empty", 0),
        "errors": articles_errors + endpoint_errors,
    }
    if counts["empty"]:
        logger.warning(
            "Source %(source)s: %(n)d pages had no article text (check its extract selectors)",
            {"source": source, "n": counts["empty"]},
        )
    return SourceSummary(source=source, status=_status(stats, bw), counts=counts, details=bw)


def _status(stats: dict[str, Any], bw: dict[str, int]) -> str:
    """ok: a feed, sitemap or listing page answered with something readable; failed: none did;
    interrupted: stopped by a signal; error: the crawler itself broke (a bug, logged)."""
    reason = stats.get("finish_reason")
    if reason is None:
        return "error"
    if reason != "finished":
        return "interrupted"
    answered = sum(bw.get(f"{kind}/read", 0) for kind in ENDPOINTS)
    return "ok" if answered else "failed"


def run_pass(
    settings: Any, source_names: list[str] | None = None, backfill: Window | None = None
) -> CrawlReport:
    """Crawl the sources once (or backfill them over a window), record each run, then queue
    and deliver immediate alerts."""
    sources = [settings.source(n) for n in source_names] if source_names else None
    sources = sources or settings.enabled_sources()
    runtime = Runtime.open(settings)
    try:
        summaries = _crawl(runtime, sources, backfill)
        _defer_signals()
        alerts = deliver_alerts(runtime)  # first: alerts never wait on the index
        index = sync_index(runtime)
    finally:
        runtime.close()
    return CrawlReport(sources=summaries, alerts=alerts, index=index)


def sync_index(runtime: Runtime) -> dict[str, Any] | None:
    """Send what the spool still holds to a remote index; what this pass sent, or None."""
    last = runtime.store.sync(force=True)
    report = runtime.store.sent
    if last is None or report is None:
        return None
    backlog = runtime.store.index_status(cluster=False)["spool"]
    if last.error:
        logger.warning("Index not reachable; %d articles wait in the spool", backlog["pending"])
    return {**report.to_json(), "error": last.error, "backlog": backlog}


def _defer_signals() -> None:
    """Once the crawl is done, let composing, delivering and printing the summary finish.

    A SIGINT/SIGTERM from now on (the scheduler stopping) is ignored: the pass ends normally,
    moments later, with exit status 0.
    """
    logger.debug("Crawl done: ignoring SIGINT/SIGTERM while alerts are delivered")
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def _crawl(runtime: Runtime, sources: list[Any], backfill: Window | None) -> list[SourceSummary]:
    scrapy_cfg = scrapy_settings(runtime.settings.crawl)
    scrapy_cfg.update(
        LOG_INSTALL_ROOT_HANDLER=False,
        ITEM_PIPELINES=STAGES,
        EXTENSIONS={
            **scrapy_cfg["EXTENSIONS"],
            "crawler.pipeline.outcomes.OutcomeRecorder": 0,
            "crawler.progress.CrawlProgress": 10,
        },
        BEATWATCH_RUNTIME=runtime,
    )
    process = CrawlerProcess(scrapy_cfg)
    quiet_libraries()
    started: list[tuple[Any, Crawler, int]] = []
    for source in sources:
        run_id = runtime.state.start_run(source.name, utcnow())
        crawler = process.create_crawler(SourceSpider)
        process.crawl(
            crawler,
            source=source,
            state=runtime.state,
            max_items=runtime.settings.crawl.max_items_per_feed,
            backfill=backfill,
            backfill_max_pages=getattr(runtime.settings.crawl, "backfill_max_pages", 200),
        )
        started.append((source, crawler, run_id))
    process.start()
    CrawlProgress.finish()
    summaries = []
    for source, crawler, run_id in started:
        summary = summarise(source.name, crawler.stats.get_stats())
        runtime.state.finish_run(run_id, status=summary.status, stats=summary.counts, now=utcnow())
        summaries.append(summary)
        logger.info(
            "Source %(source)s: %(status)s %(counts)s",
            {"source": source.name, "status": summary.status, "counts": summary.counts},
        )
    return summaries


def deliver_alerts(runtime: Runtime, *, ignore_backoff: bool = False) -> dict[str, int]:
    """Queue one message per recipient for new immediate hits, then deliver what is due."""
    settings = runtime.settings
    now = utcnow()
    immediate = [r for r in settings.alerts.rules if r.enabled and r.mode == "immediate"]
    queued = compose.compose_immediate(
        runtime.conn,
        immediate,
        copies_of=runtime.copies_of,
        tz=settings.tz,
        sender=sender_from_settings(settings.alerts.delivery),
        now=now,
    )
    report = outbox.deliver_due(
        runtime.conn,
        mailer_from_settings(settings.alerts.delivery),
        now=now,
        backoff_max=settings.alerts.delivery.retry_backoff_max,
        ignore_backoff=ignore_backoff,
    )
    return {
        "queued": queued,
        "sent": report.sent,
        "retried": report.retried,
        "parked": report.parked,
    }
