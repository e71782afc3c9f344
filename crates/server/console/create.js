// Create a dataset from its JSON configuration. The server validates it and answers every
// problem with its JSON path; each is listed, and choosing one selects that field in the editor.

import { call } from "./api.js";
import { errorBox, h, replace, toast } from "./ui.js";

const DRAFT = "letsdata.createDraft";

const TEMPLATE = {
  datasetName: "MyDataset",
  region: "us-east-1",
  readConnector: {
    connectorDestination: "S3",
    readerType: "Single File Reader",
    bucketName: "my-input",
    bucketResourceLocation: "Customer",
    artifactImplementationLanguage: "Builtin",
    builtinParser: "jsonl",
  },
  writeConnector: { connectorDestination: "S3", resourceLocation: "LetsData" },
  errorConnector: { connectorDestination: "S3", resourceLocation: "LetsData" },
  computeEngine: { computeEngineType: "Lambda", concurrency: 2, logLevel: "WARN" },
  manifestFile: {
    manifestType: "S3ReaderTextManifestFile",
    readerType: "SINGLEFILEREADER",
    fileContents: "file-1.jsonl\nfile-2.jsonl",
  },
};

export function createView(view, { go }) {
  const editor = h("textarea", {
    id: "config",
    class: "editor",
    spellcheck: "false",
    autocomplete: "off",
    rows: "20",
    "aria-describedby": "config-help",
  });
  editor.value = sessionStorage.getItem(DRAFT) || JSON.stringify(TEMPLATE, null, 2);
  editor.addEventListener("input", () => sessionStorage.setItem(DRAFT, editor.value));
  const problems = h("div", { id: "problems", "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "button primary", id: "create" }, "Create dataset");
  const format = h("button", {
    type: "button",
    class: "button secondary",
    id: "format",
    onclick: () => {
      try {
        editor.value = JSON.stringify(JSON.parse(editor.value), null, 2);
        sessionStorage.setItem(DRAFT, editor.value);
      } catch (e) {
        showJsonError(e);
      }
    },
  }, "Format JSON");

  function showJsonError(e) {
    editor.setAttribute("aria-invalid", "true");
    replace(problems, h("div", { class: "alert error", role: "alert" }, h("strong", {}, "Not JSON"), h("p", {}, e.message)));
  }

  const form = h(
    "form",
    {
      class: "create",
      onsubmit: async (event) => {
        event.preventDefault();
        replace(problems);
        editor.removeAttribute("aria-invalid");
        try {
          JSON.parse(editor.value);
        } catch (e) {
          showJsonError(e);
          return;
        }
        submit.disabled = true;
        submit.textContent = "Creating…";
        try {
          // Answered once the dataset is recorded: its initialization is followed on its page.
          const dataset = await call("dataset/create", { query: { wait: "false" }, body: editor.value });
          sessionStorage.removeItem(DRAFT);
          toast(`Dataset ${dataset.datasetName} created`);
          go(`#/datasets/${encodeURIComponent(dataset.datasetName)}/initialization`);
        } catch (e) {
          editor.setAttribute("aria-invalid", "true");
          replace(problems, problemList(e, editor));
        } finally {
          submit.disabled = false;
          submit.textContent = "Create dataset";
        }
      },
    },
    problems,
    h("label", { for: "config" }, "Dataset configuration (LetsData's dataset JSON)"),
    editor,
    h("p", { id: "config-help", class: "muted small" }, "The server checks it and lists every problem with its JSON path. Choose a problem to select its field. Once created, its page shows the initialization step by step; its tasks then run."),
    h("div", { class: "form-actions" }, submit, format, h("a", { href: "#/datasets", class: "button link" }, "Cancel")),
  );
  replace(view, h("div", { class: "page-head" }, h("h1", {}, "Create a dataset")), form);
  editor.focus();
  return null;
}

/** The server's problems, each a button selecting its field in the editor. */
function problemList(error, editor) {
  if (!error.problems.length) return errorBox(error, "The dataset was not created");
  return h(
    "div",
    { class: "alert error", role: "alert" },
    h("strong", {}, `The configuration has ${error.problems.length} problem${error.problems.length === 1 ? "" : "s"}`),
    h(
      "ul",
      { class: "problems" },
      error.problems.map((p) =>
        h(
          "li",
          { class: "problem", dataset: { path: p.path } },
          h("button", { type: "button", class: "path", title: "Select this field", onclick: () => selectPath(editor, p.path) }, h("code", {}, p.path)),
          h("span", { class: "problem-message" }, p.message),
        ),
      ),
    ),
  );
}

/** Selects the last key of `path` (`computeEngine.concurrency` → `"concurrency"`) in the editor. */
function selectPath(editor, path) {
  const key = path.split(".").pop().replace(/\[\d+\]$/, "");
  const at = key && key !== "$" ? editor.value.indexOf(`"${key}"`) : -1;
  editor.focus();
  if (at >= 0) {
    editor.setSelectionRange(at, at + key.length + 2);
    const line = editor.value.slice(0, at).split("\n").length;
    const lineHeight = parseFloat(getComputedStyle(editor).lineHeight) || 18;
    editor.scrollTop = Math.max(0, (line - 4) * lineHeight);
  }
}
