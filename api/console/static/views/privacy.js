// Privacy: a subject's items across channels, export, erasure with its report, restriction,
// objection and consent.

import { api, call } from "../api.js";
import { bytes, confirmDialog, empty, field, h, replace, table, when } from "../dom.js";

export function render(root, ctx) {
  const subject = h("input", { name: "subject_id", type: "text", required: true, autocomplete: "off" });
  const items = h("div", { class: "results", "aria-live": "polite" });
  const outcome = h("div", { class: "outcome", "aria-live": "polite" });
  const actions = h("div", { class: "subject-actions", hidden: true });
  const consentPurpose = h("select", { name: "consent_purpose" });
  const objectPurposes = h("div", { class: "inline" });
  let policy = null;

  const id = () => subject.value.trim();
  const path = (what) => `/v1/subjects/${encodeURIComponent(id())}/${what}`;

  // After a request, the list is shown again and the request's outcome stays.
  async function load(event, keepOutcome = false) {
    event?.preventDefault();
    if (!id()) return;
    replace(items, h("p", {}, "Loading…"));
    if (!keepOutcome) replace(outcome);
    try {
      const page = await api("/v1/items", { params: { subject_id: id(), limit: 200 } });
      actions.hidden = false;
      replace(
        items,
        table(
          `Items of this subject (${page.items.length}${page.next_cursor ? "+" : ""})`,
          [
            ["When", (i) => when(i.occurred_at)],
            ["Type", (i) => i.type.replace("_", " ")],
            ["Source", (i) => i.source],
            ["Purposes", (i) => (i.purposes || []).map((p) => p.name).join(", ") || "none"],
            ["Holds", (i) => String((i.holds || []).length)],
            ["Restricted", (i) => (i.restricted ? "yes" : "no")],
            ["Size", (i) => bytes(i.content?.size_bytes)],
          ],
          page.items,
        ) || empty("keepline holds no item of this subject."),
      );
    } catch (err) {
      replace(items, ctx.problem(err, "privacy"));
    }
  }

  async function exportZip() {
    try {
      replace(outcome, h("p", {}, "Preparing the export…"));
      const response = await call(path("export"));
      const blob = await response.blob();
      const link = h("a", { href: URL.createObjectURL(blob), download: `subject-export.zip`, class: "download" }, `Download the export (${bytes(blob.size)})`);
      replace(outcome, h("p", { class: "count" }, "Export ready: items.json and each item's content. "), link);
      link.focus();
    } catch (err) {
      replace(outcome, ctx.problem(err, "privacy"));
    }
  }

  async function erase() {
    const ok = await confirmDialog(
      "Erase this subject's items?",
      "Every item of this subject is erased for good, except those a legal hold or a legal obligation keeps; the report says which and why.",
      "Erase",
    );
    if (!ok) return;
    try {
      const report = await api(path("erasure"), { method: "POST" });
      replace(
        outcome,
        h("h2", {}, "Erasure report"),
        h("p", { class: "count" }, `${report.erased.length} erased, ${report.retained.length} retained.`),
        table("Retained items", [["Item", (r) => r.item_id], ["Reason", (r) => r.reason]], report.retained),
        report.erased.length ? h("details", {}, h("summary", {}, "Erased item ids"), h("ul", {}, report.erased.map((x) => h("li", {}, x)))) : null,
      );
      ctx.say("Erasure done");
      load(null, true);
    } catch (err) {
      replace(outcome, ctx.problem(err, "privacy"));
    }
  }

  async function post(what, json, done) {
    try {
      await api(path(what), { method: "POST", json });
      replace(outcome, h("p", { class: "count" }, done));
      ctx.say(done);
      load(null, true);
    } catch (err) {
      replace(outcome, ctx.problem(err, "privacy"));
    }
  }

  function object() {
    const chosen = [...objectPurposes.querySelectorAll("input:checked")].map((i) => i.value);
    post("objection", chosen.length ? { purposes: chosen } : {}, `Objection recorded (${chosen.join(", ") || "every legitimate-interests purpose"}).`);
  }

  replace(
    root,
    h("h1", { id: `${ctx.viewId}-title`, tabindex: "-1" }, "Subject requests"),
    h(
      "form",
      { class: "filters", onsubmit: load },
      field("Subject id", subject, "The customer's id, as the CRM gives it."),
      h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Show items")),
    ),
    items,
    h(
      "div",
      {},
      actions,
    ),
    outcome,
  );
  replace(
    actions,
    h("h2", {}, "Requests"),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", onclick: exportZip }, "Export (access request)"),
      h("button", { type: "button", class: "danger", onclick: erase }, "Erase…"),
      h("button", { type: "button", onclick: () => post("restriction", { restricted: true }, "Processing restricted.") }, "Restrict processing"),
      h("button", { type: "button", onclick: () => post("restriction", { restricted: false }, "Restriction lifted.") }, "Lift restriction"),
    ),
    h("fieldset", {}, h("legend", {}, "Objection (legitimate-interests purposes; none ticked: all)"), objectPurposes,
      h("button", { type: "button", onclick: object }, "Record objection")),
    h("fieldset", {}, h("legend", {}, "Consent"), field("Purpose", consentPurpose),
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => post("consent", { purpose: consentPurpose.value, granted: true }, `Consent granted for ${consentPurpose.value}.`) }, "Grant consent"),
        h("button", { type: "button", onclick: () => post("consent", { purpose: consentPurpose.value, granted: false }, `Consent withdrawn for ${consentPurpose.value}.`) }, "Withdraw consent"))),
  );
  api("/v1/policy")
    .then((found) => {
      policy = found;
      const by = (basis) => Object.entries(policy.purposes).filter(([, p]) => p.basis === basis).map(([name]) => name);
      replace(objectPurposes, by("legitimate_interests").map((name) => h("label", {}, h("input", { type: "checkbox", value: name }), ` ${name}`)));
      const consent = by("consent");
      replace(consentPurpose, consent.length ? consent.map((name) => h("option", { value: name }, name)) : h("option", { value: "" }, "(no consent-based purpose)"));
    })
    .catch((err) => replace(outcome, ctx.problem(err, "privacy")));
}
