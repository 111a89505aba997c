import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { loadDeployment } from '../src/config/load.ts';
import { tempDir } from './helpers.ts';

/*
 * deploy/ checked against the Kubernetes API schemas (v1.27's OpenAPI, as the
 * kubernetes-models package ships it: compiled JSON-schema validators, plus
 * its TypeScript types for unknown fields, which the validators let pass),
 * and against the app: probe paths, ports, secrets and the deployment file.
 */

const ROOT = resolve(import.meta.dirname, '..');
const KUBE = join(ROOT, 'deploy', 'kubernetes');
const SYSTEMD = join(ROOT, 'deploy', 'systemd');

// biome-ignore lint/suspicious/noExplicitAny: parsed manifests, walked by hand once the schemas passed them
type Doc = Record<string, any>;

/** Every document of every manifest, with the file it came from. */
function manifests(): Array<{ file: string; doc: Doc }> {
  return readdirSync(KUBE)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(KUBE, file), 'utf8')).map((d) => {
        assert.deepEqual(d.errors, [], `${file}: YAML errors`);
        return { file, doc: d.toJS() as Doc };
      }),
    );
}

/** The kubernetes-models module and interface of each kind deploy/ uses. */
const MODELS: Record<string, [module: string, iface: string]> = {
  'v1/ConfigMap': ['kubernetes-models/v1/ConfigMap', 'IConfigMap'],
  'v1/Secret': ['kubernetes-models/v1/Secret', 'ISecret'],
  'v1/Service': ['kubernetes-models/v1/Service', 'IService'],
  'apps/v1/Deployment': ['kubernetes-models/apps/v1/Deployment', 'IDeployment'],
  'networking.k8s.io/v1/Ingress': ['kubernetes-models/networking.k8s.io/v1/Ingress', 'IIngress'],
  'policy/v1/PodDisruptionBudget': [
    'kubernetes-models/policy/v1/PodDisruptionBudget',
    'IPodDisruptionBudget',
  ],
};
const ROUTE = 'route.openshift.io/v1/Route';

async function validateAgainstSchema(doc: Doc): Promise<void> {
  const model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  assert.ok(model, `no schema for ${doc.apiVersion} ${doc.kind}`);
  const mod = (await import(model[0])) as Record<string, new (d: Doc) => { validate(): void }>;
  const Model = mod[model[1].slice(1)];
  assert.ok(Model);
  new Model(doc).validate();
}

const byKind = (docs: Array<{ doc: Doc }>, kind: string) =>
  docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);
const one = (docs: Array<{ doc: Doc }>, kind: string): Doc => {
  const found = byKind(docs, kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0] as Doc;
};

