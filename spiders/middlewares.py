"""Downloader middleware: Scrapy's retries, with exponential backoff between attempts."""

from __future__ import annotations

import asyncio
import logging

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response

logger = logging.getLogger(__name__)


class BackoffRetryMiddleware(RetryMiddleware):
    """Retry like ``RetryMiddleware``, waiting ``base * 2**(n-1)`` seconds before retry n.

    The wait holds the request's download slot, so a host that answered 5xx or timed out gets
    no other request from us while it recovers. ``BEATWATCH_RETRY_BACKOFF`` sets the base
    (seconds; 0 disables the wait) and ``BEATWATCH_RETRY_BACKOFF_MAX`` caps one wait.
    """

    def __init__(self, settings):
        super().__init__(settings)
        self.base = settings.getfloat("BEATWATCH_RETRY_BACKOFF", 1.0)
        self.cap = settings.getfloat("BEATWATCH_RETRY_BACKOFF_MAX", 60.0)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        result = super().process_response(request, response)
        if isinstance(result, Request):
            await self._wait(result)
        return result

    async def process_exception(self, request: Request, exception: Exception):
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            await self._wait(result)
        return result

    async def _wait(self, retry: Request) -> None:
        attempt = retry.meta.get("retry_times", 1)
        delay = min(self.cap, self.base * 2 ** (attempt - 1))
        if delay > 0:
            logger.debug(
                "Backing off %(delay).1fs before retry %(n)d of %(url)s",
                {"delay": delay, "n": attempt, "url": retry.url},
            )
            await asyncio.sleep(delay)
