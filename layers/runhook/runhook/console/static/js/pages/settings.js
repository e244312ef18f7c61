// Settings: API keys (create: the secret is shown once; revoke) and the organization
// (IP allowlist with its lock-out guard, quota and usage, rate limits). Scope `admin`.
import { h, clear, fmtTime, copyButton } from "../dom.js";
import { call, session } from "../api.js";
import { answerBox, loadError, section } from "../ui.js";

export function render(main) {
  const keys = h("div");
  const org = h("div");
  clear(main, h("h1", "Settings"), keys, org);
  renderKeys(keys);
  renderOrganization(org);
}

async function renderKeys(root) {
  const answer = answerBox("keys-answer");
  const list = h("div");
  const created = h("div");
  const name = h("input", { id: "key-name", placeholder: "e.g. CI pipeline", required: true });
  const scopes = ["runs", "admin"].map((s) => h("input", { type: "checkbox", name: "scope", value: s, checked: s === "runs", id: `scope-${s}` }));
  const form = h(
    "form",
    {
      id: "create-key",
      on: {
        submit: async (event) => {
          event.preventDefault();
          const body = { name: name.value.trim(), scopes: scopes.filter((s) => s.checked).map((s) => s.value) };
          const res = await call("POST", "/api-keys", { body });
          answer.show(res, "key created");
          clear(
            created,
            res.ok
              ? h(
                  "div.notice.secret",
                  { data: { testid: "secret" } },
                  h("strong", "The key's secret: shown only now. "),
                  "Copy it before leaving this page.",
                  h("div.buttons", h("code.secret-value", res.body.apiKey.secret), copyButton(() => res.body.apiKey.secret)),
                )
              : null,
          );
          if (res.ok) load();
        },
      },
    },
    h("label.field", h("span.label", "Name"), name),
    h("div.field", h("span.label", "Scopes"), scopes.map((s) => h("label.inline", s, ` ${s.value}`)),
      h("small.hint", "runs: start, read and answer runs, read tasks. admin: everything, including keys, webhooks and the organization.")),
    h("button.primary", { type: "submit" }, "Create key"),
  );
  clear(root, section("API keys", list, h("h3", "New key"), form, answer, created));

  async function load() {
    const res = await call("GET", "/api-keys");
    if (!res.ok) {
      clear(root, section("API keys", loadError(res, "the API keys")));
      return;
    }
    const mine = session.key() || "";
    clear(
      list,
      h(
        "table.list",
        { data: { testid: "keys" } },
        h("thead", h("tr", ["Name", "Prefix", "Scopes", "Created", "Last used", ""].map((t) => h("th", t)))),
        h(
          "tbody",
          res.body.apiKeys.map((k) => {
            const cell = h("td");
            const revoke = h("button.small.danger", { type: "button" }, "Revoke");
            revoke.addEventListener("click", () => {
              const own = mine.startsWith(k.prefix);
              clear(
                cell,
                h("span", own ? "This is the key you are signed in with. " : "Revoke for good? "),
                h("button.small.danger", { type: "button", on: { click: async () => {
                  const done = await call("DELETE", `/api-keys/${k.id}`);
                  answer.show(done, `key ${k.name} revoked`);
                  if (done.ok) load();
                } } }, "Confirm revoke"),
                h("button.small", { type: "button", on: { click: () => clear(cell, revoke) } }, "Keep"),
              );
            });
            cell.append(revoke);
            return h("tr", { data: { keyId: k.id } }, h("td", k.name), h("td", h("code", `${k.prefix}…`)), h("td", k.scopes.join(", ")), h("td", fmtTime(k.createdAt)), h("td", fmtTime(k.lastUsedAt)), cell);
          }),
        ),
      ),
    );
  }
  load();
}

async function renderOrganization(root) {
  const res = await call("GET", "/organization");
  if (!res.ok) return clear(root, section("Organization", loadError(res, "the organization")));
  const answer = answerBox("org-answer");
  const o = res.body.organization;
  const used = o.usage.limit ? Math.min(1, o.usage.used / o.usage.limit) : 1;
  const allowlist = h("textarea", { id: "ip-allowlist", rows: 4, value: o.ipAllowlist.join("\n"), placeholder: "one CIDR per line, e.g. 203.0.113.0/24 (empty: any address)" });
  const perSecond = h("input", { type: "number", id: "rate-per-second", step: "any", min: 0.1, max: 10000, value: o.rateLimit.perSecond ?? "", placeholder: "default (20)" });
  const burst = h("input", { type: "number", id: "rate-burst", min: 1, max: 100000, value: o.rateLimit.burst ?? "", placeholder: "default" });
  const quota = h("input", { type: "number", id: "monthly-quota", min: 0, max: 1000000000, value: o.usage.limit });
  const force = h("input", { type: "checkbox", id: "allowlist-force" });
  const guard = h("div");
  const form = h(
    "form",
    {
      id: "organization",
      on: {
        submit: async (event) => {
          event.preventDefault();
          const body = {};
          const cidrs = allowlist.value.split(/[\s,]+/).filter(Boolean);
          if (cidrs.join() !== o.ipAllowlist.join()) body.ipAllowlist = cidrs;
          if (perSecond.value !== String(o.rateLimit.perSecond ?? "")) body.rateLimitPerSecond = perSecond.value === "" ? null : Number(perSecond.value);
          if (burst.value !== String(o.rateLimit.burst ?? "")) body.rateLimitBurst = burst.value === "" ? null : Number(burst.value);
          if (quota.value !== String(o.usage.limit)) body.monthlyRunQuota = Number(quota.value);
          if (force.checked) body.force = true;
          const saved = await call("PATCH", "/organization", { body });
          answer.show(saved, "organization saved");
          clear(guard);
          if (!saved.ok && saved.body && saved.body.detail === "allowlist_excludes_caller") {
            guard.append(h("div.notice.error", { data: { testid: "lockout" } },
              `You are calling from ${saved.body.callerIp || "an address"} which the new allowlist does not include: saving it would lock this console (and this key) out. `,
              "Add that address, or tick “save anyway” if you will call from an allowed address from now on."));
          }
          if (saved.ok) renderOrganization(root);
        },
      },
    },
    h("label.field", h("span.label", "IP allowlist"), allowlist,
      h("small.hint", "Only these addresses may call the API with this organization's keys. The API refuses a list that excludes the address you are calling from (the lock-out guard) unless you force it.")),
    h("label.inline", force, " save anyway, even if it excludes me"),
    guard,
    h("label.field", h("span.label", "Rate limit (requests per second per key)"), perSecond),
    h("label.field", h("span.label", "Burst"), burst),
    h("label.field", h("span.label", "Monthly run quota"), quota),
    h("button.primary", { type: "submit" }, "Save"),
    answer,
  );
  clear(
    root,
    section(
      "Organization",
      h("dl.times",
        h("dt", "Id"), h("dd", h("code", o.id)),
        h("dt", "Name"), h("dd", o.name || "—"),
        h("dt", "Created"), h("dd", fmtTime(o.createdAt)),
        h("dt", "Usage"), h("dd", { data: { testid: "usage" } }, h("progress", { max: 1, value: used }), ` ${o.usage.used} of ${o.usage.limit} runs in ${o.usage.period}`),
        h("dt", "Rate limit"), h("dd", `${o.rateLimit.perSecond ?? "default (20)"} per second, burst ${o.rateLimit.burst ?? "default"}`),
      ),
      form,
    ),
  );
}
