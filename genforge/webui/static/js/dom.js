// Tiny DOM helpers: h("div.cls#id", {attrs}, ...children).

export function h(tag, attrs, ...children) {
  const [name, ...rest] = tag.split(/(?=[.#])/);
  const el = document.createElement(name || "div");
  for (const part of rest) {
    if (part[0] === ".") el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "value") el.value = value;
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function fmt(value, digits = 4) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return String(value);
    if (Number.isInteger(value)) return String(value);
    const abs = Math.abs(value);
    return abs !== 0 && (abs < 1e-3 || abs >= 1e5) ? value.toExponential(3) : value.toFixed(digits).replace(/\.?0+$/, "");
  }
  if (Array.isArray(value)) return value.map((v) => fmt(v, digits)).join(", ");
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${k}: ${fmt(v, digits)}`).join("; ");
  return String(value);
}

export function duration(secs) {
  if (secs === null || secs === undefined || !Number.isFinite(secs)) return "–";
  secs = Math.max(0, Math.round(secs));
  if (secs < 60) return `${secs} s`;
  if (secs < 3600) return `${Math.floor(secs / 60)} min ${secs % 60} s`;
  return `${Math.floor(secs / 3600)} h ${Math.floor((secs % 3600) / 60)} min`;
}

export function when(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function toast(message) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.classList.remove("show"), 2500);
}

export function badge(status) {
  return h(`span.badge.${status}`, { "data-status": status }, status);
}

export function progressBar(fraction, label, small = false) {
  const pct = Math.max(0, Math.min(1, fraction || 0)) * 100;
  const bar = h("div.progress", { role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
                                  "aria-valuenow": pct.toFixed(0) },
                h("div.bar", { style: `width:${pct}%` }), h("span.label", label ?? `${pct.toFixed(0)}%`));
  if (small) bar.classList.add("small");
  return bar;
}

/** Replace ``el``'s children (arrays are flattened; null, undefined and false are left out). */
export function fill(el, ...children) {
  return append(clear(el), children);
}
