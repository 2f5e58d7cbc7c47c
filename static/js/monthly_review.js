// The analytics page's monthly review: per strategy, the picked month's figures against the
// month before (GET /api/analytics/monthly-review), an arrow for each change coloured by
// whether it is for the better, the best and worst trades and what changed. Built with
// textContent only; money shown from the API's decimal strings (DeskPilotMoney).
"use strict";

(() => {
  const box = document.querySelector('[data-testid="monthly-review"]');
  if (!box) return;
  const money = DeskPilotMoney;
  const dom = DeskPilotDom;
  const picker = box.querySelector('[data-role="review-month"]');
  const cards = box.querySelector('[data-role="review-cards"]');
  const errorBox = box.querySelector('[data-role="review-error"]');
  const page = document.getElementById("analytics");
  const strategyId = page ? JSON.parse(page.dataset.filters).strategy_id : "";
  const MONEY = new Set(["net_pnl", "expectancy", "max_drawdown"]);
  const SUFFIX = { win_rate: " %" };

  // The last month, by the browser's calendar: the one a review is usually read for.
  function lastMonth() {
    const now = new Date();
    const back = new Date(now.getFullYear(), now.getMonth() - 1, 1);
    return `${back.getFullYear()}-${String(back.getMonth() + 1).padStart(2, "0")}`;
  }

  function shown(figure, value, signed = false) {
    if (value === null || value === undefined) return "—";
    if (MONEY.has(figure)) return money.text(value, { signed });
    const text = typeof value === "number" && signed && value > 0 ? `+${value}` : String(value);
    return `${text}${SUFFIX[figure] || ""}`;
  }

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  // ▲ a rise, ▼ a fall, = no change; green when better, red when worse, plain otherwise.
  function changeCell(item) {
    if (item.change === null) return dom.cell("—", "num");
    const direction = typeof item.change === "string" ? money.sign(item.change) : Math.sign(item.change);
    const arrow = direction > 0 ? "▲" : direction < 0 ? "▼" : "=";
    const tone = item.verdict === "better" ? " up" : item.verdict === "worse" ? " down" : "";
    const td = dom.cell(`${arrow} ${shown(item.figure, item.change, true)}`, `num${tone}`);
    td.dataset.verdict = item.verdict || "";
    return td;
  }

  function figuresTable(review, month, previous) {
    const table = element("table", undefined, "table compact");
    const head = element("tr");
    head.append(element("th", ""), element("th", month, "num"), element("th", previous, "num"),
      element("th", "Change", "num"));
    table.createTHead().append(head);
    const body = table.createTBody();
    for (const item of review.figures) {
      const row = element("tr");
      row.dataset.figure = item.figure;
      row.append(dom.cell(item.label), dom.cell(shown(item.figure, item.current), "num"),
        dom.cell(shown(item.figure, item.previous), "num"), changeCell(item));
      body.append(row);
    }
    return table;
  }

  function tradeLine(label, trade, role) {
    const line = element("p", undefined, "small");
    line.dataset.role = role;
    line.append(element("strong", `${label}: `));
    if (!trade) {
      line.append(element("span", "—", "muted"));
      return line;
    }
    const pnl = element("span", money.text(trade.pnl, { signed: true }), money.tone(trade.pnl));
    line.append(pnl, ` ${trade.side} ${trade.qty} ${trade.symbol}, closed ${dom.timeOf(trade.exit_time)} UTC `,
      dom.link(`trade #${trade.id}`, `/trades/${trade.id}`));
    return line;
  }

  function changeText(change) {
    const fields = Object.entries(change.fields)
      .map(([name, [before, after]]) => `${name} ${JSON.stringify(before)} → ${JSON.stringify(after)}`);
    return `${dom.timeOf(change.time)} UTC: ${change.message}${fields.length ? ` (${fields.join(", ")})` : ""}`;
  }

  function whatChanged(review) {
    const list = element("ul", undefined, "small");
    list.dataset.role = "changes";
    for (const shift of review.shifts) {
      const item = element("li");
      item.dataset.kind = "shift";
      item.append(dom.tag(shift.good ? "better" : "worse", shift.good ? "tag-ok" : "tag-danger"),
        ` ${shift.text}`);
      list.append(item);
    }
    for (const change of review.settings_changes) {
      const item = element("li", changeText(change));
      item.dataset.kind = "setting";
      list.append(item);
    }
    if (!list.children.length) list.append(element("li", "Nothing: same settings, no large move.", "muted"));
    return list;
  }

  function card(review, month, previous) {
    const article = element("article", undefined, "card");
    article.dataset.testid = "review-card";
    article.dataset.strategy = review.strategy_id === null ? "all" : String(review.strategy_id);
    const head = element("div", undefined, "card-head");
    head.append(element("h3", review.name));
    article.append(head, figuresTable(review, month, previous),
      tradeLine("Best trade", review.best_trade, "best"),
      tradeLine("Worst trade", review.worst_trade, "worst"),
      element("h4", "What changed"), whatChanged(review));
    return article;
  }

  // Answers can arrive out of order (the first month's read still running when another is
  // picked): only the latest request's answer is shown.
  let latest = 0;

  async function load() {
    const month = picker.value;
    if (!month) return;
    const query = new URLSearchParams({ month });
    if (strategyId) query.set("strategy_id", strategyId);
    const asked = ++latest;
    try {
      const data = await DeskPilotApi.call("GET", `/api/analytics/monthly-review?${query}`);
      if (asked !== latest) return;
      errorBox.hidden = true;
      cards.replaceChildren(...data.reviews.map((review) => card(review, data.month, data.previous_month)));
    } catch (error) {
      if (asked !== latest) return;
      errorBox.textContent = error.message;
      errorBox.hidden = false;
      cards.replaceChildren();
    }
  }

  picker.value = lastMonth();
  picker.addEventListener("change", load);
  load();
})();
