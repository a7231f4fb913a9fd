// Privacy: a subject's items across channels, export, erasure with its report, restriction,
// objection and consent; rectification of links, the access report and the register of
// disclosures.

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

  async function accessReport() {
    try {
      const report = await api(path("access-report"));
      replace(
        outcome,
        h("h2", { id: `${ctx.viewId}-report`, tabindex: "-1" }, "Access report"),
        h("p", { class: "count" }, `Prepared ${when(report.generated_at)}. Restricted: ${report.restricted ? "yes" : "no"}. Objections: ${report.objections.join(", ") || "none"}.`),
        report.items_by_type.length
          ? report.items_by_type.map((section) =>
              table(
                `${section.type.replace("_", " ")}: ${section.items} item${section.items === 1 ? "" : "s"}, from ${section.sources.join(", ")}${section.items_under_legal_hold ? `, ${section.items_under_legal_hold} under legal hold` : ""}`,
                [
                  ["Purpose", (p) => p.name],
                  ["Lawful basis", (p) => p.basis],
                  ["Kept for", (p) => p.retention || ""],
                  ["Items", (p) => String(p.items)],
                  ["Last expiry", (p) => when(p.last_expires_at)],
                ],
                section.purposes,
              ) || empty(`No purpose keeps this subject's ${section.type.replace("_", " ")} items.`),
            )
          : empty("keepline holds no item of this subject."),
        table(
          "Recipients of disclosures",
          [
            ["Recipient", (r) => r.recipient],
            ["Legal basis", (r) => r.legal_basis],
            ["Reference", (r) => r.reference],
            ["Disclosed", (r) => when(r.disclosed_at)],
            ["Items", (r) => String(r.item_count)],
          ],
          report.recipients,
        ) || empty("No disclosure of this subject's items is on the register."),
      );
      outcome.querySelector("h2").focus();
    } catch (err) {
      replace(outcome, ctx.problem(err, "privacy"));
    }
  }

  async function register() {
    try {
      const { disclosures } = await api("/v1/disclosures", { params: { subject_id: id() } });
      replace(
        outcome,
        h("h2", { id: `${ctx.viewId}-register`, tabindex: "-1" }, "Register of disclosures"),
        table(
          `Disclosures of this subject's items (${disclosures.length})`,
          [
            ["Recipient", (r) => r.recipient],
            ["Legal basis", (r) => r.legal_basis],
            ["Reference", (r) => r.reference],
            ["Disclosed", (r) => when(r.disclosed_at)],
            ["Items", (r) => String(r.item_count)],
            ["Recorded by", (r) => r.recorded_by],
          ],
          disclosures,
        ) || empty("No disclosure of this subject's items is on the register."),
      );
      outcome.querySelector("h2").focus();
    } catch (err) {
      replace(outcome, ctx.problem(err, "privacy"));
    }
  }

  const rectifyItem = h("input", { name: "rectify_item_id", type: "text", autocomplete: "off" });
  const rectifyAddress = h("input", { name: "rectify_address", type: "text", autocomplete: "off" });
  const rectifySubject = h("input", { name: "rectify_subject_id", type: "text", autocomplete: "off" });
  const rectifyName = h("input", { name: "rectify_display_name", type: "text", autocomplete: "off" });
  const rectifyReason = h("input", { name: "rectify_reason", type: "text", autocomplete: "off", maxlength: 2000 });

  async function rectify() {
    const set = {};
    if (rectifySubject.value.trim()) set.subject_id = rectifySubject.value.trim();
    if (rectifyName.value.trim()) set.display_name = rectifyName.value.trim();
    const body = { set, reason: rectifyReason.value.trim() };
    if (rectifyItem.value.trim()) body.item_id = rectifyItem.value.trim();
    if (rectifyAddress.value.trim()) body.address = rectifyAddress.value.trim();
    try {
      const result = await api(path("rectification"), { method: "POST", json: body });
      replace(
        outcome,
        h("h2", { id: `${ctx.viewId}-rectified`, tabindex: "-1" }, "Rectification"),
        h("p", { class: "count" }, `${result.items.length} item${result.items.length === 1 ? "" : "s"} relinked${result.new_subject_id ? ` to ${result.new_subject_id}` : ""}; the previous links are in the audit trail.`),
        table(
          "Items changed",
          [
            ["Item", (x) => x.item_id],
            ["Purposes added", (x) => x.purposes_added.join(", ")],
            ["Purposes removed", (x) => x.purposes_removed.join(", ")],
            ["Holds added", (x) => String(x.holds_added.length)],
          ],
          result.items,
        ),
        table(
          "Recipients to inform",
          [["Recipient", (r) => r.recipient], ["Reference", (r) => r.reference], ["Items", (r) => String(r.item_ids.length)]],
          result.recipients_to_inform,
        ) || empty("No earlier recipient of these items is to be told."),
      );
      outcome.querySelector("h2").focus();
      ctx.say("Rectification done");
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
      h("button", { type: "button", onclick: accessReport }, "Access report"),
      h("button", { type: "button", onclick: register }, "Register of disclosures"),
    ),
    h("fieldset", {}, h("legend", {}, "Objection (legitimate-interests purposes; none ticked: all)"), objectPurposes,
      h("button", { type: "button", onclick: object }, "Record objection")),
    h("fieldset", {}, h("legend", {}, "Consent"), field("Purpose", consentPurpose),
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => post("consent", { purpose: consentPurpose.value, granted: true }, `Consent granted for ${consentPurpose.value}.`) }, "Grant consent"),
        h("button", { type: "button", onclick: () => post("consent", { purpose: consentPurpose.value, granted: false }, `Consent withdrawn for ${consentPurpose.value}.`) }, "Withdraw consent"))),
    h("fieldset", {}, h("legend", {}, "Rectify how items are linked (never their content)"),
      field("Item id", rectifyItem, "One item; or give the address below for every item with it."),
      field("Address", rectifyAddress, "The phone number, e-mail address or handle wrongly linked."),
      field("Correct subject", rectifySubject, "The customer the item belongs to."),
      field("Display name", rectifyName),
      field("Reason", rectifyReason, "Kept in the audit trail with the previous link."),
      h("div", { class: "actions" }, h("button", { type: "button", onclick: rectify }, "Rectify"))),
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
