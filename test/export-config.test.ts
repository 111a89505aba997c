import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateDeploymentText } from '../src/config/load.ts';
import { Lines, nanos } from '../src/export/influx/line.ts';

const FILE = '/srv/calib/autoctrl.yaml';
const TASKS = 'tasks:\n  reco: { command: [echo] }\n';

function problems(text: string): string[] {
  const { deployment, problems } = validateDeploymentText(text, FILE);
  assert.equal(deployment, null);
  return problems.map((p) => `${p.line}:${p.col}: ${p.message}`);
}

describe('export configuration', () => {
  it('reads export.influx', () => {
    const { deployment, problems } = validateDeploymentText(
      `${TASKS}export:\n  influx: { url: "http://influx:8086", database: calib, username: autoctrl, password_env: INFLUX_PW }\n`,
      FILE,
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(deployment?.exports, {
      influx: {
        url: 'http://influx:8086',
        database: 'calib',
        username: 'autoctrl',
        password_env: 'INFLUX_PW',
      },
    });
    assert.deepEqual(validateDeploymentText(TASKS, FILE).deployment?.exports, {});
  });

  it('names the line of a bad export section', () => {
    assert.deepEqual(
      problems(
        `${TASKS}export:\n  influx:\n    url: influx:8086\n    database: calib\n    password: hunter2\n  graphite: {}\n`,
      ),
      [
        '5:10: export.influx.url: url must start with http:// or https://, e.g. http://influx:8086',
        '7:5: export.influx.password: unknown key (known: url, database, retention, username, password_env, token_env, gzip)',
        '8:3: export.graphite: unknown key (known: influx)',
      ],
    );
    assert.deepEqual(
      problems(`${TASKS}export:\n  influx: { url: "http://u:p@influx:8086", database: calib }\n`),
      [
        '4:18: export.influx.url: put no credentials in the url: use username and password_env (or token_env)',
      ],
    );
  });
});

describe('line protocol', () => {
  it('escapes names, tags and strings, and leaves out empty tags', () => {
    const out = new Lines();
    out
      .point('my job')
      .tag('campaign', 'a=b')
      .tag('status', '')
      .tag('task', 'pi0 calib,x')
      .tag('workflow', null)
      .text('reason', 'exit "1"\nsee C:\\log')
      .int('n', 3)
      .float('v', 0.5)
      .int('gone', null)
      .end(nanos(1_700_000_000_123, 42));
    out.point('empty').tag('a', 'b').text('nothing', '').end('1');
    assert.equal(
      out.written,
      'my\\ job,campaign=a\\=b,task=pi0\\ calib\\,x reason="exit \\"1\\" see C:\\\\log",n=3i,v=0.5 1700000000123000042\n',
    );
    assert.equal(out.count, 1);
  });
});
