// The agent topic's state, pure: the agent (GET /api/agents/me's body, kept current by
// agent_state events), the open pops keyed by their offer (a pop seen twice is shown once), the
// call being handled and the last withdrawal's reason. No DOM here: desk.js renders it.

const IDLE = new Set(["ready", "paused", "logged_out"]);
const ACTIVE = new Set(["on_call", "wrap_up"]);

const withoutKind = ({ kind, ...body }) => body;

/** A model from the agent snapshot {"agent", "pops"} (after a reload: a call in progress too). */
export function fromSnapshot({ agent, pops = [] }) {
  const talking = ACTIVE.has(agent.state) && agent.call_id;
  return {
    agent,
    pops,
    call: talking ? { call_id: agent.call_id, state: agent.state === "on_call" ? "talking" : "ended", answered_at: agent.since, since: agent.since } : null,
    withdrawn: null,
  };
}

function callEvent(model, { call_id, offer, state, since }) {
  const same = model.call?.call_id === call_id;
  const answered_at = same ? model.call.answered_at : since;
  return { ...model, call: { call_id, offer, state, since, answered_at } };
}

function agentState(model, change) {
  const agent = { ...model.agent, ...withoutKind(change) };
  if (!IDLE.has(change.state) || !model.call) return { ...model, agent };
  // the call's wrap-up is over: its pop closes with it
  const pops = model.pops.filter((pop) => pop.call_id !== model.call.call_id);
  return { ...model, agent, pops, call: null };
}

export function applyEvent(model, event) {
  switch (event.kind) {
    case "pop":
      if (model.pops.some((pop) => pop.offer === event.offer)) return model;
      return { ...model, pops: [...model.pops, withoutKind(event)], withdrawn: null };
    case "pop_withdrawn":
      if (!model.pops.some((pop) => pop.offer === event.offer)) return model;
      return { ...model, pops: model.pops.filter((pop) => pop.offer !== event.offer), withdrawn: event.reason };
    case "agent_state":
      return agentState(model, event);
    case "call":
      return callEvent(model, event);
    default:
      return model; // a kind this page does not show
  }
}

/** The pop to show: the one of the call in hand, else the newest ringing one. */
export function shownPop(model) {
  const { pops, call } = model;
  return pops.find((pop) => call && pop.call_id === call.call_id) ?? pops.at(-1) ?? null;
}

/** The call a disposition is for: the one in wrap-up. */
export const wrapupCall = (model) => (model.agent.state === "wrap_up" ? model.agent.call_id ?? model.call?.call_id : null);
