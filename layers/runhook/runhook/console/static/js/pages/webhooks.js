// Webhooks: endpoints with their health; one endpoint's deliveries with every attempt,
// replay, recover since a time, a test event, secret rotation (shown once), enable/disable.
import { h, clear, fmtTime, copyButton } from "../dom.js";
import { call } from "../api.js";
import { poll } from "../live.js";
import { answerBox, loadError, section } from "../ui.js";

export function render(main, { id }) {
  return id ? renderEndpoint(main, id) : renderList(main);
}

function rate(health) {
  return health.successRate === null ? "—" : `${Math.round(health.successRate * 100)} %`;
}

function secretOnce(secret, what) {
  return h(
    "div.notice.secret",
    { data: { testid: "secret" } },
    h("strong", `${what}: shown only now. `),
    "Store it where your receiver can read it.",
    h("div.buttons", h("code.secret-value", secret), copyButton(() => secret)),
  );
}

function renderList(main) {
  const list = h("div");
  const answer = answerBox();
  const url = h("input", { id: "endpoint-url", type: "url", placeholder: "https://example.com/hooks/runhook", required: true });
  const events = h("input", { id: "endpoint-events", placeholder: "task-run.completed, task-run.failed (empty: all)" });
  const description = h("input", { id: "endpoint-description", placeholder: "Description (optional)" });
  const created = h("div");
  const form = h(
    "form.card",
    {
      on: {
        submit: async (event) => {
          event.preventDefault();
          const body = { url: url.value.trim() };
          const names = events.value.split(",").map((s) => s.trim()).filter(Boolean);
          if (names.length) body.events = names;
          if (description.value.trim()) body.description = description.value.trim();
          const res = await call("POST", "/webhook-endpoints", { body });
          answer.show(res, "endpoint created");
          clear(created, res.ok ? secretOnce(res.body.endpoint.secret, "Signing secret") : null);
          if (res.ok) load();
        },
      },
    },
    h("h2", "Add an endpoint"),
    h("label.field", h("span.label", "URL"), url),
    h("label.field", h("span.label", "Events"), events),
    h("label.field", h("span.label", "Description"), description),
    h("button.primary", { type: "submit" }, "Add endpoint"),
    answer,
    created,
  );
  clear(main, h("h1", "Webhooks"), list, form);

  async function load() {
    const res = await call("GET", "/webhook-endpoints");
    if (!res.ok) {
      clear(list, loadError(res, "the webhook endpoints"));
      form.remove();
      return;
    }
    const endpoints = res.body.endpoints;
    clear(
      list,
      endpoints.length
        ? h(
            "table.list",
            { data: { testid: "endpoints" } },
            h("thead", h("tr", ["Endpoint", "State", "Success rate", "Consecutive failures", "Last success", "Events", "Task"].map((t) => h("th", t)))),
            h(
              "tbody",
              endpoints.map((e) =>
                h(
                  "tr",
                  h("td", h("a", { href: `#/webhooks/${e.id}` }, e.url), e.description ? h("small.muted", ` ${e.description}`) : null),
                  h("td", e.enabled ? h("span.badge.badge-completed", "enabled") : h("span.badge.badge-failed", `disabled${e.disabledReason ? `: ${e.disabledReason}` : ""}`)),
                  h("td", rate(e.health)),
                  h("td", String(e.health.consecutiveFailures)),
                  h("td", fmtTime(e.health.lastSuccessAt)),
                  h("td", e.events ? e.events.join(", ") : "all"),
                  h("td", e.taskId ? h("a", { href: `#/tasks/${e.taskId}` }, e.taskId.slice(0, 8)) : "all tasks"),
                ),
              ),
            ),
          )
        : h("p.empty", "No webhook endpoints yet."),
    );
  }
  load();
}

