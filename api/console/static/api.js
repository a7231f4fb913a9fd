// Every call goes to the public API with the signed-in user's bearer token.

let bearer = null;

export function setToken(token) {
  bearer = token;
}

export class ApiError extends Error {
  constructor(status, message, detail = "") {
    super(message);
    this.status = status;
    this.detail = detail;
  }
}

export const UNREACHABLE =
  "The keepline API cannot be reached. Check that keepline is running and your network, then try again.";

function explain(status, detail) {
  if (status === 401) return "Your sign-in is no longer valid. Sign out and sign in again.";
  if (status === 403) return `Not allowed: ${detail}`;
  if (status === 404) return `Not found: ${detail}`;
  if (status === 422) return `Please check the form: ${detail}`;
  if (status === 503) return `keepline is temporarily unavailable: ${detail}`;
  return `The API answered ${status}: ${detail}`;
}

export async function call(path, { method = "GET", json, body, headers = {}, params } = {}) {
  const sent = { ...headers };
  if (bearer) sent.Authorization = `Bearer ${bearer}`;
  if (json !== undefined) {
    sent["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  let url = path;
  if (params) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== null && value !== undefined && value !== "") query.append(key, value);
    }
    if ([...query].length) url += `?${query}`;
  }
  let response;
  try {
    response = await fetch(url, { method, headers: sent, body });
  } catch {
    throw new ApiError(0, UNREACHABLE);
  }
  if (!response.ok) {
    let detail = response.statusText;
    try {
      detail = (await response.json()).detail || detail;
    } catch {
      // not a JSON error body: keep the status text
    }
    throw new ApiError(response.status, explain(response.status, detail), detail);
  }
  return response;
}

export async function api(path, options) {
  const response = await call(path, options);
  return response.status === 204 ? null : response.json();
}
