// A dataset: its header (status, progress, actions) and tabs: Overview, Initialization,
// Tasks, Errors, Logs, Metrics. Polled every 2 s while its status is not final.

import { call, named } from "./api.js";
import { chart } from "./charts.js";
import {
  FINAL, TASK_STATUSES, badge, bytes, confirmDialog, errorBox, facts, h, jsonBlock, num,
  progress, replace, timeEl, toast,
} from "./ui.js";

const POLL_MS = 2000;
const TABS = [
  ["overview", "Overview"],
  ["initialization", "Initialization"],
  ["tasks", "Tasks"],
  ["errors", "Errors"],
  ["logs", "Logs"],
  ["metrics", "Metrics"],
];
/** Fields of a dataset record that are not the user's configuration. */
const SYSTEM_FIELDS = new Set([
  "datasetId", "tenantId", "userId", "datasetStatus", "datasetProgress", "executionLogs",
  "initializationWorkflow", "redriveWorkflows", "descaleWorkflow", "freezeWorkflow",
  "deleteWorkflow", "resources", "code", "codeUpdateWorkflows", "lastError", "createDatetime",
  "updateDatetime",
]);

const enc = encodeURIComponent;

export function datasetView(view, { name, tab, query, go }) {
  const base = `#/datasets/${enc(name)}`;
  if (!TABS.some(([id]) => id === tab)) tab = "overview";
  const head = h("div", { class: "dataset-head" }, h("h1", {}, name));
  const actionStatus = h("div", { id: "action-status", "aria-live": "polite" });
  const tabs = h(
    "nav",
    { class: "tabs", "aria-label": "Dataset" },
    TABS.map(([id, label]) =>
      h("a", { href: `${base}/${id}`, "aria-current": id === tab ? "page" : null, id: `tab-${id}` }, label),
    ),
  );
  const panel = h("section", { class: "panel", id: `panel-${tab}`, "aria-labelledby": `tab-${tab}` });
  replace(
    view,
    h("p", { class: "crumbs" }, h("a", { href: "#/datasets" }, "Datasets"), " / ", name),
    head,
    actionStatus,
    tabs,
    panel,
  );

  let stopped = false;
  let timer = null;
  let dataset = null;
  let last = null;
  let tabState = {};
  const ctx = { name, base, query, go, panel, state: () => tabState, isStopped: () => stopped };

  async function refresh(first) {
    timer = null;
    try {
      dataset = await call("dataset", { query: named(name) });
    } catch (e) {
      if (!stopped) replace(panel, errorBox(e, `Cannot show dataset ${name}`));
      return;
    }
    if (stopped) return;
    const live = !FINAL.has(dataset.datasetStatus);
    // Redrawn only when something changed: focus and selection stay where the user left them.
    const seen = JSON.stringify(dataset);
    if (seen !== last) {
      last = seen;
      renderHead(head, dataset, actions);
      if (first) tabState = (RENDER[tab](ctx, dataset) || {});
      else if (tabState.update) tabState.update(dataset);
    }
    if (live) timer = setTimeout(() => refresh(false), POLL_MS);
  }

  /** Runs an action; shows the server's reason when it refuses. */
  async function act(label, path, body, after) {
    replace(actionStatus, h("p", { class: "muted" }, `${label}…`));
    try {
      const answer = await call(path, { body });
      replace(actionStatus);
      toast(`${label}: done`);
      if (after) after(answer);
      else {
        clearTimeout(timer);
        refresh(false);
      }
    } catch (e) {
      replace(actionStatus, errorBox(e, `${label} was refused`));
    }
  }

  const actions = {
    stop: async () => {
      if (await confirmDialog({
        title: "Stop the tasks?",
        text: `The running tasks of ${name} checkpoint and end ERRORED; a redrive can run them again later.`,
        confirm: "Stop tasks",
      })) act("Stop", "tasks/stop", named(name));
    },
    redrive: async () => {
      const restart = h("input", { type: "checkbox", id: "restart-from-beginning" });
      const extra = h("label", { class: "check" }, restart, " Restart from the beginning (replace the earlier output of these tasks)");
      if (await confirmDialog({
        title: "Redrive the errored tasks?",
        text: `Every ERRORED task of ${name} is queued again, from its checkpoint unless restarted.`,
        confirm: "Redrive",
        danger: false,
        extra,
      })) act("Redrive", "tasks/redrive", named(name, { restartFromBeginning: restart.checked }));
    },
    compute: async () => {
      const ce = (dataset && dataset.computeEngine) || {};
      const field = (id, label, value, attrs) => h("div", { class: "field" },
        h("label", { for: id }, label),
        h("input", { id, type: "number", inputmode: "numeric", value: value ?? "", ...attrs }));
      const level = h("select", { id: "compute-logLevel" },
        ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].map((l) => h("option", { value: l, selected: l === (ce.logLevel || "WARN").toUpperCase() }, l)));
      const extra = h("div", { class: "fields" },
        field("compute-concurrency", "Concurrency", ce.concurrency, { min: 1, max: 1000 }),
        field("compute-timeoutInSeconds", "Timeout (s)", ce.timeoutInSeconds, { min: 1, max: 900 }),
        field("compute-memoryLimitInMegabytes", "Memory (MB)", ce.memoryLimitInMegabytes, { min: 128, max: 10240 }),
        h("div", { class: "field" }, h("label", { for: "compute-logLevel" }, "Log level"), level));
      if (!(await confirmDialog({
        title: "Update the compute settings?",
        text: `Running tasks of ${name} pick the new settings up; the server checks them first.`,
        confirm: "Update",
        danger: false,
        extra,
      }))) return;
      const body = named(name);
      for (const key of ["concurrency", "timeoutInSeconds", "memoryLimitInMegabytes"]) {
        const value = extra.querySelector(`#compute-${key}`).value;
        if (value !== "" && Number(value) !== ce[key]) body[key] = Number(value);
      }
      if (level.value !== (ce.logLevel || "WARN").toUpperCase()) body.logLevel = level.value;
      act("Compute update", "dataset/compute", body);
    },
    descale: async () => {
      if (await confirmDialog({
        title: "Descale the dataset?",
        text: `${name} releases its compute; its output and task database stay.`,
        confirm: "Descale",
      })) act("Descale", "dataset/descale", named(name));
    },
    freeze: async () => {
      if (await confirmDialog({
        title: "Freeze the dataset?",
        text: `${name}'s task database is reclaimed; its output stays. Tasks, errors and logs can no longer be viewed.`,
        confirm: "Freeze",
      })) act("Freeze", "dataset/freeze", named(name));
    },
    delete: async () => {
      if (await confirmDialog({
        title: `Delete ${name}?`,
        text: "The dataset and everything letsdata created for it (output, error records, task database) are deleted. This cannot be undone.",
        confirm: "Delete dataset",
      })) {
        act("Delete", "dataset/delete", named(name), () => {
          toast(`Dataset ${name} deleted`);
          go("#/datasets");
        });
      }
    },
  };

  refresh(true);
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (tabState.cleanup) tabState.cleanup();
  };
}

