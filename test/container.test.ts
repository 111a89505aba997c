import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { collectSpool } from '../src/app/spool.ts';
import { validateDeploymentText } from '../src/config/load.ts';
import type { ContainerConfig } from '../src/config/types.ts';
import { ImageDigestError, resolveImageDigest } from '../src/executors/container/digest.ts';
import {
  ContainerPathError,
  removeContainerArgv,
  wrapInContainer,
} from '../src/executors/container/wrap.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';
import { podmanImage, podmanMissing } from './podman-image.ts';
import { CLIENT, type WorkerWorld, workerWorld } from './worker-world.ts';

assertNoLeaksAtEnd();

const dir = tempDir();

const box = (over: Partial<ContainerConfig> = {}): ContainerConfig => ({
  image: 'registry.cern.ch/cms/reco:1',
  runtime: 'podman',
  args: [],
  binds: [],
  ...over,
});

const LAUNCH = {
  argv: ['python3', 'reco.py', '--run', '1 2'],
  env: { PATH: '/usr/bin', HOME: '/home/u', TMPDIR: '/tmp/u', AUTOCTRL_JOB: '7', GT: 'a b' },
  cwd: '/srv/calib',
  workDir: '/data/jobs/prompt/reco/7',
  binds: ['/eos/cms'],
  name: 'cms-prod-7.1',
  user: { uid: 1000, gid: 100 },
};

