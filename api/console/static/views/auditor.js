// Auditor: the audit trail with filters, and the hash chain's verify result.

import { api } from "../api.js";
import { dayStart, empty, field, h, replace, table, when } from "../dom.js";

export function render(root, ctx) {
  const itemId = h("input", { name: "item_id", type: "text", autocomplete: "off" });
  const actor = h("input", { name: "actor", type: "text", autocomplete: "off" });
  const action = h("input", { name: "action", type: "text", autocomplete: "off", list: "audit-actions" });
  const since = h("input", { name: "since", type: "date" });
  const verdict = h("div", { class: "outcome", "aria-live": "polite" });
  const results = h("div", { class: "results", "aria-live": "polite" });
  let rows = [];
  let after = 0;

  async function search(more = false) {
    if (!more) {
      rows = [];
      after = 0;
    }
    try {
      const page = await api("/v1/audit", {
        params: {
          item_id: itemId.value.trim(),
          actor: actor.value.trim(),
          action: action.value.trim(),
          since: dayStart(since.value),
          after: after || null,
          limit: 100,
        },
      });
      rows = rows.concat(page.entries);
      after = page.next_after;
      replace(
        results,
        table(
          `${rows.length} entr${rows.length === 1 ? "y" : "ies"}, oldest first`,
          [
            ["#", (e) => String(e.seq)],
            ["At", (e) => when(e.at)],
            ["Actor", (e) => e.actor],
            ["Action", (e) => e.action],
            ["Item", (e) => e.item_id || ""],
            ["Details", (e) => h("code", {}, JSON.stringify(e.details))],
          ],
          rows,
        ) || empty("No audit entry matches these filters."),
        after ? h("button", { type: "button", onclick: () => search(true) }, "More entries") : null,
      );
    } catch (err) {
      replace(results, ctx.problem(err, "auditor"));
    }
  }

  async function verify() {
    replace(verdict, h("p", {}, "Recomputing the chain…"));
    try {
      const result = await api("/v1/audit/verify");
      replace(
        verdict,
        result.ok
          ? h("p", { class: "ok" }, `Chain intact: ${result.entries} entries verified; head ${result.head.slice(0, 16)}…`)
          : h("div", { class: "error", role: "alert" }, `Chain broken at entry ${result.first_broken_seq}: ${result.entries} entries verify before it.`),
      );
    } catch (err) {
      replace(verdict, ctx.problem(err, "auditor"));
    }
  }

  replace(
    root,
    h("h1", { id: `${ctx.viewId}-title`, tabindex: "-1" }, "Audit trail"),
    h("div", { class: "actions" }, h("button", { type: "button", class: "primary", onclick: verify }, "Verify the chain")),
    verdict,
    h(
      "form",
      {
        class: "filters",
        onsubmit: (event) => {
          event.preventDefault();
          search();
        },
      },
      field("Item id", itemId),
      field("Actor", actor),
      field("Action", action, "e.g. content.read, hold.placed"),
      h("datalist", { id: "audit-actions" }, ["content.read", "hold.placed", "hold.released", "subject.erasure", "subject.export", "policy.changed"].map((a) => h("option", { value: a }))),
      field("Since (UTC)", since),
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Search")),
    ),
    results,
  );
  search();
}
