// Wires the setup pages: forms that send JSON to the API, toggles, confirm buttons, copy.
"use strict";

(() => {
  const visible = (el) => !el.closest("[hidden]");

  function typed(input) {
    if (input.tagName === "SELECT" && input.multiple) { // the values chosen, maybe none
      return Array.from(input.selectedOptions, (o) => (input.dataset.type === "int" ? Number(o.value) : o.value));
    }
    const raw = input.type === "checkbox" ? input.checked : input.value.trim();
    if (input.type === "checkbox") return raw;
    if (input.dataset.type === "list") { // "a, b c" → ["a", "b", "c"]; empty → []
      const items = raw.split(/[\s,;]+/).filter(Boolean);
      return input.dataset.case === "upper" ? items.map((item) => item.toUpperCase()) : items;
    }
    if (raw === "") {
      if (input.dataset.empty === "null") return null;
      return undefined;
    }
    if (input.dataset.type === "int") return /^-?\d+$/.test(raw) ? Number(raw) : raw;
    return raw; // decimals travel as strings (DESIGN §5.4)
  }

  function formBody(form) {
    const body = {};
    const nullGroups = new Set();
    form.querySelectorAll("input[name], select[name], textarea[name]").forEach((input) => {
      if (!visible(input) || input.closest("[data-exit]")) return;
      const value = typed(input);
      if (input.dataset.groupEmpty === "null" && value === undefined) {
        nullGroups.add(input.name.split(".")[0]);
      }
      if (value !== undefined) DeskPilotExits.assignPath(body, input.name, value);
    });
    nullGroups.forEach((group) => { body[group] = null; });
    form.querySelectorAll("[data-exit]").forEach((fieldset) => {
      DeskPilotExits.assignPath(body, fieldset.dataset.exit, DeskPilotExits.exitSpec(fieldset));
    });
    DeskPilotExits.applyTargets(form, body); // throws a refusal naming take_profit
    return body;
  }

  function clearErrors(form) {
    form.querySelectorAll(".field-invalid").forEach((el) => {
      el.classList.remove("field-invalid");
      el.removeAttribute("aria-invalid");
      el.removeAttribute("aria-describedby");
    });
    form.querySelectorAll(".field-message").forEach((el) => el.remove());
    const box = form.querySelector('[data-role="error"]');
    if (box) { box.hidden = true; box.textContent = ""; }
  }

  // The control an API field name points at: an input, an exit fieldset, or the first
  // input of a group ("credentials" → credentials.username).
  function fieldFor(form, field) {
    const name = CSS.escape(field);
    const candidates = [
      ...form.querySelectorAll(`[name="${name}"]`),
      ...form.querySelectorAll(`[name="${CSS.escape(field.replace(/\.\d+$/, ""))}"]`), // a list's item
      ...form.querySelectorAll(`[data-exit="${name}"]`),
      ...form.querySelectorAll(`[data-exit^="${name}."]`),
      ...form.querySelectorAll(`[data-exit="${CSS.escape(field.split(".")[0])}"]`),
      ...form.querySelectorAll(`[name^="${name}."]`),
    ];
    return candidates.find(visible) || null;
  }

  // What the trader reads next to the control: its label's own text or the legend.
  function labelOf(control) {
    if (control.matches("fieldset")) return control.querySelector("legend")?.textContent.trim();
    const label = control.closest("label");
    if (!label) return null;
    return Array.from(label.childNodes)
      .filter((node) => node.nodeType === Node.TEXT_NODE)
      .map((node) => node.textContent)
      .join(" ")
      .trim() || null;
  }

  let noteCount = 0;

  function showError(form, error) {
    clearErrors(form);
    const box = form.querySelector('[data-role="error"]');
    let message = error.message || "Something went wrong; try again.";
    const unplaced = [];
    Object.entries(error.fields || {}).forEach(([field, text]) => {
      const control = fieldFor(form, field);
      if (!control) {
        if (!message.includes(`${field}: ${text}`)) unplaced.push(`${field}: ${text}`);
        return;
      }
      // The note sits inside the label for layout but stays out of the control's name;
      // screen readers get it as the control's description instead.
      const note = document.createElement("small");
      note.className = "field-message";
      note.id = `field-message-${++noteCount}`;
      note.setAttribute("aria-hidden", "true");
      note.textContent = text;
      (control.closest("label") || control).append(note);
      control.classList.add("field-invalid");
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("aria-describedby", note.id);
      const label = labelOf(control);
      if (label && message.startsWith(`${field}: `)) {
        message = `${label}: ${message.slice(field.length + 2)}`;
      }
    });
    const summary = [message, ...unplaced].join(" · ");
    if (box) { box.textContent = summary; box.hidden = false; } else { window.alert(summary); }
  }

  // A settings form (data-keep) goes on showing what it saved: its values become its
  // defaults (what a reset returns to, and what live regions compare to find unsaved input);
  // a secret typed into it does not stay on the page.
  function keepAsSaved(form) {
    Array.from(form.elements).forEach((control) => {
      if (control.type === "password") control.value = "";
      if (control.type === "checkbox" || control.type === "radio") control.defaultChecked = control.checked;
      else if (control.tagName === "SELECT") Array.from(control.options).forEach((o) => { o.defaultSelected = o.selected; });
      else if ("defaultValue" in control) control.defaultValue = control.value;
    });
  }

  // Tells the page what the API answered (event "deskpilot:saved", bubbling from the form),
  // for a page that shows more of it than the form does.
  function done(form, answer) {
    if (form.dataset.then === "reload") { window.location.reload(); return; }
    clearErrors(form);
    form.querySelectorAll(".flash").forEach((old) => old.remove());
    if ("keep" in form.dataset) keepAsSaved(form); else form.reset();
    applyShowWhen(form);
    const note = document.createElement("div");
    note.className = "flash flash-info";
    note.setAttribute("role", "status");
    note.textContent = form.dataset.message || "Saved.";
    const slot = form.querySelector('[data-role="saved"]'); // beside the button of a long form
    if (slot) slot.replaceChildren(note); else form.prepend(note);
    setTimeout(() => note.remove(), 4000);
    form.dispatchEvent(new CustomEvent("deskpilot:saved", { bubbles: true, detail: answer }));
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form.api-form");
    if (!form) return;
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    try {
      const answer = await DeskPilotApi.call(form.dataset.method || "POST", form.dataset.api, formBody(form));
      done(form, answer);
    } catch (error) {
      showError(form, error);
    } finally {
      if (button) button.disabled = false;
    }
  });

  // navigator.clipboard exists only on https:// and localhost; a LAN address over plain
  // http falls back to a selected textarea and the older copy command.
  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try { await navigator.clipboard.writeText(text); return true; } catch { /* fall back */ }
    }
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.append(area);
    area.select();
    let copied = false;
    try { copied = document.execCommand("copy"); } catch { copied = false; }
    area.remove();
    return copied;
  }

  document.addEventListener("click", async (event) => {
    const copy = event.target.closest("[data-copy]");
    if (copy) {
      const copied = await copyText(copy.dataset.copy);
      copy.textContent = copied ? "Copied" : "Select and copy by hand";
      setTimeout(() => { copy.textContent = "Copy"; }, copied ? 1500 : 3000);
      return;
    }
    const button = event.target.closest("button[data-api]");
    if (!button) return;
    event.preventDefault();
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    button.disabled = true;
    try {
      const answer = await DeskPilotApi.call(button.dataset.method || "POST", button.dataset.api);
      if (button.dataset.then === "message") {
        showResult(button, answer?.message || "Done.", answer?.ok !== false);
        button.disabled = false;
        return;
      }
      window.location.reload();
    } catch (error) {
      button.disabled = false;
      const form = button.closest("form");
      if (button.dataset.then === "message") showResult(button, error.message, false);
      else if (form) showError(form, error); else window.alert(error.message);
    }
  });

  // A button whose answer is read, not reloaded (data-then="message"): its message goes to
  // the element named by data-result, shown with its row.
  function showResult(button, text, ok) {
    const box = document.getElementById(button.dataset.result);
    if (!box) { window.alert(text); return; }
    box.textContent = text;
    box.className = `flash ${ok ? "flash-info" : "flash-error"}`;
    box.closest("[hidden]")?.removeAttribute("hidden");
  }

  document.addEventListener("change", async (event) => {
    const toggle = event.target.closest('input[type="checkbox"][data-api]');
    if (toggle) {
      try {
        await DeskPilotApi.call(toggle.dataset.method || "PUT", toggle.dataset.api,
          { [toggle.dataset.field]: toggle.checked });
        if (toggle.dataset.field === "enabled") {
          toggle.closest("[data-account-id], [data-strategy-id], [data-trader-id], [data-price-alert-id]")
            ?.classList.toggle("disabled", !toggle.checked);
        }
      } catch (error) {
        toggle.checked = !toggle.checked;
        window.alert(error.message);
      }
      return;
    }
    const control = event.target.closest("[data-controls]");
    if (control) applyShowWhen(control.closest("form"));
  });

  function applyShowWhen(form) {
    const state = {};
    form.querySelectorAll("[data-controls]").forEach((c) => { state[c.dataset.controls] = c.value; });
    form.querySelectorAll("[data-show-when]").forEach((el) => {
      const [key, value] = el.dataset.showWhen.split("=");
      el.hidden = state[key] !== value;
    });
  }

  // A form with data-preview shows where its exits would go as they are typed: the API
  // prices them from the live price for a buy and a sell (the strategies page).
  const previews = new WeakMap(); // form → {timer, asked}

  function schedulePreview(form) {
    const state = previews.get(form) || { timer: null, asked: 0 };
    previews.set(form, state);
    clearTimeout(state.timer);
    state.timer = setTimeout(() => showPreview(form, state), 300);
  }

  async function showPreview(form, state) {
    const box = form.querySelector('[data-role="preview"]');
    let body;
    try {
      body = formBody(form);
    } catch (refusal) {
      box.textContent = refusal.message;
      box.hidden = false;
      return;
    }
    delete body.passphrase; // a preview needs no secret
    if (!DeskPilotExits.hasExits(body)) {
      box.hidden = true;
      return;
    }
    const asked = ++state.asked;
    let text;
    try {
      const answer = await DeskPilotApi.call("POST", form.dataset.preview, body);
      const words = DeskPilotExits.sidePreview;
      text = `${answer.symbol} from ${answer.reference_price} — ` +
        `${words("Buy", answer.buy)} | ${words("Sell", answer.sell)}`;
    } catch (error) {
      text = error.message;
    }
    if (asked !== state.asked) return; // a newer preview is on its way
    box.textContent = text;
    box.hidden = false;
  }

  ["input", "change"].forEach((kind) => {
    document.addEventListener(kind, (event) => {
      const form = event.target.closest("form[data-preview]");
      if (form) schedulePreview(form);
    });
  });

  document.querySelectorAll("form.api-form").forEach(applyShowWhen);
})();
