"""SmtpMailer against a real SMTP server on loopback; MaildirMailer; building from settings."""

from __future__ import annotations

import importlib.util
import mailbox
from email.message import EmailMessage
from types import SimpleNamespace

import pytest

from alerts.mailer import MaildirMailer, SmtpMailer, mailer_from_settings, sender_from_settings
from concurrently import at_once
from crawler.errors import ConfigError, DeliveryError, PermanentDeliveryError
from smtp_server import (
    PASSWORD,
    USERNAME,
    SmtpTestServer,
    closed_port,
    self_signed_certificate,
    silent_server,
)

needs_cryptography = pytest.mark.skipif(
    importlib.util.find_spec("cryptography") is None,
    reason="cryptography is not installed, so no test certificate can be made for TLS tests",
)


def make_message(to: str = "desk@example.org", subject: str = "Ream pier report") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "beatwatch <alerts@example.org>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = "<7.abc@beatwatch>"
    message.set_content("A new pier was reported at the naval base.\n")
    return message


@pytest.fixture
def server():
    with SmtpTestServer() as running:
        yield running


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_server(certificate):
    with SmtpTestServer(starttls=certificate.server_context()) as running:
        yield running


def test_smtp_mailer_delivers_the_message_to_its_recipient(server):
    SmtpMailer(server.host, server.port).send(make_message())

    [received] = server.received
    assert received.rcpt_tos == ["desk@example.org"]
    assert received.mail_from == "alerts@example.org"
    assert received.message()["Message-ID"] == "<7.abc@beatwatch>"
    assert "naval base" in received.message().get_content()


def test_a_refused_connection_is_a_transient_error():
    with pytest.raises(DeliveryError) as caught:
        SmtpMailer("127.0.0.1", closed_port(), timeout=5).send(make_message())
    assert not isinstance(caught.value, PermanentDeliveryError)
    assert "unreachable" in str(caught.value)


def test_a_server_that_never_answers_times_out_as_a_transient_error():
    with silent_server() as port, pytest.raises(DeliveryError) as caught:
        SmtpMailer("127.0.0.1", port, timeout=0.3).send(make_message())
    assert not isinstance(caught.value, PermanentDeliveryError)


@pytest.mark.parametrize(
    ("reply", "at"),
    [
        ("451 4.3.0 Mailbox busy, try later", "data"),
        ("450 4.2.1 Recipient rate limited", "rcpt"),
    ],
)
def test_a_4xx_reply_is_a_transient_error(server, reply, at):
    server.refuse(reply, at=at)
    with pytest.raises(DeliveryError) as caught:
        SmtpMailer(server.host, server.port).send(make_message())
    assert not isinstance(caught.value, PermanentDeliveryError)
    assert reply.split()[0] in str(caught.value)


@pytest.mark.parametrize(
    ("reply", "at"),
    [
        ("554 5.6.0 Message content rejected", "data"),
        ("550 5.1.1 No such mailbox here", "rcpt"),
    ],
)
def test_a_5xx_refusal_is_a_permanent_error(server, reply, at):
    server.refuse(reply, at=at)
    with pytest.raises(PermanentDeliveryError) as caught:
        SmtpMailer(server.host, server.port).send(make_message())
    assert reply.split()[0] in str(caught.value)
    assert server.received == []


@needs_cryptography
def test_starttls_with_login_delivers(tls_server, certificate):
    mailer = SmtpMailer(
        tls_server.host,
        tls_server.port,
        "starttls",
        username=USERNAME,
        password=PASSWORD,
        ssl_context=certificate.client_context(),
    )
    mailer.send(make_message())
    assert len(tls_server.received) == 1


@needs_cryptography
def test_a_wrong_password_is_retried_and_names_the_settings_to_fix(tls_server, certificate):
    mailer = SmtpMailer(
        tls_server.host,
        tls_server.port,
        "starttls",
        username=USERNAME,
        password="not the password",
        ssl_context=certificate.client_context(),
    )
    with pytest.raises(DeliveryError) as caught:
        mailer.send(make_message())
    assert not isinstance(caught.value, PermanentDeliveryError)
    assert "username/password" in str(caught.value)
    assert tls_server.received == []


