// The analytics page: the filtered trades' metrics (GET /api/analytics) as cards, their
// equity curve and drawdown, a breakdown table and a Monte Carlo projection. Money is
// shown from the API's decimal strings (DeskPilotMoney); Number() only places points on a
// chart, where a float's last digit cannot be seen.
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

  // --- the page ---------------------------------------------------------------------------
  async function load() {
    try {
      const data = await DeskPilotApi.call("GET", `/api/analytics?${query}`);
      showSummary(data);
      showCurve(data.equity_curve);
    } catch (error) {
      showError("error", error);
    }
  }

  bySelect.addEventListener("change", showBreakdown);
  load();
  showBreakdown();
})();
