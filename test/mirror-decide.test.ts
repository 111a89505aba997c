import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, type MirrorRequest } from '../src/executors/mirror/resolve.ts';
import type { InstanceResult } from '../src/mirror/reader.ts';

const req: MirrorRequest = {
  jobId: 9,
  attempt: 1,
  campaign: 'prompt',
  task: 'reco',
  runs: [5],
  index: 0,
};

function prod(runs: number[], status: string, jobs = 1): InstanceResult {
  return {
    instance: {
      id: 7,
      campaign: 'prompt',
      task: 'reco',
      groupKey: 'g',
      runs,
      status: status as 'done',
      reason: 'why',
      attempt: 1,
      configHash: null,
    },
    jobs: Array.from({ length: jobs }, (_, i) => ({
      id: 70 + i,
      index: i,
      attempt: 1,
      instanceAttempt: 1,
      status: 'done' as const,
      fields: { n: i },
      reason: null,
      exitCode: 0,
    })),
    outputs: [{ jobId: 70, path: '/p/out/a.txt', kind: null, meta: {} }],
  };
}

describe('what a job taken from prod does', () => {
  it('waits while prod has no instance for the runs, or it is not done', () => {
    assert.deepEqual(decide(req, [], []), {
      kind: 'wait',
      reason: 'prod has no reco for runs 5 in prompt yet',
    });
    assert.equal(decide(req, [prod([5], 'processing')], []).kind, 'wait');
  });
  it('copies prod’s job at the same position, with its outputs only', () => {
    const d = decide({ ...req, index: 1 }, [prod([5], 'done', 2)], []);
    assert.equal(d.kind, 'copy');
    assert.equal(d.kind === 'copy' && d.job.id, 71);
    assert.deepEqual(d.kind === 'copy' && d.outputs, []);
  });
  it('fails on prod’s failure, another grouping, or fewer jobs', () => {
    assert.match(
      (decide(req, [prod([5], 'failed')], []) as { reason: string }).reason,
      /prod's reco failed .*why/,
    );
    assert.match(
      (decide(req, [prod([4, 5], 'done')], []) as { reason: string }).reason,
      /groups reco differently/,
    );
    assert.match(
      (decide({ ...req, index: 3 }, [prod([5], 'done', 2)], []) as { reason: string }).reason,
      /none at position 3/,
    );
  });
  it('falls back to prod’s prompt for a campaign prod does not have', () => {
    assert.equal(decide({ ...req, campaign: 'gt-test' }, [], [prod([5], 'done')]).kind, 'copy');
  });
});
