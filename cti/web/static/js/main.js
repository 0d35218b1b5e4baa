// The page's start: the language, the sign-in form, and by the signed-in role the agent
// desktop (agent) or the wallboard and the campaigns (supervisor, manager; a switch in the top
// bar, campaigns.js). The session survives a reload of
// this tab; signing out, or a session the service ends, comes back to the sign-in form.
import { withCampaigns } from "./campaigns.js";
import { startDesk } from "./desk.js";
import { byId, show } from "./dom.js";
import { lang, setLang, t } from "./i18n.js";
import { clear } from "./notify.js";
import { onEnded, onRenewed, resume, signIn, signOut } from "./session.js";
import { startTicker } from "./time.js";
import { startWallboard } from "./wallboard.js";

const VIEWS = {
  agent: startDesk,
  supervisor: withCampaigns(startWallboard, "supervisor"),
  manager: withCampaigns(startWallboard, "manager"),
};
let view = null;

function signinError(text) {
  const error = byId("signin-error");
  error.textContent = text ?? "";
  show(error, Boolean(text));
}

function showSignin(reason = null) {
  view?.stop();
  view = null;
  clear();
  show(byId("signin"), true);
  show(byId("signout"), false);
  byId("user").textContent = "";
  byId("link").textContent = "";
  signinError(reason && t(reason));
  byId("login").focus();
}

function enter(session) {
  const start = VIEWS[session.role];
  if (!start) {
    signOut();
    signinError(t("signin.role", { role: session.role }));
    return;
  }
  show(byId("signin"), false);
  show(byId("signout"), true);
  byId("user").textContent = session.display_name;
  view = start();
  byId("main").focus();
}

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const [login, password] = [form.elements.login.value.trim(), form.elements.password.value];
  if (!login || !password) {
    signinError(t("signin.missing"));
    (login ? form.elements.password : form.elements.login).focus();
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  button.textContent = t("signin.busy");
  try {
    signinError(null);
    enter(await signIn(login, password));
    form.reset();
  } catch (error) {
    signinError(t("signin.failed", { message: error.message }));
    form.elements.password.select();
  } finally {
    button.disabled = false;
    button.textContent = t("signin.submit");
  }
}

const picker = byId("lang");
picker.value = lang();
picker.addEventListener("change", () => setLang(picker.value));
setLang(lang());
byId("signin-form").addEventListener("submit", submit);
byId("signout").addEventListener("click", () => signOut());
onEnded(showSignin);
onRenewed((token) => view?.sendToken(token));
startTicker();
const session = resume();
if (session) enter(session);
else showSignin();
