// Plots: a job field over runs or over time for one task, instance durations
// and queue waits, and throughput per task. The choices live in the URL.

import { get, tasks as taskInfo } from './api.js';
import { bars, chart, empty, fillShading, PALETTE, timeX } from './chart.js';
import { fill, h } from './dom.js';

const sec = (t) => new Date(t).getTime() / 1000;

function select(name, label, options, value, onChange) {
  return h(
    'label',
    {},
    label,
    h(
      'select',
      { name, onchange: (e) => onChange(e.target.value) },
      options.map(([v, l]) => h('option', { value: v, selected: v === value }, l)),
    ),
  );
}

/** Fill spans along x, from points sorted by x. */
function fillSpans(points, xOf) {
  const spans = [];
  for (const p of points) {
    const x = xOf(p);
    const last = spans.at(-1);
    if (last && last.fill === p.fill) last.to = x;
    else spans.push({ fill: p.fill, from: x, to: x });
  }
  // Widen each span to meet its neighbour halfway, so shading has no gaps.
  for (let i = 0; i < spans.length; i++) {
    const s = spans[i];
    const prev = spans[i - 1];
    const next = spans[i + 1];
    if (prev) s.from = (prev.to + s.from) / 2;
    if (next) s.to = (s.to + next.from) / 2;
  }
  return spans.filter((s) => s.fill !== null && s.fill !== undefined);
}

/** Samples drawn at most: a few pages of /api/samples, the oldest first. */
const MAX_SAMPLES = 50_000;

/** Every value jobs reported for the field (progress reports, retries), over the time it was reported. */
async function samplesPlot(el, { task, field, campaign }) {
  const pts = [];
  let cursor;
  do {
    const page = await get('/api/samples', { task, key: field, campaign, cursor, limit: 10_000 });
    pts.push(...page.samples.filter((s) => typeof s.value === 'number'));
    cursor = page.next ?? undefined;
  } while (cursor && pts.length < MAX_SAMPLES);
  if (pts.length === 0) return empty(el, `no samples of ${field} for ${task} kept`);
  const t = timeX('reported (UTC)');
  return chart(
    el,
    {
      tzDate: t.tzDate,
      scales: { x: t.scale },
      axes: [t.axis, { label: field, size: 70 }],
      series: [
        t.series,
        {
          label: `${task}: ${field} (every report)`,
          stroke: PALETTE[1],
          width: 0,
          points: { show: true, size: 3, fill: PALETTE[1] },
        },
      ],
    },
    [pts.map((p) => sec(p.at)), pts.map((p) => p.value)],
  );
}

async function fieldPlot(el, { task, field, x, campaign }) {
  if (!task || !field) return empty(el, 'choose a task and a field');
  if (x === 'samples') return samplesPlot(el, { task, field, campaign });
  const { points } = await get('/api/fields', { task, field, campaign });
  const pts = points.filter((p) => typeof p.value === 'number' && (x === 'run' || p.time));
  if (pts.length === 0) return empty(el, `no numeric values of ${field} for ${task} yet`);
  const xOf = x === 'run' ? (p) => p.run : (p) => sec(p.time);
  pts.sort((a, b) => xOf(a) - xOf(b));
  const xs = pts.map(xOf);
  const ys = pts.map((p) => p.value);
  const t = timeX('run end (UTC)');
  const byRun = x === 'run';
  return chart(
    el,
    {
      ...fillShading(fillSpans(pts, xOf)),
      ...(byRun ? {} : { tzDate: t.tzDate }),
      scales: { x: byRun ? { time: false } : t.scale },
      axes: [
        byRun ? { label: 'run', values: (_u, v) => v.map(String), space: 70 } : t.axis,
        { label: field, size: 70 },
      ],
      series: [
        byRun ? { label: 'run', value: (_u, v) => v ?? '' } : t.series,
        {
          label: `${task}: ${field}`,
          stroke: PALETTE[0],
          width: 1,
          points: { show: true, size: 4, fill: PALETTE[0] },
        },
      ],
    },
    [xs, ys],
  );
}

