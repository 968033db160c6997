"""spiders.sitemaps: sitemap, index, gzip and Google News parsing, date windows, robots lines."""

from __future__ import annotations

import gzip
import random
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from spiders.sitemaps import (
    SitemapEntry,
    filter_entries,
    filter_index,
    parse_sitemap,
    parse_w3c_date,
    sitemaps_from_robots,
)

OUTLET = Path(__file__).parent / "fixture_site" / "sitemap-post"
BASE = "http://127.0.0.9:8123"
NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
NEWS_NS = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
ICT = timezone(timedelta(hours=7))


def fixture(name: str) -> bytes:
    return (OUTLET / name).read_bytes().replace(b"{{BASE}}", BASE.encode())


def parse_fixture(name: str):
    return parse_sitemap(fixture(name), f"{BASE}/{name}")


def paths(entries: list[SitemapEntry]) -> list[str]:
    return [e.loc.removeprefix(BASE) for e in entries]


def urlset(*urls: str, ns: str = NS) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset {ns}>{"".join(urls)}</urlset>'.encode()


# --- urlsets and indexes


def test_urlset_entries_have_absolute_locs_and_lastmod():
    sitemap = parse_fixture("sitemap-posts-2026-11.xml")
    assert (sitemap.ok, sitemap.kind, sitemap.warnings) == (True, "urlset", [])
    assert paths(sitemap.entries) == [
        "/2026/11/ream-naval-base-dredging-work-finishes/",
        "/2026/11/senators-press-for-sanctions-review/",
        "/2026/11/phnom-penh-and-washington-resume-defence-talks/",
        "/drafts/ream-visit-embargoed/",
    ]
    assert sitemap.entries[1].lastmod == datetime(2026, 11, 2, 16, 20, tzinfo=ICT)
    assert sitemap.entries[1].date == sitemap.entries[1].lastmod


def test_image_loc_inside_a_url_is_not_taken_for_the_page_loc():
    sitemap = parse_fixture("sitemap-posts-2026-11.xml")
    assert not any(e.loc.endswith("photo.jpg") for e in sitemap.entries)


def test_index_lists_its_child_sitemaps_with_their_lastmod():
    sitemap = parse_fixture("sitemap_index.xml")
    assert (sitemap.ok, sitemap.kind) == (True, "index")
    assert paths(sitemap.entries) == [
        "/sitemap-posts-2026-11.xml.gz",
        "/sitemap-posts-2026-10.xml",
        "/sitemap-pages.xml",
    ]
    assert [e.lastmod for e in sitemap.entries] == [
        datetime(2026, 11, 4, 11, 30, tzinfo=ICT),
        datetime(2026, 10, 31, 23, 0, tzinfo=ICT),
        datetime(2026, 1, 15, tzinfo=UTC),
    ]


def test_an_index_that_lists_itself_is_parsed_as_written():
    # breaking the loop is the spider's job; the parser must just list both children
    sitemap = parse_fixture("loop-index.xml")
    assert (sitemap.ok, sitemap.kind) == (True, "index")
    assert paths(sitemap.entries) == ["/loop-index.xml", "/loop-index-2.xml"]


def test_an_empty_urlset_is_a_sitemap_with_no_entries():
    sitemap = parse_sitemap(urlset(), f"{BASE}/s.xml")
    assert (sitemap.ok, sitemap.kind, sitemap.entries, sitemap.warnings) == (True, "urlset", [], [])


def test_blank_lines_before_the_xml_declaration_are_no_error():
    body = b"\n\r\n  " + urlset("<url><loc>https://e.org/a</loc></url>")
    sitemap = parse_sitemap(body, "https://e.org/s.xml")
    assert ([e.loc for e in sitemap.entries], sitemap.warnings) == (["https://e.org/a"], [])


def test_text_sitemap_with_one_url_a_line():
    body = b"https://example.org/a/\r\n\r\nhttps://example.org/b/\n"
    sitemap = parse_sitemap(body, "https://example.org/sitemap.txt")
    assert (sitemap.ok, sitemap.kind) == (True, "urlset")
    assert [e.loc for e in sitemap.entries] == ["https://example.org/a/", "https://example.org/b/"]


