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
    code: async () => {
      const current = dataset && dataset.code && dataset.code.current;
      const read = (dataset && dataset.readConnector) || {};
      const where = read.artifactFileS3LinkResourceLocation || "Customer";
      const link = h("input", {
        id: "code-link", type: "text", value: current ? current.artifactFileS3Link : "",
        placeholder: "s3://bucket/component.wasm", spellcheck: "false", autocomplete: "off",
      });
      const location = h("select", { id: "code-location" },
        ["Customer", "LetsData"].map((l) => h("option", { value: l, selected: l === where }, l)));
      const extra = h("div", { class: "fields one" },
        h("div", { class: "field" }, h("label", { for: "code-link" }, "Component (artifactFileS3Link)"), link),
        h("div", { class: "field" }, h("label", { for: "code-location" }, "Bucket of"), location));
      if (!(await confirmDialog({
        title: "Update the code?",
        text: `The component is copied and built first; ${name} runs it from its next task on. A component that does not build leaves the current code in place.`,
        confirm: "Update code",
        danger: false,
        extra,
      }))) return;
      act("Code update", "dataset/code", named(name, {
        artifactFileS3Link: link.value.trim(),
        artifactFileS3LinkResourceLocation: location.value,
      }));
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
        button("Code", "action-code", actions.code),
        button("Descale", "action-descale", actions.descale),
        button("Freeze", "action-freeze", actions.freeze),
        button("Delete", "action-delete", actions.delete, "danger"),
      ),
    );
  }
  replace(head.querySelector("#dataset-status"), badge(d.datasetStatus));
  replace(head.querySelector(".head-progress"), progress(p.completedTasks || 0, p.totalTasks || 0, p.erroredTasks || 0));
  head.querySelector(".actions").hidden = d.datasetStatus === "DELETED";
  // Only a dataset with user code (Wasm) has code to update.
  head.querySelector("#action-code").hidden = !d.code;
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
      d.code ? codeCard(d.code) : null,
      h("div", { class: "card" }, h("h2", {}, "Configuration"), jsonBlock(config, "Configuration")),
    );
  };
  draw(d);
  return { update: draw };
}

/** The dataset's user code: the version its tasks run, and the ones before it. */
function codeCard(code) {
  const version = (a) => [
    ["Component", h("code", { class: "code-link" }, a.artifactFileS3Link)],
    ["Interface", a.interface],
    ["sha256", h("code", { title: a.sha256 }, a.sha256.slice(0, 16))],
    ["Size", bytes(a.sizeBytes)],
    ["Active since (UTC)", timeEl(a.activatedDatetime)],
  ];
  const previous = code.previous || [];
  return h(
    "div",
    { class: "card", id: "code" },
    h("h2", {}, "Code"),
    facts(version(code.current)),
    previous.length === 0
      ? null
      : [
        h("h3", {}, `Earlier version${previous.length === 1 ? "" : "s"}`),
        h("ol", { class: "versions small" }, previous.map((a) =>
          h("li", {}, h("code", {}, a.artifactFileS3Link), " · ", h("code", { title: a.sha256 }, a.sha256.slice(0, 16)), " · active from ", timeEl(a.activatedDatetime)))),
      ],
  );
}

