// The page's modal questions (<dialog>: focus kept inside, Esc cancels, focus returns after):
// fill the dialog's fieldset, wait for OK or cancel, answer the form's data or null.
import { h } from "./dom.js";

export function ask(dialog, ...controls) {
  dialog.querySelector("fieldset").replaceChildren(...controls);
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => resolve(dialog.returnValue === "ok" ? new FormData(dialog.querySelector("form")) : null),
      { once: true },
    );
  });
}

/** Labelled radio buttons or checkboxes: items [{value, text, checked}]. */
export function choices(name, type, items) {
  return items.map(({ value, text, checked }) =>
    h("label", { class: "choice" }, h("input", { type, name, value, checked, required: type === "radio" }), " ", text),
  );
}
