"""spiders.feeds.parse_feed over the fixture outlets' feeds, the broken ones included."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.urls import canonical_url
from spiders.feeds import parse_feed

SITE = Path(__file__).parent / "fixture_site"
BASE = "http://127.0.0.2:8123"


def load(path: str) -> bytes:
    return (SITE / path).read_bytes().replace(b"{{BASE}}", BASE.encode())


def parse(path: str, feed_path: str | None = None, content_type: str | None = None):
    url = f"{BASE}/{feed_path if feed_path is not None else path.split('/', 1)[1]}"
    return parse_feed(load(path), url, content_type)


# --- wp-news: RSS 2.0 -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wp():
    return parse("wp-news/feed/index.xml", "feed/", "application/rss+xml; charset=UTF-8")


def test_rss2_feed_is_read_with_all_items(wp):
    assert wp.ok
    assert wp.warnings == []
    assert wp.title == "The Mekong Ledger"
    assert len(wp.entries) == 8


def test_rss2_entries_carry_title_creator_and_aware_dates(wp):
    sokha = wp.entries[0]
    assert sokha.title == "Appeal court sets date to hear Kem Sokha case"
    assert sokha.authors == ["Vuthy Kim"]
    assert sokha.published == datetime(2026, 11, 6, 1, 5, tzinfo=UTC)
    assert sokha.published.utcoffset() is not None


def test_rss2_links_keep_tracking_parameters_for_the_caller_to_canonicalise(wp):
    link = wp.entries[0].link
    article = f"{BASE}/2026/11/appeal-court-sets-date-for-kem-sokha-case/"
    assert link == article + "?utm_source=rss&utm_medium=feed"
    assert canonical_url(link) == article


def test_a_comments_anchor_link_canonicalises_to_the_same_article(wp):
    by_title = [e for e in wp.entries if e.title.startswith("US defence official")]
    assert len(by_title) == 2
    assert by_title[0].link != by_title[1].link
    assert canonical_url(by_title[0].link) == canonical_url(by_title[1].link)


def test_an_item_without_a_link_is_kept_with_link_none(wp):
    missing = [e for e in wp.entries if e.link is None]
    assert [e.title for e in missing] == ["Editor’s note: changes to our comment policy"]
    assert missing[0].entry_id == "ledger-editors-note-2026-11"


def test_an_item_without_pubdate_has_no_dates(wp):
    angkor = next(e for e in wp.entries if "Angkor Sentinel" in e.title)
    assert angkor.published is None
    assert angkor.updated is None


def test_summaries_are_plain_text(wp):
    summary = wp.entries[0].summary
    assert summary.startswith("The Court of Appeal will hear the opposition leader's appeal")
    assert "<" not in summary and "&#" not in summary


# --- atom-times: Atom 1.0 ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def atom():
    return parse("atom-times/atom.xml")


def test_atom_feed_is_read_with_published_updated_and_author(atom):
    assert atom.ok and atom.warnings == []
    assert atom.version == "atom10"
    assert len(atom.entries) == 5
    sanctions = atom.entries[1]
    assert sanctions.published == datetime(2026, 11, 4, 9, 0, tzinfo=UTC)
    assert sanctions.updated == datetime(2026, 11, 5, 2, 15, tzinfo=UTC)
    assert sanctions.authors == ["Rachel Ong"]
    assert sanctions.entry_id == "tag:atomtimes.example,2026:article-88140"


def test_atom_relative_links_resolve_against_the_feed_url(atom):
    assert atom.entries[1].link == f"{BASE}/asia/2026/11/us-reviews-sanctions-on-navy-officers/"


def test_atom_entries_linking_to_a_pdf_or_an_image_keep_that_link(atom):
    assert atom.entries[2].link == f"{BASE}/docs/report.pdf"
    assert atom.entries[3].link == f"{BASE}/images/ream-pier.png"


def test_every_atom_link_is_absolute(atom):
    assert all(e.link and e.link.startswith(BASE + "/") for e in atom.entries)


# --- khmer-daily: Khmer RSS -------------------------------------------------------------------


def test_khmer_feed_keeps_khmer_titles_and_names_and_parses_rfc822_dates():
    feed = parse("khmer-daily/rss.xml")
    assert feed.ok and len(feed.entries) == 4
    first = feed.entries[0]
    assert "មូលដ្ឋានសមុទ្ររាម" in first.title
    assert first.authors == ["សុខ ចាន់ណា"]
    assert first.published == datetime(2026, 11, 4, 1, 0, tzinfo=UTC)
    assert first.link == f"{BASE}/news/1001/"


# --- broken feeds -----------------------------------------------------------------------------


def test_malformed_xml_is_recovered_with_a_warning_naming_the_line():
    feed = parse("broken/malformed.xml")
    assert feed.ok
    assert [e.title for e in feed.entries] == [
        "Navy & army hold joint drill near Ream",
        "Defence ministry names new spokesman",
        "Coast guard seizes illegal fishing boats",
    ]
    assert len(feed.warnings) == 1
    assert feed.warnings[0].startswith("not well-formed XML at line 4:")
    assert feed.entries[1].summary == "The new spokesman starts work on Monday."


def test_a_feed_declared_utf8_but_written_in_windows_1252_is_decoded_with_a_warning():
    feed = parse("broken/misencoded.xml")
    assert feed.ok
    assert feed.warnings == ["declared utf-8 but decoded as windows-1252"]
    assert feed.entries[0].title == "“Sovereignty first,” says minister at défense forum"
    assert feed.title == "Café Politique – Phnom Penh"


@pytest.mark.parametrize("body", [b"", b"   \n\t"])
def test_an_empty_body_is_not_ok(body):
    feed = parse_feed(body, f"{BASE}/feed/")
    assert not feed.ok
    assert feed.entries == []
    assert feed.warnings == ["empty body"]


def test_the_empty_fixture_file_is_not_ok():
    feed = parse("broken/empty.xml")
    assert not feed.ok and feed.warnings == ["empty body"]


def test_an_html_page_is_not_a_feed():
    feed = parse("broken/notafeed.xml", content_type="text/html; charset=utf-8")
    assert not feed.ok
    assert feed.entries == []
    assert "not an RSS or Atom feed" in feed.warnings


def test_binary_garbage_is_not_a_feed_and_does_not_raise():
    feed = parse_feed(bytes(range(256)) * 40, f"{BASE}/feed/")
    assert not feed.ok
    assert feed.warnings


def test_rss_090_is_read_and_its_relative_link_resolved_against_the_feed_url():
    feed = parse("broken/rss090.rdf", "feeds/old.rdf")
    assert feed.ok and feed.version == "rss090"
    assert [e.link for e in feed.entries] == [
        f"{BASE}/bulletin/demining-support.html",
        f"{BASE}/feeds/bulletin/port-call.html",
    ]
    assert all(e.published is None for e in feed.entries)


def test_rss_10_dublin_core_dates_and_creators_are_read():
    feed = parse("broken/rss10.rdf")
    assert feed.ok and feed.version == "rss10"
    planning, sanctions = feed.entries
    assert planning.published == datetime(2026, 11, 5, 2, 0, tzinfo=UTC)
    assert planning.authors == ["Bulletin staff"]
    assert sanctions.published == datetime(2026, 11, 4, tzinfo=UTC)


def test_atom_03_is_read_with_issued_as_published_and_modified_as_updated():
    feed = parse("broken/atom03.xml")
    assert feed.ok and feed.version == "atom03"
    pier = feed.entries[0]
    assert pier.published == datetime(2026, 11, 4, 1, 0, tzinfo=UTC)
    assert pier.updated == datetime(2026, 11, 4, 12, 0, tzinfo=UTC)
    assert pier.summary == "A short note from the water."
    assert pier.link == f"{BASE}/notes/ream-pier-from-the-sea.html"


def test_a_feed_served_as_html_is_still_read_with_a_warning():
    feed = parse("wp-news/feed/index.xml", "feed/", "text/html; charset=UTF-8")
    assert feed.ok and len(feed.entries) == 8
    assert any("not served as XML" in w for w in feed.warnings)


def test_an_updated_only_entry_takes_updated_as_published():
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        b"<entry><title>x</title><link href='/a'/><id>1</id>"
        b"<updated>2026-11-01T10:00:00+07:00</updated></entry></feed>"
    )
    entry = parse_feed(body, f"{BASE}/atom.xml").entries[0]
    assert entry.published == entry.updated == datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
    assert entry.link == f"{BASE}/a"


def test_a_feed_is_never_fetched_from_the_url_given():
    # a feedparser given a URL string would fetch it; bytes of a URL must parse as a (bad) body
    feed = parse_feed(b"http://127.0.0.1:9/feed.xml", "http://127.0.0.1:9/feed.xml")
    assert not feed.ok
