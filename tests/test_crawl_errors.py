"""Bad input during a crawl: the run finishes, each problem is counted, nothing is lost."""

from __future__ import annotations

import pytest

from conftest import Project, closed_port, source_entry
from smtp_server import SmtpTestServer

ARTICLE = """<html lang="en"><head><title>Navy chiefs meet</title>
<meta property="article:published_time" content="2026-11-07T09:00:00+07:00"></head>
<body><nav><a href="/">Home</a></nav><article><h1>Navy chiefs meet in Phnom Penh</h1>
<p>Navy commanders from both countries met on Saturday to discuss military cooperation and the
schedule of port calls for the coming year, officials said after the closed session.</p>
<p>The talks covered training, search and rescue drills and the maintenance of equipment that
was delivered under earlier agreements, according to a statement from the ministry.</p>
</article><footer>© Broken Outlet</footer></body></html>"""


OTHER_ARTICLE = """<html lang="en"><head><title>Port call confirmed</title></head>
<body><article><h1>US warship to call at Sihanoukville</h1>
<p>A United States Navy vessel will make a port call at Sihanoukville next month, the embassy
said on Tuesday, the first such visit announced since the two governments resumed talks.</p>
<p>Sailors are expected to take part in community projects and a friendly football match, and
the ship will be open to invited guests for one afternoon before it leaves for Thailand.</p>
</article></body></html>"""


def rss(base: str, links: list[str]) -> str:
    items = "".join(
        f"<item><title>Item {i}</title><link>{base}{link}</link>"
        f"<pubDate>Sat, 07 Nov 2026 0{i % 10}:00:00 +0000</pubDate></item>"
        for i, link in enumerate(links)
    )
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    return f"{head}{items}</channel></rss>"


@pytest.fixture
def broken(project: Project, sites) -> Project:
    site = sites["broken"]
    project.config["sources"] = [
        source_entry("broken", [site.url("/errors.xml")], [site.host], language=["en"])
    ]
    project.config["crawl"]["max_page_bytes"] = 1_000_000
    site.put("/ok/", ARTICLE)
    return project


def test_error_pages_are_counted_and_the_good_article_is_kept(broken, sites):
    site = sites["broken"]
    site.put(
        "/errors.xml",
        rss(
            site.base,
            [
                "/status/404",
                "/status/500",
                "/loop",
                "/big",
                "/redirect/2/ok/",
                "/docs/report.pdf",
            ],
        ),
    )
    result = broken.cli("crawl", "--json")
    assert result.code == 0, result.stderr
    counts = result.json()["sources"]["broken"]
    details = counts["details"]
    assert counts["new"] == 1  # /redirect/2/ok/ lands on the article
    assert details["errors/http_404"] == 1
    assert details["errors/http_500"] == 1
    assert details["errors/redirect_loop"] == 1
    assert details["skipped/too_large"] == 1
    assert details["skipped/non_html"] == 1
    assert counts["errors"] == 3
    assert "http_404" in result.stderr
    assert site.paths_requested().count("/status/500") == 2  # one retry


def test_a_transiently_failing_article_is_fetched_by_the_next_run(broken, sites):
    site = sites["broken"]
    site.put("/errors.xml", rss(site.base, ["/flaky/2/second/", "/ok/"]))
    site.put("/second/", OTHER_ARTICLE)
    first = broken.cli("crawl", "--json").json()["sources"]["broken"]
    assert (first["new"], first["errors"]) == (1, 1)  # 503, then 503 again on the one retry
    second = broken.cli("crawl", "--json").json()["sources"]["broken"]
    assert second["details"].get("feeds/not_modified", 0) == 0
    assert second["details"]["entries/unchanged"] == 1  # /ok/ is not fetched again
    assert second["new"] == 1


@pytest.mark.parametrize(
    ("feed", "warning"),
    [
        ("/malformed.xml", "not well-formed"),
        ("/misencoded.xml", "windows-1252"),
    ],
)
def test_damaged_feeds_yield_what_can_be_recovered(broken, sites, feed, warning):
    site = sites["broken"]
    broken.config["sources"][0]["feeds"] = [site.url(feed)]
    result = broken.cli("crawl", "--json")
    assert result.code == 0, result.stderr
    details = result.json()["sources"]["broken"]["details"]
    assert details["feeds/warnings"] >= 1
    assert details["entries/requested"] >= 1
    assert warning in result.stderr


@pytest.mark.parametrize("feed", ["/empty.xml", "/notafeed.xml"])
def test_unreadable_feed_is_an_error_not_a_crash(broken, sites, feed):
    broken.config["sources"][0]["feeds"] = [sites["broken"].url(feed)]
    result = broken.cli("crawl", "--json")
    assert result.code == 0, result.stderr
    counts = result.json()["sources"]["broken"]
    assert counts["errors"] == 1
    assert counts["fetched"] == 0


def test_smtp_refusing_connections_keeps_alerts_queued_until_it_is_back(project):
    smtp = {"host": "127.0.0.1", "port": closed_port(), "sender": "beatwatch <bw@example.org>"}
    project.config["alerts"]["delivery"] = {"smtp": smtp}
    first = project.cli("crawl", "--source", "wp-news", "--json")
    assert first.code == 0, first.stderr
    assert first.json()["alerts"] == {"queued": 2, "sent": 0, "retried": 2, "parked": 0}
    assert project.cli("status", "--json").json()["outbox"]["queued"] == 2
    with SmtpTestServer() as server:
        smtp["port"] = server.port
        delivered = project.cli("alerts", "deliver", "--all", "--json").json()
        again = project.cli("crawl", "--source", "wp-news", "--json").json()
    assert delivered["sent"] == 2
    assert again["alerts"]["sent"] == 0
    assert sorted(m["To"] for m in server.messages()) == [
        "desk@example.org",
        "monitoring@example.org",
    ]


def test_a_url_that_fails_in_every_run_is_given_up_after_five(broken, sites):
    site = sites["broken"]
    site.put("/errors.xml", rss(site.base, ["/status/503", "/ok/"]))
    runs = [broken.cli("crawl", "--json").json()["sources"]["broken"] for _ in range(6)]
    given_up = [r["details"].get("articles/given_up", 0) for r in runs]
    assert given_up == [0, 0, 0, 0, 1, 0]
    # until then the feed stays open and is read again; once given up, it is saved as done
    assert [r["details"].get("feeds/not_modified", 0) for r in runs] == [0, 0, 0, 0, 0, 1]
