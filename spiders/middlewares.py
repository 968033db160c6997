"""Downloader middlewares: retries that back off and honour Retry-After; a robots.txt policy
that treats error answers as allow-all and honours Crawl-delay."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy import Request, signals
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.utils.asyncio import sleep
from scrapy.utils.httpobj import urlparse_cached

from spiders.politeness import SlotDelayFloors, response_date, retry_after_seconds

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.robotstxt import RobotParser
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

RETRY_AFTER_STATUS = frozenset({429, 503})
ROBOTS_ABSENT_STATUS = frozenset({404, 410})  # no robots.txt at all: routine, logged at INFO


class BackoffRetryMiddleware(RetryMiddleware):
    """Retry like ``RetryMiddleware``, waiting before each retry.

    A 429 or 503 with ``Retry-After`` (seconds or HTTP-date) waits what the host asked for, up
    to ``BEATWATCH_RETRY_AFTER_MAX`` seconds (default 120); a longer wait gives up for this run
    and passes the 429/503 on, so the spider records a transient failure. Otherwise retry n
    waits ``BEATWATCH_RETRY_BACKOFF * 2**(n-1)`` seconds (0 disables), capped by
    ``BEATWATCH_RETRY_BACKOFF_MAX``. The wait delays the retried request only; other requests
    to the host keep their slot's pace.
    """

    def __init__(self, settings: BaseSettings):
        super().__init__(settings)
        self.base = settings.getfloat("BEATWATCH_RETRY_BACKOFF", 1.0)
        self.cap = settings.getfloat("BEATWATCH_RETRY_BACKOFF_MAX", 60.0)
        self.retry_after_max = settings.getfloat("BEATWATCH_RETRY_AFTER_MAX", 120.0)
        self.sleep = sleep  # a seam for unit tests

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        """Retry a retryable response after the wait it calls for, or pass it on."""
        asked = self._retry_after(request, response)
        if asked is not None and asked > self.retry_after_max:
            self._give_up_too_long(request, response, asked)
            return response
        result = super().process_response(request, response)
        if isinstance(result, Request):
            if asked is None:
                await self._back_off(result)
            else:
                await self._honour_retry_after(result, response.status, asked)
        return result

    async def process_exception(self, request: Request, exception: Exception):
        """Retry a failed download after the exponential backoff."""
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            await self._back_off(result)
        return result

    def _retry_after(self, request: Request, response: Response) -> float | None:
        if (
            response.status not in RETRY_AFTER_STATUS
            or response.status not in self.retry_http_codes
            or request.meta.get("dont_retry", False)
        ):
            return None
        header = response.headers.get(b"Retry-After")
        return retry_after_seconds(header, now=response_date(response))

    def _give_up_too_long(self, request: Request, response: Response, asked: float) -> None:
        self.crawler.stats.inc_value("beatwatch/retry_after/too_long")
        logger.warning(
            "Not retrying %(url)s this run: HTTP %(status)d asks to retry after %(asked).0fs, "
            "more than BEATWATCH_RETRY_AFTER_MAX (%(max).0fs)",
            {
                "url": request.url,
                "status": response.status,
                "asked": asked,
                "max": self.retry_after_max,
            },
        )

    async def _honour_retry_after(self, retry: Request, status: int, delay: float) -> None:
        self.crawler.stats.inc_value("beatwatch/retry_after/honoured")
        logger.info(
            "Retry-After: waiting %(delay).1fs before retry %(n)d of %(url)s (HTTP %(status)d)",
            {
                "delay": delay,
                "n": retry.meta.get("retry_times", 1),
                "url": retry.url,
                "status": status,
            },
        )
        if delay > 0:
            await self.sleep(delay)

    async def _back_off(self, retry: Request) -> None:
        attempt = retry.meta.get("retry_times", 1)
        delay = min(self.cap, self.base * 2 ** (attempt - 1))
        if delay > 0:
            logger.debug(
                "Backing off %(delay).1fs before retry %(n)d of %(url)s",
                {"delay": delay, "n": attempt, "url": retry.url},
            )
            await self.sleep(delay)


class RobotsPolicyMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware (one robots.txt per host, cached), with two policies.

    - A robots.txt answered with 4xx or 5xx (after retries) means allow-all, as the major
      crawlers do for 4xx; the error page's body is never read as rules. Logged once per host
      (WARNING; INFO for 404/410, which just mean there is none) and counted in
      ``beatwatch/robots/allow_all/<status>``.
    - ``Crawl-delay`` for our user agent becomes a floor on the host's download slot delay,
      capped by ``BEATWATCH_CRAWL_DELAY_MAX`` (default 30 s). AutoThrottle keeps the floor when
      it is ``spiders.politeness.CrawlDelayAutoThrottle``.
    """

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self.crawl_delay_max = crawler.settings.getfloat("BEATWATCH_CRAWL_DELAY_MAX", 30.0)
        self._crawl_delays: dict[str, float] = {}
        self._floors = SlotDelayFloors.of(crawler)
        crawler.signals.connect(self._robots_parsed, signal=signals.robots_parsed)

    async def process_request(self, request: Request) -> None:
        """Drop what robots.txt forbids; hold the request's slot to the host's Crawl-delay."""
        await super().process_request(request)
        delay = self._crawl_delays.get(urlparse_cached(request).netloc)
        if delay:
            downloader = self.crawler.engine.downloader
            key = downloader.get_slot_key(request)
            self._floors.raise_to(key, delay)
            self._floors.enforce(downloader, key)

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        # Scrapy parses whatever body came back; an error page is not a rule set.
        if response.status >= 400:
            self._note_allow_all(netloc, response.status)
            response = response.replace(body=b"")
        await super()._parse_robots(response, netloc, request)

    def _note_allow_all(self, netloc: str, status: int) -> None:
        self._stats.inc_value(f"beatwatch/robots/allow_all/{status}")
        level = logging.INFO if status in ROBOTS_ABSENT_STATUS else logging.WARNING
        logger.log(
            level,
            "robots.txt of %(host)s answered HTTP %(status)d: crawling it as allow-all",
            {"host": netloc, "status": status},
        )

    def _robots_parsed(self, robotparser: RobotParser, request: Request) -> None:
        netloc = urlparse_cached(request).netloc
        asked = robotparser.crawl_delay(self._useragent(request))
        if not asked or asked <= 0:
            return
        delay = min(asked, self.crawl_delay_max)
        self._crawl_delays[netloc] = delay
        self._stats.inc_value("beatwatch/robots/crawl_delay/hosts")
        if delay < asked:
            self._stats.inc_value("beatwatch/robots/crawl_delay/capped")
        logger.info(
            "robots.txt of %(host)s sets Crawl-delay %(asked)gs: waiting %(delay)gs between "
            "requests%(capped)s",
            {
                "host": netloc,
                "asked": asked,
                "delay": delay,
                "capped": " (BEATWATCH_CRAWL_DELAY_MAX)" if delay < asked else "",
            },
        )

    def _useragent(self, request: Request) -> str | bytes:
        """The user agent robots.txt rules are read for, as Scrapy's own check chooses it."""
        return (
            self._robotstxt_useragent
            or request.headers.get(b"User-Agent")
            or self._default_useragent
        )
