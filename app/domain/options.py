"""European option prices, Greeks and implied volatility, vectorised over NumPy arrays.

Two models, written once as Haug's generalised Black-Scholes with a cost of carry `b`:

- Black-Scholes-Merton on a spot price with a continuous dividend yield q: b = r − q.
- Black-76 on a futures price F (the trader's instruments): b = 0, F in place of S.

Units, as DESIGN §5.4 states them: rates, yields and volatilities are decimal fractions
per year (0.05 is 5 %); time is in years. `theta` is the value's change per year of time
passing (negative for a long option as a rule) and `theta_per_day` that over 365 calendar
days; `vega` is per 1 volatility point (0.01), `rho` per 1 % of rate (0.01). Black-76's
rho holds the futures price fixed (−T × price), as a futures option's rate moves nothing
else.

Floats, not Decimals: these are statistics of a model, and the vectorised path (100,000
options in a few milliseconds) needs them. The API writes them out as decimal strings.
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr

from app.domain.errors import DomainValidationError
from app.domain.vocabulary import OptionModel, OptionType

# What the models accept: beyond these the formulas lose their meaning or their digits.
MIN_VOLATILITY, MAX_VOLATILITY = 1e-4, 10.0  # 0.01 % to 1,000 % a year
MAX_YEARS = 100.0
MAX_RATE = 1.0  # |rate| and |dividend yield| up to 100 % a year
IV_TOLERANCE = 1e-12  # brentq's xtol on the volatility
SQRT_2PI = math.sqrt(2 * math.pi)


class PriceOutOfBounds(DomainValidationError):
    """An option price no volatility can give: at or outside the no-arbitrage bounds
    (for a call, above the discounted intrinsic value and below the discounted underlying),
    or beyond what the volatility range gives. The caller shows the bounds to the trader."""

    code = "price_out_of_bounds"

    def __init__(self, message: str, lower: float, upper: float) -> None:
        super().__init__("price", message)
        self.lower = lower
        self.upper = upper


@dataclass(frozen=True)
class Greeks:
    """Price and sensitivities; each a float for scalar inputs, else an array."""

    price: Any
    delta: Any
    gamma: Any
    theta: Any  # per year
    theta_per_day: Any  # per calendar day (theta / 365)
    vega: Any  # per 1 volatility point
    rho: Any  # per 1 % of rate


def _array(value: Any, field: str, low: float, high: float, *, low_open: bool) -> np.ndarray:
    """`value` as a float array, every item finite and within (low, high] or [low, high]."""
    try:
        found = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise DomainValidationError(field, "must be a number") from None
    if not np.all(np.isfinite(found)):
        raise DomainValidationError(field, "must be a finite number")
    below = found <= low if low_open else found < low
    if np.any(below) or np.any(found > high):
        bracket = "(" if low_open else "["
        raise DomainValidationError(field, f"must be within {bracket}{low:g}, {high:g}]")
    return found


def _is_call(option_type: Any) -> np.ndarray:
    """True where the option is a call: an OptionType, "call"/"put", or an array of them."""
    kinds = np.asarray(option_type, dtype=str)
    if not np.all(np.isin(kinds, [OptionType.CALL.value, OptionType.PUT.value])):
        raise DomainValidationError("option_type", "must be call or put")
    return kinds == OptionType.CALL.value


def _carry(model: OptionModel, rate: np.ndarray, dividend_yield: np.ndarray) -> np.ndarray:
    if model is OptionModel.BLACK76:
        if np.any(dividend_yield != 0):
            raise DomainValidationError("dividend_yield", "applies to bsm only")
        return np.zeros_like(rate)
    return rate - dividend_yield


def _inputs(model, option_type, underlying, strike, years, rate, dividend_yield) -> tuple:
    model = OptionModel(model)
    s = _array(underlying, "underlying", 0.0, 1e12, low_open=True)
    k = _array(strike, "strike", 0.0, 1e12, low_open=True)
    t = _array(years, "years", 0.0, MAX_YEARS, low_open=True)
    r = _array(rate, "rate", -MAX_RATE, MAX_RATE, low_open=False)
    q = _array(dividend_yield, "dividend_yield", -MAX_RATE, MAX_RATE, low_open=False)
    return model, _is_call(option_type), s, k, t, r, _carry(model, r, q)


def greeks(
    model: OptionModel | str,
    option_type: Any,
    underlying: Any,
    strike: Any,
    years: Any,
    rate: Any,
    volatility: Any,
    dividend_yield: Any = 0.0,
) -> Greeks:
    """Price, delta, gamma, theta, vega and rho of European options; any input may be an
    array (they broadcast together). Time or volatility at or below 0 is refused: the
    Greeks have no value there (at expiry the option is its payoff, and a zero volatility
    makes gamma and vega a spike)."""
    model, call, s, k, t, r, b = _inputs(
        model, option_type, underlying, strike, years, rate, dividend_yield
    )
    sigma = _array(volatility, "volatility", MIN_VOLATILITY, MAX_VOLATILITY, low_open=False)
    scalar = all(np.ndim(x) == 0 for x in (call, s, k, t, r, b, sigma))
    w = np.where(call, 1.0, -1.0)
    root_t = np.sqrt(t)
    d1 = (np.log(s / k) + (b + sigma * sigma / 2) * t) / (sigma * root_t)
    d2 = d1 - sigma * root_t
    carry = np.exp((b - r) * t)  # e^{-qT} for BSM, e^{-rT} for Black-76
    discount = np.exp(-r * t)
    n_d1 = np.exp(-d1 * d1 / 2) / SQRT_2PI
    cdf_d1, cdf_d2 = ndtr(w * d1), ndtr(w * d2)
    price = w * (s * carry * cdf_d1 - k * discount * cdf_d2)
    delta = w * carry * cdf_d1
    gamma = carry * n_d1 / (s * sigma * root_t)
    vega = s * carry * n_d1 * root_t
    theta = (
        -s * carry * n_d1 * sigma / (2 * root_t)
        - w * (b - r) * s * carry * cdf_d1
        - w * r * k * discount * cdf_d2
    )
    rho = -t * price if model is OptionModel.BLACK76 else w * k * t * discount * cdf_d2
    found = (price, delta, gamma, theta, theta / 365, vega / 100, rho / 100)
    if scalar:
        found = tuple(float(x) for x in found)
    return Greeks(*found)


def price(model, option_type, underlying, strike, years, rate, volatility, dividend_yield=0.0):
    """The option's value alone (see `greeks`)."""
    return greeks(
        model, option_type, underlying, strike, years, rate, volatility, dividend_yield
    ).price


