"""Listing pages through `beatwatch crawl`: links, pagination, selectors, backfill resumption."""

from __future__ import annotations

import sqlite3

import pytest

from conftest import Project, source_entry

SELECTORS = {
    "title": "div.headline",
    "body": "div.story-body",
    "date": "span.dateline::attr(data-published)",
    "author": "span.reporter",
}
ARTICLES = 9  # over the three pages of /defence/; one is a video page with no text


@pytest.fixture
def riverside(project: Project, sites) -> Project:
    site = sites["listing-daily"]
    entry = source_entry("riverside-daily", [], [site.host], language=["en"])
    entry.update(
        start_urls=[site.url("/defence/")],
        follow=[r"^https?://[^/]+/article/[^/?#]+/$"],
        deny=["/share/"],
        max_pages=3,
        extract=SELECTORS,
    )
    project.config["sources"] = [entry]
    return project


def article(project: Project, url: str) -> dict:
    with sqlite3.connect(project.db_path) as conn:
        conn.row_factory = sqlite3.Row
        return dict(conn.execute("SELECT * FROM articles WHERE url = ?", (url,)).fetchone())


def test_listing_pages_are_followed_with_their_pagination(riverside, sites):
    result = riverside.cli("crawl", "--json")
    assert result.code == 0, result.stderr
    counts = result.json()["sources"]["riverside-daily"]
    assert counts["details"]["listings/fetched"] == 3
    assert counts["fetched"] == ARTICLES
    assert (counts["new"], counts["empty"]) == (ARTICLES - 1, 1)
    requested = sites["listing-daily"].paths_requested()
    assert not any("external" in p or "/share/" in p or "/tag/" in p for p in requested)


def test_source_selectors_set_the_date_and_author(riverside, sites):
    riverside.cli("crawl")
    row = article(
        riverside, sites["listing-daily"].url("/article/ream-pier-handover-ceremony-set/")
    )
    assert row["published_at"].startswith("2026-11-04T01:00:00")  # 08:00 +07:00
    assert row["authors"] == '["Sok Dara"]'
    assert "Most read" not in row["text"]


def test_a_sidebar_keyword_on_a_listed_page_never_triggers_a_rule(riverside, sites):
    riverside.cli("crawl")
    with sqlite3.connect(riverside.db_path) as conn:
        urls = {r[0] for r in conn.execute("SELECT url FROM alert_hits WHERE rule = 'kem-sokha'")}
    assert urls == {sites["listing-daily"].url("/article/kem-sokha-appeal-hearing-moved/")}


def test_a_routine_run_stops_at_a_page_with_nothing_new(riverside):
    riverside.cli("crawl")
    again = riverside.cli("crawl", "--json").json()["sources"]["riverside-daily"]
    assert again["details"]["listings/fetched"] == 1
    assert again["details"]["listings/stopped_nothing_new"] == 1
    assert again["fetched"] == 0


def test_endless_pagination_stops_at_max_pages(riverside, sites):
    riverside.config["sources"][0]["start_urls"] = [sites["listing-daily"].url("/endless/")]
    counts = riverside.cli("crawl", "--json").json()["sources"]["riverside-daily"]
    assert counts["details"]["listings/fetched"] == 3
    assert counts["details"]["listings/max_pages_reached"] == 1


def test_endless_pagination_in_a_backfill_stops_at_the_cycle(riverside, sites):
    site = sites["listing-daily"]
    riverside.config["sources"][0]["start_urls"] = [site.url("/endless/")]
    result = riverside.cli(
        "crawl", "--source", "riverside-daily", "--since", "2026-01-01", "--json"
    )
    assert result.code == 0, result.stderr
    counts = result.json()["sources"]["riverside-daily"]
    assert counts["details"]["listings/fetched"] == 4
    assert counts["details"]["listings/pagination_loops"] == 1


def test_a_backfill_stopped_by_its_page_limit_resumes_where_it_stopped(riverside, sites):
    riverside.config["crawl"]["backfill_max_pages"] = 1
    backfill = ("crawl", "--source", "riverside-daily", "--since", "2026-11-01", "--json")
    pages = []
    for _ in range(4):
        result = riverside.cli(*backfill)
        assert result.code == 0, result.stderr
        pages.append(
            result.json()["sources"]["riverside-daily"]["details"].get("listings/fetched", 0)
        )
    assert pages == [1, 1, 1, 0]  # three pages, one per run, then nothing left to do
    requested = sites["listing-daily"].paths_requested()
    assert requested.count("/defence/") == 1
    assert requested.count("/defence/page/2/") == 1
    with sqlite3.connect(riverside.db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == ARTICLES - 1


def test_a_backfill_stops_at_pages_older_than_since(riverside):
    result = riverside.cli(
        "crawl", "--source", "riverside-daily", "--since", "2026-11-06", "--json"
    )
    counts = result.json()["sources"]["riverside-daily"]
    assert counts["details"]["listings/fetched"] == 1  # page 1's newest story is 5 November
    assert counts["details"]["backfill/reached_since"] == 1


def test_a_backfill_stores_only_articles_published_before_until(riverside):
    backfill = ("crawl", "--source", "riverside-daily", "--since", "2026-11-01")
    result = riverside.cli(*backfill, "--until", "2026-11-07", "--json")
    assert result.code == 0, result.stderr
    counts = result.json()["sources"]["riverside-daily"]
    assert counts["details"]["listings/fetched"] == 3  # newer pages still lead to older ones
    assert counts["details"]["backfill/after_until"] == 4  # 8, 9 (two, one a video), 10 Nov
    with sqlite3.connect(riverside.db_path) as conn:
        dates = [row[0] for row in conn.execute("SELECT published_at FROM articles")]
    assert len(dates) == ARTICLES - 4
    assert max(dates) < "2026-11-08"  # the bare --until date includes the whole 7th (UTC)


def test_articles_set_aside_by_until_are_not_marked_seen(riverside):
    backfill = ("crawl", "--source", "riverside-daily", "--since", "2026-11-01")
    riverside.cli(*backfill, "--until", "2026-11-07", "--json")
    result = riverside.cli(*backfill, "--json")
    assert result.code == 0, result.stderr
    counts = result.json()["sources"]["riverside-daily"]
    assert counts["details"]["entries/requested"] == 4
    assert (counts["new"], counts["empty"]) == (3, 1)
    with sqlite3.connect(riverside.db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == ARTICLES - 1


def test_backfill_needs_a_source(riverside):
    result = riverside.cli("crawl", "--since", "2026-11-01")
    assert result.code == 2
    assert "--source" in result.stderr
