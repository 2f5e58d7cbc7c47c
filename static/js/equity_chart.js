// The equity curve and its drawdown (GET /api/dashboard/equity) on TradingView's
// Lightweight Charts: one equity line per account above, its drawdown below the zero line
// in a second pane. Number() here only places points on the screen; no money is figured.
"use strict";

const DeskPilotEquityChart = (() => {
  const COLORS = ["#4da3ff", "#3fb97a", "#e0a93a", "#b39ddb", "#4dd0c8", "#f07aa9"];
  const DRAWDOWN = "#e5534b";
  const DRAWDOWN_PANE_HEIGHT = 90;

  // Snapshots taken within one second share the chart's time: the last one stands for it.
  function byTime(items, field, negate = false) {
    const points = new Map();
    for (const item of items) {
      const time = Math.floor(Date.parse(item.time) / 1000);
      const value = Number(item[field]);
      points.set(time, { time, value: negate && value !== 0 ? -value : value });
    }
    return Array.from(points.values()).sort((a, b) => a.time - b.time);
  }

  function create(container) {
    if (typeof LightweightCharts === "undefined") return null;
    const lib = LightweightCharts;
    const chart = lib.createChart(container, {
      autoSize: true,
      layout: {
        background: { type: lib.ColorType.Solid, color: "#161d25" },
        textColor: "#8493a3",
        fontSize: 11,
        attributionLogo: false, // it adds a <style> element, which the CSP refuses
        panes: { separatorColor: "#26313d", enableResize: false },
      },
      grid: { vertLines: { color: "#1c252f" }, horzLines: { color: "#1c252f" } },
      rightPriceScale: { borderColor: "#26313d" },
      timeScale: { borderColor: "#26313d", timeVisible: true, secondsVisible: false },
      crosshair: { mode: lib.CrosshairMode.Magnet },
      handleScroll: { vertTouchDrag: false },
    });
    let series = [];

    function clear() {
      series.forEach((s) => chart.removeSeries(s));
      series = [];
    }

    // `curves`: [{label, items}] as the API answers them; the number of points plotted.
    function show(curves) {
      clear();
      let points = 0;
      curves.forEach((curve, i) => {
        if (!curve.items.length) return;
        const color = COLORS[i % COLORS.length];
        const equity = chart.addSeries(lib.LineSeries, {
          color, lineWidth: 2, title: curves.length > 1 ? curve.label : "Equity",
          pointMarkersVisible: curve.items.length < 40,
        }, 0);
        equity.setData(byTime(curve.items, "equity"));
        // Filled between the drawdown and zero, below the line only.
        const below = curves.length > 1 ? color : DRAWDOWN;
        const drawdown = chart.addSeries(lib.BaselineSeries, {
          baseValue: { type: "price", price: 0 }, lineWidth: 1,
          topLineColor: below, topFillColor1: "transparent", topFillColor2: "transparent",
          bottomLineColor: below, bottomFillColor1: "rgba(229, 83, 75, 0.10)",
          bottomFillColor2: "rgba(229, 83, 75, 0.40)", title: "Drawdown",
          lastValueVisible: false, priceLineVisible: false,
        }, 1);
        drawdown.setData(byTime(curve.items, "drawdown", true));
        series.push(equity, drawdown);
        points += curve.items.length;
      });
      const panes = chart.panes();
      if (panes.length > 1) panes[1].setHeight(DRAWDOWN_PANE_HEIGHT);
      chart.timeScale().fitContent();
      return points;
    }

    return { show };
  }

  return { create, colors: COLORS };
})();
window.DeskPilotEquityChart = DeskPilotEquityChart;
