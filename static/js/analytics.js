// The analytics page: the filtered trades' metrics (GET /api/analytics) as cards, their
// equity curve and drawdown, execution quality, a calendar heat map of daily P&L, bars by
// hour and weekday, a histogram of trade P&L, a strategy comparison ranked by score, a
// breakdown table, a Monte Carlo projection and a replay (POST /api/replay) beside the
// actual record. Money is shown from the API's decimal strings (DeskPilotMoney); Number()
// only sizes a bar or places a point on a chart, where a float's last digit cannot be seen.
"use strict";

(() => {
  const root = document.getElementById("analytics");
  if (!root) return;
  const $ = (selector) => root.querySelector(selector);
  const money = DeskPilotMoney;
  const dom = DeskPilotDom;
  const filters = JSON.parse(root.dataset.filters);
  const query = new URLSearchParams(Object.entries(filters).filter(([, v]) => v)).toString();
  const BANDS = [["p5", "#e5534b"], ["p50", "#4da3ff"], ["p95", "#3fb97a"]];

  const number = (value, suffix = "") => (value === null || value === undefined ? "—" : `${value}${suffix}`);

  function showError(role, error) {
    const box = $(`[data-role="${role}"]`);
    box.textContent = error ? error.message : "";
    box.hidden = !error;
  }

  // --- the cards --------------------------------------------------------------------------
  function fill(field, text, tone) {
    const box = $(`[data-field="${field}"]`);
    box.textContent = text;
    box.classList.remove("up", "down");
    if (tone) box.classList.add(tone);
  }

  function showSummary(data) {
    fill("trades", String(data.trades));
    fill("win_rate", number(data.win_rate, " %"));
    fill("net_pnl", money.text(data.net_pnl, { signed: true }), money.tone(data.net_pnl));
    fill("profit_factor", number(data.profit_factor));
    fill("expectancy", money.text(data.expectancy, { signed: true }), money.tone(data.expectancy));
    const pct = data.max_drawdown_pct === null ? "" : ` (${data.max_drawdown_pct} %)`;
    fill("max_drawdown", data.max_drawdown === null ? "—" : `${money.text(data.max_drawdown)}${pct}`);
    fill("sharpe", number(data.sharpe));
    fill("sortino", number(data.sortino));
    fill("avg_slippage_ticks", number(data.avg_slippage_ticks));
    fill("slippage", data.execution_trades ? money.text(data.slippage) : "—");
    const delay = data.avg_fill_delay_ms === null ? "—" : `${data.avg_fill_delay_ms} / ${data.max_fill_delay_ms} ms`;
    fill("fill_delay", delay);
    fill("avg_mae", money.text(data.avg_mae));
    fill("avg_mfe", money.text(data.avg_mfe));
    fill("execution_trades", `${data.execution_trades} / ${data.excursion_trades} of ${data.trades}`);
  }

  // --- bars: by hour, by weekday, the P&L histogram ---------------------------------------
  // `items`: [{label, value (a number, for the height only), text (shown), tone, count}].
  // Bars grow up from a zero line for gains and down for losses, scaled to the largest.
  function drawBars(box, items) {
    box.replaceChildren();
    box.dataset.bars = String(items.length);
    if (!items.length) {
      const empty = document.createElement("p");
      empty.className = "muted small";
      empty.textContent = "No closed trade passes the filters.";
      box.append(empty);
      return;
    }
    const largest = Math.max(...items.map((item) => Math.abs(item.value)), 1e-9);
    for (const item of items) {
      const column = document.createElement("div");
      column.className = "bar-column";
      column.title = item.title;
      column.dataset.key = item.label;
      const up = document.createElement("div");
      const down = document.createElement("div");
      up.className = "bar-half bar-up";
      down.className = "bar-half bar-down";
      if (item.value !== 0) { // an empty bin or a flat hour draws nothing
        const bar = document.createElement("div");
        bar.className = `bar ${item.tone}`;
        bar.style.height = `${Math.max(2, (Math.abs(item.value) / largest) * 100)}%`;
        (item.value < 0 ? down : up).append(bar);
      }
      const label = document.createElement("span");
      label.className = "bar-label";
      label.textContent = item.label;
      column.append(up, down, label);
      box.append(column);
    }
  }

  const byHourBox = $('[data-testid="hour-bars"]');
  const byWeekdayBox = $('[data-testid="weekday-bars"]');
  const histogramBox = $('[data-testid="pnl-histogram"]');

  function groupBars(items) {
    return items.map((item) => ({
      label: String(item.key).slice(0, 3),
      value: Number(item.net_pnl),
      tone: money.tone(item.net_pnl),
      title: `${item.key}: ${money.text(item.net_pnl, { signed: true })} over ${item.trades} trade(s), win rate ${number(item.win_rate, " %")}`,
    }));
  }

  // Each trade's net P&L is the equity curve's step at its exit; binned into equal widths.
  const BINS = 12;
  function showHistogram(curve) {
    const pnls = curve.slice(1).map(([, equity], i) => Number(equity) - Number(curve[i][1]));
    if (!pnls.length) return drawBars(histogramBox, []);
    const low = Math.min(...pnls);
    const high = Math.max(...pnls);
    const bins = high > low ? BINS : 1;
    const width = (high - low) / bins || 1;
    const counts = new Array(bins).fill(0);
    for (const pnl of pnls) counts[Math.min(bins - 1, Math.floor((pnl - low) / width))] += 1;
    drawBars(histogramBox, counts.map((count, i) => {
      const from = low + i * width;
      const to = bins === 1 ? high : from + width;
      const middle = (from + to) / 2;
      return {
        label: String(Math.round(from)),
        value: count,
        tone: middle > 0 ? "up" : middle < 0 ? "down" : "",
        title: `${count} trade(s) netting ${from.toFixed(2)} to ${to.toFixed(2)}`,
      };
    }));
  }

  // --- the calendar heat map: one cell per trading day, weeks as columns -----------------
  const calendarBox = $('[data-testid="pnl-calendar"]');
  const DAY_MS = 86400000;
  const WEEKDAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

  function showCalendar(items) {
    calendarBox.replaceChildren();
    $('[data-role="calendar-empty"]').hidden = items.length > 0;
    if (!items.length) return;
    const byDay = new Map(items.map((item) => [item.key, item]));
    const largest = Math.max(...items.map((item) => Math.abs(Number(item.net_pnl))), 1e-9);
    const first = Date.parse(`${items[0].key}T00:00:00Z`);
    const last = Date.parse(`${items[items.length - 1].key}T00:00:00Z`);
    const monday = first - ((new Date(first).getUTCDay() + 6) % 7) * DAY_MS;
    WEEKDAY_NAMES.forEach((name, row) => {
      const label = document.createElement("span");
      label.className = "heat-label";
      label.textContent = name;
      label.style.gridRow = String(row + 1);
      calendarBox.append(label);
    });
    for (let at = monday, column = 2; at <= last; at += DAY_MS) {
      const day = new Date(at).toISOString().slice(0, 10);
      const row = (new Date(at).getUTCDay() + 6) % 7;
      const item = byDay.get(day);
      const cell = document.createElement("div");
      cell.className = "heat-cell";
      cell.style.gridRow = String(row + 1);
      cell.style.gridColumn = String(column);
      if (item) {
        const tone = money.tone(item.net_pnl);
        cell.classList.add("traded", tone || "flat");
        cell.dataset.day = day;
        cell.dataset.pnl = item.net_pnl;
        // Deeper colour for a larger day: from 25 % to 100 % of the tone's strength.
        cell.style.opacity = String(0.25 + 0.75 * (Math.abs(Number(item.net_pnl)) / largest));
        cell.title = `${day}: ${money.text(item.net_pnl, { signed: true })}, ${item.trades} trade(s)`;
      } else {
        cell.title = `${day}: no trade closed`;
      }
      calendarBox.append(cell);
      if (row === 6) column += 1;
    }
  }

  // --- the strategy comparison, ranked by score (the API's order) -------------------------
  const strategiesBody = $('[data-role="strategies"]');

  function showStrategies(items) {
    if (!items.length) return dom.placeholder(strategiesBody, 9, "No closed trade passes the filters.");
    strategiesBody.replaceChildren(...items.map((item) => {
      const row = document.createElement("tr");
      row.dataset.key = item.key;
      row.append(
        dom.cell(item.key),
        dom.cell(String(item.trades), "num"),
        dom.cell(number(item.win_rate, " %"), "num"),
        dom.cell(money.text(item.net_pnl, { signed: true }), `num ${money.tone(item.net_pnl)}`),
        dom.cell(money.text(item.expectancy, { signed: true }), `num ${money.tone(item.expectancy)}`),
        dom.cell(number(item.profit_factor), "num"),
        dom.cell(money.text(item.max_drawdown), "num"),
        dom.cell(number(item.avg_slippage_ticks), "num"),
        dom.cell(number(item.score), "num"),
      );
      return row;
    }));
  }

  async function showGroups() {
    const get = (by) => DeskPilotApi.call("GET", `/api/analytics/breakdown?by=${by}&${query}`);
    try {
      const [days, hours, weekdays, strategies] = await Promise.all(
        ["day", "hour", "weekday", "strategy"].map(get));
      showCalendar(days.items);
      drawBars(byHourBox, groupBars(hours.items.map((item) => ({ ...item, key: `${item.key}h` }))));
      drawBars(byWeekdayBox, groupBars(weekdays.items));
      showStrategies(strategies.items);
    } catch (error) {
      showError("error", error);
    }
  }

  // --- the equity curve -------------------------------------------------------------------
  // [[time, equity]…] as equity_chart.js takes it, each point's fall below the running high
  // beside it (for the drawdown line: drawn, never shown as a figure).
  function curveItems(curve) {
    let high = -Infinity;
    return curve.map(([time, equity]) => {
      high = Math.max(high, Number(equity));
      return { time, equity, drawdown: high - Number(equity) };
    });
  }

  const chartBox = $('[data-testid="equity-chart"]');
  const chart = DeskPilotEquityChart.create(chartBox);

  function showCurve(curve) {
    const points = chart ? chart.show([{ label: "Equity", items: curveItems(curve) }]) : 0;
    chartBox.dataset.points = String(points);
    $('[data-role="chart-empty"]').hidden = curve.length > 0;
  }

  // --- the breakdown ----------------------------------------------------------------------
  const bySelect = $('[data-role="breakdown-by"]');

  async function showBreakdown() {
    const by = bySelect.value;
    $('[data-role="breakdown-key"]').textContent = by[0].toUpperCase() + by.slice(1);
    const tbody = $('[data-role="breakdown"]');
    try {
      const data = await DeskPilotApi.call("GET", `/api/analytics/breakdown?by=${by}&${query}`);
      if (!data.items.length) return dom.placeholder(tbody, 5, "No closed trade passes the filters.");
      tbody.replaceChildren(...data.items.map((item) => {
        const row = document.createElement("tr");
        row.dataset.key = item.key;
        row.append(
          dom.cell(item.key),
          dom.cell(String(item.trades), "num"),
          dom.cell(number(item.win_rate, " %"), "num"),
          dom.cell(money.text(item.net_pnl, { signed: true }), `num ${money.tone(item.net_pnl)}`),
          dom.cell(number(item.profit_factor), "num"),
        );
        return row;
      }));
    } catch (error) {
      dom.placeholder(tbody, 5, error.message);
    }
  }

  // --- the projection ---------------------------------------------------------------------
  const form = $('[data-role="projection-form"]');
  const projectionBox = $('[data-testid="projection-chart"]');
  let projectionChart = null;

  // The starting balance offered: the filtered account's, else the first account's.
  const accountOption = root.querySelector('select[name="account_id"] option:checked[data-balance]')
    || root.querySelector('select[name="account_id"] option[data-balance]');
  form.elements.starting_balance.value = accountOption ? accountOption.dataset.balance : "";

  // A chart whose horizontal axis counts projected trades, not times.
  function createProjectionChart() {
    if (typeof LightweightCharts === "undefined") return null;
    const lib = LightweightCharts;
    const count = (time) => `trade ${time}`;
    return lib.createChart(projectionBox, {
      autoSize: true,
      layout: { background: { type: lib.ColorType.Solid, color: "#161d25" }, textColor: "#8493a3",
        fontSize: 11, attributionLogo: false },
      grid: { vertLines: { color: "#1c252f" }, horzLines: { color: "#1c252f" } },
      rightPriceScale: { borderColor: "#26313d" },
      timeScale: { borderColor: "#26313d", tickMarkFormatter: (time) => String(time) },
      localization: { timeFormatter: count },
    });
  }

  function showProjection(data) {
    if (projectionChart) projectionChart.remove(); // a new horizon: new lines from scratch
    projectionChart = createProjectionChart();
    if (projectionChart) {
      for (const [name, color] of BANDS) {
        const line = projectionChart.addSeries(LightweightCharts.LineSeries, { color, lineWidth: 2, title: name });
        line.setData(data.percentiles[name].map((balance, i) => ({ time: i + 1, value: Number(balance) })));
      }
      projectionChart.timeScale().fitContent();
    }
    projectionBox.dataset.points = String(data.percentiles.p50.length);
    const last = (name) => money.text(data.percentiles[name][data.percentiles[name].length - 1]);
    $('[data-role="projection-result"]').textContent =
      `After ${data.percentiles.p50.length} trades: p5 ${last("p5")}, p50 ${last("p50")}, `
      + `p95 ${last("p95")}. Risk of ruin ${data.risk_of_ruin} (share of runs); median max `
      + `drawdown ${data.median_max_drawdown_pct} %; drawn from ${data.trades_drawn_from} trades.`;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = form.elements;
    const body = { starting_balance: fields.starting_balance.value.trim(),
      trades: Number(fields.trades.value), runs: Number(fields.runs.value) };
    if (fields.risk_mode.value) body.risk_mode = fields.risk_mode.value;
    if (fields.seed.value) body.seed = Number(fields.seed.value);
    if (filters.strategy_id) body.strategy_id = Number(filters.strategy_id);
    else if (filters.account_id) body.account_id = Number(filters.account_id);
    try {
      showError("projection-error", null);
      showProjection(await DeskPilotApi.call("POST", "/api/analytics/projection", body));
    } catch (error) {
      showError("projection-error", error);
    }
  });

  // --- the replay: the strategy's alerts again with other exits, beside the record --------
  const replayForm = $('[data-role="replay-form"]');
  const replayTable = $('[data-testid="replay-compare"]');
  const replayBox = $('[data-testid="replay-chart"]');
  const replayNotes = $('[data-role="replay-notes"]');
  let replayChart = null;
  const REPLAY_ROWS = [
    ["Trades", (side) => String(side.trades.length)],
    ["Win rate", (side) => number(side.win_rate, " %")],
    ["Net P&L", (side) => money.text(side.net_pnl, { signed: true })],
    ["Expectancy", (side) => money.text(side.expectancy, { signed: true })],
    ["Profit factor", (side) => number(side.profit_factor)],
    ["Max drawdown", (side) => money.text(side.max_drawdown)],
    ["Sharpe", (side) => number(side.sharpe)],
    ["Avg slippage (ticks)", (side) => number(side.avg_slippage_ticks)],
  ];

  // The overrides of POST /api/replay (DESIGN §5.4): exits as §5.2 writes them (offsets in
  // ticks), the quantity and the replay account's risk mode; empty fields are left out.
  function overrides() {
    const fields = replayForm.elements;
    const ticks = (name) => (fields[name].value ? { ticks: Number(fields[name].value) } : undefined);
    const found = {
      take_profit: ticks("take_profit"),
      stop_loss: ticks("stop_loss"),
      trailing_stop: ticks("trailing_stop"),
      break_even: fields.break_even.value ? { trigger: ticks("break_even") } : undefined,
      quantity: fields.quantity.value ? Number(fields.quantity.value) : undefined,
      risk_mode: fields.risk_mode.value || undefined,
    };
    return Object.fromEntries(Object.entries(found).filter(([, value]) => value !== undefined));
  }

  // What the figures leave out: alerts skipped (with the first reason), gaps in the bars
  // (the replay never invents a price) and positions still open after the last bar.
  function replayNotesOf(data) {
    const notes = [`${data.alerts} alert(s) replayed`];
    if (data.skipped.length) {
      notes.push(`${data.skipped.length} skipped (first: ${data.skipped[0].reason})`);
    }
    if (data.gaps.length) notes.push(`${data.gaps.length} gap(s) in the bars`);
    for (const p of data.open_positions) {
      notes.push(`still open: ${p.qty > 0 ? "+" : ""}${p.qty} ${p.symbol} at ${p.avg_price} (last ${p.mark}), not counted`);
    }
    return `${notes.join("; ")}.`;
  }

  function showReplay(data) {
    replayTable.hidden = false;
    $('[data-role="replay-rows"]').replaceChildren(...REPLAY_ROWS.map(([name, figure]) => {
      const row = document.createElement("tr");
      row.append(dom.cell(name), dom.cell(figure(data.actual), "num"), dom.cell(figure(data.replay), "num"));
      return row;
    }));
    replayBox.hidden = false;
    if (!replayChart) replayChart = DeskPilotEquityChart.create(replayBox);
    const curves = [["Actual", data.actual], ["Replay", data.replay]]
      .map(([label, side]) => ({ label, items: curveItems(side.equity_curve) }));
    replayBox.dataset.points = String(replayChart ? replayChart.show(curves) : 0);
    // The chart draws a curve that has points; a side without trades has none.
    replayBox.dataset.series = String(replayChart ? curves.filter((c) => c.items.length).length : 0);
    replayNotes.textContent = replayNotesOf(data);
  }

  replayForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("replay-error", null);
    if (!filters.strategy_id) {
      showError("replay-error", { message: "Pick a strategy in the filters above to replay its alerts." });
      return;
    }
    const body = { strategy_id: Number(filters.strategy_id), overrides: overrides() };
    if (filters.start) body.start = filters.start;
    if (filters.end) body.end = filters.end;
    try {
      showReplay(await DeskPilotApi.call("POST", "/api/replay", body));
    } catch (error) {
      // A 400 names the override it refuses (e.g. overrides.stop_loss): said beside it.
      const named = Object.entries(error.fields || {}).map(([field, why]) => `${field}: ${why}`);
      showError("replay-error", { message: [error.message, ...named].join(" ") });
    }
  });

  // --- the page ---------------------------------------------------------------------------
  async function load() {
    try {
      const data = await DeskPilotApi.call("GET", `/api/analytics?${query}`);
      showSummary(data);
      showCurve(data.equity_curve);
      showHistogram(data.equity_curve);
    } catch (error) {
      showError("error", error);
    }
  }

  bySelect.addEventListener("change", showBreakdown);
  load();
  showBreakdown();
  showGroups();
})();
