"""Logging set-up: readable lines on a terminal, one JSON object per line otherwise."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import ClassVar

QUIET_LOGGERS = (
    "scrapy",
    "twisted",
    "protego",
    "trafilatura",
    "htmldate",
    "courlan",
    "filelock",
    "apscheduler",
)
#: Libraries whose warnings repeat what beatwatch reports itself (the Elasticsearch client logs
#: every retry with a traceback; the store logs the outcome once): errors only, unless -v.
RETRY_LOGGERS = ("elastic_transport", "elasticsearch")


class JsonFormatter(logging.Formatter):
    """Formats a record as a JSON object: time, level, logger, message, and any ``extra`` keys."""

    RESERVED: ClassVar[frozenset[str]] = frozenset(vars(logging.makeLogRecord({})))

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in self.RESERVED})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def setup_logging(verbose: int = 0, json_logs: bool | None = None) -> None:
    """Log to stderr: INFO for beatwatch (DEBUG with -vv), WARNING for libraries unless -v."""
    if json_logs is None:
        json_logs = not sys.stderr.isatty()
    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    handler.addFilter(_library_filter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose >= 2 else logging.INFO)
    global _library_level
    _library_level = logging.DEBUG if verbose >= 2 else logging.INFO if verbose else logging.WARNING
    quiet_libraries()


_library_level = logging.WARNING


def _retry_level() -> int:
    return logging.ERROR if _library_level == logging.WARNING else _library_level


def _library_filter(record: logging.LogRecord) -> bool:
    """Drop libraries' records below their level, even after a library reset its loggers."""
    if record.name.startswith(RETRY_LOGGERS):
        return record.levelno >= _retry_level()
    if record.levelno >= _library_level:
        return True
    return not record.name.startswith(QUIET_LOGGERS)


def quiet_libraries() -> None:
    """Set the chatty libraries' log level again (Scrapy resets it when a crawl starts)."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(_library_level)
    for name in RETRY_LOGGERS:
        logging.getLogger(name).setLevel(_retry_level())
