"""Every API refusal is a 4xx JSON error; nothing malformed reaches a 5xx."""

import pytest

WRITE_ROUTES = [
    ("POST", "/api/accounts"),
    ("PUT", "/api/accounts/{account}"),
    ("PUT", "/api/risk/{account}"),
    ("POST", "/api/strategies"),
    ("PUT", "/api/strategies/{strategy}"),
    ("POST", "/api/traders"),
    ("PUT", "/api/traders/{trader}"),
    ("PUT", "/api/settings"),
    ("POST", "/api/settings/password"),
    ("POST", "/api/orders"),
    ("POST", "/api/accounts/{account}/halt"),
    ("DELETE", "/api/accounts/{account}/halt"),
]

BAD_BODIES = [
    b"not json at all",
    b"[1, 2, 3]",
    b'"a string"',
    b"null",
    b"{",
    b'{"name": ' + b'"x"' * 3 + b"}",
    '{"name": "\udcff"}'.encode("utf-8", "surrogatepass"),
    b"\xff\xfe\x00garbage",
]


@pytest.fixture
def ids(api, make_account, make_strategy):
    account = make_account()
    strategy = make_strategy()
    trader = api.post(
        "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]}
    ).get_json()
    return {"account": account["id"], "strategy": strategy["id"], "trader": trader["id"]}


def assert_error_shape(response, status_range=range(400, 500)):
    assert response.status_code in status_range, (response.status_code, response.get_data())
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


@pytest.mark.parametrize(("method", "path"), WRITE_ROUTES)
@pytest.mark.parametrize("raw", BAD_BODIES)
def test_malformed_bodies_are_4xx_json(api, ids, method, path, raw):
    response = api.client.open(
        path.format(**ids),
        method=method,
        data=raw,
        headers={**api.headers, "Content-Type": "application/json"},
    )
    assert_error_shape(response)


@pytest.mark.parametrize(("method", "path"), WRITE_ROUTES)
def test_wrong_types_everywhere_are_400(api, ids, method, path):
    body = {
        "name": ["list"],
        "broker": 3,
        "quantity": {},
        "strategy_id": "1",
        "account_id": None,
        "max_position": "many",
        "timezone": 5,
        "current_password": 1,
        "new_password": [],
    }
    response = api.call(method, path.format(**ids), body)
    assert_error_shape(response)
    assert response.status_code == 400


@pytest.mark.parametrize(("method", "path"), WRITE_ROUTES)
def test_oversized_strings_are_400(api, ids, method, path):
    huge = "x" * 5000
    body = {
        "name": huge,
        "broker": "paper",
        "description": huge,
        "timezone": huge,
        "current_password": huge,
        "new_password": huge,
        "strategy_id": ids["strategy"],
        "account_id": ids["account"],
        "trading_window": {"start": huge, "end": huge},
    }
    assert_error_shape(api.call(method, path.format(**ids), body))


def test_body_over_the_size_cap_is_413(api):
    response = api.client.post(
        "/api/accounts",
        data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={**api.headers, "Content-Type": "application/json"},
    )
    assert_error_shape(response)
    assert response.status_code == 413


def test_unknown_api_route_is_json_404(api):
    response = api.get("/api/does-not-exist")
    assert_error_shape(response)
    assert response.status_code == 404


def test_wrong_method_is_json_405(api):
    response = api.call("PATCH", "/api/accounts")
    assert_error_shape(response)
    assert response.status_code == 405


@pytest.mark.parametrize(
    "path",
    ["/api/accounts/abc", "/api/accounts/-1", "/api/risk/1.5", "/api/traders/99999999999999999999"],
)
def test_non_numeric_ids_are_404(api, path):
    assert_error_shape(api.get(path))
