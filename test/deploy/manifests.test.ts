// deploy/ is consistent with the code: the compose file and the Kubernetes manifests parse, every worker serves
// task queues that taskQueues() names, sets only environment variables the code reads (and all it needs), keeps
// secrets out of plain values, publishes the ports the code expects, registers the search attributes the workflows
// use, gives GPU workers a GPU and only the gpu queue, and waits longer on SIGTERM than a checkpoint takes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { loadConfig } from '../../config/load';
import { QUEUE_ROLES, taskQueues, type QueueRole } from '../../contract/lineage';
import { connectionSettings, connectNative, DEFAULT_ADDRESS, parseAddress } from '../../temporal/connection';
import { projectRoot } from '../../temporal/project-root';
import { searchAttributeArgs } from '../../temporal/search-attributes';
import { parseWorkerArgs } from '../../cli/worker-options';
import { startWorkers } from '../../workers/run-worker';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import {
  asArray,
  asObject,
  composeDockerfile,
  composeEnvironment,
  composeWorkers,
  deployPath,
  interpolate,
  k8sWorkers,
  loadCompose,
  loadK8s,
  plainValue,
  readDotEnv,
  readYamlDocuments,
  readYamlFile,
  type ComposeModel,
  type JsonObject,
  type K8sModel,
  type WorkerSpec,
} from './deploy-files';
import { EXTERNAL_READS, knownEnvReads } from './env-reads';

const root = projectRoot();
const TEMPORAL_PORT = parseAddress(DEFAULT_ADDRESS, 'DEFAULT_ADDRESS').port;
/** The Web UI port the CLI derives for a local server (connectionSettings: gRPC port + 1000). */
const UI_URL = connectionSettings({ TEMPORAL_ADDRESS: `127.0.0.1:${TEMPORAL_PORT}` }).uiUrl;
const UI_HOST_PORT = Number(new URL(UI_URL ?? 'http://x:0').port);
const TEMPORAL_UI_CONTAINER_PORT = 8080; // temporalio/ui listens here
const S3_PORT = 8333; // SeaweedFS S3 default

