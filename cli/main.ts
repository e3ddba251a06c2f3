// `plasticity <command>`: each command lives in cli/commands/<name>.ts and exports register(program).
import { Command } from 'commander';

export const COMMANDS = [
  'train', 'eval', 'trace', 'cmap', // local, no Temporal
  'run', 'status', 'watch', 'ls', 'cancel', 'resume', 'report', // lineages on Temporal
  'sweep', 'fork', 'plan', // many lineages: grids, forks, a plan with cost
  'server', 'worker', 'store',
] as const;

function loadCommand(name: string): { register(program: Command): void } | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(`./commands/${name}`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && String((e as Error).message).includes(`commands/${name}`)) return undefined;
    throw e;
  }
}

export function buildProgram(): Command {
  const program = new Command('plasticity')
    .description('Mechanistic-interpretability lineages (fine-tune → corrupt → trace → retrain → trace) on Temporal')
    .showHelpAfterError()
    .exitOverride();
  for (const name of COMMANDS) loadCommand(name)?.register(program);
  return program;
}

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    const err = e as { code?: string; exitCode?: number; message?: string };
    if (err.code?.startsWith('commander.')) process.exit(err.exitCode === 0 ? 0 : 2); // help/version: 0; usage errors: 2
    console.error(`plasticity: ${err.message ?? String(e)}`);
    process.exit(typeof err.exitCode === 'number' ? err.exitCode : 1);
  }
}

if (require.main === module || require.main?.filename.endsWith('bin/plasticity')) void main();
