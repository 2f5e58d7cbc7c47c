// Live regions: the parts of a server-rendered page that follow the live events (DESIGN
// §5.5) without drawing the page twice. An element marked data-live-region="<unique id>"
// data-live-events="trade fill …" is refreshed when one of its events is heard: the page's
// own URL is read again and the region's content replaced by the fresh copy's. Regions
// with the same events share one read (throttled by DeskPilotLive.refreshOn, which also
// reads on every reconnection). Nothing the trader is doing is clobbered: a region holding
// the keyboard's focus or a field being typed in, an open <details> or <dialog>, a text
// selection or a form with unsaved input is left alone and refreshed once the trader moves
// on. A swap is one synchronous step, so the page keeps its scroll position (and the
// browser's scroll anchoring keeps what the trader reads in place when a region above it
// grows). The buttons and toggles inside keep working after a swap: forms.js listens on
// the document, not on them.
"use strict";

(() => {
  const regions = Array.from(document.querySelectorAll("[data-live-region]"));
  if (!regions.length || !window.DeskPilotLive) return;

  const TYPING = 'textarea, select, [contenteditable], input:not([type="checkbox"]):not([type="radio"]):not([type="button"]):not([type="submit"]):not([type="reset"])';
  const groups = new Map(); // the events' text → {regions, ask, asked, waiting}
  regions.forEach((region) => {
    const key = (region.dataset.liveEvents || "").trim().split(/\s+/).filter(Boolean).sort().join(" ");
    if (!key) return;
    if (!groups.has(key)) groups.set(key, { regions: [], ask: null, asked: 0, waiting: false });
    groups.get(key).regions.push(region);
  });

  function unsaved(form) {
    return Array.from(form.elements).some((control) => {
      if (control.type === "checkbox" || control.type === "radio") return control.checked !== control.defaultChecked;
      if (control.tagName === "SELECT") return Array.from(control.options).some((o) => o.selected !== o.defaultSelected);
      return "defaultValue" in control && control.value !== control.defaultValue;
    });
  }

  // Focus left on a control by a mouse click (the toggle just used, the <summary> that
  // closed its details) holds nothing: were it to hold the region still, the region would
  // stay stale until the trader clicked elsewhere. Typing, or keyboard focus, does.
  function holdsFocus(region) {
    const focused = document.activeElement;
    if (!focused || focused === document.body || !region.contains(focused)) return false;
    return focused.matches(":focus-visible") || focused.matches(TYPING);
  }

  function busy(region) {
    if (holdsFocus(region)) return true;
    if (region.querySelector("details[open], dialog[open]")) return true;
    const selection = document.getSelection();
    if (selection && !selection.isCollapsed && region.contains(selection.anchorNode)) return true;
    return Array.from(region.querySelectorAll("form")).some(unsaved);
  }

  // The page as the server draws it now; null when it answered anything but the page
  // itself (a redirect to /login once the session ended, an error, the network gone).
  async function freshPage() {
    let response;
    try {
      response = await fetch(window.location.href, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "text/html" },
      });
    } catch {
      return null;
    }
    if (!response.ok || response.redirected) return null;
    if (!(response.headers.get("Content-Type") || "").startsWith("text/html")) return null;
    return new DOMParser().parseFromString(await response.text(), "text/html");
  }

  async function refresh(group) {
    const asked = ++group.asked;
    const fresh = await freshPage();
    if (!fresh || asked !== group.asked) return; // a newer read is on its way
    group.waiting = false;
    group.regions.forEach((region) => {
      const next = fresh.querySelector(`[data-live-region="${CSS.escape(region.dataset.liveRegion)}"]`);
      if (!next || next.innerHTML === region.innerHTML) return;
      if (busy(region)) { group.waiting = true; return; }
      region.replaceChildren(...next.childNodes);
    });
  }

  groups.forEach((group, key) => {
    group.ask = DeskPilotLive.refreshOn(key.split(" "), () => refresh(group));
  });

  // The trader moved on from a region left alone: bring it up to date now.
  const retry = () => groups.forEach((group) => { if (group.waiting) group.ask(); });
  document.addEventListener("focusout", retry);
  document.addEventListener("toggle", retry, true); // <details> closing; toggle never bubbles
  document.addEventListener("close", retry, true); // a <dialog> closing
  document.addEventListener("selectionchange", () => {
    if (document.getSelection()?.isCollapsed) retry();
  });
})();
