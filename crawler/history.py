"""Stories and edit history for `beatwatch story` and `beatwatch article --revisions`."""

from __future__ import annotations

import difflib
from datetime import datetime
from itertools import pairwise
from typing import Any

from crawler.errors import BeatwatchError
from crawler.models import Article
from indexer import Store


class NotFound(BeatwatchError):
    """No stored article or story has that id."""


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def versions(store: Store, article: Article) -> list[dict[str, Any]]:
    """Every revision of an article, oldest first, the current one last."""
    earlier = [
        {"revision": r.revision, "title": r.title, "text": r.text, "fetched_at": r.fetched_at}
        for r in store.revisions(article.id)
    ]
    current = {
        "revision": article.revision,
        "title": article.title,
        "text": article.text,
        "fetched_at": article.fetched_at,
    }
    return [*earlier, current]


def diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    """A unified diff of two revisions, one paragraph per line, the title first."""
    before = [f"# {old['title']}", *old["text"].split("\n")]
    after = [f"# {new['title']}", *new["text"].split("\n")]
    return "\n".join(
        difflib.unified_diff(
            before,
            after,
            fromfile=f"revision {old['revision']} ({_iso(old['fetched_at'])})",
            tofile=f"revision {new['revision']} ({_iso(new['fetched_at'])})",
            lineterm="",
        )
    )


def article_history(store: Store, article_id: str) -> dict[str, Any]:
    """An article with its revisions and the diff between each revision and the next."""
    article = store.get(article_id)
    if article is None:
        raise NotFound(f"no article with id {article_id}")
    revs = versions(store, article)
    return {
        "id": article.id,
        "url": article.url,
        "source": article.source,
        "story_id": article.story_id,
        "revisions": [
            {"revision": r["revision"], "title": r["title"], "fetched_at": _iso(r["fetched_at"])}
            for r in revs
        ],
        "diffs": [diff(a, b) for a, b in pairwise(revs)],
    }


def story(store: Store, story_id: str) -> dict[str, Any]:
    """A story's copies (earliest first) and its timeline: publications, copies and edits."""
    copies = store.copies(story_id)
    if not copies:
        raise NotFound(f"no story with id {story_id}")
    events = []
    by_date = sorted(copies, key=lambda a: a.published_at or a.fetched_at)
    for n, article in enumerate(by_date):
        when = article.published_at or article.fetched_at
        what = "first published" if n == 0 else "carried"
        events.append({"time": when, "event": what, "source": article.source, "url": article.url})
        for rev in versions(store, article)[1:]:
            events.append(
                {
                    "time": rev["fetched_at"],
                    "event": f"edited (revision {rev['revision']})",
                    "source": article.source,
                    "url": article.url,
                }
            )
    events.sort(key=lambda e: e["time"])
    return {
        "story_id": story_id,
        "title": copies[0].title,
        "copies": [
            {
                "id": a.id,
                "source": a.source,
                "url": a.url,
                "title": a.title,
                "published_at": _iso(a.published_at),
                "fetched_at": _iso(a.fetched_at),
                "revision": a.revision,
            }
            for a in copies
        ],
        "timeline": [{**e, "time": _iso(e["time"])} for e in events],
    }


def format_story(data: dict[str, Any]) -> str:
    """The story as text: its copies, then the timeline."""
    lines = [f"story {data['story_id']}: {data['title']}", f"{len(data['copies'])} copies:"]
    for c in data["copies"]:
        edits = f", revision {c['revision']}" if c["revision"] > 1 else ""
        lines.append(f"  {c['source']}: {c['url']} ({c['published_at'] or 'undated'}{edits})")
        lines.append(f"    id {c['id']}")
    lines.append("timeline:")
    lines += [f"  {e['time']}  {e['event']:<20} {e['source']}" for e in data["timeline"]]
    return "\n".join(lines)


def format_history(data: dict[str, Any]) -> str:
    """The article's revisions, then each diff."""
    lines = [f"article {data['id']} ({data['source']}): {data['url']}"]
    lines += [
        f"  revision {r['revision']} fetched {r['fetched_at']}: {r['title']}"
        for r in data["revisions"]
    ]
    lines += ["", *data["diffs"]] if data["diffs"] else ["  (never edited)"]
    return "\n".join(lines)
