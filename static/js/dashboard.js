// The dashboard: today's figures, open positions with live prices and P&L, working orders,
// recent alerts and trades, and the equity curve — of every enabled account or of the one
// picked. `pnl` events move the position rows at once; the figures are read again from
// /api/dashboard (summed on the server, never in the browser) at most once a second.
"use strict";

(() => {
  const root = document.getElementById("dashboard");
  if (!root) return;

  const LIST_SIZE = 10;
  const selectedId = root.dataset.accountId ? Number(root.dataset.accountId) : null;
  const enabledIds = JSON.parse(root.dataset.enabled || "[]");
  const shownIds = new Set(selectedId === null ? enabledIds : [selectedId]);
  const accountNames = JSON.parse(root.dataset.accounts || "{}");
  const strategyNames = JSON.parse(root.dataset.strategies || "{}");
  const accountQuery = selectedId === null ? "" : `account_id=${selectedId}`;
  const money = DeskPilotMoney;
  const $ = (selector, scope = root) => scope.querySelector(selector);
  const $$ = (selector, scope = root) => Array.from(scope.querySelectorAll(selector));

  // --- small helpers ------------------------------------------------------------------------

  const { cell, link, tag, placeholder, signed, timeOf } = DeskPilotDom;

  const accountName = (id) => accountNames[id] || `#${id}`;
  const words = (value) => (value || "").replaceAll("_", " ");

  // Show `value` in `el` as `text`; when it changed, flash the element green or red as the
  // value rose or fell (Number() only compares what is shown; nothing is figured with it).
  function update(el, value, text) {
    const before = el.dataset.value;
    el.dataset.value = value ?? "";
    if (el.textContent === text) return;
    el.textContent = text;
    if (before === undefined || before === "" || value === null || value === undefined) return;
    el.classList.remove("flash-up", "flash-down");
    void el.offsetWidth; // restart the animation when the value moves again
    el.classList.add(Number(value) < Number(before) ? "flash-down" : "flash-up");
  }

  root.addEventListener("animationend", (event) => {
    event.target.classList.remove("flash-up", "flash-down");
  });

  function stamp() {
    const box = $('[data-role="refreshed"]');
    if (box) box.textContent = `updated ${new Date().toLocaleTimeString()}`;
  }

  // --- today's figures ----------------------------------------------------------------------

  function fieldText(field, value) {
    if (field === "trades_today") return String(value);
    if (field === "win_rate_today") return value === null ? "—" : `${value} %`;
    return money.text(value, { signed: field !== "equity" });
  }

  function showFigures(scope, figures) {
    $$("[data-field]", scope).forEach((el) => {
      const field = el.dataset.field;
      if (!(field in figures)) return;
      update(el, figures[field], fieldText(field, figures[field]));
      if (el.hasAttribute("data-signed")) {
        el.classList.remove("up", "down");
        const tone = money.tone(figures[field]);
        if (tone) el.classList.add(tone);
      }
    });
  }

  async function refreshFigures() {
    const data = await DeskPilotApi.call("GET", `/api/dashboard?${accountQuery}`);
    showFigures($(".kpis"), data);
    for (const figures of data.accounts) {
      const row = $(`[data-testid="account-figures"] tr[data-account-id="${figures.account_id}"]`);
      if (row) showFigures(row, figures);
    }
  }

  // --- open positions -------------------------------------------------------------------------

  const positionsBody = $('[data-role="positions"]');
  const COLUMNS = ["account", "symbol", "qty", "avg", "last", "pnl"];

  function newPositionRow(accountId, symbol) {
    const row = document.createElement("tr");
    row.dataset.accountId = accountId;
    row.dataset.symbol = symbol;
    const classes = ["", "mono", "num", "num", "num", "num"];
    COLUMNS.forEach((col, i) => {
      const td = cell("", classes[i]);
      td.dataset.col = col;
      row.append(td);
    });
    row.children[0].textContent = accountName(accountId);
    row.children[1].textContent = symbol;
    const badge = tag("", "sentiment");
    badge.dataset.role = "sentiment";
    badge.hidden = true;
    row.children[1].append(" ", badge);
    return row;
  }

  // A position as {account_id, symbol, qty, avg_price, last, unrealized} (strings for prices
  // and money, as both the API and the `pnl` event send them).
  function showPosition(row, p) {
    const [, , qty, avg, last, pnl] = row.children;
    qty.textContent = signed(p.qty);
    qty.className = `num ${p.qty > 0 ? "long" : "short"}`;
    avg.textContent = p.avg_price ?? "—";
    update(last, p.last, p.last ?? "—");
    update(pnl, p.unrealized, money.text(p.unrealized, { signed: true }));
    pnl.classList.remove("up", "down");
    const tone = money.tone(p.unrealized);
    if (tone) pnl.classList.add(tone);
    row.dataset.qty = p.qty;
  }

  // Replace the rows of `accountIds` with `items`; other accounts' rows stay.
  function showPositions(accountIds, items) {
    $$("tr.placeholder", positionsBody).forEach((row) => row.remove());
    const kept = new Set();
    for (const p of items) {
      if (!shownIds.has(p.account_id) || p.qty === 0) continue;
      const key = `${p.account_id}|${p.symbol}`;
      kept.add(key);
      let row = positionsBody.querySelector(
        `tr[data-account-id="${p.account_id}"][data-symbol="${CSS.escape(p.symbol)}"]`,
      );
      if (!row) {
        row = newPositionRow(p.account_id, p.symbol);
        positionsBody.append(row);
      }
      showPosition(row, p);
    }
    $$("tr[data-symbol]", positionsBody).forEach((row) => {
      const id = Number(row.dataset.accountId);
      if (accountIds.has(id) && !kept.has(`${id}|${row.dataset.symbol}`)) row.remove();
    });
    if (!positionsBody.querySelector("tr[data-symbol]")) {
      placeholder(positionsBody, COLUMNS.length, "No open positions.");
    }
    refreshSentiment();
  }

  // --- the news sentiment beside each position: /api/sentiment's `latest` (the last 24 h),
  // read again at most every five minutes per symbol, since `pnl` events come every tick.

  const SENTIMENT_MAX_AGE_MS = 5 * 60 * 1000;
  const sentiments = new Map(); // symbol → {at, latest, pending}

  function showSentiment(row) {
    const latest = sentiments.get(row.dataset.symbol)?.latest;
    const badge = $('[data-role="sentiment"]', row);
    if (!badge) return;
    badge.hidden = !latest;
    if (!latest) return;
    badge.className = `tag sentiment sentiment-${latest.label}`;
    badge.textContent = `${words(latest.label)} ${latest.score}`;
    badge.title = `News sentiment of the last 24 h: mean score ${latest.score} over `
      + `${latest.articles} article${latest.articles === 1 ? "" : "s"}`;
  }

  function refreshSentiment() {
    const rows = $$("tr[data-symbol]", positionsBody);
    const now = Date.now();
    for (const symbol of new Set(rows.map((row) => row.dataset.symbol))) {
      const held = sentiments.get(symbol);
      if (held && (held.pending || now - held.at < SENTIMENT_MAX_AGE_MS)) continue;
      sentiments.set(symbol, { ...held, at: now, pending: true });
      const query = new URLSearchParams({ symbol, bucket: "1d" });
      DeskPilotApi.call("GET", `/api/sentiment?${query}`)
        .then((data) => sentiments.set(symbol, { at: Date.now(), latest: data.latest }))
        .catch(() => sentiments.set(symbol, { at: Date.now(), latest: null }))
        .finally(() => $$(`tr[data-symbol="${CSS.escape(symbol)}"]`, positionsBody)
          .forEach(showSentiment));
    }
    rows.forEach(showSentiment);
  }

  async function refreshPositions() {
    const data = await DeskPilotApi.call("GET", `/api/positions?${accountQuery}`);
    const items = data.items.map((p) => ({
      account_id: p.account_id, symbol: p.symbol, qty: p.qty, avg_price: p.avg_price,
      last: p.last_price, unrealized: p.unrealized_pnl,
    }));
    showPositions(shownIds, items);
  }

  function onPnl(payload) {
    if (!payload || !shownIds.has(payload.account_id)) return;
    const items = payload.positions.map((p) => ({ ...p, account_id: payload.account_id }));
    showPositions(new Set([payload.account_id]), items);
  }

  // --- working orders -------------------------------------------------------------------------

  async function refreshOrders() {
    const query = accountQuery ? `&${accountQuery}` : "";
    const [working, pending] = await Promise.all([
      DeskPilotApi.call("GET", `/api/orders?status=working${query}`),
      DeskPilotApi.call("GET", `/api/orders?status=pending${query}`),
    ]);
    const items = [...working.items, ...pending.items]
      .filter((o) => shownIds.has(o.account_id))
      .sort((a, b) => b.id - a.id);
    const body = $('[data-role="orders"]');
    if (!items.length) return placeholder(body, 7, "No working orders.");
    body.replaceChildren(...items.map((o) => {
      const row = document.createElement("tr");
      row.dataset.orderId = o.id;
      row.append(
        cell(accountName(o.account_id)), cell(o.symbol, "mono"), cell(o.side),
        cell(String(o.qty), "num"), cell(words(o.order_type)),
        cell(o.limit_price ?? o.stop_price ?? "market", "num"), cell(words(o.role)),
      );
      return row;
    }));
  }

  // --- recent trades and alerts ---------------------------------------------------------------

  async function refreshTrades() {
    const data = await DeskPilotApi.call("GET", `/api/trades?${accountQuery}`);
    const items = data.items.filter((t) => shownIds.has(t.account_id)).slice(0, LIST_SIZE);
    const body = $('[data-role="trades"]');
    if (!items.length) return placeholder(body, 9, "No closed trades yet.");
    body.replaceChildren(...items.map((t) => {
      const row = document.createElement("tr");
      row.dataset.tradeId = t.id;
      const closed = cell("", "mono");
      closed.append(link(timeOf(t.exit_time), `/trades/${t.id}`));
      row.append(
        closed, cell(accountName(t.account_id)), cell(t.symbol, "mono"), cell(t.side),
        cell(String(t.qty), "num"), cell(t.entry_price, "num"), cell(t.exit_price, "num"),
        cell(money.text(t.pnl, { signed: true }), `num ${money.tone(t.pnl)}`),
        cell(words(t.exit_reason)),
      );
      return row;
    }));
  }

  function describeSignal(signal) {
    if (!signal) return "—";
    return [signal.action, signal.quantity, signal.symbol].filter((part) => part !== undefined && part !== null).join(" ");
  }

  async function refreshAlerts() {
    const data = await DeskPilotApi.call("GET", "/api/webhook-events");
    const items = data.items.slice(0, LIST_SIZE);
    const body = $('[data-role="alerts"]');
    if (!items.length) return placeholder(body, 4, "No alerts yet.");
    body.replaceChildren(...items.map((e) => {
      const row = document.createElement("tr");
      row.dataset.alertId = e.id;
      const received = cell("", "mono");
      received.append(link(timeOf(e.received_at), `/alerts/${e.id}`));
      const status = cell("");
      status.append(tag(words(e.status), `status-${e.status}`));
      if (e.reason) status.title = e.reason;
      row.append(received, cell(strategyNames[e.strategy_id] || `#${e.strategy_id}`),
        cell(describeSignal(e.signal)), status);
      return row;
    }));
  }

  // --- the equity curve -----------------------------------------------------------------------

  const chartBox = $('[data-testid="equity-chart"]');
  const chart = chartBox ? DeskPilotEquityChart.create(chartBox) : null;

  async function refreshChart() {
    if (!chart) return;
    const ids = Array.from(shownIds);
    const curves = await Promise.all(ids.map(async (id) => {
      const data = await DeskPilotApi.call("GET", `/api/dashboard/equity?account_id=${id}`);
      return { id, label: accountName(id), items: data.items, maxDrawdown: data.max_drawdown };
    }));
    const points = chart.show(curves);
    chartBox.dataset.points = points;
    $('[data-role="chart-empty"]').hidden = points > 0;
    const drawn = curves.filter((c) => c.items.length);
    $('[data-role="max-drawdown"]').textContent = drawn.length === 1
      ? `max drawdown ${money.text(drawn[0].maxDrawdown)}` : "";
    const legend = curves.map((c, i) => {
      const item = document.createElement("li");
      item.dataset.color = i % DeskPilotEquityChart.colors.length;
      item.textContent = `${c.label} · max drawdown ${money.text(c.maxDrawdown)}`;
      return c.items.length ? item : null;
    }).filter(Boolean);
    $('[data-role="chart-legend"]').replaceChildren(...(legend.length > 1 ? legend : []));
  }

  // --- the account picker and the live wiring -------------------------------------------------

  const picker = $('[data-role="account-select"]');
  if (picker) {
    $('[data-role="account-apply"]').hidden = true;
    picker.addEventListener("change", () => picker.form.submit());
  }

  function guarded(part) {
    return () => part().then(stamp).catch((error) => {
      const box = $('[data-role="refreshed"]');
      if (box) box.textContent = `not updated: ${error.message}`;
    });
  }

  if (!shownIds.size) {
    placeholder(positionsBody, COLUMNS.length, "No open positions.");
    placeholder($('[data-role="orders"]'), 7, "No working orders.");
    placeholder($('[data-role="trades"]'), 9, "No closed trades yet.");
  }
  const live = window.DeskPilotLive;
  live.on("pnl", onPnl);
  live.refreshOn(["pnl", "position", "fill", "trade"], guarded(refreshFigures));
  live.refreshOn(["position", "fill"], guarded(refreshPositions));
  live.refreshOn(["order", "fill"], guarded(refreshOrders));
  live.refreshOn(["trade"], guarded(refreshTrades));
  live.refreshOn(["trade"], guarded(refreshChart));
  live.refreshOn(["signal", "order"], guarded(refreshAlerts));
  [refreshFigures, refreshPositions, refreshOrders, refreshTrades, refreshChart, refreshAlerts]
    .forEach((part) => guarded(part)());
})();
