"""Technical indicators over a price or volume series, vectorised with NumPy.

Indicators are measurements, not money: they are figured in float64 arrays and compared
with thresholds, never booked. Each function takes a sequence (a list of Decimals, ints
or floats, or an array) oldest first and answers a float64 array of the same length,
NaN where the indicator is not yet defined (too few bars before it), so index `i` always
belongs to bar `i`. Plain sums are vectorised (cumulative sums: exact while the prices are
binary fractions such as quarter points, otherwise within 1e-11 relative over 100,000
bars); the recursive smoothings (EMA, Wilder's) carry one running value from bar to bar, a
loop NumPy cannot express without a compiled filter, so each runs as one plain Python loop.

Definitions (n is the period):
- **SMA**: the mean of the last n values; defined from bar n-1.
- **EMA**: seeded with the SMA of the first n values at bar n-1, then
  `ema = ema_prev + a * (x - ema_prev)` with `a = 2 / (n + 1)`.
- **RSI (Wilder)**: changes from bar 1 on; the first average gain and loss are the plain
  means of the first n changes (at bar n), then Wilder's smoothing
  `avg = avg_prev + (x - avg_prev) / n`. RSI = 100 * gain / (gain + loss): no losses is
  100, no gains 0, and a flat stretch (neither) is 50, the neutral reading.
- **ATR (Wilder)**: true range from bar 1 on, `max(high - low, |high - prev close|,
  |low - prev close|)`; the first ATR is the mean of the first n (at bar n), then
  Wilder's smoothing as for RSI.
- **Percent change** over a window of w bars: `(x[i] - x[i-w]) / x[i-w] * 100` (5.0 is
  +5 %), NaN where the old value is 0.
- **Volume spike**: the bar's volume divided by the average volume of the n bars before
  it (the bar itself not included); NaN while the average is 0 (nothing to compare with).
"""

from collections.abc import Sequence

import numpy as np

from app.domain.errors import DomainValidationError

Series = Sequence[object] | np.ndarray


def _floats(values: Series) -> np.ndarray:
    return np.asarray(
        list(map(float, values)) if isinstance(values, Sequence) else values, dtype=np.float64
    )


def require_count(value: int, field: str, unit: str = "bars") -> int:
    """`value` if it is a whole count of at least 1 (a period, a window, a reversal)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DomainValidationError(field, f"must be a whole number of {unit}, at least 1")
    return value


def _undefined(length: int) -> np.ndarray:
    return np.full(length, np.nan)


def _window_sums(x: np.ndarray, n: int) -> np.ndarray:
    """Sums of each run of n consecutive values: entry j covers x[j : j + n]."""
    totals = np.concatenate(([0.0], np.cumsum(x)))
    return totals[n:] - totals[:-n]


def _smoothed(x: np.ndarray, seed: float, first: int, weight: float) -> np.ndarray:
    """`seed` at index `first`, then each next value moved `weight` of the way toward x."""
    out = _undefined(len(x))
    level = seed
    smoothed = [level]
    for value in x[first + 1 :].tolist():
        level += weight * (value - level)
        smoothed.append(level)
    out[first:] = smoothed
    return out


def sma(values: Series, period: int) -> np.ndarray:
    """Simple moving average of the last `period` values."""
    n = require_count(period, "period")
    x = _floats(values)
    out = _undefined(len(x))
    if len(x) >= n:
        out[n - 1 :] = _window_sums(x, n) / n
    return out


def ema(values: Series, period: int) -> np.ndarray:
    """Exponential moving average seeded with the SMA of the first `period` values."""
    n = require_count(period, "period")
    x = _floats(values)
    if len(x) < n:
        return _undefined(len(x))
    return _smoothed(x, float(x[:n].mean()), n - 1, 2.0 / (n + 1))


def rsi(values: Series, period: int = 14) -> np.ndarray:
    """Relative strength index with Wilder's smoothing, 0–100."""
    n = require_count(period, "period")
    x = _floats(values)
    out = _undefined(len(x))
    if len(x) <= n:
        return out
    change = np.diff(x)
    gains, losses = np.clip(change, 0, None), np.clip(-change, 0, None)
    # The averages are indexed by the bar each change leads into: change k is bar k + 1.
    gain = _smoothed(gains, float(gains[:n].mean()), n - 1, 1.0 / n)[n - 1 :]
    loss = _smoothed(losses, float(losses[:n].mean()), n - 1, 1.0 / n)[n - 1 :]
    moved = gain + loss
    with np.errstate(invalid="ignore", divide="ignore"):
        out[n:] = np.where(moved > 0, 100.0 * gain / moved, 50.0)
    return out


def true_range(high: Series, low: Series, close: Series) -> np.ndarray:
    """Each bar's true range from bar 1 on (it needs the previous close); NaN at bar 0."""
    h, lo, c = _floats(high), _floats(low), _floats(close)
    out = _undefined(len(c))
    if len(c) > 1:
        previous = c[:-1]
        out[1:] = np.maximum(h[1:] - lo[1:], np.abs(np.stack((h[1:], lo[1:])) - previous).max(0))
    return out


def atr(high: Series, low: Series, close: Series, period: int = 14) -> np.ndarray:
    """Average true range with Wilder's smoothing."""
    n = require_count(period, "period")
    tr = true_range(high, low, close)
    if len(tr) <= n:
        return _undefined(len(tr))
    ranges = tr[1:]
    return np.concatenate(([np.nan], _smoothed(ranges, float(ranges[:n].mean()), n - 1, 1.0 / n)))


def percent_change(values: Series, window: int) -> np.ndarray:
    """Change in percent from the value `window` bars earlier."""
    w = require_count(window, "window")
    x = _floats(values)
    out = _undefined(len(x))
    if len(x) > w:
        before, now = x[:-w], x[w:]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[w:] = np.where(before != 0, (now - before) / before * 100.0, np.nan)
    return out


def volume_spike(volume: Series, period: int = 20) -> np.ndarray:
    """Each bar's volume as a multiple of the average volume of the `period` bars before it."""
    n = require_count(period, "period")
    v = _floats(volume)
    out = _undefined(len(v))
    if len(v) > n:
        average = _window_sums(v, n)[:-1] / n  # entry j: bars j .. j+n-1, the ones before j+n
        with np.errstate(invalid="ignore", divide="ignore"):
            out[n:] = np.where(average > 0, v[n:] / average, np.nan)
    return out