describe('deploy/kubernetes against the Kubernetes schemas', () => {
  const docs = manifests();

  it('every object validates against its kind schema', async () => {
    const kinds = new Set(docs.map((d) => `${d.doc.apiVersion}/${d.doc.kind}`));
    assert.deepEqual(
      [...kinds].sort(),
      [...Object.keys(MODELS), ROUTE].sort(),
      'the kinds deploy/ holds, each checked here',
    );
    for (const { file, doc } of docs) {
      if (`${doc.apiVersion}/${doc.kind}` === ROUTE) continue;
      await assert.doesNotReject(validateAgainstSchema(doc), `${file}: ${doc.kind}`);
    }
  });

  it('the validator is not a rubber stamp: a wrong type or a missing field is refused', async () => {
    const deployment = structuredClone(one(docs, 'Deployment'));
    deployment.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    await assert.rejects(validateAgainstSchema(deployment), /containerPort must be integer/);
    const service = structuredClone(one(docs, 'Service'));
    delete service.spec.ports[0].port;
    await assert.rejects(validateAgainstSchema(service), /port/);
  });

  it('no unknown field anywhere (the API server would refuse them: strict field validation)', {
    timeout: 120_000,
  }, () => {
    const dir = tempDir();
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const checked = docs.filter((d) => `${d.doc.apiVersion}/${d.doc.kind}` !== ROUTE);
    const lines = checked.map(({ doc }, i) => {
      const [module, iface] = MODELS[`${doc.apiVersion}/${doc.kind}`] as [string, string];
      return `import type { ${iface} as T${i} } from '${module}';\nexport const m${i}: T${i} = ${JSON.stringify(doc)};`;
    });
    const file = join(dir, 'manifests.ts');
    writeFileSync(file, lines.join('\n'));
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      target: ts.ScriptTarget.ES2022,
      types: [],
    });
    const problems = ts
      .getPreEmitDiagnostics(program)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    assert.deepEqual(problems, []);
    // And a typo is caught.
    const typo = structuredClone(one(docs, 'Deployment'));
    typo.spec.template.spec.containers[0].readinesProbe = {};
    writeFileSync(
      file,
      `import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';\nexport const d: IDeployment = ${JSON.stringify(typo)};`,
    );
    const again = ts.getPreEmitDiagnostics(ts.createProgram([file], program.getCompilerOptions()));
    assert.match(
      again.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n'),
      /readinesProbe.*does not exist/,
    );
  });

  it('the OpenShift Route (no schema shipped on npm here) points at the Service port by name', () => {
    const route = one(docs, 'Route');
    const service = one(docs, 'Service');
    assert.equal(route.spec.to.kind, 'Service');
    assert.equal(route.spec.to.name, service.metadata.name);
    assert.ok(service.spec.ports.some((p: Doc) => p.name === route.spec.port.targetPort));
    assert.ok(['edge', 'reencrypt', 'passthrough'].includes(route.spec.tls.termination));
    assert.ok(['Allow', 'Redirect', 'None'].includes(route.spec.tls.insecureEdgeTerminationPolicy));
    assert.deepEqual(
      Object.keys(route.spec).sort(),
      ['host', 'port', 'tls', 'to', 'wildcardPolicy'],
      'only fields of route.openshift.io/v1 RouteSpec used here',
    );
  });

  it('the Deployment: 2 replicas, no root, read-only root, probes, limits, secrets by reference', () => {
    const d = one(docs, 'Deployment');
    const pod = d.spec.template.spec;
    const [c] = pod.containers;
    assert.equal(d.spec.replicas, 2);
    assert.deepEqual(d.spec.selector.matchLabels, d.metadata.labels);
    assert.deepEqual(d.spec.template.metadata.labels, d.spec.selector.matchLabels);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    assert.equal(c.readinessProbe.httpGet.path, '/api/health/ready');
    assert.equal(c.livenessProbe.httpGet.path, '/api/health/live');
    for (const k of ['cpu', 'memory']) {
      assert.ok(c.resources.requests[k] && c.resources.limits[k], `resources ${k}`);
    }
    // Every writable place is a volume: /tmp and the data directory.
    const mounts = new Map(c.volumeMounts.map((m: Doc) => [m.mountPath, m]));
    assert.ok(mounts.has('/tmp'));
    // Secrets: referenced by name and key, each defined (with placeholders) in secrets.example.yaml.
    const secrets = new Map(byKind(docs, 'Secret').map((s) => [s.metadata.name, s]));
    for (const e of c.env.filter((e: Doc) => e.valueFrom)) {
      const ref = e.valueFrom.secretKeyRef;
      assert.ok(ref, `${e.name} comes from a Secret`);
      assert.ok(
        secrets.get(ref.name)?.stringData?.[ref.key] !== undefined,
        `${ref.name}.${ref.key}`,
      );
    }
    for (const v of pod.volumes.filter((v: Doc) => v.secret)) {
      assert.ok(secrets.has(v.secret.secretName), v.secret.secretName);
    }
    assert.equal(
      c.env.filter((e: Doc) => typeof e.value === 'string' && /token|secret|password/i.test(e.name))
        .length,
      0,
      'no secret written as a plain value',
    );
    const service = one(docs, 'Service');
    assert.deepEqual(service.spec.selector, d.spec.selector.matchLabels);
    const ports = c.ports.map((p: Doc) => p.name);
    for (const p of service.spec.ports) assert.ok(ports.includes(p.targetPort));
    const ingress = one(docs, 'Ingress');
    const backend = ingress.spec.rules[0].http.paths[0].backend.service;
    assert.equal(backend.name, service.metadata.name);
    assert.ok(service.spec.ports.some((p: Doc) => p.name === backend.port.name));
  });

  it("the ConfigMap's deployment file loads, and fits the Deployment's ports, mounts and replicas", async () => {
    const docsNow = manifests();
    const cm = one(docsNow, 'ConfigMap');
    const d = one(docsNow, 'Deployment');
    const [c] = d.spec.template.spec.containers;
    const dir = tempDir();
    for (const [name, text] of Object.entries(cm.data as Record<string, string>)) {
      writeFileSync(join(dir, name), text);
    }
    const deployment = await loadDeployment(join(dir, 'autoctrl.yaml'));
    assert.match(deployment.store, /^postgres:\/\//);
    assert.equal(deployment.engine.controllers, d.spec.replicas);
    assert.equal(deployment.server.host, '0.0.0.0');
    assert.equal(deployment.server.port, c.ports[0].containerPort);
    const mountOf = (path: string) =>
      c.volumeMounts.find((m: Doc) => path.startsWith(`${m.mountPath}/`));
    const dataMount = mountOf(deployment.dataDir);
    assert.ok(dataMount && !dataMount.readOnly, 'data_dir is on a writable volume');
    const passwordFile = new URL(deployment.store).searchParams.get('password_file') ?? '';
    const dbMount = mountOf(passwordFile);
    const dbVolume = d.spec.template.spec.volumes.find((v: Doc) => v.name === dbMount?.name);
    assert.equal(dbVolume?.secret?.secretName, 'autoctrl-db');
    // The variables the file names for secrets are the ones the Deployment fills from Secrets.
    const fromSecrets = new Set(
      c.env.filter((e: Doc) => e.valueFrom?.secretKeyRef).map((e: Doc) => e.name),
    );
    const raw = readFileSync(join(dir, 'autoctrl.yaml'), 'utf8');
    for (const [, name] of raw.matchAll(/(?:token_env|url_env|signing_secret_env): (\w+)/g)) {
      assert.ok(fromSecrets.has(name as string), `${name} is set from a Secret`);
    }
  });
});

