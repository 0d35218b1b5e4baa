// The agent desktop: state, timer and commands in the status bar; the pop as it arrives; the
// call's timer and hold; wrap-up with the disposition. All it shows comes from the agent topic
// of the push channel (desk-model.js); commands are REST calls whose effect arrives as events.
import { api } from "./api.js";
import { applyEvent, fromSnapshot, shownPop, wrapupCall } from "./desk-model.js";
import { ask, choices } from "./dialogs.js";
import { byId, show } from "./dom.js";
import { label, lang, onLangChange, t } from "./i18n.js";
import { bindKeys } from "./keys.js";
import { attempt, linkStatus } from "./notify.js";
import { renderPop } from "./pop.js";
import { connectPush } from "./push.js";
import { current } from "./session.js";
import { allows, AUTO_PAUSE, stateText } from "./states.js";
import { createStore } from "./store.js";
import { timer } from "./time.js";
import { pick, renderWrapup } from "./wrapup.js";

const COMMANDS = ["login", "ready", "pause", "unpause", "logout"];
const SHORTCUTS = { i: "login", r: "ready", p: "pause", u: "unpause", o: "logout" };

export function startDesk() {
  const store = createStore({ model: null, saved: null });
  const drawn = {}; // what each part was last drawn for: redraw only on change (keeps focus and input)
  const agentId = () => store.get().model.agent.agent;
  const post = (command, body) => api(`/api/agents/${encodeURIComponent(agentId())}/${command}`, { method: "POST", body });

  function readyBlocked({ model, saved }) {
    const call = wrapupCall(model);
    return Boolean(call && model.agent.wrapup_requires_disposition && saved !== call);
  }

  const actions = {
    async login() {
      const { agent } = store.get().model;
      const chosen = agent.chosen_queues?.length ? agent.chosen_queues : agent.queues;
      const items = agent.queues.map((q) => ({ value: q, text: q, checked: chosen.includes(q) }));
      const answer = await ask(byId("queues-dialog"), ...choices("queue", "checkbox", items));
      if (!answer) return;
      const queues = answer.getAll("queue");
      if (!queues.length) throw new Error(t("desk.no_queues"));
      return post("login", { queues });
    },
    async pause() {
      const items = store.get().model.agent.pause_reasons.map((r) => ({ value: r.code, text: label(r.label) }));
      const answer = await ask(byId("pause-dialog"), ...choices("reason", "radio", items));
      if (answer) return post("pause", { reason: answer.get("reason") });
    },
    unpause: () => post("unpause"),
    ready: () => post("ready"),
    logout: () => post("logout"),
  };

  function enabled(command, state) {
    const { model } = state;
    return Boolean(model) && allows(command, model.agent.state) && !(command === "ready" && readyBlocked(state));
  }

  function run(command) {
    if (enabled(command, store.get())) attempt(actions[command], byId(`do-${command}`));
  }

  function drawStatus({ model }) {
    const { agent } = model;
    byId("agent-name").textContent = agent.name;
    const badge = byId("state-badge");
    badge.className = `badge state-${agent.state}`;
    badge.textContent = stateText(agent, agent.pause_reasons);
    timer(byId("state-timer"), { since: agent.since });
    show(byId("auto-pause"), agent.state === "paused" && agent.reason === AUTO_PAUSE);
  }

  function drawPop({ model }) {
    const pop = shownPop(model);
    const answeredAt = pop && model.call?.call_id === pop.call_id ? model.call.answered_at : null;
    const key = `${pop?.offer}|${answeredAt}|${lang()}`;
    byId("pop-note").textContent = model.withdrawn ? t(`pop.withdrawn.${model.withdrawn}`) : "";
    if (drawn.pop === key) return;
    drawn.pop = key;
    const area = byId("pop");
    if (pop) renderPop(area, pop, { answeredAt, dispositions: model.agent.dispositions });
    else area.replaceChildren(Object.assign(document.createElement("p"), { className: "empty", textContent: t("pop.waiting") }));
  }

  function drawCall({ model }) {
    const { agent, call } = model;
    const talking = call && call.state !== "ended" && agent.state === "on_call";
    const text = agent.state === "ringing" ? "call.ringing" : talking ? `call.${call.state}` : call ? "call.ended" : "call.none";
    const line = byId("call-state");
    line.textContent = t(text);
    line.className = `call-state ${talking ? call.state : ""}`;
    const since = agent.state === "ringing" ? agent.since : talking ? call.answered_at : null;
    timer(byId("call-timer"), { since });
  }

  function drawWrapup(state) {
    const { model, saved } = state;
    const callId = wrapupCall(model);
    const key = `${callId}|${saved === callId}|${model.agent.until}|${lang()}`;
    show(byId("wrapup"), Boolean(callId));
    if (!callId || drawn.wrapup === key) return;
    drawn.wrapup = key;
    renderWrapup(byId("wrapup-body"), {
      agent: model.agent,
      callId,
      saved: saved === callId,
      onSaved: (id) => store.set({ saved: id }),
      onReady: () => run("ready"),
    });
  }

  function draw(state) {
    if (!state.model) return;
    drawStatus(state);
    for (const command of COMMANDS) byId(`do-${command}`).disabled = !enabled(command, state);
    drawPop(state);
    drawCall(state);
    drawWrapup(state);
  }

  store.subscribe(draw);
  const unlisten = onLangChange(() => draw(store.get()));
  for (const command of COMMANDS) byId(`do-${command}`).onclick = () => run(command);
  byId("auto-unpause").onclick = () => run("unpause");
  const unbind = bindKeys(
    Object.fromEntries(Object.entries(SHORTCUTS).map(([key, command]) => [key, () => run(command)])),
    (n) => pick(byId("wrapup-body"), n),
  );
  show(byId("desk"), true);
  attempt(async () => {
    const agent = await api("/api/agents/me");
    if (!store.get().model) store.set({ model: fromSnapshot({ agent }) });
  });
  const push = connectPush({
    topics: ["agent"],
    reducers: { agent: { snapshot: fromSnapshot, event: applyEvent } },
    token: () => current()?.token,
    onState: (_, model) => store.set({ model }),
    onStatus: linkStatus,
  });
  return {
    sendToken: push.sendToken,
    stop() {
      push.close();
      unbind();
      unlisten();
      show(byId("desk"), false);
    },
  };
}
