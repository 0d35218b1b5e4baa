// Single-key shortcuts (R ready, P pause, 1-9 a disposition...), documented on the page. They
// never fire while the person types in a field, holds a modifier or has a dialog open.

export function bindKeys(handlers, digit = () => {}) {
  const onKey = (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    if (event.target.closest?.("input, textarea, select, [contenteditable]") || document.querySelector("dialog[open]")) return;
    const key = event.key.toLowerCase();
    if (handlers[key]) handlers[key]();
    else if (/^[1-9]$/.test(key)) digit(Number(key));
    else return;
    event.preventDefault();
  };
  document.addEventListener("keydown", onKey);
  return () => document.removeEventListener("keydown", onKey);
}
