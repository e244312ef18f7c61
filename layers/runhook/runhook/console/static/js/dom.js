// Building the page without parsing markup: every value is set as text or a property, so nothing
// the API returns is ever parsed as markup, and events are attached with addEventListener
// (the CSP forbids inline handlers).

/** h("button.primary", {on: {click}, disabled: true, data: {testid: "x"}}, "Save") */
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name || "div");
  if (classes.length) el.className = classes.join(" ");
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "on") {
      for (const [event, fn] of Object.entries(value)) el.addEventListener(event, fn);
    } else if (key === "data") {
      for (const [k, v] of Object.entries(value)) el.dataset[k] = v;
    } else if (key === "class") {
      el.className += (el.className ? " " : "") + value;
    } else if (key in el && !key.startsWith("aria") && key !== "list") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60000);
  return `${m} min ${Math.round((ms % 60000) / 1000)} s`;
}

export function badge(status) {
  const s = String(status || "unknown");
  return h(`span.badge.badge-${s.toLowerCase()}`, { data: { testid: "status" } }, s);
}

/** A progress bar for a run's {currentStep, stepsTotal} (null while PENDING). */
export function progressBar(progress) {
  if (!progress) return h("small.muted", "queued");
  const done = progress.currentStep;
  const total = progress.stepsTotal;
  return h(
    "span.progress",
    { title: `${done} of ${total} steps` },
    h("progress", { max: total || 1, value: done }),
    h("small", ` ${done}/${total}`),
  );
}

export function pre(value) {
  return h("pre.json", typeof value === "string" ? value : JSON.stringify(value, null, 2));
}

/** A button that copies `text()` to the clipboard and says so. */
export function copyButton(text, label = "Copy") {
  const button = h("button.small", { type: "button" }, label);
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text());
      button.textContent = "Copied";
    } catch {
      const range = document.createRange();
      range.selectNodeContents(button.previousElementSibling || button);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      button.textContent = "Selected: press Ctrl+C";
    }
    setTimeout(() => (button.textContent = label), 2000);
  });
  return button;
}

export function field(label, input, hint) {
  return h("label.field", h("span.label", label), input, hint ? h("small.hint", hint) : null);
}
