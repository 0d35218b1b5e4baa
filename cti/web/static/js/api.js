// fetch() for the service's JSON API: the signed-in user's bearer token on every call, and one
// error type whose message a person can read (the service's {"message"} body, or what went wrong
// on the way). A 401 on a call that carried a token means the session is over.
import { t } from "./i18n.js";

export class ApiFailure extends Error {
  constructor(status, message, details = {}) {
    super(message);
    this.status = status;
    this.details = details;
  }
}

const UNAVAILABLE = new Set([404, 405, 501, 502, 503, 504]);
let tokenOf = () => null;
let expired = () => {};

/** Where api() finds the token (session.js), and what it calls when the service refuses it. */
export function useToken(source, onExpired) {
  tokenOf = source;
  expired = onExpired;
}

async function failure(response) {
  const body = await response.json().catch(() => null);
  const said = body?.message ?? body?.error ?? t("error.http", { status: response.status });
  const message = UNAVAILABLE.has(response.status)
    ? t("error.unavailable", { message: said, status: response.status })
    : said;
  return new ApiFailure(response.status, message, body?.details ?? {});
}

/** The response body (JSON, or text for text/html); ApiFailure for anything but 2xx. */
export async function api(path, { method = "GET", body, token = tokenOf() } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const form = body instanceof FormData; // an upload: the browser writes its multipart type
  if (body !== undefined && !form) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined || form ? body : JSON.stringify(body) });
  } catch {
    throw new ApiFailure(0, t("error.network"));
  }
  if (!response.ok) {
    const error = await failure(response);
    if (response.status === 401 && token) expired();
    throw error;
  }
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") ?? "";
  return type.includes("json") ? response.json() : response.text();
}
