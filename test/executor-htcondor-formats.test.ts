import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ExecutorUnavailableError } from '../src/errors.ts';
import { NASTY_ARGS } from '../src/executors/conformance/nasty.ts';
import type { JobLaunch } from '../src/executors/contract.ts';
import { CondorCli, parseAds, parseTerse } from '../src/executors/htcondor/commands.ts';
import { EventLog, parseEvents } from '../src/executors/htcondor/event-log.ts';
import { stateFromAd, stateFromLog } from '../src/executors/htcondor/job-files.ts';
import {
  commandLines,
  ESCAPED_ENV,
  escapeForWrapper,
  joinArgsV2Raw,
  quoteArguments,
  quoteEnvironment,
  SubmitQuotingError,
  WRAPPER_SCRIPT,
} from '../src/executors/htcondor/quoting.ts';
import {
  buildSubmitDescription,
  checkTemplate,
  parseTemplate,
  SubmitTemplateError,
} from '../src/executors/htcondor/submit-file.ts';
import { LAUNCH_DEFAULTS } from './executor-util.ts';

/** Recorded and format-exact HTCondor outputs (see test/fixtures/htcondor/README.md). */
const fixture = (name: string) =>
  readFile(new URL(`fixtures/htcondor/${name}`, import.meta.url), 'utf8');

async function logOf(name: string): Promise<EventLog> {
  const log = new EventLog();
  log.apply(parseEvents(await fixture(name)).events);
  return log;
}

const stateIn = (log: EventLog, id: string, timeoutMs: number | null = null) => {
  const logged = log.jobs.get(id);
  assert.ok(logged, `no job ${id} in the log`);
  return stateFromLog(id, logged, null, timeoutMs);
};

