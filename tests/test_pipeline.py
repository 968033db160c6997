"""The pipeline stages on their own: built from plain values, no crawler, real SQLite."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from alerts.matcher import Matcher, RuleSet
from crawler import db
from crawler.models import FeedFields, FetchedPage
from crawler.pipeline import EmptyArticle, OutOfScope, Unchanged
from crawler.pipeline.alert import AlertMatchStage
from crawler.pipeline.dedup import DedupStage
from crawler.pipeline.normalise import NormaliseStage
from crawler.pipeline.scope import ScopeStage
from crawler.pipeline.store import StoreStage
from crawler.runtime import Runtime
from crawler.state import RunState
from crawler.stories import StoryIndex
from crawler.urls import article_id
from indexer import SQLiteStore

FETCHED = datetime(2026, 11, 7, 3, 0, tzinfo=UTC)
BODY = (
    "Navy commanders met on Saturday to discuss military cooperation and port calls.\n"
    "The talks covered training and the maintenance of equipment."
)


def page(**changes) -> FetchedPage:
    base = FetchedPage(
        source="outlet",
        url="https://outlet.example/2026/11/navy-talks/",
        fetch_url="https://outlet.example/2026/11/navy-talks/?utm_source=rss",
        fetched_at=FETCHED,
        title="Navy chiefs meet",
        text=BODY,
        published_at=None,
        authors=[],
        language=None,
        rel_canonical=None,
        entry=FeedFields(
            title="Navy chiefs meet (feed)",
            published=datetime(2026, 11, 7, 1, 0, tzinfo=UTC),
            authors=["Desk"],
            summary="Commanders met to talk about cooperation.",
        ),
        default_language="en",
    )
    return replace(base, **changes)


@pytest.fixture
def runtime(tmp_path) -> Runtime:
    conn = db.connect(tmp_path / "bw.db")
    rules = RuleSet({"cooperation": '"military cooperation"', "ream": '"Ream Naval Base"'})
    return Runtime(
        settings=None,
        conn=conn,
        store=SQLiteStore(conn),
        state=RunState(conn),
        rules=rules,
        rule_modes={"cooperation": "immediate", "ream": "immediate"},
        scope=None,
        stories=StoryIndex(conn),
    )


def run_stages(runtime: Runtime, fetched: FetchedPage):
    item = NormaliseStage().process_item(fetched)
    item = DedupStage(runtime.store, runtime.stories).process_item(item)
    item = AlertMatchStage(runtime.rules).process_item(item)
    return StoreStage(runtime).process_item(item)


def test_feed_entry_fills_the_gaps_the_page_leaves():
    article = NormaliseStage().process_item(page()).article
    assert article.published_at == datetime(2026, 11, 7, 1, 0, tzinfo=UTC)
    assert article.authors == ["Desk"]
    assert article.language == "en"
    assert article.title == "Navy chiefs meet"  # the page's own title wins


def test_page_without_article_text_falls_back_to_the_feed_summary():
    article = NormaliseStage().process_item(page(text="")).article
    assert article.text == "Commanders met to talk about cooperation."


def test_page_with_no_text_and_no_summary_is_an_error():
    with pytest.raises(EmptyArticle):
        NormaliseStage().process_item(page(text="", entry=FeedFields()))


def test_rel_canonical_on_the_same_site_sets_the_id():
    canonical = "https://outlet.example/navy-talks"
    article = NormaliseStage().process_item(page(rel_canonical=canonical)).article
    assert article.url == canonical
    assert article.id == article_id(canonical)


def test_scope_stage_turns_itself_off_without_a_scope_query(runtime):
    crawler = get_crawler(settings_dict={"BEATWATCH_RUNTIME": runtime})
    with pytest.raises(NotConfigured, match="no scope query"):
        ScopeStage.from_crawler(crawler)


def test_scope_stage_drops_what_the_query_does_not_match():
    item = NormaliseStage().process_item(page())
    with pytest.raises(OutOfScope):
        ScopeStage(Matcher("Thailand")).process_item(item)
    assert ScopeStage(Matcher("navy")).process_item(item) is item


def test_new_then_unchanged_then_edit(runtime):
    first = run_stages(runtime, page())
    assert first.outcome == "new"
    assert first.article.story_id == first.article.id
    with pytest.raises(Unchanged):
        run_stages(runtime, page())
    edited = run_stages(runtime, page(text=BODY + "\nThey will meet again at Ream Naval Base."))
    assert edited.outcome == "updated"
    assert edited.article.revision == 2
    assert [rule for rule, _ in edited.hits] == ["ream"]  # cooperation matched revision 1


def test_same_body_at_another_url_joins_the_story_as_a_duplicate(runtime):
    first = run_stages(runtime, page())
    copy = run_stages(runtime, page(url="https://other.example/wire/navy-talks/", source="other"))
    assert copy.outcome == "duplicate"
    assert copy.article.story_id == first.article.story_id
    assert len(runtime.store.copies(first.article.story_id)) == 2


def test_an_article_and_its_hits_are_stored_together(runtime):
    stored = run_stages(runtime, page())
    rows = runtime.conn.execute("SELECT rule, story_id FROM alert_hits").fetchall()
    assert [tuple(r) for r in rows] == [("cooperation", stored.article.story_id)]
    assert runtime.state.seen(article_id(page().url)).outcome == "new"
