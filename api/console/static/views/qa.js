// QA: find recordings, chats and e-mails for a purpose of one's own, play and read them.

import { api, call } from "../api.js";
import { bytes, dayAfter, dayStart, empty, field, h, replace, table, when } from "../dom.js";

const TEXT_LIMIT_BYTES = 2 * 1024 * 1024;

function agentOf(item) {
  return (item.parties || []).map((p) => p.staff_id).filter(Boolean).join(", ");
}

function label(item) {
  if (item.type === "call_recording") return `Call ${item.call_id || item.item_id}`;
  if (item.type === "email") return `E-mail ${item.subject || item.message_id || item.item_id}`;
  return `Chat ${item.conversation_id || item.item_id}`;
}

export function render(root, ctx) {
  const purpose = h("select", { name: "purpose", required: true });
  const type = h(
    "select",
    { name: "type" },
    h("option", { value: "" }, "Any"),
    h("option", { value: "call_recording" }, "Call recordings"),
    h("option", { value: "chat" }, "Chats"),
    h("option", { value: "email" }, "E-mails"),
  );
  const queue = h("input", { name: "queue", type: "text", autocomplete: "off" });
  const agent = h("input", { name: "agent", type: "text", autocomplete: "off" });
  const since = h("input", { name: "since", type: "date" });
  const until = h("input", { name: "until", type: "date" });
  const results = h("div", { class: "results", "aria-live": "polite" });
  const detail = h("div", { class: "detail" });
  let cursor = null;
  let rows = [];

  async function search(more = false) {
    if (!more) {
      rows = [];
      cursor = null;
      replace(detail);
    }
    replace(results, h("p", {}, "Searching…"));
    try {
      const page = await api("/v1/items", {
        params: {
          purpose: purpose.value,
          type: type.value,
          "attr.queue": queue.value.trim(),
          staff_id: agent.value.trim(),
          since: dayStart(since.value),
          until: dayAfter(until.value),
          limit: 50,
          cursor: more ? cursor : null,
        },
      });
      rows = rows.concat(page.items);
      cursor = page.next_cursor;
      showRows();
    } catch (err) {
      replace(results, ctx.problem(err, "qa"));
    }
  }

  function showRows() {
    const found = table(
      `${rows.length} item${rows.length === 1 ? "" : "s"} for ${purpose.value}`,
      [
        ["When", (i) => when(i.occurred_at)],
        ["What", (i) => label(i)],
        ["Queue", (i) => (i.attributes || {}).queue || ""],
        ["Agent", agentOf],
        ["Size", (i) => bytes(i.content?.size_bytes)],
        ["", (i) => h("button", { type: "button", onclick: () => open(i) }, i.type === "call_recording" ? "Play" : "Read")],
      ],
      rows,
    );
    replace(
      results,
      found || empty("No items match. Widen the dates, or check the queue and agent."),
      cursor ? h("button", { type: "button", onclick: () => search(true) }, "More results") : null,
    );
  }

  async function open(item) {
    replace(detail, h("h2", { id: "detail-title", tabindex: "-1" }, label(item)), h("p", {}, "Loading…"));
    detail.querySelector("h2").focus();
    const facts = h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Occurred"),
      h("dd", {}, when(item.occurred_at)),
      h("dt", {}, "Source"),
      h("dd", {}, item.source),
      h("dt", {}, "Purposes"),
      h("dd", {}, (item.purposes || []).map((p) => `${p.name} (until ${when(p.expires_at)})`).join("; ")),
    );
    if (!item.content) {
      replace(detail, detail.firstChild, facts, empty("This item has no stored content (metadata only)."));
      return;
    }
    try {
      if (item.type === "call_recording") {
        replace(detail, detail.firstChild, facts, await player(item));
      } else {
        replace(detail, detail.firstChild, facts, await reader(item));
      }
    } catch (err) {
      replace(detail, detail.firstChild, facts, ctx.problem(err, "qa"));
    }
  }

  async function player(item) {
    // <audio> cannot send a bearer header: the API signs a short-lived URL for this item,
    // which it serves with Range, so seeking fetches only the part asked for.
    const grant = await api(`/v1/items/${encodeURIComponent(item.item_id)}/content-url`, {
      method: "POST",
      params: { purpose: purpose.value },
    });
    const audio = h("audio", { controls: true, preload: "metadata", src: grant.url, "aria-label": `Recording ${label(item)}` });
    return h("div", { class: "player" }, audio, h("p", { class: "hint" }, `Link valid until ${when(grant.expires_at)}.`));
  }

  async function reader(item) {
    if (item.content.size_bytes > TEXT_LIMIT_BYTES) {
      return empty(`This ${item.type} is ${bytes(item.content.size_bytes)}: too large to show here.`);
    }
    const response = await call(`/v1/items/${encodeURIComponent(item.item_id)}/content`, {
      params: { purpose: purpose.value },
    });
    // Shown as text: markup in a chat or an e-mail is displayed, never interpreted.
    const text = await response.text();
    return h("pre", { class: "content", tabindex: "0", "aria-label": `Content of ${label(item)}` }, text);
  }

  replace(
    root,
    h("h1", { id: `${ctx.viewId}-title`, tabindex: "-1" }, "Find recordings, chats and e-mails"),
    h(
      "form",
      {
        class: "filters",
        onsubmit: (event) => {
          event.preventDefault();
          search();
        },
      },
      field("Purpose", purpose, "Required: what you retrieve these for."),
      field("Type", type),
      field("Queue", queue),
      field("Agent (staff id)", agent),
      field("From (UTC)", since),
      field("To (UTC, inclusive)", until),
      h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Search")),
    ),
    results,
    detail,
  );

  api("/v1/policy")
    .then((policy) => {
      const mine = Object.entries(policy.purposes).filter(([, p]) => p.roles.includes("qa"));
      if (!mine.length) {
        replace(results, empty("The active policy gives the qa role no purpose, so there is nothing to find."));
        return;
      }
      replace(purpose, mine.map(([name, p]) => h("option", { value: name }, `${name} (${p.basis.replace(/_/g, " ")})`)));
    })
    .catch((err) => replace(results, ctx.problem(err, "qa")));
}
