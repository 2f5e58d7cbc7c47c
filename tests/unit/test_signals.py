"""TradingView alert bodies parsed into signals (DESIGN §5.2)."""

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.break_even import parse_break_even
from app.domain.errors import DomainValidationError
from app.domain.exits import ExitSpec, OffsetUnit, TrailingSpec
from app.domain.signals import (
    MAX_COMMENT_LENGTH,
    MarketPosition,
    Signal,
    SignalAction,
    SignalDefaults,
    SignalError,
    parse_signal,
    read_passphrase,
)
from app.domain.targets import parse_targets
from app.domain.vocabulary import OrderType

RECEIVED = datetime(2026, 11, 21, 14, 30, 5, tzinfo=UTC)
DEFAULTS = SignalDefaults(max_quantity=100, symbol="MES1!", quantity=1)
BARE = SignalDefaults(max_quantity=100)
FAST = settings(max_examples=300, deadline=None)


def ticks(n) -> ExitSpec:
    return ExitSpec(OffsetUnit.TICKS, Decimal(n))


def points(n) -> ExitSpec:
    return ExitSpec(OffsetUnit.POINTS, Decimal(n))


def parse(payload: dict | str, defaults: SignalDefaults = DEFAULTS) -> Signal:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return parse_signal(body, defaults, RECEIVED)


def refused(payload: dict | str, defaults: SignalDefaults = DEFAULTS) -> SignalError:
    with pytest.raises(SignalError) as caught:
        parse(payload, defaults)
    return caught.value


# --- the canonical payload ----------------------------------------------------------------


def test_the_design_example_parses_field_by_field():
    signal = parse(
        {
            "passphrase": "s3cret",
            "action": "buy",
            "symbol": "CME_MINI:MES1!",
            "quantity": 1,
            "order_type": "limit",
            "price": 5012.25,
            "take_profit": {"ticks": 16},
            "stop_loss": {"points": 4},
            "trailing_stop": {"percent": 0.2, "activation": {"ticks": 8}},
            "market_position": "long",
            "position_size": 1,
            "id": "alert-42",
            "time": "2026-11-21T14:30:00Z",
        }
    )
    assert signal == Signal(
        action=SignalAction.BUY,
        symbol="CME_MINI:MES1!",
        quantity=1,
        order_type=OrderType.LIMIT,
        price=Decimal("5012.25"),
        take_profit=ticks(16),
        stop_loss=points(4),
        trailing_stop=TrailingSpec(ExitSpec(OffsetUnit.PERCENT, Decimal("0.2")), ticks(8)),
        market_position=MarketPosition.LONG,
        position_size=1,
        alert_id="alert-42",
        alert_time=datetime(2026, 11, 21, 14, 30, tzinfo=UTC),
        received_at=RECEIVED,
        comment=None,
        body_format="json",
    )


def test_to_json_is_json_safe_and_never_carries_the_passphrase():
    signal = parse(
        {
            "passphrase": "hunter2-secret",
            "action": "sell",
            "symbol": "MES1!",
            "quantity": "2",
            "price": "5012.250",
            "take_profit": {"ticks": 16},
            "stop_loss": {"ticks": 12},
            "trailing_stop": {"points": 2, "activation": {"ticks": 4}},
            "break_even": {"trigger": {"ticks": 8}},
            "time": "2026-11-21T09:30:00-05:00",
            "comment": "short entry",
            "confidence": 82.5,
        }
    )
    data = signal.to_json()
    assert data == {
        "action": "sell",
        "symbol": "MES1!",
        "quantity": 2,
        "order_type": "market",
        "price": "5012.250",
        "take_profit": {"ticks": "16"},
        "stop_loss": {"ticks": "12"},
        "trailing_stop": {"points": "2", "activation": {"ticks": "4"}},
        "break_even": {"trigger": {"ticks": "8"}},
        "targets": None,
        "market_position": None,
        "position_size": None,
        "alert_id": None,
        "alert_time": "2026-11-21T14:30:00Z",
        "received_at": "2026-11-21T14:30:05Z",
        "comment": "short entry",
        "body_format": "json",
        "charted": None,
        "confidence": "82.5",
    }
    assert "hunter2" not in json.dumps(data)
    assert "hunter2" not in repr(signal)


def test_prices_keep_their_exact_decimal_digits():
    assert parse({"action": "buy", "price": 0.1}).price == Decimal("0.1")
    assert parse('{"action": "buy", "price": 5012.2500001}').price == Decimal("5012.2500001")
    assert parse({"action": "buy", "price": "1e3"}).to_json()["price"] == "1000"


