// Progress of the long local commands (train, trace, cmap) on stderr, as a user sees it through a pipe or --json;
// stdout stays the result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { etaSinceFirstReport, parseProgressEvery } from '../../cli/local-progress';
import type { ViewEvent } from '../../cli/view';
import { runCli } from './cli-process';

const made: string[] = [];
process.on('exit', () => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
function tmp(label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `plasticity-progress-${label}-`));
  made.push(dir);
  return dir;
}

// From scratch (an init spec): the stage is 'pretrain'.
function tinyConfig(dir: string, steps: number): string {
  const file = path.join(dir, 'tiny.yaml');
  fs.writeFileSync(file, [
    'backend: wasm',
    'base:',
    '  arch: { n_layer: 1, d_model: 32, n_head: 2, n_ctx: 32 }',
    '  seed: 1',
    'data: { kind: ioi, n: 64, seed: 1, eval_n: 8 }',
    `train: { steps: ${steps}, batch_size: 8, log_every: 1, lr: 0.003 }`,
  ].join('\n') + '\n');
  return file;
}

/** Every stderr line as an event; fails naming the first line that is not JSON. */
function events(stderr: string): ViewEvent[] {
  return stderr.trimEnd().split('\n').map((line, i) => {
    try {
      return JSON.parse(line) as ViewEvent;
    } catch {
      throw new Error(`stderr line ${i + 1} is not a JSON event: ${line}`);
    }
  });
}

const progressSteps = (evs: ViewEvent[], stage: string) => evs.flatMap((e) => (e.type === 'progress' && e.stage === stage ? [e.step] : []));

test('train --json: stderr is JSON events (running, progress with increasing steps and loss, done); stdout the result', async () => {
  const dir = tmp('json');
  const out = path.join(dir, 'model');
  const r = await runCli(['train', '--config', tinyConfig(dir, 12), '--out', out, '--json', '--progress-every', '0']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).step, 12);
  const evs = events(r.stderr);
  assert.deepEqual(evs[0], { type: 'stage', stage: 'pretrain', status: 'running' });
  const steps = progressSteps(evs, 'pretrain');
  assert.ok(steps.length >= 2, `several progress events: ${steps}`);
  steps.forEach((s, i) => i > 0 && assert.ok(s > steps[i - 1], `steps increase: ${steps}`));
  assert.ok(steps.every((s) => s >= 1 && s <= 12), `steps within 1..12: ${steps}`);
  for (const e of evs) if (e.type === 'progress') assert.ok(e.total === 12 && Number.isFinite(e.loss), JSON.stringify(e));
  const last = evs[evs.length - 1];
  assert.equal(last.type, 'stage');
  assert.equal(last.type === 'stage' && last.status, 'done');
  assert.ok(last.type === 'stage' && Number.isFinite(last.loss) && Number.isFinite(last.seconds), JSON.stringify(last));
  assert.ok(evs.some((e) => e.type === 'log' && /^train: completed at step 12\/12: loss /.test(e.message)), 'the summary is a log event');
});

test('train through a pipe: plain lines, throttled (fewer progress lines than steps), summary kept', async () => {
  const dir = tmp('lines');
  const steps = 30;
  const r = await runCli(['train', '--config', tinyConfig(dir, steps), '--out', path.join(dir, 'model')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).status, 'completed');
  const lines = r.stderr.trimEnd().split('\n');
  assert.ok(lines.every((l) => !l.startsWith('{')), `no JSON on stderr:\n${r.stderr}`);
  assert.equal(lines[0], 'pretrain: running');
  assert.match(lines[lines.length - 1], /^pretrain: done after \d+s loss \d/);
  const stepLines = lines.filter((l) => /^pretrain: step \d+\/30 /.test(l));
  assert.ok(stepLines.length < steps, `${stepLines.length} progress lines for ${steps} steps`);
  assert.match(r.stderr, /train: completed at step 30\/30: loss \d+\.\d+, \d+ tokens in [\d.]+ s \(tokens\/s \d+\)/);
  assert.match(r.stderr, /train: held-out IOI \(n=8\): logit diff /);
});

test('trace and cmap --json: stdout parses as the result, stderr carries the sweep progress as events', async () => {
  const dir = tmp('trace');
  const model = path.join(dir, 'model');
  const trained = await runCli(['train', '--config', tinyConfig(dir, 2), '--out', model]);
  assert.equal(trained.code, 0, trained.stderr);

  const r = await runCli(['trace', '--model', model, '--method', 'activation', '--n', '12', '--backend', 'wasm', '--json', '--progress-every', '0']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.method, 'activation');
  assert.ok(doc.scores.length > 0);
  const evs = events(r.stderr);
  assert.deepEqual(evs.find((e) => e.type === 'stage'), { type: 'stage', stage: 'trace:activation', status: 'running' });
  const steps = progressSteps(evs, 'trace:activation');
  assert.ok(steps.length >= 2, `sweep progress events: ${steps}`);
  steps.forEach((s, i) => i > 0 && assert.ok(s > steps[i - 1], `steps increase: ${steps}`));
  const total = evs.find((e) => e.type === 'progress')!;
  assert.equal(total.type === 'progress' && steps[steps.length - 1], total.type === 'progress' && total.total, 'the sweep ends at its total');
  assert.deepEqual(evs.slice(-1).map((e) => e.type === 'stage' && [e.stage, e.status]), [['trace:activation', 'done']]);

  const dla = await runCli(['trace', '--model', model, '--method', 'dla', '--n', '12', '--backend', 'wasm', '--json']);
  assert.equal(dla.code, 0, dla.stderr);
  assert.equal(JSON.parse(dla.stdout).method, 'dla');
  assert.deepEqual(events(dla.stderr).filter((e) => e.type === 'stage').map((e) => e.type === 'stage' && e.status), ['running', 'done'], 'no hook: start and end only');

  const cmap = await runCli(['cmap', '--from', model, '--into', model, '--n', '12', '--backend', 'wasm', '--json', '--progress-every', '0']);
  assert.equal(cmap.code, 0, cmap.stderr);
  assert.equal(JSON.parse(cmap.stdout).kind, 'z');
  const cmapSteps = progressSteps(events(cmap.stderr), 'cmap:z');
  assert.ok(cmapSteps.length >= 1 && cmapSteps.every((s, i) => i === 0 || s > cmapSteps[i - 1]), `per-batch progress: ${cmapSteps}`);
});

test('--progress-every: seconds >= 0, else a usage error naming the flag', async () => {
  assert.equal(parseProgressEvery('2.5'), 2.5);
  assert.equal(parseProgressEvery('0'), 0);
  assert.equal(parseProgressEvery(undefined), 10);
  for (const bad of ['-1', 'soon', '']) assert.throws(() => parseProgressEvery(bad), /--progress-every: expected a number of seconds >= 0/);
  const r = await runCli(['train', '--out', tmp('bad'), '--progress-every', 'soon']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--progress-every: expected a number of seconds >= 0, got "soon"/);
});

test('etaSinceFirstReport: rate from the first report on, so start-up time does not count', () => {
  let clock = 100_000;
  const eta = etaSinceFirstReport(() => clock);
  assert.ok(Number.isNaN(eta(10, 110)), 'unknown at the first report');
  clock += 5000; // 50 steps in 5 s → 0.1 s a step
  assert.equal(eta(60, 110), 5);
  clock += 5000;
  assert.equal(eta(110, 110), 0);
});
