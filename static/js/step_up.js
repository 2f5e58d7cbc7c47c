// The step-up prompt, shared by every page: when a sensitive call (re-arming the kill
// switch, a live account, credentials, a webhook's token or secret) is answered 401
// step_up_required, api.js calls DeskPilotStepUp.prove(); this asks for a code in a dialog,
// proves it with POST /api/2fa/step-up (five minutes for this session), and api.js then
// tries the call again. When SMS is the second factor, "Text me a code" sends one. The
// dialog is built here on first use (the CSP forbids inline script).
"use strict";

const DeskPilotStepUp = (() => {
  let dialog = null;
  let asking = null; // one prompt at a time: calls that meet it meanwhile share its answer

  function element(tag, attributes = {}, text = "") {
    const node = document.createElement(tag);
    Object.entries(attributes).forEach(([name, value]) => node.setAttribute(name, value));
    if (text) node.textContent = text;
    return node;
  }

  function build() {
    dialog = element("dialog", {
      class: "card step-up", "data-testid": "step-up", "aria-labelledby": "step-up-title",
    });
    const form = element("form", { class: "stack", novalidate: "" });
    const code = element("input", {
      name: "code", autocomplete: "one-time-code", autocapitalize: "off", spellcheck: "false",
      maxlength: "64", required: "",
    });
    const label = element("label", {}, "Code ");
    label.append(code);
    const actions = element("div", { class: "form-actions" });
    actions.append(
      element("button", { class: "btn btn-primary", type: "submit" }, "Confirm"),
      element("button", { class: "btn", type: "button", "data-role": "send-sms", hidden: "" }, "Text me a code"),
      element("button", { class: "btn btn-quiet", type: "button", "data-role": "cancel" }, "Cancel"),
    );
    form.append(
      element("h2", { id: "step-up-title" }, "Confirm it is you"),
      element("p", { "data-role": "why", class: "muted" }),
      label,
      element("div", { class: "flash flash-info", role: "status", "data-role": "notice", hidden: "" }),
      element("div", { class: "flash flash-error", role: "alert", "data-role": "error", hidden: "" }),
      actions,
    );
    dialog.append(form);
    document.body.append(dialog);
  }

  const part = (role) => dialog.querySelector(`[data-role="${role}"]`);

  function say(role, text) {
    part(role).textContent = text;
    part(role).hidden = !text;
  }

  async function offerSms() {
    try {
      const settings = await DeskPilotApi.call("GET", "/api/settings");
      part("send-sms").hidden = settings.two_factor_method !== "sms";
    } catch {
      part("send-sms").hidden = true;
    }
  }

  function ask(why) {
    if (!dialog) build();
    const form = dialog.querySelector("form");
    form.reset();
    say("error", "");
    say("notice", "");
    part("why").textContent = `${why} Type a code from your authenticator app, a texted code, or a backup code.`;
    offerSms();
    return new Promise((resolve, reject) => {
      const done = (outcome) => {
        form.removeEventListener("submit", submit);
        dialog.removeEventListener("click", clicked);
        dialog.removeEventListener("cancel", cancelled);
        if (dialog.open) dialog.close();
        outcome();
      };
      const refuse = () => done(() => reject(new DeskPilotApi.ApiError(401, {
        code: "step_up_cancelled", message: "Not done: it needs a code from your second factor.",
      })));
      async function submit(event) {
        event.preventDefault();
        const button = form.querySelector('button[type="submit"]');
        button.disabled = true;
        say("error", "");
        try {
          const proof = await DeskPilotApi.call("POST", "/api/2fa/step-up", { code: form.elements.code.value.trim() });
          done(() => resolve(proof));
        } catch (error) {
          say("error", error.message);
          form.elements.code.select();
        } finally {
          button.disabled = false;
        }
      }
      async function clicked(event) {
        const role = event.target.closest("button")?.dataset.role;
        if (role === "cancel") refuse();
        if (role !== "send-sms") return;
        try {
          const sent = await DeskPilotApi.call("POST", "/api/2fa/sms/send");
          say("notice", `A code was texted to ${sent.sent_to}.`);
        } catch (error) {
          say("error", error.message);
        }
      }
      function cancelled(event) {
        event.preventDefault(); // Escape: closed here, and the call told it was not done
        refuse();
      }
      form.addEventListener("submit", submit);
      dialog.addEventListener("click", clicked);
      dialog.addEventListener("cancel", cancelled);
      dialog.showModal();
      form.elements.code.focus();
    });
  }

  function prove(why) {
    if (!asking) asking = ask(why).finally(() => { asking = null; });
    return asking;
  }

  return { prove };
})();
