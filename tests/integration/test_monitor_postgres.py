"""The monitor's hand-written SQL and bulk statements on PostgreSQL, not only SQLite."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from app.models import AdvancedOrder, BrokerAccount, Order, Position
from app.schema import upgrade_to_head
from app.services.protection import monitor


@pytest.mark.postgres
def test_the_monitor_queries_and_bulk_writes_run_on_postgresql(postgres_engine):
    upgrade_to_head(postgres_engine)
    now = datetime.now(UTC)
    with postgres_engine.begin() as connection:
        account = connection.execute(
            insert(BrokerAccount).returning(BrokerAccount.id),
            {"name": "P", "broker": "paper", "environment": "demo", "enabled": True,
             "created_at": now, "updated_at": now},
        ).scalar()  # fmt: skip
        position = connection.execute(
            insert(Position).returning(Position.id),
            {"account_id": account, "symbol": "MESZ6", "quantity": 0, "realized_pnl": 0,
             "manual": False, "updated_at": now},
        ).scalar()  # fmt: skip
        order = {
            "account_id": account, "symbol": "MESZ6", "side": "sell", "quantity": 1,
            "order_type": "stop", "role": "stop_loss", "filled_quantity": 0,
            "created_at": now, "updated_at": now,
        }  # fmt: skip
        filled = connection.execute(
            insert(Order).returning(Order.id),
            {**order, "client_order_id": "a", "status": "filled", "avg_fill_price": 4998},
        ).scalar()
        working = connection.execute(
            insert(Order).returning(Order.id),
            {**order, "client_order_id": "b", "status": "working", "stop_price": 4998},
        ).scalar()
        common = {
            "kind": "trailing", "account_id": account, "symbol": "MESZ6", "side": "long",
            "quantity": 1, "tick_size": Decimal("0.25"), "trail_unit": "ticks",
            "trail_amount": 8, "activated": True, "native": True, "status": "active",
            "revision": 1, "created_at": now, "updated_at": now,
        }  # fmt: skip
        connection.execute(
            insert(AdvancedOrder),
            [
                {**common, "id": 1, "stop_order_id": filled, "position_id": None},  # filled
                {**common, "id": 2, "stop_order_id": working, "position_id": position},  # flat
                {**common, "id": 3, "stop_order_id": working, "position_id": None},  # nothing
            ],
        )
        revisions = dict(connection.exec_driver_sql(monitor._REVISIONS_SQL).all())
        assert revisions == {1: 1, 2: 1, 3: 1}
        assert sorted(connection.exec_driver_sql(monitor._FLAGGED_SQL).scalars()) == [1, 2]
        connection.execute(
            monitor._WRITE_STATE,
            [
                {"_id": 3, "_revision": 1, "_best": Decimal("5001"), "_stop": Decimal("4999")},
                {"_id": 2, "_revision": 7, "_best": Decimal("5001"), "_stop": Decimal("4999")},
            ],
        )
        connection.execute(
            monitor._CLOSE,
            [{"_id": 1, "_revision": 1, "_status": "done", "_reason": "stop filled", "_now": now}],
        )
        rows = {
            row.id: row
            for row in connection.execute(
                select(AdvancedOrder.__table__).order_by(AdvancedOrder.id)
            )
        }
    assert (rows[3].best_price, rows[3].stop_price) == (Decimal("5001"), Decimal("4999"))
    assert rows[2].best_price is None  # another revision: left alone
    assert (rows[1].status, rows[1].revision) == ("done", 2)
