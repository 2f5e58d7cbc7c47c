"""/api/options (DESIGN §5.4): the calculator's price, Greeks and implied volatility in
the API's units, chains uploaded as JSON and as CSV, their analytics, and refusals that
name the field or row at fault."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.domain import options

HULL = {"model": "bsm", "option_type": "call", "underlying": "42", "strike": "40",
        "years": "0.5", "rate": "0.10", "volatility": "0.20"}  # fmt: skip
AS_OF = "2026-12-04T21:00:00Z"


def test_greeks_answer_hull_s_example_in_decimal_strings(api):
    response = api.post("/api/options/greeks", HULL)
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert set(answer) == {"price", "delta", "gamma", "theta", "theta_per_day", "vega", "rho",
                           "years"}  # fmt: skip
    assert all(isinstance(value, str) for value in answer.values())
    assert Decimal(answer["price"]).quantize(Decimal("0.01")) == Decimal("4.76")
    assert Decimal(answer["theta_per_day"]) == pytest.approx(Decimal(answer["theta"]) / 365)
    put = api.post("/api/options/greeks", {**HULL, "option_type": "put"}).get_json()
    assert Decimal(put["price"]).quantize(Decimal("0.01")) == Decimal("0.81")


def test_black76_and_an_expiry_date(api):
    expiry = (datetime.now(UTC) + timedelta(days=90)).date()
    body = {"model": "black76", "option_type": "put", "underlying": 5000, "strike": 4900,
            "expiry": expiry.isoformat(), "rate": "0.04", "volatility": "0.18"}  # fmt: skip
    answer = api.post("/api/options/greeks", body).get_json()
    years = float(answer["years"])
    assert 90 / 365 < years <= 91 / 365  # to the end of the expiry date
    expected = options.greeks("black76", "put", 5000, 4900, years, 0.04, 0.18)
    assert float(answer["price"]) == pytest.approx(expected.price, rel=1e-9)
    assert float(answer["vega"]) == pytest.approx(expected.vega, rel=1e-9)  # per vol point
    assert float(answer["rho"]) == pytest.approx(-years * expected.price / 100, rel=1e-9)


def test_implied_volatility_returns_the_volatility_priced_at(api):
    quoted = options.price("bsm", "call", 42, 40, 0.5, 0.10, 0.27, 0.02)
    body = {**HULL, "dividend_yield": "0.02", "price": f"{quoted:.12f}"}
    del body["volatility"]
    response = api.post("/api/options/implied-volatility", body)
    assert response.status_code == 200, response.get_json()
    assert float(response.get_json()["implied_volatility"]) == pytest.approx(0.27, abs=1e-8)


def test_a_price_beyond_the_no_arbitrage_bounds_is_422(api):
    body = {**HULL, "price": "45"}
    del body["volatility"]
    response = api.post("/api/options/implied-volatility", body)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "price_out_of_bounds" and "price" in error["fields"]
    assert "no-arbitrage" in error["message"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"years": None}, "years"),  # neither years nor expiry
        ({"expiry": "2030-01-01"}, "years"),  # both
        ({"years": "0"}, "years"),
        ({"volatility": "0"}, "volatility"),
        ({"volatility": True}, "volatility"),
        ({"strike": "-1"}, "strike"),
        ({"model": "heston"}, "model"),
        ({"model": "black76", "dividend_yield": "0.02"}, "dividend_yield"),
        ({"years": None, "expiry": "2020-01-02"}, "expiry"),  # passed
        ({"years": None, "expiry": "9999-12-31"}, "expiry"),  # beyond 100 years
        ({"rate": "NaN"}, "rate"),
    ],
)
def test_bad_calculator_input_is_400_naming_the_field(api, change, field):
    body = {key: value for key, value in (HULL | change).items() if value is not None}
    response = api.post("/api/options/greeks", body)
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["fields"]


def chain_rows(forward=5000.0, as_of=datetime(2026, 12, 4, 21, tzinfo=UTC)):
    """Calls and puts at 4,900/5,000/5,100 for two expiries, mid-quoted at Black-76 prices
    on a smile; open interest heaviest at 5,000; the 5,100 March call trades more than its
    open interest."""
    rows = []
    for expiry in (date(2026, 12, 18), date(2027, 3, 19)):
        years = datetime.combine(expiry + timedelta(days=1), datetime.min.time(), UTC) - as_of
        years = years / timedelta(days=365)
        for strike, vol in ((4900, 0.22), (5000, 0.18), (5100, 0.16)):
            for kind in ("call", "put"):
                value = options.price("black76", kind, forward, strike, years, 0.04, vol)
                unusual = expiry.month == 3 and strike == 5100 and kind == "call"
                rows.append({"type": kind, "strike": str(strike), "expiry": expiry.isoformat(),
                             "bid": f"{value - 0.25:.2f}", "ask": f"{value + 0.25:.2f}",
                             "last": f"{value:.2f}", "volume": 900 if unusual else 20,
                             "open_interest": 400 if strike == 5000 else 100})  # fmt: skip
    return rows


def test_a_json_chain_is_kept_and_analysed(api):
    body = {"underlying": "ESH7", "as_of": AS_OF, "model": "black76", "rate": "0.04",
            "underlying_price": "5000", "contracts": chain_rows()}  # fmt: skip
    response = api.post("/api/options/chains", body)
    assert response.status_code == 201, response.get_json()
    chain = response.get_json()
    assert chain["underlying"] == "ESH7" and len(chain["contracts"]) == 12
    assert chain["contracts"][0]["strike"] == "4900" and chain["contracts"][0]["volume"] == 20

    analytics = api.get(f"/api/options/chains/{chain['id']}/analytics").get_json()
    assert (
        analytics["underlying_price"] == "5000" and analytics["underlying_price_source"] == "given"
    )
    first = analytics["contracts"][0]
    for name in ("iv", "delta", "gamma", "theta", "vega", "moneyness"):
        assert isinstance(first[name], str), name
    assert float(first["iv"]) == pytest.approx(0.22, abs=2e-3)
    assert first["moneyness"] == "0.98" and first["iv_source"] == "mid"
    assert analytics["put_call_volume_ratio"] == "0.12"  # 6 × 20 over 5 × 20 + 900
    assert analytics["put_call_oi_ratio"] == "1"
    assert analytics["max_pain"] == "5000"  # December's, the nearest
    assert analytics["max_pain_by_expiry"] == {"2026-12-18": "5000", "2027-03-19": "5000"}
    surface = analytics["surface"]
    assert surface["strikes"] == ["4900", "5000", "5100"]
    assert surface["expiries"] == ["2026-12-18", "2027-03-19"]
    assert float(surface["iv"][1][2]) == pytest.approx(0.16, abs=2e-3)
    flagged = {(u["type"], u["strike"], u["expiry"]): u["reasons"] for u in analytics["unusual"]}
    assert flagged[("call", "5100", "2027-03-19")] == ["volume_above_open_interest"]
    high = [key for key, reasons in flagged.items() if "iv_percentile" in reasons]
    assert high and all(strike == "4900" for _, strike, _ in high)  # the steep wing
    assert set(flagged) == {*high, ("call", "5100", "2027-03-19")}

    listed = api.get("/api/options/chains").get_json()["items"]
    assert listed[0] == {"id": chain["id"], "underlying": "ESH7", "as_of": AS_OF,
                         "model": "black76", "rate": "0.04", "dividend_yield": "0",
                         "contracts": 12}  # fmt: skip


def upload_csv(api, text: str, query: str):
    return api.client.post(
        f"/api/options/chains?{query}&as_of={AS_OF}",
        data=text,
        headers={"Content-Type": "text/csv", **api.headers},
    )


def test_a_csv_chain_takes_its_fields_from_the_query_and_parity_gives_the_price(api):
    rows = chain_rows(forward=5012.5)
    columns = ("expiry", "type", "strike", "bid", "ask", "last", "volume", "open_interest")
    lines = [",".join(columns)] + [",".join(str(row[c]) for c in columns) for row in rows]
    response = upload_csv(api, "\n".join(lines), "underlying=ESH7&rate=0.04")
    assert response.status_code == 201, response.get_json()
    chain_id = response.get_json()["id"]
    analytics = api.get(f"/api/options/chains/{chain_id}/analytics").get_json()
    assert analytics["underlying_price_source"] == "parity"
    assert float(analytics["underlying_price"]) == pytest.approx(5012.5, abs=0.05)
    assert float(analytics["contracts"][0]["iv"]) == pytest.approx(0.22, abs=2e-3)


def test_csv_without_a_header_reads_the_design_s_column_order(api):
    line = "put,4900,2027-03-19,80,81,,5,10"
    response = upload_csv(api, line, "underlying=ES")
    assert response.status_code == 201, response.get_json()
    contract = response.get_json()["contracts"][0]
    assert contract | {"id": 0} == {"id": 0, "type": "put", "strike": "4900",
                                    "expiry": "2027-03-19", "bid": "80", "ask": "81",
                                    "last": None, "volume": 5, "open_interest": 10}  # fmt: skip
    # No call to pair with and no underlying price: figures are null, the rest still answers.
    analytics = api.get(f"/api/options/chains/{response.get_json()['id']}/analytics").get_json()
    assert analytics["underlying_price"] is None and analytics["contracts"][0]["iv"] is None
    assert analytics["surface"]["iv"] == [[None]] and analytics["put_call_oi_ratio"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"underlying": ""}, "underlying"),
        ({"as_of": "soon"}, "as_of"),
        ({"as_of": "0001-01-01T00:00:00+14:00"}, "as_of"),  # before year 1 in UTC
        ({"contracts": [{**chain_rows()[0], "expiry": "9999-12-31"}]}, "contracts[0].expiry"),
        ({"model": "sabr"}, "model"),
        ({"contracts": []}, "contracts"),
        ({"contracts": "none"}, "contracts"),
        ({"contracts": [{"type": "call", "strike": "5000"}]}, "contracts[0].expiry"),
        ({"contracts": [*chain_rows()[:2], {**chain_rows()[0], "strike": "x"}]},
         "contracts[2].strike"),
        ({"contracts": [{**chain_rows()[0], "expiry": "2026-12-01"}]}, "contracts[0].expiry"),
        # As strict as every other body: unknown fields, and values of the wrong JSON type.
        ({"extra": 1}, "extra"),
        ({"contracts": [*chain_rows()[:3], {**chain_rows()[3], "foo": 1}]}, "contracts[3].foo"),
        ({"contracts": [{**chain_rows()[0], "volume": "12"}]}, "contracts[0].volume"),
        ({"contracts": [{**chain_rows()[0], "open_interest": 12.0}]},
         "contracts[0].open_interest"),
        ({"contracts": [{**chain_rows()[0], "volume": True}]}, "contracts[0].volume"),
        ({"contracts": [{**chain_rows()[0], "strike": True}]}, "contracts[0].strike"),
        ({"contracts": [{**chain_rows()[0], "bid": ["1"]}]}, "contracts[0].bid"),
        ({"contracts": [{**chain_rows()[0], "type": 1}]}, "contracts[0].type"),
        ({"underlying": 123}, "underlying"),
        ({"as_of": 20261204}, "as_of"),
        ({"rate": {"value": "0.04"}}, "rate"),
    ],
)  # fmt: skip
def test_a_bad_chain_is_refused_naming_the_row_and_keeps_nothing(api, change, field):
    body = {"underlying": "ES", "as_of": AS_OF, "contracts": chain_rows()} | change
    response = api.post("/api/options/chains", body)
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert api.get("/api/options/chains").get_json()["items"] == []


def test_json_prices_may_be_numbers_and_optional_fields_null(api):
    row = {
        "type": "C",
        "strike": 5000,
        "expiry": "2027-03-19",
        "bid": 120.5,
        "ask": "121",
        "last": None,
        "volume": None,
        "open_interest": 340,
    }
    body = {"underlying": "ES", "as_of": AS_OF, "model": None, "rate": 0.04,
            "underlying_price": 5000.25, "contracts": [row]}  # fmt: skip
    response = api.post("/api/options/chains", body)
    assert response.status_code == 201, response.get_json()
    chain = response.get_json()
    assert chain["rate"] == "0.04" and chain["underlying_price"] == "5000.25"
    assert chain["model"] == "black76"
    assert chain["contracts"][0] | {"id": 0} == {"id": 0, "type": "call", "strike": "5000",
                                                 "expiry": "2027-03-19", "bid": "120.5",
                                                 "ask": "121", "last": None, "volume": 0,
                                                 "open_interest": 340}  # fmt: skip


def test_a_json_chain_with_a_query_parameter_is_refused(api):
    """A JSON chain's fields travel in its body: a query parameter would be ignored."""
    body = {"underlying": "ES", "as_of": AS_OF, "contracts": chain_rows()}
    response = api.client.post("/api/options/chains?rate=0.04", json=body, headers=api.headers)
    assert response.status_code == 400, response.get_json()
    assert "rate" in response.get_json()["error"]["fields"]
    assert api.get("/api/options/chains").get_json()["items"] == []