# --- aliases --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "attribute", "expected"),
    [
        ("action", "sell", "action", SignalAction.SELL),
        ("side", "sell", "action", SignalAction.SELL),
        ("data", "sell", "action", SignalAction.SELL),
        ("symbol", "MNQ1!", "symbol", "MNQ1!"),
        ("ticker", "MNQ1!", "symbol", "MNQ1!"),
        ("quantity", 3, "quantity", 3),
        ("contracts", "3", "quantity", 3),
        ("qty", 3.0, "quantity", 3),
        ("order_type", "stop", "order_type", OrderType.STOP),
        ("orderType", "stop", "order_type", OrderType.STOP),
        ("take_profit", {"ticks": 8}, "take_profit", ticks(8)),
        ("takeProfit", {"ticks": 8}, "take_profit", ticks(8)),
        ("tp", 6, "take_profit", points(6)),
        ("stop_loss", {"ticks": 8}, "stop_loss", ticks(8)),
        ("stopLoss", {"ticks": 8}, "stop_loss", ticks(8)),
        ("sl", "2.5", "stop_loss", points("2.5")),
        ("trailing_stop", {"ticks": 8}, "trailing_stop", TrailingSpec(ticks(8))),
        ("trail", 3, "trailing_stop", TrailingSpec(points(3))),
        ("market_position", "long", "market_position", MarketPosition.LONG),
        ("sentiment", "long", "market_position", MarketPosition.LONG),
        ("time", "2026-11-21T14:00:00Z", "alert_time", datetime(2026, 11, 21, 14, tzinfo=UTC)),
        ("date", "2026-11-21T14:00:00Z", "alert_time", datetime(2026, 11, 21, 14, tzinfo=UTC)),
        ("timenow", "2026-11-21T14:00:00Z", "alert_time", datetime(2026, 11, 21, 14, tzinfo=UTC)),
        ("id", "abc", "alert_id", "abc"),
        ("comment", "Long 1", "comment", "Long 1"),
    ],
)
def test_every_field_alias(key, value, attribute, expected):
    payload = {"price": 5000, key: value}
    if attribute != "action":
        payload["action"] = "buy"
    assert getattr(parse(payload), attribute) == expected


def test_a_field_under_two_names_must_agree():
    assert parse({"action": "buy", "quantity": 2, "qty": 2}).quantity == 2
    error = refused({"action": "buy", "quantity": 2, "qty": 3})
    assert error.field == "quantity"
    assert "qty" in error.message
    assert refused({"action": "buy", "side": "sell"}).field == "action"
    assert refused({"action": "buy", "symbol": "MES1!", "ticker": "MNQ1!"}).field == "symbol"


def test_field_names_are_case_sensitive_and_unknown_fields_are_ignored():
    signal = parse(
        {
            "action": "buy",
            "Quantity": 7,
            "type": "entry",
            "strategy": {"name": "trend", "params": [1, 2]},
            "token": "pickmytrade-token",
            "note": None,
        }
    )
    assert signal.quantity == 1  # "Quantity" is not "quantity": the default applies


def test_null_means_not_given():
    signal = parse(
        {"action": "buy", "symbol": None, "quantity": None, "price": None, "take_profit": None}
    )
    assert (signal.symbol, signal.quantity, signal.price, signal.take_profit) == (
        "MES1!",
        1,
        None,
        None,
    )


# --- actions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "action"),
    [
        ("buy", SignalAction.BUY),
        ("BUY", SignalAction.BUY),
        (" Buy ", SignalAction.BUY),
        ("long", SignalAction.BUY),
        ("sell", SignalAction.SELL),
        ("Short", SignalAction.SELL),
        ("exit", SignalAction.EXIT),
        ("close", SignalAction.EXIT),
        ("flat", SignalAction.EXIT),
        ("FLATTEN", SignalAction.EXIT),
        ("reverse", SignalAction.REVERSE),
        ("cancel", SignalAction.CANCEL),
    ],
)
def test_action_words(word, action):
    assert parse({"action": word}).action is action


@pytest.mark.parametrize(
    ("sentiment", "action"), [("long", SignalAction.BUY), ("short", SignalAction.SELL)]
)
def test_traderspost_add_follows_the_sentiment(sentiment, action):
    assert parse({"action": "add", "sentiment": sentiment}).action is action


def test_traderspost_add_follows_a_signed_position_size():
    assert parse({"action": "add", "position_size": -2}).action is SignalAction.SELL


@pytest.mark.parametrize("payload", [{"action": "add"}, {"action": "add", "sentiment": "flat"}])
def test_add_without_a_direction_is_refused(payload):
    error = refused(payload)
    assert error.field == "action"
    assert "market_position" in error.message


@pytest.mark.parametrize("value", ["hold", "", "sync", "buy!", 1, True, ["buy"], {"a": "buy"}])
def test_unknown_actions_are_refused(value):
    assert refused({"action": value}).field == "action"


def test_no_action_and_no_target_is_refused():
    error = refused({"symbol": "MES1!", "quantity": 1})
    assert error.field == "action"
    assert "required" in error.message


# --- position sync --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "position", "size"),
    [
        ({"market_position": "flat"}, MarketPosition.FLAT, 0),
        ({"market_position": "FLAT", "position_size": "0"}, MarketPosition.FLAT, 0),
        ({"market_position": "long", "position_size": "2"}, MarketPosition.LONG, 2),
        ({"market_position": "short", "position_size": 2}, MarketPosition.SHORT, -2),
        ({"market_position": "short", "position_size": "-2"}, MarketPosition.SHORT, -2),
        ({"position_size": "-3"}, MarketPosition.SHORT, -3),
        ({"position_size": 4.0}, MarketPosition.LONG, 4),
        ({"position_size": 0}, MarketPosition.FLAT, 0),
        ({"sentiment": "short", "position_size": 1}, MarketPosition.SHORT, -1),
    ],
)
def test_a_target_without_an_action_is_a_sync(payload, position, size):
    signal = parse(payload)
    assert signal.action is SignalAction.SYNC
    assert (signal.market_position, signal.position_size) == (position, size)
    assert signal.quantity is None


def test_an_action_keeps_its_target_for_position_sync_mode():
    signal = parse({"action": "sell", "market_position": "short", "position_size": 1})
    assert signal.action is SignalAction.SELL
    assert signal.position_size == -1


SYNCED = SignalDefaults(
    max_quantity=100,
    symbol="MES1!",
    quantity=1,
    order_type=OrderType.LIMIT,
    stop_loss=ticks(8),
    position_sync=True,
)


