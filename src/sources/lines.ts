/**
 * The input layer: bytes from a file, a gzip file or stdin, cut into lines.
 *
 *   const input = await openInput('maillog');           // or '-', or 'maillog.1.gz'
 *   try {
 *     const reader = readLineBatches(input, { startOffset: cursor.offset, consumePartialLastLine: false });
 *     for await (const batch of reader) {
 *       for (const line of batch.lines) parse(line);       // no await per line
 *       cursor.offset = batch.endOffset;
 *     }
 *     report(reader.stats);
 *   } finally {
 *     await input.close();
 *   }
 *
 * Lines are split on the newline byte and each line's bytes are decoded once, on
 * their own. Decoding a whole chunk in one toString and splitting the string was
 * measured slower (about 3 M lines/s against 4.5-5.5 M), and its lines would be
 * V8 sliced strings that keep the whole chunk alive for as long as any one
 * line is kept as evidence. A chunk of plain ASCII (nearly every log) is decoded
 * as Latin-1, the same text without UTF-8's checks.
 *
 * Offsets are in content bytes: file bytes for a plain file, decompressed bytes for
 * gzip. The offset of a rotated-and-compressed file therefore still matches a cursor
 * taken on the live file before rotation, so cron can finish reading `maillog.1.gz`
 * where it stopped on `maillog`.
 */
