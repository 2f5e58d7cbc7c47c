"""Generated requests against POST /webhook/<token>: whatever arrives, the answer is never
a 5xx (TradingView resends those), every refusal is the JSON error shape, a refused alert
places no order, and nothing gets past a signature or a token it does not have."""

import hashlib
import hmac
import json
import logging
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.extensions import db
from app.models import Order
from app.routes.webhooks import MAX_BODY_BYTES

PASSPHRASE = "open sesame"
FIELDS = (
    "action side data symbol ticker quantity qty contracts order_type price take_profit tp "
    "takeProfit stop_loss sl stopLoss trailing_stop break_even market_position sentiment "
    "position_size id time timenow date confidence passphrase"
).split()
OFFSETS = "ticks points percent price percent_of_position trigger offset activation".split()
WORDS = [
    *"buy sell exit reverse cancel long short flat MES1! MESZ6 CME_MINI:MES1! NQ1!".split(),
    *"market limit stop first_target 1 0 -1 1.5 5000 1e9 NaN 2026-12-04T16:00:00Z".split(),
    PASSPHRASE,
    "",
]
CONTENT_TYPES = [
    "application/json",
    "text/plain",
    "text/plain; charset=utf-8",
    "application/json; charset=latin-1",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "",
    "*/*; q=ü",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(WORDS)
    | st.text(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS + OFFSETS), inner, max_size=4)
    ),
    max_leaves=8,
)
# Alerts a trader could really send (so the deep paths run), with a stray field at times.
offsets = st.one_of(
    st.fixed_dictionaries({"ticks": st.integers(1, 40)}),
    st.fixed_dictionaries({"points": st.integers(1, 8)}),
)
sound_alerts = st.fixed_dictionaries(
    {
        "action": st.sampled_from(["buy", "sell", "exit", "reverse", "cancel"]),
        "id": st.uuids().map(str),
        "price": st.sampled_from(["5000", "5000.25", "4999.75"]),
    },
    optional={
        "symbol": st.sampled_from(["MES1!", "CME_MINI:MES1!", "MES", "MNQ1!", "ES1!"]),
        "quantity": st.integers(1, 3),
        "order_type": st.sampled_from(["market", "limit", "stop"]),
        "take_profit": offsets,
        "stop_loss": offsets,
        "trailing_stop": st.fixed_dictionaries({"ticks": st.integers(1, 20)}),
        "passphrase": st.sampled_from([PASSPHRASE, "wrong"]),
        "confidence": st.integers(0, 100),
        "note": values,
    },
)
plain_texts = st.builds(
    "{} ({}, {}): order {} @ {} filled on {}. New strategy position is {}".format,
    st.text(max_size=8),
    st.integers(),
    st.integers(),
    st.sampled_from(WORDS),
    st.sampled_from(WORDS),
    st.sampled_from(WORDS),
    st.sampled_from(WORDS),
)
bodies = st.one_of(
    sound_alerts.map(lambda a: json.dumps(a).encode()),
    sound_alerts.map(lambda a: json.dumps(a).encode()),
    st.dictionaries(st.sampled_from(FIELDS), values, max_size=8).map(
        lambda a: json.dumps(a).encode()
    ),
    plain_texts.map(str.encode),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"",
            b"{",
            b"[]",
            b"null",
            b"\xef\xbb\xbf{}",
            b'"\\ud800"',
            b'{"action": "buy", "passphrase": "\\ud800"}',
        ]
    ),
    st.integers(MAX_BODY_BYTES - 2, MAX_BODY_BYTES + 2).map(lambda n: b"x" * n),
)
# Header values as a server hands them over: bytes read as Latin-1, so UTF-8 shows mangled.
header_texts = st.text(
    st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)), max_size=100
).map(lambda t: t.encode("utf-8").decode("latin-1"))
# Path segments: a "/" would make another address (routing's business, not the webhook's).
tokens = st.one_of(
    st.just("open"),
    st.just("open"),
    st.just("locked"),
    st.just("unknown"),
    st.text(
        st.characters(blacklist_characters="/", blacklist_categories=("Cs",)),
        min_size=1,
        max_size=300,
    ),
)
signatures = st.one_of(
    st.just("valid"),
    st.just("valid"),
    st.sampled_from(["none", "valid-other-body"]),
    header_texts,
    st.integers(0, 100_000).map(lambda n: "sha256=" + "f" * n),
)


def sign(secret: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


@pytest.fixture
def door(app, api, make_account, make_strategy):
    """Two strategies on one paper account: an open one, and one both signed and with a
    passphrase."""
    account = make_account("Paper", starting_balance="100000.00")
    open_ = make_strategy("Open", symbol="MES1!")
    locked = make_strategy("Locked", symbol="MES1!", passphrase=PASSPHRASE)
    secret = api.post(f"/api/strategies/{locked['id']}/signing-secret").get_json()["signing_secret"]
    for strategy in (open_, locked):
        api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    return {"open": open_["webhook_token"], "locked": locked["webhook_token"], "secret": secret}


def _orders(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Order))


@settings(
    max_examples=1500,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    token=tokens,
    raw=bodies,
    content_type=st.sampled_from(CONTENT_TYPES) | header_texts,
    signature=signatures,
    repeat_header=st.sampled_from([0, 0, 0, 20_000]),
)
@example(  # a lone surrogate in the passphrase once made the compare raise
    token="locked",
    raw=b'{"action": "buy", "passphrase": "\\ud800"}',
    content_type="application/json",
    signature="valid",
    repeat_header=0,
)
def test_webhook_never_fails_and_refuses_in_shape(
    app, client, door, caplog, token, raw, content_type, signature, repeat_header
):
    caplog.clear()
    path_token = door.get(token, token) if token != "unknown" else "x" * 32
    headers = {"Content-Type": content_type, "X-Junk": "j" * repeat_header}
    if signature == "valid":
        headers["X-Signature"] = sign(door["secret"], raw)
    elif signature == "valid-other-body":
        headers["X-Signature"] = sign(door["secret"], raw + b"\n")
    elif signature != "none":
        headers["X-Signature"] = signature
    before = _orders(app)
    response = client.post(f"/webhook/{quote(path_token, safe='')}", data=raw, headers=headers)

    answer = response.get_json(silent=True)
    event(f"{response.status_code} {_outcome(answer)}")
    assert response.status_code < 500
    assert isinstance(answer, dict), response.get_data()[:200]
    if response.status_code != 200:
        assert set(answer) == {"error"}
        error = answer["error"]
        assert set(error) == {"code", "message", "fields"}
        assert isinstance(error["code"], str) and isinstance(error["message"], str)
        assert isinstance(error["fields"], dict)
        assert _orders(app) == before, "a refused alert placed an order"
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not problems, problems[0].getMessage()

    readable = len(raw) <= MAX_BODY_BYTES and _is_utf8(raw)
    if readable and token not in ("open", "locked"):
        assert response.status_code == 401  # no such token (none is guessed)
    if readable and token == "locked" and signature != "valid":
        assert response.status_code == 401


def _outcome(answer) -> str:
    """What the run's statistics count (pytest --hypothesis-show-statistics)."""
    if not isinstance(answer, dict):
        return "not JSON"
    return answer.get("status") or answer.get("error", {}).get("code", "?")


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
