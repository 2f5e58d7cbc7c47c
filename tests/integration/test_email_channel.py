"""The e-mail channel through smtplib to the SMTP sink: STARTTLS, SSL and plain, AUTH,
both MIME parts, several recipients, and which failures are worth retrying."""

import logging
import socket
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from app.domain.vocabulary import Tone
from app.services.notify.channels.base import DeliveryError, Message, NotifySettings
from app.services.notify.channels.email import EmailChannel
from tests.fakes.smtp_sink import SMTP_PASSWORD, SMTP_USER, SmtpSink

CHANNEL = EmailChannel()
MESSAGE = Message(
    event_type="position_closed",
    title="Position closed <MESZ6> & done",
    text="Long 2 MESZ6 closed at take profit.\nHeld 14 min.",
    occurred_at=datetime(2025, 3, 4, 14, 30, 5, tzinfo=UTC),
    tone=Tone.GOOD,
    fields=(("Symbol", "MESZ6"), ("P&L", "+27.50"), ("Note", "<b>not bold</b>")),
)


def settings_for(sink: SmtpSink, **overrides) -> NotifySettings:
    base = NotifySettings(
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        smtp_security="starttls",
        smtp_username=SMTP_USER,
        smtp_password=SMTP_PASSWORD,
        smtp_ca_file=str(sink.certificate.cert_file) if sink.certificate else None,
        email_from="DeskPilot <desk@example.com>",
        email_to=("trader@example.com", "partner@example.org"),
        timeout_seconds=5.0,
    )
    return replace(base, **overrides)


def failure(message: Message, settings: NotifySettings) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        CHANNEL.send(message, settings)
    return caught.value


@pytest.fixture
def plain_sink():
    """A server that speaks plain SMTP only."""
    sink = SmtpSink(None).start()
    yield sink
    sink.stop()


def test_one_email_over_starttls_with_login_reaches_every_recipient(smtp_sink):
    CHANNEL.send(MESSAGE, settings_for(smtp_sink))

    [received] = smtp_sink.messages
    assert received.rcpt_tos == ["trader@example.com", "partner@example.org"]
    assert received.mail_from == "desk@example.com"
    assert received.tls and received.login == SMTP_USER
    email = received.message
    assert email["Subject"] == "DeskPilot: Position closed <MESZ6> & done"
    assert email["To"] == "trader@example.com, partner@example.org"
    assert email["Date"] and email["Message-ID"].endswith("@example.com>")


def test_the_email_has_a_plain_part_and_an_escaped_html_alternative(smtp_sink):
    CHANNEL.send(MESSAGE, settings_for(smtp_sink))

    email = smtp_sink.messages[0].message
    assert email.get_content_type() == "multipart/alternative"
    plain = email.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = email.get_body(("html",)).get_content()
    assert "Long 2 MESZ6 closed at take profit.\nHeld 14 min." in plain
    assert "Symbol: MESZ6" in plain and "P&L: +27.50" in plain
    assert "2025-03-04 14:30:05 UTC" in plain
    assert "Position closed &lt;MESZ6&gt; &amp; done" in html
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html and "<b>" not in html
    assert "<th" in html and "+27.50</td>" in html
    assert "#1a7f37" in html  # the good tone's accent


def test_plain_smtp_without_login(plain_sink):
    settings = settings_for(plain_sink, smtp_security="none", smtp_username=None)
    CHANNEL.send(MESSAGE, settings)

    [received] = plain_sink.messages
    assert not received.tls and received.login is None


def test_ssl_from_the_first_byte(tls_certificate):
    sink = SmtpSink(
        tls_certificate, credentials=(SMTP_USER, SMTP_PASSWORD), implicit_tls=True
    ).start()
    try:
        CHANNEL.send(MESSAGE, settings_for(sink, smtp_security="ssl"))
    finally:
        sink.stop()
    [received] = sink.messages
    assert received.tls and received.login == SMTP_USER


def test_a_refused_login_fails_for_good_in_plain_words(smtp_sink):
    error = failure(MESSAGE, settings_for(smtp_sink, smtp_password="wrong-password"))

    assert error.permanent
    assert f"refused the login of {SMTP_USER}" in str(error) and "535" in str(error)
    assert "wrong-password" not in str(error)
    assert smtp_sink.failed_logins and not smtp_sink.messages  # smtplib tries each mechanism


