"""``beatwatch run``: APScheduler runs one crawl job per enabled source, plus alert delivery.

Each crawl runs as a child process (``beatwatch crawl --source NAME``): Scrapy's reactor starts
once per process, and a crash or leak in one crawl cannot take the scheduler down. Job options,
chosen deliberately:

- ``max_instances=1``: never two crawls of one source at once; a run still going when the next
  is due makes APScheduler skip that firing (logged).
- ``coalesce=True``: after a stall (laptop asleep, host paused) the missed firings of a source
  collapse into one run, not a burst.
- ``misfire_grace_time=600``: a firing up to 10 minutes late still runs; later than that it is
  dropped, since the source's next firing is then as close as the missed one.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from alerts import compose, outbox
from alerts.mailer import mailer_from_settings, sender_from_settings
from crawler import db
from crawler.runtime import utcnow
from crawler.state import RunState

logger = logging.getLogger(__name__)

MISFIRE_GRACE_SECONDS = 600
DELIVERY_INTERVAL_SECONDS = 60


class Scheduler:
    """Owns the APScheduler instance, the crawl child processes and the signal handlers."""

    def __init__(self, settings: Any, config_path: Path | None = None, max_parallel: int = 4):
        self.settings = settings
        self.config_path = config_path
        self._children: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.scheduler = BlockingScheduler(
            timezone=settings.tz,
            executors={"default": ThreadPoolExecutor(max_workers=max_parallel + 2)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            },
        )

    def add_jobs(self) -> None:
        """One cron job per enabled source and digest rule; outbox delivery every minute.

        A source that never ran, or whose schedule fired while no scheduler was running, is
        crawled once at start-up (catch-up) and then on its schedule.
        """
        tz = self.settings.tz
        missed = self.missed_sources(utcnow())
        for source in self.settings.enabled_sources():
            extra = {"next_run_time": utcnow()} if source.name in missed else {}
            self.scheduler.add_job(
                self.crawl_source,
                self.settings.trigger(source.schedule),
                args=[source.name],
                id=f"crawl:{source.name}",
                name=f"crawl {source.name}",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=MISFIRE_GRACE_SECONDS,
                **extra,
            )
        for rule in self.settings.alerts.rules:
            if rule.enabled and rule.mode == "digest":
                self.scheduler.add_job(
                    self.send_digest,
                    self.settings.trigger(rule.digest_schedule),
                    args=[rule.name],
                    id=f"digest:{rule.name}",
                    name=f"digest {rule.name}",
                )
        self.scheduler.add_job(
            self.deliver,
            IntervalTrigger(seconds=DELIVERY_INTERVAL_SECONDS, timezone=tz),
            id="deliver",
            name="deliver queued alerts",
        )
        if self.settings.store.backend == "elasticsearch":
            self.scheduler.add_job(
                self.replay_index,
                IntervalTrigger(seconds=DELIVERY_INTERVAL_SECONDS, timezone=tz),
                id="index-replay",
                name="replay the index spool",
            )

    def missed_sources(self, now: datetime) -> set[str]:
        """Enabled sources with no run since their schedule last fired (or no run at all)."""
        conn = db.connect(self.settings.store.path)
        try:
            state = RunState(conn)
            missed = set()
            for source in self.settings.enabled_sources():
                runs = state.runs(source.name, limit=1)
                trigger = self.settings.trigger(source.schedule)
                if not runs or trigger.get_next_fire_time(None, runs[0].started_at) <= now:
                    missed.add(source.name)
            return missed
        finally:
            conn.close()

    def run_forever(self) -> None:
        """Start the jobs and block until SIGINT/SIGTERM, then stop gracefully."""
        self.add_jobs()
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        for job in self.scheduler.get_jobs():
            logger.info(
                "Scheduled %(job)s (%(trigger)s)", {"job": job.name, "trigger": job.trigger}
            )
        logger.info("Scheduler started with %(n)d jobs", {"n": len(self.scheduler.get_jobs())})
        self.scheduler.start()
        logger.info("Scheduler stopped")

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        logger.info(
            "Received %(sig)s: finishing running crawls, then stopping",
            {"sig": signal.Signals(signum).name},
        )
        with self._lock:
            children = list(self._children.values())
        for child in children:
            child.send_signal(signal.SIGTERM)
        threading.Thread(target=self.scheduler.shutdown, kwargs={"wait": True}).start()

    def crawl_command(self, source: str) -> list[str]:
        """The child process command for one source's crawl."""
        command = [sys.executable, "-m", "crawler"]
        if self.config_path:
            command += ["--config", str(self.config_path)]
        return [*command, "crawl", "--source", source, "--json"]

    def crawl_source(self, source: str) -> dict | None:
        """Run one source's crawl in a child process; log and return its summary."""
        if self._stopping.is_set():
            return None
        logger.info("Crawl of %(source)s starting", {"source": source})
        child = subprocess.Popen(
            self.crawl_command(source), stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        with self._lock:
            self._children[source] = child
        try:
            out, _ = child.communicate()
        finally:
            with self._lock:
                self._children.pop(source, None)
        summary = _summary(out)
        if summary is None:
            logger.error(
                "Crawl of %(source)s exited with status %(rc)d",
                {"source": source, "rc": child.returncode},
            )
            return None
        counts = summary["sources"].get(source, {})
        logger.info(
            "Crawl of %(source)s finished: %(counts)s",
            {"source": source, "counts": {k: v for k, v in counts.items() if k != "details"}},
        )
        return summary

    def deliver(self) -> None:
        """Retry queued alert messages that are due (their own backoff is in the outbox)."""
        conn = db.connect(self.settings.store.path)
        try:
            report = outbox.deliver_due(
                conn,
                mailer_from_settings(self.settings.alerts.delivery),
                now=utcnow(),
                backoff_max=self.settings.alerts.delivery.retry_backoff_max,
            )
        finally:
            conn.close()
        if report.sent or report.parked:
            logger.info(
                "Delivered %(sent)d queued alert messages, %(parked)d refused",
                {"sent": report.sent, "parked": report.parked},
            )

    def replay_index(self) -> None:
        """Send what the spool holds to Elasticsearch (after an outage, between crawls)."""
        from indexer.elastic import ElasticStore

        conn = db.connect(self.settings.store.path)
        store = ElasticStore.from_settings(self.settings.store.elasticsearch, conn)
        try:
            if store.backlog().pending:
                report = store.sync(force=True)
                logger.info("Index spool replayed: %(report)s", {"report": report.to_json()})
        finally:
            store.close()
            conn.close()

    def send_digest(self, rule_name: str) -> None:
        """Compose one digest rule's pending hits into messages, then deliver them."""
        from crawler.runtime import Runtime

        runtime = Runtime.open(self.settings)
        try:
            rule = next(r for r in self.settings.alerts.rules if r.name == rule_name)
            compose.compose_digest(
                runtime.conn,
                rule,
                copies_of=runtime.copies_of,
                tz=self.settings.tz,
                sender=sender_from_settings(self.settings.alerts.delivery),
                now=utcnow(),
            )
        finally:
            runtime.close()
        self.deliver()


def _summary(out: str) -> dict | None:
    """The child's ``crawl --json`` summary, or None when it died before printing one."""
    try:
        return json.loads(out)
    except ValueError:
        return None
