// The charts page: a symbol's bars from GET /api/bars in one of five styles. Candles and
// Heikin-Ashi are candlesticks with volume below; Renko bricks are candlesticks placed by
// their index (bricks are not time-based: the legend names each brick's time); Kagi is two
// step lines, thick yang and thin yin; point & figure columns are drawn on a canvas of the
// page's own, with its price axis. The controls live in the URL's query. The open candle
// follows `bar` events (the open 1-minute bar of a symbol); other styles read the API again
// at most every few seconds. The trader's fills are markers, working stops dashed lines.
// Number() here only places points on the screen; no money is figured with it.
"use strict";

(() => {
  const root = document.getElementById("charts");
  if (!root) return;

  const lib = window.LightweightCharts;
  const form = root.querySelector('[data-role="controls"]');
  const chartBox = root.querySelector('[data-testid="chart"]');
  const plot = chartBox.querySelector('[data-role="plot"]');
  const canvas = chartBox.querySelector('[data-role="pnf"]');
  const legend = root.querySelector('[data-role="legend"]');
  const empty = root.querySelector('[data-role="chart-empty"]');
  const errorBox = root.querySelector('[data-role="error"]');

  const UP = "#3fb97a";
  const DOWN = "#e5534b";
  const STOP = "#e0a93a";
  const TEXT = "#8493a3";
  const GRID = "#1c252f";
  const PARAMS = { renko: ["box"], kagi: ["reversal"], "point-and-figure": ["box", "reversal"] };
  // What a style starts with when its parameter is blank (Renko's blank box is the ATR's).
  const DEFAULTS = { kagi: { reversal: "0.2%" }, "point-and-figure": { box: "1", reversal: "3" } };
  const LABELS = {
    renko: { box: "Box (blank: ATR)" },
    kagi: { reversal: "Reversal (price or %)" },
    "point-and-figure": { box: "Box", reversal: "Reversal (boxes)" },
  };
  const PERIOD_SECONDS = { "1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400 };
  // Heikin-Ashi is read again (its rounding is the server's), the bricks, lines and columns
  // less often: a new price rarely moves them.
  const RELOAD_GAP_MS = { "heikin-ashi": 1000, renko: 3000, kagi: 3000, "point-and-figure": 3000 };

  const seconds = (iso) => Math.floor(Date.parse(iso) / 1000);
  const utcText = (time) => new Date(time * 1000).toISOString().slice(0, 16).replace("T", " ");

  // --- the controls and the URL ---------------------------------------------------------------

  function controls() {
    const data = new FormData(form);
    const style = data.get("style");
    const params = { symbol: data.get("symbol").trim(), timeframe: data.get("timeframe"), style };
    for (const name of PARAMS[style] || []) {
      const value = data.get(name).trim();
      if (value) params[name] = value;
    }
    return params;
  }

  // Show the parameters of the chosen style, named as that style reads them, with its
  // defaults where they are blank.
  function fitParams() {
    const style = form.elements.style.value;
    form.querySelectorAll("[data-styles]").forEach((label) => {
      label.hidden = !label.dataset.styles.split(" ").includes(style);
    });
    for (const name of PARAMS[style] || []) {
      const input = form.elements[name];
      if (!input.value.trim() && DEFAULTS[style]?.[name]) input.value = DEFAULTS[style][name];
      root.querySelector(`[data-role="${name}-label"]`).textContent = LABELS[style][name];
    }
  }

  function keepInUrl(params, push) {
    const url = `${window.location.pathname}?${new URLSearchParams(params)}`;
    if (url === `${window.location.pathname}${window.location.search}`) return;
    window.history[push ? "pushState" : "replaceState"](null, "", url);
  }

  function clearErrors() {
    errorBox.hidden = true;
    errorBox.textContent = "";
    form.querySelectorAll("[data-error-for]").forEach((note) => {
      note.hidden = true;
      note.textContent = "";
      const input = form.elements[note.dataset.errorFor];
      input?.classList.remove("field-invalid");
      input?.removeAttribute("aria-invalid");
    });
  }

  // The API's refusal next to the field it names; the rest above the chart.
  function showError(error) {
    let placed = false;
    Object.entries(error.fields || {}).forEach(([field, text]) => {
      const note = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
      if (!note || note.parentElement.closest("[hidden]")) return; // not this style's
      note.textContent = `${field} ${text}`;
      note.hidden = false;
      form.elements[field].classList.add("field-invalid");
      form.elements[field].setAttribute("aria-invalid", "true");
      placed = true;
    });
    if (!placed) {
      errorBox.textContent = error.message;
      errorBox.hidden = false;
    }
  }

  // --- the library's chart: candles, bricks and Kagi lines -------------------------------------

  // Renko and Kagi are placed by index; `labels` names each index's time for the axis.
  let labels = null;
  let chart = null;
  let series = [];
  let priced = null; // the series that carries the fills and the stops
  let markers = null;
  let stopLines = [];

  // A new chart for each drawing: the library keeps the axis labels it made per time, and
  // index-placed styles reuse the same times for other moments.
  function newChart() {
    chart?.remove();
    series = [];
    priced = null;
    markers = null;
    stopLines = [];
    labels = null;
    chart = lib.createChart(plot, {
      autoSize: true,
      layout: {
        background: { type: lib.ColorType.Solid, color: "#161d25" },
        textColor: TEXT,
        fontSize: 11,
        attributionLogo: false, // it adds a <style> element, which the CSP refuses
      },
      grid: { vertLines: { color: GRID }, horzLines: { color: GRID } },
      rightPriceScale: { borderColor: "#26313d" },
      timeScale: {
        borderColor: "#26313d",
        timeVisible: true,
        secondsVisible: false,
        tickMarkFormatter: (time) => (labels ? labels.get(time) ?? "" : null),
      },
      localization: { timeFormatter: (time) => (labels ? labels.get(time) ?? "" : utcText(time)) },
      crosshair: { mode: lib.CrosshairMode.Normal },
      handleScroll: { vertTouchDrag: false },
    });
    chart.subscribeCrosshairMove((param) => {
      if (!state.answer || !labels) return;
      const time = param.time === undefined ? null : labels.get(param.time);
      showLegend(time ? `at ${time}` : null);
    });
  }

  const candle = (item, time) => ({
    time, open: Number(item.open), high: Number(item.high), low: Number(item.low), close: Number(item.close),
  });

  function candleSeries() {
    return chart.addSeries(lib.CandlestickSeries, {
      upColor: UP, downColor: DOWN, borderVisible: false, wickUpColor: UP, wickDownColor: DOWN,
    });
  }

  function drawCandles(items) {
    const prices = candleSeries();
    prices.setData(items.map((item) => candle(item, seconds(item.time))));
    const volume = chart.addSeries(lib.HistogramSeries, {
      priceScaleId: "volume", priceFormat: { type: "volume" }, lastValueVisible: false, priceLineVisible: false,
    });
    volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    volume.setData(items.map((item) => volumeBar(item, seconds(item.time))));
    series.push(prices, volume);
    return prices;
  }

  const volumeBar = (item, time) => ({
    time, value: item.volume, color: Number(item.close) >= Number(item.open) ? "#3fb97a55" : "#e5534b55",
  });

  function drawRenko(bricks) {
    labels = new Map(bricks.map((brick, i) => [i + 1, utcText(seconds(brick.time))]));
    const prices = candleSeries();
    prices.setData(bricks.map((brick, i) => {
      const [low, high] = [brick.open, brick.close].map(Number).sort((a, b) => a - b);
      return { time: i + 1, open: Number(brick.open), close: Number(brick.close), high, low };
    }));
    series.push(prices);
    return prices;
  }

  // Point k sits at 2k + 1; the line from it to the next is drawn by the series of its
  // thickness, the other series holding a gap (a whitespace item) at 2k + 2.
  function drawKagi(points) {
    labels = new Map();
    const lines = {
      yang: { width: 4, data: new Map() },
      yin: { width: 1, data: new Map() },
    };
    points.forEach((point, k) => {
      const x = 2 * k + 1;
      labels.set(x, utcText(seconds(point.time)));
      labels.set(x + 1, utcText(seconds(point.time)));
      if (k === points.length - 1) return;
      const own = lines[point.thickness];
      own.data.set(x, Number(point.price));
      own.data.set(x + 2, Number(points[k + 1].price));
      const other = lines[point.thickness === "yang" ? "yin" : "yang"];
      if (!other.data.has(x + 1)) other.data.set(x + 1, null);
    });
    for (const [name, line] of Object.entries(lines)) {
      const made = chart.addSeries(lib.LineSeries, {
        color: name === "yang" ? UP : DOWN, lineWidth: line.width, lineType: lib.LineType.WithSteps,
        lastValueVisible: false, priceLineVisible: false, title: name,
      });
      made.setData(Array.from(line.data.entries())
        .sort((a, b) => a[0] - b[0])
        .map(([time, value]) => (value === null ? { time } : { time, value })));
      series.push(made);
    }
    return series[0];
  }

  // --- point & figure on the page's own canvas ---------------------------------------------------

  const PNF_AXIS = 72;
  const decimalsOf = (text) => (String(text).split(".")[1] || "").length;

  function drawPnf(columns, box, stops) {
    const width = chartBox.clientWidth;
    const height = chartBox.clientHeight;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    const ctx = canvas.getContext("2d");
    ctx.scale(ratio, ratio);
    ctx.fillStyle = "#161d25";
    ctx.fillRect(0, 0, width, height);
    if (!columns.length) return 0;
    const step = Number(box);
    const places = Math.max(decimalsOf(box), ...columns.map((c) => decimalsOf(c.low)));
    const rowsOf = (cols) => Math.round((Math.max(...cols.map((c) => Number(c.high)))
      - Math.min(...cols.map((c) => Number(c.low)))) / step) + 1;
    let cell = Math.max(6, Math.min(24, Math.floor((height - 16) / rowsOf(columns))));
    const shown = columns.slice(-Math.max(1, Math.floor((width - PNF_AXIS - 8) / cell)));
    cell = Math.max(4, Math.min(cell, Math.floor((height - 16) / rowsOf(shown))));
    const top = Math.max(...shown.map((c) => Number(c.high)));
    const bottom = Math.min(...shown.map((c) => Number(c.low)));
    const y = (level) => 8 + Math.round((top - level) / step) * cell;
    ctx.lineWidth = 1.5;
    shown.forEach((column, i) => {
      const x = 8 + i * cell;
      for (let k = 0; k < column.boxes; k += 1) {
        const at = y(Number(column.low) + k * step);
        ctx.strokeStyle = column.direction === "X" ? UP : DOWN;
        ctx.beginPath();
        if (column.direction === "X") {
          ctx.moveTo(x + 2, at + 2); ctx.lineTo(x + cell - 2, at + cell - 2);
          ctx.moveTo(x + cell - 2, at + 2); ctx.lineTo(x + 2, at + cell - 2);
        } else {
          ctx.arc(x + cell / 2, at + cell / 2, cell / 2 - 2, 0, 2 * Math.PI);
        }
        ctx.stroke();
      }
    });
    pnfAxis(ctx, { width, top, bottom, step, cell, places, y });
    pnfStops(ctx, { width, top, bottom, step, cell, places, y }, stops);
    return shown.length;
  }

  function pnfAxis(ctx, { width, top, bottom, step, cell, places, y }) {
    const every = Math.max(1, Math.ceil(14 / cell));
    ctx.fillStyle = TEXT;
    ctx.font = "11px sans-serif";
    ctx.textBaseline = "middle";
    ctx.fillRect(width - PNF_AXIS, 0, 1, chartBox.clientHeight);
    const rows = Math.round((top - bottom) / step);
    for (let k = 0; k <= rows; k += every) {
      const level = bottom + k * step;
      ctx.fillText(level.toFixed(places), width - PNF_AXIS + 6, y(level) + cell / 2);
    }
  }

  function pnfStops(ctx, { width, step, cell, places, y }, stops) {
    ctx.strokeStyle = STOP;
    ctx.fillStyle = STOP;
    ctx.setLineDash([4, 3]);
    for (const stop of stops) {
      const at = y(Math.floor(Number(stop.stop_price) / step) * step) + cell / 2;
      ctx.beginPath();
      ctx.moveTo(0, at);
      ctx.lineTo(width - PNF_AXIS, at);
      ctx.stroke();
      ctx.fillText(`stop ${Number(stop.stop_price).toFixed(places)}`, 8, at - 6);
    }
    ctx.setLineDash([]);
  }

  // --- reading and drawing -----------------------------------------------------------------

  const state = { params: null, answer: null, candles: [], marks: { fills: [], stops: [] }, live: null };
  let asked = 0;

  async function load() {
    const params = controls();
    const ask = ++asked;
    let answer;
    try {
      answer = await DeskPilotApi.call("GET", `/api/bars?${new URLSearchParams(params)}`);
    } catch (error) {
      if (ask !== asked) return;
      clearErrors();
      showError(error);
      return;
    }
    if (ask !== asked) return; // a later ask answers instead
    clearErrors();
    state.params = params;
    state.answer = answer;
    state.live = { readMinute: Math.floor(Date.now() / 60000) * 60, minute: null, volume: 0 };
    draw();
  }

  function draw() {
    const { answer } = state;
    const pnf = answer.style === "point-and-figure";
    newChart();
    plot.hidden = pnf;
    canvas.hidden = !pnf;
    let count;
    state.candles = answer.style === "candles" || answer.style === "heikin-ashi"
      ? answer.items.map((item) => ({ ...candle(item, seconds(item.time)), volume: item.volume }))
      : [];
    if (pnf) {
      count = drawPnf(answer.items, answer.box, state.marks.stops);
      chartBox.dataset.fills = "0"; // columns are not time-based: a fill has no place
      chartBox.dataset.stops = String(state.marks.stops.length);
    } else {
      if (answer.style === "renko") priced = drawRenko(answer.items);
      else if (answer.style === "kagi") priced = drawKagi(answer.items);
      else priced = drawCandles(answer.items);
      markers = lib.createSeriesMarkers(priced, []);
      chart.timeScale().fitContent();
      count = answer.items.length;
      mark();
    }
    chartBox.dataset.count = String(count);
    chartBox.dataset.style = answer.style;
    empty.hidden = answer.items.length > 0;
    showLegend();
    showLast();
  }

  function showLegend(hovered) {
    const { answer } = state;
    const parts = [answer.symbol, answer.timeframe, answer.style.replace(/-/g, " ")];
    if (answer.box) parts.push(`box ${answer.box}`);
    if (answer.reversal) parts.push(`reversal ${answer.reversal}`);
    if (hovered) parts.push(hovered);
    legend.textContent = parts.join(" · ");
  }

  function showLast() {
    const last = state.candles[state.candles.length - 1];
    chartBox.dataset.lastClose = last ? String(last.close) : "";
    chartBox.dataset.lastTime = last ? utcText(last.time) : "";
  }

  // --- live -----------------------------------------------------------------------------------

  // Read again on every (re)connection; `bar` events ask through `reloadSoon`.
  const reload = DeskPilotLive.refreshOn([], () => { if (state.params) load(); });
  let reloadTimer = null;

  function reloadSoon(gapMs) {
    if (reloadTimer) return;
    reloadTimer = setTimeout(() => { reloadTimer = null; reload(); }, gapMs);
  }

  // Fold the open minute into the last candle, or start the next one. The bar carries the
  // minute's volume so far: a minute seen before adds what it grew by; the minute open when
  // the API was read is already counted up to then (the ticks between the read and its
  // first event go uncounted until the next read).
  function fold(bar) {
    const time = seconds(bar.time);
    const period = PERIOD_SECONDS[state.params.timeframe];
    const last = state.candles[state.candles.length - 1];
    const start = state.params.timeframe === "1d"
      ? (last && time >= last.time && time < last.time + period ? last.time : null)
      : time - (time % period);
    if (start === null) { reload(); return; } // a new trading day: the server names it
    if (last && start < last.time) return;
    const { live } = state;
    let grew = bar.volume;
    if (live.minute === time) grew = bar.volume - live.volume;
    else if (time <= live.readMinute) grew = 0;
    live.minute = time;
    live.volume = bar.volume;
    const next = last && start === last.time
      ? { ...last, high: Math.max(last.high, Number(bar.high)), low: Math.min(last.low, Number(bar.low)),
          close: Number(bar.close), volume: last.volume + grew }
      : { time: start, open: Number(bar.open), high: Number(bar.high), low: Number(bar.low),
          close: Number(bar.close), volume: bar.volume };
    if (last && start === last.time) state.candles[state.candles.length - 1] = next;
    else state.candles.push(next);
    series[0].update(next);
    series[1].update(volumeBar(next, next.time));
    chartBox.dataset.count = String(state.candles.length);
    showLast();
  }

  DeskPilotLive.on("bar", (bar) => {
    if (!state.answer || bar.symbol !== state.answer.symbol) return;
    if (state.answer.style === "candles") fold(bar);
    else reloadSoon(RELOAD_GAP_MS[state.answer.style]);
  });

  // --- the trader's fills and working stops ------------------------------------------------

  // The index of the last drawn item at or before `time` (fills land on their bar).
  function placeOf(time) {
    const times = state.answer.style === "renko" || state.answer.style === "kagi"
      ? state.answer.items.map((item, i) => [seconds(item.time),
        state.answer.style === "renko" ? i + 1 : 2 * i + 1])
      : state.candles.map((c) => [c.time, c.time]);
    let found = null;
    for (const [at, x] of times) {
      if (at > time) break;
      found = x;
    }
    return found;
  }

  function mark() {
    if (!priced || !state.answer) return;
    const fills = state.marks.fills
      .map((order) => ({ order, time: placeOf(seconds(order.updated_at)) }))
      .filter(({ time }) => time !== null)
      .sort((a, b) => a.time - b.time)
      .map(({ order, time }) => ({
        time,
        position: order.side === "buy" ? "atPriceBottom" : "atPriceTop",
        price: Number(order.avg_fill_price),
        shape: order.side === "buy" ? "arrowUp" : "arrowDown",
        color: order.side === "buy" ? UP : DOWN,
        text: `${order.side} ${order.filled_qty}`, // its price is where it stands
      }));
    markers.setMarkers(fills);
    stopLines.forEach((line) => priced.removePriceLine(line));
    stopLines = state.marks.stops.map((stop) => priced.createPriceLine({
        price: Number(stop.stop_price), color: STOP, lineWidth: 1, lineStyle: lib.LineStyle.Dashed,
        axisLabelVisible: true, title: `stop ${stop.side} ${stop.qty}`,
      }));
    chartBox.dataset.fills = String(fills.length);
    chartBox.dataset.stops = String(state.marks.stops.length);
  }

  // Filled orders carry their average fill price; an order's last change is its fill.
  async function loadMarks() {
    if (!state.answer) return;
    const symbol = state.answer.symbol;
    try {
      const [recent, working] = await Promise.all([
        DeskPilotApi.call("GET", "/api/orders"),
        DeskPilotApi.call("GET", "/api/orders?status=working"),
      ]);
      state.marks = {
        fills: recent.items.filter((o) => o.symbol === symbol && o.filled_qty > 0 && o.avg_fill_price),
        stops: working.items.filter((o) => o.symbol === symbol && o.stop_price),
      };
    } catch (error) {
      console.warn("fills and stops not read", error);
      return;
    }
    if (state.answer.symbol !== symbol) return;
    if (state.answer.style === "point-and-figure") draw();
    else mark();
  }

  DeskPilotLive.refreshOn(["fill", "order"], loadMarks, { gapMs: 1000 });

  // --- wiring ---------------------------------------------------------------------------------

  async function show(push) {
    fitParams();
    keepInUrl(controls(), push);
    await load();
    await loadMarks();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    show(true);
  });
  form.elements.style.addEventListener("change", () => {
    form.elements.box.value = ""; // one style's box or reversal means nothing to another
    form.elements.reversal.value = "";
    show(true);
  });
  form.elements.timeframe.addEventListener("change", () => show(true));
  window.addEventListener("popstate", () => window.location.reload());
  new ResizeObserver(() => {
    if (state.answer?.style === "point-and-figure") draw();
  }).observe(chartBox);

  show(false);
})();
