"""A notification becomes one Discord embed within Discord's limits."""

from datetime import UTC, datetime

import discord
import pytest

from app.domain.vocabulary import Tone
from app.services.notify.channels.base import Message
from app.services.notify.channels.discord_dm import render_embed

AT = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def message(**changes) -> Message:
    return Message(
        **{"event_type": "test", "title": "T", "text": "text", "occurred_at": AT} | changes
    )


def test_an_oversized_message_is_cut_to_every_limit_with_an_ellipsis():
    embed = render_embed(
        message(
            title="T" * 300,
            text="d" * 5000,
            fields=tuple((f"name {i} " + "n" * 300, "v" * 2000) for i in range(30)),
        )
    )

    assert len(embed.title) == 256 and embed.title.endswith("…")
    assert len(embed.description) == 4096 and embed.description.endswith("…")
    assert 0 < len(embed.fields) <= 25
    assert all(len(f.name) <= 256 and len(f.value) <= 1024 for f in embed.fields)
    assert embed.fields[0].name.endswith("…") and embed.fields[0].value.endswith("…")
    assert 5900 < len(embed) <= 6000  # discord.py counts as Discord does


def test_no_more_than_25_fields():
    embed = render_embed(message(fields=tuple((f"f{i}", str(i)) for i in range(30))))

    assert [f.name for f in embed.fields] == [f"f{i}" for i in range(25)]


def test_a_short_message_is_kept_whole():
    fields = (("Symbol", "MESZ6"), ("P&L", "+27.50"), ("Exit reason", "take profit at 5016.25"))
    embed = render_embed(message(title="Closed MESZ6", text="Closed +27.50", fields=fields))

    assert (embed.title, embed.description) == ("Closed MESZ6", "Closed +27.50")
    assert [(f.name, f.value) for f in embed.fields] == list(fields)
    assert embed.timestamp == AT


def test_short_fields_sit_inline_and_long_or_multi_line_ones_do_not():
    embed = render_embed(
        message(fields=(("Qty", "2"), ("Note", "a" * 60), ("Targets", "5016.25\n5020.25")))
    )

    assert [f.inline for f in embed.fields] == [True, False, False]


def test_an_empty_field_is_filled_as_discord_requires():
    embed = render_embed(message(fields=(("Comment", ""),)))

    assert embed.fields[0].value == "\u200b"


@pytest.mark.parametrize(
    ("tone", "colour"),
    [
        (Tone.GOOD, discord.Colour.green()),
        (Tone.BAD, discord.Colour.red()),
        (Tone.WARNING, discord.Colour.gold()),
        (Tone.INFO, discord.Colour.blurple()),
    ],
)
def test_the_colour_follows_the_tone(tone, colour):
    assert render_embed(message(tone=tone)).colour == colour


def test_a_naive_time_is_taken_as_utc():
    embed = render_embed(message(occurred_at=AT.replace(tzinfo=None)))

    assert embed.timestamp == AT
