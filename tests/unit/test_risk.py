"""Pre-trade risk checks."""

from datetime import UTC, datetime, time
from decimal import Decimal

import pytest

from app.domain.risk import (
    Exposure,
    ProposedOrder,
    RiskPolicy,
    TradingWindow,
    check_order,
    reduces_only,
)

NOON_UTC = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)  # 12:00 in Chicago


def buy(qty, symbol="MESZ6"):
    return ProposedOrder(symbol, qty)


def test_no_limits_means_go():
    assert check_order(RiskPolicy(), Exposure(), buy(50), NOON_UTC) == []


def test_halted_refuses_even_an_exit():
    policy = RiskPolicy(halted=True, halted_reason="kill switch")
    exposure = Exposure(positions={"MESZ6": 2})
    assert check_order(policy, exposure, buy(-2), NOON_UTC) == ["account is halted: kill switch"]


@pytest.mark.parametrize(
    ("current", "signed", "expected"),
    [(2, -1, True), (2, -2, True), (2, -3, False), (-3, 1, True), (0, 1, False), (2, 1, False)],
)
def test_reduces_only(current, signed, expected):
    assert reduces_only(ProposedOrder("ES", signed), current) is expected


def test_max_contracts_per_order():
    problems = check_order(RiskPolicy(max_contracts_per_order=3), Exposure(), buy(4), NOON_UTC)
    assert problems == ["4 contracts exceed the limit of 3 per order"]
    assert check_order(RiskPolicy(max_contracts_per_order=3), Exposure(), buy(3), NOON_UTC) == []


def test_max_position_counts_what_is_held():
    exposure = Exposure(positions={"MESZ6": 4})
    problems = check_order(RiskPolicy(max_position=5), exposure, buy(2), NOON_UTC)
    assert problems == ["position would be +6 MESZ6, beyond the limit of 5"]


def test_flip_through_zero_is_checked_as_new_risk():
    exposure = Exposure(positions={"MESZ6": 2})
    problems = check_order(RiskPolicy(max_position=2), exposure, buy(-5), NOON_UTC)
    assert problems == ["position would be -3 MESZ6, beyond the limit of 2"]


def test_max_open_positions_blocks_a_new_symbol_only():
    exposure = Exposure(positions={"MESZ6": 1, "NQZ6": -1, "CLF7": 0})
    policy = RiskPolicy(max_open_positions=2)
    assert check_order(policy, exposure, buy(1, "GCG7"), NOON_UTC) == [
        "2 positions already open (limit 2)"
    ]
    assert check_order(policy, exposure, buy(1, "MESZ6"), NOON_UTC) == []


def test_daily_loss_counts_realized_and_unrealized():
    policy = RiskPolicy(max_daily_loss=Decimal("500"))
    exposure = Exposure(realized_today=Decimal("-350"), unrealized=Decimal("-150.00"))
    assert check_order(policy, exposure, buy(1), NOON_UTC) == [
        "today's P&L -500.00 has reached the daily loss limit of 500"
    ]
    better = Exposure(realized_today=Decimal("-350"), unrealized=Decimal("-149.99"))
    assert check_order(policy, better, buy(1), NOON_UTC) == []


def test_an_exit_passes_every_limit_but_halt():
    policy = RiskPolicy(
        max_contracts_per_order=1,
        max_daily_loss=Decimal(1),
        max_trades_per_day=0,
        window=TradingWindow(time(8, 30), time(9, 0), "America/Chicago"),
    )
    exposure = Exposure(positions={"MESZ6": 5}, realized_today=Decimal(-1000))
    assert check_order(policy, exposure, buy(-5), NOON_UTC) == []


def test_trades_per_day():
    policy = RiskPolicy(max_trades_per_day=3)
    assert check_order(policy, Exposure(entries_today=3), buy(1), NOON_UTC) == [
        "3 entries today reach the limit of 3 per day"
    ]


@pytest.mark.parametrize(
    ("window", "utc_hour", "inside"),
    [
        ((time(8, 30), time(15, 0)), 18, True),  # 12:00 CST
        ((time(8, 30), time(15, 0)), 22, False),  # 16:00 CST
        ((time(17, 0), time(16, 0)), 22, False),  # 16:00 CST: the daily Globex break
        ((time(17, 0), time(16, 0)), 23, True),  # 17:00 CST: open again overnight
        ((time(17, 0), time(16, 0)), 6, True),  # 00:00 CST
    ],
)
def test_trading_window_in_chicago_time_and_across_midnight(window, utc_hour, inside):
    policy = RiskPolicy(window=TradingWindow(*window, "America/Chicago"))
    now = datetime(2026, 11, 20, utc_hour, 0, tzinfo=UTC)
    assert (check_order(policy, Exposure(), buy(1), now) == []) is inside


def test_every_broken_limit_is_reported():
    policy = RiskPolicy(max_contracts_per_order=1, max_position=1, max_trades_per_day=0)
    assert len(check_order(policy, Exposure(), buy(2), NOON_UTC)) == 3
