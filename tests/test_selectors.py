"""spiders.selectors: per-source CSS/XPath overrides of the generic extraction, on listing-daily."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from spiders.extraction import Extracted
from spiders.selectors import Selectors, apply_selectors, is_xpath, validate_selector

SITE = Path(__file__).parent / "fixture_site" / "listing-daily"
HOSTPORT = "127.0.0.7:8123"
BASE = f"http://{HOSTPORT}"
ICT = timezone(timedelta(hours=7))

CSS = Selectors(
    title="div.headline",
    body="div.story-body",
    date="span.dateline::attr(data-published)",
    author="span.reporter",
)
XPATH = Selectors(
    title="//div[@class='headline']",
    body="xpath://div[@class='story-body']",
    date="//span[@class='dateline']/@data-published",
    author="(//span[@class='reporter'])[1]/text()",
)
# slug: (headline, reporter, published, number of body paragraphs)
PAGES = {
    "ream-pier-handover-ceremony-set": (
        "Handover ceremony for new Ream pier set for December", "Sok Dara",
        datetime(2026, 11, 4, 8, 0, tzinfo=ICT), 5,
    ),
    "angkor-sentinel-planners-meet-in-phnom-penh": (
        "Angkor Sentinel planners meet in Phnom Penh as drills return", "Chan Sreymom",
        datetime(2026, 11, 3, 16, 30, tzinfo=ICT), 4,
    ),
    "kem-sokha-appeal-hearing-moved": (
        "Appeal hearing in Kem Sokha case moved to January", "Sok Dara",
        datetime(2026, 11, 5, 10, 15, tzinfo=ICT), 4,
    ),
    "us-lawmakers-press-for-ream-access": (
        "US lawmakers press for access to Ream before defence talks", "Meas Vibol",
        datetime(2026, 11, 6, 9, 0, tzinfo=ICT), 4,
    ),
    "treasury-sanctions-review-on-naval-officials": (
        "Treasury reviews sanctions on two Cambodian naval officials", "Meas Vibol",
        datetime(2026, 11, 7, 7, 45, tzinfo=ICT), 4,
    ),
    "defence-attache-office-expands-training-desk": (
        "US embassy's defence office expands its training desk", "Chan Sreymom",
        datetime(2026, 11, 8, 11, 20, tzinfo=ICT), 4,
    ),
    "kh-ream-base-new-warehouses": (
        "មូលដ្ឋានសមុទ្ររាម៖ ឃ្លាំងថ្មីចំនួនបីត្រូវបានសាងសង់រួច", "សុខ ដារា",
        datetime(2026, 11, 9, 14, 0, tzinfo=ICT), 4,
    ),
    "fishing-season-opens-on-tonle-sap": (
        "Fishing season opens early on the Tonle Sap", "Meas Vibol",
        datetime(2026, 11, 10, 6, 30, tzinfo=ICT), 3,
    ),
}  # fmt: skip
REAM_BODY = (
    "The navy will hold a ceremony in December to mark the handover of the new deep-water pier"
    " at Ream Naval Base, a ministry spokesman told reporters on Tuesday.\n"
    "The spokesman, who asked not to be named because the date has not been announced, said"
    " foreign military attachés based in Phnom Penh would be invited, including the defence"
    " attaché of the United States embassy.\n"
    "Washington has for several years asked for clearer information about who will use the"
    " base. Cambodian officials have repeatedly said the constitution bars any foreign military"
    " base on Cambodian soil.\n"
    "A retired naval officer in Sihanoukville said the pier would let the navy dock its two"
    " newest patrol vessels side by side for the first time.\n"
    "The ministry did not say whether journalists would be allowed to tour the site after the"
    " ceremony."
)
BASE_RESULT = Extracted(
    title="generic title",
    text="generic body text that is long enough to count",
    published_at=datetime(2020, 1, 1, tzinfo=UTC),
    authors=["Generic Author"],
    language="en",
    canonical_url=f"{BASE}/canonical/",
)


def page(slug: str) -> bytes:
    body = (SITE / "article" / slug / "index.html").read_bytes()
    return body.replace(b"{{BASE}}", BASE.encode()).replace(b"{{HOSTPORT}}", HOSTPORT.encode())


def apply(slug: str, selectors: Selectors, base: Extracted = BASE_RESULT) -> Extracted:
    return apply_selectors(page(slug), f"{BASE}/article/{slug}/", selectors, base)


# --- each field, CSS and XPath ----------------------------------------------------------------


@pytest.mark.parametrize("selectors", [CSS, XPATH], ids=["css", "xpath"])
@pytest.mark.parametrize("slug", PAGES)
def test_every_field_is_replaced_from_the_outlets_own_markup(slug, selectors):
    headline, reporter, published, paragraphs = PAGES[slug]
    result = apply(slug, selectors)
    assert result.title == headline
    assert result.authors == [reporter]
    assert result.published_at == published
    assert result.published_at.utcoffset() == timedelta(hours=7)
    assert len(result.text.split("\n")) == paragraphs


def test_the_body_is_exactly_the_story_paragraphs_one_per_line():
    assert apply("ream-pier-handover-ceremony-set", CSS).text == REAM_BODY


@pytest.mark.parametrize("slug", PAGES)
def test_the_body_has_none_of_the_page_chrome(slug):
    text = apply(slug, CSS).text
    chrome = ("Most read", "Related stories", "Sign up", "morning briefing", "Copy link",
              "All rights reserved", "Ream Naval Base pier handover ceremony set")  # fmt: skip
    for words in chrome:
        assert words not in text
    if slug != "kem-sokha-appeal-hearing-moved":
        assert "Kem Sokha" not in text


def test_fields_without_a_selector_keep_the_generic_result():
    result = apply("ream-pier-handover-ceremony-set", Selectors(author="span.reporter"))
    assert result.authors == ["Sok Dara"]
    assert result.title == BASE_RESULT.title
    assert result.text == BASE_RESULT.text
    assert result.published_at == BASE_RESULT.published_at
    assert (result.language, result.canonical_url) == ("en", f"{BASE}/canonical/")


def test_no_selectors_returns_the_generic_result_unchanged():
    assert apply("ream-pier-handover-ceremony-set", Selectors()) == BASE_RESULT


def test_the_base_result_is_not_modified():
    before = Extracted(**vars(BASE_RESULT))
    apply("ream-pier-handover-ceremony-set", CSS)
    assert before == BASE_RESULT


# --- dates: attribute or text -----------------------------------------------------------------


def test_a_date_from_an_elements_text_is_naive_so_taken_as_utc():
    result = apply("ream-pier-handover-ceremony-set", Selectors(date="span.dateline"))
    assert result.published_at == datetime(2026, 11, 4, 8, 0, tzinfo=UTC)


def test_an_unparseable_date_text_keeps_the_generic_date():
    # the Khmer dateline's text uses Khmer digits and month names
    result = apply("kh-ream-base-new-warehouses", Selectors(date="span.dateline"))
    assert result.published_at == BASE_RESULT.published_at


@pytest.mark.parametrize(
    ("markup", "selector", "expected"),
    [
        ('<time datetime="2026-11-04T09:30:00+07:00">yesterday</time>', "time",
         datetime(2026, 11, 4, 9, 30, tzinfo=ICT)),
        ('<meta itemprop="datePublished" content="2026-11-05T01:00:00Z">',
         "meta[itemprop=datePublished]", datetime(2026, 11, 5, 1, 0, tzinfo=UTC)),
        ("<span class='d'>2026-11-06 07:15</span>", "//span[@class='d']",
         datetime(2026, 11, 6, 7, 15, tzinfo=UTC)),
        ("<span class='d'>not a date</span><span class='d'>2026-11-07</span>", "span.d",
         datetime(2026, 11, 7, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_the_datetime_or_content_attribute_wins_over_the_text(markup, selector, expected):
    html = f"<html><head></head><body>{markup}</body></html>"
    result = apply_selectors(html, BASE + "/", Selectors(date=selector), BASE_RESULT)
    assert result.published_at == expected


# --- selectors that match nothing; empty bodies -----------------------------------------------


def test_selectors_that_match_nothing_leave_every_field_as_it_was():
    nothing = Selectors(title="h1.nope", body="//article", date="time", author="a[rel=author]")
    assert apply("ream-pier-handover-ceremony-set", nothing) == BASE_RESULT


def test_a_video_only_page_gives_an_empty_body_not_the_generic_text():
    result = apply("video-angkor-sentinel-highlights", CSS)
    assert result.text == ""
    assert result.title == "Video: highlights from the last Angkor Sentinel"
    assert result.published_at == datetime(2026, 11, 9, 18, 0, tzinfo=ICT)


# --- body paragraphs --------------------------------------------------------------------------


def test_body_paragraphs_split_at_blocks_and_br_without_scripts_or_styles():
    html = """<html><body><div class="b">
      <h2>  A   heading </h2>
      <p>First <b>bold</b>
         paragraph.</p>
      <script>var tracking = "Kem Sokha";</script><style>.b { color: red }</style>
      <ul><li>one item</li><li>two <i>items</i></li></ul>
      loose text<br>after a break<!-- a comment -->
      <noscript>enable scripts</noscript>
      <p>Last\u200bword.</p>
    </div></body></html>"""
    result = apply_selectors(html, BASE + "/", Selectors(body="div.b"), BASE_RESULT)
    assert result.text == (
        "A heading\nFirst bold paragraph.\none item\ntwo items\nloose text\nafter a break\n"
        "Lastword."
    )


def test_nested_matches_are_read_once():
    nested = Selectors(body="div.story-body, div.para")
    assert apply("ream-pier-handover-ceremony-set", nested).text == REAM_BODY


def test_several_matches_are_joined_in_page_order():
    result = apply("ream-pier-handover-ceremony-set", Selectors(body="div.para"))
    assert result.text == REAM_BODY


def test_text_nodes_selected_by_xpath_become_paragraphs():
    result = apply("ream-pier-handover-ceremony-set", Selectors(body="//div[@class='para']/text()"))
    assert result.text == REAM_BODY


# --- titles and authors -----------------------------------------------------------------------


def test_a_title_across_several_elements_is_joined_and_tidied():
    html = "<html><body><h1> Ream <em>pier</em>\n opens</h1><h1>at last</h1></body></html>"
    result = apply_selectors(html, BASE + "/", Selectors(title="h1"), BASE_RESULT)
    assert result.title == "Ream pier opens at last"


def test_authors_are_each_matched_text_without_a_by_prefix_or_repeats():
    html = (
        "<html><body><span class='r'>By Sok Dara</span><span class='r'>ដោយ ចាន់ ស្រីមុំ</span>"
        "<span class='r'>Sok Dara</span><span class='r'> </span></body></html>"
    )
    result = apply_selectors(html, BASE + "/", Selectors(author="span.r"), BASE_RESULT)
    assert result.authors == ["Sok Dara", "ចាន់ ស្រីមុំ"]


def test_css_pseudo_elements_select_text_and_attributes():
    selectors = Selectors(title="div.headline::text", author="span.reporter::text")
    result = apply("kem-sokha-appeal-hearing-moved", selectors)
    assert (result.title, result.authors) == (
        PAGES["kem-sokha-appeal-hearing-moved"][0],
        ["Sok Dara"],
    )


# --- invalid selectors, bad HTML --------------------------------------------------------------


@pytest.mark.parametrize(
    "expr", ["div.story-body", "span.dateline::attr(data-published)", "//div[@class='para']",
             "(//span)[1]", "xpath:  //p/text()", "div > p:nth-child(2)"]
)  # fmt: skip
def test_valid_selectors_have_no_error(expr):
    assert validate_selector(expr) is None


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("div[", "invalid CSS selector 'div['"),
        ("p:unknown-pseudo", "invalid CSS selector"),
        ("//div[", "invalid XPath '//div['"),
        ("(//p", "invalid XPath"),
        ("xpath:div[[", "invalid XPath"),
        ("//p/nofn()", "invalid XPath"),
        ("", "empty selector"),
        ("   ", "empty selector"),
    ],
)
def test_invalid_selectors_are_reported(expr, message):
    error = validate_selector(expr)
    assert error is not None
    assert error.startswith(message)


def test_an_invalid_selector_at_extraction_time_leaves_its_field_and_applies_the_others():
    result = apply(
        "ream-pier-handover-ceremony-set", Selectors(title="div[", author="span.reporter")
    )
    assert result.title == BASE_RESULT.title
    assert result.authors == ["Sok Dara"]


@pytest.mark.parametrize(
    "html",
    [b"", "  ", b"\x00\xff\xfe\x00 garbage", "<<<>>>", "<div class='story-body'><p>unclosed"],
)
def test_bad_html_never_raises(html):
    result = apply_selectors(html, BASE + "/", CSS, BASE_RESULT)
    assert result.title == BASE_RESULT.title
    assert result.published_at == BASE_RESULT.published_at


def test_selector_kinds():
    assert all(map(is_xpath, ["//p", "(//p)[1]", "xpath:p", "  //p"]))
    assert not any(map(is_xpath, ["p", "div.story-body", "span::text"]))
    assert Selectors(body="p").any_set()
    assert not Selectors().any_set()
