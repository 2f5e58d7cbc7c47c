"""Black-Scholes-Merton and Black-76 (app/domain/options.py) against textbook worked
examples (Hull, Haug), closed forms written out here with math.erf, put–call parity,
finite differences, and implied volatility recovering the volatility it was priced at."""

import itertools
import math

import numpy as np
import pytest

from app.domain import options
from app.domain.errors import DomainValidationError
from app.domain.options import PriceOutOfBounds


def norm_cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def reference(kind: str, s, k, t, r, sigma, q=0.0, futures=False) -> float:
    """The textbook closed form, on its own: BSM with a dividend yield, or Black-76."""
    carry = 0.0 if futures else r - q
    d1 = (math.log(s / k) + (carry + sigma**2 / 2) * t) / (sigma * math.sqrt(t))
    d2 = d1 - sigma * math.sqrt(t)
    held = s * math.exp((carry - r) * t)
    paid = k * math.exp(-r * t)
    if kind == "call":
        return held * norm_cdf(d1) - paid * norm_cdf(d2)
    return paid * norm_cdf(-d2) - held * norm_cdf(-d1)


# --- worked examples ---------------------------------------------------------------------


def test_hull_bsm_example_call_4_76_and_put_0_81():
    """Hull, Options, Futures and Other Derivatives, Example 15.6: S=42, K=40, r=10 %,
    σ=20 %, T=0.5 → c = 4.76, p = 0.81 (two decimals in the book; four from the closed form)."""
    call = options.price("bsm", "call", 42, 40, 0.5, 0.10, 0.20)
    put = options.price("bsm", "put", 42, 40, 0.5, 0.10, 0.20)
    assert round(call, 2) == 4.76 and round(put, 2) == 0.81
    assert call == pytest.approx(reference("call", 42, 40, 0.5, 0.10, 0.20), abs=1e-10)
    assert call == pytest.approx(4.7594, abs=1e-4)
    assert put == pytest.approx(0.8086, abs=1e-4)


def test_hull_black76_example_crude_oil_put_1_12():
    """Hull, Example 18.x (Black's model): a put on crude-oil futures, F=K=20, r=9 %,
    σ=25 %, four months → 1.12; at the money a call is worth the same."""
    put = options.price("black76", "put", 20, 20, 4 / 12, 0.09, 0.25)
    call = options.price("black76", "call", 20, 20, 4 / 12, 0.09, 0.25)
    assert round(put, 2) == 1.12
    assert call == pytest.approx(put, abs=1e-12)
    assert put == pytest.approx(reference("put", 20, 20, 4 / 12, 0.09, 0.25, futures=True))


@pytest.mark.parametrize(
    ("model", "kind", "args", "expected"),
    [
        # Haug, The Complete Guide to Option Pricing Formulas, 1.1.3: Black-76, F=X=19,
        # T=0.75, r=10 %, σ=28 % → c = p = 1.7011.
        ("black76", "call", (19, 19, 0.75, 0.10, 0.28), 1.7011),
        ("black76", "put", (19, 19, 0.75, 0.10, 0.28), 1.7011),
        # Haug 1.1.2: Merton '73, an index put, S=100, X=95, T=0.5, r=10 %, q=5 %, σ=20 %.
        ("bsm", "put", (100, 95, 0.5, 0.10, 0.20, 0.05), 2.4648),
    ],
)
def test_haug_prices_to_four_decimals(model, kind, args, expected):
    assert options.price(model, kind, *args) == pytest.approx(expected, abs=1e-4)


def test_haug_greeks_examples():
    """Haug 2.1: delta of futures options (F=105, X=100, T=0.5, r=10 %, σ=36 %) 0.5946 /
    −0.3566; gamma (S=55, X=60, T=0.75, r=b=10 %, σ=30 %) 0.0278; theta of an index put
    (S=430, X=405, T=0.0833, r=7 %, q=5 %, σ=20 %) −31.1924 a year; rho of a call (S=72,
    X=75, T=1, r=b=9 %, σ=19 %) 38.7325 per unit of rate (0.387325 per 1 %)."""
    assert options.greeks("black76", "call", 105, 100, 0.5, 0.1, 0.36).delta == pytest.approx(
        0.5946, abs=1e-4
    )
    assert options.greeks("black76", "put", 105, 100, 0.5, 0.1, 0.36).delta == pytest.approx(
        -0.3566, abs=1e-4
    )
    assert options.greeks("bsm", "call", 55, 60, 0.75, 0.1, 0.3).gamma == pytest.approx(
        0.0278, abs=1e-4
    )
    theta = options.greeks("bsm", "put", 430, 405, 0.0833, 0.07, 0.2, 0.05).theta
    assert theta == pytest.approx(-31.1924, abs=1e-4)
    assert options.greeks("bsm", "call", 72, 75, 1, 0.09, 0.19).rho == pytest.approx(
        0.387325, abs=1e-6
    )


