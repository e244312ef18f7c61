// The console's shell: sign-in, navigation and the hash router (#/runs, #/runs/<id>, ...).
import { h, clear } from "./dom.js";
import { call, session } from "./api.js";
import * as runs from "./pages/runs.js";
import * as run from "./pages/run.js";
import * as tasks from "./pages/tasks.js";
import * as webhooks from "./pages/webhooks.js";
import * as settings from "./pages/settings.js";

const ROUTES = [
  [/^\/runs\/([^/]+)$/, run],
  [/^\/runs$/, runs],
  [/^\/tasks(?:\/([^/]+))?$/, tasks],
  [/^\/webhooks(?:\/([^/]+))?$/, webhooks],
  [/^\/settings$/, settings],
];
const NAV = [
  ["#/runs", "Runs"],
  ["#/tasks", "Tasks"],
  ["#/webhooks", "Webhooks"],
  ["#/settings", "Settings"],
];

const root = document.getElementById("app");
let cleanup = null;
let pendingMessage = null; // shown once by the next sign-in form (after a sign-out)

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/runs";
  const [path, query = ""] = raw.split("?");
  return { path, params: new URLSearchParams(query) };
}

function signInPage(message) {
  const input = h("input", {
    type: "password",
    id: "api-key",
    autocomplete: "off",
    placeholder: "sk_live_… or sk_test_…",
    required: true,
  });
  const status = h("div.answer", { role: "status", data: { testid: "answer" } }, message || "");
  if (message) status.className = "answer error";
  const form = h(
    "form.card.signin",
    {
      on: {
        submit: async (event) => {
          event.preventDefault();
          session.signIn(input.value);
          const check = await call("GET", "/task-runs", { query: { pageSize: 1 } });
          if (check.ok || check.status === 403 || check.status === 429) {
            if (!location.hash || location.hash === "#/signin") location.hash = "#/runs";
            render();
          } else if (check.status !== 401) {
            // (a 401 has already signed out and shown the form again, with its message)
            session.signOut();
            status.className = "answer error";
            clear(status, check.message);
          }
        },
      },
    },
    h("h1", "runhook console"),
    h("p", "Paste an API key of your organization. It stays in this tab only (sessionStorage) and is sent to this API, nowhere else."),
    h("label.field", h("span.label", "API key"), input),
    h("button.primary", { type: "submit" }, "Sign in"),
    status,
  );
  clear(root, form);
  input.focus();
}

function shell(page) {
  const { path } = parseHash();
  const nav = h(
    "nav.top",
    h("span.brand", "runhook"),
    NAV.map(([href, label]) =>
      h("a", { href, class: path.startsWith(href.slice(1)) ? "active" : "" }, label),
    ),
    h("span.spacer"),
    h("button.small", { type: "button", id: "sign-out", on: { click: signOut } }, "Sign out"),
  );
  clear(root, nav, page);
}

function signOut() {
  session.signOut();
  if (cleanup) cleanup();
  cleanup = null;
  pendingMessage = "Signed out: the key was removed from this tab.";
  if (location.hash === "#/signin") render();
  else location.hash = "#/signin";
}

function render() {
  if (cleanup) cleanup();
  cleanup = null;
  if (!session.key()) {
    signInPage(pendingMessage);
    pendingMessage = null;
    return;
  }
  const { path, params } = parseHash();
  const route = ROUTES.find(([pattern]) => pattern.test(path));
  if (!route) {
    location.hash = "#/runs";
    return;
  }
  const [pattern, module] = route;
  const match = path.match(pattern);
  const page = h("main");
  shell(page);
  cleanup = module.render(page, { id: match[1] ? decodeURIComponent(match[1]) : null, params }) || null;
}

window.addEventListener("hashchange", render);
window.addEventListener("runhook:unauthorized", (event) => {
  session.signOut();
  if (cleanup) cleanup();
  cleanup = null;
  signInPage(event.detail);
});
render();
