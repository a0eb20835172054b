"""Fan-out of alerts to channels, and idempotent delivery of the daily email through an outbox.

`NotificationHub` sends one message to every channel (log, email); a failing channel never blocks
the others: its error is logged and returned in the result list.

`deliver_once` delivers a built message at most once per dedupe key in the normal case:

1. insert the `notifications` row with status `pending` and COMMIT, before sending;
2. if a row with the key is already `sent` or `written`, do nothing and return it;
3. send over SMTP (or write the .eml when no server is configured), then mark the row
   `sent`/`written` with `sent_at` and COMMIT.

The window between the SMTP server's 250 (accepted) and the commit of step 3 is at-least-once
on purpose: a crash there leaves the row `pending`, and the rerun sends a second copy with the
SAME Message-ID (mail clients and the reader can tell it is the same message). The alternative,
marking the row before sending, could lose the day's plan on a crash; a duplicate is the lesser
harm. A failed send marks the row `failed` (with a fallback .eml copy in the outbox so the plan
can still be read) and re-raises; the next run tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Final, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from alphatrader.clock import Clock, LiveClock
from alphatrader.config import Settings
from alphatrader.errors import AlphaTraderError, ConfigError
from alphatrader.notify.email import EmailSender, message_id_for, write_eml
from alphatrader.storage.db import Database, audit
from alphatrader.storage.models import Notification

log = logging.getLogger(__name__)

DONE_STATUSES: Final = frozenset({"sent", "written"})


class Channel(Protocol):
    """Something that can carry an alert: a name, and `send` that raises on failure."""

    @property
    def name(self) -> str: ...

    def send(self, subject: str, text: str, html: str | None = None) -> None: ...


class MessageSender(Protocol):
    """What `deliver_once` needs of a sender (`EmailSender` is one)."""

    @property
    def configured(self) -> bool: ...

    def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class ChannelResult:
    channel: str
    ok: bool
    error: str | None = None


class LogChannel:
    """Alerts as log records (level WARNING by default), to the `alphatrader.alerts` logger."""

    name = "log"

    def __init__(self, logger: logging.Logger | None = None, level: int = logging.WARNING) -> None:
        self.logger = logger or logging.getLogger("alphatrader.alerts")
        self.level = level

    def send(self, subject: str, text: str, html: str | None = None) -> None:
        self.logger.log(self.level, "%s: %s", subject, text)


class EmailChannel:
    """Alerts by email through `EmailSender`; an .eml in `outbox_dir` when SMTP is unconfigured."""

    name = "email"

    def __init__(self, sender: EmailSender, outbox_dir: Path) -> None:
        self.sender = sender
        self.outbox_dir = Path(outbox_dir)

    def send(self, subject: str, text: str, html: str | None = None) -> None:
        message = self.sender.build_alert(subject, text, html)
        if self.sender.configured:
            self.sender.send(message)
        else:
            path = write_eml(message, self.outbox_dir)
            log.info("no SMTP server configured; alert written to %s", path)


class NotificationHub:
    """Sends each message to every channel; one channel's failure never stops the others."""

    def __init__(self, channels: Sequence[Channel]) -> None:
        self._channels = tuple(channels)

    @property
    def channels(self) -> tuple[Channel, ...]:
        return self._channels

    def send(self, subject: str, text: str, html: str | None = None) -> list[ChannelResult]:
        results: list[ChannelResult] = []
        for channel in self._channels:
            try:
                channel.send(subject, text, html)
            except Exception as exc:  # a broken channel must not block the others
                message = " ".join(str(exc).split()) or type(exc).__name__
                log.error("notification channel %s failed: %s", channel.name, message)
                results.append(ChannelResult(channel.name, False, message))
            else:
                results.append(ChannelResult(channel.name, True))
        return results


KNOWN_CHANNELS: Final = ("email", "log")


