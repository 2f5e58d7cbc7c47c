// The live connection: one Socket.IO client per page over the session cookie, reconnecting
// by itself. Pages listen with DeskPilotLive.on(event, handler) to the events of DESIGN
// §5.5, and to "connect", heard on every (re)connection: what happened while away is not
// replayed, so a page reads its data again then. The topbar shows the connection's state.
"use strict";

const DeskPilotLive = (() => {
  const handlers = new Map();
  const badge = document.querySelector("[data-live-state]");
  let connected = false;

  function tell(event, payload) {
    for (const handler of handlers.get(event) || []) {
      try {
        handler(payload);
      } catch (error) {
        console.error(`live ${event} handler failed`, error); // one page part, not the rest
      }
    }
  }

  function show(state, text) {
    if (!badge) return;
    badge.hidden = false;
    badge.dataset.liveState = state;
    badge.textContent = text;
    badge.title = state === "live" ? "Live updates connected" : "Live updates not connected";
  }

  function on(event, handler) {
    if (!handlers.has(event)) handlers.set(event, []);
    handlers.get(event).push(handler);
  }

  // Run `refresh` when any of `events` is heard — at most once per `gapMs`, the last asked
  // for never lost — on every (re)connection, and every `safetyMs` while the tab is seen.
  // Returns the same throttled ask, for a page that wants to ask for more itself.
  function refreshOn(events, refresh, { gapMs = 1000, safetyMs = 30000 } = {}) {
    let last = 0;
    let timer = null;
    const run = () => {
      timer = null;
      last = Date.now();
      refresh();
    };
    const ask = () => {
      if (timer) return;
      timer = setTimeout(run, Math.max(0, last + gapMs - Date.now()));
    };
    events.forEach((event) => on(event, ask));
    on("connect", ask);
    setInterval(() => { if (!document.hidden) ask(); }, safetyMs);
    return ask;
  }

  if (typeof io !== "function") {
    show("off", "no live updates");
  } else {
    const socket = io({ reconnectionDelayMax: 5000 });
    socket.on("connect", () => {
      connected = true;
      show("live", "live");
      tell("connect");
    });
    socket.on("disconnect", () => {
      connected = false;
      show("down", "reconnecting…");
    });
    socket.on("connect_error", (error) => {
      connected = false;
      // Refused (the session ended): Socket.IO does not try again; a reload logs in.
      show("down", socket.active ? "reconnecting…" : `offline: ${error.message}`);
    });
    socket.onAny((event, payload) => tell(event, payload));
    // The owner logged out (here or on another device): this page's session is over too.
    // The page that logged out is already leaving: going elsewhere would cut its answer.
    let leaving = false;
    window.addEventListener("beforeunload", () => { leaving = true; });
    socket.on("session_ended", () => {
      socket.disconnect();
      show("off", "logged out");
      if (!leaving) window.location.assign("/login?logged_out=1");
    });
  }

  return {
    on,
    refreshOn,
    get connected() { return connected; },
  };
})();
window.DeskPilotLive = DeskPilotLive;
