// The campaign managers' page: every campaign with its progress (lines, contacted, right-party
// contacts, appointments, abandon rate), start/pause/stop, a new campaign's form, and the upload
// of a call list (CSV or XLSX, its columns found by name or named here, a dry run, strict) with
// the import's report by line. Managers run campaigns; supervisors see the list only. Beside the
// wallboard: withCampaigns() adds the switch between the two views to the top bar.
import { api } from "./api.js";
import { w, wTerm } from "./campaigns-words.js";
import { byId, h, show } from "./dom.js";
import { onLangChange } from "./i18n.js";
import { attempt, fail } from "./notify.js";
import { createStore } from "./store.js";
import { timeText } from "./time.js";

const KINDS = ["follow_up_service", "follow_up_delivery", "first_maintenance", "periodic_maintenance", "insurance_renewal", "survey", "leads"];
const MODES = ["progressive", "preview", "predictive"];
const FIELDS = ["phone", "name", "plate", "vin", "model", "due", "date"];
const MOVES = { start: ["draft", "paused"], pause: ["running"], stop: ["draft", "running", "paused"] };
const REFRESH_MS = 10000;
const REPORT_ROWS = 500; // lines shown on the page; the whole report is in the JSON and the CLI's CSV

const percent = (rate) => (rate === null || rate === undefined ? h("span", { class: "muted" }, w("no_data")) : `${(rate * 100).toFixed(1)}%`);
const path = (name, tail = "") => `/api/campaigns/${encodeURIComponent(name)}${tail}`;

let counter = 0;
function field(text, control, wide = false) {
  counter += 1;
  control.id ||= `cp-${control.name}-${counter}`;
  return h("div", { class: `field${wide ? " wide" : ""}` }, h("label", { for: control.id }, text), control);
}

const options = (values, group) => values.map((value) => h("option", { value }, group ? wTerm(group, value) : value));

function actions(campaign, store) {
  const button = (verb) =>
    h("button", {
      type: "button",
      class: verb === "start" ? "go" : "quiet",
      "data-key": `${verb}:${campaign.name}`,
      disabled: !MOVES[verb].includes(campaign.status),
      "aria-label": `${w(verb)} ${campaign.title}`,
      onclick: (event) => attempt(() => move(store, campaign, verb), event.currentTarget),
    }, w(verb));
  return h("td", {}, h("div", { class: "row-actions" }, button("start"), button("pause"), button("stop")));
}

async function move(store, campaign, verb) {
  if (verb === "stop" && !window.confirm(w("confirm.stop", { name: campaign.name }))) return;
  await api(path(campaign.name, `/${verb}`), { method: "POST" });
  await refresh(store);
}

function campaignRow(campaign, store, canRun) {
  const p = campaign.progress;
  return h(
    "tr",
    { "data-campaign": campaign.name },
    h("th", { scope: "row" }, h("span", { class: "cp-name" }, campaign.title), h("span", { class: "muted" }, campaign.name)),
    h("td", {}, wTerm("kind", campaign.kind)),
    h("td", {}, h("span", { class: `badge cp-${campaign.status}` }, wTerm("status", campaign.status))),
    h("td", { class: "num" }, String(p.lines)),
    h("td", { class: "num" }, String(p.contacted)),
    h("td", { class: "num" }, p.right_party === null ? h("span", { class: "muted" }, w("no_data")) : String(p.right_party)),
    h("td", { class: "num" }, String(p.appointments)),
    h("td", { class: "num" }, percent(p.abandon_rate)),
    canRun ? actions(campaign, store) : null,
  );
}

function drawList(state, store, canRun) {
  const focused = document.activeElement?.dataset?.key;
  const heads = ["campaign", "kind", "status", "lines", "contacted", "right_party", "appointments", "abandon"];
  if (canRun) heads.push("actions");
  const body = state.campaigns.map((c) => campaignRow(c, store, canRun));
  byId("cp-list").replaceChildren(
    state.campaigns.length
      ? h(
          "table",
          { class: "cp-table" },
          h("thead", {}, h("tr", {}, heads.map((key) => h("th", { scope: "col" }, w(`col.${key}`))))),
          h("tbody", {}, body),
        )
      : h("p", { class: "muted" }, w("none")),
  );
  byId("cp-at").textContent = state.at ? w("updated", { at: timeText(state.at) }) : "";
  const select = document.querySelector("#cp-upload select[name=campaign]");
  if (select) {
    const chosen = select.value;
    const open = state.campaigns.filter((c) => c.status !== "stopped");
    select.replaceChildren(...open.map((c) => h("option", { value: c.name, selected: c.name === chosen }, `${c.title} (${c.name})`)));
  }
  if (focused) document.querySelector(`[data-key="${CSS.escape(focused)}"]`)?.focus();
}

