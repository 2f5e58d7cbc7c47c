"""JSON forms of money, prices and times (DESIGN §5.4)."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from app.api.serialize import decimal, iso, money


def test_money_keeps_cents_and_finer_fractions():
    assert money(Decimal("50000.0000")) == "50000.00"
    assert money(Decimal("-12.5000")) == "-12.50"
    assert money(Decimal("1.2345")) == "1.2345"
    assert money(None) is None


def test_prices_drop_column_padding():
    assert decimal(Decimal("5012.250000000")) == "5012.25"
    assert decimal(Decimal("100.000")) == "100"
    assert decimal(Decimal("0.000000500")) == "0.0000005"


def test_times_are_iso_utc_with_z():
    moment = datetime(2026, 11, 21, 9, 30, tzinfo=timezone(timedelta(hours=-6)))
    assert iso(moment) == "2026-11-21T15:30:00Z"
    assert iso(datetime(2026, 1, 2, tzinfo=UTC)) == "2026-01-02T00:00:00Z"
