// The accounts page: a Tradovate account's own auto-liquidation limits, read from the broker
// (GET /api/accounts/<id>/broker-limits) and offered as the account's rules, buffer included;
// nothing is saved until the trader applies them (PUT /api/risk/<id>).
"use strict";

(() => {
  const LABELS = {
    max_daily_loss: "Max daily loss",
    daily_profit_target: "Daily profit target",
    weekly_loss_limit: "Weekly loss limit",
    weekly_profit_target: "Weekly profit target",
    trailing_drawdown: "Trailing drawdown",
    trailing_drawdown_mode: "Drawdown trails",
    trailing_stops_at_start: "Drawdown stops at the starting balance",
    safety_buffer: "Safety buffer",
  };
  const MODES = { eod: "end of day", realtime: "in real time" };
  const DOLLARS = new Set([
    "max_daily_loss", "daily_profit_target", "weekly_loss_limit", "weekly_profit_target",
    "trailing_drawdown", "safety_buffer",
  ]);

  function shown(name, value) {
    if (DOLLARS.has(name)) return `$${value}`;
    if (name === "trailing_drawdown_mode") return MODES[value] || value;
    if (value === true) return "yes";
    return `${value}`;
  }

  function offer(box, limits) {
    const found = box.querySelector("[data-role=found]");
    const rules = limits.suggested_rules || {};
    const names = Object.keys(rules);
    if (!names.length) {
      found.textContent =
        "Tradovate sets no auto-liquidation limits on this account, or this login may not read them.";
      return;
    }
    const list = document.createElement("ul");
    list.className = "suggested-rules";
    names.forEach((name) => {
      const li = document.createElement("li");
      li.dataset.rule = name;
      li.textContent = `${LABELS[name] || name}: ${shown(name, rules[name])}`;
      list.append(li);
    });
    const note = document.createElement("p");
    note.className = "muted small";
    note.textContent = "DeskPilot acts the safety buffer before Tradovate would."
      + (limits.changes_locked ? " Tradovate has locked changes to these limits." : "");
    const apply = document.createElement("button");
    apply.type = "button";
    apply.className = "btn btn-primary";
    apply.textContent = "Use these as my rules";
    apply.addEventListener("click", async () => {
      apply.disabled = true;
      try {
        await DeskPilotApi.call("PUT", `/api/risk/${box.dataset.brokerLimits}`, rules);
        window.location.reload();
      } catch (error) {
        note.textContent = `Not saved: ${error.message}`;
        apply.disabled = false;
      }
    });
    found.replaceChildren(list, note, apply);
  }

  document.querySelectorAll("[data-broker-limits]").forEach((box) => {
    const read = box.querySelector("[data-role=read]");
    read.addEventListener("click", async () => {
      const found = box.querySelector("[data-role=found]");
      read.disabled = true;
      found.textContent = "Asking Tradovate…";
      try {
        offer(box, await DeskPilotApi.call("GET", `/api/accounts/${box.dataset.brokerLimits}/broker-limits`));
      } catch (error) {
        found.textContent = `Not read: ${error.message}`;
      } finally {
        read.disabled = false;
      }
    });
  });
})();