/** `initializationWorkflow` → "Initialization workflow". */
function words(camel) {
  if (camel.includes(" ")) return camel;
  const spaced = camel.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

// --- Initialization ---------------------------------------------------------------------

function stepMap(title, steps, id) {
  const entries = Object.entries(steps || {}).filter(([, r]) => r === null || typeof r === "object");
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
      (d.codeUpdateWorkflows || []).map((w, i) => stepMap(`Code update ${i + 1}${w.artifactFileS3Link ? `: ${w.artifactFileS3Link}` : ""}`, w, `code-update-${i + 1}`)),
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

/** A task's bar: the bytes of its input handled out of its size where that is known (one
 * uncompressed file), else its records read, split into documents written and error records. */
function taskBar(t) {
  const p = t.taskProgress || {};
  if (p.inputBytes) {
    // A completed task handled all of its input (trailing bytes that hold no record included).
    const done = t.taskStatus === "COMPLETED" ? p.inputBytes : Math.min(p.bytesRead || 0, p.inputBytes);
    const wrapper = progress(done, p.inputBytes);
    const pct = Math.floor((100 * done) / p.inputBytes);
    wrapper.querySelector(".bar-text").textContent = `${pct}%`;
    const label = `${bytes(done)} of ${bytes(p.inputBytes)} read (${pct}%), ${num(p.documentsWritten)} documents, ${num(p.errorRecords)} error records`;
    wrapper.setAttribute("aria-label", label);
    wrapper.title = label;
    return wrapper;
  }
  const read = p.recordsRead || 0;
  const wrapper = progress(p.documentsWritten || 0, read, p.errorRecords || 0);
  const label = `${num(p.documentsWritten)} documents and ${num(p.errorRecords)} error records of ${num(read)} records read`;
  wrapper.setAttribute("aria-label", label);
  wrapper.title = label;
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
              h("th", { scope: "col", class: "wide" }, "Progress"),
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
  // Tasks come in pages of 100: "More tasks" adds the next page to the picker.
  const more = h("button", { type: "button", class: "button secondary small", id: "log-more-tasks", hidden: true }, "More tasks");
  const out = h("div", { id: "log-body" });
  const level = (d.computeEngine && d.computeEngine.logLevel) || "WARN";
  replace(panel, h("div", { class: "toolbar" }, h("label", { for: "log-task" }, "Task"), picker, more,
    h("span", { class: "muted small" }, `logged at ${level} and above`)), out);
  if (selected) picker.append(h("option", { value: selected, selected: true }, selected));
  let token = null;
  const listed = new Set(selected ? [selected] : []);
  async function page() {
    more.disabled = true;
    try {
      const answer = await call("tasks/list", { query: named(name, { limit: 100, nextToken: token }) });
      for (const t of answer.tasks) {
        const label = `${t.taskId.slice(0, 8)} · ${t.taskDefinition.manifestLine} · ${t.taskStatus}`;
        if (listed.has(t.taskId)) {
          const option = [...picker.options].find((o) => o.value === t.taskId);
          if (option) option.textContent = label;
          continue;
        }
        listed.add(t.taskId);
        picker.append(h("option", { value: t.taskId }, label));
      }
      token = answer.nextToken || null;
      more.hidden = !token;
    } catch (e) {
      replace(out, errorBox(e, "Cannot list the tasks"));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", page);
  page();
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

/** Ranges of the metrics tab, back from the last minute with metrics (minutes; 0: all). */
const RANGES = [["60", "Last hour"], ["360", "Last 6 hours"], ["1440", "Last 24 hours"], ["10080", "Last 7 days"], ["0", "All"]];
/** At most this many bars per chart: longer ranges add minutes up into wider buckets. */
const MAX_POINTS = 240;
const BUCKETS = [1, 5, 15, 60, 180, 360, 1440];
const MINUTE_MS = 60_000;

/** Adds minutes up into buckets of `size` minutes: counts add, latency is averaged over the
 * tasks that ended, the success rate is recomputed from the counts. */
function buckets(minutes, size) {
  if (size === 1) return minutes;
  const out = [];
  for (const m of minutes) {
    const start = Math.floor(m.minuteEpochMillis / (size * MINUTE_MS)) * size * MINUTE_MS;
    let b = out[out.length - 1];
    if (!b || b.minuteEpochMillis !== start) {
      b = {
        minute: new Date(start).toISOString().replace(".000Z", "Z"), minuteEpochMillis: start,
        tasksCompleted: 0, tasksErrored: 0, recordsRead: 0, documentsWritten: 0, errorRecords: 0,
        skipRecords: 0, bytesRead: 0, latencySum: 0, latencyTasks: 0,
      };
      out.push(b);
    }
    for (const k of ["tasksCompleted", "tasksErrored", "recordsRead", "documentsWritten", "errorRecords", "skipRecords", "bytesRead"]) b[k] += m[k] || 0;
    if (m.averageTaskLatencyMillis !== undefined) {
      const ended = m.tasksCompleted + m.tasksErrored || 1;
      b.latencySum += m.averageTaskLatencyMillis * ended;
      b.latencyTasks += ended;
    }
  }
  for (const b of out) {
    const ended = b.tasksCompleted + b.tasksErrored;
    if (ended) b.taskSuccessRate = b.tasksCompleted / ended;
    if (b.latencyTasks) b.averageTaskLatencyMillis = Math.round(b.latencySum / b.latencyTasks);
  }
  return out;
}

function metrics({ name, panel }) {
  let all = [];
  let range = null;
  const picker = h("select", { id: "metrics-range", onchange: (e) => { range = Number(e.target.value); draw(); } },
    RANGES.map(([value, label]) => h("option", { value }, label)));
  const body = h("div", { id: "metrics-body" }, h("p", { class: "muted" }, "Loading…"));
  replace(panel, h("div", { class: "toolbar" }, h("label", { for: "metrics-range" }, "Range"), picker,
    h("span", { class: "muted small", id: "metrics-span" })), body);

  function draw() {
    if (all.length === 0) {
      replace(body, h("p", { class: "empty" }, "No metrics yet: they appear once tasks checkpoint."));
      return;
    }
    const last = all[all.length - 1].minuteEpochMillis;
    // The first time: the whole run when it fits a day, else its last day.
    if (range === null) range = last - all[0].minuteEpochMillis < 1440 * MINUTE_MS ? 0 : 1440;
    picker.value = String(range);
    const shown = range ? all.filter((m) => m.minuteEpochMillis > last - range * MINUTE_MS) : all;
    const span = (shown[shown.length - 1].minuteEpochMillis - shown[0].minuteEpochMillis) / MINUTE_MS + 1;
    const size = BUCKETS.find((b) => span / b <= MAX_POINTS) || BUCKETS[BUCKETS.length - 1];
    const m = buckets(shown, size);
    const per = size === 1 ? "minute" : size < 60 ? `${size} minutes` : size === 60 ? "hour" : size < 1440 ? `${size / 60} hours` : "day";
    const days = span > 1440 || new Date(shown[0].minuteEpochMillis).getUTCDate() !== new Date(last).getUTCDate();
    const label = (x) => (days ? `${x.minute.slice(5, 10)} ${x.minute.slice(11, 16)}` : x.minute.slice(11, 16));
    const points = (f) => m.map((x) => ({ label: label(x), value: f(x) ?? null }));
    const pct = (v) => `${Math.round(v * 100)}%`;
    document.getElementById("metrics-span").textContent =
      `${num(shown.length)} of ${num(all.length)} minutes with activity${size === 1 ? "" : `, added up per ${per}`}`;
    replace(
      body,
      h("div", { class: "grid charts" },
        chart({ title: `Records read per ${per}`, points: points((x) => x.recordsRead), id: "chart-records" }),
        chart({ title: `Documents written per ${per}`, points: points((x) => x.documentsWritten), id: "chart-documents" }),
        chart({ title: `Error records per ${per}`, points: points((x) => x.errorRecords), id: "chart-errors" }),
        chart({ title: `Tasks ended per ${per}`, points: points((x) => x.tasksCompleted + x.tasksErrored), id: "chart-tasks" }),
        chart({ title: "Average task latency (ms)", points: points((x) => x.averageTaskLatencyMillis), kind: "line", id: "chart-latency" }),
        chart({ title: "Task success rate", points: points((x) => x.taskSuccessRate), kind: "line", max: 1, format: pct, id: "chart-success" })),
      h("div", { class: "card" }, h("h2", {}, `Per ${per}`), h("div", { class: "table-wrap" }, h("table", { class: "data compact", id: "metrics" },
        h("thead", {}, h("tr", {}, [size === 1 ? "Minute (UTC)" : "From (UTC)", "Completed", "Errored", "Success", "Latency ms", "Records", "Written", "Errors", "Bytes read"].map((c, i) => h("th", { scope: "col", class: i ? "num" : null }, c)))),
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
  }
  let loading = false;
  let drawn = null;
  /** Every minute, a page of 10,000 at a time. */
  async function load() {
    loading = true;
    try {
      const minutes = [];
      let token = null;
      do {
        const page = await call("metrics", { query: named(name, { limit: 10000, nextToken: token }) });
        for (const x of page.metrics) minutes.push(x);
        token = page.nextToken || null;
      } while (token);
      // Redrawn only when something changed: the chosen range and the scroll stay.
      const seen = JSON.stringify(minutes);
      if (seen !== drawn) {
        drawn = seen;
        all = minutes;
        draw();
      }
    } catch (e) {
      replace(body, errorBox(e, "Cannot read the metrics"));
    } finally {
      loading = false;
    }
  }
  load();
  return { update: () => { if (!loading) load(); } };
}

const RENDER = { overview, initialization, tasks, errors, logs, metrics };
