"""A crawl killed or stopped part-way: the next run finishes the job, nothing lost or doubled."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from test_crawl import messages
from test_crawl_errors import ARTICLE, rss

from conftest import Project, source_entry

DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday")
SLOW_LINKS = ["/ok/", *(f"/slow/{day.lower()}/" for day in DAYS)]


@pytest.fixture
def slow(project: Project, sites) -> Project:
    site = sites["broken"]
    project.config["sources"] = [
        source_entry("broken", [site.url("/errors.xml")], [site.host], language=["en"])
    ]
    project.config["crawl"]["concurrency_per_host"] = 1
    site.put("/errors.xml", rss(site.base, SLOW_LINKS))
    site.put("/ok/", ARTICLE)
    for day in DAYS:
        site.put(f"/{day.lower()}/", ARTICLE.replace("Saturday", day))
    return project


def stored(project: Project) -> int:
    try:
        with sqlite3.connect(project.db_path) as conn:
            return conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def start_and_stop(project: Project, how: signal.Signals) -> subprocess.CompletedProcess:
    project.write()
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler", "--config", str(project.config_path), "crawl", "--json"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while stored(project) < 1 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    proc.send_signal(how)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_a_killed_crawl_is_finished_by_the_next_run_without_double_alerts(slow):
    killed = start_and_stop(slow, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert 1 <= stored(slow) < len(SLOW_LINKS)
    again = slow.cli("crawl", "--json")
    assert again.code == 0, again.stderr
    counts = again.json()["sources"]["broken"]
    assert stored(slow) == len(SLOW_LINKS)
    assert counts["details"]["entries/unchanged"] >= 1  # what the killed run stored is kept
    mail = messages(slow)
    assert sorted(m["To"] for m in mail) == ["desk@example.org", "monitoring@example.org"]
    status = slow.cli("status", "--json").json()["sources"]["broken"]
    assert status["last_status"] == "ok"
    with sqlite3.connect(slow.db_path) as conn:
        history = [r[0] for r in conn.execute("SELECT status FROM runs ORDER BY id")]
    assert history == ["crashed", "ok"]


def test_sigterm_stops_gracefully_and_the_next_run_resumes(slow):
    stopped = start_and_stop(slow, signal.SIGTERM)
    assert stopped.returncode == 0, stopped.stderr
    first = json.loads(stopped.stdout)["sources"]["broken"]
    assert first["status"] == "interrupted"
    again = slow.cli("crawl", "--json")
    assert again.code == 0, again.stderr
    # in-flight pages were finished; whatever was not reached is fetched now
    assert stored(slow) == len(SLOW_LINKS)
    assert first["fetched"] + again.json()["sources"]["broken"]["fetched"] == len(SLOW_LINKS)
