"""crawler.urls: one page, one canonical URL, one article id; and which hosts a source may crawl."""

from __future__ import annotations

import hashlib

import pytest

from crawler.urls import article_id, canonical_url, host_of, same_site, url_allowed


def test_scheme_and_host_are_lowercased_and_the_fragment_dropped():
    assert canonical_url("HTTPS://News.Example.COM/Story/#comments") == (
        "https://news.example.com/Story/"
    )


def test_path_case_is_kept():
    assert canonical_url("https://example.com/A/b") == "https://example.com/A/b"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://127.0.0.2:8123/a", "http://127.0.0.2:8123/a"),
    ],
)
def test_default_ports_are_dropped_and_others_kept(url, expected):
    assert canonical_url(url) == expected


def test_an_empty_path_becomes_slash():
    assert canonical_url("https://example.com") == "https://example.com/"
    assert canonical_url("https://example.com?b=1") == "https://example.com/?b=1"


def test_tracking_parameters_are_dropped():
    url = (
        "https://example.com/2026/11/story/?utm_source=rss&utm_medium=feed&UTM_Campaign=x"
        "&fbclid=abc&gclid=1&dclid=2&msclkid=3&mc_cid=4&mc_eid=5&igshid=6&_ga=7&_gl=8"
        "&yclid=9&ref_src=twsrc&cmpid=10&ocid=11&s_cid=12&spm=13"
    )
    assert canonical_url(url) == "https://example.com/2026/11/story/"


def test_meaningful_parameters_are_kept_and_sorted():
    url = "https://example.com/article.php?utm_source=x&p=2&id=771&lang=km"
    assert canonical_url(url) == "https://example.com/article.php?id=771&lang=km&p=2"


def test_blank_query_values_are_kept():
    assert canonical_url("https://example.com/s?q=&a=1") == "https://example.com/s?a=1&q="


def test_percent_encoding_is_normalised():
    assert canonical_url("https://example.com/a%7eb/c d") == "https://example.com/a~b/c%20d"
    assert canonical_url("https://example.com/%e1%9e%80") == "https://example.com/%E1%9E%80"


def test_non_ascii_paths_are_percent_encoded():
    assert canonical_url("https://example.com/ព័ត៌មាន/") == canonical_url(
        "https://example.com/%E1%9E%96%E1%9F%90%E1%9E%8F%E1%9F%8C%E1%9E%98%E1%9E%B6%E1%9E%93/"
    )


def test_idn_hosts_become_punycode():
    assert canonical_url("https://München.de/x") == "https://xn--mnchen-3ya.de/x"
    assert canonical_url("https://កម្ពុជា.example/") == canonical_url(
        "https://" + "កម្ពុជា".encode("idna").decode() + ".example/"
    )


def test_two_links_to_the_same_article_canonicalise_alike():
    feed_link = "https://Example.com:443/2026/11/slug/?utm_source=rss&utm_medium=feed"
    comments_link = "https://example.com/2026/11/slug/#comments"
    assert canonical_url(feed_link) == canonical_url(comments_link)


def test_rel_canonical_on_the_same_site_is_honoured():
    page = "https://www.example.com/story?id=5&utm_source=x"
    assert canonical_url(page, "https://www.example.com/2026/11/story/") == (
        "https://www.example.com/2026/11/story/"
    )


def test_rel_canonical_may_drop_or_add_www_and_be_relative():
    assert canonical_url("https://www.example.com/a", "https://example.com/b") == (
        "https://example.com/b"
    )
    assert canonical_url("https://example.com/a?x=1", "/b") == "https://example.com/b"


def test_rel_canonical_on_a_subdomain_of_the_same_registrable_domain_is_honoured():
    assert canonical_url("https://www.bbc.co.uk/a", "https://news.bbc.co.uk/b") == (
        "https://news.bbc.co.uk/b"
    )


def test_rel_canonical_pointing_to_another_site_is_ignored():
    page = "https://smallblog.example.org/copied-story/?utm_source=x"
    assert canonical_url(page, "https://www.bigpaper.example.com/original/") == (
        "https://smallblog.example.org/copied-story/"
    )


def test_rel_canonical_on_another_public_suffix_tenant_is_ignored():
    # co.uk is a public suffix: a.co.uk and b.co.uk are different sites
    assert canonical_url("https://a.co.uk/x", "https://b.co.uk/y") == "https://a.co.uk/x"


def test_rel_canonical_to_another_ip_is_ignored_but_the_same_ip_is_honoured():
    assert canonical_url("http://127.0.0.2:8000/a", "http://127.0.0.3:8000/b") == (
        "http://127.0.0.2:8000/a"
    )
    assert canonical_url("http://127.0.0.2:8000/a", "http://127.0.0.2:8000/b") == (
        "http://127.0.0.2:8000/b"
    )


@pytest.mark.parametrize("bad", ["", "   ", "mailto:news@example.com", "javascript:void(0)"])
def test_empty_or_non_http_rel_canonical_is_ignored(bad):
    assert canonical_url("https://example.com/a", bad) == "https://example.com/a"


def test_the_canonical_form_is_stable():
    once = canonical_url("HTTP://Example.com:80/a%7Eb?utm_source=x&b=2&a=1#f")
    assert canonical_url(once) == once


def test_article_id_is_the_sha256_hex_of_the_utf8_canonical_url():
    canonical = "https://example.com/ព័ត៌មាន/"
    assert article_id(canonical) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert len(article_id(canonical)) == 64
    assert article_id(canonical) == article_id(canonical).lower()


def test_article_id_differs_for_different_urls():
    assert article_id("https://example.com/a") != article_id("https://example.com/b")


def test_host_of_is_lowercase_without_port():
    assert host_of("https://News.Example.com:8443/x") == "news.example.com"
    assert host_of("http://127.0.0.2:8123/") == "127.0.0.2"
    assert host_of("not a url") == ""


def test_same_site_compares_registrable_domains():
    assert same_site("https://www.khmertimeskh.com/a", "https://khmertimeskh.com/b")
    assert not same_site("https://khmertimeskh.com/a", "https://evil-khmertimeskh.com/b")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://www.khmertimeskh.com/2026/11/x/", True),
        ("https://khmertimeskh.com/", True),
        ("https://news.khmertimeskh.com:8443/", True),
        ("https://notkhmertimeskh.com/", False),
        ("https://khmertimeskh.com.evil.example/", False),
        ("https://example.com/?next=khmertimeskh.com", False),
    ],
)
def test_url_allowed_accepts_the_domain_and_its_subdomains_only(url, allowed):
    assert url_allowed(url, ["khmertimeskh.com"]) is allowed


def test_url_allowed_ignores_ports_on_both_sides():
    assert url_allowed("http://127.0.0.2:8123/feed/", ["127.0.0.2"])
    assert url_allowed("http://127.0.0.2/feed/", ["127.0.0.2:9999"])
    assert url_allowed("http://localhost:8000/", ["localhost"])


def test_url_allowed_matches_ips_exactly():
    assert not url_allowed("http://127.0.0.3:8123/", ["127.0.0.2"])
    assert not url_allowed("http://10.127.0.0.2/", ["127.0.0.2"])


def test_url_allowed_is_case_insensitive_and_accepts_idn_entries():
    assert url_allowed("https://WWW.Example.COM/", ["example.com"])
    assert url_allowed("https://xn--mnchen-3ya.de/", ["münchen.de"])


def test_url_allowed_with_no_domains_allows_nothing():
    assert not url_allowed("https://example.com/", [])
    assert not url_allowed("", ["example.com"])
