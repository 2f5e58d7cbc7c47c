"""An option chain's figures (app/domain/option_chains.py): rows checked naming the field,
max pain, put/call ratios, the surface's out-of-the-money side, the unusual screen, and
the underlying implied by put–call parity."""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import numpy as np
import pytest

from app.domain import options
from app.domain.errors import DomainValidationError
from app.domain.option_chains import (
    ChainContract,
    ChainTerms,
    analyse,
    max_pain,
    parse_contracts,
    parse_header,
    put_call_ratios,
    years_to_expiry,
)
from app.domain.vocabulary import OptionModel, OptionType

AS_OF = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
NEAR, FAR = date(2026, 12, 18), date(2027, 3, 19)
CALL, PUT = OptionType.CALL, OptionType.PUT


def test_time_runs_to_the_end_of_the_expiry_date_over_365_days():
    assert years_to_expiry(date(2026, 12, 4), AS_OF) == pytest.approx(3 / (24 * 365))
    assert years_to_expiry(date(2027, 12, 4), datetime(2026, 12, 5, tzinfo=UTC)) == 1.0


def test_max_pain_is_the_strike_that_pays_holders_least():
    """Calls: 100 at 90, 10 at 110; puts: 50 at 110. Settling at 90 pays 50·20 = 1,000;
    at 100 it pays 100·10 + 50·10 = 1,500; at 110 it pays 100·20 = 2,000. March: 7 puts at
    100 and 3 calls at 95 pay 7·5 = 35 settling at 95, 3·5 = 15 at 100."""
    chain = [
        ChainContract(CALL, D(90), NEAR, open_interest=100),
        ChainContract(CALL, D(100), NEAR),
        ChainContract(CALL, D(110), NEAR, open_interest=10),
        ChainContract(PUT, D(110), NEAR, open_interest=50),
        ChainContract(PUT, D(100), FAR, open_interest=7),
        ChainContract(CALL, D(95), FAR, open_interest=3),
    ]
    assert max_pain(chain) == {NEAR: D(90), FAR: D(100)}
    assert max_pain([ChainContract(CALL, D(90), NEAR)]) == {}  # nothing held: none


def paid_at(chain, settle):
    """The definition, contract by contract: what the holders are paid settling there."""
    return sum(
        c.open_interest * max(settle - c.strike if c.option_type is CALL else c.strike - settle, 0)
        for c in chain
    )


def reference_max_pain(chain):
    """Every strike of each expiry tried against every contract of it; the lower on a tie."""
    found = {}
    for expiry in sorted({c.expiry for c in chain}):
        group = [c for c in chain if c.expiry == expiry]
        if any(c.open_interest for c in group):
            found[expiry] = min(sorted({c.strike for c in group}), key=lambda k: paid_at(group, k))
    return found


def test_max_pain_takes_the_lower_strike_on_a_tie():
    """A call held at 100 and a put at 110 pay 10 settling at either: 100 is max pain."""
    chain = [ChainContract(CALL, D(100), NEAR, open_interest=1),
             ChainContract(PUT, D(110), NEAR, open_interest=1),
             ChainContract(PUT, D(120), NEAR)]  # fmt: skip
    assert paid_at(chain, D(100)) == paid_at(chain, D(110)) == 10
    assert max_pain(chain) == {NEAR: D(100)}


@pytest.mark.parametrize("seed", range(40))
def test_max_pain_agrees_with_the_definition_on_random_chains(seed):
    """Strikes of mixed decimals (99.5, 100.25, 4,875.125), some held at no strike of the
    other type, open interest often 0, so sums tie and strikes go unheld."""
    rng = random.Random(seed)
    chain = []
    for expiry in rng.sample([NEAR, FAR, date(2027, 6, 18)], rng.randint(1, 3)):
        for strike in rng.sample(range(1, 400), rng.randint(1, 30)):
            places = rng.choice((0, 1, 2, 3))
            for kind in rng.sample((CALL, PUT), rng.randint(1, 2)):
                held = rng.choice((0, 0, 1, rng.randint(1, 10**6)))
                chain.append(ChainContract(kind, D(strike).scaleb(-places), expiry,
                                           open_interest=held))  # fmt: skip
    assert max_pain(chain) == reference_max_pain(chain)


