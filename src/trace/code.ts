import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { ContainerConfig, TaskConfig } from '../config/types.ts';
import { resolveImageDigest } from '../executors/container/digest.ts';
import { isDirectory } from '../fs-util.ts';
import { globPaths, hasMagic } from '../locks/glob.ts';
import type { Logger } from '../logger.ts';
import { AUTOCTRL_VERSION } from '../version.ts';

/**
 * The code an instance attempt ran, beside its YAML: part of its stored
 * configuration, so the configuration hash changes when the code does.
 */
export interface CodeRecord {
  /** The autoctrl that ran it. */
  autoctrl: string;
  /** The git repositories holding the task's cwd and the files its command names, by top-level directory. */
  git: GitState[];
  /**
   * sha256 (hex) of each file the command names and each file the task's
   * `code:` matches, by path relative to the task's cwd; `missing` for a
   * declared path that does not exist; size and time instead of a hash for
   * a file over `MAX_HASHED_BYTES`.
   */
  files: Record<string, string>;
  /** The container image's content digest; null without a container. */
  image: string | null;
}

export interface GitState {
  repo: string;
  commit: string;
  /** Tracked files differ from the commit (untracked files do not count). */
  dirty: boolean;
}

export const MISSING = 'missing';

/**
 * Takes code records. It lives as long as the engine: a job's start must not
 * wait for git (a process, tens of milliseconds on some machines) at every
 * pass, so answers are kept and reused while they still hold:
 * - a file's hash while its size, mtime and inode stay the same;
 * - a repository's commit and dirty flag while `.git/HEAD`, `.git/index`
 *   and the reflog are unchanged (a commit, a checkout or an add changes
 *   them) and no file a task names or declares in it has changed (its edit
 *   shows in the dirty flag at once), and for at most `maxAgeMs` (edits of
 *   other tracked files show within that time): git is a `fork()` of the
 *   whole controller, which blocks its event loop for tens of milliseconds
 *   on machines where page tables are expensive to copy;
 * - a container image's digest for `maxAgeMs`; a directory's repository for
 *   a minute.
 * Concurrent records share every answer, so a pass starting a thousand
 * instances runs git once per repository. Git runs from argv, never a
 * shell, with optional locks off so it never competes with a person's own
 * git commands.
 *
 * Throws `ImageDigestError` (from `record`) when a container image cannot be
 * told: the instance should wait until it can.
 */
export class CodeCapture {
  readonly #logger: Logger;
  readonly #env: NodeJS.ProcessEnv;
  readonly #maxAgeMs: number;
  readonly #roots = new Map<string, Kept<string | null>>();
  readonly #states = new Map<string, Kept<GitState | null>>();
  readonly #hashes = new Map<string, Kept<string>>();
  readonly #digests = new Map<string, Kept<string>>();

  constructor(
    logger: Logger,
    env: NodeJS.ProcessEnv = process.env,
    opts: { maxAgeMs?: number } = {},
  ) {
    this.#logger = logger;
    this.#env = env;
    this.#maxAgeMs = opts.maxAgeMs ?? 30_000;
  }

  /**
   * Taken anew at each call (a pass asks once per task): a record reused
   * for even a fraction of a second missed a file edited just before a
   * reprocess. What is costly in it (hashes, git state) is kept by the
   * files' signatures.
   */
  async record(task: TaskConfig): Promise<CodeRecord> {
    // Every look is a file-system round trip, and an instance's start waits for the record: side by side.
    const [named, declared] = await Promise.all([namedFiles(task), declaredFiles(task)]);
    const files = Object.fromEntries(
      await Promise.all(
        [...named, ...declared].map(
          async ([rel, f]) => [rel, f === null ? MISSING : await this.#hash(f)] as const,
        ),
      ),
    );
    const dirs = new Set([task.cwd, ...named.map(([, f]) => path.dirname(f.abs))]);
    const roots = new Set<string>();
    for (const root of await Promise.all([...dirs].map((dir) => this.#root(dir))))
      if (root !== null) roots.add(root);
    const states = await Promise.all([...roots].sort().map((root) => this.#state(root)));
    const git = states.filter((st): st is GitState => st !== null);
    const image = task.container === null ? null : await this.#digest(task.container);
    return { autoctrl: AUTOCTRL_VERSION, git, files: sortedKeys(files), image };
  }

  #root(dir: string): Promise<string | null> {
    return recall(this.#roots, dir, '', ROOT_AGE_MS, async () => {
      const out = await this.#git(dir, ['rev-parse', '--show-toplevel']);
      return out === null ? null : out.trim();
    });
  }

  async #state(root: string): Promise<GitState | null> {
    // The reflog grows with every commit, checkout and reset; the index changes with every add.
    const git = (f: string) => path.join(root, '.git', f);
    const sig = await signature([git('HEAD'), git('index'), git(path.join('logs', 'HEAD'))]);
    return recall(this.#states, root, sig, this.#maxAgeMs, async () => {
      const out = await this.#git(root, [
        'status',
        '--porcelain=v2',
        '--branch',
        '--untracked-files=no',
      ]);
      if (out === null) return null;
      const lines = out.split('\n').filter((l) => l !== '');
      const oid = lines.find((l) => l.startsWith('# branch.oid '))?.slice('# branch.oid '.length);
      // A repository without a commit yet has nothing to name.
      if (oid === undefined || !/^[0-9a-f]{40,64}$/.test(oid)) return null;
      return { repo: root, commit: oid, dirty: lines.some((l) => !l.startsWith('#')) };
    });
  }

