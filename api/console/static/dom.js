// Building the page from data: text is always set as text, never parsed as HTML, so nothing
// stored in keepline (a chat, an e-mail, a matter name) can run in the console.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let counter = 0;

// A labelled form control: <label for> tied to the control's id.
export function field(label, control, hint) {
  const id = control.id || `f${++counter}`;
  control.id = id;
  const hintEl = hint ? h("span", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl);
}

export function table(caption, columns, rows) {
  if (!rows.length) return null;
  return h(
    "table",
    {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, columns.map(([title]) => h("th", { scope: "col" }, title)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(row)))))),
  );
}

export function empty(message) {
  return h("p", { class: "empty" }, message);
}

export function when(value) {
  if (!value) return "";
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? String(value) : at.toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

export function bytes(size) {
  if (size === null || size === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

// A modal confirmation (native <dialog>: focus is trapped, Escape cancels).
export function confirmDialog(title, message, confirmLabel, extra = null) {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "confirm", "aria-labelledby": "confirm-title" },
      h("h2", { id: "confirm-title" }, title),
      h("p", {}, message),
      extra,
      h(
        "form",
        { method: "dialog", class: "actions" },
        h("button", { value: "cancel", type: "submit" }, "Cancel"),
        h("button", { value: "ok", type: "submit", class: "danger" }, confirmLabel),
      ),
    );
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

// Dates from <input type="date"> as RFC 3339 instants (UTC); an end date counts whole.
export function dayStart(value) {
  return value ? `${value}T00:00:00Z` : null;
}

export function dayAfter(value) {
  if (!value) return null;
  const at = new Date(`${value}T00:00:00Z`);
  at.setUTCDate(at.getUTCDate() + 1);
  return at.toISOString().replace(".000Z", "Z");
}

export function list(text) {
  return text
    .split(/[,\n]/)
    .map((v) => v.trim())
    .filter(Boolean);
}
