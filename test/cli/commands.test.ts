// The lineage commands as a user runs them: the built CLI in a child process, against the harness's dev server.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { closedPort, collect, runCli, startCli, testTemporalAddress, type CliResult } from './cli-process';

const ROOT = path.join(__dirname, '..', '..', '..');
const TINY = path.join(ROOT, 'configs', 'tiny-test.yaml');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plasticity-cli-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const exitOf = (r: CliResult) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

describe('plasticity run: the config is checked before anything else', () => {
  // A closed port as TEMPORAL_ADDRESS: had the command tried to connect, it would exit 5, not 2.
  let unreachable: Record<string, string>;
  before(async () => {
    unreachable = { TEMPORAL_ADDRESS: `127.0.0.1:${await closedPort()}` };
  });

  it('an unknown key: exit 2 naming the field and the keys expected there', async () => {
    const file = path.join(tmp, 'unknown-key.yaml');
    fs.writeFileSync(file, 'name: bad\nfinetune:\n  epochz: [1]\n');
    const r = await runCli(['run', file, '--detach'], unreachable);
    assert.equal(r.code, 2, exitOf(r));
    assert.match(r.stderr, /finetune\.epochz: unknown key "epochz" in finetune; expected one of .*epochs/);
  });

  it('a --set of the wrong type: exit 2 naming the field, expected and given', async () => {
    const r = await runCli(['run', TINY, '--set', 'finetune.train.lr=fast', '--detach'], unreachable);
    assert.equal(r.code, 2, exitOf(r));
    assert.match(r.stderr, /finetune\.train\.lr: expected number, got string "fast"/);
  });

  it('a missing file: exit 2 naming it', async () => {
    const missing = path.join(tmp, 'nope.yaml');
    const r = await runCli(['run', missing], unreachable);
    assert.equal(r.code, 2, exitOf(r));
    assert.ok(r.stderr.includes(`config ${missing}: cannot read the file (not found)`), r.stderr);
  });

  it('a model folder that does not exist: exit 2 naming model.path', async () => {
    const r = await runCli(['run', TINY, '--set', 'model={"source":"hf","path":"/nonexistent/gpt2"}', '--detach'], unreachable);
    assert.equal(r.code, 2, exitOf(r));
    assert.match(r.stderr, /model\.path: folder \/nonexistent\/gpt2 not found/);
  });
});

describe('plasticity commands: unreachable server and bad usage', () => {
  it('every server command exits 5 naming the address when nothing listens there', async () => {
    const address = `127.0.0.1:${await closedPort()}`;
    for (const args of [['status', 'x'], ['ls'], ['cancel', 'x'], ['watch', 'x'], ['resume', 'x'], ['run', TINY, '--detach', '--set', `store=${tmp}/store`]]) {
      const r = await runCli(args, { TEMPORAL_ADDRESS: address }, { timeoutMs: 30_000 });
      assert.equal(r.code, 5, `${args.join(' ')}: ${exitOf(r)}`);
      assert.ok(r.stderr.includes(`cannot reach Temporal at ${address}`), `${args.join(' ')}: ${r.stderr}`);
    }
  });

  it('bad option values are usage errors (exit 2)', async () => {
    const env = { TEMPORAL_ADDRESS: testTemporalAddress() };
    const cases: [string[], RegExp][] = [
      [['ls', '--status', 'sleeping'], /--status: unknown status "sleeping"/],
      [['ls', '--experiment', "it's"], /--experiment: expected a plain name/],
      [['ls', '--limit', '0'], /--limit: expected a positive integer/],
      [['worker', '--queues', 'gpu,tpu'], /--queues: unknown queue "tpu"/],
      [['worker', '--shutdown-grace', 'soon'], /--shutdown-grace: expected a duration/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, env);
      assert.equal(r.code, 2, `${args.join(' ')}: ${exitOf(r)}`);
      assert.match(r.stderr, message, args.join(' '));
    }
  });

  it('an unknown workflow id is exit 3 for status, watch, cancel and resume', async () => {
    const env = { TEMPORAL_ADDRESS: testTemporalAddress() };
    for (const command of ['status', 'watch', 'cancel', 'resume']) {
      const r = await runCli([command, 'lineage-no-such-run'], env);
      assert.equal(r.code, 3, `${command}: ${exitOf(r)}`);
      assert.match(r.stderr, /no workflow with id lineage-no-such-run/, command);
    }
  });
});

