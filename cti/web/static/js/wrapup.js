// Wrap-up: the countdown to the queue's end of wrap-up, the disposition picker (keys 1-9) with a
// note, saved through POST /api/calls/{call_id}/disposition, and Ready, which waits for the
// disposition when the queue requires one (the reason is said next to the button).
import { api } from "./api.js";
import { choices } from "./dialogs.js";
import { h } from "./dom.js";
import { label, t } from "./i18n.js";
import { attempt } from "./notify.js";
import { tick } from "./time.js";

/** onSaved(callId) after a disposition is recorded; onReady() for the Ready button. */
export function renderWrapup(node, { agent, callId, saved, onSaved, onReady }) {
  const items = agent.dispositions.map((d, i) => ({ value: d.code, text: `${i < 9 ? i + 1 : "·"}  ${label(d.label)}` }));
  const note = h("textarea", { id: "wrapup-note", name: "note", rows: 2 });
  const status = h("p", { class: "muted", role: "status" }, saved ? t("wrapup.saved") : "");
  const blocked = agent.wrapup_requires_disposition && !saved;
  const form = h(
    "form",
    { class: "wrapup-form" },
    agent.until ? h("p", { class: "countdown" }, t("wrapup.left"), " ", h("time", { "data-until": agent.until })) : null,
    h("fieldset", { class: "choices dispositions" }, h("legend", {}, t("wrapup.pick")), choices("code", "radio", items)),
    h("label", { for: "wrapup-note" }, t("wrapup.note")),
    note,
    h("button", { type: "submit", class: "primary" }, t("wrapup.save")),
    status,
    h("button", { type: "button", class: "go", id: "wrapup-ready", disabled: blocked, "aria-describedby": "wrapup-why", onclick: onReady }, t("desk.ready")),
    h("p", { id: "wrapup-why", class: "hint", hidden: !blocked }, t("desk.ready_needs_disposition")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = new FormData(form).get("code");
    if (!code) {
      status.textContent = t("wrapup.need_pick");
      return;
    }
    const button = form.querySelector("button[type=submit]");
    const body = { code, note: note.value.trim() };
    if (await attempt(() => api(`/api/calls/${encodeURIComponent(callId)}/disposition`, { method: "POST", body }), button)) {
      onSaved(callId);
    }
  });
  node.replaceChildren(form);
  tick(node);
}

/** Key n picks the n-th disposition of the wrap-up shown in node. */
export function pick(node, n) {
  const radio = node.querySelectorAll("input[name=code]")[n - 1];
  if (radio) {
    radio.checked = true;
    radio.focus();
  }
}
