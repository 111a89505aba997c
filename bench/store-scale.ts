import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { intake } from '../src/engine/intake.ts';
import { silentLogger } from '../src/logger.ts';
import { openRuntime } from '../src/runtime.ts';
import { createSqliteStore } from '../src/store/sqlite/index.ts';
import { deployment } from '../test/fixtures.ts';
import { benchTasks, type Figure, median, report, scratch } from './lib.ts';

const RUNS = 10_000;
const TASKS = 30;
const OUT = fileURLToPath(new URL('./out/', import.meta.url));
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

/**
 * A year-like store: 10,000 runs × 30 tasks, every instance done with one
 * done job, filled through the public store API (as the engine would) and
 * kept in bench/out/ between runs because filling takes a while.
 */
async function filledStore(): Promise<string> {
  const file = join(OUT, `store-${RUNS}x${TASKS}.db`);
  if (existsSync(file)) return file;
  mkdirSync(OUT, { recursive: true });
  const partial = `${file}.partial`;
  const store = await createSqliteStore(partial, { logger: silentLogger() });
  const t0 = Date.now();
  await store.upsertRuns(
    Array.from({ length: RUNS }, (_, i) => ({
      run: 300_000 + i,
      fill: 8000 + Math.floor(i / 8),
      lumi: 50 + (i % 100),
      start: 1_700_000_000_000 + i * 3_600_000,
      end: 1_700_000_000_000 + i * 3_600_000 + 3_000_000,
      type: 'collisions',
      meta: { global_tag: '130X_dataRun3_Prompt_v3' },
    })),
    'bench',
  );
  const feed = await store.feedHead();
  for (const task of benchTasks(TASKS)) {
    const insts = await store.createInstances(
      Array.from({ length: RUNS }, (_, i) => ({
        campaign: 'prompt',
        task: task.name,
        groupKey: `run:${300_000 + i}`,
        runs: [300_000 + i],
      })),
      'bench',
      {
        cursor: {
          key: `intake:prompt:${task.name}`,
          value: JSON.stringify({ seq: 0, feed, pending: [], maxFill: 0 }),
        },
      },
    );
    for (const inst of insts) {
      const { jobs } = await store.startInstance(inst.id, {
        from: 'new',
        configHash: 'bench',
        config: { task: task.name },
        jobs: [{ index: 0, attempt: 1, executor: 'local', input: null, notBefore: null }],
        reason: null,
        by: 'bench',
        at: Date.now(),
      });
      for (const j of jobs) {
        await store.claimJobs([j.id], { owner: 'bench', ttlMs: 60_000 });
        await store.transitionJob(j.id, {
          from: 'idle',
          to: 'done',
          reason: null,
          by: 'bench',
          at: Date.now(),
          exitCode: 0,
        });
      }
      await store.transitionInstance(inst.id, {
        from: 'processing',
        to: 'done',
        reason: null,
        by: 'bench',
        at: Date.now(),
      });
    }
    process.stdout.write(`  filled ${task.name} (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
  }
  await store.close();
  renameSync(partial, file);
  return file;
}

async function noopPass(db: string): Promise<Figure> {
  const s = scratch('autoctrl-bench-');
  try {
    copyFileSync(db, join(s.dir, 'state.db'));
    const rt = await openRuntime(deployment(s.dir, benchTasks(TASKS)), {
      logger: silentLogger(),
    });
    const times: number[] = [];
    for (let i = 0; i < 25; i++) {
      const t = performance.now();
      const r = await rt.engine.pass();
      times.push(performance.now() - t);
      if (r.created + r.started + r.submitted > 0)
        throw new Error('the bench store was not all done');
    }
    await rt.close();
    return report({
      name: `pass with nothing to do (${RUNS} runs × ${TASKS} tasks, all done), median of 25`,
      value: median(times.slice(5)),
      unit: 'ms',
      target: '≤ 50 ms',
      ok: median(times.slice(5)) <= 50,
    });
  } finally {
    s.remove();
  }
}

async function intakeThousand(db: string): Promise<Figure> {
  const times: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const s = scratch('autoctrl-bench-');
    try {
      copyFileSync(db, join(s.dir, 'state.db'));
      const rt = await openRuntime(deployment(s.dir, benchTasks(TASKS)), {
        logger: silentLogger(),
      });
      await rt.store.upsertRuns(
        Array.from({ length: 1000 }, (_, i) => ({
          run: 400_000 + i,
          fill: 9000,
          lumi: 80,
          start: 1,
          end: 2,
        })),
        'bench',
      );
      const t = performance.now();
      let created = 0;
      for (const task of rt.deployment.tasks)
        created += (await intake(rt.engine.ctx, 'prompt', task)).length;
      times.push(performance.now() - t);
      if (created !== 1000 * TASKS) throw new Error(`intake created ${created}`);
      await rt.close();
    } finally {
      s.remove();
    }
  }
  const v = median(times);
  return report({
    name: `intake of 1,000 new runs into ${TASKS} tasks, median of 3`,
    value: v,
    unit: 'ms',
    target: '≤ 1000 ms',
    ok: v <= 1000,
  });
}

async function daemonMemory(db: string): Promise<Figure> {
  const s = scratch('autoctrl-bench-');
  try {
    copyFileSync(db, join(s.dir, 'state.db'));
    const tasks = benchTasks(TASKS)
      .map(
        (t) =>
          `  ${t.name}:\n    command: ["true"]\n${t.after.length ? `    after: [${t.after.join(', ')}]\n` : ''}`,
      )
      .join('');
    writeFileSync(
      join(s.dir, 'autoctrl.yaml'),
      `store: sqlite:state.db\nengine: { interval: 200ms }\ntasks:\n${tasks}`,
    );
    const child = spawn(
      process.execPath,
      [CLI, 'serve', '-c', join(s.dir, 'autoctrl.yaml'), '--port', '0'],
      {
        stdio: 'ignore',
      },
    );
    const samples: number[] = [];
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      samples.push(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
    }
    child.kill('SIGTERM');
    const peak = Math.max(...samples);
    return report({
      name: `daemon resident memory on that store (peak of 10 samples over 5 s of passes every 200 ms)`,
      value: peak,
      unit: 'MB',
      target: '≤ 200 MB',
      ok: peak <= 200,
    });
  } finally {
    s.remove();
  }
}

export async function benchStoreScale(): Promise<Figure[]> {
  const db = await filledStore();
  return [await noopPass(db), await intakeThousand(db), await daemonMemory(db)];
}