/** The head: title, status and progress (redrawn on each poll) and the actions (drawn once,
 * so a focused button keeps its focus while the page updates). */
function renderHead(head, d, actions) {
  const p = d.datasetProgress || {};
  if (!head.dataset.drawn) {
    head.dataset.drawn = "1";
    const button = (label, id, onclick, kind = "secondary") =>
      h("button", { type: "button", class: `button ${kind}`, id, onclick }, label);
    replace(
      head,
      h("div", { class: "title" }, h("h1", {}, d.datasetName), h("span", { id: "dataset-status" })),
      h("div", { class: "head-progress" }),
      h(
        "div",
        { class: "actions", role: "group", "aria-label": "Actions" },
        button("Stop tasks", "action-stop", actions.stop),
        button("Redrive", "action-redrive", actions.redrive),
        button("Compute", "action-compute", actions.compute),
        button("Descale", "action-descale", actions.descale),
        button("Freeze", "action-freeze", actions.freeze),
        button("Delete", "action-delete", actions.delete, "danger"),
      ),
    );
  }
  replace(head.querySelector("#dataset-status"), badge(d.datasetStatus));
  replace(head.querySelector(".head-progress"), progress(p.completedTasks || 0, p.totalTasks || 0, p.erroredTasks || 0));
  head.querySelector(".actions").hidden = d.datasetStatus === "DELETED";
}

// --- Overview ---------------------------------------------------------------------------

