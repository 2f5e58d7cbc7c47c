// Wires the setup pages: forms that send JSON to the API, toggles, confirm buttons, copy.
"use strict";

(() => {
  const visible = (el) => !el.closest("[hidden]");

  function typed(input) {
    const raw = input.type === "checkbox" ? input.checked : input.value.trim();
    if (input.type === "checkbox") return raw;
    if (raw === "") {
      if (input.dataset.empty === "null") return null;
      return undefined;
    }
    if (input.dataset.type === "int") return /^-?\d+$/.test(raw) ? Number(raw) : raw;
    return raw; // decimals travel as strings (DESIGN §5.4)
  }

  function assign(target, path, value) {
    const keys = path.split(".");
    let node = target;
    keys.slice(0, -1).forEach((key) => {
      node[key] = node[key] ?? {};
      node = node[key];
    });
    node[keys[keys.length - 1]] = value;
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
      if (value !== undefined) assign(body, input.name, value);
    });
    nullGroups.forEach((group) => { body[group] = null; });
    form.querySelectorAll("[data-exit]").forEach((fieldset) => {
      const amount = fieldset.querySelector('[data-role="amount"]').value.trim();
      const unit = fieldset.querySelector('[data-role="unit"]').value;
      body[fieldset.dataset.exit] = amount === "" ? null : { [unit]: amount };
    });
    return body;
  }

  function showError(form, error) {
    const box = form.querySelector('[data-role="error"]');
    form.querySelectorAll(".field-invalid").forEach((el) => el.classList.remove("field-invalid"));
    const details = Object.entries(error.fields || {}).map(([field, message]) => {
      const input = form.querySelector(`[name="${CSS.escape(field)}"]`)
        || form.querySelector(`[data-exit="${CSS.escape(field.split(".")[0])}"]`);
      input?.classList.add("field-invalid");
      return `${field}: ${message}`;
    });
    const text = [error.message, ...details.filter((d) => !error.message.includes(d))].join(" · ");
    if (box) { box.textContent = text; box.hidden = false; } else { window.alert(text); }
  }

  function done(form) {
    if (form.dataset.then === "reload") { window.location.reload(); return; }
    const box = form.querySelector('[data-role="error"]');
    if (box) { box.hidden = true; }
    form.reset();
    const note = document.createElement("div");
    note.className = "flash flash-info";
    note.setAttribute("role", "status");
    note.textContent = form.dataset.message || "Saved.";
    form.prepend(note);
    setTimeout(() => note.remove(), 4000);
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form.api-form");
    if (!form) return;
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      await DeskPilotApi.call(form.dataset.method || "POST", form.dataset.api, formBody(form));
      done(form);
    } catch (error) {
      showError(form, error);
    } finally {
      button.disabled = false;
    }
  });

  document.addEventListener("click", async (event) => {
    const copy = event.target.closest("[data-copy]");
    if (copy) {
      await navigator.clipboard?.writeText(copy.dataset.copy);
      copy.textContent = "Copied";
      setTimeout(() => { copy.textContent = "Copy"; }, 1500);
      return;
    }
    const button = event.target.closest("button[data-api]");
    if (!button) return;
    event.preventDefault();
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    try {
      await DeskPilotApi.call(button.dataset.method || "POST", button.dataset.api);
      window.location.reload();
    } catch (error) {
      const form = button.closest("form");
      if (form) showError(form, error); else window.alert(error.message);
    }
  });

  document.addEventListener("change", async (event) => {
    const toggle = event.target.closest('input[type="checkbox"][data-api]');
    if (toggle) {
      try {
        await DeskPilotApi.call(toggle.dataset.method || "PUT", toggle.dataset.api,
          { [toggle.dataset.field]: toggle.checked });
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

  document.querySelectorAll("form.api-form").forEach(applyShowWhen);
})();
