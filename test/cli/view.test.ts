// The terminal view as pure functions: stage states, bars, ETA, widths, plain lines and JSON events.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LineageProgress } from '../../contract/lineage';
import { formatDuration, formatNumber, progressBar, stripAnsi } from '../../cli/view/format';
import { formatEventLine, progressEvents, type ViewEvent } from '../../cli/view/events';
import { createLineageView } from '../../cli/view/lineage-view';
import { chooseViewMode } from '../../cli/view/output';
import { renderStages, renderView, stageEta, type ViewStage } from '../../cli/view/render';
import { createProgressReporter } from '../../cli/view/reporter';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const iso = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

function snapshot(overrides: Partial<LineageProgress> = {}): LineageProgress {
  return {
    name: 'tiny-test',
    configHash: 'a1b2c3d4e5f60718',
    status: 'running',
    current: 'corrupt',
    fraction: 0.42,
    startedAt: iso(0),
    stages: [
      { stage: 'base', kind: 'base', status: 'done', startedAt: iso(0), finishedAt: iso(72), loss: 2.01133 },
      { stage: 'finetune', kind: 'train', status: 'cached' },
      { stage: 'trace-finetune-e1', kind: 'trace', status: 'failed', error: 'out of memory\nstack trace' },
      { stage: 'corrupt', kind: 'train', status: 'running', step: 120, total: 400, loss: 2.3456, etaSeconds: 65, startedAt: iso(480) },
      { stage: 'retrain', kind: 'train', status: 'pending' },
      { stage: 'compare', kind: 'compare', status: 'cancelled', error: 'cancelled by user' },
    ],
    ...overrides,
  };
}

/** A writable that records what was written. */
function sink(isTTY = false, columns = 100): NodeJS.WritableStream & { text: string; isTTY: boolean; columns: number } {
  const s = {
    text: '',
    isTTY,
    columns,
    write(chunk: string) {
      s.text += chunk;
      return true;
    },
  };
  return s as unknown as NodeJS.WritableStream & { text: string; isTTY: boolean; columns: number };
}

describe('format', () => {
  it('formats durations in s, m+s and h+m', () => {
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(59.4), '59s');
    assert.equal(formatDuration(65), '1m05s');
    assert.equal(formatDuration(3600 + 120 + 5), '1h02m');
    assert.equal(formatDuration(undefined), '?');
    assert.equal(formatDuration(-1), '?');
  });

  it('draws bars in proportion, clamped to 0..1', () => {
    assert.equal(progressBar(0, 10), `[${'░'.repeat(10)}]`);
    assert.equal(progressBar(0.5, 10), `[${'█'.repeat(5)}${'░'.repeat(5)}]`);
    assert.equal(progressBar(1, 4), '[████]');
    assert.equal(progressBar(7, 4), '[████]');
    assert.equal(progressBar(NaN, 3), '[░░░]');
  });

  it('prints numbers with 4 significant digits', () => {
    assert.equal(formatNumber(2.34567), '2.346');
    assert.equal(formatNumber(0.012345), '0.01235');
    assert.equal(formatNumber(123456), '1.23e+5');
  });
});