# --- Google News fields


def test_news_sitemap_gives_publication_date_title_and_language():
    sitemap = parse_fixture("news-sitemap.xml")
    assert (sitemap.ok, sitemap.warnings) == (True, [])
    first = sitemap.entries[0]
    assert first.published == datetime(2026, 11, 1, 8, 30, tzinfo=ICT)
    assert first.title == "Dredging work at Ream Naval Base finishes ahead of schedule"
    assert first.language == "en"
    assert [e.language for e in sitemap.entries] == ["en"] * 4  # "EN" lowercased
    assert [e.published.astimezone(UTC) for e in sitemap.entries] == [
        datetime(2026, 11, 1, 1, 30, tzinfo=UTC),
        datetime(2026, 11, 4, 3, 0, tzinfo=UTC),
        datetime(2026, 11, 5, 2, 45, tzinfo=UTC),
        datetime(2026, 11, 6, 0, 0, tzinfo=UTC),
    ]


def test_entry_date_prefers_the_publication_date_over_lastmod():
    body = urlset(
        "<url><loc>https://e.org/a</loc><lastmod>2026-11-09</lastmod><news:news>"
        "<news:publication_date>2026-11-02</news:publication_date></news:news></url>",
        ns=f"{NS} {NEWS_NS}",
    )
    (entry,) = parse_sitemap(body, "https://e.org/s.xml").entries
    assert entry.lastmod == datetime(2026, 11, 9, tzinfo=UTC)
    assert entry.date == datetime(2026, 11, 2, tzinfo=UTC)


def test_news_title_whitespace_and_entities_are_tidied():
    body = urlset(
        "<url><loc>https://e.org/a</loc><news:news><news:title>\n  Ream &amp; the\n  talks "
        "</news:title></news:news></url>",
        ns=f"{NS} {NEWS_NS}",
    )
    assert parse_sitemap(body, "https://e.org/s.xml").entries[0].title == "Ream & the talks"


# --- namespaces


def test_sitemap_without_any_namespace_parses_the_same():
    sitemap = parse_fixture("sitemap-pages.xml")
    assert (sitemap.ok, sitemap.kind, sitemap.warnings) == (True, "urlset", [])
    assert paths(sitemap.entries) == ["/about/", "/contact/"]
    assert sitemap.entries[0].lastmod == datetime(2026, 1, 15, tzinfo=UTC)
    assert sitemap.entries[1].lastmod is None


def test_undeclared_news_prefix_still_gives_the_news_fields_with_a_warning():
    body = urlset(
        "<url><loc>https://e.org/a</loc><news:news><news:publication><news:language>km"
        "</news:language></news:publication><news:publication_date>2026-11-04T10:00+07:00"
        "</news:publication_date><news:title>T</news:title></news:news></url>"
    )
    sitemap = parse_sitemap(body, "https://e.org/s.xml")
    (entry,) = sitemap.entries
    assert (entry.language, entry.title) == ("km", "T")
    assert entry.published == datetime(2026, 11, 4, 10, tzinfo=ICT)
    assert len(sitemap.warnings) == 1 and "namespace" in sitemap.warnings[0]


def test_other_sitemap_namespace_and_upper_case_tags_are_matched_by_local_name():
    body = (
        b'<s:URLSET xmlns:s="http://www.google.com/schemas/sitemap/0.84">'
        b"<s:URL><s:LOC>https://e.org/a</s:LOC><s:LASTMOD>2026-11-03</s:LASTMOD></s:URL></s:URLSET>"
    )
    sitemap = parse_sitemap(body, "https://e.org/s.xml")
    assert sitemap.kind == "urlset"
    assert [(e.loc, e.lastmod) for e in sitemap.entries] == [
        ("https://e.org/a", datetime(2026, 11, 3, tzinfo=UTC))
    ]


# --- locs


