// `npm run drill [-- --kills 20 --seed 1 --backend cpu --drills kill,cpu,s3,corrupt,temporal]`: runs the fault drills
// (drill/drill.ts) against services it starts on loopback, prints the table, exits 1 if any drill failed.
import { Command, InvalidArgumentError } from 'commander';
import { DRILLS, formatReport, runDrills, type DrillName } from './drill';

function positiveInt(flag: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${flag}: expected a non-negative integer, got "${v}"`);
    return n;
  };
}

function drillList(v: string): DrillName[] {
  const names = v.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = names.filter((n) => !DRILLS.includes(n as DrillName));
  if (bad.length || names.length === 0) throw new InvalidArgumentError(`--drills: expected a comma-separated subset of ${DRILLS.join(',')}, got "${v}"`);
  return names as DrillName[];
}

async function main(): Promise<number> {
  const program = new Command('drill')
    .description('fault drills: worker SIGKILLs, S3 killed mid-upload, a corrupted blob, a Temporal restart; each compared with an unbroken run')
    .option('--kills <n>', 'worker SIGKILLs in the kill drill', positiveInt('--kills'), 20)
    .option('--seed <n>', 'seed of every random choice (reproducible drills)', positiveInt('--seed'), 1)
    .option('--backend <name>', 'tfjs backend of the lineage: cpu (default, deterministic), wasm or tensorflow', 'cpu')
    .option('--drills <list>', `which drills, comma-separated (default ${DRILLS.join(',')})`, drillList, [...DRILLS])
    .option('--config <file>', 'experiment config (default configs/tiny-test.yaml)')
    .option('--set <k=v>', 'config override (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--timeout <s>', 'bound on each lineage run, seconds', positiveInt('--timeout'), 600)
    .option('--keep', 'keep the work folder (logs, Temporal database)')
    .option('--json', 'print the report as JSON after the table');
  program.parse(process.argv);
  const o = program.opts<{ kills: number; seed: number; backend: string; drills: DrillName[]; config?: string; set: string[]; timeout: number; keep?: boolean; json?: boolean }>();
  if (!['cpu', 'wasm', 'tensorflow'].includes(o.backend)) {
    process.stderr.write(`drill: --backend: expected cpu, wasm or tensorflow, got "${o.backend}"\n`);
    return 2;
  }
  const report = await runDrills({
    kills: o.kills, seed: o.seed, backend: o.backend, drills: o.drills, config: o.config, set: o.set,
    lineageTimeoutMs: o.timeout * 1000, keepWorkDir: o.keep,
  });
  process.stdout.write(`${formatReport(report)}\n`);
  if (o.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  return report.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`drill: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
