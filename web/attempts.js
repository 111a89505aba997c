// The instance's attempts and what changed between two of them: settings,
// code files, commits, container image, autoctrl version.

import { get } from './api.js';
import { fill, fmtTime, h } from './dom.js';
import { card } from './instance-cards.js';

const short = (hash) => (hash ? String(hash).slice(0, 12) : '');

/**
 * A card comparing two attempts, by default the current one with the one
 * before; built once per set of attempts so a live refresh keeps the choice.
 */
export function attemptsCard(instanceId, attempts) {
  const result = h('div', { class: 'diff', 'aria-live': 'polite' });
  const choose = (label, value) =>
    h(
      'select',
      { 'aria-label': label, onchange: () => compare() },
      attempts.map((a) =>
        h(
          'option',
          { value: String(a.attempt), selected: a.attempt === value },
          `attempt ${a.attempt} · ${fmtTime(a.startedAt)} · ${short(a.configHash)}`,
        ),
      ),
    );
  const last = attempts.at(-1)?.attempt;
  const a = choose('from attempt', attempts.at(-2)?.attempt ?? last);
  const b = choose('to attempt', last);

  async function compare() {
    result.dataset.state = 'loading';
    try {
      const d = await get(`/api/instances/${instanceId}/diff`, { a: a.value, b: b.value });
      fill(result, changes(d.changes));
      result.dataset.state = 'ready';
    } catch (err) {
      fill(result, h('p', { class: 'banner' }, `Cannot compare: ${err.message}`));
      result.dataset.state = 'error';
    }
  }

  if (attempts.length > 1) compare();
  return card(
    'Attempts',
    attempts.length < 2
      ? h('p', { class: 'muted' }, attempts.length === 0 ? 'not started yet' : 'one attempt so far')
      : [h('div', { class: 'diff-pick' }, a, ' → ', b), result],
    { wide: true, hint: 'what changed between two attempts: settings, code, commit, image' },
  );
}

function changes(list) {
  if (list.length === 0)
    return h('p', { class: 'muted' }, 'no change: same configuration and code');
  return h(
    'table',
    { class: 'list' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['what', 'key', 'from', 'to'].map((c) => h('th', {}, c)),
      ),
    ),
    h(
      'tbody',
      {},
      list.map((c) =>
        h(
          'tr',
          { dataset: { what: c.what } },
          h('td', {}, c.what),
          h('td', { class: 'wrap mono' }, c.key),
          h('td', { class: 'wrap mono' }, c.from ?? '(none)'),
          h('td', { class: 'wrap mono' }, c.to ?? '(none)'),
        ),
      ),
    ),
  );
}
