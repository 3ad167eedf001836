/**
 * The sign-in page: paste a token, or (with `switchboard serve --dev`) just
 * pick a name.
 *
 * @module
 */
import { devSignIn, devSignInAvailable, isExpired, parseToken, type Session } from "../auth.js";
import { h } from "../dom.js";

/**
 * Renders the sign-in page into `root`; calls `done` with the new session.
 *
 * @example
 * renderSignIn(document.querySelector("#app")!, (s) => startApp(s));
 */
export function renderSignIn(
  root: HTMLElement,
  done: (session: Session) => void,
  message?: string,
): void {
  const tokenInput = h("textarea", {
    id: "token",
    name: "token",
    rows: "3",
    spellcheck: "false",
    autocomplete: "off",
    placeholder: "eyJhbGciOiJIUzI1NiJ9…",
    required: true,
    "aria-describedby": "token-help token-error",
  });
  const tokenError = h("p", { id: "token-error", class: "field-error", role: "alert" });
  const tokenForm = h(
    "form",
    { class: "stack", "aria-label": "Sign in with a token" },
    h("label", { for: "token" }, "Access token"),
    tokenInput,
    h(
      "p",
      { id: "token-help", class: "muted small" },
      "Mint one on the server: ",
      h("code", {}, "npx switchboard token --user you --rooms '*'"),
    ),
    tokenError,
    h("button", { type: "submit", class: "primary-button" }, "Sign in with token"),
  );
  tokenForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const session = parseToken(tokenInput.value);
    if (!session) tokenError.textContent = "That is not a Switchboard token.";
    else if (isExpired(session)) tokenError.textContent = "That token has expired.";
    else done(session);
  });

  const devSlot = h("div", { class: "dev-slot" });
  const card = h(
    "main",
    { class: "sign-in-card", "aria-labelledby": "sign-in-title" },
    h(
      "div",
      { class: "sign-in-brand" },
      h("img", { src: "/favicon.svg", alt: "", width: "48", height: "48" }),
      h("h1", { id: "sign-in-title" }, "Switchboard"),
      h("p", { class: "muted" }, "Real-time rooms on your own server."),
    ),
    message && h("p", { class: "banner", role: "alert" }, message),
    devSlot,
    h("details", { class: "token-details" }, h("summary", {}, "Sign in with a token"), tokenForm),
  );
  root.replaceChildren(h("div", { class: "sign-in" }, card));

  void devSignInAvailable().then((available) => {
    if (!available) {
      // Tokens are the only way in: show the form itself, not a disclosure.
      card.querySelector("details")?.replaceWith(tokenForm);
      tokenInput.focus();
      return;
    }
    const nameInput = h("input", {
      id: "dev-name",
      name: "name",
      type: "text",
      required: true,
      maxlength: "32",
      autocomplete: "nickname",
      placeholder: "Ada",
      "aria-describedby": "dev-help dev-error",
    });
    const error = h("p", { id: "dev-error", class: "field-error", role: "alert" });
    const submit = h("button", { type: "submit", class: "primary-button" }, "Continue");
    const form = h(
      "form",
      { class: "stack", "aria-label": "Development sign-in" },
      h("label", { for: "dev-name" }, "Your name"),
      nameInput,
      h(
        "p",
        { id: "dev-help", class: "muted small" },
        "Development server: pick any name — no password. Everyone on this server can do the same.",
      ),
      error,
      submit,
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      submit.disabled = true;
      error.textContent = "";
      devSignIn(nameInput.value).then(done, (err: unknown) => {
        error.textContent = err instanceof Error ? err.message : String(err);
        submit.disabled = false;
      });
    });
    devSlot.replaceChildren(form, h("div", { class: "divider" }, h("span", {}, "or")));
    nameInput.focus();
  });
}
