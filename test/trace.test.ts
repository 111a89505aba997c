import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { pino } from 'pino';
import { CodeCapture, MAX_HASHED_BYTES } from '../src/trace/code.ts';
import { AUTOCTRL_VERSION } from '../src/version.ts';
import { autoctrl, CLI } from './cli-run.ts';
import { assertNoLeaksAtEnd, task, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** A git repository holding a task's scripts and cfg files, as a calibration team keeps them. */
function gitRepo(dir: string): { repo: string; git: (...args: string[]) => string } {
  const repo = join(dir, 'repo');
  mkdirSync(join(repo, 'cfg'), { recursive: true });
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', repo, ...args], {
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@example.org',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@example.org',
      },
    }).trim();
  git('init', '-q');
  return { repo, git };
}

describe('traceability: the code each attempt ran', () => {
  const dir = tempDir();
  const file = join(dir, 'autoctrl.yaml');
  const { repo, git } = gitRepo(dir);
  const c = (...args: string[]) => autoctrl([...args, '-c', file]);
  const json = async (...args: string[]) => {
    const r = await c(...args, '--json');
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  /** Runs passes until every instance of run 355100 is done. */
  const settle = async () => {
    for (let i = 0; i < 100; i++) {
      const r = await c('pass');
      assert.equal(r.code, 0, r.stderr);
      const status = await json('status');
      if (status.rows[0]?.status === 'done') return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail('run 355100 did not get done');
  };
  const reprocess = async () => {
    const r = await c('reprocess', 'reco', '--runs', '355100');
    assert.equal(r.code, 0, r.stderr);
    await settle();
  };

  before(() => {
    assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first (npm test does)`);
    // The job registers its output as a job does where no server runs.
    writeFileSync(
      join(repo, 'reco.sh'),
      '#!/bin/sh\nexec "$NODE" "$CLI" job report --output "reco_$1.root" --kind root\n',
    );
    writeFileSync(join(repo, 'cfg', 'a.py'), 'gt = "130X_v1"\n');
    writeFileSync(join(repo, 'template.sub'), 'request_memory = 2GB\n');
    git('add', '.');
    git('commit', '-qm', 'first');
    writeFileSync(
      file,
      [
        'store: sqlite:state.db',
        'server: { port: 1 }',
        'tasks:',
        '  reco:',
        `    cwd: ${repo}`,
        '    command: [sh, reco.sh, "{run}"]',
        '    code: ["cfg/*.py", template.sub]',
        `    env: { NODE: ${JSON.stringify(process.execPath)}, CLI: ${JSON.stringify(CLI)} }`,
        '  calib:',
        '    after: [reco]',
        '    command: [sh, -c, "exit 0"]',
        '',
      ].join('\n'),
    );
  });

  it('records commit, dirty flag, file hashes and version, and a new commit is a new configuration', async () => {
    assert.equal((await c('runs', 'add', '355100', '--lumi', '10')).code, 0);
    await settle();
    const first = await json('show', 'reco', '355100');
    const head1 = git('rev-parse', 'HEAD');
    assert.deepEqual(first.config.code, {
      autoctrl: AUTOCTRL_VERSION,
      git: [{ repo, commit: head1, dirty: false }],
      files: {
        'cfg/a.py': sha256(join(repo, 'cfg', 'a.py')),
        'reco.sh': sha256(join(repo, 'reco.sh')),
        'template.sub': sha256(join(repo, 'template.sub')),
      },
      image: null,
    });
    assert.deepEqual(first.attempts, [
      {
        instanceId: first.instance.id,
        attempt: 1,
        configHash: first.instance.configHash,
        startedAt: first.attempts[0].startedAt,
      },
    ]);

    writeFileSync(join(repo, 'cfg', 'a.py'), 'gt = "130X_v2"\n');
    git('commit', '-qam', 'new global tag');
    await reprocess();
    const second = await json('show', 'reco', '355100');
    assert.equal(second.instance.attempt, 2);
    assert.notEqual(second.instance.configHash, first.instance.configHash);
    const diff = await json('show', 'reco', '355100', '--diff', '1', '2');
    assert.deepEqual(
      diff.changes.map((ch: { what: string; key: string }) => `${ch.what} ${ch.key}`),
      ['file cfg/a.py', `commit ${repo}`],
    );
    const commit = diff.changes[1];
    assert.deepEqual(
      [commit.from, commit.to],
      [head1.slice(0, 12), git('rev-parse', 'HEAD').slice(0, 12)],
    );
    const text = await c('show', 'reco', '355100', '--diff', '1', '2');
    assert.match(text.stdout, /^attempt 1 \(.*\) → attempt 2 /);
    assert.match(text.stdout, /file\s+cfg\/a\.py\s+[0-9a-f]{12}\s+[0-9a-f]{12}/);
  });

  it('marks uncommitted edits dirty, picks up files a glob newly matches, and diffs attempts 2 and 3', async () => {
    writeFileSync(join(repo, 'template.sub'), 'request_memory = 4GB\n');
    writeFileSync(join(repo, 'cfg', 'b.py'), 'extra = 1\n');
    await reprocess();
    const third = await json('show', 'reco', '355100');
    assert.deepEqual(third.config.code.git, [
      { repo, commit: git('rev-parse', 'HEAD'), dirty: true },
    ]);
    const diff = await json('show', 'reco', '355100', '--diff', '2', '3');
    const head = git('rev-parse', 'HEAD').slice(0, 12);
    assert.deepEqual(
      diff.changes.map((ch: { what: string; key: string; from: string | null; to: string }) => [
        ch.what,
        ch.key,
        ch.from,
        ch.to,
      ]),
      [
        ['file', 'cfg/b.py', null, sha256(join(repo, 'cfg', 'b.py')).slice(0, 12)],
        [
          'file',
          'template.sub',
          createHash('sha256').update('request_memory = 2GB\n').digest('hex').slice(0, 12),
          sha256(join(repo, 'template.sub')).slice(0, 12),
        ],
        ['commit', repo, head, `${head}+dirty`],
      ],
    );
    const none = await json('show', 'reco', '355100', '--diff', '3', '3');
    assert.deepEqual(none.changes, []);
    const missing = await c('show', 'reco', '355100', '--diff', '1', '9');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no attempt 9 of instance \d+ \(started: 1, 2, 3\)/);
    const bad = await c('show', 'reco', '355100', '--diff', '1');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--diff: "1" is not two attempt numbers/);
  });

  it('trace answers which configuration and code made each output of a run', async () => {
    const trace = await json('trace', '355100');
    const [reco, calib] = trace.tasks;
    assert.deepEqual(
      trace.tasks.map((t: { task: string; attempt: number; status: string }) => [
        t.task,
        t.attempt,
        t.status,
      ]),
      [
        ['reco', 3, 'done'],
        ['calib', 1, 'done'],
      ],
    );
    const show = await json('show', 'reco', '355100');
    const hashes = show.attempts.map((a: { configHash: string }) => a.configHash);
    assert.equal(new Set(hashes).size, 3, 'each attempt ran another configuration');
    assert.equal(reco.configHash, hashes[2]);
    assert.deepEqual(reco.git, [{ repo, commit: git('rev-parse', 'HEAD'), dirty: true }]);
    assert.deepEqual(reco.changedFiles, ['cfg/b.py', 'template.sub']);
    assert.equal(reco.autoctrl, AUTOCTRL_VERSION);
    assert.deepEqual(
      reco.outputs.map((o: { path: string; attempt: number; configHash: string }) => [
        o.path.endsWith('/out/reco_355100.root'),
        o.attempt,
        o.configHash,
      ]),
      [
        [true, 1, hashes[0]],
        [true, 2, hashes[1]],
        [true, 3, hashes[2]],
      ],
    );
    assert.deepEqual(calib.outputs, []);
    assert.deepEqual(calib.git, [], 'its cwd is in no repository');
    const text = (await c('trace', '355100')).stdout;
    assert.match(text, /^run 355100 \(campaign prompt\)\n/);
    assert.match(
      text,
      new RegExp(
        `reco\\s+\\d+\\s+3\\s+done\\s+${hashes[2]}\\s+[0-9a-f]{12}\\+dirty\\s+cfg/b\\.py template\\.sub\\s+3`,
      ),
    );
    assert.match(text, /reco_355100\.root\s+reco\s+1\s+/);
  });
});

describe('code capture', () => {
  const dir = tempDir();
  const { repo, git } = gitRepo(dir);
  const bin = join(dir, 'bin');
  const calls = join(dir, 'git-calls');

  before(() => {
    writeFileSync(join(repo, 'run.sh'), 'echo hi\n');
    mkdirSync(join(repo, 'cfg', 'deep'), { recursive: true });
    writeFileSync(join(repo, 'cfg', 'deep', 'x.cfg'), 'x\n');
    git('add', '.');
    git('commit', '-qm', 'one');
    // A git that counts its calls, so the test sees how often a pass asks.
    mkdirSync(bin);
    const real = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
    writeFileSync(join(bin, 'git'), `#!/bin/sh\necho "$*" >> '${calls}'\nexec '${real}' "$@"\n`);
    chmodSync(join(bin, 'git'), 0o755);
  });

  it('asks git once per repository per pass, however many instances start', async () => {
    const capture = new CodeCapture(pino({ level: 'silent' }), {
      ...process.env,
      PATH: `${bin}:${process.env.PATH ?? ''}`,
    });
    const t = task('reco', { cwd: repo, command: ['sh', 'run.sh'], code: ['cfg'] });
    const records = await Promise.all(Array.from({ length: 1000 }, () => capture.record(t)));
    const lines = readFileSync(calls, 'utf8').trim().split('\n');
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.deepEqual(records[999], records[0]);
    assert.deepEqual(Object.keys(records[0]?.files ?? {}), ['cfg/deep/x.cfg', 'run.sh']);
    const missing = await capture.record({ ...t, code: ['nope.cfg'] });
    assert.equal(missing.files['nope.cfg'], 'missing');
  });

  it('sees a file edited just after a record, however soon the next start comes', async () => {
    const capture = new CodeCapture(pino({ level: 'silent' }));
    const cfg = join(dir, 'soon.cfg');
    writeFileSync(cfg, 'gt = v1\n');
    const t = task('calib', { cwd: dir, command: ['sh', '-c', 'exit 0'], code: ['soon.cfg'] });
    const first = await capture.record(t);
    // Another size: a file rewritten within the same clock tick is still seen.
    writeFileSync(cfg, 'gt = v2, edited\n');
    const second = await capture.record(t);
    assert.equal(first.files['soon.cfg'], createHash('sha256').update('gt = v1\n').digest('hex'));
    assert.equal(second.files['soon.cfg'], sha256(cfg));
  });

  it('records a large file the command names by size and time, without reading it', async () => {
    const capture = new CodeCapture(pino({ level: 'silent' }));
    const data = join(dir, 'run355100.dat');
    writeFileSync(data, Buffer.alloc(MAX_HASHED_BYTES + 1));
    const small = join(dir, 'small.cfg');
    writeFileSync(small, 'x\n');
    const t = task('reco', { cwd: dir, command: ['sh', 'small.cfg', 'run355100.dat'] });
    const { files } = await capture.record(t);
    assert.match(
      files['run355100.dat'] ?? '',
      new RegExp(`^not hashed: ${MAX_HASHED_BYTES + 1} bytes, modified \\d{4}-`),
    );
    assert.equal(files['small.cfg'], sha256(small));
  });
});
