import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../src/logger.ts';
import type { RunInput } from '../src/model/types.ts';
import type { Source } from '../src/sources/contract.ts';
import { createSimulatorSource, MAX_RUNS_PER_POLL } from '../src/sources/simulator/index.ts';
import { assertNoLeaksAtEnd } from './helpers.ts';

assertNoLeaksAtEnd();

const T0 = Date.UTC(2023, 5, 1, 8);
const ctx = { logger: silentLogger(), dir: '.' };
const simulator = (options: Record<string, unknown> = {}) =>
  createSimulatorSource('lhc', { seed: 42, ...options }, ctx);

/** Polls at the given times; returns every record in order and the last cursor. */
async function pollAt(source: Source, times: number[], cursor: string | null = null) {
  const records: RunInput[] = [];
  for (const now of times) {
    const polled = await source.poll(cursor, now);
    records.push(...polled.runs);
    cursor = polled.cursor ?? cursor;
  }
  return { records, cursor };
}

/** The latest version of each run, by run number. */
function latest(records: RunInput[]): RunInput[] {
  const byRun = new Map<number, RunInput>();
  for (const r of records) byRun.set(r.run, r);
  return [...byRun.values()].sort((a, b) => a.run - b.run);
}

const every = (seconds: number, count: number, from = T0) =>
  Array.from({ length: count }, (_, i) => from + i * seconds * 1000);

describe('simulator source', () => {
  it('gives the same runs for the same seed and poll times, other runs for another seed', async () => {
    const times = every(2, 150);
    const a = await pollAt(await simulator(), times);
    const b = await pollAt(await simulator(), times);
    const c = await pollAt(await simulator({ seed: 7 }), times);
    assert.ok(a.records.length > 50);
    assert.deepEqual(a.records, b.records);
    assert.equal(a.cursor, b.cursor);
    assert.notDeepEqual(latest(a.records), latest(c.records));
  });

  it('continues from a stored cursor as one uninterrupted simulation would', async () => {
    const times = every(2, 200);
    const whole = await pollAt(await simulator(), times);
    const first = await pollAt(await simulator(), times.slice(0, 80));
    // A restarted controller: a new source instance, given the cursor it had stored.
    const rest = await pollAt(await simulator(), times.slice(80), first.cursor);
    assert.deepEqual([...first.records, ...rest.records], whole.records);
    assert.equal(rest.cursor, whole.cursor);
  });

  it('does not depend on how often it is polled', async () => {
    const often = await pollAt(await simulator(), every(1, 301));
    const rarely = await pollAt(await simulator(), [T0, T0 + 120_000, T0 + 300_000]);
    assert.deepEqual(latest(rarely.records), latest(often.records));
  });

  it('starts at the first poll with a backlog of ended runs', async () => {
    const { runs } = await (await simulator({ first_run: 355100 })).poll(null, T0);
    assert.deepEqual(
      runs.map((r) => r.run),
      [355100, 355101],
    );
    for (const r of runs) {
      assert.ok(r.end !== null && r.end !== undefined && r.end <= T0);
      assert.ok((r.lumi ?? 0) > 0);
    }
    const none = await (await simulator({ backlog: 0 })).poll(null, T0);
    assert.deepEqual(none.runs, []);
  });

  it('reports each run when it starts and again when it ends', async () => {
    const { records } = await pollAt(await simulator({ backlog: 0 }), every(0.5, 40));
    const started = records.filter((r) => r.end === null);
    let seenEnding = 0;
    for (const s of started) {
      assert.equal(s.lumi, null);
      const ended = records.find((r) => r.run === s.run && r.end !== null);
      if (!ended) continue;
      seenEnding++;
      assert.equal(ended.start, s.start);
      assert.equal(ended.fill, s.fill);
    }
    assert.ok(seenEnding >= 2);
  });

  it('simulates credible fills and runs', async () => {
    const runs = latest((await pollAt(await simulator(), every(2, 600))).records);
    let previousFill = 0;
    const lastOfFill = new Map<number, number>();
    for (const [i, r] of runs.entries()) {
      if (i > 0) assert.ok(r.run > (runs[i - 1]?.run ?? 0), 'run numbers strictly increase');
      assert.equal(typeof r.meta?.global_tag, 'string');
      if (r.end !== null && r.end !== undefined) {
        assert.ok(r.start !== null && r.start !== undefined && r.end >= r.start);
        assert.equal(typeof r.meta?.int_lumi_fb, 'number');
      }
      if (r.type === 'cosmics') {
        assert.equal(r.fill, null);
        if (r.end != null) assert.equal(r.lumi, 0);
        continue;
      }
      assert.equal(r.type, 'collisions');
      assert.ok(typeof r.fill === 'number' && r.fill >= previousFill, 'fills never go back');
      previousFill = r.fill;
      lastOfFill.set(r.fill, r.run);
      if (r.end != null) {
        // A peak of 1–2e34 cm⁻²s⁻¹ delivers 36–72 /pb an hour, less as the beams decay.
        const hours = (r.end - (r.start ?? 0)) / 3_600_000;
        assert.ok(r.lumi !== null && r.lumi !== undefined);
        assert.ok(r.lumi > 0 && r.lumi < 80 * hours, `run ${r.run}: ${r.lumi} /pb in ${hours} h`);
      }
    }
    assert.ok(runs.some((r) => r.type === 'cosmics'));
    const last = runs.at(-1)?.fill;
    for (const r of runs) {
      if (r.type !== 'collisions' || r.end == null) continue;
      const isLast = lastOfFill.get(r.fill ?? 0) === r.run;
      // The newest fill may still be in stable beams: its last run so far proves nothing.
      if (isLast && r.fill === last) continue;
      if (isLast) assert.equal(r.meta?.fill_end, true, `run ${r.run} ends fill ${r.fill}`);
      else assert.equal(r.meta?.fill_end, false, `run ${r.run} does not end fill ${r.fill}`);
    }
  });

  it('caps the runs of one poll after a long pause and then carries on', async () => {
    const source = await simulator();
    const { cursor } = await source.poll(null, T0);
    const day = 86_400_000;
    const flood = await source.poll(cursor, T0 + day);
    assert.equal(flood.runs.length, MAX_RUNS_PER_POLL);
    const next = await source.poll(flood.cursor, T0 + day + 10_000);
    assert.ok(next.runs.length > 0 && next.runs.length < 20);
    const lastFlooded = Math.max(...flood.runs.map((r) => r.run));
    assert.ok(next.runs.every((r) => r.run >= lastFlooded));
  });

  it('refuses a cursor it did not write', async () => {
    const source = await simulator();
    await assert.rejects(source.poll('{"v":2}', T0), /simulator cursor/);
    await assert.rejects(source.poll('not json', T0), /simulator cursor/);
  });
});
