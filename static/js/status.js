// The status header in the topbar, from the `status` event (DESIGN §5.5): the kill switch,
// the jobs (the scheduler leader's failing jobs and the monitor's last tick), the broker
// connections and the market data's age. A web process that runs no jobs sends `leader:
// false`; the jobs' process sends its status every few seconds, so the jobs, brokers and
// data parts trust the leader's last word while it speaks (a lone process is its own).
"use strict";

(() => {
  const box = document.querySelector('[data-testid="system-status"]');
  if (!box || !window.DeskPilotLive) return;

  const LEADER_QUIET_MS = 20000; // the leader speaks every 5 s: silence this long is news
  const MONITOR_STALE_S = 30;
  const part = (name) => box.querySelector(`[data-part="${name}"]`);
  let leader = null; // the last status a scheduler leader sent, and when
  let latest = null;
  let latestAt = 0;

  function ageSeconds(iso) {
    return iso ? Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000)) : null;
  }

  function jobs() {
    if (!leader || Date.now() - leader.at > LEADER_QUIET_MS) {
      return { level: "warn", text: "jobs not running", title: "No scheduler has reported: alerts are executed, but stops are not trailed and brokers are not polled." };
    }
    const failing = Object.entries(leader.status.scheduler.failing_jobs || {});
    if (failing.length) {
      return { level: "error", text: `${failing.length} job${failing.length > 1 ? "s" : ""} failing`, title: failing.map(([name, error]) => `${name}: ${error}`).join("\n") };
    }
    const age = ageSeconds(leader.status.last_monitor_tick);
    if (age === null || age > MONITOR_STALE_S) {
      return { level: "warn", text: "monitor stalled", title: age === null ? "The monitor has not ticked yet." : `The monitor last ticked ${age} s ago.` };
    }
    return { level: "ok", text: `monitor ${age} s ago`, title: "The jobs run; the monitor ticks." };
  }

  // The freshest quote's age says whether data flows at all; the server names the held
  // symbols whose feed is quiet inside their session (MARKET_DATA_QUIET_SECONDS): a warning.
  function data(status, at) {
    const since = Math.max(0, Math.round((Date.now() - at) / 1000)); // the status's own age
    const ages = Object.entries(status.market_data || {}).map(([symbol, age]) => [symbol, age === null ? null : age + since]);
    if (!ages.length) return { level: "ok", text: "", title: "" };
    const quiet = status.market_data_quiet || [];
    const title = ages.map(([symbol, age]) => `${symbol}: ${age === null ? "no quote yet" : `quote ${age} s old`}`).join("\n");
    if (quiet.length) {
      const age = Object.fromEntries(ages)[quiet[0]];
      const text = quiet.length > 1 ? `${quiet.length} feeds quiet` : `${quiet[0]} ${age === null ? "no data" : `data ${age} s`}`;
      return { level: "warn", text, title: `Market data is quiet for ${quiet.join(", ")}: trailing stops and price rules on it are not moving.\n${title}` };
    }
    const known = ages.map(([, age]) => age).filter((age) => age !== null);
    return { level: "ok", text: known.length ? `data ${Math.min(...known)} s` : "no data", title };
  }

  function brokers(status) {
    const entries = Object.entries(status.broker_connections || {});
    if (!entries.length) return { level: "ok", text: "", title: "" };
    const failing = entries.filter(([, state]) => state !== "connected");
    const title = entries.map(([id, state]) => `account ${id}: ${state}`).join("\n");
    if (failing.length) return { level: "error", text: `${failing.length} broker error${failing.length > 1 ? "s" : ""}`, title };
    return { level: "ok", text: `brokers ${entries.length}/${entries.length}`, title };
  }

  // Notifications that failed for good in the last day: the trader was not told something.
  function notifications(status) {
    const outbox = status.notifications;
    if (!outbox || !outbox.failed_today) return { level: "ok", text: "", title: "" };
    const count = outbox.failed_today;
    return {
      level: "error",
      text: `${count} notification${count > 1 ? "s" : ""} failed`,
      title: `Notifications that could not be delivered today: ${count} (see Settings). Last: ${outbox.last_error}`,
    };
  }

  function render() {
    if (!latest) return;
    const engaged = Boolean(latest.kill_switch);
    const word = leader && Date.now() - leader.at <= LEADER_QUIET_MS ? leader : { status: latest, at: latestAt };
    const parts = [jobs(), brokers(word.status), data(word.status, word.at), notifications(word.status)];
    part("switch").textContent = engaged ? "Kill switch engaged" : "Armed";
    ["jobs", "brokers", "data", "notify"].forEach((name, i) => {
      part(name).textContent = parts[i].text;
      part(name).dataset.level = parts[i].level; // the part that warns is the one coloured
    });
    const levels = parts.map((p) => p.level);
    box.dataset.state = engaged ? "halted" : levels.includes("error") ? "error" : levels.includes("warn") ? "warn" : "ok";
    box.title = [engaged ? "The kill switch is engaged: alerts are refused." : "The kill switch is armed.", ...parts.map((p) => p.title)].filter(Boolean).join("\n");
  }

  DeskPilotLive.on("status", (status) => {
    latest = status;
    latestAt = Date.now();
    if (status.scheduler?.leader) leader = { status, at: Date.now() };
    render();
  });
  setInterval(() => { if (!document.hidden) render(); }, 5000);
})();
