// `plasticity cmap --from DIR --into DIR [--kind z|q|k|v|pattern] [--positions all|END] --json`:
// cross-model activation patching of every head of the donor (--from) into the receiver (--into).
// Progress (prompt batches done) goes to stderr; stdout is the result.
import { Command } from 'commander';
import { CMAP_KINDS, CmapKind, cmapHeads } from '../../tracing/cmap';
import { vocabToJson } from '../../model/vocab';
import { CliError } from '../errors';
import { addProgressOption, etaSinceFirstReport, localProgress, withProgress, type ProgressCliOptions } from '../local-progress';
import { asUsageError } from '../options';
import { addPromptOptions, loadModelFor, printJsonOrTable, PromptCliOptions, promptSet, scoreRows, setupBackend } from '../trace-common';

interface CmapCliOptions extends PromptCliOptions, ProgressCliOptions {
  from: string;
  into: string;
  kind: string;
  positions: string;
  json?: boolean;
}

export function register(program: Command): void {
  addProgressOption(addPromptOptions(
    program
      .command('cmap')
      .description('cross-model activation patching: each head of --from (donor) patched into --into (receiver)')
      .requiredOption('--from <dir>', 'donor model folder')
      .requiredOption('--into <dir>', 'receiver model folder (same architecture)')
      .option('--kind <k>', `what to patch: ${CMAP_KINDS.join('|')}`, 'z')
      .option('--positions <p>', 'all or END', 'all'),
  )).action(async (opts: CmapCliOptions) => {
    if (!CMAP_KINDS.includes(opts.kind as CmapKind)) throw new CliError(`--kind: expected one of ${CMAP_KINDS.join(', ')}, got ${JSON.stringify(opts.kind)}`);
    if (!['all', 'END'].includes(opts.positions)) throw new CliError(`--positions: expected all or END, got ${JSON.stringify(opts.positions)}`);
    const progress = localProgress(opts);
    const backend = await setupBackend(opts, 'cmap', (m) => progress.log(m));
    const donor = await loadModelFor(opts.from, '--from');
    const receiver = await loadModelFor(opts.into, '--into');
    if (JSON.stringify(vocabToJson(donor.vocab)) !== JSON.stringify(vocabToJson(receiver.vocab))) {
      throw new CliError(`cmap: --from ${opts.from} and --into ${opts.into} use different vocabularies`);
    }
    const { set, source } = await promptSet(opts, receiver);
    const t0 = Date.now();
    const stage = `cmap:${opts.kind}`;
    progress.update({ stage, step: 0, total: 0 });
    const eta = etaSinceFirstReport();
    const r = await withProgress(progress, () =>
      asUsageError(() =>
        cmapHeads(receiver.model, donor.model, set, {
          kind: opts.kind as CmapKind,
          positions: opts.positions as 'all' | 'END',
          onProgress: (done, total) => progress.update({ stage, step: done, total, etaSeconds: eta(done, total) }),
        }),
      ),
    );
    const rows = scoreRows(r.delta, { patched: r.patched, normalised: r.normalised });
    const doc = {
      from: opts.from, into: opts.into, backend, prompts: source, kind: opts.kind, positions: opts.positions, seconds: (Date.now() - t0) / 1000,
      receiverLogitDiff: r.fReceiver, donorLogitDiff: r.fDonor, metric: r.delta.metric, normalisedMetric: r.normalised.metric, scores: rows,
    };
    printJsonOrTable(opts.json, doc, rows, `CMAP ${opts.from} → ${opts.into} (${opts.kind}@${opts.positions}, ${backend}): F_A=${r.fReceiver.toFixed(3)} F_B=${r.fDonor.toFixed(3)}`);
    donor.model.dispose();
    receiver.model.dispose();
  });
}
