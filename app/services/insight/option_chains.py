"""Option chains the trader uploads: checked whole, kept as sent, and analysed when asked
(app/domain/option_chains.py holds the figures and the choices behind them)."""

import logging
from collections.abc import Sequence

from sqlalchemy import func, select

from app.domain import option_chains
from app.domain.option_chains import ChainAnalytics, ChainContract, ChainTerms
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.models import OptionChain, OptionContract

logger = logging.getLogger(__name__)

MAX_CONTRACTS = 5_000  # a whole listed chain of an index future is about 3,000


def store_chain(fields: dict, rows: Sequence) -> OptionChain:
    """Keep a chain: the header `fields` and its contract `rows`, every one checked
    before any is written (a bad one refuses the upload, naming it)."""
    if not rows:
        raise InvalidInput("The chain has no contracts.", {"contracts": "is empty"})
    if len(rows) > MAX_CONTRACTS:
        words = f"has more than {MAX_CONTRACTS:,} rows"
        raise InvalidInput(f"contracts {words}.", {"contracts": words})
    header = option_chains.parse_header(fields)
    contracts = option_chains.parse_contracts(rows, header.as_of)
    chain = OptionChain(
        underlying=header.underlying,
        underlying_price=header.underlying_price,
        as_of=header.as_of,
        model=header.model,
        rate=header.rate,
        dividend_yield=header.dividend_yield,
        contracts=[OptionContract(**_columns(c)) for c in contracts],
    )
    db.session.add(chain)
    db.session.commit()
    logger.info("option chain %s stored: %s, %d contracts", chain.id, chain.underlying, len(rows))
    return chain


def _columns(contract: ChainContract) -> dict:
    return {
        "option_type": contract.option_type,
        "strike": contract.strike,
        "expiry": contract.expiry,
        "bid": contract.bid,
        "ask": contract.ask,
        "last": contract.last,
        "volume": contract.volume,
        "open_interest": contract.open_interest,
    }


def list_chains(limit: int = 100) -> list[tuple[OptionChain, int]]:
    """The latest chains, newest first, each with its number of contracts."""
    counts = (
        select(OptionContract.chain_id, func.count().label("n"))
        .group_by(OptionContract.chain_id)
        .subquery()
    )
    query = (
        select(OptionChain, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.chain_id == OptionChain.id)
        .order_by(OptionChain.id.desc())
        .limit(limit)
    )
    return [(chain, n) for chain, n in db.session.execute(query)]


def get_chain(chain_id: int) -> OptionChain:
    chain = db.session.get(OptionChain, chain_id)
    if chain is None:
        raise NotFound(f"No option chain with id {chain_id}.")
    return chain


def chain_analytics(chain_id: int) -> tuple[OptionChain, ChainAnalytics]:
    """The chain and its figures: implied volatility and Greeks per contract, ratios,
    max pain, surface and the unusual ones."""
    chain = get_chain(chain_id)
    contracts = [
        ChainContract(
            c.option_type, c.strike, c.expiry, c.bid, c.ask, c.last, c.volume, c.open_interest
        )
        for c in chain.contracts
    ]
    terms = ChainTerms(
        model=chain.model,
        rate=float(chain.rate),
        dividend_yield=float(chain.dividend_yield),
        as_of=chain.as_of,
        underlying_price=None if chain.underlying_price is None else float(chain.underlying_price),
    )
    return chain, option_chains.analyse(contracts, terms)
