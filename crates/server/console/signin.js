// Sign in: an API key, checked with GET /api/v1/whoami, kept in this tab's sessionStorage.

import { call, saveSession } from "./api.js";
import { errorBox, h, replace } from "./ui.js";

export function signInView(view, { go, message }) {
  const input = h("input", {
    id: "api-key",
    name: "apiKey",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    placeholder: "ldk_…",
    "aria-describedby": "api-key-help",
  });
  const status = h("div", { class: "form-status" });
  const button = h("button", { type: "submit", class: "button primary", id: "sign-in" }, "Sign in");
  const form = h(
    "form",
    {
      class: "card signin",
      onsubmit: async (event) => {
        event.preventDefault();
        const key = input.value.trim();
        if (!key) return;
        button.disabled = true;
        replace(status);
        try {
          const who = await call("whoami", { key });
          saveSession(key, who);
          go("#/datasets");
        } catch (e) {
          replace(status, errorBox(e, "Sign-in failed"));
          button.disabled = false;
          input.focus();
        }
      },
    },
    h("h1", {}, "Sign in"),
    message ? h("p", { class: "alert info", role: "status" }, message) : null,
    h("label", { for: "api-key" }, "API key"),
    input,
    h(
      "p",
      { id: "api-key-help", class: "muted small" },
      "A key from ",
      h("code", {}, "letsdata admin apikeys create"),
      ". It is kept in this browser tab only (sessionStorage) and sent to this server alone.",
    ),
    status,
    button,
  );
  replace(view, form);
  input.focus();
  return null;
}
