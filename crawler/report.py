"""What the read-only commands show: crawl summaries, ``status`` and rule backtests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alerts import ledger, outbox
from crawler.crawl import SUMMARY_KEYS, CrawlReport
from crawler.runtime import Runtime, utcnow


def format_crawl_report(report: CrawlReport) -> str:
    """A table of the per-source counters, then the alert delivery line (and the index's)."""
    width = max([len(s.source) for s in report.sources] + [6])
    header = f"{'source':<{width}}  {'status':<11} " + " ".join(f"{k:>12}" for k in SUMMARY_KEYS)
    lines = [header]
    for s in report.sources:
        counts = " ".join(f"{s.counts[k]:>12}" for k in SUMMARY_KEYS)
        lines.append(f"{s.source:<{width}}  {s.status:<11} {counts}")
    a = report.alerts
    lines.append(
        f"alerts: {a['queued']} messages queued, {a['sent']} sent, "
        f"{a['retried']} waiting to retry, {a['parked']} refused"
    )
    if report.index is not None:
        lines.append(_format_index_sync(report.index))
    return "\n".join(lines)


def _format_index_sync(index: dict) -> str:
    line = (
        f"index: {index['indexed']} sent to Elasticsearch, {index['rejected']} refused,"
        f" {index['backlog']['pending']} waiting in the spool"
    )
    return line + (f" (cluster: {index['error']})" if index["error"] else "")


def next_run(settings: Any, schedule: str, now: datetime) -> datetime | None:
    """When a cron schedule of this configuration fires next, in its timezone."""
    return settings.trigger(schedule).get_next_fire_time(None, now)


def collect_status(settings: Any) -> dict:
    """The ``status`` data: per source, the alert outbox backlog, and the index size."""
    runtime = Runtime.open(settings)
    now = utcnow()
    try:
        sources = {}
        for source in settings.sources:
            runs = runtime.state.runs(source.name, limit=1)
            last = runs[0] if runs else None
            sources[source.name] = {
                "enabled": source.enabled,
                "schedule": source.schedule,
                "last_run": last.started_at.isoformat() if last else None,
                "last_status": last.status if last else None,
                "last_success": _iso(runtime.state.last_success(source.name)),
                "next_run": _iso(next_run(settings, source.schedule, now))
                if source.enabled
                else None,
                "error_streak": runtime.state.error_streak(source.name),
                "articles_24h": runtime.state.articles_since(
                    source.name, now - timedelta(hours=24)
                ),
            }
        return {
            "sources": sources,
            "outbox": outbox.backlog(runtime.conn),
            "index": _index_status(settings, runtime.store),
        }
    finally:
        runtime.close()


def _index_status(settings: Any, store: Any) -> dict:
    """The index: its backend and size; with Elasticsearch the spool backlog and the cluster."""
    data = {"backend": settings.store.backend, "articles": store.count()}
    return {**data, **store.index_status()}


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def format_status(data: dict) -> str:
    """The ``status`` data as a human table."""
    lines = []
    for name, s in data["sources"].items():
        state = "enabled" if s["enabled"] else "disabled"
        lines.append(
            f"{name} ({state}, {s['schedule']}): last run {s['last_run'] or 'never'}"
            f" [{s['last_status'] or '-'}], last success {s['last_success'] or 'never'},"
            f" next {s['next_run'] or '-'}, error streak {s['error_streak']},"
            f" {s['articles_24h']} articles in 24 h"
        )
    box = data["outbox"]
    lines.append("outbox: " + ", ".join(f"{k} {v}" for k, v in box.items()))
    index = data["index"]
    lines.append(f"index: {index['backend']}, {index['articles']} articles")
    if "spool" in index:
        lines.append(_format_cluster(index))
    return "\n".join(lines)


def _format_cluster(index: dict) -> str:
    spool, cluster = index["spool"], index["cluster"]
    where = f"{cluster['url']} alias {cluster['alias']}"
    if not cluster["reachable"]:
        where += f" UNREACHABLE ({cluster['error']})"
    elif cluster["index"] is None:
        where += " (no index yet: the first sync creates it)"
    else:
        where += f" -> {cluster['index']}, {cluster['documents']} documents"
        if not cluster["mapping_current"]:
            where += " (older mappings: run `beatwatch index rebuild`)"
    line = (
        f"  cluster {where}; spool {spool['pending']} pending"
        f" (oldest {spool['oldest_pending'] or '-'}), {spool['rejected']} refused"
    )
    problems = [f"  refused {r['id']}: {r['reason']}" for r in index["refused"]]
    problems += [f"  retrying {r['id']}: {r['reason']}" for r in index["failing"]]
    return "\n".join([line, *problems])


def backtest(settings: Any, rule: str, *, since: datetime | None, limit: int) -> dict:
    """Run a rule (by name, or a raw query) against the index; mark hits already alerted."""
    named = {r.name: r for r in settings.alerts.rules}
    query = named[rule].query if rule in named else rule
    runtime = Runtime.open(settings)
    try:
        result = runtime.store.search(query, since=since, limit=limit)
        alerted = ledger.alerted_stories(runtime.conn, rule) if rule in named else set()
    finally:
        runtime.close()
    hits = [{**h.to_json(), "alerted": h.story_id in alerted} for h in result.hits]
    return {"rule": rule, "query": query, "total": result.total, "hits": hits}
