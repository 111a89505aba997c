import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseDuration } from '../src/config/duration.ts';
import { ConfigError, ConfigNotFoundError } from '../src/config/errors.ts';
import { findConfigFile, loadDeployment, validateDeploymentText } from '../src/config/load.ts';
import type { Deployment } from '../src/config/types.ts';

const FILE = '/srv/calib/autoctrl.yaml';

/** Problems as `LINE:COL: message`, the part each test pins down. */
function problemsOf(text: string): string[] {
  const { deployment, problems } = validateDeploymentText(text, FILE);
  assert.equal(deployment, null, 'expected problems, got a deployment');
  for (const p of problems) assert.equal(p.file, FILE);
  return problems.map((p) => `${p.line}:${p.col}: ${p.message}`);
}

function deploymentOf(text: string): Deployment {
  const { deployment, problems } = validateDeploymentText(text, FILE);
  assert.deepEqual(problems, []);
  assert.ok(deployment);
  return deployment;
}

const EXAMPLE = `store: sqlite:state.db
data_dir: data
server: { host: 127.0.0.1, port: 8080, public_url: http://calib.example.org/ }
engine: { interval: 30s }
executors:
  local: { type: local, slots: 4 }
sources:
  lhc: { type: simulator, interval: 2s, seed: 1 }
tasks:
  reco:
    command: [python3, reco.py, --run, "{run}"]
    jobs: 4
    retries: 2
    retry_delay: 10s
    timeout: 2h
    executor: local
    env: { GT: "{campaign}_v1" }
    cwd: .
  calib:
    workflow: calibration
    after: [reco, laser]
    group: { lumi: 500 }
    command: [./calib.sh]
  laser:
    command: [laser.sh, "{{literal}}"]
    jobs: { per: input }
    group: fill
`;

