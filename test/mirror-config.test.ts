import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateDeploymentText } from '../src/config/load.ts';

const TASKS = `tasks:
  reco: { command: [reco] }
  calib: { after: [reco], command: [calib] }
  valid: { after: [calib], command: [valid], locks: [{ kind: delay, after: 2h }] }
`;

function problems(text: string): string[] {
  return validateDeploymentText(text, '/d/autoctrl.yaml').problems.map(
    (p) => `${p.line}: ${p.message}`,
  );
}

describe('mirror: in the deployment file', () => {
  it('takes the tasks it does not run from prod: mirror source and executor, no locks', () => {
    const { deployment: d, problems: p } = validateDeploymentText(
      `environment: dev\nmirror: { from: "sqlite:../prod/state.db", tasks: [calib, valid], first_run: 355000 }\n${TASKS}`,
      '/d/dev/autoctrl.yaml',
    );
    assert.deepEqual(p, []);
    assert.deepEqual(d?.mirror, {
      from: 'sqlite:/d/prod/state.db',
      tokenEnv: null,
      tasks: ['calib', 'valid'],
      taken: ['reco'],
    });
    assert.deepEqual(d?.sources.mirror, {
      type: 'mirror',
      intervalMs: 30_000,
      options: { from: 'sqlite:/d/prod/state.db', first_run: 355000 },
    });
    assert.equal(d?.executors.mirror?.type, 'mirror');
    const byName = new Map(d?.tasks.map((t) => [t.name, t]));
    assert.equal(byName.get('reco')?.executor, 'mirror');
    assert.equal(byName.get('calib')?.executor, 'local');
    assert.equal(byName.get('valid')?.locks.length, 1, 'a task dev runs keeps its locks');
  });

  it('refuses a mirror that is prod, unknown tasks, and a task taken from prod after one dev runs', () => {
    assert.deepEqual(
      problems(`mirror: { from: "http://prod:8080", tasks: [calib, nope] }\n${TASKS}`),
      [
        '1: mirror: a mirror is not prod: set environment: dev (or another name) so that its job names and chat channel are its own',
        "1: mirror.tasks[1]: unknown task 'nope' (tasks: reco, calib, valid)",
        "5: tasks.valid: valid comes after calib, which dev runs (mirror.tasks), so prod's valid would not follow from dev's calib: add valid to mirror.tasks, or remove it from this file",
      ],
    );
    assert.match(
      problems(`environment: dev\nmirror: { from: "ftp://x", tasks: [reco] }\n${TASKS}`).join('\n'),
      /mirror\.from: from is prod’s API URL/,
    );
    assert.match(
      problems(
        `environment: dev\nstore: sqlite:s.db\nmirror: { from: "sqlite:s.db", tasks: [reco] }\n${TASKS}`,
      ).join('\n'),
      /from is this deployment’s own store/,
    );
  });
});
