// Where a view goes: a TTY region redrawn in place, plain lines, or JSON lines; and how the mode is chosen.
import type { ViewEvent } from './events';
import { formatEventLine } from './events';

/** tty: redraw in place; lines: plain progress lines (CI, pipes); json: one JSON event per line. */
export type ViewMode = 'tty' | 'lines' | 'json';

export const VIEW_MODES: readonly ViewMode[] = ['tty', 'lines', 'json'];

/** json when asked; tty when the stream is a terminal (and TERM is not dumb); lines otherwise. */
export function chooseViewMode(stream: NodeJS.WritableStream, json = false, env: NodeJS.ProcessEnv = process.env): ViewMode {
  if (json) return 'json';
  return (stream as NodeJS.WriteStream).isTTY && env.TERM !== 'dumb' ? 'tty' : 'lines';
}

/** Colours only on a terminal and unless NO_COLOR is set (https://no-color.org). */
export function useColor(stream: NodeJS.WritableStream, env: NodeJS.ProcessEnv = process.env): boolean {
  return !!(stream as NodeJS.WriteStream).isTTY && env.NO_COLOR === undefined && env.TERM !== 'dumb';
}

export function terminalWidth(stream: NodeJS.WritableStream): number {
  const columns = (stream as NodeJS.WriteStream).columns;
  return columns && columns > 20 ? columns : 100;
}

/**
 * A block of lines at the bottom of a terminal that is replaced on each draw: the cursor moves up over the previous
 * frame and clears to the end of the screen. Lines must already fit the width (renderView cuts them), so the
 * number of rows to move up is the number of lines. The cursor is hidden while the region is live.
 */
export class TtyRegion {
  private rows = 0;
  private cursorHidden = false;
  private readonly restoreCursor = () => this.stream.write('\x1b[?25h');

  constructor(private readonly stream: NodeJS.WritableStream) {}

  draw(text: string): void {
    if (!this.cursorHidden) {
      this.stream.write('\x1b[?25l');
      process.once('exit', this.restoreCursor);
      this.cursorHidden = true;
    }
    this.stream.write(this.erase() + text + '\n');
    this.rows = text.split('\n').length;
  }

  /** Prints a message above the region (the region is drawn again by the next draw()). */
  printAbove(message: string, frame: string | undefined): void {
    this.stream.write(this.erase() + message + '\n');
    this.rows = 0;
    if (frame !== undefined) this.draw(frame);
  }

  /** Leaves the last frame on screen and shows the cursor again. */
  finish(): void {
    this.rows = 0;
    if (this.cursorHidden) {
      this.restoreCursor();
      process.removeListener('exit', this.restoreCursor);
      this.cursorHidden = false;
    }
  }

  private erase(): string {
    return this.rows > 0 ? `\r\x1b[${this.rows}A\x1b[0J` : '';
  }
}

/** Writes events as plain lines or JSON lines. */
export function writeEvents(stream: NodeJS.WritableStream, mode: 'lines' | 'json', events: readonly ViewEvent[]): void {
  for (const e of events) stream.write((mode === 'json' ? JSON.stringify(e) : formatEventLine(e)) + '\n');
}
