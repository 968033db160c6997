"""Shared fixtures: the loopback fixture outlets, per-test configs, and the CLI as a subprocess."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.es_standin import es_standin  # noqa: F401 - a fixture for every test module
from tests.fixture_server import FixtureSites

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def sites() -> Iterator[FixtureSites]:
    """The fixture outlets, each on its own loopback address; reset between tests."""
    running = FixtureSites().start()
    yield running
    running.stop()


@pytest.fixture
def fresh_sites(sites: FixtureSites) -> FixtureSites:
    sites.reset()
    return sites


def closed_port() -> int:
    """A loopback port with nothing listening on it: a dead host."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)


@dataclass
class Project:
    """A temporary beatwatch install: its config file, database and maildir."""

    root: Path
    config: dict

    @property
    def config_path(self) -> Path:
        return self.root / "beatwatch.yaml"

    @property
    def db_path(self) -> Path:
        return self.root / "var" / "beatwatch.db"

    @property
    def maildir(self) -> Path:
        return self.root / "var" / "mail"

    def write(self) -> Path:
        self.config_path.write_text(
            yaml.safe_dump(self.config, allow_unicode=True, sort_keys=False)
        )
        return self.config_path

    def cli(self, *args: str, timeout: float = 120, env: dict | None = None) -> Result:
        """Run ``python -m crawler --config ... ARGS`` and capture what it printed."""
        self.write()
        proc = subprocess.run(
            [sys.executable, "-m", "crawler", "--config", str(self.config_path), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
            env={**os.environ, **(env or {})},
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)


def source_entry(name: str, feeds: list[str], hosts: list[str], **extra: object) -> dict:
    return {
        "name": name,
        "feeds": feeds,
        "allowed_domains": hosts,
        "schedule": "*/15 * * * *",
        **extra,
    }


@pytest.fixture
def project(tmp_path: Path, fresh_sites: FixtureSites) -> Project:
    """A config crawling the three fixture outlets into a temp dir, alerts to a maildir."""
    wp, atom, km = fresh_sites["wp-news"], fresh_sites["atom-times"], fresh_sites["khmer-daily"]
    config = {
        "store": {"backend": "sqlite", "path": str(tmp_path / "var" / "beatwatch.db")},
        "crawl": {
            "user_agent": "beatwatch-test (+mailto:ops@example.org)",
            "download_delay": 0,
            "timeout": 5,
            "retries": 1,
            "retry_backoff": 0,
        },
        "sources": [
            source_entry("wp-news", [wp.url("/feed/")], [wp.host], language=["en"]),
            source_entry("atom-times", [atom.url("/atom.xml")], [atom.host], language=["en"]),
            source_entry("khmer-daily", [km.url("/rss.xml")], [km.host], language=["km"]),
        ],
        "alerts": {
            "delivery": {"maildir": str(tmp_path / "var" / "mail")},
            "rules": [
                {
                    "name": "kem-sokha",
                    "query": '"Kem Sokha" OR "កឹម សុខា"',
                    "recipients": ["monitoring@example.org"],
                },
                {
                    "name": "military-cooperation",
                    "query": '"military cooperation" OR "defence cooperation"'
                    ' OR "កិច្ចសហប្រតិបត្តិការការពារជាតិ"',
                    "recipients": ["monitoring@example.org", "desk@example.org"],
                },
                {
                    "name": "ream",
                    "query": '"Ream Naval Base" OR "មូលដ្ឋានសមុទ្ររាម"',
                    "recipients": ["desk@example.org"],
                },
            ],
        },
    }
    return Project(root=tmp_path, config=config)