async function refresh(store) {
  const { campaigns } = await api("/api/campaigns");
  store.set({ campaigns, at: new Date().toISOString() });
}

function newCampaignForm(store) {
  const problems = h("ul", { class: "error", role: "alert", hidden: true });
  const form = h(
    "form",
    { id: "cp-new", class: "cp-form", novalidate: true },
    h(
      "div",
      { class: "grid" },
      field(w("new.name"), h("input", { name: "name", required: true, autocomplete: "off", pattern: "[a-z0-9][a-z0-9_-]*" })),
      field(w("new.label"), h("input", { name: "title", required: true, autocomplete: "off" })),
      field(w("new.kind"), h("select", { name: "kind" }, options(KINDS, "kind"))),
      field(w("new.queue"), h("input", { name: "queue", required: true, autocomplete: "off" })),
      field(w("new.mode"), h("select", { name: "dial_mode" }, options(MODES, "mode"))),
      field(w("new.hours"), h("input", { name: "calling_hours", autocomplete: "off", placeholder: "08:00-21:00" })),
    ),
    problems,
    h("p", { class: "muted", role: "status" }),
    h("button", { type: "submit", class: "primary" }, w("new.submit")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const hours = data.get("calling_hours").trim();
    const body = {
      ...Object.fromEntries(["name", "title", "kind", "queue", "dial_mode"].map((k) => [k, data.get(k).trim()])),
      settings: hours ? { calling_hours: hours } : {},
    };
    for (const input of form.elements) input.removeAttribute?.("aria-invalid");
    const done = await attempt(async () => {
      try {
        await api("/api/campaigns", { method: "POST", body });
      } catch (error) {
        markProblems(form, problems, error.details?.fields ?? {});
        throw error;
      }
    }, form.querySelector("button[type=submit]"));
    if (!done) return;
    show(problems, false);
    form.querySelector("[role=status]").textContent = w("new.created", { name: body.name });
    form.reset();
    await refresh(store);
  });
  return h("section", { class: "card", "aria-labelledby": "cp-new-title" }, h("h2", { id: "cp-new-title" }, w("new.title")), form);
}

/** The server's problems by field ("settings.calling_hours": "...") beside the form. */
function markProblems(form, list, fields) {
  const entries = Object.entries(fields);
  list.replaceChildren(...entries.map(([key, problem]) => h("li", {}, `${key}: ${problem}`)));
  show(list, entries.length > 0);
  for (const [key] of entries) form.elements[key.replace(/^settings\./, "")]?.setAttribute("aria-invalid", "true");
}

function uploadForm(store) {
  const mapping = FIELDS.map((key) =>
    field(w("up.map", { field: w(`field.${key}`) }), h("input", { name: `map-${key}`, autocomplete: "off", placeholder: w("up.auto") })),
  );
  const form = h(
    "form",
    { id: "cp-upload", class: "cp-form", novalidate: true },
    h(
      "div",
      { class: "grid" },
      field(w("up.campaign"), h("select", { name: "campaign", required: true })),
      field(w("up.file"), h("input", { name: "file", type: "file", accept: ".csv,.xlsx,text/csv", required: true }), true),
    ),
    h("p", { class: "hint" }, w("up.hint")),
    h("div", { class: "grid" }, mapping),
    h("label", { class: "choice" }, h("input", { type: "checkbox", name: "dry_run" }), " ", w("up.dry_run")),
    h("label", { class: "choice" }, h("input", { type: "checkbox", name: "strict" }), " ", w("up.strict")),
    h("button", { type: "submit", class: "primary" }, w("up.submit")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = form.elements.file.files[0];
    if (!file) {
      fail(new Error(w("up.need_file")));
      form.elements.file.focus();
      return;
    }
    const body = new FormData();
    body.append("file", file, file.name);
    for (const key of FIELDS) {
      const column = form.elements[`map-${key}`].value.trim();
      if (column) body.append("map", `${key}=${column}`);
    }
    body.append("dry_run", String(form.elements.dry_run.checked));
    body.append("strict", String(form.elements.strict.checked));
    await attempt(async () => {
      const report = await api(path(form.elements.campaign.value, "/lists"), { method: "POST", body });
      store.set({ report });
      await refresh(store);
      byId("cp-report").focus();
    }, form.querySelector("button[type=submit]"));
  });
  return h("section", { class: "card", "aria-labelledby": "cp-up-title" }, h("h2", { id: "cp-up-title" }, w("up.title")), form);
}