describe('a lineage driven through the CLI: run --detach, worker, status, ls, cancel, resume', () => {
  const unique = `cli-${process.pid}-${Date.now().toString(36)}`;
  const env = (): Record<string, string> => ({ TEMPORAL_ADDRESS: testTemporalAddress() });
  // A base stage long enough to be cancelled while it trains (checkpoints every 4 steps in tiny-test).
  const runArgs = ['--queue-prefix', unique, '--set', `name=${unique}`, '--set', `store=${path.join(tmp, 'store')}`, '--set', 'model.train.steps=5000'];
  let worker: ReturnType<typeof startCli> | undefined;
  let workerExit: Promise<CliResult> | undefined;
  let id = '';

  before(async () => {
    worker = startCli(['worker', '--queue-prefix', unique, '--shutdown-grace', '30s'], env());
    workerExit = collect(worker, 600_000, ['worker']);
    let out = '';
    worker.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    for (let i = 0; i < 600 && !out.includes('serving'); i++) {
      if (worker.exitCode !== null) throw new Error(`worker exited early: ${(await workerExit).stderr}`);
      await sleep(100);
    }
    assert.match(out, new RegExp(`serving ${unique}-orchestrator, ${unique}-gpu, ${unique}-cpu`));
  });

  after(async () => {
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
  });

  /** Polls `status --json` until `ok` holds (the run makes progress on its own). */
  async function statusUntil(workflowId: string, ok: (s: StatusJson) => boolean, what: string, timeoutMs = 240_000): Promise<StatusJson> {
    const deadline = Date.now() + timeoutMs;
    let last: StatusJson | undefined;
    while (Date.now() < deadline) {
      const r = await runCli(['status', workflowId, '--json'], env());
      assert.ok([0, 1, 4].includes(r.code ?? -1), `status ${workflowId}: ${exitOf(r)}`);
      last = JSON.parse(r.stdout) as StatusJson;
      if (ok(last)) return last;
      if (last.status !== 'running') break; // closed: it will never get there
      await sleep(1000);
    }
    throw new Error(`${workflowId}: never ${what}; last status ${JSON.stringify(last)?.slice(0, 2000)}`);
  }

  it('run --detach --json starts the workflow and prints its id and UI link', async () => {
    const r = await runCli(['run', TINY, '--detach', '--json', ...runArgs], env());
    assert.equal(r.code, 0, exitOf(r));
    const start = JSON.parse(r.stdout.trim().split('\n')[0]) as { type: string; workflowId: string; uiUrl: string | null };
    assert.equal(start.type, 'start');
    assert.match(start.workflowId, new RegExp(`^lineage-${unique}-[0-9a-f]{8}-\\d{8}T\\d{6}$`));
    id = start.workflowId;
  });

  it('status --json follows the stages as the separate worker trains the base model', { timeout: 300_000 }, async () => {
    const s = await statusUntil(id, (x) => stageOf(x, 'base')?.status === 'running' && (stageOf(x, 'base')?.step ?? 0) >= 8, 'trained 8 base steps');
    assert.equal(s.status, 'running');
    assert.equal(s.exitCode, 0);
    assert.equal(s.experiment, unique);
    assert.equal(s.progressSource, 'query');
    assert.equal(stageOf(s, 'validate')?.status, 'done');
    assert.equal(stageOf(s, 'base')?.total, 5000);
  });

  it('ls --json finds the run through its search attributes, and the filters exclude it when they should', { timeout: 60_000 }, async () => {
    let runs: { workflowId: string; status: string; experiment: string }[] = [];
    for (let i = 0; i < 30 && !runs.some((x) => x.workflowId === id); i++) {
      const r = await runCli(['ls', '--json', '--experiment', unique, '--status', 'running'], env());
      assert.equal(r.code, 0, exitOf(r));
      runs = JSON.parse(r.stdout);
      if (!runs.some((x) => x.workflowId === id)) await sleep(1000); // visibility is eventually consistent
    }
    const mine = runs.find((x) => x.workflowId === id);
    assert.ok(mine, `ls did not list ${id}: ${JSON.stringify(runs)}`);
    assert.equal(mine.status, 'running');
    assert.equal(mine.experiment, unique);
    const none = await runCli(['ls', '--json', '--experiment', unique, '--status', 'completed,failed'], env());
    assert.deepEqual(JSON.parse(none.stdout), []);
    const table = await runCli(['ls', '--experiment', unique], env());
    assert.match(table.stdout, new RegExp(`^${id} +running +${unique} +base +\\d+%`, 'm'));
  });

  it('resume refuses a running run (exit 2)', async () => {
    const r = await runCli(['resume', id], env());
    assert.equal(r.code, 2, exitOf(r));
    assert.match(r.stderr, /is still running/);
  });

  it('cancel --wait stops it: exit 4, and status then reports cancelled with exit 4', { timeout: 120_000 }, async () => {
    const r = await runCli(['cancel', id, '--wait'], env());
    assert.equal(r.code, 4, exitOf(r));
    assert.match(r.stdout, new RegExp(`${id}: cancelled`));
    const s = await runCli(['status', id, '--json'], env());
    assert.equal(s.code, 4, exitOf(s));
    const json = JSON.parse(s.stdout) as StatusJson;
    assert.equal(json.status, 'cancelled');
    assert.equal(json.exitCode, 4);
    const again = await runCli(['cancel', id], env());
    assert.equal(again.code, 2, exitOf(again));
    assert.match(again.stderr, /already cancelled/);
  });

  it('resume starts a new run that continues the base stage from its checkpoint', { timeout: 300_000 }, async () => {
    const r = await runCli(['resume', id, '--detach', '--json'], env());
    assert.equal(r.code, 0, exitOf(r));
    const start = JSON.parse(r.stdout.trim().split('\n')[0]) as { workflowId: string };
    assert.notEqual(start.workflowId, id);
    const m = /continuing base from its checkpoint at step (\d+)/.exec(r.stderr);
    assert.ok(m && Number(m[1]) >= 4, `no checkpoint reused: ${r.stderr}`);
    const resumedAt = Number(m[1]);
    const s = await statusUntil(start.workflowId, (x) => (stageOf(x, 'base')?.step ?? 0) > resumedAt, `trained past step ${resumedAt}`);
    assert.equal(s.status, 'running');
    assert.equal(stageOf(s, 'base')?.resumedFromStep, resumedAt);
    const c = await runCli(['cancel', start.workflowId, '--wait'], env());
    assert.equal(c.code, 4, exitOf(c));
  });

  it('the worker stops gracefully on SIGTERM (exit 0)', { timeout: 120_000 }, async () => {
    worker!.kill('SIGTERM');
    const r = await workerExit!;
    assert.equal(r.code, 0, exitOf(r));
    assert.match(r.stdout, /worker: stopped/);
  });
});

