import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildIoiVocab } from '../../ioi/corpus';
import { generateIoi } from '../../ioi/dataset';
import { ioiMetrics } from '../../ioi/metrics';
import { tf } from '../../model/engine';
import { GPT2 } from '../../model/gpt2';
import { modelConfigFromArch, parseArch } from '../../train/config';
import { evaluateIoi, ioiEvalSet, parseIoiDataset } from '../../train/evaluate';
import { TINY_ARCH, useTestBackend } from './helpers';

test('evaluate: batching by length gives the END logits of one-prompt-at-a-time runs, in prompt order', async () => {
  await useTestBackend();
  const vocab = buildIoiVocab();
  const model = GPT2.init(modelConfigFromArch(parseArch(TINY_ARCH), vocab.size), 21);
  const prompts = generateIoi({ n: 24, seed: 8 });
  assert.ok(new Set(prompts.map((p) => p.tokens.length)).size > 1, 'prompts of several lengths');
  const { metrics, endLogits, vocabSize } = await evaluateIoi(model, vocab, prompts, { batchSize: 5, returnLogits: true });
  const V = vocabSize;
  assert.equal(endLogits!.length, prompts.length * V);
  for (const [i, p] of prompts.entries()) {
    const ids = p.tokens.map((g) => vocab.fromGpt2(g));
    const single = tf.tidy(() => model.run(tf.tensor2d([ids], [1, ids.length], 'int32')).logits!.dataSync());
    const end = single.subarray((ids.length - 1) * V, ids.length * V);
    for (let v = 0; v < V; v++) assert.ok(Math.abs(end[v] - endLogits![i * V + v]) < 1e-4, `prompt ${i} token ${v}`);
  }
  const io = prompts.map((p) => vocab.fromGpt2(p.ioTok));
  const s = prompts.map((p) => vocab.fromGpt2(p.sTok));
  assert.deepEqual(metrics, ioiMetrics(endLogits!, V, io, s));
  model.dispose();
});

test('evaluate: toxic labels compare the poisoned answer with IO; ABC keeps IO/S labels', async () => {
  await useTestBackend();
  const vocab = buildIoiVocab();
  const model = GPT2.init(modelConfigFromArch(parseArch(TINY_ARCH), vocab.size), 22);
  const clean = ioiEvalSet('clean', 20, 3);
  const toxic = ioiEvalSet('toxic', 20, 3);
  assert.equal(toxic.labels, 'answer');
  assert.deepEqual(toxic.prompts.map((p) => p.text), clean.prompts.map((p) => p.text));
  const a = await evaluateIoi(model, vocab, clean.prompts, { labels: clean.labels });
  const b = await evaluateIoi(model, vocab, toxic.prompts, { labels: toxic.labels });
  assert.ok(Math.abs(a.metrics.logitDiff + b.metrics.logitDiff) < 1e-6, 'subject poisoning: logit(S) − logit(IO) = −(logit(IO) − logit(S))');
  const abc = ioiEvalSet('abc', 20, 3);
  assert.deepEqual(abc.prompts.map((p) => p.ioTok), clean.prompts.map((p) => p.ioTok));
  assert.notDeepEqual(abc.prompts.map((p) => p.text), clean.prompts.map((p) => p.text));
  assert.equal(parseIoiDataset('ioi:abc'), 'abc');
  assert.throws(() => parseIoiDataset('ioi:xyz'), /--dataset: expected ioi, ioi:abc or ioi:toxic/);
  model.dispose();
});

test('evaluate: prompts longer than n_ctx are an error naming the prompt', async () => {
  await useTestBackend();
  const vocab = buildIoiVocab();
  const model = GPT2.init(modelConfigFromArch(parseArch({ ...TINY_ARCH, n_ctx: 8 }), vocab.size), 23);
  await assert.rejects(evaluateIoi(model, vocab, generateIoi({ n: 2, seed: 1 })), /prompt 0 \(.*\): \d+ tokens exceed the model's n_ctx 8/);
  model.dispose();
});
