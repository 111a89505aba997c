import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SlurmOutputError } from '../src/executors/slurm/commands.ts';
import { parseSacct, parseSqueue } from '../src/executors/slurm/queue.ts';
import {
  reservedOption,
  resourceArgs,
  timeLimitMinutes,
} from '../src/executors/slurm/sbatch-args.ts';
import { CANCELLED_OUTSIDE, stateOfRow } from '../src/executors/slurm/states.ts';

/** Lines as Slurm 22.05.8 printed them (`squeue -h -r -t all -O ...`, `sacct -n -P -X -o ...`). */
const SQUEUE = `1|FAILED|NonZeroExitCode|768|t1|
2_1|FAILED|NonZeroExitCode|256|arr|
8|FAILED|JobLaunchFailure|15|a|b|
9|TIMEOUT|TimeLimit|36608|tl|
10_4|PENDING|JobHeldAdmin|0|arr2|
11+0|RUNNING|None|0|het|
12_[3-9]|PENDING|Priority|0|other|
`;

describe('Slurm output', () => {
  it('reads squeue lines: wait status split into code and signal, names with |, other jobs skipped', () => {
    const rows = parseSqueue(SQUEUE);
    assert.deepEqual(
      rows.map((r) => [r.id, r.name, r.exitCode, r.signal]),
      [
        ['1', 't1', 3, 0],
        ['2_1', 'arr', 1, 0],
        ['8', 'a|b', 0, 15],
        ['9', 'tl', 143, 0],
        ['10_4', 'arr2', 0, 0],
      ],
    );
    assert.throws(() => parseSqueue('garbage\n'), SlurmOutputError);
  });

  it('reads sacct lines, "CANCELLED by 0" as CANCELLED', () => {
    const rows = parseSacct('5|CANCELLED by 0|0:15|x\n6_2|COMPLETED|0:0|y\n7+1|RUNNING|0:0|z\n');
    assert.deepEqual(
      rows.map((r) => [r.id, r.state, r.exitCode, r.signal]),
      [
        ['5', 'CANCELLED', 0, 15],
        ['6_2', 'COMPLETED', 0, 0],
      ],
    );
    assert.throws(() => parseSacct('5|COMPLETED|zero|x\n'), /sacct printed/);
  });

  it('maps Slurm states to the contract', () => {
    const [failed, , killed, timeout, held] = parseSqueue(SQUEUE);
    assert.deepEqual(stateOfRow(failed as never, null), {
      state: 'exited',
      executorId: '1',
      exitCode: 3,
      signal: null,
      reason: null,
    });
    assert.deepEqual(stateOfRow(killed as never, null), {
      state: 'exited',
      executorId: '8',
      exitCode: null,
      signal: 'SIGTERM',
      reason: 'failed in Slurm (JobLaunchFailure)',
    });
    assert.match(JSON.stringify(stateOfRow(timeout as never, null)), /"exitCode":143.*timeout/);
    assert.deepEqual(stateOfRow(held as never, null), {
      state: 'held',
      executorId: '10_4',
      reason: 'held in Slurm (JobHeldAdmin)',
    });
    const cancelled = {
      id: '5',
      name: 'x',
      state: 'CANCELLED',
      reason: null,
      exitCode: 0,
      signal: 0,
    };
    assert.deepEqual(stateOfRow(cancelled, null), {
      state: 'exited',
      executorId: '5',
      exitCode: null,
      signal: null,
      reason: CANCELLED_OUTSIDE,
    });
    assert.equal((stateOfRow(cancelled, 'timeout') as { reason: string }).reason, 'timeout');
  });

  it('builds sbatch options: resources, minutes rounded up, reserved ones refused', () => {
    assert.deepEqual(resourceArgs({ mem: '4G', cpus_per_task: 2 }), [
      '--mem=4G',
      '--cpus-per-task=2',
    ]);
    assert.throws(() => resourceArgs({ job_name: 'x' }), /--job-name is set by autoctrl/);
    assert.throws(
      () => resourceArgs({ request_memory: 1, '+JobFlavour': 'x' }),
      /not an sbatch option/,
    );
    assert.equal(reservedOption('-J'), '-J');
    assert.equal(reservedOption('--array=1-3'), '--array');
    assert.equal(reservedOption('--mem=1G'), null);
    assert.deepEqual(
      [timeLimitMinutes(1), timeLimitMinutes(60_000), timeLimitMinutes(60_001)],
      [1, 1, 2],
    );
  });
});
