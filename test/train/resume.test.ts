import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCheckpointMeta } from '../../checkpoint/folder';
import { runTrainJobHere, TrainJobInput } from '../../train/job';
import { tinyJob, tmpDir } from './helpers';

const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** Runs a job in-process and asks it to stop once `stopAt` steps are done. */
async function runStoppingAt(input: TrainJobInput, stopAt: number) {
  const signal = { aborted: false };
  return runTrainJobHere(input, { signal, onProgress: (p) => { if (p.step >= stopAt) signal.aborted = true; } });
}

for (const variant of [
  { name: 'answer loss on IOI prompts', over: {} },
  { name: 'sentence loss on the corpus', over: { data: { kind: 'corpus' as const, n: 80, seed: 2, eval_n: 8 }, train: { loss: 'sentence' as const } } },
]) {
  test(`resume (${variant.name}): stop at k, resume from the folder → bit-identical weights and moments`, async () => {
    const root = tmpDir('resume');
    const job = (out: string, extra: Partial<TrainJobInput> = {}) =>
      tinyJob(out, { ...variant.over, ...extra, train: { log_every: 1, checkpoint_every: 8, ...(variant.over.train ?? {}) } });

    const whole = await runTrainJobHere(job(path.join(root, 'whole')));
    assert.equal(whole.status, 'completed');
    assert.equal(whole.step, 24);

    const broken = path.join(root, 'broken');
    const stopped = await runStoppingAt(job(broken), 13);
    assert.equal(stopped.status, 'cancelled');
    assert.equal(stopped.step, 13);
    assert.equal(stopped.finalDir, path.join(broken, 'step-000013'));
    const meta = readCheckpointMeta(stopped.finalDir);
    assert.equal(meta.status, 'cancelled');
    assert.equal(meta.step, 13);
    assert.ok(fs.existsSync(path.join(broken, 'step-000008', 'plasticity.json')), 'periodic checkpoint at step 8');

    const resumed = await runTrainJobHere(job(broken, { resumeDir: stopped.finalDir }));
    assert.equal(resumed.status, 'completed');
    assert.equal(resumed.step, 24);
    const fromPeriodic = await runTrainJobHere(job(path.join(root, 'from8'), { resumeDir: path.join(broken, 'step-000008') }));

    for (const file of ['model.safetensors', 'optimizer.safetensors']) {
      const expected = sha(path.join(whole.finalDir, file));
      assert.equal(sha(path.join(resumed.finalDir, file)), expected, `${file}: resumed at 13 vs unbroken`);
      assert.equal(sha(path.join(fromPeriodic.finalDir, file)), expected, `${file}: resumed at 8 vs unbroken`);
    }
    // the interrupted run had really diverged from its start: weights at 13 differ from the final ones
    assert.notEqual(sha(path.join(stopped.finalDir, 'model.safetensors')), sha(path.join(whole.finalDir, 'model.safetensors')));
    const finalMeta = readCheckpointMeta(resumed.finalDir);
    assert.equal(finalMeta.status, 'completed');
    assert.deepEqual(finalMeta.cursor, readCheckpointMeta(whole.finalDir).cursor);
  });
}

test('resume refuses a checkpoint whose train config differs', async () => {
  const root = tmpDir('resume-mismatch');
  const stopped = await runStoppingAt(tinyJob(path.join(root, 'a'), { train: { log_every: 1 } }), 3);
  await assert.rejects(
    runTrainJobHere(tinyJob(path.join(root, 'a'), { resumeDir: stopped.finalDir, train: { log_every: 1, lr: 1e-2 } })),
    /resumeDir .*step-000003: its train config differs from the job's/,
  );
});
