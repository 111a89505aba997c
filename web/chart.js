// A thin layer over uPlot: sizing to the container, a legend that fits the
// page, and shading of alternate LHC fills behind a series.

import uPlot from '/vendor/uplot/uPlot.esm.js';
import { h } from './dom.js';

let cssLoaded = false;
function loadCss() {
  if (cssLoaded) return;
  cssLoaded = true;
  document.head.append(h('link', { rel: 'stylesheet', href: '/vendor/uplot/uPlot.min.css' }));
}

export const PALETTE = [
  '#2563eb',
  '#16a34a',
  '#d97706',
  '#9333ea',
  '#0891b2',
  '#db2777',
  '#65a30d',
  '#7c3aed',
  '#ea580c',
  '#0d9488',
];

/**
 * Shades every other fill: `spans` is `[{from, to, label}]` in x units. Read
 * against the fill structure, radiation drift within a fill and recovery
 * between fills are plain to see.
 */
export function fillShading(spans) {
  return {
    hooks: {
      drawClear: [
        (u) => {
          const { ctx, bbox } = u;
          ctx.save();
          ctx.fillStyle = 'rgba(37, 99, 235, 0.06)';
          spans.forEach((s, i) => {
            if (i % 2) return;
            const x0 = u.valToPos(s.from, 'x', true);
            const x1 = u.valToPos(s.to, 'x', true);
            const left = Math.max(bbox.left, Math.min(x0, x1));
            const right = Math.min(bbox.left + bbox.width, Math.max(x0, x1));
            if (right > left) ctx.fillRect(left, bbox.top, right - left, bbox.height);
          });
          ctx.restore();
        },
      ],
    },
  };
}

/**
 * Draws a chart in `el` (replacing what was there) and keeps it as wide as
 * `el`. Returns a function that destroys it.
 */
export function chart(el, opts, data) {
  loadCss();
  el.replaceChildren();
  const width = () => Math.max(300, el.clientWidth - 4);
  const u = new uPlot({ width: width(), height: 240, ...opts }, data, el);
  const ro = new ResizeObserver(() => u.setSize({ width: width(), height: opts.height ?? 240 }));
  ro.observe(el);
  return () => {
    ro.disconnect();
    u.destroy();
  };
}

/** Bars that start at their x and fill their bucket: counts per time bucket. */
export const bars = () => uPlot.paths.bars({ align: 1, size: [0.92, Number.POSITIVE_INFINITY] });

const pad = (n) => String(n).padStart(2, '0');

/** Tick labels in UTC, like the grid's times, as precise as the distance between ticks needs. */
function utcTicks(u, splits) {
  const step = splits.length > 1 ? splits[1] - splits[0] : 86400;
  const span = (u.scales.x.max ?? 0) - (u.scales.x.min ?? 0);
  return splits.map((v) => {
    const d = new Date(v * 1000);
    const day = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
    const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
    if (step >= 86400) return day;
    if (span > 86400 / 2) return `${day.slice(5)} ${time}`;
    return step < 60 ? `${time}:${pad(d.getUTCSeconds())}` : time;
  });
}

/** Options for an x axis of Unix seconds shown in UTC. */
export function timeX(label) {
  return {
    scale: { time: true },
    axis: { label, values: utcTicks, space: 90 },
    series: {
      label: 'time (UTC)',
      value: (_u, v) =>
        v === null || v === undefined
          ? ''
          : new Date(v * 1000).toISOString().slice(0, 19).replace('T', ' '),
    },
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
  };
}

export function empty(el, text) {
  el.replaceChildren(h('div', { class: 'empty' }, text));
}
