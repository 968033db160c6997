"""A real SMTP server on loopback for tests (aiosmtpd in a thread), plus TLS and failure helpers.

``SmtpTestServer`` binds 127.0.0.1 on a free port, records every accepted message, can be told to
refuse with any reply at RCPT or DATA, and can require STARTTLS + AUTH (or speak implicit TLS)
with a self-signed certificate made at test time. ``closed_port()`` gives a port where nothing
listens (connection refused); ``silent_server()`` accepts connections and never answers.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"
USERNAME = "alerts"
PASSWORD = "correct horse"


@dataclass(frozen=True)
class Received:
    """One message the server accepted: the envelope and the bytes of the message."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    def message(self) -> EmailMessage:
        """The message parsed with the modern email policy."""
        return BytesParser(policy=policy.default).parsebytes(self.content)


class _RecordingHandler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.refuse_rcpt: str | None = None
        self.refuse_data: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_data:
            return self.refuse_data
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
        return "250 Message accepted for delivery"


class _LoopbackController(Controller):
    """aiosmtpd's Controller, bound to port 0 so the OS picks a free port."""

    def _create_server(self):
        async def bind():
            server = await self.loop.create_server(
                self._factory_invoker, host=self.hostname, port=0, ssl=self.ssl_context
            )
            self.port = server.sockets[0].getsockname()[1]
            return server

        return bind()


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USERNAME.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


class SmtpTestServer:
    """A recording SMTP server on 127.0.0.1; use as a context manager or start()/stop().

    ``starttls``: a server-side SSLContext; STARTTLS and AUTH (``USERNAME``/``PASSWORD``) are then
    required before MAIL. ``implicit_tls``: a server-side SSLContext for SMTPS instead.
    """

    def __init__(
        self, *, starttls: ssl.SSLContext | None = None, implicit_tls: ssl.SSLContext | None = None
    ):
        self.handler = _RecordingHandler()
        options: dict = {}
        if starttls is not None:
            options = {
                "tls_context": starttls,
                "require_starttls": True,
                "auth_required": True,
                "auth_require_tls": True,
                "authenticator": _authenticate,
            }
        self._controller = _LoopbackController(
            self.handler,
            hostname=HOST,
            port=0,
            ssl_context=implicit_tls,
            ready_timeout=30,  # aiosmtpd's 5 s can pass on a loaded CI machine
            **options,
        )
        self.host = HOST

    @property
    def port(self) -> int:
        """The port the server listens on (valid once started)."""
        return self._controller.port

    def start(self) -> SmtpTestServer:
        """Start serving in a background thread."""
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop the server and free its port."""
        self._controller.stop()

    def __enter__(self) -> SmtpTestServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def refuse(self, reply: str, *, at: str = "data") -> None:
        """Answer every RCPT (``at="rcpt"``) or DATA with ``reply``, e.g. ``"451 4.3.0 later"``."""
        if at == "rcpt":
            self.handler.refuse_rcpt = reply
        else:
            self.handler.refuse_data = reply

    def accept(self) -> None:
        """Stop refusing: accept every message again."""
        self.handler.refuse_rcpt = None
        self.handler.refuse_data = None

    def clear(self) -> None:
        """Forget the messages received so far and accept again."""
        self.accept()
        with self.handler.lock:
            self.handler.received.clear()

    @property
    def received(self) -> list[Received]:
        """Every message accepted so far, in arrival order."""
        with self.handler.lock:
            return list(self.handler.received)

    def messages(self) -> list[EmailMessage]:
        """The accepted messages, parsed."""
        return [item.message() for item in self.received]


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for 127.0.0.1/localhost and the contexts that use it."""

    cert_path: Path
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        """A server-side context presenting the certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only this certificate."""
        return ssl.create_default_context(cafile=str(self.cert_path))


def self_signed_certificate(directory: Path) -> Certificate:
    """Generate a key and a self-signed certificate valid for 127.0.0.1 and localhost.

    Needs ``cryptography``; callers skip TLS tests when it is missing.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "beatwatch test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "smtp-cert.pem"
    key_path = directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_path, key_path)


def closed_port() -> int:
    """A loopback port with nothing listening on it: connecting is refused."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections (kernel backlog) but never sends a greeting."""
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen(8)
        yield listener.getsockname()[1]
