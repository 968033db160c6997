"""End to end: `beatwatch crawl` polls the loopback outlets, indexes, alerts, and reports."""

from __future__ import annotations

import mailbox
import sqlite3
from email import policy
from email.parser import BytesParser

import pytest

from conftest import Project, closed_port, source_entry
from crawler.urls import article_id

WP_ARTICLES = 5  # 7 linked items: one duplicate by fragment/tracking, one disallowed by robots
ATOM_ARTICLES = 3  # 5 entries: one PDF and one image are skipped
ATOM_NEW = 2  # the third re-runs wp-news's wire story: a near-duplicate, it joins that story
KM_ARTICLES = 4


def messages(project: Project) -> list:
    """Every message delivered to the project's maildir, parsed."""
    if not project.maildir.exists():
        return []
    box = mailbox.Maildir(project.maildir, create=False)
    return [BytesParser(policy=policy.default).parsebytes(bytes(m)) for m in box]


def hits(project: Project, rule: str) -> set[str]:
    with sqlite3.connect(project.db_path) as conn:
        rows = conn.execute("SELECT url FROM alert_hits WHERE rule = ?", (rule,)).fetchall()
    return {r[0] for r in rows}


def body_text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


@pytest.fixture
def crawled(project: Project) -> tuple[Project, dict]:
    result = project.cli("crawl", "--json")
    assert result.code == 0, result.stderr
    return project, result.json()


def test_first_crawl_fetches_every_article_once(crawled):
    _, summary = crawled
    sources = summary["sources"]
    assert sources["wp-news"]["fetched"] == WP_ARTICLES
    assert sources["wp-news"]["new"] == WP_ARTICLES
    assert sources["atom-times"]["new"] == ATOM_NEW
    assert sources["atom-times"]["duplicates"] == ATOM_ARTICLES - ATOM_NEW
    assert sources["khmer-daily"]["new"] == KM_ARTICLES
    assert all(s["status"] == "ok" for s in sources.values())


def test_summary_counts_every_skip_and_duplicate(crawled):
    _, summary = crawled
    wp = summary["sources"]["wp-news"]["details"]
    assert wp["entries/no_link"] == 1
    assert wp["entries/duplicate"] == 1  # the #comments copy of an item
    assert wp["skipped/robots"] == 1
    atom = summary["sources"]["atom-times"]["details"]
    assert atom["skipped/non_html"] == 2


def test_outcomes_add_up_to_fetched(crawled):
    _, summary = crawled
    for counts in summary["sources"].values():
        outcomes = (
            counts["new"]
            + counts["updated"]
            + counts["unchanged"]
            + counts["duplicates"]
            + counts["out_of_scope"]
            + counts["details"].get("articles/error", 0)
        )
        assert outcomes == counts["fetched"]


def test_robots_disallowed_page_is_never_fetched(crawled, sites):
    assert not any("/private/" in p for p in sites["wp-news"].paths_requested())


def test_one_email_per_recipient_listing_its_rules(crawled):
    project, summary = crawled
    mail = messages(project)
    assert summary["alerts"]["sent"] == 2
    assert sorted(m["To"] for m in mail) == ["desk@example.org", "monitoring@example.org"]
    monitoring = next(m for m in mail if m["To"] == "monitoring@example.org")
    assert "kem-sokha" in monitoring["Subject"]
    assert "military-cooperation" in monitoring["Subject"]
    assert "ream" not in monitoring["Subject"].replace("[beatwatch]", "")


def test_alert_names_url_on_its_own_line(crawled, sites):
    project, _ = crawled
    monitoring = next(m for m in messages(project) if m["To"] == "monitoring@example.org")
    url = sites["wp-news"].url("/2026/11/appeal-court-sets-date-for-kem-sokha-case/")
    assert url in body_text(monitoring).splitlines()


def test_sidebar_keyword_never_triggers_a_rule(crawled, sites):
    project, _ = crawled
    kem_sokha = hits(project, "kem-sokha")
    wp = sites["wp-news"]
    assert wp.url("/2026/11/appeal-court-sets-date-for-kem-sokha-case/") in kem_sokha
    assert wp.url("/2026/11/ream-naval-base-pier-nears-completion/") not in kem_sokha
    assert wp.url("/2026/11/angkor-sentinel-exercise-to-resume/") not in kem_sokha


