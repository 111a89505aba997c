import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EMPTY_INTAKE, groupRuns } from '../src/engine/grouping.ts';
import type { Run } from '../src/model/types.ts';

let seq = 0;
function run(
  n: number,
  fill: number | null,
  lumi: number,
  ended = true,
  meta: Run['meta'] = {},
): Run {
  seq++;
  return { run: n, fill, lumi, start: 0, end: ended ? 1 : null, type: 'collisions', meta, seq };
}
const target = { campaign: 'prompt', task: 't' };

describe('grouping', () => {
  it('by run: one group per ended run; a running run waits', () => {
    const { groups, state } = groupRuns(
      { by: 'run' },
      EMPTY_INTAKE,
      [run(1, 1, 5), run(2, 1, 5, false)],
      target,
    );
    assert.deepEqual(
      groups.map((g) => [g.groupKey, g.runs]),
      [['run:1', [1]]],
    );
    assert.equal(state.pending.length, 0);
  });

  it('by fill: waits until a later fill appears, then groups the whole fill', () => {
    const first = groupRuns(
      { by: 'fill' },
      EMPTY_INTAKE,
      [run(10, 100, 5), run(11, 100, 7)],
      target,
    );
    assert.equal(first.groups.length, 0);
    assert.equal(first.state.pending.length, 2);
    const second = groupRuns({ by: 'fill' }, first.state, [run(12, 101, 1)], target);
    assert.deepEqual(
      second.groups.map((g) => [g.groupKey, g.runs]),
      [['fill:100', [10, 11]]],
    );
    assert.deepEqual(
      second.state.pending.map((p) => p.run),
      [12],
    );
  });

  it('by fill: a run marked fill_end closes its fill at once; runs without a fill are left out', () => {
    const r = groupRuns(
      { by: 'fill' },
      EMPTY_INTAKE,
      [run(20, 200, 1), run(21, 200, 1, true, { fill_end: true }), run(22, null, 0)],
      target,
    );
    assert.deepEqual(
      r.groups.map((g) => g.runs),
      [[20, 21]],
    );
    assert.equal(r.state.pending.length, 0);
  });

  it('by luminosity: consecutive runs until the threshold, the remainder waits', () => {
    const a = groupRuns(
      { by: 'lumi', lumi: 100 },
      EMPTY_INTAKE,
      [run(30, 1, 40), run(31, 1, 50), run(32, 1, 20), run(33, 1, 30)],
      target,
    );
    assert.deepEqual(
      a.groups.map((g) => [g.groupKey, g.runs]),
      [['lumi:30-32', [30, 31, 32]]],
    );
    assert.deepEqual(
      a.state.pending.map((p) => p.run),
      [33],
    );
    const b = groupRuns({ by: 'lumi', lumi: 100 }, a.state, [run(34, 2, 200)], target);
    assert.deepEqual(
      b.groups.map((g) => g.runs),
      [[33, 34]],
    );
  });

  it('is pure: the same state and runs give the same groups', () => {
    const runs = [run(40, 1, 60), run(41, 1, 60)];
    const x = groupRuns({ by: 'lumi', lumi: 100 }, EMPTY_INTAKE, runs, target);
    const y = groupRuns({ by: 'lumi', lumi: 100 }, EMPTY_INTAKE, runs, target);
    assert.deepEqual(x, y);
  });

  it('advances the cursor past every run seen, ended or not', () => {
    const runs = [run(50, 1, 1), run(51, 1, 1, false)];
    const r = groupRuns({ by: 'run' }, EMPTY_INTAKE, runs, target);
    assert.equal(r.state.seq, runs[1]?.seq);
  });
});