import { isAscii } from 'node:buffer';
import { open, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { now as wallClock } from '../core/clock.js';
import type { LogLine } from '../core/types.js';

/**
 * Longest line kept, in bytes, not counting its `\n` or `\r\n`. Real mail-log lines
 * are under 2 KiB (syslog daemons cut at 1-8 KiB); a longer one is cut to this many
 * bytes (at a character boundary), counted in `oversizedLines`, and its remainder is
 * skipped without being buffered, so memory stays bounded on any input.
 */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

/**
 * Bytes read per request, and so the size of a batch (about 1,800 typical lines).
 * Measured on a 300 MB postfix log: 16 KiB loses half the speed to per-read cost;
 * 256-512 KiB is steadily fastest; 1 MiB is as fast at best but often 2x slower,
 * as its larger batches outlive V8's young generation and get promoted.
 */
export const DEFAULT_CHUNK_BYTES = 256 * 1024;

type Slice = (this: Buffer, start: number, end: number) => string;
/**
 * The Buffer methods behind toString('latin1') and toString('utf8'), called directly: the
 * same strings without toString's argument handling, which costs as much again as
 * decoding a short line. Plain toString where a runtime lacks them.
 */
const slices = Buffer.prototype as unknown as { latin1Slice?: Slice; utf8Slice?: Slice };
const latin1Slice: Slice = slices.latin1Slice ?? function latin1(this: Buffer, start, end) {
  return this.toString('latin1', start, end);
};
const utf8Slice: Slice = slices.utf8Slice ?? function utf8(this: Buffer, start, end) {
  return this.toString('utf8', start, end);
};

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
/** zlib refuses output buffers smaller than this. */
const ZLIB_MIN_CHUNK = 64;

/** An input that cannot be read (exit 3); `message` is one line meant for the user, no stack needed. */
export class InputError extends Error {
  override readonly name = 'InputError';

  constructor(
    /** The input's display name (path as given, or `stdin`). */
    readonly path: string,
    /** Short lower-case reason: `permission denied`, `no such file`, `corrupt gzip data (...)`. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot read ${oneLine(path)}: ${oneLine(reason)}`, options);
  }
}

export interface InputInfo {
  /** The path as given, or `-` for stdin; becomes `LogLine.source`. */
  readonly name: string;
  /**
   * `file`: a regular file, read with positional reads (re-readable, `startOffset` seeks
   * when uncompressed). `stream`: stdin, a pipe or a device, read once from the start.
   */
  readonly kind: 'file' | 'stream';
  /** Size on disk in bytes (compressed size for gzip); undefined for streams. */
  readonly size: number | undefined;
  /** Last modification, epoch ms; for streams the time of opening. Anchors year-less stamps. */
  readonly mtimeMs: number;
  /** Device and inode of a file, so a cursor can tell rotation from growth; undefined for stdin. */
  readonly dev: number | undefined;
  readonly ino: number | undefined;
  /** gzip content (detected by its magic bytes), decompressed transparently. */
  readonly compressed: boolean;
}

export interface Input extends InputInfo {
  /**
   * The content bytes from `startOffset` on, in chunks of about `chunkBytes`. A chunk
   * is only valid until the next one is requested (the buffer may be reused).
   * Errors are raw Node errors; readLineBatches turns them into InputError.
   */
  chunks(startOffset: number, chunkBytes: number): AsyncIterable<Buffer>;
  /** Releases the file descriptor. Safe to call twice. */
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Clock for the mtime of a stream; default core/clock (SENDWATCH_NOW pins it). */
  readonly now?: () => number;
}

export interface ReadOptions {
  /** See DEFAULT_MAX_LINE_BYTES. */
  readonly maxLineBytes?: number;
  /** See DEFAULT_CHUNK_BYTES; tests use tiny values to cut characters across chunks. */
  readonly chunkBytes?: number;
  /** Content offset to start at, normally a saved `endOffset`; a seek for plain files. Default 0. */
  readonly startOffset?: number;
  /** lineNo of the first line read. Default 1; a cron cursor may carry it on. */
  readonly firstLineNo?: number;
  /**
   * What to do with a last line that has no newline yet. true (default, ad-hoc scans):
   * it is a line. false (cron): the writer may be half-way through it, so it is neither
   * delivered nor counted, and `endOffset` stays before it for the next run.
   */
  readonly consumePartialLastLine?: boolean;
}

export interface LineBatch {
  readonly lines: readonly LogLine[];
  /** Content offset just after the last complete line delivered so far. */
  readonly endOffset: number;
}

export interface ReadStats {
  /** Lines delivered. */
  readonly lines: number;
  /** Content bytes read (decompressed for gzip), including a held-back partial line. */
  readonly bytes: number;
  /** Lines cut to maxLineBytes. */
  readonly oversizedLines: number;
  /** Where the next run should start: after the last delivered line. */
  readonly endOffset: number;
}

export interface LineReader extends AsyncIterable<LineBatch> {
  /** Counters so far; final once iteration has ended. */
  readonly stats: ReadStats;
}

/** Opens `path` (`-` = stdin) and detects gzip by its magic bytes, not by its name. */
export async function openInput(path: string, options: OpenOptions = {}): Promise<Input> {
  const now = options.now ?? wallClock;
  if (path === '-') return openStream('-', process.stdin, now());
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    const stat = await handle.stat();
    // open(2) succeeds on a directory; only the first read would fail, less clearly.
    if (stat.isDirectory()) throw new InputError(path, 'is a directory');
    if (!stat.isFile()) return await openStream(path, handle.createReadStream(), now(), stat, handle);
    const magic = Buffer.alloc(2);
    const { bytesRead } = await handle.read(magic, 0, 2, 0);
    return fileInput(path, handle, stat, bytesRead === 2 && isGzipMagic(magic[0], magic[1]));
  } catch (err) {
    await handle?.close().catch(ignore);
    throw toInputError(path, err);
  }
}

/**
 * Cuts an input into batches of lines, one batch per chunk read, so consumers await
 * once per chunk and never per line. Iterate it once.
 */
export function readLineBatches(input: Input, options: ReadOptions = {}): LineReader {
  const opts = resolveReadOptions(options);
  const splitter = new LineSplitter(input.name, opts);
  let started = false;
  return {
    get stats(): ReadStats {
      return splitter.stats();
    },
    [Symbol.asyncIterator](): AsyncIterator<LineBatch> {
      if (started) throw new Error(`readLineBatches(${input.name}): a reader is iterated once`);
      started = true;
      return splitBatches(input, splitter, opts);
    },
  };
}

async function* splitBatches(input: Input, splitter: LineSplitter, opts: ResolvedReadOptions): AsyncGenerator<LineBatch> {
  try {
    for await (const chunk of input.chunks(opts.startOffset, opts.chunkBytes)) {
      const lines: LogLine[] = [];
      splitter.push(chunk, lines);
      if (lines.length > 0) yield { lines, endOffset: splitter.endOffset };
    }
  } catch (err) {
    throw toInputError(input.name === '-' ? 'stdin' : input.name, err);
  }
  const last: LogLine[] = [];
  splitter.finish(opts.consumePartialLastLine, last);
  if (last.length > 0) yield { lines: last, endOffset: splitter.endOffset };
}

interface ResolvedReadOptions {
  readonly maxLineBytes: number;
  readonly chunkBytes: number;
  readonly startOffset: number;
  readonly firstLineNo: number;
  readonly consumePartialLastLine: boolean;
}

function resolveReadOptions(o: ReadOptions): ResolvedReadOptions {
  const resolved = {
    maxLineBytes: o.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
    chunkBytes: o.chunkBytes ?? DEFAULT_CHUNK_BYTES,
    startOffset: o.startOffset ?? 0,
    firstLineNo: o.firstLineNo ?? 1,
    consumePartialLastLine: o.consumePartialLastLine ?? true,
  };
  requireInteger('maxLineBytes', resolved.maxLineBytes, 1);
  requireInteger('chunkBytes', resolved.chunkBytes, 1);
  requireInteger('startOffset', resolved.startOffset, 0);
  requireInteger('firstLineNo', resolved.firstLineNo, 0);
  return resolved;
}

function requireInteger(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
}

/**
 * The byte-level state machine: chunks in, decoded lines out. Synchronous and free of
 * I/O. Memory is one carry buffer of maxLineBytes + 1 for a line that spans chunks;
 * the bytes of an over-long line beyond that are counted and dropped.
 */
class LineSplitter {
  private readonly maxLineBytes: number;
  private readonly carry: Buffer;
  private carryLen = 0;
  /** The pending line did not fit in the carry: it is oversized and its tail is being skipped. */
  private overflowed = false;
  private lineNo: number;
  private lines = 0;
  private oversized = 0;
  private readonly startOffset: number;
  /** Content offset of the end of everything pushed. */
  private offset: number;
  /** Content offset just after the last delivered line. */
  endOffset: number;

  constructor(
    private readonly source: string,
    opts: Pick<ResolvedReadOptions, 'maxLineBytes' | 'startOffset' | 'firstLineNo'>,
  ) {
    this.maxLineBytes = opts.maxLineBytes;
    // One spare byte holds a `\r` that turns out to end a line of exactly maxLineBytes.
    this.carry = Buffer.allocUnsafe(opts.maxLineBytes + 1);
    this.lineNo = opts.firstLineNo;
    this.startOffset = opts.startOffset;
    this.offset = opts.startOffset;
    this.endOffset = opts.startOffset;
  }

  stats(): ReadStats {
    return { lines: this.lines, bytes: this.offset - this.startOffset, oversizedLines: this.oversized, endOffset: this.endOffset };
  }

  /** Appends the lines completed by `chunk` to `out`. */
  push(chunk: Buffer, out: LogLine[]): void {
    const base = this.offset;
    let pos = 0;
    if (this.carryLen > 0) {
      const nl = chunk.indexOf(NEWLINE);
      if (nl === -1) {
        this.appendToCarry(chunk, 0, chunk.length);
        this.offset += chunk.length;
        return;
      }
      this.appendToCarry(chunk, 0, nl);
      out.push(this.takeCarry());
      pos = nl + 1;
    }
    // ASCII is Latin-1 byte for byte, and any cut of it falls between characters. One loop per
    // decoder keeps each call site calling a single function.
    if (isAscii(chunk)) {
      for (let nl = chunk.indexOf(NEWLINE, pos); nl !== -1; nl = chunk.indexOf(NEWLINE, pos)) {
        out.push(this.decode(chunk, pos, contentEnd(chunk, pos, nl), latin1Slice));
        pos = nl + 1;
      }
    } else {
      for (let nl = chunk.indexOf(NEWLINE, pos); nl !== -1; nl = chunk.indexOf(NEWLINE, pos)) {
        out.push(this.decode(chunk, pos, contentEnd(chunk, pos, nl), utf8Slice));
        pos = nl + 1;
      }
    }
    this.endOffset = base + pos;
    if (pos < chunk.length) this.appendToCarry(chunk, pos, chunk.length);
    this.offset += chunk.length;
  }

  /** End of input: deliver the unterminated last line if asked to. */
  finish(consumePartialLastLine: boolean, out: LogLine[]): void {
    if (this.carryLen === 0 || !consumePartialLastLine) return;
    out.push(this.takeCarry());
    this.endOffset = this.offset;
  }

  private appendToCarry(src: Buffer, start: number, end: number): void {
    const room = this.carry.length - this.carryLen;
    const n = end - start;
    if (n > room) this.overflowed = true;
    if (room > 0) this.carryLen += src.copy(this.carry, this.carryLen, start, start + Math.min(n, room));
  }

  private takeCarry(): LogLine {
    const end = this.overflowed ? this.carryLen : contentEnd(this.carry, 0, this.carryLen);
    const line = this.decode(this.carry, 0, end, utf8Slice);
    this.carryLen = 0;
    this.overflowed = false;
    return line;
  }

  private decode(buf: Buffer, start: number, end: number, slice: Slice): LogLine {
    let stop = end;
    if (stop - start > this.maxLineBytes) {
      stop = utf8CutPoint(buf, start, start + this.maxLineBytes);
      this.oversized++;
    }
    this.lines++;
    // Same property order for every line keeps the objects one hidden class.
    return { source: this.source, lineNo: this.lineNo++, text: stop > start ? slice.call(buf, start, stop) : '' };
  }
}

/** End of a line's content: before the `\r` of a `\r\n`. */
function contentEnd(buf: Buffer, start: number, newline: number): number {
  return newline > start && buf[newline - 1] === CARRIAGE_RETURN ? newline - 1 : newline;
}

/**
 * Moves a cut at `cut` back to the start of the character it falls in, so cutting a
 * line never manufactures a U+FFFD. Looks back at most 3 bytes (longest UTF-8 tail).
 */
function utf8CutPoint(buf: Buffer, start: number, cut: number): number {
  let at = cut;
  while (at > start && at > cut - 4 && isContinuationByte(buf[at])) at--;
  return at > cut - 4 ? at : cut;
}

function isContinuationByte(b: number | undefined): boolean {
  return b !== undefined && (b & 0xc0) === 0x80;
}

function isGzipMagic(b0: number | undefined, b1: number | undefined): boolean {
  return b0 === 0x1f && b1 === 0x8b;
}

function fileInput(name: string, handle: FileHandle, stat: Stats, compressed: boolean): Input {
  let closed = false;
  return {
    name,
    kind: 'file',
    size: stat.size,
    mtimeMs: stat.mtimeMs,
    dev: stat.dev,
    ino: stat.ino,
    compressed,
    chunks(startOffset, chunkBytes) {
      if (!compressed) return readFileChunks(handle, startOffset, chunkBytes);
      // A fresh stream per call: gunzip keeps references to the buffers it is fed.
      const raw = handle.createReadStream({ start: 0, highWaterMark: chunkBytes, autoClose: false });
      return skipBytes(gunzip(raw, chunkBytes), startOffset);
    },
    async close() {
      if (closed) return;
      closed = true;
      await handle.close();
    },
  };
}

/**
 * Positional reads into one reused buffer, the next read issued before the current
 * chunk is handed out, so the disk (or page cache copy) overlaps with splitting.
 */
async function* readFileChunks(handle: FileHandle, startOffset: number, chunkBytes: number): AsyncGenerator<Buffer> {
  let spare = Buffer.allocUnsafe(chunkBytes);
  let position = startOffset;
  let pending = handle.read(Buffer.allocUnsafe(chunkBytes), 0, chunkBytes, position);
  try {
    for (;;) {
      const { bytesRead, buffer } = await pending;
      if (bytesRead === 0) return;
      position += bytesRead;
      pending = handle.read(spare, 0, chunkBytes, position);
      spare = buffer;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    // A consumer that stops early must not leave a read in flight on a handle it is about to close.
    await pending.catch(ignore);
  }
}

/** Stdin, pipes and devices: the first bytes are read now to detect gzip, then replayed. */
async function openStream(name: string, stream: Readable, openedAt: number, stat?: Stats, handle?: FileHandle): Promise<Input> {
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head: Buffer[];
  try {
    head = await readHead(it, 2);
  } catch (err) {
    throw toInputError(name === '-' ? 'stdin' : name, err);
  }
  const compressed = isGzipMagic(byteAt(head, 0), byteAt(head, 1));
  let used = false;
  return {
    name,
    kind: 'stream',
    size: undefined,
    mtimeMs: openedAt,
    dev: stat?.dev,
    ino: stat?.ino,
    compressed,
    chunks(startOffset, chunkBytes) {
      if (used) throw new Error(`${name}: a stream can be read only once`);
      used = true;
      const raw = replay(head, it);
      return skipBytes(compressed ? gunzip(Readable.from(raw), chunkBytes) : raw, startOffset);
    },
    async close() {
      stream.destroy();
      await handle?.close().catch(ignore);
    },
  };
}

/** Reads chunks until at least `n` bytes (or the end), returning them for replay. */
async function readHead(it: AsyncIterator<Buffer>, n: number): Promise<Buffer[]> {
  const head: Buffer[] = [];
  let have = 0;
  while (have < n) {
    const r = await it.next();
    if (r.done === true) break;
    head.push(r.value);
    have += r.value.length;
  }
  return head;
}

async function* replay(head: readonly Buffer[], it: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  try {
    yield* head;
    for (let r = await it.next(); r.done !== true; r = await it.next()) yield r.value;
  } finally {
    await it.return?.();
  }
}

function byteAt(chunks: readonly Buffer[], index: number): number | undefined {
  let i = index;
  for (const c of chunks) {
    if (i < c.length) return c[i];
    i -= c.length;
  }
  return undefined;
}

async function* gunzip(raw: Readable, chunkBytes: number): AsyncGenerator<Buffer> {
  const inflate = createGunzip({ chunkSize: Math.max(ZLIB_MIN_CHUNK, chunkBytes) });
  // pipeline destroys `inflate` with any error of either side, so the loop below sees it.
  const piped = pipeline(raw, inflate);
  piped.catch(ignore);
  try {
    for await (const chunk of inflate) yield chunk as Buffer;
    await piped;
  } finally {
    raw.destroy();
    inflate.destroy();
  }
}

/** Drops the first `n` content bytes of a stream that cannot seek (gzip, stdin). */
async function* skipBytes(chunks: AsyncIterable<Buffer>, n: number): AsyncGenerator<Buffer> {
  let left = n;
  for await (const chunk of chunks) {
    if (left >= chunk.length) {
      left -= chunk.length;
      continue;
    }
    yield left > 0 ? chunk.subarray(left) : chunk;
    left = 0;
  }
}

const ERRNO_REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a component of the path is not a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
  EIO: 'input/output error',
  ENXIO: 'no such device',
};

/** One short reason for a Node error, without the stack or the syscall details. */
function describeReadError(err: unknown): string {
  const code = errorCode(err);
  if (code !== undefined) {
    const known = ERRNO_REASONS[code];
    if (known !== undefined) return known;
    // Node's zlib reports a cut-off stream as Z_BUF_ERROR "unexpected end of file".
    if (code === 'Z_BUF_ERROR') return 'truncated gzip data';
    if (code.startsWith('Z_')) return `corrupt gzip data (${errorMessage(err)})`;
  }
  const message = errorMessage(err);
  return code !== undefined && !message.includes(code) ? `${message} (${code})` : message;
}

function toInputError(name: string, err: unknown): InputError {
  return err instanceof InputError ? err : new InputError(name, describeReadError(err), { cause: err });
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Keeps a message on one line whatever bytes a file name holds. */
function oneLine(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]+/g, '?');
}

function ignore(): void {
  // deliberately nothing: the error is reported another way or does not matter
}