const SECRET_NAMES = /SECRET|PASSWORD|PWD|API_KEY|ACCESS_KEY_ID/;
/** Needed by every worker / by workers that touch the artifact store (cpu: validate, import, compare; gpu: train, trace). */
const REQUIRED_ALL = ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'PLASTICITY_TASK_QUEUE_PREFIX'];
const REQUIRED_STORE = ['AWS_ENDPOINT_URL_S3', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'];

let compose: ComposeModel;
let k8s: K8sModel;
let composeSpecs: WorkerSpec[];
let k8sSpecs: WorkerSpec[];

before(() => {
  compose = loadCompose();
  k8s = loadK8s();
  composeSpecs = composeWorkers(compose);
  k8sSpecs = k8sWorkers(k8s);
});

/** The single queue role a worker serves, parsed with the worker's own argument parser. */
function roleOf(spec: WorkerSpec): QueueRole {
  const parsed = parseWorkerArgs(spec.args);
  assert.equal(parsed.queues.length, 1, `${spec.where}: expected one queue role per worker, got --queues ${parsed.queues.join(',')}`);
  return parsed.queues[0];
}

function prefixOf(spec: WorkerSpec, model?: K8sModel): string {
  return parseWorkerArgs(spec.args).prefix ?? plainValue(model, spec.env.get('PLASTICITY_TASK_QUEUE_PREFIX')) ?? 'plasticity';
}

function serviceNamed(name: string): JsonObject {
  const service = compose.services[name];
  assert.ok(service, `deploy/compose.yaml: expected a service "${name}"`);
  return service;
}

/** `127.0.0.1:7233:7233` / `7233:7233` / `7233` → {host, container} ports. */
function publishedPorts(service: JsonObject, where: string): { host: number; container: number }[] {
  return ((service.ports as string[] | undefined) ?? []).map((entry) => {
    const parts = String(entry).split(':');
    const container = Number(parts[parts.length - 1]);
    const host = parts.length >= 2 ? Number(parts[parts.length - 2]) : container;
    assert.ok(Number.isInteger(host) && Number.isInteger(container), `${where}: cannot read port mapping "${entry}"`);
    return { host, container };
  });
}

describe('deploy files parse', () => {
  test('compose file, .env.example and every Kubernetes manifest are valid YAML with the expected kinds', () => {
    assert.ok(Object.keys(compose.services).length >= 8, 'compose: expected Temporal, UI, PostgreSQL, SeaweedFS, init jobs and workers');
    const kinds = k8s.resources.map(({ doc }) => `${doc.kind}/${asObject(doc.metadata, 'metadata').name}`).sort();
    assert.deepEqual(kinds, [
      'ConfigMap/plasticity-config',
      'Deployment/plasticity-worker-cpu',
      'Deployment/plasticity-worker-gpu',
      'Deployment/plasticity-worker-orchestrator',
    ]);
    for (const doc of readYamlDocuments(deployPath('k8s', 'secrets.example.yaml'))) assert.equal(doc.kind, 'Secret');
    const component = asObject(readYamlFile(deployPath('k8s', 'components', 'temporal-mtls', 'kustomization.yaml')), 'mtls component');
    assert.equal(component.kind, 'Component');
  });

  test('every manifest file in deploy/k8s is listed by the kustomization, except the secrets template', () => {
    const listed = asArray(k8s.kustomization.resources, 'resources').map(String).sort();
    const files = fs.readdirSync(deployPath('k8s')).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    assert.deepEqual(listed, files.filter((f) => f !== 'secrets.example.yaml').sort());
    assert.ok(!listed.includes('secrets.example.yaml'), 'the placeholder Secrets must not be applied by `kubectl apply -k`');
  });

  test('no Job or CronJob: workers are long-running Deployments', () => {
    const kinds = k8s.resources.map(({ doc }) => String(doc.kind));
    assert.ok(!kinds.includes('Job') && !kinds.includes('CronJob'), `unexpected kinds: ${kinds.join(', ')}`);
  });

  test('the shell scripts pass `sh -n` / `bash -n`', () => {
    const scripts = [
      ...fs.readdirSync(deployPath('scripts')).map((f) => deployPath('scripts', f)),
      deployPath('docker', 'build-tfjs-node-gpu.sh'),
    ].filter((f) => f.endsWith('.sh'));
    assert.ok(scripts.length >= 5, `expected the deploy scripts, found ${scripts.length}`);
    for (const script of scripts) {
      const shell = fs.readFileSync(script, 'utf8').startsWith('#!/usr/bin/env bash') ? 'bash' : 'sh';
      const r = spawnSync(shell, ['-n', script], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${shell} -n ${path.relative(root, script)}: ${r.stderr}`);
    }
  });
});

describe('task queues', () => {
  test('compose: one queue role per worker, every role served with either profile, names from taskQueues()', () => {
    for (const profile of ['gpu', 'cpu-only']) {
      const active = composeSpecs.filter((s) => s.profiles.length === 0 || s.profiles.includes(profile));
      assert.deepEqual([...new Set(active.map(roleOf))].sort(), [...QUEUE_ROLES].sort(), `profile ${profile}: every queue role needs a worker`);
    }
    for (const spec of composeSpecs) {
      const role = roleOf(spec);
      assert.equal(spec.labels['plasticity.queue-role'], role, `${spec.where}: label plasticity.queue-role`);
      const queues = taskQueues(prefixOf(spec));
      assert.match(queues[role], new RegExp(`^${prefixOf(spec)}-${role}$`));
    }
    const prefixes = new Set(composeSpecs.map((s) => prefixOf(s)));
    assert.equal(prefixes.size, 1, `all compose workers must share one queue prefix, got ${[...prefixes].join(', ')}`);
  });

  test('k8s: one Deployment per queue role, labelled with the queue name taskQueues() gives', () => {
    assert.deepEqual(k8sSpecs.map(roleOf).sort(), [...QUEUE_ROLES].sort());
    for (const spec of k8sSpecs) {
      const role = roleOf(spec);
      const queue = taskQueues(prefixOf(spec, k8s))[role];
      assert.equal(spec.labels['plasticity/task-queue'], queue, `${spec.where}: label plasticity/task-queue`);
      assert.equal(spec.where, `k8s:plasticity-worker-${role}`);
    }
  });

  test('the CLI and the workers agree on the default prefix', () => {
    assert.equal(prefixOf(composeSpecs[0]), compose.vars.PLASTICITY_TASK_QUEUE_PREFIX);
    assert.equal(k8s.configMaps.get('plasticity-config')?.PLASTICITY_TASK_QUEUE_PREFIX, 'plasticity');
    assert.equal(taskQueues().orchestrator, 'plasticity-orchestrator');
  });
});

describe('environment', () => {
  test('the code-read list is real: every external reader is present where claimed', () => {
    const known = knownEnvReads();
    for (const name of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_API_KEY', 'TEMPORAL_TLS_CERT', 'PLASTICITY_TASK_QUEUE_PREFIX', 'AWS_ENDPOINT_URL_S3', 'AWS_REGION', 'PLASTICITY_BACKEND']) {
      assert.ok(known.has(name), `expected the source scan to find ${name}`);
    }
    for (const [name, { evidence }] of Object.entries(EXTERNAL_READS)) {
      if (!evidence) continue;
      const text = fs.readFileSync(path.join(root, evidence.file), 'utf8');
      assert.ok(text.includes(evidence.contains), `${name}: ${evidence.file} no longer contains ${evidence.contains}`);
    }
  });

  for (const target of ['compose', 'k8s'] as const) {
    test(`${target}: workers set only variables the code reads, and all it needs`, () => {
      const known = knownEnvReads();
      const specs = target === 'compose' ? composeSpecs : k8sSpecs;
      for (const spec of specs) {
        for (const name of spec.env.keys()) {
          assert.ok(known.has(name), `${spec.where} sets ${name}, which no worker code reads (known: ${[...known.keys()].sort().join(', ')})`);
        }
        const role = roleOf(spec);
        const required = [...REQUIRED_ALL, ...(role === 'orchestrator' ? [] : REQUIRED_STORE)];
        for (const name of required) assert.ok(spec.env.has(name), `${spec.where} (${role}) must set ${name}`);
        // The values the connection module would see are valid (address format, namespace, TLS combination).
        const env: NodeJS.ProcessEnv = {};
        for (const [name, source] of spec.env) env[name] = plainValue(k8s, source) ?? 'placeholder-secret';
        const settings = connectionSettings(env);
        assert.equal(parseAddress(settings.address, 'TEMPORAL_ADDRESS').port, TEMPORAL_PORT, `${spec.where}: Temporal frontend port`);
      }
    });
  }

  test('compose: secrets are interpolated from .env (required), never literal values', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const [key, raw] of Object.entries(composeEnvironment(service, name))) {
        if (!SECRET_NAMES.test(key)) continue;
        assert.match(raw, new RegExp(`^\\$\\{[A-Z_]+:\\?[^}]+\\}$`), `compose:${name} ${key} must be \${VAR:?message} from deploy/.env, got "${raw}"`);
        const { required } = interpolate(raw, compose.vars, `compose:${name} ${key}`);
        assert.equal(required.length, 1);
      }
    }
    assert.ok(fs.readFileSync(deployPath('.gitignore'), 'utf8').split('\n').includes('.env'), 'deploy/.gitignore must ignore .env');
  });

  test('k8s: credentials come from Secrets that secrets.example.yaml defines; the ConfigMap holds none', () => {
    const configMap = k8s.configMaps.get('plasticity-config') ?? {};
    for (const key of Object.keys(configMap)) assert.doesNotMatch(key, SECRET_NAMES, `ConfigMap key ${key} looks like a secret`);
    for (const spec of k8sSpecs) {
      for (const [name, source] of spec.env) {
        if (SECRET_NAMES.test(name)) assert.equal(source.kind, 'secret', `${spec.where}: ${name} must come from a Secret`);
        if (source.kind !== 'secret') continue;
        const keys = k8s.exampleSecrets.get(source.secret);
        assert.ok(keys, `${spec.where}: ${name} refers to Secret ${source.secret}, missing from secrets.example.yaml`);
        assert.ok(keys.includes(source.key), `${spec.where}: Secret ${source.secret} has no key ${source.key} in secrets.example.yaml`);
      }
      const apiKey = spec.env.get('TEMPORAL_API_KEY');
      assert.ok(apiKey?.kind === 'secret' && apiKey.optional, `${spec.where}: TEMPORAL_API_KEY should be an optional Secret reference`);
    }
  });

  test('k8s mTLS component: sets only TLS variables the code reads and mounts the files they name', () => {
    const known = knownEnvReads();
    const patch = asObject(readYamlFile(deployPath('k8s', 'components', 'temporal-mtls', 'worker-tls.yaml')), 'worker-tls.yaml');
    const pod = asObject(asObject(asObject(patch.spec, 'spec').template, 'template').spec, 'pod spec');
    const container = asObject(asArray(pod.containers, 'containers')[0], 'container');
    const mounts = asArray(container.volumeMounts, 'volumeMounts').map((m) => String(asObject(m, 'mount').mountPath));
    const volume = asObject(asArray(pod.volumes, 'volumes')[0], 'volume');
    const secretName = String(asObject(volume.secret, 'volume secret').secretName);
    const secretKeys = k8s.exampleSecrets.get(secretName) ?? [];
    const env = asArray(container.env, 'env').map((e) => asObject(e, 'env'));
    assert.deepEqual(env.map((e) => e.name).sort(), ['TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY']);
    for (const e of env) {
      assert.ok(known.has(String(e.name)), `${e.name} is not read by temporal/connection.ts`);
      const file = String(e.value);
      assert.ok(mounts.includes(path.posix.dirname(file)), `${e.name}=${file} is not under a mounted folder (${mounts.join(', ')})`);
      assert.ok(secretKeys.includes(path.posix.basename(file)), `${e.name}: Secret ${secretName} has no key ${path.posix.basename(file)}`);
    }
    const settings = connectionSettings(Object.fromEntries(env.map((e) => [String(e.name), String(e.value)])));
    assert.ok(settings.tls?.certFile && settings.tls.keyFile, 'mTLS variables must turn on TLS with a client certificate');
  });

  test('.env.example defines every variable compose requires, and the bucket name fits store/open.ts', () => {
    const text = fs.readFileSync(deployPath('compose.yaml'), 'utf8');
    const { required } = interpolate(text.replace(/^\s*#.*$/gm, ''), compose.vars, 'deploy/compose.yaml');
    assert.ok(required.includes('AWS_SECRET_ACCESS_KEY') && required.includes('POSTGRES_PASSWORD'), `required: ${required.join(', ')}`);
    const bucket = readDotEnv(deployPath('.env.example')).S3_BUCKET;
    assert.match(bucket, /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/);
  });
});

describe('services and ports', () => {
  test('compose: Temporal on 7233, the Web UI where the CLI links to, SeaweedFS S3 on 8333, and workers point at them', () => {
    const temporal = serviceNamed('temporal');
    assert.match(String(temporal.image), /^temporalio\/server:/);
    assert.ok(publishedPorts(temporal, 'temporal').some((p) => p.host === TEMPORAL_PORT && p.container === TEMPORAL_PORT), 'temporal publishes 7233');
    const ui = serviceNamed('temporal-ui');
    assert.ok(
      publishedPorts(ui, 'temporal-ui').some((p) => p.host === UI_HOST_PORT && p.container === TEMPORAL_UI_CONTAINER_PORT),
      `temporal-ui must publish ${UI_HOST_PORT}:${TEMPORAL_UI_CONTAINER_PORT} (the CLI derives ${UI_URL} for a local server)`,
    );
    assert.equal(composeEnvironment(ui, 'temporal-ui').TEMPORAL_ADDRESS, `temporal:${TEMPORAL_PORT}`);
    const seaweed = serviceNamed('seaweedfs');
    assert.ok(publishedPorts(seaweed, 'seaweedfs').some((p) => p.container === S3_PORT), 'seaweedfs publishes 8333');
    assert.match(JSON.stringify(seaweed.healthcheck), new RegExp(`:${S3_PORT}/healthz`));
    assert.equal(serviceNamed('postgresql').image, 'postgres:16');
    for (const spec of composeSpecs) {
      const env = Object.fromEntries([...spec.env].map(([k, v]) => [k, plainValue(undefined, v)]));
      assert.equal(env.TEMPORAL_ADDRESS, `temporal:${TEMPORAL_PORT}`, `${spec.where}: TEMPORAL_ADDRESS`);
      if (env.AWS_ENDPOINT_URL_S3 !== undefined) assert.equal(env.AWS_ENDPOINT_URL_S3, `http://seaweedfs:${S3_PORT}`, `${spec.where}: AWS_ENDPOINT_URL_S3`);
      const deps = asObject(serviceNamed(spec.where.slice('compose:'.length)).depends_on, `${spec.where} depends_on`);
      assert.deepEqual(Object.keys(deps).sort(), ['s3-bucket', 'temporal-init'], `${spec.where}: start after the namespace, search attributes and bucket exist`);
    }
  });

  test('compose: the init job registers exactly the search attributes of temporal/search-attributes.ts', () => {
    const init = serviceNamed('temporal-init');
    const registered = asArray(init.command, 'temporal-init command').map(String).sort();
    const expected = searchAttributeArgs().filter((a) => a !== '--search-attribute').sort();
    assert.deepEqual(registered, expected);
    assert.equal(composeEnvironment(init, 'temporal-init').TEMPORAL_ADDRESS, `temporal:${TEMPORAL_PORT}`);
  });

  test('compose: every service the workers and jobs depend on exists; scripts and files they mount exist', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      const deps = service.depends_on ? Object.keys(asObject(service.depends_on, `${name} depends_on`)) : [];
      for (const dep of deps) assert.ok(compose.services[dep], `${name} depends on unknown service ${dep}`);
      for (const volume of (service.volumes as string[] | undefined) ?? []) {
        const source = String(volume).split(':')[0];
        if (source.startsWith('.')) assert.ok(fs.existsSync(deployPath(source)), `${name}: mounts ${source}, which does not exist in deploy/`);
      }
      const entry = (service.entrypoint as string[] | undefined) ?? [];
      const script = entry.find((e) => e.startsWith('/scripts/'));
      if (script) assert.ok(fs.existsSync(deployPath('scripts', path.basename(script))), `${name}: ${script} missing from deploy/scripts`);
    }
  });
});

