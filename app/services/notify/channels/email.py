"""E-mail over SMTP: one message with a plain-text and an HTML part to every recipient."""

import logging
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from html import escape

from app.domain.vocabulary import NotificationChannel, Tone
from app.services.notify.channels.base import DeliveryError, Message, NotifySettings

logger = logging.getLogger(__name__)

SECURITY_MODES = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
ACCENTS = {Tone.GOOD: "#1a7f37", Tone.BAD: "#cf222e", Tone.WARNING: "#9a6700", Tone.INFO: "#0969da"}


class EmailChannel:
    name = NotificationChannel.EMAIL

    def unready(self, settings: NotifySettings) -> str | None:
        if not settings.smtp_host:
            return "No SMTP server is set."
        if settings.smtp_security not in SECURITY_MODES:
            return (
                f"Unknown SMTP security {settings.smtp_security!r}: choose starttls, ssl or none."
            )
        if not settings.email_from:
            return "No sender address is set."
        if not settings.email_to:
            return "No recipient address is set."
        if settings.smtp_security == "none" and settings.smtp_username:
            # A password over an unencrypted connection is readable by anyone on the way.
            return "DeskPilot logs in to an SMTP server only over TLS: choose STARTTLS or SSL."
        return None

    def send(self, message: Message, settings: NotifySettings) -> None:
        email = compose(message, settings)
        recipients = list(settings.email_to)
        try:
            with _connect(settings) as smtp:
                if settings.smtp_username:
                    smtp.login(settings.smtp_username, settings.smtp_password or "")
                refused = smtp.send_message(email, to_addrs=recipients)
        except (smtplib.SMTPException, OSError) as error:
            raise _translate(error, settings) from error
        if refused:
            # The others have it: sending again would repeat it to them.
            delivered = ", ".join(r for r in recipients if r not in refused)
            raise DeliveryError(f"Sent to {delivered}, but {_refusals(refused)}", permanent=True)
        logger.info(
            "e-mail %s sent to %d recipient(s) via %s",
            message.event_type,
            len(recipients),
            settings.smtp_host,
        )


def compose(message: Message, settings: NotifySettings) -> EmailMessage:
    """The e-mail for `message`: plain text first, the HTML alternative second."""
    email = EmailMessage()
    email["Subject"] = "DeskPilot: " + " ".join(message.title.split())
    email["From"] = settings.email_from
    email["To"] = ", ".join(settings.email_to)
    email["Date"] = format_datetime(datetime.now(UTC))
    domain = parseaddr(settings.email_from or "")[1].rpartition("@")[2]
    # make_msgid would otherwise ask DNS for this machine's name.
    email["Message-ID"] = make_msgid(domain=domain or "deskpilot.invalid")
    email.set_content(_plain(message))
    email.add_alternative(_html(message), subtype="html")
    return email


def _when(message: Message) -> str:
    return message.occurred_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _plain(message: Message) -> str:
    lines = [message.text, ""]
    lines += [f"{name}: {value}" for name, value in message.fields]
    if message.fields:
        lines.append("")
    lines.append(_when(message))
    return "\n".join(lines) + "\n"


def _html(message: Message) -> str:
    accent = ACCENTS.get(message.tone, ACCENTS[Tone.INFO])
    text = "<br>".join(escape(line) for line in message.text.splitlines())
    rows = "".join(
        f'<tr><th style="text-align:left;padding:2px 12px 2px 0;color:#57606a">{escape(name)}'
        f'</th><td style="padding:2px 0">{escape(value)}</td></tr>'
        for name, value in message.fields
    )
    table = f'<table style="border-collapse:collapse;margin:8px 0">{rows}</table>' if rows else ""
    return (
        '<!DOCTYPE html><html><body style="font-family:-apple-system,Segoe UI,sans-serif">'
        f'<div style="border-left:4px solid {accent};padding:4px 12px">'
        f'<h2 style="margin:0 0 8px;font-size:18px">{escape(message.title)}</h2>'
        f'<p style="margin:0 0 8px">{text}</p>{table}'
        f'<p style="margin:8px 0 0;color:#57606a;font-size:12px">{escape(_when(message))}'
        " · DeskPilot</p></div></body></html>"
    )


def _tls(settings: NotifySettings) -> ssl.SSLContext:
    """The system's trust store, plus SMTP_CA_FILE for a server under a private CA;
    verification stays on either way."""
    context = ssl.create_default_context()
    if settings.smtp_ca_file:
        context.load_verify_locations(cafile=settings.smtp_ca_file)
    return context


def _connect(settings: NotifySettings) -> smtplib.SMTP:
    security = settings.smtp_security
    port = settings.smtp_port or DEFAULT_PORTS[security]
    timeout = settings.timeout_seconds
    if security == "ssl":
        return smtplib.SMTP_SSL(settings.smtp_host, port, timeout=timeout, context=_tls(settings))
    smtp = smtplib.SMTP(settings.smtp_host, port, timeout=timeout)
    if security == "starttls":
        try:
            smtp.starttls(context=_tls(settings))
        except BaseException:
            smtp.close()
            raise
    return smtp


def _said(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(words.split())}"


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    listed = "; ".join(f"{address} ({_said(*answer)})" for address, answer in refused.items())
    return f"the SMTP server refused {listed}."


def _translate(error: Exception, settings: NotifySettings) -> DeliveryError:
    """The trader's words for an SMTP failure, and whether trying again can help: a
    refusal in 5xx, a login refused or a certificate not trusted stay so until the
    settings change; a 4xx, a timeout or a dropped connection may pass."""
    server = f"{settings.smtp_host}:{settings.smtp_port or DEFAULT_PORTS[settings.smtp_security]}"
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return DeliveryError(
            f"The SMTP server refused the login of {settings.smtp_username}: "
            f"{_said(error.smtp_code, error.smtp_error)}. Check the SMTP username and password.",
            permanent=True,
        )
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return DeliveryError(
            f"{server}: {error} Check the SMTP security setting and port "
            "(STARTTLS is usually 587, SSL 465).",
            permanent=True,
        )
    if isinstance(error, ssl.SSLError):
        return _tls_failure(error, server)
    if isinstance(error, smtplib.SMTPRecipientsRefused | smtplib.SMTPResponseException):
        return _refused(error)
    return DeliveryError(f"The SMTP server {server} did not answer: {error}")


def _refused(
    error: smtplib.SMTPRecipientsRefused | smtplib.SMTPResponseException,
) -> DeliveryError:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        temporary = all(code < 500 for code, _ in error.recipients.values())
        return DeliveryError("Not sent: " + _refusals(error.recipients), permanent=not temporary)
    said = _said(error.smtp_code, error.smtp_error)
    if isinstance(error, smtplib.SMTPSenderRefused):
        said = f"{said} (the sender {error.sender})"
    return DeliveryError(f"The SMTP server answered {said}", permanent=error.smtp_code >= 500)


def _tls_failure(error: ssl.SSLError, server: str) -> DeliveryError:
    if isinstance(error, ssl.SSLCertVerificationError):
        return DeliveryError(
            f"The certificate of {server} is not trusted ({error.verify_message}). "
            "A server under a private CA needs SMTP_CA_FILE.",
            permanent=True,
        )
    return DeliveryError(
        f"TLS with {server} failed ({error.reason or error}). Check the SMTP security "
        "setting and port (STARTTLS is usually 587, SSL 465).",
        permanent=True,
    )
