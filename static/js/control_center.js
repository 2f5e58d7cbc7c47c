// The control center: the order ticket, positions, working orders, live traders, halts,
// the live log and the kill switch. Live parts are read from the JSON API again as the live
// events say they changed (live.js), with a slow safety refresh; the log takes each `log`
// event's line as it is, and reads /api/logs only on load and after a reconnection.
"use strict";

(() => {
  const root = document.getElementById("control-center");
  if (!root) return;

  const LIVE_EVENTS = ["order", "fill", "position", "trade", "signal", "log", "status", "pnl"];
  const LOG_SIZE = 200;
  const accountNames = JSON.parse(root.dataset.accounts || "{}");
  const $ = (selector, scope = root) => scope.querySelector(selector);
  const $$ = (selector, scope = root) => Array.from(scope.querySelectorAll(selector));

  // --- small helpers ----------------------------------------------------------------------

  const { cell, tag, placeholder, signed, timeOf } = DeskPilotDom;

  function button(label, action, extraClass) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = `btn btn-quiet ${extraClass || ""}`.trim();
    b.dataset.action = action;
    b.textContent = label;
    return b;
  }

  function accountName(id) {
    return accountNames[id] || `#${id}`;
  }

  // Decimal strings shown signed, never through a float.
  const money = (value) => DeskPilotMoney.text(value, { signed: true });

  function flash(box, text, ok = true) {
    if (!box) return;
    box.textContent = text;
    box.className = `flash ${ok ? "flash-info" : "flash-error"}`;
    box.hidden = false;
  }

  function stamp() {
    const box = $('[data-role="refreshed"]');
    if (box) box.textContent = `updated ${new Date().toLocaleTimeString()}`;
  }

  // --- positions ---------------------------------------------------------------------------

  const positionsBody = $('[data-role="positions"]');
  const selected = new Set();

  function positionCells(row, p) {
    const pnl = p.unrealized_pnl === null ? null : Number(p.unrealized_pnl);
    const values = [
      accountName(p.account_id), p.symbol, signed(p.qty), p.avg_price ?? "—",
      p.last_price ?? "—", money(p.unrealized_pnl),
    ];
    const tds = row.querySelectorAll("td[data-col]");
    values.forEach((value, i) => { tds[i].textContent = value; });
    tds[2].className = `num ${p.qty > 0 ? "long" : "short"}`;
    tds[5].className = `num ${pnl > 0 ? "up" : pnl < 0 ? "down" : ""}`;
  }

  function newPositionRow(p) {
    const row = document.createElement("tr");
    row.dataset.positionId = p.id;
    const pick = document.createElement("td");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.dataset.role = "select";
    box.setAttribute("aria-label", `Select ${p.symbol} on ${accountName(p.account_id)}`);
    pick.append(box);
    row.append(pick);
    ["", "mono", "num", "num", "num", "num"].forEach((className, i) => {
      const td = cell("", className);
      td.dataset.col = i;
      row.append(td);
    });
    const actions = cell("", "actions");
    actions.append(button("Protect", "protect-position"), " ");
    actions.append(button("Close", "close-position", "btn-danger"));
    row.append(actions);
    return row;
  }

  function renderPositions(items) {
    $$("tr.placeholder", positionsBody).forEach((row) => row.remove());
    const seen = new Set();
    items.forEach((p) => {
      const id = String(p.id);
      seen.add(id);
      let row = positionsBody.querySelector(`tr[data-position-id="${id}"]`);
      if (!row) {
        row = newPositionRow(p);
        positionsBody.append(row);
      }
      row.dataset.symbol = p.symbol;
      row.dataset.accountId = p.account_id;
      row.dataset.qty = p.qty;
      row.dataset.avgPrice = p.avg_price ?? "";
      row.dataset.lastPrice = p.last_price ?? "";
      positionCells(row, p);
      row.querySelector('[data-role="select"]').checked = selected.has(id);
    });
    $$("tr[data-position-id]", positionsBody).forEach((row) => {
      if (!seen.has(row.dataset.positionId)) {
        selected.delete(row.dataset.positionId);
        row.remove();
      }
    });
    if (!items.length) placeholder(positionsBody, 8, "No open positions.");
    syncSelection();
  }

  function syncSelection() {
    const count = selected.size;
    const bulk = $('[data-action="close-selected"]');
    bulk.disabled = count === 0;
    bulk.textContent = count ? `Close selected (${count})` : "Close selected";
    const all = $('[data-role="select-all"]');
    const rows = $$("tr[data-position-id]", positionsBody);
    all.checked = rows.length > 0 && count === rows.length;
    all.indeterminate = count > 0 && count < rows.length;
  }

  async function refreshPositions() {
    const data = await DeskPilotApi.call("GET", "/api/positions");
    renderPositions(data.items);
  }

  // --- working orders ------------------------------------------------------------------------

  const ordersBody = $('[data-role="orders"]');

  function newOrderRow(o) {
    const row = document.createElement("tr");
    row.dataset.orderId = o.id;
    row.dataset.symbol = o.symbol;
    const actions = cell("", "actions");
    actions.append(button("Cancel", "cancel-order", "btn-danger"));
    row.append(
      cell(accountName(o.account_id)), cell(o.symbol, "mono"), cell(o.side),
      cell("", "num"), cell(o.order_type.replace("_", " ")), cell("", "num"),
      cell(o.role.replace("_", " ")), cell(""), actions,
    );
    return row;
  }

  // Rows are kept and updated in place, so a click never lands on a row being replaced.
  function renderOrders(items) {
    $$("tr.placeholder", ordersBody).forEach((row) => row.remove());
    const seen = new Set();
    items.forEach((o, index) => {
      const id = String(o.id);
      seen.add(id);
      let row = ordersBody.querySelector(`tr[data-order-id="${id}"]`);
      if (!row) row = newOrderRow(o);
      const tds = row.children;
      tds[3].textContent = o.qty;
      tds[5].textContent = o.limit_price ?? o.stop_price ?? "—";
      tds[7].replaceChildren(tag(o.status, `status-${o.status}`));
      if (ordersBody.children[index] !== row) ordersBody.insertBefore(row, ordersBody.children[index] || null);
    });
    $$("tr[data-order-id]", ordersBody).forEach((row) => {
      if (!seen.has(row.dataset.orderId)) row.remove();
    });
    if (!items.length) placeholder(ordersBody, 9, "No working orders.");
  }

  async function refreshOrders() {
    const [working, pending] = await Promise.all([
      DeskPilotApi.call("GET", "/api/orders?status=working"),
      DeskPilotApi.call("GET", "/api/orders?status=pending"),
    ]);
    renderOrders([...working.items, ...pending.items].sort((a, b) => b.id - a.id));
  }

  // --- alerts waiting for approval ----------------------------------------------------------

  const approvalsCard = $('[data-role="approvals-card"]');
  const approvalsBody = $('[data-role="approvals"]');
  const strategyNames = JSON.parse(root.dataset.strategies || "{}");

  function describeSignal(signal) {
    if (!signal) return "";
    const parts = [signal.action, signal.quantity, signal.symbol, signal.order_type];
    return parts.filter((part) => part !== null && part !== undefined).join(" ");
  }

  function approvalRow(item) {
    const row = document.createElement("tr");
    row.dataset.approvalId = item.id;
    const actions = document.createElement("td");
    actions.className = "actions";
    actions.append(button("Approve", "approve"), " ", button("Reject", "reject", "btn-danger"));
    row.append(
      cell(timeOf(item.received_at).slice(11), "mono"),
      cell(strategyNames[item.strategy_id] || `#${item.strategy_id}`),
      cell(describeSignal(item.signal)),
      cell(timeOf(item.expires_at).slice(11), "mono"),
      actions,
    );
    return row;
  }

  async function refreshApprovals() {
    if (!approvalsCard) return;
    const data = await DeskPilotApi.call("GET", "/api/approvals");
    approvalsCard.hidden = data.items.length === 0;
    approvalsBody.replaceChildren(...data.items.map(approvalRow));
  }

  async function decide(row, decision, trigger) {
    trigger.disabled = true;
    const box = $('[data-role="approval-result"]');
    try {
      const answer = await DeskPilotApi.call("POST", `/api/approvals/${row.dataset.approvalId}/${decision}`);
      const text = decision === "approve"
        ? `Alert ${answer.event_id}: ${answer.status}${answer.reason ? ` (${answer.reason})` : ""}`
        : `Alert ${answer.event_id} rejected: nothing was placed`;
      flash(box, text, decision === "reject" || !["failed", "rejected"].includes(answer.status));
      row.remove(); // decided: it leaves the list at once, before the refresh
    } catch (error) {
      flash(box, error.message, false);
    } finally {
      refreshAll();
    }
  }

  // --- live log: seeded from /api/logs, then each `log` event as it comes ----------------

  const logList = $('[data-role="log"]');
  const logFilters = $('[data-role="log-filters"]');
  const logCount = $('[data-role="log-count"]');
  const LEVELS = ["info", "warning", "error", "critical"];
  const FILTER_PARAMS = { strategy: "log_strategy", account: "log_account", level: "log_level" };

  // The filters live in the URL (?log_strategy=…&log_account=…&log_level=…): a reload or a
  // shared link shows the same lines.
  function readFilters() {
    const query = new URLSearchParams(window.location.search);
    Object.entries(FILTER_PARAMS).forEach(([name, param]) => {
      const select = $(`select[name="${name}"]`, logFilters);
      const value = query.get(param) || "";
      if (Array.from(select.options).some((o) => o.value === value)) select.value = value;
    });
  }

  function filterValue(name) {
    return $(`select[name="${name}"]`, logFilters).value;
  }

  function saveFilters() {
    const url = new URL(window.location.href);
    Object.entries(FILTER_PARAMS).forEach(([name, param]) => {
      const value = filterValue(name);
      if (value) url.searchParams.set(param, value); else url.searchParams.delete(param);
    });
    window.history.replaceState(null, "", url);
  }

  function shown(item) {
    const strategy = filterValue("strategy");
    const account = filterValue("account");
    const level = filterValue("level");
    if (strategy && item.dataset.strategyId !== strategy) return false;
    if (account && item.dataset.accountId !== account) return false;
    return !level || LEVELS.indexOf(item.dataset.severity) >= LEVELS.indexOf(level);
  }

  function applyFilters() {
    const items = $$("li[data-line]", logList);
    let visible = 0;
    items.forEach((item) => {
      item.hidden = !shown(item);
      if (!item.hidden) visible += 1;
    });
    let none = $("li.log-none", logList);
    if (!none) {
      none = document.createElement("li");
      none.className = "muted log-none";
      logList.append(none);
    }
    none.textContent = items.length ? "No line matches these filters." : "Nothing yet.";
    none.hidden = visible > 0;
    logCount.textContent = visible === items.length
      ? `${items.length} lines` : `${visible} of ${items.length} lines`;
  }

  function logItem(entry) {
    const at = entry.time || entry.created_at; // the event says time, the API created_at
    const item = document.createElement("li");
    item.className = `sev-${entry.severity}`;
    item.dataset.line = "";
    item.dataset.severity = entry.severity;
    item.dataset.accountId = entry.account_id ?? "";
    item.dataset.strategyId = entry.strategy_id ?? "";
    const when = document.createElement("time");
    when.className = "mono muted";
    when.dateTime = at;
    when.textContent = timeOf(at).slice(11, 19);
    const text = document.createElement("span");
    text.className = "message";
    text.textContent = entry.message;
    item.append(when, tag(entry.category), text);
    return item;
  }

  function keepNewest() {
    $$("li[data-line]", logList).slice(LOG_SIZE).forEach((li) => li.remove());
    applyFilters();
  }

  // Audit entries newest first by id, each once: one newer than every line shown goes on
  // top; one a reconnection's reading found goes among the others by its id.
  function addLogEntries(entries) {
    entries.forEach((entry) => {
      if (logList.querySelector(`li[data-entry-id="${entry.id}"]`)) return;
      const item = logItem(entry);
      item.dataset.entryId = entry.id;
      const shownIds = $$("li[data-entry-id]", logList);
      const newest = shownIds.every((li) => Number(li.dataset.entryId) < entry.id);
      const after = newest ? logList.firstElementChild
        : shownIds.find((li) => Number(li.dataset.entryId) < entry.id);
      logList.insertBefore(item, after || $("li.log-none", logList));
    });
    keepNewest();
  }

  // An executed alert's record is its row in the alert log, not an audit entry: the log
  // shows its `signal` event as it comes. Refused or failed alerts are audit entries
  // already (their `log` event), so they are not shown twice.
  function addSignal(event) {
    if (event.status !== "executed" || logList.querySelector(`li[data-signal-id="${event.id}"]`)) return;
    const name = strategyNames[event.strategy_id] || `strategy #${event.strategy_id}`;
    const item = logItem({
      time: new Date().toISOString(),
      category: "signal",
      severity: "info",
      message: `alert ${event.id} executed (${name})`,
      strategy_id: event.strategy_id,
    });
    item.dataset.signalId = event.id;
    logList.prepend(item);
    keepNewest();
  }

  // The newest LOG_SIZE entries (two pages of the API): on load and after a reconnection,
  // for what the socket did not carry meanwhile.
  async function seedLog() {
    const first = await DeskPilotApi.call("GET", "/api/logs");
    let items = first.items;
    if (first.next && items.length < LOG_SIZE) {
      items = items.concat((await DeskPilotApi.call("GET", first.next)).items);
    }
    $$("li:not([data-line]):not(.log-none)", logList).forEach((li) => li.remove());
    addLogEntries(items.slice(0, LOG_SIZE));
  }

  // --- kill switch -------------------------------------------------------------------------

  const killPanel = $('[data-testid="kill-switch-panel"]');
  const killState = $('[data-testid="kill-switch-state"]');
  const killResult = $('[data-role="kill-result"]');
  const rearm = $('[data-action="rearm"]');

  function showSwitch(state) {
    killPanel.classList.toggle("engaged", state.engaged);
    killState.dataset.engaged = String(state.engaged);
    rearm.hidden = !state.engaged;
    const strong = document.createElement("strong");
    if (state.engaged) {
      strong.textContent = "Engaged";
      const since = state.engaged_at ? ` since ${timeOf(state.engaged_at)} UTC` : "";
      const by = state.engaged_by ? ` by ${state.engaged_by}` : "";
      const reason = state.reason && !state.reason.startsWith("engaged by") ? ` (${state.reason})` : "";
      killState.replaceChildren(
        strong, `${since}${by}${reason}: alerts are refused and every account is halted.`,
      );
    } else {
      strong.textContent = "Armed.";
      killState.replaceChildren(strong, " Alerts are executed.");
    }
  }

  function describeReport(report) {
    const orders = `${report.cancelled_orders} ${report.cancelled_orders === 1 ? "order" : "orders"}`;
    const positions = `${report.flattened_positions} ${report.flattened_positions === 1 ? "position" : "positions"}`;
    let text = `Kill switch engaged: cancelled ${orders}, flattened ${positions}.`;
    if (report.failures.length) {
      text += " Failed: " + report.failures.map((f) => `${f.account}: ${f.message}`).join(" · ")
        + ". Check those accounts at the broker now.";
    }
    return text;
  }

  async function refreshSwitch() {
    showSwitch(await DeskPilotApi.call("GET", "/api/kill-switch"));
  }

  // Engaging takes the typed word (KILL_WORD in app/routes/pages.py), not one click: the
  // dialog's button stays disabled until the word is typed.
  const killDialog = $('[data-testid="kill-confirm"]');
  const killForm = $('[data-role="kill-form"]', killDialog);
  const killWord = killForm.elements.confirm;
  const killTrigger = $('[data-action="kill"]');

  function wordTyped() {
    return killWord.value.trim().toUpperCase() === killWord.dataset.word;
  }

  function askToEngage() {
    killForm.reset();
    killForm.querySelector('[data-role="kill-engage"]').disabled = true;
    killDialog.showModal();
    killWord.focus();
  }

  async function engage(event) {
    event.preventDefault();
    if (!wordTyped()) return;
    killDialog.close();
    killTrigger.disabled = true;
    flash(killResult, "Engaging: cancelling and flattening…");
    try {
      const report = await DeskPilotApi.call("POST", "/api/kill-switch");
      showSwitch(report);
      flash(killResult, describeReport(report), report.failures.length === 0);
    } catch (error) {
      flash(killResult, `The kill switch did not answer: ${error.message}`, false);
    } finally {
      killTrigger.disabled = false;
      refreshAll();
    }
  }

  killForm.addEventListener("input", () => {
    killForm.querySelector('[data-role="kill-engage"]').disabled = !wordTyped();
  });
  killForm.addEventListener("submit", engage);

  // --- halts per account: each halted account, its kind, and Lift where the trader may ----

  const haltsCard = $('[data-role="halts-card"]');
  const haltsList = $('[data-role="halts"]');
  const HALT_ENDS = {
    kill_switch: "lifts when the kill switch is re-armed",
    rule: "lifts when no rule is breached any more",
    done_for_day: "lifts when the next trading day opens",
    session_end: "lifts when the next trading day opens",
  };

  function haltItem(account) {
    const item = document.createElement("li");
    item.dataset.accountId = account.id;
    const name = document.createElement("strong");
    name.textContent = account.name;
    item.append(name, " ", tag((account.halted_by || "halted").replaceAll("_", " "), "tag-danger"));
    if (account.halt_reason) {
      const reason = document.createElement("span");
      reason.className = "muted small";
      reason.textContent = ` ${account.halt_reason}`;
      item.append(reason);
    }
    if (account.halt_liftable) {
      item.append(" ", button("Lift", "lift-halt"));
    } else if (HALT_ENDS[account.halted_by]) {
      const ends = document.createElement("span");
      ends.className = "muted small";
      ends.textContent = ` · ${HALT_ENDS[account.halted_by]}`;
      item.append(ends);
    }
    return item;
  }

  async function refreshHalts() {
    const data = await DeskPilotApi.call("GET", "/api/accounts");
    const halted = data.items.filter((a) => a.halted);
    haltsCard.hidden = halted.length === 0;
    haltsList.replaceChildren(...halted.map(haltItem));
  }

  async function liftHalt(item, trigger) {
    const name = accountName(item.dataset.accountId);
    if (!window.confirm(`Lift the halt on ${name}? Alerts trade on it again.`)) return;
    trigger.disabled = true;
    const box = $('[data-role="halt-result"]');
    try {
      await DeskPilotApi.call("DELETE", `/api/accounts/${item.dataset.accountId}/halt`);
      flash(box, `${name} trades again.`);
    } catch (error) {
      flash(box, error.message, false);
    } finally {
      refreshAll();
    }
  }

  async function rearmSwitch(trigger) {
    const ok = window.confirm(
      "Re-arm? Alerts will be executed again and the accounts the kill switch halted resume "
      + "trading. Accounts halted for other reasons stay halted.",
    );
    if (!ok) return;
    trigger.disabled = true;
    try {
      const report = await DeskPilotApi.call("DELETE", "/api/kill-switch");
      showSwitch(report);
      const released = report.released_accounts.length
        ? ` ${report.released_accounts.join(", ")} resume trading.` : "";
      flash(killResult, `Re-armed: alerts are executed again.${released}`);
    } catch (error) {
      flash(killResult, `Re-arming failed: ${error.message}`, false);
    } finally {
      trigger.disabled = false;
      refreshAll();
    }
  }

  // --- live traders: each strategy × account's position and today's P&L ------------------

  const tradersTable = $('[data-testid="traders"]');

  function describeHeld(positions) {
    if (!positions.length) return "flat";
    return positions.map((p) => `${signed(p.qty)} ${p.symbol}`).join(", ");
  }

  async function refreshTraders() {
    if (!$("tr[data-trader-id]", tradersTable)) return;
    const data = await DeskPilotApi.call("GET", "/api/traders/live");
    data.items.forEach((item) => {
      const row = $(`tr[data-trader-id="${item.trader_id}"]`, tradersTable);
      if (!row) return; // added since the page was drawn: the traders page lists it
      $('[data-col="position"]', row).textContent = describeHeld(item.positions);
      const pnl = $('[data-col="pnl"]', row);
      const figure = item.pnl_today ?? item.realized_today;
      pnl.textContent = money(figure);
      pnl.title = `realized ${item.realized_today} · open ${item.unrealized ?? "no price yet"}`;
      pnl.className = `num ${/^-/.test(figure) ? "down" : /^0(\.0*)?$/.test(figure) ? "" : "up"}`;
    });
  }

  // --- order ticket ------------------------------------------------------------------------

  const ticket = $('[data-testid="order-ticket"]');

  function showPriceFields() {
    if (!ticket) return;
    const type = ticket.elements.order_type.value;
    ticket.querySelector('[data-price="limit"]').hidden = !["limit", "stop_limit"].includes(type);
    ticket.querySelector('[data-price="stop"]').hidden = !["stop", "stop_limit"].includes(type);
  }

  // The contract the symbol names today ("MES1! → MESZ6"), as the server resolves it.
  let contractTimer = null;
  let contractAsked = 0;
  let resolvedContract = null; // {symbol, contract} of the symbol last shown

  function scheduleContract() {
    clearTimeout(contractTimer);
    contractTimer = setTimeout(showContract, 250);
  }

  async function showContract() {
    const box = ticket.querySelector('[data-role="contract"]');
    const symbol = ticket.elements.symbol.value.trim();
    const asked = ++contractAsked;
    resolvedContract = null;
    if (!symbol) {
      box.textContent = "";
      return;
    }
    let text;
    let ok = true;
    try {
      const found = await DeskPilotApi.call("GET", `/api/contracts/resolve?symbol=${encodeURIComponent(symbol)}`);
      if (asked !== contractAsked) return;
      resolvedContract = found;
      text = `${found.symbol} → ${found.contract} · ${found.name}, tick ${found.tick_size} = $${found.tick_value}`;
      if (found.expired) {
        text += ` · expired on ${found.last_trade}`;
        ok = false;
      }
    } catch (error) {
      if (asked !== contractAsked) return;
      text = error.message;
      ok = false;
    }
    box.textContent = text;
    box.classList.toggle("error", !ok);
  }

  // The confirm step. An order the risk limits refuse is refused by the server; one they
  // allow but that is large asks first: more than half the account's contracts per order,
  // a position beyond half its maximum position, or — with neither limit set — more than
  // LARGE_ORDER contracts.
  const LARGE_ORDER = 10;

  function heldNow(accountId) {
    if (!resolvedContract) return 0;
    const row = positionsBody.querySelector(
      `tr[data-account-id="${accountId}"][data-symbol="${CSS.escape(resolvedContract.contract)}"]`,
    );
    return row ? Number(row.dataset.qty) : 0;
  }

  async function largeOrderWords(body) {
    if (typeof body.qty !== "number") return null; // the server names what is wrong
    const limits = await DeskPilotApi.call("GET", `/api/risk/${body.account_id}`);
    const perOrder = limits.max_contracts_per_order;
    const maxPosition = limits.max_position;
    const after = Math.abs(heldNow(body.account_id) + (body.side === "buy" ? body.qty : -body.qty));
    if (perOrder && body.qty * 2 > perOrder) {
      return `${body.qty} contracts is more than half this account's limit of ${perOrder} per order.`;
    }
    if (maxPosition && after * 2 > maxPosition) {
      return `The position would be ${after} contracts, more than half this account's maximum of ${maxPosition}.`;
    }
    if (!perOrder && !maxPosition && body.qty > LARGE_ORDER) {
      return `${body.qty} contracts is a large order, and this account sets no size limit.`;
    }
    return null;
  }

  // The ticket as the API takes it; a take profit beside targets is refused here, by name.
  function ticketBody(side) {
    const form = ticket.elements;
    const qty = form.qty.value.trim();
    const body = {
      account_id: Number(form.account_id.value),
      symbol: form.symbol.value.trim(),
      side,
      qty: /^\d+$/.test(qty) ? Number(qty) : qty,
      order_type: form.order_type.value,
    };
    ["limit_price", "stop_price"].forEach((name) => {
      const input = form[name];
      if (!input.closest("[hidden]") && input.value.trim() !== "") body[name] = input.value.trim();
    });
    ticket.querySelectorAll("[data-exit]").forEach((fieldset) => {
      const spec = DeskPilotExits.exitSpec(fieldset);
      if (spec) DeskPilotExits.assignPath(body, fieldset.dataset.exit, spec);
    });
    DeskPilotExits.applyTargets(ticket, body);
    return body;
  }

  // A form's refusal: each field the API names is marked, the message said once.
  // The exits' prices before sending, for a buy and a sell, from the server's own rules.
  let previewTimer = null;
  let previewAsked = 0;

  function schedulePreview() {
    clearErrors(ticket); // a refusal is of what was sent; the preview speaks for the edit
    clearTimeout(previewTimer);
    previewTimer = setTimeout(showPreview, 300);
  }

  async function showPreview() {
    const box = ticket.querySelector('[data-role="preview"]');
    let body;
    try {
      body = ticketBody("buy");
    } catch (error) {
      box.textContent = error.message;
      box.hidden = false;
      return;
    }
    if (!DeskPilotExits.hasExits(body)) {
      box.hidden = true;
      return;
    }
    const asked = ++previewAsked;
    const ask = (side) => DeskPilotApi.call("POST", "/api/orders/preview", { ...body, side })
      .catch((error) => ({ error }));
    const [buy, sell] = await Promise.all([ask("buy"), ask("sell")]);
    if (asked !== previewAsked) return; // a newer preview is on its way
    const from = buy.reference_price || sell.reference_price;
    if (!from) {
      box.textContent = (buy.error || sell.error).message;
    } else {
      const words = DeskPilotExits.sidePreview;
      box.textContent = `From ${from} — ${words("Buy", buy)} | ${words("Sell", sell)}`;
    }
    box.hidden = false;
  }

  function clearErrors(form) {
    form.querySelectorAll(".field-invalid").forEach((el) => {
      el.classList.remove("field-invalid");
      el.removeAttribute("aria-invalid");
    });
    const box = form.querySelector('[data-role="error"]');
    box.hidden = true;
    box.textContent = "";
  }

  // The control an API field names: an input, an exit, a target row ("take_profit[1]"),
  // the targets when they were the take profit, or the first part of a nested exit.
  function controlFor(form, field) {
    const row = /^(?:take_profit|targets)\[(\d)\]/.exec(field);
    if (row) return form.querySelector(`[data-target="${row[1]}"]`);
    const targetsTyped = DeskPilotExits.targetsOf(form).length > 0;
    if (field === "targets" || (field === "take_profit" && targetsTyped)) {
      return form.querySelector("[data-targets]");
    }
    const name = CSS.escape(field);
    return form.querySelector(`[name="${name}"], [data-exit="${name}"]`) ||
      form.querySelector(`[data-exit^="${name}."]`);
  }

  function showErrors(form, error) {
    Object.keys(error.fields || {}).forEach((field) => {
      const control = controlFor(form, field);
      if (control) {
        control.classList.add("field-invalid");
        control.setAttribute("aria-invalid", "true");
        control.closest("details")?.setAttribute("open", "");
      }
    });
    const details = Object.entries(error.fields || {})
      .filter(([field, text]) => !error.message.includes(text) && field !== "account_id")
      .map(([field, text]) => `${field.replaceAll("_", " ")}: ${text}`);
    const box = form.querySelector('[data-role="error"]');
    box.textContent = [error.message, ...details].join(" · ");
    box.hidden = false;
  }

  function describeOrder(order) {
    const verb = order.side === "buy" ? "Buy" : "Sell";
    let text = `${verb} ${order.qty} ${order.symbol}: ${order.status}`;
    if (order.status === "filled" && order.avg_fill_price) text += ` at ${order.avg_fill_price}`;
    if (order.reason && order.status !== "filled") text += ` (${order.reason})`;
    const exits = (order.exits || []).map((e) => `${e.role.replace("_", " ")} ${e.limit_price ?? e.stop_price}`);
    if (exits.length) text += ` · ${exits.join(", ")}`;
    return text;
  }

  async function submitTicket(event) {
    event.preventDefault();
    const side = event.submitter?.value;
    if (!side) return;
    clearErrors(ticket);
    const buttons = ticket.querySelectorAll('button[type="submit"]');
    buttons.forEach((b) => { b.disabled = true; });
    const result = ticket.querySelector('[data-role="ticket-result"]');
    result.hidden = true;
    try {
      const body = ticketBody(side);
      const large = await largeOrderWords(body);
      const verb = side === "buy" ? "Buy" : "Sell";
      const what = resolvedContract ? resolvedContract.contract : body.symbol;
      if (large && !window.confirm(`${verb} ${body.qty} ${what} on ${accountName(body.account_id)}?\n\n${large}`)) {
        flash(result, `Not sent: ${verb} ${body.qty} ${what} was not confirmed.`, false);
        return;
      }
      const order = await DeskPilotApi.call("POST", "/api/orders", body);
      const ok = !["rejected", "failed"].includes(order.status);
      flash(result, describeOrder(order), ok);
      refreshAll();
    } catch (error) {
      showErrors(ticket, error);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  // --- protecting a position: an OCO pair, with break-even if asked --------------------------

  const protectDialog = $('[data-testid="protect-dialog"]');
  const protectForm = protectDialog && $('[data-role="protect-form"]', protectDialog);
  let protecting = null; // the position row the dialog is for

  function openProtect(row) {
    protecting = row;
    protectForm.reset();
    clearErrors(protectForm);
    const qty = Number(row.dataset.qty);
    $('[data-role="protect-what"]', protectDialog).textContent =
      `${signed(qty)} ${row.dataset.symbol} on ${accountName(row.dataset.accountId)}`;
    $('[data-role="protect-prices"]', protectDialog).textContent =
      `Entry ${row.dataset.avgPrice || "—"} · last ${row.dataset.lastPrice || "—"}. ` +
      `A ${qty > 0 ? "long's take profit goes above and its stop below" : "short's take profit goes below and its stop above"} the market.`;
    protectDialog.showModal();
    protectForm.elements.take_profit_price.focus();
  }

  // The dialog as the API takes it: an OCO pair (POST /api/orders/oco), or targets typed
  // with an optional stop (POST /api/orders/targets). Returns [path, body].
  function protectRequest() {
    const form = protectForm.elements;
    const targets = DeskPilotExits.targetsOf(protectForm);
    const takeProfit = form.take_profit_price.value.trim();
    const stop = form.stop_loss_price.value.trim();
    const qty = form.qty.value.trim();
    const body = { position_id: Number(protecting.dataset.positionId) };
    if (form.replace.checked) body.replace = true;
    const breakEven = protectBreakEven();
    if (breakEven) body.break_even = breakEven;
    if (targets.length) {
      const clash = takeProfit !== "" ? "take_profit_price" : qty !== "" ? "qty" : null;
      if (clash) {
        const text = "targets take profit on the whole position: leave this empty";
        throw { message: `${clash}: ${text}`, fields: { [clash]: text } };
      }
      body.targets = targets;
      if (stop !== "") body.stop_loss_price = stop;
      return ["/api/orders/targets", body];
    }
    body.take_profit_price = takeProfit;
    body.stop_loss_price = stop;
    if (qty !== "") body.qty = /^\d+$/.test(qty) ? Number(qty) : qty;
    return ["/api/orders/oco", body];
  }

  function protectBreakEven() {
    const trigger = DeskPilotExits.exitSpec(protectForm.querySelector('[data-exit="break_even.trigger"]'));
    const offset = DeskPilotExits.exitSpec(protectForm.querySelector('[data-exit="break_even.offset"]'));
    if (!trigger && !offset) return null;
    return offset ? { trigger, offset } : { trigger };
  }

  function describeTargets(orders) {
    const symbol = orders[0]?.symbol ?? "";
    const targets = orders.filter((o) => o.role === "take_profit" && o.status === "working");
    const stops = orders.filter((o) => o.role === "stop_loss" && o.status === "working");
    let text = `Targets on ${symbol}: ${targets.map((o) => `${o.qty} @ ${o.limit_price}`).join(", ")}`;
    if (stops.length) text += ` · stop ${stops[0].stop_price}`;
    const refused = orders.find((o) => ["rejected", "failed"].includes(o.status));
    if (refused) text += ` · refused: ${refused.reason}`;
    return text;
  }

  function describeProtection(pair) {
    if (pair.status === "failed") return `OCO on ${pair.symbol} failed: ${pair.reason}`;
    let text = `OCO on ${pair.symbol}: take profit ${pair.take_profit_price}, stop ${pair.stop_loss_price}`;
    if (pair.break_even) {
      text += ` · break-even: at ${pair.break_even.trigger_price} the stop moves to ${pair.break_even.stop_price}`;
    }
    return text;
  }

  async function submitProtect(event) {
    event.preventDefault();
    clearErrors(protectForm);
    const submit = protectForm.querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      const [path, body] = protectRequest();
      const answer = await DeskPilotApi.call("POST", path, body);
      protectDialog.close();
      const box = $('[data-role="protect-result"]');
      if (path.endsWith("/targets")) {
        const ok = !answer.orders.some((o) => ["rejected", "failed"].includes(o.status));
        flash(box, describeTargets(answer.orders), ok);
      } else {
        flash(box, describeProtection(answer), answer.status !== "failed");
      }
      refreshAll();
    } catch (error) {
      showErrors(protectForm, error);
    } finally {
      submit.disabled = false;
    }
  }

  // --- actions -----------------------------------------------------------------------------

  async function closePosition(row, trigger) {
    const text = `Close ${row.dataset.symbol} on ${accountName(row.dataset.accountId)} at the market?`;
    if (!window.confirm(text)) return;
    trigger.disabled = true;
    try {
      await DeskPilotApi.call("POST", `/api/positions/${row.dataset.positionId}/close`);
    } catch (error) {
      window.alert(error.message);
    } finally {
      trigger.disabled = false;
      refreshAll();
    }
  }

  async function closeSelected(trigger) {
    const ids = Array.from(selected, Number);
    if (!ids.length) return;
    const plural = ids.length === 1 ? "position" : "positions";
    if (!window.confirm(`Close ${ids.length} ${plural} at the market?`)) return;
    trigger.disabled = true;
    try {
      const answer = await DeskPilotApi.call("POST", "/api/positions/bulk-close", { position_ids: ids });
      const failed = answer.items.filter((item) => !item.ok);
      if (failed.length) {
        window.alert(failed.map((f) => `Position ${f.position_id}: ${f.error.message}`).join("\n"));
      }
      selected.clear();
    } catch (error) {
      window.alert(error.message);
    } finally {
      refreshAll();
    }
  }

  async function cancelOrder(row, trigger) {
    trigger.disabled = true;
    try {
      await DeskPilotApi.call("DELETE", `/api/orders/${row.dataset.orderId}`);
    } catch (error) {
      window.alert(error.message);
    } finally {
      refreshAll();
    }
  }

  root.addEventListener("click", (event) => {
    const trigger = event.target.closest("button[data-action]");
    if (!trigger) return;
    const row = trigger.closest("tr");
    const actions = {
      kill: askToEngage,
      "kill-cancel": () => killDialog.close(),
      "lift-halt": () => liftHalt(trigger.closest("li"), trigger),
      rearm: () => rearmSwitch(trigger),
      "close-position": () => closePosition(row, trigger),
      "protect-position": () => openProtect(row),
      "protect-cancel": () => protectDialog.close(),
      "close-selected": () => closeSelected(trigger),
      "cancel-order": () => cancelOrder(row, trigger),
      approve: () => decide(row, "approve", trigger),
      reject: () => decide(row, "reject", trigger),
    };
    actions[trigger.dataset.action]?.();
  });

  root.addEventListener("change", (event) => {
    const target = event.target;
    if (target.matches('[data-role="select"]')) {
      const id = target.closest("tr").dataset.positionId;
      if (target.checked) selected.add(id); else selected.delete(id);
      syncSelection();
    } else if (target.matches('[data-role="select-all"]')) {
      $$("tr[data-position-id]", positionsBody).forEach((row) => {
        row.querySelector('[data-role="select"]').checked = target.checked;
        if (target.checked) selected.add(row.dataset.positionId);
        else selected.delete(row.dataset.positionId);
      });
      syncSelection();
    } else if (target.matches('[data-role="order-type"]')) {
      showPriceFields();
    }
  });

  if (ticket) {
    ticket.addEventListener("submit", submitTicket);
    ticket.addEventListener("input", schedulePreview);
    ticket.addEventListener("change", schedulePreview);
    ticket.elements.symbol.addEventListener("input", scheduleContract);
    showContract();
  }
  if (protectForm) {
    protectForm.addEventListener("submit", submitProtect);
    protectForm.addEventListener("input", () => clearErrors(protectForm));
  }
  showPriceFields();

  // --- refresh loop ------------------------------------------------------------------------

  let busy = false;
  let again = false;

  // One refresh at a time; one asked for meanwhile (after an action) runs right after.
  async function refreshAll() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      await Promise.all([
        refreshPositions(), refreshOrders(), refreshApprovals(), refreshSwitch(), refreshHalts(),
        refreshTraders(),
      ]);
      stamp();
    } catch (error) {
      const box = $('[data-role="refreshed"]');
      if (box) box.textContent = `not updated: ${error.message}`;
    } finally {
      busy = false;
      if (again) { again = false; refreshAll(); }
    }
  }

  readFilters();
  logFilters.addEventListener("change", () => {
    saveFilters();
    applyFilters();
  });
  refreshAll();
  const logNotRead = (error) => { logCount.textContent = `log not read: ${error.message}`; };
  seedLog().catch(logNotRead);
  DeskPilotLive.on("log", (entry) => addLogEntries([entry]));
  DeskPilotLive.on("signal", addSignal);
  let connections = 0; // the first is the page's own load, seeded above
  DeskPilotLive.on("connect", () => { if (connections++) seedLog().catch(logNotRead); });
  DeskPilotLive.refreshOn(LIVE_EVENTS, refreshAll);
})();
