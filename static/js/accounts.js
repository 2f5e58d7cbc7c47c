// The accounts page: each account's funded-account rules with the room left before a breach
// (GET /api/risk/<id>/room), measured again as the live P&L, trades and log move.
"use strict";

(() => {
  const LIVE_EVENTS = ["pnl", "trade", "log"];
  const REFRESH_GAP_MS = 2000; // the room is measured at most this often
  const lists = Array.from(document.querySelectorAll("[data-room-for]"));
  if (!lists.length) return;

  const LABELS = {
    trailing_drawdown: "Trailing drawdown",
    daily_loss: "Daily loss",
    weekly_loss: "Weekly loss",
    daily_profit_target: "Daily profit target",
    weekly_profit_target: "Weekly profit target",
    profit_lock: "Profit lock",
    consistency: "Consistency",
    loss_cooldown: "Loss cooldown",
    consecutive_losses: "Losses in a row",
  };

  // Dollars from the API's decimal text, at least to the cent, never through a float.
  function dollars(text) {
    const negative = text.startsWith("-");
    const [whole, fraction = ""] = (negative ? text.slice(1) : text).split(".");
    const cents = fraction.length >= 2 ? fraction : fraction.padEnd(2, "0");
    return `${negative ? "-" : ""}$${whole}.${cents}`;
  }

  function amount(value, unit) {
    if (unit === "usd") return dollars(value);
    if (unit === "minutes") return `${value} min`;
    return `${value}`;
  }

  function line(item) {
    const li = document.createElement("li");
    const label = LABELS[item.rule] || item.rule;
    const state = item.breached ? "breached" : item.warning ? "warning" : "ok";
    li.className = `room-${state}`;
    li.dataset.rule = item.rule;
    const head = document.createElement("strong");
    head.textContent = item.breached
      ? `${label}: breached (${item.action === "flatten" ? "flatten and halt" : "entries refused"})`
      : `${label}: ${amount(item.room_left, item.unit)} left of ${amount(item.limit, item.unit)}`;
    const detail = document.createElement("small");
    detail.className = "muted";
    detail.textContent = ` — ${item.detail}`;
    li.append(head, detail);
    return li;
  }

  async function refresh() {
    await Promise.all(lists.map(async (list) => {
      try {
        const answer = await DeskPilotApi.call("GET", `/api/risk/${list.dataset.roomFor}/room`);
        const items = answer.items.map(line);
        if (!items.length) {
          const none = document.createElement("li");
          none.className = "muted";
          none.textContent = "None set.";
          items.push(none);
        }
        list.replaceChildren(...items);
      } catch (error) {
        list.replaceChildren(Object.assign(document.createElement("li"), {
          className: "muted", textContent: `not measured: ${error.message}`,
        }));
      }
    }));
  }

  refresh();
  DeskPilotLive.refreshOn(LIVE_EVENTS, refresh, { gapMs: REFRESH_GAP_MS });
})();
