"""The daily email: build the MIME message, send it over SMTP, or write it as an .eml file.

Message layout (what a mail client expects for an HTML mail with an inline picture):

    multipart/alternative
    ├── text/plain                 render_text(report)
    └── multipart/related
        ├── text/html              render_html(report), <img src="cid:equity-chart">
        └── image/png              Content-ID: <equity-chart>, inline

The Message-ID is derived from a key (`<daily-2016-07-01@alphatrader>` by default), so a copy
sent twice is recognisable as the same message; the Subject is EMAIL_SUBJECT with `{date}`
replaced by the session's ISO date.

Transport security (EMAIL_SMTP_SECURITY):

* `ssl`      implicit TLS from the first byte (SMTP_SSL, usually port 465);
* `starttls` plain connect, then STARTTLS before anything else (usually port 587). A server that
  does not offer STARTTLS is refused: credentials are never sent in clear text;
* `none`     no TLS; a login is allowed only to a loopback host (a local relay).

The server certificate is verified (hostname included) against the system CAs, or only against
EMAIL_CA_FILE when it is set. Failures become one-line errors: `TemporaryError` for what may pass
(connection refused or dropped, timeouts, 4xx replies) and `ConfigError` for what needs a fix
(rejected login, TLS refused or untrusted, 5xx replies). The password never appears in a message
or a log line; smtplib's debug output (which would show the AUTH exchange) is never enabled.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import smtplib
import socket
import ssl
from datetime import date
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from pathlib import Path
from typing import Final

from alphatrader.clock import Clock, LiveClock
from alphatrader.config import Settings
from alphatrader.errors import ConfigError, TemporaryError
from alphatrader.files import atomic_write
from alphatrader.notify.report import (
    CHART_CID,
    DailyReport,
    equity_chart_png,
    png_data_uri,
    render_html,
    render_text,
)

log = logging.getLogger(__name__)

MESSAGE_ID_DOMAIN: Final = "alphatrader"
DEFAULT_FROM: Final = "alphatrader@localhost"
DEFAULT_TIMEOUT: Final = 30.0
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def daily_key(session: date) -> str:
    """The dedupe key (and Message-ID local part) of a session's daily email."""
    return f"daily-{session.isoformat()}"


def message_id_for(key: str) -> str:
    """`<key@alphatrader>`, with characters a Message-ID cannot hold replaced by '-'."""
    local = _KEY_UNSAFE.sub("-", key).strip("-.") or "message"
    return f"<{local}@{MESSAGE_ID_DOMAIN}>"


