"""/api/options: the option calculator (price, Greeks, implied volatility) and uploaded
option chains with their analytics (DESIGN §5.4).

Model figures travel as decimal strings of ten significant digits, like every decimal of
the API: they are floats of a model, and ten digits is more than any quote carries.
"""

import csv
import io
import math
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import NoReturn

from flask import Blueprint, jsonify, request

from app.api.introspect import request_body
from app.api.schemas import ImpliedVolatilityRequest, OptionGreeksRequest, parse_body
from app.api.serialize import decimal, iso
from app.domain import options
from app.domain.option_chains import years_to_expiry
from app.errors import InvalidInput, Unprocessable
from app.services.insight import option_chains

bp = Blueprint("options", __name__, url_prefix="/options")

SIGNIFICANT = 10
CSV_COLUMNS = ("type", "strike", "expiry", "bid", "ask", "last", "volume", "open_interest")


def figure(value) -> str | None:
    """A model's float as a decimal string of ten significant digits; null for none (NaN)."""
    if value is None or not math.isfinite(value):
        return None
    return decimal(Decimal(f"{value:.{SIGNIFICANT}g}")) if value else "0"


def _pricing_inputs(fields: dict) -> dict:
    """The request's option as the domain takes it: floats, `years` from an expiry."""
    if sum(fields.get(name) is not None for name in ("years", "expiry")) != 1:
        words = "give years or expiry, one of the two"
        raise InvalidInput(f"Time to expiry: {words}.", {"years": words})
    years = fields.get("years")
    if years is None:
        years = years_to_expiry(fields["expiry"], datetime.now(UTC))
        if years <= 0:
            raise InvalidInput("expiry has passed.", {"expiry": "has passed"})
        if years > options.MAX_YEARS:
            words = f"is more than {options.MAX_YEARS:.0f} years away"
            raise InvalidInput(f"expiry {words}.", {"expiry": words})
    return {
        "model": fields["model"],
        "option_type": fields["option_type"],
        "underlying": float(fields["underlying"]),
        "strike": float(fields["strike"]),
        "years": float(years),
        "rate": float(fields["rate"]),
        "dividend_yield": float(fields.get("dividend_yield") or 0),
    }


@bp.post("/greeks")
def greeks():
    """Price and Greeks of a European option: Black-76 on a futures price or
    Black-Scholes-Merton on a spot price with a dividend yield. `theta` per year,
    `theta_per_day` per calendar day, `vega` per volatility point, `rho` per 1 % of rate."""
    fields = parse_body(OptionGreeksRequest)
    inputs = _pricing_inputs(fields)
    found = options.greeks(**inputs, volatility=float(fields["volatility"]))
    return jsonify(
        price=figure(found.price),
        delta=figure(found.delta),
        gamma=figure(found.gamma),
        theta=figure(found.theta),
        theta_per_day=figure(found.theta_per_day),
        vega=figure(found.vega),
        rho=figure(found.rho),
        years=figure(inputs["years"]),
    )


@bp.post("/implied-volatility")
def implied_volatility():
    """The volatility (a decimal fraction a year) at which the model gives `price`; a
    price outside the no-arbitrage bounds is 422 `price_out_of_bounds`."""
    fields = parse_body(ImpliedVolatilityRequest)
    inputs = _pricing_inputs(fields)
    try:
        found = options.implied_volatility(**inputs, option_price=float(fields["price"]))
    except options.PriceOutOfBounds as exc:
        raise Unprocessable(
            f"No volatility gives this price: {exc.message}.",
            {"price": exc.message},
            code=exc.code,
        ) from None
    return jsonify(implied_volatility=figure(found), years=figure(inputs["years"]))


# --- chains ------------------------------------------------------------------------------


NUMBER = {"oneOf": [{"type": "string"}, {"type": "number"}]}
TEXT_FIELDS = {"underlying", "as_of", "model", "type", "expiry"}
COUNT_FIELDS = {"volume", "open_interest"}
HEADER_FIELDS = ("underlying", "as_of", "model", "rate", "dividend_yield", "underlying_price")


