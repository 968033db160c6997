"""spiders.listing: the article links and next page of one listing page (listing-daily outlet)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.errors import ConfigError
from spiders.listing import looks_like_article, page_number, parse_listing

SITE = Path(__file__).parent / "fixture_site" / "listing-daily"
HOSTPORT = "127.0.0.7:8123"
BASE = f"http://{HOSTPORT}"
ANCHORED = [r"^https?://[^/]+/article/[^/?#]+/$"]

DEFENCE = {
    "/defence/": [
        "ream-pier-handover-ceremony-set",
        "angkor-sentinel-planners-meet-in-phnom-penh",
        "kem-sokha-appeal-hearing-moved",
    ],
    "/defence/page/2/": [
        "us-lawmakers-press-for-ream-access",
        "treasury-sanctions-review-on-naval-officials",
        "defence-attache-office-expands-training-desk",
    ],
    "/defence/page/3/": [
        "kh-ream-base-new-warehouses",
        "video-angkor-sentinel-highlights",
        "fishing-season-opens-on-tonle-sap",
    ],
}


def page(path: str) -> bytes:
    body = (SITE / path.strip("/") / "index.html").read_bytes()
    return body.replace(b"{{BASE}}", BASE.encode()).replace(b"{{HOSTPORT}}", HOSTPORT.encode())


def parse(path: str, **kwargs):
    return parse_listing(page(path), BASE + path, **kwargs)


def articles(*slugs: str) -> list[str]:
    return [f"{BASE}/article/{slug}/" for slug in slugs]


def html(links: str, head: str = "") -> str:
    return f"<html><head>{head}</head><body>{links}</body></html>"


# --- article links ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", DEFENCE)
@pytest.mark.parametrize("follow", [(), ANCHORED], ids=["heuristic", "follow"])
def test_each_listing_page_yields_exactly_its_article_links_in_page_order(path, follow):
    result = parse(path, follow=follow, allowed_domains=["127.0.0.7"])
    assert result.article_links == articles(*DEFENCE[path])
    assert result.warnings == []


def test_absolute_relative_base_href_and_protocol_relative_links_all_resolve():
    # page 1: absolute, ../relative, //protocol-relative; page 2: relative against <base href>,
    # root-relative, absolute; page 3: protocol-relative, absolute, ../../../relative
    found = [link for path in DEFENCE for link in parse(path).article_links]
    assert found == articles(*(slug for slugs in DEFENCE.values() for slug in slugs))


def test_a_second_link_with_a_fragment_is_the_same_article_once():
    body = html(
        '<a href="/article/ream-pier-work-resumes/#comments">3 comments</a>'
        '<a href="/article/ream-pier-work-resumes/">Ream pier work resumes</a>'
        '<a href="/article/ream-pier-work-resumes/#top">again</a>'
    )
    result = parse_listing(body, BASE + "/defence/")
    assert result.article_links == articles("ream-pier-work-resumes")


def test_links_to_other_domains_are_dropped_even_when_they_match_follow():
    result = parse("/defence/", follow=[r"/world/", r"sharer", r"/article/"])
    assert not any("external.example" in u or "facebook" in u for u in result.article_links)
    assert parse("/defence/", follow=[r"/world/"]).article_links == []


def test_allowed_domains_ignore_ports_and_allow_subdomains():
    body = html(
        '<a href="http://www.riverside.example/article/angkor-sentinel-drills-return/">a</a>'
        '<a href="http://riverside.example:8080/article/kem-sokha-hearing-delayed/">b</a>'
        '<a href="http://notriverside.example/article/someone-elses-story-here/">c</a>'
    )
    result = parse_listing(
        body, "http://riverside.example/news/", allowed_domains=["riverside.example"]
    )
    assert result.article_links == [
        "http://www.riverside.example/article/angkor-sentinel-drills-return/",
        "http://riverside.example:8080/article/kem-sokha-hearing-delayed/",
    ]


def test_an_ip_host_with_a_port_is_matched_by_the_ip_alone_or_with_another_port():
    for domains in (["127.0.0.7"], ["127.0.0.7:9999"]):
        assert parse("/defence/", allowed_domains=domains).article_links == articles(
            *DEFENCE["/defence/"]
        )
    assert parse("/defence/", allowed_domains=["127.0.0.8"]).article_links == []


def test_without_allowed_domains_only_the_pages_own_host_is_followed():
    body = html(
        '<a href="/article/ream-pier-work-resumes/">own</a>'
        '<a href="http://127.0.0.70/article/another-hosts-story-here/">other ip</a>'
    )
    assert parse_listing(body, BASE + "/defence/").article_links == articles(
        "ream-pier-work-resumes"
    )


def test_a_naive_follow_pattern_keeps_a_same_site_share_link_and_deny_removes_it():
    share = f"{BASE}/share/?url={BASE}/article/kem-sokha-appeal-hearing-moved/"
    naive = parse("/defence/", follow=[r"/article/"])
    assert naive.article_links == [*articles(*DEFENCE["/defence/"]), share]
    denied = parse("/defence/", follow=[r"/article/"], deny=[r"/share/"])
    assert denied.article_links == articles(*DEFENCE["/defence/"])


def test_deny_wins_over_follow():
    result = parse("/defence/page/2/", follow=ANCHORED, deny=[r"sanctions", r"ream"])
    assert result.article_links == articles("defence-attache-office-expands-training-desk")


def test_follow_keeps_only_matching_links():
    result = parse("/defence/", follow=[r"/author/"])
    assert result.article_links == [
        f"{BASE}/author/sok-dara/",
        f"{BASE}/author/chan-sreymom/",
    ]


def test_the_listing_page_itself_is_never_an_article_link():
    body = html('<a href="/defence/">Defence</a><a href="/defence/#top">top</a>')
    assert parse_listing(body, BASE + "/defence/", follow=[r".*"]).article_links == []


@pytest.mark.parametrize(
    "url",
    [
        "/article/ream-pier-handover-ceremony-set/",
        "/2026/11/angkor-sentinel-to-resume/",
        "/news/1001/",
        "/km/article/ream-base-new-warehouses",
    ],
)
def test_the_heuristic_keeps_article_like_links(url):
    assert looks_like_article(BASE + url)


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/defence/",
        "/tag/ream-naval-base/",
        "/category/defence-and-security/",
        "/author/sok-dara-and-team/",
        "/defence/page/2/",
        "/search/?q=kem-sokha-appeal-hearing",
        "/article/ream-pier-handover?share=facebook",
        "/feed/",
        "/login/",
        "/wp-admin/post-new-draft-2026/",
        "/media/ream-pier-aerial-view.jpg",
        "/static/defence-briefing-2026.pdf",
        "/static/site-main-bundle.css",
        "/share/some-long-share-slug/",
    ],
)
def test_the_heuristic_drops_navigation_and_assets(url):
    assert not looks_like_article(BASE + url)


def test_mailto_javascript_and_bare_fragment_links_are_never_followed():
    body = html(
        '<a href="mailto:desk@riverside.example">mail</a><a href="javascript:void(0)">js</a>'
        '<a href="#top">top</a><a href="tel:+85512345678">call</a>'
    )
    assert parse_listing(body, BASE + "/defence/", follow=[r".*"]).article_links == []


def test_an_invalid_follow_or_deny_pattern_is_a_config_error():
    with pytest.raises(ConfigError, match="invalid URL pattern"):
        parse("/defence/", follow=[r"/article/(["])
    with pytest.raises(ConfigError):
        parse("/defence/", deny=[r"*share"])


# --- next page --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/defence/", "/defence/page/2/"),  # <a rel="next">
        ("/defence/page/2/", "/defence/page/3/"),  # anchor text "Older"
        ("/defence/page/3/", None),  # only "« Newer", rel=prev and a next <li> without a link
        ("/endless/", "/endless/page/2/"),  # .pagination .next <li> holding the link
        ("/endless/page/2/", "/endless/page/3/"),  # anchor text "»"
        ("/endless/page/3/", "/endless/page/4/"),  # <link rel="next">
        ("/endless/page/4/", "/endless/page/2/"),  # a.next, after a rel=next to itself
    ],
)
def test_next_page_is_found_in_each_form(path, expected):
    assert parse(path).next_page == (BASE + expected if expected else None)


def test_a_next_link_to_the_page_itself_is_ignored_with_a_warning():
    result = parse("/endless/page/4/")
    assert result.next_page == f"{BASE}/endless/page/2/"
    assert result.warnings == [f"next page {BASE}/endless/page/4/ is the page itself; ignored"]


def test_link_rel_next_wins_over_anchor_rel_next_text_and_class():
    body = html(
        '<a class="next" href="/d/page/5/">x</a><a href="/d/page/4/">Next</a>'
        '<a rel="next" href="/d/page/3/">y</a>',
        head='<link rel="next" href="/d/page/2/">',
    )
    assert parse_listing(body, BASE + "/d/").next_page == f"{BASE}/d/page/2/"
    without_link = body.replace('<link rel="next" href="/d/page/2/">', "")
    assert parse_listing(without_link, BASE + "/d/").next_page == f"{BASE}/d/page/3/"


@pytest.mark.parametrize(
    "text", ["Next", "next page", "Older posts", "›", "»", "Next »", "បន្ទាប់", "← Older"]
)
def test_next_page_by_anchor_text(text):
    body = html(f'<a href="/d/page/1/">1</a><a href="?page=2">{text}</a>')
    assert parse_listing(body, BASE + "/d/").next_page == f"{BASE}/d/?page=2"


@pytest.mark.parametrize("text", ["Newer", "« Previous", "‹", "«", "Next week's paper edition"])
def test_backward_or_unrelated_anchor_texts_are_not_the_next_page(text):
    body = html(f'<a href="/d/page/2/">{text}</a>')
    assert parse_listing(body, BASE + "/d/page/3/").next_page is None


def test_a_next_page_on_another_domain_is_ignored_and_the_next_candidate_used():
    body = html(
        '<a href="/d/page/2/">Older</a>',
        head='<link rel="next" href="https://external.example/d/page/2/">',
    )
    result = parse_listing(body, BASE + "/d/")
    assert result.next_page == f"{BASE}/d/page/2/"
    assert result.warnings == [
        "next page https://external.example/d/page/2/ is on another domain; ignored",
        "no article links found",
    ]


def test_a_protocol_relative_next_page_is_resolved():
    body = html(f'<a rel="next" href="//{HOSTPORT}/d/page/2/#list">more</a>')
    assert parse_listing(body, BASE + "/d/").next_page == f"{BASE}/d/page/2/"


# --- pagination cycles ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "number"),
    [
        ("/defence/page/3/", 3),
        ("/defence/page/12", 12),
        ("/defence/?page=3", 3),
        ("/?paged=7&cat=2", 7),
        ("/defence/", None),
        ("/article/page-turner-story/", None),
        ("/defence/?page=last", None),
    ],
)
def test_page_number(url, number):
    assert page_number(BASE + url) == number


def test_the_endless_listing_cycle_is_detectable_by_page_number():
    visited, path = [], "/endless/"
    while path is not None and len(visited) < 10:
        visited.append(path)
        nxt = parse(path).next_page
        path = nxt.removeprefix(BASE) if nxt else None
        if path in visited:
            break
    assert visited == ["/endless/", "/endless/page/2/", "/endless/page/3/", "/endless/page/4/"]
    assert path == "/endless/page/2/"
    assert page_number(BASE + path) < page_number(BASE + visited[-1])


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        "   \n",
        b"\x00\xff\xfe garbage \x00",
        "<html><body><a href='/article/truncated-story-link-here/'",
        "<<<>>>not html at all",
        b'<a href="http://[::1/article/bad-ipv6-host-link/">x</a>',
    ],
)
def test_bad_html_never_raises_and_says_what_is_wrong(body):
    result = parse_listing(body, BASE + "/d/")
    assert result.article_links == []
    assert result.next_page is None
    assert result.warnings


def test_an_unclosed_tag_soup_still_yields_its_links():
    body = "<div><a href='/article/ream-pier-work-resumes/'>Ream<div><a href='/d/page/2/'>Older"
    result = parse_listing(body, BASE + "/d/")
    assert result.article_links == articles("ream-pier-work-resumes")
    assert result.next_page == f"{BASE}/d/page/2/"


def test_a_legacy_encoded_page_is_decoded_before_links_are_read():
    body = (
        '<meta charset="windows-1252"><a href="/article/caf\xe9-owners-protest-new-rules/">'
        "Caf\xe9</a><a href='/d/page/2/'>Older</a>"
    ).encode("cp1252")
    result = parse_listing(body, BASE + "/d/")
    assert result.article_links == [f"{BASE}/article/caf%C3%A9-owners-protest-new-rules/"]
