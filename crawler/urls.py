"""URL canonicalisation and host checks: one article has one URL, so one id, wherever it was linked.

The canonical form is what the article id is computed from, so two links to the same page (one
from a feed with ``utm_*`` tags, one with a ``#comments`` fragment) must give the same string.
"""

from __future__ import annotations

import hashlib
import ipaddress
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import tldextract
from w3lib.url import canonicalize_url

# Query parameters that only say how a reader arrived, never which page they asked for.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "ttclid", "li_fat_id", "igshid", "igsh", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc",
        "_hsmi", "__hstc", "__hssc", "__hsfp", "hsctatracking", "mkt_tok", "ref_src", "ref_url",
        "cmpid", "ocid", "s_cid", "spm", "scm", "vero_id", "vero_conv", "oly_anon_id",
        "oly_enc_id", "wickedid", "rb_clickid", "itm_source", "itm_medium", "itm_campaign",
        "at_medium", "at_campaign", "ns_source", "ns_mchannel", "ns_campaign", "ito", "cid_source",
        "fb_action_ids", "fb_action_types", "fb_source", "fb_ref", "action_object_map",
        "action_type_map", "action_ref_map", "share", "sr_share", "smid", "guccounter",
        "guce_referrer", "guce_referrer_sig", "__twitter_impression", "amp_js_v", "usqp",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hmb_")
DEFAULT_PORTS = {"http": 80, "https": 443}

# The public-suffix snapshot bundled with tldextract; never fetched at run time.
_extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in TRACKING_PARAMS or low.startswith(TRACKING_PREFIXES)


def _ascii_host(host: str) -> str:
    """The host lowercased, an IDN in punycode (left as is if it cannot be encoded)."""
    host = host.lower().rstrip(".")
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _drop_tracking(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not _is_tracking(k)]
    if len(kept) == len(pairs):
        return query
    return urlencode(kept)


def canonical_url(url: str, rel_canonical: str | None = None) -> str:
    """The canonical form of ``url``, the key an article is stored and deduplicated under.

    Scheme and host lowercased (IDN to punycode), default port, fragment and tracking parameters
    dropped, query sorted, percent-encoding normalised, empty path as ``/``. ``rel_canonical`` (the
    page's ``<link rel=canonical>``, absolute or relative) replaces ``url`` when it is on the same
    site; a canonical pointing at another site is ignored.
    """
    url = url.strip()
    if rel_canonical and rel_canonical.strip():
        candidate = urljoin(url, rel_canonical.strip())
        if urlsplit(candidate).scheme in ("http", "https") and same_site(url, candidate):
            url = candidate
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = _ascii_host(parts.hostname or "")
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host
    if ":" in host:
        netloc = f"[{host}]"
    if parts.username is not None:
        auth = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{auth}@{netloc}"
    if port is not None and DEFAULT_PORTS.get(scheme) != port:
        netloc = f"{netloc}:{port}"
    query = _drop_tracking(parts.query)
    rebuilt = urlunsplit((scheme, netloc, parts.path or "/", query, ""))
    return canonicalize_url(rebuilt, keep_blank_values=True)


def article_id(canonical: str) -> str:
    """The article id: sha256, lowercase hex, of the UTF-8 canonical URL."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def host_of(url: str) -> str:
    """The host name of ``url``, lowercased, punycode for an IDN, without port; "" if none."""
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""
    return _ascii_host(host)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=4096)
def _site_of(host: str) -> str:
    """The registrable domain of ``host`` (``bbc.co.uk`` for ``www.news.bbc.co.uk``).

    IPs, ``localhost`` and hosts without a known public suffix are their own site.
    """
    if not host or _is_ip(host):
        return host
    parts = _extract(host)
    if not parts.suffix:
        return host.removeprefix("www.")
    return f"{parts.domain}.{parts.suffix}" if parts.domain else host


def same_site(url_a: str, url_b: str) -> bool:
    """True when both URLs are on the same registrable domain (or the same IP / bare host)."""
    a, b = host_of(url_a), host_of(url_b)
    return bool(a) and _site_of(a) == _site_of(b)


def _normalise_domain(domain: str) -> str:
    domain = domain.strip()
    if "://" in domain:
        return host_of(domain)
    if domain.startswith("[") and "]" in domain:  # [::1]:8080
        return domain[1 : domain.index("]")].lower()
    if domain.count(":") == 1:  # host:port; a bare IPv6 address has several colons
        domain = domain.split(":", 1)[0]
    return _ascii_host(domain.lstrip("."))


def url_allowed(url: str, allowed_domains: list[str]) -> bool:
    """True when the host of ``url`` is one of ``allowed_domains`` or a subdomain of one.

    Entries are host names or IP addresses; ports are ignored on both sides. An IP matches only
    itself. An empty list allows nothing.
    """
    host = host_of(url)
    if not host:
        return False
    for entry in allowed_domains:
        domain = _normalise_domain(entry)
        if not domain:
            continue
        if host == domain:
            return True
        if not _is_ip(domain) and host.endswith("." + domain):
            return True
    return False
