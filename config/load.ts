// Loading an experiment config: a YAML or JSON file (or nothing: all defaults), `--set a.b=value` overrides, schema
// validation with messages that name the dotted field, relative paths made absolute, and the config hash.
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { defaultStorePath } from '../store/open';
import { hashJson } from './canonical';
import { ExperimentSchema, type ExperimentConfig } from './schema';

/** A config that cannot be used; `field` is the dotted path of the first bad field when there is one. */
export class ConfigError extends Error {
  /** Never retried (errors/deterministic.ts). */
  readonly failureType = 'InvalidConfig' as const;
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  /** `a.b=value` overrides, applied in order; the value is parsed as JSON when possible, else taken as a string. */
  set?: readonly string[];
  /** Folder that relative paths (store, model.path) are resolved against. Default: the current directory. */
  baseDir?: string;
}

export interface LoadedConfig {
  config: ExperimentConfig;
  /** sha256 of the canonical config JSON without `store` (where results go does not change the experiment). */
  hash: string;
  /** The file it came from, or '(defaults)'. */
  source: string;
}

/** Reads, overrides, validates and resolves a config. Throws ConfigError naming the file and field. */
export function loadConfig(file?: string, options: LoadConfigOptions = {}): LoadedConfig {
  const source = file ?? '(defaults)';
  const raw = file ? readConfigFile(file) : {};
  const overridden = applyOverrides(raw, options.set ?? [], source);
  const config = parseConfig(overridden, { source, baseDir: options.baseDir });
  return { config, hash: configHash(config), source };
}

/** How a config file is named in messages and what its top level should hold. */
export interface ConfigFileKind {
  /** e.g. 'config' or '--config'. */
  label: string;
  /** The top-level keys, for the message when the file is not a mapping. */
  sections: string;
}

const EXPERIMENT_FILE: ConfigFileKind = { label: 'config', sections: 'name, model, finetune, …' };

/** The raw object in a .yaml/.yml/.json file (an empty file is an empty config). */
export function readConfigFile(file: string, kind: ConfigFileKind = EXPERIMENT_FILE): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`${kind.label} ${file}: cannot read the file (${code === 'ENOENT' ? 'not found' : (code ?? String(err))})`);
  }
  let value: unknown;
  try {
    value = /\.json$/i.test(file) ? JSON.parse(text) : YAML.parse(text, { prettyErrors: true });
  } catch (err) {
    throw new ConfigError(`${kind.label} ${file}: not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`${kind.label} ${file}: expected a mapping of sections (${kind.sections}) at the top level`);
  }
  return value as Record<string, unknown>;
}

/** Validates a raw config (defaults filled in) and makes its paths absolute. */
export function parseConfig(raw: unknown, options: { source?: string; baseDir?: string } = {}): ExperimentConfig {
  const result = ExperimentSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    const first = result.error.issues[0];
    const where = options.source ? `config ${options.source}` : 'config';
    throw new ConfigError(`${where}: ${formatConfigIssues(result.error)}`, first ? issueField(first) : undefined);
  }
  return resolvePaths(result.data, options.baseDir ?? process.cwd());
}

/** Store and model paths as absolute paths; the store defaults to <baseDir>/.plasticity/store. */
export function resolvePaths(config: ExperimentConfig, baseDir: string): ExperimentConfig {
  const out: ExperimentConfig = structuredClone(config);
  const store = out.store;
  if (!store) out.store = defaultStorePath(baseDir);
  else if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(store)) out.store = path.resolve(baseDir, store);
  if (out.model.source !== 'pretrain') out.model.path = path.resolve(baseDir, out.model.path);
  return out;
}

export function configHash(config: ExperimentConfig): string {
  const { store: _store, ...experiment } = config;
  return hashJson(experiment);
}

// ── --set overrides ─────────────────────────────────────────────────────────────────────────────────────────────

/**
 * Applies `a.b=value` overrides to a copy of `raw`. The path must name a field of the schema. A section the file
 * leaves out starts from the schema's default for it, so `--set model.arch.n_layer=3` changes one field of the
 * default architecture (and keeps model.source: pretrain).
 */
export function applyOverrides(raw: Record<string, unknown>, sets: readonly string[], source = 'config'): Record<string, unknown> {
  const out = structuredClone(raw);
  for (const assignment of sets) applySet(out, assignment, { schema: ExperimentSchema, source });
  return out;
}

export interface SetOptions {
  /** The path must name a field of this schema, and a missing section starts from its default. Without: any path, {}. */
  schema?: z.ZodType;
  /** What `target` came from, for messages. */
  source?: string;
  /** An assignment shown in messages. */
  example?: string;
}

/** Applies one `a.b.c=value` to `target` in place; the value is parsed as JSON when possible, else taken as a string. */
export function applySet(target: Record<string, unknown>, assignment: string, options: SetOptions = {}): void {
  const { schema, source = 'config', example = 'finetune.train.lr=0.001' } = options;
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--set ${assignment}: expected key=value, e.g. ${example}`);
  const key = assignment.slice(0, eq).trim();
  const value = parseValue(assignment.slice(eq + 1));
  const parts = key.split('.');
  if (parts.some((p) => p === '')) throw new ConfigError(`--set ${key}: expected a dotted path like ${example.split('=')[0]}`, key);
  // a schema names every key it accepts; without one, keys that reach Object.prototype are refused here
  if (!schema && parts.some((p) => p === '__proto__' || p === 'constructor' || p === 'prototype')) throw new ConfigError(`--set ${assignment}: bad key path`, key);
  const schemas = schema ? schemasAlong(schema, parts, key) : undefined;
  let node: Record<string, unknown> = target;
  parts.slice(0, -1).forEach((part, i) => {
    const next = node[part];
    if (next === undefined || next === null) node = node[part] = schemas ? defaultObject(schemas[i]) : {};
    else if (typeof next === 'object' && !Array.isArray(next)) node = next as Record<string, unknown>;
    else throw new ConfigError(`--set ${assignment}: ${parts.slice(0, i + 1).join('.')} is not an object in ${source}`, key);
  });
  node[parts[parts.length - 1]] = value;
}