@needs_cryptography
def test_a_plain_client_at_a_server_requiring_starttls_is_a_retryable_config_error(tls_server):
    with pytest.raises(DeliveryError) as caught:
        SmtpMailer(tls_server.host, tls_server.port, "none").send(make_message())
    assert not isinstance(caught.value, PermanentDeliveryError)
    assert "530" in str(caught.value)
    assert "alerts.delivery.smtp" in str(caught.value)


@needs_cryptography
def test_an_untrusted_certificate_is_a_transient_error(tls_server):
    # The default context verifies against the system CAs, which do not know the test cert.
    mailer = SmtpMailer(tls_server.host, tls_server.port, "starttls", timeout=5)
    with pytest.raises(DeliveryError) as caught:
        mailer.send(make_message())
    assert not isinstance(caught.value, PermanentDeliveryError)
    assert tls_server.received == []


@needs_cryptography
def test_implicit_tls_delivers(certificate):
    with SmtpTestServer(implicit_tls=certificate.server_context()) as server:
        mailer = SmtpMailer(
            server.host, server.port, "ssl", ssl_context=certificate.client_context()
        )
        mailer.send(make_message())
        assert len(server.received) == 1


def test_an_unknown_security_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="security"):
        SmtpMailer("localhost", 25, "tls-please")


def test_maildir_mailer_creates_the_folders_and_stores_each_message(tmp_path):
    target = tmp_path / "var" / "mail"
    mailer = MaildirMailer(target)
    mailer.send(make_message(subject="first"))
    mailer.send(make_message(subject="second"))

    assert (target / "new").is_dir() and (target / "cur").is_dir() and (target / "tmp").is_dir()
    subjects = sorted(message["Subject"] for message in mailbox.Maildir(target, create=False))
    assert subjects == ["first", "second"]


def test_mailers_delivering_into_a_new_maildir_at_once_all_succeed(tmp_path):
    # Each crawl process has its own mailer; the first deliveries of a new install race to
    # create the folder.
    for round_ in range(20):
        target = tmp_path / f"round-{round_}" / "mail"

        def deliver(n: int, target=target) -> None:
            MaildirMailer(target).send(make_message(subject=f"alert {n}"))

        assert at_once(deliver, 6) == []
        assert len(list((target / "new").iterdir())) == 6


def test_maildir_mailer_reports_an_unwritable_path_as_a_delivery_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the maildir should be")
    with pytest.raises(DeliveryError, match="maildir"):
        MaildirMailer(blocker / "mail").send(make_message())


def test_mailer_from_settings_builds_an_smtp_mailer_from_the_smtp_block():
    smtp = SimpleNamespace(
        host="mail.example.org",
        port=587,
        security="starttls",
        username="bw",
        password="pw",
        sender="beatwatch <alerts@example.org>",
        timeout=12,
    )
    delivery = SimpleNamespace(smtp=smtp, maildir=None)

    mailer = mailer_from_settings(delivery)

    assert isinstance(mailer, SmtpMailer)
    assert (mailer.host, mailer.port, mailer.security) == ("mail.example.org", 587, "starttls")
    assert (mailer.username, mailer.password, mailer.timeout) == ("bw", "pw", 12)
    assert sender_from_settings(delivery) == "beatwatch <alerts@example.org>"


def test_mailer_from_settings_builds_a_maildir_mailer_when_no_smtp_is_set(tmp_path):
    delivery = SimpleNamespace(smtp=None, maildir=str(tmp_path / "mail"))

    mailer = mailer_from_settings(delivery)

    assert isinstance(mailer, MaildirMailer)
    assert mailer.path == tmp_path / "mail"
    assert sender_from_settings(delivery).startswith("beatwatch <")


def test_mailer_from_settings_without_smtp_or_maildir_is_a_config_error():
    with pytest.raises(ConfigError, match=r"alerts\.delivery"):
        mailer_from_settings(SimpleNamespace(smtp=None, maildir=None))
