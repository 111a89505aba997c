// The overview's filter bar. Its fields are named exactly like the query
// parameters of `/api/overview`, so the page URL is the API query and a view
// is shared by copying the address.

import { h } from './dom.js';

export const FILTER_KEYS = [
  'campaign',
  'from',
  'to',
  'fill',
  'status',
  'task',
  'task_status',
  'q',
  'sort',
];
const INSTANCE_STATUSES = ['new', 'waiting', 'processing', 'done', 'failed'];
const RUN_STATUSES = ['processing', 'done', 'failed'];

const opt = (value, label, selected) => h('option', { value, selected: value === selected }, label);

function select(name, label, options, value, title) {
  return h(
    'label',
    { title },
    h('span', {}, label),
    h(
      'select',
      { name },
      options.map(([v, l]) => opt(v, l, value ?? '')),
    ),
  );
}

function input(name, label, value, attrs = {}) {
  return h(
    'label',
    { title: attrs.title },
    h('span', {}, label),
    h('input', { name, value: value ?? '', autocomplete: 'off', ...attrs, title: null }),
  );
}

/**
 * The form for `params` (a URLSearchParams); `onChange(newParams)` gets the
 * filters as they are after every edit (text fields debounced).
 */
export function filterForm(params, { tasks, campaigns }, onChange) {
  const p = (k) => params.get(k) ?? '';
  const campaignNames = campaigns.length > 0 ? campaigns : ['prompt'];
  const form = h(
    'form',
    { class: 'filters', role: 'search' },
    select(
      'campaign',
      'campaign',
      campaignNames.map((c) => [c === 'prompt' ? '' : c, c]),
      p('campaign') === 'prompt' ? '' : p('campaign'),
      'processing namespace: prompt is the live one',
    ),
    input('from', 'runs', p('from'), {
      type: 'number',
      min: 0,
      placeholder: 'from',
      class: 'run-in',
      title: 'first run (inclusive)',
    }),
    input('to', '–', p('to'), {
      type: 'number',
      min: 0,
      placeholder: 'to',
      class: 'run-in',
      title: 'last run (inclusive)',
    }),
    input('fill', 'fill', p('fill'), {
      type: 'number',
      min: 0,
      class: 'fill-in',
      title: 'LHC fill',
    }),
    select(
      'status',
      'status',
      [['', 'any'], ...RUN_STATUSES.map((s) => [s, s])],
      p('status'),
      "run's global status",
    ),
    select(
      'task',
      'task',
      [['', 'any task'], ...tasks.map((t) => [t, t])],
      p('task'),
      'with task status: rows where this task is in that status',
    ),
    select(
      'task_status',
      'is',
      [['', 'any'], ...INSTANCE_STATUSES.map((s) => [s, s])],
      p('task_status'),
      'status of the chosen task',
    ),
    input('q', 'search', p('q'), {
      type: 'search',
      placeholder: 'run number or metadata',
      class: 'q-in',
      title: 'run number prefix or metadata text (global tag, type...)',
    }),
    select(
      'sort',
      'order',
      [
        ['', 'newest first'],
        ['run_asc', 'oldest first'],
      ],
      p('sort'),
      'sort order',
    ),
    h('a', { href: '/', class: 'reset', title: 'clear every filter' }, 'reset'),
  );
  const read = () => {
    const next = new URLSearchParams();
    for (const k of FILTER_KEYS) {
      const v = form.elements[k]?.value.trim();
      if (v) next.set(k, v);
    }
    const limit = params.get('limit');
    if (limit) next.set('limit', limit);
    return next;
  };
  let timer = null;
  form.addEventListener('change', () => {
    clearTimeout(timer);
    onChange(read());
  });
  form.addEventListener('input', (e) => {
    if (e.target.tagName !== 'INPUT') return;
    clearTimeout(timer);
    // One or two letters are a search still being typed (the API wants three); digits search run numbers.
    const q = form.elements.q.value.trim();
    if (e.target.name === 'q' && q.length < 3 && !/^\d*$/.test(q)) return;
    timer = setTimeout(() => onChange(read()), 350);
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    clearTimeout(timer);
    onChange(read());
  });
  return form;
}

/** Fills the campaign menu once the list is known (it is slow to count on a big store). */
export function setCampaigns(form, names, current) {
  const select = form.elements.campaign;
  if (!select) return;
  const list = names.includes(current) ? names : [current, ...names];
  select.replaceChildren(
    ...list.map((c) => opt(c === 'prompt' ? '' : c, c, current === 'prompt' ? '' : current)),
  );
}
