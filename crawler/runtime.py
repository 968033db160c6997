"""The objects one crawl pass shares between its stages: config, database, store, rules."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alerts.matcher import Matcher, RuleSet
from crawler import db
from crawler.state import RunState
from crawler.stories import StoryIndex
from indexer import SQLiteStore, Store


@dataclass
class Runtime:
    """Built once per process from validated settings; stages read what they need from it."""

    settings: Any
    conn: sqlite3.Connection
    store: Store
    state: RunState
    rules: RuleSet
    rule_modes: dict[str, str]
    scope: Matcher | None
    stories: StoryIndex

    @classmethod
    def open(cls, settings: Any) -> Runtime:
        """Open the database file and the configured store; compile scope and rules once."""
        conn = db.connect(settings.store.path)
        rules = [r for r in settings.alerts.rules if r.enabled]
        return cls(
            settings=settings,
            conn=conn,
            store=_open_store(settings, conn),
            state=RunState(conn),
            rules=RuleSet({r.name: r.query for r in rules}),
            rule_modes={r.name: r.mode for r in rules},
            scope=Matcher(settings.scope) if settings.scope else None,
            stories=StoryIndex(conn),
        )

    def copies_of(self, story_id: str) -> list[tuple[str, str]]:
        """(outlet, URL) of every stored copy of a story, for the "also carried by" line."""
        return [(a.source, a.url) for a in self.store.copies(story_id)]

    def __deepcopy__(self, memo: dict) -> Runtime:
        # Scrapy deep-copies its settings per crawler; every crawler must share this one runtime.
        return self

    def close(self) -> None:
        """Close the store and the database connection."""
        self.store.close()
        self.conn.close()


def _open_store(settings: Any, conn: sqlite3.Connection) -> Store:
    if settings.store.backend == "elasticsearch":
        from indexer.elastic import ElasticStore

        return ElasticStore.from_settings(settings.store.elasticsearch, conn)
    return SQLiteStore(conn)


def utcnow() -> datetime:
    """The current time, timezone-aware (UTC); one place so every stage agrees."""
    return datetime.now(UTC)
