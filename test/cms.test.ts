import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { ConfigError } from '../src/config/errors.ts';
import { loadDeployment } from '../src/config/load.ts';
import { Controller } from '../src/engine/controller.ts';
import { silentLogger } from '../src/logger.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { openSources } from '../src/sources/open.ts';
import { type CmsServices, type OmsRun, startCmsServices } from './fixtures/cms-services.ts';
import { assertNoLeaksAtEnd, tempDir, until } from './helpers.ts';

assertNoLeaksAtEnd();

const EXAMPLE = join(import.meta.dirname, '..', 'examples', 'cms');
const HOUR = 3_600_000;
const NOW = Date.now();
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

function omsRun(run: number, over: Partial<OmsRun> = {}): OmsRun {
  return {
    run_number: run,
    fill_number: 8754,
    start_time: iso(NOW - 5 * HOUR),
    end_time: iso(NOW - 3 * HOUR),
    recorded_lumi: 35.5,
    l1_hlt_mode: 'collisions2023',
    sequence: 'GLOBAL-RUN',
    hlt_key: '/cdaq/physics/Run2023/2e34/v1.1.0/HLT/V3',
    ...over,
  };
}

let svc: CmsServices;

const open: Runtime[] = [];
afterEach(async () => {
  for (const rt of open.splice(0)) await rt.close();
});

/** A deployment using the example's plugin against the local stand-ins of the services. */
async function cmsRuntime(): Promise<Runtime> {
  const dir = tempDir();
  const file = join(dir, 'autoctrl.yaml');
  writeFileSync(
    file,
    `store: sqlite:state.db
engine: { interval: 1h }
plugins: [${join(EXAMPLE, 'cms.mjs')}]
sources:
  oms: { type: cms-oms, url: ${svc.url}/agg/api/v1, first_run: 367100, global_tag: GT_v1, page_size: 2 }
tasks:
  pi0-reco:
    command: ['true']
    locks:
      - kind: cms-condb-gt
        url: ${svc.url}/cmsDbBrowser
        records: [EcalLaserAPDPNRatiosRcd, EcalPedestalsRcd]
      - kind: cms-t0-stage
        url: ${svc.url}/t0wmadatasvc/prod
        dataset: /AlCaP0
`,
  );
  const rt = await openRuntime(await loadDeployment(file), { logger: silentLogger() });
  open.push(rt);
  return rt;
}

