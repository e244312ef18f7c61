// Tasks: the list, one task's definition (readable, copyable), its recent runs and the
// start-a-run form generated from its input schema.
import { h, clear, badge, fmtTime, pre, copyButton } from "../dom.js";
import { call } from "../api.js";
import { answerBox, loadError, section } from "../ui.js";
import { schemaForm } from "../schemaform.js";

export function render(main, { id }) {
  if (id) renderTask(main, id);
  else renderList(main);
}

async function renderList(main) {
  clear(main, h("h1", "Tasks"), h("p.muted", "Loading…"));
  const res = await call("GET", "/tasks", { query: { pageSize: 100 } });
  if (!res.ok) return clear(main, h("h1", "Tasks"), loadError(res, "the tasks"));
  const tasks = res.body.tasks;
  clear(
    main,
    h("h1", "Tasks"),
    tasks.length
      ? h(
          "table.list",
          { data: { testid: "tasks" } },
          h("thead", h("tr", ["Name", "Version", "Steps", "Updated", "Schedule"].map((t) => h("th", t)))),
          h(
            "tbody",
            tasks.map((t) =>
              h(
                "tr",
                h("td", h("a", { href: `#/tasks/${t.id}` }, t.name), t.description ? h("small.muted", ` ${t.description}`) : null),
                h("td", `v${t.version}`),
                h("td", t.steps.map((s) => s.type).join(" → ")),
                h("td", fmtTime(t.updatedAt)),
                h("td", t.schedule || "—"),
              ),
            ),
          ),
        )
      : h("p.empty", "No tasks yet: save one with POST /public/v1/tasks or `runhook tasks create`."),
    res.body.nextPageToken ? h("p.muted", "Showing the 100 newest tasks.") : null,
  );
}

async function renderTask(main, id) {
  clear(main, h("h1", "Task"), h("p.muted", "Loading…"));
  const res = await call("GET", `/tasks/${id}`);
  if (!res.ok) return clear(main, h("h1", "Task"), loadError(res, "this task"));
  const task = res.body.task;
  const definition = {
    name: task.name,
    description: task.description,
    inputs: task.inputs,
    steps: task.steps,
    outputs: task.outputs,
    timeoutSeconds: task.timeoutSeconds,
    schedule: task.schedule,
  };
  const text = JSON.stringify(definition, null, 2);
  const runs = h("div");
  clear(
    main,
    h("h1", task.name),
    h(
      "p.muted",
      `Version ${task.version} · created ${fmtTime(task.createdAt)} · updated ${fmtTime(task.updatedAt)} · `,
      "each run keeps the version it started with (PUT /tasks/{id} saves a new version; the API serves the latest).",
    ),
    startForm(task),
    section("Recent runs", runs),
    section("Definition", h("div.buttons", copyButton(() => text, "Copy JSON")), pre(text)),
  );
  const listed = await call("GET", `/tasks/${id}/runs`);
  if (!listed.ok) return clear(runs, loadError(listed, "the task's runs"));
  clear(
    runs,
    listed.body.runs.length
      ? h(
          "ul.plain",
          listed.body.runs.slice(0, 10).map((r) =>
            h("li", badge(r.status), " ", h("a", { href: `#/runs/${r.id}` }, r.id.slice(0, 8)), ` v${r.taskVersion} · ${fmtTime(r.timestamps.createdAt)}`),
          ),
        )
      : h("p.empty", "No runs yet."),
  );
}

function startForm(task) {
  const form = schemaForm(task.inputs);
  const requestId = h("input", { id: "client-request-id", placeholder: "optional idempotency key" });
  const answer = answerBox();
  const el = h(
    "form.card",
    {
      id: "start-run",
      on: {
        submit: async (event) => {
          event.preventDefault();
          let inputs;
          try {
            inputs = form.values();
          } catch (err) {
            answer.say(err.message, false);
            return;
          }
          const body = { inputs };
          if (requestId.value.trim()) body.clientRequestId = requestId.value.trim();
          const res = await call("POST", `/tasks/${task.id}/runs`, { body });
          form.showErrors(res.ok ? [] : res.body && res.body.errors);
          answer.show(res, res.status === 200 ? "a run with this request id exists: opening it" : "run queued");
          if (res.ok) location.hash = `#/runs/${res.body.run.id}`;
        },
      },
    },
    h("h2", "Start a run"),
    form.el,
    h("label.field", h("span.label", "Client request id"), requestId),
    h("button.primary", { type: "submit" }, "Start run"),
    answer,
  );
  return el;
}
