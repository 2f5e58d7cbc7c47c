"""The outgoing webhook against a receiver that checks the signature with the README's
snippet: the JSON it gets, and which answers are worth retrying."""

import logging
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from app.domain.vocabulary import Tone
from app.services.notify.channels.base import DeliveryError, Message, NotifySettings
from app.services.notify.channels.webhook import WebhookChannel, signature
from tests.fakes.webhook_receiver import WEBHOOK_SECRET

CHANNEL = WebhookChannel()
MESSAGE = Message(
    event_type="stop_hit",
    title="Stop hit on MESZ6",
    text="Long 1 MESZ6 stopped at 5010.25 — “net” −12.50",
    occurred_at=datetime(2025, 3, 4, 9, 31, 2, 500000, tzinfo=UTC),
    tone=Tone.BAD,
    fields=(("Symbol", "MESZ6"), ("P&L", "-12.50"), ("Exit", "stop_loss")),
)


def settings_for(url: str, secret: str = WEBHOOK_SECRET) -> NotifySettings:
    return NotifySettings(
        outgoing_webhook_url=url, outgoing_webhook_secret=secret, timeout_seconds=2.0
    )


def failure(settings: NotifySettings) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        CHANNEL.send(MESSAGE, settings)
    return caught.value


def test_the_notification_arrives_as_signed_json_that_the_readme_check_accepts(
    webhook_receiver,
):
    CHANNEL.send(MESSAGE, settings_for(webhook_receiver.url))

    [delivery] = webhook_receiver.received
    assert delivery.verified
    assert delivery.document == {
        "event_type": "stop_hit",
        "title": "Stop hit on MESZ6",
        "text": "Long 1 MESZ6 stopped at 5010.25 — “net” −12.50",
        "fields": [
            {"name": "Symbol", "value": "MESZ6"},
            {"name": "P&L", "value": "-12.50"},
            {"name": "Exit", "value": "stop_loss"},
        ],
        "tone": "bad",
        "occurred_at": "2025-03-04T09:31:02.500000Z",
    }
    assert delivery.headers["Content-Type"] == "application/json"
    assert abs(int(delivery.headers["X-DeskPilot-Timestamp"]) - time.time()) < 5
    assert delivery.headers["X-DeskPilot-Signature"].startswith("sha256=")


def test_the_readme_check_refuses_a_wrong_secret_a_changed_body_and_an_old_timestamp(
    webhook_receiver,
):
    CHANNEL.send(MESSAGE, settings_for(webhook_receiver.url))
    [delivery] = webhook_receiver.received
    verify = webhook_receiver.verify

    assert verify(WEBHOOK_SECRET, delivery.headers, delivery.body)
    assert not verify("another secret", delivery.headers, delivery.body)
    assert not verify(WEBHOOK_SECRET, delivery.headers, delivery.body.replace(b"12.50", b"1.50"))
    replayed = delivery.headers.copy()  # signed properly, but 301 s ago
    replayed["X-DeskPilot-Timestamp"] = old = str(int(time.time()) - 301)
    replayed["X-DeskPilot-Signature"] = signature(WEBHOOK_SECRET, old, delivery.body)
    assert not verify(WEBHOOK_SECRET, replayed, delivery.body)


def test_a_receiver_refusing_the_signature_fails_for_good_with_its_words(webhook_receiver):
    error = failure(settings_for(webhook_receiver.url, secret="not the receiver's"))

    assert error.permanent
    assert "answered HTTP 401: bad signature" in str(error)
    assert not webhook_receiver.received[0].verified


def test_a_server_error_is_retried(webhook_receiver):
    webhook_receiver.answer_next(500, "upstream down")

    error = failure(settings_for(webhook_receiver.url))

    assert not error.permanent and error.retry_after is None
    assert "HTTP 500: upstream down" in str(error)


def test_gone_fails_for_good(webhook_receiver):
    webhook_receiver.answer_next(410)

    error = failure(settings_for(webhook_receiver.url))

    assert error.permanent and "HTTP 410" in str(error)


def test_too_many_requests_waits_as_retry_after_says(webhook_receiver):
    webhook_receiver.answer_next(429, headers={"Retry-After": "7"})
    assert failure(settings_for(webhook_receiver.url)).retry_after == 7

    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    webhook_receiver.answer_next(429, headers={"Retry-After": later})
    error = failure(settings_for(webhook_receiver.url))
    assert not error.permanent and 25 <= error.retry_after <= 30


def test_a_redirect_is_not_followed(webhook_receiver):
    webhook_receiver.answer_next(301, headers={"Location": "https://elsewhere.example/hook"})

    error = failure(settings_for(webhook_receiver.url))

    assert error.permanent and "redirect to elsewhere.example" in str(error)
    assert len(webhook_receiver.received) == 1


def test_an_unreachable_receiver_is_retried():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"

    error = failure(settings_for(url))

    assert not error.permanent and "did not answer" in str(error)


@pytest.mark.parametrize(
    ("url", "secret", "reason"),
    [
        (None, "s", "No outgoing webhook URL is set."),
        ("ftp://example.com/hook", "s", "must start with https://"),
        ("https://", "s", "must start with https://"),
        ("https://hooks.example.com/x", None, "no signing secret"),
    ],
)
def test_unready_says_what_is_missing(url, secret, reason):
    settings = NotifySettings(outgoing_webhook_url=url, outgoing_webhook_secret=secret)
    assert reason in CHANNEL.unready(settings)


def test_ready_settings_have_no_reason():
    assert CHANNEL.unready(settings_for("https://hooks.example.com/x")) is None


def test_neither_the_secret_nor_the_urls_path_reaches_the_log_an_error_or_the_wire(
    webhook_receiver, caplog
):
    caplog.set_level(logging.DEBUG)
    url = webhook_receiver.url + "/T0KEN-in-the-path"  # as a Slack or Telegram hook carries
    CHANNEL.send(MESSAGE, settings_for(url))
    webhook_receiver.answer_next(503, "busy")
    errors = [failure(settings_for(url))]
    webhook_receiver.answer_next(404)
    errors.append(failure(settings_for(url)))

    assert "webhook stop_hit delivered to 127.0.0.1" in caplog.text
    for text in [caplog.text, *map(str, errors)]:
        assert WEBHOOK_SECRET not in text and "T0KEN" not in text
    for delivery in webhook_receiver.received:
        wire = str(delivery.headers) + delivery.body.decode()
        assert WEBHOOK_SECRET not in wire
