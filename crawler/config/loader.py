"""Loading the configuration: YAML, ``${VAR}`` expansion, ``include:`` files, and every
problem reported as ``(file, key_path, message)``."""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ValidationError

from crawler.config.fields import show
from crawler.config.schema import DEFAULT_TIMEZONE, Settings
from crawler.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("config/beatwatch.yaml")


def default_config_path() -> Path:
    """``$BEATWATCH_CONFIG`` if set, else ``config/beatwatch.yaml`` in the current directory."""
    return Path(os.environ.get("BEATWATCH_CONFIG") or DEFAULT_CONFIG_PATH)


def load_config(path: str | Path) -> Settings:
    """Read, expand and validate the configuration at ``path``; ConfigError lists every problem."""
    path = Path(path)
    problems: list[tuple[str, str, str]] = []
    data = _read_file(path, problems)
    if data is None:
        raise ConfigError(problems)
    origins = _Origins(str(path), data)
    _merge_includes(path, data, origins, problems)
    problems.extend(_duplicate_names(data, origins))
    context = {"tz": _zone_or_utc(data.get("timezone"))}
    try:
        settings = Settings.model_validate(data, context=context)
    except ValidationError as exc:
        problems.extend(_translate(exc.errors(), origins, problems))
    if problems:
        raise ConfigError(problems)
    settings._path = path
    return settings


class _Loader(yaml.SafeLoader):
    """safe_load that refuses a key given twice in one mapping (the second would silently win)."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, list | dict):
            continue  # construct_mapping reports unhashable keys
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_file(path: Path, problems: list) -> dict | None:
    """The file's top-level mapping, ``${VAR}`` expanded; None (and a problem) if unusable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append((str(path), "", "file not found"))
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.append((str(path), "", f"cannot read the file: {getattr(exc, 'strerror', exc)}"))
        return None
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problems.append((str(path), "", f"YAML syntax error{where}: {exc.problem or exc}"))
        return None
    except yaml.YAMLError as exc:
        problems.append((str(path), "", f"YAML syntax error: {exc}"))
        return None
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.append((str(path), "", f"expected a mapping at the top, got {show(data)}"))
        return None
    return _expand(data, str(path), (), problems)