describe('job event log (recorded)', () => {
  it('submit, execute, image size, normal termination (ISO dates)', async () => {
    const log = await logOf('events-normal.log');
    assert.deepEqual(log.clusters, [984]);
    assert.deepEqual(stateIn(log, '984.0'), {
      state: 'exited',
      executorId: '984.0',
      exitCode: 0,
      signal: null,
      reason: null,
    });
  });

  it('abnormal termination by a signal; an abort logged after it changes nothing (MM/DD dates)', async () => {
    const text = await fixture('events-signal-abort.log');
    const { events } = parseEvents(text);
    assert.deepEqual(
      events.map((e) => e.code),
      [0, 1, 5, 9],
    );
    const log = new EventLog();
    log.apply(events);
    assert.deepEqual(stateIn(log, '1.0'), {
      state: 'exited',
      executorId: '1.0',
      exitCode: null,
      signal: 'SIGSEGV',
      reason: 'killed by SIGSEGV',
    });
  });

  it('two clusters in one log; an abort after a termination changes nothing', async () => {
    const log = await logOf('events-two-clusters.log');
    assert.deepEqual(log.clusters, [180158, 180159]);
    // Killed by SIGSEGV, then aborted: the termination counts.
    assert.deepEqual(stateIn(log, '180158.0'), {
      state: 'exited',
      executorId: '180158.0',
      exitCode: null,
      signal: 'SIGSEGV',
      reason: 'killed by SIGSEGV',
    });
    assert.equal((stateIn(log, '180159.0') as { exitCode: number }).exitCode, 0);
  });

  it('an eviction makes the job queued with its reason, and an abort after it says it is not rerun', async () => {
    const { events } = parseEvents(await fixture('events-evict.log'));
    const evict = events.find((e) => e.code === 4);
    assert.ok(evict);
    const log = new EventLog();
    log.apply(events.slice(0, 2).concat([{ ...evict, id: '1.0' }]));
    assert.deepEqual(stateIn(log, '1.0'), {
      state: 'queued',
      executorId: '1.0',
      reason: 'evicted: Job not found at execution machine',
    });
    log.apply([{ code: 9, id: '1.0', text: 'Job was aborted.', body: ['PeriodicRemove'] }]);
    assert.match(
      String((stateIn(log, '1.0', 1000) as { reason: string }).reason),
      /^evicted, not run again/,
    );
  });

  it("HTCondor's reader test file: every event type parses, a half-written last event is left for later", async () => {
    const text = await fixture('events-reader-test.log');
    const { events, consumed } = parseEvents(text);
    assert.ok(events.length > 40, String(events.length));
    assert.ok(consumed < text.length, 'the last event has no sync line yet');
    assert.equal(text.slice(consumed).split('\n')[0]?.slice(0, 3), '017');
    const codes = new Set(events.map((e) => e.code));
    for (const c of [0, 1, 2, 4, 5, 9, 10, 12, 13]) assert.ok(codes.has(c), `event ${c}`);
    const held = events.find((e) => e.code === 12);
    const log = new EventLog();
    log.apply([{ ...(held as (typeof events)[0]), id: '5.0' }]);
    assert.deepEqual(stateIn(log, '5.0'), {
      state: 'held',
      executorId: '5.0',
      reason: 'Reason unspecified',
    });
  });

  it('held with reason and codes, released, suspended, unsuspended (format of condor_event.cpp)', async () => {
    const { events } = parseEvents(await fixture('events-held.log'));
    const states = [];
    const log = new EventLog();
    for (const ev of events) {
      log.apply([ev]);
      states.push(stateIn(log, '2001.0'));
    }
    assert.deepEqual(states, [
      { state: 'queued', executorId: '2001.0', reason: null },
      {
        state: 'held',
        executorId: '2001.0',
        reason: 'via condor_hold (by user alice) (code 1 subcode 0)',
      },
      { state: 'queued', executorId: '2001.0', reason: 'via condor_release (by user alice)' },
      { state: 'running', executorId: '2001.0' },
      { state: 'suspended', executorId: '2001.0', reason: null },
      { state: 'running', executorId: '2001.0' },
      {
        state: 'held',
        executorId: '2001.0',
        reason:
          'Error from slot1_1@wn.example.org: Job has gone over cgroup memory limit of 2048 megabytes. (code 34 subcode 0)',
      },
    ]);
  });

  it('reads in pieces: a log cut anywhere gives the same states as read whole', async () => {
    const text = await fixture('events-two-clusters.log');
    const whole = await logOf('events-two-clusters.log');
    for (const cut of [1, 100, 357, text.length - 5]) {
      const log = new EventLog();
      const first = parseEvents(text.slice(0, cut));
      log.apply(first.events);
      log.apply(parseEvents(text.slice(first.consumed)).events);
      assert.deepEqual([...log.jobs], [...whole.jobs], `cut at ${cut}`);
    }
  });
});

describe('condor_submit, condor_q, condor_history output', () => {
  it('reads the job range of condor_submit -terse', async () => {
    assert.deepEqual(parseTerse(await fixture('condor_submit-terse.txt')), {
      cluster: 2001,
      first: 0,
      last: 2,
    });
    assert.throws(() => parseTerse('Submitting job(s).\n'), /no job range/);
  });

  it('reads -json ads, and no output at all as no ads', async () => {
    const ads = parseAds(await fixture('condor_q.json'));
    assert.deepEqual(
      ads.map((a) => [a.ClusterId, a.ProcId, a.JobStatus]),
      [
        [1, 2, 5],
        [2, 1, 3],
      ],
    );
    assert.deepEqual(parseAds(''), []);
  });

  it('turns queue and history ads into states', async () => {
    const [held, running] = parseAds(await fixture('condor_q-autoctrl.json'));
    assert.deepEqual(stateFromAd(held ?? {}, null), {
      state: 'held',
      executorId: '2001.0',
      reason: 'via condor_hold (by user alice) (code 1 subcode 0)',
    });
    assert.deepEqual(stateFromAd(running ?? {}, null), { state: 'running', executorId: '2001.1' });
    const [done, killed, removed] = parseAds(await fixture('condor_history.json'));
    assert.deepEqual(stateFromAd(done ?? {}, null), {
      state: 'exited',
      executorId: '2001.2',
      exitCode: 4,
      signal: null,
      reason: null,
    });
    assert.deepEqual(stateFromAd(killed ?? {}, null), {
      state: 'exited',
      executorId: '2002.0',
      exitCode: null,
      signal: 'SIGKILL',
      reason: 'killed by SIGKILL',
    });
    assert.equal(
      (stateFromAd(removed ?? {}, 'cancelled by operator') as { reason: string }).reason,
      'cancelled by operator',
    );
  });

  it('counts a missing tool as an unavailable executor', async () => {
    const cli = new CondorCli('condor', { schedd: null, pool: null }, 1000);
    const old = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await assert.rejects(cli.queue('true'), ExecutorUnavailableError);
    } finally {
      process.env.PATH = old;
    }
  });
});

