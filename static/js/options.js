// The options page: a calculator (POST /api/options/greeks or /implied-volatility), the
// upload of a chain (POST /api/options/chains, CSV or JSON), and a chain's analytics
// (GET /api/options/chains/<id>/analytics) as a table, a smile chart (Lightweight Charts'
// options chart: a price-based horizontal axis) and a surface drawn as a heat map on a
// canvas. Figures are shown from the API's decimal strings; Number() only places points.
"use strict";

(() => {
  const root = document.getElementById("options");
  if (!root) return;
  const $ = (selector) => root.querySelector(selector);
  const dom = DeskPilotDom;
  const COLORS = ["#4da3ff", "#3fb97a", "#e0a93a", "#b39ddb", "#4dd0c8", "#f07aa9"];
  const FIELD_DIGITS = { price: 4, implied_volatility: 6, delta: 4, gamma: 6, theta: 4,
    theta_per_day: 4, vega: 4, rho: 4 };

  function showError(role, error) {
    const box = $(`[data-role="${role}"]`);
    const fields = error?.fields ? Object.entries(error.fields) : [];
    const detail = fields.length ? ` (${fields.map(([name, words]) => `${name}: ${words}`).join("; ")})` : "";
    box.textContent = error ? `${error.message}${detail}` : "";
    box.hidden = !error;
  }

  // A model's figure rounded to `digits` decimals for reading (the API keeps ten
  // significant digits); null is a dash. These are statistics, not money: a float may
  // round them.
  function figure(value, digits = 4) {
    if (value === null || value === undefined) return "—";
    return Number(value).toFixed(digits);
  }

  // --- the calculator ---------------------------------------------------------------------
  const calculator = $('[data-role="calculator"]');

  function syncCalculator() {
    const fields = calculator.elements;
    for (const label of calculator.querySelectorAll("[data-mode]")) {
      label.hidden = label.dataset.mode !== fields.mode.value;
    }
    for (const label of calculator.querySelectorAll("[data-model]")) {
      label.hidden = label.dataset.model !== fields.model.value;
    }
  }

  function calculatorBody() {
    const fields = calculator.elements;
    const body = { model: fields.model.value, option_type: fields.option_type.value };
    for (const name of ["underlying", "strike", "rate"]) body[name] = fields[name].value.trim();
    if (fields.years.value.trim()) body.years = fields.years.value.trim();
    if (fields.expiry.value) body.expiry = fields.expiry.value;
    if (fields.model.value === "bsm" && fields.dividend_yield.value.trim()) {
      body.dividend_yield = fields.dividend_yield.value.trim();
    }
    const solved = fields.mode.value === "greeks" ? "volatility" : "price";
    body[solved] = fields[solved].value.trim();
    return body;
  }

  function showResult(data) {
    for (const [field, digits] of Object.entries(FIELD_DIGITS)) {
      $(`[data-testid="calculator-result"] [data-field="${field}"]`).textContent =
        field in data ? figure(data[field], digits) : "—";
    }
  }

  calculator.addEventListener("change", syncCalculator);
  calculator.addEventListener("submit", async (event) => {
    event.preventDefault();
    const mode = calculator.elements.mode.value;
    try {
      showError("calculator-error", null);
      showResult(await DeskPilotApi.call("POST", `/api/options/${mode}`, calculatorBody()));
    } catch (error) {
      showResult({});
      showError("calculator-error", error);
    }
  });

  // --- the upload -------------------------------------------------------------------------
  const upload = $('[data-role="upload"]');

  // A CSV goes as text with the chain's fields in the query; DeskPilotApi sends JSON only.
  async function postCsv(query, text) {
    const token = document.querySelector('meta[name="csrf-token"]')?.content || "";
    const response = await fetch(`/api/options/chains?${query}`, {
      method: "POST", credentials: "same-origin", body: text,
      headers: { "Content-Type": "text/csv", "X-CSRF-Token": token },
    });
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new DeskPilotApi.ApiError(response.status, data?.error);
    return data;
  }

  function uploadFields() {
    const fields = upload.elements;
    const found = { underlying: fields.underlying.value.trim(), model: fields.model.value,
      rate: fields.rate.value.trim(), underlying_price: fields.underlying_price.value.trim() };
    // datetime-local has no zone: the page says UTC, and Z says so to the server.
    if (fields.as_of.value) found.as_of = `${fields.as_of.value}Z`;
    return Object.fromEntries(Object.entries(found).filter(([, value]) => value));
  }

  upload.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = upload.elements.file.files[0];
    if (!file) return showError("upload-error", { message: "Choose a CSV or JSON file." });
    try {
      showError("upload-error", null);
      const text = await file.text();
      let chain;
      if (file.name.toLowerCase().endsWith(".json")) {
        let document;
        try {
          document = JSON.parse(text);
        } catch {
          throw new DeskPilotApi.ApiError(400, { message: "The file is not valid JSON." });
        }
        chain = await DeskPilotApi.call("POST", "/api/options/chains", { ...uploadFields(), ...document });
      } else {
        chain = await postCsv(new URLSearchParams(uploadFields()).toString(), text);
      }
      await loadChains(chain.id);
    } catch (error) {
      showError("upload-error", error);
    }
  });

  // --- the chain --------------------------------------------------------------------------
  const select = $('[data-role="chain-select"]');

  async function loadChains(selected) {
    try {
      const { items } = await DeskPilotApi.call("GET", "/api/options/chains");
      if (!items.length) return;
      select.replaceChildren(...items.map((chain) => {
        const option = document.createElement("option");
        option.value = chain.id;
        option.textContent = `#${chain.id} ${chain.underlying} · ${dom.timeOf(chain.as_of)} · ${chain.contracts} contracts`;
        return option;
      }));
      select.value = String(selected || items[0].id);
      await showChain(select.value);
    } catch (error) {
      showError("chain-error", error);
    }
  }

  function fillSummary(data) {
    const box = $('[data-testid="chain-summary"]');
    const set = (field, text) => { box.querySelector(`[data-field="${field}"]`).textContent = text; };
    const source = data.underlying_price_source === "parity" ? " (parity)" : "";
    set("underlying_price", data.underlying_price === null ? "unknown" : `${figure(data.underlying_price, 2)}${source}`);
    // Ratios and the max-pain strike are exact decimals: shown as the server sent them.
    set("put_call_volume_ratio", data.put_call_volume_ratio ?? "—");
    set("put_call_oi_ratio", data.put_call_oi_ratio ?? "—");
    set("max_pain", data.max_pain ?? "—");
    set("unusual", String(data.unusual.length));
  }

  function percent(value) {
    return value === null ? "—" : (Number(value) * 100).toFixed(2);
  }

  function fillTable(data) {
    const tbody = $('[data-role="contracts"]');
    if (!data.contracts.length) return dom.placeholder(tbody, 15, "The chain has no contracts.");
    const flagged = new Map(data.unusual.map((u) => [u.id, u.reasons]));
    tbody.replaceChildren(...data.contracts.map((c) => {
      const row = document.createElement("tr");
      row.dataset.contractId = c.id;
      const reasons = flagged.get(c.id);
      const mark = dom.cell("");
      if (reasons) {
        const tag = dom.tag("unusual", "tag-danger");
        tag.title = reasons.map((r) => r.replaceAll("_", " ")).join(", ");
        mark.append(tag);
        row.dataset.unusual = reasons.join(" ");
      }
      row.append(
        dom.cell(c.type), dom.cell(c.strike, "num"), dom.cell(c.expiry),
        dom.cell(c.bid ?? "—", "num"), dom.cell(c.ask ?? "—", "num"), dom.cell(c.last ?? "—", "num"),
        dom.cell(String(c.volume), "num"), dom.cell(String(c.open_interest), "num"),
        dom.cell(percent(c.iv), "num"), dom.cell(figure(c.delta), "num"), dom.cell(figure(c.gamma, 6), "num"),
        dom.cell(figure(c.theta_per_day), "num"), dom.cell(figure(c.vega), "num"),
        dom.cell(figure(c.moneyness), "num"), mark,
      );
      return row;
    }));
  }

  // --- the smile: implied volatility by strike, a line per expiry -------------------------
  const smileBox = $('[data-testid="smile-chart"]');
  let smileChart = null;

  function drawSmile(data) {
    if (smileChart) smileChart.remove();
    smileChart = null;
    let points = 0;
    if (typeof LightweightCharts !== "undefined") {
      const lib = LightweightCharts;
      smileChart = lib.createOptionsChart(smileBox, {
        autoSize: true,
        layout: { background: { type: lib.ColorType.Solid, color: "#161d25" }, textColor: "#8493a3",
          fontSize: 11, attributionLogo: false },
        grid: { vertLines: { color: "#1c252f" }, horzLines: { color: "#1c252f" } },
        rightPriceScale: { borderColor: "#26313d" },
        timeScale: { borderColor: "#26313d" },
        localization: { priceFormatter: (value) => `${value.toFixed(1)} %` },
      });
      data.surface.expiries.forEach((expiry, i) => {
        const line = data.surface.iv[i]
          .map((iv, j) => (iv === null ? null : { time: Number(data.surface.strikes[j]), value: Number(iv) * 100 }))
          .filter(Boolean);
        if (!line.length) return;
        const series = smileChart.addSeries(lib.LineSeries, {
          color: COLORS[i % COLORS.length], lineWidth: 2, title: expiry, pointMarkersVisible: true,
        });
        series.setData(line);
        points += line.length;
      });
      smileChart.timeScale().fitContent();
    }
    smileBox.dataset.points = String(points);
  }

  // --- the surface: a heat map, expiries down, strikes across -----------------------------
  const surfaceBox = $('[data-testid="surface-chart"]');
  const canvas = $('[data-role="surface"]');
  const MARGIN = { left: 86, top: 8, right: 12, bottom: 34 };

  // Blue (low) through yellow to red (high): a volatility's place between the least and most.
  function heat(share) {
    const hue = 220 - 220 * share;
    return `hsl(${hue}, 70%, ${42 + 8 * Math.sin(Math.PI * share)}%)`;
  }

  function drawSurface(surface) {
    const ratio = window.devicePixelRatio || 1;
    const width = surfaceBox.clientWidth;
    const height = surfaceBox.clientHeight;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    const ctx = canvas.getContext("2d");
    ctx.scale(ratio, ratio);
    ctx.fillStyle = "#161d25";
    ctx.fillRect(0, 0, width, height);
    const values = surface.iv.flat().filter((v) => v !== null).map(Number);
    const rows = surface.expiries.length;
    const columns = surface.strikes.length;
    surfaceBox.dataset.cells = String(values.length);
    if (!values.length) return;
    const low = Math.min(...values);
    const span = Math.max(...values) - low || 1;
    const cellWidth = (width - MARGIN.left - MARGIN.right) / columns;
    const cellHeight = (height - MARGIN.top - MARGIN.bottom) / rows;
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    surface.iv.forEach((row, i) => {
      const y = MARGIN.top + i * cellHeight;
      ctx.fillStyle = "#8493a3";
      ctx.textAlign = "right";
      ctx.fillText(surface.expiries[i], MARGIN.left - 6, y + cellHeight / 2);
      row.forEach((iv, j) => {
        const x = MARGIN.left + j * cellWidth;
        ctx.fillStyle = iv === null ? "#1c252f" : heat((Number(iv) - low) / span);
        ctx.fillRect(x + 1, y + 1, cellWidth - 2, cellHeight - 2);
        if (iv !== null && cellWidth > 38 && cellHeight > 14) {
          ctx.fillStyle = "#0b0f14";
          ctx.textAlign = "center";
          ctx.fillText((Number(iv) * 100).toFixed(1), x + cellWidth / 2, y + cellHeight / 2);
        }
      });
    });
    ctx.fillStyle = "#8493a3";
    ctx.textAlign = "center";
    const every = Math.max(1, Math.ceil(columns / Math.max(1, Math.floor((width - MARGIN.left) / 56))));
    surface.strikes.forEach((strike, j) => {
      if (j % every) return;
      ctx.fillText(strike, MARGIN.left + (j + 0.5) * cellWidth, height - MARGIN.bottom / 2);
    });
  }

  let shown = null;

  async function showChain(id) {
    if (!id) return;
    try {
      showError("chain-error", null);
      shown = await DeskPilotApi.call("GET", `/api/options/chains/${id}/analytics`);
      fillSummary(shown);
      fillTable(shown);
      drawSmile(shown);
      drawSurface(shown.surface);
    } catch (error) {
      showError("chain-error", error);
    }
  }

  select.addEventListener("change", () => showChain(select.value));
  window.addEventListener("resize", () => { if (shown) drawSurface(shown.surface); });
  syncCalculator();
  loadChains(Number(root.dataset.chainId) || null);
})();
