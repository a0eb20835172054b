"""The MIME message, the .eml outbox file, and send()'s refusals and error mapping (no network)."""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest

from alphatrader.clock import SimClock
from alphatrader.errors import ConfigError, TemporaryError
from alphatrader.notify.email import EmailSender, _map_error, daily_key, message_id_for, write_eml
from alphatrader.notify.report import SECTION_HEADINGS, equity_chart_png, render_html
from tests.unit.notify.factories import SESSION, make_report, make_settings

NOW = datetime(2016, 7, 1, 20, 35, tzinfo=UTC)
SECRET = "hunter2-Secret!"


def sender(tmp_path: Path, **overrides: Any) -> EmailSender:
    values: dict[str, Any] = {
        "EMAIL_TO": "trader@example.com, partner@example.com",
        "EMAIL_FROM": "AlphaTrader <bot@example.com>",
    }
    values.update(overrides)
    return EmailSender(make_settings(tmp_path, **values), clock=SimClock(NOW))


def parts(message: EmailMessage) -> list[str]:
    return [p.get_content_type() for p in message.walk()]


def test_message_structure_headers_and_inline_chart(tmp_path: Path) -> None:
    report = make_report()
    message = sender(tmp_path).build_message(report)
    assert message["Subject"] == "AlgoTrading Daily Signals - 2016-07-01"
    assert message["From"] == "AlphaTrader <bot@example.com>"
    assert message["To"] == "trader@example.com, partner@example.com"
    assert message["Message-ID"] == "<daily-2016-07-01@alphatrader>"
    assert message["Date"] == "Fri, 01 Jul 2016 20:35:00 +0000"
    assert message["Auto-Submitted"] == "auto-generated"
    assert parts(message) == [
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
    ]
    # survive a round trip through bytes, as a mail server would see it
    parsed = message_from_bytes(bytes(message), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert text is not None and html is not None
    text_content, html_content = text.get_content(), html.get_content()
    for content in (text_content, html_content):
        indexes = [content.index(h) for h in SECTION_HEADINGS]
        assert indexes == sorted(indexes)
    assert 'src="cid:equity-chart"' in html_content
    image = next(p for p in parsed.walk() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<equity-chart>"
    assert image.get_content_disposition() == "inline"
    assert image.get_content() == equity_chart_png(report)


def test_subject_template_key_and_sender_fallbacks(tmp_path: Path) -> None:
    s = sender(
        tmp_path,
        EMAIL_FROM=None,
        EMAIL_USERNAME="me@example.com",
        EMAIL_SUBJECT="[{date}] plan {not-a-field}",
    )
    message = s.build_message(make_report(), key="daily-2016-07-01 rerun/2")
    assert message["Subject"] == "[2016-07-01] plan {not-a-field}"
    assert message["From"] == "me@example.com"
    assert message["Message-ID"] == "<daily-2016-07-01-rerun-2@alphatrader>"
    bare = sender(tmp_path, EMAIL_FROM=None, EMAIL_TO=None).build_message(make_report())
    assert bare["From"] == "alphatrader@localhost"
    assert bare["To"] is None
    assert daily_key(SESSION) == "daily-2016-07-01"
    assert message_id_for("a b<c>@d") == "<a-b-c-d@alphatrader>"


def test_no_chart_means_no_image_part(tmp_path: Path) -> None:
    import pandas as pd

    report = make_report(equity_curve=pd.Series(dtype=float))
    message = sender(tmp_path).build_message(report)
    assert parts(message) == ["multipart/alternative", "text/plain", "text/html"]
    html = message.get_body(("html",))
    assert html is not None and "cid:" not in html.get_content()


def test_html_copy_is_saved_with_the_chart_embedded(tmp_path: Path) -> None:
    report = make_report()
    sender(tmp_path).build_message(report, html_dir=tmp_path / "reports")
    copy = (tmp_path / "reports" / "daily-2016-07-01.html").read_text(encoding="utf-8")
    assert 'src="data:image/png;base64,' in copy
    assert "cid:" not in copy
    without_image = re.sub(r'src="data:image/png;base64,[A-Za-z0-9+/=]+"', 'src="X"', copy)
    assert without_image == render_html(report, chart_src="X")
    assert not list((tmp_path / "reports").glob(".*.tmp"))


def test_write_eml_is_atomic_and_parseable(tmp_path: Path) -> None:
    message = sender(tmp_path).build_message(make_report())
    outbox = tmp_path / "var" / "outbox"
    path = write_eml(message, outbox)
    assert path == outbox / "daily-2016-07-01.eml"
    parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert parsed["Message-ID"] == "<daily-2016-07-01@alphatrader>"
    assert parsed["Subject"] == "AlgoTrading Daily Signals - 2016-07-01"
    assert write_eml(message, outbox) == path  # again: same file, same bytes
    assert [p.name for p in outbox.iterdir()] == ["daily-2016-07-01.eml"]


# -- refusals before any connection ---------------------------------------------------------------
class ExplodingSMTP:
    """Stands in for smtplib.SMTP/SMTP_SSL where a test must prove no connection is made."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("must not connect")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smtplib, "SMTP", ExplodingSMTP)
    monkeypatch.setattr(smtplib, "SMTP_SSL", ExplodingSMTP)


@pytest.mark.usefixtures("no_network")
def test_refuses_a_password_over_plain_text_to_a_remote_host(tmp_path: Path) -> None:
    s = sender(
        tmp_path,
        EMAIL_SMTP_SERVER="smtp.example.com",
        EMAIL_SMTP_SECURITY="none",
        EMAIL_USERNAME="bot",
        EMAIL_PASSWORD=SECRET,
    )
    with pytest.raises(ConfigError, match="refusing to send EMAIL_PASSWORD in clear text") as info:
        s.send(s.build_message(make_report()))
    assert SECRET not in str(info.value)


@pytest.mark.usefixtures("no_network")
def test_refuses_without_server_recipients_or_ca_file(tmp_path: Path) -> None:
    unconfigured = sender(tmp_path)
    assert not unconfigured.configured
    with pytest.raises(ConfigError, match="EMAIL_SMTP_SERVER is not set"):
        unconfigured.send(unconfigured.build_message(make_report()))
    nobody = sender(tmp_path, EMAIL_SMTP_SERVER="127.0.0.1", EMAIL_TO=None)
    with pytest.raises(ConfigError, match="EMAIL_TO is not set"):
        nobody.send(nobody.build_message(make_report()))
    missing_ca = sender(tmp_path, EMAIL_SMTP_SERVER="127.0.0.1", EMAIL_CA_FILE=tmp_path / "no.pem")
    with pytest.raises(ConfigError, match=r"EMAIL_CA_FILE .* does not exist"):
        missing_ca.send(missing_ca.build_message(make_report()))
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    bad_ca = sender(tmp_path, EMAIL_SMTP_SERVER="127.0.0.1", EMAIL_CA_FILE=bad)
    with pytest.raises(ConfigError, match="not a readable PEM CA bundle"):
        bad_ca.send(bad_ca.build_message(make_report()))


# -- error mapping --------------------------------------------------------------------------------
WHERE = "smtp.example.com:587 (starttls)"


@pytest.mark.parametrize(
    ("exc", "kind", "fragment"),
    [
        (
            smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication credentials invalid"),
            ConfigError,
            "check EMAIL_USERNAME and EMAIL_PASSWORD",
        ),
        (smtplib.SMTPDataError(451, b"4.3.0 try again later"), TemporaryError, "deferred"),
        (smtplib.SMTPDataError(554, b"5.7.1 spam"), ConfigError, "rejected the email"),
        (smtplib.SMTPSenderRefused(553, b"bad sender", "x@y"), ConfigError, "EMAIL_FROM"),
        (
            smtplib.SMTPRecipientsRefused({"a@x": (550, b"no such user")}),
            ConfigError,
            "check EMAIL_TO",
        ),
        (
            smtplib.SMTPRecipientsRefused({"a@x": (450, b"mailbox busy")}),
            TemporaryError,
            "deferred every recipient",
        ),
        (smtplib.SMTPResponseException(530, b"5.7.0 STARTTLS first"), ConfigError, "TLS"),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), TemporaryError, "retry"),
        (smtplib.SMTPConnectError(421, b"too busy"), TemporaryError, "deferred"),
        (ConnectionRefusedError(111, "Connection refused"), TemporaryError, "is it running"),
        (TimeoutError("timed out"), TemporaryError, "timed out"),
        (socket.gaierror(-2, "Name or service not known"), TemporaryError, "cannot resolve"),
        (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), ConfigError, "465"),
        (
            smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server."),
            ConfigError,
            "EMAIL_SMTP_SECURITY",
        ),
        (
            smtplib.SMTPException("No suitable authentication method found."),
            ConfigError,
            "login method",
        ),
    ],
)
def test_errors_map_to_one_line_temporary_or_config(
    exc: OSError | smtplib.SMTPException, kind: type[Exception], fragment: str
) -> None:
    error = _map_error(exc, WHERE, "bot")
    assert type(error) is kind
    assert fragment in str(error)
    assert "\n" not in str(error)
    assert WHERE in str(error) or "resolve" in str(error)


class FakeSMTP:
    """A scripted SMTP client: the server 'echoes' the password in its 535 reply."""

    sent: ClassVar[list[EmailMessage]] = []

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host = host

    def __enter__(self) -> FakeSMTP:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def ehlo(self) -> None:
        return None

    def has_extn(self, name: str) -> bool:
        return name == "starttls"

    def starttls(self, context: ssl.SSLContext) -> None:
        return None

    def login(self, user: str, password: str) -> None:
        raise smtplib.SMTPAuthenticationError(535, f"bad password {password}".encode())

    def send_message(self, message: EmailMessage, to_addrs: list[str]) -> dict[str, Any]:
        FakeSMTP.sent.append(message)
        return {}


def test_a_password_echoed_by_the_server_is_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    s = sender(
        tmp_path, EMAIL_SMTP_SERVER="smtp.example.com", EMAIL_USERNAME="bot", EMAIL_PASSWORD=SECRET
    )
    with pytest.raises(ConfigError) as info:
        s.send(s.build_message(make_report()))
    assert SECRET not in str(info.value)
    assert "bad password ********" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert SECRET not in caplog.text
    assert FakeSMTP.sent == []


def test_without_a_chart_image_the_html_does_not_reference_one(tmp_path: Path) -> None:
    from dataclasses import replace

    one_point = replace(
        make_report(), equity_curve=pd.Series([1000.0], index=[pd.Timestamp("2016-07-01")])
    )
    message = sender(tmp_path).build_message(one_point)
    assert parts(message) == ["multipart/alternative", "text/plain", "text/html"]
    html = message.get_body(("html",))
    assert html is not None
    assert "cid:" not in html.get_content()
