// Shared pieces of the pages: the API's answer to an action, a page's load error, scopes.
import { h, clear } from "./dom.js";
import { describe } from "./api.js";

/** An element that shows the API's answer to each action (role=status: read out). */
export function answerBox(testid = "answer") {
  const box = h("div.answer", { role: "status", data: { testid } });
  box.show = (result, success) => {
    box.className = `answer ${result.ok ? "ok" : "error"}`;
    clear(box, describe(result, success));
    return result;
  };
  box.say = (text, ok = true) => {
    box.className = `answer ${ok ? "ok" : "error"}`;
    clear(box, text);
  };
  return box;
}

/** What a page shows when its first load fails: the readable reason (a missing scope
 * says which page needs which scope). */
export function loadError(result, what) {
  const detail = result.body && result.body.detail;
  if (detail === "forbidden") {
    return h(
      "div.notice.error",
      { data: { testid: "scope-needed" } },
      h("strong", "This page needs an admin key. "),
      `Your key may call the runs and tasks endpoints only, so ${what} cannot be shown. `,
      "Sign in with a key that has the admin scope to use it.",
    );
  }
  const problems = (result.body && Array.isArray(result.body.errors) && result.body.errors) || [];
  return h(
    "div.notice.error",
    { data: { testid: "load-error" } },
    `Could not load ${what}: ${result.message}`,
    problems.length ? h("ul", problems.map((p) => h("li", p.path ? `${p.path}: ${p.message}` : p.message))) : null,
  );
}

export function section(title, ...children) {
  return h("section.card", h("h2", title), ...children);
}
