import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IllegalTransitionError } from '../src/errors.ts';
import { runStatus } from '../src/model/run-status.ts';
import {
  assertInstanceTransition,
  assertJobTransition,
  canTransitionInstance,
  canTransitionJob,
} from '../src/model/transitions.ts';
import { INSTANCE_STATUSES, JOB_STATUSES } from '../src/model/types.ts';

const ALLOWED_INSTANCE = new Set([
  'new→waiting',
  'new→processing',
  'waiting→waiting',
  'waiting→processing',
  'waiting→new',
  'processing→done',
  'processing→failed',
  'done→new',
  'failed→new',
]);
const ALLOWED_JOB = new Set([
  'idle→running',
  'idle→done',
  'idle→failed',
  'running→done',
  'running→failed',
]);

describe('instance transitions', () => {
  for (const from of INSTANCE_STATUSES) {
    for (const to of INSTANCE_STATUSES) {
      const allowed = ALLOWED_INSTANCE.has(`${from}→${to}`);
      it(`${from} → ${to} is ${allowed ? 'allowed' : 'refused'}`, () => {
        assert.equal(canTransitionInstance(from, to), allowed);
        if (allowed) assertInstanceTransition(7, from, to);
        else
          assert.throws(
            () => assertInstanceTransition(7, from, to),
            (err: unknown) =>
              err instanceof IllegalTransitionError &&
              err.entity === 'instance' &&
              err.from === from &&
              err.to === to &&
              err.code === 'illegal_transition' &&
              err.message.includes(`${from} → ${to}`),
          );
      });
    }
  }
});

describe('job transitions', () => {
  for (const from of JOB_STATUSES) {
    for (const to of JOB_STATUSES) {
      const allowed = ALLOWED_JOB.has(`${from}→${to}`);
      it(`${from} → ${to} is ${allowed ? 'allowed' : 'refused'}`, () => {
        assert.equal(canTransitionJob(from, to), allowed);
        if (allowed) assertJobTransition(3, from, to);
        else assert.throws(() => assertJobTransition(3, from, to), IllegalTransitionError);
      });
    }
  }
});

describe('run global status', () => {
  const tasks = ['reco', 'laser', 'calib'];
  it('is done when every applicable task is done', () => {
    assert.equal(runStatus(tasks, { reco: 'done', laser: 'done', calib: 'done' }), 'done');
  });
  it('is failed as soon as one task failed for good', () => {
    assert.equal(
      runStatus(tasks, { reco: 'done', laser: 'failed', calib: 'processing' }),
      'failed',
    );
  });
  it('is processing otherwise, including tasks without an instance yet', () => {
    assert.equal(runStatus(tasks, { reco: 'done', laser: 'done' }), 'processing');
    assert.equal(runStatus(tasks, {}), 'processing');
    assert.equal(runStatus(tasks, { reco: 'waiting', laser: 'new', calib: 'new' }), 'processing');
  });
  it('ignores tasks that do not apply to the run', () => {
    assert.equal(runStatus(['reco'], { reco: 'done', other: 'failed' }), 'done');
  });
});
