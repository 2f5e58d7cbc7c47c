"""Declarative base, column types and helpers shared by every model."""

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, Enum, MetaData, Numeric
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Named constraints let Alembic alter them later, SQLite batch mode included.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    def __repr__(self) -> str:
        ident = getattr(self, "id", None)
        return f"<{type(self).__name__} id={ident}>"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp, also on SQLite, which forgets the zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC timestamp is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def Price() -> Numeric[Decimal]:  # noqa: N802 - reads like a type in column definitions
    """A contract price: nine decimals cover the finest tick (6J: 0.0000005)."""
    return Numeric(20, 9, asdecimal=True)


def Money() -> Numeric[Decimal]:  # noqa: N802
    """Cash, P&L and commissions in account currency, to 1/100 of a cent."""
    return Numeric(18, 4, asdecimal=True)


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


def enum_of(enum: type[StrEnum], length: int) -> Enum:
    """A column type that stores a StrEnum's values in a VARCHAR(length) and reads back
    members, so code compares and assigns members and never spells the words.

    Strings that are not a value are refused before they reach the database. The CHECK
    stays `one_of`'s (named, already in the schema): Enum's own would be a second one.
    """
    return Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        values_callable=_values,
        validate_strings=True,
        length=length,
    )


def one_of(column: str, values: type) -> CheckConstraint:
    """A CHECK that keeps a string column inside a StrEnum's values."""
    allowed = ", ".join(f"'{member.value}'" for member in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_allowed")
