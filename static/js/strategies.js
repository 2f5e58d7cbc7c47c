// The strategies page's signing secret: created or rotated on click and shown this once
// (the API never returns it again), so it is put on the page instead of reloading it.
"use strict";

(() => {
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-signing-secret]");
    if (!button) return;
    event.preventDefault();
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    const row = button.closest('[data-role="signing-row"]');
    const note = row.querySelector('[data-role="signing-note"]');
    button.disabled = true;
    try {
      const answer = await DeskPilotApi.call("POST", button.dataset.signingSecret);
      const box = row.querySelector('[data-role="signing-secret"]');
      box.textContent = answer.signing_secret;
      box.hidden = false;
      note.textContent = "Copy it now: it is not shown again. Alerts must carry X-Signature from now on.";
      const tag = button.closest("[data-strategy-id]").querySelector('[data-testid="signing"]');
      tag.textContent = "signed";
      tag.classList.add("tag-ok");
      button.textContent = "Rotate secret";
      button.dataset.confirm = "Rotate the signing secret? Alerts signed with the old one are refused at once.";
    } catch (error) {
      note.textContent = error.message;
    } finally {
      button.disabled = false;
    }
  });
})();
