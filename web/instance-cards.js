// The parts of the instance page, each a card built from the API's answer.

import { ApiError, post, token } from './api.js';
import { badge, fill, fmtDuration, fmtNumber, fmtTime, h } from './dom.js';

export const card = (title, body, { wide = false, scroll = false, hint } = {}) =>
  h(
    'section',
    { class: `card${wide ? ' wide' : ''}${scroll ? ' scroll' : ''}` },
    h('h2', {}, title, hint ? h('span', { class: 'hint' }, hint) : null),
    scroll ? h('div', { class: 'scroller' }, body) : body,
  );

/** A table that scrolls sideways inside its card rather than overflowing it. */
const table = (head, rows) =>
  h(
    'div',
    { class: 'tscroll' },
    h(
      'table',
      { class: 'list' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          head.map((c) => h('th', {}, c)),
        ),
      ),
      h('tbody', {}, rows),
    ),
  );

const none = (text) => h('p', { class: 'muted' }, text);
const short = (hash) => (hash ? String(hash).slice(0, 12) : '');

export function runsCard(runs, metaKeys) {
  return card(
    'Runs covered',
    runs.length === 0
      ? none('none')
      : table(
          ['run', 'fill', 'type', 'DAQ end (UTC)', 'lumi /pb', ...metaKeys],
          runs.map((r) =>
            h(
              'tr',
              {},
              h('td', {}, h('a', { href: `/?from=${r.run}&to=${r.run}` }, String(r.run))),
              h('td', {}, r.fill ?? ''),
              h('td', {}, r.type ?? ''),
              h('td', { class: 'nowrap' }, fmtTime(r.end)),
              h('td', { class: 'num' }, fmtNumber(r.lumi)),
              metaKeys.map((k) => h('td', {}, String(r.meta?.[k] ?? ''))),
            ),
          ),
        ),
    {
      wide: true,
      scroll: runs.length > 8,
      hint: `${runs.length} run${runs.length === 1 ? '' : 's'}`,
    },
  );
}

export function locksCard(locks) {
  if (!locks || locks.length === 0) return null;
  return card(
    'Locks',
    table(
      ['lock', 'kind', 'state', 'why'],
      locks.map((l) =>
        h(
          'tr',
          {},
          h('td', {}, l.name),
          h('td', {}, l.kind ?? ''),
          // null: not asked for this attempt yet (an earlier lock is closed).
          l.open === null || l.open === undefined
            ? h('td', { class: 'muted' }, 'not checked yet')
            : h('td', { class: l.open ? 'lock-open' : 'lock-closed' }, l.open ? 'open' : 'closed'),
          h('td', { class: 'wrap' }, l.reason ?? ''),
        ),
      ),
    ),
  );
}

/** Jobs, newest instance attempt first: earlier attempts stay visible below. */
export function sortJobs(jobs) {
  return [...jobs].sort(
    (a, b) =>
      (b.instanceAttempt ?? 0) - (a.instanceAttempt ?? 0) ||
      a.index - b.index ||
      b.attempt - a.attempt,
  );
}

export function jobsCard(jobs, selected, onSelect) {
  const waitMs = (j) =>
    j.startedAt && j.createdAt ? new Date(j.startedAt) - new Date(j.createdAt) : null;
  return card(
    'Jobs',
    jobs.length === 0
      ? none('no jobs yet: they are created when the instance starts')
      : table(
          [
            'job',
            '#',
            'attempt',
            'status',
            'executor',
            'exit',
            'queued',
            'duration',
            'input',
            'reason',
            '',
          ],
          sortJobs(jobs).map((j) =>
            h(
              'tr',
              { class: j.id === selected ? 'selected' : '', dataset: { job: String(j.id) } },
              h('td', {}, String(j.id)),
              h('td', { class: 'num' }, String(j.index)),
              h(
                'td',
                { title: `instance attempt ${j.instanceAttempt ?? '?'}, job attempt ${j.attempt}` },
                `${j.instanceAttempt ?? '?'}.${j.attempt}`,
              ),
              h(
                'td',
                {},
                badge(j.status),
                j.queueState
                  ? h('span', { class: `queue ${j.queueState}` }, ` ${j.queueState}`)
                  : '',
              ),
              h(
                'td',
                { title: j.executorId ? `executor id ${j.executorId}` : 'not submitted yet' },
                j.executor,
              ),
              h('td', { class: 'num' }, j.exitCode ?? ''),
              h('td', { class: 'num' }, fmtDuration(waitMs(j))),
              h('td', { class: 'num' }, fmtDuration(j.durationMs)),
              h('td', { class: 'wrap mono' }, j.input ? j.input.split('/').at(-1) : ''),
              h('td', { class: 'wrap' }, j.reason ?? ''),
              h('td', {}, h('button', { type: 'button', onclick: () => onSelect(j) }, 'log')),
            ),
          ),
        ),
    { wide: true, hint: 'attempt = instance attempt . job attempt' },
  );
}

