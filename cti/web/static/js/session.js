// The signed-in user: the token and who it names, kept in sessionStorage (this tab only, gone
// when it closes) and renewed at four fifths of its life through POST /api/session/renew, so a
// working agent is never signed out; listeners hear each new token (the websocket sends it on).
import { api, useToken } from "./api.js";
import { instant } from "./time.js";

const KEY = "cti.session";
const RETRY_MS = 15000;
const LONGEST_TIMEOUT_MS = 2 ** 31 - 1; // setTimeout fires at once beyond this
const renewed = new Set();
const ended = new Set();
let timer = null;

export function current() {
  const session = JSON.parse(sessionStorage.getItem(KEY) ?? "null");
  return session && instant(session.expires_at) > Date.now() ? session : null;
}

function keep(session) {
  sessionStorage.setItem(KEY, JSON.stringify(session));
  schedule(session);
}

function schedule(session) {
  clearTimeout(timer);
  const left = instant(session.expires_at) - Date.now();
  timer = setTimeout(renew, Math.min(Math.max(1000, left * 0.8), LONGEST_TIMEOUT_MS));
}

async function renew() {
  try {
    keep(await api("/api/session/renew", { method: "POST" }));
    for (const listener of renewed) listener(current().token);
  } catch (error) {
    const session = current();
    if (error.status !== 401 && session) timer = setTimeout(renew, RETRY_MS);
  }
}

export async function signIn(login, password) {
  const session = await api("/api/login", { method: "POST", body: { login, password }, token: null });
  keep(session);
  return session;
}

/** Forget the session (and what the push channel kept for it); listeners hear why. */
export function signOut(reason = null) {
  clearTimeout(timer);
  sessionStorage.clear();
  for (const listener of ended) listener(reason);
}

export const onRenewed = (fn) => renewed.add(fn);
export const onEnded = (fn) => ended.add(fn);

/** After a reload: keep renewing the session this tab already has. */
export function resume() {
  const session = current();
  if (session) schedule(session);
  return session;
}

useToken(() => current()?.token ?? null, () => signOut("signin.ended"));
