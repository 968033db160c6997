"""Configuration values: the checks each kind of value passes, durations, cron expressions.

Each check returns the (normalised) value or raises ValueError with the message the user sees;
the annotated types (``URL``, ``Cron``, ``Duration`` ...) attach them to the schema's fields.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from email.utils import parseaddr
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo

from crawler.errors import QuerySyntaxError

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


def check_sender(value: str) -> str:
    _name, addr = parseaddr(value)
    if not _EMAIL.fullmatch(addr) or value.count("@") != 1:
        raise ValueError("not an email address (write 'Name <addr@example.org>' or an address)")
    return value


def check_host(value: str) -> str:
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


def check_timezone(value: str) -> str:
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
        raise ValueError(f"expected a duration like 3d or 12h, got {show(value)}") from None
    if delta <= timedelta(0):
        raise ValueError(f"must be longer than 0, got {show(value)}")
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


def blank_to_none(value: Any) -> Any:
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
Host = Annotated[str, AfterValidator(check_host)]
Language = Annotated[str, AfterValidator(_check_language)]
Cron = Annotated[str, AfterValidator(_check_cron)]
Query = Annotated[str, AfterValidator(_check_query)]
Regex = Annotated[str, AfterValidator(_check_regex)]
Duration = Annotated[timedelta, BeforeValidator(_parse_duration)]
CssOrXpath = Annotated[str, AfterValidator(_check_selector)]
Secret = Annotated[str | None, BeforeValidator(blank_to_none), Field(repr=False)]


def show(value: Any) -> str:
    """A value as an error message quotes it: its kind for containers, else a short repr."""
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
