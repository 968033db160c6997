"""Alert messages: how one renders, and how pending hits become one message per recipient.

The compose tests deliver through the outbox to a real SMTP server on loopback and read what
arrived.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from alerts import compose, ledger, outbox
from alerts.email import AlertEntry, AlertGroup, render_alert
from alerts.mailer import SmtpMailer
from crawler.db import connect
from crawler.models import Article, Passage
from smtp_server import SmtpTestServer

NOW = datetime(2026, 12, 1, 7, 5, tzinfo=UTC)  # 14:05 in Phnom Penh
TZ = "Asia/Phnom_Penh"
SENDER = "beatwatch <alerts@example.org>"


def marked(text: str, *terms: str) -> Passage:
    spans = []
    for term in terms:
        start = text.index(term)
        spans.append((start, start + len(term)))
    return Passage(text=text, spans=sorted(spans))


def entry(**changes) -> AlertEntry:
    base = AlertEntry(
        title="Pier work resumes at the southern naval base",
        url="https://coast.example/news/pier-work-resumes?id=42&lang=en",
        source="coast-post",
        published_at=NOW,
        passages=[marked("Satellite images show new work at Ream Naval Base this week", "Ream")],
        rules=["ream-naval-base"],
    )
    return replace(base, **changes)


def render(*entries: AlertEntry, rule: str = "ream-naval-base", **options):
    groups = [AlertGroup(rule=rule, entries=list(entries) or [entry()])]
    return render_alert("desk@example.org", groups, tz=TZ, sender=SENDER, now=NOW, **options)


def text_part(message) -> str:
    return message.get_body(("plain",)).get_content()


def html_part(message) -> str:
    return message.get_body(("html",)).get_content()


# -- rendering one message ------------------------------------------------------------------


def test_message_is_multipart_plain_text_and_html():
    message = render()
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]


def test_subject_names_every_rule_and_counts_the_hits():
    groups = [
        AlertGroup(
            rule="kem-sokha", entries=[entry(rules=["kem-sokha"]), entry(rules=["kem-sokha"])]
        ),
        AlertGroup(rule="ream-naval-base", entries=[entry(rules=["ream-naval-base", "sanctions"])]),
    ]
    message = render_alert("desk@example.org", groups, tz=TZ, sender=SENDER, now=NOW)
    assert message["Subject"] == "[beatwatch] 3 new hits: kem-sokha, ream-naval-base, sanctions"


def test_subject_of_a_single_hit_is_singular_and_a_digest_says_so():
    assert render()["Subject"] == "[beatwatch] 1 new hit: ream-naval-base"
    assert render(digest=True)["Subject"] == "[beatwatch] digest: 1 new hit: ream-naval-base"


def test_headers_address_the_one_recipient_and_mark_the_message_automatic():
    message = render()
    assert message["To"] == "desk@example.org"
    assert message["From"] == SENDER
    assert message["Date"].datetime == NOW
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["List-Id"] == "beatwatch alerts <alerts.beatwatch>"


def test_plain_text_puts_the_article_url_on_a_line_of_its_own():
    lines = text_part(render()).splitlines()
    assert "https://coast.example/news/pier-work-resumes?id=42&lang=en" in lines


def test_plain_text_marks_matched_terms_with_asterisks():
    body = text_part(
        render(entry(passages=[marked("Talks on Ream and on Kem Sokha", "Ream", "Kem")]))
    )
    assert "Talks on *Ream* and on *Kem* Sokha" in body


def test_each_hit_shows_title_outlet_and_publication_time_in_the_configured_zone():
    message = render()
    for body in (text_part(message), html_part(message)):
        assert "Pier work resumes at the southern naval base" in body
        assert "coast-post" in body
        assert "Tue 1 Dec 2026 14:05 +07" in body


def test_an_unknown_publication_time_is_said_rather_than_invented():
    assert "publication time unknown" in text_part(render(entry(published_at=None)))


def test_an_edit_hit_is_marked_updated():
    message = render(entry(updated=True))
    assert "Pier work resumes at the southern naval base (updated)" in text_part(message)
    assert "(updated)" in html_part(message)
    assert "(updated)" not in text_part(render())


def test_other_copies_are_named_on_one_also_carried_by_line():
    body = text_part(render(entry(also_carried_by=["wire-one", "river-news"])))
    assert [line for line in body.splitlines() if "carried by" in line] == [
        "also carried by: wire-one, river-news"
    ]
    assert "also carried by" not in text_part(render())


def test_html_escapes_everything_from_the_crawled_page():
    hostile = entry(
        title="Base <script>alert('x')</script> report",
        source="a&b <news>",
        url='https://coast.example/a?x=1&y="><script>',
        passages=[marked("<img src=x onerror=alert(1)> near Ream", "Ream")],
    )
    html = html_part(render(hostile))
    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "a&amp;b &lt;news&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt; near <mark>Ream</mark>" in html


def test_html_links_only_web_addresses():
    html = html_part(render(entry(url="javascript:alert(1)")))
    assert 'href="javascript' not in html
    assert 'href="https://coast.example/news/pier-work-resumes?id=42&amp;lang=en"' in html_part(
        render()
    )


# -- composing pending hits into messages -----------------------------------------------------


@dataclass
class Rule:
    name: str
    recipients: list[str]
    mode: str = "immediate"
    query: str = ""
    enabled: bool = True


@dataclass
class Copies:
    """A stand-in for the store's list of copies per story."""

    by_story: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def __call__(self, story_id: str) -> list[tuple[str, str]]:
        return self.by_story.get(story_id, [])


