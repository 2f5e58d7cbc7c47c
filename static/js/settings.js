// The Settings page's notifications: each channel's state from GET /api/notifications/channels
// (read on load, after a channel's form is saved, on a reconnection, and for a while after a
// test, until the delivery job has had its turn), the test button, a new webhook signing
// secret shown this once, and a secret cleared. The forms themselves are forms.js's.
"use strict";

(() => {
  const board = document.querySelector('[data-testid="notification-status"]');
  if (!board) return;
  const { timeOf } = DeskPilotDom;
  const NAMES = { discord: "Discord", email: "E-mail", sms: "SMS", webhook: "Outgoing webhook" };
  const FOLLOW_MS = 16000; // the job sends every 3 s; a failure's first retry waits 10 s
  const FOLLOW_EVERY_MS = 2000;
  const utc = (iso) => `${timeOf(iso)} UTC`;

  function show(name, state) {
    const box = board.querySelector(`[data-channel-state="${name}"]`);
    if (!box) return;
    const part = (key) => box.querySelector(`[data-part="${key}"]`);
    box.dataset.state = state.ready ? "ready" : "unready";
    part("state").textContent = state.ready ? "ready" : `not set up: ${state.why_not}`;
    part("sent").textContent = state.last_sent_at
      ? `Last delivery ${utc(state.last_sent_at)}`
      : "Nothing delivered yet.";
    const error = part("error");
    error.hidden = !state.last_error;
    if (state.last_error) {
      const outcome = state.retry_at ? `Trying again at ${utc(state.retry_at)}.` : "Not sent.";
      error.textContent = `Last error, on the notification of ${utc(state.last_error_at)}: ` +
        `${state.last_error} ${outcome}`;
    }
    const quota = part("quota");
    if (quota) {
      quota.textContent = state.quota_remaining === null || state.quota_remaining === undefined
        ? "TextBelt credit: not known until the first SMS."
        : `TextBelt credit: ${state.quota_remaining} left (as of ${utc(state.quota_seen_at)}).`;
    }
  }

  let asked = 0;
  async function refresh() {
    const mine = ++asked;
    let states;
    try {
      states = await DeskPilotApi.call("GET", "/api/notifications/channels");
    } catch {
      return; // the next refresh tries again; the states shown stay as they were
    }
    if (mine !== asked) return; // a newer read is on its way
    Object.entries(states).forEach(([name, state]) => show(name, state));
  }

  // After a test: read again every few seconds for a while, then stop (no polling for ever).
  let followUntil = 0;
  let followTimer = null;
  function follow() {
    followUntil = Date.now() + FOLLOW_MS;
    if (followTimer) return;
    const step = () => {
      refresh();
      followTimer = Date.now() < followUntil ? setTimeout(step, FOLLOW_EVERY_MS) : null;
    };
    followTimer = setTimeout(step, FOLLOW_EVERY_MS);
  }

  // --- the test ------------------------------------------------------------------------
  const testButton = document.querySelector('[data-role="send-test"]');
  const testResult = document.querySelector('[data-role="test-result"]');

  function report(ok, headline, reasons) {
    const lead = document.createElement("p");
    lead.textContent = headline;
    const lines = Object.entries(reasons).map(([name, why]) => {
      const li = document.createElement("li");
      li.textContent = `${NAMES[name] || name}: ${why}`;
      return li;
    });
    const list = document.createElement("ul");
    list.append(...lines);
    testResult.replaceChildren(lead, ...(lines.length ? [list] : []));
    testResult.className = `flash ${ok ? "flash-info" : "flash-error"}`;
    testResult.hidden = false;
  }

  testButton?.addEventListener("click", async () => {
    testButton.disabled = true;
    try {
      const answer = await DeskPilotApi.call("POST", "/api/notifications/test");
      const queued = [...new Set(answer.items.map((row) => NAMES[row.channel] || row.channel))];
      const unready = answer.unready || {};
      report(
        true,
        `Test queued for ${queued.join(", ")}: its delivery shows below in a few seconds.` +
          (Object.keys(unready).length ? " Not sent to:" : ""),
        unready,
      );
      follow();
    } catch (error) {
      if (error.code === "no_channel_ready") report(false, "No channel can send yet:", error.fields);
      else report(false, error.message, {});
    } finally {
      testButton.disabled = false;
    }
  });

  // --- secrets: set / not set, cleared, the webhook's made --------------------------------
  function showSecret(name, isSet) {
    document.querySelectorAll(`[data-secret-state="${name}"]`).forEach((el) => {
      el.textContent = isSet ? "set" : "not set";
    });
    document.querySelectorAll(`[data-clear="${name}"]`).forEach((button) => { button.hidden = !isSet; });
    document.querySelectorAll(`input[type="password"][name="${name}"]`).forEach((input) => {
      input.placeholder = isSet ? "type a new one to replace it" : "";
    });
  }

  // An answer of /api/settings names each secret as <name>_set.
  function showSecrets(settings) {
    Object.entries(settings || {}).forEach(([key, value]) => {
      if (key.endsWith("_set") && typeof value === "boolean") showSecret(key.slice(0, -4), value);
    });
  }

  document.addEventListener("deskpilot:saved", (event) => {
    showSecrets(event.detail);
    refresh();
  });

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-clear]");
    if (!button) return;
    button.disabled = true;
    try {
      showSecrets(await DeskPilotApi.call("PUT", "/api/settings", { [button.dataset.clear]: null }));
      refresh();
    } catch (error) {
      window.alert(error.message);
    } finally {
      button.disabled = false;
    }
  });

  const secretButton = document.querySelector('[data-role="new-webhook-secret"]');
  const secretBox = document.querySelector('[data-role="new-secret"]');
  secretButton?.addEventListener("click", async () => {
    if (secretButton.dataset.confirm && !window.confirm(secretButton.dataset.confirm)) return;
    secretButton.disabled = true;
    try {
      const { secret } = await DeskPilotApi.call("POST", "/api/notifications/webhook-secret");
      secretBox.querySelector('[data-role="secret-value"]').textContent = secret;
      secretBox.querySelector('[data-role="copy-secret"]').dataset.copy = secret;
      secretBox.hidden = false;
      secretButton.dataset.confirm = "Make a new signing secret? The old one stops verifying at once.";
      showSecret("outgoing_webhook_secret", true);
      refresh();
    } catch (error) {
      window.alert(error.message);
    } finally {
      secretButton.disabled = false;
    }
  });

  refresh();
  let connectedBefore = false; // the first connection comes with the page, already read
  window.DeskPilotLive?.on("connect", () => {
    if (connectedBefore) refresh();
    connectedBefore = true;
  });
})();
