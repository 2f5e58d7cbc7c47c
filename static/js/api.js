// Calls the JSON API with the page's CSRF token and turns error bodies into messages.
"use strict";

const DeskPilotApi = (() => {
  const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content || "";
  let leaving = false;
  window.addEventListener("beforeunload", () => { leaving = true; });
  window.addEventListener("pageshow", () => { leaving = false; }); // back from the cache

  class ApiError extends Error {
    constructor(status, error) {
      super(error?.message || `Request failed (${status})`);
      this.status = status;
      this.code = error?.code;
      this.fields = error?.fields || {};
    }
  }

  async function refusalOf(response) {
    try {
      return (await response.json())?.error || null;
    } catch {
      return null;
    }
  }

  // `stepped`: the call is a retry after a step-up (static/js/step_up.js), not asked twice.
  async function call(method, url, body, stepped = false) {
    const init = { method, credentials: "same-origin", headers: { "X-CSRF-Token": csrfToken() } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    if (response.status === 401) {
      const refusal = await refusalOf(response);
      if (refusal?.code === "step_up_required") {
        if (stepped || typeof DeskPilotStepUp === "undefined") throw new ApiError(401, refusal);
        await DeskPilotStepUp.prove(refusal.message);
        return call(method, url, body, true);
      }
      // Leaving already (the logout form, say): a second navigation would cancel that one.
      if (!leaving) window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname)}`);
      throw new ApiError(401, { message: "Your session ended; please log in again." });
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      // A proxy's HTML error page, say: say what happened instead of a JSON parse error.
      throw new ApiError(response.status, {
        message: `The server answered ${response.status} ${response.statusText} without JSON.`,
      });
    }
    if (!response.ok) throw new ApiError(response.status, data?.error);
    return data;
  }

  return { call, ApiError };
})();
