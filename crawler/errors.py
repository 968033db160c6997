"""The exceptions beatwatch raises; the CLI turns each into a message and an exit status.

BeatwatchError
├── ConfigError            the configuration is invalid (file, key path, problem)
├── QuerySyntaxError       a query could not be parsed (position of the problem)
├── StoreUnavailable       the index cannot be reached right now
└── DeliveryError          an alert email could not be delivered (transient: retry later)
    └── PermanentDeliveryError   the server refused it for good (5xx): park it, tell ops
"""

from __future__ import annotations


class BeatwatchError(Exception):
    """Base of every error beatwatch raises on purpose."""


class ConfigError(BeatwatchError):
    """The configuration is invalid; ``problems`` lists ``(file, key_path, message)``."""

    def __init__(self, problems: list[tuple[str, str, str]]):
        self.problems = problems
        super().__init__("\n".join(": ".join(p for p in problem if p) for problem in problems))


class QuerySyntaxError(BeatwatchError):
    """A query could not be parsed; ``position`` is the 1-based column of the problem."""

    def __init__(self, message: str, query: str, position: int | None = None):
        self.message = message
        self.query = query
        self.position = position
        where = f" at column {position}" if position is not None else ""
        super().__init__(f"{message}{where}")


class StoreUnavailable(BeatwatchError):
    """The index backend cannot be reached; writes are spooled and replayed later."""


class DeliveryError(BeatwatchError):
    """An alert message could not be delivered now; it stays queued for a later attempt."""


class PermanentDeliveryError(DeliveryError):
    """The mail server refused the message for good; it is parked and reported, not retried."""
