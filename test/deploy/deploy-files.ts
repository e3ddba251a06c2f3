// Reads deploy/ (compose file, Kubernetes manifests, Dockerfiles) into plain worker descriptions that the
// consistency tests compare with the code. Parsing only: no Docker engine or cluster is involved.
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { projectRoot } from '../../temporal/project-root';

export const DEPLOY_DIR = path.join(projectRoot(), 'deploy');
export const deployPath = (...parts: string[]) => path.join(DEPLOY_DIR, ...parts);

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** Where an env value comes from: a literal, a Secret key, or a ConfigMap key. */
export type EnvSource =
  | { kind: 'value'; value: string; raw?: string }
  | { kind: 'secret'; secret: string; key: string; optional: boolean }
  | { kind: 'configMap'; configMap: string; key: string };

/** One worker container (a compose service or a Kubernetes Deployment), normalised. */
export interface WorkerSpec {
  /** e.g. `compose:worker-gpu` or `k8s:plasticity-worker-gpu`. */
  where: string;
  /** Arguments after `node dist/workers/main.js`. */
  args: string[];
  env: Map<string, EnvSource>;
  /** GPUs requested (compose device reservation count, or nvidia.com/gpu limit). */
  gpus: number;
  /** Seconds the platform waits after SIGTERM before SIGKILL. */
  graceSeconds: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Compose profiles the service belongs to ([] = always started). */
  profiles: string[];
  image: string;
}

export function readYamlFile(file: string): Json {
  const text = fs.readFileSync(file, 'utf8');
  try {
    return YAML.parse(text, { merge: true }) as Json;
  } catch (err) {
    throw new Error(`${path.relative(projectRoot(), file)}: not valid YAML: ${(err as Error).message}`);
  }
}

export function readYamlDocuments(file: string): JsonObject[] {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'));
  return docs.map((doc, i) => {
    if (doc.errors.length) throw new Error(`${path.relative(projectRoot(), file)} document ${i + 1}: ${doc.errors[0].message}`);
    return doc.toJS() as JsonObject;
  }).filter((d) => d !== null);
}