function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The schema candidates of each path element (several under a union); throws naming the first unknown key. */
function schemasAlong(root: z.ZodType, parts: string[], key: string): z.ZodType[][] {
  let schemas: z.ZodType[] = [root];
  const along: z.ZodType[][] = [];
  parts.forEach((part, i) => {
    const next = schemas.flatMap((s) => fieldsOf(s).filter(([name]) => name === part).map(([, child]) => child));
    if (next.length === 0) {
      const here = parts.slice(0, i).join('.') || '(top level)';
      const known = [...new Set(schemas.flatMap((s) => fieldsOf(s).map(([name]) => name)))];
      throw new ConfigError(
        known.length
          ? `--set ${key}: unknown key "${part}" in ${here}; expected one of ${known.join(', ')}`
          : `--set ${key}: ${parts.slice(0, i).join('.')} is not an object, so it has no key "${part}"`,
        key,
      );
    }
    along.push(next);
    schemas = next;
  });
  return along;
}

/** A copy of the object a section defaults to ({} when it has no object default). */
function defaultObject(schemas: z.ZodType[]): Record<string, unknown> {
  for (const s of schemas) {
    const def = s.def as { type: string; defaultValue?: unknown };
    if ((def.type === 'prefault' || def.type === 'default') && def.defaultValue && typeof def.defaultValue === 'object' && !Array.isArray(def.defaultValue)) {
      return structuredClone(def.defaultValue as Record<string, unknown>);
    }
  }
  return {};
}

/** The named fields of an object schema (or of every option of a union), through default/optional wrappers. */
function fieldsOf(schema: z.ZodType): [string, z.ZodType][] {
  const s = unwrap(schema);
  const def = s.def as { type: string; shape?: Record<string, z.ZodType>; options?: z.ZodType[] };
  if (def.type === 'object' && def.shape) return Object.entries(def.shape);
  if (def.type === 'union' && def.options) return def.options.flatMap(fieldsOf);
  return [];
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    const def = s.def as { type: string; innerType?: z.ZodType; in?: z.ZodType };
    if (['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch'].includes(def.type) && def.innerType) s = def.innerType;
    else if (def.type === 'pipe' && def.in) s = def.in;
    else return s;
  }
}

// ── Messages ────────────────────────────────────────────────────────────────────────────────────────────────────

function issueField(issue: z.core.$ZodIssue): string {
  const base = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') return [base, issue.keys[0]].filter(Boolean).join('.');
  return base || '(top level)';
}

/** One line per problem: `finetune.train.lr: expected number, got string "x"`. */
export function formatConfigIssues(error: z.ZodError): string {
  return error.issues.map(formatIssue).join('; ');
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const field = issueField(issue);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const parent = issue.path.map(String).join('.');
      const known = knownKeys(issue.path);
      const keys = issue.keys.map((k) => JSON.stringify(k)).join(', ');
      return `${field}: unknown key ${keys}${parent ? ` in ${parent}` : ''}${known.length ? `; expected one of ${known.join(', ')}` : ''}`;
    }
    case 'invalid_type':
      return `${field}: expected ${issue.expected}, got ${describeInput(issue.input)}`;
    case 'invalid_union':
      if (issue.path.join('.') === 'model') return `${field}: expected model.source to be one of pretrain, hf, checkpoint`;
      {
        // the one option whose type the input has (e.g. `corrupt`: a mapping or a list) explains the error best
        const matched = (issue.errors ?? []).filter((errs) => errs.length > 0 && !errs.some((e) => e.code === 'invalid_type' && e.path.length === 0));
        if (matched.length === 1) return matched[0].map((e) => formatIssue({ ...e, path: [...issue.path, ...e.path] } as z.core.$ZodIssue)).join('; ');
      }
      return `${field}: ${issue.message}`;
    default:
      return `${field}: ${issue.message}`;
  }
}

function describeInput(input: unknown): string {
  if (input === undefined) return 'nothing (the field is required)';
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'an array';
  const text = JSON.stringify(input);
  return `${typeof input} ${text && text.length > 40 ? `${text.slice(0, 37)}...` : text}`;
}

function knownKeys(pathParts: PropertyKey[]): string[] {
  let schemas: z.ZodType[] = [ExperimentSchema];
  for (const part of pathParts) {
    if (typeof part !== 'string') return [];
    schemas = schemas.flatMap((s) => fieldsOf(s).filter(([name]) => name === part).map(([, child]) => child));
  }
  return [...new Set(schemas.flatMap((s) => fieldsOf(s).map(([name]) => name)))];
}