RULES = [
    Rule("kem-sokha", ["desk@example.org", "lawyer@example.org"]),
    Rule("ream-naval-base", ["desk@example.org"]),
    Rule("sanctions", ["desk@example.org"], mode="digest"),
]


def story(n: int, title: str, source: str = "coast-post") -> Article:
    return Article(
        id=f"{n:064x}",
        url=f"https://{source}.example/story-{n}",
        source=source,
        title=title,
        text=title,
        published_at=NOW - timedelta(hours=n),
        fetched_at=NOW,
        story_id=f"story-{n}",
    )


@pytest.fixture(scope="module")
def server():
    with SmtpTestServer() as running:
        yield running


@pytest.fixture
def conn(tmp_path, server):
    server.clear()
    connection = connect(tmp_path / "beatwatch.db")
    yield connection
    connection.close()


def hit(conn, article: Article, *rules: str, text: str = "a passage") -> None:
    modes = {rule.name: rule.mode for rule in RULES}
    ledger.record_hits(
        conn, article, [(r, Passage(text=text)) for r in rules], mode_of=modes, now=NOW
    )


def deliver(conn, server) -> dict:
    """Deliver everything queued; return the received messages by recipient."""
    report = outbox.deliver_due(conn, SmtpMailer(server.host, server.port), now=NOW)
    assert report.errors == []
    received = {}
    for item in server.received:
        assert len(item.rcpt_tos) == 1
        received[item.rcpt_tos[0]] = item.message()
    assert len(received) == len(server.received)
    return received


def compose_now(conn, rules=RULES, copies=None) -> int:
    return compose.compose_immediate(
        conn, rules, copies_of=copies or Copies(), tz=TZ, now=NOW, sender=SENDER
    )


def test_each_recipient_gets_their_own_message(conn, server):
    hit(conn, story(1, "Appeal hearing set"), "kem-sokha")

    assert compose_now(conn) == 2
    received = deliver(conn, server)

    assert sorted(received) == ["desk@example.org", "lawyer@example.org"]
    assert received["lawyer@example.org"]["To"] == "lawyer@example.org"


def test_a_recipient_sees_only_the_rules_they_receive(conn, server):
    hit(conn, story(1, "Appeal hearing set"), "kem-sokha")
    hit(conn, story(2, "Dredging near the pier"), "ream-naval-base")

    compose_now(conn)
    received = deliver(conn, server)

    assert received["lawyer@example.org"]["Subject"] == "[beatwatch] 1 new hit: kem-sokha"
    assert "Dredging near the pier" not in text_part(received["lawyer@example.org"])


def test_hits_are_listed_under_each_rules_name(conn, server):
    hit(conn, story(1, "Appeal hearing set"), "kem-sokha")
    hit(conn, story(2, "Dredging near the pier"), "ream-naval-base")
    hit(conn, story(3, "Defence lawyers file motion"), "kem-sokha")

    compose_now(conn)
    body = text_part(deliver(conn, server)["desk@example.org"])

    kem, ream = body.index("== kem-sokha =="), body.index("== ream-naval-base ==")
    assert kem < body.index("Appeal hearing set") < ream
    assert kem < body.index("Defence lawyers file motion") < ream
    assert ream < body.index("Dredging near the pier")


