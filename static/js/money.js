// Money as the API sends it — decimal strings — shown to people without ever passing
// through a JS float: "-1234.5" → "−1,234.50", grouped and padded by string work alone.
"use strict";

const DeskPilotMoney = (() => {
  const DECIMAL = /^([+-]?)(\d+)(?:\.(\d+))?$/;

  // -1, 0 or 1: the sign of a decimal string (null for nothing or not a number).
  function sign(value) {
    const match = DECIMAL.exec(String(value ?? "").trim());
    if (!match) return null;
    if (/^0*$/.test(match[2]) && /^0*$/.test(match[3] || "")) return 0;
    return match[1] === "-" ? -1 : 1;
  }

  // "50000" → "50,000.00"; at least cents, every digit the server sent kept; `signed`
  // puts "+" before a gain. Nothing, or anything not a decimal, shows an em dash.
  function text(value, { signed = false } = {}) {
    const match = DECIMAL.exec(String(value ?? "").trim());
    if (!match) return "—";
    const whole = match[2].replace(/^0+(?=\d)/, "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    const cents = (match[3] || "").padEnd(2, "0");
    const direction = sign(value);
    const prefix = direction < 0 ? "−" : direction > 0 && signed ? "+" : "";
    return `${prefix}${whole}.${cents}`;
  }

  // "up", "down" or "" for colouring a figure by its sign.
  function tone(value) {
    const direction = sign(value);
    return direction > 0 ? "up" : direction < 0 ? "down" : "";
  }

  return { sign, text, tone };
})();
window.DeskPilotMoney = DeskPilotMoney;