function overview({ panel }, d) {
  const draw = (d) => {
    const p = d.datasetProgress || {};
    const config = Object.fromEntries(Object.entries(d).filter(([k]) => !SYSTEM_FIELDS.has(k)));
    replace(
      panel,
      d.lastError ? h("div", { class: "alert error", role: "alert" }, h("strong", {}, "Last error"), h("p", {}, d.lastError)) : null,
      h(
        "div",
        { class: "grid two" },
        h(
          "div",
          { class: "card" },
          h("h2", {}, "Progress"),
          facts([
            ["Dataset id", h("code", {}, d.datasetId)],
            ["Status", badge(d.datasetStatus)],
            ["Tasks", `${num(p.completedTasks)} completed, ${num(p.erroredTasks)} errored, ${num(p.processingTasks)} processing of ${num(p.totalTasks)}`],
            ["Records read", h("span", { class: "num", id: "records-read" }, num(p.recordsRead))],
            ["Documents written", h("span", { class: "num", id: "documents-written" }, num(p.documentsWritten))],
            ["Error records", h("span", { class: "num", id: "error-records" }, num(p.errorRecords))],
            ["Skipped records", h("span", { class: "num" }, num(p.skipRecords))],
            ["Bytes read", h("span", { class: "num" }, bytes(p.bytesRead))],
            ["Created (UTC)", timeEl(d.createDatetime)],
            ["Last update (UTC)", timeEl(d.updateDatetime)],
          ]),
        ),
        h(
          "div",
          { class: "card" },
          h("h2", {}, "Resources"),
          facts(Object.entries(d.resources || {}).map(([k, v]) => [words(k), typeof v === "object" ? jsonBlock(v, k) : h("code", {}, String(v))])),
          h("h2", {}, "Execution log"),
          (d.executionLogs || []).length === 0
            ? h("p", { class: "muted" }, "Not run yet.")
            : h(
              "div",
              { class: "table-wrap" },
              h(
                "table",
                { class: "data compact" },
                h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Started (UTC)"), h("th", { scope: "col" }, "Ended (UTC)"), h("th", { scope: "col" }, "Status"))),
                h("tbody", {}, d.executionLogs.map((l) => h("tr", {}, h("td", {}, timeEl(l.startDatetime)), h("td", {}, timeEl(l.endDatetime)), h("td", {}, l.status ? badge(l.status) : h("span", { class: "muted" }, "running"))))),
              ),
            ),
        ),
      ),
      h("div", { class: "card" }, h("h2", {}, "Configuration"), jsonBlock(config, "Configuration")),
    );
  };
  draw(d);
  return { update: draw };
}

