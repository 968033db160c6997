"""Sitemaps through `beatwatch crawl`: discovery, windows, gzip, lastmod, loops, backfill."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from conftest import Project, source_entry

TALKS = "/2026/11/phnom-penh-and-washington-resume-defence-talks/"
WINDOW = ("--since", "2026-11-04", "--until", "2026-11-06")


@pytest.fixture
def tonle(project: Project, sites) -> Project:
    site = sites["sitemap-post"]
    entry = source_entry("tonle-post", [], [site.host], language=["en"])
    entry.update(homepage=site.url("/"), robots_sitemaps=True, max_age="3650d")
    project.config["sources"] = [entry]
    return project


def backfill(project: Project, *window: str) -> dict:
    result = project.cli("crawl", "--source", "tonle-post", *window, "--json")
    assert result.code == 0, result.stderr
    return result.json()["sources"]["tonle-post"]


def test_a_window_backfill_reads_only_the_sitemaps_and_urls_inside_it(tonle, sites):
    counts = backfill(tonle, *WINDOW)
    assert (counts["fetched"], counts["new"]) == (3, 3)
    requested = sites["sitemap-post"].paths_requested()
    assert requested.count(TALKS) == 1  # listed by the news sitemap and the gzip urlset
    assert "/sitemap-posts-2026-11.xml.gz" in requested
    assert "/sitemap-posts-2026-10.xml" not in requested  # last modified before the window
    assert not any(p.startswith("/drafts/") for p in requested)  # robots.txt Disallow


def test_routine_runs_take_urls_inside_max_age_then_only_what_changed(tonle, sites):
    first = tonle.cli("crawl", "--json").json()["sources"]["tonle-post"]
    # the 6 articles and the pages sitemap's two pages (/contact/ has no date: a routine run
    # takes undated URLs too, and the seen-URL check keeps them from being fetched again)
    assert first["new"] == 8
    assert first["details"]["sitemaps/from_robots"] == 2
    again = tonle.cli("crawl", "--json").json()["sources"]["tonle-post"]
    assert again["fetched"] == 0
    site = sites["sitemap-post"]
    news = (site.folder / "news-sitemap.xml").read_text()
    site.put(
        "/news-sitemap.xml",
        news.replace(
            "<loc>{{BASE}}" + TALKS + "</loc>",
            "<loc>{{BASE}}" + TALKS + "</loc><lastmod>2026-11-20T00:00:00Z</lastmod>",
        ),
    )
    third = tonle.cli("crawl", "--json").json()["sources"]["tonle-post"]
    assert third["fetched"] == 1  # a newer lastmod: fetched again (and found unchanged)
    assert third["unchanged"] == 1


def test_a_short_max_age_keeps_routine_runs_cheap(tonle, sites):
    tonle.config["sources"][0]["max_age"] = "3d"  # the fixture's stories are weeks old
    counts = tonle.cli("crawl", "--json").json()["sources"]["tonle-post"]
    assert counts["fetched"] == 0
    assert counts["details"]["sitemaps/too_old"] >= 2
    assert counts["status"] == "ok"


@pytest.mark.parametrize(
    ("sitemap", "stat", "status"),
    [("/not-xml.xml", "sitemaps/errors", "failed"), ("/loop-index.xml", "sitemaps/loops", "ok")],
)
def test_bad_sitemaps_are_counted_and_the_run_completes(tonle, sites, sitemap, stat, status):
    site = sites["sitemap-post"]
    tonle.config["sources"][0].update(robots_sitemaps=False, sitemaps=[site.url(sitemap)])
    counts = backfill(tonle, "--since", "2026-01-01")
    assert counts["details"][stat] >= 1
    assert counts["status"] == status
    assert all(n == 1 for n in _counts(site.paths_requested()).values())


def _counts(paths: list[str]) -> dict[str, int]:
    xml = [p for p in paths if p.endswith(".xml")]
    return {p: xml.count(p) for p in xml}


def test_a_broken_sitemap_still_yields_its_recoverable_urls(tonle, sites):
    site = sites["sitemap-post"]
    tonle.config["sources"][0].update(robots_sitemaps=False, sitemaps=[site.url("/broken.xml")])
    counts = backfill(tonle, "--since", "2026-01-01")
    assert counts["details"]["sitemaps/warnings"] >= 1
    assert counts["details"]["entries/total"] == 2


def test_an_interrupted_sitemap_backfill_resumes_with_what_is_left(tonle, sites):
    site = sites["sitemap-post"]
    index = (site.folder / "sitemap_index.xml").read_text()
    site.put(
        "/sitemap_index.xml",
        index.replace(
            "{{BASE}}/sitemap-posts-2026-10.xml", "{{BASE}}/flaky/2/sitemap-posts-2026-10.xml"
        ),
    )
    first = backfill(tonle, "--since", "2026-10-01")
    assert first["new"] == 5  # the October urlset failed twice (503), the rest is done
    second = backfill(tonle, "--since", "2026-10-01")
    assert second["new"] == 1
    assert second["details"]["backfill/resumed_sitemaps"] >= 1  # finished urlsets not re-read
    assert site.paths_requested().count("/sitemap-posts-2026-11.xml.gz") == 1


def test_a_50000_url_news_sitemap_is_filtered_to_its_window(tonle, sites):
    site = sites["sitemap-post"]
    rng = random.Random(5)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    dates = [start + timedelta(minutes=rng.randrange(0, 60 * 24 * 300)) for _ in range(50_000)]
    urls = "".join(
        f"<url><loc>{{{{BASE}}}}/bulk/{i}/</loc><lastmod>{d.isoformat()}</lastmod></url>"
        for i, d in enumerate(dates)
    )
    site.put(
        "/bulk.xml",
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/'
        f'sitemap/0.9">{urls}</urlset>',
    )
    tonle.config["sources"][0].update(robots_sitemaps=False, sitemaps=[site.url("/bulk.xml")])
    counts = backfill(tonle, "--since", "2026-10-27", "--until", "2026-10-27")
    inside = sum(
        datetime(2026, 10, 27, tzinfo=UTC) <= d < datetime(2026, 10, 28, tzinfo=UTC) for d in dates
    )
    assert counts["details"]["entries/total"] == 50_000
    assert counts["details"]["entries/requested"] == inside
    assert counts["errors"] == inside  # the bulk pages do not exist: 404, counted, not fatal


def test_an_index_whose_child_failed_is_read_again_next_run(tonle, sites):
    site = sites["sitemap-post"]
    index = (site.folder / "sitemap_index.xml").read_text()
    site.put(
        "/sitemap_index.xml",
        index.replace(
            "{{BASE}}/sitemap-posts-2026-11.xml.gz", "{{BASE}}/flaky/2/sitemap-posts-2026-11.xml.gz"
        ),
    )
    tonle.config["sources"][0].update(
        robots_sitemaps=False, sitemaps=[site.url("/sitemap_index.xml")]
    )
    first = tonle.cli("crawl", "--json").json()["sources"]["tonle-post"]
    assert first["details"]["sitemaps/errors"] == 1
    second = tonle.cli("crawl", "--json").json()["sources"]["tonle-post"]
    # the index was not saved as done: it is read again (its finished children answer 304)
    assert second["details"]["sitemaps/not_modified"] == 2
    assert second["new"] >= 1  # the November urlset's articles arrive now
