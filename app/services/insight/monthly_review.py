"""The monthly review (issue 16 item 7): per strategy, and for all of them together, a
month's figures against the month before, its best and worst trades and what changed —
the settings' changes the audit log recorded in the month and the shifts the figures
show (domain/monthly_review decides, this module reads the rows).

A few reads, whatever the number of strategies: the trades closed in the two months with
their opening alerts (as `GET /api/analytics` reads them, so the slippage is the same
figure: each trade's entry against its alert's price), the month's audit entries about
strategies and their traders, and the strategies' names; the grouping per strategy is
done in memory.
"""

from decimal import Decimal

from sqlalchemy import select

from app.domain.analytics import TradeRecord, execution
from app.domain.monthly_review import Month, Review, SettingChange, diff_of, review
from app.domain.vocabulary import AuditCategory
from app.extensions import db
from app.models import AuditEntry, Strategy, Trade
from app.services.insight.analytics import records_of
from app.services.setup.strategies import get_strategy

ALL_STRATEGIES = "All strategies"


def monthly_review(month: Month, strategy_id: int | None = None) -> list[Review]:
    """The reviews of `month`: the one strategy's, or all strategies' together first and
    then each strategy that traded in the month or the month before, or was changed."""
    if strategy_id is not None:
        get_strategy(strategy_id)  # 404 for an unknown id
    earlier = month.previous()
    trades = _trades(earlier.opens(), month.closes(), strategy_id)
    opens = month.opens()
    current = [t for t in trades if t.exit_time >= opens]
    previous = [t for t in trades if t.exit_time < opens]
    changes = _setting_changes(month, strategy_id)
    names = dict(db.session.execute(select(Strategy.id, Strategy.name)).all())

    def one(sid: int | None, name: str, wanted) -> Review:
        return review(
            sid,
            name,
            _month_part([t for t in current if wanted(t.strategy_id)]),
            _month_part([t for t in previous if wanted(t.strategy_id)]),
            [t for t in current if wanted(t.strategy_id)],
            [c for c in changes if wanted(c.strategy_id)],
        )

    if strategy_id is not None:
        return [one(strategy_id, names[strategy_id], lambda _: True)]
    seen = {t.strategy_id for t in trades} | {c.strategy_id for c in changes}
    shown = sorted((sid for sid in seen if sid in names), key=lambda sid: names[sid].lower())
    return [one(None, ALL_STRATEGIES, lambda _: True)] + [
        one(sid, names[sid], lambda other, sid=sid: other == sid) for sid in shown
    ]


def _month_part(trades: list[Trade]) -> tuple[list[TradeRecord], Decimal | None]:
    """(trade records, average entry slippage in ticks) of one strategy's month."""
    records = records_of(trades)
    ticks = execution(records).avg_slippage_ticks
    return records, None if ticks is None else Decimal(str(ticks))


def _trades(start, end, strategy_id: int | None) -> list[Trade]:
    query = select(Trade).where(Trade.exit_time >= start, Trade.exit_time < end)
    if strategy_id is not None:
        query = query.where(Trade.strategy_id == strategy_id)
    return list(db.session.scalars(query.order_by(Trade.exit_time, Trade.id)))


def _setting_changes(month: Month, strategy_id: int | None) -> list[SettingChange]:
    """The month's audited changes of strategies and their traders (what the settings
    pages and API record, as system entries naming the strategy)."""
    query = select(AuditEntry).where(
        AuditEntry.category == AuditCategory.SYSTEM,
        AuditEntry.strategy_id.is_not(None),
        AuditEntry.created_at >= month.opens(),
        AuditEntry.created_at < month.closes(),
    )
    if strategy_id is not None:
        query = query.where(AuditEntry.strategy_id == strategy_id)
    return [
        SettingChange(entry.created_at, entry.message, diff_of(entry.data), entry.strategy_id)
        for entry in db.session.scalars(query.order_by(AuditEntry.created_at, AuditEntry.id))
    ]
