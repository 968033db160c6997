"""The alert ledger: a (rule, story) pair is recorded, and so alerts, at most once, ever."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from alerts import ledger
from crawler.db import connect, transaction
from crawler.models import Article, Passage

NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
MODES = {"kem-sokha": "immediate", "ream-naval-base": "immediate", "sanctions": "digest"}


def article(**changes) -> Article:
    base = Article(
        id="a" * 64,
        url="https://daily.example/politics/opposition-leader-verdict",
        source="phnom-daily",
        title="Court sets date for opposition leader's appeal",
        text="The appeal of Kem Sokha will be heard next month, his lawyers said.",
        published_at=datetime(2026, 12, 1, 6, 30, tzinfo=UTC),
        fetched_at=NOW,
        story_id="s" * 64,
    )
    return replace(base, **changes)


def passage(text: str = "The appeal of Kem Sokha will be heard") -> Passage:
    start = text.find("Kem Sokha")
    return Passage(text=text, spans=[(start, start + len("Kem Sokha"))] if start >= 0 else [])


@pytest.fixture
def conn(tmp_path):
    connection = connect(tmp_path / "beatwatch.db")
    yield connection
    connection.close()


def test_new_hits_are_recorded_and_their_rule_names_returned(conn):
    recorded = ledger.record_hits(
        conn,
        article(),
        [("kem-sokha", passage()), ("sanctions", passage("Visa limits were added"))],
        mode_of=MODES,
        now=NOW,
    )
    assert recorded == ["kem-sokha", "sanctions"]
    assert [(h.rule, h.mode) for h in ledger.pending(conn)] == [
        ("kem-sokha", "immediate"),
        ("sanctions", "digest"),
    ]


def test_recording_the_same_hits_again_records_nothing(conn):
    hits = [("kem-sokha", passage())]
    ledger.record_hits(conn, article(), hits, mode_of=MODES, now=NOW)

    assert (
        ledger.record_hits(conn, article(), hits, mode_of=MODES, now=NOW + timedelta(hours=1)) == []
    )
    assert len(ledger.pending(conn)) == 1


def test_a_copy_of_the_story_at_another_outlet_never_re_alerts_the_rule(conn):
    ledger.record_hits(conn, article(), [("kem-sokha", passage())], mode_of=MODES, now=NOW)
    copy = article(id="b" * 64, url="https://other.example/kem-sokha-appeal", source="wire-copy")

    assert ledger.record_hits(conn, copy, [("kem-sokha", passage())], mode_of=MODES, now=NOW) == []
    assert [h.article_id for h in ledger.hits_for_story(conn, "s" * 64)] == ["a" * 64]


def test_a_rule_already_sent_for_the_story_never_alerts_again(conn):
    ledger.record_hits(conn, article(), [("kem-sokha", passage())], mode_of=MODES, now=NOW)
    ledger.mark_queued(conn, [h.id for h in ledger.pending(conn)], "<1.x@beatwatch>", now=NOW)

    later = NOW + timedelta(days=30)
    assert (
        ledger.record_hits(conn, article(), [("kem-sokha", passage())], mode_of=MODES, now=later)
        == []
    )
    assert ledger.pending(conn) == []


def test_an_edit_records_only_rules_new_to_the_story_and_marks_them_updated(conn):
    ledger.record_hits(conn, article(), [("kem-sokha", passage())], mode_of=MODES, now=NOW)
    edited = article(
        revision=2, text="The appeal of Kem Sokha will be heard near Ream Naval Base, lawyers said."
    )

    recorded = ledger.record_hits(
        conn,
        edited,
        [("kem-sokha", passage()), ("ream-naval-base", passage("heard near Ream Naval Base"))],
        mode_of=MODES,
        now=NOW + timedelta(hours=2),
    )

    assert recorded == ["ream-naval-base"]
    by_rule = {h.rule: h for h in ledger.hits_for_story(conn, "s" * 64)}
    assert by_rule["kem-sokha"].is_update is False
    assert by_rule["ream-naval-base"].is_update is True


def test_a_recorded_hit_keeps_what_the_alert_shows(conn):
    ledger.record_hits(conn, article(), [("kem-sokha", passage())], mode_of=MODES, now=NOW)

    [hit] = ledger.pending(conn)
    assert hit.title == "Court sets date for opposition leader's appeal"
    assert hit.url == "https://daily.example/politics/opposition-leader-verdict"
    assert hit.source == "phnom-daily"
    assert hit.published_at == datetime(2026, 12, 1, 6, 30, tzinfo=UTC)
    assert hit.passage == passage()
    assert hit.passage.spans == [(14, 23)]
    assert hit.created_at == NOW
    assert hit.state == "pending"


def test_hits_roll_back_with_the_transaction_that_stored_the_article(conn):
    with pytest.raises(RuntimeError), transaction(conn):
        ledger.record_hits(conn, article(), [("kem-sokha", passage())], mode_of=MODES, now=NOW)
        raise RuntimeError("the store write failed after matching")

    assert ledger.pending(conn) == []
    assert ledger.record_hits(conn, article(), [("kem-sokha", passage())], mode_of=MODES, now=NOW)


def test_the_ledger_survives_reopening_the_database(tmp_path):
    first = connect(tmp_path / "beatwatch.db")
    ledger.record_hits(first, article(), [("kem-sokha", passage())], mode_of=MODES, now=NOW)
    first.close()

    second = connect(tmp_path / "beatwatch.db")
    assert (
        ledger.record_hits(second, article(), [("kem-sokha", passage())], mode_of=MODES, now=NOW)
        == []
    )
    assert [h.rule for h in ledger.pending(second)] == ["kem-sokha"]
    second.close()


def test_pending_can_be_narrowed_to_a_mode_or_to_some_rules(conn):
    ledger.record_hits(
        conn,
        article(),
        [("kem-sokha", passage()), ("sanctions", passage("Visa limits"))],
        mode_of=MODES,
        now=NOW,
    )
    assert [h.rule for h in ledger.pending(conn, mode="digest")] == ["sanctions"]
    assert [h.rule for h in ledger.pending(conn, rules=["kem-sokha"])] == ["kem-sokha"]
    assert ledger.pending(conn, rules=[]) == []


def test_marking_hits_queued_takes_them_out_of_pending(conn):
    ledger.record_hits(
        conn,
        article(),
        [("kem-sokha", passage()), ("sanctions", passage("Visa limits"))],
        mode_of=MODES,
        now=NOW,
    )
    kem = [h.id for h in ledger.pending(conn, rules=["kem-sokha"])]

    ledger.mark_queued(conn, kem, "<3.abc@beatwatch>", now=NOW)

    assert [h.rule for h in ledger.pending(conn)] == ["sanctions"]
    states = {h.rule: h.state for h in ledger.hits_for_story(conn, "s" * 64)}
    assert states == {"kem-sokha": "queued", "sanctions": "pending"}


def test_a_rule_without_a_known_mode_is_recorded_as_immediate(conn):
    ledger.record_hits(conn, article(), [("new-rule", passage())], mode_of={}, now=NOW)
    assert [h.mode for h in ledger.pending(conn)] == ["immediate"]


def test_an_article_without_a_story_id_is_its_own_story(conn):
    lone = article(story_id="")
    ledger.record_hits(conn, lone, [("kem-sokha", passage())], mode_of=MODES, now=NOW)
    assert [h.story_id for h in ledger.pending(conn)] == [lone.id]
