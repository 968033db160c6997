"""The ``beatwatch`` command line: a thin layer over the library, one function per command."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import click

from crawler.cliutil import UsageError, emit, errors_to_exit, load, parse_date
from crawler.indexcmd import index_group


@click.group()
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Configuration file (default: $BEATWATCH_CONFIG, else config/beatwatch.yaml).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="beatwatch")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, verbose: int) -> None:
    """beatwatch: watch a news beat, index what it finds, email alerts on matches.

    Example: beatwatch --config config/beatwatch.yaml crawl --json
    """
    from crawler.logs import setup_logging

    setup_logging(verbose)
    ctx.ensure_object(dict)
    ctx.obj["config"] = config


@cli.command()
@click.option("--source", "sources", multiple=True, metavar="NAME", help="Only this source.")
@click.option("--since", help="Backfill: walk sitemaps and listing pages back to this date.")
@click.option("--until", help="Backfill: only articles published before this date.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.pass_context
@errors_to_exit
def crawl(
    ctx: click.Context,
    sources: tuple[str, ...],
    since: str | None,
    until: str | None,
    as_json: bool,
) -> None:
    """Crawl every enabled source once, index, match alerts, deliver, print a summary.

    With --since, backfill the named sources instead: their sitemaps and listing pagination
    back to that date. An interrupted backfill resumes where it stopped when run again.

    Example: beatwatch crawl --source khmer-times --since 2026-01-01 --json
    """
    from crawler.crawl import run_pass
    from crawler.report import format_crawl_report

    settings = load(ctx)
    for name in sources:
        settings.source(name)
    report = run_pass(settings, list(sources) or None, _backfill_window(since, until, sources))
    if as_json:
        emit(report.to_json())
    else:
        click.echo(format_crawl_report(report))
    broken = [s.source for s in report.sources if s.status == "error"]
    if broken:
        raise click.ClickException(f"the crawl of {', '.join(broken)} broke; see the log")


def _backfill_window(since: str | None, until: str | None, sources: tuple[str, ...]):
    from spiders.base import Window

    if since is None:
        if until is not None:
            raise UsageError("--until needs --since")
        return None
    if not sources:
        raise UsageError("a backfill needs --source NAME (one or more)")
    return Window(since=_instant(since), until=_instant(until, end_of_day=True))


def _instant(value: str | None, end_of_day: bool = False) -> datetime | None:
    """A --since/--until value as an aware datetime; a bare date means its whole day (UTC)."""
    parsed = parse_date(value)
    if parsed is None or isinstance(parsed, datetime):
        return parsed
    start = datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC)
    return start + timedelta(days=1) if end_of_day else start


@cli.command()
@click.pass_context
@errors_to_exit
def run(ctx: click.Context) -> None:
    """Run the scheduler in the foreground until SIGINT or SIGTERM.

    Example: beatwatch run
    """
    from crawler.scheduler import Scheduler

    settings = load(ctx)
    config_path = ctx.obj.get("config")
    Scheduler(settings, config_path=config_path).run_forever()


@cli.command()
@click.argument("query")
@click.option("--source", "sources", multiple=True, metavar="NAME", help="Only these sources.")
@click.option("--language", "languages", multiple=True, metavar="CODE", help="e.g. en, km.")
@click.option("--since", help="Published on or after (YYYY-MM-DD or ISO 8601).")
@click.option("--until", help="Published before (YYYY-MM-DD or ISO 8601).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--all-copies", is_flag=True, help="Every matching article, not one per story.")
@click.option(
    "--facets", is_flag=True, help="Also count matching articles by source, language and day."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
@errors_to_exit
def search(
    ctx: click.Context,
    query: str,
    sources: tuple[str, ...],
    languages: tuple[str, ...],
    since: str | None,
    until: str | None,
    limit: int,
    all_copies: bool,
    facets: bool,
    as_json: bool,
) -> None:
    """Search the index with the query language (see README).

    Example: beatwatch search '"military cooperation" AND source:khmer-times' --since 2026-01-01
    """
    from crawler.runtime import Runtime

    settings = load(ctx)
    runtime = Runtime.open(settings)
    try:
        result = runtime.store.search(
            query,
            sources=list(sources) or None,
            languages=list(languages) or None,
            since=parse_date(since),
            until=parse_date(until),
            limit=limit,
            all_copies=all_copies,
            facets=facets,
            tz=settings.timezone,
        )
        copies = (
            {}
            if as_json or all_copies
            else {h.story_id: runtime.store.copies(h.story_id) for h in result.hits}
        )
    finally:
        runtime.close()
    if as_json:
        emit(result.to_json())
        return
    click.echo(f"{result.total} {'articles' if all_copies else 'stories'}")
    for hit in result.hits:
        when = hit.published_at.isoformat() if hit.published_at else "undated"
        click.echo(f"\n{click.style(hit.title or '(untitled)', bold=True)}")
        click.echo(f"  {hit.source} · {when} · score {hit.score:.2f} · story {hit.story_id}")
        click.echo(f"  {hit.url}")
        others = sorted({c.source for c in copies.get(hit.story_id, [])} - {hit.source})
        if others:
            click.echo(f"  also carried by: {', '.join(others)}")
        click.echo(f"  {_terminal_snippet(hit.snippet)}")
    if result.facets is not None:
        click.echo("")
        for name, counts in result.facets.to_json().items():
            click.echo(f"by {name}: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "-"))


def _terminal_snippet(snippet: str) -> str:
    marked = snippet.replace("<mark>", "\x00").replace("</mark>", "\x01")
    text = unescape(marked)
    if sys.stdout.isatty():
        return text.replace("\x00", "\033[1m").replace("\x01", "\033[0m")
    return text.replace("\x00", "[").replace("\x01", "]")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_context
@errors_to_exit
def status(ctx: click.Context, as_json: bool) -> None:
    """Per source: last run, last success, next run, error streak, articles in 24 h; outbox; index.

    Example: beatwatch status --json
    """
    from crawler.report import collect_status, format_status

    data = collect_status(load(ctx))
    if as_json:
        emit(data)
    else:
        click.echo(format_status(data))


@cli.group()
def alerts() -> None:
    """Alert rules: backtest them against the index."""


@alerts.command("test")
@click.argument("rule")
@click.option("--since", help="Only articles published on or after this date.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
@errors_to_exit
def alerts_test(
    ctx: click.Context, rule: str, since: str | None, limit: int, as_json: bool
) -> None:
    """Backtest RULE (a rule name, or a query) against the index; sends nothing.

    Example: beatwatch alerts test kem-sokha --since 2026-11-01
    """
    from crawler.report import backtest

    data = backtest(load(ctx), rule, since=parse_date(since), limit=limit)
    if as_json:
        emit(data)
        return
    click.echo(f"rule {data['rule']}: {data['query']}")
    click.echo(f"{data['total']} stories would match")
    for hit in data["hits"]:
        flag = " (already alerted)" if hit["alerted"] else ""
        click.echo(f"- {hit['title']} [{hit['source']}]{flag}\n  {hit['url']}")


@alerts.command("deliver")
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Send every queued message now, ignoring the retry backoff.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the delivery report as JSON.")
@click.pass_context
@errors_to_exit
def alerts_deliver(ctx: click.Context, everything: bool, as_json: bool) -> None:
    """Queue new immediate hits and deliver due messages (all of them with --all).

    Example: beatwatch alerts deliver --all
    """
    from crawler.crawl import deliver_alerts
    from crawler.runtime import Runtime

    runtime = Runtime.open(load(ctx))
    try:
        report = deliver_alerts(runtime, ignore_backoff=everything)
    finally:
        runtime.close()
    if as_json:
        emit(report)
    else:
        click.echo(", ".join(f"{k} {v}" for k, v in report.items()))


@cli.command("story")
@click.argument("story_id")
@click.option("--json", "as_json", is_flag=True, help="Print the story as JSON.")
@click.pass_context
@errors_to_exit
def story_command(ctx: click.Context, story_id: str, as_json: bool) -> None:
    """Show a story: every outlet's copy and the timeline of publications and edits.

    Example: beatwatch story 9f2c4e...
    """
    from crawler.history import format_story, story
    from crawler.runtime import Runtime

    runtime = Runtime.open(load(ctx))
    try:
        data = story(runtime.store, story_id)
    finally:
        runtime.close()
    click.echo(json.dumps(data, ensure_ascii=False, indent=2) if as_json else format_story(data))


@cli.command("article")
@click.argument("article_id")
@click.option("--revisions", is_flag=True, help="Show every revision and the diffs between them.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
@errors_to_exit
def article_command(ctx: click.Context, article_id: str, revisions: bool, as_json: bool) -> None:
    """Show an article's revisions; with --revisions, a readable diff between each pair.

    Example: beatwatch article 9f2c4e... --revisions
    """
    from crawler.history import article_history, format_history
    from crawler.runtime import Runtime

    runtime = Runtime.open(load(ctx))
    try:
        data = article_history(runtime.store, article_id)
    finally:
        runtime.close()
    if not revisions:
        data["diffs"] = []
    click.echo(json.dumps(data, ensure_ascii=False, indent=2) if as_json else format_history(data))


@cli.group()
def sources() -> None:
    """Sources: check the configured endpoints."""


@sources.command("probe")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.pass_context
@errors_to_exit
def sources_probe(ctx: click.Context, names: tuple[str, ...], as_json: bool) -> None:
    """Fetch each feed, sitemap and listing page once (disabled sources too) and report
    status, content type, item count and newest item date. Stores nothing.

    Example: beatwatch sources probe khmer-times cambodianess
    """
    from crawler.probe import format_probe, run_probe

    settings = load(ctx)
    for name in names:
        settings.source(name)
    results = run_probe(settings, list(names) or None)
    if as_json:
        emit([r.to_json() for r in results])
    else:
        click.echo(format_probe(results))


@cli.group("config")
def config_group() -> None:
    """Configuration: validate it."""


@config_group.command("check")
@click.pass_context
def config_check(ctx: click.Context) -> None:
    """Validate the configuration and print what it would do; exit 2 when invalid.

    Example: beatwatch --config config/beatwatch.yaml config check
    """
    settings = load(ctx)
    click.echo(settings.describe())
    click.echo("configuration OK")


cli.add_command(index_group)


def main() -> None:
    """Console-script entry point."""
    cli(obj={})
