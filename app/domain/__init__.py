"""Pure trading logic: plain dataclasses and functions over Decimal, no Flask, no database."""