describe('GPU workers', () => {
  test('compose: the GPU-reserving worker serves only the gpu queue and is the only one with a GPU', () => {
    const withGpu = composeSpecs.filter((s) => s.gpus > 0);
    assert.equal(withGpu.length, 1, 'expected exactly one GPU worker service');
    assert.deepEqual(parseWorkerArgs(withGpu[0].args).queues, ['gpu']);
    assert.deepEqual(withGpu[0].profiles, ['gpu']);
    assert.equal(composeDockerfile(serviceNamed(withGpu[0].where.slice('compose:'.length)), withGpu[0].where), path.join('deploy', 'docker', 'Dockerfile.gpu'));
  });

  test('k8s: the gpu Deployment requests nvidia.com/gpu, is pinned to GPU nodes, tolerates their taint; no other does', () => {
    for (const spec of k8sSpecs) {
      const role = roleOf(spec);
      const doc = k8s.resources.find(({ doc }) => `k8s:${asObject(doc.metadata, 'metadata').name}` === spec.where)!.doc;
      const pod = asObject(asObject(asObject(doc.spec, 'spec').template, 'template').spec, 'pod spec');
      const container = asObject(asArray(pod.containers, 'containers')[0], 'container');
      const resources = asObject(container.resources, `${spec.where} resources`);
      const requested = (resources.requests as JsonObject | undefined)?.['nvidia.com/gpu'];
      if (role !== 'gpu') {
        assert.equal(spec.gpus, 0, `${spec.where} must not take a GPU`);
        assert.equal(requested, undefined, `${spec.where} must not request a GPU`);
        continue;
      }
      assert.ok(spec.gpus >= 1, `${spec.where}: limits nvidia.com/gpu >= 1`);
      if (requested !== undefined) assert.equal(Number(requested), spec.gpus, `${spec.where}: GPU requests must equal limits`);
      assert.ok(Object.keys(asObject(pod.nodeSelector, `${spec.where} nodeSelector`)).length > 0, `${spec.where}: nodeSelector`);
      const tolerations = asArray(pod.tolerations, `${spec.where} tolerations`).map((t) => asObject(t, 'toleration'));
      assert.ok(tolerations.some((t) => t.key === 'nvidia.com/gpu'), `${spec.where}: tolerate nvidia.com/gpu`);
      assert.equal(spec.image, 'plasticity-worker:gpu');
      const strategy = asObject(asObject(doc.spec, 'spec').strategy, `${spec.where} strategy`);
      assert.equal(asObject(strategy.rollingUpdate, 'rollingUpdate').maxSurge, 0, `${spec.where}: a rollout must not need an extra GPU`);
    }
  });
});