def test_max_pain_of_5000_contracts_of_one_expiry_is_the_definition_s():
    """2,500 strikes with a call and a put each, to the cent. The definition is checked in
    integer cents with NumPy, a block of settlement prices at a time."""
    rng = random.Random(5000)
    strikes = sorted(rng.sample(range(100_000, 1_000_000), 2500))  # cents
    chain = [ChainContract(kind, D(cents).scaleb(-2), FAR, open_interest=rng.randint(0, 50_000))
             for cents in strikes for kind in (CALL, PUT)]  # fmt: skip
    k = np.array(strikes, dtype=np.int64)
    calls = np.array([c.open_interest for c in chain[0::2]], dtype=np.int64)
    puts = np.array([c.open_interest for c in chain[1::2]], dtype=np.int64)
    paid = np.concatenate([
        (np.maximum(s[:, None] - k, 0) * calls).sum(axis=1)
        + (np.maximum(k - s[:, None], 0) * puts).sum(axis=1)
        for s in np.array_split(k, 25)
    ])  # fmt: skip
    assert max_pain(chain) == {FAR: D(strikes[int(np.argmin(paid))]).scaleb(-2)}
    small = chain[:200]  # the definition itself, contract by contract, on a part of it
    assert max_pain(small) == reference_max_pain(small)


def test_put_call_ratios_are_puts_over_calls_and_none_without_calls():
    chain = [
        ChainContract(CALL, D(100), NEAR, volume=40, open_interest=300),
        ChainContract(PUT, D(100), NEAR, volume=30, open_interest=100),
        ChainContract(PUT, D(95), NEAR, volume=20, open_interest=0),
    ]
    assert put_call_ratios(chain) == (D("1.2500"), D("0.3333"))
    assert put_call_ratios(chain[1:]) == (None, None)


def quoted_chain(forward: float, smile) -> list[ChainContract]:
    """Calls and puts at 4,900–5,100 for two expiries, quoted ±0.25 around Black-76 prices
    at the volatility `smile(strike)` gives."""
    found = []
    for expiry in (NEAR, FAR):
        years = years_to_expiry(expiry, AS_OF)
        for strike in (4900, 5000, 5100):
            for kind in (CALL, PUT):
                value = options.price("black76", kind, forward, strike, years, 0.04, smile(strike))
                mid = D(f"{value:.2f}")
                found.append(
                    ChainContract(kind, D(strike), expiry, mid - D("0.25"), mid + D("0.25"),
                                  volume=10, open_interest=50)
                )  # fmt: skip
    return found


def test_analytics_recover_the_smile_and_prefer_the_out_of_the_money_side():
    smile = {4900: 0.22, 5000: 0.18, 5100: 0.16}.get
    chain = quoted_chain(5000.0, smile)
    chain.append(ChainContract(PUT, D(5200), FAR, last=D("250"), volume=900, open_interest=10))
    terms = ChainTerms(OptionModel.BLACK76, 0.04, 0.0, AS_OF, 5000.0)
    found = analyse(chain, terms)
    assert found.underlying_price_source == "given"
    # Two-decimal quotes move the volatility in its fourth decimal at most.
    for index, contract in enumerate(chain[:-1]):
        assert found.iv[index] == pytest.approx(smile(int(contract.strike)), abs=2e-3)
    assert found.iv_source[0] == "mid" and found.iv_source[-1] == "last"
    assert found.moneyness[1] == pytest.approx(4900 / 5000)
    assert found.delta[0] > 0 > found.delta[1]
    assert np.all(found.gamma[:12] > 0) and np.all(found.vega[:12] > 0)
    assert found.surface_strikes == [D(4900), D(5000), D(5100), D(5200)]
    assert found.surface_expiries == [NEAR, FAR]
    assert found.surface_iv[0][3] is None  # no 5,200 contract in December
    # Below the forward the put's volatility stands for the strike, at and above it the call's.
    assert found.surface_iv[0][0] == found.iv[1] and found.surface_iv[0][2] == found.iv[4]
    assert found.surface_iv[1][3] == found.iv[-1]  # the only one there: an in-the-money put
    unusual = {index: reasons for index, reasons, _ in found.unusual}
    assert unusual[len(chain) - 1][0] == "volume_above_open_interest"
    # The highest volatilities of the chain (the 4,900 wing) are at its 90th percentile.
    top = int(np.nanargmax(found.iv))
    assert "iv_percentile" in unusual[top]
    assert all(reasons == ["volume_above_open_interest"] or "iv_percentile" in reasons
               for reasons in unusual.values())  # fmt: skip