def test_relative_loc_is_resolved_against_the_sitemap_url():
    sitemap = parse_fixture("news-sitemap.xml")
    assert sitemap.entries[2].loc == f"{BASE}/2026/11/kem-sokha-appeal-hearing-adjourned/"


@pytest.mark.parametrize(
    ("loc", "expected"),
    [
        ("//cdn.example.org/2026/11/a/", "https://cdn.example.org/2026/11/a/"),
        ("/2026/11/b/", "https://news.example.org/2026/11/b/"),
        ("c/", "https://news.example.org/maps/c/"),
        ("  https://news.example.org/d/\n ", "https://news.example.org/d/"),
        ("https://news.example.org/e/?a=1&amp;b=2", "https://news.example.org/e/?a=1&b=2"),
    ],
)
def test_locs_are_made_absolute(loc: str, expected: str):
    body = urlset(f"<url><loc>{loc}</loc></url>")
    sitemap = parse_sitemap(body, "https://news.example.org/maps/news.xml")
    assert [e.loc for e in sitemap.entries] == [expected]


def test_entries_without_an_http_loc_are_skipped_with_one_warning_each_kind():
    body = urlset(
        "<url><lastmod>2026-11-01</lastmod></url>",
        "<url><loc>  </loc></url>",
        "<url><loc>mailto:desk@e.org</loc></url>",
        "<url><loc>javascript:void(0)</loc></url>",
        "<url><loc>https://e.org/kept</loc></url>",
    )
    sitemap = parse_sitemap(body, "https://e.org/s.xml")
    assert [e.loc for e in sitemap.entries] == ["https://e.org/kept"]
    assert sitemap.warnings == [
        "2 entries without <loc> skipped",
        "2 entries with a non-http loc skipped (first: 'mailto:desk@e.org')",
    ]


# --- broken and non-sitemap bodies


def test_truncated_sitemap_keeps_the_complete_entries_and_drops_the_cut_one():
    sitemap = parse_fixture("broken.xml")
    assert sitemap.ok
    assert paths(sitemap.entries) == [
        "/2026/11/ream-naval-base-dredging-work-finishes/",
        "/2026/11/senators-press-for-sanctions-review/",
    ]
    assert sitemap.warnings[0].startswith("malformed XML at line 12: Premature end of data")
    assert "dropped" in sitemap.warnings[1] and "ream-pier-con" in sitemap.warnings[1]


def test_body_ending_after_a_complete_entry_keeps_that_entry():
    body = urlset("<url><loc>https://e.org/a</loc></url>")[: -len("</urlset>")]
    sitemap = parse_sitemap(body + b"<url><loc>https://e.org/b</loc>", "https://e.org/s.xml")
    assert [e.loc for e in sitemap.entries] == ["https://e.org/a", "https://e.org/b"]
    assert sitemap.warnings[0].startswith("malformed XML")


def test_unescaped_ampersands_in_locs_are_kept_in_the_url():
    body = urlset(
        "<url><loc>https://e.org/a?x=1&y=2</loc></url>",
        "<url><loc>https://e.org/b?q=ream&amp;page=2&sort</loc></url>",
        "<url><loc>https://e.org/c</loc></url>",
    )
    sitemap = parse_sitemap(body, "https://e.org/s.xml")
    assert [e.loc for e in sitemap.entries] == [
        "https://e.org/a?x=1&y=2",
        "https://e.org/b?q=ream&page=2&sort",
        "https://e.org/c",
    ]
    assert sitemap.warnings == ["unescaped '&' or HTML entities in the XML: escaped, parsed again"]


def test_html_entities_in_news_titles_are_read_as_characters():
    body = urlset(
        "<url><loc>https://e.org/a</loc><news:news><news:title>Ream&nbsp;talks &eacute;"
        "&hellip; &amp; &nosuch;</news:title></news:news></url>",
        ns=f"{NS} {NEWS_NS}",
    )
    (entry,) = parse_sitemap(body, "https://e.org/s.xml").entries
    assert entry.title == "Ream talks é… & &nosuch;"


