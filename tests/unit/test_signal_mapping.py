"""Symbol mapping on the parsed signal: contract swapped, counts scaled, never rounded."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.signals import Charted, SignalDefaults, SignalError, parse_signal
from app.domain.symbol_mapping import SymbolMapping, map_signal

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
DEFAULTS = SignalDefaults(max_quantity=100, symbol="NQ1!", quantity=1)


def signal(body: str):
    return parse_signal(body, DEFAULTS, NOW)


def test_no_mapping_leaves_the_signal_as_it_is():
    original = signal('{"action": "buy", "quantity": 3}')
    assert map_signal(original, SymbolMapping(), 100) is original
    assert map_signal(original, SymbolMapping(None, Decimal(1)), 100) is original


def test_the_contract_and_the_counts_change_and_what_was_charted_is_kept():
    mapped = map_signal(
        signal('{"action": "buy", "quantity": 3, "price": 21000.25}'),
        SymbolMapping("MNQ1!", Decimal("10")),
        100,
    )
    assert (mapped.symbol, mapped.quantity, mapped.price) == ("MNQ1!", 30, Decimal("21000.25"))
    assert mapped.charted == Charted("NQ1!", 3, None)
    assert type(mapped).from_json(mapped.to_json()) == mapped


def test_a_signed_target_keeps_its_sign():
    mapped = map_signal(
        signal('{"market_position": "short", "position_size": 2}'),
        SymbolMapping(None, Decimal("2.5")),
        100,
    )
    assert (mapped.symbol, mapped.position_size) == ("NQ1!", -5)


@given(count=st.integers(1, 40), tenths=st.integers(1, 50))
def test_counts_are_scaled_exactly_or_refused(count, tenths):
    ratio = Decimal(tenths) / 10
    body = f'{{"action": "sell", "quantity": {count}}}'
    exact = count * ratio
    if exact != exact.to_integral_value() or exact > 100:
        with pytest.raises(SignalError) as refused:
            map_signal(signal(body), SymbolMapping("MNQ1!", ratio), 100)
        assert refused.value.field == "quantity"
    else:
        assert map_signal(signal(body), SymbolMapping("MNQ1!", ratio), 100).quantity == exact
