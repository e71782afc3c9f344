// The API client: every call carries the session's key; an error answer becomes an ApiError
// with the server's code, message and problems.

const KEY = "letsdata.apiKey";
const TENANT = "letsdata.tenant";

/** An error answer of the API (or a failed request: status 0). */
export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `request failed (${status})`);
    this.status = status;
    this.code = body && body.code ? body.code : "";
    this.problems = body && Array.isArray(body.problems) ? body.problems : [];
  }
}

/** The key of this tab's session (sessionStorage: this tab only, gone when it closes). */
export function apiKey() {
  return sessionStorage.getItem(KEY);
}

/** The signed-in tenant, as whoami answered. */
export function tenant() {
  const raw = sessionStorage.getItem(TENANT);
  return raw ? JSON.parse(raw) : null;
}

export function saveSession(key, who) {
  sessionStorage.setItem(KEY, key);
  sessionStorage.setItem(TENANT, JSON.stringify(who));
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(TENANT);
}

let onUnauthorized = () => {};

/** What to do when the key is refused (revoked, say): the app signs out. */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

/**
 * Calls `/api/v1/<path>`: a GET with `query`, or a POST of `body` as JSON. Answers the JSON
 * (or the text, with `text: true`); throws an ApiError otherwise.
 */
export async function call(path, { query, body, text = false, key = apiKey() } = {}) {
  const url = new URL(`/api/v1/${path}`, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const init = { headers: { Authorization: `Bearer ${key}` } };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, { message: `the server did not answer: ${e.message}` });
  }
  if (!response.ok) {
    let payload = null;
    try {
      payload = await response.json();
    } catch {
      payload = null;
    }
    const error = new ApiError(response.status, payload);
    if (response.status === 401 && key === apiKey()) onUnauthorized(error);
    throw error;
  }
  return text ? response.text() : response.json();
}

/** The query naming a dataset. */
export function named(name, more = {}) {
  return { datasetName: name, ...more };
}