def test_hull_greeks_example_in_the_units_of_the_api():
    """Hull 19.x: S=49, K=50, r=5 %, σ=20 %, T=20 weeks: delta 0.522, gamma 0.066, theta
    −4.31 a year (−0.0118 a calendar day), vega 12.1 (0.121 per vol point), rho 8.91
    (0.0891 per 1 %)."""
    found = options.greeks("bsm", "call", 49, 50, 0.3846, 0.05, 0.2)
    assert round(found.delta, 3) == 0.522
    assert round(found.gamma, 3) == 0.066
    assert round(found.theta, 2) == -4.31
    assert round(found.theta_per_day, 4) == -0.0118
    assert found.theta_per_day == pytest.approx(found.theta / 365)
    assert round(found.vega, 3) == 0.121
    assert round(found.rho, 4) == 0.0891


# --- closed form, parity and finite differences over a grid ------------------------------

GRID = list(
    itertools.product(
        ("bsm", "black76"),
        (80.0, 95.0, 100.0, 105.0, 125.0),  # strikes around 100
        (0.02, 0.25, 1.0, 3.0),  # years
        (0.05, 0.2, 0.6),  # volatilities
    )
)


def test_vectorised_prices_match_the_closed_form_for_every_item():
    model_rows = [row for row in GRID if row[0] == "bsm"]
    kinds = np.array(["call", "put"] * len(model_rows))
    strikes = np.repeat([row[1] for row in model_rows], 2)
    years = np.repeat([row[2] for row in model_rows], 2)
    sigmas = np.repeat([row[3] for row in model_rows], 2)
    found = options.greeks("bsm", kinds, 100.0, strikes, years, 0.03, sigmas, 0.01)
    assert isinstance(found.price, np.ndarray) and found.price.shape == (len(kinds),)
    expected = [
        reference(kind, 100.0, k, t, 0.03, v, 0.01)
        for kind, k, t, v in zip(kinds, strikes, years, sigmas, strict=True)
    ]
    np.testing.assert_allclose(found.price, expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize(("model", "strike", "years", "sigma"), GRID)
def test_put_call_parity_holds(model, strike, years, sigma):
    q = 0.02 if model == "bsm" else 0.0
    call = options.price(model, "call", 100, strike, years, 0.04, sigma, q)
    put = options.price(model, "put", 100, strike, years, 0.04, sigma, q)
    assert abs(options.parity_gap(model, 100, strike, years, 0.04, call, put, q)) < 1e-4
    forward_value = 100 * math.exp(-(0.04 if model == "black76" else q) * years)
    assert call - put == pytest.approx(forward_value - strike * math.exp(-0.04 * years), abs=1e-9)
    assert options.parity_gap(model, 100, strike, years, 0.04, call + 0.5, put, q) == (
        pytest.approx(0.5, abs=1e-9)
    )


@pytest.mark.parametrize(
    ("model", "kind"), list(itertools.product(("bsm", "black76"), ("call", "put")))
)
@pytest.mark.parametrize(
    ("strike", "years", "sigma"), [(90, 0.5, 0.25), (110, 1.5, 0.4), (100, 0.1, 0.15)]
)
def test_greeks_match_finite_differences(model, kind, strike, years, sigma):
    s, r, q = 100.0, 0.05, (0.02 if model == "bsm" else 0.0)

    def value(s=s, t=years, r=r, v=sigma):
        return options.price(model, kind, s, strike, t, r, v, q)

    found = options.greeks(model, kind, s, strike, years, r, sigma, q)
    h = 1e-5  # central differences: error ~h², rounding ~1e-16/h
    assert found.delta == pytest.approx((value(s=s + h) - value(s=s - h)) / (2 * h), abs=1e-6)
    gamma = (value(s=s + 0.1) - 2 * value() + value(s=s - 0.1)) / 0.01
    assert found.gamma == pytest.approx(gamma, abs=1e-5)
    # Theta: the value's change as time passes, i.e. as time to expiry shrinks.
    assert found.theta == pytest.approx(
        -(value(t=years + h) - value(t=years - h)) / (2 * h), abs=1e-4
    )
    assert found.vega == pytest.approx(
        (value(v=sigma + h) - value(v=sigma - h)) / (2 * h) / 100, abs=1e-7
    )
    assert found.rho == pytest.approx((value(r=r + h) - value(r=r - h)) / (2 * h) / 100, abs=1e-7)


# --- implied volatility ------------------------------------------------------------------

IV_GRID = list(
    itertools.product(
        ("bsm", "black76"),
        ("call", "put"),
        (90.0, 100.0, 110.0),
        (0.1, 0.5, 2.0),
        (0.1, 0.3, 1.2),
    )
)


@pytest.mark.parametrize(("model", "kind", "strike", "years", "sigma"), IV_GRID)
def test_implied_volatility_recovers_the_volatility_priced_at(model, kind, strike, years, sigma):
    q = 0.015 if model == "bsm" else 0.0
    quoted = options.price(model, kind, 100, strike, years, 0.03, sigma, q)
    found = options.implied_volatility(model, kind, 100, strike, years, 0.03, quoted, q)
    assert found == pytest.approx(sigma, abs=1e-6)


def test_a_chain_s_implied_volatilities_come_back_and_unpriceable_ones_are_nan():
    kinds = np.array(["call", "put", "call", "put", "call"])
    strikes = np.array([90.0, 100.0, 110.0, 95.0, 100.0])
    sigmas = np.array([0.2, 0.25, 0.3, 0.35, 0.4])
    prices = options.greeks("black76", kinds, 100.0, strikes, 0.5, 0.02, sigmas).price
    prices[4] = np.nan  # no quote
    prices[3] = 200.0  # above what any put can be worth
    found = options.implied_volatilities("black76", kinds, 100.0, strikes, 0.5, 0.02, prices)
    np.testing.assert_allclose(found[:3], sigmas[:3], atol=1e-8)
    assert np.isnan(found[3]) and np.isnan(found[4])


@pytest.mark.parametrize(
    ("args", "quoted"),
    [
        (("bsm", "call", 42, 40, 0.5, 0.10), 42.0),  # a call is worth at most the stock
        (("bsm", "call", 42, 40, 0.5, 0.10), 1.0),  # below 42 − 40·e^{−0.05}, the intrinsic
        (("bsm", "put", 42, 40, 0.5, 0.10), 40.0),  # a put is worth at most K·e^{−rT}
        # At the money a 0.01 % volatility is already worth 0.0028: 0.001 is in the bounds
        # (0, 100) but below what the volatility range reaches.
        (("black76", "call", 100, 100, 0.5, 0.0), 0.001),
    ],
)
def test_a_price_outside_the_no_arbitrage_bounds_is_refused_clearly(args, quoted):
    with pytest.raises(PriceOutOfBounds) as caught:
        options.implied_volatility(*args, quoted)
    assert caught.value.field == "price" and caught.value.code == "price_out_of_bounds"
    assert "outside" in caught.value.message


def test_bounds_are_the_textbook_ones():
    lower, upper = options.bounds("bsm", "call", 42, 40, 0.5, 0.10)
    assert lower == pytest.approx(42 - 40 * math.exp(-0.05)) and upper == 42
    lower, upper = options.bounds("black76", "put", 20, 25, 1, 0.05)
    assert lower == pytest.approx(5 * math.exp(-0.05)) and upper == pytest.approx(
        25 * math.exp(-0.05)
    )


def test_parity_implies_the_underlying_back():
    call = options.price("black76", "call", 5012.5, 5000, 0.1, 0.04, 0.18)
    put = options.price("black76", "put", 5012.5, 5000, 0.1, 0.04, 0.18)
    assert options.implied_underlying("black76", 5000, 0.1, 0.04, call, put) == pytest.approx(
        5012.5
    )
    call = options.price("bsm", "call", 101, 100, 0.5, 0.04, 0.18, 0.02)
    put = options.price("bsm", "put", 101, 100, 0.5, 0.04, 0.18, 0.02)
    assert options.implied_underlying("bsm", 100, 0.5, 0.04, call, put, 0.02) == pytest.approx(101)


# --- what is refused ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"years": 0.0}, "years"),  # at expiry: the option is its payoff, no Greeks
        ({"years": -0.1}, "years"),
        ({"volatility": 0.0}, "volatility"),  # gamma and vega are a spike
        ({"volatility": float("nan")}, "volatility"),
        ({"underlying": 0.0}, "underlying"),
        ({"strike": -5.0}, "strike"),
        ({"rate": 2.0}, "rate"),
        ({"option_type": "straddle"}, "option_type"),
        ({"years": [0.5, 0.0]}, "years"),  # one bad item refuses the array
    ],
)
def test_edge_inputs_are_refused_naming_the_field(change, field):
    inputs = {"model": "bsm", "option_type": "call", "underlying": 100.0, "strike": 100.0,
              "years": 0.5, "rate": 0.05, "volatility": 0.2} | change  # fmt: skip
    with pytest.raises(DomainValidationError) as caught:
        options.greeks(**inputs)
    assert caught.value.field == field


def test_black76_takes_no_dividend_yield():
    with pytest.raises(DomainValidationError) as caught:
        options.greeks("black76", "call", 100, 100, 0.5, 0.05, 0.2, dividend_yield=0.02)
    assert caught.value.field == "dividend_yield"


def test_near_expiry_and_low_volatility_stay_finite():
    """A minute to expiry at 1 % volatility: prices are intrinsic, Greeks finite."""
    found = options.greeks("black76", ["call", "put"], 100.0, [90.0, 90.0], 1 / 525_600, 0.05, 0.01)
    assert all(
        np.all(np.isfinite(getattr(found, name)))
        for name in ("price", "delta", "gamma", "theta", "vega", "rho")
    )
    assert found.price[0] == pytest.approx(10.0, abs=1e-4) and found.price[1] == pytest.approx(
        0.0, abs=1e-12
    )
    # Black-76's delta of a deep call is the discount factor, not 1.
    assert found.delta.tolist() == pytest.approx([math.exp(-0.05 / 525_600), 0.0], abs=1e-12)
