"""Name a failed request's cause, and say whether fetching it again later could help."""

from __future__ import annotations

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.defer import CancelledError
from twisted.internet.error import ConnectError, DNSLookupError, TCPTimedOutError, TimeoutError
from twisted.python.failure import Failure

# 4xx answers are the page's final word (gone, bad request); 5xx, timeouts and dead hosts may
# heal. 403 is the exception: bot walls and rate limiters answer it and later let us through.
PERMANENT_STATUS = range(400, 500)
TRANSIENT_STATUS = {403, 408, 425, 429}


def classify_failure(failure: Failure) -> tuple[str, bool]:
    """Return ``(kind, permanent)``, e.g. ``("http_404", True)`` or ``("dead_host", False)``."""
    if failure.check(HttpError):
        status = failure.value.response.status
        permanent = status in PERMANENT_STATUS and status not in TRANSIENT_STATUS
        return f"http_{status}", permanent
    if failure.check(IgnoreRequest):
        message = failure.getErrorMessage().lower()
        if "robots" in message:
            return "robots", True
        if "redirect" in message:
            return "redirect_loop", True
        return "ignored", True
    if failure.check(CancelledError, DownloadCancelledError):
        return "too_large", True  # Scrapy cancels a download only past DOWNLOAD_MAXSIZE
    if failure.check(DNSLookupError, CannotResolveHostError):
        return "dead_host", False
    if failure.check(TimeoutError, TCPTimedOutError, DownloadTimeoutError):
        return "timeout", False
    if failure.check(ConnectError, DownloadConnectionRefusedError):
        return "dead_host", False
    if failure.check(DownloadFailedError, ResponseDataLossError):
        return "download_failed", False
    return failure.type.__name__ if failure.type else "error", False
