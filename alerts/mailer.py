"""Deliver one message: over SMTP, or into a local maildir (the default, no mail server needed).

Errors are sorted for the outbox. ``DeliveryError`` means try again later: the server is down or
slow, it answered 4xx, or the configuration is wrong (bad password, STARTTLS or AUTH required or
unsupported). A configuration problem will not fix itself, but ops can fix it, and then every
held alert should go out, so it is retried rather than parked; its message says what to fix.
``PermanentDeliveryError`` means this message will never be accepted (5xx for the sender, the
recipient or the data) and is parked.
"""

from __future__ import annotations

import logging
import mailbox
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from alerts.email import DEFAULT_SENDER
from alerts.outbox import Mailer
from crawler.errors import ConfigError, DeliveryError, PermanentDeliveryError

logger = logging.getLogger(__name__)

SECURITY_MODES = ("none", "starttls", "ssl")
# 5xx replies that mean "the client is misconfigured" rather than "this message is refused":
# authentication required / too weak / failed, encryption required.
_CONFIG_CODES = {530, 534, 535, 538}

__all__ = ["SECURITY_MODES", "MaildirMailer", "Mailer", "SmtpMailer", "mailer_from_settings"]


class SmtpMailer:
    """Send each message in its own SMTP session, with optional STARTTLS/SSL and AUTH.

    ``ssl_context`` defaults to the system's verified context; pass one to trust a private CA.
    """

    def __init__(
        self,
        host: str,
        port: int,
        security: str = "none",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ):
        if security not in SECURITY_MODES:
            raise ConfigError(
                [
                    (
                        "",
                        "alerts.delivery.smtp.security",
                        f"must be one of {', '.join(SECURITY_MODES)}",
                    )
                ]
            )
        self.host = host
        self.port = port
        self.security = security
        self.username = username or None
        self.password = password or ""
        self.timeout = timeout
        self.ssl_context = ssl_context

    def __repr__(self) -> str:
        return f"SmtpMailer({self.host!r}, {self.port}, security={self.security!r})"

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` to its recipients; raise DeliveryError/PermanentDeliveryError."""
        where = f"{self.host}:{self.port}"
        try:
            smtp = self._session()
            try:
                refused = smtp.send_message(message)
            finally:
                _quit_quietly(smtp)
        except smtplib.SMTPRecipientsRefused as error:
            raise _recipients_error(error.recipients, where) from error
        except smtplib.SMTPAuthenticationError as error:
            raise DeliveryError(
                f"SMTP {where} rejected the login for {self.username!r} "
                f"({_reply(error)}); check alerts.delivery.smtp.username/password"
            ) from error
        except smtplib.SMTPNotSupportedError as error:
            raise DeliveryError(
                f"SMTP {where}: {error}; check alerts.delivery.smtp.security/username"
            ) from error
        except smtplib.SMTPResponseException as error:
            raise _reply_error(error.smtp_code, _reply(error), where) from error
        except (smtplib.SMTPException, OSError) as error:  # refused, reset, timeout, TLS failure
            raise DeliveryError(
                f"SMTP {where} unreachable: {error or type(error).__name__}"
            ) from error
        if refused:
            # Some recipients took it; raising would send it to them again. Log the rest.
            logger.warning("SMTP %s refused some recipients: %s", where, refused)

    def _session(self) -> smtplib.SMTP:
        context = self.ssl_context or ssl.create_default_context()
        if self.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password)
        except BaseException:
            smtp.close()
            raise
        return smtp


class MaildirMailer:
    """Deliver into a maildir folder (created if missing): every message becomes a file in new/."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"MaildirMailer({str(self.path)!r})"

    def send(self, message: EmailMessage) -> None:
        """Write ``message`` into the maildir; a file-system failure is a DeliveryError."""
        try:
            # Made here rather than by Maildir(create=True), which fails when another process
            # creates the same folder at that moment.
            for sub in ("tmp", "new", "cur"):
                (self.path / sub).mkdir(parents=True, exist_ok=True)
            box = mailbox.Maildir(self.path, create=False)
            box.add(message.as_bytes())
        except OSError as error:
            raise DeliveryError(f"cannot write to maildir {self.path}: {error}") from error


def mailer_from_settings(delivery: Any) -> Mailer:
    """The mailer configured in ``alerts.delivery``: its ``.smtp`` settings or its ``.maildir``.

    ``.maildir`` may be a path or an object with ``.path``.
    """
    smtp = getattr(delivery, "smtp", None)
    if smtp is not None:
        return SmtpMailer(
            smtp.host,
            int(smtp.port),
            getattr(smtp, "security", "none") or "none",
            username=getattr(smtp, "username", None),
            password=getattr(smtp, "password", None),
            timeout=float(getattr(smtp, "timeout", None) or 30),
        )
    maildir = getattr(delivery, "maildir", None)
    if maildir is not None:
        return MaildirMailer(getattr(maildir, "path", maildir))
    raise ConfigError([("", "alerts.delivery", "set either smtp or maildir")])


def sender_from_settings(delivery: Any) -> str:
    """The From address for alerts: ``alerts.delivery.smtp.sender``, else beatwatch's default."""
    smtp = getattr(delivery, "smtp", None)
    return getattr(smtp, "sender", None) or DEFAULT_SENDER


def _quit_quietly(smtp: smtplib.SMTP) -> None:
    """End the session; once the message is accepted, a failed QUIT must not cause a resend."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _reply(error: smtplib.SMTPResponseException) -> str:
    text = error.smtp_error
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{error.smtp_code} {text}".strip()


def _reply_error(code: int, reply: str, where: str) -> DeliveryError:
    if code in _CONFIG_CODES:
        return DeliveryError(
            f"SMTP {where} requires other settings ({reply}); check alerts.delivery.smtp"
        )
    if 500 <= code < 600:
        return PermanentDeliveryError(f"SMTP {where} refused the message: {reply}")
    return DeliveryError(f"SMTP {where} deferred the message: {reply}")


def _recipients_error(recipients: dict, where: str) -> DeliveryError:
    replies = {
        addr: (code, msg.decode("utf-8", "replace") if isinstance(msg, bytes) else msg)
        for addr, (code, msg) in recipients.items()
    }
    detail = "; ".join(f"{addr}: {code} {msg}" for addr, (code, msg) in replies.items())
    codes = [code for code, _ in replies.values()]
    if any(code in _CONFIG_CODES for code in codes):
        return DeliveryError(
            f"SMTP {where} requires other settings ({detail}); check alerts.delivery.smtp"
        )
    if codes and all(500 <= code < 600 for code in codes):
        return PermanentDeliveryError(f"SMTP {where} refused the recipient: {detail}")
    return DeliveryError(f"SMTP {where} deferred the recipient: {detail}")
