"""Fan-out that survives a broken channel, ALERT_CHANNELS, and the outbox's deliver_once."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from alphatrader.clock import SimClock
from alphatrader.errors import ConfigError, TemporaryError
from alphatrader.notify.email import EmailSender
from alphatrader.notify.hub import (
    ChannelResult,
    EmailChannel,
    LogChannel,
    NotificationHub,
    build_hub,
    deliver_once,
)
from alphatrader.storage.db import Database
from alphatrader.storage.models import AuditEntry, Notification
from tests.unit.notify.factories import make_report, make_settings

NOW = datetime(2016, 7, 1, 20, 35, tzinfo=UTC)
KEY = "daily-2016-07-01"


class Recording:
    def __init__(self, name: str = "recording") -> None:
        self.name = name
        self.calls: list[tuple[str, str, str | None]] = []

    def send(self, subject: str, text: str, html: str | None = None) -> None:
        self.calls.append((subject, text, html))


class Broken:
    name = "broken"

    def send(self, subject: str, text: str, html: str | None = None) -> None:
        raise TemporaryError("webhook down:\n  connection refused")


class Crash(BaseException):
    """A process dying (kill -9, power loss) at a chosen point; nothing can catch it."""


class FakeSender:
    """A MessageSender that records, optionally fails once or 'crashes' after accepting."""

    def __init__(self, *, configured: bool = True) -> None:
        self.configured = configured
        self.accepted: list[EmailMessage] = []
        self.fail_next: Exception | None = None
        self.crash_after_accept = False

    def send(self, message: EmailMessage) -> None:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.accepted.append(message)  # the server said 250
        if self.crash_after_accept:
            self.crash_after_accept = False
            raise Crash


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'alphatrader.db'}")
    database.migrate()
    return database


def message(tmp_path: Path) -> EmailMessage:
    settings = make_settings(tmp_path, EMAIL_TO="trader@example.com")
    return EmailSender(settings, clock=SimClock(NOW)).build_message(make_report())


def rows(db: Database) -> list[Notification]:
    with db.session() as session:
        return list(session.scalars(select(Notification)))


# -- the hub --------------------------------------------------------------------------------------
def test_a_broken_channel_does_not_block_the_others(caplog: pytest.LogCaptureFixture) -> None:
    first, last = Recording("first"), Recording("last")
    hub = NotificationHub([first, Broken(), last])
    with caplog.at_level(logging.ERROR, logger="alphatrader.notify.hub"):
        results = hub.send("Risk: HALTED", "drawdown 16% above 15%", "<p>halted</p>")
    assert results == [
        ChannelResult("first", True),
        ChannelResult("broken", False, "webhook down: connection refused"),
        ChannelResult("last", True),
    ]
    assert (
        first.calls == last.calls == [("Risk: HALTED", "drawdown 16% above 15%", "<p>halted</p>")]
    )
    assert "notification channel broken failed: webhook down: connection refused" in caplog.text


def test_log_channel_logs_subject_and_text(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="alphatrader.alerts"):
        LogChannel().send("Daily job failed", "data provider timed out")
    assert caplog.records[-1].levelno == logging.WARNING
    assert caplog.records[-1].getMessage() == "Daily job failed: data provider timed out"


def test_build_hub_follows_alert_channels(tmp_path: Path) -> None:
    hub = build_hub(make_settings(tmp_path, ALERT_CHANNELS=" email , log,email"))
    assert [c.name for c in hub.channels] == ["email", "log"]
    assert [c.name for c in build_hub(make_settings(tmp_path)).channels] == ["log", "email"]
    assert build_hub(make_settings(tmp_path, ALERT_CHANNELS="")).channels == ()
    with pytest.raises(ConfigError, match="unknown channel 'slack'; known: email, log"):
        build_hub(make_settings(tmp_path, ALERT_CHANNELS="log,slack"))


def test_email_channel_writes_an_eml_when_smtp_is_not_configured(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, EMAIL_TO="trader@example.com", ALERT_CHANNELS="email")
    hub = build_hub(settings)
    channel = hub.channels[0]
    assert isinstance(channel, EmailChannel)
    assert channel.outbox_dir == settings.var_dir / "outbox"
    assert hub.send("Risk: HALTED", "drawdown 16%") == [ChannelResult("email", True)]
    [eml] = list((settings.var_dir / "outbox").glob("*.eml"))
    parsed = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert parsed["Subject"] == "Risk: HALTED"
    assert parsed["To"] == "trader@example.com"
    assert str(parsed["Message-ID"]).endswith("@alphatrader>")


# -- deliver_once ---------------------------------------------------------------------------------
def test_deliver_once_sends_once_and_records_it(tmp_path: Path, db: Database) -> None:
    sender, msg = FakeSender(), message(tmp_path)
    clock = SimClock(NOW)
    first = deliver_once(db, KEY, msg, sender, tmp_path / "outbox", clock=clock)
    again = deliver_once(db, KEY, msg, sender, tmp_path / "outbox", clock=clock)
    assert len(sender.accepted) == 1
    assert (first.status, again.status) == ("sent", "sent")
    assert first.id == again.id
    [row] = rows(db)
    assert row.dedupe_key == KEY
    assert row.message_id == "<daily-2016-07-01@alphatrader>"
    assert row.subject == "AlgoTrading Daily Signals - 2016-07-01"
    assert row.sent_at == NOW and row.created_at == NOW
    assert row.path is None and row.error is None
    assert not (tmp_path / "outbox").exists()
    with db.session() as session:
        actions = [a.action for a in session.scalars(select(AuditEntry))]
    assert actions == ["notification.sent"]


def test_deliver_once_writes_an_eml_when_unconfigured(tmp_path: Path, db: Database) -> None:
    sender = FakeSender(configured=False)
    row = deliver_once(db, KEY, message(tmp_path), sender, tmp_path / "outbox")
    assert row.status == "written"
    assert row.path == str(tmp_path / "outbox" / "daily-2016-07-01.eml")
    assert Path(row.path).is_file()
    assert sender.accepted == []
    assert deliver_once(db, KEY, message(tmp_path), sender, tmp_path / "outbox").status == "written"


def test_a_failed_send_is_recorded_kept_as_eml_and_retried(tmp_path: Path, db: Database) -> None:
    sender, msg = FakeSender(), message(tmp_path)
    sender.fail_next = TemporaryError("SMTP server refused the connection; is it running?")
    with pytest.raises(TemporaryError):
        deliver_once(db, KEY, msg, sender, tmp_path / "outbox")
    [row] = rows(db)
    assert row.status == "failed"
    assert row.error == "SMTP server refused the connection; is it running?"
    assert row.path is not None and Path(row.path).is_file()  # the plan is not lost
    assert row.sent_at is None
    done = deliver_once(db, KEY, msg, sender, tmp_path / "outbox")  # the rerun tries again
    assert done.status == "sent" and done.error is None
    assert len(sender.accepted) == 1


def test_the_pending_row_is_committed_before_sending(tmp_path: Path, db: Database) -> None:
    seen: list[str] = []

    class Peeking(FakeSender):
        def send(self, message: EmailMessage) -> None:
            seen.extend(r.status for r in rows(db))  # a separate session sees the commit
            super().send(message)

    deliver_once(db, KEY, message(tmp_path), Peeking(), tmp_path / "outbox")
    assert seen == ["pending"]


def test_crash_after_the_server_accepted_sends_a_second_copy_with_the_same_message_id(
    tmp_path: Path, db: Database
) -> None:
    """The documented at-least-once window: 250 received, process dies before the commit."""
    sender, msg = FakeSender(), message(tmp_path)
    sender.crash_after_accept = True
    with pytest.raises(Crash):
        deliver_once(db, KEY, msg, sender, tmp_path / "outbox")
    [row] = rows(db)
    assert row.status == "pending"  # the outbox cannot know the server accepted it
    rerun_message = message(tmp_path)  # the rerun rebuilds the email from the same key
    deliver_once(db, KEY, rerun_message, sender, tmp_path / "outbox")
    assert len(sender.accepted) == 2
    assert {m["Message-ID"] for m in sender.accepted} == {"<daily-2016-07-01@alphatrader>"}
    assert rows(db)[0].status == "sent"
    deliver_once(db, KEY, rerun_message, sender, tmp_path / "outbox")
    assert len(sender.accepted) == 2  # and never a third


def test_a_message_without_message_id_gets_one_from_the_key(tmp_path: Path, db: Database) -> None:
    msg = EmailMessage()
    msg["Subject"] = "hello"
    msg["To"] = "trader@example.com"
    msg.set_content("body")
    row = deliver_once(db, "alert:2016-07-01:halt", msg, FakeSender(), tmp_path / "outbox")
    assert row.message_id == "<alert-2016-07-01-halt@alphatrader>"
    assert msg["Message-ID"] == row.message_id
