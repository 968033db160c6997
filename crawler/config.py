"""The configuration: one declared schema, loaded and validated once at start.

``load_config(path)`` reads YAML, expands ``${VAR}`` / ``${VAR:-default}`` from the environment,
appends the ``sources`` and ``alerts.rules`` of any ``include:`` files, and validates everything
into frozen models. Every problem is collected and raised together as one ``ConfigError`` listing
``(file, key_path, message)``: ``("config/beatwatch.yaml", "sources[3].feeds[0]", "not a URL")``.
Each key has exactly one default, in the model below that declares it.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from crawler.errors import ConfigError, QuerySyntaxError

DEFAULT_CONFIG_PATH = Path("config/beatwatch.yaml")
DEFAULT_TIMEZONE = "Asia/Phnom_Penh"
DEFAULT_SCHEDULE = "*/30 * * * *"
DEFAULT_DIGEST_SCHEDULE = "0 8 * * *"
DEFAULT_MAILDIR = "var/mail"
MAILDIR_SENDER = "beatwatch <beatwatch@localhost>"

_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_EMAIL = re.compile(r"[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")
_WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


# -- value checks: each returns the (normalised) value or raises ValueError with the message shown


def _check_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError:
        raise ValueError("not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", value):
        raise ValueError("not a URL")
    return value


def _check_slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise ValueError(f"not a valid name (lowercase letters, digits and hyphens): {value!r}")
    return value


def _check_email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError("not an email address")
    return value


def _check_sender(value: str) -> str:
    _name, addr = parseaddr(value)
    if not _EMAIL.fullmatch(addr) or value.count("@") != 1:
        raise ValueError("not an email address (write 'Name <addr@example.org>' or an address)")
    return value


def _check_host(value: str) -> str:
    host = value.strip().lower()
    if "/" in host:
        raise ValueError(f"not a host name (give the domain, not a URL): {value!r}")
    bare = host[1:].split("]")[0] if host.startswith("[") else host.rsplit(":", 1)[0]
    for candidate in (host, bare):  # a bare IPv6 address is full of colons
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            pass
    if not _HOSTNAME.fullmatch(bare):
        raise ValueError(f"not a host name or IP address: {value!r}")
    return bare


def _check_language(value: str) -> str:
    if not re.fullmatch(r"[a-z]{2}", value):
        raise ValueError(f"not an ISO 639-1 language code: {value!r}")
    return value


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (an IANA name, like Asia/Phnom_Penh)"
        ) from None
    return value


def _check_query(value: str) -> str:
    if not value.strip():
        raise ValueError("query must not be empty")
    try:
        from indexer.query import parse
    except ModuleNotFoundError as exc:
        if exc.name in ("indexer", "indexer.query"):
            return value  # TODO(lead): indexer.query not written yet; queries are not checked
        raise
    try:
        parse(value)
    except QuerySyntaxError as exc:
        where = f" at column {exc.position}" if exc.position is not None else ""
        raise ValueError(f"query syntax error{where}: {exc.message}") from None
    return value


def _check_cron(value: str, info: ValidationInfo) -> str:
    tz = (info.context or {}).get("tz") or ZoneInfo("UTC")
    try:
        cron_trigger(value, tz)
    except ValueError as exc:
        reason = re.sub(r"^Error validating expression '[^']*': ", "", str(exc))
        raise ValueError(f"invalid cron expression {value!r}: {reason}") from None
    return value


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
    return value


_DURATION = re.compile(r"\s*(\d+)\s*([smhdw]?)\s*")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _parse_duration(value: Any) -> timedelta:
    """``90m``, ``12h``, ``3d``, ``2w`` or a number of seconds, as a positive timedelta."""
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    try:
        if isinstance(value, timedelta):
            delta = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            delta = timedelta(seconds=value)
        elif match:
            delta = timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
        else:
            raise ValueError
    except (ValueError, OverflowError):  # OverflowError: .inf or a thousand millennia
        raise ValueError(f"expected a duration like 3d or 12h, got {_show(value)}") from None
    if delta <= timedelta(0):
        raise ValueError(f"must be longer than 0, got {_show(value)}")
    return delta


def format_duration(delta: timedelta) -> str:
    """``delta`` in the largest unit that divides it exactly: ``2d``, ``90m``, ``45s``."""
    seconds = int(delta.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


def _check_selector(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    problem = _selector_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _selector_problem(expr: str) -> str | None:
    try:
        from spiders.selectors import validate_selector
    except ImportError as exc:
        if exc.name not in ("spiders", "spiders.selectors"):
            raise
        return _parsel_problem(expr)
    return validate_selector(expr)


def _parsel_problem(expr: str) -> str | None:
    """Why parsel refuses ``expr`` (XPath if it starts with /, ( or xpath:, else CSS), or None.

    The same rule and message as ``spiders.selectors.validate_selector``, for when that is absent.
    """
    from cssselect import SelectorError
    from parsel import Selector

    probe, text = Selector(text="<html/>"), expr.strip()
    xpath = text.startswith(("/", "(", "xpath:"))
    try:
        if xpath:
            probe.xpath(text.removeprefix("xpath:").strip())
        else:
            probe.css(text)
    except (ValueError, SyntaxError, SelectorError) as exc:
        return f"invalid {'XPath' if xpath else 'CSS selector'} {expr!r}: {exc}"
    return None


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def cron_trigger(expr: str, tz: ZoneInfo) -> CronTrigger:
    """The APScheduler trigger for a standard 5-field crontab expression, run in ``tz``.

    Use this, not ``CronTrigger.from_crontab``: APScheduler 3 numbers weekdays from Monday = 0,
    standard cron from Sunday = 0 (7 is Sunday too), so weekdays are translated to names here.
    Cron ORs a restricted day of month with a restricted day of week and APScheduler ANDs them,
    so giving both is refused rather than silently meaning something else.
    """
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (minute hour day month weekday), got {len(fields)}")
    minute, hour, day, month, weekday = fields
    if day != "*" and weekday != "*":
        raise ValueError("restrict the day of month or the day of week, not both")
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month,
        day_of_week=_cron_weekdays(weekday), timezone=tz,
    )  # fmt: skip


def _cron_weekdays(field: str) -> str:
    if field == "*":
        return field
    days: set[int] = set()
    for item in field.split(","):
        match = re.fullmatch(r"(\*|\w+)(?:-(\w+))?(?:/(\d+))?", item.lower())
        if not match:
            raise ValueError(f"invalid day of week {item!r}")
        low, high, step = match.groups()
        start = 0 if low == "*" else _weekday_number(low)
        end = 6 if low == "*" or (step and not high) else _weekday_number(high or low)
        if end < start or (step and int(step) == 0):
            raise ValueError(f"invalid day of week {item!r}")
        days.update(day % 7 for day in range(start, end + 1, int(step or 1)))
    return ",".join(_WEEKDAYS[day] for day in sorted(days))


def _weekday_number(token: str) -> int:
    if token.isdigit() and int(token) <= 7:
        return int(token)
    if token[:3] in _WEEKDAYS and len(token) == 3:
        return _WEEKDAYS.index(token)
    raise ValueError(f"invalid day of week {token!r}")


URL = Annotated[str, AfterValidator(_check_url)]
Slug = Annotated[str, AfterValidator(_check_slug)]
Email = Annotated[str, AfterValidator(_check_email)]
Host = Annotated[str, AfterValidator(_check_host)]
Language = Annotated[str, AfterValidator(_check_language)]
Cron = Annotated[str, AfterValidator(_check_cron)]
Query = Annotated[str, AfterValidator(_check_query)]
Regex = Annotated[str, AfterValidator(_check_regex)]
Duration = Annotated[timedelta, BeforeValidator(_parse_duration)]
CssOrXpath = Annotated[str, AfterValidator(_check_selector)]
Secret = Annotated[str | None, BeforeValidator(_blank_to_none), Field(repr=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


# -- the schema


class ElasticsearchSettings(_Model):
    """Connection to the production index; run state stays in SQLite."""

    url: URL = "http://localhost:9200"
    index: str = Field("beatwatch-articles", pattern=r"^[a-z0-9][a-z0-9._-]*$")
    api_key: Secret = None
    username: Annotated[str | None, BeforeValidator(_blank_to_none)] = None
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
                host = _check_host(host.removeprefix("www.")) if host else None
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
    username: Annotated[str | None, BeforeValidator(_blank_to_none)] = None
    password: Secret = None
    sender: Annotated[str, AfterValidator(_check_sender)]
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

    timezone: Annotated[str, AfterValidator(_check_timezone)] = DEFAULT_TIMEZONE
    store: StoreSettings = StoreSettings()
    crawl: CrawlSettings = CrawlSettings()
    scope: Annotated[Query | None, BeforeValidator(_blank_to_none)] = None
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


# -- loading


def default_config_path() -> Path:
    """``$BEATWATCH_CONFIG`` if set, else ``config/beatwatch.yaml`` in the current directory."""
    return Path(os.environ.get("BEATWATCH_CONFIG") or DEFAULT_CONFIG_PATH)


def load_config(path: str | Path) -> Settings:
    """Read, expand and validate the configuration at ``path``; ConfigError lists every problem."""
    path = Path(path)
    problems: list[tuple[str, str, str]] = []
    data = _read_file(path, problems)
    if data is None:
        raise ConfigError(problems)
    origins = _Origins(str(path), data)
    _merge_includes(path, data, origins, problems)
    problems.extend(_duplicate_names(data, origins))
    context = {"tz": _zone_or_utc(data.get("timezone"))}
    try:
        settings = Settings.model_validate(data, context=context)
    except ValidationError as exc:
        problems.extend(_translate(exc.errors(), origins, problems))
    if problems:
        raise ConfigError(problems)
    settings._path = path
    return settings


class _Loader(yaml.SafeLoader):
    """safe_load that refuses a key given twice in one mapping (the second would silently win)."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, list | dict):
            continue  # construct_mapping reports unhashable keys
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_file(path: Path, problems: list) -> dict | None:
    """The file's top-level mapping, ``${VAR}`` expanded; None (and a problem) if unusable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append((str(path), "", "file not found"))
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.append((str(path), "", f"cannot read the file: {getattr(exc, 'strerror', exc)}"))
        return None
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problems.append((str(path), "", f"YAML syntax error{where}: {exc.problem or exc}"))
        return None
    except yaml.YAMLError as exc:
        problems.append((str(path), "", f"YAML syntax error: {exc}"))
        return None
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.append((str(path), "", f"expected a mapping at the top, got {_show(data)}"))
        return None
    return _expand(data, str(path), (), problems)


_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand(value: Any, file: str, loc: tuple, problems: list) -> Any:
    """``value`` with ``${VAR}`` and ``${VAR:-default}`` in strings replaced; ``$$`` is ``$``."""
    if isinstance(value, dict):
        return {k: _expand(v, file, (*loc, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, file, (*loc, i), problems) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value
    missing: list[str] = []

    def substitute(match: re.Match) -> str:
        name, default = match.groups()
        if match.group(0) == "$$":
            return "$"
        if default is not None:
            return os.environ.get(name) or default
        if name not in os.environ:
            missing.append(name)
            return match.group(0)
        return os.environ[name]

    expanded = _VARIABLE.sub(substitute, value)
    for name in missing:
        message = f"environment variable {name} is not set (${{{name}:-}} would default to empty)"
        problems.append((file, _key_path(loc), message))
    if not missing and "${" in _VARIABLE.sub("", value):
        message = "malformed variable: write ${NAME} or ${NAME:-default}"
        problems.append((file, _key_path(loc), message))
    return expanded


class _Origins:
    """Which file (and which index in it) each merged source and rule came from."""

    def __init__(self, main: str, data: dict):
        self.main = main
        self.sources = _entries(main, data.get("sources"))
        alerts = data.get("alerts")
        self.rules = _entries(main, alerts.get("rules") if isinstance(alerts, dict) else None)

    def locate(self, loc: tuple) -> tuple[str, str]:
        """The file and the key path, in that file, of a location in the merged data."""
        parts = list(loc)
        file = self.main
        if parts[:1] == ["sources"] and len(parts) > 1:
            file, parts[1] = _origin(self.sources, parts[1], file)
        elif parts[:2] == ["alerts", "rules"] and len(parts) > 2:
            file, parts[2] = _origin(self.rules, parts[2], file)
        return file, _key_path(parts)


def _origin(entries: list[tuple[str, int]], index: Any, file: str) -> tuple[str, Any]:
    in_range = isinstance(index, int) and index < len(entries)
    return entries[index] if in_range else (file, index)


def _entries(file: str, items: Any) -> list[tuple[str, int]]:
    return [(file, i) for i in range(len(items))] if isinstance(items, list) else []


def _merge_includes(path: Path, data: dict, origins: _Origins, problems: list) -> None:
    """Append the sources and rules of the files named by ``include:`` (relative to ``path``)."""
    includes = data.pop("include", None)
    if includes is None:
        return
    if not isinstance(includes, list):
        got = _show(includes)
        problems.append((str(path), "include", f"expected a list of file names, got {got}"))
        return
    for i, name in enumerate(includes):
        if not isinstance(name, str) or not name:
            message = f"expected a file name, got {_show(name)}"
            problems.append((str(path), f"include[{i}]", message))
            continue
        included = path.parent / name
        part = _read_file(included, problems)
        if part is not None:
            _merge_one(str(included), part, data, origins, problems)


def _merge_one(file: str, part: dict, data: dict, origins: _Origins, problems: list) -> None:
    alerts = part.get("alerts", {})
    if not isinstance(alerts, dict):
        problems.append((file, "alerts", f"expected a mapping, got {_show(alerts)}"))
        alerts = {}
    stray = [str(k) for k in part if k not in ("sources", "alerts")]
    stray += [f"alerts.{k}" for k in alerts if k != "rules"]
    for key in stray:
        problems.append((file, key, "not allowed in an included file (only sources, alerts.rules)"))
    if "sources" in part:
        _append(file, part["sources"], "sources", data, origins.sources, problems)
    if "rules" in alerts:
        target = data.setdefault("alerts", {})
        if isinstance(target, dict):
            _append(file, alerts["rules"], "alerts.rules", target, origins.rules, problems, "rules")


def _append(file, items, key_path, target, origin, problems, key=None) -> None:
    key = key or key_path
    if items is None:
        return
    if not isinstance(items, list):
        problems.append((file, key_path, f"expected a list, got {_show(items)}"))
        return
    existing = target.setdefault(key, [])
    if not isinstance(existing, list):
        return  # the main file's own value is reported as not a list
    existing.extend(items)
    origin.extend((file, i) for i in range(len(items)))


def _duplicate_names(data: dict, origins: _Origins) -> list[tuple[str, str, str]]:
    alerts = data.get("alerts")
    rules = alerts.get("rules") if isinstance(alerts, dict) else None
    found = _duplicates(data.get("sources"), ("sources",), "source", origins)
    return found + _duplicates(rules, ("alerts", "rules"), "rule", origins)


def _duplicates(items: Any, loc: tuple, kind: str, origins: _Origins) -> list:
    first: dict[str, tuple[str, str]] = {}
    found = []
    for i, item in enumerate(items if isinstance(items, list) else []):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            continue
        file, key = origins.locate((*loc, i, "name"))
        if name in first:
            other_file, other_key = first[name]
            where = other_key if other_file == file else f"{other_key} in {other_file}"
            found.append((file, key, f"duplicate {kind} name {name!r} (also {where})"))
        else:
            first[name] = (file, key.removesuffix(".name"))
    return found


def _zone_or_utc(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(name) if isinstance(name, str) else ZoneInfo(DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _key_path(loc: Any) -> str:
    """``('sources', 3, 'feeds', 0)`` -> ``sources[3].feeds[0]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# -- pydantic errors as short human messages

_EXPECTED = {
    "float_parsing": "a number", "float_type": "a number", "int_parsing": "a whole number",
    "int_type": "a whole number", "int_from_float": "a whole number",
    "bool_parsing": "true or false", "bool_type": "true or false",
    "string_type": "text", "list_type": "a list", "tuple_type": "a list",
    "model_type": "a mapping", "model_attributes_type": "a mapping", "dict_type": "a mapping",
}  # fmt: skip


def _translate(errors: list, origins: _Origins, known: list) -> list[tuple[str, str, str]]:
    """Pydantic errors as problems, less those already reported at the same place.

    An empty-list error is dropped when an entry of that list is itself wrong (pydantic reports
    ``[bad-address]`` as both a bad entry and too short).
    """
    flagged = {(file, key) for file, key, _ in known}
    locs = [error["loc"] for error in errors]
    out = []
    for error in errors:
        loc = error["loc"]
        if error["type"] == "too_short" and any(o[: len(loc)] == loc != o for o in locs):
            continue
        file, key = origins.locate(loc)
        if (file, key) not in flagged:
            out.append((file, key, _message(error)))
    return out


def _message(error: dict) -> str:
    kind, ctx, got = error["type"], error.get("ctx") or {}, _show(error["input"])
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {got}"
    if kind == "extra_forbidden":
        return _unknown_key(error["loc"])
    if kind == "missing":
        return "missing required key"
    if kind == "value_error":
        return str(ctx["error"])
    if kind == "literal_error":
        return f"expected {ctx['expected']}, got {got}"
    bounds = {"greater_than_equal": ("at least", "ge"), "greater_than": ("more than", "gt"),
              "less_than_equal": ("at most", "le"), "less_than": ("less than", "lt")}  # fmt: skip
    if kind in bounds:
        words, key = bounds[kind]
        bound = ctx[key]
        bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        return f"must be {words} {bound}, got {got}"
    if kind == "too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else error["msg"]
    if kind in ("string_too_short", "string_pattern_mismatch"):
        return "must not be empty" if kind == "string_too_short" else f"not a valid value: {got}"
    return error["msg"][:1].lower() + error["msg"][1:]


def _unknown_key(loc: tuple) -> str:
    message = f"unknown key {loc[-1]!r}"
    model = _model_at(loc[:-1])
    if model is not None and isinstance(loc[-1], str):
        close = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1, cutoff=0.7)
        if close:
            message += f" (did you mean {close[0]!r}?)"
    return message


def _model_at(loc: tuple) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model else None
        model = _inner_model(field.annotation) if field else None
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found:
            return found
    return None


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
