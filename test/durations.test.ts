import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, mock } from 'node:test';
import { checkDuration, MAX_DURATION_MS, parseDuration } from '../src/config/duration.ts';
import { validateDeploymentText } from '../src/config/load.ts';
import type { ExecutorJobState } from '../src/executors/contract.ts';
import { LocalExecutor } from '../src/executors/local/index.ts';
import { silentLogger } from '../src/logger.ts';
import { createCommandSource } from '../src/sources/command/index.ts';
import { MAX_TIMER_MS, setLongInterval, setLongTimeout } from '../src/timers.ts';
import { LAUNCH_DEFAULTS, submitOne } from './executor-util.ts';
import { assertNoLeaksAtEnd } from './helpers.ts';

assertNoLeaksAtEnd();
const FILE = '/srv/calib/autoctrl.yaml';
const base = mkdtempSync(join(tmpdir(), 'autoctrl-durations-'));
after(() => rmSync(base, { recursive: true, force: true }));
const MONTH = 30 * 86_400_000;

function problems(text: string): string[] {
  return validateDeploymentText(text, FILE).problems.map((p) => `${p.line}:${p.col}: ${p.message}`);
}

describe('durations are bounded', () => {
  it('parses up to 365 days and refuses longer, saying the bound', () => {
    assert.equal(parseDuration('365d'), MAX_DURATION_MS);
    assert.equal(parseDuration('366d'), null);
    assert.equal(parseDuration(`1${'0'.repeat(400)}`), null);
    assert.deepEqual(checkDuration('30d', 'positive'), { ok: true, ms: MONTH });
    const late = checkDuration('400d', 'zero');
    assert.ok(!late.ok && /longer than .* \(365d\): write at most 365d/.test(late.problem));
  });

  it('validate names FILE:LINE:COL for every absurd duration of the file', () => {
    const text = `engine: { interval: 400d }
sources:
  cmd: { type: command, command: [x], interval: 1000d, timeout: 9999d }
notify:
  chat: { type: webhook, url: http://x, fold_window: 500d }
tasks:
  reco:
    command: [reco]
    timeout: 30000d
    retry_delay: 1e9
    locks:
      - { kind: delay, after: 400d }
`;
    const found = problems(text);
    const at = found.map((p) => p.split(': ')[0]);
    assert.deepEqual(at, ['1:21', '3:49', '3:65', '5:54', '9:14', '10:18', '12:31']);
    for (const p of found) assert.match(p, /write at most 365d/);
  });

  it('30 days is a valid timeout, interval and retry delay', () => {
    const text = `engine: { interval: 30d }
tasks:
  reco: { command: [reco], timeout: 30d, retry_delay: 30d }
`;
    assert.deepEqual(validateDeploymentText(text, FILE).problems, []);
  });
});

describe('long timers', () => {
  it('setLongTimeout chains timers beyond Node limit and fires once, on time', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    let fired = 0;
    setLongTimeout(() => fired++, MAX_TIMER_MS * 2 + 10);
    t.mock.timers.tick(MAX_TIMER_MS);
    t.mock.timers.tick(MAX_TIMER_MS);
    assert.equal(fired, 0);
    t.mock.timers.tick(10);
    assert.equal(fired, 1);
    t.mock.timers.tick(MAX_TIMER_MS * 3);
    assert.equal(fired, 1);
  });

  it('setLongInterval repeats each long period and stops when cleared', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    let fired = 0;
    const timer = setLongInterval(() => fired++, MONTH);
    t.mock.timers.tick(MONTH - 1);
    assert.equal(fired, 0);
    t.mock.timers.tick(1);
    assert.equal(fired, 1);
    t.mock.timers.tick(MONTH);
    assert.equal(fired, 2);
    timer.clear();
    t.mock.timers.tick(MONTH * 2);
    assert.equal(fired, 2);
    assert.throws(() => setLongInterval(() => {}, 0), RangeError);
  });

  it('a cleared chain never fires', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const fn = mock.fn();
    const timer = setLongTimeout(fn, MAX_TIMER_MS + 5);
    t.mock.timers.tick(MAX_TIMER_MS);
    timer.clear();
    t.mock.timers.tick(MAX_TIMER_MS);
    assert.equal(fn.mock.callCount(), 0);
  });
});

describe('a timeout of weeks', () => {
  it('does not kill a local job early (Node would fire a 30d timer after 1 ms)', async () => {
    const ex = new LocalExecutor('local', { slots: 1, logger: silentLogger() });
    const workDir = join(base, 'job-1');
    const ended = new Promise<ExecutorJobState>((resolve) => ex.onChange((_, s) => resolve(s)));
    await submitOne(ex, {
      ...LAUNCH_DEFAULTS,
      instanceId: 1,
      jobId: 1,
      name: 'autoctrl-1',
      argv: [process.execPath, '-e', 'setTimeout(() => process.exit(0), 300)'],
      env: {},
      cwd: base,
      workDir,
      logPath: join(workDir, 'log'),
      timeoutMs: 21 * 86_400_000 + MAX_TIMER_MS,
    });
    const keepAlive = setInterval(() => {}, 1000); // the job and its timer do not hold the loop
    const state = await ended;
    clearInterval(keepAlive);
    await ex.close();
    assert.deepEqual(state, { ...state, state: 'exited', exitCode: 0, reason: null });
  });

  it('does not kill a command source early', async () => {
    const source = await createCommandSource(
      'cmd',
      { command: [process.execPath, '-e', 'setTimeout(() => {}, 200)'], timeout: '60d' },
      { logger: silentLogger(), dir: base },
    );
    assert.deepEqual(await source.poll(null, Date.now()), { cursor: null, runs: [] });
  });
});
