// The status header in the topbar, from the `status` event (DESIGN §5.5): the kill switch,
// the jobs (the scheduler leader's failing jobs and the monitor's last tick) and the broker
// connections. A web process that runs no jobs sends `leader: false`; the jobs' process
// sends its status every few seconds, so the jobs part trusts the leader's last word.
"use strict";

(() => {
  const box = document.querySelector('[data-testid="system-status"]');
  if (!box || !window.DeskPilotLive) return;

  const LEADER_QUIET_MS = 20000; // the leader speaks every 5 s: silence this long is news
  const MONITOR_STALE_S = 30;
  const part = (name) => box.querySelector(`[data-part="${name}"]`);
  let leader = null; // the last status a scheduler leader sent, and when
  let latest = null;

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

  function brokers(status) {
    const entries = Object.entries(status.broker_connections || {});
    if (!entries.length) return { level: "ok", text: "", title: "" };
    const failing = entries.filter(([, state]) => state !== "connected");
    const title = entries.map(([id, state]) => `account ${id}: ${state}`).join("\n");
    if (failing.length) return { level: "error", text: `${failing.length} broker error${failing.length > 1 ? "s" : ""}`, title };
    return { level: "ok", text: `brokers ${entries.length}/${entries.length}`, title };
  }

  function render() {
    if (!latest) return;
    const engaged = Boolean(latest.kill_switch);
    const parts = [jobs(), brokers(latest)];
    part("switch").textContent = engaged ? "Kill switch engaged" : "Armed";
    part("jobs").textContent = parts[0].text;
    part("brokers").textContent = parts[1].text;
    const levels = parts.map((p) => p.level);
    box.dataset.state = engaged ? "halted" : levels.includes("error") ? "error" : levels.includes("warn") ? "warn" : "ok";
    box.title = [engaged ? "The kill switch is engaged: alerts are refused." : "The kill switch is armed.", ...parts.map((p) => p.title)].filter(Boolean).join("\n");
  }

  DeskPilotLive.on("status", (status) => {
    latest = status;
    if (status.scheduler?.leader) leader = { status, at: Date.now() };
    render();
  });
  setInterval(() => { if (!document.hidden) render(); }, 5000);
})();