def test_entries_after_an_unclosed_tag_are_still_found():
    body = urlset(
        "<url><loc>https://e.org/a</loc></url>",
        "<url><loc>https://e.org/b</loc><lastmod>2026-11-01</url>",
        "<url><loc>https://e.org/c</loc></url>",
        "<url><loc>https://e.org/d</loc></url>",
    )
    sitemap = parse_sitemap(body, "https://e.org/s.xml")
    assert sorted(e.loc for e in sitemap.entries) == [f"https://e.org/{c}" for c in "abcd"]
    assert sitemap.ok and sitemap.warnings[0].startswith("malformed XML at line 1")


def test_html_page_is_not_a_sitemap():
    sitemap = parse_fixture("not-xml.xml")
    assert (sitemap.ok, sitemap.kind, sitemap.entries) == (False, "unknown", [])
    assert sitemap.warnings == ["not a sitemap: root element <html>"]


def test_well_formed_xhtml_is_not_a_sitemap_either():
    body = b'<html xmlns="http://www.w3.org/1999/xhtml"><body><a href="/x">x</a></body></html>'
    sitemap = parse_sitemap(body, "https://e.org/sitemap.xml")
    assert (sitemap.ok, sitemap.warnings) == (False, ["not a sitemap: root element <html>"])


def test_a_feed_is_not_a_sitemap_and_the_warning_says_it_is_a_feed():
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'
    sitemap = parse_sitemap(body, "https://e.org/sitemap.xml")
    assert not sitemap.ok
    assert sitemap.warnings == [
        "not a sitemap: root element <rss> (an RSS or Atom feed, not a sitemap)"
    ]


@pytest.mark.parametrize("body", [b"", b"   \r\n\t ", gzip.compress(b""), gzip.compress(b"\n\n")])
def test_empty_body_is_not_a_sitemap(body: bytes):
    sitemap = parse_sitemap(body, "https://e.org/sitemap.xml")
    assert (sitemap.ok, sitemap.entries, sitemap.warnings) == (False, [], ["empty body"])


@pytest.mark.parametrize(
    "body",
    [
        b"Service Unavailable",
        b"\x00\x01\x02binary",
        b'{"sitemap": []}',
        b"https://e.org/a\nnot a url",
    ],
)
def test_text_that_is_neither_xml_nor_a_url_list_is_not_xml(body: bytes):
    sitemap = parse_sitemap(body, "https://e.org/sitemap.xml")
    assert (sitemap.ok, sitemap.kind, sitemap.entries) == (False, "unknown", [])
    assert sitemap.warnings[0].startswith("not XML: ")


def test_a_bare_xml_declaration_is_not_xml():
    sitemap = parse_sitemap(b'<?xml version="1.0"?>\n', "https://e.org/sitemap.xml")
    assert not sitemap.ok and sitemap.warnings[0].startswith("not XML: ")


def test_external_entities_are_never_resolved():
    body = (
        b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
        b"<urlset><url><loc>https://e.org/&x;</loc></url></urlset>"
    )
    sitemap = parse_sitemap(body, "https://e.org/s.xml")
    assert [e.loc for e in sitemap.entries] == ["https://e.org/"]


def test_any_prefix_of_a_sitemap_and_random_bytes_parse_without_raising():
    body = fixture("news-sitemap.xml")
    rng = random.Random(3)
    bodies = [body[:n] for n in range(0, len(body), 37)]
    bodies += [bytes(rng.randrange(256) for _ in range(200)) for _ in range(50)]
    bodies += [gzip.compress(body)[:n] for n in range(0, 400, 23)]
    for sample in bodies:
        sitemap = parse_sitemap(sample, f"{BASE}/news-sitemap.xml")
        assert sitemap.ok or sitemap.warnings
        assert all(e.loc.startswith("http") for e in sitemap.entries)


# --- gzip


