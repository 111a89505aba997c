import { canonicalJson } from '../engine/config-hash.ts';
import { NotFoundError } from '../errors.ts';
import type { Instance } from '../model/types.ts';
import type { InstanceAttempt, StateStore } from '../store/contract.ts';
import type { CodeRecord } from '../trace/code.ts';

/** One difference between two attempts' configurations. */
export interface AttemptChange {
  /** `config`: a task setting; `file`: a code file; `commit`: a repository; `image`, `autoctrl`: the version. */
  what: 'config' | 'file' | 'commit' | 'image' | 'autoctrl';
  /** The setting (`env.GT`), file (relative to the cwd) or repository. */
  key: string;
  /** As the earlier attempt had it; null: absent. */
  from: string | null;
  to: string | null;
}

export interface AttemptDiff {
  instanceId: number;
  a: InstanceAttempt;
  b: InstanceAttempt;
  changes: AttemptChange[];
}

/** A stored configuration's code record; empty for one stored before records were kept. */
export function codeOf(config: unknown): CodeRecord {
  const code = (config as { code?: Partial<CodeRecord> } | null)?.code;
  return {
    autoctrl: code?.autoctrl ?? '',
    git: code?.git ?? [],
    files: code?.files ?? {},
    image: code?.image ?? null,
  };
}

/** `commit` (40 hex) shortened as git does, `+dirty` when tracked files differed from it. */
export function commitLabel(g: { commit: string; dirty: boolean }): string {
  return `${g.commit.slice(0, 12)}${g.dirty ? '+dirty' : ''}`;
}

/** What changed from configuration `a` to `b`: task settings, code files, commits, image, autoctrl. */
export function diffConfigs(a: unknown, b: unknown): AttemptChange[] {
  const changes: AttemptChange[] = [];
  const settingsA = settings(a);
  const settingsB = settings(b);
  for (const key of union(settingsA, settingsB)) {
    const from = settingsA.get(key) ?? null;
    const to = settingsB.get(key) ?? null;
    if (from !== to) changes.push({ what: 'config', key, from, to });
  }
  const codeA = codeOf(a);
  const codeB = codeOf(b);
  const filesA = new Map(Object.entries(codeA.files));
  const filesB = new Map(Object.entries(codeB.files));
  for (const key of union(filesA, filesB)) {
    const from = filesA.get(key) ?? null;
    const to = filesB.get(key) ?? null;
    if (from !== to) changes.push({ what: 'file', key, from: short(from), to: short(to) });
  }
  const gitA = new Map(codeA.git.map((g) => [g.repo, commitLabel(g)]));
  const gitB = new Map(codeB.git.map((g) => [g.repo, commitLabel(g)]));
  for (const key of union(gitA, gitB)) {
    const from = gitA.get(key) ?? null;
    const to = gitB.get(key) ?? null;
    if (from !== to) changes.push({ what: 'commit', key, from, to });
  }
  if (codeA.image !== codeB.image)
    changes.push({ what: 'image', key: 'image', from: codeA.image, to: codeB.image });
  if (codeA.autoctrl !== codeB.autoctrl) {
    changes.push({
      what: 'autoctrl',
      key: 'autoctrl',
      from: codeA.autoctrl || null,
      to: codeB.autoctrl || null,
    });
  }
  return changes;
}

/** Attempts `a` and `b` of an instance and what changed between them; NotFoundError for one that never started. */
export async function attemptDiff(
  store: StateStore,
  instance: Instance,
  a: number,
  b: number,
): Promise<AttemptDiff> {
  const attempts = await store.attemptsForInstances([instance.id]);
  const pick = (n: number) => {
    const found = attempts.find((x) => x.attempt === n);
    if (found === undefined) {
      const known = attempts.map((x) => x.attempt).join(', ') || 'none yet';
      throw new NotFoundError('attempt', `${n} of instance ${instance.id} (started: ${known})`);
    }
    return found;
  };
  const [from, to] = [pick(a), pick(b)];
  const [configA, configB] = await Promise.all([
    store.getConfig(from.configHash),
    store.getConfig(to.configHash),
  ]);
  return { instanceId: instance.id, a: from, b: to, changes: diffConfigs(configA, configB) };
}

/** Task settings flattened to dotted keys (`env.GT`, `container.image`), values as JSON. */
function settings(config: unknown): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (prefix: string, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, inner] of Object.entries(v)) walk(prefix === '' ? k : `${prefix}.${k}`, inner);
    } else if (prefix !== '') {
      out.set(prefix, canonicalJson(v));
    }
  };
  if (config !== null && typeof config === 'object') {
    for (const [k, v] of Object.entries(config)) if (k !== 'code') walk(k, v);
  }
  return out;
}

function union(a: Map<string, unknown>, b: Map<string, unknown>): string[] {
  return [...new Set([...a.keys(), ...b.keys()])].sort();
}

/** A file's hash as people compare it: the first 12 hex digits (`missing` stays). */
function short(hash: string | null): string | null {
  return hash === null || !/^[0-9a-f]{64}$/.test(hash) ? hash : hash.slice(0, 12);
}