describe('CMS plugin (examples/cms) against local fixtures of OMS, the conditions DB and Tier-0', () => {
  before(async () => {
    svc = await startCmsServices();
  });
  after(() => svc.close());

  it('the example deployment loads with its plugin', async () => {
    const d = await loadDeployment(join(EXAMPLE, 'autoctrl.yaml'));
    assert.deepEqual(
      d.tasks.map((t) => t.name),
      ['pulse-shapes', 'pi0-reco', 'pi0-calib'],
    );
    assert.equal(d.sources.oms?.type, 'cms-oms');
  });

  it('cms-oms: takes global runs page by page, classifies them, and updates a run when it ends', async () => {
    svc.oms.push(
      omsRun(367099),
      omsRun(367100),
      omsRun(367101, { l1_hlt_mode: 'cosmics2023', recorded_lumi: 0 }),
      omsRun(367102, { start_time: iso(NOW - HOUR), end_time: null, recorded_lumi: null }),
      omsRun(367103, { sequence: 'LOCAL-RUN' }),
      omsRun(367104),
    );
    const rt = await cmsRuntime();
    const sources = await openSources(rt.deployment, silentLogger());
    const oms = sources.get('oms');
    assert.ok(oms);
    const controller = new Controller(rt, sources);
    const from = svc.requests.length;
    assert.equal(await controller.pollSource('oms', oms), 4);
    const asked = svc.requests.slice(from).map((r) => new URL(r, 'http://x').searchParams);
    assert.deepEqual(
      asked.map((q) => [
        q.get('filter[run_number][GE]'),
        q.get('page[offset]'),
        q.get('page[limit]'),
      ]),
      [
        ['367100', '0', '2'],
        ['367100', '2', '2'],
        ['367100', '4', '2'],
      ],
    );
    assert.equal(asked[0]?.get('filter[sequence][EQ]'), 'GLOBAL-RUN');
    const runs = await rt.store.getRuns([367100, 367101, 367102, 367104]);
    assert.deepEqual(
      runs.map((r) => [r.run, r.type, r.fill, r.lumi, r.end]),
      [
        [367100, 'collisions', 8754, 35.5, Date.parse(iso(NOW - 3 * HOUR))],
        [367101, 'cosmics', 8754, 0, Date.parse(iso(NOW - 3 * HOUR))],
        [367102, 'collisions', 8754, null, null],
        [367104, 'collisions', 8754, 35.5, Date.parse(iso(NOW - 3 * HOUR))],
      ],
    );
    assert.equal(runs[0]?.meta.global_tag, 'GT_v1');
    assert.equal(runs[0]?.meta.l1_hlt_mode, 'collisions2023');

    Object.assign(svc.oms.find((r) => r.run_number === 367102) as OmsRun, {
      end_time: iso(NOW),
      recorded_lumi: 80.25,
    });
    assert.equal(await controller.pollSource('oms', oms), 1);
    assert.equal(
      new URL(svc.requests.at(-1) ?? '', 'http://x').searchParams.get('filter[run_number][GE]'),
      '367102',
    );
    const changed = (await rt.store.listEvents({ entity: 'run' })).filter(
      (e) => e.to === 'changed',
    );
    assert.deepEqual(
      changed.map((e) => [e.entityId, Object.keys(e.data ?? {}).sort()]),
      [['367102', ['end', 'lumi']]],
    );
  });

  it('cms-condb-gt and cms-t0-stage: an instance waits for the conditions, then for Tier-0', async () => {
    svc.gts.GT_v1 = [
      { record: 'EcalLaserAPDPNRatiosRcd', label: '', tag_name: 'EcalLaser_prompt' },
      { record: 'EcalPedestalsRcd', label: '', tag_name: 'EcalPedestals_hlt' },
    ];
    const iov = (since: number) => ({
      since,
      payload_hash: `${since}`.padStart(40, 'a'),
      insertion_time: iso(NOW),
    });
    svc.iovs.EcalLaser_prompt = [iov(366000), iov(367201)];
    svc.iovs.EcalPedestals_hlt = [iov(367000), iov(367200)];
    svc.t0.set('367200/AlCaP0', true);
    const rt = await cmsRuntime();
    const meta = { global_tag: 'GT_v1' };
    await rt.store.upsertRuns(
      [367200, 367201, 367202].map((run) => ({ run, fill: 8760, start: 1, end: 2, lumi: 9, meta })),
      'test',
    );
    const status = async () =>
      (await rt.store.instancesForRuns('prompt', 'pi0-reco', [367200, 367201, 367202])).map(
        (i) => `${i.runs[0]} ${i.status}: ${i.reason ?? ''}`,
      );

    const from = svc.requests.length;
    await rt.engine.pass();
    const [first, second] = (await status()).slice(1);
    assert.match(
      first ?? '',
      /^367201 waiting: .*global tag GT_v1 does not cover run 367201 yet: EcalPedestalsRcd \(EcalPedestals_hlt: last IOV at run 367200\)$/,
    );
    assert.match(
      second ?? '',
      /^367202 waiting: .*: EcalLaserAPDPNRatiosRcd \(EcalLaser_prompt: last IOV at run 367201\), EcalPedestalsRcd /,
    );
    const iovAsks = svc.requests.slice(from).filter((r) => r.includes('/iovs?tag='));
    assert.deepEqual(
      iovAsks.sort(),
      [
        '/cmsDbBrowser/list/Prod/iovs?tag=EcalLaser_prompt',
        '/cmsDbBrowser/list/Prod/iovs?tag=EcalPedestals_hlt',
      ],
      'each tag asked once per pass, however many instances wait on it',
    );

    // The conditions arrive: now Tier-0 is what 367201 and 367202 wait for.
    svc.iovs.EcalLaser_prompt.push(iov(367202));
    svc.iovs.EcalPedestals_hlt.push(iov(367210));
    svc.t0.set('367201/AlCaP0', false);
    await rt.engine.pass();
    const [, waitT0, unknownT0] = await status();
    assert.match(
      waitT0 ?? '',
      /^367201 waiting: .*Tier-0 has not finished dataset \/AlCaP0 for run 367201/,
    );
    assert.match(
      unknownT0 ?? '',
      /^367202 waiting: .*Tier-0 knows nothing of run 367202 \(dataset \/AlCaP0\) yet/,
    );

    svc.t0.set('367201/AlCaP0', true);
    svc.t0.set('367202/AlCaP0', true);
    await until(
      async () => {
        await rt.engine.pass();
        return (await status()).every((s) => / done: /.test(s)) || undefined;
      },
      10_000,
      'every instance done once the locks open',
    );
  });

  it('refuses a Tier-0 lock with both a stream and a dataset, at its line', async () => {
    const dir = tempDir();
    const file = join(dir, 'autoctrl.yaml');
    writeFileSync(
      file,
      `plugins: [${join(EXAMPLE, 'cms.mjs')}]
tasks:
  t:
    command: ['true']
    locks:
      - { kind: cms-t0-stage, stream: Express, dataset: /AlCaP0 }
`,
    );
    await assert.rejects(loadDeployment(file), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /autoctrl\.yaml:6:\d+: .*give either stream: or dataset:/);
      return true;
    });
  });
});