def parity_gap(model, underlying, strike, years, rate, call, put, dividend_yield=0.0):
    """call − put − (S·e^{−qT} − K·e^{−rT}) (Black-76: (F − K)·e^{−rT}): zero when the
    pair obeys put–call parity; what is left is the mispricing in price units."""
    model, _, s, k, t, r, b = _inputs(
        model, "call", underlying, strike, years, rate, dividend_yield
    )
    forward_value = s * np.exp((b - r) * t) - k * np.exp(-r * t)
    gap = np.asarray(call, dtype=float) - np.asarray(put, dtype=float) - forward_value
    return float(gap) if np.ndim(gap) == 0 else gap


def implied_underlying(model, strike, years, rate, call, put, dividend_yield=0.0) -> float:
    """The underlying price that put–call parity implies from a call and a put of one
    strike and expiry: F = K + (C − P)·e^{rT} (Black-76), S = (C − P + K·e^{−rT})·e^{qT}."""
    model, _, _, k, t, r, b = _inputs(model, "call", 1.0, strike, years, rate, dividend_yield)
    value = (float(call) - float(put) + float(k) * math.exp(-float(r) * float(t))) / math.exp(
        float((b - r) * t)
    )
    if not value > 0:
        raise DomainValidationError("underlying_price", "parity implies no positive price")
    return value


def bounds(model, option_type, underlying, strike, years, rate, dividend_yield=0.0):
    """The no-arbitrage range (lower, upper) of a European option's price: a call lies
    between max(S·e^{−qT} − K·e^{−rT}, 0) and S·e^{−qT}; a put between
    max(K·e^{−rT} − S·e^{−qT}, 0) and K·e^{−rT}."""
    _, call, s, k, t, r, b = _inputs(
        model, option_type, underlying, strike, years, rate, dividend_yield
    )
    return _bounds(bool(call), float(s), float(k), float(t), float(r), float(b))