def _is_loopback(host: str) -> bool:
    if host.lower() in {"localhost", "localhost.localdomain", "ip6-localhost"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def write_eml(message: EmailMessage, outbox_dir: Path) -> Path:
    """Write `message` to `outbox_dir/<message-id local part>.eml` atomically; returns the path.

    Used when no SMTP server is configured (and as a fallback copy when sending fails). Writing
    the same message again replaces the file with identical content.
    """
    mid = str(message.get("Message-ID") or make_msgid(domain=MESSAGE_ID_DOMAIN))
    stem = _KEY_UNSAFE.sub("-", mid.strip("<>").split("@", 1)[0]).strip("-.") or "message"
    return atomic_write(Path(outbox_dir) / f"{stem}.eml", bytes(message))


class EmailSender:
    """Builds and sends the daily email from `Settings` (EMAIL_*)."""

    def __init__(
        self, settings: Settings, *, timeout: float = DEFAULT_TIMEOUT, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        self.timeout = timeout
        self.clock: Clock = clock or LiveClock()

    # -- configuration ---------------------------------------------------------------------
    @property
    def configured(self) -> bool:
        """True when EMAIL_SMTP_SERVER is set: send over SMTP; otherwise write .eml files."""
        return bool(self.settings.email_smtp_server)

    @property
    def sender_address(self) -> str:
        return self.settings.email_from or self.settings.email_username or DEFAULT_FROM

    @property
    def endpoint(self) -> str:
        s = self.settings
        return f"{s.email_smtp_server}:{s.email_smtp_port} ({s.email_smtp_security})"

    def subject_for(self, session: date) -> str:
        return self.settings.email_subject.replace("{date}", session.isoformat())

    # -- building --------------------------------------------------------------------------
    def _envelope(self, subject: str, message_id: str) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = self.sender_address
        recipients = self.settings.email_recipients()
        if recipients:
            message["To"] = ", ".join(recipients)
        message["Date"] = format_datetime(self.clock.now())
        message["Message-ID"] = message_id
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
        message["X-Mailer"] = "alphatrader"
        return message

    def build_message(
        self, report: DailyReport, *, key: str | None = None, html_dir: Path | None = None
    ) -> EmailMessage:
        """The daily email for `report`; Message-ID from `key` (default `daily-<session>`).

        With `html_dir`, a browsable copy `daily-<session>.html` (the chart as a data: URI) is
        also written there atomically.
        """
        png = equity_chart_png(report)
        message = self._envelope(
            self.subject_for(report.session), message_id_for(key or daily_key(report.session))
        )
        message["X-AlphaTrader-Session"] = report.session.isoformat()
        message.set_content(render_text(report), subtype="plain", charset="utf-8")
        html = render_html(report, chart_src=f"cid:{CHART_CID}" if png is not None else None)
        message.add_alternative(html, subtype="html", charset="utf-8")
        if png is not None:
            parts = message.get_payload()
            assert isinstance(parts, list)
            html_part = parts[1]
            assert isinstance(html_part, EmailMessage)
            html_part.add_related(
                png,
                maintype="image",
                subtype="png",
                cid=f"<{CHART_CID}>",
                disposition="inline",
                filename=f"{CHART_CID}.png",
            )
        if html_dir is not None:
            copy = render_html(report, chart_src=png_data_uri(png) if png is not None else None)
            path = Path(html_dir) / f"daily-{report.session.isoformat()}.html"
            atomic_write(path, copy.encode("utf-8"))
            log.info("daily report saved to %s", path)
        return message

    def build_alert(
        self, subject: str, text: str, html: str | None = None, *, key: str | None = None
    ) -> EmailMessage:
        """A plain alert (text, optionally HTML); Message-ID from `key` or unique."""
        mid = message_id_for(key) if key else make_msgid("alert", domain=MESSAGE_ID_DOMAIN)
        message = self._envelope(subject, mid)
        message.set_content(text, subtype="plain", charset="utf-8")
        if html is not None:
            message.add_alternative(html, subtype="html", charset="utf-8")
        return message

    # -- sending ---------------------------------------------------------------------------
    def _ssl_context(self) -> ssl.SSLContext:
        ca_file = self.settings.email_ca_file
        if ca_file is None:
            return ssl.create_default_context()
        if not Path(ca_file).is_file():
            raise ConfigError(f"EMAIL_CA_FILE {ca_file} does not exist or is not a file")
        try:
            return ssl.create_default_context(cafile=str(ca_file))
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                f"EMAIL_CA_FILE {ca_file} is not a readable PEM CA bundle: {_one_line(str(exc))}"
            ) from None

    def send(self, message: EmailMessage) -> None:
        """Deliver `message` over SMTP as configured; raises TemporaryError or ConfigError."""
        s = self.settings
        host = s.email_smtp_server
        if not host:
            raise ConfigError("EMAIL_SMTP_SERVER is not set; nothing to send the email through")
        recipients = [addr for _name, addr in getaddresses(message.get_all("To", [])) if addr]
        if not recipients:
            raise ConfigError("EMAIL_TO is not set; the email has no recipient")
        username = s.email_username
        password = s.email_password.get_secret_value() if s.email_password else ""
        if username and s.email_smtp_security == "none" and not _is_loopback(host):
            raise ConfigError(
                f"refusing to send EMAIL_PASSWORD in clear text to {host}: set "
                "EMAIL_SMTP_SECURITY=starttls or ssl (a login without TLS is allowed to "
                "localhost only)"
            )
        context = self._ssl_context() if s.email_smtp_security != "none" else None
        where = self.endpoint
        try:
            smtp: smtplib.SMTP
            if s.email_smtp_security == "ssl":
                smtp = smtplib.SMTP_SSL(
                    host, s.email_smtp_port, timeout=self.timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(host, s.email_smtp_port, timeout=self.timeout)
            with smtp:
                smtp.ehlo()
                if s.email_smtp_security == "starttls":
                    if not smtp.has_extn("starttls"):
                        raise ConfigError(
                            f"SMTP server {where} does not offer STARTTLS; refusing to continue "
                            "without TLS (use EMAIL_SMTP_SECURITY=ssl with its TLS port, or fix "
                            "the server)"
                        )
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if username:
                    smtp.login(username, password)
                refused = smtp.send_message(message, to_addrs=recipients)
        except (smtplib.SMTPException, OSError) as exc:  # ssl and socket errors are OSErrors
            error = _map_error(exc, where, username)
            text = str(error)
            if password and password in text:  # belt and braces: never echo the secret
                error = type(error)(text.replace(password, "********"))
            raise error from None
        if refused:
            log.warning(
                "email %s: %d recipient(s) refused: %s",
                message.get("Message-ID"),
                len(refused),
                ", ".join(sorted(refused)),
            )
        log.info(
            "email %s sent via %s to %d recipient(s)",
            message.get("Message-ID"),
            where,
            len(recipients) - len(refused),
        )


def _reply(exc: smtplib.SMTPResponseException) -> str:
    raw = exc.smtp_error
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return _one_line(f"{exc.smtp_code} {text}")


def _map_error(exc: OSError | smtplib.SMTPException, where: str, username: str | None) -> Exception:
    """One line per failure, TemporaryError for what may pass, ConfigError for what needs a fix."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return ConfigError(
            f"SMTP login to {where} as {username!r} was rejected ({_reply(exc)}); "
            "check EMAIL_USERNAME and EMAIL_PASSWORD"
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return ConfigError(
            f"SMTP server {where} does not support a required feature "
            f"({_one_line(str(exc))}); check EMAIL_SMTP_SECURITY and EMAIL_USERNAME"
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        text = ", ".join(f"{addr} ({code})" for addr, (code, _m) in sorted(exc.recipients.items()))
        if codes and all(400 <= c < 500 for c in codes):
            return TemporaryError(f"SMTP server {where} deferred every recipient: {text}")
        return ConfigError(f"SMTP server {where} refused every recipient: {text}; check EMAIL_TO")
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = _reply(exc)
        if 400 <= exc.smtp_code < 500:
            return TemporaryError(f"SMTP server {where} deferred the email ({reply}); retry later")
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return ConfigError(
                f"SMTP server {where} refused the sender ({reply}); check EMAIL_FROM"
            )
        if exc.smtp_code == 530:
            return ConfigError(
                f"SMTP server {where} requires authentication or TLS ({reply}); check "
                "EMAIL_USERNAME and EMAIL_SMTP_SECURITY"
            )
        return ConfigError(f"SMTP server {where} rejected the email ({reply})")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TemporaryError(
            f"SMTP server {where} closed the connection ({_one_line(str(exc)) or 'no reason'});"
            " retry later"
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ConfigError(
            f"TLS certificate of {where} is not trusted ({_one_line(exc.verify_message or '')}); "
            "set EMAIL_CA_FILE to the CA bundle that signed it, or fix EMAIL_SMTP_SERVER"
        )
    if isinstance(exc, ssl.SSLError):
        reason = _one_line(getattr(exc, "reason", None) or str(exc))
        return ConfigError(
            f"TLS with {where} failed ({reason}); check "
            "EMAIL_SMTP_SECURITY and EMAIL_SMTP_PORT (ssl is usually 465, starttls 587)"
        )
    if isinstance(exc, socket.gaierror):
        return TemporaryError(
            f"cannot resolve SMTP server {where} ({_one_line(str(exc))}); check "
            "EMAIL_SMTP_SERVER and the network"
        )
    if isinstance(exc, ConnectionRefusedError):
        return TemporaryError(f"SMTP server {where} refused the connection; is it running?")
    if isinstance(exc, TimeoutError):
        return TemporaryError(f"SMTP server {where} timed out; retry later")
    if isinstance(exc, smtplib.SMTPException) and "authentication method" in str(exc):
        return ConfigError(
            f"SMTP server {where} offers no login method smtplib supports "
            f"({_one_line(str(exc))}); check EMAIL_USERNAME and EMAIL_SMTP_SECURITY"
        )
    return TemporaryError(f"SMTP with {where} failed: {_one_line(str(exc)) or type(exc).__name__}")