describe('deployment file', () => {
  test('the example loads with absolute paths, durations in ms and defaults', () => {
    assert.deepEqual(deploymentOf(EXAMPLE), {
      file: FILE,
      dir: '/srv/calib',
      store: 'sqlite:/srv/calib/state.db',
      dataDir: '/srv/calib/data',
      server: { host: '127.0.0.1', port: 8080, publicUrl: 'http://calib.example.org' },
      engine: { intervalMs: 30_000, leaseTtlMs: 6_000, controllers: 1 },
      watchdog: { stalledAfterMs: 90_000, intervalMs: 60_000, maxRunAgeMs: null },
      executors: {
        local: {
          type: 'local',
          maxJobs: null,
          pollIntervalMs: null,
          lostAfterMs: 600_000,
          options: { slots: 4 },
        },
      },
      sources: { lhc: { type: 'simulator', intervalMs: 2_000, options: { seed: 1 } } },
      tasks: [
        {
          name: 'reco',
          workflow: 'reco',
          after: [],
          group: { by: 'run' },
          command: ['python3', 'reco.py', '--run', '{run}'],
          jobs: 4,
          retries: 2,
          retryDelayMs: 10_000,
          timeoutMs: 7_200_000,
          maxQueueMs: null,
          executor: 'local',
          env: { GT: '{campaign}_v1' },
          resources: {},
          cwd: '/srv/calib',
          locks: [],
          when: null,
          container: null,
          code: [],
        },
        {
          name: 'laser',
          workflow: 'laser',
          after: [],
          group: { by: 'fill' },
          command: ['laser.sh', '{{literal}}'],
          jobs: { per: 'input' },
          retries: 0,
          retryDelayMs: 30_000,
          timeoutMs: null,
          maxQueueMs: null,
          executor: 'local',
          env: {},
          resources: {},
          cwd: '/srv/calib',
          locks: [],
          when: null,
          container: null,
          code: [],
        },
        {
          name: 'calib',
          workflow: 'calibration',
          after: ['reco', 'laser'],
          group: { by: 'lumi', lumi: 500 },
          command: ['./calib.sh'],
          jobs: 1,
          retries: 0,
          retryDelayMs: 30_000,
          timeoutMs: null,
          maxQueueMs: null,
          executor: 'local',
          env: {},
          resources: {},
          cwd: '/srv/calib',
          locks: [],
          when: null,
          container: null,
          code: [],
        },
      ],
      environment: 'prod',
      name: 'calib',
      envPass: [],
      plugins: [],
      notify: {},
      auth: { readOpen: true, operators: [] },
      limits: { maxJobsPerInstance: 10_000, maxRequestBytes: 16 * 2 ** 20 },
      exports: {},
    });
  });

  test('an empty file is a deployment of defaults with a local executor', () => {
    const d = deploymentOf('');
    assert.equal(d.store, 'sqlite:/srv/calib/state.db');
    assert.equal(d.dataDir, '/srv/calib/data');
    assert.deepEqual(d.server, {
      host: '127.0.0.1',
      port: 8080,
      publicUrl: 'http://127.0.0.1:8080',
    });
    assert.deepEqual(d.engine, { intervalMs: 30_000, leaseTtlMs: 6_000, controllers: 1 });
    assert.deepEqual(d.executors, {
      local: {
        type: 'local',
        maxJobs: null,
        pollIntervalMs: null,
        lostAfterMs: 600_000,
        options: {},
      },
    });
    assert.deepEqual(d.sources, {});
    assert.deepEqual(d.tasks, []);
  });

  test('postgres stores pass through; empty sections mean none; sources poll every minute', () => {
    const d = deploymentOf(
      'store: postgres://calib@db.example.org/autoctrl\nsources:\n  s: { type: simulator }\ntasks:\n',
    );
    assert.equal(d.store, 'postgres://calib@db.example.org/autoctrl');
    assert.equal(d.sources.s?.intervalMs, 60_000);
    assert.deepEqual(d.tasks, []);
  });

  test('the only executor is the default one; an executor named by a task is kept', () => {
    const d = deploymentOf(
      'executors:\n  batch: { type: local }\ntasks:\n  a: { command: [a] }\n  b: { command: [b], executor: batch }\n',
    );
    assert.deepEqual(
      d.tasks.map((t) => t.executor),
      ['batch', 'batch'],
    );
  });

  test('tasks come in topological order, file order among independent ones', () => {
    const d = deploymentOf(`tasks:
  c: { command: [c], after: [b] }
  x: { command: [x] }
  b: { command: [b], after: [a] }
  a: { command: [a] }
  "7": { command: [s] }
`);
    assert.deepEqual(
      d.tasks.map((t) => t.name),
      ['x', 'a', 'b', 'c', '7'],
    );
  });

  test('group and jobs accept their string and map forms', () => {
    const d = deploymentOf(`tasks:
  a: { command: [a], group: run }
  b: { command: [b], group: fill, jobs: { per: input } }
  c: { command: [c], group: { lumi: 0.5 }, jobs: 3 }
`);
    assert.deepEqual(
      d.tasks.map((t) => [t.group, t.jobs]),
      [
        [{ by: 'run' }, 1],
        [{ by: 'fill' }, { per: 'input' }],
        [{ by: 'lumi', lumi: 0.5 }, 3],
      ],
    );
  });
});

