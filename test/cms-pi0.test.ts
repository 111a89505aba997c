import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { parse, stringify } from 'yaml';
import { loadDeployment } from '../src/config/load.ts';
import { Controller } from '../src/engine/controller.ts';
import { jobRef } from '../src/engine/launch.ts';
import { runCheck } from '../src/engine/lock-checks.ts';
import { lockKinds } from '../src/locks/registry.ts';
import { silentLogger } from '../src/logger.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { createServerApp } from '../src/server/app.ts';
import { openSources } from '../src/sources/open.ts';
import { autoctrl } from './cli-run.ts';
import { type CmsServices, type OmsRun, startCmsServices } from './fixtures/cms-services.ts';
import { assertNoLeaksAtEnd, tempDir, until } from './helpers.ts';

/**
 * The seed's pi0 workflow as ported in examples/cms/pi0, end to end: runs from
 * OMS, locks opened from the conditions DB and Tier-0, the run's files from
 * DBS (recorded shape), one HTCondor job per file through the stand-in
 * condor_* tools, jobs reporting the seed's way (`ecalautomation.py … jobctrl`),
 * monitoring once 500 /pb are reconstructed, and `outputs --json --era`.
 */

assertNoLeaksAtEnd();

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const EXAMPLE = here('../examples/cms/pi0/autoctrl.yaml');
const RECORDED_DBS = JSON.parse(readFileSync(here('fixtures/cms/dbs-files-detail.json'), 'utf8'));
const HOUR = 3_600_000;
const NOW = Date.now();
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

const dir = tempDir();
process.env.PATH = [
  here('fixtures/htcondor/bin'),
  join(dir, 'tools'),
  here('../bin'),
  process.env.PATH,
].join(delimiter);
process.env.CONDOR_STANDIN_DIR = join(dir, 'schedd');

/** The seed's job scripts, as they report: status flags and key:value fields through jobctrl. */
const RECO_SCRIPT = `#!/bin/sh
JOBID=$1; INFILE=$2; TASK=$3; CAMPAIGN=$4
ecalautomation.py --db ecal_prompt_v1 $TASK jobctrl --id $JOBID -c $CAMPAIGN --running
OUT=$(dirname "$0")/eos/pi0_$(basename "$INFILE")
mkdir -p "$(dirname "$OUT")" && echo "$INFILE" > "$OUT"
if [ "$INFILE" = /store/data/Run2023C/AlCaP0/RAW/v1/000/367/101/b.root ] && [ ! -e "$OUT.once" ]; then
  touch "$OUT.once"
  ecalautomation.py $TASK jobctrl --id $JOBID -c $CAMPAIGN --failed --fields "reason:xrootd timeout"
  exit 1
fi
ecalautomation.py $TASK jobctrl --id $JOBID -c $CAMPAIGN --done --fields "output:$OUT" "nevents:1200"
`;
const MON_SCRIPT = `#!/bin/sh
RUNS=$1; shift
ecalautomation.py pi0-mon jobctrl --id 0 --running
OUT=$(dirname "$0")/eos/pi0_mon_$(echo "$RUNS" | tr , _).txt
printf '%s\\n' "$@" > "$OUT"
ecalautomation.py pi0-mon jobctrl --id 0 --done --fields "output:$OUT" "peak_mass:0.1349" "nfiles:$#"
`;

function omsRun(run: number, era: string): OmsRun {
  return {
    run_number: run,
    fill_number: 8754,
    start_time: iso(NOW - 5 * HOUR),
    end_time: iso(NOW - 3 * HOUR),
    recorded_lumi: 200,
    l1_hlt_mode: 'collisions2023',
    sequence: 'GLOBAL-RUN',
    hlt_key: `/cdaq/physics/${era}/v1`,
  };
}

/** DBS `files` rows for a run: the recorded row, with this run's dataset, file and number. */
function dbsRows(dataset: string, run: number, names: string[]) {
  const [, valid] = RECORDED_DBS as Array<Record<string, unknown>>;
  const era = dataset.split('/')[2]?.replace(/-v\d+$/, '');
  const r = String(run).padStart(9, '0');
  return names.map((n) => ({
    ...valid,
    dataset,
    block_name: `${dataset}#1`,
    logical_file_name: `/store/data/${era}/AlCaP0/RAW/v1/${r.slice(0, 3)}/${r.slice(3, 6)}/${r.slice(6)}/${n}`,
    run_num: run,
  }));
}

