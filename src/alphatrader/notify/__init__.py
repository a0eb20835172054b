"""Notifications: the daily report email (HTML + text + inline chart), channels, the outbox."""

from __future__ import annotations

from alphatrader.notify.email import EmailSender, daily_key, message_id_for, write_eml
from alphatrader.notify.hub import (
    Channel,
    ChannelResult,
    EmailChannel,
    LogChannel,
    MessageSender,
    NotificationHub,
    build_hub,
    deliver_once,
)
from alphatrader.notify.report import (
    SECTION_HEADINGS,
    DailyReport,
    equity_chart_png,
    render_html,
    render_text,
)

__all__ = [
    "SECTION_HEADINGS",
    "Channel",
    "ChannelResult",
    "DailyReport",
    "EmailChannel",
    "EmailSender",
    "LogChannel",
    "MessageSender",
    "NotificationHub",
    "build_hub",
    "daily_key",
    "deliver_once",
    "equity_chart_png",
    "message_id_for",
    "render_html",
    "render_text",
    "write_eml",
]
