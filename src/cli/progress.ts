/**
 * A progress bar on stderr for long ad-hoc runs (`scan`, `report`, `parse`):
 *
 *   [#########...........]  45%  120 MB of 267 MB  310k lines/s  0:04 left  maillog.1.gz (2/3)
 *
 * Shown only when stderr is a terminal (so cron and pipes never see it), unless
 * `--progress` / `--no-progress` say otherwise; never when `TERM=dumb`. On its own a
 * terminal run shows it only after SHOW_AFTER_MS, so a quick run does not flicker.
 * Redrawn at most every REDRAW_MS on one line (`\r` ... erase to end of line), and
 * erased before any other stderr line and at the end, so nothing is left behind.
 *
 * The pipeline reports progress once per batch (one read chunk, DEFAULT_CHUNK_BYTES of
 * content). Bytes are counted in content bytes; the total of a gzip file is the size
 * its trailer declares (exact below 4 GiB, an estimate above).
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { SourceRun, type InputSummary, type SourceOptions } from '../core/pipeline.js';
import { DEFAULT_CHUNK_BYTES } from '../sources/lines.js';

/** A run that ends sooner than this shows no bar (unless `--progress`). */
export const SHOW_AFTER_MS = 500;
export const REDRAW_MS = 100;

export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean | undefined;
  readonly columns?: number | undefined;
}

/** `--progress` (true), `--no-progress` (false) or neither (undefined: only on a terminal). */
export function progressWanted(flag: boolean | undefined, stream: ProgressStream = process.stderr, env: NodeJS.ProcessEnv = process.env): boolean {
  if (flag !== undefined) return flag;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

/**
 * Content size of an input in bytes, when it can be known without reading it: a plain
 * file's size, or a gzip file's ISIZE trailer (the uncompressed size modulo 2^32).
 * undefined for stdin, pipes and unreadable files (the reader reports those).
 */
export function contentSize(path: string): number | undefined {
  if (path === '-') return undefined;
  let fd: number | undefined;
  try {
    const st = statSync(path);
    if (!st.isFile()) return undefined;
    fd = openSync(path, 'r');
    const head = Buffer.alloc(2);
    if (readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b && st.size >= 18) {
      const tail = Buffer.alloc(4);
      readSync(fd, tail, 0, 4, st.size - 4);
      const isize = tail.readUInt32LE(0);
      // A trailer smaller than the compressed data means the content wrapped past 4 GiB.
      let size = isize;
      while (size < st.size) size += 2 ** 32;
      return size;
    }
    return st.size;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function human(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = bytes / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i] ?? 'TB'}`;
}

function rate(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${Math.round(n / 1e3)}k`;
  return String(Math.round(n));
}

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** Names come from the command line, but a file name can hold anything: keep the bar one printable line. */
const printable = (s: string): string => s.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '?');

export interface ProgressState {
  readonly bytesDone: number;
  /** undefined while some input's size is unknown (stdin). */
  readonly bytesTotal: number | undefined;
  readonly lines: number;
  readonly elapsedMs: number;
  readonly name: string;
  readonly index: number;
  readonly count: number;
}

/** One line of progress, at most `width` columns. Pure, for tests. */
export function renderProgress(s: ProgressState, width: number): string {
  const secs = s.elapsedMs / 1000;
  const lps = secs > 0 ? s.lines / secs : 0;
  const parts: string[] = [];
  let bar = '';
  if (s.bytesTotal !== undefined && s.bytesTotal > 0) {
    const frac = Math.min(1, s.bytesDone / s.bytesTotal);
    const cells = 20;
    const full = Math.round(frac * cells);
    bar = `[${'#'.repeat(full)}${'.'.repeat(cells - full)}] ${String(Math.floor(frac * 100)).padStart(3)}%`;
    parts.push(`${human(s.bytesDone)} of ${human(s.bytesTotal)}`);
  } else {
    parts.push(human(s.bytesDone));
  }
  parts.push(`${rate(lps)} lines/s`);
  if (s.bytesTotal !== undefined && s.bytesDone > 0 && secs >= 0.2) {
    const left = ((s.bytesTotal - s.bytesDone) / s.bytesDone) * secs;
    parts.push(`${clock(left)} left`);
  }
  parts.push(s.count > 1 ? `${printable(s.name)} (${s.index}/${s.count})` : printable(s.name));
  const line = [bar, ...parts].filter((p) => p !== '').join('  ');
  return line.length > width ? `${line.slice(0, Math.max(0, width - 1))}…` : line;
}

