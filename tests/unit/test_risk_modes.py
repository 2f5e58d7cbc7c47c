"""Risk modes and the exposure limit, worked by hand (domain.risk_modes, domain.risk)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.domain.risk import Exposure, ProposedOrder, RiskPolicy, check_order, total_exposure
from app.domain.risk_modes import (
    capped,
    confidence_refusal,
    entry_side_position,
    open_positions_limit,
    resized,
    risk_size,
)
from app.domain.vocabulary import RiskMode

MES_TICK, MES_TICK_VALUE = Decimal("0.25"), Decimal("1.25")
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


def test_moderate_risks_two_percent_over_the_stop_distance():
    # $10,000 × 2 % = $200; a 10-point stop on MES is 40 ticks × $1.25 = $50 a contract.
    size = risk_size(
        RiskMode.MODERATE, Decimal(10_000), Decimal(5000), Decimal(4990), MES_TICK, MES_TICK_VALUE
    )
    assert (size.quantity, size.budget, size.per_contract) == (4, Decimal(200), Decimal(50))


@pytest.mark.parametrize(
    ("mode", "expected"),
    [(RiskMode.CONSERVATIVE, 2), (RiskMode.MODERATE, 4), (RiskMode.AGGRESSIVE, 8)],
)
def test_each_mode_risks_its_share(mode, expected):
    size = risk_size(mode, Decimal(10_000), Decimal(5000), Decimal(4990), MES_TICK, MES_TICK_VALUE)
    assert size.quantity == expected


def test_sizes_round_down_and_an_off_grid_entry_counts_the_partial_tick():
    # $7,000 × 1 % = $70; entry 5000.10 to a stop at 4990.00 is 40.4 ticks → 41 × $1.25.
    size = risk_size(
        RiskMode.CONSERVATIVE,
        Decimal(7000),
        Decimal("5000.10"),
        Decimal("4990.00"),
        MES_TICK,
        MES_TICK_VALUE,
    )
    assert size.per_contract == Decimal("51.25")
    assert size.quantity == 1  # 70 / 51.25 = 1.37


def test_a_stop_too_wide_for_the_budget_sizes_to_nothing_and_no_equity_has_no_budget():
    wide = risk_size(
        RiskMode.CONSERVATIVE, Decimal(1000), Decimal(5000), Decimal(4990), MES_TICK, MES_TICK_VALUE
    )
    assert wide.quantity == 0  # $10 budget, $50 a contract
    broke = risk_size(
        RiskMode.AGGRESSIVE, Decimal(-5), Decimal(5000), Decimal(4990), MES_TICK, MES_TICK_VALUE
    )
    assert (broke.quantity, broke.budget) == (0, Decimal(0))


def test_confidence_threshold_per_mode_and_an_unstated_confidence_passes():
    assert confidence_refusal(RiskMode.MODERATE, Decimal(70)) is None
    assert confidence_refusal(RiskMode.MODERATE, None) is None
    refusal = confidence_refusal(RiskMode.MODERATE, Decimal("69.5"))
    assert refusal is not None and "69.5" in refusal and "threshold of 70" in refusal
    assert confidence_refusal(RiskMode.CONSERVATIVE, Decimal(74)) is not None
    assert confidence_refusal(RiskMode.AGGRESSIVE, Decimal(79)) is not None


def test_open_positions_take_the_tighter_of_account_and_mode():
    assert open_positions_limit(None, None) is None
    assert open_positions_limit(4, None) == 4
    assert open_positions_limit(None, RiskMode.CONSERVATIVE) == 3
    assert open_positions_limit(10, RiskMode.AGGRESSIVE) == 8
    assert open_positions_limit(2, RiskMode.AGGRESSIVE) == 2


def test_resizing_replaces_only_the_opening_part():
    assert resized(0, 1, 4) == 4
    assert resized(0, -1, 4) == -4
    assert resized(2, 1, 3) == 3  # adding to a long
    assert resized(2, -3, 4) == -6  # reversal: closes 2 whole, opens 4
    assert resized(3, -2, 9) == -2  # only reduces: as it was
    assert entry_side_position(2, 1) == 2
    assert entry_side_position(-2, -1) == 2
    assert entry_side_position(2, -3) == 0


def test_hard_limits_cap_the_sized_entry():
    assert capped(8, 0, 5, None) == 5
    assert capped(8, 2, None, 6) == 4
    assert capped(8, 6, None, 6) == 0
    assert capped(3, 0, None, None) == 3


def test_exposure_is_the_notional_after_the_order():
    marks = {"MESZ6": Decimal("5000"), "MNQZ6": Decimal("20000")}
    values = {"MESZ6": Decimal(5), "MNQZ6": Decimal(2)}
    # 2 MES × 5000 × $5 + |−1| MNQ × 20000 × $2 = 50,000 + 40,000
    assert total_exposure({"MESZ6": 2, "MNQZ6": -1}, marks, values) == Decimal(90_000)
    policy = RiskPolicy(max_exposure=Decimal(100_000))
    held = Exposure(positions={"MNQZ6": -1}, marks=marks, point_values=values)
    assert check_order(policy, held, ProposedOrder("MESZ6", 2), NOW) == []
    [problem] = check_order(policy, held, ProposedOrder("MESZ6", 3), NOW)
    assert problem.startswith("max_exposure: total exposure would be 115000.00")
    # Reducing is never blocked, even above the limit.
    over = Exposure(positions={"MESZ6": 5}, marks=marks, point_values=values)
    assert check_order(policy, over, ProposedOrder("MESZ6", -1), NOW) == []


def test_exposure_without_a_price_refuses_and_the_buffer_acts_early():
    policy = RiskPolicy(max_exposure=Decimal(100_000), safety_buffer=Decimal(20_000))
    values = {"MESZ6": Decimal(5)}
    [problem] = check_order(policy, Exposure(point_values=values), ProposedOrder("MESZ6", 1), NOW)
    assert "no price for MESZ6" in problem
    marks = {"MESZ6": Decimal(5000)}
    exposure = Exposure(marks=marks, point_values=values)
    assert check_order(policy, exposure, ProposedOrder("MESZ6", 3), NOW) == []  # 75,000
    [late] = check_order(policy, exposure, ProposedOrder("MESZ6", 4), NOW)  # 100,000 > 80,000
    assert "less its 20000 buffer" in late
