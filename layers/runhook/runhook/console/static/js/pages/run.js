// Run detail: the timeline. The API has no per-step resource, so each step's state, time
// and attempts are read from what it does publish: the task's steps, the run's progress,
// waiting and error, and the log lines each step wrote (their nodeId).
//
// Each page is one `render` closure (long on purpose): the page's state, its drawing
// functions and its poller live and die together, and leaving the page stops the poller.
import { h, clear, badge, progressBar, fmtTime, fmtDuration, pre } from "../dom.js";
import { call } from "../api.js";
import { poll } from "../live.js";
import { answerBox, loadError, section } from "../ui.js";

const ACTIVE = new Set(["PENDING", "RUNNING"]);
const RETRYABLE = new Set(["FAILED", "CANCELLED"]);
const ATTEMPT_FAILED = /^attempt \d+\/\d+ failed/;
const IMAGE = /^image\//;

export function render(main, { id }) {
  const state = { run: null, task: null, logs: [], seen: new Set(), after: null, artifacts: null, drained: false };
  const header = h("div");
  const actions = h("div");
  const timeline = h("div");
  const details = h("div");
  const answer = answerBox();
  clear(main, header, answer, actions, timeline, details);

  async function readLogs() {
    let changed = false;
    for (let i = 0; i < 20; i += 1) {
      const res = await call("GET", `/task-runs/${id}/logs`, { query: { after: state.after, limit: 500 } });
      if (!res.ok) break;
      const entries = res.body.logEntries;
      // A tick of a restarted poller may overlap the previous one: each entry once.
      const fresh = entries.filter((e) => !state.seen.has(e.id));
      for (const e of fresh) state.seen.add(e.id);
      if (fresh.length) {
        state.logs.push(...fresh);
        state.logs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        changed = true;
      }
      if (entries.length) state.after = entries[entries.length - 1].id;
      if (!res.body.nextCursor) break;
      state.after = res.body.nextCursor;
    }
    return changed;
  }

  async function tick() {
    const res = await call("GET", `/task-runs/${id}`);
    if (!res.ok) {
      clear(main, h("h1", "Run"), loadError(res, "this run"));
      return "stop";
    }
    const before = JSON.stringify(state.run);
    state.run = res.body.run;
    if (!state.task || state.task.id !== state.run.taskId) {
      const task = await call("GET", `/tasks/${state.run.taskId}`);
      state.task = task.ok ? task.body.task : null;
    }
    const newLogs = await readLogs();
    const terminal = !ACTIVE.has(state.run.status);
    if (terminal && state.artifacts === null) {
      const arts = await call("GET", `/task-runs/${id}/artifacts`);
      state.artifacts = arts.ok ? arts.body.artifacts : [];
    }
    const changed = newLogs || before !== JSON.stringify(state.run);
    if (changed || !header.firstChild) draw();
    if (terminal) {
      // One more read after the end: the last step's lines may land just after the status.
      if (state.drained) return "stop";
      state.drained = true;
      return "changed";
    }
    return changed ? "changed" : "same";
  }

  function draw() {
    const run = state.run;
    clear(
      header,
      h("h1", "Run ", h("code", run.id)),
      h(
        "div.summary",
        badge(run.status),
        run.waiting ? h("span.badge.badge-waiting", "waiting for approval") : null,
        ACTIVE.has(run.status) ? progressBar(run.progress) : null,
        h("span", " Task: ", h("a", { href: `#/tasks/${run.taskId}` }, state.task ? state.task.name : run.taskId), ` (version ${run.taskVersion})`),
        h("span", ` · trigger ${run.triggerType}`),
        run.retryOf ? h("span", " · retry of ", h("a", { href: `#/runs/${run.retryOf}` }, run.retryOf.slice(0, 8))) : null,
        run.retriedBy ? h("span", " · retried by ", h("a", { href: `#/runs/${run.retriedBy}` }, run.retriedBy.slice(0, 8))) : null,
        (run.tags || []).map((t) => h("span.tag", t)),
      ),
      h(
        "dl.times",
        h("dt", "Created"), h("dd", { data: { testid: "createdAt" } }, fmtTime(run.timestamps.createdAt)),
        h("dt", "Started"), h("dd", fmtTime(run.timestamps.startedAt)),
        h("dt", "Finished"), h("dd", fmtTime(run.timestamps.finishedAt)),
        h("dt", "Duration"), h("dd", runDuration(run)),
      ),
    );
    drawActions();
    clear(timeline, section("Timeline", steps(run)));
    drawDetails();
  }

  function drawActions() {
    const run = state.run;
    const parts = [];
    if (run.waiting) parts.push(approvalForm(run));
    if (ACTIVE.has(run.status)) parts.push(cancelForm());
    if (RETRYABLE.has(run.status) && !run.retriedBy) parts.push(retryForm());
    // Redrawn when the offered actions change, not on every poll (that would wipe what
    // the person is typing into the approval form).
    const kinds = `${Boolean(run.waiting)} ${ACTIVE.has(run.status)} ${RETRYABLE.has(run.status) && !run.retriedBy}`;
    if (kinds !== actions.dataset.kinds) {
      actions.dataset.kinds = kinds;
      clear(actions, parts);
    }
  }

  function approvalForm(run) {
    const data = h("textarea", { id: "approval-data", rows: 3, placeholder: '{"note": "…"} (optional JSON object)' });
    const comment = h("input", { id: "approval-comment", placeholder: "Comment (optional)" });
    async function answerWith(approved) {
      const body = { approved };
      if (data.value.trim()) {
        try {
          body.data = JSON.parse(data.value);
        } catch (err) {
          answer.say(`The data is not valid JSON: ${err.message}`, false);
          return;
        }
      }
      if (comment.value.trim()) body.comment = comment.value.trim();
      const res = await call("POST", `/task-runs/${id}/resume`, { body });
      answer.show(res, approved ? "approved: the run continues" : "rejected: the run fails");
      if (res.ok) restart();
    }
    return section(
      "Waiting for approval",
      h("p.prompt", { data: { testid: "prompt" } }, run.waiting.prompt),
      h("p", h("small", `Step ${run.waiting.nodeId}, waiting since ${fmtTime(run.waiting.since)}`, run.waiting.expiresAt ? `, expires ${fmtTime(run.waiting.expiresAt)}` : "")),
      h("label.field", h("span.label", "Data"), data),
      h("label.field", h("span.label", "Comment"), comment),
      h(
        "div.buttons",
        h("button.primary", { type: "button", on: { click: () => answerWith(true) } }, "Approve"),
        h("button.danger", { type: "button", on: { click: () => answerWith(false) } }, "Reject"),
      ),
    );
  }

  function cancelForm() {
    const reason = h("input", { id: "cancel-reason", placeholder: "Reason (optional)" });
    return h(
      "div.buttons.inline",
      reason,
      h(
        "button.danger",
        {
          type: "button",
          on: {
            click: async () => {
              const body = reason.value.trim() ? { reason: reason.value.trim() } : {};
              const res = await call("POST", `/task-runs/${id}/cancel`, { body });
              answer.show(res, `cancel requested: the run is ${res.ok ? res.body.run.status : ""}`);
              if (res.ok) restart();
            },
          },
        },
        "Cancel run",
      ),
    );
  }

  function retryForm() {
    const fromStart = h("input", { type: "checkbox", id: "retry-from-start" });
    return h(
      "div.buttons.inline",
      h("label", fromStart, " from the first step"),
      h(
        "button",
        {
          type: "button",
          on: {
            click: async () => {
              const res = await call("POST", `/task-runs/${id}/retry`, { body: { fromStart: fromStart.checked } });
              if (res.ok && res.body && res.body.run) {
                answer.show(res, `retry started as run ${res.body.run.id}`);
                location.hash = `#/runs/${res.body.run.id}`;
              } else {
                answer.show(res, "retry started");
              }
            },
          },
        },
        "Retry",
      ),
    );
  }

  function steps(run) {
    const defs = state.task ? state.task.steps : [];
    if (!defs.length) return h("p.empty", "The task's steps are not available.");
    const byNode = new Map();
    for (const e of state.logs) {
      const key = e.nodeId || "";
      if (!byNode.has(key)) byNode.set(key, []);
      byNode.get(key).push(e);
    }
    const starts = defs.map((s) => firstTime(byNode.get(s.id)));
    const items = defs.map((step, i) => {
      const lines = byNode.get(step.id) || [];
      const st = stepState(run, step, i);
      const end = st === "running" || st === "waiting" ? Date.now() : starts.slice(i + 1).find((t) => t) || lastTime(lines, run);
      const duration = starts[i] && end && st !== "pending" ? end - starts[i] : null;
      const attempts = lines.filter((l) => l.level === "warning" && ATTEMPT_FAILED.test(l.message)).length + (st === "pending" || st === "not run" ? 0 : 1);
      const highlight = run.error && run.error.nodeId === step.id;
      return h(
        `li.step.step-${st.replace(" ", "-")}${highlight ? ".highlight" : ""}`,
        { data: { step: step.id, state: st } },
        h(
          "div.step-head",
          h("span.dot"),
          h("strong", step.id),
          h("small", ` ${step.type}`),
          h("span.state", st),
          h("span.muted", `duration ${duration === null ? "—" : `≈ ${fmtDuration(duration)}`}`),
          h("span.muted", `attempts ${attempts || "—"}`),
        ),
        highlight ? h("div.step-error", `${run.error.code}: ${run.error.message}`) : null,
        logList(lines),
      );
    });
    const runLines = byNode.get("") || [];
    return h(
      "div",
      h("ol.timeline", items),
      runLines.length ? h("div.run-log", h("h3", "Run"), logList(runLines)) : null,
      state.task && state.task.version !== run.taskVersion
        ? h("p.notice", `Steps shown from task version ${state.task.version}; this run executes version ${run.taskVersion}.`)
        : null,
    );
  }

  function drawDetails() {
    const run = state.run;
    const parts = [];
    if (run.error) {
      parts.push(
        section(
          "Error",
          h(
            "div.error-box",
            { data: { testid: "run-error" } },
            h("strong", run.error.code),
            run.error.nodeId ? h("span", " in step ", h("mark", run.error.nodeId)) : " (the run itself)",
            h("p", run.error.message),
          ),
        ),
      );
    }
    if (run.cancelReason) parts.push(section("Cancelled", h("p", run.cancelReason)));
    parts.push(section("Outputs", pre(run.outputs)));
    parts.push(section("Inputs", pre(run.inputs)));
    if (state.artifacts && state.artifacts.length) {
      parts.push(
        section(
          "Screenshots and files",
          h(
            "div.artifacts",
            state.artifacts.map((a) =>
              IMAGE.test(a.contentType)
                ? h("figure", h("img", { src: a.url, alt: a.name, loading: "lazy" }), h("figcaption", `${a.name} (${a.size} bytes)`))
                : h("p", h("a", { href: a.url, rel: "noreferrer", target: "_blank" }, a.name), ` ${a.contentType}, ${a.size} bytes`),
            ),
          ),
        ),
      );
    }
    clear(details, parts);
  }

  let stop = poll(tick, { min: 1000, max: 10000 });
  function restart() {
    stop();
    state.drained = false;
    stop = poll(tick, { min: 500, max: 10000 });
  }
  return () => stop();
}

