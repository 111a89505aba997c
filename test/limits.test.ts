import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { jobToken } from '../src/app/tokens.ts';
import { validateDeploymentText } from '../src/config/load.ts';
import { startServer } from '../src/server/serve.ts';
import { type ApiWorld, apiWorld, OPERATOR_TOKEN } from './api-setup.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();
const FILE = '/srv/calib/autoctrl.yaml';
const problems = (text: string) =>
  validateDeploymentText(text, FILE).problems.map((p) => `${p.line}:${p.col}: ${p.message}`);

describe('jobs per instance', () => {
  it('is at most 10,000 unless limits.max_jobs_per_instance says more', () => {
    const [p] = problems('tasks:\n  reco: { command: [x], jobs: 1000000 }\n');
    assert.match(
      p ?? '',
      /^2:31: tasks\.reco\.jobs: 1000000 jobs is more than the 10000 .*raise limits\.max_jobs_per_instance/,
    );
    const raised =
      'limits: { max_jobs_per_instance: 20000 }\ntasks:\n  reco: { command: [x], jobs: 20000 }\n';
    const { deployment } = validateDeploymentText(raised, FILE);
    assert.equal(deployment?.limits.maxJobsPerInstance, 20_000);
    assert.match(
      problems('limits: { max_jobs_per_instance: 0 }\n')[0] ?? '',
      /^1:34: limits\.max_jobs_per_instance: must be at least 1/,
    );
  });

  it('the request body limit is a size of at most 256MiB', () => {
    const { deployment } = validateDeploymentText('limits: { max_request_body: 1MiB }\n', FILE);
    assert.equal(deployment?.limits.maxRequestBytes, 2 ** 20);
    assert.match(
      problems('limits: { max_request_body: 1GB }\n')[0] ?? '',
      /^1:29: limits\.max_request_body: at most 256MiB/,
    );
  });
});

describe('request limits', () => {
  let w: ApiWorld;
  let url: string;
  let close: () => Promise<void>;
  before(async () => {
    w = await apiWorld(tempDir());
    const server = await startServer(
      w.rt,
      { trigger: () => {}, health: () => null },
      { host: '127.0.0.1', port: 0 },
    );
    url = server.url;
    close = server.close;
  });
  after(async () => {
    await close();
    await w.close();
  });

  /** Announces a 600 MB body and sends 1 MB of it: the answer must come without the rest. */
  function hugePost(path: string, token?: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(`${url}${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': String(600 * 2 ** 20),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body });
        });
      });
      req.on('error', reject);
      req.write(Buffer.alloc(2 ** 20, 32));
    });
  }

  it('a 600 MB body gets 413, with a token or without', async () => {
    const secret = w.rt.engine.ctx.tokenSecret;
    for (const [path, token] of [
      ['/api/jobs/1/report', undefined],
      ['/api/jobs/1/report', jobToken(secret, 1)],
      ['/api/campaigns', OPERATOR_TOKEN],
      ['/api/trigger', undefined],
    ] as const) {
      const res = await hugePost(path, token);
      assert.equal(res.status, 413, `${path} ${token ?? 'no token'}: ${res.body}`);
      assert.match(res.body, /limits\.max_request_body/);
    }
  });

  it('a body streamed without a length is cut off at the limit', async () => {
    let sent = 0;
    const body = new ReadableStream({
      pull(ctl) {
        sent += 2 ** 20;
        ctl.enqueue(new Uint8Array(2 ** 20).fill(32));
        if (sent > 600 * 2 ** 20) ctl.close();
      },
    });
    const res = await w.server.app.request('/api/campaigns', {
      method: 'POST',
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'transfer-encoding': 'chunked' },
      body,
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 413);
    assert.ok(sent < 64 * 2 ** 20, `read ${sent} bytes`);
  });

  it('a 20,000-deep meta is a 400 naming the field', async () => {
    const deep = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`;
    const res = await w.req('/api/jobs/1/report', {
      method: 'POST',
      token: jobToken(w.rt.engine.ctx.tokenSecret, 1),
      body: `{"outputs":[{"path":"/x","meta":${deep}}]}`,
    });
    assert.equal(res.status, 400);
    assert.match(
      ((await res.json()) as { message: string }).message,
      /^body\.outputs\.0\.meta.*: nested more than 32 levels/,
    );
  });

  it('field, output and meta sizes and the number of outputs are bounded', async () => {
    const token = jobToken(w.rt.engine.ctx.tokenSecret, 1);
    const cases: [unknown, RegExp][] = [
      [{ fields: { ['k'.repeat(201)]: 1 } }, /^body\.fields\./],
      [{ fields: { k: 'v'.repeat(10_001) } }, /^body\.fields\.k:/],
      [{ outputs: [{ path: `/${'p'.repeat(4096)}` }] }, /^body\.outputs\.0\.path:/],
      [
        { outputs: [{ path: '/x', meta: { m: 'v'.repeat(70_000) } }] },
        /^body\.outputs\.0\.meta: longer than 65536/,
      ],
      [
        { outputs: Array.from({ length: 10_001 }, (_, i) => ({ path: `/o${i}` })) },
        /^body\.outputs: at most 10000 outputs in one report/,
      ],
    ];
    for (const [body, message] of cases) {
      const res = await w.req('/api/jobs/1/report', {
        method: 'POST',
        token,
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 400);
      assert.match(((await res.json()) as { message: string }).message, message);
    }
  });
});