@pytest.mark.parametrize("action", ["buy", "sell", "reverse", "add"])
def test_position_sync_refuses_an_action_without_a_target(action):
    payload = {"action": action, "market_position": "long", "price": "5000"}
    error = refused(payload, SYNCED)
    assert error.field == "position_size" and "position-sync" in error.message


@pytest.mark.parametrize("action", ["exit", "cancel"])
def test_position_sync_takes_exit_and_cancel_without_a_target(action):
    assert parse({"action": action}, SYNCED).action is SignalAction(action)


def test_position_sync_keeps_the_action_and_its_target():
    alert = {"action": "buy", "market_position": "long", "position_size": "2", "price": 5000}
    signal = parse(alert, SYNCED)
    assert (signal.action, signal.position_size) == (SignalAction.BUY, 2)


def test_a_position_sync_target_of_flat_opens_nothing_beside_an_action():
    signal = parse({"action": "sell", "market_position": "flat"}, SYNCED)
    assert signal.order_type is OrderType.MARKET  # not the default limit without a price
    assert (signal.take_profit, signal.stop_loss, signal.trailing_stop) == (None, None, None)
    opening = parse({"action": "sell", "position_size": -1, "price": "5000"}, SYNCED)
    assert (opening.order_type, opening.stop_loss) == (OrderType.LIMIT, ticks(8))


def test_long_or_short_without_a_size_is_no_target():
    assert parse({"action": "buy", "market_position": "long"}).position_size is None
    error = refused({"market_position": "long"})
    assert error.field == "position_size"


@pytest.mark.parametrize(
    "payload",
    [
        {"market_position": "long", "position_size": -1},
        {"market_position": "long", "position_size": 0},
        {"market_position": "short", "position_size": 0},
        {"market_position": "flat", "position_size": 2},
        {"market_position": "flat", "position_size": -2},
        {"position_size": 1.5},
        {"position_size": "two"},
        {"position_size": True},
    ],
)
def test_contradicting_or_broken_targets_are_refused(payload):
    assert refused(payload).field == "position_size"


@pytest.mark.parametrize("value", ["bullish", "", 1, ["long"]])
def test_unknown_market_positions_are_refused(value):
    assert refused({"action": "buy", "market_position": value}).field == "market_position"


# --- symbol and quantity --------------------------------------------------------------------


def test_symbol_is_trimmed_and_kept_unresolved():
    assert parse({"action": "buy", "symbol": "  cme_mini:mes1! "}).symbol == "cme_mini:mes1!"


def test_a_missing_symbol_takes_the_strategy_default():
    assert parse({"action": "buy"}).symbol == "MES1!"


def test_no_symbol_anywhere_is_refused():
    error = refused({"action": "buy", "quantity": 1}, BARE)
    assert error.field == "symbol"
    assert "required" in error.message


@pytest.mark.parametrize("value", ["", "   ", 5, ["MES1!"], {"s": 1}, "M" * 41, "{{ticker}}"])
def test_a_bad_symbol_is_refused_even_with_a_default(value):
    assert refused({"action": "buy", "symbol": value}).field == "symbol"


@pytest.mark.parametrize("value", ["2", 2, 2.0, "2.0", " 2 "])
def test_quantity_accepts_whole_numbers_in_any_form(value):
    assert parse({"action": "buy", "quantity": value}).quantity == 2


@pytest.mark.parametrize(
    "value", ["2.5", 2.5, 0, "0", -1, "-3", "abc", "", 101, True, [1], {"n": 1}, "1e400"]
)
def test_quantity_rejects_fractions_zero_negatives_text_and_over_cap(value):
    assert refused({"action": "buy", "quantity": value}).field == "quantity"


def test_quantity_cap_comes_from_the_defaults():
    capped = SignalDefaults(max_quantity=5, symbol="MES1!", quantity=1)
    assert parse({"action": "buy", "quantity": 5}, capped).quantity == 5
    error = refused({"action": "buy", "quantity": 6}, capped)
    assert (error.field, error.message) == ("quantity", "must be at most 5")


def test_a_missing_quantity_takes_the_default_for_buy_and_sell():
    three = SignalDefaults(max_quantity=100, quantity=3, symbol="ES1!")
    assert parse({"action": "sell"}, three).quantity == 3
    assert parse({"action": "sell"}).quantity == 1
    error = refused({"action": "buy", "symbol": "MES1!"}, BARE)
    assert error.field == "quantity"
    assert "required" in error.message


def test_a_default_quantity_over_the_cap_is_refused():
    defaults = SignalDefaults(max_quantity=2, symbol="MES1!", quantity=3)
    assert refused({"action": "buy"}, defaults).field == "quantity"


@pytest.mark.parametrize(
    ("payload", "quantity"),
    [
        ({"action": "exit"}, None),  # close everything
        ({"action": "exit", "quantity": 1}, 1),  # partial exit
        ({"action": "reverse"}, None),  # reverse the current size
        ({"action": "reverse", "quantity": 2}, 2),
        ({"action": "cancel", "quantity": 2}, None),
        ({"market_position": "long", "position_size": 2, "quantity": 5}, None),
    ],
)
def test_only_buy_and_sell_take_the_default_quantity(payload, quantity):
    assert parse(payload).quantity == quantity


def test_quantity_is_checked_even_where_unused():
    assert refused({"action": "cancel", "quantity": -1}).field == "quantity"


