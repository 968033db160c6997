"""``beatwatch sources probe``: fetch each configured endpoint once and report what it returns."""

from __future__ import annotations

from typing import Any

from scrapy.crawler import CrawlerProcess

from crawler.logs import quiet_libraries
from spiders.probe import ProbeResult, ProbeSpider
from spiders.settings import scrapy_settings


def run_probe(settings: Any, names: list[str] | None = None) -> list[ProbeResult]:
    """Probe the named sources (default: every configured one, disabled ones included)."""
    sources = [settings.source(n) for n in names] if names else list(settings.sources)
    results: list[ProbeResult] = []
    config = scrapy_settings(settings.crawl)
    config.update(LOG_INSTALL_ROOT_HANDLER=False, ITEM_PIPELINES={})
    process = CrawlerProcess(config)
    quiet_libraries()
    process.crawl(ProbeSpider, sources=sources, results=results)
    process.start()
    order = {s.name: i for i, s in enumerate(sources)}
    return sorted(results, key=lambda r: (order[r.source], r.kind, r.url))


def format_probe(results: list[ProbeResult]) -> str:
    """One line per endpoint: verdict, source, kind, status, items, newest date, URL, problem."""
    lines = []
    for r in results:
        verdict = "ok  " if r.error is None else "FAIL"
        newest = r.newest.date().isoformat() if r.newest else "-"
        items = "-" if r.items is None else str(r.items)
        line = (
            f"{verdict} {r.source:<22} {r.kind:<8} {r.status or '-':>4} {items:>6}"
            f" {newest:>10}  {r.url}"
        )
        if r.error:
            line += f"\n     {r.error}"
        lines.append(line)
    ok = sum(r.error is None for r in results)
    lines.append(f"{ok} of {len(results)} endpoints answered with content")
    return "\n".join(lines)
