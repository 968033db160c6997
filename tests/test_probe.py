"""`beatwatch sources probe`: every endpoint fetched once and described; nothing stored."""

from __future__ import annotations

from conftest import Project, closed_port, source_entry


def test_probe_reports_status_type_items_and_newest_date(project: Project, sites):
    broken = sites["broken"]
    project.config["sources"].append(
        source_entry(
            "broken",
            [broken.url("/notafeed.xml"), broken.url("/status/404")],
            [broken.host],
            enabled=False,
        )
    )
    dead = f"http://127.0.0.1:{closed_port()}/feed/"
    project.config["sources"].append(source_entry("dead", [dead], ["127.0.0.1"]))
    result = project.cli("sources", "probe", "--json")
    assert result.code == 0, result.stderr
    by_url = {r["url"]: r for r in result.json()}
    wp = by_url[sites["wp-news"].url("/feed/")]
    assert (wp["status"], wp["items"], wp["error"]) == (200, 8, None)
    assert wp["content_type"].startswith("application/rss+xml")
    assert wp["newest"].startswith("2026-11-06")
    assert by_url[broken.url("/notafeed.xml")]["error"]  # disabled sources are probed too
    assert by_url[broken.url("/status/404")]["error"] == "HTTP 404"
    assert by_url[dead]["error"].startswith("dead_host")
    assert not project.db_path.exists()  # a probe stores nothing


def test_probe_of_one_source_in_human_form(project: Project, sites):
    result = project.cli("sources", "probe", "khmer-daily")
    assert result.code == 0, result.stderr
    assert "khmer-daily" in result.stdout
    assert "1 of 1 endpoints answered with content" in result.stdout


def test_probe_follows_robots_sitemaps_and_describes_sitemaps_and_listings(project, sites):
    tonle, riverside = sites["sitemap-post"], sites["listing-daily"]
    project.config["sources"] = [
        source_entry("tonle-post", [], [tonle.host], homepage=tonle.url("/"), robots_sitemaps=True),
        source_entry(
            "riverside-daily", [], [riverside.host], start_urls=[riverside.url("/defence/")]
        ),
    ]
    result = project.cli("sources", "probe", "--json")
    assert result.code == 0, result.stderr
    by_url = {r["url"]: r for r in result.json()}
    assert by_url[tonle.url("/robots.txt")]["items"] == 2
    news = by_url[tonle.url("/news-sitemap.xml")]
    assert (news["kind"], news["items"]) == ("sitemap", 4)
    assert news["newest"].startswith("2026-11-06")
    listing = by_url[riverside.url("/defence/")]
    assert (listing["kind"], listing["items"], listing["error"]) == ("listing", 3, None)