# --- order type and price -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "order_type", "price"),
    [
        ({"action": "buy"}, OrderType.MARKET, None),
        ({"action": "buy", "price": "5000.25"}, OrderType.MARKET, Decimal("5000.25")),
        ({"action": "buy", "order_type": "LIMIT", "price": 4990}, OrderType.LIMIT, Decimal(4990)),
        ({"action": "sell", "order_type": "stop", "price": "4980"}, OrderType.STOP, Decimal(4980)),
        ({"action": "exit", "order_type": "limit", "price": 5010}, OrderType.LIMIT, Decimal(5010)),
    ],
)
def test_order_type_and_price(payload, order_type, price):
    signal = parse(payload)
    assert (signal.order_type, signal.price) == (order_type, price)


@pytest.mark.parametrize("order_type", ["limit", "stop"])
def test_limit_and_stop_orders_need_a_price(order_type):
    error = refused({"action": "buy", "order_type": order_type})
    assert error.field == "price"
    assert order_type in error.message


def test_the_default_order_type_applies_to_entries_only():
    limit = SignalDefaults(max_quantity=100, symbol="MES1!", quantity=1, order_type=OrderType.LIMIT)
    assert parse({"action": "buy", "price": 5000}, limit).order_type is OrderType.LIMIT
    assert refused({"action": "buy"}, limit).field == "price"
    assert refused({"market_position": "long", "position_size": 2}, limit).field == "price"
    # A flatten is never blocked by a default that needs a price.
    assert parse({"action": "exit"}, limit).order_type is OrderType.MARKET
    assert parse({"market_position": "flat"}, limit).order_type is OrderType.MARKET


def test_cancel_places_no_order():
    assert parse({"action": "cancel", "order_type": "limit"}).order_type is None


@pytest.mark.parametrize("value", ["stop_limit", "iceberg", "", 1, "trailing_stop"])
def test_unsupported_order_types_are_refused(value):
    assert refused({"action": "buy", "order_type": value}).field == "order_type"


def test_a_stop_limit_default_is_refused():
    defaults = SignalDefaults(
        max_quantity=9, symbol="ES1!", quantity=1, order_type=OrderType.STOP_LIMIT
    )
    error = refused({"action": "buy", "price": 5000}, defaults)
    assert error.field == "order_type"


@pytest.mark.parametrize("value", [0, "0", -5, "-1.25", "abc", "", True, [5000], "NaN", "Infinity"])
def test_bad_prices_are_refused(value):
    assert refused({"action": "buy", "price": value}).field == "price"


# --- exits ----------------------------------------------------------------------------------

EXITS = SignalDefaults(
    max_quantity=100,
    symbol="MES1!",
    quantity=1,
    take_profit=ticks(16),
    stop_loss=ticks(8),
    trailing_stop=TrailingSpec(points(2)),
)


def test_exits_default_to_the_strategys():
    signal = parse({"action": "buy"}, EXITS)
    assert (signal.take_profit, signal.stop_loss, signal.trailing_stop) == (
        ticks(16),
        ticks(8),
        TrailingSpec(points(2)),
    )


def test_the_alerts_exits_override_the_defaults():
    signal = parse({"action": "buy", "tp": 10, "stopLoss": {"percent": "0.5"}}, EXITS)
    assert signal.take_profit == points(10)
    assert signal.stop_loss == ExitSpec(OffsetUnit.PERCENT, Decimal("0.5"))
    assert signal.trailing_stop == TrailingSpec(points(2))


@pytest.mark.parametrize(
    "payload",
    [
        {"action": "exit", "take_profit": {"ticks": 4}},
        {"action": "cancel"},
        {"action": "exit"},
        {"market_position": "flat"},
    ],
)
def test_exits_ride_on_entries_only(payload):
    signal = parse(payload, EXITS)
    assert (signal.take_profit, signal.stop_loss, signal.trailing_stop) == (None, None, None)


def test_exits_apply_to_reverse_and_sync():
    assert parse({"action": "reverse"}, EXITS).stop_loss == ticks(8)
    assert parse({"market_position": "long", "position_size": 1}, EXITS).stop_loss == ticks(8)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"take_profit": {"ticks": -16}}, "take_profit.ticks"),
        ({"take_profit": {"ticks": 2.5}}, "take_profit.ticks"),
        ({"takeProfit": {"limitPrice": 5050}}, "take_profit"),
        ({"stop_loss": -4}, "stop_loss"),
        ({"stop_loss": 0}, "stop_loss"),
        ({"sl": -4}, "stop_loss"),
        ({"stop_loss": {"percent": 100}}, "stop_loss.percent"),
        ({"trailing_stop": {"price": 5000}}, "trailing_stop"),
        (
            {"trailing_stop": {"ticks": 4, "activation": {"ticks": -1}}},
            "trailing_stop.activation.ticks",
        ),
        ({"trail": "x"}, "trailing_stop"),
        ({"take_profit": [16]}, "take_profit[0]"),  # a target needs its share
    ],
)
def test_bad_exits_are_refused_with_the_field_named(payload, field):
    assert refused({"action": "buy", **payload}).field == field


def test_bad_exits_are_refused_even_on_an_exit():
    assert refused({"action": "exit", "stop_loss": {"ticks": -1}}).field == "stop_loss.ticks"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"price": 5000, "sl": 5010}, "stop_loss.points"),
        ({"price": 5000, "stop_loss": {"points": 5000}}, "stop_loss.points"),
        ({"price": 5000, "tp": 5050}, "take_profit.points"),
        ({"price": 70, "trailing_stop": 70.5}, "trailing_stop.points"),
    ],
)
def test_a_points_offset_as_large_as_the_price_is_refused(payload, field):
    error = refused({"action": "buy", **payload})
    assert error.field == field
    assert "price" in error.message


def test_offsets_in_ticks_and_percent_are_not_compared_with_the_price():
    signal = parse({"action": "buy", "price": 10, "stop_loss": {"ticks": 80}})
    assert signal.stop_loss == ticks(80)


