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

/** "Paused: Lunch" in the reason's configured words (the agent's reason_label, or the label of
 * the reason among reasons); the ACD's own pauses ("auto:...") in the page's words, which speak
 * to whoever reads them rather than to the agent; the state's name when not paused. */
export function stateText({ state, reason, reason_label: given }, reasons = []) {
  if (state !== "paused" || !reason) return t(`state.${state}`);
  const known = given ?? reasons.find((r) => r.code === reason)?.label;
  const words = known && !reason.startsWith("auto:") ? label(known) : term("reason", reason);
  return t("state.paused_for", { reason: words });
}
