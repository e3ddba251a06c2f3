// `plasticity plan [CONFIG] [--set key=value]... [--grid key=v1,v2]... [--remeasure] [--json]`: prints, without
// running anything, every stage the lineage (or each grid point) would run, which the store already holds, an
// estimated time per stage (cost model in cli/plan.ts) and the store growth. Needs no Temporal server.
import { Command } from 'commander';
import { openStore } from '../../store/open';
import { codeVersion } from '../../temporal/lineage-client';
import { planConfigs, planTable } from '../plan';
import { gridOptions, loadPoints } from './sweep';

export function register(program: Command): void {
  gridOptions(
    program
      .command('plan')
      .description('list the stages a run (or sweep) would execute, which are cached, estimated time and store growth; runs nothing')
      .argument('[config]', 'experiment config, YAML or JSON (default: configs/default.yaml)'),
    'override one config field (repeatable)',
  )
    .option('--code-version <v>', 'code version of the stage keys (default: this checkout)')
    .option('--remeasure', "measure this machine's throughput anew instead of using the cached value")
    .option('--json', 'print the plan as JSON')
    .action(async (file: string | undefined, opts: { set?: string[]; grid?: string[]; json?: boolean; codeVersion?: string; remeasure?: boolean }) => {
      const { configs, labels } = await loadPoints(file, opts);
      const plan = await planConfigs(openStore(configs[0].store), configs, opts.codeVersion ?? codeVersion(), { remeasure: opts.remeasure });
      if (opts.json) process.stdout.write(JSON.stringify({ ...plan, rows: plan.rows.map(({ output: _o, ...r }) => r) }, null, 2) + '\n');
      else process.stdout.write(planTable(plan, labels) + '\n');
    });
}
