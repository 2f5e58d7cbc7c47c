// Exits as the order ticket and the strategy form write them (DESIGN §5.2), and the words
// of their preview. Shared by forms.js and control_center.js.
"use strict";

const DeskPilotExits = (() => {
  // A value at a dotted path: "break_even.trigger" nests as {"break_even": {"trigger": …}};
  // an indexed name is a list's item: "conditions[1].value" → {"conditions": [, {"value": …}]}.
  function assignPath(body, path, value) {
    const names = path.split(".");
    const last = names.pop();
    let place = body;
    names.forEach((name) => {
      const item = /^(.+)\[(\d+)\]$/.exec(name);
      if (item) place = (place[item[1]] ??= [])[Number(item[2])] ??= {};
      else place = place[name] ??= {};
    });
    place[last] = value;
  }

  // {"ticks": "16"}, plus a trailing stop's activation; "first_target" when that unit is
  // chosen (break-even's trigger); null when nothing is typed. An activation without a
  // distance is still sent, so the API names the missing part.
  function exitSpec(fieldset) {
    const value = (role) => fieldset.querySelector(`[data-role="${role}"]`)?.value.trim() ?? "";
    if (value("unit") === "first_target") return "first_target";
    const spec = {};
    if (value("amount") !== "") spec[value("unit")] = value("amount");
    if (value("activation-amount") !== "") {
      spec.activation = { [value("activation-unit")]: value("activation-amount") };
    }
    return Object.keys(spec).length ? spec : null;
  }

  // The scale-out targets typed: each row with an offset or a share.
  function targetsOf(scope) {
    return Array.from(scope.querySelectorAll("[data-target]"))
      .map((row) => {
        const amount = row.querySelector('[data-role="amount"]').value.trim();
        const share = row.querySelector('[data-role="share"]').value.trim();
        if (amount === "" && share === "") return null;
        const unit = row.querySelector('[data-role="unit"]').value;
        const target = amount === "" ? {} : { [unit]: amount };
        if (share !== "") target.percent_of_position = share;
        return target;
      })
      .filter(Boolean);
  }

  // Targets typed are the body's take profit; one take profit beside them is refused here,
  // by name, as the API would.
  function applyTargets(scope, body) {
    const targets = targetsOf(scope);
    if (!targets.length) return;
    if (body.take_profit) {
      const text = "give one take profit or targets, not both";
      throw { message: `take_profit: ${text}`, fields: { take_profit: text } };
    }
    body.take_profit = targets;
  }

  // One side of a preview answer in words: "Buy: targets 1 @ 6002, 1 @ 6004 · stop 5998".
  function sidePreview(name, answer) {
    if (answer.error) return `${name}: ${answer.error.message}`;
    const parts = [];
    if (answer.take_profit_price) parts.push(`take profit ${answer.take_profit_price}`);
    if (answer.targets?.length) {
      parts.push(`targets ${answer.targets.map((t) => `${t.qty} @ ${t.price}`).join(", ")}`);
    }
    if (answer.stop_loss_price) parts.push(`stop ${answer.stop_loss_price}`);
    if (answer.trailing_stop_price) parts.push(`trailing stop ${answer.trailing_stop_price}`);
    if (answer.break_even) {
      parts.push(`break-even at ${answer.break_even.trigger_price} → stop ${answer.break_even.stop_price}`);
    }
    return `${name}: ${parts.join(" · ")}`;
  }

  const EXIT_FIELDS = ["take_profit", "stop_loss", "trailing_stop", "break_even"];

  // Whether a body carries any exit worth previewing.
  function hasExits(body) {
    return EXIT_FIELDS.some((name) => body[name]);
  }

  return { assignPath, exitSpec, targetsOf, applyTargets, sidePreview, hasExits };
})();
