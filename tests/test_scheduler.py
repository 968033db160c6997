"""`beatwatch run`: one job per enabled source, catch-up at start, clean stop on SIGTERM."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import Project
from crawler.config import load_config
from crawler.runtime import utcnow
from crawler.scheduler import MISFIRE_GRACE_SECONDS, Scheduler


def scheduler_for(project: Project) -> Scheduler:
    return Scheduler(load_config(project.write()), config_path=project.config_path)


def test_one_job_per_enabled_source_with_deliberate_options(project):
    project.config["sources"][2]["enabled"] = False
    project.config["alerts"]["rules"][0]["mode"] = "digest"
    sched = scheduler_for(project)
    sched.add_jobs()
    jobs = {job.id: job for job in sched.scheduler.get_jobs()}
    assert set(jobs) == {"crawl:wp-news", "crawl:atom-times", "digest:kem-sokha", "deliver"}
    crawl = jobs["crawl:wp-news"]
    assert crawl.max_instances == 1
    assert crawl.coalesce is True
    assert crawl.misfire_grace_time == MISFIRE_GRACE_SECONDS


def test_sources_that_never_ran_are_caught_up_at_start(project):
    missed = scheduler_for(project).missed_sources(utcnow())
    assert missed == {"wp-news", "atom-times", "khmer-daily"}


def test_a_source_crawled_since_its_last_firing_is_not_caught_up(project):
    started = utcnow()  # a firing during the crawl would rightly count as missed
    result = project.cli("crawl", "--source", "wp-news", "--json")
    assert result.code == 0, result.stderr
    missed = scheduler_for(project).missed_sources(started)
    assert "wp-news" not in missed
    assert {"atom-times", "khmer-daily"} <= missed


def runs_finished(project: Project) -> int:
    if not project.db_path.exists():
        return 0
    with sqlite3.connect(project.db_path) as conn:
        try:
            (n,) = conn.execute("SELECT COUNT(*) FROM runs WHERE status != 'running'").fetchone()
        except sqlite3.OperationalError:
            return 0
    return n


@pytest.mark.slow
def test_run_crawls_due_sources_then_stops_cleanly_on_sigterm(project):
    for source in project.config["sources"]:
        source["schedule"] = "0 3 1 1 *"  # never fires during the test: only the catch-up runs
    project.write()
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler", "--config", str(project.config_path), "run"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while runs_finished(project) < 3 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.5)
        assert runs_finished(project) == 3
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    logged = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    messages = [entry["message"] for entry in logged]
    assert "Scheduler stopped" in messages
    assert any(m.startswith("Crawl of wp-news finished") for m in messages), "\n".join(messages)
    with sqlite3.connect(project.db_path) as conn:
        pending = conn.execute("SELECT COUNT(*) FROM alert_hits WHERE state = 'pending'")
        states = dict(conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state"))
    assert pending.fetchone() == (0,)
    assert set(states) == {"sent"}
    assert len(list((project.maildir / "new").iterdir())) == states["sent"]
