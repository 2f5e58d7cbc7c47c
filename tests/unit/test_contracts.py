"""CME contract specs, the roll calendar, symbol resolution and tick arithmetic."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.contracts import (
    MONTH_CODES,
    SPECS,
    Contract,
    ContractSpec,
    TickRounding,
    UnknownSymbol,
    front_month,
    is_on_tick,
    pnl,
    resolve_symbol,
    round_to_tick,
    spec_for,
    ticks_between,
    ticks_to_points,
)
from app.domain.errors import DomainValidationError

ON = date(2026, 11, 21)  # a Saturday; MESZ6 is the front month
FAST = settings(max_examples=300, deadline=None)


# --- specs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("root", "exchange", "tick", "tick_value", "point_value", "cycle"),
    [
        ("ES", "CME_MINI", "0.25", "12.50", "50", "HMUZ"),
        ("MES", "CME_MINI", "0.25", "1.25", "5", "HMUZ"),
        ("NQ", "CME_MINI", "0.25", "5.00", "20", "HMUZ"),
        ("MNQ", "CME_MINI", "0.25", "0.50", "2", "HMUZ"),
        ("YM", "CBOT_MINI", "1", "5", "5", "HMUZ"),
        ("MYM", "CBOT_MINI", "1", "0.50", "0.5", "HMUZ"),
        ("RTY", "CME_MINI", "0.10", "5.00", "50", "HMUZ"),
        ("M2K", "CME_MINI", "0.10", "0.50", "5", "HMUZ"),
        ("CL", "NYMEX", "0.01", "10", "1000", "FGHJKMNQUVXZ"),
        ("MCL", "NYMEX", "0.01", "1", "100", "FGHJKMNQUVXZ"),
        ("NG", "NYMEX", "0.001", "10", "10000", "FGHJKMNQUVXZ"),
        ("GC", "COMEX", "0.10", "10", "100", "GJMQVZ"),
        ("MGC", "COMEX", "0.10", "1", "10", "GJMQVZ"),
        ("SI", "COMEX", "0.005", "25", "5000", "HKNUZ"),
        ("HG", "COMEX", "0.0005", "12.50", "25000", "HKNUZ"),
        ("ZB", "CBOT", "0.03125", "31.25", "1000", "HMUZ"),
        ("ZN", "CBOT", "0.015625", "15.625", "1000", "HMUZ"),
        ("ZF", "CBOT", "0.0078125", "7.8125", "1000", "HMUZ"),
        ("ZC", "CBOT", "0.25", "12.50", "50", "HKNUZ"),
        ("ZS", "CBOT", "0.25", "12.50", "50", "FHKNQUX"),
        ("ZW", "CBOT", "0.25", "12.50", "50", "HKNUZ"),
        ("6E", "CME", "0.00005", "6.25", "125000", "HMUZ"),
        ("6J", "CME", "0.0000005", "6.25", "12500000", "HMUZ"),
        ("6B", "CME", "0.0001", "6.25", "62500", "HMUZ"),
    ],
)
def test_spec_matches_the_exchange(root, exchange, tick, tick_value, point_value, cycle):
    spec = SPECS[root]
    assert spec.root == root
    assert spec.exchange == exchange
    assert spec.tick_size == Decimal(tick)
    assert spec.tick_value == Decimal(tick_value)
    assert spec.point_value == Decimal(point_value)
    assert spec.cycle == cycle
    assert spec.name


def test_table_holds_exactly_the_supported_products():
    assert set(SPECS) == {
        *("ES", "MES", "NQ", "MNQ", "YM", "MYM", "RTY", "M2K"),
        *("CL", "MCL", "NG", "GC", "MGC", "SI", "HG"),
        *("ZB", "ZN", "ZF", "ZC", "ZS", "ZW", "6E", "6J", "6B"),
    }


@pytest.mark.parametrize("spec", SPECS.values(), ids=lambda spec: spec.root)
def test_point_value_is_tick_value_per_tick(spec):
    assert spec.point_value == spec.tick_value / spec.tick_size


def test_the_spec_table_is_read_only():
    with pytest.raises(TypeError):
        SPECS["XX"] = SPECS["ES"]  # type: ignore[index]


def test_a_self_contradicting_spec_is_refused():
    rule = SPECS["ES"].rule
    with pytest.raises(ValueError, match="tick_value"):
        ContractSpec(
            "XX", "bad", "CME", Decimal("0.25"), Decimal("12"), Decimal("50"), "HMUZ", rule
        )
    with pytest.raises(ValueError, match="cycle"):
        ContractSpec("XX", "bad", "CME", Decimal("1"), Decimal("5"), Decimal("5"), "ZH", rule)


def test_spec_for_finds_a_root_and_refuses_others():
    assert spec_for(" mes ") is SPECS["MES"]
    with pytest.raises(UnknownSymbol) as caught:
        spec_for("AAPL")
    assert caught.value.field == "symbol"
    assert "AAPL" in caught.value.message


# --- maturities -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "last_trade", "roll"),
    [
        # Equity index: third Friday; roll 8 days earlier (Thursday).
        ("ESH6", date(2026, 3, 20), date(2026, 3, 12)),
        ("ESZ6", date(2026, 12, 18), date(2026, 12, 10)),
        ("MESH7", date(2027, 3, 19), date(2027, 3, 11)),
        ("NQU7", date(2027, 9, 17), date(2027, 9, 9)),
        # Crude: 3 business days before the 25th of the prior month (4 if the 25th is a
        # weekend day); these match NYMEX's published dates.
        ("CLK5", date(2025, 4, 22), date(2025, 4, 15)),
        ("CLN5", date(2025, 6, 20), date(2025, 6, 13)),
        ("CLQ5", date(2025, 7, 22), date(2025, 7, 15)),
        ("CLG6", date(2026, 1, 20), date(2026, 1, 13)),  # Jan 25 2026 is a Sunday
        ("MCLK5", date(2025, 4, 21), date(2025, 4, 14)),  # one business day before CL
        # Natural gas: 3 business days before the contract month begins.
        ("NGK5", date(2025, 4, 28), date(2025, 4, 21)),
        ("NGF7", date(2026, 12, 29), date(2026, 12, 22)),
        # Metals: third-last business day; roll 3 business days before first notice.
        ("GCZ6", date(2026, 12, 29), date(2026, 11, 25)),
        ("GCG7", date(2027, 2, 24), date(2027, 1, 26)),
        ("SIH7", date(2027, 3, 29), date(2027, 2, 23)),
        # Treasuries: ZB/ZN 7 business days before month end, ZF month end; roll a week
        # before first notice (last business day of the prior month).
        ("ZNH7", date(2027, 3, 22), date(2027, 2, 19)),
        ("ZBH7", date(2027, 3, 22), date(2027, 2, 19)),
        ("ZFH7", date(2027, 3, 31), date(2027, 2, 19)),
        # Grains: business day before the 15th; roll a week before first notice.
        ("ZCZ6", date(2026, 12, 14), date(2026, 11, 23)),
        ("ZCN6", date(2026, 7, 14), date(2026, 6, 23)),
        ("ZSF7", date(2027, 1, 14), date(2026, 12, 24)),
        # Currencies: 2 business days before the third Wednesday; roll a week before.
        ("6EZ6", date(2026, 12, 14), date(2026, 12, 7)),
        ("6JH7", date(2027, 3, 15), date(2027, 3, 8)),
    ],
)
def test_maturity_follows_the_product_rule(code, last_trade, roll):
    contract = resolve_symbol(code, date(2025, 1, 1))
    assert contract.maturity.last_trade == last_trade
    assert contract.maturity.roll == roll


@given(
    spec=st.sampled_from(list(SPECS.values())),
    year=st.integers(2000, 2098),
    month_index=st.integers(0, 11),
)
@FAST
def test_every_maturity_is_a_weekday_and_rolls_first(spec, year, month_index):
    month_code = spec.cycle[month_index % len(spec.cycle)]
    maturity = Contract(spec, month_code, year).maturity
    assert maturity.last_trade.weekday() < 5
    assert maturity.roll < maturity.last_trade
    # front_month() starts its search at the current month: no roll may fall later.
    month = MONTH_CODES.index(month_code) + 1
    assert maturity.roll < (date(year, month + 1, 1) if month < 12 else date(year + 1, 1, 1))


# --- front month ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("root", "on", "code"),
    [
        ("ES", date(2026, 11, 21), "ESZ6"),
        ("ES", date(2026, 12, 9), "ESZ6"),
        ("ES", date(2026, 12, 10), "ESH7"),  # roll day: volume is in March
        ("ES", date(2026, 12, 11), "ESH7"),
        ("ES", date(2026, 12, 31), "ESH7"),
        ("ES", date(2027, 3, 10), "ESH7"),
        ("ES", date(2027, 3, 11), "ESM7"),
        ("MNQ", date(2026, 1, 1), "MNQH6"),
        ("M2K", date(2026, 6, 11), "M2KU6"),
        ("CL", date(2026, 1, 12), "CLG6"),
        ("CL", date(2026, 1, 13), "CLH6"),
        ("CL", date(2026, 11, 12), "CLZ6"),
        ("CL", date(2026, 11, 13), "CLF7"),
        ("CL", date(2026, 11, 21), "CLF7"),
        ("CL", date(2026, 12, 15), "CLG7"),
        ("NG", date(2026, 12, 21), "NGF7"),
        ("NG", date(2026, 12, 22), "NGG7"),
        ("GC", date(2026, 11, 24), "GCZ6"),
        ("GC", date(2026, 11, 25), "GCG7"),
        ("GC", date(2026, 12, 1), "GCG7"),
        ("ZN", date(2026, 11, 20), "ZNZ6"),
        ("ZN", date(2026, 11, 23), "ZNH7"),
        ("ZB", date(2027, 2, 18), "ZBH7"),
        ("ZB", date(2027, 2, 19), "ZBM7"),
        ("ZS", date(2026, 11, 21), "ZSF7"),
        ("ZS", date(2026, 12, 23), "ZSF7"),
        ("ZS", date(2026, 12, 24), "ZSH7"),
        ("ZC", date(2026, 11, 21), "ZCZ6"),
        ("ZC", date(2026, 11, 23), "ZCH7"),
        ("6E", date(2026, 12, 4), "6EZ6"),
        ("6E", date(2026, 12, 7), "6EH7"),
    ],
)
def test_front_month_rolls_on_the_roll_date(root, on, code):
    assert front_month(SPECS[root], on).code == code


def test_december_rolls_into_next_years_march():
    contract = front_month(SPECS["ES"], date(2026, 12, 10))
    assert (contract.month_code, contract.year, contract.month) == ("H", 2027, 3)
    assert contract.long_code == "ESH2027"


def test_next_listed_walks_the_cycle_across_the_year():
    z6 = Contract(SPECS["ZS"], "X", 2026)
    assert z6.next_listed() == Contract(SPECS["ZS"], "F", 2027)
    assert Contract(SPECS["CL"], "Z", 2026).next_listed().code == "CLF7"
    assert Contract(SPECS["GC"], "Q", 2026).next_listed().code == "GCV6"


@given(
    spec=st.sampled_from(list(SPECS.values())), day=st.dates(date(2001, 1, 1), date(2097, 12, 31))
)
@FAST
def test_front_month_advances_one_contract_exactly_on_its_roll_date(spec, day):
    today = front_month(spec, day)
    yesterday = front_month(spec, day - timedelta(days=1))
    assert not today.is_expired(day)
    assert today.maturity.roll > day
    if yesterday != today:
        assert yesterday.next_listed() == today
        assert yesterday.maturity.roll == day


# --- resolving symbols ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("MES1!", "MESZ6"),
        ("mes1!", "MESZ6"),
        ("  MES1!\n", "MESZ6"),
        ("MES2!", "MESH7"),
        ("CME_MINI:MES1!", "MESZ6"),
        ("cme_mini:mes2!", "MESH7"),
        ("CME_MINI_DL:MES1!", "MESZ6"),
        ("MES", "MESZ6"),
        ("MESZ2026", "MESZ6"),
        ("MESZ26", "MESZ6"),
        ("MESZ6", "MESZ6"),
        ("mesz6", "MESZ6"),
        ("CME_MINI:MESH2027", "MESH7"),
        ("6EZ6", "6EZ6"),
        ("6E1!", "6EZ6"),
        ("CME:6E2!", "6EH7"),
        ("6JH2027", "6JH7"),
        ("M2KZ6", "M2KZ6"),
        ("M2K1!", "M2KZ6"),
        ("CBOT_MINI:YM1!", "YMZ6"),
        ("CBOT:ZN1!", "ZNZ6"),
        ("NYMEX:CL1!", "CLF7"),
        ("NYMEX:CL2!", "CLG7"),
        ("COMEX:GC1!", "GCZ6"),
        ("COMEX_DL:MGC1!", "MGCZ6"),
        ("ZSF2027", "ZSF7"),
    ],
)
def test_every_accepted_symbol_form(text, code):
    assert resolve_symbol(text, ON).code == code


def test_contract_names_in_both_forms():
    contract = resolve_symbol("MESZ2026", ON)
    assert contract.code == str(contract) == "MESZ6"
    assert contract.long_code == "MESZ2026"
    assert contract.spec is SPECS["MES"]


@pytest.mark.parametrize(
    ("text", "on", "year"),
    [
        ("MESZ6", date(2026, 11, 21), 2026),
        ("MESH7", date(2026, 11, 21), 2027),
        ("MESH6", date(2026, 11, 21), 2026),  # expired in March, still that contract
        ("MESZ9", date(2026, 11, 21), 2029),
        ("MESZ3", date(2026, 11, 21), 2023),
        ("MESZ2", date(2026, 11, 21), 2032),
        ("ESH0", date(2029, 6, 1), 2030),
        ("ESZ9", date(2030, 1, 5), 2029),
    ],
)
def test_one_digit_year_is_the_nearby_decade(text, on, year):
    assert resolve_symbol(text, on).year == year


def test_an_explicit_expired_contract_resolves_and_says_so():
    contract = resolve_symbol("MESH6", ON)
    assert contract.is_expired(ON)
    esz6 = resolve_symbol("ESZ6", ON)
    assert not esz6.is_expired(date(2026, 12, 18))
    assert esz6.is_expired(date(2026, 12, 19))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "AAPL",
        "BTCUSD",
        "MES3!",
        "MES0!",
        "MES1",
        "MES!",
        "MES1!!",
        "ESZ",
        "ESZ202",
        "ESZ1999",
        "ESZ2100",
        "ESA6",
        "MESZ6X",
        "ES Z6",
        "CME_MINI:",
        ":MES1!",
        "CME_MINI::MES1!",
        "CME MINI:MES1!",
        "MES1!" + " " * 50 + "x",
        "X" * 500,
        "{{ticker}}",
        "ＭＥＳ1!",
        "MES١!",
    ],
)
def test_garbage_is_an_unknown_symbol(text):
    with pytest.raises(UnknownSymbol) as caught:
        resolve_symbol(text, ON)
    assert caught.value.field == "symbol"
    assert isinstance(caught.value, DomainValidationError)
    assert repr(text.strip()[:10])[1:-1] in caught.value.message
    assert len(caught.value.message) < 160


def test_a_month_outside_the_cycle_names_the_cycle():
    with pytest.raises(UnknownSymbol, match="HMUZ") as caught:
        resolve_symbol("ESF6", ON)
    assert "ESF6" in caught.value.message
    with pytest.raises(UnknownSymbol, match="GJMQVZ"):
        resolve_symbol("GCH7", ON)
    with pytest.raises(UnknownSymbol, match="FHKNQUX"):
        resolve_symbol("ZSZ6", ON)


@pytest.mark.parametrize("text", ["NYMEX:ES1!", "CME:MES1!", "CBOT:YM1!", "CME_MINI:CL1!"])
def test_a_prefix_naming_another_exchange_is_refused(text):
    with pytest.raises(UnknownSymbol, match="trades on"):
        resolve_symbol(text, ON)


_FRAGMENTS = st.sampled_from(
    ["", "!", "1!", "2!", "3!", ":", "_DL:", "CME_MINI:", "Z", "H", "F", "6", "26", "2026", " "]
)


@given(st.text(max_size=60))
@FAST
def test_any_text_resolves_or_is_an_unknown_symbol(text):
    try:
        contract = resolve_symbol(text, ON)
    except UnknownSymbol:
        return
    assert contract.month_code in contract.spec.cycle


@given(
    prefix=_FRAGMENTS,
    root=st.sampled_from(list(SPECS)),
    suffix=st.lists(_FRAGMENTS, max_size=3).map("".join),
    on=st.dates(date(2001, 1, 1), date(2097, 12, 31)),
)
@FAST
def test_near_miss_symbols_resolve_or_are_unknown(prefix, root, suffix, on):
    try:
        contract = resolve_symbol(prefix + root + suffix, on)
    except UnknownSymbol:
        return
    assert contract.spec.root == root
    assert contract.month_code in MONTH_CODES


# --- ticks and P&L ----------------------------------------------------------------------

QUARTER = Decimal("0.25")


@pytest.mark.parametrize(
    ("price", "tick", "mode", "expected"),
    [
        ("5000.10", QUARTER, TickRounding.NEAREST, "5000.00"),
        ("5000.125", QUARTER, TickRounding.NEAREST, "5000.25"),  # half away from zero
        ("-0.125", QUARTER, TickRounding.NEAREST, "-0.25"),
        ("5000.13", QUARTER, TickRounding.NEAREST, "5000.25"),
        ("5000.01", QUARTER, TickRounding.UP, "5000.25"),
        ("5000.24", QUARTER, TickRounding.DOWN, "5000.00"),
        ("-5000.01", QUARTER, TickRounding.UP, "-5000.00"),
        ("-5000.01", QUARTER, TickRounding.DOWN, "-5000.25"),
        ("5000.25", QUARTER, TickRounding.UP, "5000.25"),
        ("117.17", Decimal("0.03125"), TickRounding.NEAREST, "117.15625"),
        ("110.5079", Decimal("0.015625"), TickRounding.NEAREST, "110.515625"),
        ("0.0066123", Decimal("0.0000005"), TickRounding.NEAREST, "0.0066125"),
        ("0.0066123", Decimal("0.0000005"), TickRounding.DOWN, "0.0066120"),
        ("70.555", Decimal("0.01"), TickRounding.NEAREST, "70.56"),
        ("2050.04", Decimal("0.1"), TickRounding.UP, "2050.1"),
    ],
)
def test_round_to_tick(price, tick, mode, expected):
    assert round_to_tick(Decimal(price), tick, mode) == Decimal(expected)


def test_round_to_tick_defaults_to_nearest():
    assert round_to_tick(Decimal("5000.12"), QUARTER) == Decimal("5000.00")


@pytest.mark.parametrize(
    ("price", "tick", "on_grid"),
    [
        ("5000.25", QUARTER, True),
        ("5000.3", QUARTER, False),
        ("0", QUARTER, True),
        ("-12.75", QUARTER, True),
        ("117.15625", Decimal("0.03125"), True),
        ("117.1", Decimal("0.03125"), False),
        ("0.0066125", Decimal("0.0000005"), True),
        ("0.00661251", Decimal("0.0000005"), False),
    ],
)
def test_is_on_tick(price, tick, on_grid):
    assert is_on_tick(Decimal(price), tick) is on_grid


@pytest.mark.parametrize(
    ("start", "end", "tick", "ticks"),
    [
        ("5000", "5004", QUARTER, 16),
        ("5004", "5000", QUARTER, -16),
        ("5000", "5000", QUARTER, 0),
        ("5000", "5000.3", QUARTER, 1),  # a partial tick is not a tick
        ("5000", "4999.7", QUARTER, -1),
        ("5000", "5000.2", QUARTER, 0),
        ("110", "110.5", Decimal("0.015625"), 32),
    ],
)
def test_ticks_between_is_signed_and_truncated(start, end, tick, ticks):
    assert ticks_between(Decimal(start), Decimal(end), tick) == ticks


def test_ticks_to_points():
    assert ticks_to_points(16, QUARTER) == Decimal("4.00")
    assert ticks_to_points(2, SPECS["ZN"].tick_size) == Decimal("0.03125")
    assert ticks_to_points(Decimal(-3), SPECS["CL"].tick_size) == Decimal("-0.03")


@pytest.mark.parametrize("tick", [Decimal(0), Decimal("-0.25")])
def test_a_tick_must_be_positive(tick):
    with pytest.raises(ValueError, match="tick"):
        round_to_tick(Decimal(5000), tick)
    with pytest.raises(ValueError, match="tick"):
        is_on_tick(Decimal(5000), tick)


@pytest.mark.parametrize(
    ("root", "quantity", "entry", "exit_", "expected"),
    [
        ("ES", 2, "5000", "5004.25", "425.00"),
        ("MES", -3, "5000", "5010", "-150"),
        ("NQ", 1, "21000", "21000.25", "5.00"),
        ("MNQ", 4, "21000", "20990", "-80"),
        ("ZN", 1, "110", "110.015625", "15.625"),
        ("ZB", -1, "117", "116.96875", "31.25"),
        ("CL", 1, "70.00", "70.50", "500"),
        ("GC", 2, "2050.0", "2049.9", "-20"),
        ("6J", 1, "0.0066120", "0.0066125", "6.25"),
        ("ZC", 1, "450.25", "451", "37.50"),
        ("ES", 0, "5000", "6000", "0"),
    ],
)
def test_pnl_is_exact_money(root, quantity, entry, exit_, expected):
    result = pnl(SPECS[root], quantity, Decimal(entry), Decimal(exit_))
    assert isinstance(result, Decimal)
    assert result == Decimal(expected)


@given(
    spec=st.sampled_from(list(SPECS.values())),
    price=st.decimals(min_value=-(10**9), max_value=10**9, places=9, allow_nan=False),
    mode=st.sampled_from(list(TickRounding)),
)
@FAST
def test_round_to_tick_always_lands_on_the_grid(spec, price, mode):
    tick = spec.tick_size
    rounded = round_to_tick(price, tick, mode)
    assert is_on_tick(rounded, tick)
    assert abs(rounded - price) <= (tick / 2 if mode is TickRounding.NEAREST else tick)
    if mode is TickRounding.UP:
        assert rounded >= price
    if mode is TickRounding.DOWN:
        assert rounded <= price
    assert round_to_tick(rounded, tick, mode) == rounded


@given(
    spec=st.sampled_from(list(SPECS.values())),
    start=st.integers(-(10**9), 10**9),
    end=st.integers(-(10**9), 10**9),
)
@FAST
def test_ticks_between_inverts_ticks_to_points_on_the_grid(spec, start, end):
    tick = spec.tick_size
    start_price, end_price = start * tick, end * tick
    ticks = ticks_between(start_price, end_price, tick)
    assert ticks == end - start
    assert start_price + ticks_to_points(ticks, tick) == end_price
