"""Two crawl processes on one database at once: copies stay one story and alert once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from test_crawl import messages
from test_crawl_errors import ARTICLE, rss

from conftest import Project, source_entry


def test_concurrent_crawls_of_two_outlets_carrying_one_story_alert_once(project: Project, sites):
    site = sites["broken"]
    for outlet in ("a", "b"):
        site.put(f"/{outlet}.xml", rss(site.base, [f"/{outlet}/wire-story/"]))
        site.put(f"/{outlet}/wire-story/", ARTICLE)
    project.config["sources"] = [
        source_entry(f"outlet-{o}", [site.url(f"/{o}.xml")], [site.host]) for o in ("a", "b")
    ]
    project.write()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "crawler",
                "--config",
                str(project.config_path),
                "crawl",
                "--source",
                f"outlet-{o}",
                "--json",
            ],
            cwd=project.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for o in ("a", "b")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    with sqlite3.connect(project.db_path) as conn:
        stories = conn.execute("SELECT COUNT(DISTINCT story_id), COUNT(*) FROM articles").fetchone()
        hits = conn.execute("SELECT rule, COUNT(*) FROM alert_hits GROUP BY rule").fetchall()
    assert stories == (1, 2)
    assert hits == [("military-cooperation", 1)]
    assert sorted(m["To"] for m in messages(project)) == [
        "desk@example.org",
        "monitoring@example.org",
    ]