def test_pickmytrade_trail_and_trigger_make_a_trailing_stop():
    signal = parse({"action": "buy", "trail": "2", "trail_trigger": 4})
    assert signal.trailing_stop == TrailingSpec(points(2), points(4))
    signal = parse({"action": "buy", "trail": {"ticks": 8}, "trail_trigger": {"ticks": 4}})
    assert signal.trailing_stop == TrailingSpec(ticks(8), ticks(4))


@pytest.mark.parametrize(
    "payload",
    [
        {"trail_trigger": 4},
        {"trailing_stop": {"ticks": 8, "activation": {"ticks": 4}}, "trail_trigger": 4},
    ],
)
def test_a_trail_trigger_needs_a_trail_and_no_second_activation(payload):
    assert refused({"action": "buy", **payload}).field == "trail_trigger"


def test_pickmytrade_zero_means_none_but_zero_elsewhere_is_refused():
    signal = parse({"action": "buy", "tp": 0, "sl": "0", "trail": 0, "trail_trigger": 0}, EXITS)
    assert (signal.take_profit, signal.stop_loss, signal.trailing_stop) == (
        ticks(16),
        ticks(8),
        TrailingSpec(points(2)),
    )
    assert refused({"action": "buy", "take_profit": 0}).field == "take_profit"


# --- fields other services give meanings DeskPilot does not implement ------------------------


@pytest.mark.parametrize(
    "key",
    [
        "limitPrice",
        "stopPrice",
        "trailAmount",
        "trailPercent",
        "trail_stop",
        "percentage_tp",
        "dollar_tp",
        "percentage_sl",
        "dollar_sl",
    ],
)
def test_unsupported_meanings_are_refused_rather_than_dropped(key):
    error = refused({"action": "buy", key: "5"})
    assert error.field == key
    assert "not supported" in error.message
    assert parse({"action": "buy", key: 0}).action is SignalAction.BUY
    assert parse({"action": "buy", key: ""}).action is SignalAction.BUY
    assert parse({"action": "buy", key: None}).action is SignalAction.BUY
    assert parse({"action": "buy", key: False}).action is SignalAction.BUY


def test_break_even_moves_the_stop_an_alert_sets_on_a_market_entry():
    trigger = {"trigger": {"ticks": 8}, "offset": {"ticks": 1}}
    signal = parse({"action": "buy", "stop_loss": {"ticks": 8}, "break_even": trigger})
    assert signal.break_even.to_json() == {"trigger": {"ticks": "8"}, "offset": {"ticks": "1"}}
    assert parse({"action": "exit", "break_even": trigger}).break_even is None  # closes only


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"break_even": {"trigger": {"ticks": 8}}}, "break_even"),  # no stop to move
        (
            {
                "trailing_stop": {"ticks": 8, "activation": {"ticks": 4}},
                "break_even": {"trigger": {"ticks": 8}},
            },
            "break_even",
        ),
        ({"stop_loss": 4, "break_even": {"trigger": "first_target"}}, "break_even.trigger"),
        ({"stop_loss": 4, "break_even": {"trigger": {"price": 5010}}}, "break_even.trigger"),
        ({"stop_loss": 4, "break_even": {"offset": {"ticks": 1}}}, "break_even.trigger"),
        (
            {
                "stop_loss": 4,
                "order_type": "limit",
                "price": 5000,
                "break_even": {"trigger": {"ticks": 8}},
            },
            "break_even",
        ),
    ],
)
def test_break_even_an_alert_cannot_follow_is_refused_by_name(payload, field):
    assert refused({"action": "buy", **payload}).field == field


# --- time, id, comment ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-21T14:30:00Z", datetime(2026, 11, 21, 14, 30, tzinfo=UTC)),
        ("2026-11-21T14:30:00.250Z", datetime(2026, 11, 21, 14, 30, 0, 250000, tzinfo=UTC)),
        ("2026-11-21T08:30:00-06:00", datetime(2026, 11, 21, 14, 30, tzinfo=UTC)),
        ("2026-11-21T15:30:00+01:00", datetime(2026, 11, 21, 14, 30, tzinfo=UTC)),
        ("2026-11-21 14:30:00", datetime(2026, 11, 21, 14, 30, tzinfo=UTC)),  # naive is UTC
        (" 2026-11-21T14:30:00Z ", datetime(2026, 11, 21, 14, 30, tzinfo=UTC)),
        (1795271400, datetime(2026, 11, 21, 14, 30, tzinfo=UTC)),
        ("1795271400", datetime(2026, 11, 21, 14, 30, tzinfo=UTC)),
        (1795271400.5, datetime(2026, 11, 21, 14, 30, 0, 500000, tzinfo=UTC)),
        (1795271400000, datetime(2026, 11, 21, 14, 30, tzinfo=UTC)),
        ("1795271400123", datetime(2026, 11, 21, 14, 30, 0, 123000, tzinfo=UTC)),
    ],
)
def test_alert_time_forms(value, expected):
    moment = parse({"action": "buy", "time": value}).alert_time
    assert moment == expected
    assert moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "",
        "2026-13-01T00:00:00Z",
        "2026-11-21T25:00:00Z",
        -1,
        "-1795271400",
        0,
        "1e30",
        10**30,
        "1999-12-31T23:59:59Z",
        "2100-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        True,
        {"t": 1},
        [1795271400],
        "{{timenow}}",
        "2" * 100,
    ],
)
def test_unparseable_times_are_refused(value):
    assert refused({"action": "buy", "time": value}).field == "time"


