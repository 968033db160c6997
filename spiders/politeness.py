"""Politeness helpers: ``Retry-After`` parsing and per-slot delay floors from robots.txt.

A host's ``Crawl-delay`` becomes a floor on its download slot's delay. Scrapy's downloader and
AutoThrottle know nothing of floors, so :class:`SlotDelayFloors` keeps them, one registry per
crawler, and re-applies them where the slot delay is set: when a slot is created (through the
downloader's per-slot settings), before each request (the robots middleware) and after each
AutoThrottle adjustment (:class:`CrawlDelayAutoThrottle`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar
from weakref import WeakKeyDictionary

from scrapy.extensions.throttle import AutoThrottle

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.core.downloader import Downloader
    from scrapy.crawler import Crawler
    from scrapy.http import Response


def retry_after_seconds(value: str | bytes | None, *, now: datetime) -> float | None:
    """Seconds to wait that a ``Retry-After`` value asks for; None when absent or unreadable.

    Both forms of RFC 9110 are read: delta-seconds (``120``) and an HTTP-date, counted from
    ``now`` (aware) and never negative: a date in the past means "retry now".
    """
    if value is None:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        return _seconds_until(text, now)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def _seconds_until(http_date: str, now: datetime) -> float | None:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, origin unknown
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def response_date(response: Response) -> datetime:
    """The response's own ``Date`` (so a skewed local clock does not stretch a Retry-After
    date), else the local clock."""
    header = response.headers.get(b"Date")
    if header:
        try:
            when = parsedate_to_datetime(header.decode("latin-1"))
        except (TypeError, ValueError, IndexError):
            pass
        else:
            return when if when.tzinfo else when.replace(tzinfo=UTC)
    return datetime.now(UTC)


class SlotDelayFloors:
    """Minimum delay (seconds) per download slot key, shared by the middlewares and AutoThrottle.

    Download slots are not extensible objects (Scrapy declares them with ``__slots__``) and
    are garbage-collected when idle, so the floors live here, keyed like
    ``Downloader.slots``.
    """

    _registry: ClassVar[WeakKeyDictionary[Crawler, SlotDelayFloors]] = WeakKeyDictionary()

    def __init__(self) -> None:
        self._floors: dict[str, float] = {}

    @classmethod
    def of(cls, crawler: Crawler) -> SlotDelayFloors:
        """The floors of this crawler (created on first use)."""
        floors = cls._registry.get(crawler)
        if floors is None:
            floors = cls._registry[crawler] = cls()
        return floors

    def get(self, key: str) -> float:
        """The floor of slot ``key``, 0 when it has none."""
        return self._floors.get(key, 0.0)

    def raise_to(self, key: str, delay: float) -> None:
        """Make ``delay`` the floor of slot ``key`` unless it already has a higher one."""
        self._floors[key] = max(self.get(key), delay)

    def enforce(self, downloader: Downloader, key: str) -> None:
        """Lift slot ``key`` to its floor, now if it exists and whenever it is (re)created."""
        floor = self.get(key)
        if not floor:
            return
        slot = downloader.slots.get(key)
        if slot is not None and slot.delay < floor:
            slot.delay = floor
        per_slot = downloader.per_slot_settings
        configured = per_slot.get(key, {})
        # A new slot's delay is the per-slot "delay" if set, else the downloader default
        # (which AutoThrottle sets to its start delay): keep the larger of that and the floor.
        default = configured.get("delay", getattr(downloader, "_delay", 0.0))
        if float(default) < floor:
            per_slot[key] = {**configured, "delay": floor}


class CrawlDelayAutoThrottle(AutoThrottle):
    """AutoThrottle that never lowers a slot's delay below its robots.txt ``Crawl-delay``.

    Use it instead of ``scrapy.extensions.throttle.AutoThrottle`` (same settings).
    """

    def _response_downloaded(self, response: Response, request: Request, spider: Spider) -> None:
        super()._response_downloaded(response, request, spider)
        key: Any = request.meta.get("download_slot")
        if key is not None:
            SlotDelayFloors.of(self.crawler).enforce(self.crawler.engine.downloader, key)