describe('graceful termination', () => {
  let shutdownGraceSeconds: number;

  // The worker's real shutdownGraceTime, read from a Worker that startWorkers() creates with the defaults that
  // `node dist/workers/main.js` uses (the entry point passes none).
  before(async () => {
    try {
      Runtime.install({ logger: new DefaultLogger('WARN') }); // quiet worker state logs
    } catch {
      /* already installed in this process */
    }
    const address = process.env.PLASTICITY_TEST_TEMPORAL_ADDRESS;
    if (!address) throw new Error('PLASTICITY_TEST_TEMPORAL_ADDRESS is not set: run through the test harness (node dist/test/harness.js deploy)');
    const connection = await connectNative(connectionSettings({ TEMPORAL_ADDRESS: address }));
    try {
      const running = await startWorkers({ queues: ['cpu'], connection, taskQueuePrefix: `deploy-grace-${process.pid}`, handleSignals: false });
      shutdownGraceSeconds = running.workers[0].options.shutdownGraceTimeMs / 1000;
      await running.shutdown();
    } finally {
      await connection.close();
    }
  });

  test('k8s: annotations match the worker; terminationGracePeriodSeconds > shutdownGraceTime >= a checkpoint interval', () => {
    const checkpointEvery = loadConfig(path.join(root, 'configs', 'default.yaml')).config.checkpoint_every;
    for (const spec of k8sSpecs) {
      const annotated = Number(spec.annotations['plasticity/shutdown-grace-seconds']);
      assert.equal(annotated, shutdownGraceSeconds, `${spec.where}: plasticity/shutdown-grace-seconds vs the worker's shutdownGraceTime`);
      assert.ok(spec.graceSeconds > shutdownGraceSeconds, `${spec.where}: terminationGracePeriodSeconds ${spec.graceSeconds} must exceed ${shutdownGraceSeconds}`);
      if (roleOf(spec) !== 'gpu') continue;
      const steps = Number(spec.annotations['plasticity/checkpoint-every-steps']);
      const stepSeconds = Number(spec.annotations['plasticity/max-step-seconds']);
      assert.equal(steps, checkpointEvery, `${spec.where}: plasticity/checkpoint-every-steps vs configs/default.yaml checkpoint_every`);
      assert.ok(stepSeconds > 0, `${spec.where}: plasticity/max-step-seconds`);
      assert.ok(steps * stepSeconds <= shutdownGraceSeconds, `${spec.where}: a checkpoint interval (${steps} x ${stepSeconds} s) must fit in the shutdown grace (${shutdownGraceSeconds} s)`);
    }
  });

  test('compose: every worker waits longer than shutdownGraceTime before SIGKILL', () => {
    for (const spec of composeSpecs) {
      assert.ok(spec.graceSeconds > shutdownGraceSeconds, `${spec.where}: stop_grace_period ${spec.graceSeconds} s must exceed ${shutdownGraceSeconds} s`);
    }
  });
});

