// `plasticity trace --model DIR --method activation|path|knockout|dla|attribution [--n N | --prompts FILE] --json`
// Progress of the sweep goes to stderr (items for activation/path, prompt batches for knockout, start and end for
// dla/attribution); stdout is the result.
import { Command } from 'commander';
import { activationPatching, ACTIVATION_TARGETS, ActivationTarget, PatchDirection } from '../../tracing/activation';
import { attributionPatching } from '../../tracing/attribution';
import { directLogitAttribution } from '../../tracing/dla';
import { ABLATIONS, Ablation, knockoutSweep } from '../../tracing/knockout';
import { pathPatching } from '../../tracing/path';
import { CliError } from '../errors';
import { addProgressOption, etaSinceFirstReport, localProgress, withProgress, type ProgressCliOptions } from '../local-progress';
import { asUsageError } from '../options';
import { addPromptOptions, loadModelFor, printJsonOrTable, PromptCliOptions, promptSet, scoreRows, setupBackend } from '../trace-common';

const METHODS = ['activation', 'path', 'knockout', 'dla', 'attribution'] as const;
type Method = (typeof METHODS)[number];

interface TraceCliOptions extends PromptCliOptions, ProgressCliOptions {
  model: string;
  method: string;
  target: string;
  direction: string;
  ablation: string;
  json?: boolean;
}

export function register(program: Command): void {
  addProgressOption(addPromptOptions(
    program
      .command('trace')
      .description('trace one method on a model folder (project checkpoint or Hugging Face GPT-2) and print named scores')
      .requiredOption('--model <dir>', 'checkpoint or Hugging Face GPT-2 folder')
      .requiredOption('--method <name>', METHODS.join('|'))
      .option('--target <t>', `activation patching target: ${ACTIVATION_TARGETS.join('|')}`, 'head_z')
      .option('--direction <d>', 'noising (clean run, corrupt patched in) or denoising', 'noising')
      .option('--ablation <a>', `knockout ablation: ${ABLATIONS.join('|')}`, 'mean'),
  )).action(async (opts: TraceCliOptions) => {
    if (!METHODS.includes(opts.method as Method)) throw new CliError(`--method: expected one of ${METHODS.join(', ')}, got ${JSON.stringify(opts.method)}`);
    if (!ACTIVATION_TARGETS.includes(opts.target as ActivationTarget)) throw new CliError(`--target: expected one of ${ACTIVATION_TARGETS.join(', ')}, got ${JSON.stringify(opts.target)}`);
    if (!['noising', 'denoising'].includes(opts.direction)) throw new CliError(`--direction: expected noising or denoising, got ${JSON.stringify(opts.direction)}`);
    if (!ABLATIONS.includes(opts.ablation as Ablation)) throw new CliError(`--ablation: expected one of ${ABLATIONS.join(', ')}, got ${JSON.stringify(opts.ablation)}`);
    const progress = localProgress(opts);
    const backend = await setupBackend(opts, 'trace', (m) => progress.log(m));
    const loaded = await loadModelFor(opts.model, '--model');
    const { set, source } = await promptSet(opts, loaded);
    const model = loaded.model;
    const method = opts.method as Method;
    const direction = opts.direction as PatchDirection;
    const stage = `trace:${method}`;
    const eta = etaSinceFirstReport();
    const onProgress = (done: number, total: number) => progress.update({ stage, step: done, total, etaSeconds: eta(done, total) });
    const t0 = Date.now();
    progress.update({ stage, step: 0, total: 0 });
    const { out, rows } = await withProgress(progress, async (): Promise<{ out: Record<string, unknown>; rows: ReturnType<typeof scoreRows> }> => {
      if (method === 'activation') {
        const r = await asUsageError(() => activationPatching(model, set, { target: opts.target as ActivationTarget, direction, sweep: { onProgress } }));
        return {
          rows: scoreRows(r.patched, { normalised: r.normalised }),
          out: { metric: r.patched.metric, normalisedMetric: r.normalised.metric, clean: r.clean, corrupt: r.corrupt, settings: r.patched.settings, stats: r.stats },
        };
      }
      if (method === 'path') {
        const r = await pathPatching(model, set, { receiver: { kind: 'logits' }, sweep: { onProgress } });
        return {
          rows: scoreRows(r.patched, { relative: r.relative, normalised: r.normalised }),
          out: { metric: r.patched.metric, relativeMetric: r.relative.metric, normalisedMetric: r.normalised.metric, clean: r.clean, corrupt: r.corrupt, settings: r.patched.settings, stats: r.stats },
        };
      }
      if (method === 'attribution') {
        const r = await attributionPatching(model, set, { direction });
        return { rows: scoreRows(r.delta, { patched: r.patched, normalised: r.normalised }), out: { metric: r.delta.metric, clean: r.clean, corrupt: r.corrupt, settings: r.delta.settings, stats: r.stats } };
      }
      if (method === 'knockout') {
        const s = await knockoutSweep(model, set, { ablation: opts.ablation as Ablation, onProgress });
        return { rows: scoreRows(s), out: { metric: s.metric, settings: s.settings } };
      }
      const r = await directLogitAttribution(model, set);
      return { rows: scoreRows(r.heads), out: { metric: r.heads.metric, logitDiff: r.logitDiff, components: r.components, closureError: r.closureError, settings: r.heads.settings } };
    });
    const doc = { model: opts.model, method, backend, prompts: source, seconds: (Date.now() - t0) / 1000, ...out, scores: rows };
    const baseline = method === 'activation' || method === 'path' ? (out.clean as number) : 0;
    const title = `${method} on ${opts.model} (${backend}): the 15 scores that moved most${baseline ? ` from the unpatched ${baseline.toFixed(3)}` : ''}`;
    printJsonOrTable(opts.json, doc, rows, title, baseline);
    model.dispose();
  });
}
