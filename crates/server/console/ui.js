// Small DOM helpers: elements, formatting, status badges, progress bars, messages, dialogs.

/**
 * Makes an element: `h("a", {href: "#/x", class: "link"}, "text", child)`. Attributes starting
 * with `on` are listeners; `null`/`false` attributes and children are left out. Text is always
 * text (never parsed as HTML).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const numberFormat = new Intl.NumberFormat("en-US");

export function num(n) {
  return n === undefined || n === null ? "–" : numberFormat.format(n);
}

export function bytes(n) {
  if (n === undefined || n === null) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** Epoch milliseconds as `2026-12-06 18:22:44` (UTC). */
export function time(ms) {
  if (!ms) return "–";
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19);
}

/** A `<time>` element for epoch milliseconds. */
export function timeEl(ms) {
  if (!ms) return h("span", { class: "muted" }, "–");
  return h("time", { datetime: new Date(ms).toISOString(), title: "UTC" }, time(ms));
}

/** Dataset statuses after which nothing changes by itself. */
export const FINAL = new Set(["COMPLETED", "ERRORED", "DESCALED", "FROZEN", "DELETED"]);

export const DATASET_STATUSES = [
  "CREATED", "INITIALIZING", "PROCESSING", "COMPLETED", "ERRORED", "REDRIVING", "UPDATING",
  "STOPPING_ERROR", "STOPPING_COMPLETE", "DESCALING", "DESCALED", "FREEZING", "FROZEN",
  "DELETING", "DELETED",
];

export const TASK_STATUSES = ["CREATED", "PROCESSING", "RERUN", "COMPLETED", "ERRORED"];

function tone(status) {
  switch (status) {
    case "COMPLETED":
      return "ok";
    case "ERRORED":
    case "ERROR":
    case "LEASE_LOST":
      return "bad";
    case "PROCESSING":
    case "INITIALIZING":
    case "REDRIVING":
    case "UPDATING":
    case "RERUN":
    case "WAIT":
      return "busy";
    case "STOPPING_ERROR":
    case "STOPPING_COMPLETE":
    case "DESCALING":
    case "FREEZING":
    case "DELETING":
      return "warn";
    default:
      return "idle";
  }
}

/** A status as a coloured badge (the text is the status itself). */
export function badge(status) {
  return h("span", { class: `badge ${tone(status)}` }, status || "NOT STARTED");
}

/** A progress bar of `done` out of `total` (and `failed` in red). */
export function progress(done, total, failed = 0) {
  const bar = h("span", { class: "bar-done" });
  const bad = h("span", { class: "bar-failed" });
  const pct = total > 0 ? (100 * done) / total : 0;
  const badPct = total > 0 ? (100 * failed) / total : 0;
  // Sizes through the CSS object model: the Content-Security-Policy forbids style attributes.
  bar.style.width = `${pct}%`;
  bad.style.width = `${badPct}%`;
  const label = `${num(done)} of ${num(total)}${failed ? `, ${num(failed)} errored` : ""}`;
  return h(
    "span",
    { class: "progress", role: "img", "aria-label": label, title: label },
    h("span", { class: "bar" }, bar, bad),
    h("span", { class: "bar-text" }, `${num(done)}/${num(total)}`),
  );
}

/** An error box with the server's message (and its problems, when it gave some). */
export function errorBox(error, title = "The server refused") {
  return h(
    "div",
    { class: "alert error", role: "alert" },
    h("strong", {}, title),
    h("p", { class: "message" }, error.message || String(error)),
    error.code ? h("p", { class: "muted small" }, `${error.code} (HTTP ${error.status})`) : null,
  );
}

let toastTimer = null;

/** A short message at the bottom of the page. */
export function toast(text) {
  const el = document.getElementById("toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    el.hidden = true;
  }, 4000);
}

/**
 * Asks for confirmation in the modal dialog; resolves true when confirmed. `extra` (an element)
 * goes under the text, e.g. a checkbox the caller reads afterwards.
 */
export function confirmDialog({ title, text, confirm = "Confirm", danger = true, extra = null }) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  replace(document.getElementById("confirm-extra"), extra);
  const ok = document.getElementById("confirm-ok");
  ok.textContent = confirm;
  ok.className = `button ${danger ? "danger" : "primary"}`;
  dialog.returnValue = "";
  // Enter in a field confirms (the form's first button, which Enter would press, is Cancel).
  for (const input of document.querySelectorAll("#confirm-extra input:not([type=checkbox])")) {
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        dialog.close("ok");
      }
    });
  }
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
    document.getElementById("confirm-cancel").focus();
  });
}

/** A definition list of [term, value] pairs. */
export function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
  );
}

/** Pretty JSON in a scrollable block. */
export function jsonBlock(value, label) {
  return h("pre", { class: "json", tabindex: "0", "aria-label": label }, JSON.stringify(value, null, 2));
}
