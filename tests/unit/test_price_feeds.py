"""Paper price feeds: the seeded random walk, CSV replay and the PAPER_FEED setting."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import DomainValidationError
from app.domain.price_feeds import (
    DEFAULT_START_PRICES,
    FeedError,
    FeedSetting,
    PriceUpdate,
    ReplayFeed,
    SimulatedFeed,
    contract_root,
    parse_feed_setting,
)

T0 = datetime(2025, 3, 3, 14, 30, tzinfo=UTC)
TICKS = {
    "ES": D("0.25"),
    "MES": D("0.25"),
    "NQ": D("0.25"),
    "MNQ": D("0.25"),
    "YM": D("1"),
    "MYM": D("1"),
    "RTY": D("0.1"),
    "M2K": D("0.1"),
    "CL": D("0.01"),
    "MCL": D("0.01"),
    "NG": D("0.001"),
    "GC": D("0.1"),
    "MGC": D("0.1"),
    "SI": D("0.005"),
    "HG": D("0.0005"),
    "ZB": D("0.03125"),
    "ZN": D("0.015625"),
    "ZF": D("0.0078125"),
    "ZC": D("0.25"),
    "ZS": D("0.25"),
    "ZW": D("0.25"),
    "6E": D("0.00005"),
    "6J": D("0.0000005"),
    "6B": D("0.0001"),
}


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def walk(seed: int, symbols: list[str], steps: int, **options) -> list[list[PriceUpdate]]:
    feed = SimulatedFeed(seed, TICKS, **options)
    for symbol in symbols:
        feed.subscribe(symbol)
    return [feed.step(at(n)) for n in range(steps)]


# Contract roots.


@pytest.mark.parametrize(
    ("symbol", "root"),
    [
        ("ESZ5", "ES"),
        ("MESZ6", "MES"),
        ("MNQH6", "MNQ"),
        ("MGCZ5", "MGC"),
        ("6JM6", "6J"),
        ("M2KU25", "M2K"),
        ("ES", "ES"),
    ],
)
def test_contract_root_strips_month_and_year(symbol, root):
    assert contract_root(symbol) == root


# Simulated feed.


def test_every_default_start_price_is_on_its_grid_and_has_a_tick_size():
    assert set(DEFAULT_START_PRICES) == set(TICKS)
    feed = SimulatedFeed(1, TICKS)
    for root, price in DEFAULT_START_PRICES.items():
        assert feed.subscribe(f"{root}Z5") == price
        assert price % TICKS[root] == 0


def test_start_prices_are_snapped_to_the_grid():
    feed = SimulatedFeed(1, TICKS, start_prices={"ESZ5": D("6000.1"), "CL": D("68.123")})
    assert feed.subscribe("ESZ5") == D("6000.00")
    assert feed.subscribe("CLF6") == D("68.12")
    assert feed.subscribe("ESH6") == D("6000")


def test_the_same_seed_gives_the_same_walk():
    symbols = ["ESZ5", "CLF6", "6JH6"]
    assert walk(7, symbols, 50) == walk(7, symbols, 50)
    assert walk(7, symbols, 50) != walk(8, symbols, 50)


def test_step_moves_every_subscribed_symbol_and_remembers_it():
    feed = SimulatedFeed(3, TICKS)
    feed.subscribe("ESZ5")
    feed.subscribe("NQZ5")
    updates = feed.step(at(1))
    assert [(u.symbol, u.time) for u in updates] == [("ESZ5", at(1)), ("NQZ5", at(1))]
    assert all(feed.last(u.symbol) == u.price for u in updates)
    assert feed.symbols == ("ESZ5", "NQZ5")
    assert feed.last("GCZ5") is None


def test_zero_volatility_stands_still():
    (updates,) = walk(5, ["ESZ5"], 1, volatility_ticks=0)
    assert updates[0].price == D(6000)


def test_moves_are_whole_ticks_and_scale_with_volatility():
    moves = []
    feed = SimulatedFeed(11, TICKS, volatility_ticks=3)
    previous = feed.subscribe("ESZ5")
    for n in range(400):
        (update,) = feed.step(at(n))
        moves.append((update.price - previous) / D("0.25"))
        previous = update.price
    assert all(move == move.to_integral_value() and abs(move) <= 9 for move in moves)
    assert sum(abs(move) for move in moves) / len(moves) > 1


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    root=st.sampled_from(sorted(TICKS)),
    volatility=st.integers(0, 50),
)
def test_the_walk_stays_on_the_grid_and_above_zero(seed, root, volatility):
    feed = SimulatedFeed(seed, TICKS, volatility_ticks=volatility)
    feed.set_price(f"{root}Z5", TICKS[root] * 3)  # start near zero to test the floor
    for n in range(100):
        (update,) = feed.step(at(n))
        assert update.price > 0
        assert update.price % TICKS[root] == 0


def test_set_price_snaps_to_the_grid_and_subscribes():
    feed = SimulatedFeed(1, TICKS)
    assert feed.set_price("ESZ5", D("6012.3")) == D("6012.25")
    assert feed.last("ESZ5") == D("6012.25")
    assert [u.symbol for u in feed.step(at(1))] == ["ESZ5"]


@pytest.mark.parametrize("price", [D(0), D("-1"), D("NaN"), 6000.25])
def test_set_price_refuses_prices_that_cannot_trade(price):
    with pytest.raises(FeedError) as caught:
        SimulatedFeed(1, TICKS).set_price("ESZ5", price)
    assert caught.value.field == "price"


def test_unknown_roots_and_bad_settings_are_refused():
    feed = SimulatedFeed(1, TICKS)
    with pytest.raises(FeedError, match="no start price for XXZ5"):
        feed.subscribe("XXZ5")
    with pytest.raises(FeedError, match="no tick size for KCZ5"):
        SimulatedFeed(1, TICKS, start_prices={"KC": D(300)}).subscribe("KCZ5")
    with pytest.raises(DomainValidationError):
        SimulatedFeed(1, TICKS, volatility_ticks=-1)


# Replay feed.

REPLAY = """time,symbol,price
2025-03-03T14:30:01Z,ESZ5,6000.25
2025-03-03T14:30:00Z,ESZ5,6000.00
2025-03-03T14:30:01Z,clf6,70.12
2025-03-03T14:30:05+00:00,ESZ5,6001.50
"""


def test_replay_plays_one_recorded_moment_per_step_in_time_order():
    feed = ReplayFeed.from_csv_text(REPLAY)
    assert feed.step(at(100)) == [PriceUpdate("ESZ5", D("6000.00"), at(100), at(0))]
    assert feed.step(at(101)) == [
        PriceUpdate("ESZ5", D("6000.25"), at(101), at(1)),
        PriceUpdate("CLF6", D("70.12"), at(101), at(1)),
    ]
    assert (feed.last("ESZ5"), feed.last("CLF6")) == (D("6000.25"), D("70.12"))
    assert feed.step(at(102))[0].price == D("6001.50")
    assert feed.exhausted and feed.step(at(103)) == []


def test_replay_reads_a_file_with_extra_columns_and_naive_utc_times(tmp_path: Path):
    path = tmp_path / "prices.csv"
    path.write_text("\ufeffSymbol,Price,Time,volume\nESZ5,6000,2025-03-03 14:30:00,12\n")
    (update,) = ReplayFeed.from_csv(path).updates
    assert update == PriceUpdate("ESZ5", D(6000), T0)


def test_replay_keeps_recorded_offsets():
    feed = ReplayFeed.from_csv_text("time,symbol,price\n2025-03-03T09:30:00-05:00,ESZ5,1\n")
    assert feed.updates[0].time == T0.astimezone(timezone(timedelta(hours=-5)))


def test_set_price_overrides_a_replay_until_its_next_row():
    feed = ReplayFeed.from_csv_text(REPLAY)
    feed.step(at(0))
    feed.set_price("ESZ5", D("5990.5"))
    assert feed.last("ESZ5") == D("5990.5")
    feed.step(at(1))
    assert feed.last("ESZ5") == D("6000.25")


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("", "line 1", "header needs the columns time,symbol,price"),
        ("time,symbol\n2025-03-03T14:30:00Z,ESZ5\n", "line 1", "['price']"),
        ("time,symbol,price\n", "line 2", "the replay has no prices"),
        ("time,symbol,price\nyesterday,ESZ5,6000\n", "line 2", "'yesterday' is not an ISO"),
        ("time,symbol,price\n2025-03-03T14:30:00Z,ESZ5,abc\n", "line 2", "'abc' is not a number"),
        (
            "time,symbol,price\n2025-03-03T14:30:00Z,ESZ5,1\n\n2025-03-03T14:30:01Z,ESZ5,-2\n",
            "line 4",
            "'-2' must be greater than zero",
        ),
        ("time,symbol,price\n2025-03-03T14:30:00Z,,6000\n", "line 2", "symbol is empty"),
        ("time,symbol,price\n2025-03-03T14:30:00Z,ESZ5\n", "line 2", "price '' is not a number"),
        ("time,symbol,price\n2025-03-03T14:30:00Z,ESZ5,1,2\n", "line 2", "more cells"),
        ("time,symbol,price\n2025-03-03T14:30:00Z,ESZ5,Infinity\n", "line 2", "greater than"),
    ],
)
def test_malformed_replays_name_the_line(text, field, message):
    with pytest.raises(FeedError) as caught:
        ReplayFeed.from_csv_text(text)
    assert caught.value.field == field
    assert message in caught.value.message


def test_a_missing_replay_file_is_a_feed_error(tmp_path: Path):
    with pytest.raises(FeedError, match="cannot read"):
        ReplayFeed.from_csv(tmp_path / "missing.csv")


# The PAPER_FEED setting.


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("simulated", FeedSetting("simulated")),
        (" Simulated ", FeedSetting("simulated")),
        ("replay:/data/es.csv", FeedSetting("replay", Path("/data/es.csv"))),
        ("replay:prices/C:x.csv", FeedSetting("replay", Path("prices/C:x.csv"))),
    ],
)
def test_feed_setting_parses_the_two_forms(value, expected):
    assert parse_feed_setting(value) == expected


@pytest.mark.parametrize("value", ["", "random", "replay", "replay:", "replay:  ", "csv:/x.csv"])
def test_feed_setting_refuses_anything_else(value):
    with pytest.raises(FeedError) as caught:
        parse_feed_setting(value)
    assert caught.value.field == "PAPER_FEED"