def test_without_an_underlying_price_parity_implies_it():
    chain = quoted_chain(5012.5, lambda strike: 0.18)
    found = analyse(chain, ChainTerms(OptionModel.BLACK76, 0.04, 0.0, AS_OF, None))
    assert found.underlying_price_source == "parity"
    assert found.underlying_price == pytest.approx(5012.5, abs=0.05)
    calls_only = [c for c in chain if c.option_type is CALL]
    found = analyse(calls_only, ChainTerms(OptionModel.BLACK76, 0.04, 0.0, AS_OF, None))
    assert found.underlying_price is None and np.all(np.isnan(found.iv))
    assert found.surface_iv == [[None, None, None], [None, None, None]]


ROW = {"type": "call", "strike": "5000", "expiry": "2027-03-19", "bid": "120.5",
       "ask": "121", "last": "", "volume": "12", "open_interest": "340"}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "straddle"}, "contracts[1].type"),
        ({"strike": "0"}, "contracts[1].strike"),
        ({"strike": "abc"}, "contracts[1].strike"),
        ({"expiry": "19/03/2027"}, "contracts[1].expiry"),
        ({"expiry": "2026-12-03"}, "contracts[1].expiry"),  # before as_of
        ({"bid": "122"}, "contracts[1].bid"),  # above the ask
        ({"volume": "-1"}, "contracts[1].volume"),
        ({"open_interest": "1.5"}, "contracts[1].open_interest"),
        ({"strike": "5100.0000000001"}, "contracts[1].strike"),  # finer than the column
        ({"strike": "5000", "type": "C"}, "contracts[1]"),  # repeats row 0
    ],
)
def test_a_bad_row_is_refused_naming_it(change, field):
    with pytest.raises(DomainValidationError) as caught:
        parse_contracts([ROW, {**ROW, "strike": "5100"} | change], AS_OF)
    assert caught.value.field == field


def test_a_chain_of_more_than_100_expiries_is_refused():
    rows = [{**ROW, "expiry": (FAR + timedelta(days=day)).isoformat()} for day in range(101)]
    assert len(parse_contracts(rows[:100], AS_OF)) == 100
    with pytest.raises(DomainValidationError) as caught:
        parse_contracts(rows, AS_OF)
    assert caught.value.field == "contracts" and "101 expiries" in caught.value.message


def test_rows_read_text_and_json_values_alike():
    found = parse_contracts([ROW, {**ROW, "type": "P", "strike": 4950, "bid": None}], AS_OF)
    assert found[0] == ChainContract(CALL, D(5000), FAR, D("120.5"), D(121), None, 12, 340)
    assert found[1].option_type is PUT and found[1].strike == D(4950) and found[1].bid is None
    assert found[0].quote() == (D("120.75"), "mid")
    assert found[1].quote() == (None, None)  # an ask alone is no price to read


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"as_of": "2026-12-04T21:00:00Z"}, "underlying"),
        ({"underlying": "ES"}, "as_of"),
        ({"underlying": "ES", "as_of": "yesterday"}, "as_of"),
        ({"underlying": "ES", "as_of": "2026-12-04", "model": "binomial"}, "model"),
        ({"underlying": "ES", "as_of": "2026-12-04", "rate": "5"}, "rate"),
        ({"underlying": "ES", "as_of": "2026-12-04", "dividend_yield": "0.01"}, "dividend_yield"),
        ({"underlying": "ES", "as_of": "2026-12-04", "underlying_price": "-1"}, "underlying_price"),
    ],
)
def test_a_bad_header_is_refused_naming_the_field(fields, field):
    with pytest.raises(DomainValidationError) as caught:
        parse_header(fields)
    assert caught.value.field == field


def test_the_header_defaults_to_black76_at_no_rate():
    found = parse_header({"underlying": "ESH7", "as_of": "2026-12-04T16:00:00"})
    assert found.model is OptionModel.BLACK76 and found.rate == 0 and found.underlying_price is None
    assert found.as_of == datetime(2026, 12, 4, 16, tzinfo=UTC)