async function durationPlot(el, { task, campaign }) {
  if (!task) return empty(el, 'choose a task');
  const { points } = await get('/api/stats/durations', { task, campaign, limit: 2000 });
  const pts = points.filter((p) => p.endedAt).sort((a, b) => sec(a.endedAt) - sec(b.endedAt));
  if (pts.length === 0) return empty(el, `no finished instances of ${task} yet`);
  const s = (ms) => (ms === null || ms === undefined ? null : ms / 1000);
  const t = timeX('instance ended (UTC)');
  return chart(
    el,
    {
      tzDate: t.tzDate,
      scales: { x: t.scale },
      axes: [t.axis, { label: 'seconds', size: 60 }],
      series: [
        t.series,
        {
          label: 'running',
          stroke: PALETTE[0],
          width: 1,
          points: { show: true, size: 4, fill: PALETTE[0] },
        },
        {
          label: 'waiting in queue',
          stroke: PALETTE[2],
          width: 1,
          points: { show: true, size: 4, fill: PALETTE[2] },
        },
      ],
    },
    [pts.map((p) => sec(p.endedAt)), pts.map((p) => s(p.runMs)), pts.map((p) => s(p.queuedMs))],
  );
}

/** Seconds between bucket starts. */
const xsStep = (buckets) =>
  buckets.length > 1 ? sec(buckets[1].start) - sec(buckets[0].start) : 0;

/** How far back the throughput view looks, and the bucket that gives it a readable number of steps. */
const WINDOWS = {
  '1h': { ms: 3_600_000, bucket: '5m' },
  '6h': { ms: 6 * 3_600_000, bucket: '5m' },
  '24h': { ms: 24 * 3_600_000, bucket: '15m' },
  '7d': { ms: 7 * 86_400_000, bucket: '1h' },
  '30d': { ms: 30 * 86_400_000, bucket: '6h' },
};

async function throughputPlot(el, { campaign, window }, taskNames) {
  const w = WINDOWS[window] ?? WINDOWS['24h'];
  const since = new Date(Date.now() - w.ms).toISOString();
  const { buckets } = await get('/api/stats/throughput', { campaign, bucket: w.bucket, since });
  if (
    buckets.every(
      (b) => Object.keys(b.done ?? {}).length + Object.keys(b.failed ?? {}).length === 0,
    )
  ) {
    return empty(el, `nothing settled in the last ${window}`);
  }
  const seen = new Set(buckets.flatMap((b) => Object.keys(b.done ?? {})));
  const names = taskNames.filter((t) => seen.has(t));
  // Stacked bars: lines of equal counts would hide each other. Layers are the
  // failed count on top, then each task's done count, from the last task down.
  const layers = [
    {
      label: 'failed (all tasks)',
      color: '#dc2626',
      counts: buckets.map((b) => Object.values(b.failed ?? {}).reduce((a, n) => a + n, 0)),
    },
    ...names
      .map((n, i) => ({
        label: `${n} done`,
        color: PALETTE[i % PALETTE.length],
        counts: buckets.map((b) => b.done?.[n] ?? 0),
      }))
      .reverse(),
  ];
  // Drawn first = the tallest stack, so each layer shows above the next.
  const stacks = layers.map((_, i) =>
    buckets.map((_b, k) => layers.slice(i).reduce((a, l) => a + l.counts[k], 0)),
  );
  // One more x closes the last bucket, so its bar has room.
  const xs = [
    ...buckets.map((b) => sec(b.start)),
    sec(buckets.at(-1).start) + (xsStep(buckets) || 3600),
  ];
  const t = timeX(`bucket start (UTC), ${w.bucket} buckets`);
  return chart(
    el,
    {
      tzDate: t.tzDate,
      scales: {
        x: t.scale,
        y: { range: (_u, _lo, hi) => [0, Math.max(1, hi * 1.1)] },
      },
      axes: [t.axis, { label: 'instances settled', size: 50 }],
      series: [
        t.series,
        ...layers.map((l, i) => ({
          label: l.label,
          stroke: l.color,
          fill: `${l.color}cc`,
          width: 0,
          paths: bars(),
          points: { show: false },
          // The legend tells each layer's own count, not the stack height.
          value: (_u, _v, _si, idx) =>
            idx === null || idx >= buckets.length ? '' : layers[i].counts[idx],
        })),
      ],
    },
    [xs, ...stacks.map((st) => [...st, null])],
  );
}

