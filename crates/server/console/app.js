// The console: a hash-routed single page over /api/v1. Routes:
//   #/signin                       sign in with an API key
//   #/datasets?status=S            the tenant's datasets
//   #/create                       create a dataset from JSON
//   #/datasets/<name>/<tab>?…      a dataset: overview, initialization, tasks, errors, logs, metrics

import { apiKey, clearSession, setUnauthorizedHandler, tenant } from "./api.js";
import { errorBox, h, replace } from "./ui.js";
import { signInView } from "./signin.js";
import { datasetsView } from "./datasets.js";
import { datasetView } from "./dataset.js";
import { createView } from "./create.js";

const main = document.getElementById("main");
let cleanup = null;
let notice = null;

/** The current route: its path segments and query. */
function route() {
  const raw = location.hash.replace(/^#/, "") || "/datasets";
  const [path, query = ""] = raw.split("?");
  const segments = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { segments, query: new URLSearchParams(query) };
}

/** Goes to `hash` (re-rendering even when it is the current one). */
export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

/** Signs out: forgets the key and shows the sign-in page, with `message` when there is one. */
export function signOut(message = null) {
  clearSession();
  notice = message;
  go("#/signin");
}

function showSession() {
  const who = tenant();
  const signedIn = Boolean(apiKey() && who);
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("session").hidden = !signedIn;
  document.getElementById("tenant-name").textContent = signedIn ? who.tenantName : "";
}

function markNav(segments) {
  for (const link of document.querySelectorAll("[data-nav]")) {
    const current = link.dataset.nav === (segments[0] || "datasets");
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function render() {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  showSession();
  const { segments, query } = route();
  markNav(segments);
  if (!apiKey() && segments[0] !== "signin") {
    location.replace("#/signin");
    return;
  }
  if (apiKey() && segments[0] === "signin") {
    location.replace("#/datasets");
    return;
  }
  const view = document.createElement("div");
  view.className = "view";
  replace(main, view);
  const context = { query, go, signedIn: () => showSession() };
  try {
    if (segments[0] === "signin") {
      const message = notice;
      notice = null;
      cleanup = signInView(view, { ...context, message });
    } else if (segments[0] === "create") {
      cleanup = createView(view, context);
    } else if (segments[0] === "datasets" && segments[1]) {
      cleanup = datasetView(view, { ...context, name: segments[1], tab: segments[2] || "overview" });
    } else if (segments[0] === "datasets") {
      cleanup = datasetsView(view, context);
    } else {
      replace(view, h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/datasets" }, "Datasets")));
    }
  } catch (e) {
    replace(view, errorBox(e, "The page failed"));
  }
}

setUnauthorizedHandler((error) => signOut(`Signed out: ${error.message}`));
document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));
window.addEventListener("hashchange", render);
render();
