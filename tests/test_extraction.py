"""spiders.extraction.extract on the fixture outlets' pages: body in, chrome out, metadata right."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from spiders.extraction import decode_html, extract

SITE = Path(__file__).parent / "fixture_site"
BASE = "http://127.0.0.5:8123"
ICT = timezone(timedelta(hours=7))

WP = "wp-news/2026/11"
VISIT = f"{WP}/us-defence-official-visits-phnom-penh"
REAM = f"{WP}/ream-naval-base-pier-nears-completion"
ANGKOR = f"{WP}/angkor-sentinel-exercise-to-resume"
RICE = f"{WP}/rice-exports-rise-as-new-markets-open"
SOKHA = f"{WP}/appeal-court-sets-date-for-kem-sokha-case"
WIRE = "atom-times/asia/2026/11/us-cambodia-defence-talks"
SANCTIONS = "atom-times/asia/2026/11/us-reviews-sanctions-on-navy-officers"
ANALYSIS = "atom-times/asia/2026/11/angkor-sentinel-what-returning-drills-mean"
KM = [f"khmer-daily/news/{n}" for n in ("1001", "1002", "1003", "1004")]
ARTICLES = [VISIT, REAM, ANGKOR, RICE, SOKHA, WIRE, SANCTIONS, ANALYSIS, *KM]


def page(path: str) -> bytes:
    return (SITE / path / "index.html").read_bytes().replace(b"{{BASE}}", BASE.encode())


def expected(path: str) -> str:
    return (SITE / "expected" / f"{path}.txt").read_text(encoding="utf-8").strip()


def run(path: str):
    return extract(page(path), f"{BASE}/{path.split('/', 1)[1]}/")


def without_zero_width(text: str) -> str:
    return text.replace("\u200b", "")


@pytest.fixture(scope="module")
def results():
    return {path: run(path) for path in ARTICLES}


# --- body text --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ARTICLES)
def test_text_is_exactly_the_article_body(results, path):
    assert without_zero_width(results[path].text) == expected(path)


def test_paragraphs_are_joined_with_newlines(results):
    text = results[VISIT].text
    assert text.count("\n") == len(expected(VISIT).splitlines()) - 1
    assert text.splitlines()[-1] == "Whitcombe is expected to travel on to Bangkok on Wednesday."


@pytest.mark.parametrize("path", [REAM, ANGKOR, RICE])
def test_sidebar_read_more_and_comment_mentions_of_kem_sokha_are_not_in_the_text(results, path):
    assert b"Kem Sokha" in page(path)  # the chrome does mention it
    assert "Kem Sokha" not in results[path].text


@pytest.mark.parametrize("path", [VISIT, REAM, ANGKOR, RICE, SOKHA])
def test_wordpress_chrome_is_not_in_the_text(results, path):
    text = results[path].text
    for chrome in (
        "Trending",  # sidebar widget
        "Related posts",
        "Ream Naval Base: a short history",  # a related-post headline
        "Leave a Reply",
        "says:",  # comment authors
        "Subscribe to the Ledger",  # nav menu
        "All rights reserved",  # footer
        "reader-funded newsroom",  # "About" text widget
        "Share this",
        "Previous Post",
        "Read more",
        "Photo: Ledger staff",  # figure caption
    ):
        assert chrome not in text, chrome


def test_comments_are_not_in_the_text(results):
    assert "The satellite images are worth a look" not in results[REAM].text
    assert "Free Kem Sokha and let the press work" not in results[VISIT].text


@pytest.mark.parametrize("path", [WIRE, SANCTIONS, ANALYSIS])
def test_news_site_chrome_is_not_in_the_text(results, path):
    text = results[path].text
    chrome_strings = ["More from Asia", "Thai farmers", "Asia Briefing", "Sign up", "Most read"]
    chrome_strings += ["Kem Sokha appeal date set", "Advertisement", "Copyright", "Registered in"]
    for chrome in chrome_strings:
        assert chrome not in text, chrome


def test_the_wire_copy_shares_the_original_body_with_its_own_intro_and_footer(results):
    original = results[VISIT].text.splitlines()
    copy = results[WIRE].text.splitlines()
    assert copy[1:-1] == original
    assert copy[0].startswith("The Atom Times is carrying this Mekong Wire Service report")
    assert copy[-1].startswith("This report was distributed by the Mekong Wire Service")


@pytest.mark.parametrize("path", KM)
def test_khmer_chrome_is_not_in_the_text(results, path):
    text = results[path].text
    for chrome in ("ព័ត៌មានពេញនិយម", "រក្សាសិទ្ធិ", "ទំព័រដើម", "ចែករំលែក", "ព័ត៌មានទាក់ទង",
                   "ផ្សាយពាណិជ្ជកម្ម", "ជួបជុំគ្នានៅមុខតុលាការ"):  # fmt: skip
        assert chrome not in text, chrome


def test_khmer_sidebar_kem_sokha_is_not_in_pages_whose_body_lacks_it(results):
    for path in (KM[0], KM[2], KM[3]):
        assert "កឹម សុខា" not in results[path].text
    assert "កឹម សុខា" in results[KM[1]].text


def test_khmer_text_keeps_khmer_digits_and_the_variant_subscript_order(results):
    assert "២០២៦" in results[KM[0]].text
    assert "នាយករដ្ឋមន\u17d2\u179a\u17d2\u178f\u17b8" in results[KM[3]].text


def test_the_headline_is_not_repeated_as_the_first_line(results):
    for path in KM:
        assert results[path].text.splitlines()[0] != results[path].title


# --- metadata ---------------------------------------------------------------------------------


def test_wordpress_metadata(results):
    visit = results[VISIT]
    assert visit.title == "US defence official in Phnom Penh for talks on military cooperation"
    assert visit.authors == ["Sreyneang Chhay"]
    assert visit.published_at == datetime(2026, 11, 3, 9, 15, tzinfo=ICT)
    assert visit.published_at.utcoffset() == timedelta(hours=7)
    assert visit.language == "en"
    assert visit.canonical_url == f"{BASE}/2026/11/us-defence-official-visits-phnom-penh/"


def test_json_ld_date_and_author_are_used_when_there_is_no_meta_date(results):
    sanctions = results[SANCTIONS]
    assert sanctions.published_at == datetime(2026, 11, 4, 9, 0, tzinfo=UTC)
    assert sanctions.authors == ["Rachel Ong"]
    assert sanctions.title == "US reviews sanctions on two Cambodian navy officers"
    assert sanctions.language == "en"  # from lang="en-GB"


@pytest.mark.parametrize("path", ARTICLES)
def test_every_fixture_article_has_an_aware_date_a_title_an_author_and_its_canonical(results, path):
    result = results[path]
    assert result.published_at is not None and result.published_at.tzinfo is not None
    assert result.title
    assert result.authors
    assert result.canonical_url == f"{BASE}/{path.split('/', 1)[1]}/"


def test_khmer_pages_are_km_with_whole_khmer_author_names(results):
    assert {results[p].language for p in KM} == {"km"}
    assert results[KM[0]].authors == ["សុខ ចាន់ណា"]
    assert results[KM[1]].authors == ["ចាន់ ធីតា"]
    assert results[KM[3]].title.startswith("នាយករដ្ឋមន្រ្តី ទទួលជួប")


def test_a_naive_time_element_is_taken_as_utc(results):
    assert results[KM[1]].published_at == datetime(2026, 11, 6, 10, 30, tzinfo=UTC)


def test_json_ld_date_on_a_khmer_page(results):
    assert results[KM[3]].published_at == datetime(2026, 11, 3, 18, 20, tzinfo=ICT)


def test_mostly_khmer_body_is_km_even_when_the_page_says_english():
    html = page(KM[0]).replace(b'lang="km"', b'lang="en"').replace(b"km_KH", b"en_US")
    assert extract(html, f"{BASE}/news/1001/").language == "km"


def test_a_relative_rel_canonical_is_made_absolute():
    html = page(VISIT).replace(
        f'rel="canonical" href="{BASE}/2026/11/'.encode(), b'rel="canonical" href="/2026/11/'
    )
    assert extract(html, f"{BASE}/?p=1412").canonical_url == (
        f"{BASE}/2026/11/us-defence-official-visits-phnom-penh/"
    )


def test_a_page_without_rel_canonical_has_none():
    html = b"<html><head><title>t</title></head><body><article><p>" + b"Words here. " * 40
    assert (
        extract(html + b"</p></article></body></html>", "http://x.example/a").canonical_url is None
    )


def test_str_and_bytes_give_the_same_result():
    raw = page(SOKHA)
    assert extract(raw, f"{BASE}/x/") == extract(raw.decode("utf-8"), f"{BASE}/x/")


# --- encodings --------------------------------------------------------------------------------


def article_bytes(body: str, encoding: str, head: str = "") -> bytes:
    html = f"<html><head>{head}<title>T</title></head>"
    html += f"<body><article><p>{body}</p></article></body></html>"
    return html.encode(encoding)


def test_meta_charset_is_honoured():
    text = "Le café de Kampot est très apprécié. " * 20
    raw = article_bytes(text, "iso-8859-1", '<meta charset="iso-8859-1">')
    assert "café de Kampot est très apprécié" in extract(raw, "http://x.example/").text


def test_http_equiv_charset_is_honoured():
    head = '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
    raw = article_bytes("日本語の記事です。" * 40, "shift_jis", head)
    assert "日本語の記事です。" in extract(raw, "http://x.example/").text


def test_undeclared_windows_1252_falls_back_without_raising():
    raw = article_bytes("“Quoted” words in a café. " * 30, "cp1252")
    assert "“Quoted” words in a café." in extract(raw, "http://x.example/").text


def test_a_utf16_bom_is_honoured():
    raw = "\ufeff".encode("utf-16-be") + article_bytes("Ream Naval Base. " * 30, "utf-16-be")
    assert "Ream Naval Base." in extract(raw, "http://x.example/").text


def test_utf8_bytes_under_a_wrong_latin1_declaration_are_read_as_utf8():
    raw = article_bytes("Le café de Kampot, ឆ្មាំអង្គរ. " * 20, "utf-8", '<meta charset="iso-8859-1">')
    assert "Le café de Kampot, ឆ្មាំអង្គរ." in extract(raw, "http://x.example/").text


def test_decode_html_prefers_bom_then_utf8_then_meta():
    assert decode_html(b"\xef\xbb\xbf<p>\xc3\xa9</p>") == "<p>é</p>"
    assert (
        decode_html(b'<meta charset="windows-1252"><p>\x93</p>')
        == '<meta charset="windows-1252"><p>“</p>'
    )
    assert decode_html("<p>ព័ត៌មាន</p>".encode()) == "<p>ព័ត៌មាន</p>"
    assert decode_html(b'<meta charset="no-such-codec"><p>\xe9</p>').endswith("é</p>")
    assert decode_html(b'<meta charset="utf-8"><p>\x93x\x94</p>').endswith("“x”</p>")


# --- bad input never raises -------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "",
        b"",
        "   \n  ",
        b"\x00" * 500,
        os.urandom(4096),
        bytes(range(256)) * 20,
        "<p>just a fragment</p>",
        "<html><body><nav><a href='/'>Home</a> <a href='/x'>X</a></nav><footer>© 2026</footer>",
        "<html><head><script type='application/ld+json'>{broken json</script></head></html>",
        "<html><head><meta property='article:published_time' content='day before yesterday'>",
        '<?xml version="1.0" encoding="iso-8859-1"?><html><body><p>x</p></body></html>',
        "<div>" * 3000 + "deep" + "</div>" * 3000,
    ],
)
def test_bad_input_never_raises_and_gives_no_article(bad):
    result = extract(bad, "http://x.example/bad")
    assert result.text == ""
    assert result.published_at is None


def test_a_page_of_only_navigation_guesses_no_date_from_the_copyright_line():
    html = "<html><body><nav>Home News</nav><p>Copyright © 2026 Example</p></body></html>"
    assert extract(html, "http://x.example/").published_at is None


def test_a_5mb_page_is_extracted():
    filler = "<script>var blob = '" + "x" * 4_500_000 + "';</script>"
    raw = page(VISIT).replace(b"</head>", filler.encode() + b"</head>")
    assert len(raw) > 4_500_000
    result = extract(raw, f"{BASE}/x/")
    assert result.text == expected(VISIT)


def test_unclosed_tags_around_an_article_still_give_its_text():
    body = "The navy said the new pier would open next year. " * 8
    html = f"<html><body><div><p>{body}<b>unclosed <i>tags<p>Second paragraph of the story here."
    text = extract(html, "http://x.example/").text
    assert "The navy said the new pier would open next year." in text
    assert "Second paragraph of the story here." in text


def test_a_crash_inside_trafilatura_is_logged_and_the_page_metadata_kept(monkeypatch, caplog):
    import trafilatura

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(trafilatura, "bare_extraction", explode)
    result = extract(page(VISIT), f"{BASE}/x/")
    assert result.text == ""
    assert "extraction failed" in caplog.text
    # what the page's own markup says is still returned
    assert result.canonical_url == f"{BASE}/2026/11/us-defence-official-visits-phnom-penh/"
    assert result.published_at == datetime(2026, 11, 3, 9, 15, tzinfo=ICT)
    assert result.title.startswith("US defence official in Phnom Penh")
