"""The trader's pages; the setup pages read through the same services as the API."""

from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, g, render_template, request
from flask_login import current_user, login_required

from app.api.accounts import account_json
from app.api.bars import STYLES
from app.api.kill_switch import state_json
from app.api.news import source_json
from app.api.risk import limits_json
from app.api.settings import settings_json
from app.api.strategies import strategy_json
from app.api.traders import figures_json, trader_json
from app.api.trades import trace_json, trade_json
from app.api.webhook_events import alert_trace_json
from app.domain import price_rules
from app.domain.sentiment import BUCKETS
from app.domain.vocabulary import (
    EventStatus,
    NotificationChannel,
    NotificationEvent,
    SentimentLabel,
    Timeframe,
)
from app.services.insight import news as news_sources
from app.services.ledger import positions as ledger_positions
from app.services.ledger import trace as ledger_trace
from app.services.ledger import trades as ledger_trades
from app.services.ledger.trader_pnl import trader_figures
from app.services.market import price_alerts
from app.services.notify import preferences
from app.services.protection import halts, kill_switch
from app.services.records import alert_log, audit
from app.services.setup import accounts, strategies, traders
from app.services.trading import guard_rails
from app.services.trading.risk_limits import limits_for

bp = Blueprint("pages", __name__)

# What the trader types to engage the kill switch from the control center: a word, not a
# click, so that no stray tap flattens every account.
KILL_WORD = "FLATTEN"


# The query the analytics page keeps its filters in; /api/analytics reads the same names.
ANALYTICS_FILTERS = ("account_id", "strategy_id", "symbol", "start", "end")


@bp.before_request
@login_required
def _require_login():
    g.no_store = True


@bp.get("/")
def dashboard():
    """Every enabled account, or the one `?account_id=` picks; its figures, positions,
    orders, trades, alerts and equity curve are read by static/js/dashboard.js."""
    account_list = [account_json(a) for a in accounts.list_accounts()]
    enabled = [a for a in account_list if a["enabled"]]
    selected = request.args.get("account_id", type=int)
    if selected is not None and selected not in {a["id"] for a in enabled}:
        abort(404, f"No enabled account with id {selected}.")
    return render_template(
        "dashboard.html",
        accounts=account_list,
        enabled=enabled,
        selected_account=selected,
        recent=audit.recent_entries(limit=10),
        **_names(),
    )


@bp.get("/control-center")
def control_center():
    """Manual orders, positions, working orders, traders, the live log and the kill switch;
    the live parts are read from the JSON API by static/js/control_center.js."""
    account_list = [account_json(a) for a in accounts.list_accounts()]
    return render_template(
        "control_center.html",
        accounts=account_list,
        account_names={a["id"]: a["name"] for a in account_list},
        strategy_names={s.id: s.name for s in strategies.list_strategies()},
        traders=[trader_json(t) for t in traders.list_traders()],
        switch=state_json(kill_switch.status()),
        kill_word=KILL_WORD,
    )


@bp.get("/accounts")
def accounts_page():
    items = []
    for account in accounts.list_accounts():
        limits = limits_for(account.id)
        risk = {
            "risk": limits_json(limits),
            "halt_liftable": halts.liftable(limits),
            "has_rules": guard_rails.rules_of(limits).any,
        }
        items.append(account_json(account) | risk)
    return render_template("accounts.html", accounts=items)


@bp.get("/strategies")
def strategies_page():
    items = [strategy_json(s) for s in strategies.list_strategies()]
    recent = {item["id"]: alert_log.recent_alerts(item["id"], limit=5) for item in items}
    return render_template("strategies.html", strategies=items, recent_alerts=recent)


@bp.get("/traders")
def traders_page():
    """Each trader with its position and today's P&L, as /api/traders/live figures them;
    static/js/live_regions.js swaps the table in again as fills and prices move."""
    found = trader_figures(traders.list_traders(), datetime.now(UTC))
    return render_template(
        "traders.html",
        traders=[trader_json(f.trader) | figures_json(f) for f in found],
        strategies=strategies.list_strategies(),
        accounts=accounts.list_accounts(),
    )


@bp.get("/alerts")
def alerts():
    """The trader's price alerts (static/js/price_alerts.js adds their form and firings)
    and the webhook alert log; both are live regions read again on their events."""
    strategy_id = request.args.get("strategy_id", type=int)
    status = request.args.get("status") or None
    if status not in {s.value for s in EventStatus}:
        status = None
    return render_template(
        "alerts.html",
        alerts=alert_log.recent_alerts(strategy_id, status),
        price_alerts=[price_alerts.rule_json(rule) for rule in price_alerts.list_rules()],
        timeframes=[t.value for t in Timeframe],
        rule_limits={
            "max_conditions": price_rules.MAX_CONDITIONS,
            "rsi_period": price_rules.DEFAULT_RSI_PERIOD,
            "volume_period": price_rules.DEFAULT_VOLUME_PERIOD,
        },
        strategies=strategies.list_strategies(),
        statuses=[s.value for s in EventStatus],
        selected_strategy=strategy_id,
        selected_status=status,
    )


