"""Scrapy settings for beatwatch crawls, built from the validated ``crawl:`` configuration."""

from __future__ import annotations

from typing import Any

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "spiders.middlewares.RobotsPolicyMiddleware": 100,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "spiders.middlewares.BackoffRetryMiddleware": 550,
}
EXTENSIONS = {
    "scrapy.extensions.throttle.AutoThrottle": None,
    "spiders.politeness.CrawlDelayAutoThrottle": 0,
}


def scrapy_settings(crawl: Any) -> dict[str, Any]:
    """Map the ``crawl:`` section (user agent, robots, delay, timeouts, retries, caps) to Scrapy."""
    return {
        "BOT_NAME": "beatwatch",
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": crawl.obey_robots,
        "ROBOTSTXT_USER_AGENT": crawl.user_agent,
        "DOWNLOAD_DELAY": crawl.download_delay,
        "DOWNLOAD_DELAY_JITTER": 0.5,
        "DOWNLOAD_TIMEOUT": crawl.timeout,
        "RETRY_TIMES": crawl.retries,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
        "BEATWATCH_RETRY_BACKOFF": crawl.retry_backoff,
        "CONCURRENT_REQUESTS": 16,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrency_per_host,
        "DOWNLOAD_MAXSIZE": crawl.max_page_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "REDIRECT_MAX_TIMES": 10,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "DOWNLOADER_MIDDLEWARES": DOWNLOADER_MIDDLEWARES,
        "EXTENSIONS": EXTENSIONS,
        "AUTOTHROTTLE_ENABLED": crawl.autothrottle,
        "AUTOTHROTTLE_START_DELAY": crawl.download_delay,
        "AUTOTHROTTLE_MAX_DELAY": 60.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(crawl.concurrency_per_host),
        "BEATWATCH_RETRY_BACKOFF_MAX": 60.0,
        "BEATWATCH_RETRY_AFTER_MAX": crawl.retry_after_max,
        "BEATWATCH_CRAWL_DELAY_MAX": crawl.crawl_delay_max,
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
    }
