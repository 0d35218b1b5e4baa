// The screen-pop: one pop body (as cti.desk.pop builds it) rendered for a glance. Caller and
// wait first and largest, then the IVR journey, the vehicles with what is due, open cases and
// the last contacts. An unknown caller gets the short form that creates the customer.
import { customerForm } from "./customer-form.js";
import { h } from "./dom.js";
import { label, t, term } from "./i18n.js";
import { clock, dayText, instant, momentText } from "./time.js";

const chip = (text, kind = "") => h("span", { class: `chip ${kind}` }, text);
const fact = (name, ...value) => h("div", {}, h("dt", {}, name), h("dd", {}, ...value));
const section = (name, kind, ...body) => h("section", { class: `pop-section ${kind}` }, h("h3", {}, name), ...body);

function waitClock(pop, answeredAt) {
  if (answeredAt) return h("time", {}, clock((instant(answeredAt) - instant(pop.entered_at)) / 1000));
  return h("time", { "data-since": pop.entered_at }, clock(pop.wait_s ?? 0));
}

function head(pop, answeredAt) {
  const { caller, customer, repeat_48h: repeat } = pop;
  const person = customer ?? caller;
  const segment = person.segment === "vip" ? chip(t("pop.vip"), "vip") : null;
  const language = person.language ? chip(term("lang", person.language)) : null;
  return h(
    "header",
    { class: "pop-head" },
    h(
      "div",
      { class: "caller" },
      h("p", { class: "number" }, caller.number ?? ""),
      h("p", { class: "name" }, person.name || t("pop.unknown"), segment, language),
      customer ? h("p", { class: "muted" }, t("pop.customer", { id: customer.id })) : null,
    ),
    h(
      "dl",
      { class: "facts" },
      fact(t("pop.queue"), pop.queue),
      fact(t("pop.wait"), waitClock(pop, answeredAt)),
    ),
    h(
      "p",
      { class: `repeat ${repeat.calls ? "warn" : "muted"}` },
      repeat.calls ? t("pop.repeat", { n: repeat.calls, at: momentText(repeat.last_at) }) : t("pop.first"),
    ),
  );
}

function journey({ ivr }) {
  const path = ivr.path.flatMap((node, i) => (i ? [h("span", { "aria-hidden": "true" }, "›"), chip(node)] : [chip(node)]));
  // the IVR's own lookup of the caller (customer.id, .name...) is the card above: not said twice
  const values = Object.entries(ivr.values ?? {}).filter(([name]) => !name.startsWith("customer."));
  return section(
    t("pop.ivr"),
    "ivr",
    h(
      "dl",
      { class: "facts" },
      fact(t("pop.path"), ...path),
      fact(t("pop.keys"), ...(ivr.keys.length ? ivr.keys.map((key) => h("kbd", {}, key)) : [t("none")])),
      ...values.map(([name, value]) => fact(name, h("strong", {}, String(value)))),
    ),
  );
}

function due(next) {
  if (!next) return t("none");
  const text = `${term("service", next.kind)} · ${dayText(next.on)}`;
  return next.overdue ? h("span", { class: "overdue" }, text, " ", chip(t("pop.overdue"), "bad")) : text;
}

function insurance(policy) {
  if (!policy) return t("none");
  const left = policy.days_left;
  const urgency = left < 0 ? "bad" : left <= 30 ? "warn" : "";
  return h(
    "span",
    {},
    `${policy.insurer} · ${dayText(policy.expires_on)} `,
    chip(left < 0 ? t("pop.expired", { n: -left }) : t("pop.days_left", { n: left }), urgency),
    " ",
    chip(term("renewal", policy.renewal_status)),
  );
}

function vehicle(car) {
  const service = car.last_service;
  return h(
    "li",
    { class: "vehicle" },
    h("p", {}, h("span", { class: "plate" }, car.plate ?? "—"), " ", h("strong", {}, car.model), " ",
      h("span", { class: "muted" }, t("pop.vin", { vin: car.vin_last6 }))),
    h(
      "dl",
      { class: "facts" },
      fact(t("pop.last_service"), service ? `${dayText(service.on)} · ${term("service", service.kind)}` : t("none")),
      fact(t("pop.next_due"), due(car.next_due)),
      fact(t("pop.insurance"), insurance(car.insurance)),
    ),
  );
}

const list = (items, empty, render) => (items.length ? h("ul", { class: "rows" }, items.map(render)) : h("p", { class: "muted" }, empty));

function caseItem(item) {
  return h("li", {}, chip(term("case", item.kind), item.kind === "complaint" ? "bad" : ""), " ",
    h("span", {}, item.summary ?? ""), " ", h("span", { class: "muted" }, momentText(item.opened_at)));
}

function contactItem(contact, dispositions) {
  const known = dispositions.find((d) => d.code === contact.disposition);
  const outcome = contact.resolved === null || contact.resolved === undefined ? null
    : chip(t(contact.resolved ? "pop.resolved" : "pop.unresolved"), contact.resolved ? "good" : "warn");
  return h("li", {}, h("span", { class: "muted" }, momentText(contact.at)), " ", contact.queue ?? "", " · ",
    contact.agent ?? "", " · ", known ? label(known.label) : contact.disposition ?? "—", " ", outcome);
}

/**
 * Render pop into node (its content replaced). options: answeredAt (the wait stops there),
 * dispositions (GET /api/agents/me's list: the contacts' codes in words).
 */
export function renderPop(node, pop, { answeredAt = null, dispositions = [] } = {}) {
  const known = !pop.new_customer && pop.customer;
  node.replaceChildren(
    h(
      "article",
      { class: "pop", "data-offer": pop.offer, "aria-label": `${t("pop.title")} ${pop.caller.number ?? ""}` },
      head(pop, answeredAt),
      journey(pop),
      known
        ? section(t("pop.vehicles"), "vehicles", list(pop.vehicles, t("pop.no_vehicles"), vehicle))
        : customerForm(pop),
      h(
        "div",
        { class: "pop-cols" },
        section(t("pop.cases"), "cases", list(pop.cases, t("pop.no_cases"), caseItem)),
        section(t("pop.contacts"), "contacts", list(pop.contacts, t("pop.no_contacts"), (c) => contactItem(c, dispositions))),
      ),
    ),
  );
}
