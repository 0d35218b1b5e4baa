// Agent states as people read them, and which commands each state allows (the same table as
// cti.acd.agents: a button the state forbids is disabled rather than answered with a 409).
import { label, t, term } from "./i18n.js";

const ALLOWED = {
  login: ["logged_out"],
  logout: ["ready", "paused", "wrap_up"],
  pause: ["ready", "wrap_up"],
  unpause: ["paused"],
  ready: ["wrap_up"],
};

export const allows = (command, state) => ALLOWED[command].includes(state);

export const AUTO_PAUSE = "auto:no-answer";

/** "Paused: lunch" with the configured reasons' labels; the state's name otherwise. */
export function stateText({ state, reason }, reasons = []) {
  if (state !== "paused" || !reason) return t(`state.${state}`);
  const known = reasons.find((r) => r.code === reason);
  const words = known ? label(known.label) : term("reason", reason);
  return t("state.paused_for", { reason: words });
}