/** Progress over a list of inputs. A disabled one does nothing, cheaply. */
export class Progress {
  private readonly start: number;
  private readonly sizes: (number | undefined)[];
  private doneBefore = 0;
  private linesBefore = 0;
  private current = 0;
  private currentLines = 0;
  private index = 0;
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly inputs: readonly string[],
    private readonly enabled: boolean,
    /** Forced with `--progress`: show from the start, not only once the run is slow. */
    private readonly forced: boolean,
    private readonly stream: ProgressStream = process.stderr,
    private readonly clockMs: () => number = () => performance.now(),
  ) {
    this.start = clockMs();
    this.sizes = enabled ? inputs.map(contentSize) : [];
  }

  /** Starts input `i` (0-based). */
  beginInput(i: number): void {
    this.index = i;
    this.current = 0;
    this.currentLines = 0;
  }

  /** Where the current input is: content bytes and lines read so far. */
  update(bytes: number, lines: number): void {
    if (!this.enabled) return;
    this.current = bytes;
    this.currentLines = lines;
    const t = this.clockMs();
    if (t - this.lastDraw < REDRAW_MS) return;
    if (!this.forced && t - this.start < SHOW_AFTER_MS) return;
    this.lastDraw = t;
    this.draw(t);
  }

  /** The current input is done: `bytes` and `lines` are its final counts. */
  endInput(bytes: number, lines: number): void {
    if (!this.enabled) return;
    this.current = bytes;
    this.currentLines = lines;
    // The input's last frame (100 % of it), when a bar is being shown at all.
    const t = this.clockMs();
    if (this.forced || t - this.start >= SHOW_AFTER_MS) this.draw(t);
    const size = this.sizes[this.index];
    this.doneBefore += size !== undefined ? Math.max(size, bytes) : bytes;
    this.linesBefore += lines;
    this.current = 0;
    this.currentLines = 0;
  }

  /** Erases the bar, so another stderr line can be written; it comes back at the next update. */
  clear(): void {
    if (!this.drawn) return;
    this.stream.write('\r\u001b[K');
    this.drawn = false;
  }

  /** The end of the run. */
  done(): void {
    this.clear();
  }

  private total(): number | undefined {
    let sum = 0;
    for (const s of this.sizes) {
      if (s === undefined) return undefined;
      sum += s;
    }
    return sum;
  }

  private draw(t: number): void {
    const total = this.total();
    const size = this.sizes[this.index];
    const current = size !== undefined ? Math.min(this.current, size) : this.current;
    const cols = this.stream.columns;
    const width = cols !== undefined && cols >= 40 ? cols - 1 : 79;
    const line = renderProgress({
      bytesDone: this.doneBefore + current, bytesTotal: total, lines: this.linesBefore + this.currentLines,
      elapsedMs: t - this.start, name: this.inputs[this.index] ?? '', index: this.index + 1, count: this.inputs.length,
    }, width);
    this.stream.write(`\r${line}\u001b[K`);
    this.drawn = true;
  }
}

/**
 * `processInput` with progress: the same SourceRun, fed and flushed the same way, with
 * the bar told after every batch. `progress` may be a disabled Progress.
 */
export async function trackedInput(path: string, opts: SourceOptions, progress: Progress, index: number): Promise<InputSummary> {
  progress.beginInput(index);
  let batches = 0;
  const run: SourceRun = new SourceRun(path === '-' ? '-' : path, {
    ...opts,
    afterBatch: async () => {
      batches++;
      const c = run.summary.counts;
      progress.update(batches * DEFAULT_CHUNK_BYTES, c.event + c.ignored + c.unrecognised);
      if (opts.afterBatch) await opts.afterBatch();
    },
  });
  try {
    await run.feed(path);
  } finally {
    const c = run.summary.counts;
    progress.endInput(run.summary.read?.bytes ?? batches * DEFAULT_CHUNK_BYTES, c.event + c.ignored + c.unrecognised);
    progress.clear();
  }
  run.flush();
  return run.finish();
}