export function fieldsCard(jobs) {
  const withFields = sortJobs(jobs).filter((j) => Object.keys(j.fields ?? {}).length > 0);
  if (withFields.length === 0) return card('Custom fields', none('no fields reported'));
  const names = [...new Set(withFields.flatMap((j) => Object.keys(j.fields)))];
  return card(
    'Custom fields',
    table(
      ['job', ...names],
      withFields.map((j) =>
        h(
          'tr',
          {},
          h('td', {}, `${j.id} (#${j.index})`),
          names.map((n) => h('td', { class: 'num' }, j.fields[n] ?? '')),
        ),
      ),
    ),
  );
}

export function outputsCard(outputs) {
  return card(
    'Outputs',
    outputs.length === 0
      ? none('nothing registered')
      : table(
          ['path', 'kind', 'job', 'metadata'],
          outputs.map((o) =>
            h(
              'tr',
              {},
              h('td', { class: 'wrap mono' }, o.path),
              h('td', {}, o.kind ?? ''),
              h('td', {}, String(o.jobId)),
              h(
                'td',
                { class: 'wrap mono' },
                Object.keys(o.meta ?? {}).length ? JSON.stringify(o.meta) : '',
              ),
            ),
          ),
        ),
    { hint: `${outputs.length}` },
  );
}

export function historyCard(history) {
  const list = [...history].sort((a, b) => b.id - a.id);
  return card(
    'History',
    table(
      ['when (UTC)', 'what', 'transition', 'reason', 'by', 'config'],
      list.map((e) =>
        h(
          'tr',
          {},
          h('td', { class: 'mono nowrap' }, fmtTime(e.at)),
          h(
            'td',
            { class: 'nowrap' },
            e.entity === 'instance' ? 'instance' : `${e.entity} ${e.entityId}`,
          ),
          h(
            'td',
            { class: 'nowrap' },
            e.from ? badge(e.from) : '',
            e.from ? ' → ' : '',
            e.to ? badge(e.to) : '',
          ),
          h('td', { class: 'wrap' }, e.reason ?? ''),
          h('td', {}, e.by),
          h('td', { class: 'mono', title: e.configHash ?? '' }, short(e.configHash)),
        ),
      ),
    ),
    {
      wide: true,
      scroll: true,
      hint: 'newest first; reasons say which lock or upstream held it',
    },
  );
}

export function configCard(instance, config) {
  return card(
    'Configuration',
    [
      h(
        'dl',
        { class: 'kv' },
        h('dt', {}, 'hash'),
        h('dd', { class: 'mono' }, instance.configHash ?? '(not started yet)'),
      ),
      config === null || config === undefined
        ? none('no configuration recorded yet')
        : h('pre', { class: 'config' }, JSON.stringify(config, null, 2)),
    ],
    { hint: 'exactly what the current attempt ran with' },
  );
}

/** `msg` outlives the card: the answer to a click stays after the page refreshes. */
export function actionsCard(instance, msg, reload) {
  const reason = h('input', {
    type: 'text',
    placeholder: 'reason (kept in the history)',
    name: 'reason',
  });
  const say = (text, ok) => {
    fill(msg, h('div', { class: `banner${ok ? ' ok' : ''}` }, text));
  };
  const downstream = h('input', { type: 'checkbox', name: 'downstream' });
  const act = async (what, body) => {
    try {
      const got = await post(`/api/instances/${instance.id}/${what}`, body);
      const busy = got?.downstream?.skipped.filter((s) => s.status === 'processing').length ?? 0;
      say(
        what !== 'reprocess'
          ? 'Failed jobs resubmitted.'
          : got?.downstream
            ? `Reprocess requested for this instance and ${got.downstream.reprocessed.length - 1} downstream${busy ? `; ${busy} still processing: reprocess them once they settle` : ''}.`
            : 'Reprocess requested: a new attempt starts.',
        true,
      );
      reload();
    } catch (err) {
      if (err instanceof ApiError && err.refused) {
        say(
          `Refused (${err.status}): ${err.message}. ${token.get() ? 'This token may not do this.' : 'Enter an operator token in the header.'}`,
        );
      } else say(`Failed: ${err.message}`);
    }
  };
  const canReprocess = ['done', 'failed', 'waiting'].includes(instance.status);
  return card(
    'Actions',
    [
      h(
        'div',
        { class: 'actions' },
        reason,
        h(
          'button',
          {
            type: 'button',
            class: 'primary',
            name: 'reprocess',
            disabled: !canReprocess,
            title: canReprocess
              ? 'send back to new as a new attempt'
              : `cannot reprocess while ${instance.status}`,
            onclick: () =>
              act('reprocess', {
                ...(reason.value.trim() ? { reason: reason.value.trim() } : {}),
                ...(downstream.checked ? { downstream: true } : {}),
              }),
          },
          'Reprocess',
        ),
        h(
          'label',
          { title: 'also send back every instance depending on this one, in its campaign' },
          downstream,
          ' with downstream',
        ),
        h(
          'button',
          {
            type: 'button',
            name: 'resubmit',
            disabled: instance.status !== 'failed',
            title:
              instance.status === 'failed'
                ? 'run the failed jobs again'
                : 'only a failed instance has failed jobs to resubmit',
            onclick: () =>
              act('resubmit', reason.value.trim() ? { reason: reason.value.trim() } : {}),
          },
          'Resubmit failed jobs',
        ),
      ),
      msg,
    ],
    { wide: true, hint: 'needs an operator token' },
  );
}
