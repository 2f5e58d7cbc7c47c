"""The Discord channel through the real discord.py to the fake Discord API."""

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

import discord
import pytest

from app.domain.vocabulary import Tone
from app.services.notify.channels.base import DeliveryError, Message, NotifySettings
from app.services.notify.channels.discord_dm import DMS_CLOSED, TOKEN_REFUSED, DiscordChannel
from tests.fakes.discord_api import TRADER_ID

CHANNEL = DiscordChannel()


def fill(text: str = "Bought 1 MESZ6 at 5012.25") -> Message:
    return Message(
        event_type="order_filled",
        title="Filled: buy 1 MESZ6",
        text=text,
        occurred_at=datetime(2026, 3, 2, 14, 30, 5, tzinfo=UTC),
        tone=Tone.GOOD,
        fields=(("Symbol", "MESZ6"), ("Qty", "1"), ("Price", "5012.25"), ("Strategy", "x" * 40)),
    )


@pytest.fixture
def settings(fake_discord) -> NotifySettings:
    return NotifySettings(
        discord_bot_token=fake_discord.token,
        discord_user_id=str(TRADER_ID),
        discord_dm_enabled=True,
        discord_api_base=fake_discord.url,
        timeout_seconds=3.0,
    )


def refused(message: Message, settings: NotifySettings) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        CHANNEL.send(message, settings)
    return caught.value


def test_a_dm_arrives_as_one_embed_with_title_colour_and_fields(fake_discord, settings):
    CHANNEL.send(fill(), settings)

    assert [(call.method, call.path) for call in fake_discord.recorded] == [
        ("GET", "/users/@me"),
        ("POST", "/users/@me/channels"),
        ("POST", f"/channels/{fake_discord.dm_channels[TRADER_ID]['id']}/messages"),
    ]
    assert fake_discord.calls("dm")[0].json == {"recipient_id": TRADER_ID}
    (sent,) = fake_discord.messages
    (embed,) = sent["embeds"]
    assert embed["title"] == "Filled: buy 1 MESZ6"
    assert embed["description"] == "Bought 1 MESZ6 at 5012.25"
    assert embed["color"] == discord.Colour.green().value
    assert embed["timestamp"] == "2026-03-02T14:30:05+00:00"
    assert [(f["name"], f["value"], f["inline"]) for f in embed["fields"]] == [
        ("Symbol", "MESZ6", True),
        ("Qty", "1", True),
        ("Price", "5012.25", True),
        ("Strategy", "x" * 40, False),
    ]


def test_the_second_dm_reuses_the_login_and_the_dm_channel(fake_discord, settings):
    CHANNEL.send(fill("first"), settings)
    CHANNEL.send(fill("second"), settings)

    assert len(fake_discord.calls("me")) == 1
    assert len(fake_discord.calls("dm")) == 1
    assert len(fake_discord.calls("message")) == 2
    assert [m["embeds"][0]["description"] for m in fake_discord.messages] == ["first", "second"]


def test_a_new_token_logs_in_again(fake_discord, settings):
    CHANNEL.send(fill("first"), settings)
    fake_discord.token += "-rotated"

    CHANNEL.send(fill("second"), replace(settings, discord_bot_token=fake_discord.token))

    assert len(fake_discord.calls("me")) == 2
    assert len(fake_discord.messages) == 2


def test_the_same_notification_sent_twice_reaches_the_trader_once(fake_discord, settings):
    CHANNEL.send(fill(), settings)
    CHANNEL.send(fill(), settings)  # a retry after a timeout whose DM did land

    assert len(fake_discord.calls("message")) == 2
    assert len(fake_discord.messages) == 1


def test_a_429_is_retried_after_the_retry_after_the_fake_asked_for(fake_discord, settings):
    fake_discord.fail_next("message", 429, retry_after=0.5)

    CHANNEL.send(fill(), settings)

    limited, retried = fake_discord.calls("message")
    assert (limited.status, retried.status) == (429, 200)
    assert retried.at - limited.at >= 0.5
    assert len(fake_discord.messages) == 1


@pytest.mark.parametrize("is_global", [False, True])
def test_a_429_longer_than_the_timeout_fails_at_once_with_its_retry_after(
    fake_discord, settings, is_global
):
    CHANNEL.send(fill("before"), settings)
    fake_discord.fail_next("message", 429, retry_after=30, is_global=is_global)

    started = time.monotonic()
    error = refused(fill("limited"), settings)

    assert time.monotonic() - started < 1
    assert error.retry_after == 30 and not error.permanent
    CHANNEL.send(fill("after"), settings)  # nothing is left waiting on the 30 s
    assert [m["embeds"][0]["description"] for m in fake_discord.messages] == ["before", "after"]


