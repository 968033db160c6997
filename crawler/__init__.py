"""beatwatch: a scheduled media-monitoring crawler (domain model, config, pipeline, CLI)."""

__version__ = "0.1.0"