function drawReport(report) {
  const area = byId("cp-report");
  if (!area) return;
  if (!report) {
    area.replaceChildren();
    return;
  }
  const outcome = report.dry_run ? "rep.dry_run" : report.strict_refused ? "rep.strict" : "rep.stored";
  const rows = report.report.slice(0, REPORT_ROWS).map((line) =>
    h(
      "tr",
      { class: line.verdict === "ok" ? "" : "rejected" },
      h("td", { class: "num" }, String(line.line)),
      h("td", {}, line.phone),
      h("td", {}, line.name ?? ""),
      h("td", {}, h("span", { class: `chip ${line.verdict === "ok" ? "good" : "bad"}`, "data-verdict": line.verdict }, wTerm("verdict", line.verdict))),
      h("td", {}, line.reason),
    ),
  );
  area.replaceChildren(
    h("h2", {}, w("rep.title", { file: report.list_name })),
    h("p", { class: "cp-summary" }, w("rep.summary", report), " ", h("strong", {}, w(outcome, report))),
    h(
      "table",
      { class: "cp-table cp-lines" },
      h("thead", {}, h("tr", {}, ["line", "phone", "name", "verdict", "reason"].map((k) => h("th", { scope: "col" }, w(`rep.${k}`))))),
      h("tbody", {}, rows),
    ),
  );
}

function build(store, canRun) {
  const section = byId("campaigns");
  section.replaceChildren(
    h(
      "div",
      { class: "cp-head" },
      h("h1", { id: "cp-title" }, w("title")),
      h("p", { id: "cp-at", class: "muted" }),
      h("button", { type: "button", class: "quiet", onclick: (e) => attempt(() => refresh(store), e.currentTarget) }, w("refresh")),
    ),
    h("div", { id: "cp-list" }),
    canRun ? h("div", { class: "cp-forms" }, newCampaignForm(store), uploadForm(store)) : null,
    h("section", { id: "cp-report", class: "card cp-report", tabindex: "-1", "aria-live": "polite" }),
  );
  drawList(store.get(), store, canRun);
  drawReport(store.get().report);
}

/** The campaigns view (hidden until shown); ``role`` decides whether it may run campaigns. */
export function startCampaigns(role) {
  const canRun = role === "manager";
  const store = createStore({ campaigns: [], at: null, report: null });
  let timer = null;
  store.subscribe((state) => {
    drawList(state, store, canRun);
    drawReport(state.report);
  });
  build(store, canRun);
  const unlisten = onLangChange(() => build(store, canRun));
  return {
    visible(on) {
      clearInterval(timer);
      show(byId("campaigns"), on);
      if (!on) return;
      attempt(() => refresh(store));
      timer = setInterval(() => attempt(() => refresh(store)), REFRESH_MS);
    },
    stop() {
      clearInterval(timer);
      unlisten();
      show(byId("campaigns"), false);
      byId("campaigns").replaceChildren();
    },
  };
}

/** A start function for main.js: the board view (the wallboard) and the campaigns view, with a
 * switch between them in the top bar. */
export function withCampaigns(startBoard, role) {
  return () => {
    const board = startBoard();
    const campaigns = startCampaigns(role);
    const nav = byId("views");
    const pick = (view) => {
      show(byId("wallboard"), view === "wallboard");
      campaigns.visible(view === "campaigns");
      for (const button of nav.querySelectorAll("button")) button.setAttribute("aria-pressed", String(button.dataset.view === view));
    };
    const draw = () =>
      nav.replaceChildren(
        ...["wallboard", "campaigns"].map((view) =>
          h("button", { type: "button", class: "quiet", "data-view": view, "aria-pressed": "false", onclick: () => pick(view) }, w(`view.${view}`)),
        ),
      );
    nav.setAttribute("aria-label", w("view.label"));
    draw();
    show(nav, true);
    pick("wallboard");
    const unlisten = onLangChange(() => {
      const current = nav.querySelector("[aria-pressed=true]")?.dataset.view ?? "wallboard";
      draw();
      nav.setAttribute("aria-label", w("view.label"));
      pick(current);
    });
    return {
      sendToken: board.sendToken,
      stop() {
        unlisten();
        campaigns.stop();
        board.stop();
        nav.replaceChildren();
        show(nav, false);
      },
    };
  };
}
