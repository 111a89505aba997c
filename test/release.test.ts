import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ActionRefusedError } from '../src/app/actions.ts';
import { ReleaseNotSupportedError, releaseHeldJobs } from '../src/app/release.ts';
import { jobRef } from '../src/engine/launch.ts';
import { silentLogger } from '../src/logger.ts';
import type { Job } from '../src/model/types.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { createServerApp } from '../src/server/app.ts';
import { assertNoLeaksAtEnd, deployment, task, tempDir, until } from './helpers.ts';

/**
 * An operator releasing held jobs: against the HTCondor stand-ins
 * (test/fixtures/htcondor/bin: condor_hold holds an idle job, condor_release
 * answers with HTCondor's own lines), through the engine, the app action and
 * the API; refused for an executor without `release`.
 */
assertNoLeaksAtEnd();

const dir = tempDir('autoctrl-release-');
const schedd = join(dir, 'schedd');
process.env.PATH = `${fileURLToPath(new URL('fixtures/htcondor/bin', import.meta.url))}${delimiter}${process.env.PATH ?? ''}`;
process.env.CONDOR_STANDIN_DIR = schedd;
mkdirSync(schedd, { recursive: true });
// Jobs stay idle this long: long enough to be held by condor_hold before they start.
writeFileSync(join(schedd, 'start-delay-ms'), '3000');

const TOKEN = 'operator-token-for-release-tests';

async function condorWorld(sub: string, executor: 'condor' | 'local'): Promise<Runtime> {
  const d = deployment(join(dir, sub), [task('reco', { executor, command: ['/bin/true'] })], {
    auth: {
      readOpen: true,
      operators: [{ name: 'alice', tokenSha256: createHash('sha256').update(TOKEN).digest('hex') }],
    },
  });
  mkdirSync(d.dir, { recursive: true });
  d.executors.condor = {
    type: 'htcondor',
    maxJobs: null,
    pollIntervalMs: 100,
    lostAfterMs: 600_000,
    options: {},
  };
  const rt = await openRuntime(d, { logger: silentLogger() });
  await rt.store.upsertRuns([{ run: 7, fill: 1, lumi: 10, start: 1, end: 2 }], 'test');
  return rt;
}

async function theJob(rt: Runtime): Promise<Job | undefined> {
  const [inst] = await rt.store.instancesForRuns('prompt', 'reco', [7]);
  return inst === undefined ? undefined : (await rt.store.jobsForInstance(inst.id))[0];
}

describe('releasing held jobs', () => {
  it('releases an HTCondor job held by the batch system, names the operator, and the job then runs', async () => {
    const rt = await condorWorld('condor', 'condor');
    try {
      const submitted = await until(async () => {
        await rt.engine.pass();
        const j = await theJob(rt);
        return j?.executorId != null ? j : undefined;
      });
      const hold = spawnSync('condor_hold', [submitted.executorId as string], { encoding: 'utf8' });
      assert.equal(hold.stdout, `Job ${submitted.executorId} held\n`);
      const held = await until(async () => {
        await rt.engine.pass();
        const j = await theJob(rt);
        return j?.queueState === 'held' ? j : undefined;
      });
      assert.match(held.reason ?? '', /via condor_hold/);

      const { app, close } = createServerApp(rt, { trigger: () => {}, health: () => null });
      const post = (token?: string) =>
        app.request(`/api/instances/${held.instanceId}/release`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          },
          body: '{}',
        });
      try {
        assert.equal((await post()).status, 401, 'an operator action');
        const res = await post(TOKEN);
        assert.equal(res.status, 200, await res.clone().text());
        assert.deepEqual(await res.json(), { released: [held.id] });
      } finally {
        close();
      }
      const [event] = (
        await rt.store.listEvents({ instanceId: held.instanceId, limit: 100 })
      ).filter((e) => e.data?.action === 'release');
      assert.equal(event?.by, 'operator:alice');
      assert.equal(event?.entityId, String(held.id));
      assert.match(event?.reason ?? '', /released by operator:alice \(was held: via condor_hold/);

      const done = await until(async () => {
        await rt.engine.pass();
        const j = await theJob(rt);
        return j?.status === 'done' ? j : undefined;
      }, 20_000);
      assert.equal(done.queueState, null);
      await assert.rejects(
        releaseHeldJobs(rt.engine.ctx, held.instanceId, { by: 'operator:alice' }),
        ActionRefusedError,
        'nothing is held any more',
      );
      // condor_release of a job that ended ("Job 1.0 not found", exit 1) is no error for release().
      await rt.executors.get('condor')?.release?.([jobRef(rt.engine.ctx, done)]);
    } finally {
      await rt.close();
    }
  });

  it('refuses for an executor that cannot release, and releases nothing', async () => {
    const rt = await condorWorld('local', 'local');
    try {
      const job = await until(async () => {
        await rt.engine.pass();
        const j = await theJob(rt);
        return j?.claimedBy != null ? j : undefined;
      });
      // A local job is never held; say it is, as an executor would, to reach the refusal.
      await rt.store.setJobQueueState(job.id, {
        owner: job.claimedBy as string,
        state: 'held',
        reason: 'test',
      });
      await assert.rejects(
        releaseHeldJobs(rt.engine.ctx, job.instanceId, { by: 'operator:bob' }),
        (err: unknown) =>
          err instanceof ReleaseNotSupportedError && /local cannot release/.test(err.message),
      );
      const events = await rt.store.listEvents({ instanceId: job.instanceId, limit: 100 });
      assert.equal(events.filter((e) => e.data?.action === 'release').length, 0);
    } finally {
      await rt.close();
    }
  });
});
