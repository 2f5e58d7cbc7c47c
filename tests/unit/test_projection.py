"""The Monte Carlo projection: reproducible with a seed, designed cases by hand, and the
bands' order as a property."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import DomainValidationError
from app.domain.projection import TradeResult, project, r_multiples
from app.domain.vocabulary import RiskMode

CENT = Decimal("0.01")
MIXED = [TradeResult(Decimal(p)) for p in ("250", "-125", "80.50", "-40", "310", "-200")]


def bands_of(projection):
    return [projection.percentiles[name] for name in ("p5", "p25", "p50", "p75", "p95")]


def test_the_same_seed_gives_the_same_answer_and_another_seed_another():
    first = project(MIXED, Decimal(10_000), 50, RiskMode.MODERATE, runs=300, seed=7)
    again = project(MIXED, Decimal(10_000), 50, RiskMode.MODERATE, runs=300, seed=7)
    other = project(MIXED, Decimal(10_000), 50, RiskMode.MODERATE, runs=300, seed=8)
    assert first == again
    assert other.percentiles != first.percentiles


def test_every_band_has_one_balance_per_trade_in_cents():
    found = project(MIXED, Decimal(10_000), 20, None, runs=50, seed=1)
    assert set(found.percentiles) == {"p5", "p25", "p50", "p75", "p95"}
    for band in bands_of(found):
        assert len(band) == 20
        assert all(value == value.quantize(CENT) for value in band)


def test_all_trades_one_r_at_two_percent_compound_exactly_in_every_run():
    wins = [TradeResult(Decimal("50"), risk=Decimal("50"))]  # +1R
    found = project(wins, Decimal(10_000), 30, RiskMode.MODERATE, runs=20, seed=3)
    expected = [(Decimal(10_000) * Decimal("1.02") ** n).quantize(CENT) for n in range(1, 31)]
    for band in bands_of(found):
        assert band == expected
    assert found.risk_of_ruin == 0
    assert found.median_max_drawdown_pct == 0


def test_all_losing_trades_ruin_on_the_trade_worked_out_by_hand():
    # −1R at 2 %: 0.98^34 = 0.5032… of the start, 0.98^35 = 0.4931…: the 35th loss ruins.
    losses = [TradeResult(Decimal("-100"))]  # the average loss is the unit: R = −1
    before = project(losses, Decimal(10_000), 34, RiskMode.MODERATE, runs=10, seed=1)
    assert before.risk_of_ruin == 0
    after = project(losses, Decimal(10_000), 40, RiskMode.MODERATE, runs=10, seed=1)
    assert after.risk_of_ruin == 1
    at_ruin = (Decimal(10_000) * Decimal("0.98") ** 35).quantize(CENT)
    assert after.percentiles["p50"][34:] == [at_ruin] * 6  # stopped trading at the 35th
    assert after.median_max_drawdown_pct == ((1 - Decimal("0.98") ** 35) * 100).quantize(CENT)


def test_without_a_risk_mode_the_dollar_pnl_adds_and_ruin_stops_the_run():
    losses = [TradeResult(Decimal("-100"))]
    found = project(losses, Decimal(1000), 8, None, runs=5, seed=2, ruin_pct=Decimal(50))
    expected = [Decimal(v) for v in ("900", "800", "700", "600", "500", "500", "500", "500")]
    assert found.percentiles["p5"] == expected
    assert found.risk_of_ruin == 1
    assert found.median_max_drawdown_pct == Decimal("50.00")


def test_a_single_valued_sample_makes_every_percentile_equal():
    found = project([TradeResult(Decimal("37.25"))], Decimal(5000), 12, None, runs=40, seed=9)
    p5, p25, p50, p75, p95 = bands_of(found)
    assert p5 == p25 == p50 == p75 == p95
    assert p50[-1] == Decimal(5000) + 12 * Decimal("37.25")


def test_risk_of_ruin_is_the_share_of_runs_ruined():
    # Half the draws lose everything at once (−50R at 2 % = −100 %), half win: a run of
    # one trade is ruined with its one loss, so about half the runs are.
    coin = [TradeResult(Decimal("-5000"), risk=Decimal("100")), TradeResult(Decimal("100"))]
    found = project(coin, Decimal(10_000), 1, RiskMode.MODERATE, runs=4000, seed=5)
    assert Decimal("0.45") < found.risk_of_ruin < Decimal("0.55")


def test_r_multiples_use_the_known_risk_else_the_average_loss():
    results = [
        TradeResult(Decimal("300")),
        TradeResult(Decimal("-100")),
        TradeResult(Decimal("-200")),
        TradeResult(Decimal("75"), risk=Decimal("25")),
    ]
    assert r_multiples(results) == [Decimal(2), Decimal(-100) / 150, Decimal(-200) / 150, 3]


def test_r_multiples_are_refused_with_no_loss_and_no_known_risk():
    with pytest.raises(DomainValidationError) as refused:
        r_multiples([TradeResult(Decimal("10")), TradeResult(Decimal("20"))])
    assert refused.value.field == "risk_mode"


def test_a_risk_mode_scales_with_its_share():
    wins = [TradeResult(Decimal("10"), risk=Decimal("10"))]
    balances = {
        mode: project(wins, Decimal(1000), 1, mode, runs=1, seed=0).percentiles["p50"][0]
        for mode in RiskMode
    }
    assert balances == {
        RiskMode.CONSERVATIVE: Decimal("1010.00"),
        RiskMode.MODERATE: Decimal("1020.00"),
        RiskMode.AGGRESSIVE: Decimal("1040.00"),
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"results": []}, "results"),
        ({"starting_balance": Decimal(0)}, "starting_balance"),
        ({"trades": 0}, "trades"),
        ({"trades": 5001}, "trades"),
        ({"trades": True}, "trades"),
        ({"runs": 0}, "runs"),
        ({"runs": 20_001}, "runs"),
        ({"ruin_pct": Decimal(0)}, "ruin_pct"),
        ({"ruin_pct": Decimal(100)}, "ruin_pct"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_inputs_are_refused_naming_the_field(changes, field):
    arguments = {
        "results": MIXED,
        "starting_balance": Decimal(10_000),
        "trades": 10,
        "runs": 10,
        "seed": 1,
        "ruin_pct": Decimal(50),
    } | changes
    with pytest.raises(DomainValidationError) as refused:
        project(**arguments)
    assert refused.value.field == field


def test_the_limits_themselves_are_accepted():
    found = project(MIXED, Decimal(10_000), 1, None, runs=20_000, seed=1, ruin_pct=Decimal("99.9"))
    assert len(found.percentiles["p50"]) == 1


money = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    pnls=st.lists(money, min_size=1, max_size=20),
    mode=st.sampled_from([None, *RiskMode]),
    trades=st.integers(1, 30),
    runs=st.integers(1, 60),
    seed=st.integers(0, 2**32),
)
def test_the_bands_are_ordered_at_every_trade(pnls, mode, trades, runs, seed):
    results = [TradeResult(p) for p in pnls] + [TradeResult(Decimal("-1"))]  # a loss: R known
    found = project(results, Decimal(10_000), trades, mode, runs=runs, seed=seed)
    p5, p25, p50, p75, p95 = bands_of(found)
    for i in range(trades):
        assert p5[i] <= p25[i] <= p50[i] <= p75[i] <= p95[i]
    assert 0 <= found.risk_of_ruin <= 1
    assert found.median_max_drawdown_pct >= 0


def test_a_projection_too_large_to_hold_in_memory_is_refused_before_any_work():
    # 20,000 runs × 5,000 trades, each within its own limit, would want about 4 GB.
    with pytest.raises(DomainValidationError) as refused:
        project(MIXED, Decimal(10_000), 5_000, runs=20_000, seed=1)
    assert refused.value.field == "runs"
    assert len(project(MIXED, Decimal(10_000), 500, runs=5_000, seed=1).percentiles["p50"]) == 500


def test_a_balance_compounding_past_any_sum_is_held_at_the_ceiling():
    # Wins 1,000 times the only loss, at 4 % risk: ×41 a win, past a float within 200
    # trades. The answer still comes, held at 10^18.
    results = [TradeResult(Decimal(1000))] * 5 + [TradeResult(Decimal(-1))]
    found = project(results, Decimal(10_000), 300, RiskMode.AGGRESSIVE, runs=40, seed=3)
    assert found.percentiles["p95"][-1] == Decimal("1000000000000000000.00")
    assert found.median_max_drawdown_pct >= 0
