"""One fill path: the same story on the paper venue and on Tradovate leaves the same rows
and tells the same events (DESIGN §4 "One fill path").

The story: a bracketed entry of two contracts from an alert, its take profit filled one
contract at a time (the venues fill a resting limit one contract per print here) and its
stop cut to what is left, the stop hit (the rest of the take profit cancelled), a new
entry, then the kill switch. Prices move at both venues alike — the paper venue hears
them through the price cache, the fake Tradovate exchange through `set_price` — and the
Tradovate account is mirrored by the position poller, as in production. Everything but
the brokers' own ids and the times must agree.
"""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Fill, Order, Position, Trade
from app.services.market import prices
from app.services.records import events
from app.workers.position_poller import poll_accounts
from tests.conftest import TRADOVATE_CREDENTIALS, front

COMMISSION = Decimal("0.62")  # per contract per fill, at both venues


class Story:
    """One account, one strategy routed to it, and the prices of both venues."""

    def __init__(self, app, api, account, strategy, fake=None) -> None:
        self.app, self.api, self.account, self.strategy = app, api, account, strategy
        self.fake = fake
        self.symbol = front()
        self.heard: list[tuple[str, dict]] = []
        self.steps: list[int] = []  # where each step of the story begins in `heard`
        api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})

    def step(self) -> None:
        self.steps.append(len(self.heard))

    def price(self, value: str) -> None:
        self.step()
        if self.fake is not None:
            self.fake.set_price(self.symbol, value)
        prices.update(self.symbol, Decimal(value), datetime.now(UTC), "test")
        self.poll()

    def poll(self) -> None:
        if self.fake is not None:
            with self.app.app_context():
                assert poll_accounts(self.app, datetime.now(UTC)) == {}

    def alert(self, payload: dict) -> dict:
        self.step()
        response = self.api.client.post(
            f"/webhook/{self.strategy['webhook_token']}",
            data=json.dumps({"symbol": "MES1!", **payload}),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.get_json()
        self.poll()
        return response.get_json()

    def kill(self) -> None:
        self.step()
        assert self.api.post("/api/kill-switch").status_code == 200
        self.poll()

    def listen(self, name: str, payload: dict) -> None:
        if name in ("order", "fill", "position", "trade"):
            self.heard.append((name, payload))

    def play(self) -> None:
        events.subscribe("*", self.listen)
        try:
            self.price("6000")
            self.alert(
                {
                    "action": "buy",
                    "quantity": 2,
                    "take_profit": {"ticks": 8},
                    "stop_loss": {"ticks": 8},
                }
            )
            self.price("6002")  # the take profit: 1 of its 2 contracts fills
            self.price("5999")
            self.price("5998")  # the stop: 8 ticks under the entry, cut to 1 contract
            self.alert({"action": "buy", "quantity": 1})
            self.price("6001")
            self.kill()
        finally:
            events.unsubscribe("*", self.listen)
            self.api.delete("/api/kill-switch")  # re-armed for the next story

    def rows(self) -> dict:
        """The ledger of the account, without ids, broker ids or times."""
        account_id = self.account["id"]
        with self.app.app_context():
            orders = db.session.scalars(
                select(Order).where(Order.account_id == account_id).order_by(Order.id)
            )
            fills = db.session.scalars(
                select(Fill).where(Fill.account_id == account_id).order_by(Fill.id)
            )
            positions = db.session.scalars(
                select(Position).where(Position.account_id == account_id)
            )
            trades = db.session.scalars(
                select(Trade).where(Trade.account_id == account_id).order_by(Trade.id)
            )
            return {
                "orders": [
                    (
                        str(o.role),
                        str(o.side),
                        o.quantity,
                        str(o.order_type),
                        o.limit_price,
                        o.stop_price,
                        str(o.status),
                        o.filled_quantity,
                        o.avg_fill_price,
                    )
                    for o in orders
                ],
                "fills": [(str(f.side), f.quantity, f.price, f.commission) for f in fills],
                "positions": [
                    (p.symbol, p.quantity, p.avg_price, p.realized_pnl) for p in positions
                ],
                "trades": [
                    (
                        str(t.side),
                        t.quantity,
                        t.entry_price,
                        t.exit_price,
                        t.gross_pnl,
                        t.commission,
                        t.pnl,
                        str(t.exit_reason),
                    )
                    for t in trades
                ],
            }

    def told(self) -> list[frozenset]:
        """What subscribers heard, step by step, as a trader reads it: each fill, each
        order's settled state, each position change and each closed trade.

        Steps follow each other in the same order at both venues; within one step the
        paper venue reports a fill and its order's status in one breath while Tradovate's
        answer says `filled` before the poller reads the fill, so a step is compared as a
        set, not a sequence."""
        bounds = [*self.steps, len(self.heard)]
        return [
            frozenset(self._readable(self.heard[start:end]))
            for start, end in zip(bounds, bounds[1:], strict=False)
        ]

    @staticmethod
    def _readable(heard: list[tuple[str, dict]]) -> list[tuple]:
        seen: list[tuple] = []
        for name, payload in heard:
            if name == "fill":
                item = ("fill", payload["side"], payload["qty"], payload["price"])
            elif name == "order":
                if payload["status"] not in ("filled", "cancelled", "rejected", "failed"):
                    continue
                item = ("order", payload["role"], payload["side"], payload["status"])
            elif name == "position":
                item = ("position", payload["qty"], payload["avg_price"])
            else:
                item = ("trade", payload["exit_reason"], payload["pnl"])
            if item not in seen:
                seen.append(item)
        return seen


@pytest.fixture
def paper_story(app, api, make_account, make_strategy):
    app.config["PAPER_COMMISSION_PER_CONTRACT"] = str(COMMISSION)
    app.config["PAPER_MAX_FILL_PER_PRINT"] = "1"
    account = make_account("Paper", starting_balance="10000")
    return Story(app, api, account, make_strategy("Trend"))


@pytest.fixture
def tradovate_story(app, api, make_account, make_strategy, fake_tradovate):
    fake_tradovate.fees = {"commission": COMMISSION}
    fake_tradovate.max_fill_per_print = 1
    account = make_account("Tradovate", broker="tradovate", credentials=dict(TRADOVATE_CREDENTIALS))
    return Story(app, api, account, make_strategy("Trend at Tradovate"), fake_tradovate)


def test_paper_and_tradovate_write_the_same_ledger_and_tell_the_same_events(
    paper_story, tradovate_story
):
    paper_story.play()
    tradovate_story.play()

    paper, tradovate = paper_story.rows(), tradovate_story.rows()
    assert paper["trades"] == tradovate["trades"]
    assert [t[-1] for t in paper["trades"]] == ["stop_loss", "kill_switch"]
    assert paper["fills"] == tradovate["fills"]
    assert paper["positions"] == tradovate["positions"]
    assert paper["orders"] == tradovate["orders"]
    told = paper_story.told()
    assert told == tradovate_story.told()
    assert ("fill", "sell", 1, "6002") in told[2]  # half the take profit
    assert ("position", 1, "6000") in told[2]
    stop_loss = [o for o in paper["orders"] if o[0] == "stop_loss"][0]
    assert (stop_loss[2], stop_loss[6]) == (1, "filled")  # cut to the contract left
    assert ("trade", "stop_loss", "-2.48") in told[4]  # the print at the stop
    assert ("trade", "kill_switch", "13.76") in told[-1]
