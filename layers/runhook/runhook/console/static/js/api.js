// The console's only way to the service: the public API at /public/v1 on the same origin,
// with the key the person pasted (kept in sessionStorage: gone when the tab closes).

const BASE = "/public/v1";
const KEY = "runhook.apiKey";

export const session = {
  key: () => sessionStorage.getItem(KEY),
  signIn: (key) => sessionStorage.setItem(KEY, key.trim()),
  signOut: () => sessionStorage.removeItem(KEY),
};

/** One API call. Never throws: {ok, status, body, message} (message: readable, on errors). */
export async function call(method, path, { query, body } = {}) {
  const url = new URL(BASE + path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    for (const one of Array.isArray(v) ? v : [v]) {
      if (one !== undefined && one !== null && one !== "") url.searchParams.append(k, one);
    }
  }
  const headers = { Accept: "application/json" };
  const key = session.key();
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (err) {
    return { ok: false, status: 0, body: null, message: `The API could not be reached (${err.message}).` };
  }
  let parsed = null;
  if (response.status !== 204) {
    try {
      parsed = await response.json();
    } catch {
      parsed = null;
    }
  }
  const result = { ok: response.ok, status: response.status, body: parsed, message: null };
  result.retryAfter = response.headers.get("Retry-After");
  if (!response.ok) result.message = explain(result);
  // A refused key signs the tab out (main.js shows the sign-in form with this message).
  if (response.status === 401) window.dispatchEvent(new CustomEvent("runhook:unauthorized", { detail: result.message }));
  return result;
}

// What each `detail` code means for the person looking at the console.
const MESSAGES = {
  unauthorized: "The API key is missing, unknown or revoked. Sign in again with a valid key.",
  forbidden: "This API key lacks the scope this page needs (an admin key can do it).",
  ip_not_allowed: "The organization's IP allowlist does not include this address.",
  rate_limited: "Too many requests for this key right now; try again shortly.",
  service_unavailable: "The service is briefly unavailable; try again shortly.",
  payload_too_large: "The request is too large (1 MB at most).",
  usage_limit_exceeded: "The organization's monthly run quota is used up.",
  invalid_inputs: "The inputs do not match the task's input schema.",
  invalid_body: "The request was not understood (a field has the wrong type or is unknown).",
  invalid_query: "A filter has an invalid value.",
  invalid_page_token: "The page token is no longer valid; start again from the first page.",
  invalid_task_id: "That is not a valid task id.",
  invalid_run_id: "That is not a valid run id.",
  invalid_client_request_id: "The client request id is invalid.",
  task_not_found: "No such task (or it belongs to another organization).",
  run_not_found: "No such run (or it belongs to another organization).",
  run_not_waiting: "The run is not waiting for an answer any more.",
  resume_data_too_large: "The approval data is too large.",
  invalid_cancel_reason: "The cancel reason is too long (1024 characters at most).",
  invalid_scopes: "Choose at least one valid scope (admin or runs).",
  api_key_not_found: "No such API key.",
  invalid_key_id: "That is not a valid key id.",
  organization_not_found: "The organization was not found.",
  invalid_ip_allowlist: "Every allowlist entry must be a CIDR such as 203.0.113.0/24.",
  allowlist_excludes_caller:
    "Refused: this allowlist would lock you out (it does not include the address you are calling from).",
  invalid_url: "The URL is not valid.",
  url_must_be_https: "Webhook URLs must use https.",
  url_not_allowed: "That URL points at a private or reserved address.",
  invalid_events: "One of the event types is unknown.",
  invalid_description: "The description is too long.",
  endpoint_not_found: "No such webhook endpoint.",
  endpoint_limit_reached: "The organization has the maximum number of webhook endpoints.",
  endpoint_disabled: "The endpoint is disabled: enable it first.",
  delivery_not_found: "No such delivery (or it can no longer be replayed).",
  invalid_time_window: "The time window is invalid (since must be before until, in the past).",
  invalid_overlap_seconds: "The overlap must be between 0 and 86400 seconds.",
  invalid_event_type: "Unknown event type.",
  artifact_not_found: "No such artifact.",
  not_found: "This API does not offer this action (yet).",
  method_not_allowed: "This API does not offer this action (yet).",
};

export function explain(result) {
  const detail = result.body && typeof result.body.detail === "string" ? result.body.detail : null;
  let text = detail && MESSAGES[detail];
  if (!text && detail) text = detail.replaceAll("_", " ");
  if (!text) text = `The API answered HTTP ${result.status}.`;
  if (result.status === 429 && result.retryAfter) text += ` (retry after ${result.retryAfter} s)`;
  if (detail === "usage_limit_exceeded" && result.body.usage) {
    const u = result.body.usage;
    text += ` (${u.used} of ${u.limit} runs in ${u.period})`;
  }
  return text;
}

/** "HTTP 202 · <what>" for a success, the readable message and the code for an error. */
export function describe(result, success) {
  if (result.ok) return `HTTP ${result.status} · ${success}`;
  const detail = result.body && result.body.detail;
  return `HTTP ${result.status || "—"} · ${result.message}${typeof detail === "string" ? ` [${detail}]` : ""}`;
}
