"""Tickers from article text: names, cash-tags and roots as whole upper-case words, and
none from words that merely contain a root."""

import pytest

from app.domain.tickers import find_tickers


@pytest.mark.parametrize(
    ("text", "roots"),
    [
        ("S&P 500 futures climb as yields ease", ["ES", "MES"]),
        ("The S&P slipped in late trade", ["ES", "MES"]),
        ("Nasdaq-100 leads tech rebound", ["NQ", "MNQ"]),
        ("Dow Jones sheds 300 points", ["YM", "MYM"]),
        ("Russell 2000 small caps rally", ["RTY", "M2K"]),
        ("Crude jumps after OPEC cut", ["CL", "MCL"]),
        ("Oil prices steady", ["CL", "MCL"]),
        ("Gold hits a record", ["GC", "MGC"]),
        ("Natural gas futures sink on mild weather", ["NG"]),
        ("10-year Treasury yield rises", ["ZN"]),
        ("Euro weakens against the dollar", ["6E"]),
        ("Traders pile into $ES and $cl ahead of CPI", ["ES", "CL"]),
        ("Long /GC into the close", ["GC"]),
        ("$MES1! and $MNQZ6 both bid", ["MES", "MNQ"]),
        ("Bought ES at the open, sold NQ", ["ES", "NQ"]),
        ("ES1! BREAKS OUT", ["ES"]),
        ("MESZ6 volume doubles", ["MES"]),
    ],
)
def test_names_tags_and_roots_are_found(text, roots):
    assert find_tickers(text) == roots


@pytest.mark.parametrize(
    "text",
    [
        "yes, the Fed will hold",  # "es" inside a word
        "Yes: markets are open",
        "SERIES OF RATE CUTS",  # ES inside an upper-case word
        "Es ist ein Markt",  # Es capitalised is no root
        "The GCX index and the GCC summit",  # GC inside words
        "Goldman Sachs upgrades banks",  # gold inside a word
        "Golden Week holiday in Japan",
        "Oilers win again",  # oil inside a word
        "CLOSE OF TRADING: YES ES IS UP",  # all capitals: bare roots are no evidence
        "A cycle of euros and soybeanery",  # names inside longer words
        "$AAPL and $TSLA gain",  # cash-tags of stocks we do not trade
        "email@ES.com and https://example.com/ES",
    ],
)
def test_words_containing_a_root_or_name_are_not_tickers(text):
    assert find_tickers(text) == []


def test_title_and_summary_together_in_table_order_each_once():
    assert find_tickers("Gold and oil", "S&P 500 and $GC") == [
        "ES",
        "MES",
        "CL",
        "MCL",
        "GC",
        "MGC",
    ]


def test_nothing_from_no_text():
    assert find_tickers(None, "") == []