def test_a_story_that_hit_two_rules_appears_once_naming_both(conn, server):
    hit(conn, story(1, "Opposition figure comments on base"), "kem-sokha", "ream-naval-base")

    compose_now(conn)
    message = deliver(conn, server)["desk@example.org"]
    body = text_part(message)

    assert body.count("Opposition figure comments on base") == 1
    assert "== kem-sokha ==" in body and "Also matched: ream-naval-base" in body
    assert message["Subject"] == "[beatwatch] 1 new hit: kem-sokha, ream-naval-base"


def test_other_copies_of_the_story_are_named_on_the_also_carried_by_line(conn, server):
    shown = story(1, "Appeal hearing set", source="coast-post")
    hit(conn, shown, "kem-sokha")
    copies = Copies(
        {
            "story-1": [
                ("coast-post", shown.url),
                ("wire-one", "https://wire.example/x"),
                ("river-news", "https://river.example/y"),
                ("wire-one", "https://wire.example/x-repost"),
            ]
        }
    )

    compose_now(conn, copies=copies)
    body = text_part(deliver(conn, server)["desk@example.org"])

    assert "also carried by: wire-one, river-news" in body.splitlines()
    assert "https://wire.example/x" not in body


def test_composing_again_queues_nothing_new(conn, server):
    hit(conn, story(1, "Appeal hearing set"), "kem-sokha")
    assert compose_now(conn) == 2
    assert compose_now(conn) == 0
    hit(conn, story(1, "Appeal hearing set"), "kem-sokha")
    assert compose_now(conn) == 0

    assert len(deliver(conn, server)) == 2
    assert len(server.received) == 2


def test_digest_hits_wait_for_the_digest_and_then_go_out_together(conn, server):
    hit(conn, story(1, "Visa limits announced"), "sanctions")
    hit(conn, story(2, "Asset freeze extended"), "sanctions")
    assert compose_now(conn) == 0

    sent = compose.compose_digest(conn, RULES[2], copies_of=Copies(), tz=TZ, now=NOW, sender=SENDER)
    message = deliver(conn, server)["desk@example.org"]

    assert sent == 1
    assert message["Subject"] == "[beatwatch] digest: 2 new hits: sanctions"
    assert "Visa limits announced" in text_part(message)
    assert "Asset freeze extended" in text_part(message)


def test_hits_of_rules_removed_or_disabled_stay_pending(conn, server):
    hit(conn, story(1, "Appeal hearing set"), "kem-sokha")
    disabled = [replace(RULES[0], enabled=False), RULES[1]]

    assert compose_now(conn, rules=disabled) == 0
    assert compose_now(conn, rules=[RULES[1]]) == 0
    assert [h.rule for h in ledger.pending(conn)] == ["kem-sokha"]


def test_a_failure_while_composing_queues_nothing_and_keeps_every_hit(conn, server, monkeypatch):
    hit(conn, story(1, "Appeal hearing set"), "kem-sokha")
    real_enqueue = outbox.enqueue
    calls = []

    def enqueue_then_fail(conn, message, now):
        calls.append(message["To"])
        if len(calls) == 2:
            raise OSError("disk full")
        return real_enqueue(conn, message, now)

    monkeypatch.setattr(outbox, "enqueue", enqueue_then_fail)
    with pytest.raises(OSError):
        compose_now(conn)
    monkeypatch.undo()

    assert outbox.backlog(conn)["queued"] == 0
    assert [h.rule for h in ledger.pending(conn)] == ["kem-sokha"]
    assert compose_now(conn) == 2
    assert sorted(deliver(conn, server)) == ["desk@example.org", "lawyer@example.org"]


def test_a_delivered_message_carries_a_stable_outbox_message_id(conn, server):
    hit(conn, story(1, "Appeal hearing set"), "kem-sokha")
    compose_now(conn)
    received = deliver(conn, server)
    ids = {message["Message-ID"] for message in received.values()}
    assert len(ids) == 2
    assert all(re.fullmatch(r"<\d+\.[0-9a-f]{16}@beatwatch>", mid) for mid in ids)
