// One instance: what it covers, why it is in its state, its jobs and their
// logs, what it produced, the configuration it ran with, and the actions.

import { ApiError, get, tasks as taskInfo } from './api.js';
import { attemptsCard } from './attempts.js';
import { badge, fill, fmtTime, h } from './dom.js';
import { onEvent } from './events.js';
import {
  actionsCard,
  card,
  configCard,
  fieldsCard,
  historyCard,
  jobsCard,
  locksCard,
  outputsCard,
  runsCard,
  sortJobs,
} from './instance-cards.js';
import { logViewer } from './log.js';

export function mount(root, idText) {
  const id = Number(idText);
  const head = h('div');
  const body = h('div', { class: 'cards' });
  const log = logViewer();
  const logCard = card('Log', log.el, { wide: true });
  let actionsEl = null;
  const actionMsg = h('div', { role: 'status', class: 'action-msg' });
  const section = h('section', { class: 'inst', dataset: { state: 'loading' } }, head, body);
  fill(root, section);
  let data = null;
  let disposed = false;
  let actionsFor = null;
  let attemptsEl = null;
  let attemptsFor = null;

  const select = (job) => {
    log.show(job, { onEnd: () => schedule() });
    for (const tr of body.querySelectorAll('tr[data-job]')) {
      tr.classList.toggle('selected', Number(tr.dataset.job) === job.id);
    }
  };

  /** The running job if any; for a failed instance the failure; else the newest. */
  const defaultJob = (jobs, instance) => {
    const s = sortJobs(jobs);
    return (
      s.find((j) => j.status === 'running') ??
      (instance.status === 'failed' ? s.find((j) => j.status === 'failed') : undefined) ??
      s[0]
    );
  };

  function render() {
    const {
      instance,
      runs = [],
      jobs = [],
      history = [],
      outputs = [],
      config,
      locks,
      attempts = [],
    } = data;
    const first = runs[0]?.run ?? instance.runs?.[0];
    fill(
      head,
      h(
        'div',
        { class: 'crumbs' },
        h(
          'a',
          {
            href: `/?${new URLSearchParams({ task: instance.task, ...(first ? { from: first } : {}) })}`,
          },
          '← overview',
        ),
      ),
      h('h1', {}, `${instance.task} · ${instance.groupKey}`, badge(instance.status)),
      h(
        'div',
        { class: 'sub' },
        `instance ${instance.id} · campaign ${instance.campaign} · attempt ${instance.attempt} · `,
        `created ${fmtTime(instance.createdAt)} · updated ${fmtTime(instance.updatedAt)}`,
      ),
      instance.reason
        ? h(
            'div',
            { class: `reason ${instance.status}` },
            h('b', {}, `${instance.status}: `),
            instance.reason,
          )
        : null,
    );
    // Rebuilt only when the status changes, so a half-typed reason survives live updates.
    const actionKey = `${instance.status}:${instance.attempt}`;
    if (actionsFor !== actionKey) {
      actionsFor = actionKey;
      actionsEl = actionsCard(instance, actionMsg, schedule);
    }
    const attemptsKey = attempts.map((a) => `${a.attempt}:${a.configHash}`).join(' ');
    if (attemptsFor !== attemptsKey) {
      attemptsFor = attemptsKey;
      attemptsEl = attemptsCard(instance.id, attempts);
    }
    const selected = log.jobId ?? defaultJob(jobs, instance)?.id;
    fill(
      body,
      actionsEl,
      runsCard(runs, metaColumns),
      locksCard(locks),
      jobsCard(jobs, selected, select),
      logCard,
      historyCard(history),
      fieldsCard(jobs),
      outputsCard(outputs),
      configCard(instance, config),
      attemptsEl,
    );
    const job = jobs.find((j) => j.id === selected);
    if (job) select(job);
  }

  let metaColumns = [];
  async function load() {
    try {
      const [d, info] = await Promise.all([
        get(`/api/instances/${id}`),
        taskInfo().catch(() => null),
      ]);
      data = d;
      metaColumns = info?.metaColumns ?? [];
      if (disposed) return;
      render();
      section.dataset.state = 'ready';
    } catch (err) {
      if (disposed) return;
      section.dataset.state = 'error';
      fill(
        head,
        h(
          'div',
          { class: 'banner' },
          err instanceof ApiError && err.status === 404
            ? `No instance ${id}.`
            : `Cannot load instance ${id}: ${err.message}`,
        ),
      );
    }
  }

  let timer = null;
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(load, 150);
  }
  const stop = onEvent((e) => {
    if (e.instanceId === id || (e.entity === 'instance' && Number(e.entityId) === id)) schedule();
  });

  load();
  return () => {
    disposed = true;
    clearTimeout(timer);
    stop();
    log.close();
  };
}