/** `initializationWorkflow` → "Initialization workflow". */
function words(camel) {
  if (camel.includes(" ")) return camel;
  const spaced = camel.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

// --- Initialization ---------------------------------------------------------------------

function stepMap(title, steps, id) {
  const entries = Object.entries(steps || {});
  return h(
    "div",
    { class: "card", id },
    h("h2", {}, title),
    entries.length === 0
      ? h("p", { class: "muted" }, "No steps yet.")
      : h(
        "ol",
        { class: "steps" },
        entries.map(([step, r]) =>
          h(
            "li",
            { class: `step ${r && r.status ? r.status.toLowerCase() : "pending"}`, dataset: { step } },
            h("div", { class: "step-name" }, words(step)),
            badge(r && r.status ? r.status : "PENDING"),
            h(
              "div",
              { class: "step-meta small" },
              r && r.attempts ? `${r.attempts} attempt${r.attempts === 1 ? "" : "s"}` : "not started",
              r && r.startDatetime
                ? h("span", { class: "muted" }, " · ", clock(r.startDatetime), r.endDatetime ? [" → ", clock(r.endDatetime)] : " → …")
                : null,
            ),
            r && r.message ? h("p", { class: "step-message small" }, r.message) : null,
          ),
        ),
      ),
  );
}

/** The time of day of epoch milliseconds (UTC), the whole date in its title. */
function clock(ms) {
  const el = timeEl(ms);
  el.textContent = el.textContent.slice(11);
  el.title = `${new Date(ms).toISOString()} (UTC)`;
  return el;
}

function initialization({ panel }, d) {
  const draw = (d) => {
    replace(
      panel,
      stepMap("Initialization workflow", d.initializationWorkflow, "init-steps"),
      (d.redriveWorkflows || []).map((r, i) =>
        stepMap(`Redrive ${i + 1}: ${num(r.taskIds.length)} task${r.taskIds.length === 1 ? "" : "s"}${r.restartFromBeginning ? ", from the beginning" : ""}`, r.steps, `redrive-${i + 1}`)),
      (d.codeUpdateWorkflows || []).map((w, i) => stepMap(`Code update ${i + 1}`, w, `code-update-${i + 1}`)),
      Object.keys(d.descaleWorkflow || {}).length ? stepMap("Descale workflow", d.descaleWorkflow) : null,
      Object.keys(d.freezeWorkflow || {}).length ? stepMap("Freeze workflow", d.freezeWorkflow) : null,
      Object.keys(d.deleteWorkflow || {}).length ? stepMap("Delete workflow", d.deleteWorkflow) : null,
    );
  };
  draw(d);
  return { update: draw };
}

// --- Tasks ------------------------------------------------------------------------------

function shortId(id) {
  return h("code", { title: id, class: "id" }, id.slice(0, 8));
}

function taskBar(t) {
  const p = t.taskProgress || {};
  const read = p.recordsRead || 0;
  const wrapper = progress(p.documentsWritten || 0, read, p.errorRecords || 0);
  wrapper.setAttribute("aria-label", `${num(p.documentsWritten)} documents and ${num(p.errorRecords)} error records of ${num(read)} records read`);
  return wrapper;
}

function tasks({ name, base, panel, query, go }) {
  const status = query.get("status") || "";
  // Tokens of the pages before: the way back.
  const tokens = [];
  let token = null;
  const filter = h(
    "select",
    { id: "task-status-filter", onchange: (e) => go(`${base}/tasks${e.target.value ? `?status=${e.target.value}` : ""}`) },
    h("option", { value: "" }, "All statuses"),
    TASK_STATUSES.map((s) => h("option", { value: s, selected: s === status }, s)),
  );
  const body = h("div", { id: "tasks-body" }, h("p", { class: "muted" }, "Loading…"));
  const pager = h("div", { class: "pager" });
  replace(panel, h("div", { class: "toolbar" }, h("label", { for: "task-status-filter" }, "Status"), filter), body, pager);

  let loading = false;
  async function load() {
    loading = true;
    try {
      const page = await call("tasks/list", { query: named(name, { taskStatus: status, limit: 100, nextToken: token }) });
      draw(page);
    } catch (e) {
      replace(body, errorBox(e, "Cannot list the tasks"));
    } finally {
      loading = false;
    }
  }
  let shown = null;
  function draw(page) {
    const seen = JSON.stringify(page);
    if (seen === shown) return;
    shown = seen;
    replace(
      body,
      page.tasks.length === 0
        ? h("p", { class: "empty" }, status ? `No ${status} task.` : "No tasks yet.")
        : h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "data", id: "tasks" },
            h("thead", {}, h("tr", {},
              h("th", { scope: "col" }, "Task"),
              h("th", { scope: "col" }, "Input"),
              h("th", { scope: "col" }, "Status"),
              h("th", { scope: "col", class: "wide" }, "Records"),
              h("th", { scope: "col", class: "num" }, "Documents"),
              h("th", { scope: "col", class: "num" }, "Errors"),
              h("th", { scope: "col" }, "Last update (UTC)"),
              h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Links")))),
            h("tbody", {}, page.tasks.map((t) => {
              const p = t.taskProgress || {};
              return h("tr", { dataset: { task: t.taskId } },
                h("td", {}, shortId(t.taskId)),
                h("td", { class: "input" }, (t.taskDefinition && t.taskDefinition.manifestLine) || ""),
                h("td", {}, badge(t.taskStatus)),
                h("td", {}, taskBar(t)),
                h("td", { class: "num" }, num(p.documentsWritten)),
                h("td", { class: "num" }, num(p.errorRecords)),
                h("td", {}, timeEl(t.updateDatetime)),
                h("td", { class: "links" },
                  h("a", { href: `${base}/logs?task=${enc(t.taskId)}`, class: "task-log" }, "Log"),
                  " ",
                  p.errorRecords ? h("a", { href: `${base}/errors?task=${enc(t.taskId)}` }, "Errors") : null));
            })),
          ),
        ),
    );
    replace(
      pager,
      h("button", { type: "button", class: "button secondary small", disabled: tokens.length === 0, onclick: () => { token = tokens.pop(); load(); } }, "Previous 100"),
      h("button", { type: "button", class: "button secondary small", id: "tasks-next", disabled: !page.nextToken, onclick: () => { tokens.push(token); token = page.nextToken; load(); } }, "Next 100"),
    );
  }
  load();
  return { update: () => { if (!loading) load(); } };
}

