import { reprocessRange } from '../../app/actions.ts';
import { requireCampaign } from '../../app/campaigns.ts';
import type { Deployment } from '../../config/types.ts';
import { AutoctrlError, InvalidInputError } from '../../errors.ts';
import { PROMPT } from '../../model/campaign.ts';
import { parseRunNumber, parseRunRange } from '../../model/run-numbers.ts';
import type { Instance } from '../../model/types.ts';
import { describeRuns } from '../../notify/alerts.ts';
import type { Markup } from '../../notify/format.ts';
import type { StateStore } from '../../store/contract.ts';
import { campaignProgress } from '../../views/campaign-progress.ts';
import { overview, overviewPage, taskApplies } from '../../views/overview.ts';
import type { ChatKind } from './verify.ts';

/** Who typed the command, as the verified request says, and the operator they act as (if any). */
export interface ChatUser {
  kind: ChatKind;
  name: string;
  id: string;
  operator: string | null;
}

/** The answer: ephemeral ones are seen by the sender alone. */
export interface ChatReply {
  ephemeral: boolean;
  text: string;
}

export interface ChatDeps {
  store: StateStore;
  deployment: Deployment;
  /** Runs a pass over what changed (after an action). */
  trigger(): void;
}

/** Runs shown by `status` without a run. */
const STATUS_ROWS = 10;
/** Failed jobs listed by `why`: the rest are on the instance page. */
const WHY_JOBS = 5;
const LETTER = { new: 'N', waiting: 'W', processing: 'P', done: 'D', failed: 'F' } as const;

/** What events record as the author of a chat action: `chat:mattermost:alice (operator alice)`. */
export function chatActor(user: ChatUser): string {
  return `chat:${user.kind}:${user.name} (operator ${user.operator})`;
}

/** The operator a chat user acts as: `chat.operators` names them by user name or id. */
export function operatorFor(deployment: Deployment, kind: ChatKind, name: string, id: string) {
  const map = deployment.chat?.operators ?? {};
  return map[`${kind}:${name}`] ?? map[`${kind}:${id}`] ?? null;
}

export function helpText(m: Markup, command: string): string {
  return [
    `${m.bold('autoctrl')} — ${m.code(`${command} COMMAND`)}, with ${m.code('--campaign NAME')} for another campaign than prompt:`,
    `• ${m.code('status [RUN]')}: the newest runs, or every task of one run`,
    `• ${m.code('why TASK RUN')}: why it waits, or why it failed`,
    `• ${m.code('campaign NAME')}: how far a campaign has come`,
    `• ${m.code('reprocess TASK RUNS [reason…]')}: send TASK back for runs A-B (operators only)`,
  ].join('\n');
}

/**
 * Runs one slash command's text (`why pi0-reco 355100`). Reading is open to
 * every verified chat user; acting needs a user mapped to an operator. Input
 * mistakes come back as ephemeral replies saying what to type, not as errors.
 */
export async function runChatCommand(
  deps: ChatDeps,
  user: ChatUser,
  text: string,
  m: Markup,
  ctx: { command: string; publicUrl: string },
): Promise<ChatReply> {
  const words = text.trim().split(/\s+/).filter(Boolean);
  try {
    const campaign = takeOption(words, '--campaign') ?? PROMPT;
    const [verb, ...args] = words;
    if (verb !== undefined && verb !== 'help') await requireCampaign(deps.store, campaign);
    switch (verb) {
      case 'status':
        return shown(await status(deps, m, campaign, args, ctx.publicUrl));
      case 'why':
        return shown(await why(deps, m, campaign, args, ctx.publicUrl));
      case 'campaign':
        return shown(await campaignText(deps, m, args));
      case 'reprocess':
        return await reprocess(deps, m, user, campaign, args);
      case undefined:
      case 'help':
        return { ephemeral: true, text: helpText(m, ctx.command) };
      default:
        return {
          ephemeral: true,
          text: `unknown command ${m.code(verb)}\n${helpText(m, ctx.command)}`,
        };
    }
  } catch (err) {
    if (!(err instanceof AutoctrlError) || err.code === 'internal') throw err;
    return { ephemeral: true, text: m.text(err.message) };
  }
}

const shown = (text: string): ChatReply => ({ ephemeral: false, text });

