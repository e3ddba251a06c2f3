// Temporal connection settings from the environment, and the two ways to connect:
// a Client (CLI, tests) and a NativeConnection (workers).
//
//   TEMPORAL_ADDRESS          host:port                    (default 127.0.0.1:PLASTICITY_DEV_SERVER_PORT, 7233)
//   TEMPORAL_NAMESPACE        namespace                    (default "default")
//   TEMPORAL_TLS              true | false                 (TLS without client certificate)
//   TEMPORAL_TLS_CERT/_KEY    client certificate and key files (mTLS; both or neither)
//   TEMPORAL_TLS_CA           server CA certificate file
//   TEMPORAL_TLS_SERVER_NAME  TLS server name override (SNI)
//   TEMPORAL_API_KEY          API key (implies TLS)
//   TEMPORAL_UI_URL           Web UI base URL (derived for a local dev server when unset)
import * as fs from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import type { TLSConfig } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';

export const DEFAULT_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_NAMESPACE = 'default';

/** A secret that never shows up in logs, JSON or util.inspect output; `reveal()` returns the value. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '<redacted>';
  }
  toJSON(): string {
    return '<redacted>';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '<redacted>';
  }
}

export interface TlsSettings {
  /** TLS server name override (SNI). */
  serverName?: string;
  /** Server CA certificate file. */
  caFile?: string;
  /** Client certificate and key files for mTLS. */
  certFile?: string;
  keyFile?: string;
}

export interface ConnectionSettings {
  address: string;
  namespace: string;
  /** Undefined means plaintext. */
  tls?: TlsSettings;
  apiKey?: Secret;
  /** Web UI base URL without trailing slash, when known. */
  uiUrl?: string;
}

const TLS_VARIABLES = ['TEMPORAL_TLS', 'TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY', 'TEMPORAL_TLS_CA', 'TEMPORAL_TLS_SERVER_NAME'];

/** The local server commands look for when TEMPORAL_ADDRESS is unset, and where `run` starts its embedded one. */
export function localDevServerAddress(env: NodeJS.ProcessEnv = process.env): string {
  const port = env.PLASTICITY_DEV_SERVER_PORT?.trim();
  if (!port) return DEFAULT_ADDRESS;
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 64535) {
    throw new Error(`PLASTICITY_DEV_SERVER_PORT="${port}": expected a port number from 1 to 64535 (the Web UI takes port + 1000)`);
  }
  return `127.0.0.1:${port}`;
}

/** Reads the settings from `env` without touching files or the network. Throws on invalid values. */
export function connectionSettings(env: NodeJS.ProcessEnv = process.env): ConnectionSettings {
  const get = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  // The `temporal` CLI uses other names (e.g. TEMPORAL_TLS_CLIENT_CERT_PATH); silently ignoring them would mean plaintext.
  for (const name of Object.keys(env)) {
    if (name.startsWith('TEMPORAL_TLS') && !TLS_VARIABLES.includes(name) && get(name)) {
      throw new Error(`${name} is not supported; expected one of ${TLS_VARIABLES.join(', ')}`);
    }
  }

  const address = get('TEMPORAL_ADDRESS') ?? localDevServerAddress(env);
  const { host, port } = parseAddress(address, 'TEMPORAL_ADDRESS');

  const namespace = get('TEMPORAL_NAMESPACE') ?? DEFAULT_NAMESPACE;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(namespace)) {
    throw new Error(`TEMPORAL_NAMESPACE="${namespace}": expected letters, digits, '.', '_' or '-'`);
  }

  const tlsFlag = parseBoolean(get('TEMPORAL_TLS'), 'TEMPORAL_TLS');
  const certFile = get('TEMPORAL_TLS_CERT');
  const keyFile = get('TEMPORAL_TLS_KEY');
  if (!certFile !== !keyFile) {
    throw new Error('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY: expected both (mTLS) or neither');
  }
  const tlsDetails: TlsSettings = {
    serverName: get('TEMPORAL_TLS_SERVER_NAME'),
    caFile: get('TEMPORAL_TLS_CA'),
    certFile,
    keyFile,
  };
  const apiKey = get('TEMPORAL_API_KEY');
  const impliedBy = [
    ...Object.entries(tlsDetails)
      .filter(([, value]) => value !== undefined)
      .map(([field]) => tlsVariableOf(field)),
    ...(apiKey ? ['TEMPORAL_API_KEY'] : []),
  ];
  if (tlsFlag === false && impliedBy.length > 0) {
    throw new Error(`TEMPORAL_TLS=false conflicts with ${impliedBy.join(', ')}, which require TLS`);
  }
  const useTls = tlsFlag === true || impliedBy.length > 0;

  const settings: ConnectionSettings = { address, namespace };
  if (useTls) settings.tls = withoutUndefined(tlsDetails);
  if (apiKey) settings.apiKey = new Secret(apiKey);
  const uiUrl = get('TEMPORAL_UI_URL');
  if (uiUrl) settings.uiUrl = parseUiUrl(uiUrl);
  else if (!useTls && isLoopback(host)) settings.uiUrl = `http://${host}:${port + 1000}`; // start-dev's default UI port
  return settings;
}

