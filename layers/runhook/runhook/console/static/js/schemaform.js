// A form generated from a task's input JSON Schema (an object's properties): defaults
// filled in, required fields marked, and the API's 400 errors shown next to their field.
// The browser does not validate: the API is the one judge, and its answer is shown.
import { h, clear } from "./dom.js";

const REQUIRED = /^'([^']+)' is a required property/;

export function schemaForm(schema) {
  const props = (schema && schema.properties) || {};
  const required = new Set((schema && schema.required) || []);
  const fields = new Map();
  const rows = Object.entries(props).map(([name, spec]) => {
    const input = inputFor(name, spec || {});
    const error = h("div.field-error", { role: "alert", data: { testid: `error-${name}` } });
    fields.set(name, { input, spec: spec || {}, error });
    return h(
      "label.field",
      h("span.label", name, required.has(name) ? h("span.required", " *") : null),
      input,
      spec && spec.description ? h("small.hint", spec.description) : null,
      error,
    );
  });
  const general = h("div.field-error", { role: "alert", data: { testid: "error-form" } });
  const el = h("div.schema-form", rows.length ? rows : h("p.muted", "This task takes no inputs."), general);

  /** The inputs to send, or throws an Error naming the field that is not valid JSON. */
  function values() {
    const out = {};
    for (const [name, { input, spec }] of fields) {
      const type = typeOf(spec);
      if (type === "boolean") {
        out[name] = input.checked;
        continue;
      }
      const raw = input.value;
      // An empty field is left out: the task's default applies, or the API names the
      // missing required field (and the error lands next to it).
      if (raw === "") continue;
      if (type === "integer" || type === "number") {
        out[name] = Number(raw);
      } else if (type === "object" || type === "array") {
        try {
          out[name] = JSON.parse(raw);
        } catch (err) {
          throw new Error(`${name}: not valid JSON (${err.message})`);
        }
      } else {
        out[name] = raw;
      }
    }
    return out;
  }

  /** Show the API's `errors` ([{path, message}]) next to their fields. */
  function showErrors(errors) {
    for (const { error } of fields.values()) clear(error);
    clear(general);
    for (const problem of errors || []) {
      const path = String(problem.path || "");
      let name = path.split(/[/.]/)[0];
      if (!name) {
        const match = REQUIRED.exec(problem.message || "");
        if (match) name = match[1];
      }
      const target = fields.get(name);
      (target ? target.error : general).append(h("div", problem.message));
    }
  }

  return { el, values, showErrors };
}

function typeOf(spec) {
  const t = Array.isArray(spec.type) ? spec.type.find((x) => x !== "null") : spec.type;
  return t || "string";
}

function inputFor(name, spec) {
  const type = typeOf(spec);
  const id = `input-${name}`;
  const value = spec.default;
  if (Array.isArray(spec.enum)) {
    return h(
      "select",
      { id, name },
      h("option", { value: "" }, "—"),
      spec.enum.map((v) => h("option", { value: String(v), selected: v === value }, String(v))),
    );
  }
  if (type === "boolean") return h("input", { type: "checkbox", id, name, checked: Boolean(value) });
  if (type === "integer" || type === "number") {
    return h("input", { type: "number", id, name, step: type === "integer" ? "1" : "any", value: value ?? "" });
  }
  if (type === "object" || type === "array") {
    return h("textarea", { id, name, rows: 3, value: value === undefined ? "" : JSON.stringify(value, null, 2) });
  }
  return h("input", { type: "text", id, name, value: value ?? "" });
}