// --- Errors -----------------------------------------------------------------------------

function errors({ name, base, panel, query }) {
  const selected = query.get("task");
  const list = h("div", { id: "error-objects" }, h("p", { class: "muted" }, "Loading…"));
  const more = h("div", { class: "pager" });
  const records = h("div", { id: "error-records" });
  replace(panel, h("div", { class: "card" }, h("h2", {}, "Error objects"), list, more), records);
  let rows = [];

  async function load(token) {
    try {
      const page = await call("errors/list", { query: named(name, { nextToken: token }) });
      rows = rows.concat(page.errors);
      drawList(page.nextToken);
    } catch (e) {
      replace(list, errorBox(e, "Cannot list the error objects"));
    }
  }
  function drawList(next) {
    replace(
      list,
      rows.length === 0
        ? h("p", { class: "empty" }, "No error records: every record read was written or skipped.")
        : h("div", { class: "table-wrap" }, h("table", { class: "data" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Task"), h("th", { scope: "col" }, "Error file"), h("th", { scope: "col", class: "num" }, "Size"), h("th", { scope: "col", class: "num" }, "Records"), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Records")))),
          h("tbody", {}, rows.map((o) => h("tr", { class: o.taskId === selected ? "selected" : null },
            h("td", {}, shortId(o.taskId)),
            h("td", { class: "input" }, h("code", {}, o.errorFile)),
            h("td", { class: "num" }, bytes(o.sizeBytes)),
            h("td", { class: "num" }, num(o.errorRecords)),
            h("td", {}, h("a", { href: `${base}/errors?task=${enc(o.taskId)}`, class: "view-records" }, "View records"))))))),
    );
    replace(more, next ? h("button", { type: "button", class: "button secondary small", onclick: () => load(next) }, "More") : null);
  }
  async function showRecords(taskId) {
    replace(records, h("p", { class: "muted" }, "Loading the records…"));
    try {
      const recs = await call("errors", { query: named(name, { taskId }) });
      replace(
        records,
        h("div", { class: "card" },
          h("h2", {}, "Error records of task ", h("code", {}, taskId)),
          recs.length === 0 ? h("p", { class: "empty" }, "No error records.") : h("ol", { class: "records" }, recs.map((r) => h("li", { class: "record" },
            h("p", { class: "record-message" }, r.errorMessage || "(no message)"),
            facts([
              ["File", h("code", {}, `${r.fileType || ""} ${r.fileName || ""}`.trim() || "–")],
              ["Offsets", h("code", {}, `${offsets(r.errorStartOffsetMap)} – ${offsets(r.errorEndOffsetMap)}`)],
              r.documentId ? ["Document id", h("code", {}, r.documentId)] : null,
            ].filter(Boolean)),
            h("pre", { class: "raw", tabindex: "0", "aria-label": "Raw record" }, r.rawRecord || ""),
            r.rawRecordTruncated ? h("p", { class: "muted small" }, `cut at 1 MiB of ${bytes(r.rawRecordSizeBytes)}`) : null)))));
    } catch (e) {
      replace(records, errorBox(e, "Cannot read the error records"));
    }
  }
  load(null);
  if (selected) showRecords(selected);
  return {};
}

function offsets(map) {
  return Object.entries(map || {}).map(([k, v]) => `${k} ${v}`).join(", ") || "–";
}

// --- Logs -------------------------------------------------------------------------------

