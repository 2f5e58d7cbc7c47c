// The Settings page's two-factor login: turn it on (the QR code and the key from
// POST /api/2fa/setup, then a code from the app; or by SMS: a code texted by
// POST /api/2fa/sms/setup, then typed back), the backup codes shown once with an
// "I saved them" step, turning it off or making new codes with a proof, and the trusted
// devices with Revoke. Everything from the server goes in as text; the QR code is an <img>
// of the SVG, so no markup from an answer ever enters the page.
"use strict";

(() => {
  const box = document.querySelector('[data-testid="two-factor"]');
  if (!box) return;
  const { timeOf } = DeskPilotDom;
  const part = (role) => box.querySelector(`[data-role="${role}"]`);

  function showError(form, error) {
    const slot = form.querySelector('[data-role="error"]');
    slot.textContent = error.message || "Something went wrong; try again.";
    slot.hidden = false;
  }

  function clearError(form) {
    const slot = form.querySelector('[data-role="error"]');
    slot.hidden = true;
    slot.textContent = "";
  }

  function showCodes(codes) {
    const list = box.querySelector('[data-testid="backup-codes"]');
    list.replaceChildren(...codes.map((code) => {
      const item = document.createElement("li");
      const text = document.createElement("code");
      text.textContent = code;
      item.append(text);
      return item;
    }));
    part("twofa-codes").hidden = false;
    part("twofa-saved").focus();
  }

  // Once saved, the page is read again: it then shows two-factor login as it now is.
  part("twofa-saved").addEventListener("click", () => window.location.reload());

  // --- turning it on ----------------------------------------------------------------------
  const setupButton = part("twofa-setup");
  setupButton?.addEventListener("click", async () => {
    setupButton.disabled = true;
    try {
      const setup = await DeskPilotApi.call("POST", "/api/2fa/setup");
      part("twofa-qr").src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(setup.qr_svg)}`;
      part("twofa-secret").textContent = setup.secret;
      part("twofa-copy").dataset.copy = setup.secret;
      part("twofa-new").hidden = false;
      setupButton.hidden = true;
      part("twofa-enable").querySelector('input[name="code"]').focus();
    } catch (error) {
      window.alert(error.message);
      setupButton.disabled = false;
    }
  });

  const enableForm = part("twofa-enable");
  enableForm?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = enableForm.querySelector('button[type="submit"]');
    button.disabled = true;
    clearError(enableForm);
    try {
      const code = enableForm.elements.code.value.trim();
      const answer = await DeskPilotApi.call("POST", "/api/2fa/enable", { code });
      part("twofa-new").hidden = true;
      part("twofa-state").textContent = "On: after the password, a login asks for a code from your authenticator app.";
      showCodes(answer.backup_codes);
    } catch (error) {
      showError(enableForm, error);
      button.disabled = false;
    }
  });

  // --- or by SMS: a code texted to the first SMS number, typed back -----------------------
  const smsButton = part("twofa-sms-setup");
  smsButton?.addEventListener("click", async () => {
    smsButton.disabled = true;
    try {
      const sent = await DeskPilotApi.call("POST", "/api/2fa/sms/setup");
      part("twofa-sms-sent").textContent = `A code was texted to ${sent.sent_to}; type it here within 5 minutes.`;
      part("twofa-sms-new").hidden = false;
      part("twofa-sms-enable").querySelector('input[name="code"]').focus();
    } catch (error) {
      window.alert(error.message);
    } finally {
      smsButton.disabled = false;
    }
  });

  const smsForm = part("twofa-sms-enable");
  smsForm?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = smsForm.querySelector('button[type="submit"]');
    button.disabled = true;
    clearError(smsForm);
    try {
      const code = smsForm.elements.code.value.trim();
      const answer = await DeskPilotApi.call("POST", "/api/2fa/sms/enable", { code });
      part("twofa-sms-new").hidden = true;
      setupButton.hidden = true;
      smsButton.hidden = true;
      part("twofa-state").textContent = "On by SMS: after the password, a login asks for a texted code.";
      showCodes(answer.backup_codes);
    } catch (error) {
      showError(smsForm, error);
      button.disabled = false;
    }
  });

  // --- turning it off, or new backup codes: the password and a code ---------------------
  const proofForm = part("twofa-proof");
  const textButton = part("twofa-text");
  textButton?.addEventListener("click", async () => {
    textButton.disabled = true;
    clearError(proofForm);
    try {
      const sent = await DeskPilotApi.call("POST", "/api/2fa/sms/send");
      textButton.textContent = `Texted to ${sent.sent_to}`;
    } catch (error) {
      showError(proofForm, error);
    } finally {
      textButton.disabled = false;
    }
  });
  proofForm?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const action = event.submitter?.dataset.action || "backup-codes";
    if (action === "disable" &&
        !window.confirm("Turn two-factor login off? Trusted devices are forgotten too.")) return;
    const buttons = proofForm.querySelectorAll('button[type="submit"]');
    buttons.forEach((button) => { button.disabled = true; });
    clearError(proofForm);
    const body = { password: proofForm.elements.password.value, code: proofForm.elements.code.value.trim() };
    try {
      const answer = await DeskPilotApi.call("POST", `/api/2fa/${action}`, body);
      proofForm.reset();
      if (action === "disable") { window.location.reload(); return; }
      showCodes(answer.backup_codes);
    } catch (error) {
      showError(proofForm, error);
    } finally {
      buttons.forEach((button) => { button.disabled = false; });
    }
  });

  // --- trusted devices ---------------------------------------------------------------------
  const devices = box.querySelector('[data-testid="trusted-devices"] tbody');
  const utc = (iso) => `${timeOf(iso)} UTC`;

  function deviceRow(device) {
    const row = document.createElement("tr");
    row.dataset.deviceId = device.id;
    const revoke = document.createElement("button");
    revoke.type = "button";
    revoke.className = "btn btn-quiet btn-danger btn-small";
    revoke.dataset.revoke = device.id;
    revoke.textContent = "Revoke";
    const actions = DeskPilotDom.cell("", "actions");
    actions.append(revoke);
    row.append(
      DeskPilotDom.cell(device.label),
      DeskPilotDom.cell(utc(device.created_at)),
      DeskPilotDom.cell(utc(device.last_seen_at)),
      DeskPilotDom.cell(utc(device.expires_at)),
      actions,
    );
    return row;
  }

  async function readDevices() {
    try {
      const { items } = await DeskPilotApi.call("GET", "/api/2fa/devices");
      if (items.length) devices.replaceChildren(...items.map(deviceRow));
      else DeskPilotDom.placeholder(devices, 5, "No trusted devices.");
    } catch (error) {
      DeskPilotDom.placeholder(devices, 5, `Cannot read the trusted devices: ${error.message}`);
    }
  }

  devices.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-revoke]");
    if (!button) return;
    if (!window.confirm("Revoke this device? Its next login asks for a code again.")) return;
    button.disabled = true;
    try {
      await DeskPilotApi.call("DELETE", `/api/2fa/devices/${button.dataset.revoke}`);
    } catch (error) {
      window.alert(error.message);
    }
    readDevices();
  });

  readDevices();
})();
