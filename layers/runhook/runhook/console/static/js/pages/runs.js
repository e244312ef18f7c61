// Runs: the organization's runs, newest first, with the API's filters and page tokens.
import { h, clear, badge, progressBar, fmtTime } from "../dom.js";
import { call } from "../api.js";
import { poll } from "../live.js";
import { loadError } from "../ui.js";

const STATUSES = ["", "PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"];
const TRIGGERS = ["", "manual", "schedule", "api"];
const ACTIVE = new Set(["PENDING", "RUNNING"]);

function toIso(local) {
  if (!local) return "";
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

function toLocal(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function select(name, values, current, labels = {}) {
  return h(
    "select",
    { name, id: `filter-${name}` },
    values.map((v) => h("option", { value: v, selected: v === current }, labels[v] || v || "any")),
  );
}

export function render(main, { params }) {
  const filters = {
    status: params.get("status") || "",
    taskId: params.get("taskId") || "",
    triggerType: params.get("triggerType") || "",
    createdAfter: params.get("createdAfter") || "",
    createdBefore: params.get("createdBefore") || "",
    tag: params.get("tag") || "",
    pageSize: params.get("pageSize") || "25",
  };
  const tokens = [null]; // page tokens: tokens[i] fetches page i
  let page = 0;
  const taskSelect = select("taskId", [""], filters.taskId);
  const after = h("input", { type: "datetime-local", name: "createdAfter", value: toLocal(filters.createdAfter) });
  const before = h("input", { type: "datetime-local", name: "createdBefore", value: toLocal(filters.createdBefore) });
  // The API filters by one tag (and not together with a status: its 400 says so).
  const tag = h("input", { name: "tag", placeholder: "a tag", maxlength: "64", value: filters.tag });
  const form = h(
    "form.filters",
    {
      on: {
        submit: (event) => {
          event.preventDefault();
          const data = new FormData(form);
          const q = new URLSearchParams();
          for (const name of ["status", "taskId", "triggerType", "pageSize"]) if (data.get(name)) q.set(name, data.get(name));
          if (toIso(after.value)) q.set("createdAfter", toIso(after.value));
          if (toIso(before.value)) q.set("createdBefore", toIso(before.value));
          if (tag.value.trim()) q.set("tag", tag.value.trim());
          location.hash = `#/runs?${q}`;
        },
      },
    },
    h("label", "Status ", select("status", STATUSES, filters.status)),
    h("label", "Task ", taskSelect),
    h("label", "Trigger ", select("triggerType", TRIGGERS, filters.triggerType)),
    h("label", "Created after ", after),
    h("label", "before ", before),
    h("label", "Tag ", tag),
    h("label", "Per page ", select("pageSize", ["10", "25", "50", "100", filters.pageSize].filter((v, i, all) => all.indexOf(v) === i), filters.pageSize)),
    h("button", { type: "submit" }, "Filter"),
  );
  const table = h("div");
  const pager = h("div.pager");
  clear(main, h("h1", "Runs"), form, table, pager);

  const taskNames = new Map();
  // The runs name their task: the first table waits for the names.
  const namesLoaded = call("GET", "/tasks", { query: { pageSize: 100 } }).then((res) => {
    if (!res.ok) return;
    for (const t of res.body.tasks) {
      taskNames.set(t.id, t.name);
      taskSelect.append(h("option", { value: t.id, selected: t.id === filters.taskId }, t.name));
    }
  });

  let last = "";
  async function load() {
    await namesLoaded;
    const query = { pageSize: filters.pageSize, pageToken: tokens[page] };
    for (const k of ["status", "taskId", "triggerType", "createdAfter", "createdBefore"]) query[k] = filters[k];
    if (filters.tag) query.tag = filters.tag;
    const res = await call("GET", "/task-runs", { query });
    if (!res.ok) {
      clear(table, loadError(res, "the runs"));
      return "stop";
    }
    // Polled while the tab is visible: every 2 s while something changes (an active run
    // moves), backing off to 15 s while nothing does, so new runs appear on their own.
    const text = JSON.stringify(res.body);
    if (text === last) return "same";
    last = text;
    tokens[page + 1] = res.body.nextPageToken;
    const runs = res.body.runs;
    // A task saved after the list was read (or beyond its first 100): named on demand.
    const unknown = [...new Set(runs.map((r) => r.taskId))].filter((t) => !taskNames.has(t));
    await Promise.all(
      unknown.map(async (taskId) => {
        const task = await call("GET", `/tasks/${taskId}`);
        taskNames.set(taskId, task.ok ? task.body.task.name : `${taskId.slice(0, 8)} (deleted)`);
      }),
    );
    clear(table, runsTable(runs, taskNames));
    clear(
      pager,
      h("button", { type: "button", disabled: page === 0, on: { click: () => { page -= 1; last = ""; restart(); } } }, "← Newer"),
      h("span", ` page ${page + 1} `),
      h("button", { type: "button", disabled: !res.body.nextPageToken, on: { click: () => { page += 1; last = ""; restart(); } } }, "Older →"),
    );
    return "changed";
  }

  let stop = poll(load, { min: 2000, max: 15000 });
  function restart() {
    stop();
    stop = poll(load, { min: 2000, max: 15000 });
  }
  return () => stop();
}

function runsTable(runs, taskNames) {
  if (!runs.length) return h("p.empty", "No runs match.");
  return h(
    "table.list",
    { data: { testid: "runs" } },
    h("thead", h("tr", ["Status", "Run", "Task", "Trigger", "Created", "Progress", "Tags"].map((t) => h("th", t)))),
    h(
      "tbody",
      runs.map((r) =>
        h(
          "tr",
          { data: { runId: r.id } },
          h("td", badge(r.status), r.waiting ? h("span.badge.badge-waiting", "waiting") : null),
          h("td", h("a", { href: `#/runs/${r.id}` }, r.id.slice(0, 8))),
          h("td", taskNames.get(r.taskId) || r.taskId.slice(0, 8), h("small", ` v${r.taskVersion}`)),
          h("td", r.triggerType),
          h("td", fmtTime(r.timestamps.createdAt)),
          h("td", ACTIVE.has(r.status) ? progressBar(r.progress) : r.progress ? `${r.progress.currentStep}/${r.progress.stepsTotal}` : "—"),
          h("td", (r.tags || []).map((t) => h("span.tag", t))),
        ),
      ),
    ),
  );
}