describe('plasticity run without --detach: in-process worker, live events, summary', () => {
  it('runs the tiny lineage to completion with --json events and exit 0', { timeout: 900_000 }, async () => {
    const prefix = `cli-run-${process.pid}-${Date.now().toString(36)}`;
    const r = await runCli(
      ['run', TINY, '--json', '--queue-prefix', prefix, '--set', `name=${prefix}`, '--set', `store=${path.join(tmp, 'run-store')}`],
      { TEMPORAL_ADDRESS: testTemporalAddress() },
      { timeoutMs: 890_000 },
    );
    assert.equal(r.code, 0, exitOf(r));
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; [k: string]: unknown });
    assert.equal(events[0].type, 'start');
    assert.match(r.stderr, /in-process worker on /);
    const done = new Set(events.filter((e) => e.type === 'stage' && (e.status === 'done' || e.status === 'cached')).map((e) => e.stage));
    for (const stage of ['base', 'finetune', 'corrupt', 'retrain', 'compare']) assert.ok(done.has(stage), `no done event for ${stage}: ${r.stdout}`);
    const end = events[events.length - 1];
    assert.equal(end.type, 'end');
    assert.equal(end.status, 'completed');
    assert.equal(end.exitCode, 0);
    assert.match(String(end.compare), /^(file|s3):\/\//);
  });
});

interface StageJson {
  stage: string;
  status: string;
  step?: number;
  total?: number;
  resumedFromStep?: number;
}
interface StatusJson {
  status: string;
  exitCode: number;
  experiment: string | null;
  progressSource: string | null;
  progress: { stages: StageJson[] } | null;
}

function stageOf(s: StatusJson, stage: string): StageJson | undefined {
  return s.progress?.stages.find((x) => x.stage === stage);
}
