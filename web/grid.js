// The runs × tasks table: building rows and updating single cells in place,
// so a live transition touches one <td>, not the whole table.

import { fmtNumber, fmtTime, h, LETTER } from './dom.js';

/**
 * Columns from `/api/tasks`: tasks ordered by workflow (one header group each),
 * and the metadata columns the deployment names.
 */
export function columnsOf(info) {
  const byName = new Map(info.tasks.map((t) => [t.name, t]));
  let groups = (info.workflows ?? [])
    .map((w) => ({ name: w.name, tasks: w.tasks.filter((t) => byName.has(t)) }))
    .filter((w) => w.tasks.length > 0);
  if (groups.length === 0) {
    // An older API without `workflows`: consecutive tasks of one workflow form a group.
    groups = [];
    for (const t of info.tasks) {
      const last = groups.at(-1);
      if (last?.name === t.workflow) last.tasks.push(t.name);
      else groups.push({ name: t.workflow ?? t.name, tasks: [t.name] });
    }
  }
  return { groups, tasks: groups.flatMap((g) => g.tasks), meta: info.metaColumns ?? [] };
}

const INFO = [
  { key: 'run', label: 'Run', cls: 'run' },
  { key: 'fill', label: 'Fill', cls: 'num' },
  { key: 'type', label: 'Type', cls: 'type' },
  { key: 'end', label: 'DAQ end (UTC)', cls: 'time' },
  { key: 'lumi', label: 'Lumi /pb', cls: 'num' },
];

const metaLabel = (k) => k.replace(/_/g, ' ');

export function header(cols) {
  const infoCount = INFO.length + cols.meta.length + 1;
  return h(
    'thead',
    {},
    h(
      'tr',
      { class: 'groups' },
      h('th', { colSpan: infoCount, class: 'g-info' }, 'Run info'),
      cols.groups.map((g, i) =>
        h(
          'th',
          {
            colSpan: g.tasks.length,
            class: `g-wf ${i % 2 ? 'odd' : 'even'}`,
            title: `workflow ${g.name}: ${g.tasks.join(', ')}`,
          },
          g.name,
        ),
      ),
    ),
    h(
      'tr',
      { class: 'names' },
      INFO.map((c) => h('th', { class: c.cls, scope: 'col' }, c.label)),
      cols.meta.map((k) => h('th', { class: 'meta', scope: 'col', title: k }, metaLabel(k))),
      h('th', { class: 'gstatus', scope: 'col' }, 'Global status'),
      cols.groups.flatMap((g, i) =>
        g.tasks.map((t, j) =>
          h(
            'th',
            {
              class: `task ${i % 2 ? 'odd' : 'even'}${j === 0 ? ' first' : ''}`,
              scope: 'col',
              title: t,
            },
            h('span', {}, t),
          ),
        ),
      ),
    ),
  );
}

function cellTitle(task, c) {
  if (!c) return `${task}: no instance`;
  return `${task}: ${c.status}${c.reason ? ` — ${c.reason}` : ''} (instance ${c.instanceId})`;
}

/**
 * Sets a task cell to `c` (`{status, instanceId, reason}` or undefined). A
 * cell is text, not a link: 3,000 anchors cost the first paint more than one
 * click listener on the table (overview.js opens the instance).
 */
export function setCell(td, task, c) {
  td.className = `c s-${c?.status ?? 'none'}${td.dataset.first ? ' first' : ''}`;
  td.title = cellTitle(task, c);
  if (!c) {
    td.textContent = '';
    delete td.dataset.i;
    return;
  }
  td.dataset.i = String(c.instanceId);
  td.textContent = LETTER[c.status] ?? '?';
}

function metaText(v) {
  return v === undefined || v === null ? '' : String(v);
}

/** The info part of a row (everything but the task cells), rebuilt on change. */
function infoCells(row, cols, link) {
  return [
    h('th', { class: 'run', scope: 'row' }, String(row.run)),
    h(
      'td',
      { class: 'num' },
      row.fill === null || row.fill === undefined
        ? ''
        : h(
            'a',
            { href: link({ fill: row.fill }), title: `only fill ${row.fill}` },
            String(row.fill),
          ),
    ),
    h('td', { class: 'type' }, row.type ?? ''),
    h('td', { class: 'time' }, row.end ? fmtTime(row.end) : h('i', {}, 'ongoing')),
    h('td', { class: 'num' }, fmtNumber(row.lumi)),
    cols.meta.map((k) =>
      h('td', { class: 'meta', title: metaText(row.meta?.[k]) }, metaText(row.meta?.[k])),
    ),
    h(
      'td',
      { class: `gstatus g-${row.status}`, title: `global status: ${row.status}` },
      h('span', { class: `badge s-${row.status}` }, row.status),
    ),
  ];
}

/**
 * A row: `{tr, cells: Map<task, td>, row}`. `link(params)` makes a
 * filtered-view URL for the fill link.
 */
export function buildRow(row, cols, link) {
  const cells = new Map();
  const tr = h('tr', { dataset: { run: String(row.run) } }, infoCells(row, cols, link));
  for (const g of cols.groups) {
    g.tasks.forEach((t, j) => {
      const td = document.createElement('td');
      if (j === 0) td.dataset.first = '1';
      setCell(td, t, row.tasks?.[t]);
      cells.set(t, td);
      tr.append(td);
    });
  }
  return { tr, cells, row };
}

const sameCell = (a, b) =>
  a?.status === b?.status && a?.instanceId === b?.instanceId && a?.reason === b?.reason;

/**
 * Brings an existing row up to date with a fresh copy from the API; returns
 * the task cells that changed (to re-index and flash them).
 */
export function updateRow(entry, fresh, cols, link) {
  const old = entry.row;
  const infoChanged =
    old.fill !== fresh.fill ||
    old.end !== fresh.end ||
    old.lumi !== fresh.lumi ||
    old.type !== fresh.type ||
    old.status !== fresh.status ||
    JSON.stringify(old.meta) !== JSON.stringify(fresh.meta);
  if (infoChanged) {
    const n = 6 + cols.meta.length;
    const keep = [...entry.tr.children].slice(n);
    entry.tr.replaceChildren(...infoCells(fresh, cols, link).flat(), ...keep);
  }
  const changed = [];
  for (const t of cols.tasks) {
    if (!sameCell(old.tasks?.[t], fresh.tasks?.[t])) {
      const td = entry.cells.get(t);
      setCell(td, t, fresh.tasks?.[t]);
      changed.push(td);
    }
  }
  entry.row = fresh;
  return changed;
}

/** A brief highlight so a change that arrived live catches the eye. */
export function flash(el) {
  el.animate?.(
    [{ boxShadow: 'inset 0 0 0 2px #1d4ed8' }, { boxShadow: 'inset 0 0 0 2px transparent' }],
    {
      duration: 1500,
      easing: 'ease-out',
    },
  );
}

/** The key to the cells, for whoever meets the page for the first time. */
export function legend() {
  return h(
    'span',
    { class: 'legend', 'aria-label': 'legend' },
    Object.entries(LETTER).map(([status, letter]) =>
      h('span', {}, h('span', { class: `key s-${status}` }, letter), status),
    ),
    h('span', {}, h('span', { class: 'key s-none' }), 'no instance'),
  );
}