  /** The file's hash, kept while its signature (from the stat that found it) holds. */
  #hash({ abs, info }: FoundFile): Promise<string> {
    const sig = signatureOf(info);
    const kept = this.#hashes.get(abs);
    if (kept !== undefined && kept.sig !== sig) {
      // The file changed: the dirty flag of its repository may have too.
      for (const root of this.#states.keys())
        if (abs.startsWith(root + path.sep)) this.#states.delete(root);
    }
    // An unreadable file is still recorded: its becoming readable changes the record.
    return recall(this.#hashes, abs, sig, Infinity, async () =>
      info.size > MAX_HASHED_BYTES
        ? `not hashed: ${info.size} bytes, modified ${new Date(info.mtimeMs).toISOString()}`
        : sha256File(abs).catch(
            (err: NodeJS.ErrnoException) => `unreadable (${err.code ?? 'error'})`,
          ),
    );
  }

  #digest(container: ContainerConfig): Promise<string> {
    const key = `${container.runtime} ${container.image}`;
    return recall(this.#digests, key, '', this.#maxAgeMs, () =>
      resolveImageDigest(container, { env: this.#env }),
    );
  }

  /** Git's output, or null when `dir` is in no repository or git is not installed. */
  #git(dir: string, args: string[]): Promise<string | null> {
    return new Promise((resolve) => {
      execFile(
        'git',
        ['-C', dir, ...args],
        {
          env: { ...this.#env, GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C' },
          timeout: 30_000,
          encoding: 'utf8',
        },
        (err, stdout, stderr) => {
          if (err === null) return resolve(stdout);
          // Not a repository is the common case (code outside git); anything else is worth a line.
          if (!/not a git repository/i.test(stderr)) {
            this.#logger.warn({ err, dir, stderr: stderr.trim() }, 'git could not tell the code');
          }
          resolve(null);
        },
      );
    });
  }
}

/**
 * Larger files a command names are recorded by size and time, not read: a
 * command may name its data (an input file of gigabytes), and every instance
 * start would wait for its hash. Code and configuration files are far smaller.
 */
export const MAX_HASHED_BYTES = 4 * 1024 * 1024;

/** How long a directory's repository (or its having none) is taken as known. */
const ROOT_AGE_MS = 60_000;

interface Kept<T> {
  at: number;
  sig: string;
  value: Promise<T>;
}

/** The kept answer for `key` while its signature holds and it is younger than `maxAgeMs`; otherwise a new one. */
function recall<K, T>(
  map: { get(key: K): Kept<T> | undefined; set(key: K, kept: Kept<T>): unknown },
  key: K,
  sig: string,
  maxAgeMs: number,
  make: () => Promise<T>,
): Promise<T> {
  const now = Date.now();
  const kept = map.get(key);
  if (kept !== undefined && kept.sig === sig && now - kept.at <= maxAgeMs) return kept.value;
  const value = make();
  map.set(key, { at: now, sig, value });
  return value;
}

/** Size, mtime and inode of each file (absent ones too): what changes when a file is written or replaced. */
async function signature(files: readonly string[]): Promise<string> {
  const parts = await Promise.all(files.map((f) => stat(f).then(signatureOf, () => '-')));
  return parts.join('|');
}

function signatureOf(st: Stats): string {
  return `${st.size}:${st.mtimeMs}:${st.ino}`;
}

/** A regular file found for a record, with the stat that found it (its signature). */
interface FoundFile {
  abs: string;
  info: Stats;
}

/** `p` as a found file; null when it is not a regular file (following links) or absent. */
async function findFile(abs: string): Promise<FoundFile | null> {
  const info = await stat(abs).catch(() => null);
  return info?.isFile() ? { abs, info } : null;
}

/** The command's words that are existing files relative to the cwd (placeholders vary per job: skipped). */
async function namedFiles(task: TaskConfig): Promise<Array<[string, FoundFile]>> {
  const words = [...new Set(task.command)].filter((w) => !w.includes('{') && w !== '');
  const found = await Promise.all(
    words.map(async (word): Promise<[string, FoundFile] | null> => {
      const f = await findFile(path.resolve(task.cwd, word));
      return f === null ? null : [path.relative(task.cwd, f.abs), f];
    }),
  );
  return found.filter((f) => f !== null);
}

/**
 * The task's `code:` entries: a glob's matching files, a directory's files
 * at any depth, a plain path as itself (null when it does not exist, so
 * creating it later changes the record).
 */
async function declaredFiles(task: TaskConfig): Promise<Array<[string, FoundFile | null]>> {
  const found: Array<[string, FoundFile | null]> = [];
  for (const entry of task.code) {
    const abs = path.resolve(task.cwd, entry);
    const dir = !hasMagic(abs) && (await isDirectory(abs));
    if (!hasMagic(abs) && !dir) {
      found.push([path.relative(task.cwd, abs), await findFile(abs)]);
      continue;
    }
    for await (const p of globPaths(dir ? path.join(abs, '**', '*') : abs)) {
      const f = await findFile(p);
      if (f !== null) found.push([path.relative(task.cwd, p), f]);
    }
  }
  return found;
}

function sha256File(p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(p)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

function sortedKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
