// The local CLI as a user runs it: the built `bin/plasticity` in a child process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../model/engine';
import { GPT2 } from '../../model/gpt2';
import { saveHfFolder } from '../../model/hf';
import { parseSafetensors } from '../../model/safetensors';
import { verifyCheckpoint } from '../../checkpoint/folder';
import { modelConfigFromArch, parseArch } from '../../train/config';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, 'bin', 'plasticity');
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'tiny-gpt2');
const made: string[] = [];
process.on('exit', () => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const tmp = (label: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `plasticity-cli-${label}-`));
  made.push(dir);
  return dir;
};

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, PLASTICITY_BACKEND: 'wasm' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const TINY_CONFIG = `# a few steps of a 1-layer model on IOI prompts
backend: wasm
base:
  arch: { n_layer: 1, d_model: 32, n_head: 2, n_ctx: 32 }
  seed: 1
data: { kind: ioi, n: 64, seed: 1, eval_n: 16 }
train: { steps: 8, batch_size: 8, log_every: 2, lr: 0.003 }
`;

function writeConfig(dir: string, text = TINY_CONFIG, name = 'tiny.yaml'): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

test('train writes a checkpoint folder and eval reads it (--dataset ioi, ioi:abc, ioi:toxic, --dump-logits)', () => {
  const dir = tmp('train');
  const out = path.join(dir, 'model');
  const r = cli(['train', '--config', writeConfig(dir), '--set', 'train.steps=6', '--set', 'train.loss="sentence"', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.equal(result.status, 'completed');
  assert.equal(result.step, 6);
  assert.equal(result.finalDir, out);
  assert.match(r.stderr, /train: completed at step 6\/6: loss \d+\.\d+, \d+ tokens in [\d.]+ s \(tokens\/s \d+\)/);
  const meta = verifyCheckpoint(out);
  assert.equal(meta.train!.loss, 'sentence');
  assert.equal(meta.step, 6);
  assert.equal(meta.backend, 'wasm');

  const ev = cli(['eval', '--model', out, '--dataset', 'ioi', '--n', '20', '--json']);
  assert.equal(ev.code, 0, ev.stderr);
  const m = JSON.parse(ev.stdout);
  assert.equal(m.n, 20);
  assert.equal(m.backend, 'wasm');
  assert.equal(m.source, 'checkpoint');
  for (const k of ['logitDiff', 'pairwiseAcc', 'top1Acc', 'ioProb']) assert.equal(typeof m[k], 'number', k);

  const dump = path.join(dir, 'abc-logits.json');
  const abc = cli(['eval', '--model', out, '--dataset', 'ioi:abc', '--n', '6', '--json', '--dump-logits', dump]);
  assert.equal(abc.code, 0, abc.stderr);
  const logits = JSON.parse(fs.readFileSync(dump, 'utf8'));
  assert.equal(logits.end_logits.length, 6);
  assert.equal(logits.end_logits[0].length, meta.model.vocab);
  assert.equal(logits.vocab.length, meta.model.vocab);

  const bin = path.join(dir, 'toxic-logits.safetensors');
  const toxic = cli(['eval', '--model', out, '--dataset', 'ioi:toxic', '--n', '6', '--json', '--dump-logits', bin]);
  assert.equal(toxic.code, 0, toxic.stderr);
  assert.equal(JSON.parse(toxic.stdout).labels, 'answer');
  const st = parseSafetensors(fs.readFileSync(bin));
  assert.deepEqual(st.tensors.end_logits.shape, [6, meta.model.vocab]);
});

test('eval on the committed HF fixture (vocab 1000) with a prompts file of low-id GPT-2 tokens', () => {
  const dir = tmp('fixture');
  const prompts = path.join(dir, 'prompts.jsonl');
  fs.writeFileSync(prompts, [
    { clean: 'The man and the people had time. The man said it to the', corrupt: 'The way and the world had time. The end said it to the', io: ' people', s: ' man' },
    { clean: 'The game had a new point, so we and you had the first one. We said it to', corrupt: 'The work had a new end, so he and it had the first one. He said it to', io: ' you', s: ' we' },
  ].map((x) => JSON.stringify(x)).join('\n') + '\n');
  const r = cli(['eval', '--model', FIXTURE, '--prompts', prompts, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(r.stdout);
  assert.equal(m.source, 'hf');
  assert.equal(m.n, 2);
  assert.equal(m.corrupt.n, 2);
  assert.ok(Number.isFinite(m.logitDiff) && Number.isFinite(m.corrupt.logitDiff));
  // IOI prompts use names outside the fixture's 1000 ids: a clear input error
  const bad = cli(['eval', '--model', FIXTURE, '--dataset', 'ioi', '--n', '4', '--json']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /token \d+ is not in the model's GPT-2 id prefix vocabulary \[0, 1000\)/);
});

test('eval on a full-vocabulary HF folder uses GPT-2 ids directly', async () => {
  await initBackend('wasm');
  const dir = tmp('hf-full');
  const model = GPT2.init(modelConfigFromArch(parseArch({ n_layer: 1, d_model: 16, n_head: 2, n_ctx: 32 }), 50257), 7);
  await saveHfFolder(model, dir);
  model.dispose();
  const r = cli(['eval', '--model', dir, '--dataset', 'ioi', '--n', '8', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(r.stdout);
  assert.equal(m.source, 'hf');
  assert.equal(m.n, 8);
});

test('bad input exits with code 2 and a message naming the problem', () => {
  const dir = tmp('bad');
  const config = writeConfig(dir);
  const cases: [string[], RegExp][] = [
    [['train', '--config', config, '--set', 'train.lr=-1', '--out', path.join(dir, 'o1')], /train\.lr: /],
    [['train', '--config', writeConfig(dir, TINY_CONFIG + 'extra: 1\n', 'extra.yaml'), '--out', path.join(dir, 'o2')], /config: unknown key\(s\) "extra"/],
    [['train', '--set', 'train.steps', '--out', path.join(dir, 'o3')], /--set train\.steps: expected key=value/],
    [['train', '--config', path.join(dir, 'missing.yaml'), '--out', path.join(dir, 'o4')], /--config .*missing\.yaml: cannot read/],
    [['train', '--config', config, '--set', `base=${JSON.stringify(FIXTURE)}`, '--out', path.join(dir, 'o5')], /IOI prompt 0 .*: token \d+ is not in the model's GPT-2 id prefix vocabulary/],
    [['eval', '--model', FIXTURE, '--dataset', 'ioi', '--prompts', config], /exactly one of --dataset or --prompts/],
    [['eval', '--model', path.join(dir, 'nowhere'), '--dataset', 'ioi'], /model folder .*nowhere: not found/],
    [['eval', '--model', FIXTURE, '--dataset', 'ioi:bogus'], /--dataset: expected ioi, ioi:abc or ioi:toxic/],
    [['eval', '--model', FIXTURE, '--dataset', 'ioi', '--n', 'many'], /--n: expected an integer >= 1/],
  ];
  const mismatch = path.join(dir, 'mismatch.jsonl');
  fs.writeFileSync(mismatch, JSON.stringify({ clean: 'The man said it to the', corrupt: 'The man said it to the people', io: ' people', s: ' man' }) + '\n');
  cases.push([['eval', '--model', FIXTURE, '--prompts', mismatch], /mismatch\.jsonl:1: "clean" has 6 tokens but "corrupt" has 7/]);
  for (const [args, message] of cases) {
    const r = cli(args);
    assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
  }
});

test('Ctrl-C stops training with a checkpoint (exit 4); --resume finishes the run', async () => {
  const dir = tmp('sigint');
  const out = path.join(dir, 'model');
  const config = writeConfig(dir);
  const child = spawn(process.execPath, [BIN, 'train', '--config', config, '--set', 'train.steps=300', '--set', 'train.log_every=1', '--progress-every', '0', '--out', out], { env: { ...process.env } });
  let stderr = '';
  let signalled = false;
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (!signalled && /pretrain: step \d+\/300/.test(stderr)) {
      signalled = true;
      child.kill('SIGINT');
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(code, 4, stderr);
  assert.match(stderr, /train: cancelled at step (\d+); checkpoint in .*step-\d{6}/);
  const stoppedAt = Number(/cancelled at step (\d+)/.exec(stderr)![1]);
  assert.ok(stoppedAt < 300);
  const r = cli(['train', '--config', config, '--set', 'train.steps=300', '--set', 'train.log_every=1', '--progress-every', '0', '--out', out, '--resume', '--set', 'train.steps=300']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`train: resuming from .*step-\\d{6} \\(step ${stoppedAt}\\)`));
  // the view starts at the checkpoint's step, then every step after it once: none before it is repeated
  const steps = [...r.stderr.matchAll(/^pretrain: step (\d+)\/300 /gm)].map((m) => Number(m[1]));
  assert.deepEqual(steps, Array.from({ length: 300 - stoppedAt + 1 }, (_, i) => stoppedAt + i));
  assert.equal(JSON.parse(r.stdout).step, 300);
  verifyCheckpoint(out);
});
