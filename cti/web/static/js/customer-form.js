// The unknown caller's short form: name, segment, language, optionally the vehicle; posted to
// POST /api/customers with the caller's number while the agent talks.
import { api } from "./api.js";
import { h } from "./dom.js";
import { t, term } from "./i18n.js";
import { attempt } from "./notify.js";

let counter = 0;

function field(name, key, control) {
  const id = `${name}-${counter}`;
  control.id = id;
  control.name = name;
  return h("div", { class: "field" }, h("label", { for: id }, t(key)), control);
}

const select = (group, values, chosen) =>
  h("select", {}, values.map((value) => h("option", { value, selected: value === chosen }, term(group, value))));

function body(form, pop) {
  const data = new FormData(form);
  const vehicle = Object.fromEntries(["plate", "model", "vin"].map((k) => [k, data.get(k).trim()]).filter(([, v]) => v));
  return {
    name: data.get("name").trim(),
    phone: pop.caller.number,
    segment: data.get("segment"),
    language: data.get("language"),
    ...(Object.keys(vehicle).length ? { vehicle } : {}),
  };
}

export function customerForm(pop) {
  counter += 1;
  const status = h("p", { class: "muted", role: "status" });
  const form = h(
    "form",
    { class: "customer-form", novalidate: true },
    h("p", { class: "hint" }, t("form.hint")),
    h(
      "div",
      { class: "grid" },
      field("name", "form.name", h("input", { required: true, autocomplete: "off" })),
      field("segment", "form.segment", select("segment", ["regular", "vip"], pop.caller.segment ?? "regular")),
      field("language", "form.language", select("lang", ["zh", "en"], pop.caller.language ?? "zh")),
      field("plate", "form.plate", h("input", { autocomplete: "off" })),
      field("model", "form.model", h("input", { autocomplete: "off" })),
      field("vin", "form.vin", h("input", { autocomplete: "off", maxlength: 17 })),
    ),
    status,
    h("button", { type: "submit", class: "primary" }, t("form.save")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const customer = body(form, pop);
    if (!customer.name) {
      status.textContent = t("form.need_name");
      form.elements.name.focus();
      return;
    }
    const button = form.querySelector("button[type=submit]");
    await attempt(async () => {
      const { id } = await api("/api/customers", { method: "POST", body: customer });
      status.textContent = t("form.saved", { id });
      button.hidden = true;
    }, button);
  });
  return h("section", { class: "pop-section new-customer" }, h("h3", {}, t("form.title")), form);
}