describe('problems name the line and column', () => {
  test('an unknown key points at the key', () => {
    assert.deepEqual(problemsOf('tasks:\n  reco:\n    command: [a]\n    retry: 3\n'), [
      '4:5: tasks.reco.retry: unknown key (known: workflow, after, group, command, jobs, retries, retry_delay, timeout, executor, env, cwd, resources, locks, when, container, code, max_queue)',
    ]);
    assert.deepEqual(problemsOf('stores: x\n'), [
      '1:1: stores: unknown key (known: store, data_dir, server, engine, executors, sources, tasks, name, env_pass, environment, plugins, mirror, notify, export, limits, auth, watchdog, retention, chat)',
    ]);
  });

  test('a missing required key points at the map that lacks it', () => {
    assert.deepEqual(problemsOf('tasks:\n  reco:\n    jobs: 2\n'), [
      "3:5: tasks.reco: missing required key 'command'",
    ]);
  });

  test('a wrong type points at the value', () => {
    assert.deepEqual(problemsOf('tasks:\n  reco:\n    command: [a]\n    retries: two\n'), [
      '4:14: tasks.reco.retries: expected a whole number, got "two"',
    ]);
    assert.deepEqual(problemsOf('tasks:\n  reco:\n    command: python3 reco.py\n'), [
      '3:14: tasks.reco.command: command is an argv list, e.g. [python3, reco.py], never a shell line',
    ]);
    assert.deepEqual(problemsOf('server:\n  port: 70000\n'), [
      '2:9: server.port: must be at most 65535',
    ]);
    assert.deepEqual(problemsOf('- a\n'), ['1:1: expected a map, got a list']);
  });

  test('an unknown upstream task points at the list item', () => {
    assert.deepEqual(
      problemsOf(
        'tasks:\n  reco: { command: [a] }\n  calib: { command: [b], after: [reco, lazer] }\n',
      ),
      ["3:40: tasks.calib.after[1]: unknown task 'lazer' (tasks: reco, calib)"],
    );
  });

  test('a task listing itself points at the list item', () => {
    assert.deepEqual(problemsOf('tasks:\n  a:\n    command: [a]\n    after:\n      - a\n'), [
      "5:9: tasks.a.after[0]: task 'a' cannot come after itself",
    ]);
  });

  test('a cycle is named and pointed at the after of its first task', () => {
    assert.deepEqual(
      problemsOf(`tasks:
  x: { command: [x] }
  a: { command: [a], after: [x, nope, c] }
  b: { command: [b], after: [a] }
  c: { command: [c], after: [b] }
  d: { command: [d], after: [e] }
  e: { command: [e], after: [d, b] }
`),
      [
        "3:33: tasks.a.after[1]: unknown task 'nope' (tasks: x, a, b, c, d, e)",
        '3:39: tasks.a.after[2]: cycle: a → b → c → a',
        '6:30: tasks.d.after[0]: cycle: d → e → d',
      ],
    );
  });

  test('an empty program is refused at its place', () => {
    assert.deepEqual(problemsOf('tasks:\n  reco: { command: ["", x] }\n'), [
      '2:21: tasks.reco.command[0]: the program must not be empty: name it, e.g. python3',
    ]);
  });

  test('a bad duration points at the value', () => {
    assert.deepEqual(problemsOf('engine:\n  interval: 5 minutes\n'), [
      '2:13: engine.interval: bad duration "5 minutes": write a number and a unit (ms, s, m, h, d), e.g. 30s or 1.5h',
    ]);
    assert.deepEqual(problemsOf('engine:\n  interval: 0s\n'), [
      '2:13: engine.interval: must be longer than 0',
    ]);
  });

  test('an unknown executor name lists the executors', () => {
    assert.deepEqual(problemsOf('tasks:\n  a: { command: [a], executor: slurm }\n'), [
      "2:32: tasks.a.executor: unknown executor 'slurm' (executors: local)",
    ]);
  });

  test('a task without executor among several lists the choices', () => {
    assert.deepEqual(
      problemsOf(
        'executors:\n  one: { type: local }\n  two: { type: local }\ntasks:\n  a:\n    command: [a]\n',
      ),
      [
        '6:5: tasks.a: no executor given and several are defined: add executor: with one of one, two',
      ],
    );
  });

  test('unknown executor and source types list the known kinds', () => {
    assert.deepEqual(
      problemsOf('executors:\n  b: { type: condor }\nsources:\n  s:\n    type: oms\n'),
      [
        "2:14: executors.b.type: unknown executor type 'condor' (known: local, htcondor, mirror, slurm)",
        "5:11: sources.s.type: unknown source type 'oms' (known: simulator, http, command, mirror, directory)",
      ],
    );
  });

  test("a kind's options are checked by its schema", () => {
    assert.deepEqual(
      problemsOf(
        'executors:\n  l: { type: local, slots: 0, cores: 2 }\nsources:\n  s: { type: simulator, seed: x }\n',
      ),
      [
        '2:28: executors.l.slots: must be more than 0',
        '2:31: executors.l.cores: unknown key (known: type, max_jobs, poll_interval, lost_after, slots, queue, host)',
        '4:31: sources.s.seed: expected a whole number, got "x"',
      ],
    );
  });

  test('with several controllers, a local executor must be pinned to a host', () => {
    assert.deepEqual(
      problemsOf(
        'engine: { controllers: 2 }\nexecutors:\n  l: { type: local }\n  pinned: { type: local, host: ctl1 }\n',
      ),
      [
        "3:6: executors.l: executor l runs jobs on the controller's own machine, and engine.controllers is 2: pin it with host: <hostname>, or use a batch executor",
      ],
    );
    assert.equal(
      deploymentOf('engine: { controllers: 1 }\nexecutors:\n  l: { type: local }\n').engine
        .controllers,
      1,
    );
  });

  test('executor options read by the core are checked with the rest', () => {
    assert.deepEqual(
      problemsOf('executors:\n  l: { type: local, max_jobs: 0, poll_interval: soon }\n'),
      [
        '2:31: executors.l.max_jobs: must be at least 1',
        '2:49: executors.l.poll_interval: bad duration "soon": write a number and a unit (ms, s, m, h, d), e.g. 30s or 1.5h',
      ],
    );
  });

  test('an unknown placeholder is named, in argv and env', () => {
    assert.deepEqual(
      problemsOf(
        'tasks:\n  a:\n    command: [reco, "{runn}", "{{x}}"]\n    env: { GT: "{campain}" }\n',
      ),
      [
        '3:21: tasks.a.command[1]: unknown placeholder {runn}: known are {run}, {runs}, {fill}, {campaign}, {task}, {job}, {attempt}, {input}, {index}, {inputs}, {meta.KEY} (write {{ and }} for literal braces)',
        '4:16: tasks.a.env.GT: unknown placeholder {campain}: known are {run}, {runs}, {fill}, {campaign}, {task}, {job}, {attempt}, {input}, {index}, {inputs}, {meta.KEY} (write {{ and }} for literal braces)',
      ],
    );
  });

  test('bad task names, groups and jobs', () => {
    assert.deepEqual(
      problemsOf(
        'tasks:\n  Reco: { command: [a] }\n  b: { command: [b], group: { lumi: -1 }, jobs: 0 }\n  c: { command: [c], group: lumi }\n',
      ),
      [
        '2:3: tasks.Reco: task names are lower-case letters, digits, - and _, starting with a letter or digit',
        '3:37: tasks.b.group.lumi: lumi must be a positive number (/pb)',
        '3:49: tasks.b.jobs: jobs must be a positive whole number or { per: input }',
        '4:29: tasks.c.group: group must be run, fill or { lumi: <positive number> }',
      ],
    );
  });

  test('YAML syntax errors carry their position', () => {
    const [first] = problemsOf('tasks:\n  a: { command: [a]\n');
    assert.match(first ?? '', /^3:1: YAML syntax: /);
    assert.deepEqual(
      problemsOf('store: a\nstore: b\n').map((p) => p.slice(0, 22)),
      ['2:1: YAML syntax: Map '],
    );
  });

  test('several problems are reported together, in file order', () => {
    const problems = problemsOf(`engine: { interval: soon }
bogus: 1
tasks:
  a: { command: [a], after: [nope], retries: -1 }
  b: { jobs: 2 }
`);
    assert.deepEqual(problems, [
      '1:21: engine.interval: bad duration "soon": write a number and a unit (ms, s, m, h, d), e.g. 30s or 1.5h',
      '2:1: bogus: unknown key (known: store, data_dir, server, engine, executors, sources, tasks, name, env_pass, environment, plugins, mirror, notify, export, limits, auth, watchdog, retention, chat)',
      "4:30: tasks.a.after[0]: unknown task 'nope' (tasks: a, b)",
      '4:46: tasks.a.retries: must be at least 0',
      "5:6: tasks.b: missing required key 'command'",
    ]);
  });
});