function stepState(run, step, index) {
  if (run.error && run.error.nodeId === step.id) return "failed";
  if (run.waiting && run.waiting.nodeId === step.id) return "waiting";
  if (run.status === "COMPLETED") return "succeeded";
  const done = run.progress ? run.progress.currentStep : 0;
  if (index < done) return "succeeded";
  if (index === done && ACTIVE.has(run.status) && run.status === "RUNNING") return "running";
  if (!ACTIVE.has(run.status)) return "not run";
  return "pending";
}

function firstTime(lines) {
  const t = lines && lines.find((l) => l.timestamp);
  return t ? Date.parse(t.timestamp) : null;
}

function lastTime(lines, run) {
  const stamped = lines.filter((l) => l.timestamp);
  if (run.timestamps.finishedAt) return Date.parse(run.timestamps.finishedAt);
  return stamped.length ? Date.parse(stamped[stamped.length - 1].timestamp) : null;
}

function runDuration(run) {
  const start = run.timestamps.startedAt && Date.parse(run.timestamps.startedAt);
  if (!start) return "—";
  // (while it runs, a number would go stale between polls that change nothing)
  if (!run.timestamps.finishedAt) return "still running";
  return fmtDuration(Date.parse(run.timestamps.finishedAt) - start);
}

function logList(lines) {
  if (!lines.length) return null;
  return h(
    "ul.log",
    lines.map((l) =>
      h(`li.log-${l.level}`, { data: { logId: l.id } }, h("time", l.timestamp ? new Date(l.timestamp).toLocaleTimeString() : ""), " ", l.message),
    ),
  );
}
