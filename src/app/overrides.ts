import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { checkDuration } from '../config/duration.ts';
import type { Deployment, TaskConfig } from '../config/types.ts';
import { unknownPlaceholders } from '../engine/placeholders.ts';
import { InvalidInputError } from '../errors.ts';
import { jobsProblem } from '../limits.ts';
import type { CampaignOverride } from '../model/campaign.ts';

/** A `--set task.key=value` that cannot be applied; the message names it as written. */
export class OverrideError extends InvalidInputError {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`--set ${setting}`, message);
  }
}

type Value = CampaignOverride['value'];
type Parsed = { ok: true; value: Value } | { ok: false; why: string };

const ok = (value: Value): Parsed => ({ ok: true, value });
const no = (why: string): Parsed => ({ ok: false, why });

/**
 * A settable key: `parse` turns what a person or the API gave (CLI values
 * are strings) into the value the task configuration holds; `apply` writes
 * it into a task copy, or says why it no longer fits that task.
 */
interface KeyRule {
  pattern: RegExp;
  parse(raw: unknown, deployment: Deployment): Parsed;
  apply(task: TaskConfig, value: Value, m: RegExpExecArray): string | undefined;
}

const KEYS_HELP =
  'command, command.N, env.NAME, retries, retry_delay, timeout, jobs, executor, cwd (names as in autoctrl.yaml)';

function scalarText(raw: unknown): string | null {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
  return null;
}

function templatedText(raw: unknown): Parsed {
  const text = scalarText(raw);
  if (text === null) return no('the value must be a string');
  const bad = unknownPlaceholders(text);
  return bad.length === 0
    ? ok(text)
    : no(`unknown placeholder {${bad[0]}} (write {{ and }} for literal braces)`);
}

function wholeNumber(raw: unknown, min: number): Parsed {
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= min
    ? ok(n)
    : no(`the value must be a whole number ≥ ${min}`);
}

function duration(raw: unknown, positive: boolean): Parsed {
  const checked = checkDuration(raw, positive ? 'positive' : 'zero');
  return checked.ok ? ok(checked.ms) : no(checked.problem);
}

function argv(raw: unknown): Parsed {
  let list = raw;
  if (typeof raw === 'string') {
    try {
      // A library must not print: a key the list cannot have is refused below, with the reason.
      list = parseYaml(raw, { logLevel: 'silent' }) as unknown;
    } catch {
      list = null;
    }
  }
  if (!Array.isArray(list) || list.length === 0 || list.some((a) => scalarText(a) === null))
    return no('the value must be an argv list such as [python3, reco.py, "{run}"]');
  const args = list.map((a) => scalarText(a) as string);
  const bad = args.flatMap(unknownPlaceholders);
  return bad.length === 0 ? ok(args) : no(`unknown placeholder {${bad[0]}}`);
}

function setter(write: (task: TaskConfig, value: Value) => void): KeyRule['apply'] {
  return (task, value) => {
    write(task, value);
    return undefined;
  };
}