/** Removes `--name VALUE` (or `--name=VALUE`) from the words and returns the value. */
function takeOption(words: string[], name: string): string | undefined {
  const i = words.findIndex((w) => w === name || w.startsWith(`${name}=`));
  if (i < 0) return undefined;
  const word = words[i] as string;
  const inline = word.includes('=') ? word.slice(name.length + 1) : undefined;
  const value = inline ?? words[i + 1];
  if (value === undefined || value === '') {
    throw new InvalidInputError(name, `give a value: ${name} NAME`);
  }
  words.splice(i, inline === undefined ? 2 : 1);
  return value;
}

function taskNamed(deployment: Deployment, name: string | undefined): string {
  const known = deployment.tasks.map((t) => t.name);
  if (name === undefined || !known.includes(name)) {
    throw new InvalidInputError(
      'TASK',
      `${name === undefined ? 'name a task' : `unknown task '${name}'`} (tasks: ${known.join(', ')})`,
    );
  }
  return name;
}

async function status(
  deps: ChatDeps,
  m: Markup,
  campaign: string,
  args: string[],
  publicUrl: string,
): Promise<string> {
  const { store, deployment } = deps;
  if (args[0] === undefined) {
    const { rows } = await overview(store, deployment, { campaign, limit: STATUS_ROWS });
    if (rows.length === 0) return `${m.bold(campaign)}: no runs yet`;
    const tasks = deployment.tasks.map((t) => t.name);
    const lines = rows.map(
      (r) =>
        `${m.code(String(r.run))} ${r.status}${r.end === null ? ' (ongoing)' : ''} — ${tasks
          .map((t) => {
            const s = r.tasks[t];
            return `${m.text(t)} ${s === undefined ? '·' : LETTER[s]}`;
          })
          .join(' · ')}`,
    );
    return [
      `${m.bold(campaign)}: the newest ${rows.length} run(s) (N new, W waiting, P processing, D done, F failed) — ${m.link('overview', `${publicUrl}/`)}`,
      ...lines,
    ].join('\n');
  }
  const run = parseRunNumber(args[0], 'RUN');
  const { rows } = await overviewPage(store, deployment, {
    campaign,
    order: 'desc',
    from: run,
    to: run,
    limit: 1,
  });
  const row = rows[0];
  if (row === undefined) return `no run ${run} in ${m.bold(campaign)}`;
  const lines = deployment.tasks.map((t) => {
    const cell = row.tasks[t.name];
    if (cell === undefined) return `• ${m.text(t.name)}: not started`;
    const reason = cell.reason === null ? '' : ` — ${m.text(cell.reason)}`;
    return `• ${m.link(t.name, `${publicUrl}/instances/${cell.instanceId}`)}: ${cell.status}${reason}`;
  });
  return [`${m.bold(`run ${run}`)} in ${m.text(campaign)}: ${row.status}`, ...lines].join('\n');
}

async function why(
  deps: ChatDeps,
  m: Markup,
  campaign: string,
  args: string[],
  publicUrl: string,
): Promise<string> {
  const { store, deployment } = deps;
  const task = taskNamed(deployment, args[0]);
  if (args[1] === undefined) throw new InvalidInputError('RUN', 'write: why TASK RUN');
  const run = parseRunNumber(args[1], 'RUN');
  const [inst] = await store.instancesForRuns(campaign, task, [run]);
  if (inst === undefined) return notTakenIn(deps, m, campaign, task, run);
  const head = `${m.link(`${task} for ${describeRuns(inst.runs)}`, `${publicUrl}/instances/${inst.id}`)} (${m.text(campaign)}, attempt ${inst.attempt})`;
  switch (inst.status) {
    case 'done':
      return `${head} is done`;
    case 'new':
      return `${head} is new: the next pass looks at its upstream tasks and locks`;
    case 'waiting':
      return `${head} waits: ${m.text(inst.reason ?? 'its upstream tasks or locks')}`;
    case 'processing':
      return `${head} is processing: ${await jobSummary(store, inst)}`;
    case 'failed':
      return [
        `${head} failed: ${m.text(inst.reason ?? 'a job ran out of attempts')}`,
        ...(await failedJobs(store, inst, m, publicUrl)),
      ].join('\n');
  }
}

