// What the page tells the person: an error in the alert bar (read out at once by screen
// readers) until the next success, and the push channel's state in the top bar.
import { byId } from "./dom.js";
import { t } from "./i18n.js";
import { signOut } from "./session.js";

export function fail(error) {
  const alert = byId("alert");
  alert.textContent = error.message;
  alert.hidden = false;
}

export function clear() {
  byId("alert").hidden = true;
}

/** Run an action for a button: errors shown, the button busy meanwhile; true if it worked. */
export async function attempt(action, button = null) {
  if (button) button.disabled = true;
  try {
    await action();
    clear();
    return true;
  } catch (error) {
    fail(error);
    return false;
  } finally {
    if (button) button.disabled = false;
  }
}

/** The push channel's state in the top bar; an expired token ends the session. */
export function linkStatus(status, detail) {
  const link = byId("link");
  link.className = `link ${status}`;
  if (status === "expired") signOut("signin.ended");
  else if (status === "lost") link.textContent = t("link.lost", { s: detail });
  else if (status === "forbidden") link.textContent = t("link.forbidden", { message: detail });
  else link.textContent = t(`link.${status}`);
}