@pytest.mark.parametrize(
    ("value", "expected"), [("abc", "abc"), (" abc ", "abc"), (123, "123"), ("", None)]
)
def test_alert_id(value, expected):
    assert parse({"action": "buy", "id": value}).alert_id == expected


@pytest.mark.parametrize("value", [1.5, True, ["a"], {"a": 1}, "x" * 101])
def test_bad_alert_ids_are_refused(value):
    assert refused({"action": "buy", "id": value}).field == "id"


def test_comments_are_trimmed_and_cut():
    assert parse({"action": "buy", "comment": "  "}).comment is None
    long = parse({"action": "buy", "comment": "c" * 1000}).comment
    assert long == "c" * MAX_COMMENT_LENGTH
    assert refused({"action": "buy", "comment": 5}).field == "comment"


def test_received_at_must_be_aware():
    with pytest.raises(ValueError, match="aware"):
        parse_signal('{"action": "buy"}', DEFAULTS, datetime(2026, 11, 21, 14, 30))


def test_received_at_is_kept_in_its_zone_and_shown_in_utc():
    chicago = datetime(2026, 11, 21, 8, 30, tzinfo=timezone(timedelta(hours=-6)))
    signal = parse_signal('{"action": "buy"}', DEFAULTS, chicago)
    assert signal.received_at == chicago
    assert signal.to_json()["received_at"] == "2026-11-21T14:30:00Z"


# --- unrendered placeholders ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("action", "action"),
        ("data", "action"),
        ("symbol", "symbol"),
        ("ticker", "symbol"),
        ("quantity", "quantity"),
        ("contracts", "quantity"),
        ("order_type", "order_type"),
        ("price", "price"),
        ("take_profit", "take_profit"),
        ("tp", "take_profit"),
        ("stop_loss", "stop_loss"),
        ("trailing_stop", "trailing_stop"),
        ("trail_trigger", "trail_trigger"),
        ("market_position", "market_position"),
        ("position_size", "position_size"),
        ("id", "id"),
        ("time", "time"),
        ("comment", "comment"),
    ],
)
def test_an_unrendered_placeholder_is_refused_naming_the_field(key, field):
    payload = {"action": "buy", "trail": 2, key: "{{strategy.order.contracts}}"}
    error = refused(payload)
    assert error.field == field
    assert "{{strategy.order.contracts}}" in error.message


def test_a_placeholder_nested_in_an_exit_is_found():
    error = refused({"action": "buy", "take_profit": {"ticks": "{{plot_0}}"}})
    assert (error.field, "{{plot_0}}" in error.message) == ("take_profit", True)


# --- the body ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "",
        "   \n",
        "[1, 2]",
        "[]",
        "42",
        '"buy"',
        "true",
        "null",
        '{"action": "buy"',
        '{"action": buy}',
        '{"action": "buy", "price": NaN}',
        '{"action": "buy", "price": Infinity}',
        '{"action": "buy", "action": "sell"}',
        '{"action": "buy", "take_profit": {"ticks": 1, "ticks": 2}}',
        '{"action": "buy", "quantity": ' + "9" * 5000 + "}",
        "[" * 100_000,
        "buy MES1! 1",
        "hello world",
    ],
)
def test_a_body_that_is_no_alert_is_refused(body):
    error = refused(body)
    assert error.field == "body"
    assert len(error.message) < 300


def test_a_json_body_with_an_unquoted_placeholder_says_so():
    error = refused('{"action": "buy", "price": {{close}}}')
    assert error.field == "body"
    assert "{{close}}" in error.message


def test_a_byte_order_mark_and_whitespace_are_tolerated():
    assert parse('\ufeff  {"action": "buy"}\n').action is SignalAction.BUY


# --- TradingView's plain-text strategy message ----------------------------------------------


def test_the_default_strategy_message():
    signal = parse(
        "MES trend (20, 50, close): order buy @ 2 filled on MES1!. New strategy position is 2"
    )
    assert signal.action is SignalAction.BUY
    assert (signal.quantity, signal.symbol, signal.position_size) == (2, "MES1!", 2)
    assert signal.market_position is MarketPosition.LONG
    assert signal.comment == "MES trend (20, 50, close)"
    assert signal.body_format == "text"
    assert signal.order_type is OrderType.MARKET


def test_a_strategy_message_selling_into_a_short_with_an_exchange():
    signal = parse(
        "Breakout: order sell @ 1 filled on CME_MINI:MNQ1!. New strategy position is -1\n"
    )
    assert (signal.action, signal.quantity, signal.symbol) == (
        SignalAction.SELL,
        1,
        "CME_MINI:MNQ1!",
    )
    assert (signal.market_position, signal.position_size) == (MarketPosition.SHORT, -1)


def test_a_strategy_message_going_flat():
    signal = parse("S (1): order sell @ 3 filled on ES1!. New strategy position is 0")
    assert (signal.position_size, signal.market_position) == (0, MarketPosition.FLAT)


def test_a_strategy_message_takes_the_strategys_exits():
    signal = parse("S: order buy @ 1 filled on MES1!. New strategy position is 1", EXITS)
    assert signal.stop_loss == ticks(8)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("S: order buy @ 1.5 filled on MES1!. New strategy position is 1", "quantity"),
        ("S: order buy @ 0 filled on MES1!. New strategy position is 0", "quantity"),
        ("S: order buy @ 101 filled on MES1!. New strategy position is 101", "quantity"),
        ("S: order buy @ 1 filled on MES1!. New strategy position is 0.5", "position_size"),
        ("S: order buy @ 1 filled on {{ticker}}. New strategy position is 1", "symbol"),
        ("S: order hold @ 1 filled on MES1!. New strategy position is 1", "body"),
        (
            "S: order {{strategy.order.action}} @ 1 filled on MES1!. New strategy position is 1",
            "body",
        ),
        ("order buy @ 1 filled on MES1!", "body"),
    ],
)
def test_broken_strategy_messages_are_refused(body, field):
    error = refused(body)
    assert error.field == field


