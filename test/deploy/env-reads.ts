// Which environment variables the worker code reads: found by scanning the TypeScript sources (not a hand-kept
// list), plus the few that libraries or Node itself read, each checked where it can be.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../../temporal/project-root';

/** Source folders that end up in a worker image (tests, benchmarks and scripts do not). */
const SOURCE_DIRS = ['activities', 'cli', 'config', 'ioi', 'model', 'report', 'shared', 'store', 'temporal', 'tracing', 'train', 'workers', 'workflows'];

const NAME = '[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{3,}';
const PATTERNS = [
  new RegExp(`\\benv\\??\\.(${NAME})\\b`, 'g'), // process.env.X, env.X, env?.X
  new RegExp(`\\benv\\[\\s*['"\`](${NAME})['"\`]\\s*\\]`, 'g'), // env['X']
];

function sourceFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Variable name → the source files that read it. */
export function envReadsInSource(): Map<string, string[]> {
  const root = projectRoot();
  const found = new Map<string, string[]>();
  const add = (name: string, file: string) => {
    const rel = path.relative(root, file);
    const files = found.get(name) ?? [];
    if (!files.includes(rel)) found.set(name, [...files, rel]);
  };
  for (const file of SOURCE_DIRS.flatMap((dir) => sourceFiles(path.join(root, dir)))) {
    const text = fs.readFileSync(file, 'utf8');
    for (const pattern of PATTERNS) for (const match of text.matchAll(pattern)) add(match[1], file);
  }
  // temporal/connection.ts reads through a helper, get('TEMPORAL_…'), and lists the TLS variables it accepts.
  const connection = path.join(root, 'temporal', 'connection.ts');
  for (const match of fs.readFileSync(connection, 'utf8').matchAll(/['"`](TEMPORAL_[A-Z_]+)['"`]/g)) add(match[1], connection);
  return found;
}

/** Read by libraries or the runtime, with where that is checked (a file and the text it must contain). */
export const EXTERNAL_READS: Record<string, { reader: string; evidence?: { file: string; contains: string } }> = {
  AWS_ACCESS_KEY_ID: {
    reader: 'AWS SDK default credential chain (store/s3-backend.ts passes no credentials)',
    evidence: { file: 'node_modules/@aws-sdk/credential-provider-env/dist-cjs/index.js', contains: '"AWS_ACCESS_KEY_ID"' },
  },
  AWS_SECRET_ACCESS_KEY: {
    reader: 'AWS SDK default credential chain',
    evidence: { file: 'node_modules/@aws-sdk/credential-provider-env/dist-cjs/index.js', contains: '"AWS_SECRET_ACCESS_KEY"' },
  },
  NODE_OPTIONS: { reader: 'Node.js itself (--max-old-space-size)' },
};

/** Every variable a worker reads, with a description of who reads it. */
export function knownEnvReads(): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, files] of envReadsInSource()) out.set(name, files.join(', '));
  for (const [name, { reader }] of Object.entries(EXTERNAL_READS)) if (!out.has(name)) out.set(name, reader);
  return out;
}