def test_gzip_is_detected_by_magic_bytes_whatever_the_url_says():
    plain = fixture("sitemap-posts-2026-11.xml")
    as_xml = parse_sitemap(gzip.compress(plain), f"{BASE}/sitemap-posts-2026-11.xml")
    as_gz = parse_sitemap(gzip.compress(plain), f"{BASE}/sitemap-posts-2026-11.xml.gz")
    expected = parse_sitemap(plain, f"{BASE}/sitemap-posts-2026-11.xml")
    assert as_xml.entries == as_gz.entries == expected.entries
    assert len(expected.entries) == 4 and as_xml.warnings == []


def test_plain_body_at_a_gz_url_is_parsed_as_plain():
    sitemap = parse_sitemap(fixture("sitemap-posts-2026-10.xml"), f"{BASE}/posts.xml.gz")
    assert paths(sitemap.entries) == ["/2026/10/ream-pier-contract-awarded/"]


def test_double_gzipped_body_is_unwrapped_twice():
    plain = fixture("news-sitemap.xml")
    sitemap = parse_sitemap(gzip.compress(gzip.compress(plain)), f"{BASE}/news.xml.gz")
    assert len(sitemap.entries) == 4 and sitemap.warnings == []


def test_gzip_with_several_members_is_read_to_the_end():
    body = urlset("<url><loc>https://e.org/a</loc></url>", "<url><loc>https://e.org/b</loc></url>")
    half = len(body) // 2
    sitemap = parse_sitemap(
        gzip.compress(body[:half]) + gzip.compress(body[half:]), "https://e.org/"
    )
    assert [e.loc for e in sitemap.entries] == ["https://e.org/a", "https://e.org/b"]