export function asObject(value: Json | undefined, what: string): JsonObject {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${what}: expected a mapping, got ${JSON.stringify(value)}`);
  return value;
}

export function asArray(value: Json | undefined, what: string): Json[] {
  if (!Array.isArray(value)) throw new Error(`${what}: expected a list, got ${JSON.stringify(value)}`);
  return value;
}

// ── .env files and compose interpolation ────────────────────────────────────────────────────────────────────────

/** KEY=value lines of a .env file (comments and blank lines skipped). */
export function readDotEnv(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, line] of fs.readFileSync(file, 'utf8').split('\n').entries()) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(trimmed);
    if (!match) throw new Error(`${path.basename(file)} line ${i + 1}: expected KEY=value, got "${trimmed}"`);
    out[match[1]] = match[2];
  }
  return out;
}

export interface Interpolation {
  value: string;
  /** Variables referenced with `:?` / `?` (compose fails when they are unset). */
  required: string[];
  /** Every variable referenced. */
  names: string[];
}

/** Compose-style `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`, `$$`. */
export function interpolate(text: string, vars: Record<string, string>, where: string): Interpolation {
  const required: string[] = [];
  const names: string[] = [];
  const value = text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, braced, op, arg, bare) => {
    if (whole === '$$') return '$';
    const name = (braced ?? bare) as string;
    names.push(name);
    const set = vars[name];
    if (op === ':?' || op === '?') {
      required.push(name);
      if (set === undefined || (op === ':?' && set === '')) throw new Error(`${where}: \${${name}} is required (${arg}) but deploy/.env.example does not set it`);
      return set;
    }
    if (op === ':-') return set ? set : arg;
    if (op === '-') return set ?? arg;
    return set ?? '';
  });
  return { value, required, names };
}

// ── compose ─────────────────────────────────────────────────────────────────────────────────────────────────────

export interface ComposeModel {
  raw: JsonObject;
  services: Record<string, JsonObject>;
  /** Values from deploy/.env.example used for interpolation. */
  vars: Record<string, string>;
}

export function loadCompose(): ComposeModel {
  const raw = asObject(readYamlFile(deployPath('compose.yaml')), 'deploy/compose.yaml');
  const services = asObject(raw.services, 'deploy/compose.yaml services') as Record<string, JsonObject>;
  return { raw, services, vars: readDotEnv(deployPath('.env.example')) };
}

/** Compose `environment` (mapping or KEY=value list) → raw strings. */
export function composeEnvironment(service: JsonObject, where: string): Record<string, string> {
  const env = service.environment;
  if (env === undefined) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((item) => {
      const [key, ...rest] = String(item).split('=');
      return [key, rest.join('=')];
    }));
  }
  return Object.fromEntries(Object.entries(asObject(env, `${where} environment`)).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** `150s`, `2m30s`, `1m` (compose durations) → seconds. */
export function durationSeconds(text: string, where: string): number {
  const match = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?$/.exec(text.trim());
  if (!match || !text.trim()) throw new Error(`${where}: expected a duration such as 150s or 2m30s, got "${text}"`);
  return Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0);
}

/** The compose services that run plasticity workers (built from deploy/docker), normalised. */
export function composeWorkers(compose: ComposeModel): WorkerSpec[] {
  const out: WorkerSpec[] = [];
  for (const [name, service] of Object.entries(compose.services)) {
    const build = service.build as JsonObject | undefined;
    if (!build) continue;
    const where = `compose:${name}`;
    const env = new Map<string, EnvSource>();
    for (const [key, raw] of Object.entries(composeEnvironment(service, where))) {
      env.set(key, { kind: 'value', value: interpolate(raw, compose.vars, `${where} ${key}`).value, raw });
    }
    const devices = ((service.deploy as JsonObject | undefined)?.resources as JsonObject | undefined)?.reservations as JsonObject | undefined;
    const gpus = ((devices?.devices as JsonObject[] | undefined) ?? [])
      .filter((d) => d.driver === 'nvidia' && asArray(d.capabilities, `${where} device capabilities`).includes('gpu'))
      .reduce((sum, d) => sum + (d.count === 'all' ? 1 : Number(d.count ?? 1)), 0);
    out.push({
      where,
      args: asArray(service.command, `${where} command`).map(String),
      env,
      gpus,
      graceSeconds: durationSeconds(String(service.stop_grace_period ?? '10s'), `${where} stop_grace_period`),
      labels: Object.fromEntries(Object.entries((service.labels as JsonObject | undefined) ?? {}).map(([k, v]) => [k, String(v)])),
      annotations: {},
      profiles: ((service.profiles as Json[] | undefined) ?? []).map(String),
      image: String(service.image ?? ''),
    });
  }
  return out;
}

/** The Dockerfile a compose service builds, relative to the project root. */
export function composeDockerfile(service: JsonObject, where: string): string {
  const build = asObject(service.build, `${where} build`);
  const context = path.resolve(DEPLOY_DIR, String(build.context ?? '.'));
  return path.relative(projectRoot(), path.join(context, String(build.dockerfile ?? 'Dockerfile')));
}

// ── Kubernetes ──────────────────────────────────────────────────────────────────────────────────────────────────

export interface K8sModel {
  kustomization: JsonObject;
  /** Resources listed in kustomization.yaml, by file. */
  resources: { file: string; doc: JsonObject }[];
  configMaps: Map<string, Record<string, string>>;
  /** Secrets of secrets.example.yaml: name → keys. */
  exampleSecrets: Map<string, string[]>;
}

export function loadK8s(): K8sModel {
  const kustomization = asObject(readYamlFile(deployPath('k8s', 'kustomization.yaml')), 'deploy/k8s/kustomization.yaml');
  const resources = asArray(kustomization.resources, 'kustomization resources').flatMap((file) =>
    readYamlDocuments(deployPath('k8s', String(file))).map((doc) => ({ file: String(file), doc })),
  );
  const configMaps = new Map<string, Record<string, string>>();
  for (const { doc } of resources) {
    if (doc.kind === 'ConfigMap') {
      const name = String(asObject(doc.metadata, 'ConfigMap metadata').name);
      configMaps.set(name, Object.fromEntries(Object.entries(asObject(doc.data, `ConfigMap ${name} data`)).map(([k, v]) => [k, String(v)])));
    }
  }
  const exampleSecrets = new Map<string, string[]>();
  for (const doc of readYamlDocuments(deployPath('k8s', 'secrets.example.yaml'))) {
    const name = String(asObject(doc.metadata, 'Secret metadata').name);
    exampleSecrets.set(name, Object.keys({ ...((doc.stringData as JsonObject | undefined) ?? {}), ...((doc.data as JsonObject | undefined) ?? {}) }));
  }
  return { kustomization, resources, configMaps, exampleSecrets };
}

/** Image reference after the kustomization's `images` rewrite. */
export function kustomizedImage(k8s: K8sModel, image: string): string {
  for (const entry of (k8s.kustomization.images as JsonObject[] | undefined) ?? []) {
    if (entry.name === image) return `${entry.newName ?? image}:${entry.newTag ?? 'latest'}`;
  }
  return image;
}

/** The Deployments' worker containers, normalised (envFrom ConfigMaps expanded into env entries). */
export function k8sWorkers(k8s: K8sModel): WorkerSpec[] {
  const out: WorkerSpec[] = [];
  for (const { file, doc } of k8s.resources) {
    if (doc.kind !== 'Deployment') continue;
    const name = String(asObject(doc.metadata, `${file} metadata`).name);
    const where = `k8s:${name}`;
    const template = asObject(asObject(doc.spec, `${where} spec`).template, `${where} template`);
    const podSpec = asObject(template.spec, `${where} pod spec`);
    const containers = asArray(podSpec.containers, `${where} containers`).map((c) => asObject(c, `${where} container`));
    const worker = containers.find((c) => c.name === 'worker');
    if (!worker) throw new Error(`${where}: expected a container named "worker"`);
    const env = new Map<string, EnvSource>();
    for (const from of (worker.envFrom as JsonObject[] | undefined) ?? []) {
      const ref = asObject(from.configMapRef, `${where} envFrom (only configMapRef is used)`);
      const data = k8s.configMaps.get(String(ref.name));
      if (!data) throw new Error(`${where}: envFrom names ConfigMap ${ref.name}, which the kustomization does not define`);
      for (const key of Object.keys(data)) env.set(key, { kind: 'configMap', configMap: String(ref.name), key });
    }
    for (const item of (worker.env as JsonObject[] | undefined) ?? []) {
      const key = String(item.name);
      if (item.value !== undefined) env.set(key, { kind: 'value', value: String(item.value) });
      else {
        const secret = asObject(asObject(item.valueFrom, `${where} env ${key} valueFrom`).secretKeyRef, `${where} env ${key} secretKeyRef`);
        env.set(key, { kind: 'secret', secret: String(secret.name), key: String(secret.key), optional: secret.optional === true });
      }
    }
    const limits = ((worker.resources as JsonObject | undefined)?.limits as JsonObject | undefined) ?? {};
    const metadata = (template.metadata as JsonObject | undefined) ?? {};
    out.push({
      where,
      args: [...asArray(worker.command ?? [], `${where} command`), ...asArray(worker.args ?? [], `${where} args`)].map(String),
      env,
      gpus: Number(limits['nvidia.com/gpu'] ?? 0),
      graceSeconds: Number(podSpec.terminationGracePeriodSeconds ?? 30),
      labels: Object.fromEntries(Object.entries((metadata.labels as JsonObject | undefined) ?? {}).map(([k, v]) => [k, String(v)])),
      annotations: Object.fromEntries(Object.entries((metadata.annotations as JsonObject | undefined) ?? {}).map(([k, v]) => [k, String(v)])),
      profiles: [],
      image: kustomizedImage(k8s, String(worker.image)),
    });
  }
  return out;
}

/** The env value a worker sees for a ConfigMap/literal entry (undefined for Secrets). */
export function plainValue(k8s: K8sModel | undefined, source: EnvSource | undefined): string | undefined {
  if (!source) return undefined;
  if (source.kind === 'value') return source.value;
  if (source.kind === 'configMap') return k8s?.configMaps.get(source.configMap)?.[source.key];
  return undefined;
}
