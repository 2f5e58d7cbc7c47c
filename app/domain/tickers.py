"""Which futures an article is about: contract roots found in its text (DESIGN §3 news).

Three kinds of evidence, each matched as a whole word (never inside another word):

- Cash-tags and slash tags: `$ES`, `$MES1!`, `$CLZ6`, `/ES`, `/GC`. The sign says "this
  is a symbol", so they match in any case; a tag naming no root we list (`$AAPL`) is
  ignored.
- Bare roots from the contracts table (`ES`, `MES`, `CL`, `M2K`, `6E`): upper-case whole
  words only, so "yes", "Es", "SERIES" and "GCX" never count. Two-letter roots such as
  ES, CL, GC, SI or NG are also ordinary words or abbreviations, and in a headline set
  ALL IN CAPITALS every word is upper-case, so there a bare root is no evidence: bare
  roots count only in text that has lower-case letters too. Contract forms (`ES1!`,
  `ESZ6`) count even then.
- Common names, case-insensitive: "S&P 500" or "S&P" → ES, MES; "Nasdaq" → NQ, MNQ;
  "Dow" → YM, MYM; "Russell" → RTY, M2K; "crude", "oil", "WTI" → CL, MCL; "gold" → GC,
  MGC; and the rest of NAMES below. A name maps to the full-size root and its micro
  where there is one, since both trade the same market.

The answer is the roots in the contracts table's order, each once.
"""

import re
from collections.abc import Iterable

from app.domain.contracts import MONTH_CODES, SPECS

# Roots never prefix one another (contracts.py), so longest-first alternation is exact.
_ROOTS = "|".join(sorted(SPECS, key=len, reverse=True))
_CONTRACT_SUFFIX = rf"(?:[12]!|[{MONTH_CODES}](?:\d{{4}}|\d{{1,2}}))"
_WORD_BEFORE = r"(?<![A-Za-z0-9_$/&.@-])"
_WORD_AFTER = r"(?![A-Za-z0-9_])"

_TAG = re.compile(
    rf"(?<![A-Za-z0-9_/:.@])[$/](?P<root>{_ROOTS}){_CONTRACT_SUFFIX}?{_WORD_AFTER}", re.IGNORECASE
)
_CONTRACT = re.compile(rf"{_WORD_BEFORE}(?P<root>{_ROOTS}){_CONTRACT_SUFFIX}(?!\w)")
_BARE_ROOT = re.compile(rf"{_WORD_BEFORE}(?P<root>{_ROOTS}){_WORD_AFTER}")

# name pattern (case-insensitive, whole words) → the roots it means
NAMES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"S&P(?:\s*500)?|SPX|E-mini\s+S&P", ("ES", "MES")),
    (r"Nasdaq(?:[\s-]*100)?|NDX", ("NQ", "MNQ")),
    (r"Dow(?:\s+Jones)?|DJIA", ("YM", "MYM")),
    (r"Russell(?:\s*2000)?", ("RTY", "M2K")),
    (r"crude|oil|WTI", ("CL", "MCL")),
    (r"natural\s+gas|nat\s*gas|Henry\s+Hub", ("NG",)),
    (r"gold|bullion", ("GC", "MGC")),
    (r"silver", ("SI",)),
    (r"copper", ("HG",)),
    (r"T-bonds?|(?:30-year|long)\s+(?:Treasury|bond)s?", ("ZB",)),
    (r"10-year\s+(?:Treasury|Treasuries|note|yield)s?|T-notes?", ("ZN",)),
    (r"5-year\s+(?:Treasury|Treasuries|note|yield)s?", ("ZF",)),
    (r"corn", ("ZC",)),
    (r"soybeans?|soy", ("ZS",)),
    (r"wheat", ("ZW",)),
    (r"euro|EUR/USD", ("6E",)),
    (r"yen|USD/JPY", ("6J",)),
    (r"sterling|British\s+pound|GBP/USD", ("6B",)),
)
_NAMES = [
    (re.compile(rf"(?<![A-Za-z0-9_])(?:{pattern})(?![A-Za-z0-9_])", re.IGNORECASE), roots)
    for pattern, roots in NAMES
]
_ORDER = {root: index for index, root in enumerate(SPECS)}


def find_tickers(*texts: str | None) -> list[str]:
    """The contract roots the texts (a title, a summary) are about, in table order."""
    found: set[str] = set()
    for text in texts:
        if text:
            found.update(_in_text(text))
    return sorted(found, key=_ORDER.__getitem__)


def _in_text(text: str) -> Iterable[str]:
    yield from (match["root"].upper() for match in _TAG.finditer(text))
    yield from (match["root"] for match in _CONTRACT.finditer(text))
    if any(char.islower() for char in text):
        yield from (match["root"] for match in _BARE_ROOT.finditer(text))
    for pattern, roots in _NAMES:
        if pattern.search(text):
            yield from roots