@bp.post("/chains")
@request_body(
    {
        "text/csv": {"schema": {"type": "string"}},
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "underlying": {"type": "string"},
                    "as_of": {"type": "string", "format": "date-time"},
                    "model": {"type": "string", "enum": ["black76", "bsm"]},
                    "rate": NUMBER,
                    "dividend_yield": NUMBER,
                    "underlying_price": NUMBER,
                    "contracts": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "type": {"type": "string", "enum": ["call", "put", "C", "P"]},
                                "strike": NUMBER,
                                "expiry": {"type": "string", "format": "date"},
                                "bid": NUMBER,
                                "ask": NUMBER,
                                "last": NUMBER,
                                "volume": {"type": "integer", "minimum": 0},
                                "open_interest": {"type": "integer", "minimum": 0},
                            },
                            "additionalProperties": False,
                        },
                    },
                },
                "additionalProperties": False,
            }
        },
    }
)
def upload_chain():
    """An option chain as JSON (`underlying`, `as_of`, [`model`, `rate`, `dividend_yield`,
    `underlying_price`], `contracts` [{type, strike, expiry, bid, ask, last, volume,
    open_interest}]) or as CSV rows of those contract columns (a header line is optional
    and may order them) with the chain's fields in the query. Every row is checked before
    any is kept: a bad one refuses the upload naming `contracts[i].field`. An unknown
    field, column or query parameter is refused, not ignored, so a typo never passes."""
    if request.is_json:
        fields, rows = _json_chain()
    else:
        _check_query()
        fields = {
            "underlying": request.args.get("underlying"),
            "as_of": request.args.get("as_of"),
            "model": request.args.get("model"),
            "rate": request.args.get("rate"),
            "dividend_yield": request.args.get("dividend_yield"),
            "underlying_price": request.args.get("underlying_price"),
        }
        rows = _csv_rows()
    chain = option_chains.store_chain(fields, rows)
    return jsonify(chain_json(chain)), 201


def _refuse(where: str, words: str) -> NoReturn:
    where = where[:100]  # a name is echoed, never a megabyte of it
    raise InvalidInput(f"{where} {words}.", {where: words})


def _check_query() -> None:
    """The chain's fields of a CSV upload, each once; a JSON upload carries them in its
    body, so any query parameter there is one that would be ignored."""
    known = () if request.is_json else HEADER_FIELDS
    for name in request.args:
        if name not in known:
            _refuse(name, "is not a known query parameter")
        if len(request.args.getlist(name)) > 1:
            _refuse(name, "is given more than once")


def _json_chain() -> tuple[dict, list]:
    """The JSON body checked as strictly as the pydantic bodies: known fields only, text
    as strings, counts as JSON integers (`"12"` is refused), prices as numbers or decimal
    strings. Values themselves are checked by the domain, as the CSV's are."""
    document = request.get_json(silent=True)
    if not isinstance(document, dict):
        raise InvalidInput("The JSON body must be an object.", code="invalid_json")
    _check_query()
    _check_fields(document, (*HEADER_FIELDS, "contracts"), "")
    rows = document.get("contracts")
    if not isinstance(rows, list):
        raise InvalidInput("contracts must be a list.", {"contracts": "must be a list"})
    for index, row in enumerate(rows):
        if isinstance(row, dict):  # the domain names a row that is not an object
            _check_fields(row, CSV_COLUMNS, f"contracts[{index}].")
    return document, rows


def _check_fields(fields: dict, known: tuple[str, ...], prefix: str) -> None:
    for name, value in fields.items():
        where = prefix + name
        if name not in known:
            _refuse(where, "is not a known field")
        if value is None or name == "contracts":
            continue  # null is a field left out
        if name in TEXT_FIELDS and not isinstance(value, str):
            _refuse(where, "must be text")
        elif name in COUNT_FIELDS and (isinstance(value, bool) or not isinstance(value, int)):
            _refuse(where, "must be a whole number (a JSON integer)")
        elif isinstance(value, bool) or not isinstance(value, int | float | str):
            _refuse(where, "must be a number or a decimal string")


