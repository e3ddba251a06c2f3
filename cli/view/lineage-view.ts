// The live view of one lineage (used by `run` and `watch`): feed it progress snapshots; it redraws (tty), prints
// transitions and periodic progress lines (lines), or emits JSON events (json).
import type { LineageProgress } from '../../contract/lineage';
import { progressEvents, type DiffState, type EndInfo, type StartInfo } from './events';
import { chooseViewMode, terminalWidth, TtyRegion, useColor, writeEvents, type ViewMode } from './output';
import { renderView } from './render';
import { isTensorflowStartupNoise } from './tf-noise';

export interface LineageViewOptions {
  mode?: ViewMode;
  /** Default process.stdout. */
  stream?: NodeJS.WritableStream;
  workflowId?: string;
  uiUrl?: string;
  /** Minimum ms between progress lines of the running stage in lines/json mode (default 10 s). */
  intervalMs?: number;
}

export interface LineageView {
  readonly mode: ViewMode;
  start(info: StartInfo): void;
  update(progress: LineageProgress): void;
  /** A message that is not part of the progress (e.g. "waiting for a worker"). */
  log(message: string): void;
  /** The final JSON event; leaves the last tty frame on screen; nothing in lines mode (the caller prints a summary). */
  end(info: EndInfo): void;
}

export function createLineageView(options: LineageViewOptions = {}): LineageView {
  const stream = options.stream ?? process.stdout;
  const mode = options.mode ?? chooseViewMode(stream);
  const intervalMs = options.intervalMs ?? 10_000;
  const region = mode === 'tty' ? new TtyRegion(stream) : undefined;
  let last: LineageProgress | undefined;
  let frame: string | undefined;
  let diff: DiffState = { lastProgressAt: {} };

  const draw = (progress: LineageProgress) => {
    frame = renderView(progress, { width: terminalWidth(stream), color: useColor(stream), workflowId: options.workflowId, uiUrl: options.uiUrl });
    region!.draw(frame);
  };

  return {
    mode,
    start(info) {
      if (mode === 'tty') return; // the frame shows the id and the UI link
      writeEvents(stream, mode, [{ type: 'start', ...info }]);
    },
    update(progress) {
      if (region) draw(progress);
      else {
        const { events, state } = progressEvents(last?.stages, progress.stages, diff, { now: Date.now(), intervalMs });
        diff = state;
        writeEvents(stream, mode as 'lines' | 'json', events);
      }
      last = progress;
    },
    log(message) {
      if (isTensorflowStartupNoise(message)) return;
      if (region) region.printAbove(message, frame);
      else writeEvents(stream, mode as 'lines' | 'json', [{ type: 'log', message }]);
    },
    end(info) {
      if (region) {
        if (last) draw(last);
        region.finish();
        return;
      }
      if (mode === 'json') writeEvents(stream, mode, [{ type: 'end', ...info }]);
    },
  };
}