/** The example deployment, pointed at the local stand-ins: its tasks, locks and template as written. */
function portedDeployment(svc: CmsServices): string {
  const d = parse(readFileSync(EXAMPLE, 'utf8'));
  d.store = `sqlite:${join(dir, 'state.db')}`;
  d.data_dir = join(dir, 'data');
  d.engine = { interval: '1h' };
  d.tasks['pi0-reco'].retry_delay = '1s'; // the failing file's retry, without the default wait
  d.plugins = [here('../examples/cms/cms.mjs')];
  d.executors.lxbatch.submit_template = here('../examples/htcondor/template.sub');
  d.sources.oms.url = `${svc.url}/agg/api/v1`;
  delete d.sources.oms.token_env;
  const urls: Record<string, string> = {
    'cms-condb-gt': `${svc.url}/cmsDbBrowser`,
    'cms-t0-stage': `${svc.url}/t0wmadatasvc/prod`,
    'cms-dbs': `${svc.url}/dbs/prod/global/DBSReader`,
  };
  for (const lock of d.tasks['pi0-reco'].locks) {
    lock.url = urls[lock.kind];
    delete lock.cert; // the stand-ins speak plain HTTP
    delete lock.key;
  }
  const file = join(dir, 'autoctrl.yaml');
  writeFileSync(file, stringify(d));
  for (const [name, text] of [
    ['batch_script.sh', RECO_SCRIPT],
    ['batch_script_mon.sh', MON_SCRIPT],
  ] as const) {
    writeFileSync(join(dir, name), text);
    chmodSync(join(dir, name), 0o755);
  }
  mkdirSync(join(dir, 'tools'), { recursive: true });
  symlinkSync(here('../bin/jobctrl'), join(dir, 'tools', 'ecalautomation.py'));
  return file;
}

