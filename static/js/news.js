// The news page: fetch now (all due sources or one), the articles that pass the filters
// (GET /api/news) and the chosen symbol's sentiment per period (GET /api/sentiment) on
// Lightweight Charts. Sources are added, edited and deleted by forms.js.
"use strict";

(() => {
  const root = document.getElementById("news");
  if (!root) return;
  const { cell, tag, placeholder, timeOf } = DeskPilotDom;
  const filters = JSON.parse(root.dataset.filters);
  const REPORT_KEY = "deskpilot.news.fetchReport";
  const $ = (selector) => root.querySelector(selector);

  function showError(error) {
    const box = $('[data-role="filter-error"]');
    box.textContent = error.message;
    box.hidden = false;
  }

  // --- fetch now: the report survives the reload that shows the sources' new state -------

  function reportText(report) {
    const parts = [`Fetched ${report.fetched} article${report.fetched === 1 ? "" : "s"}: `
      + `${report.new} new, ${report.duplicates} already kept.`];
    report.errors.forEach((e) => parts.push(`${e.source}: ${e.message}.`));
    return parts.join(" ");
  }

  function showReport() {
    const saved = sessionStorage.getItem(REPORT_KEY);
    if (!saved) return;
    sessionStorage.removeItem(REPORT_KEY);
    const report = JSON.parse(saved);
    const box = $('[data-role="fetch-report"]');
    box.className = `flash ${report.errors.length ? "flash-error" : "flash-info"}`;
    box.textContent = reportText(report);
    box.hidden = false;
  }

  root.addEventListener("click", async (event) => {
    const button = event.target.closest('button[data-role="fetch"]');
    if (!button) return;
    button.disabled = true;
    const id = button.dataset.sourceId;
    try {
      const report = await DeskPilotApi.call("POST", "/api/news/fetch",
        id ? { source_id: Number(id) } : undefined);
      sessionStorage.setItem(REPORT_KEY, JSON.stringify(report));
      window.location.reload();
    } catch (error) {
      button.disabled = false;
      window.alert(error.message);
    }
  });

  // --- articles -----------------------------------------------------------------------------

  const articlesBody = $('[data-role="articles"]');

  function sentimentTag(sentiment) {
    const shown = tag(`${sentiment.label.replace("_", " ")} ${sentiment.score}`,
      `sentiment sentiment-${sentiment.label}`);
    shown.title = `score ${sentiment.score}, confidence ${sentiment.confidence}`;
    return shown;
  }

  function articleRow(article) {
    const row = document.createElement("tr");
    row.dataset.articleId = article.id;
    row.dataset.label = article.sentiment.label;
    const title = document.createElement("td");
    const link = document.createElement("a");
    link.href = article.url;
    link.rel = "noopener noreferrer";
    link.target = "_blank";
    link.textContent = article.title;
    title.append(link);
    if (article.summary) {
      const summary = document.createElement("div");
      summary.className = "muted small";
      summary.textContent = article.summary.length > 240
        ? `${article.summary.slice(0, 240)}…` : article.summary;
      title.append(summary);
    }
    const tickers = document.createElement("td");
    tickers.dataset.testid = "tickers";
    article.tickers.forEach((t) => tickers.append(tag(t, "mono"), " "));
    const sentiment = document.createElement("td");
    sentiment.append(sentimentTag(article.sentiment));
    row.append(cell(timeOf(article.published_at), "mono"), cell(article.source ?? "—"),
      title, tickers, sentiment);
    return row;
  }

  async function loadArticles() {
    const query = new URLSearchParams();
    if (filters.symbol) query.set("symbol", filters.symbol);
    if (filters.label) query.set("label", filters.label);
    try {
      const data = await DeskPilotApi.call("GET", `/api/news?${query}`);
      if (!data.items.length) {
        placeholder(articlesBody, 5, "No article passes the filters yet.");
        return;
      }
      articlesBody.replaceChildren(...data.items.map(articleRow));
    } catch (error) {
      placeholder(articlesBody, 5, "Could not load the articles.");
      showError(error);
    }
  }

  // --- the symbol's sentiment per period ----------------------------------------------------

  function drawChart(container, items) {
    if (typeof LightweightCharts === "undefined") return;
    const lib = LightweightCharts;
    const chart = lib.createChart(container, {
      autoSize: true,
      layout: {
        background: { type: lib.ColorType.Solid, color: "#161d25" },
        textColor: "#8493a3",
        fontSize: 11,
        attributionLogo: false, // it adds a <style> element, which the CSP refuses
      },
      grid: { vertLines: { color: "#1c252f" }, horzLines: { color: "#1c252f" } },
      rightPriceScale: { borderColor: "#26313d" },
      timeScale: { borderColor: "#26313d", timeVisible: true, secondsVisible: false },
    });
    const series = chart.addSeries(lib.BaselineSeries, {
      baseValue: { type: "price", price: 0 },
      topLineColor: "#3fb97a", topFillColor1: "rgba(63, 185, 122, 0.35)",
      topFillColor2: "rgba(63, 185, 122, 0.05)",
      bottomLineColor: "#e5534b", bottomFillColor1: "rgba(229, 83, 75, 0.05)",
      bottomFillColor2: "rgba(229, 83, 75, 0.35)",
      pointMarkersVisible: items.length < 60, title: "Sentiment",
      autoscaleInfoProvider: () => ({ priceRange: { minValue: -1, maxValue: 1 } }),
    });
    // Number() only places a score (a statistic, not money) on the screen.
    series.setData(items.map((item) => ({
      time: Math.floor(Date.parse(item.time) / 1000), value: Number(item.score),
    })));
    chart.timeScale().fitContent();
  }

  async function loadSentiment() {
    if (!filters.symbol) return;
    $('[data-role="chart-hint"]').hidden = true;
    const bucket = filters.bucket || "1h";
    const query = new URLSearchParams({ symbol: filters.symbol, bucket });
    try {
      const data = await DeskPilotApi.call("GET", `/api/sentiment?${query}`);
      $('[data-role="chart-card"]').hidden = false;
      $('[data-role="chart-title"]').textContent = `Sentiment of ${data.symbol} per ${bucket}`;
      const container = $('[data-testid="sentiment-chart"]');
      container.dataset.points = String(data.items.length);
      $('[data-role="chart-empty"]').hidden = data.items.length > 0;
      if (data.items.length) drawChart(container, data.items);
    } catch (error) {
      showError(error);
    }
  }

  showReport();
  loadArticles();
  loadSentiment();
})();
