"""Exact numbers from untrusted input."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import DomainValidationError
from app.domain.numbers import parse_decimal, parse_quantity, parse_whole_number


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5012.25", Decimal("5012.25")),
        (" 5,012.25 ", Decimal("5012.25")),
        (5012.25, Decimal("5012.25")),
        (0.1, Decimal("0.1")),
        (3, Decimal(3)),
        (Decimal("1.5"), Decimal("1.5")),
    ],
)
def test_parse_decimal_is_exact(value, expected):
    assert parse_decimal(value, "price") == expected


@pytest.mark.parametrize(
    "value", [None, True, "", "abc", "{{close}}", "nan", "inf", "1e400", [], {}, "x" * 100]
)
def test_parse_decimal_rejects_non_numbers(value):
    with pytest.raises(DomainValidationError) as caught:
        parse_decimal(value, "price")
    assert caught.value.field == "price"


@pytest.mark.parametrize("value", ["2", 2, 2.0, "2.0"])
def test_whole_numbers_accept_integral_forms(value):
    assert parse_whole_number(value, "quantity") == 2


@pytest.mark.parametrize("value", ["2.5", 0, -1, "-3", 101, "abc"])
def test_quantity_rejects_fractions_zero_negatives_and_over_cap(value):
    with pytest.raises(DomainValidationError) as caught:
        parse_quantity(value, "quantity", cap=100)
    assert caught.value.field == "quantity"


@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.decimals()))
def test_parse_decimal_raises_only_its_own_error(value):
    try:
        result = parse_decimal(value, "x")
    except DomainValidationError:
        return
    assert result.is_finite()
