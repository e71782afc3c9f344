// The tenant's datasets: status, progress, documents written, error records, last update;
// filtered by status; polled every 2 s while any dataset is in a non-final status.

import { call } from "./api.js";
import { DATASET_STATUSES, FINAL, badge, errorBox, h, num, progress, replace, timeEl } from "./ui.js";

const POLL_MS = 2000;

export function datasetsView(view, { query, go }) {
  const wanted = query.get("status") || "";
  const filter = h(
    "select",
    {
      id: "status-filter",
      onchange: (e) => go(e.target.value ? `#/datasets?status=${e.target.value}` : "#/datasets"),
    },
    h("option", { value: "" }, "All statuses"),
    DATASET_STATUSES.map((s) => h("option", { value: s, selected: s === wanted }, s)),
  );
  const live = h("span", { class: "live muted small", id: "live", "aria-live": "off" });
  const body = h("div", { id: "datasets-body" }, h("p", { class: "muted" }, "Loading…"));
  replace(
    view,
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, "Datasets"),
      h("a", { class: "button primary", href: "#/create" }, "Create dataset"),
    ),
    h("div", { class: "toolbar" }, h("label", { for: "status-filter" }, "Status"), filter, live),
    body,
  );

  let timer = null;
  let stopped = false;
  async function refresh() {
    timer = null;
    let datasets;
    try {
      datasets = await call("dataset/list");
    } catch (e) {
      if (!stopped) replace(body, errorBox(e, "Cannot list the datasets"));
      return;
    }
    if (stopped) return;
    datasets.sort((a, b) => b.createDatetime - a.createDatetime);
    const running = datasets.some((d) => !FINAL.has(d.datasetStatus));
    const shown = wanted ? datasets.filter((d) => d.datasetStatus === wanted) : datasets;
    replace(body, table(shown, datasets.length));
    live.textContent = running ? "Updating every 2 s" : "";
    if (running) timer = setTimeout(refresh, POLL_MS);
  }
  refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function table(datasets, all) {
  if (datasets.length === 0) {
    return h(
      "div",
      { class: "empty" },
      all === 0
        ? h("p", {}, "No datasets yet. ", h("a", { href: "#/create" }, "Create one"), ".")
        : h("p", {}, "No dataset has this status."),
    );
  }
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "data stack", id: "datasets" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "Name"),
          h("th", { scope: "col" }, "Status"),
          h("th", { scope: "col", class: "wide" }, "Tasks"),
          h("th", { scope: "col", class: "num" }, "Documents written"),
          h("th", { scope: "col", class: "num" }, "Error records"),
          h("th", { scope: "col" }, "Last update (UTC)"),
        ),
      ),
      h(
        "tbody",
        {},
        datasets.map((d) => {
          const p = d.datasetProgress || {};
          return h(
            "tr",
            { dataset: { name: d.datasetName } },
            h(
              "th",
              { scope: "row" },
              h("a", { href: `#/datasets/${encodeURIComponent(d.datasetName)}` }, d.datasetName),
            ),
            h("td", { class: "status", "data-label": "Status" }, badge(d.datasetStatus)),
            h("td", { class: "tasks", "data-label": "Tasks" }, progress(p.completedTasks || 0, p.totalTasks || 0, p.erroredTasks || 0)),
            h("td", { class: "num documents", "data-label": "Documents written" }, num(p.documentsWritten)),
            h("td", { class: "num errors", "data-label": "Error records" }, num(p.errorRecords)),
            h("td", { "data-label": "Last update (UTC)" }, timeEl(d.updateDatetime)),
          );
        }),
      ),
    ),
  );
}
