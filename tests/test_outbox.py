"""The durable outbox: a mail server that is down delays alerts, it never loses or doubles them."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from itertools import pairwise
from types import SimpleNamespace

import pytest

from alerts import compose, ledger, outbox
from alerts.mailer import SmtpMailer
from concurrently import at_once
from crawler.db import connect
from crawler.errors import DeliveryError
from crawler.models import Article, Passage
from smtp_server import SmtpTestServer, closed_port

NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)


def message(n: int = 1, to: str = "desk@example.org") -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "beatwatch <alerts@example.org>"
    mail["To"] = to
    mail["Subject"] = f"[beatwatch] 1 new hit: story {n}"
    mail.set_content(f"Story number {n} about the naval base.\n")
    return mail


@pytest.fixture(scope="module")
def server():
    with SmtpTestServer() as running:
        yield running


@pytest.fixture
def db_path(tmp_path, server):
    server.clear()
    return tmp_path / "beatwatch.db"


@pytest.fixture
def conn(db_path):
    connection = connect(db_path)
    yield connection
    connection.close()


def smtp(server) -> SmtpMailer:
    return SmtpMailer(server.host, server.port, timeout=5)


def refused() -> SmtpMailer:
    return SmtpMailer("127.0.0.1", closed_port(), timeout=5)


@dataclass
class FlakyMailer:
    """Fails with a transient error the first ``failures`` times, then records what it sends."""

    failures: int = 10**9
    calls: int = 0

    def __post_init__(self):
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise DeliveryError("SMTP test:25 unreachable: connection refused")
        self.sent.append(message)


class SimulatedCrash(BaseException):
    """The process dies mid-send: nothing after the send runs."""


class CrashingMailer:
    def send(self, message: EmailMessage) -> None:
        raise SimulatedCrash


def test_a_queued_message_is_sent_once_and_marked_sent(conn, server):
    outbox.enqueue(conn, message(), NOW)

    report = outbox.deliver_due(conn, smtp(server), now=NOW)
    again = outbox.deliver_due(conn, smtp(server), now=NOW + timedelta(hours=1))

    assert (report.sent, report.retried, report.parked, report.errors) == (1, 0, 0, [])
    assert again.sent == 0
    assert len(server.received) == 1
    assert outbox.backlog(conn, now=NOW)["sent"] == 1


def test_a_refused_connection_keeps_the_message_queued_and_the_next_run_sends_it_once(conn, server):
    outbox.enqueue(conn, message(), NOW)

    down = outbox.deliver_due(conn, refused(), now=NOW)
    assert (down.sent, down.retried) == (0, 1)
    assert "unreachable" in down.errors[0]
    assert outbox.backlog(conn, now=NOW)["queued"] == 1

    not_yet = outbox.deliver_due(conn, smtp(server), now=NOW + timedelta(seconds=29))
    assert not_yet.sent == 0 and server.received == []

    up = outbox.deliver_due(conn, smtp(server), now=NOW + timedelta(seconds=30))
    later = outbox.deliver_due(conn, smtp(server), now=NOW + timedelta(hours=1))
    assert (up.sent, later.sent) == (1, 0)
    assert len(server.received) == 1


def test_retries_back_off_from_30_seconds_doubling_up_to_the_cap(conn):
    outbox.enqueue(conn, message(), NOW)
    mailer = FlakyMailer()
    attempt_times = []
    moment = NOW
    for _ in range(6 * 120):  # walk forward 5 s at a time for an hour
        before = mailer.calls
        outbox.deliver_due(conn, mailer, now=moment, backoff_max=100)
        if mailer.calls > before:
            attempt_times.append(moment)
        moment += timedelta(seconds=5)

    gaps = [(b - a).total_seconds() for a, b in pairwise(attempt_times)]
    assert gaps[:5] == [30, 60, 100, 100, 100]


def test_backoff_is_30_seconds_doubling_and_capped():
    waits = [outbox.backoff(n, 900).total_seconds() for n in range(1, 8)]
    assert waits == [30, 60, 120, 240, 480, 900, 900]
    assert outbox.backoff(10_000, 900).total_seconds() == 900


def test_a_4xx_reply_is_retried_until_the_server_accepts(conn, server):
    outbox.enqueue(conn, message(), NOW)
    server.refuse("451 4.3.0 Temporary local problem")

    deferred = outbox.deliver_due(conn, smtp(server), now=NOW)
    server.accept()
    accepted = outbox.deliver_due(conn, smtp(server), now=NOW + timedelta(minutes=1))

    assert (deferred.retried, deferred.parked) == (1, 0)
    assert "451" in deferred.errors[0]
    assert accepted.sent == 1 and len(server.received) == 1


def test_a_5xx_refusal_parks_the_message_reports_it_and_never_retries(conn, server):
    outbox.enqueue(conn, message(to="gone@example.org"), NOW)
    server.refuse("550 5.1.1 No such user here", at="rcpt")

    report = outbox.deliver_due(conn, smtp(server), now=NOW)
    server.accept()
    later = outbox.deliver_due(conn, smtp(server), now=NOW + timedelta(days=1))

    assert (report.sent, report.retried, report.parked) == (0, 0, 1)
    assert "550" in report.errors[0] and "gone@example.org" in report.errors[0]
    assert later.sent == 0 and server.received == []
    [parked] = outbox.parked_messages(conn)
    assert parked["recipient"] == "gone@example.org"
    assert "550 5.1.1 No such user here" in parked["last_error"]
    assert outbox.backlog(conn, now=NOW)["parked"] == 1


def test_an_unexpected_mailer_error_is_retried_not_lost(conn):
    class BrokenMailer:
        def send(self, message):
            raise ValueError("bug in a mailer")

    outbox.enqueue(conn, message(), NOW)
    report = outbox.deliver_due(conn, BrokenMailer(), now=NOW)

    assert report.retried == 1 and "ValueError" in report.errors[0]
    working = FlakyMailer(failures=0)
    assert outbox.deliver_due(conn, working, now=NOW + timedelta(minutes=1)).sent == 1


def test_two_concurrent_deliveries_send_each_message_exactly_once(db_path, server):
    setup = connect(db_path)
    ids = [outbox.enqueue(setup, message(n), NOW) for n in range(30)]
    setup.close()

    class SlowSmtp(SmtpMailer):
        def send(self, message):
            super().send(message)
            time.sleep(0.005)  # widen the window in which the other process could grab it

    reports = []

    def run(_: int) -> None:
        connection = connect(db_path)
        reports.append(outbox.deliver_due(connection, SlowSmtp(server.host, server.port), now=NOW))
        connection.close()

    assert at_once(run, 2) == []

    counts = Counter(item.message()["Subject"] for item in server.received)
    assert len(counts) == len(ids) and set(counts.values()) == {1}
    assert sum(report.sent for report in reports) == 30


def test_a_crash_mid_send_is_released_after_ten_minutes_and_sent_again(conn, server):
    outbox.enqueue(conn, message(), NOW)
    with pytest.raises(SimulatedCrash):
        outbox.deliver_due(conn, CrashingMailer(), now=NOW)
    assert outbox.backlog(conn, now=NOW)["sending"] == 1

    too_soon = outbox.deliver_due(conn, smtp(server), now=NOW + timedelta(minutes=9))
    assert too_soon.sent == 0 and server.received == []

    released = outbox.deliver_due(conn, smtp(server), now=NOW + timedelta(minutes=11))
    assert released.sent == 1 and len(server.received) == 1


def test_the_message_id_stays_the_same_across_retries(conn):
    outbox_id = outbox.enqueue(conn, message(), NOW)
    mailer = FlakyMailer(failures=2)
    for minutes in (0, 1, 3):
        outbox.deliver_due(conn, mailer, now=NOW + timedelta(minutes=minutes))

    [sent] = mailer.sent
    assert mailer.calls == 3
    assert sent["Message-ID"].startswith(f"<{outbox_id}.")
    assert sent["Message-ID"].endswith("@beatwatch>")


def test_a_message_with_its_own_message_id_keeps_it(conn):
    mail = message()
    mail["Message-ID"] = "<digest-1@example.org>"
    outbox.enqueue(conn, mail, NOW)
    mailer = FlakyMailer(failures=0)
    outbox.deliver_due(conn, mailer, now=NOW)
    assert mailer.sent[0]["Message-ID"] == "<digest-1@example.org>"


def test_backlog_counts_waiting_and_parked_messages_and_the_oldest_wait(conn):
    assert outbox.backlog(conn, now=NOW)["oldest_queued_age"] is None
    outbox.enqueue(conn, message(1), NOW)
    outbox.enqueue(conn, message(2), NOW + timedelta(minutes=5))

    status = outbox.backlog(conn, now=NOW + timedelta(minutes=10))

    assert (status["queued"], status["parked"], status["sent"]) == (2, 0, 0)
    assert status["oldest_queued_age"] == 600


def test_hits_composed_before_a_crash_are_delivered_after_reopening(db_path, server):
    rule = SimpleNamespace(
        name="ream-naval-base", recipients=["desk@example.org"], mode="immediate"
    )
    article = Article(
        id="c" * 64,
        url="https://coast.example/pier",
        source="coast-post",
        title="New pier photographed",
        text="A new pier at Ream Naval Base was photographed.",
        fetched_at=NOW,
        story_id="c" * 64,
    )
    first = connect(db_path)
    ledger.record_hits(
        first, article, [("ream-naval-base", Passage(text="Ream"))], mode_of={}, now=NOW
    )
    compose.compose_immediate(first, [rule], copies_of=lambda story: [], tz="UTC", now=NOW)
    first.close()  # the process dies before delivering

    second = connect(db_path)
    report = outbox.deliver_due(second, smtp(server), now=NOW + timedelta(minutes=1))
    again = compose.compose_immediate(second, [rule], copies_of=lambda story: [], tz="UTC", now=NOW)
    second.close()

    assert report.sent == 1 and again == 0
    [received] = server.received
    assert received.message()["Subject"] == "[beatwatch] 1 new hit: ream-naval-base"