const RULES: readonly KeyRule[] = [
  {
    pattern: /^command$/,
    parse: argv,
    apply: setter((task, value) => {
      task.command = [...(value as string[])];
    }),
  },
  {
    pattern: /^command\.(\d+)$/,
    parse: templatedText,
    apply: (task, value, m) => {
      const i = Number(m[1]);
      const n = task.command.length;
      // One past the end appends an argument; further would leave a hole in argv.
      if (i > n)
        return `the command has ${n} arguments: use an index up to ${n - 1}, or ${n} to append one`;
      task.command[i] = value as string;
      return undefined;
    },
  },
  {
    pattern: /^env\.[A-Za-z_][A-Za-z0-9_]*$/,
    parse: templatedText,
    apply: (task, value, m) => {
      task.env[m[0].slice('env.'.length)] = value as string;
      return undefined;
    },
  },
  {
    pattern: /^retries$/,
    parse: (raw) => wholeNumber(raw, 0),
    apply: setter((task, value) => {
      task.retries = value as number;
    }),
  },
  {
    pattern: /^retry_delay$/,
    parse: (raw) => duration(raw, false),
    apply: setter((task, value) => {
      task.retryDelayMs = value as number;
    }),
  },
  {
    pattern: /^timeout$/,
    parse: (raw) => duration(raw, true),
    apply: setter((task, value) => {
      task.timeoutMs = value as number;
    }),
  },
  {
    pattern: /^jobs$/,
    parse: (raw, deployment) => {
      const n = wholeNumber(raw, 1);
      if (!n.ok) return n;
      const problem = jobsProblem(n.value as number, deployment.limits);
      return problem === null ? n : no(problem);
    },
    apply: setter((task, value) => {
      task.jobs = value as number;
    }),
  },
  {
    pattern: /^executor$/,
    parse: (raw, deployment) => {
      const name = scalarText(raw);
      const known = Object.keys(deployment.executors);
      return name !== null && known.includes(name)
        ? ok(name)
        : no(`unknown executor (executors: ${known.join(', ')})`);
    },
    apply: setter((task, value) => {
      task.executor = value as string;
    }),
  },
  {
    pattern: /^cwd$/,
    parse: (raw, deployment) => {
      const dir = scalarText(raw);
      return dir === null || dir === ''
        ? no('the value must be a directory')
        : ok(path.resolve(deployment.dir, dir));
    },
    apply: setter((task, value) => {
      task.cwd = value as string;
    }),
  },
];

function ruleFor(key: string): { rule: KeyRule; m: RegExpExecArray } | null {
  for (const rule of RULES) {
    const m = rule.pattern.exec(key);
    if (m !== null) return { rule, m };
  }
  return null;
}

function shown(raw: unknown): string {
  return typeof raw === 'string' ? raw : JSON.stringify(raw);
}

/** How an override reads on the command line: `reco.env.GT=130X`. */
export function overrideText(o: CampaignOverride): string {
  return `${o.task}.${o.key}=${shown(o.value)}`;
}

/**
 * Parses one `task.key` = value against the deployment and the campaign's
 * tasks. Throws `OverrideError` naming the setting when the task, the key or
 * the value does not fit.
 */
export function parseOverride(
  setting: string,
  raw: unknown,
  deployment: Deployment,
  campaignTasks: readonly string[],
): CampaignOverride {
  const label = `${setting}=${shown(raw)}`;
  const dot = setting.indexOf('.');
  const task = dot > 0 ? setting.slice(0, dot) : '';
  const key = setting.slice(dot + 1);
  if (!deployment.tasks.some((t) => t.name === task)) {
    const known = deployment.tasks.map((t) => t.name).join(', ');
    throw new OverrideError(label, `write TASK.KEY=VALUE with a known task (tasks: ${known})`);
  }
  if (!campaignTasks.includes(task))
    throw new OverrideError(
      label,
      `task ${task} is not run by this campaign (its tasks: ${campaignTasks.join(', ')}); add it to --tasks`,
    );
  const found = ruleFor(key);
  if (found === null)
    throw new OverrideError(label, `unknown key '${key}': settable are ${KEYS_HELP}`);
  const parsed = found.rule.parse(raw, deployment);
  if (!parsed.ok) throw new OverrideError(label, `${key}: ${parsed.why}`);
  return { task, key, value: parsed.value };
}

/**
 * A campaign's copy of one task: the deployment's configuration with the
 * campaign's overrides for it applied in the order given. Throws
 * `OverrideError` when one no longer fits (the deployment file changed).
 */
export function applyOverrides(
  task: TaskConfig,
  overrides: readonly CampaignOverride[],
): TaskConfig {
  const copy = structuredClone(task);
  for (const o of overrides) {
    if (o.task !== task.name) continue;
    const found = ruleFor(o.key);
    const why =
      found === null
        ? `unknown key '${o.key}': settable are ${KEYS_HELP}`
        : found.rule.apply(copy, o.value, found.m);
    if (why !== undefined) throw new OverrideError(overrideText(o), why);
  }
  return copy;
}
