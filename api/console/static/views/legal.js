// Legal: build hold criteria, preview the count, place the hold; list holds and release them.

import { api } from "../api.js";
import { confirmDialog, dayAfter, dayStart, empty, field, h, list, replace, table, when } from "../dom.js";

function criteriaSummary(criteria) {
  return Object.entries(criteria || {})
    .map(([key, value]) => `${key}: ${Array.isArray(value) ? value.join(", ") : typeof value === "object" ? JSON.stringify(value) : value}`)
    .join("; ");
}

// The items a hold covers: GET /v1/items narrowed by what of the criteria the list route
// takes (one subject, one staff member, one type, the time range), keeping the items whose
// `holds` name this hold. At most COVERED_PAGES pages are read.
const COVERED_PAGES = 20;

function coveredQuery(criteria) {
  const query = new URLSearchParams({ limit: "500" });
  const one = (values) => (Array.isArray(values) && values.length === 1 ? values[0] : null);
  if (one(criteria.subject_ids)) query.set("subject_id", one(criteria.subject_ids));
  if (one(criteria.staff_ids)) query.set("staff_id", one(criteria.staff_ids));
  if (one(criteria.types)) query.set("type", one(criteria.types));
  if (criteria.since) query.set("since", criteria.since);
  if (criteria.until) query.set("until", criteria.until);
  return query;
}

async function coveredItems(hold) {
  const query = coveredQuery(hold.criteria || {});
  const found = [];
  for (let page = 0; page < COVERED_PAGES; page++) {
    const body = await api(`/v1/items?${query}`);
    found.push(...body.items.filter((item) => (item.holds || []).includes(hold.hold_id)));
    if (!body.next_cursor) return { items: found, complete: true };
    query.set("cursor", body.next_cursor);
  }
  return { items: found, complete: false };
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
  const covered = h("div", { class: "results", "aria-live": "polite" });
  const why = h("div", { class: "results", "aria-live": "polite" });

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

  // Why an item is kept and until when: GET /v1/items/{id}/retention, as the sweeper decides.
  async function showWhy(item) {
    replace(why, h("p", {}, `Asking why item ${item.item_id} is kept…`));
    try {
      const x = await api(`/v1/items/${encodeURIComponent(item.item_id)}/retention`);
      const facts = [
        ["Destroyed no earlier than", x.destroy_after ? when(x.destroy_after) : "not while a hold or a review keeps it"],
        ["Object Lock until", x.worm_until ? when(x.worm_until) : "none"],
        ["Covering holds", (x.holds || []).map((hold) => hold.matter).join(", ") || "none"],
        ["Erasure pending", x.erasure_pending ? "yes, once the holds are released" : "no"],
        ["Disposition review", x.review ? `${x.review.state} (${(x.review.purposes || []).join(", ")})` : "none"],
      ];
      replace(
        why,
        h("h2", { id: `${ctx.viewId}-why`, tabindex: "-1" }, `Why item ${x.item_id} is kept`),
        table(
          "Each purpose, its lawful basis and where it stands",
          [
            ["Purpose", (p) => p.name],
            ["Basis", (p) => p.basis || ""],
            ["Expires", (p) => when(p.expires_at)],
            ["State", (p) => (p.removed_at ? `${p.state} ${when(p.removed_at)}` : p.state)],
          ],
          x.purposes || [],
        ) || empty("No purpose keeps this item any more."),
        h("dl", { class: "facts" }, facts.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
      );
      why.querySelector("h2").focus();
    } catch (err) {
      replace(why, ctx.problem(err, "legal"));
    }
  }

  async function showCovered(hold) {
    replace(covered, h("p", {}, `Finding the items the hold for ${hold.matter} covers…`));
    try {
      const { items, complete } = await coveredItems(hold);
      replace(
        covered,
        h("h2", { id: `${ctx.viewId}-covered`, tabindex: "-1" }, `Items the hold for ${hold.matter} covers`),
        table(
          `${items.length} item${items.length === 1 ? "" : "s"} covered now${complete ? "" : " (the first pages only)"}`,
          [
            ["Item", (x) => x.item_id],
            ["Type", (x) => x.type],
            ["Occurred", (x) => when(x.occurred_at)],
            ["Purposes", (x) => (x.purposes || []).map((p) => p.name).join(", ")],
            ["Status", (x) => x.status || ""],
            ["", (x) => h("button", { type: "button", onclick: () => showWhy(x) }, `Why kept: ${x.item_id}`)],
          ],
          items,
        ) || empty(`The hold for ${hold.matter} covers no stored item now.`),
      );
      covered.querySelector("h2").focus();
    } catch (err) {
      replace(covered, ctx.problem(err, "legal"));
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
            ["", (x) => (x.active ? h("button", { type: "button", onclick: () => showCovered(x) }, `Items of ${x.matter}`) : "")],
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
    covered,
    why,
  );
  refresh();
}
