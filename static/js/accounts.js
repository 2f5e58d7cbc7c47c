// The accounts page: each account's funded-account rules with the room left before a breach
// (GET /api/risk/<id>/room), measured again as the live P&L, trades and log move; and each
// account's broker connection, from the `status` event.
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
      : `${label}: ${amount(item.room_left, item.unit)} left before the ${amount(item.limit, item.unit)} limit`;
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

// Each account's broker connection, from the `status` event's broker_connections (DESIGN
// §5.5): the position poller's last word on it — connected, or the error it met. Only the
// jobs' process polls, so a web process's status (leader: false, and none polled) never
// overrides what the leader said lately; a lone process without jobs is heard as it is.
(() => {
  const LEADER_QUIET_MS = 20000; // as status.js: the leader speaks every 5 s
  const badges = Array.from(document.querySelectorAll("[data-connection-for]"));
  if (!badges.length) return;
  let leaderAt = 0;

  function show(badge, state) {
    const disabled = Boolean(badge.closest("tr")?.classList.contains("disabled"));
    if (state === undefined) {
      badge.dataset.state = "unknown";
      badge.textContent = disabled ? "not polled: disabled" : "not polled yet";
      badge.title = "The position poller has not reached this account yet.";
    } else if (state === "connected") {
      badge.dataset.state = "connected";
      badge.textContent = "connected";
      badge.title = "The last poll of the broker succeeded.";
    } else {
      badge.dataset.state = "error";
      badge.textContent = "connection error";
      badge.title = state.replace(/^error: /, "");
    }
  }

  DeskPilotLive.on("status", (status) => {
    const fromLeader = Boolean(status.scheduler?.leader);
    if (!fromLeader && Date.now() - leaderAt < LEADER_QUIET_MS) return;
    if (fromLeader) leaderAt = Date.now();
    const connections = status.broker_connections || {};
    badges.forEach((badge) => show(badge, connections[badge.dataset.connectionFor]));
  });
})();