describe('finding and loading the file', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'autoctrl-config-'));
    await mkdir(path.join(dir, 'site'));
    await writeFile(path.join(dir, 'autoctrl.yaml'), 'tasks:\n  a: { command: [a] }\n');
    await writeFile(path.join(dir, 'site', 'autoctrl.yaml'), '');
    await writeFile(path.join(dir, 'other.yaml'), 'tasks:\n  a: { retries: x }\n');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('-c FILE wins over AUTOCTRL_CONFIG, which wins over ./autoctrl.yaml', () => {
    const env = { AUTOCTRL_CONFIG: 'other.yaml' };
    assert.equal(
      findConfigFile({ file: 'site', env, cwd: dir }),
      path.join(dir, 'site', 'autoctrl.yaml'),
    );
    assert.equal(findConfigFile({ env, cwd: dir }), path.join(dir, 'other.yaml'));
    assert.equal(findConfigFile({ env: {}, cwd: dir }), path.join(dir, 'autoctrl.yaml'));
  });

  test('a task cwd that is no directory and a data_dir that is a file are problems with their place', async () => {
    const file = path.join(dir, 'paths.yaml');
    await writeFile(
      file,
      'data_dir: other.yaml\ntasks:\n  a: { command: [a], cwd: nowhere }\n  b: { command: [b], cwd: site }\n',
    );
    await assert.rejects(loadDeployment(file), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(
        err.problems.map((p) => `${p.line}:${p.col}: ${p.message}`),
        [
          `1:11: data_dir: ${path.join(dir, 'other.yaml')} is not a directory: point data_dir at a directory (it is created when missing)`,
          `3:27: tasks.a.cwd: no directory ${path.join(dir, 'nowhere')}: create it, or fix the path (relative to the deployment file)`,
        ],
      );
      return true;
    });
  });

  test('an HTCondor submit template that is missing, or that serve would refuse, is a problem of submit_template', async () => {
    const file = path.join(dir, 'condor.yaml');
    await writeFile(path.join(dir, 'queues.sub'), 'request_memory = 2000\nqueue 10\n');
    await writeFile(
      file,
      [
        'executors:',
        '  a: { type: htcondor, submit_template: "sqlite:" }',
        '  b: { type: htcondor, submit_template: queues.sub }',
        '  c: { type: htcondor, submit_template: site }',
        'tasks:',
        '  t: { command: [t], executor: a }',
        '',
      ].join('\n'),
    );
    await assert.rejects(loadDeployment(file), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(
        err.problems.map((p) => `${p.line}:${p.col}: ${p.message}`),
        [
          `2:41: executors.a.submit_template: ${path.join(dir, 'sqlite:')} does not exist: point submit_template at the submit description (relative to the deployment file)`,
          `3:41: executors.b.submit_template: ${path.join(dir, 'queues.sub')}:2: \`queue 10\` queues a count or a list: autoctrl queues one job per launch (or one per input with jobs: { per: input }); end the template with a bare \`queue\` or none`,
          `4:41: executors.c.submit_template: ${path.join(dir, 'site')} is a directory: point submit_template at the submit description (relative to the deployment file)`,
        ],
      );
      return true;
    });
  });

  test('a missing file says how to fix it', () => {
    const empty = path.join(dir, 'site', 'nothing');
    assert.throws(
      () => findConfigFile({ env: {}, cwd: path.join(dir, 'missing') }),
      (err: unknown) =>
        err instanceof ConfigNotFoundError &&
        err.code === 'config_not_found' &&
        err.message.includes('pass -c FILE, set AUTOCTRL_CONFIG, or run `autoctrl init'),
    );
    assert.throws(
      () => findConfigFile({ env: { AUTOCTRL_CONFIG: empty }, cwd: dir }),
      /from AUTOCTRL_CONFIG/,
    );
    assert.throws(() => findConfigFile({ file: empty, env: {}, cwd: dir }), /given with -c/);
  });

  test('loadDeployment reads the file or throws every problem as FILE:LINE:COL', async () => {
    const d = await loadDeployment(path.join(dir, 'autoctrl.yaml'));
    assert.equal(d.dir, dir);
    const bad = path.join(dir, 'other.yaml');
    await assert.rejects(loadDeployment(bad), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.code, 'config_invalid');
      assert.equal(err.problems.length, 2);
      assert.equal(
        err.message,
        `${bad}:2:6: tasks.a: missing required key 'command'\n${bad}:2:17: tasks.a.retries: expected a whole number, got "x"`,
      );
      return true;
    });
    await assert.rejects(loadDeployment(path.join(dir, 'nope.yaml')), ConfigNotFoundError);
  });
});

describe('parseDuration', () => {
  test('numbers with units, plain seconds', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration('2m'), 120_000);
    assert.equal(parseDuration('1d'), 86_400_000);
    assert.equal(parseDuration('.5s'), 500);
    assert.equal(parseDuration('45'), 45_000);
    assert.equal(parseDuration(45), 45_000);
    assert.equal(parseDuration(0.25), 250);
    assert.equal(parseDuration('0'), 0);
  });

  test('anything else is null', () => {
    for (const bad of ['', 's', '5x', '-1s', '1h30m', '5 m', '1e3s', 'soon', '1.s']) {
      assert.equal(parseDuration(bad), null, bad);
    }
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY])
      assert.equal(parseDuration(bad), null);
  });
});
