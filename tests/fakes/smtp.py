"""A real SMTP server on loopback (aiosmtpd) for the email tests, and a self-signed certificate.

    cert = self_signed_cert(tmp_path)                       # CA-less: the cert trusts itself
    with smtp_server(security="starttls", cert=cert, auth=("bot", "s3cret")) as server:
        settings = load_settings(**server.settings(to="me@example.com"))
        ...
        server.messages[0].message["Subject"]

`security`: "none" (plain), "starttls" (STARTTLS offered and REQUIRED before any mail) or "ssl"
(implicit TLS from the first byte). With `auth`, AUTH PLAIN/LOGIN is required before MAIL. Every
message the server accepts is parsed and kept, with its envelope and whether it came over TLS.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

Security = Literal["none", "starttls", "ssl"]
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Cert:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def self_signed_cert(directory: Path, common_name: str = "localhost") -> Cert:
    """A self-signed certificate for localhost and 127.0.0.1 (cryptography, else openssl)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    try:
        _with_cryptography(cert_path, key_path, common_name)
    except ImportError:
        openssl = shutil.which("openssl")
        if openssl is None:  # pragma: no cover - both are on every machine we run on
            import pytest

            pytest.skip("neither the cryptography package nor openssl is available")
        subprocess.run(
            [
                openssl,
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-sha256",
                "-days",
                "2",
                "-subj",
                f"/CN={common_name}",
                "-addext",
                f"subjectAltName=DNS:{common_name},IP:{LOOPBACK}",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-keyout",
                str(key_path),
                "-out",
                str(cert_path),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    return Cert(cert_path, key_path)


def _with_cryptography(cert_path: Path, key_path: Path, common_name: str) -> None:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(common_name), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


@dataclass(frozen=True)
class Received:
    """One accepted message: envelope, parsed message, raw bytes, TLS and login state."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage
    tls: bool
    login: str | None


@dataclass
class CollectingHandler:
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        implicit_tls = server.transport is not None and bool(
            server.transport.get_extra_info("sslcontext")
        )
        received = Received(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            raw=raw,
            message=parsed,
            tls=session.ssl is not None or implicit_tls,
            login=login,
        )
        with self.lock:
            self.messages.append(received)
        return "250 2.0.0 Message accepted for delivery"


class _Authenticator:
    def __init__(self, username: str, password: str) -> None:
        self.username = username.encode()
        self.password = password.encode()
        self.attempts: list[str] = []

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.attempts.append(auth_data.login.decode())
        ok = auth_data.login == self.username and auth_data.password == self.password
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@dataclass
class SmtpServer:
    host: str
    port: int
    security: Security
    handler: CollectingHandler
    cert: Cert | None
    auth: tuple[str, str] | None

    @property
    def messages(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.messages)

    def settings(
        self, *, to: str = "trader@example.com", password: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """`load_settings(**...)` overrides that point the app at this server."""
        values: dict[str, Any] = {
            "EMAIL_SMTP_SERVER": self.host,
            "EMAIL_SMTP_PORT": self.port,
            "EMAIL_SMTP_SECURITY": self.security,
            "EMAIL_TO": to,
            "EMAIL_FROM": "alphatrader@example.com",
        }
        if self.cert is not None:
            values["EMAIL_CA_FILE"] = self.cert.cert
        if self.auth is not None:
            values["EMAIL_USERNAME"] = self.auth[0]
            values["EMAIL_PASSWORD"] = self.auth[1] if password is None else password
        values.update(extra)
        return values


def free_port(host: str = LOOPBACK) -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_server(
    *,
    security: Security = "none",
    cert: Cert | None = None,
    auth: tuple[str, str] | None = None,
    host: str = LOOPBACK,
) -> Iterator[SmtpServer]:
    """Run an aiosmtpd server on a free loopback port for the duration of the block."""
    if security != "none" and cert is None:
        raise ValueError(f"security={security!r} needs a certificate")
    handler = CollectingHandler()
    kwargs: dict[str, Any] = {"hostname": host, "ready_timeout": 10.0}
    if security == "starttls":
        assert cert is not None
        kwargs.update(tls_context=cert.server_context(), require_starttls=True)
    elif security == "ssl":
        assert cert is not None
        kwargs.update(ssl_context=cert.server_context())
    if auth is not None:
        kwargs.update(
            authenticator=_Authenticator(*auth),
            auth_required=True,
            # implicit TLS is TLS too; aiosmtpd only knows about STARTTLS
            auth_require_tls=security == "starttls",
        )
    controller: Controller | None = None
    for _attempt in range(5):  # the port may be taken between free_port() and bind
        port = free_port(host)
        candidate = Controller(handler, port=port, **kwargs)
        try:
            candidate.start()
        except (OSError, RuntimeError):  # pragma: no cover - a lost race for the port
            continue
        controller = candidate
        break
    if controller is None:  # pragma: no cover
        raise RuntimeError("could not start the test SMTP server")
    try:
        yield SmtpServer(host, port, security, handler, cert, auth)
    finally:
        controller.stop()
