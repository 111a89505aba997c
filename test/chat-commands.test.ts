import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../src/config/errors.ts';
import { loadDeployment } from '../src/config/load.ts';
import { type RunningServer, startServer } from '../src/server/serve.ts';
import { type ApiWorld, apiWorld, settle } from './api-setup.ts';
import { assertNoLeaksAtEnd, tempDir } from './helpers.ts';

assertNoLeaksAtEnd();

const MM_ENV = `AUTOCTRL_TEST_MM_${randomBytes(4).toString('hex')}`;
const SLACK_ENV = `AUTOCTRL_TEST_SLACK_${randomBytes(4).toString('hex')}`;
const MM_TOKEN = randomBytes(13).toString('hex');
const SIGNING_SECRET = randomBytes(16).toString('hex');

/** The body Mattermost posts for `/autoctrl <text>` (its documented field set and order). */
function mattermostBody(text: string, user: string, token = MM_TOKEN): string {
  return new URLSearchParams({
    channel_id: 'i3bb9xfyqt8rtbyshmyhgsj16c',
    channel_name: 'ecal-calib',
    command: '/autoctrl',
    response_url: 'http://127.0.0.1:8065/hooks/commands/zozc1xwxybdedeyz8djwjpngny',
    team_domain: 'ecal',
    team_id: 'tsb8crrn5tgqtedpkt81b4tcya',
    text,
    token,
    trigger_id: 'NG1kM3lyN2NqYmQxcGNyc2s0Nmo5em0xb2M6azF4NGFxZGp5MzgxM2M4NG03NzFlb2M5eG8',
    user_id: `${user}-id-k1x4aqdjy3813c84m771eoc9xo`,
    user_name: user,
  }).toString();
}

/** The body Slack posts for `/autoctrl <text>`. */
function slackBody(text: string, userId: string, userName: string): string {
  return new URLSearchParams({
    token: 'gIkuvaNzQIHg97ATvDxqgjtO',
    team_id: 'T0001',
    team_domain: 'ecal',
    enterprise_id: 'E0001',
    enterprise_name: 'CERN',
    channel_id: 'C2147483705',
    channel_name: 'ecal-calib',
    user_id: userId,
    user_name: userName,
    command: '/autoctrl',
    text,
    response_url: 'https://hooks.slack.com/commands/1234/5678',
    trigger_id: '13345224609.738474920.8088930838d88f008e0',
    api_app_id: 'A123456',
  }).toString();
}

function slackSign(body: string, at = Math.floor(Date.now() / 1000), secret = SIGNING_SECRET) {
  const sig = createHmac('sha256', secret).update(`v0:${at}:${body}`).digest('hex');
  return { 'x-slack-request-timestamp': String(at), 'x-slack-signature': `v0=${sig}` };
}

