"""The README is the user's manual: every command, option and config key is in it, and its
configuration example is a valid configuration."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from pydantic import BaseModel

from crawler.cli import cli
from crawler.config import Settings, load_config

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "beatwatch") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found += commands(command, path)
        else:
            found.append((path, command))
    return found


COMMANDS = commands(cli)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_command_is_documented_with_its_options(path, command):
    assert f"`{path}" in README, f"{path} is not in the README"
    for param in command.params:
        if isinstance(param, click.Option) and param.name != "help":
            assert any(opt in README for opt in param.opts), f"{path} {param.opts} undocumented"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_command_help_has_an_example(path, command):
    assert "Example: beatwatch" in (command.help or "")


def keys(model: type[BaseModel]) -> set[str]:
    found = set()
    for name, info in model.model_fields.items():
        found.add(name)
        for candidate in (info.annotation, *getattr(info.annotation, "__args__", ())):
            inner = getattr(candidate, "__args__", (candidate,))
            for t in (candidate, *inner):
                if isinstance(t, type) and issubclass(t, BaseModel):
                    found |= keys(t)
    return found


@pytest.mark.parametrize("key", sorted(keys(Settings)))
def test_every_config_key_is_documented(key):
    assert re.search(rf"\b{key}:", README), f"config key {key!r} is not in the README"


def test_the_readme_configuration_example_is_valid(tmp_path):
    block = re.search(r"```yaml\n(timezone:.*?)```", README, re.S).group(1)
    (tmp_path / "beatwatch.yaml").write_text(block, encoding="utf-8")
    (tmp_path / "sources.yaml").write_text("sources: []\n", encoding="utf-8")
    (tmp_path / "rules.yaml").write_text("alerts:\n  rules: []\n", encoding="utf-8")
    settings = load_config(tmp_path / "beatwatch.yaml")
    assert settings.source("khmer-times").schedule == "*/15 * * * *"
    assert [r.name for r in settings.alerts.rules] == ["kem-sokha", "military-cooperation"]


def test_the_docker_stack_config_is_valid(monkeypatch):
    monkeypatch.setenv("ELASTIC_PASSWORD", "from-dot-env")
    settings = load_config(REPO / "config" / "docker.yaml")
    assert settings.alerts.delivery.smtp.host == "mailpit"
    assert settings.store.path == "/data/beatwatch.db"
    assert settings.store.backend == "elasticsearch"
    assert settings.store.elasticsearch.password == "from-dot-env"
    assert len(settings.sources) == len(load_config(REPO / "config" / "beatwatch.yaml").sources)