_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand(value: Any, file: str, loc: tuple, problems: list) -> Any:
    """``value`` with ``${VAR}`` and ``${VAR:-default}`` in strings replaced; ``$$`` is ``$``."""
    if isinstance(value, dict):
        return {k: _expand(v, file, (*loc, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, file, (*loc, i), problems) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value
    missing: list[str] = []

    def substitute(match: re.Match) -> str:
        name, default = match.groups()
        if match.group(0) == "$$":
            return "$"
        if default is not None:
            return os.environ.get(name) or default
        if name not in os.environ:
            missing.append(name)
            return match.group(0)
        return os.environ[name]

    expanded = _VARIABLE.sub(substitute, value)
    for name in missing:
        message = f"environment variable {name} is not set (${{{name}:-}} would default to empty)"
        problems.append((file, _key_path(loc), message))
    if not missing and "${" in _VARIABLE.sub("", value):
        message = "malformed variable: write ${NAME} or ${NAME:-default}"
        problems.append((file, _key_path(loc), message))
    return expanded


class _Origins:
    """Which file (and which index in it) each merged source and rule came from."""

    def __init__(self, main: str, data: dict):
        self.main = main
        self.sources = _entries(main, data.get("sources"))
        alerts = data.get("alerts")
        self.rules = _entries(main, alerts.get("rules") if isinstance(alerts, dict) else None)

    def locate(self, loc: tuple) -> tuple[str, str]:
        """The file and the key path, in that file, of a location in the merged data."""
        parts = list(loc)
        file = self.main
        if parts[:1] == ["sources"] and len(parts) > 1:
            file, parts[1] = _origin(self.sources, parts[1], file)
        elif parts[:2] == ["alerts", "rules"] and len(parts) > 2:
            file, parts[2] = _origin(self.rules, parts[2], file)
        return file, _key_path(parts)


def _origin(entries: list[tuple[str, int]], index: Any, file: str) -> tuple[str, Any]:
    in_range = isinstance(index, int) and index < len(entries)
    return entries[index] if in_range else (file, index)


def _entries(file: str, items: Any) -> list[tuple[str, int]]:
    return [(file, i) for i in range(len(items))] if isinstance(items, list) else []


def _merge_includes(path: Path, data: dict, origins: _Origins, problems: list) -> None:
    """Append the sources and rules of the files named by ``include:`` (relative to ``path``)."""
    includes = data.pop("include", None)
    if includes is None:
        return
    if not isinstance(includes, list):
        got = show(includes)
        problems.append((str(path), "include", f"expected a list of file names, got {got}"))
        return
    for i, name in enumerate(includes):
        if not isinstance(name, str) or not name:
            message = f"expected a file name, got {show(name)}"
            problems.append((str(path), f"include[{i}]", message))
            continue
        included = path.parent / name
        part = _read_file(included, problems)
        if part is not None:
            _merge_one(str(included), part, data, origins, problems)


def _merge_one(file: str, part: dict, data: dict, origins: _Origins, problems: list) -> None:
    alerts = part.get("alerts", {})
    if not isinstance(alerts, dict):
        problems.append((file, "alerts", f"expected a mapping, got {show(alerts)}"))
        alerts = {}
    stray = [str(k) for k in part if k not in ("sources", "alerts")]
    stray += [f"alerts.{k}" for k in alerts if k != "rules"]
    for key in stray:
        problems.append((file, key, "not allowed in an included file (only sources, alerts.rules)"))
    if "sources" in part:
        _append(file, part["sources"], "sources", data, origins.sources, problems)
    if "rules" in alerts:
        target = data.setdefault("alerts", {})
        if isinstance(target, dict):
            _append(file, alerts["rules"], "alerts.rules", target, origins.rules, problems, "rules")


def _append(file, items, key_path, target, origin, problems, key=None) -> None:
    key = key or key_path
    if items is None:
        return
    if not isinstance(items, list):
        problems.append((file, key_path, f"expected a list, got {show(items)}"))
        return
    existing = target.setdefault(key, [])
    if not isinstance(existing, list):
        return  # the main file's own value is reported as not a list
    existing.extend(items)
    origin.extend((file, i) for i in range(len(items)))


def _duplicate_names(data: dict, origins: _Origins) -> list[tuple[str, str, str]]:
    alerts = data.get("alerts")
    rules = alerts.get("rules") if isinstance(alerts, dict) else None
    found = _duplicates(data.get("sources"), ("sources",), "source", origins)
    return found + _duplicates(rules, ("alerts", "rules"), "rule", origins)


def _duplicates(items: Any, loc: tuple, kind: str, origins: _Origins) -> list:
    first: dict[str, tuple[str, str]] = {}
    found = []
    for i, item in enumerate(items if isinstance(items, list) else []):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            continue
        file, key = origins.locate((*loc, i, "name"))
        if name in first:
            other_file, other_key = first[name]
            where = other_key if other_file == file else f"{other_key} in {other_file}"
            found.append((file, key, f"duplicate {kind} name {name!r} (also {where})"))
        else:
            first[name] = (file, key.removesuffix(".name"))
    return found


def _zone_or_utc(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(name) if isinstance(name, str) else ZoneInfo(DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _key_path(loc: Any) -> str:
    """``('sources', 3, 'feeds', 0)`` -> ``sources[3].feeds[0]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# -- pydantic errors as short human messages

_EXPECTED = {
    "float_parsing": "a number", "float_type": "a number", "int_parsing": "a whole number",
    "int_type": "a whole number", "int_from_float": "a whole number",
    "bool_parsing": "true or false", "bool_type": "true or false",
    "string_type": "text", "list_type": "a list", "tuple_type": "a list",
    "model_type": "a mapping", "model_attributes_type": "a mapping", "dict_type": "a mapping",
}  # fmt: skip


def _translate(errors: list, origins: _Origins, known: list) -> list[tuple[str, str, str]]:
    """Pydantic errors as problems, less those already reported at the same place.

    An empty-list error is dropped when an entry of that list is itself wrong (pydantic reports
    ``[bad-address]`` as both a bad entry and too short).
    """
    flagged = {(file, key) for file, key, _ in known}
    locs = [error["loc"] for error in errors]
    out = []
    for error in errors:
        loc = error["loc"]
        if error["type"] == "too_short" and any(o[: len(loc)] == loc != o for o in locs):
            continue
        file, key = origins.locate(loc)
        if (file, key) not in flagged:
            out.append((file, key, _message(error)))
    return out


def _message(error: dict) -> str:
    kind, ctx, got = error["type"], error.get("ctx") or {}, show(error["input"])
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {got}"
    if kind == "extra_forbidden":
        return _unknown_key(error["loc"])
    if kind == "missing":
        return "missing required key"
    if kind == "value_error":
        return str(ctx["error"])
    if kind == "literal_error":
        return f"expected {ctx['expected']}, got {got}"
    bounds = {"greater_than_equal": ("at least", "ge"), "greater_than": ("more than", "gt"),
              "less_than_equal": ("at most", "le"), "less_than": ("less than", "lt")}  # fmt: skip
    if kind in bounds:
        words, key = bounds[kind]
        bound = ctx[key]
        bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        return f"must be {words} {bound}, got {got}"
    if kind == "too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else error["msg"]
    if kind in ("string_too_short", "string_pattern_mismatch"):
        return "must not be empty" if kind == "string_too_short" else f"not a valid value: {got}"
    return error["msg"][:1].lower() + error["msg"][1:]


def _unknown_key(loc: tuple) -> str:
    message = f"unknown key {loc[-1]!r}"
    model = _model_at(loc[:-1])
    if model is not None and isinstance(loc[-1], str):
        close = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1, cutoff=0.7)
        if close:
            message += f" (did you mean {close[0]!r}?)"
    return message


def _model_at(loc: tuple) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model else None
        model = _inner_model(field.annotation) if field else None
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found:
            return found
    return None