/** One line for logs; the API key is never included. */
export function describeConnectionSettings(settings: ConnectionSettings): string {
  const tls = settings.tls ? `tls${settings.tls.certFile ? ' (mTLS)' : ''}` : 'plaintext';
  return `${settings.address} namespace=${settings.namespace} ${tls}${settings.apiKey ? ' api-key=<redacted>' : ''}`;
}

/** Loads the certificate files named in the settings; errors name the variable and file. */
export function loadTlsConfig(tls: TlsSettings | undefined): TLSConfig | undefined {
  if (!tls) return undefined;
  const config: TLSConfig = {};
  if (tls.serverName) config.serverNameOverride = tls.serverName;
  if (tls.caFile) config.serverRootCACertificate = readFile(tls.caFile, 'TEMPORAL_TLS_CA');
  if (tls.certFile && tls.keyFile) {
    config.clientCertPair = { crt: readFile(tls.certFile, 'TEMPORAL_TLS_CERT'), key: readFile(tls.keyFile, 'TEMPORAL_TLS_KEY') };
  }
  return config;
}

export interface ConnectOptions {
  /** How long connectClient waits for the server (default 10 s, the SDK's default). */
  connectTimeoutMs?: number;
}

export async function connectClient(settings: ConnectionSettings = connectionSettings(), options: ConnectOptions = {}): Promise<Client> {
  const connection = await withContext(settings, () =>
    Connection.connect({
      address: settings.address,
      tls: loadTlsConfig(settings.tls),
      apiKey: settings.apiKey?.reveal(),
      connectTimeout: options.connectTimeoutMs ?? 10_000,
    }),
  );
  return new Client({ connection, namespace: settings.namespace });
}

export async function connectNative(settings: ConnectionSettings = connectionSettings()): Promise<NativeConnection> {
  return withContext(settings, () =>
    NativeConnection.connect({ address: settings.address, tls: loadTlsConfig(settings.tls), apiKey: settings.apiKey?.reveal() }),
  );
}

/** Web UI page of one workflow, when the UI URL is known. */
export function workflowUiUrl(settings: Pick<ConnectionSettings, 'uiUrl' | 'namespace'>, workflowId: string): string | undefined {
  if (!settings.uiUrl) return undefined;
  return `${settings.uiUrl}/namespaces/${encodeURIComponent(settings.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** Splits host:port (IPv6 as [addr]:port); `source` names the setting in errors. */
export function parseAddress(address: string, source: string): { host: string; port: number } {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(address);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port < 1 || port > 65535) {
    throw new Error(`${source}="${address}": expected host:port without scheme, e.g. ${DEFAULT_ADDRESS}`);
  }
  return { host: match[1], port };
}

async function withContext<T>(settings: ConnectionSettings, connect: () => Promise<T>): Promise<T> {
  try {
    return await connect();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`cannot connect to Temporal at ${describeConnectionSettings(settings)}: ${reason}`, { cause: err });
  }
}

function parseBoolean(value: string | undefined, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  const lower = value.toLowerCase();
  if (lower === 'true' || lower === '1') return true;
  if (lower === 'false' || lower === '0') return false;
  throw new Error(`${name}="${value}": expected true or false`);
}

function parseUiUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`TEMPORAL_UI_URL="${value}": expected an http(s) URL such as http://127.0.0.1:8233`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`TEMPORAL_UI_URL="${value}": expected an http(s) URL such as http://127.0.0.1:8233`);
  }
  return value.replace(/\/+$/, '');
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
}

function tlsVariableOf(field: string): string {
  return { serverName: 'TEMPORAL_TLS_SERVER_NAME', caFile: 'TEMPORAL_TLS_CA', certFile: 'TEMPORAL_TLS_CERT', keyFile: 'TEMPORAL_TLS_KEY' }[field] ?? field;
}

function readFile(file: string, variable: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new Error(`${variable}=${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
