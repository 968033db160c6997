"""The cluster side of the Elasticsearch store: the client, the alias and index, error text.

``client_from_settings`` builds the official client from ``store.elasticsearch``;
``ensure_index`` puts the index template and creates ``<alias>-000001`` behind the alias when
neither exists; ``describe`` turns a client exception into one line an operator can act on.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TlsError
from elasticsearch import ApiError, BadRequestError, Elasticsearch

from crawler.errors import BeatwatchError
from indexer import mapping

log = logging.getLogger(__name__)

_HTTP_REASONS = {
    401: "Unauthorized: check store.elasticsearch api_key, or username and password",
    403: "Forbidden: the user lacks a privilege on the index",
    404: "Not Found",
}


def client_from_settings(es: Any) -> Elasticsearch:
    """The official client for ``store.elasticsearch`` settings (credentials, TLS, timeout).

    One transport retry for reads; bulk writes do their own retrying, with backoff."""
    options: dict[str, Any] = {
        "request_timeout": es.timeout,
        "max_retries": 1,
        "retry_on_timeout": False,
        "retry_on_status": (),
        "verify_certs": es.verify_certs,
    }
    if es.ca_certs:
        options["ca_certs"] = es.ca_certs
    if es.api_key:
        options["api_key"] = es.api_key
    elif es.username:
        options["basic_auth"] = (es.username, es.password or "")
    return Elasticsearch(es.url, **options)


def alias_target(client: Elasticsearch, alias: str, url: str) -> str | None:
    """The index the alias writes to; None when neither the alias nor such an index exists."""
    if client.indices.exists_alias(name=alias):
        return sorted(client.indices.get_alias(name=alias).body)[-1]
    if client.indices.exists(index=alias):
        raise BeatwatchError(
            f"{url}: {alias!r} is an index, not an alias; beatwatch needs an alias (move the"
            " data with the reindex API, or choose another store.elasticsearch.index)"
        )
    return None


def ensure_index(client: Elasticsearch, alias: str, url: str, *, shards: int, replicas: int) -> str:
    """The concrete index behind ``alias``, created with the template first if missing."""
    current = alias_target(client, alias, url)
    if current is not None:
        _check_mapping(client, current)
        return current
    put_template(client, alias, shards=shards, replicas=replicas)
    first = f"{alias}-000001"
    try:
        client.indices.create(index=first, aliases={alias: {"is_write_index": True}})
        log.info("created index %s behind alias %s", first, alias)
    except BadRequestError as exc:
        if exc.error != "resource_already_exists_exception":  # another process was first
            raise
    return alias_target(client, alias, url) or first


def put_template(client: Elasticsearch, alias: str, *, shards: int, replicas: int) -> None:
    """Put (or update) the index template for ``<alias>-0*``; ICU when every node has it."""
    body = mapping.template(alias, icu=has_icu(client), shards=shards, replicas=replicas)
    client.indices.put_index_template(name=alias, **body)


def has_icu(client: Elasticsearch) -> bool:
    """True when every node has the analysis-icu plugin (the Khmer sub-fields use it)."""
    try:
        nodes = client.nodes.info(metric="plugins").body.get("nodes", {})
    except ApiError as exc:  # e.g. a user without the monitor privilege
        log.warning("cannot list plugins (%s); Khmer sub-fields use the standard analyzer", exc)
        return False
    names = [{p.get("name") for p in n.get("plugins", [])} for n in nodes.values()]
    return bool(names) and all("analysis-icu" in n for n in names)


def mapping_version(client: Elasticsearch, index: str) -> int | None:
    """The beatwatch mapping version an index was created with (None: unknown)."""
    body = client.indices.get_mapping(index=index).body
    meta = body.get(index, {}).get("mappings", {}).get("_meta", {})
    version = meta.get("beatwatch_mapping")
    return int(version) if version is not None else None


def _check_mapping(client: Elasticsearch, index: str) -> None:
    version = mapping_version(client, index)
    if not mapping.is_current(version):
        log.warning(
            "index %s has mapping version %s, this beatwatch writes %s: run `beatwatch index"
            " rebuild`",
            index,
            version,
            mapping.MAPPING_VERSION,
        )


def describe(exc: Exception) -> str:
    """What went wrong, in a line: the TLS or socket error, the timeout, the API's reason."""
    if isinstance(exc, TlsError):
        cause = exc.errors[0] if getattr(exc, "errors", None) else exc
        return f"TLS failed ({_innermost(str(cause))})"
    if isinstance(exc, ConnectionTimeout):
        return "no answer in time (a timeout)"
    if isinstance(exc, TransportConnectionError):
        cause = re.search(r"\[Errno -?\d+\] ([^)\]]+)", str(exc))
        return f"cannot connect ({cause.group(1) if cause else 'connection error'})"
    if isinstance(exc, ApiError):
        error = exc.info.get("error") if isinstance(exc.info, dict) else None
        if isinstance(error, dict):
            return f"{exc.status_code} {error.get('type')}: {error.get('reason')}"[:300]
        return f"{exc.status_code} {_HTTP_REASONS.get(exc.status_code, exc.error or '')}"
    text = str(exc)
    return text if len(text) < 300 else text[:297] + "..."


def _innermost(text: str) -> str:
    found = re.findall(r"\[SSL[^\]]*\] ([^(]+?)(?: \(|$)", text)
    return found[-1].strip() if found else text[:200]