def _bounds(call: bool, s: float, k: float, t: float, r: float, b: float):
    spot_value, strike_value = s * math.exp((b - r) * t), k * math.exp(-r * t)
    lower = max(spot_value - strike_value if call else strike_value - spot_value, 0.0)
    return lower, spot_value if call else strike_value


def _scalar_price(call: bool, s: float, k: float, t: float, r: float, b: float, sigma: float):
    """The same closed form as `greeks`, on plain floats: the implied-volatility search
    calls it a dozen times per contract, where NumPy's per-call cost would dominate."""
    root_t = math.sqrt(t)
    d1 = (math.log(s / k) + (b + sigma * sigma / 2) * t) / (sigma * root_t)
    d2 = d1 - sigma * root_t
    w = 1.0 if call else -1.0
    cdf = lambda x: 0.5 * math.erfc(-x / math.sqrt(2))  # noqa: E731 - N(x), exact in the tails
    return w * (s * math.exp((b - r) * t) * cdf(w * d1) - k * math.exp(-r * t) * cdf(w * d2))


def implied_volatility(
    model: OptionModel | str,
    option_type: Any,
    underlying: float,
    strike: float,
    years: float,
    rate: float,
    option_price: float,
    dividend_yield: float = 0.0,
) -> float:
    """The volatility at which the model gives `option_price`, by Brent's method on
    [0.01 %, 1,000 %]. A price outside the no-arbitrage bounds, or one the volatility
    range cannot reach (a hair above intrinsic value), raises PriceOutOfBounds."""
    target = float(_array(option_price, "price", 0.0, 1e12, low_open=True))
    _, call, s, k, t, r, b = _inputs(
        model, option_type, underlying, strike, years, rate, dividend_yield
    )
    return _solve(bool(call), float(s), float(k), float(t), float(r), float(b), target)


def _solve(call: bool, s: float, k: float, t: float, r: float, b: float, target: float) -> float:
    lower, upper = _bounds(call, s, k, t, r, b)
    if not lower < target < upper:
        raise PriceOutOfBounds(
            f"price {target:g} is outside the no-arbitrage bounds ({lower:.6g}, {upper:.6g})",
            lower,
            upper,
        )

    def gap(sigma: float) -> float:
        return _scalar_price(call, s, k, t, r, b, sigma) - target

    low_gap, high_gap = gap(MIN_VOLATILITY), gap(MAX_VOLATILITY)
    if low_gap > 0 or high_gap < 0:
        reach = (low_gap + target, high_gap + target)
        raise PriceOutOfBounds(
            f"price {target:g} is outside what volatilities of 0.01 % to 1,000 % give "
            f"({reach[0]:.6g} to {reach[1]:.6g})",
            reach[0],
            reach[1],
        )
    return float(brentq(gap, MIN_VOLATILITY, MAX_VOLATILITY, xtol=IV_TOLERANCE))


def implied_volatilities(
    model, option_types, underlying, strikes, years, rate, prices, dividend_yield=0.0
) -> np.ndarray:
    """Implied volatilities of a chain, contract by contract (a chain is hundreds, so one
    Brent search each costs milliseconds); NaN where a price is missing (NaN) or no
    volatility gives it. The inputs are checked once, as arrays."""
    p = np.asarray(prices, dtype=float)
    _, call, s, k, t, r, b = (
        np.broadcast_to(x, p.shape) if i else x
        for i, x in enumerate(
            _inputs(model, option_types, underlying, strikes, years, rate, dividend_yield)
        )
    )
    found = np.full(p.shape, np.nan)
    for i in np.flatnonzero(np.isfinite(p) & (p > 0)):
        try:
            found[i] = _solve(
                bool(call[i]), float(s[i]), float(k[i]), float(t[i]), float(r[i]), float(b[i]),
                float(p[i]),
            )  # fmt: skip
        except PriceOutOfBounds:
            continue
    return found