def test_429s_discord_py_gives_up_on_are_retryable_with_their_retry_after(fake_discord, settings):
    fake_discord.fail_next("message", 429, retry_after=0.05, times=5)

    error = refused(fill(), settings)

    assert len(fake_discord.calls("message")) == 5
    assert error.retry_after == 0.05 and not error.permanent
    assert fake_discord.messages == []


def test_closed_dms_fail_for_good_in_plain_words(fake_discord, settings):
    fake_discord.close_dms(TRADER_ID)

    error = refused(fill(), settings)

    assert error.permanent
    assert str(error) == DMS_CLOSED
    assert "join the bot's server" in str(error) and "send a test" in str(error)


def test_a_refused_token_fails_for_good(fake_discord, settings):
    error = refused(fill(), replace(settings, discord_bot_token="not-the-bot-token"))

    assert error.permanent and str(error) == TOKEN_REFUSED
    assert [(c.route, c.authorized, c.status) for c in fake_discord.recorded] == [
        ("me", False, 401)
    ]


def test_an_unknown_user_id_fails_for_good(fake_discord, settings):
    error = refused(fill(), replace(settings, discord_user_id="123456789012345678"))

    assert error.permanent and "user id" in str(error)


def test_a_server_error_is_retryable_without_waiting(fake_discord, settings):
    fake_discord.fail_next("message", 500)

    started = time.monotonic()
    error = refused(fill(), settings)

    assert time.monotonic() - started < 1  # not discord.py's own 1 s, 3 s, … retries
    assert not error.permanent and error.retry_after is None
    assert "500" in str(error)
    CHANNEL.send(fill(), settings)
    assert len(fake_discord.messages) == 1


def test_an_unreachable_discord_is_retryable(fake_discord, settings):
    fake_discord.stop()

    error = refused(fill(), settings)

    assert not error.permanent and "reach Discord" in str(error)


def test_a_lost_dm_channel_is_opened_again(fake_discord, settings):
    CHANNEL.send(fill("first"), settings)
    fake_discord.dm_channels.clear()

    assert not refused(fill("lost"), settings).permanent
    CHANNEL.send(fill("second"), settings)

    assert len(fake_discord.calls("dm")) == 2
    assert [m["embeds"][0]["description"] for m in fake_discord.messages] == ["first", "second"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"discord_bot_token": None}, "DISCORD_BOT_TOKEN"),
        ({"discord_user_id": None}, "Link your Discord account"),
        ({"discord_user_id": "trader#1234"}, "is a number"),
        ({"discord_dm_enabled": False}, "switched off"),
    ],
)
def test_an_unready_channel_says_why_and_sends_nothing(fake_discord, settings, change, reason):
    unready = replace(settings, **change)

    assert reason in CHANNEL.unready(unready)
    error = refused(fill(), unready)
    assert error.permanent and reason in str(error)
    assert fake_discord.recorded == []


def test_ready_settings_are_ready(settings):
    assert CHANNEL.unready(settings) is None


def test_the_token_never_reaches_the_logs(fake_discord, settings, caplog):
    caplog.set_level(logging.DEBUG)
    fake_discord.fail_next("message", 429, retry_after=0.05)
    CHANNEL.send(fill("limited"), settings)
    fake_discord.fail_next("message", 500)
    refused(fill("server error"), settings)
    fake_discord.close_dms(TRADER_ID)
    refused(fill("closed"), settings)
    refused(fill(), replace(settings, discord_bot_token=fake_discord.token + "x"))

    assert any(r.name.startswith("discord") for r in caplog.records)  # it did log, at DEBUG
    secret = fake_discord.token.rsplit(".", 1)[1]
    assert secret not in caplog.text
    assert all(secret not in str(r.args) for r in caplog.records)


def test_the_fake_answers_discord_py_s_own_client_in_shapes_it_parses(fake_discord):
    """The fake's users, application, DM channel and message parse as discord.py's models
    (the channel itself reads only ids), so other tests may drive it with discord.Client."""
    discord.http.Route.BASE = fake_discord.url

    async def dm_through_the_client() -> tuple[str, str, str]:
        async with discord.Client(intents=discord.Intents.none()) as client:
            await client.login(fake_discord.token)
            user = await client.fetch_user(TRADER_ID)
            sent = await user.send(embed=discord.Embed(title="hello"))
            return client.user.name, user.name, sent.embeds[0].title

    # On a thread of its own: a browser test's Playwright keeps an event loop running on
    # the main thread of the same test worker, and asyncio.run refuses to nest in it.
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(asyncio.run, dm_through_the_client()).result(timeout=30)
    assert answer == ("deskpilot-bot", "trader", "hello")
    assert [call.route for call in fake_discord.recorded] == [
        "me",
        "application",
        "user",
        "dm",
        "message",
    ]