def test_a_placeholder_in_a_text_body_is_named():
    error = refused("S: order {{strategy.order.action}} @ 1 filled on MES1!. New position")
    assert "{{strategy.order.action}}" in error.message


# --- other services' payloads -----------------------------------------------------------------


def test_a_traderspost_payload():
    signal = parse(
        {
            "ticker": "MNQ1!",
            "action": "buy",
            "sentiment": "long",
            "quantity": "1",
            "price": "21000.25",
            "time": "2026-11-21T14:30:00Z",
            "takeProfit": {"percent": 1},
            "stopLoss": {"percent": "0.5"},
        }
    )
    assert (signal.symbol, signal.action, signal.quantity) == ("MNQ1!", SignalAction.BUY, 1)
    assert signal.market_position is MarketPosition.LONG
    assert signal.take_profit == ExitSpec(OffsetUnit.PERCENT, Decimal(1))
    assert signal.stop_loss == ExitSpec(OffsetUnit.PERCENT, Decimal("0.5"))


def test_a_traderspost_exit():
    signal = parse({"ticker": "MNQ1!", "action": "exit", "sentiment": "flat"})
    assert (signal.action, signal.position_size, signal.quantity) == (SignalAction.EXIT, 0, None)


def test_a_pickmytrade_payload():
    signal = parse(
        {
            "symbol": "MNQ1!",
            "date": "1795271400000",
            "data": "sell",
            "quantity": "2",
            "risk_percentage": 0,
            "price": "21000.5",
            "tp": 40,
            "percentage_tp": 0,
            "dollar_tp": 0,
            "sl": 20,
            "dollar_sl": 0,
            "percentage_sl": 0,
            "trail": 0,
            "trail_stop": 0,
            "trail_trigger": 0,
            "trail_freq": 0,
            "update_tp": False,
            "update_sl": False,
            "token": "pmt-token",
            "pyramid": True,
            "multiple_accounts": [{"token": "pmt-token", "account_id": "DEMO1"}],
        }
    )
    assert (signal.action, signal.symbol, signal.quantity) == (SignalAction.SELL, "MNQ1!", 2)
    assert (signal.take_profit, signal.stop_loss, signal.trailing_stop) == (
        points(40),
        points(20),
        None,
    )
    assert signal.alert_time == datetime(2026, 11, 21, 14, 30, tzinfo=UTC)


# --- the passphrase ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "passphrase"),
    [
        ('{"passphrase": "s3cret", "action": "buy"}', "s3cret"),
        ('\ufeff{"passphrase": " spaced "}', " spaced "),
        ('{"passphrase": 1234}', "1234"),
        ('{"passphrase": "s3cret", "action": "{{bad}}"}', "s3cret"),
        ('{"action": "buy"}', None),
        ('{"passphrase": null}', None),
        ('{"passphrase": true}', None),
        ('{"passphrase": 12.5}', None),
        ('{"passphrase": ["s3cret"]}', None),
        ('{"nested": {"passphrase": "s3cret"}}', None),
        ('["s3cret"]', None),
        ("S: order buy @ 1 filled on MES1!. New strategy position is 1", None),
        ("", None),
        ("[" * 100_000, None),
    ],
)
def test_read_passphrase_never_raises(body, passphrase):
    assert read_passphrase(body) == passphrase


# --- properties -------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
# fmt: off
KNOWN_KEYS = st.sampled_from(
    [
        "passphrase", "action", "side", "data", "symbol", "ticker", "quantity", "contracts",
        "qty", "order_type", "orderType", "price", "take_profit", "takeProfit", "tp",
        "stop_loss", "stopLoss", "sl", "trailing_stop", "trail", "trail_trigger",
        "market_position", "sentiment", "position_size", "id", "time", "date", "timenow",
        "comment", "limitPrice", "dollar_sl", "trail_stop",
    ]
)
PLAUSIBLE_VALUES = st.one_of(
    JSON_VALUES,
    st.sampled_from(
        ["buy", "sell", "exit", "add", "long", "short", "flat", "limit", "stop", "MES1!", "0",
         "2", "-2", "2.5", "5012.25", "{{close}}", "2026-11-21T14:30:00Z", "1795271400"]
    ),
    st.fixed_dictionaries(
        {}, optional={"ticks": JSON_VALUES, "points": JSON_VALUES, "activation": JSON_VALUES}
    ),
)
# fmt: on
SMALL_CAP = st.integers(1, 200)


def _accepts_or_refuses(body: str, cap: int) -> Signal | None:
    defaults = SignalDefaults(max_quantity=cap, symbol="MES1!", quantity=1)
    try:
        signal = parse_signal(body, defaults, RECEIVED)
    except SignalError as error:
        assert error.field
        assert isinstance(error, DomainValidationError)
        return None
    json.dumps(signal.to_json())
    assert signal.quantity is None or 1 <= signal.quantity <= cap
    if signal.position_size is not None:
        assert signal.market_position is not None
        assert (signal.position_size > 0) == (signal.market_position is MarketPosition.LONG)
        assert (signal.position_size < 0) == (signal.market_position is MarketPosition.SHORT)
    if signal.order_type in (OrderType.LIMIT, OrderType.STOP):
        assert signal.price is not None
    return signal