/** Runs argv as given (no shell) with exactly `env`; resolves with its exit code and output. */
function run(argv: string[], env: Record<string, string>) {
  const [program, ...args] = argv;
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(program ?? '', args, { env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('wrapping a command in a container', () => {
  it('gives podman and docker the binds, the cwd and the env by name, before the image', () => {
    const c = box({ args: ['--network', 'host'], binds: ['/cvmfs'] });
    const bind = (p: string) => ['--mount', `type=bind,source=${p},target=${p}`];
    const tail = [
      '--workdir',
      '/srv/calib',
      ...bind('/data/jobs/prompt/reco/7'),
      ...bind('/srv/calib'),
      ...bind('/eos/cms'),
      ...bind('/cvmfs'),
      ...['--env', 'AUTOCTRL_JOB', '--env', 'GT'],
      ...['--network', 'host', 'registry.cern.ch/cms/reco:1'],
      ...LAUNCH.argv,
    ];
    const podman = wrapInContainer(c, LAUNCH);
    assert.deepEqual(podman.argv, [
      ...['podman', 'run', '--rm', '--init', '--name', 'cms-prod-7.1'],
      ...tail,
    ]);
    assert.deepEqual(podman.env, LAUNCH.env, 'values travel in the environment, not the argv');
    const docker = wrapInContainer({ ...c, runtime: 'docker' }, LAUNCH);
    assert.deepEqual(docker.argv, [
      ...['docker', 'run', '--rm', '--init', '--name', 'cms-prod-7.1', '--user', '1000:100'],
      ...tail,
    ]);
    assert.deepEqual(removeContainerArgv(c, 'cms-prod-7.1'), [
      'podman',
      'rm',
      '--force',
      'cms-prod-7.1',
    ]);
  });

  it('gives apptainer a clean environment with each variable prefixed', () => {
    const c = box({ runtime: 'apptainer', image: '/cvmfs/images/reco.sif', args: ['--nv'] });
    const { argv, env } = wrapInContainer(c, { ...LAUNCH, cwd: LAUNCH.workDir });
    assert.deepEqual(argv, [
      ...['apptainer', 'exec', '--cleanenv', '--pwd', LAUNCH.workDir],
      ...['--bind', LAUNCH.workDir, '--bind', '/eos/cms', '--nv', '/cvmfs/images/reco.sif'],
      ...LAUNCH.argv,
    ]);
    assert.deepEqual(env, {
      ...LAUNCH.env,
      APPTAINERENV_AUTOCTRL_JOB: '7',
      APPTAINERENV_GT: 'a b',
    });
    assert.equal(removeContainerArgv(c, 'x'), null);
  });

  it('refuses a path the bind syntax cannot say', () => {
    assert.throws(
      () => wrapInContainer(box(), { ...LAUNCH, workDir: '/data/a:b' }),
      (err: unknown) => err instanceof ContainerPathError && err.path === '/data/a:b',
    );
  });

  it('runs the exact argv through docker and apptainer stand-ins on PATH (no daemon here)', async () => {
    const bin = join(dir, 'stand-ins');
    mkdirSync(bin);
    for (const rt of ['docker', 'apptainer']) {
      const path = join(bin, rt);
      writeFileSync(
        path,
        `#!/bin/sh\nprintf '%s\\n' "$0" "$@" > "${dir}/${rt}.argv"\n/usr/bin/env > "${dir}/${rt}.env"\n`,
      );
      chmodSync(path, 0o755);
    }
    const nasty = 'x "y" $(z)\n\\ ✓';
    const launch = { ...LAUNCH, env: { ...LAUNCH.env, PATH: bin, NASTY: nasty } };
    for (const runtime of ['docker', 'apptainer'] as const) {
      const wrapped = wrapInContainer(box({ runtime }), launch);
      const r = await run(wrapped.argv, wrapped.env);
      assert.equal(r.code, 0, r.stderr);
      const argv = readFileSync(join(dir, `${runtime}.argv`), 'utf8')
        .split('\n')
        .slice(0, -1);
      assert.deepEqual(argv, [join(bin, runtime), ...wrapped.argv.slice(1)]);
      const seen = readFileSync(join(dir, `${runtime}.env`), 'utf8');
      const name = runtime === 'apptainer' ? 'APPTAINERENV_NASTY' : 'NASTY';
      assert.ok(seen.includes(`${name}=${nasty}\n`), `${runtime} gets ${name} verbatim`);
    }
  });
});

describe('container settings in autoctrl.yaml', () => {
  const FILE = '/srv/calib/autoctrl.yaml';
  it('resolves a relative SIF file and relative binds against the deployment directory', () => {
    const { deployment, problems } = validateDeploymentText(
      'tasks:\n  reco:\n    command: [reco]\n    container:\n      image: images/reco.sif\n      runtime: apptainer\n      binds: [/eos/cms, scratch]\n',
      FILE,
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(deployment?.tasks[0]?.container, {
      image: '/srv/calib/images/reco.sif',
      runtime: 'apptainer',
      args: [],
      binds: ['/eos/cms', '/srv/calib/scratch'],
    });
    const plain = validateDeploymentText('tasks:\n  reco: { command: [reco] }\n', FILE);
    assert.equal(plain.deployment?.tasks[0]?.container, null);
  });

  it('names the line and column of a bad container setting', () => {
    const problems = (text: string) =>
      validateDeploymentText(text, FILE).problems.map((p) => `${p.line}:${p.col}: ${p.message}`);
    const head = 'tasks:\n  reco:\n    command: [reco]\n    container:\n';
    assert.deepEqual(problems(`${head}      image: x\n      runtime: singularity\n`), [
      '6:16: tasks.reco.container.runtime: runtime must be apptainer, docker or podman',
    ]);
    assert.deepEqual(problems(`${head}      runtime: podman\n`), [
      "5:7: tasks.reco.container: missing required key 'image'",
    ]);
    assert.deepEqual(
      problems(`${head}      image: x\n      runtime: podman\n      binds: [/a, "/b:/c"]\n`),
      [
        '7:19: tasks.reco.container.binds[1]: a bound path must not contain ":" or ",": container runtimes read them as separators',
      ],
    );
    assert.match(
      problems(`${head}      image: x\n      runtime: podman\n      mounts: []\n`)[0] ?? '',
      /^7:7: tasks\.reco\.container\.mounts: unknown key \(known: image, runtime, args, binds\)/,
    );
  });
});

describe('image digests', () => {
  it('takes a pinned reference as it is, and hashes a SIF file', async () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    assert.equal(await resolveImageDigest(box({ image: `reg/x@${digest}` })), digest);
    assert.equal(
      await resolveImageDigest(box({ runtime: 'apptainer', image: `docker://reg/x@${digest}` })),
      digest,
    );
    const sif = join(dir, 'reco.sif');
    writeFileSync(sif, 'not really an image, but bytes to hash');
    const want = `sha256:${createHash('sha256').update(readFileSync(sif)).digest('hex')}`;
    assert.equal(await resolveImageDigest(box({ runtime: 'apptainer', image: sif })), want);
    await assert.rejects(
      resolveImageDigest(box({ runtime: 'apptainer', image: 'docker://reg/x:latest' })),
      /not pinned by digest/,
    );
    await assert.rejects(
      resolveImageDigest(box({ runtime: 'apptainer', image: join(dir, 'none.sif') })),
      (err: unknown) => err instanceof ImageDigestError && /ENOENT/.test(err.message),
    );
  });

  it('asks docker for the registry digest, else the image id (a stand-in docker: there is no daemon)', async () => {
    const bin = join(dir, 'docker-bin');
    mkdirSync(bin);
    const id = `sha256:${'1'.repeat(64)}`;
    const repo = `sha256:${'2'.repeat(64)}`;
    const docker = (answer: string) => {
      writeFileSync(join(bin, 'docker'), `#!/bin/sh\nprintf '%s\\n' '${answer}'\n`);
      chmodSync(join(bin, 'docker'), 0o755);
    };
    const env = { PATH: bin };
    docker(`${id} reg/x@${repo} `);
    assert.equal(await resolveImageDigest(box({ runtime: 'docker' }), { env }), repo);
    docker(`${id} `);
    assert.equal(await resolveImageDigest(box({ runtime: 'docker' }), { env }), id);
    await assert.rejects(
      resolveImageDigest(box({ runtime: 'podman' }), { env }),
      /podman is not installed/,
    );
  });
});

describe('podman for real', () => {
  const missing = podmanMissing();
  const image = `localhost/autoctrl-test-${process.pid}:1`;
  let podmanEnv: Record<string, string> = {};
  let w: WorkerWorld;

  before(
    async () => {
      if (missing) return;
      podmanEnv = podmanImage(dir, image).env;
      w = await workerWorld(join(dir, 'world'));
    },
    { timeout: 120_000 },
  );
  after(async () => {
    await w?.close();
  });

  it('runs a job in a container: binds, cwd, env verbatim, nothing of the host', {
    skip: missing,
  }, async () => {
    const work = join(dir, 'job');
    mkdirSync(join(work, 'out'), { recursive: true });
    const shared = join(dir, 'shared');
    mkdirSync(shared);
    writeFileSync(join(shared, 'calib.txt'), 'constants');
    const nasty = 'a "b" $(touch /pwned) `id`\nline2\t✓';
    const wrapped = wrapInContainer(box({ image, binds: [shared] }), {
      argv: [
        'sh',
        '-c',
        'pwd > out/pwd; cat "$1" > out/bound; printf %s "$NASTY" > out/nasty; env > out/env',
        'sh',
        join(shared, 'calib.txt'),
      ],
      env: {
        PATH: process.env.PATH ?? '',
        HOME: '/root/secret-home',
        NASTY: nasty,
        AUTOCTRL_JOB: '9',
      },
      cwd: work,
      workDir: work,
      name: `autoctrl-test-${process.pid}-1`,
    });
    const r = await run(wrapped.argv, { ...wrapped.env, ...podmanEnv });
    assert.equal(r.code, 0, r.stderr);
    const out = (f: string) => readFileSync(join(work, 'out', f), 'utf8');
    assert.equal(out('pwd').trim(), work);
    assert.equal(out('bound'), 'constants');
    assert.equal(out('nasty'), nasty);
    const env = out('env');
    assert.match(env, /^AUTOCTRL_JOB=9$/m);
    assert.doesNotMatch(env, /secret-home/, "the host's HOME stays out");
    assert.match(env, /^PATH=\/usr\/local\/sbin:/m, "the image's PATH applies");
  });

  it('lets a job in a container report with busybox wget, and spool to its bound directory', {
    skip: missing,
  }, async () => {
    const job = await w.runningJob();
    const env = w.jobEnv(job);
    const client = dirname(CLIENT);
    const report = (args: string[], over: Record<string, string> = {}) => {
      const wrapped = wrapInContainer(
        box({ image, args: ['--network', 'host'], binds: [client] }),
        {
          argv: ['sh', CLIENT, ...args],
          env: { ...env, ...over },
          cwd: env.AUTOCTRL_OUTPUT_DIR ?? '',
          workDir: dirname(env.AUTOCTRL_OUTPUT_DIR ?? ''),
        },
      );
      return run(wrapped.argv, { ...wrapped.env, ...podmanEnv });
    };
    const sent = await report(['field', 'where=inside', 'n=3']);
    assert.equal(sent.code, 0, sent.stderr);
    assert.deepEqual((await w.rt.store.getJob(job.id))?.fields, { where: 'inside', n: 3 });
    const spooled = await report(['done'], { AUTOCTRL_URL: '' });
    assert.equal(spooled.code, 0, spooled.stderr);
    assert.equal((await collectSpool(w.rt.engine.ctx, job)).applied, 1);
    assert.equal((await w.rt.store.getJob(job.id))?.status, 'done');
    await w.release(job);
  });

  it('records the digest podman knows the image by', { skip: missing }, async () => {
    const digest = await resolveImageDigest(box({ image }), {
      env: { ...process.env, ...podmanEnv },
    });
    const known = execFileSync(
      'podman',
      ['image', 'inspect', '--format', '{{json .RepoDigests}}', image],
      {
        env: { ...process.env, ...podmanEnv },
        encoding: 'utf8',
      },
    );
    assert.match(digest, /^sha256:[0-9a-f]{64}$/);
    assert.ok(known.includes(digest), `${digest} in ${known}`);
    await assert.rejects(
      resolveImageDigest(box({ image: 'localhost/not-here:1' }), {
        env: { ...process.env, ...podmanEnv },
      }),
      /does not have it .*pull it first \(podman pull localhost\/not-here:1\)/,
    );
  });
});
