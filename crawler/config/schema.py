"""The configuration schema: frozen pydantic models, one default per key, and ``describe``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from crawler.config.fields import (
    URL,
    Cron,
    CssOrXpath,
    Duration,
    Email,
    Host,
    Language,
    Query,
    Regex,
    Secret,
    Slug,
    blank_to_none,
    check_host,
    check_sender,
    check_timezone,
    cron_trigger,
    format_duration,
)
from crawler.errors import ConfigError

DEFAULT_TIMEZONE = "Asia/Phnom_Penh"
DEFAULT_SCHEDULE = "*/30 * * * *"
DEFAULT_DIGEST_SCHEDULE = "0 8 * * *"
DEFAULT_MAILDIR = "var/mail"
MAILDIR_SENDER = "beatwatch <beatwatch@localhost>"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class ElasticsearchSettings(_Model):
    """Connection to the production index; run state stays in SQLite."""

    url: URL = "http://localhost:9200"
    index: str = Field("beatwatch-articles", pattern=r"^[a-z0-9][a-z0-9._-]*$")
    api_key: Secret = None
    username: Annotated[str | None, BeforeValidator(blank_to_none)] = None
    password: Secret = None
    verify_certs: bool = True
    ca_certs: str | None = None  # a CA bundle for a cluster with its own certificate authority
    timeout: float = Field(30.0, gt=0)
    batch_size: int = Field(500, ge=1, le=10_000)  # documents per bulk request (measured)
    retries: int = Field(3, ge=0)  # per bulk request, for 429/5xx and refused connections
    retry_backoff: float = Field(1.0, ge=0)  # seconds before the first retry, doubling after
    shards: int = Field(1, ge=1)  # of a new index (a rebuild applies a change)
    replicas: int = Field(0, ge=0)  # 0 suits one node; 1 or more on a cluster


class StoreSettings(_Model):
    """Where articles are indexed: the embedded SQLite file (default) or Elasticsearch."""

    backend: Literal["sqlite", "elasticsearch"] = "sqlite"
    path: str = "var/beatwatch.db"
    elasticsearch: ElasticsearchSettings = ElasticsearchSettings()


class CrawlSettings(_Model):
    """Politeness and limits shared by every spider."""

    user_agent: str = Field("beatwatch/0.1 (+mailto:ops@example.org)", min_length=1)
    obey_robots: bool = True
    download_delay: float = Field(1.0, ge=0)
    timeout: float = Field(30.0, gt=0)
    retries: int = Field(2, ge=0)
    retry_backoff: float = Field(1.0, ge=0)  # seconds before the first retry, doubling after
    concurrency_per_host: int = Field(2, ge=1)
    max_page_bytes: int = Field(5_000_000, gt=0)
    max_items_per_feed: int = Field(100, ge=1)
    autothrottle: bool = True  # Scrapy AutoThrottle: slow down for hosts that answer slowly
    retry_after_max: float = Field(120.0, gt=0)  # a longer Retry-After gives up for this run
    crawl_delay_max: float = Field(30.0, gt=0)  # robots.txt Crawl-delay is honoured up to this
    backfill_max_pages: int = Field(200, ge=1)  # listing pagination depth for backfill


class ExtractSelectors(_Model):
    """Per-source CSS or XPath selectors that replace generic extraction of a field when set.

    A value starting with ``/``, ``(`` or ``xpath:`` is XPath, anything else CSS (parsel's
    ``::text`` and ``::attr(name)`` included).
    """

    title: CssOrXpath | None = None
    body: CssOrXpath | None = None
    date: CssOrXpath | None = None
    author: CssOrXpath | None = None

    def fields(self) -> dict[str, str]:
        """The selectors that are set, by field name."""
        return {name: value for name, value in self.model_dump().items() if value is not None}


class Source(_Model):
    """One outlet: what to fetch, from which hosts, on what schedule."""

    name: Slug
    title: str = ""  # filled in with the name when not given
    homepage: URL | None = None
    language: tuple[Language, ...] = ()
    feeds: tuple[URL, ...] = ()
    sitemaps: tuple[URL, ...] = ()
    start_urls: tuple[URL, ...] = ()
    allowed_domains: tuple[Host, ...]
    robots_sitemaps: bool = False  # also read the Sitemap: lines of the hosts' robots.txt
    max_age: Duration = timedelta(days=3)  # routine runs fetch sitemap URLs newer than this
    follow: tuple[Regex, ...] = ()  # listing: article links must match one (empty: heuristic)
    deny: tuple[Regex, ...] = ()  # listing: article links matching one are skipped
    max_pages: int = Field(3, ge=1)  # listing pagination depth per routine run
    extract: ExtractSelectors = ExtractSelectors()
    schedule: Cron = DEFAULT_SCHEDULE
    enabled: bool = True
    notes: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("title") is None and isinstance(data.get("name"), str):
            data["title"] = data["name"]
        if "allowed_domains" not in data:
            data["allowed_domains"] = _default_domains(data)
        return data

    @model_validator(mode="after")
    def _has_something_to_fetch(self) -> Source:
        if not self.enabled:
            return self
        if not (self.feeds or self.sitemaps or self.start_urls or self.robots_sitemaps):
            raise ValueError(
                "an enabled source needs feeds, sitemaps, start_urls or robots_sitemaps: true"
            )
        if self.robots_sitemaps and not self.robots_txt_urls:
            raise ValueError(
                "robots_sitemaps needs a homepage or allowed_domains to find robots.txt"
            )
        return self

    @property
    def robots_txt_urls(self) -> tuple[str, ...]:
        """Where ``robots_sitemaps`` looks for ``Sitemap:`` lines: ``/robots.txt`` of each host
        the source fetches from and of its homepage, else ``https://`` each allowed domain."""
        roots: dict[str, str] = {}
        for url in (*self.feeds, *self.sitemaps, *self.start_urls, self.homepage):
            if url:
                parts = urlsplit(url)
                roots.setdefault(parts.netloc.lower(), f"{parts.scheme}://{parts.netloc}")
        found = list(roots.values()) or [f"https://{domain}" for domain in self.allowed_domains]
        return tuple(f"{root}/robots.txt" for root in found)


def _default_domains(data: dict) -> list[str]:
    """The hosts of the feeds, sitemaps, start URLs and homepage, less ``www.`` so both forms are
    allowed."""
    hosts: list[str] = []
    for key in ("feeds", "sitemaps", "start_urls", "homepage"):
        urls = data.get(key)
        urls = [urls] if key == "homepage" else urls
        for url in urls if isinstance(urls, list | tuple) else ():
            try:
                host = urlsplit(url).hostname if isinstance(url, str) else None
                host = check_host(host.removeprefix("www.")) if host else None
            except ValueError:
                host = None  # the URL itself is reported as not a URL
            if host and host not in hosts:
                hosts.append(host)
    return hosts


class SmtpSettings(_Model):
    """An SMTP relay for alert mail."""

    host: str = Field(min_length=1)
    port: int = Field(25, ge=1, le=65535)
    security: Literal["none", "starttls", "ssl"] = "none"
    username: Annotated[str | None, BeforeValidator(blank_to_none)] = None
    password: Secret = None
    sender: Annotated[str, AfterValidator(check_sender)]
    timeout: float = Field(30.0, gt=0)


class Delivery(_Model):
    """How alert mail leaves the outbox: exactly one of ``smtp`` or ``maildir`` (the default)."""

    smtp: SmtpSettings | None = None
    maildir: str | None = None
    retry_backoff_max: float = Field(900.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _one_transport(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if data.get("smtp") is not None and data.get("maildir") is not None:
            raise ValueError("give either smtp or maildir, not both")
        if data.get("smtp") is None and data.get("maildir") is None:
            data = {**data, "maildir": DEFAULT_MAILDIR}
        return data


class Rule(_Model):
    """An alert rule: who is told when an article matches ``query``, at once or in a digest."""

    name: Slug
    query: Query
    recipients: tuple[Email, ...] = Field(min_length=1)
    mode: Literal["immediate", "digest"] = "immediate"
    digest_schedule: Cron | None = None
    enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _digest_default(cls, data: Any) -> Any:
        digest = isinstance(data, dict) and data.get("mode") == "digest"
        if digest and data.get("digest_schedule") is None:
            data = {**data, "digest_schedule": DEFAULT_DIGEST_SCHEDULE}
        return data

    @field_validator("digest_schedule")
    @classmethod
    def _only_for_digests(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("mode") == "immediate":
            raise ValueError("digest_schedule is only used with mode: digest")
        return value


class AlertSettings(_Model):
    """Alert delivery and the rules."""

    delivery: Delivery = Delivery()
    rules: tuple[Rule, ...] = ()

    @property
    def sender(self) -> str:
        """The From address of alert mail: ``smtp.sender``, or a local one for a maildir."""
        smtp = self.delivery.smtp
        return smtp.sender if smtp else MAILDIR_SENDER


class Settings(_Model):
    """The whole validated configuration; see ``load_config``."""

    timezone: Annotated[str, AfterValidator(check_timezone)] = DEFAULT_TIMEZONE
    store: StoreSettings = StoreSettings()
    crawl: CrawlSettings = CrawlSettings()
    scope: Annotated[Query | None, BeforeValidator(blank_to_none)] = None
    sources: tuple[Source, ...] = ()
    alerts: AlertSettings = AlertSettings()

    _path: Path | None = PrivateAttr(default=None)

    @property
    def tz(self) -> ZoneInfo:
        """The zone schedules run in and alert times are shown in."""
        return ZoneInfo(self.timezone)

    @property
    def path(self) -> Path | None:
        """The main file this configuration was loaded from (None when built in code)."""
        return self._path

    def enabled_sources(self) -> list[Source]:
        """The sources a crawl pass or the scheduler should run, in file order."""
        return [s for s in self.sources if s.enabled]

    def source(self, name: str) -> Source:
        """The source called ``name``; ConfigError naming the known sources otherwise."""
        return self._named(self.sources, name, "source", "sources")

    def rule(self, name: str) -> Rule:
        """The rule called ``name``; ConfigError naming the known rules otherwise."""
        return self._named(self.alerts.rules, name, "rule", "alerts.rules")

    def _named(self, items: tuple, name: str, kind: str, key: str) -> Any:
        for item in items:
            if item.name == name:
                return item
        known = ", ".join(item.name for item in items) or "none"
        message = f"no {kind} named {name!r} (known: {known})"
        raise ConfigError([(str(self._path or "<config>"), key, message)])

    def trigger(self, expr: str) -> CronTrigger:
        """The scheduler trigger for a schedule of this configuration, in its timezone."""
        return cron_trigger(expr, self.tz)

    def describe(self) -> str:
        """A human summary of what this configuration will do, for ``beatwatch config check``."""
        lines = [f"config: {self._path or '<built in code>'}", f"timezone: {self.timezone}"]
        lines.append(f"store: {_describe_store(self.store)}")
        lines.append(f"delivery: {_describe_delivery(self.alerts.delivery)}")
        lines.append(f"scope: {self.scope or '(none: every article is in scope)'}")
        enabled = len(self.enabled_sources())
        lines.append(f"sources: {len(self.sources)} ({enabled} enabled)")
        width = max((len(s.name) for s in self.sources), default=0)
        for s in self.sources:
            state = "enabled " if s.enabled else "disabled"
            lines.append(f"  {s.name:<{width}}  {state}  {s.schedule:<20}  {_describe_fetches(s)}")
        lines.append(f"rules: {len(self.alerts.rules)}")
        width = max((len(r.name) for r in self.alerts.rules), default=0)
        for r in self.alerts.rules:
            mode = f"digest at {r.digest_schedule!r}" if r.mode == "digest" else "immediate"
            state = "" if r.enabled else " (disabled)"
            lines.append(f"  {r.name:<{width}}  {mode}{state} -> {', '.join(r.recipients)}")
        return "\n".join(lines)


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _describe_fetches(s: Source) -> str:
    """The kinds of crawling a source does: ``feeds: 1; sitemaps: 1 + robots.txt, last 2d; ...``."""
    kinds = [f"feeds: {len(s.feeds)}"] if s.feeds else []
    if s.sitemaps or s.robots_sitemaps:
        listed = [str(len(s.sitemaps))] if s.sitemaps else []
        found = " + ".join([*listed, "robots.txt"] if s.robots_sitemaps else listed)
        kinds.append(f"sitemaps: {found}, last {format_duration(s.max_age)}")
    if s.start_urls:
        starts, pages = _counted(len(s.start_urls), "start URL"), _counted(s.max_pages, "page")
        kinds.append(f"listing: {starts}, {pages}")
    if s.extract.fields():
        kinds.append(f"selectors: {', '.join(s.extract.fields())}")
    return "; ".join(kinds) or "nothing to fetch"


def _describe_store(store: StoreSettings) -> str:
    if store.backend == "sqlite":
        return f"sqlite at {store.path}"
    es = store.elasticsearch
    return f"elasticsearch at {es.url}, index {es.index} (run state in sqlite at {store.path})"


def _describe_delivery(delivery: Delivery) -> str:
    if delivery.smtp is None:
        return f"maildir {delivery.maildir}"
    smtp = delivery.smtp
    login = f", as {smtp.username}" if smtp.username else ""
    return f"smtp {smtp.host}:{smtp.port} ({smtp.security}{login}), from {smtp.sender}"