@bp.get("/trades")
def trades():
    """Closed trades, newest first, each one click from its trace."""
    account_id = request.args.get("account_id", type=int)
    found = ledger_trades.recent_trades(account_id)
    exits = ledger_trades.exits_of(found)
    return render_template(
        "trades.html",
        trades=[trade_json(t, exits[t.id]) for t in found],
        accounts=accounts.list_accounts(),
        selected_account=account_id,
        **_names(),
    )


@bp.get("/charts")
def charts():
    """A symbol's bars in one of five styles, drawn by static/js/charts.js from /api/bars.
    The controls are a GET form, so the query names the chart: a reload or a bookmark
    shows the same one. Without a symbol, the first open position's, else MES1!."""
    held = ledger_positions.open_positions()
    return render_template(
        "charts.html",
        symbol=request.args.get("symbol") or (held[0].row.symbol if held else "MES1!"),
        timeframe=request.args.get("timeframe") or Timeframe.M1.value,
        style=request.args.get("style") or STYLES[0],
        box=request.args.get("box"),
        reversal=request.args.get("reversal"),
        timeframes=[t.value for t in Timeframe],
        styles=STYLES,
    )


@bp.get("/analytics")
def analytics():
    """The metrics, curve, breakdown and projection of the closed trades that pass the
    filters, read by static/js/analytics.js from /api/analytics. The filters are a GET
    form, so the query names the view: a reload or a bookmark shows the same one."""
    return render_template(
        "analytics.html",
        accounts=[account_json(a) for a in accounts.list_accounts()],
        strategies=strategies.list_strategies(),
        filters={name: request.args.get(name) or "" for name in ANALYTICS_FILTERS},
    )


# The query the news page keeps its filters in; /api/news and /api/sentiment read the same.
NEWS_FILTERS = ("symbol", "label", "bucket")


@bp.get("/news", endpoint="news")
def news_page():
    """The trader's feeds (managed through /api/news/sources), the articles and a symbol's
    sentiment series, read by static/js/news.js. The filters are a GET form, so the query
    names the view: a reload or a bookmark shows the same one."""
    return render_template(
        "news.html",
        sources=[source_json(s) for s in news_sources.list_sources()],
        labels=[label.value for label in SentimentLabel],
        buckets=list(BUCKETS),
        fetch_minutes=current_app.config["NEWS_FETCH_MINUTES"],
        filters={name: request.args.get(name) or "" for name in NEWS_FILTERS},
    )


@bp.get("/options")
def options():
    """The option calculator and the uploaded chains with their smile, surface and table,
    read by static/js/options.js from /api/options; `?chain_id=` opens that chain."""
    return render_template("options.html", chain_id=request.args.get("chain_id", type=int))


@bp.get("/trades/<id:trade_id>")
def trade_trace(trade_id: int):
    trace = ledger_trace.trade_trace(trade_id)
    if trace is None:
        abort(404, f"No trade with id {trade_id}.")
    return render_template("trade_trace.html", trace=trace_json(trace), **_names())


@bp.get("/alerts/<id:event_id>")
def alert_trace(event_id: int):
    trace = ledger_trace.alert_trace(event_id)
    if trace is None:
        abort(404, f"No alert with id {event_id}.")
    return render_template("alert_trace.html", trace=alert_trace_json(trace), **_names())


def _names() -> dict:
    """Account and strategy names by id, for pages that show rows naming them."""
    return {
        "account_names": {a.id: a.name for a in accounts.list_accounts()},
        "strategy_names": {s.id: s.name for s in strategies.list_strategies()},
    }


@bp.get("/settings")
def settings_page():
    """The owner's settings; each channel's state is read by static/js/settings.js."""
    return render_template(
        "settings.html",
        settings=settings_json(current_user),
        prefs=preferences.to_json(preferences.current(current_user)),
        # A test goes out whatever the preferences say: it has no row in their matrix.
        events=[e.value for e in NotificationEvent if e is not NotificationEvent.TEST],
        channels=[c.value for c in NotificationChannel],
        discord_token_on_server=bool(current_app.config.get("DISCORD_BOT_TOKEN")),
        **_names(),
    )