function renderEndpoint(main, id) {
  const head = h("div");
  const answer = answerBox();
  const secret = h("div");
  const tools = h("div");
  const deliveries = h("div");
  const statusFilter = h(
    "select",
    { id: "delivery-status" },
    ["", "pending", "succeeded", "failed"].map((s) => h("option", { value: s }, s || "any status")),
  );
  statusFilter.addEventListener("change", () => restart());
  clear(main, head, answer, secret, tools, section("Deliveries", h("label", "Show ", statusFilter), deliveries));
  let endpoint = null;

  async function act(method, path, body, success) {
    const res = await call(method, path, { body });
    answer.show(res, typeof success === "function" ? (res.ok ? success(res.body) : "") : success);
    restart();
    return res;
  }

  function drawHead() {
    const e = endpoint;
    const hl = e.health;
    clear(
      head,
      h("h1", "Endpoint ", h("code", e.url)),
      h(
        "dl.times",
        h("dt", "State"), h("dd", { data: { testid: "endpoint-state" } }, e.enabled ? "enabled" : `disabled${e.disabledReason ? ` (${e.disabledReason})` : ""}`),
        h("dt", "Success rate"), h("dd", `${rate(hl)} of the last ${hl.recentAttempts} attempts`),
        h("dt", "Consecutive failures"), h("dd", String(hl.consecutiveFailures)),
        h("dt", "Last success"), h("dd", fmtTime(hl.lastSuccessAt)),
        h("dt", "Last failure"), h("dd", fmtTime(hl.lastFailureAt)),
        h("dt", "Failing since"), h("dd", fmtTime(hl.failingSince)),
        h("dt", "Disabled reason"), h("dd", hl.disabledReason || e.disabledReason || "—"),
        h("dt", "Events"), h("dd", e.events ? e.events.join(", ") : "all events"),
        h("dt", "Scope"), h("dd", e.taskId ? `runs of task ${e.taskId}` : "runs of every task"),
        h("dt", "Secret rotated"), h("dd", fmtTime(e.secretRotatedAt), e.previousSecretExpiresAt ? ` (previous secret valid until ${fmtTime(e.previousSecretExpiresAt)})` : ""),
      ),
    );
  }

  // Kept across redraws of the actions (enabling an endpoint redraws them).
  const since = h("input", { type: "datetime-local", id: "recover-since" });
  const overlap = h("input", { type: "number", id: "rotate-overlap", min: 0, max: 86400, value: 3600 });

  function drawTools() {
    clear(
      tools,
      section(
        "Actions",
        h(
          "div.buttons",
          h("button", { type: "button", id: "send-test", on: { click: () => act("POST", `/webhook-endpoints/${id}/test`, {}, (b) => `test event queued (delivery ${b.delivery.id})`) } }, "Send test event"),
          endpoint.enabled
            ? h("button.danger", { type: "button", id: "toggle-enabled", on: { click: () => act("PATCH", `/webhook-endpoints/${id}`, { enabled: false }, "endpoint disabled") } }, "Disable")
            : h("button", { type: "button", id: "toggle-enabled", on: { click: () => act("PATCH", `/webhook-endpoints/${id}`, { enabled: true }, "endpoint enabled") } }, "Enable"),
        ),
        h(
          "div.buttons",
          h("label", "Recover failed deliveries since ", since),
          h(
            "button",
            {
              type: "button",
              id: "recover",
              on: {
                click: () => {
                  const d = new Date(since.value);
                  if (!since.value || Number.isNaN(d.getTime())) return answer.say("Choose the time to recover from.", false);
                  act("POST", `/webhook-endpoints/${id}/recover`, { since: d.toISOString() }, (b) =>
                    `${b.recovered} recovered, ${b.discarded} already delivered, ${b.scanned} scanned${b.complete ? "" : " — not finished: recover again"}`);
                },
              },
            },
            "Recover",
          ),
        ),
        h(
          "div.buttons",
          h("label", "Rotate the secret; the old one stays valid for ", overlap, " s"),
          h(
            "button",
            {
              type: "button",
              id: "rotate-secret",
              on: {
                click: async () => {
                  const res = await act("POST", `/webhook-endpoints/${id}/rotate-secret`, { overlapSeconds: Number(overlap.value) }, "secret rotated");
                  clear(secret, res.ok ? secretOnce(res.body.endpoint.secret, "New signing secret") : null);
                },
              },
            },
            "Rotate secret",
          ),
        ),
      ),
    );
  }

  function deliveryRow(d) {
    return h(
      "div.delivery.card",
      { data: { deliveryId: d.id, status: d.status } },
      h(
        "div.delivery-head",
        h(`span.badge.badge-${d.status === "succeeded" ? "completed" : d.status === "failed" ? "failed" : "pending"}`, d.status),
        h("strong", ` ${d.eventType}`),
        d.test ? h("span.tag", "test") : null,
        h("small.muted", ` ${fmtTime(d.createdAt)} · ${d.attemptCount} attempts · ${d.replays} replays`),
        d.runId ? h("a", { href: `#/runs/${d.runId}` }, ` run ${d.runId.slice(0, 8)}`) : null,
        d.nextAttemptAt ? h("small.muted", ` · next attempt ${fmtTime(d.nextAttemptAt)}`) : null,
        h("button.small.replay", { type: "button", on: { click: () => act("POST", `/webhook-deliveries/${d.id}/replay`, undefined, "replay queued") } }, "Replay"),
      ),
      h(
        "table.attempts",
        h("thead", h("tr", ["#", "At", "Result", "Status", "Latency", "Error", "Response"].map((t) => h("th", t)))),
        h(
          "tbody",
          d.attempts.map((a) =>
            h(
              "tr",
              { class: a.success ? "ok" : "failed", data: { attempt: a.number } },
              h("td", String(a.number)),
              h("td", fmtTime(a.at)),
              h("td", a.success ? "success" : "failed"),
              h("td", a.statusCode === null ? "—" : String(a.statusCode)),
              h("td", a.latencyMs === null ? "—" : `${a.latencyMs} ms`),
              h("td", a.error || ""),
              h("td", h("code", a.responseExcerpt || "")),
            ),
          ),
        ),
      ),
    );
  }

  let last = "";
  async function tick() {
    const res = await call("GET", `/webhook-endpoints/${id}`);
    if (!res.ok) {
      clear(main, h("h1", "Endpoint"), loadError(res, "this endpoint"));
      return "stop";
    }
    const listed = await call("GET", `/webhook-endpoints/${id}/deliveries`, { query: { status: statusFilter.value, pageSize: 50 } });
    const text = JSON.stringify([res.body, listed.body]);
    if (text === last) return "same";
    last = text;
    const wasEnabled = endpoint && endpoint.enabled;
    endpoint = res.body.endpoint;
    drawHead();
    if (wasEnabled !== endpoint.enabled || !tools.firstChild) drawTools();
    if (!listed.ok) clear(deliveries, loadError(listed, "the deliveries"));
    else if (!listed.body.deliveries.length) clear(deliveries, h("p.empty", "No deliveries yet."));
    else clear(deliveries, listed.body.deliveries.map(deliveryRow));
    return "changed";
  }

  let stop = poll(tick, { min: 1000, max: 15000 });
  function restart() {
    stop();
    stop = poll(tick, { min: 500, max: 15000 });
  }
  return () => stop();
}
