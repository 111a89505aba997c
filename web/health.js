// The health header: is the controller alive, is work flowing, is the disk
// filling up. Polled (it is a handful of numbers), plus the live stream's own
// state, so a stale page is never mistaken for a quiet one.

import { get } from './api.js';
import { fill, fmtAgo, fmtBytes, fmtDuration, h } from './dom.js';
import { onStreamState } from './events.js';

const POLL_MS = 5000;

/** A heartbeat older than a few pass intervals means the controller is stuck or gone. */
const staleAfter = (health) => Math.max(30_000, 3 * (health.intervalMs ?? 60_000));

function diskLevel(d) {
  if (d.level) return d.level;
  if (!d.quotaBytes || d.usedBytes === null) return 'unknown';
  const f = d.usedBytes / d.quotaBytes;
  return f >= 1 ? 'over' : f >= (d.warn ?? 0.9) ? 'warning' : 'ok';
}

function disk(d) {
  const frac =
    d.fraction ?? (d.quotaBytes && d.usedBytes !== null ? d.usedBytes / d.quotaBytes : null);
  const level = diskLevel(d);
  const warn = level === 'warning' || level === 'over';
  const text = frac === null ? fmtBytes(d.usedBytes) : `${Math.round(frac * 100)}%`;
  const name = d.path.split('/').filter(Boolean).at(-1) ?? d.path;
  return h(
    'span',
    {
      class: `disk ${level}`,
      title:
        `${d.path}: ${fmtBytes(d.usedBytes)} used` +
        (d.quotaBytes ? ` of ${fmtBytes(d.quotaBytes)}` : '') +
        (d.warn ? `, warning at ${Math.round(d.warn * 100)}%` : '') +
        (d.partial ? ' (at least: the count stopped early)' : '') +
        (d.error ? ` — ${d.error}` : ''),
    },
    h('span', { class: 'disk-name' }, name),
    h(
      'span',
      { class: 'bar' },
      h('span', { style: `width:${(Math.min(1, frac ?? 0) * 100).toFixed(1)}%` }),
    ),
    h('span', { class: 'disk-val' }, warn ? `⚠ ${text}` : text),
  );
}

/** Who runs an executor's jobs: the leader, or for local processes the holder of its host's lease. */
function runByTitle(name, ex) {
  if (!ex) return name;
  if (!ex.runBy) return `${name}: no controller runs its jobs now`;
  return `${name}: its jobs are run by ${ex.runBy.controller} since ${ex.runBy.since}`;
}

/** Said only where it is news: a host's jobs run by another controller, or by none. */
function runByNote(ex) {
  if (ex?.scope !== 'host' || ex.runBy?.thisController) return '';
  return ex.runBy ? ` on ${ex.runBy.controller}` : ' ⚠ on no controller';
}

let receivedAt = Date.now();

function render(el, health, stream, error) {
  if (error) {
    fill(el, h('span', { class: 'hitem bad', title: error.message }, '● API unreachable'));
    return;
  }
  if (!health) return;
  const at = health.lastPass?.at ?? null;
  const heartbeat = health.heartbeatAt ?? at;
  // Ages on the server's clock: a browser whose clock is off must not cry wolf.
  const skew = health.now ? receivedAt - Date.parse(health.now) : 0;
  const age = heartbeat ? Date.now() - skew - Date.parse(heartbeat) : Number.POSITIVE_INFINITY;
  // `stalled`: the leader's last finished pass (in the store) is older than the watchdog's threshold.
  const stale = health.stalled === true || (health.stale ?? age > staleAfter(health));
  const work = health.work?.at ?? null;
  // No controller in this process (a read-only API server): nothing to judge.
  const beat = health.stalled
    ? 'bad'
    : health.controller === null
      ? 'warn'
      : stale || age > staleAfter(health)
        ? 'bad'
        : 'ok';
  const jobs = Object.entries(health.jobs ?? {});
  fill(
    el,
    h(
      'span',
      {
        class: `hitem ${beat}`,
        title:
          `controller ${health.controller ?? 'none'}, up since ${health.upSince ?? '?'}, heartbeat ${heartbeat ?? 'never'}` +
          `, the leader's last finished pass ${work ?? 'never'}` +
          (health.stalled
            ? ` — no pass finished for more than ${fmtDuration(health.work.stalledAfterMs)}`
            : ''),
      },
      `● ${{ ok: 'controller', bad: 'controller stalled', warn: 'no controller' }[beat]}`,
    ),
    h(
      'span',
      {
        class: 'hitem',
        title: health.leader
          ? `the engine is led by ${health.leader.controller} (epoch ${health.leader.epoch}) since ${health.leader.since}`
          : 'no controller leads the engine',
      },
      'leader ',
      h(
        'b',
        {},
        health.leader ? (health.leader.thisController ? 'this' : health.leader.controller) : 'none',
      ),
      health.leader ? ` since ${fmtAgo(Date.parse(health.leader.since) + skew)}` : '',
    ),
    h(
      'span',
      { class: 'hitem', title: at ? `last pass at ${at}` : 'no pass yet' },
      'last pass ',
      h('b', {}, at ? fmtAgo(Date.parse(at) + skew) : 'never'),
      health.lastPass ? ` (${fmtDuration(health.lastPass.durationMs)})` : '',
    ),
    jobs.length === 0
      ? null
      : h(
          'span',
          { class: 'hitem', title: 'jobs per executor: queued (idle) / running' },
          jobs.map(([name, j], i) => [
            i ? ' · ' : '',
            h(
              'span',
              { title: runByTitle(name, health.executors?.[name]) },
              `${name} `,
              h('b', {}, j.queued ?? 0),
              ' queued ',
              h('b', {}, j.running ?? 0),
              ' running',
              runByNote(health.executors?.[name]),
            ),
          ]),
        ),
    (health.disk ?? []).map(disk),
    h(
      'span',
      {
        class: `hitem stream ${stream === 'live' ? 'ok' : 'warn'}`,
        title: 'live updates from /api/events/stream',
      },
      stream === 'live' ? '⟳ live' : `⟳ ${stream}`,
    ),
  );
}

export function startHealth(el) {
  let health = null;
  let stream = 'connecting';
  let error = null;
  const poll = async () => {
    try {
      health = await get('/api/health');
      receivedAt = Date.now();
      error = null;
    } catch (err) {
      error = err;
    }
    render(el, health, stream, error);
  };
  onStreamState((s) => {
    stream = s;
    render(el, health, stream, error);
  });
  poll();
  setInterval(poll, POLL_MS);
  // The "ago" figures age between polls.
  setInterval(() => render(el, health, stream, error), 1000);
}