def test_an_unknown_chain_is_404(api):
    response = api.get("/api/options/chains/999/analytics")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_the_calls_are_in_the_openapi_document(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert "post" in paths["/api/options/greeks"]
    assert "post" in paths["/api/options/implied-volatility"]
    upload = paths["/api/options/chains"]["post"]
    assert {"text/csv", "application/json"} <= set(upload["requestBody"]["content"])
    assert {p["name"] for p in upload["parameters"]} >= {"underlying", "as_of", "rate"}
    assert "get" in paths["/api/options/chains/{chain_id}/analytics"]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("type,strike,expiry\ncall,5000,2027-03-19\nput,five,2027-03-19", "contracts[1].strike"),
        ("type,strike,expiry,delta\ncall,5000,2027-03-19", "contracts"),  # unknown column
        ("", "contracts"),
        ("type,strike,expiry\ncall,5000,2027-03-19\nput,5000,2027-03-19,81", "contracts[1]"),
        ("type,strike,expiry\rcall,5000,2027-03-19\rput,x,2027-03-19", "contracts[1].strike"),
        ("call," + "9" * 200_000 + ",2027-03-19", "contracts"),  # beyond csv's field limit
    ],
)
def test_a_bad_csv_is_refused_naming_the_row(api, text, field):
    response = upload_csv(api, text, "underlying=ES")
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["fields"]


def test_a_csv_header_naming_a_column_twice_is_refused_naming_it(api):
    text = "type,strike,expiry,volume,volume\ncall,5000,2027-03-19,1,2"
    response = upload_csv(api, text, "underlying=ES")
    assert response.status_code == 400, response.get_json()
    assert "volume" in response.get_json()["error"]["fields"]["contracts"]
    # Blank cells past the last column (a spreadsheet's trailing commas) are no column.
    response = upload_csv(api, "type,strike,expiry\ncall,5000,2027-03-19,,", "underlying=ES")
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize(
    ("query", "field"),
    [("underlying=ES&ratee=0.04", "ratee"), ("underlying=ES&rate=0.04&rate=0.05", "rate")],
)
def test_an_unknown_or_repeated_query_parameter_refuses_a_csv_chain(api, query, field):
    response = upload_csv(api, "call,5000,2027-03-19", query)
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert api.get("/api/options/chains").get_json()["items"] == []