describe('examples/cms/pi0: the seed pi0 workflow, ported', () => {
  let svc: CmsServices;
  let rt: Runtime;
  let server: Server;
  let closeApp: () => void;

  before(async () => {
    svc = await startCmsServices();
    rt = await openRuntime(await loadDeployment(portedDeployment(svc)), { logger: silentLogger() });
    const app = createServerApp(rt, { trigger: () => {}, health: () => null });
    closeApp = app.close;
    server = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: app.app.fetch, hostname: '127.0.0.1', port: 0 }, () =>
        resolve(s as Server),
      );
    });
    rt.engine.ctx.serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    closeApp();
    server.closeAllConnections();
    await new Promise<void>((res) => server.close(() => res()));
    for (const job of await rt.store.activeJobs()) {
      await rt.executors.get(job.executor)?.cancel(jobRef(rt.engine.ctx, job), 'test over');
    }
    await rt.close();
    await svc.close();
  });

  it('is at most 30 lines of YAML and names no script of its own', () => {
    const lines = readFileSync(EXAMPLE, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');
    assert.ok(lines.length <= 30, `${lines.length} lines`);
    const d = parse(readFileSync(EXAMPLE, 'utf8'));
    const programs = Object.values(d.tasks as Record<string, { command: string[] }>).map(
      (t) => t.command[0],
    );
    // The seed's own batch scripts, and nothing written for the port.
    assert.deepEqual(programs, ['./batch_script.sh', './batch_script_mon.sh']);
  });

  it('jobctrl refuses what it does not understand, naming it, before reporting anything', () => {
    const jobctrl = here('../bin/jobctrl');
    const run = (...args: string[]) =>
      spawnSync(jobctrl, args, { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    const noStatus = run('pi0-reco', 'jobctrl', '--id', '3');
    assert.equal(noStatus.status, 2);
    assert.match(noStatus.stderr, /usage: jobctrl --id ID \(--running/);
    const bogus = run('--id', '3', '--done', '--bogus');
    assert.equal(bogus.status, 2);
    assert.match(bogus.stderr, /unknown option '--bogus'/);
    const badField = run('--id', '3', '--done', '--fields', 'nocolon');
    assert.equal(badField.status, 2);
    assert.match(badField.stderr, /field 'nocolon': write KEY:VALUE/);
    assert.equal(run('--id', '3', '--idle').status, 0, '--idle is accepted and sends nothing');
  });

  it('cms-dbs reads the recorded DBS answer: each valid file once', async () => {
    const dataset = '/unittest_web_primary_ds_name_8268/acq_era_8268-v8268/GEN-SIM-RAW';
    svc.dbs.set(`${dataset}|97`, RECORDED_DBS);
    const kind = lockKinds.get('cms-dbs');
    assert.ok(kind);
    const lock = await kind.create(
      kind.options.parse({ url: `${svc.url}/dbs/prod/global/DBSReader`, dataset }),
      { logger: silentLogger(), dir, store: rt.store },
    );
    const run = { run: 97, fill: 1, start: 1, end: 2, lumi: 1, type: null, meta: {}, seq: 1 };
    const target = { campaign: 'prompt', task: 't', instanceId: 1, runs: [run], now: NOW };
    assert.deepEqual(await runCheck(lock, target), {
      open: true,
      reason: `DBS lists 1 files of ${dataset} for run 97`,
      inputs: ['/store/mc/Fall08/BBJets250to500-madgraph/GEN-SIM-RAW/IDEAL_/8268/2.root'],
    });
    const none = await runCheck(lock, { ...target, runs: [{ ...run, run: 98 }] });
    assert.deepEqual(none, {
      open: false,
      reason: `DBS has no files of ${dataset} for run 98 yet`,
    });
  });

  it('runs OMS runs through locks, one HTCondor job per DBS file, jobctrl reports, lumi monitoring', async () => {
    svc.oms.push(
      omsRun(367100, 'Run2023C'),
      omsRun(367101, 'Run2023C'),
      omsRun(367102, 'Run2023C'),
      omsRun(369900, 'Run2023D'),
    );
    const sources = await openSources(rt.deployment, silentLogger());
    const oms = sources.get('oms');
    assert.ok(oms);
    assert.equal(await new Controller(rt, sources).pollSource('oms', oms), 4);
    const runs = [367100, 367101, 367102, 369900];
    assert.deepEqual(
      (await rt.store.getRuns(runs)).map((r) => r.meta.era),
      ['Run2023C', 'Run2023C', 'Run2023C', 'Run2023D'],
    );
    const reco = async () =>
      (await rt.store.instancesForRuns('prompt', 'pi0-reco', runs)).map(
        (i) => `${i.runs[0]} ${i.status}: ${i.reason ?? ''}`,
      );

    // Conditions: the laser tag stops short of the last run.
    const gt = '130X_dataRun3_Prompt_v3';
    svc.gts[gt] = [
      { record: 'EcalLaserAPDPNRatiosRcd', label: '', tag_name: 'EcalLaser_prompt' },
      { record: 'EcalPedestalsRcd', label: '', tag_name: 'EcalPedestals_hlt' },
    ];
    const iov = (since: number) => ({
      since,
      payload_hash: 'a'.repeat(40),
      insertion_time: iso(NOW),
    });
    svc.iovs.EcalLaser_prompt = [iov(367102)];
    svc.iovs.EcalPedestals_hlt = [iov(369999)];
    // Tier-0 has repacked ALCAP0 for two runs; DBS lists the files of one.
    svc.t0.set('367100/ALCAP0', true);
    svc.t0.set('367101/ALCAP0', true);
    svc.t0.set('367102/ALCAP0', false);
    const c = '/AlCaP0/Run2023C-v1/RAW';
    svc.dbs.set(`${c}|367100`, dbsRows(c, 367100, ['a.root', 'b.root', 'a.root']));
    await rt.engine.pass();
    const waiting = await reco();
    assert.match(
      waiting[1] ?? '',
      /^367101 waiting: .*DBS has no files of \/AlCaP0\/\*\/RAW for run 367101 yet/,
    );
    assert.match(
      waiting[2] ?? '',
      /^367102 waiting: .*Tier-0 has not finished the repacking of \/AlCaP0 \(stream ALCAP0\) for run 367102/,
    );
    assert.match(waiting[3] ?? '', /^369900 waiting: .*EcalLaser_prompt: last IOV at run 367102/);

    // Everything opens.
    svc.dbs.set(`${c}|367101`, dbsRows(c, 367101, ['a.root', 'b.root', 'c.root']));
    svc.dbs.set(`${c}|367102`, dbsRows(c, 367102, ['a.root']));
    const d = '/AlCaP0/Run2023D-v1/RAW';
    svc.dbs.set(`${d}|369900`, dbsRows(d, 369900, ['a.root', 'b.root']));
    svc.t0.set('367102/ALCAP0', true);
    svc.t0.set('369900/ALCAP0', true);
    svc.iovs.EcalLaser_prompt.push(iov(369950));

    const monInstances = async () => rt.store.instancesForRuns('prompt', 'pi0-mon', runs);
    await until(
      async () => {
        await rt.engine.pass();
        const mon = await monInstances();
        return (
          ((await reco()).every((s) => / done: /.test(s)) &&
            mon.length === 1 &&
            mon[0]?.status === 'done') ||
          undefined
        );
      },
      120_000,
      'every reconstruction and the monitoring done',
    );

    // One job per DBS file (duplicate rows once), each given its file, through condor_submit.
    const [i100, i101] = await rt.store.instancesForRuns('prompt', 'pi0-reco', [367100, 367101]);
    assert.ok(i100 && i101);
    const jobs100 = await rt.store.jobsForInstance(i100.id);
    assert.deepEqual(
      jobs100.map((j) => [j.index, j.input?.split('/').at(-1), j.status, j.fields.nevents]),
      [
        [0, 'a.root', 'done', 1200],
        [1, 'b.root', 'done', 1200],
      ],
    );
    const calls = readFileSync(join(dir, 'schedd', 'calls.log'), 'utf8');
    assert.match(calls, /^condor_submit /m);
    // The file whose first attempt reported --failed was retried and then done.
    const b101 = (await rt.store.jobsForInstance(i101.id)).filter((j) =>
      j.input?.endsWith('b.root'),
    );
    assert.deepEqual(
      b101.map((j) => [j.attempt, j.status]),
      [
        [1, 'failed'],
        [2, 'done'],
      ],
    );
    assert.equal(b101[0]?.fields.reason, 'xrootd timeout');

    // Monitoring by luminosity: 3 × 200 /pb of 2023C reached 500 /pb; 369900 waits for more.
    const [mon] = await monInstances();
    assert.deepEqual(mon?.runs, [367100, 367101, 367102]);
    const [monJob] = await rt.store.jobsForInstance(mon?.id ?? 0);
    assert.equal(monJob?.fields.nfiles, 6, 'the monitoring got every reconstructed file');
    assert.equal(monJob?.fields.peak_mass, 0.1349);

    // Consumers outside the automation read the products by era.
    const cfg = join(dir, 'autoctrl.yaml');
    const byEra = async (era: string, task: string) => {
      const out = await autoctrl(['outputs', '-c', cfg, '--json', '--era', era, '--task', task]);
      assert.equal(out.code, 0, out.stderr);
      return (JSON.parse(out.stdout).outputs as Array<{ path: string; runs: number[] }>)
        .map((o) => `${o.runs.join(',')} ${o.path.split('/').at(-1)}`)
        .sort();
    };
    assert.deepEqual(await byEra('Run2023C', 'pi0-reco'), [
      '367100 pi0_a.root',
      '367100 pi0_b.root',
      '367101 pi0_a.root',
      '367101 pi0_b.root',
      '367101 pi0_c.root',
      '367102 pi0_a.root',
    ]);
    assert.deepEqual(await byEra('Run2023D', 'pi0-reco'), [
      '369900 pi0_a.root',
      '369900 pi0_b.root',
    ]);
    assert.deepEqual(await byEra('Run2023C', 'pi0-mon'), [
      '367100,367101,367102 pi0_mon_367100_367101_367102.txt',
    ]);
    const meta = await autoctrl(['outputs', '-c', cfg, '--json', '--meta', 'era=Run2023E']);
    assert.deepEqual(JSON.parse(meta.stdout).outputs, []);
  });
});
