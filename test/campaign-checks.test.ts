import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCampaign } from '../src/app/campaigns.ts';
import { EtaEstimator, formatDuration } from '../src/cli/campaign-render.ts';
import { campaignCap, chooseJobs } from '../src/engine/slot-share.ts';
import type { Job } from '../src/model/types.ts';
import type { CampaignProgress } from '../src/views/campaign-progress.ts';
import { withRuns } from './campaign-setup.ts';
import { assertNoLeaksAtEnd } from './helpers.ts';

assertNoLeaksAtEnd();

describe('campaign creation checks', () => {
  it('names what to fix: tasks, --set keys and values, the selection, the name, the share', async () => {
    const rt = await withRuns();
    const refused = async (req: Parameters<typeof createCampaign>[1], message: RegExp) =>
      assert.rejects(createCampaign(rt, req, 'test'), (err: Error) => {
        assert.match(err.message, message);
        return true;
      });
    const base = { name: 'c1', runs: '1-3' };
    await refused(
      { ...base, tasks: ['reco', 'nope'] },
      /--tasks: unknown task 'nope' \(tasks: reco, calib, quick\)/,
    );
    await refused(
      { ...base, set: { 'reco.colour': 'red' } },
      /--set reco.colour=red: unknown key 'colour': settable are command, command.N, env.NAME/,
    );
    await refused(
      { ...base, set: { 'reco.retries': 'abc' } },
      /--set reco.retries=abc: retries: the value must be a whole number ≥ 0/,
    );
    await refused(
      { ...base, set: { 'reco.timeout': 'soon' } },
      /--set reco.timeout=soon: timeout: bad duration "soon": write a number and a unit/,
    );
    await refused(
      { ...base, set: { 'reco.timeout': '400d' } },
      /--set reco.timeout=400d: timeout: "400d" is longer than .*365d/,
    );
    await refused(
      { ...base, set: { 'reco.jobs': 1_000_000 } },
      /--set reco.jobs=1000000: jobs: 1000000 jobs is more than the 10000 .*limits.max_jobs_per_instance/,
    );
    await refused(
      { ...base, set: { 'reco.env.GT': ['a'] } },
      /--set reco.env.GT=\["a"\]: env.GT: the value must be a string/,
    );
    await refused(
      { ...base, set: { 'reco.executor': 'slurm' } },
      /unknown executor \(executors: local\)/,
    );
    await refused(
      { ...base, set: { 'nope.retries': 1 } },
      /--set nope.retries=1: write TASK.KEY=VALUE with a known task/,
    );
    await refused(
      { ...base, tasks: ['calib'], set: { 'reco.retries': 1 } },
      /task reco is not run by this campaign \(its tasks: calib\); add it to --tasks/,
    );
    await refused(
      { ...base, set: { 'reco.command.5': '-v' } },
      /--set reco.command.5=-v: the command has 2 arguments: use an index up to 1, or 2 to append one/,
    );
    await refused({ ...base, set: { 'reco.command.1': '{rn}' } }, /unknown placeholder \{rn\}/);
    await refused(
      { name: 'c1', runs: '500-600' },
      /no ended run matches --runs 500-600: `autoctrl runs list`/,
    );
    await refused(
      { name: 'c1', fill: 5, type: 'cosmics' },
      /no ended run matches --fill 5 --type cosmics/,
    );
    await refused(
      { name: 'c1', type: 'collisions' },
      /say which runs to reprocess: --runs A-B, --fill F or --since ISO/,
    );
    await refused({ name: 'c1', runs: '3-1' }, /--runs: "3-1" is not a run range/);
    await refused(
      { name: 'c1', since: 'yesterday' },
      /--since: "yesterday" is not an ISO date-time/,
    );
    await refused({ ...base, name: 'prompt' }, /prompt is the live campaign and always exists/);
    await refused({ ...base, name: 'Big Name' }, /a campaign name is up to 64 lower-case letters/);
    await refused({ ...base, share: 1.5 }, /--share: 1.5 is not a fraction of the job slots/);
    assert.deepEqual(await rt.store.listCampaigns(), [], 'nothing stored by a refused request');

    const made = await createCampaign(
      rt,
      {
        ...base,
        set: {
          'reco.command': '[reco2.sh, "{run}"]',
          'reco.command.2': '--fast',
          'reco.timeout': '2h',
        },
      },
      'test',
    );
    assert.deepEqual(made.overrides, [
      { task: 'reco', key: 'command', value: ['reco2.sh', '{run}'] },
      { task: 'reco', key: 'command.2', value: '--fast' },
      { task: 'reco', key: 'timeout', value: 7_200_000 },
    ]);
    assert.equal(made.share, 0.5);
    await assert.rejects(createCampaign(rt, base, 'test'), { code: 'campaign_exists' });
  });
});

