"""The configuration: one declared schema, loaded and validated once at start.

``load_config(path)`` reads YAML, expands ``${VAR}`` / ``${VAR:-default}`` from the environment,
appends the ``sources`` and ``alerts.rules`` of any ``include:`` files, and validates everything
into frozen models. Every problem is collected and raised together as one ``ConfigError`` listing
``(file, key_path, message)``: ``("config/beatwatch.yaml", "sources[3].feeds[0]", "not a URL")``.
Each key has exactly one default, in the model (``crawler.config.schema``) that declares it.
"""

from crawler.config.fields import cron_trigger, format_duration
from crawler.config.loader import DEFAULT_CONFIG_PATH, default_config_path, load_config
from crawler.config.schema import Settings, Source

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "Settings",
    "Source",
    "cron_trigger",
    "default_config_path",
    "format_duration",
    "load_config",
]