describe('images', () => {
  const dockerfile = (name: string) => fs.readFileSync(deployPath('docker', name), 'utf8');
  /** Instructions of the last stage (the image that runs). */
  const finalStage = (text: string) => text.slice(text.lastIndexOf('\nFROM '));

  for (const name of ['Dockerfile.cpu', 'Dockerfile.gpu']) {
    test(`${name}: glibc Node 20 base, npm ci, non-root, heap limit, CA certificates, worker entry point`, () => {
      const text = dockerfile(name);
      const froms = [...text.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
      assert.ok(froms.length >= 2, `${name}: expected a build and a runtime stage`);
      for (const from of froms) assert.doesNotMatch(from, /alpine|musl/i, `${name}: ${from} (the Temporal core bridge needs glibc)`);
      assert.match(text, /^ARG NODE_VERSION=20$/m);
      assert.match(text, /^ARG DEBIAN_RELEASE=bookworm$/m);
      assert.match(text, /npm ci\b/);
      const last = finalStage(text);
      assert.match(last, /^USER [1-9]\d*:[1-9]\d*$/m, `${name}: the runtime stage must drop root (numeric, for runAsNonRoot)`);
      assert.match(last, /ca-certificates/);
      assert.match(last, /NODE_OPTIONS=--max-old-space-size=/);
      assert.match(last, /^ENTRYPOINT \["tini", "--", "node", "dist\/workers\/main\.js"\]$/m);
      const cmd = /^CMD (\[.*\])$/m.exec(last);
      assert.ok(cmd, `${name}: expected a CMD with the default queue`);
      assert.deepEqual(parseWorkerArgs(JSON.parse(cmd[1]) as string[]).queues, [name.endsWith('gpu') ? 'gpu' : 'cpu']);
      // report/assets.ts reads the reports' stylesheet from the project's report/ folder (tsc does not copy it to dist/)
      assert.match(last, /^COPY --from=build \/app\/report\/report\.css \.\/report\/report\.css$/m, `${name}: the runtime needs report/report.css`);
      assert.ok(fs.existsSync(deployPath('docker', `${name}.dockerignore`)), `${name}.dockerignore`);
      const ignored = fs.readFileSync(deployPath('docker', `${name}.dockerignore`), 'utf8').split('\n');
      for (const entry of ['node_modules', 'dist', 'deploy/.env', '.git']) assert.ok(ignored.includes(entry), `${name}.dockerignore must exclude ${entry}`);
    });
  }

  test('Dockerfile.cpu: the optional native backend is scripts/setup-native.sh behind a build arg', () => {
    const text = dockerfile('Dockerfile.cpu');
    assert.match(text, /^ARG NATIVE=0$/m);
    assert.match(text, /if \[ "\$NATIVE" = "1" \]; then[\s\S]*bash scripts\/setup-native\.sh/);
    assert.ok(fs.existsSync(path.join(root, 'scripts', 'setup-native.sh')));
    // The runtime copies the folder model/native-path.ts searches.
    assert.match(finalStage(text), /COPY --from=build \/app\/tools\/tfjs-native \.\/tools\/tfjs-native/);
  });

  test('Dockerfile.gpu: builds tfjs-node-gpu with deploy/docker/build-tfjs-node-gpu.sh and uses the tensorflow backend', () => {
    const text = dockerfile('Dockerfile.gpu');
    assert.match(text, /bash deploy\/docker\/build-tfjs-node-gpu\.sh --project \/app/);
    assert.match(finalStage(text), /PLASTICITY_BACKEND=tensorflow/);
    const script = fs.readFileSync(deployPath('docker', 'build-tfjs-node-gpu.sh'), 'utf8');
    const tfjsVersion = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).dependencies['@tensorflow/tfjs'];
    assert.match(script, new RegExp(`^TFJS_VERSION=${tfjsVersion.replace(/\./g, '\\.')}$`, 'm'), 'tfjs-node-gpu must match the project\'s @tensorflow/tfjs');
  });

  test('compose and k8s run the images these Dockerfiles build', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (!service.build) continue;
      const file = composeDockerfile(service, name);
      assert.ok(fs.existsSync(path.join(root, file)), `${name}: ${file} missing`);
      assert.equal(service.image, file.endsWith('gpu') ? 'plasticity-worker:gpu' : 'plasticity-worker:cpu', `${name}: image tag`);
    }
    for (const spec of k8sSpecs) {
      assert.equal(spec.image, roleOf(spec) === 'gpu' ? 'plasticity-worker:gpu' : 'plasticity-worker:cpu', `${spec.where}: image`);
    }
  });
});
