import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { ConfigError } from '../src/config/errors.ts';
import { loadDeployment } from '../src/config/load.ts';
import { Controller } from '../src/engine/controller.ts';
import { defineLock, defineSource, z } from '../src/index.ts';
import { silentLogger } from '../src/logger.ts';
import { PluginError } from '../src/plugins/errors.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { openSources } from '../src/sources/open.ts';
import { assertNoLeaksAtEnd, tempDir, until } from './helpers.ts';

assertNoLeaksAtEnd();

const GATE = join(import.meta.dirname, 'fixtures', 'plugins', 'gate.mjs');

const open: Runtime[] = [];
afterEach(async () => {
  for (const rt of open.splice(0)) await rt.close();
});

function deploymentFile(dir: string, body: string): string {
  const file = join(dir, 'autoctrl.yaml');
  writeFileSync(file, `store: sqlite:state.db\nengine: { interval: 1h }\n${body}`);
  return file;
}

const USING_GATE = (lock: string) => `plugins: [${GATE}]
sources:
  registry: { type: fixed-runs, runs: [500, 501] }
tasks:
  calib:
    command: ['true']
    locks:
      - ${lock}
`;

describe('plugins', () => {
  it('loads a lock kind and a source type from the deployment file; the engine waits on the lock', async () => {
    const dir = tempDir();
    const deployment = await loadDeployment(
      deploymentFile(dir, USING_GATE('{ kind: gate, file: open-sesame }')),
    );
    const rt = await openRuntime(deployment, { logger: silentLogger() });
    open.push(rt);
    const sources = await openSources(deployment, silentLogger());
    const registry = sources.get('registry');
    assert.ok(registry);
    const controller = new Controller(rt, sources);
    assert.equal(await controller.pollSource('registry', registry), 2);
    assert.equal(await controller.pollSource('registry', registry), 0, 'its cursor is kept');

    await rt.engine.pass();
    const waiting = await rt.store.instancesForRuns('prompt', 'calib', [500, 501]);
    assert.equal(waiting.length, 2);
    for (const inst of waiting) {
      assert.equal(inst.status, 'waiting');
      assert.match(inst.reason ?? '', /waiting for open-sesame/);
    }
    writeFileSync(join(dir, 'open-sesame'), '');
    await until(
      async () => {
        await rt.engine.pass();
        const list = await rt.store.instancesForRuns('prompt', 'calib', [500, 501]);
        return list.every((i) => i.status === 'done') || undefined;
      },
      10_000,
      'both instances done once the gate opens',
    );
  });

  it('gives a lock that throws in its check as a closed lock naming the plugin and kind', async () => {
    const dir = tempDir();
    const deployment = await loadDeployment(
      deploymentFile(dir, USING_GATE('{ kind: gate, file: x, explode: true }')),
    );
    const rt = await openRuntime(deployment, { logger: silentLogger() });
    open.push(rt);
    await rt.store.upsertRuns([{ run: 7, fill: 1, start: 1, end: 2, lumi: 1 }], 'test');
    await rt.engine.pass();
    const [inst] = await rt.store.instancesForRuns('prompt', 'calib', [7]);
    assert.equal(inst?.status, 'waiting');
    assert.match(
      inst?.reason ?? '',
      new RegExp(`plugin ${GATE} \\(lock gate\\): the gate service fell over`),
    );
  });

  it("checks a plugin kind's options against its schema, at the line", async () => {
    const dir = tempDir();
    await assert.rejects(
      loadDeployment(deploymentFile(dir, USING_GATE('{ kind: gate, file: 3 }'))),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(
          err.message,
          /autoctrl\.yaml:10:\d+: tasks\.calib\.locks\[0\]\.file: expected a string, got 3/,
        );
        return true;
      },
    );
  });

  it('names the plugin when it is missing, broken, throws at import or defines nothing usable', async () => {
    const dir = tempDir();
    const cases: Array<[string, string | null, RegExp]> = [
      ['missing.mjs', null, /missing\.mjs: file not found: fix its entry under plugins:/],
      [
        'syntax.mjs',
        'export default defineLock({ kind: ',
        /syntax\.mjs: cannot be imported: SyntaxError/,
      ],
      [
        'throws.mjs',
        "throw new Error('no credentials for the conditions DB');",
        /throws\.mjs: cannot be imported: Error: no credentials for the conditions DB/,
      ],
      [
        'plain.mjs',
        "export default { kind: 'x', options: {}, create() {} };",
        /plain\.mjs: the default export is not made with defineLock\(\) or defineSource\(\)/,
      ],
      [
        'empty.mjs',
        'export const answer = 42;',
        /empty\.mjs: exports no lock kinds or source types/,
      ],
      [
        'clash.mjs',
        "export default { [Symbol.for('autoctrl.plugin-definition')]: 'source', type: 'http', options: { safeParse() {} }, create() {} };",
        /clash\.mjs \(source http\): the name is already taken by built-in/,
      ],
    ];
    for (const [name, code, message] of cases) {
      if (code !== null) writeFileSync(join(dir, name), code);
      const file = deploymentFile(dir, `plugins: [./${name}]\n`);
      await assert.rejects(loadDeployment(file), (err: unknown) => {
        assert.ok(
          err instanceof ConfigError && err.cause instanceof PluginError,
          `${name}: ${String(err)}`,
        );
        assert.equal(err.cause.plugin, join(dir, name));
        assert.match(err.message, message);
        assert.match(err.message, new RegExp(`^${file}:\\d+:\\d+: plugins\\[0\\]: plugin `));
        return true;
      });
    }
  });

  it('types options in create() from the schema', () => {
    const lock = defineLock({
      kind: 'typed',
      options: z.object({ n: z.number(), tag: z.string().optional() }),
      create(options) {
        const n: number = options.n;
        const tag: string | undefined = options.tag;
        return { key: () => `${n}${tag}`, check: async () => ({ open: n > 0, reason: '' }) };
      },
    });
    const source = defineSource({
      type: 'typed',
      options: z.object({ every: z.number().default(5) }),
      create(name, options) {
        const every: number = options.every;
        return { name, poll: async () => ({ runs: [{ run: every }], cursor: null }) };
      },
    });
    assert.equal(lock.kind, 'typed');
    assert.equal(source.type, 'typed');
  });
});
