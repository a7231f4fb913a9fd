// Sign-in: authorization code with PKCE against the OpenID provider (found by discovery),
// or, when no provider is configured, a bearer token pasted in for local use.

const SESSION = "keepline.session";
const PENDING = "keepline.pkce";

export function saved() {
  try {
    const session = JSON.parse(sessionStorage.getItem(SESSION) || "null");
    if (session && session.expires_at && session.expires_at < Date.now()) return null;
    return session;
  } catch {
    return null;
  }
}

export function save(session) {
  sessionStorage.setItem(SESSION, JSON.stringify(session));
}

export function forget() {
  sessionStorage.removeItem(SESSION);
}

function b64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function random(size) {
  return b64url(crypto.getRandomValues(new Uint8Array(size)));
}

function redirectUri() {
  return `${location.origin}/`;
}

async function discover(issuer) {
  let response;
  try {
    response = await fetch(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
  } catch {
    throw new Error("The sign-in provider cannot be reached. Try again, or ask your administrator.");
  }
  if (!response.ok) throw new Error(`The sign-in provider answered ${response.status}.`);
  const document = await response.json();
  if (document.issuer !== issuer) throw new Error("The sign-in provider names another issuer.");
  return document;
}

export async function beginSignIn(oidc) {
  const provider = await discover(oidc.issuer);
  const verifier = random(48);
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = random(16);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, view: location.hash }));
  const url = new URL(provider.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: oidc.client_id,
    redirect_uri: redirectUri(),
    scope: oidc.scopes,
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  }).toString();
  location.assign(url.toString());
}

// On the way back from the provider: trade the code for tokens. Null when this page load
// is not a sign-in answer.
export async function completeSignIn(oidc) {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, "", `/${pending?.view || ""}`);
  if (params.has("error")) {
    throw new Error(`The provider refused the sign-in: ${params.get("error_description") || params.get("error")}`);
  }
  if (!oidc || !pending || params.get("state") !== pending.state) {
    throw new Error("This sign-in answer does not belong to a sign-in started here. Please sign in again.");
  }
  const provider = await discover(oidc.issuer);
  let response;
  try {
    response = await fetch(provider.token_endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: params.get("code"),
        redirect_uri: redirectUri(),
        client_id: oidc.client_id,
        code_verifier: pending.verifier,
      }),
    });
  } catch {
    throw new Error("The sign-in provider cannot be reached to finish signing in.");
  }
  if (!response.ok) throw new Error(`The sign-in provider refused the code (${response.status}).`);
  const tokens = await response.json();
  // The API takes the access token when it is a JWT (as Dex's are), else the ID token.
  const token = (tokens.access_token || "").split(".").length === 3 ? tokens.access_token : tokens.id_token;
  if (!token) throw new Error("The sign-in provider returned no token.");
  const lifetime = Number(tokens.expires_in) || 3600;
  return { token, kind: "oidc", expires_at: Date.now() + lifetime * 1000 };
}
