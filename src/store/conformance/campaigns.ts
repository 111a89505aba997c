import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Campaign } from '../../model/campaign.ts';
import { type Fixture, newJob, T0 } from './fixture.ts';

function campaign(name: string, over: Partial<Campaign> = {}): Campaign {
  return {
    name,
    selection: { runs: { from: 1, to: 3 }, type: 'collisions' },
    runs: [1, 2, 3],
    tasks: ['reco', 'calib'],
    overrides: [
      { task: 'reco', key: 'env.GT', value: '130X_v4' },
      { task: 'reco', key: 'command', value: ['reco.py', '{run}'] },
      { task: 'calib', key: 'retries', value: 2 },
    ],
    share: 0.3,
    createdAt: T0,
    createdBy: 'cli:alice',
    ...over,
  };
}

/** Campaigns, their progress counts, and the selection of runs that feeds them. */
export { campaign as sampleCampaign };

export function testCampaigns(f: Fixture): void {
  describe('campaigns', () => {
    it('stores a campaign whole, with a created event, and lists campaigns oldest first', async () => {
      const c = campaign('rereco');
      const stored = { ...c, state: 'active', revision: 1 };
      assert.deepEqual(await f.store.createCampaign(c), stored);
      await f.store.createCampaign(campaign('alpha', { createdAt: T0 + 5, share: 1 }));
      assert.deepEqual(await f.store.getCampaign('rereco'), stored);
      assert.equal(await f.store.getCampaign('nope'), null);
      assert.deepEqual(
        (await f.store.listCampaigns()).map((x) => [x.name, x.share]),
        [
          ['rereco', 0.3],
          ['alpha', 1],
        ],
      );
      assert.deepEqual(await f.store.campaignNames(), ['rereco', 'alpha']);
      const events = await f.store.listEvents({ entity: 'campaign', entityId: 'rereco' });
      assert.deepEqual(
        events.map((e) => [e.campaign, e.from, e.to, e.by, e.at, e.data?.runs, e.data?.share]),
        [['rereco', null, 'created', 'cli:alice', T0, 3, 0.3]],
      );
    });

    it('refuses a taken name and changes nothing', async () => {
      await f.store.createCampaign(campaign('rereco'));
      await assert.rejects(f.store.createCampaign(campaign('rereco', { share: 0.9, runs: [7] })), {
        code: 'campaign_exists',
        message: /campaign rereco exists already: choose another name/,
      });
      assert.equal((await f.store.getCampaign('rereco'))?.share, 0.3);
      assert.equal((await f.store.listEvents({ entity: 'campaign' })).length, 1);
    });

    it('selects ended runs by range, fill, start time and type, ascending', async () => {
      const day = 86_400_000;
      await f.store.upsertRuns(
        [
          { run: 10, fill: 1, start: T0, end: T0 + 1, type: 'collisions' },
          { run: 11, fill: 1, start: T0 + day, end: T0 + day + 1, type: 'cosmics' },
          { run: 12, fill: 2, start: T0 + 2 * day, end: T0 + 2 * day + 1, type: 'collisions' },
          { run: 13, fill: 2, start: T0 + 3 * day, end: null, type: 'collisions' },
          { run: 14, fill: null, start: null, end: T0 + 4 * day, type: null },
        ],
        'test',
      );
      const sel = async (q: Parameters<typeof f.store.selectRuns>[0]) =>
        (await f.store.selectRuns(q)).map((r) => r.run);
      assert.deepEqual(await sel({}), [10, 11, 12, 14], 'a running run is never selected');
      assert.deepEqual(await sel({ from: 11, to: 13 }), [11, 12]);
      assert.deepEqual(await sel({ fill: 1 }), [10, 11]);
      assert.deepEqual(await sel({ since: T0 + day }), [11, 12, 14], 'no start: its end counts');
      assert.deepEqual(await sel({ type: 'collisions' }), [10, 12]);
      assert.deepEqual(await sel({ fill: 2, type: 'collisions', from: 1, to: 99 }), [12]);
      assert.deepEqual(await sel({ fill: 3 }), []);
      const [r] = await f.store.selectRuns({ from: 10, to: 10 });
      assert.equal(r?.type, 'collisions');
    });

    it('counts instances and jobs per status for one campaign only', async () => {
      const zero = await f.store.campaignCounts('rereco');
      assert.deepEqual(zero, {
        instances: { new: 0, waiting: 0, processing: 0, done: 0, failed: 0 },
        jobs: { idle: 0, running: 0, done: 0, failed: 0 },
      });
      await f.instancesOf('reco', 1, 2);
      const made = await f.store.createInstances(
        [1, 2, 3].map((r) => ({
          campaign: 'rereco',
          task: 'reco',
          groupKey: `run:${r}`,
          runs: [r],
        })),
        'engine',
      );
      const [a, b] = made;
      assert.ok(a && b);
      const { jobs } = await f.store.startInstance(a.id, {
        from: 'new',
        configHash: 'h2',
        config: {},
        jobs: [newJob(0), newJob(1), newJob(2)],
        reason: null,
        by: 'engine',
        at: T0,
      });
      const [j0, j1] = jobs;
      assert.ok(j0 && j1);
      await f.store.transitionJob(j0.id, {
        from: 'idle',
        to: 'running',
        reason: null,
        by: 'e',
        at: T0,
      });
      await f.store.transitionJob(j1.id, {
        from: 'idle',
        to: 'failed',
        reason: 'x',
        by: 'e',
        at: T0,
      });
      await f.store.transitionInstance(b.id, {
        from: 'new',
        to: 'waiting',
        reason: 'lock',
        by: 'engine',
        at: T0,
      });
      assert.deepEqual(await f.store.campaignCounts('rereco'), {
        instances: { new: 1, waiting: 1, processing: 1, done: 0, failed: 0 },
        jobs: { idle: 1, running: 1, done: 0, failed: 1 },
      });
      assert.deepEqual((await f.store.campaignCounts('prompt')).instances, {
        new: 2,
        waiting: 0,
        processing: 0,
        done: 0,
        failed: 0,
      });
    });
  });
}