def _csv_rows() -> list[dict]:
    try:
        text = request.get_data().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("The CSV must be UTF-8 text.", {"contracts": "is not UTF-8"}) from None
    try:  # newline="": a lone carriage return ends a line, as a spreadsheet's does
        reader = csv.reader(io.StringIO(text, newline=""))
        lines = [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:  # a cell beyond the csv module's limit of 131,072 characters
        words = f"is not CSV: {exc}"
        raise InvalidInput(f"The chain {words}.", {"contracts": words}) from None
    columns = CSV_COLUMNS
    if lines and lines[0] and lines[0][0].strip().lower() in CSV_COLUMNS:
        columns = tuple(cell.strip().lower() for cell in lines[0])
        lines = lines[1:]
        unknown = [name for name in columns if name not in CSV_COLUMNS]
        if unknown:
            words = f"names unknown columns: {', '.join(unknown)[:200]}"
            raise InvalidInput(f"The CSV header {words}.", {"contracts": words})
        repeated = sorted(name for name, times in Counter(columns).items() if times > 1)
        if repeated:
            words = f"names a column more than once: {', '.join(repeated)}"
            raise InvalidInput(f"The CSV header {words}.", {"contracts": words})
    rows = []
    for index, line in enumerate(lines):
        cells = [cell.strip() for cell in line]
        if any(cells[len(columns) :]):
            where = f"contracts[{index}]"
            _refuse(where, f"has more than the {len(columns)} columns")
        rows.append(dict(zip(columns, cells, strict=False)))
    return rows


@bp.get("/chains")
def list_chains():
    """The latest uploaded chains, newest first: items `{id, underlying, as_of, model,
    contracts}` (contracts: how many)."""
    return jsonify(
        items=[
            {**header_json(chain), "contracts": count}
            for chain, count in option_chains.list_chains()
        ]
    )


@bp.get("/chains/<id:chain_id>/analytics")
def chain_analytics(chain_id: int):
    """Per contract its implied volatility (from the mid, else the last trade), delta,
    gamma, theta (per year), vega (per volatility point) and moneyness (K / F); the
    put/call volume and open-interest ratios; max pain (the nearest expiry's, and per
    expiry); the surface {strikes, expiries, iv[expiry][strike]}; the unusual contracts."""
    chain, found = option_chains.chain_analytics(chain_id)
    contracts = [
        {
            **contract_json(c),
            "years": figure(found.years[i]),
            "iv": figure(found.iv[i]),
            "iv_source": found.iv_source[i],
            "delta": figure(found.delta[i]),
            "gamma": figure(found.gamma[i]),
            "theta": figure(found.theta[i]),
            "theta_per_day": figure(found.theta_per_day[i]),
            "vega": figure(found.vega[i]),
            "moneyness": figure(found.moneyness[i]),
        }
        for i, c in enumerate(chain.contracts)
    ]
    pains = found.max_pain
    return jsonify(
        **header_json(chain),
        underlying_price=figure(found.underlying_price),
        underlying_price_source=found.underlying_price_source,
        put_call_volume_ratio=decimal(found.put_call_volume_ratio),
        put_call_oi_ratio=decimal(found.put_call_oi_ratio),
        max_pain=decimal(pains[min(pains)]) if pains else None,
        max_pain_by_expiry={expiry.isoformat(): decimal(k) for expiry, k in pains.items()},
        contracts=contracts,
        surface={
            "strikes": [decimal(k) for k in found.surface_strikes],
            "expiries": [expiry.isoformat() for expiry in found.surface_expiries],
            "iv": [[figure(v) for v in row] for row in found.surface_iv],
        },
        unusual=[
            {
                **contracts[index],
                "iv_percentile": figure(percentile),
                "reasons": reasons,
            }
            for index, reasons, percentile in found.unusual
        ],
    )


def header_json(chain) -> dict:
    return {
        "id": chain.id,
        "underlying": chain.underlying,
        "as_of": iso(chain.as_of),
        "model": chain.model.value,
        "rate": decimal(chain.rate),
        "dividend_yield": decimal(chain.dividend_yield),
    }


def chain_json(chain) -> dict:
    return {
        **header_json(chain),
        "underlying_price": decimal(chain.underlying_price),
        "contracts": [contract_json(c) for c in chain.contracts],
    }


def contract_json(contract) -> dict:
    return {
        "id": contract.id,
        "type": contract.option_type.value,
        "strike": decimal(contract.strike),
        "expiry": contract.expiry.isoformat(),
        "bid": decimal(contract.bid),
        "ask": decimal(contract.ask),
        "last": decimal(contract.last),
        "volume": contract.volume,
        "open_interest": contract.open_interest,
    }
