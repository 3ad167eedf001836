/**
 * Entry point of the browser app: sign in (token or dev name), then the app.
 *
 * @module
 */
import "./styles.css";
import { startApp } from "./app.js";
import { clearSession, loadSession, type Session, saveSession } from "./auth.js";
import { renderSignIn } from "./views/sign-in.js";

const root = document.getElementById("app")!;

function signedIn(session: Session): void {
  saveSession(session);
  startApp(root, session, (reason) => {
    clearSession();
    showSignIn(reason);
  });
}

function showSignIn(reason?: string): void {
  document.title = "Sign in · Switchboard";
  renderSignIn(root, signedIn, reason);
}

const session = loadSession();
if (session) signedIn(session);
else showSignIn();