describe('deploy/systemd', () => {
  const missing = spawnSync('systemd-analyze', ['--version']).status !== 0;
  if (missing && process.env.AUTOCTRL_REQUIRE_SERVICES === '1')
    throw new Error('systemd-analyze not installed: apt-get install systemd');
  it('the units pass systemd-analyze verify, with no warning', {
    skip: missing && 'no systemd-analyze',
  }, () => {
    const dir = tempDir();
    // verify wants ExecStart's program to exist: a stand-in at a path of this test's.
    const bin = join(dir, 'autoctrl');
    writeFileSync(bin, '#!/bin/sh\n', { mode: 0o755 });
    const units = readdirSync(SYSTEMD);
    assert.deepEqual(units.sort(), [
      'autoctrl-pass.service',
      'autoctrl-pass.timer',
      'autoctrl.service',
    ]);
    for (const unit of units) {
      const text = readFileSync(join(SYSTEMD, unit), 'utf8');
      writeFileSync(join(dir, unit), text.replaceAll('/usr/bin/autoctrl', bin));
    }
    const r = spawnSync('systemd-analyze', ['verify', ...units.map((u) => join(dir, u))], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'no warning');
    const serve = readFileSync(join(SYSTEMD, 'autoctrl.service'), 'utf8');
    for (const line of [
      'DynamicUser=yes',
      'ProtectSystem=strict',
      'ReadWritePaths=/var/lib/autoctrl',
      'Restart=on-failure',
    ]) {
      assert.ok(serve.includes(`\n${line}\n`), line);
    }
    // systemd's own exposure score of the sandbox (0 best, 10 worst).
    const security = execFileSync(
      'systemd-analyze',
      ['security', '--offline=yes', join(dir, 'autoctrl.service')],
      { encoding: 'utf8' },
    );
    const score = Number(
      /Overall exposure level for autoctrl\.service: ([\d.]+)/.exec(security)?.[1],
    );
    assert.ok(score <= 2.5, `exposure ${score}`);
  });
});