/** What HTCondor reads back from a quoted new-syntax value (the stand-in's port of `split_args`). */
const { splitV2 } = createRequire(import.meta.url)('./fixtures/htcondor/arglist.cjs') as {
  splitV2: (quoted: string) => string[];
};

describe('submit-language quoting', () => {
  it("reads the manual's examples as documented", () => {
    assert.deepEqual(splitV2('"3 simple arguments"'), ['3', 'simple', 'arguments']);
    assert.deepEqual(splitV2(`"one 'two with spaces' 3"`), ['one', 'two with spaces', '3']);
    assert.deepEqual(splitV2(`"one ""two"" 'spacey ''quoted'' argument'"`), [
      'one',
      '"two"',
      "spacey 'quoted' argument",
    ]);
  });

  it('writes arguments as join_args does', () => {
    assert.equal(quoteArguments(['a', 'b c', '']), `"a b' 'c ''"`);
    assert.equal(quoteArguments(["it's"]), `"it''''s"`);
    assert.equal(quoteArguments(['say "hi"']), `"say' '""hi"""`);
    assert.equal(joinArgsV2Raw(['x\ty']), "x'\t'y");
  });

  it('round-trips every submit-safe NASTY value, and refuses the others', () => {
    const safe = NASTY_ARGS.filter((v) => !/[\n$]/.test(v));
    assert.deepEqual(splitV2(quoteArguments(safe)), safe);
    for (const v of NASTY_ARGS.filter((x) => /[\n$]/.test(x)))
      assert.throws(() => quoteArguments([v]), SubmitQuotingError);
  });

  it("writes the environment as HTCondor's Env does, exactly these variables", () => {
    const env = { one: '1', two: '"2"', three: "spacey 'quoted' value", EMPTY: '' };
    const entries = splitV2(quoteEnvironment(env));
    assert.deepEqual(entries, ['one=1', 'two="2"', "three=spacey 'quoted' value", 'EMPTY=']);
    assert.throws(() => quoteEnvironment({ 'A B': 'x' }), /letters, digits/);
    assert.throws(() => quoteEnvironment({ A: 'x\ny' }), SubmitQuotingError);
  });

  it('passes plain commands as they are, and the rest through the launcher', () => {
    const plain = commandLines(['/bin/echo', 'a b'], { X: '1' }, '/w.sh');
    assert.deepEqual(plain, {
      executable: '/bin/echo',
      arguments: `"a' 'b"`,
      environment: '"X=1"',
    });
    const wrapped = commandLines(['echo', '$HOME'], { X: 'a\nb' }, '/w.sh');
    assert.equal(wrapped.executable, '/w.sh');
    assert.ok(!wrapped.arguments.includes('$') && !wrapped.environment.includes('\n'));
    assert.deepEqual(splitV2(wrapped.environment), [`X=a\\nb`, `${ESCAPED_ENV}=X`]);
  });

  it('the launcher restores every NASTY value exactly, in argv and in env, under POSIX sh', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'autoctrl-condor-wrapper-'));
    try {
      const wrapper = join(dir, 'w.sh');
      await writeFile(wrapper, WRAPPER_SCRIPT, { mode: 0o755 });
      const value = '$(touch pwned-env); "x" \'y\'\n`z`\n\n';
      const lines = commandLines(
        ['printf', '%s\\0', ...NASTY_ARGS],
        { V: value, PATH: '/usr/bin:/bin' },
        wrapper,
      );
      const args = splitV2(lines.arguments);
      const env = Object.fromEntries(
        splitV2(lines.environment).map((e) => [
          e.slice(0, e.indexOf('=')),
          e.slice(e.indexOf('=') + 1),
        ]),
      );
      const out = await new Promise<string>((resolve, reject) =>
        execFile(lines.executable, args, { env, cwd: dir }, (err, stdout) =>
          err ? reject(err) : resolve(stdout),
        ),
      );
      assert.deepEqual(out.split('\0').slice(0, -1), NASTY_ARGS);
      const seen = await new Promise<string>((resolve, reject) =>
        execFile(
          lines.executable,
          splitV2(
            commandLines(
              ['sh', '-c', 'printf %s "$V"; env | grep -c AUTOCTRL_CONDOR || true'],
              env,
              wrapper,
            ).arguments,
          ),
          { env, cwd: dir },
          (err, stdout) => (err ? reject(err) : resolve(stdout)),
        ),
      );
      assert.equal(seen, `${value}0\n`);
      assert.equal(escapeForWrapper('\\c'), '\\\\c');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function launch(extra: Partial<JobLaunch> = {}): JobLaunch {
  return {
    ...LAUNCH_DEFAULTS,
    jobId: 17,
    instanceId: 3,
    name: 'cms-prod-17.1',
    argv: ['/afs/cern.ch/user/e/ecal/pi0/runreco.py', '--run', '335720'],
    env: { PATH: '/usr/bin:/bin' },
    cwd: '/afs/cern.ch/user/e/ecal/pi0',
    workDir: '/data/jobs/17.1',
    logPath: '/data/logs/17.1.log',
    timeoutMs: 3_600_000,
    ...extra,
  };
}

const plan = { log: '/data/b.log', batchName: 'cms-prod-b1', sharedFs: true, wrapper: '/w.sh' };

describe('submit description', () => {
  const template = parseTemplate(
    'template.sub',
    [
      'universe = vanilla',
      '+JobFlavour = "workday"',
      'request_memory = 2000',
      '# executable = commented out',
      'requirements = (OpSysAndVer =?= "AlmaLinux9")',
    ].join('\n'),
  );

  it("keeps the user's template and adds per job what autoctrl sets, one queue each", () => {
    const { text } = buildSubmitDescription(
      template,
      [launch(), launch({ jobId: 18, name: 'cms-prod-18.1' })],
      plan,
    );
    assert.ok(text.includes('+JobFlavour = "workday"'));
    assert.equal(text.match(/^queue 1$/gm)?.length, 2);
    assert.match(text, /^log = \/data\/b\.log$/m);
    assert.match(text, /^getenv = false$/m);
    assert.match(text, /^executable = \/afs\/cern\.ch\/user\/e\/ecal\/pi0\/runreco\.py$/m);
    assert.match(text, /^arguments = "--run 335720"$/m);
    assert.match(text, /^\+AutoctrlJob = "cms-prod-18\.1"$/m);
    assert.match(
      text,
      /^periodic_remove = \(JobStatus == 1 && NumJobStarts > 0\) \|\| \(JobStatus == 2 && \(time\(\) - JobCurrentStartDate\) > 3600\)$/m,
    );
  });

  it('refuses a template that sets what autoctrl sets, naming the line', () => {
    const bad = parseTemplate('template.sub', 'universe = vanilla\nExecutable = run.sh\n');
    assert.throws(
      () => checkTemplate(bad, true),
      (err: Error) =>
        err instanceof SubmitTemplateError && /template\.sub:2: `executable`/.test(err.message),
    );
    assert.throws(() => parseTemplate('t.sub', 'queue 10\n'), /template\.sub|t\.sub:1/);
    assert.throws(() => parseTemplate('t.sub', 'queue input from files.txt\n'), /t\.sub:1/);
    // The user's template as condor_submit takes it: its own `queue` is left out, one per launch is added.
    const own = parseTemplate('t.sub', 'request_memory = 2000\nqueue\n');
    const { text } = buildSubmitDescription(own, [launch()], plan);
    assert.equal(text.match(/^queue/gm)?.length, 1);
    assert.match(text, /^# queue \(autoctrl queues one job per launch\)$/m);
    const transfer = parseTemplate('t.sub', 'should_transfer_files = YES\n');
    checkTemplate(transfer, true);
    assert.throws(() => checkTemplate(transfer, false), /shared_fs: false/);
    checkTemplate(template, true);
  });

  it('passes resources through, as ClassAd strings for +attributes, and says when they override the template', () => {
    const { text, warnings } = buildSubmitDescription(
      template,
      [launch({ resources: { request_memory: 4000, '+JobFlavour': 'tomorrow', request_cpus: 4 } })],
      plan,
    );
    assert.match(text, /^request_memory = 4000$/m);
    assert.match(text, /^\+JobFlavour = "tomorrow"$/m);
    assert.deepEqual(warnings, [
      'resource request_memory of the task overrides template.sub:3',
      'resource +JobFlavour of the task overrides template.sub:2',
    ]);
    assert.throws(
      () => buildSubmitDescription(null, [launch({ resources: { log: 'x' } })], plan),
      /set by autoctrl/,
    );
  });

  it('without a template: a vanilla default with the resources; without a shared filesystem: transfers', () => {
    const { text } = buildSubmitDescription(null, [launch({ resources: { request_cpus: 2 } })], {
      ...plan,
      sharedFs: false,
    });
    assert.match(text, /^universe = vanilla$/m);
    assert.match(text, /^request_cpus = 2$/m);
    assert.match(text, /^should_transfer_files = YES$/m);
    assert.match(
      text,
      /^transfer_input_files = \/data\/jobs\/17\.1\/inputs\.json, \/data\/jobs\/17\.1\/out$/m,
    );
    assert.match(text, /^transfer_output_files = out$/m);
    assert.match(text, /^initialdir = \/data\/jobs\/17\.1$/m);
  });

  it('sends a batch with different programs through the launcher: one executable per cluster', () => {
    const { text } = buildSubmitDescription(
      null,
      [launch(), launch({ jobId: 18, name: 'cms-prod-18.1', argv: ['/bin/true'] })],
      plan,
    );
    assert.deepEqual([...new Set(text.match(/^executable = .*$/gm))], ['executable = /w.sh']);
  });
});

describe('examples/htcondor', () => {
  it('loads, and its template.sub passes the executor', async () => {
    const { loadDeployment } = await import('../src/config/load.ts');
    const { createHTCondorExecutor } = await import('../src/executors/htcondor/index.ts');
    const file = new URL('../examples/htcondor/autoctrl.yaml', import.meta.url).pathname;
    const deployment = await loadDeployment(file);
    const cfg = deployment.executors.lxbatch;
    assert.equal(cfg?.type, 'htcondor');
    const dataDir = await mkdtemp(join(tmpdir(), 'autoctrl-condor-example-'));
    try {
      const ex = await createHTCondorExecutor('lxbatch', cfg?.options ?? {}, {
        logger: (await import('../src/logger.ts')).silentLogger(),
        dataDir,
        host: 'test',
        configDir: deployment.dir,
        maxJobs: cfg?.maxJobs ?? null,
        pollIntervalMs: cfg?.pollIntervalMs ?? null,
      });
      assert.equal(ex.maxJobs, 2000);
      assert.equal(ex.pollIntervalMs, 30_000);
      await ex.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
