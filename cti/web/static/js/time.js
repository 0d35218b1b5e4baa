// Moments and durations as the page shows them, and one ticker that keeps every live timer
// current: an element with data-since (ISO or epoch seconds) shows the time elapsed since then,
// one with data-until the time left (never below zero). Nothing else needs its own interval.
import { lang } from "./i18n.js";

const SECONDS = /^\d+(\.\d+)?$/;

/** Milliseconds since the epoch of an ISO string or of epoch seconds (a number, or the text of
 * one: a data-since attribute holds text); null for null. */
export function instant(value) {
  if (value === null || value === undefined || value === "") return null;
  return typeof value === "number" || SECONDS.test(value) ? Number(value) * 1000 : Date.parse(value);
}

/** 75 -> "1:15", 3675 -> "1:01:15". */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const two = (n) => String(n).padStart(2, "0");
  const [h, m] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60)];
  return h ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
}

const formatter = (options) => (value) =>
  value ? new Intl.DateTimeFormat(lang() === "zh" ? "zh-CN" : "en-GB", options).format(instant(value)) : "";

export const dayText = formatter({ year: "numeric", month: "2-digit", day: "2-digit" });
export const momentText = formatter({ month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
export const timeText = formatter({ hour: "2-digit", minute: "2-digit", second: "2-digit" });

/** Today's date in the browser's time zone, as the KPI report's from/to read it (2026-11-05). */
export function today(now = new Date()) {
  const two = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${two(now.getMonth() + 1)}-${two(now.getDate())}`;
}

export function tick(root = document, now = Date.now()) {
  for (const node of root.querySelectorAll("[data-since]")) {
    node.textContent = clock((now - instant(node.dataset.since)) / 1000);
  }
  for (const node of root.querySelectorAll("[data-until]")) {
    node.textContent = clock((instant(node.dataset.until) - now) / 1000);
  }
}

/** Point a <time> at a start (counting up) or an end (counting down); null stops it. */
export function timer(node, { since = null, until = null } = {}) {
  for (const [name, value] of [["since", since], ["until", until]]) {
    if (value === null || value === undefined) delete node.dataset[name];
    else node.dataset[name] = String(value);
  }
  if (since === null && until === null) node.textContent = "";
  else tick(node.parentNode ?? node);
}

export const startTicker = () => setInterval(tick, 1000);