export function mount(root) {
  const params = new URLSearchParams(location.search);
  const state = {
    campaign: params.get('campaign') || 'prompt',
    task: params.get('task') || '',
    field: params.get('field') || '',
    x: ['run', 'samples'].includes(params.get('x')) ? params.get('x') : 'time',
    window: WINDOWS[params.get('window')] ? params.get('window') : '24h',
  };
  const fieldEl = h('div', { class: 'plot', id: 'plot-field' });
  const durEl = h('div', { class: 'plot', id: 'plot-durations' });
  const thrEl = h('div', { class: 'plot', id: 'plot-throughput' });
  const fieldControls = h('div', { class: 'controls' });
  const thrControls = h('div', { class: 'controls' });
  const section = h(
    'section',
    { class: 'plots cards', dataset: { state: 'loading' } },
    h('section', { class: 'card wide' }, h('h2', {}, 'Job field'), fieldControls, fieldEl),
    h(
      'section',
      { class: 'card' },
      h(
        'h2',
        {},
        'Instance durations',
        h('span', { class: 'hint' }, 'running time and time waiting in the queue'),
      ),
      durEl,
    ),
    h('section', { class: 'card' }, h('h2', {}, 'Throughput per task'), thrControls, thrEl),
  );
  fill(root, section);
  const destroy = [];
  let disposed = false;
  let taskNames = [];

  const syncUrl = () => {
    const p = new URLSearchParams();
    if (state.campaign !== 'prompt') p.set('campaign', state.campaign);
    for (const k of ['task', 'field']) if (state[k]) p.set(k, state[k]);
    if (state.x !== 'time') p.set('x', state.x);
    if (state.window !== '24h') p.set('window', state.window);
    history.replaceState(history.state, '', `/plots${p.size ? `?${p}` : ''}`);
  };

  const draw = async (el, idx, f) => {
    destroy[idx]?.();
    destroy[idx] = null;
    try {
      const d = await f();
      if (disposed) d?.();
      else destroy[idx] = d ?? null;
    } catch (err) {
      empty(el, `cannot draw: ${err.message}`);
    }
  };

  async function drawField() {
    let names = [];
    try {
      names = state.task ? (await get('/api/fields/names', { task: state.task })).fields : [];
    } catch {
      names = [];
    }
    if (!names.includes(state.field)) state.field = names[0] ?? '';
    syncUrl();
    fill(
      fieldControls,
      select(
        'task',
        'task',
        taskNames.map((t) => [t, t]),
        state.task,
        (v) => {
          state.task = v;
          state.field = '';
          drawAll();
        },
      ),
      select(
        'field',
        'field',
        names.map((n) => [n, n]),
        state.field,
        (v) => {
          state.field = v;
          drawField();
        },
      ),
      select(
        'x',
        'over',
        [
          ['time', 'time'],
          ['run', 'run number'],
          ['samples', 'every report'],
        ],
        state.x,
        (v) => {
          state.x = v;
          drawField();
        },
      ),
      h('span', { class: 'hint' }, 'shaded bands: alternate LHC fills'),
    );
    await draw(fieldEl, 0, () => fieldPlot(fieldEl, state));
  }

  function drawThroughput() {
    syncUrl();
    fill(
      thrControls,
      select(
        'window',
        'last',
        Object.entries(WINDOWS).map(([k, w]) => [k, `${k} (per ${w.bucket})`]),
        state.window,
        (v) => {
          state.window = v;
          drawThroughput();
        },
      ),
    );
    return draw(thrEl, 2, () => throughputPlot(thrEl, state, taskNames));
  }

  async function drawAll() {
    await Promise.all([
      drawField(),
      draw(durEl, 1, () => durationPlot(durEl, state)),
      drawThroughput(),
    ]);
    section.dataset.state = 'ready';
  }

  (async () => {
    const info = await taskInfo();
    taskNames = info.tasks.map((t) => t.name);
    if (!taskNames.includes(state.task)) state.task = taskNames[0] ?? '';
    if (!disposed) await drawAll();
  })().catch((err) => {
    empty(fieldEl, `cannot load: ${err.message}`);
  });

  return () => {
    disposed = true;
    for (const d of destroy) d?.();
  };
}
