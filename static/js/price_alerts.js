// The price alerts of /alerts: the form's condition rows (the inputs of each kind, added and
// removed, their names numbered as the API names them so a refusal of conditions[1].value
// lands at that row's field through forms.js), and each rule's firings, read when its
// disclosure opens. The list itself is a live region (live_regions.js) on `price_alert`.
"use strict";

(() => {
  const box = document.querySelector("[data-conditions]");
  if (box) {
    const list = box.querySelector('[data-role="condition-list"]');
    const template = box.querySelector('[data-role="condition-template"]');
    const add = box.querySelector('[data-role="add-condition"]');
    const max = Number(box.dataset.max) || 10;
    const rows = () => Array.from(list.querySelectorAll("[data-condition-row]"));

    // Show the inputs the chosen kind takes, with what its value means.
    function applyKind(row) {
      const option = row.querySelector('[data-role="kind"]').selectedOptions[0];
      const fields = (option?.dataset.fields || "").split(" ");
      row.querySelectorAll("[data-field]").forEach((el) => {
        el.hidden = !fields.includes(el.dataset.field);
      });
      row.querySelector('[name$=".value"]').placeholder = option?.dataset.valueHint || "";
      row.querySelector('[name$=".period"]').placeholder = option?.dataset.periodHint || "";
    }

    // Rows numbered 0…n-1 as the API counts them, whatever was removed in between.
    function renumber() {
      const all = rows();
      all.forEach((row, index) => {
        row.querySelector("legend").textContent = `Condition ${index + 1}`;
        row.querySelectorAll("[name]").forEach((input) => {
          input.name = input.name.replace(/^conditions\[\d+\]/, `conditions[${index}]`);
        });
        const remove = row.querySelector('[data-role="remove-condition"]');
        remove.disabled = all.length === 1;
        remove.setAttribute("aria-label", `Remove condition ${index + 1}`);
      });
      add.disabled = all.length >= max;
      add.textContent = all.length >= max ? `At most ${max} conditions` : "Add condition";
    }

    add.addEventListener("click", () => {
      if (rows().length >= max) return;
      const row = template.content.firstElementChild.cloneNode(true);
      list.append(row);
      applyKind(row);
      renumber();
      row.querySelector('[data-role="kind"]').focus();
    });
    list.addEventListener("click", (event) => {
      const remove = event.target.closest('[data-role="remove-condition"]');
      if (!remove || rows().length === 1) return;
      remove.closest("[data-condition-row]").remove();
      renumber();
      rows()[0].querySelector('[data-role="kind"]').focus();
    });
    list.addEventListener("change", (event) => {
      if (event.target.matches('[data-role="kind"]')) applyKind(event.target.closest("[data-condition-row]"));
    });
    rows().forEach(applyKind); // a reload keeps a chosen kind
    renumber();
  }

  // What a condition saw, as the trigger recorded it: a price, a figure, both averages.
  function seenText(seen) {
    if (seen === null || seen === undefined) return "not defined yet";
    if (typeof seen === "object") return Object.entries(seen).map(([k, v]) => `${k} ${v}`).join(", ");
    return String(seen);
  }

  function firing(item, words) {
    const li = document.createElement("li");
    const time = document.createElement("span");
    time.className = "mono";
    time.textContent = DeskPilotDom.timeOf(item.time);
    const seen = document.createElement("ul");
    (item.values?.conditions || []).forEach((c) => {
      const line = document.createElement("li");
      line.append(`${words[c.condition] || c.kind.replaceAll("_", " ")}: saw ${seenText(c.seen)} `);
      line.append(DeskPilotDom.tag(c.met ? "met" : "not met", c.met ? "tag-ok" : ""));
      seen.append(line);
    });
    li.append(time, seen);
    return li;
  }

  // A rule's firings, newest first, read each time its disclosure opens.
  async function showTriggers(details) {
    const slot = details.querySelector('[data-role="triggers"]');
    const row = details.closest("tr").previousElementSibling;
    const words = Array.from(row.querySelectorAll("[data-condition]"), (el) => el.textContent.trim());
    slot.textContent = "Reading…";
    try {
      const answer = await DeskPilotApi.call("GET", details.dataset.triggers);
      if (!answer.items.length) {
        slot.textContent = "It has not fired yet.";
        return;
      }
      const items = document.createElement("ol");
      items.className = "firings";
      items.dataset.testid = "triggers";
      answer.items.forEach((item) => items.append(firing(item, words)));
      slot.replaceChildren(items);
    } catch (error) {
      slot.textContent = error.message;
    }
  }

  // toggle never bubbles; the disclosures come and go with the live region's swaps.
  document.addEventListener("toggle", (event) => {
    const details = event.target;
    if (details.matches?.("details[data-triggers]") && details.open) showTriggers(details);
  }, true);
})();