def test_khmer_rules_match_across_zero_width_spaces_and_subscript_order(crawled, sites):
    project, _ = crawled
    km = sites["khmer-daily"]
    assert km.url("/news/1001/") in hits(project, "ream")
    assert km.url("/news/1002/") in hits(project, "kem-sokha")
    assert km.url("/news/1004/") in hits(project, "military-cooperation")


def test_second_crawl_is_conditional_and_sends_nothing(crawled, sites):
    project, _ = crawled
    again = project.cli("crawl", "--json")
    assert again.code == 0, again.stderr
    summary = again.json()
    assert summary["totals"]["fetched"] == 0
    assert summary["sources"]["wp-news"]["details"]["feeds/not_modified"] == 1
    assert summary["alerts"]["sent"] == 0
    assert len(messages(project)) == 2
    feed_requests = [h for m, p, h in sites["wp-news"].requests if p == "/feed/"]
    assert "If-None-Match" in feed_requests[-1]


def edit_wp_article(sites, slug: str, old: str, new: str, title: str) -> str:
    """Serve an edited body at ``slug`` and change its feed title so it is fetched again."""
    wp = sites["wp-news"]
    page = (wp.folder / slug.strip("/") / "index.html").read_text()
    assert old in page
    wp.put(slug, page.replace(old, new))
    feed = (wp.folder / "feed" / "index.xml").read_text()
    assert title in feed
    wp.put("/feed/", feed.replace(title, title + " (updated)"))
    return wp.url(slug)


def test_edit_is_an_update_and_alerts_only_for_newly_matching_rules(crawled, sites):
    project, _ = crawled
    before = {
        to: sum(m["To"] == to for m in messages(project))
        for to in ("monitoring@example.org", "desk@example.org")
    }
    url = edit_wp_article(
        sites,
        "/2026/11/appeal-court-sets-date-for-kem-sokha-case/",
        "treason",
        "treason, and lawyers met officials near Ream Naval Base,",
        "Appeal court sets date to hear Kem Sokha case",
    )
    again = project.cli("crawl", "--source", "wp-news", "--json")
    assert again.code == 0, again.stderr
    counts = again.json()["sources"]["wp-news"]
    assert (counts["fetched"], counts["updated"]) == (1, 1), counts
    mail = messages(project)
    # kem-sokha matched the earlier revision: no second alert to monitoring
    assert (
        sum(m["To"] == "monitoring@example.org" for m in mail) == before["monitoring@example.org"]
    )
    desk = [m for m in mail if m["To"] == "desk@example.org"]
    assert len(desk) == before["desk@example.org"] + 1
    latest = max(desk, key=lambda m: m["Date"].datetime)
    assert "ream" in latest["Subject"]
    assert "(updated)" in body_text(latest)
    assert url in body_text(latest).splitlines()
    with sqlite3.connect(project.db_path) as conn:
        (revision,) = conn.execute("SELECT revision FROM articles WHERE url = ?", (url,)).fetchone()
        (earlier,) = conn.execute("SELECT COUNT(*) FROM article_revisions").fetchone()
    assert (revision, earlier) == (2, 1)


def test_search_until_a_date_includes_that_whole_day(crawled, sites):
    project, _ = crawled
    # published 2026-11-03T09:15+07:00; the wire copy at 04:10Z the same day
    result = project.cli(
        "search", '"military cooperation"', "--until", "2026-11-03", "--all-copies", "--json"
    )
    assert result.code == 0, result.stderr
    urls = {h["url"] for h in result.json()["hits"]}
    assert sites["wp-news"].url("/2026/11/us-defence-official-visits-phnom-penh/") in urls
    assert all(h["published_at"] < "2026-11-04" for h in result.json()["hits"])


def test_unknown_source_is_a_usage_error(crawled):
    project, _ = crawled
    result = project.cli("crawl", "--source", "nope")
    assert result.code == 2
    assert "nope" in result.stderr


def test_search_finds_phrase_with_source_filter_and_highlight(crawled, sites):
    project, _ = crawled
    result = project.cli("search", '"military cooperation" AND source:wp-news', "--json")
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["total"] == 1
    (hit,) = data["hits"]
    assert hit["url"] == sites["wp-news"].url("/2026/11/us-defence-official-visits-phnom-penh/")
    assert "<mark>" in hit["snippet"]
    assert set(hit) == {
        "id",
        "url",
        "title",
        "source",
        "published_at",
        "language",
        "score",
        "snippet",
        "story_id",
    }
    assert hit["published_at"].endswith("+00:00")