def test_a_certificate_outside_the_trust_store_is_refused_without_smtp_ca_file(smtp_sink):
    error = failure(MESSAGE, settings_for(smtp_sink, smtp_ca_file=None))

    assert error.permanent
    assert "not trusted" in str(error) and "SMTP_CA_FILE" in str(error)
    assert not smtp_sink.messages


def test_every_recipient_refused_for_good_is_permanent(smtp_sink):
    for address in ("trader@example.com", "partner@example.org"):
        smtp_sink.refuse_recipient(address, "550 5.1.1 No such user")

    error = failure(MESSAGE, settings_for(smtp_sink))

    assert error.permanent
    assert "trader@example.com (550 5.1.1 No such user)" in str(error)


def test_recipients_refused_for_now_are_retried(smtp_sink):
    smtp_sink.refuse_recipient("trader@example.com", "450 4.2.1 Mailbox busy")
    smtp_sink.refuse_recipient("partner@example.org", "451 4.7.1 Greylisted")

    assert not failure(MESSAGE, settings_for(smtp_sink)).permanent


def test_one_refused_recipient_names_it_and_the_others_keep_theirs(smtp_sink):
    smtp_sink.refuse_recipient("partner@example.org", "550 5.1.1 No such user")

    error = failure(MESSAGE, settings_for(smtp_sink))

    assert error.permanent  # sending again would repeat it to the trader
    assert str(error).startswith("Sent to trader@example.com, but")
    assert "partner@example.org (550 5.1.1 No such user)" in str(error)
    [received] = smtp_sink.messages
    assert received.rcpt_tos == ["trader@example.com"]


def test_a_4xx_answer_to_the_message_is_retried_and_a_5xx_is_not(smtp_sink):
    smtp_sink.refuse_data = "451 4.3.0 Try again later"
    assert not failure(MESSAGE, settings_for(smtp_sink)).permanent

    smtp_sink.refuse_data = "554 5.7.1 Rejected as spam"
    error = failure(MESSAGE, settings_for(smtp_sink))
    assert error.permanent and "554 5.7.1 Rejected as spam" in str(error)


def test_a_server_that_does_not_answer_is_retried():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = NotifySettings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        email_from="desk@example.com",
        email_to=("trader@example.com",),
        timeout_seconds=1.0,
    )

    error = failure(MESSAGE, settings)

    assert not error.permanent and f"127.0.0.1:{port} did not answer" in str(error)


def test_starttls_asked_of_a_server_without_it_names_the_setting(plain_sink):
    error = failure(MESSAGE, settings_for(plain_sink))

    assert error.permanent
    assert "STARTTLS extension not supported" in str(error) and "security setting" in str(error)
    assert not plain_sink.messages


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"smtp_host": None}, "No SMTP server is set."),
        ({"email_from": None}, "No sender address is set."),
        ({"email_to": ()}, "No recipient address is set."),
        ({"smtp_security": "tls"}, "Unknown SMTP security 'tls'"),
        ({"smtp_security": "none"}, "only over TLS"),
    ],
)
def test_unready_says_what_is_missing(change, reason):
    settings = replace(
        NotifySettings(
            smtp_host="mail.example.com",
            smtp_username="desk",
            email_from="desk@example.com",
            email_to=("trader@example.com",),
        ),
        **change,
    )
    assert reason in CHANNEL.unready(settings)


def test_ready_settings_have_no_reason(smtp_sink):
    assert CHANNEL.unready(settings_for(smtp_sink)) is None


def test_the_smtp_password_reaches_neither_the_log_nor_an_error(smtp_sink, caplog):
    caplog.set_level(logging.DEBUG)
    CHANNEL.send(MESSAGE, settings_for(smtp_sink))
    errors = [
        failure(MESSAGE, settings_for(smtp_sink, smtp_ca_file=None)),
        failure(MESSAGE, settings_for(smtp_sink, smtp_password=SMTP_PASSWORD + "x")),
    ]

    assert "sent to 2 recipient(s)" in caplog.text
    for text in [caplog.text, *map(str, errors)]:
        assert SMTP_PASSWORD not in text
