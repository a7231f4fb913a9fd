// The console: signs the user in, asks the API who they are, and shows the views their
// roles may use. Each view talks to the public API only, with the user's own token.

import { ApiError, UNREACHABLE, api, setToken } from "./api.js";
import * as auth from "./auth.js";
import { field, h, replace } from "./dom.js";
import * as admin from "./views/admin.js";
import * as auditor from "./views/auditor.js";
import * as legal from "./views/legal.js";
import * as privacy from "./views/privacy.js";
import * as qa from "./views/qa.js";

const VIEWS = [
  { id: "items", title: "Find & play", role: "qa", module: qa },
  { id: "holds", title: "Legal holds", role: "legal", module: legal },
  { id: "subjects", title: "Subject requests", role: "privacy", module: privacy },
  { id: "audit", title: "Audit trail", role: "auditor", module: auditor },
  { id: "policy", title: "Policy", role: "admin", module: admin },
];

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const statusLine = document.getElementById("status");

let signedInRoles = [];

// An error as the user should read it: a 403 in a view whose role the user lacks names that
// role; any other 403 quotes what the API refused and why.
export function problem(err, role) {
  let text = err instanceof Error ? err.message : String(err);
  if (err instanceof ApiError && err.status === 403 && role && !signedInRoles.includes(role)) {
    text = `This needs the ${role} role; you are signed in with: ${signedInRoles.join(", ") || "no role"}. ${err.message}`;
  }
  return h("div", { class: "error", role: "alert" }, text);
}

function say(message) {
  statusLine.textContent = message;
}

function signInPage(config, message) {
  const parts = [h("h1", { tabindex: "-1" }, "Sign in to keepline")];
  if (message) parts.push(h("div", { class: "error", role: "alert" }, message));
  if (config.oidc) {
    parts.push(
      h("p", {}, "Sign in with your organisation's account."),
      h(
        "button",
        {
          class: "primary",
          type: "button",
          onclick: async (event) => {
            event.target.disabled = true;
            try {
              await auth.beginSignIn(config.oidc);
            } catch (err) {
              event.target.disabled = false;
              replace(main, signInPage(config, err.message));
            }
          },
        },
        "Sign in with single sign-on",
      ),
    );
  } else {
    const input = h("input", { type: "password", name: "token", autocomplete: "off", required: true });
    parts.push(
      h(
        "p",
        { class: "local" },
        h("strong", {}, "Local use only: "),
        "no OpenID provider is configured (KEEPLINE_OIDC_ISSUER, KEEPLINE_OIDC_CLIENT_ID), ",
        "so the console takes one of the API's tokens (KEEPLINE_API_TOKENS).",
      ),
      h(
        "form",
        {
          class: "signin",
          onsubmit: (event) => {
            event.preventDefault();
            auth.save({ token: input.value.trim(), kind: "token" });
            start();
          },
        },
        field("API token", input),
        h("button", { class: "primary", type: "submit" }, "Sign in with a token"),
      ),
    );
  }
  return h("section", { class: "signin-page" }, parts);
}

function show(children) {
  replace(main, children);
  const heading = main.querySelector("h1");
  (heading || main).focus();
}

async function start() {
  let config;
  try {
    const response = await fetch("/console/config.json");
    config = await response.json();
  } catch {
    show(h("div", { class: "error", role: "alert" }, UNREACHABLE));
    return;
  }
  try {
    const session = await auth.completeSignIn(config.oidc);
    if (session) auth.save(session);
  } catch (err) {
    show(signInPage(config, err.message));
    return;
  }
  const session = auth.saved();
  if (!session) {
    replace(nav);
    replace(who);
    show(signInPage(config));
    return;
  }
  setToken(session.token);
  let me;
  try {
    me = await api("/v1/me");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      auth.forget();
      show(signInPage(config, "That sign-in was not accepted (unknown or expired token). Please sign in again."));
    } else {
      show(problem(err));
    }
    return;
  }
  signedInRoles = me.roles;
  const views = VIEWS.filter((view) => me.roles.includes(view.role));
  replace(
    who,
    h("span", {}, me.name, " · ", me.roles.join(", ") || "no role", session.kind === "token" ? " · token (local)" : ""),
    h(
      "button",
      {
        type: "button",
        onclick: () => {
          auth.forget();
          setToken(null);
          location.hash = "";
          start();
        },
      },
      "Sign out",
    ),
  );
  replace(nav, views.map((view) => h("li", {}, h("a", { href: `#/${view.id}`, "data-view": view.id }, view.title))));
  const context = { me, config, say, problem };
  const route = () => {
    const wanted = location.hash.replace(/^#\//, "");
    const view = views.find((v) => v.id === wanted) || views[0];
    for (const link of nav.querySelectorAll("a")) {
      if (link.dataset.view === view?.id) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    if (!view) {
      show([
        h("h1", { tabindex: "-1" }, "No console view for your roles"),
        h("p", { class: "empty" }, `You are signed in as ${me.name} with the roles: ${me.roles.join(", ") || "none"}. `,
          "The console has views for qa, legal, privacy, auditor and admin."),
      ]);
      return;
    }
    document.title = `${view.title} · keepline`;
    const section = h("section", { class: "view", "aria-labelledby": `${view.id}-title` });
    show(section);
    view.module.render(section, { ...context, viewId: view.id, role: view.role, title: view.title });
    section.querySelector("h1")?.focus();
  };
  window.onhashchange = route;
  route();
}

start();
