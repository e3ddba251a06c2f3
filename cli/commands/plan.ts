// `plasticity plan [CONFIG] [--set key=value]... [--grid key=v1,v2]... [--json]`: prints, without running anything,
// every stage the lineage (or each grid point) would run, which the store already holds, an estimated time per
// stage (cost model in cli/plan.ts) and the store growth. Needs no Temporal server.
import { Command } from 'commander';
import { ConfigError } from '../../config/load';
import { expandSweep } from '../../config/sweep';
import { openStore } from '../../store/open';
import { codeVersion } from '../../temporal/lineage-client';
import { CliError, EXIT } from '../errors';
import { planConfigs, planTable } from '../plan';
import { defaultConfigFile, loadRunConfig } from './run';

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function register(program: Command): void {
  program
    .command('plan')
    .description('list the stages a run (or sweep) would execute, which are cached, estimated time and store growth; runs nothing')
    .argument('[config]', 'experiment config, YAML or JSON (default: configs/default.yaml)')
    .option('--set <key=value>', 'override one config field (repeatable)', collect)
    .option('--grid <key=v1,v2>', 'sweep a config field over values (repeatable; see `plasticity sweep`)', collect)
    .option('--code-version <v>', 'code version of the stage keys (default: this checkout)')
    .option('--json', 'print the plan as JSON')
    .action(async (file: string | undefined, opts: { set?: string[]; grid?: string[]; json?: boolean; codeVersion?: string }) => {
      const configFile = file ?? defaultConfigFile();
      let configs;
      let labels: string[];
      try {
        const hasGrid = (opts.grid?.length ?? 0) > 0 || (configFile ? /^sweep:/m.test(require('node:fs').readFileSync(configFile, 'utf8')) : false);
        if (hasGrid) {
          const sweep = expandSweep(configFile, { set: opts.set, grid: opts.grid });
          configs = sweep.points.map((p) => p.config);
          labels = sweep.points.map((p) => p.label);
        } else {
          configs = [(await loadRunConfig(configFile, opts.set ?? [])).config];
          labels = [''];
        }
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message, EXIT.usage);
        throw err;
      }
      const plan = await planConfigs(openStore(configs[0].store), configs, opts.codeVersion ?? codeVersion());
      if (opts.json) process.stdout.write(JSON.stringify({ ...plan, rows: plan.rows.map(({ output: _o, ...r }) => r) }, null, 2) + '\n');
      else process.stdout.write(planTable(plan, labels) + '\n');
    });
}