def test_corrupt_gzip_keeps_what_decompressed_before_the_damage():
    urls = [f"<url><loc>https://e.org/{i}</loc></url>" for i in range(3000)]
    compressed = gzip.compress(urlset(*urls), compresslevel=1)
    damaged = compressed[: len(compressed) // 2] + b"\x00" * 64 + compressed[len(compressed) // 2 :]
    sitemap = parse_sitemap(damaged, "https://e.org/s.xml.gz")
    assert sitemap.ok
    assert 0 < len(sitemap.entries) < 3000
    assert sitemap.entries[0].loc == "https://e.org/0"
    assert any(w.startswith("gzip: ") for w in sitemap.warnings)


def _bomb(padding_mb: int) -> bytes:
    """A gzip sitemap whose second entry sits behind ``padding_mb`` MB of comment padding."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [deflate.compress(b"<urlset><url><loc>https://e.org/first</loc></url>")]
    pad = b"<!--" + b" " * (1 << 20) + b"-->"
    parts += [deflate.compress(pad) for _ in range(padding_mb)]
    parts += [deflate.compress(b"<url><loc>https://e.org/after</loc></url></urlset>")]
    return b"".join([*parts, deflate.flush()])


def test_gzip_bomb_stops_at_the_50_mb_protocol_limit():
    bomb = _bomb(60)
    assert len(bomb) < 200_000  # 60 MB inflated from a small body
    sitemap = parse_sitemap(bomb, "https://e.org/s.xml.gz")
    assert [e.loc for e in sitemap.entries] == ["https://e.org/first"]
    assert sitemap.warnings[0] == "body exceeds 50 MB uncompressed: stopped there"


def test_body_under_the_limit_reads_past_the_padding():
    sitemap = parse_sitemap(_bomb(3), "https://e.org/s.xml.gz")
    assert [e.loc for e in sitemap.entries] == ["https://e.org/first", "https://e.org/after"]
    assert sitemap.warnings == []


def test_max_bytes_caps_plain_bodies_too():
    body = urlset(*[f"<url><loc>https://e.org/{i}</loc></url>" for i in range(1000)])
    sitemap = parse_sitemap(body, "https://e.org/s.xml", max_bytes=len(body) // 2)
    assert 0 < len(sitemap.entries) < 1000
    assert sitemap.warnings[0].startswith("body exceeds")


# --- dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-03", datetime(2026, 11, 3, tzinfo=UTC)),
        ("2026-11-03T09:15+07:00", datetime(2026, 11, 3, 9, 15, tzinfo=ICT)),
        ("2026-11-03T09:15:00Z", datetime(2026, 11, 3, 9, 15, tzinfo=UTC)),
        ("2026-11-03T09:15:30.25+07:00", datetime(2026, 11, 3, 9, 15, 30, 250000, tzinfo=ICT)),
        ("2026-11-03T09:15:00", datetime(2026, 11, 3, 9, 15, tzinfo=UTC)),  # naive -> UTC
        ("2026-11-03 09:15:00", datetime(2026, 11, 3, 9, 15, tzinfo=UTC)),
        (" 2026-11-03T02:15:00+0000 \n", datetime(2026, 11, 3, 2, 15, tzinfo=UTC)),
        ("2026-11", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026", datetime(2026, 1, 1, tzinfo=UTC)),
        ("Tue, 03 Nov 2026 09:15:00 +0700", datetime(2026, 11, 3, 9, 15, tzinfo=ICT)),
        ("yesterday", None),
        ("2026-13", None),
        ("2026-11-31", None),
        ("", None),
        (None, None),
    ],
)
def test_w3c_datetime_forms(text: str | None, expected: datetime | None):
    parsed = parse_w3c_date(text)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() == expected.utcoffset()


def test_unreadable_dates_leave_the_entry_undated_with_one_warning():
    body = urlset(
        "<url><loc>https://e.org/a</loc><lastmod>last Tuesday</lastmod></url>",
        "<url><loc>https://e.org/b</loc><lastmod>soon</lastmod></url>",
    )
    sitemap = parse_sitemap(body, "https://e.org/s.xml")
    assert [e.date for e in sitemap.entries] == [None, None]
    assert sitemap.warnings == ["2 unreadable dates ignored (first: 'last Tuesday')"]


# --- windows


def _dated(day: int | None, hour: int = 0) -> SitemapEntry:
    lastmod = None if day is None else datetime(2026, 11, day, hour, tzinfo=UTC)
    return SitemapEntry(loc=f"https://e.org/{day}-{hour}", lastmod=lastmod)


def test_window_keeps_since_and_excludes_until():
    entries = [_dated(3, 23), _dated(4), _dated(5, 12), _dated(6, 23), _dated(7)]
    kept = filter_entries(
        entries, since=datetime(2026, 11, 4, tzinfo=UTC), until=datetime(2026, 11, 7, tzinfo=UTC)
    )
    assert kept == entries[1:4]


def test_since_alone_keeps_everything_from_then_on():
    entries = [_dated(1), _dated(5), _dated(30)]
    assert filter_entries(entries, since=datetime(2026, 11, 5, tzinfo=UTC)) == entries[1:]


def test_window_compares_instants_across_time_zones():
    entry = SitemapEntry(loc="https://e.org/a", published=datetime(2026, 11, 4, 6, tzinfo=ICT))
    since = datetime(
        2026, 11, 4, tzinfo=UTC
    )  # 07:00 in Phnom Penh: the entry is 23:00Z the day before
    assert filter_entries([entry], since=since) == []


def test_undated_entries_are_kept_only_when_no_window_is_set():
    entries = [_dated(None), _dated(5)]
    assert filter_entries(entries, since=None) == entries
    assert filter_entries(entries, since=datetime(2026, 11, 1, tzinfo=UTC)) == [entries[1]]
    assert filter_entries(entries, since=None, until=datetime(2026, 12, 1, tzinfo=UTC)) == [
        entries[1]
    ]


def test_naive_window_bounds_are_taken_as_utc():
    entries = [_dated(4, 1), _dated(4, 3)]
    assert filter_entries(entries, since=datetime(2026, 11, 4, 2)) == [entries[1]]


def test_index_children_modified_before_since_are_skipped_undated_ones_kept():
    children = [_dated(1), _dated(None), _dated(6)]
    assert filter_index(children, since=datetime(2026, 11, 4, tzinfo=UTC)) == children[1:]
    assert filter_index(children, since=None) == children


def test_routine_three_day_window_on_the_fixture_outlet():
    since, until = datetime(2026, 11, 4, tzinfo=UTC), datetime(2026, 11, 7, tzinfo=UTC)
    news = filter_entries(parse_fixture("news-sitemap.xml").entries, since=since, until=until)
    assert paths(news) == [
        "/2026/11/phnom-penh-and-washington-resume-defence-talks/",
        "/2026/11/kem-sokha-appeal-hearing-adjourned/",
        "/2026/11/mekong-dry-season-fishing-festival/",
    ]
    children = filter_index(parse_fixture("sitemap_index.xml").entries, since=since)
    assert paths(children) == ["/sitemap-posts-2026-11.xml.gz"]
    posts = parse_sitemap(gzip.compress(fixture("sitemap-posts-2026-11.xml")), children[0].loc)
    in_window = filter_entries(posts.entries, since=since, until=until)
    assert paths(in_window) == [
        "/2026/11/phnom-penh-and-washington-resume-defence-talks/",
        "/drafts/ream-visit-embargoed/",
    ]


# --- a large news sitemap


def _news_sitemap(count: int, seed: int) -> tuple[bytes, list[datetime]]:
    rng = random.Random(seed)
    end = datetime(2026, 11, 6, 12, tzinfo=UTC)
    dates, parts = [], [f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset {NS} {NEWS_NS}>']
    for i in range(count):
        when = (end - timedelta(seconds=rng.randrange(30 * 86400))).astimezone(ICT)
        dates.append(when)
        parts.append(
            f"<url><loc>https://news.example.org/2026/{when:%m}/story-{i}/</loc>"
            f"<news:news><news:publication><news:name>Example</news:name>"
            f"<news:language>en</news:language></news:publication>"
            f"<news:publication_date>{when.isoformat(timespec='seconds')}</news:publication_date>"
            f"<news:title>Story {i} on defence ties</news:title></news:news></url>"
        )
    parts.append("</urlset>")
    return "\n".join(parts).encode(), dates


def test_fifty_thousand_url_news_sitemap_parses_whole_and_filters_by_date():
    body, dates = _news_sitemap(50_000, seed=7)
    since = datetime(2026, 11, 3, 12, tzinfo=UTC)
    sitemap = parse_sitemap(gzip.compress(body, compresslevel=1), "https://news.example.org/n.xml")
    assert (sitemap.ok, sitemap.warnings, len(sitemap.entries)) == (True, [], 50_000)
    assert sitemap.entries[49_999].loc.endswith("/story-49999/")
    recent = filter_entries(sitemap.entries, since=since)
    expected = sum(1 for d in dates if d >= since)
    assert 4_000 < expected < 6_000  # about a tenth of 30 days
    assert len(recent) == expected


# --- robots.txt


def test_robots_sitemap_lines_of_the_fixture_outlet():
    robots = fixture("robots.txt")
    assert sitemaps_from_robots(robots, f"{BASE}/robots.txt") == [
        f"{BASE}/sitemap_index.xml",
        f"{BASE}/news-sitemap.xml",
    ]


def test_robots_sitemap_lines_any_case_absolute_deduplicated_in_order():
    robots = (
        "\ufeffUser-agent: *\n"
        "Disallow: /private/\n"
        "SITEMAP: /sitemap.xml\n"
        "  sitemap :https://cdn.example.org/news.xml.gz   # the news one\r\n"
        "Sitemap: https://www.example.org/sitemap.xml\n"
        "# Sitemap: https://www.example.org/commented-out.xml\n"
        "Sitemap: //www.example.org/other.xml\n"
        "Sitemap:\n"
        "Sitemap: ftp://www.example.org/old.xml\n"
    )
    assert sitemaps_from_robots(robots, "https://www.example.org/robots.txt") == [
        "https://www.example.org/sitemap.xml",
        "https://cdn.example.org/news.xml.gz",
        "https://www.example.org/other.xml",
    ]


def test_robots_without_sitemap_lines_gives_none():
    assert sitemaps_from_robots(b"User-agent: *\nDisallow:\n", "https://e.org/robots.txt") == []
    assert sitemaps_from_robots(b"\xff\xfe garbage \x00", "https://e.org/robots.txt") == []