async function notTakenIn(
  deps: ChatDeps,
  m: Markup,
  campaign: string,
  task: string,
  run: number,
): Promise<string> {
  const [found] = await deps.store.getRuns([run]);
  if (found === undefined) return `run ${run} is not known (yet): no source has reported it`;
  const config = deps.deployment.tasks.find((t) => t.name === task);
  if (config !== undefined && !taskApplies(config, found, deps.deployment.tasks)) {
    return `${m.text(task)} does not apply to run ${run} (its ${m.code('when')}, grouping or upstream exclude it)`;
  }
  return `${m.text(task)} has no instance for run ${run} in ${m.text(campaign)} yet: ${
    found.end === null
      ? 'the run is still going on'
      : 'its group is not complete, or the next pass takes it in'
  }`;
}

async function jobSummary(store: StateStore, inst: Instance): Promise<string> {
  const jobs = (await store.jobsForInstance(inst.id)).filter(
    (j) => j.instanceAttempt === inst.attempt,
  );
  const count = (s: string) => jobs.filter((j) => j.status === s).length;
  return `${jobs.length} job(s): ${count('done')} done, ${count('running')} running, ${count('idle')} queued, ${count('failed')} failed`;
}

async function failedJobs(
  store: StateStore,
  inst: Instance,
  m: Markup,
  publicUrl: string,
): Promise<string[]> {
  const failed = (await store.jobsForInstance(inst.id)).filter(
    (j) => j.instanceAttempt === inst.attempt && j.status === 'failed',
  );
  const lines = failed.slice(0, WHY_JOBS).map((j) => {
    const exit = j.exitCode === null ? '' : `, exit code ${j.exitCode}`;
    const reason = j.reason === null ? '' : `: ${m.text(j.reason)}`;
    return `• job ${j.index} (attempt ${j.attempt}${exit})${reason} — ${m.link('log', `${publicUrl}/api/jobs/${j.id}/log`)}`;
  });
  if (failed.length > WHY_JOBS) lines.push(`… and ${failed.length - WHY_JOBS} more failed job(s)`);
  return lines;
}

async function campaignText(deps: ChatDeps, m: Markup, args: string[]): Promise<string> {
  const name = args[0];
  if (name === undefined) throw new InvalidInputError('NAME', 'write: campaign NAME');
  const p = await campaignProgress(deps, name);
  const i = p.instances;
  const state = p.complete ? 'complete' : `${p.percent.toFixed(1)}% settled`;
  return [
    `${m.bold(p.name)}: ${p.runs} run(s), ${p.tasks.length} task(s), ${state}`,
    `instances: ${i.done} done, ${i.failed} failed, ${i.processing} processing, ${i.waiting} waiting, ${i.new} new`,
    `jobs: ${p.jobs.done} done, ${p.jobs.running} running, ${p.jobs.idle} queued, ${p.jobs.failed} failed`,
  ].join('\n');
}

async function reprocess(
  deps: ChatDeps,
  m: Markup,
  user: ChatUser,
  campaign: string,
  args: string[],
): Promise<ChatReply> {
  if (user.operator === null) {
    return {
      ephemeral: true,
      text: `${m.text(user.name)}: reprocess is for operators, and ${m.code(`${user.kind}:${user.name}`)} is not one. Ask an operator, or have ${m.code('chat.operators')} in the deployment file map you to one.`,
    };
  }
  const task = taskNamed(deps.deployment, args[0]);
  if (args[1] === undefined) throw new InvalidInputError('RUNS', 'write: reprocess TASK A-B');
  const range = parseRunRange(args[1], 'RUNS');
  const reason = args.slice(2).join(' ');
  const { reprocessed, skipped } = await reprocessRange(
    deps.store,
    { campaign, task, from: range.from, to: range.to },
    { by: chatActor(user), reason: reason === '' ? `reprocess requested in ${user.kind}` : reason },
  );
  if (reprocessed.length > 0) deps.trigger();
  const runs = range.from === range.to ? `run ${range.from}` : `runs ${range.from}-${range.to}`;
  const skip = skipped.length
    ? `; ${skipped.length} skipped (new or processing: reprocess them once they settle)`
    : '';
  return {
    ephemeral: reprocessed.length === 0,
    text: `${m.text(user.name)} (operator ${m.text(user.operator)}) sent ${reprocessed.length} instance(s) of ${m.text(task)} for ${runs} in ${m.text(campaign)} back to new${skip}`,
  };
}