def test_search_syntax_error_exits_2_with_position(crawled):
    project, _ = crawled
    result = project.cli("search", '"military cooperation" AND (Ream')
    assert result.code == 2
    assert "column" in result.stderr


def test_status_reports_each_source_and_the_outbox(crawled):
    project, _ = crawled
    result = project.cli("status", "--json")
    assert result.code == 0, result.stderr
    data = result.json()
    wp = data["sources"]["wp-news"]
    assert wp["last_status"] == "ok"
    assert wp["error_streak"] == 0
    assert wp["articles_24h"] == WP_ARTICLES
    assert wp["next_run"] is not None
    assert data["index"]["articles"] == WP_ARTICLES + ATOM_ARTICLES + KM_ARTICLES
    assert data["outbox"]["queued"] == 0


def test_alerts_test_backtests_a_rule_and_marks_alerted_stories(crawled):
    project, _ = crawled
    result = project.cli("alerts", "test", "kem-sokha", "--json")
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["total"] == 3  # the appeal, the official visit (two outlets), the Khmer story
    assert all(h["alerted"] for h in data["hits"])


def test_scope_records_out_of_scope_articles_without_indexing(project):
    project.config["scope"] = (
        "military OR defence OR navy OR naval OR court OR sanction* OR exercise"
        ' OR "កឹម សុខា" OR ការពារជាតិ OR សមយុទ្ធ'
    )
    result = project.cli("crawl", "--source", "wp-news", "--json")
    assert result.code == 0, result.stderr
    counts = result.json()["sources"]["wp-news"]
    assert counts["out_of_scope"] == 1
    assert counts["new"] == WP_ARTICLES - 1
    search = project.cli("search", "rice", "--json").json()
    assert search["total"] == 0


def test_dead_host_is_recorded_and_other_sources_still_run(project):
    dead = f"http://127.0.0.1:{closed_port()}/feed/"
    project.config["sources"].append(source_entry("dead-outlet", [dead], ["127.0.0.1"]))
    result = project.cli("crawl", "--json")
    assert result.code == 0, result.stderr
    summary = result.json()["sources"]
    assert summary["dead-outlet"]["status"] == "failed"
    assert summary["dead-outlet"]["errors"] == 1
    assert summary["wp-news"]["new"] == WP_ARTICLES
    status = project.cli("status", "--json").json()
    assert status["sources"]["dead-outlet"]["error_streak"] == 1


def test_invalid_config_is_refused_with_file_and_key_path(project):
    project.config["sources"][0]["feeds"] = ["not a url"]
    result = project.cli("crawl")
    assert result.code == 2
    assert f"{project.config_path}: sources[0].feeds[0]" in result.stderr


def test_config_check_describes_a_valid_config(project):
    result = project.cli("config", "check")
    assert result.code == 0, result.stderr
    assert "wp-news" in result.stdout


def test_article_revisions_show_a_readable_diff(crawled, sites):
    project, _ = crawled
    url = edit_wp_article(
        sites,
        "/2026/11/appeal-court-sets-date-for-kem-sokha-case/",
        "treason",
        "treason and espionage",
        "Appeal court sets date to hear Kem Sokha case",
    )
    project.cli("crawl", "--source", "wp-news")
    aid = article_id(url)
    result = project.cli("article", aid, "--revisions", "--json")
    assert result.code == 0, result.stderr
    data = result.json()
    assert [r["revision"] for r in data["revisions"]] == [1, 2]
    (change,) = data["diffs"]
    assert any(
        line.startswith("+") and "treason and espionage" in line for line in change.splitlines()
    )
    assert any(
        line.startswith("-") and "treason conviction" in line for line in change.splitlines()
    )
    missing = project.cli("article", "0" * 64)
    assert missing.code == 1
    assert "no article" in missing.stderr


def test_story_lists_every_outlet_carrying_the_wire_story(crawled, sites):
    project, _ = crawled
    url = sites["wp-news"].url("/2026/11/us-defence-official-visits-phnom-penh/")
    result = project.cli("story", article_id(url), "--json")
    assert result.code == 0, result.stderr
    data = result.json()
    assert sorted(c["source"] for c in data["copies"]) == ["atom-times", "wp-news"]
    # wp-news published at 02:15Z, the Atom Times re-ran the wire story at 04:10Z
    assert [(e["source"], e["event"]) for e in data["timeline"]] == [
        ("wp-news", "first published"),
        ("atom-times", "carried"),
    ]
