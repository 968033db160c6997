"""``beatwatch index ...``: move the index between stores, rebuild it, replay the spool."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from crawler.cliutil import emit, errors_to_exit, load
from crawler.progress import TaskProgress


@click.group("index")
def index_group() -> None:
    """The Elasticsearch index: migrate, rebuild, replay the spool."""


@contextmanager
def _elastic(ctx: click.Context) -> Iterator[Any]:
    """An ElasticStore over the configured database and ``store.elasticsearch`` cluster
    (whatever ``store.backend`` says: migrating is how a backend is changed)."""
    from crawler import db
    from indexer.elastic import ElasticStore

    settings = load(ctx)
    conn = db.connect(settings.store.path)
    store = ElasticStore.from_settings(settings.store.elasticsearch, conn)
    try:
        yield store
    finally:
        store.close()
        conn.close()


def _with_progress(label: str, work: Callable[[TaskProgress], Any]) -> Any:
    bar = TaskProgress(label)
    try:
        return work(bar)
    finally:
        bar.close()


@index_group.command("migrate")
@click.option(
    "--to",
    "target",
    required=True,
    type=click.Choice(["elasticsearch", "sqlite"]),
    help="Where the articles go.",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was copied as JSON.")
@click.pass_context
@errors_to_exit
def migrate(ctx: click.Context, target: str, as_json: bool) -> None:
    """Copy the index into Elasticsearch (or back into SQLite); resumable.

    Then set store.backend to the target. Example: beatwatch index migrate --to elasticsearch
    """
    from indexer import migrate as moving

    with _elastic(ctx) as store:
        move = moving.to_elasticsearch if target == "elasticsearch" else moving.to_sqlite
        result = _with_progress(f"migrate to {target}", lambda bar: move(store, bar))
        backlog = store.backlog().to_json()
    if as_json:
        emit({"to": target, **result, "spool": backlog})
    else:
        counts = {k: v for k, v in result.items() if k != "error"}
        click.echo(f"migrated to {target}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        if backlog["rejected"]:
            click.echo(f"{backlog['rejected']} documents refused: see `beatwatch status`")
    if result.get("deferred"):
        raise click.ClickException(
            f"{result['deferred']} articles could not be indexed now; run the command again"
            " to resume"
        )


@index_group.command("rebuild")
@click.option("--keep-old", is_flag=True, help="Keep the previous index instead of deleting it.")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@click.pass_context
@errors_to_exit
def rebuild(ctx: click.Context, keep_old: bool, as_json: bool) -> None:
    """Recreate the Elasticsearch index from the stored articles and switch the alias to it.

    Resumable. Example: beatwatch index rebuild
    """
    from indexer import migrate as moving

    with _elastic(ctx) as store:
        result = _with_progress(
            "rebuild", lambda bar: moving.rebuild(store, keep_old=keep_old, on_progress=bar)
        )
    if as_json:
        emit(result)
    else:
        click.echo(
            f"alias {store.alias} now on {result['new_index']} (was {result['old_index']}"
            f"{', deleted' if result['old_deleted'] else ', kept'}): {result['copied']} copied,"
            f" {result['rejected']} refused, {result['requeued']} queued again"
        )
    if result["rejected"]:
        raise click.ClickException(
            f"{result['rejected']} articles were refused by the new index (see `beatwatch"
            f" status`); {result['old_index']} was kept"
        )


@index_group.command("replay")
@click.option("--json", "as_json", is_flag=True, help="Print what was sent as JSON.")
@click.pass_context
@errors_to_exit
def replay(ctx: click.Context, as_json: bool) -> None:
    """Send what the spool holds to Elasticsearch now (a crawl and the scheduler also do).

    Exit 1 when the cluster cannot be reached. Example: beatwatch index replay
    """
    with _elastic(ctx) as store:
        report = store.sync(force=True)
        backlog = store.backlog().to_json()
    data = {**report.to_json(), "spool": backlog} if report else {"spool": backlog}
    if as_json:
        emit(data)
    else:
        click.echo(
            f"indexed {data.get('indexed', 0)}, already there {data.get('already', 0)},"
            f" refused {data.get('rejected', 0)}; spool: {backlog['pending']} pending,"
            f" {backlog['rejected']} refused"
        )
    if report and report.error:
        raise click.ClickException(report.error)
    if report and report.deferred:
        raise click.ClickException(
            f"{report.deferred} articles could not be indexed now; they stay in the spool"
        )
