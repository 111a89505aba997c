import { describeRuns } from './alerts.ts';
import type { Alert, AlertKind, AlertMessage } from './contract.ts';

/** Markup of the destination: Mattermost's markdown, Slack's mrkdwn, or none. */
export type Dialect = 'markdown' | 'mrkdwn' | 'plain';

const EMOJI: Record<AlertKind, string> = {
  instance_failed: ':red_circle:',
  job_retried: ':repeat:',
  lock_timeout: ':hourglass:',
  source_failing: ':warning:',
  source_recovered: ':white_check_mark:',
  executor_unavailable: ':warning:',
  executor_recovered: ':white_check_mark:',
  submission_blocked: ':warning:',
  export_failing: ':warning:',
  export_recovered: ':white_check_mark:',
  controller_stalled: ':rotating_light:',
  controller_recovered: ':white_check_mark:',
  disk_quota: ':floppy_disk:',
  job_stuck: ':turtle:',
  run_stuck: ':snail:',
};

/**
 * The text of a chat message. One alert reads like the ECAL system's
 * ("pi0-calib for runs 355100–355104 (campaign prompt, attempt 2) permanently
 * failed: job 0 failed after 3 attempts: exit code 1") followed by its links;
 * a summary says how many more alerts were like the one already posted.
 */
export function formatText(message: AlertMessage, dialect: Dialect): string {
  const m = markup(dialect);
  const { alert, folded } = message;
  const env = alert.environment === 'prod' ? '' : `${m.code(alert.environment)} `;
  const head = dialect === 'plain' ? env : `${env}${EMOJI[alert.kind]} `;
  if (folded === null)
    return `${head}${headline(alert, m, describeRuns(alert.runs))}${links(alert, m)}`;
  const runs = describeRuns(folded.runs, folded.runsOmitted);
  const like = `… and ${folded.count} more like it within ${span(folded.windowMs)}: `;
  return `${head}${like}${headline({ ...alert, attempt: null }, m, runs)} — ${m.link('the first of them', alert.url)}`;
}

function span(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1_000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** How a message marks up bold, code, links and free text in one dialect. */
export interface Markup {
  bold(s: string): string;
  code(s: string): string;
  link(label: string, url: string): string;
  text(s: string): string;
}

export function markup(dialect: Dialect): Markup {
  switch (dialect) {
    case 'markdown':
      return {
        bold: (s) => `**${escapeMarkdown(s)}**`,
        code: (s) => `\`${s.replaceAll('`', "'")}\``,
        link: (label, url) => `[${escapeMarkdown(label)}](${url})`,
        text: escapeMarkdown,
      };
    case 'mrkdwn':
      return {
        bold: (s) => `*${escapeMrkdwn(s)}*`,
        code: (s) => `\`${escapeMrkdwn(s.replaceAll('`', "'"))}\``,
        link: (label, url) => `<${url}|${escapeMrkdwn(label)}>`,
        text: escapeMrkdwn,
      };
    case 'plain':
      return { bold: (s) => s, code: (s) => s, link: (l, url) => `${l}: ${url}`, text: (s) => s };
  }
}

/** Free text (paths, error messages) must not turn into emphasis or links. */
function escapeMarkdown(s: string): string {
  return s.replace(/[\\`*_~[\]<>|]/g, (c) => `\\${c}`);
}

/** Slack asks for exactly these three escaped; the rest is shown as written. */
function escapeMrkdwn(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function headline(a: Alert, m: Markup, runs: string): string {
  const reason = m.text(a.reason);
  const where = `${m.bold(a.task ?? '?')} for ${runs} (${context(a)})`;
  switch (a.kind) {
    case 'instance_failed':
      return `${where} permanently failed: ${reason}`;
    case 'job_retried': {
      const next = a.jobAttempt === null ? null : a.jobAttempt + 1;
      const of = a.jobAttempts === null ? '' : ` of ${a.jobAttempts}`;
      const retry = next === null ? 'retrying' : `retrying (attempt ${next}${of})`;
      return `${where}: a job failed, ${retry}: ${reason}`;
    }
    case 'lock_timeout': {
      const named = a.subject === null || a.reason.includes(a.subject);
      const lock = named ? '' : `lock ${m.code(a.subject ?? '')}: `;
      return `${where} still waiting past its lock timeout: ${lock}${reason}`;
    }
    case 'source_failing':
      return `source ${m.bold(a.subject ?? '?')} is failing: ${reason}`;
    case 'source_recovered':
      return `source ${m.bold(a.subject ?? '?')} recovered: ${reason}`;
    case 'executor_unavailable':
      return `executor ${m.bold(a.subject ?? '?')} is unavailable, its jobs wait: ${reason}`;
    case 'executor_recovered':
      return `executor ${m.bold(a.subject ?? '?')} answers again: ${reason}`;
    case 'submission_blocked':
      return `${where}: a job cannot be handed over, it waits (its retries are kept): ${reason}`;
    case 'export_failing':
      return `export ${m.bold(a.subject ?? '?')} is failing: ${reason}`;
    case 'export_recovered':
      return `export ${m.bold(a.subject ?? '?')} recovered: ${reason}`;
    case 'controller_stalled':
      return `controller ${m.bold(a.subject ?? '?')} stalled: ${reason}`;
    case 'controller_recovered':
      return `controller ${m.bold(a.subject ?? '?')} passes again: ${reason}`;
    case 'disk_quota':
      return `output area ${m.bold(a.subject ?? '?')} is filling up: ${reason}`;
    case 'job_stuck':
      return `${where}: a job is stuck: ${reason}`;
    case 'run_stuck':
      return `${m.bold(runs)} (${context(a)}) made no progress: ${reason}`;
  }
}

function context(a: Alert): string {
  const parts = [`campaign ${a.campaign ?? '?'}`];
  if (a.attempt !== null) parts.push(`attempt ${a.attempt}`);
  return parts.join(', ');
}

/** Alerts about a whole source, executor or export: no instance or log to link to. */
const STANDALONE = new Set<Alert['kind']>([
  'source_failing',
  'source_recovered',
  'executor_unavailable',
  'executor_recovered',
  'export_failing',
  'export_recovered',
]);

function links(a: Alert, m: Markup): string {
  if (STANDALONE.has(a.kind)) return '';
  const out = [m.link(a.instanceId === null ? 'overview' : 'instance', a.url)];
  if (a.logUrl !== null) out.push(m.link('job log', a.logUrl));
  if (a.logPath !== null) out.push(m.code(a.logPath));
  return ` — log: ${out.join(' · ')}`;
}
