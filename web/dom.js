// The one way the page builds DOM: text always goes in as text nodes, so run
// metadata, reasons and logs can never be parsed as HTML.

/**
 * `h('td', { class: 'c', title: 'x', onclick: f }, 'text', child)`.
 * Attributes starting with `on` are listeners; `dataset` is an object; `null`
 * and `false` values and children are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'class') el.className = v;
    else if (k in el && k !== 'list' && k !== 'form') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces all children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const LETTER = { new: 'N', waiting: 'W', processing: 'P', done: 'D', failed: 'F' };

/** A status badge: colour for the eye, a letter or word for everyone else. */
export function badge(status, { long = true, title } = {}) {
  return h(
    'span',
    { class: `badge s-${status}`, title: title ?? status },
    long ? status : (LETTER[status] ?? '?'),
  );
}

/** `2022-10-03 14:52:08` in UTC, the way run registries print times. */
export function fmtTime(t) {
  if (t === null || t === undefined || t === '') return '';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return d.toISOString().slice(0, 19).replace('T', ' ');
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** How long ago, for heartbeats: "4 s ago". */
export function fmtAgo(t, now = Date.now()) {
  if (!t) return 'never';
  return `${fmtDuration(Math.max(0, now - new Date(t).getTime()))} ago`;
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return '?';
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  let x = n;
  while (x >= 1000 && i < units.length - 1) {
    x /= 1000;
    i++;
  }
  return `${x.toFixed(x < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
}

export function fmtNumber(x, digits = 1) {
  if (x === null || x === undefined || x === '') return '';
  return typeof x === 'number' ? x.toFixed(Number.isInteger(x) ? 0 : digits) : String(x);
}