function logs({ name, base, panel, query, go }, d) {
  const selected = query.get("task") || "";
  const picker = h("select", { id: "log-task", onchange: (e) => go(`${base}/logs?task=${enc(e.target.value)}`) },
    h("option", { value: "" }, "Choose a task…"));
  const out = h("div", { id: "log-body" });
  const level = (d.computeEngine && d.computeEngine.logLevel) || "WARN";
  replace(panel, h("div", { class: "toolbar" }, h("label", { for: "log-task" }, "Task"), picker,
    h("span", { class: "muted small" }, `logged at ${level} and above`)), out);
  call("tasks/list", { query: named(name, { limit: 100 }) }).then((page) => {
    const ids = page.tasks.map((t) => t.taskId);
    if (selected && !ids.includes(selected)) ids.unshift(selected);
    for (const t of page.tasks) {
      picker.append(h("option", { value: t.taskId, selected: t.taskId === selected }, `${t.taskId.slice(0, 8)} · ${t.taskDefinition.manifestLine} · ${t.taskStatus}`));
    }
    if (selected && !page.tasks.some((t) => t.taskId === selected)) picker.append(h("option", { value: selected, selected: true }, selected));
  }).catch((e) => replace(out, errorBox(e, "Cannot list the tasks")));
  if (selected) {
    replace(out, h("p", { class: "muted" }, "Loading the log…"));
    call("logs", { query: named(name, { taskId: selected }), text: true })
      .then((text) => replace(out, text
        ? h("pre", { class: "log", id: "task-log", tabindex: "0", "aria-label": "Task log" }, text)
        : h("p", { class: "empty", id: "task-log" }, `The task logged nothing at ${level}.`)))
      .catch((e) => replace(out, errorBox(e, "Cannot read the log")));
  } else {
    replace(out, h("p", { class: "muted" }, "Choose a task to read its log, or open one from the Tasks tab."));
  }
  return {};
}

// --- Metrics ----------------------------------------------------------------------------

function metrics({ name, panel }) {
  replace(panel, h("p", { class: "muted" }, "Loading…"));
  const draw = (page) => {
    const m = page.metrics;
    if (m.length === 0) {
      replace(panel, h("p", { class: "empty" }, "No metrics yet: they appear once tasks checkpoint."));
      return;
    }
    const points = (f) => m.map((x) => ({ label: x.minute.slice(11, 16), value: f(x) ?? null }));
    const pct = (v) => `${Math.round(v * 100)}%`;
    replace(
      panel,
      h("div", { class: "grid charts" },
        chart({ title: "Records read per minute", points: points((x) => x.recordsRead), id: "chart-records" }),
        chart({ title: "Documents written per minute", points: points((x) => x.documentsWritten), id: "chart-documents" }),
        chart({ title: "Error records per minute", points: points((x) => x.errorRecords), id: "chart-errors" }),
        chart({ title: "Tasks ended per minute", points: points((x) => x.tasksCompleted + x.tasksErrored), id: "chart-tasks" }),
        chart({ title: "Average task latency (ms)", points: points((x) => x.averageTaskLatencyMillis), kind: "line", id: "chart-latency" }),
        chart({ title: "Task success rate", points: points((x) => x.taskSuccessRate), kind: "line", max: 1, format: pct, id: "chart-success" })),
      h("div", { class: "card" }, h("h2", {}, "Per minute"), h("div", { class: "table-wrap" }, h("table", { class: "data compact", id: "metrics" },
        h("thead", {}, h("tr", {}, ["Minute (UTC)", "Completed", "Errored", "Success", "Latency ms", "Records", "Written", "Errors", "Bytes read"].map((c, i) => h("th", { scope: "col", class: i ? "num" : null }, c)))),
        h("tbody", {}, m.map((x) => h("tr", {},
          h("td", {}, x.minute.replace("T", " ").replace("Z", "")),
          h("td", { class: "num" }, num(x.tasksCompleted)),
          h("td", { class: "num" }, num(x.tasksErrored)),
          h("td", { class: "num" }, x.taskSuccessRate === undefined ? "–" : pct(x.taskSuccessRate)),
          h("td", { class: "num" }, num(x.averageTaskLatencyMillis)),
          h("td", { class: "num" }, num(x.recordsRead)),
          h("td", { class: "num" }, num(x.documentsWritten)),
          h("td", { class: "num" }, num(x.errorRecords)),
          h("td", { class: "num" }, bytes(x.bytesRead)))))))),
    );
  };
  let loading = false;
  const load = () => {
    loading = true;
    call("metrics", { query: named(name, { limit: 1000 }) })
      .then(draw)
      .catch((e) => replace(panel, errorBox(e, "Cannot read the metrics")))
      .finally(() => { loading = false; });
  };
  load();
  return { update: () => { if (!loading) load(); } };
}

const RENDER = { overview, initialization, tasks, errors, logs, metrics };