describe('chat slash commands over real HTTP', () => {
  const dir = tempDir();
  let w: ApiWorld;
  let server: RunningServer;
  const triggers = { n: 0 };

  before(async () => {
    process.env[MM_ENV] = MM_TOKEN;
    process.env[SLACK_ENV] = SIGNING_SECRET;
    w = await apiWorld(dir, {
      chat: {
        mattermostTokenEnv: MM_ENV,
        slackSigningSecretEnv: SLACK_ENV,
        operators: { 'mattermost:alice': 'alice', 'slack:U0ALICE': 'alice' },
      },
    });
    await settle(w);
    server = await startServer(
      w.rt,
      { trigger: () => triggers.n++, health: () => null },
      { host: '127.0.0.1', port: 0 },
    );
  });
  after(async () => {
    await server.close();
    await w.close();
    delete process.env[MM_ENV];
    delete process.env[SLACK_ENV];
  });

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/api/chat/command`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        ...headers,
      },
      body,
    });
  const mattermost = (text: string, user: string, token = MM_TOKEN) =>
    post(mattermostBody(text, user, token), {
      authorization: `Token ${token}`,
      'user-agent': 'mattermost-9.11.0',
    });
  const slack = (text: string, userId: string, userName: string) => {
    const body = slackBody(text, userId, userName);
    return post(body, { ...slackSign(body), 'user-agent': 'Slackbot 1.0' });
  };
  const reply = async (res: Response) => {
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json()) as { response_type: string; text: string };
  };

  it('answers status to any verified Mattermost user, in the channel, in markdown', async () => {
    const r = await reply(await mattermost('status', 'bob'));
    assert.equal(r.response_type, 'in_channel');
    assert.match(r.text, /\*\*prompt\*\*/);
    assert.match(r.text, /`2` failed — reco D · calib F · slow ·/);
    assert.match(r.text, /`1` processing — reco D · calib D · slow ·/);
    const one = await reply(await mattermost('status 2', 'bob'));
    assert.match(one.text, /\*\*run 2\*\* in prompt: failed/);
    assert.match(one.text, /\[calib\]\(http:\/\/127\.0\.0\.1:0\/instances\/\d+\): failed/);
  });

  it('says why an instance failed, in Slack mrkdwn, with the failed job and its log', async () => {
    const r = await reply(await slack('why calib 2', 'U0BOB', 'bob'));
    assert.equal(r.response_type, 'in_channel');
    assert.match(
      r.text,
      /<http:\/\/127\.0\.0\.1:0\/instances\/\d+\|calib for run 2> \(prompt, attempt 1\) failed/,
    );
    assert.match(r.text, /job 0 \(attempt 1, exit code 1\)/);
    assert.match(r.text, /<http:\/\/127\.0\.0\.1:0\/api\/jobs\/\d+\/log\|log>/);
    const done = await reply(await slack('why reco 1', 'U0BOB', 'bob'));
    assert.match(done.text, /is done$/);
  });

  it('answers campaign NAME, and explains mistakes to the sender alone', async () => {
    const r = await reply(await mattermost('campaign prompt', 'bob'));
    assert.match(r.text, /\*\*prompt\*\*: 2 run\(s\), 3 task\(s\)/);
    assert.match(r.text, /instances: 3 done, 1 failed/);
    const unknown = await reply(await mattermost('campaign nope', 'bob'));
    assert.equal(unknown.response_type, 'ephemeral');
    assert.match(unknown.text, /no campaign nope/);
    const badTask = await reply(await mattermost('why pi0 1', 'bob'));
    assert.equal(badTask.response_type, 'ephemeral');
    assert.match(badTask.text, /unknown task 'pi0' \(tasks: reco, calib, slow\)/);
    const help = await reply(await mattermost('', 'bob'));
    assert.equal(help.response_type, 'ephemeral');
    assert.match(help.text, /`\/autoctrl COMMAND`/);
    const verb = await reply(await mattermost('frobnicate', 'bob'));
    assert.match(verb.text, /unknown command `frobnicate`/);
  });

  it('refuses an action to a chat user who is no operator, in a reply, changing nothing', async () => {
    const before = await w.rt.store.getInstance((await w.instance('calib', 2)).id);
    const r = await reply(await mattermost('reprocess calib 2', 'bob'));
    assert.equal(r.response_type, 'ephemeral');
    assert.match(r.text, /reprocess is for operators, and `mattermost:bob` is not one/);
    const viaSlack = await reply(await slack('reprocess calib 2', 'U0BOB', 'alice'));
    assert.match(viaSlack.text, /`slack:alice` is not one/, 'slack maps by user id, not a name');
    const now = await w.rt.store.getInstance((await w.instance('calib', 2)).id);
    assert.equal(now?.status, 'failed');
    assert.equal(now?.attempt, before?.attempt);
  });

  it('reprocesses for an operator and records the chat user in the event', async () => {
    const fired = triggers.n;
    const r = await reply(await mattermost('reprocess calib 2 wrong pedestals', 'alice'));
    assert.equal(r.response_type, 'in_channel');
    assert.match(r.text, /alice \(operator alice\) sent 1 instance\(s\) of calib for run 2/);
    const inst = await w.instance('calib', 2);
    assert.equal(inst.status, 'new');
    const events = await w.rt.store.listEvents({ instanceId: inst.id });
    const last = events.at(-1);
    assert.equal(last?.by, 'chat:mattermost:alice (operator alice)');
    assert.equal(last?.reason, 'wrong pedestals');
    assert.equal(last?.to, 'new');
    assert.ok(triggers.n > fired, 'a pass is asked for');
    // Slack maps its users by id.
    const again = await reply(await slack('reprocess reco 1-1', 'U0ALICE', 'alice.s'));
    assert.match(again.text, /sent 1 instance\(s\) of reco for run 1/);
    const reco = await w.instance('reco', 1);
    const byEvents = await w.rt.store.listEvents({ instanceId: reco.id });
    assert.equal(byEvents.at(-1)?.by, 'chat:slack:alice.s (operator alice)');
  });

  it('refuses a wrong or missing Mattermost token with 401', async () => {
    assert.equal((await mattermost('status', 'bob', 'not-the-token')).status, 401);
    const noToken = await post(mattermostBody('status', 'bob', ''));
    assert.equal(noToken.status, 401);
    const body = (await noToken.json()) as { error: string; message: string };
    assert.equal(body.error, 'unauthorized');
    assert.match(body.message, /slash command token/);
  });

  it('refuses a wrong Slack signature, a stale timestamp and a tampered body with 401', async () => {
    const body = slackBody('reprocess calib 1', 'U0ALICE', 'alice');
    const wrong = await post(body, slackSign(body, undefined, 'another-secret'));
    assert.equal(wrong.status, 401);
    assert.match(((await wrong.json()) as { message: string }).message, /wrong request signature/);
    const old = Math.floor(Date.now() / 1000) - 6 * 60;
    const stale = await post(body, slackSign(body, old));
    assert.equal(stale.status, 401);
    assert.match(((await stale.json()) as { message: string }).message, /5 minutes/);
    const signed = slackSign(slackBody('status', 'U0ALICE', 'alice'));
    assert.equal((await post(body, signed)).status, 401);
    assert.equal((await post(body, { 'x-slack-signature': 'v0=00' })).status, 401);
    assert.equal((await w.instance('calib', 1)).status, 'done');
  });
});

describe('chat commands not configured', () => {
  const dir = tempDir();
  let w: ApiWorld;
  let server: RunningServer;
  before(async () => {
    w = await apiWorld(dir);
    server = await startServer(
      w.rt,
      { trigger: () => {}, health: () => null },
      { host: '127.0.0.1', port: 0 },
    );
  });
  after(async () => {
    await server.close();
    await w.close();
  });

  it('refuses every request with 401 naming the setting', async () => {
    const res = await fetch(`${server.url}/api/chat/command`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: mattermostBody('status', 'alice', 'anything'),
    });
    assert.equal(res.status, 401);
    assert.match(
      ((await res.json()) as { message: string }).message,
      /chat\.mattermost\.token_env/,
    );
  });
});

describe('chat section of the deployment file', () => {
  it('names the line of a chat user mapped to an unknown operator', async () => {
    const dir = tempDir();
    const file = join(dir, 'autoctrl.yaml');
    writeFileSync(
      file,
      [
        'auth:',
        '  operators:',
        '    alice: { token_env: ALICE_TOKEN }',
        'chat:',
        '  mattermost: { token_env: MM_SLASH_TOKEN }',
        '  operators:',
        '    mattermost:alice: alice',
        '    slack:U0BOB: bob',
        'tasks:',
        '  reco: { command: ["true"] }',
        '',
      ].join('\n'),
    );
    await assert.rejects(loadDeployment(file), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(
        err.message,
        /autoctrl\.yaml:8:\d+: chat\.operators\.slack:U0BOB: operator 'bob' is not under auth\.operators \(alice\)/,
      );
      return true;
    });
    writeFileSync(
      file,
      `${'auth:\n  operators:\n    alice: { token_env: ALICE_TOKEN }\n'}chat:\n  slack: { signing_secret_env: SLACK_SECRET }\n  operators: { "slack:U0ALICE": alice }\ntasks:\n  reco: { command: ["true"] }\n`,
    );
    const d = await loadDeployment(file);
    assert.deepEqual(d.chat, {
      mattermostTokenEnv: null,
      slackSigningSecretEnv: 'SLACK_SECRET',
      operators: { 'slack:U0ALICE': 'alice' },
    });
  });
});
