// Legal: build hold criteria, preview the count, place the hold; list holds and release them.

import { api } from "../api.js";
import { confirmDialog, dayAfter, dayStart, empty, field, h, list, replace, table, when } from "../dom.js";

function criteriaSummary(criteria) {
  return Object.entries(criteria || {})
    .map(([key, value]) => `${key}: ${Array.isArray(value) ? value.join(", ") : typeof value === "object" ? JSON.stringify(value) : value}`)
    .join("; ");
}

export function render(root, ctx) {
  const subjects = h("input", { name: "subject_ids", type: "text", autocomplete: "off" });
  const addresses = h("input", { name: "addresses", type: "text", autocomplete: "off" });
  const staff = h("input", { name: "staff_ids", type: "text", autocomplete: "off" });
  const types = ["call_recording", "email", "chat"].map((t) => h("input", { type: "checkbox", name: "types", value: t }));
  const since = h("input", { name: "since", type: "date" });
  const until = h("input", { name: "until", type: "date" });
  const attributes = h("textarea", { name: "attributes", rows: 2 });
  const matter = h("input", { name: "matter", type: "text", required: true, maxlength: 200 });
  const description = h("textarea", { name: "description", rows: 2 });
  const outcome = h("div", { class: "outcome", "aria-live": "polite" });
  const holds = h("div", { class: "results" });

  function criteria() {
    const found = {};
    const put = (key, values) => {
      if (values.length) found[key] = values;
    };
    put("subject_ids", list(subjects.value));
    put("addresses", list(addresses.value));
    put("staff_ids", list(staff.value));
    put("types", types.filter((t) => t.checked).map((t) => t.value));
    if (since.value) found.since = dayStart(since.value);
    if (until.value) found.until = dayAfter(until.value);
    const attrs = {};
    for (const line of attributes.value.split("\n")) {
      const [key, ...rest] = line.split("=");
      if (key.trim() && rest.length) (attrs[key.trim()] ||= []).push(rest.join("=").trim());
    }
    if (Object.keys(attrs).length) found.attributes = attrs;
    return found;
  }

  function needsCriteria(found) {
    if (Object.keys(found).length) return false;
    replace(outcome, h("div", { class: "error", role: "alert" }, "Give at least one criterion: a hold on everything is not a hold."));
    return true;
  }

  async function preview() {
    const found = criteria();
    if (needsCriteria(found)) return;
    try {
      const { matched } = await api("/v1/holds/preview", { method: "POST", json: { criteria: found } });
      replace(outcome, h("p", { class: "count" }, `${matched} item${matched === 1 ? "" : "s"} would be covered now (and any matching item ingested later).`));
    } catch (err) {
      replace(outcome, ctx.problem(err, "legal"));
    }
  }

  async function place(event) {
    event.preventDefault();
    const found = criteria();
    if (needsCriteria(found)) return;
    try {
      const hold = await api("/v1/holds", {
        method: "POST",
        json: { matter: matter.value.trim(), description: description.value, criteria: found },
      });
      replace(outcome, h("p", { class: "count" }, `Hold placed for ${hold.matter}: it covers ${hold.matched} item${hold.matched === 1 ? "" : "s"}.`));
      ctx.say(`Hold placed for ${hold.matter}`);
      refresh();
    } catch (err) {
      replace(outcome, ctx.problem(err, "legal"));
    }
  }

  async function release(hold) {
    const reason = h("input", { type: "text", name: "reason", autocomplete: "off" });
    const ok = await confirmDialog(
      "Release this hold?",
      `Releasing the hold for ${hold.matter} lets its ${hold.matched} item${hold.matched === 1 ? "" : "s"} resume normal retention: items whose purposes have expired may then be destroyed.`,
      `Release hold on ${hold.matched} item${hold.matched === 1 ? "" : "s"}`,
      field("Reason (optional)", reason),
    );
    if (!ok) return;
    try {
      const body = reason.value.trim() ? { reason: reason.value.trim() } : undefined;
      await api(`/v1/holds/${encodeURIComponent(hold.hold_id)}/release`, { method: "POST", json: body });
      ctx.say(`Hold for ${hold.matter} released`);
      refresh();
    } catch (err) {
      replace(holds, ctx.problem(err, "legal"));
    }
  }

  async function refresh() {
    try {
      const { holds: found } = await api("/v1/holds");
      replace(
        holds,
        table(
          "Holds, newest first",
          [
            ["Matter", (x) => x.matter],
            ["Criteria", (x) => criteriaSummary(x.criteria)],
            ["Items", (x) => String(x.matched)],
            ["Placed", (x) => `${when(x.created_at)} by ${x.created_by}`],
            ["State", (x) => (x.active ? "active" : `released ${when(x.released_at)}`)],
            ["", (x) => (x.active ? h("button", { type: "button", onclick: () => release(x) }, `Release ${x.matter}`) : "")],
          ],
          found,
        ) || empty("No holds yet. Build the criteria above, preview, then place one."),
      );
    } catch (err) {
      replace(holds, ctx.problem(err, "legal"));
    }
  }

  replace(
    root,
    h("h1", { id: `${ctx.viewId}-title`, tabindex: "-1" }, "Legal holds"),
    h(
      "form",
      { class: "filters", onsubmit: place },
      h(
        "fieldset",
        {},
        h("legend", {}, "Criteria (every one given must match; within a list, any value)"),
        field("Subject ids", subjects, "Comma-separated."),
        field("Addresses", addresses, "Phone numbers, e-mail addresses or chat handles."),
        field("Staff ids", staff),
        h("fieldset", { class: "inline" }, h("legend", {}, "Types"), types.map((t) => h("label", {}, t, ` ${t.value}`))),
        field("From (UTC)", since),
        field("To (UTC, inclusive)", until),
        field("Attributes", attributes, "One key=value a line, e.g. queue=sales."),
      ),
      h("div", { class: "actions" }, h("button", { type: "button", onclick: preview }, "Preview count")),
      field("Matter", matter),
      field("Description", description),
      h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Place hold")),
    ),
    outcome,
    h("h2", {}, "Holds"),
    holds,
  );
  refresh();
}