let nextId = 0;
function job(campaign: string, claimed = false): Job {
  nextId++;
  return {
    id: nextId,
    instanceId: nextId,
    campaign,
    task: 't',
    index: 0,
    attempt: 1,
    instanceAttempt: 1,
    status: 'idle',
    executor: 'local',
    executorId: null,
    claimedBy: claimed ? 'ctl' : null,
    claimedAt: null,
    claimExpiresAt: null,
    notBefore: null,
    queueState: null,
    queueSince: null,
    input: null,
    logPath: null,
    exitCode: null,
    reason: null,
    fields: {},
    createdAt: 0,
    submittedAt: null,
    startedAt: null,
    endedAt: null,
  };
}

describe('slot share', () => {
  const shareOf = (c: string) => (c === 'prompt' ? null : c === 'small' ? 0.25 : 0.5);

  it('gives prompt the free slots first and caps each campaign at its share', () => {
    const held = [job('bulk', true)];
    const ready = [
      job('bulk'),
      job('bulk'),
      job('prompt'),
      job('small'),
      job('small'),
      job('prompt'),
    ];
    const names = (jobs: Job[]) => jobs.map((j) => j.campaign);
    assert.deepEqual(names(chooseJobs(ready, [...held, ...ready], 3, 4, shareOf)), [
      'prompt',
      'prompt',
      'bulk',
    ]);
    assert.deepEqual(names(chooseJobs(ready, [...held, ...ready], 9, 8, shareOf)), [
      'prompt',
      'prompt',
      'bulk',
      'bulk',
      'small',
      'small',
    ]);
    assert.deepEqual(names(chooseJobs(ready, ready, Infinity, Infinity, shareOf)).length, 6);
  });

  it('lets a campaign advance by one job even on a single slot', () => {
    assert.equal(campaignCap(0.3, 1), 1);
    assert.equal(campaignCap(0.5, 4), 2);
    assert.equal(campaignCap(0.3, 10), 3);
    assert.equal(campaignCap(0.1, Infinity), Infinity);
  });
});

describe('ETA', () => {
  const progress = (settled: number, total: number, createdAt: number | null = 0) =>
    ({
      name: 'c',
      state: 'active',
      runs: total,
      tasks: ['t'],
      share: 0.5,
      createdAt,
      instances: { new: total - settled, waiting: 0, processing: 0, done: settled, failed: 0 },
      jobs: { idle: 0, running: 0, done: settled, failed: 0 },
      settled,
      percent: (100 * settled) / total,
      complete: settled === total,
    }) satisfies CampaignProgress;

  it('follows the recent completion rate, else the average since creation', () => {
    const eta = new EtaEstimator(60_000);
    eta.add(10_000, 10);
    assert.equal(eta.remainingMs(progress(10, 50), 10_000), 40_000, '10 in 10 s since creation');
    eta.add(20_000, 30);
    assert.equal(eta.remainingMs(progress(30, 50), 20_000), 10_000, '20 in the last 10 s');
    assert.equal(new EtaEstimator().remainingMs(progress(0, 50, null), 20_000), null);
    assert.equal(eta.remainingMs(progress(50, 50), 20_000), 0);
    assert.deepEqual([45_000, 200_000, 3_725_000, 200_000_000].map(formatDuration), [
      '45s',
      '3m20s',
      '1h02m',
      '2d07h',
    ]);
  });
});
