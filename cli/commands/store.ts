// `plasticity store verify [--store URL] [--repair] [--json]`: reads every blob every manifest references (checkpoint
// files through their descriptors) and checks its sha256. --repair moves bad blobs and the manifests pointing at them
// to quarantine/ (nothing is deleted), so the stages that made them are recomputed by the next run.
// `plasticity store du [--store URL] [--json]`: what the store holds (bytes and keys, blobs vs manifests).
import { Command } from 'commander';
import { BLOB_PREFIX, QUARANTINE_PREFIX } from '../../store/artifact-store';
import { openStore } from '../../store/open';
import { verifyStore } from '../../store/verify';
import { CliError, EXIT } from '../errors';

function open(spec: string | undefined) {
  try {
    return openStore(spec);
  } catch (err) {
    throw new CliError(`--store: ${(err as Error).message}`, EXIT.usage);
  }
}

export function register(program: Command): void {
  const store = program.command('store').description('inspect and check the artifact store');
  store
    .command('verify')
    .description('check the sha256 of every blob the store\'s manifests reference; exit 1 if any is missing or corrupt')
    .option('--store <url>', 'store folder, file:///path or s3://bucket/prefix (default: .plasticity/store)')
    .option('--repair', 'move bad blobs and the manifests referencing them to quarantine/ so their stages are recomputed')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { store?: string; repair?: boolean; json?: boolean }) => {
      const s = open(opts.store);
      const started = Date.now();
      const report = await verifyStore(s, { repair: opts.repair });
      const seconds = (Date.now() - started) / 1000;
      if (opts.json) {
        console.log(JSON.stringify({ store: s.url, seconds, ...report }, null, 2));
      } else {
        console.log(`${s.url}: ${report.manifests} manifests, ${report.checked} blobs (${(report.bytes / 1e6).toFixed(1)} MB) verified in ${seconds.toFixed(1)} s`);
        for (const p of report.problems) console.log(`  ${p.problem}: ${p.ref.uri}${p.quarantinedAs ? ` → ${p.quarantinedAs}` : ''}`);
        for (const m of report.badManifests) console.log(`  manifest ${m.key}: ${m.why}${m.quarantinedAs ? ` → ${m.quarantinedAs}` : ''}`);
        if (report.problems.length || report.badManifests.length) {
          console.log(report.repaired ? 'repaired: the affected stages are recomputed by the next run' : 'run with --repair to quarantine them');
        } else console.log('ok');
      }
      if (report.problems.length || report.badManifests.length) process.exitCode = EXIT.failed;
    });
  store
    .command('du')
    .description('bytes the store holds: blobs, manifests, quarantine')
    .option('--store <url>', 'store folder, file:///path or s3://bucket/prefix (default: .plasticity/store)')
    .option('--json', 'print as JSON')
    .action(async (opts: { store?: string; json?: boolean }) => {
      const s = open(opts.store);
      const sums = { blobs: { keys: 0, bytes: 0 }, manifests: { keys: 0, bytes: 0 }, quarantine: { keys: 0, bytes: 0 } };
      for (const e of await s.listEntries('')) {
        const bucket = e.key.startsWith(BLOB_PREFIX) ? sums.blobs : e.key.startsWith(QUARANTINE_PREFIX) ? sums.quarantine : sums.manifests;
        bucket.keys++;
        bucket.bytes += e.bytes;
      }
      if (opts.json) console.log(JSON.stringify({ store: s.url, ...sums }, null, 2));
      else for (const [name, v] of Object.entries(sums)) console.log(`${name.padEnd(10)} ${String(v.keys).padStart(6)} keys  ${(v.bytes / 1e6).toFixed(1).padStart(10)} MB`);
    });
}
