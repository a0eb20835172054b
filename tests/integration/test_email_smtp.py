"""The daily email against a real SMTP server on loopback (aiosmtpd): TLS, AUTH, failures."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from alphatrader.config import Settings
from alphatrader.errors import ConfigError, TemporaryError
from alphatrader.notify.email import EmailSender, daily_key
from alphatrader.notify.hub import ChannelResult, EmailChannel, NotificationHub, deliver_once
from alphatrader.notify.report import SECTION_HEADINGS
from alphatrader.storage.db import Database
from alphatrader.storage.models import Notification
from tests.fakes.smtp import Cert, SmtpServer, free_port, self_signed_cert, smtp_server
from tests.unit.notify.factories import EMAIL_ENV, SESSION, make_report, make_settings

pytestmark = [
    pytest.mark.timeout(120),
    # aiosmtpd warns about AUTH without STARTTLS; over implicit TLS (and on loopback) it is fine
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

USER, PASSWORD = "bot@example.com", "s3cret-Pa55"
TO = "trader@example.com, partner@example.com"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in EMAIL_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def starttls_server(cert: Cert) -> Iterator[SmtpServer]:
    with smtp_server(security="starttls", cert=cert, auth=(USER, PASSWORD)) as server:
        yield server


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'alphatrader.db'}")
    database.migrate()
    return database


def settings_for(server: SmtpServer, tmp_path: Path, **extra: Any) -> Settings:
    return make_settings(tmp_path, **server.settings(to=TO, **extra))


def build(settings: Settings) -> tuple[EmailSender, EmailMessage]:
    sender = EmailSender(settings, timeout=10)
    return sender, sender.build_message(make_report())


def in_order(content: str, needles: tuple[str, ...]) -> bool:
    indexes = [content.find(n) for n in needles]
    return all(i >= 0 for i in indexes) and indexes == sorted(indexes)


def test_daily_email_arrives_over_required_starttls_with_login(
    starttls_server: SmtpServer, tmp_path: Path
) -> None:
    sender, message = build(settings_for(starttls_server, tmp_path))
    sender.send(message)
    [received] = starttls_server.messages
    assert received.tls  # the server refuses MAIL before STARTTLS (require_starttls)
    assert received.login == USER
    assert received.rcpt_tos == ("trader@example.com", "partner@example.com")
    assert received.mail_from == "alphatrader@example.com"
    got = received.message
    assert got["Subject"] == "AlgoTrading Daily Signals - 2016-07-01"
    assert got["To"] == "trader@example.com, partner@example.com"
    assert got["Message-ID"] == "<daily-2016-07-01@alphatrader>"
    assert got["Date"] is not None
    assert [p.get_content_type() for p in got.walk()] == [
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
    ]
    text, html = got.get_body(("plain",)), got.get_body(("html",))
    assert text is not None and html is not None
    assert in_order(text.get_content(), SECTION_HEADINGS)
    assert in_order(html.get_content(), tuple(f">{h}</h2>" for h in SECTION_HEADINGS))
    assert 'src="cid:equity-chart"' in html.get_content()
    [image] = [p for p in got.walk() if p.get_content_type() == "image/png"]
    assert image["Content-ID"] == "<equity-chart>"
    assert image.get_content().startswith(b"\x89PNG\r\n\x1a\n")
    assert PASSWORD.encode() not in received.raw


def test_ssl_mode_uses_implicit_tls(cert: Cert, tmp_path: Path) -> None:
    with smtp_server(security="ssl", cert=cert, auth=(USER, PASSWORD)) as server:
        sender, message = build(settings_for(server, tmp_path))
        sender.send(message)
        [received] = server.messages
    assert received.tls and received.login == USER
    assert received.message["Message-ID"] == "<daily-2016-07-01@alphatrader>"


def test_plain_relay_on_loopback_may_take_a_login(tmp_path: Path) -> None:
    with smtp_server(security="none", auth=(USER, PASSWORD)) as server:
        sender, message = build(settings_for(server, tmp_path))
        sender.send(message)
        [received] = server.messages
    assert not received.tls and received.login == USER


def test_starttls_not_offered_is_refused_before_login(tmp_path: Path) -> None:
    with smtp_server(security="none", auth=(USER, PASSWORD)) as plain:
        settings = make_settings(tmp_path, **plain.settings(to=TO, EMAIL_SMTP_SECURITY="starttls"))
        sender, message = build(settings)
        with pytest.raises(ConfigError, match="does not offer STARTTLS; refusing") as info:
            sender.send(message)
        assert plain.messages == []
        assert plain.handler.messages == []
    assert "\n" not in str(info.value)


def test_server_requiring_starttls_rejects_a_plain_client(
    starttls_server: SmtpServer, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path,
        **starttls_server.settings(
            to=TO, EMAIL_SMTP_SECURITY="none", EMAIL_USERNAME=None, EMAIL_PASSWORD=None
        ),
    )
    sender, message = build(settings)
    with pytest.raises(ConfigError, match="530"):
        sender.send(message)
    assert starttls_server.messages == []


def test_wrong_password_is_a_one_line_config_error_without_the_password(
    starttls_server: SmtpServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-Pa55word"
    settings = make_settings(tmp_path, **starttls_server.settings(to=TO, password=wrong))
    sender, message = build(settings)
    with caplog.at_level(logging.DEBUG), pytest.raises(ConfigError) as info:
        sender.send(message)
    text = str(info.value)
    assert "535" in text and "check EMAIL_USERNAME and EMAIL_PASSWORD" in text
    assert "\n" not in text
    assert wrong not in text and PASSWORD not in text
    assert wrong not in caplog.text
    assert starttls_server.messages == []


def test_untrusted_certificate_is_a_config_error(
    starttls_server: SmtpServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, **starttls_server.settings(to=TO, EMAIL_CA_FILE=None))
    sender, message = build(settings)
    with pytest.raises(ConfigError, match=r"not trusted.*EMAIL_CA_FILE"):
        sender.send(message)
    assert starttls_server.messages == []


def test_server_down_is_a_temporary_error(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    settings = make_settings(
        tmp_path,
        EMAIL_SMTP_SERVER="127.0.0.1",
        EMAIL_SMTP_PORT=port,
        EMAIL_SMTP_SECURITY="starttls",
        EMAIL_TO=TO,
    )
    sender, message = build(settings)
    with pytest.raises(TemporaryError, match="refused the connection") as info:
        sender.send(message)
    assert info.value.exit_code == 75


def test_no_smtp_server_writes_the_eml_to_the_outbox(tmp_path: Path, db: Database) -> None:
    settings = make_settings(tmp_path, EMAIL_TO=TO)
    sender, message = build(settings)
    outbox = settings.var_dir / "outbox"
    row = deliver_once(db, daily_key(SESSION), message, sender, outbox)
    assert row.status == "written"
    assert row.path == str(outbox / "daily-2016-07-01.eml")
    raw = Path(row.path).read_bytes()
    assert b"Message-ID: <daily-2016-07-01@alphatrader>" in raw
    assert b"Content-ID: <equity-chart>" in raw


def test_deliver_once_twice_sends_one_email(
    starttls_server: SmtpServer, tmp_path: Path, db: Database
) -> None:
    sender, message = build(settings_for(starttls_server, tmp_path))
    key = daily_key(SESSION)
    first = deliver_once(db, key, message, sender, tmp_path / "outbox")
    _, rebuilt = build(settings_for(starttls_server, tmp_path))  # a rerun of the daily job
    second = deliver_once(db, key, rebuilt, sender, tmp_path / "outbox")
    assert (first.status, second.status) == ("sent", "sent")
    assert len(starttls_server.messages) == 1
    with db.session() as session:
        assert len(list(session.scalars(select(Notification)))) == 1


class _Crash(BaseException):
    pass


class CrashAfterAccept(EmailSender):
    """Sends for real, then dies before deliver_once can commit `sent` (kill -9 stand-in)."""

    def send(self, message: EmailMessage) -> None:
        super().send(message)
        raise _Crash


def test_crash_after_250_resends_with_the_same_message_id(
    starttls_server: SmtpServer, tmp_path: Path, db: Database
) -> None:
    """At-least-once by design: never lose the plan; a duplicate is recognisable by its id."""
    settings = settings_for(starttls_server, tmp_path)
    key = daily_key(SESSION)
    crashing = CrashAfterAccept(settings, timeout=10)
    with pytest.raises(_Crash):
        deliver_once(db, key, crashing.build_message(make_report()), crashing, tmp_path / "outbox")
    assert len(starttls_server.messages) == 1  # the server has it ...
    with db.session() as session:
        assert session.scalars(select(Notification.status)).one() == "pending"  # ... we don't know
    sender, rebuilt = build(settings)
    assert deliver_once(db, key, rebuilt, sender, tmp_path / "outbox").status == "sent"
    assert deliver_once(db, key, rebuilt, sender, tmp_path / "outbox").status == "sent"
    ids = [m.message["Message-ID"] for m in starttls_server.messages]
    assert ids == ["<daily-2016-07-01@alphatrader>"] * 2  # two copies, one identity, no third


def test_hub_with_a_broken_channel_still_emails(
    starttls_server: SmtpServer, tmp_path: Path
) -> None:
    class Broken:
        name = "webhook"

        def send(self, subject: str, text: str, html: str | None = None) -> None:
            raise ConnectionError("webhook unreachable")

    settings = settings_for(starttls_server, tmp_path)
    email = EmailChannel(EmailSender(settings, timeout=10), tmp_path / "outbox")
    hub = NotificationHub([Broken(), email])
    results = hub.send("Risk state HALTED", "Drawdown 16.00% is above MAX_DRAWDOWN_PCT 15.")
    assert results == [
        ChannelResult("webhook", False, "webhook unreachable"),
        ChannelResult("email", True),
    ]
    [received] = starttls_server.messages
    assert received.message["Subject"] == "Risk state HALTED"
    body = received.message.get_body(("plain",))
    assert body is not None and "MAX_DRAWDOWN_PCT 15" in body.get_content()
    assert not (tmp_path / "outbox").exists()
