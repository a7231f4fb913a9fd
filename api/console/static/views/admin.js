// Admin: the active policy; a new policy file with its dry-run (where the API offers one)
// before activating it.

import { api, call } from "../api.js";
import { confirmDialog, empty, field, h, replace, table } from "../dom.js";

export function render(root, ctx) {
  const active = h("div", { class: "results" });
  const text = h("textarea", { name: "policy", rows: 18, spellcheck: "false", class: "code" });
  const outcome = h("div", { class: "outcome", "aria-live": "polite" });
  const dryRunAvailable = Boolean(ctx.config.features?.policy_dry_run);

  async function show() {
    try {
      const policy = await api("/v1/policy");
      replace(
        active,
        h("p", {}, "Active version ", h("code", {}, policy.version)),
        table(
          "Purposes",
          [
            ["Purpose", ([name]) => name],
            ["Basis", ([, p]) => p.basis.replace(/_/g, " ")],
            ["Retention", ([, p]) => p.retention],
            ["Roles", ([, p]) => p.roles.join(", ")],
            ["WORM", ([, p]) => (p.worm ? "yes" : "no")],
          ],
          Object.entries(policy.purposes),
        ) || empty("The policy declares no purpose."),
        table(
          "Rules (first match wins)",
          [
            ["#", (r) => String(policy.rules.indexOf(r) + 1)],
            ["Match", (r) => JSON.stringify(r.match)],
            ["Purposes", (r) => r.purposes.join(", ")],
          ],
          policy.rules,
        ),
      );
      if (!text.value) text.value = policy.text;
    } catch (err) {
      replace(active, ctx.problem(err, "admin"));
    }
  }

  function counts(title, byPurpose) {
    const rows = Object.entries(byPurpose || {});
    return table(title, [["Purpose", ([name]) => name], ["Items", ([, n]) => String(n)]], rows);
  }

  async function dryRun() {
    replace(outcome, h("p", {}, "Planning the new policy over the stored items…"));
    try {
      const response = await call("/v1/policy/dry-run", {
        method: "POST",
        body: text.value,
        headers: { "Content-Type": "application/yaml" },
      });
      const plan = await response.json();
      const destroyable = plan.would_become_destroyable || { count: 0, item_ids: [] };
      replace(
        outcome,
        h("h2", {}, "Dry run (nothing activated)"),
        h(
          "p",
          { class: "count" },
          `${plan.items_changed} of ${plan.items_examined} stored items would change: `,
          `${plan.purposes_added} purposes added, ${plan.purposes_removed} removed, `,
          `${plan.expiries_moved} expiries moved. `,
          `${destroyable.count} item${destroyable.count === 1 ? "" : "s"} would become destroyable.`,
        ),
        counts("Items gaining a purpose", plan.changes?.added),
        counts("Items losing a purpose", plan.changes?.removed),
        counts("Items whose expiry moves", plan.changes?.moved),
        destroyable.item_ids.length
          ? h("details", {}, h("summary", {}, "Items that would become destroyable"),
              h("ul", {}, destroyable.item_ids.map((id) => h("li", {}, id))))
          : null,
      );
    } catch (err) {
      replace(outcome, ctx.problem(err, "admin"));
    }
  }

  async function activate(event) {
    event.preventDefault();
    const ok = await confirmDialog(
      "Activate this policy?",
      "Items ingested from now on get their purposes under the new version; stored items keep theirs until the policy is applied to them.",
      "Activate",
    );
    if (!ok) return;
    try {
      const response = await call("/v1/policy", {
        method: "PUT",
        body: text.value,
        headers: { "Content-Type": "application/yaml" },
      });
      const result = await response.json();
      replace(outcome, h("p", { class: "ok" }, result.activated ? `Activated version ${result.version} (was ${result.previous_version}).` : "This policy is already the active one."));
      ctx.say("Policy activated");
      show();
    } catch (err) {
      replace(outcome, ctx.problem(err, "admin"));
    }
  }

  replace(
    root,
    h("h1", { id: `${ctx.viewId}-title`, tabindex: "-1" }, "Retention policy"),
    h("h2", {}, "Active policy"),
    active,
    h("h2", {}, "New policy"),
    h(
      "form",
      { class: "policy", onsubmit: activate },
      field("Policy YAML", text, "Edit the active policy or paste a new one."),
      h(
        "div",
        { class: "actions" },
        dryRunAvailable
          ? h("button", { type: "button", onclick: dryRun }, "Dry run")
          : h("span", { class: "hint" }, "This keepline has no dry run (POST /v1/policy/dry-run); check the policy carefully."),
        h("button", { type: "submit", class: "primary" }, "Activate…"),
      ),
    ),
    outcome,
  );
  show();
}