describe('renderView', () => {
  const now = T0 + 600_000;

  it('shows every stage with its status, the running stage with bar, step/total, ETA and loss, and the UI link', () => {
    const text = renderView(snapshot(), { width: 140, color: false, now, workflowId: 'lineage-tiny-test-x', uiUrl: 'http://ui/wf' });
    const lines = text.split('\n');
    assert.match(lines[0], /^lineage tiny-test \(a1b2c3d4\) {2}running 42% {2}elapsed 10m00s$/);
    assert.equal(lines[1], 'id  lineage-tiny-test-x');
    const line = (stage: string) => lines.find((l) => l.includes(` ${stage} `))!;
    assert.match(line('base'), /✓ base +done +1m12s {2}loss 2\.011$/);
    assert.match(line('finetune'), /≡ finetune +cached +reused from the store$/);
    assert.match(line('trace-finetune-e1'), /✗ trace-finetune-e1 failed +out of memory$/); // first line of the error only
    assert.match(line('retrain'), /· retrain +pending$/);
    assert.match(line('compare'), /■ compare +cancelled +cancelled by user$/);
    const running = line('corrupt');
    assert.match(running, /▶ corrupt +running +\[(█+)(░+)\] 120\/400 30% {2}ETA 1m05s {2}loss 2\.346$/);
    const [, filled, empty] = /\[(█+)(░+)\]/.exec(running)!;
    assert.equal(filled.length, Math.floor(0.3 * (filled.length + empty.length)));
    assert.equal(lines[lines.length - 1], 'UI  http://ui/wf');
  });

  it('fits every line into the width, and colour only adds escape codes', () => {
    for (const width of [40, 60, 80, 120]) {
      const plain = renderView(snapshot(), { width, color: false, now, uiUrl: 'http://127.0.0.1:8233/namespaces/default/workflows/lineage-x' });
      for (const l of plain.split('\n')) assert.ok([...l].length <= width, `line longer than ${width}: ${JSON.stringify(l)}`);
      assert.doesNotMatch(plain, /\x1b/);
      const colored = renderView(snapshot(), { width, color: true, now, uiUrl: 'http://127.0.0.1:8233/namespaces/default/workflows/lineage-x' });
      assert.match(colored, /\x1b\[3\dm/);
      assert.equal(stripAnsi(colored), plain);
    }
  });

  it('says "took" with the total time and no percentage once the lineage has completed', () => {
    const done = snapshot({ status: 'completed', fraction: 1, finishedAt: iso(125), stages: [{ stage: 'base', kind: 'base', status: 'done', startedAt: iso(0), finishedAt: iso(5) }] });
    const first = renderView(done, { width: 100, color: false, now }).split('\n')[0];
    assert.equal(first, 'lineage tiny-test (a1b2c3d4)  completed  took 2m05s');
  });

  it('shows a retried attempt and the step it resumed from, and "starting" before the first step', () => {
    const [retried, starting] = renderStages(
      [
        { stage: 'corrupt', status: 'running', step: 60, total: 100, attempt: 2, resumedFromStep: 50, startedAt: iso(0) },
        { stage: 'retrain', status: 'running', startedAt: iso(0) },
      ],
      { width: 140, color: false, now: T0 + 20_000 },
    );
    assert.match(retried, /60\/100 60% {2}ETA 1m20s {2}attempt 2 {2}resumed at step 50$/); // 10 steps in 20 s, 40 to go
    assert.match(starting, /retrain +running +starting \(20s\)$/);
  });
});

describe('stageEta', () => {
  it("prefers the stage's own estimate", () => {
    assert.equal(stageEta({ stage: 's', status: 'running', step: 1, total: 10, etaSeconds: 7, startedAt: iso(0) }, T0 + 1000), 7);
  });
  it('derives the ETA from the rate of this attempt when the stage sent none', () => {
    const s: ViewStage = { stage: 's', status: 'running', step: 30, total: 100, startedAt: iso(0) };
    assert.equal(stageEta(s, T0 + 60_000), 140); // 2 s/step × 70 steps
    assert.equal(stageEta({ ...s, resumedFromStep: 20 }, T0 + 60_000), 420); // 6 s/step × 70 steps
    assert.equal(stageEta({ ...s, step: 0 }, T0 + 60_000), undefined);
  });
});

describe('progress events (no TTY, --json)', () => {
  const stagesAt = (status: ViewStage['status'], step?: number): ViewStage[] => [
    { stage: 'base', status: 'done', startedAt: iso(0), finishedAt: iso(10) },
    { stage: 'finetune', status, step, total: 100, loss: 1.5, startedAt: iso(10), ...(status === 'done' ? { finishedAt: iso(70) } : {}) },
    { stage: 'corrupt', status: 'pending' },
  ];

  it('reports the non-pending stages of the first snapshot, then only transitions and throttled progress', () => {
    let state = { lastProgressAt: {} as Record<string, number> };
    const step = (prev: ViewStage[] | undefined, next: ViewStage[], seconds: number): ViewEvent[] => {
      const r = progressEvents(prev, next, state, { now: T0 + seconds * 1000, intervalMs: 10_000 });
      state = r.state;
      return r.events;
    };
    const first = step(undefined, stagesAt('running', 0), 10);
    assert.deepEqual(first.map((e) => e.type === 'stage' && `${e.stage}:${e.status}`), ['base:done', 'finetune:running']);
    assert.deepEqual(step(stagesAt('running', 0), stagesAt('running', 5), 12), []); // within the interval
    const progress = step(stagesAt('running', 5), stagesAt('running', 20), 21);
    assert.equal(progress.length, 1);
    assert.deepEqual(progress[0], { type: 'progress', stage: 'finetune', step: 20, total: 100, fraction: 0.2, loss: 1.5, etaSeconds: 44 });
    assert.deepEqual(step(stagesAt('running', 20), stagesAt('running', 20), 40), []); // no movement, no line
    const done = step(stagesAt('running', 20), stagesAt('done', 100), 70);
    assert.deepEqual(done, [{ type: 'stage', stage: 'finetune', status: 'done', seconds: 60, loss: 1.5 }]);
  });

  it('formats plain lines for each kind of event', () => {
    assert.equal(formatEventLine({ type: 'stage', stage: 'finetune', status: 'done', seconds: 60, loss: 1.5 }), 'finetune: done after 1m00s loss 1.5');
    assert.equal(formatEventLine({ type: 'stage', stage: 'base', status: 'cached' }), 'base: cached (reused from the store)');
    assert.equal(formatEventLine({ type: 'stage', stage: 'corrupt', status: 'running', attempt: 2, resumedFromStep: 50 }), 'corrupt: running (attempt 2, resumed at step 50)');
    assert.equal(formatEventLine({ type: 'progress', stage: 'corrupt', step: 60, total: 200, fraction: 0.3, loss: 0.25, etaSeconds: 90 }), 'corrupt: step 60/200 30% loss 0.25 ETA 1m30s');
    assert.equal(formatEventLine({ type: 'stage', stage: 'trace', status: 'failed', error: 'bad\nstack' }), 'trace: failed (bad)');
    assert.equal(formatEventLine({ type: 'end', status: 'completed', exitCode: 0, 'logit_diff.finetune': 3.14159 }), 'finished: completed  exitCode 0  logit_diff.finetune 3.142');
  });

  it('picks json when asked, tty on a terminal, lines otherwise', () => {
    assert.equal(chooseViewMode(sink(true), true, {}), 'json');
    assert.equal(chooseViewMode(sink(true), false, { TERM: 'xterm' }), 'tty');
    assert.equal(chooseViewMode(sink(true), false, { TERM: 'dumb' }), 'lines');
    assert.equal(chooseViewMode(sink(false), false, {}), 'lines');
  });
});

describe('createLineageView', () => {
  it('json mode writes one parseable event per line: start, stage transitions, end', () => {
    const out = sink();
    const view = createLineageView({ mode: 'json', stream: out, intervalMs: 0 });
    view.start({ workflowId: 'wf-1', uiUrl: 'http://ui' });
    view.update(snapshot());
    view.end({ status: 'cancelled', exitCode: 4 });
    const events = out.text.trimEnd().split('\n').map((l) => JSON.parse(l) as ViewEvent);
    assert.deepEqual(events[0], { type: 'start', workflowId: 'wf-1', uiUrl: 'http://ui' });
    assert.deepEqual(events.filter((e) => e.type === 'stage').map((e) => (e as { stage: string }).stage), ['base', 'finetune', 'trace-finetune-e1', 'corrupt', 'compare']);
    assert.ok(events.some((e) => e.type === 'progress' && e.step === 120 && e.etaSeconds === 65));
    assert.deepEqual(events[events.length - 1], { type: 'end', status: 'cancelled', exitCode: 4 });
  });

  it('lines mode prints the start, each transition once, and leaves the end to the caller', () => {
    const out = sink();
    const view = createLineageView({ mode: 'lines', stream: out, intervalMs: 60_000 });
    view.start({ workflowId: 'wf-1', uiUrl: 'http://ui' });
    const running = snapshot();
    view.update(running);
    view.update(running); // nothing changed: nothing printed
    const next = snapshot();
    next.stages[3] = { ...next.stages[3], status: 'done', finishedAt: iso(540) };
    next.stages[4] = { ...next.stages[4], status: 'running', startedAt: iso(540) };
    view.update(next);
    view.end({ status: 'completed', exitCode: 0 });
    assert.deepEqual(out.text.trimEnd().split('\n'), [
      'started wf-1  UI http://ui',
      'base: done after 1m12s loss 2.011',
      'finetune: cached (reused from the store)',
      'trace-finetune-e1: failed (out of memory)',
      'corrupt: running',
      'compare: cancelled (cancelled by user)',
      'corrupt: done after 1m00s loss 2.346',
      'retrain: running',
    ]);
  });

  it('tty mode redraws the frame in place', () => {
    const out = sink(true, 100);
    const view = createLineageView({ mode: 'tty', stream: out, uiUrl: 'http://ui' });
    view.update(snapshot());
    const firstFrameRows = stripAnsi(out.text).trimEnd().split('\n').length;
    view.update(snapshot({ fraction: 0.5 }));
    assert.ok(out.text.includes(`\x1b[${firstFrameRows}A\x1b[0J`), 'moves up over the previous frame and clears it');
    view.end({ status: 'completed' });
    assert.ok(out.text.endsWith('\x1b[?25h'), 'shows the cursor again at the end');
  });
});

describe('createProgressReporter (train, trace, bench)', () => {
  it('lines mode: a line when a stage starts, throttled step lines, "done" when the next stage starts or at the end', () => {
    const out = sink();
    let clock = T0;
    const progress = createProgressReporter({ mode: 'lines', stream: out, intervalMs: 5000, now: () => clock });
    progress.update({ stage: 'train', step: 0, total: 100 });
    clock += 1000;
    progress.update({ stage: 'train', step: 10, total: 100, loss: 3 }); // within 5 s of the start line: silent
    clock += 9000;
    progress.update({ stage: 'train', step: 50, total: 100, loss: 2 });
    progress.log('checkpoint step 50');
    clock += 10_000;
    progress.update({ stage: 'eval', step: 1, total: 4 });
    progress.done();
    progress.done(); // idempotent
    assert.deepEqual(out.text.trimEnd().split('\n'), [
      'train: running',
      'train: step 50/100 50% loss 2 ETA 10s', // 50 steps in 10 s since the first update
      'checkpoint step 50',
      'train: done after 20s loss 2',
      'eval: running',
      'eval: done after 0s',
    ]);
  });

  it('json mode: every line is an event; a failure carries its message', () => {
    const out = sink();
    const progress = createProgressReporter({ mode: 'json', stream: out, intervalMs: 0 });
    progress.update({ stage: 'trace', step: 1, total: 8 });
    progress.done({ status: 'failed', error: 'layer 3: NaN' });
    const events = out.text.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.equal(events[0].type, 'stage');
    assert.equal(events[0].status, 'running');
    assert.deepEqual({ ...events[events.length - 1], seconds: undefined }, { type: 'stage', stage: 'trace', status: 'failed', error: 'layer 3: NaN', seconds: undefined });
  });

  it('tty mode draws a bar for the running stage', () => {
    const out = sink(true, 80);
    let clock = T0;
    const progress = createProgressReporter({ mode: 'tty', stream: out, now: () => clock });
    progress.update({ stage: 'train', step: 0, total: 10 });
    clock += 2000;
    progress.update({ stage: 'train', step: 5, total: 10, loss: 0.5 });
    assert.match(stripAnsi(out.text), /\[█+░+\] 5\/10 50% {2}ETA 2s {2}loss 0\.5/);
    progress.done();
    assert.match(stripAnsi(out.text), /✓ train +done/);
  });
});
