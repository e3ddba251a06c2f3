// `plasticity eval --model DIR (--dataset ioi[:abc|:toxic] [--n N] | --prompts FILE) [--json] [--dump-logits FILE]`
// IOI metrics of a project checkpoint or a Hugging Face GPT-2 folder. With the full GPT-2 vocabulary, prompts use
// GPT-2 ids directly; compact vocabularies map them (a token outside the vocabulary is an input error).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import type { IoiPrompt } from '../../ioi/dataset';
import { readPromptsFile } from '../../ioi/prompts-file';
import { BACKEND_CHOICES, initBackend } from '../../model/engine';
import { loadModel, LoadedModel } from '../../checkpoint/load';
import { serializeSafetensors } from '../../model/safetensors';
import { evaluateIoi, ioiEvalSet, LabelPair, parseIoiDataset } from '../../train/evaluate';
import { vocabToJson } from '../../model/vocab';
import { CliError, EXIT } from '../errors';
import { asUsageError, parseBackend, parseIntAtLeast } from '../options';

interface EvalCliOptions {
  model: string;
  dataset?: string;
  prompts?: string;
  n: string;
  seed: string;
  transform: string;
  json?: boolean;
  dumpLogits?: string;
  backend?: string;
  batchSize: string;
}

function dumpLogits(file: string, logits: Float32Array, n: number, V: number, loaded: LoadedModel, prompts: readonly IoiPrompt[]): void {
  const vocab = loaded.vocab;
  const io = prompts.map((p) => vocab.fromGpt2(p.ioTok));
  const s = prompts.map((p) => vocab.fromGpt2(p.sTok));
  if (/\.json$/i.test(file)) {
    const rows = Array.from({ length: n }, (_, i) => Array.from(logits.subarray(i * V, (i + 1) * V)));
    fs.writeFileSync(file, JSON.stringify({ n, vocab_size: V, vocab: vocabToJson(vocab), io, s, texts: prompts.map((p) => p.text), end_logits: rows }) + '\n');
  } else {
    const meta = { n: String(n), vocab_size: String(V), io: JSON.stringify(io), s: JSON.stringify(s), vocab: JSON.stringify(vocabToJson(vocab)) };
    fs.writeFileSync(file, serializeSafetensors({ end_logits: { shape: [n, V], data: logits } }, meta));
  }
}

export function register(program: Command): void {
  program
    .command('eval')
    .description('IOI metrics of a model folder (project checkpoint or Hugging Face GPT-2)')
    .requiredOption('--model <dir>', 'checkpoint or Hugging Face GPT-2 folder')
    .option('--dataset <name>', 'generated prompts: ioi, ioi:abc or ioi:toxic')
    .option('--prompts <file>', 'JSON lines {"clean", "corrupt", "io", "s"}')
    .option('--n <n>', 'number of generated prompts', '200')
    .option('--seed <seed>', 'seed of generated prompts', '12345')
    .option('--transform <name>', 'label transform of ioi:toxic', 'subject')
    .option('--json', 'print the metrics as JSON')
    .option('--dump-logits <file>', 'also write the END-position logits ([n, V]; .json or safetensors)')
    .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join(', ')}`)
    .option('--batch-size <n>', 'prompts per forward pass', '64')
    .action(async (opts: EvalCliOptions) => {
      if (!!opts.dataset === !!opts.prompts) throw new CliError('eval: give exactly one of --dataset or --prompts');
      if (opts.dumpLogits) checkWritableFile(opts.dumpLogits, '--dump-logits'); // before the computation, not after
      const batchSize = parseIntAtLeast(opts.batchSize, '--batch-size', 1);
      const backendChoice = parseBackend(opts.backend);
      let prompts: IoiPrompt[];
      let corrupt: IoiPrompt[] | null = null;
      let labels: LabelPair = 'io-s';
      let dataset: string;
      if (opts.dataset) {
        const variant = await asUsageError(() => parseIoiDataset(opts.dataset!));
        const n = parseIntAtLeast(opts.n, '--n', 1);
        const seed = parseIntAtLeast(opts.seed, '--seed', 0);
        const set = await asUsageError(() => ioiEvalSet(variant, n, seed, opts.transform));
        prompts = set.prompts;
        labels = set.labels;
        dataset = opts.dataset;
      } else {
        const file = await asUsageError(() => readPromptsFile(opts.prompts!));
        prompts = file.clean;
        corrupt = file.corrupt;
        dataset = `prompts:${opts.prompts}`;
      }
      const backend = await initBackend(backendChoice, (m) => process.stderr.write(`eval: ${m}\n`));
      const loaded = await asUsageError(() => loadModel(opts.model));
      const evalOpts = { batchSize, labels };
      const clean = await asUsageError(() => evaluateIoi(loaded.model, loaded.vocab, prompts, { ...evalOpts, returnLogits: !!opts.dumpLogits }));
      const corruptResult = corrupt ? await asUsageError(() => evaluateIoi(loaded.model, loaded.vocab, corrupt!, evalOpts)) : null;
      let dumpError: string | undefined;
      if (opts.dumpLogits) {
        try {
          dumpLogits(opts.dumpLogits, clean.endLogits!, prompts.length, clean.vocabSize, loaded, prompts);
        } catch (err) {
          dumpError = `--dump-logits ${opts.dumpLogits}: cannot write the logits (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); the metrics above are complete`;
        }
      }
      const failDump = () => {
        if (dumpError) throw new CliError(dumpError, EXIT.failed);
      };
      const out = {
        model: opts.model,
        source: loaded.meta.source,
        step: loaded.meta.step,
        backend,
        dataset,
        labels,
        ...clean.metrics,
        ...(corruptResult ? { corrupt: corruptResult.metrics } : {}),
      };
      loaded.model.dispose();
      if (opts.json) {
        process.stdout.write(JSON.stringify(out, null, 2) + '\n');
        return failDump();
      }
      const m = clean.metrics;
      process.stdout.write(
        `${dataset} on ${opts.model} (${backend}, n=${m.n}): logit diff ${m.logitDiff.toFixed(3)} ± ${m.logitDiffStd.toFixed(3)}, ` +
          `pairwise acc ${m.pairwiseAcc.toFixed(3)}, top-1 acc ${m.top1Acc.toFixed(3)}, IO prob ${m.ioProb.toFixed(3)}\n`,
      );
      if (corruptResult) process.stdout.write(`corrupt prompts: logit diff ${corruptResult.metrics.logitDiff.toFixed(3)}, pairwise acc ${corruptResult.metrics.pairwiseAcc.toFixed(3)}\n`);
      failDump();
    });
}

/** A file we can create or overwrite: its folder exists and is writable, and it is not a folder itself. */
function checkWritableFile(file: string, flag: string): void {
  const dir = path.dirname(path.resolve(file));
  let why: string | undefined;
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) why = `folder ${dir} does not exist`;
  else if (fs.existsSync(file) && fs.statSync(file).isDirectory()) why = 'is a folder';
  else {
    try {
      fs.accessSync(fs.existsSync(file) ? file : dir, fs.constants.W_OK);
    } catch {
      why = `${fs.existsSync(file) ? file : dir} is not writable`;
    }
  }
  if (why) throw new CliError(`${flag} ${file}: ${why}; expected a writable file path`, EXIT.usage);
}