def build_hub(settings: Settings, *, outbox_dir: Path | None = None) -> NotificationHub:
    """The hub for ALERT_CHANNELS (comma list of `log`, `email`; order kept, repeats dropped)."""
    outbox = outbox_dir if outbox_dir is not None else settings.var_dir / "outbox"
    names = [n.strip().lower() for n in settings.alert_channels.split(",") if n.strip()]
    channels: list[Channel] = []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            continue
        seen.add(name)
        if name == "log":
            channels.append(LogChannel())
        elif name == "email":
            channels.append(EmailChannel(EmailSender(settings), outbox))
        else:
            raise ConfigError(
                f"ALERT_CHANNELS has unknown channel {name!r}; known: {', '.join(KNOWN_CHANNELS)}"
            )
    return NotificationHub(channels)


# -- the outbox -----------------------------------------------------------------------------------
def _claim(
    db: Database, dedupe_key: str, message: EmailMessage, channel: str, now: datetime
) -> tuple[Notification, bool]:
    """The row for `dedupe_key` and whether it is new (inserted `pending` and committed)."""
    with db.session() as session:
        row = session.scalars(
            select(Notification).where(Notification.dedupe_key == dedupe_key)
        ).one_or_none()
        if row is not None:
            return row, False
    try:
        with db.session() as session:
            row = Notification(
                dedupe_key=dedupe_key,
                channel=channel,
                subject=str(message.get("Subject", "")),
                message_id=str(message["Message-ID"]),
                status="pending",
                created_at=now,
            )
            session.add(row)
        return row, True
    except IntegrityError:  # another process inserted the key between our read and insert
        with db.session() as session:
            row = session.scalars(
                select(Notification).where(Notification.dedupe_key == dedupe_key)
            ).one()
        return row, False


def _finish(
    db: Database, row_id: int, status: str, now: datetime, path: Path | None, error: str | None
) -> Notification:
    with db.session() as session:
        row = session.get_one(Notification, row_id)
        row.status = status
        row.path = str(path) if path is not None else row.path
        row.error = error
        if status in DONE_STATUSES:
            row.sent_at = now
        audit(
            session,
            "notify",
            f"notification.{status}",
            dedupe_key=row.dedupe_key,
            message_id=row.message_id,
            channel=row.channel,
            **({"error": error} if error else {}),
        )
    return row


def deliver_once(
    db: Database,
    dedupe_key: str,
    message: EmailMessage,
    sender: MessageSender,
    outbox_dir: Path,
    *,
    clock: Clock | None = None,
) -> Notification:
    """Deliver `message` unless the key was already delivered; returns the outbox row.

    Sends over SMTP when `sender.configured`, else writes `outbox_dir/<id>.eml` (status
    `written`). At-least-once: a crash after the server accepted the message and before the
    final commit leaves the row `pending`, and the next call sends again with the same
    Message-ID (see the module docstring). A delivery error marks the row `failed`, writes a
    fallback .eml copy and re-raises.
    """
    clock = clock or LiveClock()
    if message.get("Message-ID") is None:
        message["Message-ID"] = message_id_for(dedupe_key)
    row, new = _claim(db, dedupe_key, message, "email", clock.now())
    if row.status in DONE_STATUSES:
        log.info(
            "notification %s already %s at %s (%s); not sending again",
            dedupe_key,
            row.status,
            row.sent_at,
            row.message_id,
        )
        return row
    if not new:  # pending: an earlier run may have crashed after the server accepted it
        log.warning(
            "notification %s was left %s by an earlier run; delivering again with the same "
            "Message-ID %s (at-least-once)",
            dedupe_key,
            row.status,
            row.message_id,
        )
    try:
        if sender.configured:
            sender.send(message)
            path: Path | None = None
            status = "sent"
        else:
            path = write_eml(message, outbox_dir)
            status = "written"
    except AlphaTraderError as exc:
        fallback: Path | None = None
        try:
            fallback = write_eml(message, outbox_dir)
        except OSError as write_exc:  # pragma: no cover - the disk is the last resort
            log.error("could not write the fallback copy: %s", write_exc)
        _finish(db, row.id, "failed", clock.now(), fallback, str(exc))
        if fallback is not None:
            log.warning("email %s failed (%s); a copy is at %s", dedupe_key, exc, fallback)
        raise
    done = _finish(db, row.id, status, clock.now(), path, None)
    log.info("notification %s %s (%s)", dedupe_key, status, done.message_id)
    return done
