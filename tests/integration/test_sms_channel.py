"""The SMS channel against the fake TextBelt: one text per number, trimmed to one SMS,
the quota kept, and which failures are worth retrying."""

import logging
import socket
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from app.services.notify.channels import sms
from app.services.notify.channels.base import DeliveryError, Message, NotifySettings
from app.services.notify.channels.sms import OutOfQuota, SmsChannel, fit, sms_text

CHANNEL = SmsChannel()
KEY = "tb-key+with/odd=chars-5f0c"
TRADER, PARTNER = "+15551234567", "+447700900123"


def message(title: str = "Position closed", text: str = "Long 2 MESZ6 +27.50", **more) -> Message:
    occurred = more.pop("occurred_at", datetime.now(UTC))
    return Message("position_closed", title, text, occurred, **more)


def settings_for(fake, **overrides) -> NotifySettings:
    base = NotifySettings(
        textbelt_url=fake.url, textbelt_key=KEY, sms_to=(TRADER, PARTNER), timeout_seconds=2.0
    )
    return replace(base, **overrides)


def failure(note: Message, settings: NotifySettings) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        CHANNEL.send(note, settings)
    return caught.value


def test_each_number_gets_one_text_with_the_key_and_the_quota_is_kept(fake_textbelt):
    settings = settings_for(fake_textbelt)
    assert sms.last_quota(settings) is None

    CHANNEL.send(message(), settings)

    assert [text["phone"] for text in fake_textbelt.texts] == [TRADER, PARTNER]
    assert {text["key"] for text in fake_textbelt.texts} == {KEY}
    assert {text["message"] for text in fake_textbelt.texts} == {
        "DeskPilot: Position closed - Long 2 MESZ6 +27.50"
    }
    assert sms.last_quota(settings).remaining == 38
    assert sms.last_quota(replace(settings, textbelt_key="another key")) is None


def test_a_long_message_is_trimmed_to_one_sms(fake_textbelt):
    CHANNEL.send(message(text="Stopped out. " * 30), settings_for(fake_textbelt, sms_to=(TRADER,)))

    [text] = fake_textbelt.texts
    assert len(text["message"]) == 160 and text["message"].endswith("...")
    assert text["message"].startswith("DeskPilot: Position closed - Stopped out. Stopped")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 160, "a" * 160),  # GSM-7, exactly one SMS
        ("a" * 161, "a" * 157 + "..."),
        ("{" * 80, "{" * 80),  # extension characters cost two septets
        ("{" * 81, "{" * 78 + "..."),
        ("é" * 160, "é" * 160),  # é is in the GSM-7 alphabet
        ("ł" * 70, "ł" * 70),  # ł is not: UCS-2, 70 characters
        ("ł" * 71, "ł" * 69 + "…"),
        ("📈" * 36, "📈" * 34 + "…"),  # outside the BMP: two UTF-16 units each
        ("word " * 40 + "📈", "word " * 31 + "wo..."),  # the emoji is cut off: GSM-7 holds
    ],
)
def test_fit_counts_gsm7_septets_or_ucs2_units(text, expected):
    assert fit(text) == expected


def test_the_separator_keeps_an_ascii_message_in_gsm7():
    assert sms_text(message(text="x" * 200)).endswith("x...")
    assert len(sms_text(message(text="x" * 200))) == 160


def test_out_of_quota_fails_for_good_and_says_so(fake_textbelt):
    fake_textbelt.quota = 0
    settings = settings_for(fake_textbelt)

    error = failure(message(), settings)

    assert isinstance(error, OutOfQuota) and error.permanent
    assert "out of quota" in str(error).lower() and f"Not sent to {TRADER}, {PARTNER}" in str(error)
    assert len(fake_textbelt.texts) == 1  # the second number was not tried in vain
    assert sms.last_quota(settings).remaining == 0


def test_an_invalid_number_fails_for_good_and_the_other_number_is_texted(fake_textbelt):
    fake_textbelt.invalid_numbers.add(PARTNER)

    error = failure(message(), settings_for(fake_textbelt))

    assert error.permanent and f"did not text {PARTNER}: Invalid phone number" in str(error)
    assert [text["phone"] for text in fake_textbelt.texts] == [TRADER, PARTNER]


def test_a_server_error_is_retried_and_the_retry_texts_only_the_number_that_missed(
    fake_textbelt,
):
    settings = settings_for(fake_textbelt)
    note = message()
    fake_textbelt.fail_next(503, phone=PARTNER)

    error = failure(note, settings)
    assert not error.permanent and "HTTP 503" in str(error)

    CHANNEL.send(note, settings)
    assert [text["phone"] for text in fake_textbelt.texts] == [TRADER, PARTNER, PARTNER]


def test_too_many_requests_waits_as_told(fake_textbelt):
    fake_textbelt.fail_next(429, retry_after="12")

    error = failure(message(), settings_for(fake_textbelt, sms_to=(TRADER,)))

    assert not error.permanent and error.retry_after == 12


def test_an_unreachable_server_is_retried():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"

    error = failure(message(), NotifySettings(textbelt_url=url, textbelt_key=KEY, sms_to=(TRADER,)))

    assert not error.permanent and "TextBelt at 127.0.0.1" in str(error)


def test_a_server_that_is_not_textbelt_fails_for_good(fake_textbelt):
    settings = settings_for(fake_textbelt, textbelt_url=fake_textbelt.url + "/nowhere")

    error = failure(message(), settings)

    assert error.permanent and "HTTP 404 without TextBelt's JSON" in str(error)


def test_quota_asks_textbelt_for_the_key_and_records_it(fake_textbelt):
    settings = settings_for(fake_textbelt)
    fake_textbelt.quota = 17

    assert sms.quota(settings) == 17
    assert fake_textbelt.quota_asked == [KEY]
    assert sms.last_quota(settings).remaining == 17


def test_quota_on_a_server_without_one_says_so_without_the_key(fake_textbelt):
    settings = settings_for(fake_textbelt, textbelt_url=fake_textbelt.url + "/selfhosted")

    with pytest.raises(DeliveryError) as caught:
        sms.quota(settings)

    assert "has no quota to ask" in str(caught.value) and KEY not in str(caught.value)


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"textbelt_key": None}, "No TextBelt key is set."), ({"sms_to": ()}, "No phone number")],
)
def test_unready_says_what_is_missing(change, reason):
    settings = replace(NotifySettings(textbelt_key=KEY, sms_to=(TRADER,)), **change)
    assert reason in CHANNEL.unready(settings)
    assert CHANNEL.unready(NotifySettings(textbelt_key=KEY, sms_to=(TRADER,))) is None


def test_the_textbelt_key_reaches_neither_the_log_nor_an_error(fake_textbelt, caplog):
    caplog.set_level(logging.DEBUG)
    settings = settings_for(fake_textbelt)
    CHANNEL.send(message(), settings)
    sms.quota(settings)
    fake_textbelt.invalid_numbers.add(TRADER)
    fake_textbelt.fail_next(500, phone=PARTNER)
    errors = [failure(message(title="Again"), settings)]
    fake_textbelt.quota = 0
    errors.append(failure(message(title="Once more"), settings))

    assert "sms position_closed sent to 2 number(s)" in caplog.text
    for text in [caplog.text, *map(str, errors)]:
        assert KEY not in text and "tb-key" not in text
