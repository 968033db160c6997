"""What every ``beatwatch`` command shares: loading the config, errors as exit codes, JSON."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import click

from crawler.errors import BeatwatchError, ConfigError, QuerySyntaxError


class UsageError(click.ClickException):
    """A bad config or query: printed as ``Error: ...`` with exit status 2."""

    exit_code = 2


def load(ctx: click.Context) -> Any:
    """The validated settings of the ``--config`` file (or the default); exit 2 if invalid."""
    from crawler.config import default_config_path, load_config

    path = ctx.obj.get("config") or default_config_path()
    try:
        return load_config(path)
    except ConfigError as exc:
        raise UsageError(f"invalid configuration\n{exc}") from exc


def errors_to_exit(fn: Callable) -> Callable:
    """Wrap a command: query and config errors exit 2, other beatwatch errors exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except QuerySyntaxError as exc:
            raise UsageError(f"query syntax: {exc}") from exc
        except ConfigError as exc:
            raise UsageError(f"invalid configuration\n{exc}") from exc
        except BeatwatchError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


def emit(data: Any) -> None:
    """Print ``data`` as indented JSON (datetimes as strings)."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def parse_date(value: str | None) -> date | datetime | None:
    """A bare ``YYYY-MM-DD`` stays a date (a whole day, as in queries); else an aware datetime."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(f"not a date: {value!r} (use YYYY-MM-DD or ISO 8601)") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
