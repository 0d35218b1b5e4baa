// The supervisor wallboard, for a TV across the room: per queue the callers waiting, the longest
// wait, agents by state and today's rates (a rate with no calls reads "no data", never 0 %), each
// queue linked to its KPI report for the day; the agents with their state and time in it, which
// a supervisor may pause or sign out. Live from the push channel's wallboard topic.
import { api } from "./api.js";
import { ask, choices } from "./dialogs.js";
import { byId, h, show } from "./dom.js";
import { label, lang, onLangChange, t } from "./i18n.js";
import { attempt, linkStatus } from "./notify.js";
import { connectPush } from "./push.js";
import { current } from "./session.js";
import { allows, stateText } from "./states.js";
import { createStore } from "./store.js";
import { instant, tick, timeText, today } from "./time.js";

const STATES = ["ready", "ringing", "on_call", "wrap_up", "paused", "logged_out"];

const percent = (rate) =>
  rate === null || rate === undefined ? h("span", { class: "no-data" }, t("no_data")) : `${Math.round(rate * 100)}%`;

const figure = (value, name, kind = "") =>
  h("div", { class: `figure ${kind}` }, h("span", { class: "value" }, value), h("span", { class: "name" }, name));

function reportUrl(queue) {
  const day = today();
  const query = new URLSearchParams({ format: "html", language: lang(), queue, from: day, to: day });
  return `/api/kpi?${query}`;
}

async function openReport(event, queue) {
  event.preventDefault();
  const html = await api(event.currentTarget.getAttribute("href"));
  const title = t("wb.report_title", { queue, day: today() });
  byId("report-title").textContent = title;
  const frame = byId("report-frame");
  frame.title = title;
  frame.srcdoc = html;
  byId("report-dialog").showModal();
}

function longestWait(body, queue) {
  if (!queue.waiting) return h("time", {}, "0:00");
  const since = new Date(instant(body.at) - queue.longest_wait_s * 1000).toISOString();
  return h("time", { "data-since": since });
}

function queueCard(body, queue) {
  const { today: day } = queue;
  const counts = STATES.filter((s) => queue.agents[s]).map((s) =>
    h("li", { class: `badge state-${s}` }, `${t(`state.${s}`)} ${queue.agents[s]}`),
  );
  return h(
    "article",
    { class: "wb-queue" },
    h(
      "a",
      {
        href: reportUrl(queue.name),
        class: "wb-link",
        "data-key": `report:${queue.name}`,
        "aria-label": t("wb.report", { queue: queue.name }),
        onclick: (event) => attempt(() => openReport(event, queue.name)),
      },
      h("h2", {}, queue.name),
      h(
        "div",
        { class: "figures now" },
        figure(String(queue.waiting), t("wb.waiting"), queue.waiting ? "hot" : ""),
        figure(longestWait(body, queue), t("wb.longest"), queue.waiting ? "hot" : ""),
      ),
      h(
        "div",
        { class: "figures rates" },
        figure(percent(day.three_ring_rate), t("wb.three_ring")),
        figure(percent(day.service_level), t("wb.service_level")),
        figure(percent(day.abandon_rate), t("wb.abandon")),
      ),
    ),
    h("ul", { class: "wb-states" }, counts),
    h("p", { class: "muted" }, t("wb.answered", { answered: day.answered, offered: day.offered })),
  );
}

/** Sign an agent out, or pause it with one of the configured reasons (the body's pause_reasons). */
async function supervise(agent, command, reasons) {
  const path = `/api/agents/${encodeURIComponent(agent.id)}/${command}`;
  if (command === "logout") return api(path, { method: "POST" });
  const items = reasons.map((r) => ({ value: r.code, text: label(r.label) }));
  const answer = await ask(byId("pause-dialog"), ...choices("reason", "radio", items));
  if (answer) return api(path, { method: "POST", body: { reason: answer.get("reason") } });
}

function agentRow(agent, reasons) {
  const action = (command, key) =>
    h("button", {
      type: "button",
      class: "quiet",
      "data-key": `${command}:${agent.id}`,
      disabled: !allows(command, agent.state),
      "aria-label": `${t(key)} ${agent.name}`,
      onclick: (event) => attempt(() => supervise(agent, command, reasons), event.currentTarget),
    }, t(key));
  return h(
    "tr",
    {},
    h("th", { scope: "row" }, agent.name, " ", h("span", { class: "muted" }, agent.id)),
    h("td", {}, h("span", { class: `badge state-${agent.state}` }, stateText(agent))),
    h("td", {}, h("time", { "data-since": agent.since })),
    h("td", { class: "row-actions" }, action("pause", "wb.pause"), action("logout", "wb.logout")),
  );
}

/** Redraw from body; the element that had the keyboard focus has it again afterwards. */
function draw(body) {
  if (!body) return;
  const focused = document.activeElement?.dataset?.key;
  byId("wb-at").textContent = timeText(body.at);
  byId("wb-queues").replaceChildren(
    ...(body.queues.length ? body.queues.map((q) => queueCard(body, q)) : [h("p", { class: "muted" }, t("wb.no_queues"))]),
  );
  byId("wb-agents").replaceChildren(...body.agents.map((agent) => agentRow(agent, body.pause_reasons ?? [])));
  tick(byId("wallboard"));
  if (focused) document.querySelector(`[data-key="${CSS.escape(focused)}"]`)?.focus();
}

export function startWallboard() {
  const store = createStore({ body: null });
  store.subscribe(({ body }) => draw(body));
  const unlisten = onLangChange(() => draw(store.get().body));
  show(byId("wallboard"), true);
  attempt(async () => {
    const body = await api("/api/wallboard");
    if (!store.get().body) store.set({ body });
  });
  const push = connectPush({
    topics: ["wallboard"],
    // a snapshot of a topic nothing was published on yet ("at" null) keeps the body read above
    reducers: { wallboard: { snapshot: (body) => (body.at ? body : null), event: (_, { kind, ...body }) => body } },
    token: () => current()?.token,
    onState: (_, body) => body && store.set({ body }),
    onStatus: linkStatus,
  });
  return {
    sendToken: push.sendToken,
    stop() {
      push.close();
      unlisten();
      show(byId("wallboard"), false);
    },
  };
}