@given(st.text(max_size=200), SMALL_CAP)
@FAST
def test_any_text_parses_or_raises_signal_error(body, cap):
    _accepts_or_refuses(body, cap)


@given(JSON_VALUES, SMALL_CAP)
@FAST
def test_any_json_value_parses_or_raises_signal_error(value, cap):
    _accepts_or_refuses(json.dumps(value), cap)


@given(st.dictionaries(KNOWN_KEYS, PLAUSIBLE_VALUES, max_size=8), SMALL_CAP)
@FAST
def test_any_payload_of_known_fields_parses_or_raises_signal_error(payload, cap):
    _accepts_or_refuses(json.dumps(payload), cap)


@given(
    st.sampled_from(["buy", "sell"]),
    st.integers(-1000, 1000),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FFF), max_size=30),
    st.sampled_from(["MES1!", "CME_MINI:NQ1!", "6EZ6", "{{ticker}}", "M2K2!"]),
    st.integers(-1000, 1000),
)
@FAST
def test_any_strategy_message_parses_or_raises_signal_error(action, qty, name, symbol, size):
    body = f"{name}: order {action} @ {qty} filled on {symbol}. New strategy position is {size}"
    signal = _accepts_or_refuses(body, 100)
    if signal is not None:
        assert (signal.quantity, signal.position_size, signal.symbol) == (qty, size, symbol)


def test_scale_out_targets_replace_the_take_profit_on_a_market_entry():
    targets = [{"ticks": 8, "percent_of_position": 50}, {"ticks": 16, "percent_of_position": 50}]
    signal = parse({"action": "buy", "quantity": 2, "take_profit": targets, "stop_loss": 4})
    assert signal.take_profit is None
    assert [t.to_json() for t in signal.targets] == [
        {"ticks": "8", "percent_of_position": "50"},
        {"ticks": "16", "percent_of_position": "50"},
    ]
    assert parse({"action": "exit", "take_profit": targets}).targets is None  # closes only
    bad = [{"ticks": 8, "percent_of_position": 50}, {"ticks": 16, "percent_of_position": 40}]
    assert "add up to 100" in refused({"action": "buy", "take_profit": bad}).message
    limit = {"action": "buy", "order_type": "limit", "price": 5000, "take_profit": targets}
    assert refused(limit).field == "take_profit"
    trail = {"action": "buy", "take_profit": targets, "trailing_stop": {"ticks": 8}}
    assert "trailing stop" in refused(trail).message


def test_a_strategys_break_even_applies_where_it_can_act_and_is_skipped_elsewhere():
    default = parse_break_even({"trigger": {"ticks": 8}})
    with_default = SignalDefaults(max_quantity=100, symbol="MES1!", quantity=1, break_even=default)
    assert parse({"action": "buy", "stop_loss": 4}, with_default).break_even == default
    assert parse({"action": "buy"}, with_default).break_even is None  # no stop: skipped
    limit = {"action": "buy", "stop_loss": 4, "order_type": "limit", "price": 5000}
    assert parse(limit, with_default).break_even is None
    own = parse(
        {"action": "buy", "stop_loss": 4, "break_even": {"trigger": {"ticks": 4}}}, with_default
    )
    assert own.break_even.trigger.amount == 4  # the alert's own wins


def test_a_strategys_targets_are_its_take_profit_refused_where_they_cannot_be_followed():
    targets = parse_targets(
        [{"ticks": 8, "percent_of_position": 50}, {"ticks": 16, "percent_of_position": 50}]
    )
    defaults = SignalDefaults(max_quantity=100, symbol="MES1!", quantity=2, targets=targets)
    assert parse({"action": "buy"}, defaults).targets == targets
    assert parse({"action": "buy", "take_profit": 4}, defaults).targets is None  # overridden
    limit = {"action": "buy", "order_type": "limit", "price": 5000}
    assert refused(limit, defaults).field == "take_profit"


def test_first_target_arms_break_even_beside_scale_out_targets():
    targets = [{"ticks": 8, "percent_of_position": 50}, {"ticks": 16, "percent_of_position": 50}]
    signal = parse(
        {
            "action": "buy",
            "quantity": 2,
            "take_profit": targets,
            "stop_loss": 8,
            "break_even": {"trigger": "first_target"},
        }
    )
    assert signal.break_even.on_first_target


@pytest.mark.parametrize(
    "body",
    [
        '{"action": "buy", "symbol": "MES1!", "quantity": 2, "price": "6000.25",'
        ' "take_profit": [{"ticks": 8, "percent_of_position": 50},'
        ' {"ticks": 16, "percent_of_position": 50}], "stop_loss": {"ticks": 8},'
        ' "break_even": {"trigger": "first_target", "offset": {"ticks": 1}},'
        ' "id": "a-1", "time": "2026-12-03T15:00:00Z", "comment": "go"}',
        '{"action": "sell", "symbol": "MNQ1!", "quantity": 1, "order_type": "limit",'
        ' "price": 21000.5,'
        ' "trailing_stop": {"ticks": 8, "activation": {"ticks": 4}}, "take_profit": 20}',
        '{"action": "buy", "symbol": "MES1!", "quantity": 1, "market_position": "long",'
        ' "position_size": 3}',
        "MES trend: order buy @ 1 filled on MES1!. New strategy position is 1",
    ],
)
def test_a_signal_comes_back_whole_from_its_json(body):
    received = datetime(2026, 12, 3, 15, 0, 5, tzinfo=UTC)
    signal = parse_signal(body, SignalDefaults(max_quantity=100), received)
    assert Signal.from_json(signal.to_json()) == signal
