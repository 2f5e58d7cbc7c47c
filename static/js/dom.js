// Small DOM builders the live pages share (dashboard, control center): table cells, links,
// tags and placeholders made with textContent only, so nothing from the server is ever HTML.
"use strict";

const DeskPilotDom = (() => {
  function cell(text, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text ?? "";
    return td;
  }

  function link(text, href) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    return a;
  }

  function tag(text, className) {
    const span = document.createElement("span");
    span.className = `tag ${className || ""}`.trim();
    span.textContent = text;
    return span;
  }

  // One muted row across `columns` saying why the table is empty.
  function placeholder(tbody, columns, text) {
    const row = document.createElement("tr");
    row.className = "placeholder";
    const td = cell(text, "muted");
    td.colSpan = columns;
    row.append(td);
    tbody.replaceChildren(row);
  }

  // A signed quantity: +2, -1, 0.
  const signed = (qty) => (qty > 0 ? `+${qty}` : String(qty));
  // An ISO time as "2026-12-03 14:30:05" (UTC, as the API sends it).
  const timeOf = (iso) => (iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace("Z", "") : "");

  return { cell, link, tag, placeholder, signed, timeOf };
})();
