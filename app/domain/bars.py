"""One OHLCV bar as plain data: what the bar builder stores and the chart styles read.

A bar is checked when it is made, so nothing downstream meets a high below its low: the
import refuses such a row with the field named, and the chart styles can rely on
`low <= open, close <= high`.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from app.domain.errors import DomainValidationError


@dataclass(frozen=True, slots=True)
class Bar:
    """Open, high, low and close over one period starting at `time`, and the contracts traded."""

    time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int

    def __post_init__(self) -> None:
        if self.high < self.low:
            raise DomainValidationError("high", f"{self.high} is below the low {self.low}")
        for name in ("open", "close"):
            price = getattr(self, name)
            if not self.low <= price <= self.high:
                raise DomainValidationError(
                    name, f"{price} is outside the bar's range {self.low}–{self.high}"
                )
        if self.volume < 0:
            raise DomainValidationError("volume", "must not be negative")
