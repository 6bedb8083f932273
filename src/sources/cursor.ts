/**
 * Cron mode's memory of each log, and what to read next run so that no line is read
 * twice and none is skipped, whatever the rotation in between.
 *
 *   const { segments, warnings } = await planRead('maillog', saved, { startAt: 'end-window', windowMs, timeOf });
 *   for (const w of warnings) console.error(w);
 *   let next = saved;                                   // kept when there is no live segment
 *   for (const seg of segments) {
 *     const input = await openInput(seg.path);
 *     try {
 *       const reader = readLineBatches(input, { startOffset: seg.startOffset, firstLineNo: seg.firstLineNo, consumePartialLastLine: !seg.live });
 *       for await (const batch of reader) handle(batch.lines);
 *       if (seg.live) next = await cursorAfter('maillog', reader.stats.endOffset, seg.firstLineNo + reader.stats.lines, input);
 *     } finally {
 *       await input.close();
 *     }
 *   }
 *
 * The cursor is logtail2's idea (device, inode, offset, a hash of the first bytes)
 * extended to where rotated files really go: `maillog.1`, `-YYYYMMDD`, Postfix's
 * `.YYYYMMDD-HHMMSS`, Kerio's `mail.log.0`, compressed now or one run later. The live
 * file is either the same content as last run (same first bytes, not shorter than the
 * offset: go on from the offset) or not (rotated, truncated, rewritten, inode reused):
 * then the previous content is looked up among the rotated siblings, by inode while it
 * is still a plain renamed file and by its first bytes once it has been copied or
 * compressed, and read from the offset, followed by every file rotated after it, and
 * the new live file from its start.
 *
 * Decisions (judgeLive, parseRotatedName, orderNewestFirst, findPrevious,
 * planAfterReplacement, findWindowStart) take plain values or an injected reader, so
 * they are tested without a file system; stat, readdir and reads are at the edges.
 */
import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { InputError, openInput, type Input } from './lines.js';

/** Bytes of content hashed to recognise a file: more than a few lines, so two rotations never share it. */
export const HEAD_BYTES = 4096;
/** 64 bits of sha256: collisions among one log's siblings are not a concern. */
const HASH_HEX_CHARS = 16;

/** Where the last run stopped in one log; stored as JSON in the state file. */
export interface Cursor {
  /** The watched path, as configured. */
  path: string;
  dev: number;
  ino: number;
  /** Size when the cursor was taken; `size - offset` is what was known to be unread. */
  size: number;
  /** Content offset just after the last line read. */
  offset: number;
  /** Number the line at `offset` gets: 1 + the lines before it. Carried on as the reader's `firstLineNo`. */
  lineNo: number;
  /** sha256 (hex, first 16 characters) of the first `headLength` content bytes. */
  headHash: string;
  /** min(size, HEAD_BYTES) when taken: the next run compares exactly this many bytes. */
  headLength: number;
  /** Modification time when taken: tells which rotated files were written after that run. */
  mtimeMs: number;
}

/** One file to read this run, in order. */
export interface ReadSegment {
  /** File to open. */
  readonly path: string;
  /**
   * Name the lines should carry as evidence: the file they are in now (a rotated
   * remainder is `maillog.1.gz`, where an admin finds line `firstLineNo`). Equal to
   * `path` today; kept apart so a caller opening by another route keeps the label.
   */
  readonly displayName: string;
  readonly startOffset: number;
  readonly firstLineNo: number;
  /** The current file: the writer may be mid-line, so a last line without newline waits. Rotated files are finished. */
  readonly live: boolean;
}

export interface PlanOptions {
  /** Without a cursor: `start` reads everything (`--from-start`); `end-window` only the last `windowMs` of log time. */
  readonly startAt: 'end-window' | 'start';
  /** The longest rule window, so windows are warm on the first run without re-alerting on old history. */
  readonly windowMs: number;
  /** Log time (epoch ms) of a line, or undefined for a line without one. */
  readonly timeOf: (text: string) => number | undefined;
}

export interface ReadPlan {
  readonly segments: ReadSegment[];
  /** One line each, for stderr: data that could not be read, and how much. Empty on an ordinary run. */
  readonly warnings: string[];
}

/**
 * What to read from `path` this run. With no live segment in the result (the file is
 * missing) the caller keeps `saved`; otherwise it saves `cursorAfter` of the live one.
 * Throws InputError when `path` exists but cannot be read.
 */
export async function planRead(path: string, saved: Cursor | undefined, opts: PlanOptions): Promise<ReadPlan> {
  // openInput('-') would take stdin, and consume its first bytes, before any check.
  if (path === '-') throw new InputError('stdin', 'cron mode needs a file to keep an offset in');
  const live = await openIfPresent(path);
  if (live === undefined) return missingLive(path, saved);
  try {
    if (live.kind !== 'file' || live.dev === undefined || live.ino === undefined) throw new InputError(path, 'not a regular file');
    if (saved === undefined) return await planFirstRun(path, live, opts);
    const head = await readAt(live, 0, saved.headLength);
    const facts: LiveFacts = {
      dev: live.dev,
      ino: live.ino,
      size: live.size ?? 0,
      headHash: head.length === saved.headLength ? hashHead(head) : undefined,
    };
    const verdict = judgeLive(saved, facts);
    if (verdict.kind === 'continue') return { segments: [segment(path, saved.offset, saved.lineNo, true)], warnings: [] };
    const warnings: string[] = [];
    const ordered = orderNewestFirst(await listRotated(path, facts, warnings));
    const previous = await findPrevious(saved, ordered, cachedHeadHasher(warnings));
    const plan = planAfterReplacement(path, saved, ordered, previous, verdict.why);
    return { segments: plan.segments, warnings: [...warnings, ...plan.warnings] };
  } finally {
    await live.close();
  }
}

/**
 * The cursor for the live file after reading it to `endOffset`. `lineNo` is the number
 * the next line will get (`segment.firstLineNo + stats.lines`). Pass the Input that
 * was read, still open, and the cursor describes that file even if it was rotated in
 * the moment between the read and this call; without it, `path` is opened again.
 */
export async function cursorAfter(path: string, endOffset: number, lineNo: number, readFrom?: Input): Promise<Cursor> {
  requireCount('endOffset', endOffset);
  requireCount('lineNo', lineNo);
  const input = readFrom ?? (await openInput(path));
  try {
    if (input.kind !== 'file' || input.dev === undefined || input.ino === undefined) throw new InputError(path, 'not a regular file');
    const head = await readAt(input, 0, HEAD_BYTES);
    return {
      path,
      dev: input.dev,
      ino: input.ino,
      // An Input's size is from its opening; the file may have grown while it was read.
      size: Math.max(input.size ?? 0, endOffset),
      offset: endOffset,
      lineNo,
      headHash: hashHead(head),
      headLength: head.length,
      mtimeMs: input.mtimeMs,
    };
  } finally {
    if (readFrom === undefined) await input.close();
  }
}

/* ----------------------------------------------------------------------------
 * Is the live file still the content the cursor describes?
 * ------------------------------------------------------------------------- */

export interface LiveFacts {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  /** Hash of the live file's first `saved.headLength` bytes; undefined when it is shorter than that. */
  readonly headHash: string | undefined;
}

export type ReplacedBy = 'rotated' | 'truncated' | 'rewritten';
export type Verdict = { readonly kind: 'continue' } | { readonly kind: 'replaced'; readonly why: ReplacedBy };

const CONTINUE: Verdict = { kind: 'continue' };

export function judgeLive(saved: Cursor, live: LiveFacts): Verdict {
  const sameInode = live.dev === saved.dev && live.ino === saved.ino;
  // A file that was empty has no first bytes to compare: its inode is all there is.
  if (saved.headLength === 0) return sameInode ? CONTINUE : { kind: 'replaced', why: 'rotated' };
  // Same first bytes means same content, whatever the inode (a log moved or restored
  // by copy still goes on from the offset); no new log starts with another's 4 KiB.
  if (live.headHash === saved.headHash && live.size >= saved.offset) return CONTINUE;
  if (!sameInode) return { kind: 'replaced', why: 'rotated' };
  // Same inode, other content: copytruncate, or a new file that reused a freed inode.
  return { kind: 'replaced', why: live.size < saved.offset ? 'truncated' : 'rewritten' };
}

/* ----------------------------------------------------------------------------
 * Rotated siblings: names, order, and which one holds the previous content.
 * ------------------------------------------------------------------------- */

export type Compression = 'none' | 'gzip' | 'unsupported';

export interface RotatedName {
  readonly name: string;
  /**
   * Siblings named alike (`.N`, `-YYYYMMDD`, `.YYYYMMDD-HHMMSS`, before or after an
   * extension), whose numbers say which is newer. Compression is not part of it, so
   * `maillog.1` and `maillog.2.gz` of delaycompress are one scheme.
   */
  readonly scheme: string;
  /** `count`: logrotate's numbered copies, lowest newest. `stamp`: dates and times, highest newest. */
  readonly kind: 'count' | 'stamp';
  /** The digit runs of the suffix, as written. */
  readonly numbers: readonly string[];
  /** From the name; `.gz` content is recognised by its bytes anyway when read. */
  readonly compression: Compression;
}

/** A rotated sibling found on disk. */
export interface RotatedFile extends RotatedName {
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
  /** Size on disk (compressed size for gzip). */
  readonly size: number;
  readonly mtimeMs: number;
}

const COMPRESSION_SUFFIXES: readonly (readonly [string, Compression])[] = [
  ['.gz', 'gzip'],
  ['.bz2', 'unsupported'],
  ['.xz', 'unsupported'],
  ['.zst', 'unsupported'],
  ['.lz4', 'unsupported'],
  ['.lzma', 'unsupported'],
  ['.lzo', 'unsupported'],
  ['.br', 'unsupported'],
  ['.Z', 'unsupported'],
  ['.zip', 'unsupported'],
];

/** A separator, then digits in runs: `.1`, `-20261122`, `.20261122-101500`, `-2026-11-22`. */
const ROTATION_SUFFIX = /^[._-]\d+(?:[._-]\d+)*$/;

/** Up to this many digits, a lone number counts rotations (`rotate 365`); longer is a date or epoch. */
const MAX_COUNT_DIGITS = 4;

/**
 * Whether `name` is a rotated copy of the log named `liveName`, and how it is named.
 * Accepts a suffix after the name (`maillog.1`, `maillog-20261122-101500.gz`) and,
 * for logrotate's `extension`, before it (`mail-20261122.log.gz` for `mail.log`).
 */
export function parseRotatedName(liveName: string, name: string): RotatedName | undefined {
  if (name === liveName) return undefined;
  const [core, compression] = splitCompression(name);
  const ext = extname(liveName);
  let suffix: string | undefined;
  let placement = 'after';
  if (core.startsWith(liveName) && ROTATION_SUFFIX.test(core.slice(liveName.length))) {
    suffix = core.slice(liveName.length);
  } else if (ext !== '' && core.endsWith(ext)) {
    const stem = liveName.slice(0, -ext.length);
    const middle = core.slice(stem.length, core.length - ext.length);
    if (core.startsWith(stem) && ROTATION_SUFFIX.test(middle)) {
      suffix = middle;
      placement = 'before-ext';
    }
  }
  if (suffix === undefined) return undefined;
  const numbers = suffix.match(/\d+/g) ?? [];
  const only = numbers.length === 1 ? numbers[0] : undefined;
  const kind = only !== undefined && only.length <= MAX_COUNT_DIGITS ? 'count' : 'stamp';
  return { name, scheme: `${kind}:${placement}:${suffix.replace(/\d+/g, 'N')}`, kind, numbers, compression };
}

function splitCompression(name: string): [string, Compression] {
  for (const [suffix, compression] of COMPRESSION_SUFFIXES) {
    if (name.length > suffix.length && name.endsWith(suffix)) return [name.slice(0, -suffix.length), compression];
  }
  return [name, 'none'];
}

/**
 * Newest first. Within a naming scheme the names decide (they survive `touch`, and
 * renames within one second); different schemes, as after an admin changed the
 * config, are interleaved by modification time, which gzip and rename preserve.
 * A file present both plain and compressed (gzip still running) counts once, plain:
 * the compressed one may be incomplete.
 */
export function orderNewestFirst<T extends RotatedName & { readonly mtimeMs: number }>(files: readonly T[]): T[] {
  const groups = new Map<string, T[]>();
  for (const file of keepOnePerRotation(files)) {
    const group = groups.get(file.scheme);
    if (group) group.push(file);
    else groups.set(file.scheme, [file]);
  }
  const lists = [...groups.keys()].sort().map((scheme) => (groups.get(scheme) ?? []).sort(newerInScheme));
  const ordered: T[] = [];
  const next = lists.map(() => 0);
  for (;;) {
    let best: T | undefined;
    let bestList = -1;
    for (let i = 0; i < lists.length; i++) {
      const head = lists[i]?.[next[i] ?? 0];
      if (head !== undefined && (best === undefined || head.mtimeMs > best.mtimeMs)) {
        best = head;
        bestList = i;
      }
    }
    if (best === undefined) return ordered;
    ordered.push(best);
    next[bestList] = (next[bestList] ?? 0) + 1;
  }
}

const COMPRESSION_PREFERENCE: Readonly<Record<Compression, number>> = { none: 0, gzip: 1, unsupported: 2 };

function keepOnePerRotation<T extends RotatedName>(files: readonly T[]): T[] {
  const kept = new Map<string, T>();
  for (const file of files) {
    const key = `${file.scheme}|${file.numbers.join('.')}`;
    const other = kept.get(key);
    if (other === undefined || COMPRESSION_PREFERENCE[file.compression] < COMPRESSION_PREFERENCE[other.compression]) kept.set(key, file);
  }
  return [...kept.values()];
}

function newerInScheme(a: RotatedName, b: RotatedName): number {
  const n = Math.max(a.numbers.length, b.numbers.length);
  for (let i = 0; i < n; i++) {
    const c = compareDigits(a.numbers[i] ?? '', b.numbers[i] ?? '');
    if (c !== 0) return a.kind === 'count' ? c : -c;
  }
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Compares digit strings as numbers of any length (epoch stamps, zero padding). */
function compareDigits(a: string, b: string): number {
  const x = a.replace(/^0+(?=\d)/, '');
  const y = b.replace(/^0+(?=\d)/, '');
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Hash of a file's first `length` content bytes (decompressed), or undefined if it is shorter or unreadable. */
export type HeadHasher = (file: RotatedFile, length: number) => Promise<string | undefined>;

/**
 * The sibling holding the content the cursor was taken on. First by inode, while it is
 * the renamed file itself (its first bytes checked: inodes are reused); then by its
 * first bytes, which survive copytruncate's copy and compression. Newest first, so
 * the usual case costs one hash.
 */
export async function findPrevious(saved: Cursor, ordered: readonly RotatedFile[], headHashOf: HeadHasher): Promise<RotatedFile | undefined> {
  for (const file of ordered) {
    if (file.compression !== 'none' || file.dev !== saved.dev || file.ino !== saved.ino || file.size < saved.offset) continue;
    if (saved.headLength === 0 || (await headHashOf(file, saved.headLength)) === saved.headHash) return file;
  }
  if (saved.headLength === 0) return undefined;
  for (const file of ordered) {
    if (file.compression === 'unsupported') continue;
    if ((await headHashOf(file, saved.headLength)) === saved.headHash) return file;
  }
  return undefined;
}

/**
 * Segments once the live file is no longer the cursor's content: the rest of the
 * previous content, every file rotated after it (whole, oldest first), then the live
 * file from its start. Without the previous content, the loss is reported, and
 * rotated files written since the last run still count as rotated after it.
 */
export function planAfterReplacement(
  path: string,
  saved: Cursor,
  ordered: readonly RotatedFile[],
  previous: RotatedFile | undefined,
  why: ReplacedBy,
): ReadPlan {
  const segments: ReadSegment[] = [];
  const warnings: string[] = [];
  let newer: RotatedFile[];
  if (previous !== undefined) {
    segments.push(segment(previous.path, saved.offset, saved.lineNo, false));
    newer = ordered.slice(0, ordered.indexOf(previous));
  } else {
    // An empty file at the last run left nothing known unread and nothing to recognise it by.
    if (saved.headLength > 0) warnings.push(lostWarning(path, saved, why));
    newer = ordered.filter((file) => file.mtimeMs > saved.mtimeMs);
  }
  for (const file of newer.reverse()) {
    if (file.compression === 'unsupported') {
      warnings.push(`${file.path}: rotated from ${path} since the last run, but compressed in a format sendwatch cannot read (gzip only); its lines are not read`);
    } else {
      segments.push(segment(file.path, 0, 1, false));
    }
  }
  segments.push(segment(path, 0, 1, true));
  return { segments, warnings };
}

function lostWarning(path: string, saved: Cursor, why: ReplacedBy): string {
  const what =
    why === 'rotated'
      ? `was rotated, and the previous file (inode ${saved.ino}) is not among its rotated files (deleted, or compressed other than with gzip)`
      : why === 'truncated'
        ? 'is shorter than the offset (truncated, or a new file that got the old inode), and no rotated copy holds its previous content'
        : 'was rewritten in place (same inode, other first bytes), and no rotated copy holds its previous content';
  const unread = Math.max(0, saved.size - saved.offset);
  return `${path}: ${what}; lost: at least ${unread} bytes after byte ${saved.offset} that were never read, and whatever was written to it after the last run`;
}

function segment(path: string, startOffset: number, firstLineNo: number, live: boolean): ReadSegment {
  return { path, displayName: path, startOffset, firstLineNo, live };
}

/* ----------------------------------------------------------------------------
 * First run: start the last `windowMs` of log time before the end.
 * ------------------------------------------------------------------------- */

/** `read(position, length)`: up to `length` content bytes from `position` (fewer at the end). */
export type ByteReader = (position: number, length: number) => Promise<Buffer>;

export interface WindowStart {
  /** Offset of the first line inside the window. */
  readonly offset: number;
  /** Lines before `offset`, so line numbers stay those of the file. */
  readonly linesBefore: number;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
/** Block read per probe step: a few dozen lines, one page-cache read. */
const PROBE_BYTES = 16 * 1024;
/** Block read while counting newlines before the start. */
const COUNT_BYTES = 1024 * 1024;
/** A line longer than this is cut before timeOf sees it; the time is at its start. */
const TIME_TEXT_BYTES = 64 * 1024;
/** How far back from the end to look for a line with a time before giving up. */
const LAST_TIME_SCAN_BYTES = 4 * 1024 * 1024;

/**
 * Binary search over byte offsets for the first line whose log time is at least the
 * last line's time minus `windowMs`. A probe lands anywhere, moves to the next line
 * start and walks forward past lines without a time. Undefined when no line near the
 * end has a time. A last line without its newline is never looked at: the reader
 * will not deliver it yet either.
 */
export async function findWindowStart(
  read: ByteReader,
  size: number,
  windowMs: number,
  timeOf: (text: string) => number | undefined,
): Promise<WindowStart | undefined> {
  const end = await lastLineEnd(read, size);
  const last = await lastTime(read, end, timeOf);
  if (last === undefined) return undefined;
  const target = last - windowMs;
  let lo = 0;
  let hi = end;
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const line = await nextTimedLine(read, mid, end, timeOf);
    if (line === undefined || line.time >= target) hi = mid;
    // Every probe between mid and this line lands on this same line: skip them all.
    else lo = line.start + 1;
  }
  // From 0, the timeless lines before the first timed one are kept: nothing older precedes them.
  const offset = lo === 0 ? 0 : ((await nextTimedLine(read, lo, end, timeOf))?.start ?? end);
  return { offset, linesBefore: await countNewlines(read, offset) };
}

async function lastLineEnd(read: ByteReader, size: number): Promise<number> {
  for (let hi = size; hi > 0; ) {
    const lo = Math.max(0, hi - PROBE_BYTES);
    const block = await read(lo, hi - lo);
    const nl = block.lastIndexOf(NEWLINE);
    if (nl !== -1) return lo + nl + 1;
    hi = lo;
  }
  return 0;
}

/** Time of the last line that has one, reading backwards from `end` (just after a newline). */
async function lastTime(read: ByteReader, end: number, timeOf: (text: string) => number | undefined): Promise<number | undefined> {
  // `carry`: the first line of the block read before, whose start lies further back.
  let carry: Buffer = Buffer.alloc(0);
  for (let hi = end; hi > 0 && end - hi < LAST_TIME_SCAN_BYTES; ) {
    const lo = Math.max(0, hi - PROBE_BYTES);
    const buf = Buffer.concat([await read(lo, hi - lo), carry]);
    if (buf.length === 0) return undefined; // the file shrank under us
    let lineEnd = buf.length - 1; // a newline
    for (;;) {
      const start = lineEnd === 0 ? 0 : buf.lastIndexOf(NEWLINE, lineEnd - 1) + 1;
      if (start === 0 && lo > 0) {
        carry = buf.subarray(0, lineEnd + 1);
        break;
      }
      const time = validTime(timeOf(lineText(buf, start, lineEnd)));
      if (time !== undefined) return time;
      if (start === 0) return undefined;
      lineEnd = start - 1;
    }
    hi = lo;
  }
  return undefined;
}

interface TimedLine {
  readonly start: number;
  readonly time: number;
}

/** The first line starting at or after `from` (and ending by `end`) that has a time. */
async function nextTimedLine(
  read: ByteReader,
  from: number,
  end: number,
  timeOf: (text: string) => number | undefined,
): Promise<TimedLine | undefined> {
  // From inside a line, its remainder is skipped: starting at from - 1 finds a line
  // that begins exactly at `from` too.
  let pos = from === 0 ? 0 : from - 1;
  let skipping = from !== 0;
  let lineStart = pos;
  let pending: Buffer = Buffer.alloc(0);
  while (pos < end) {
    const block = await read(pos, Math.min(PROBE_BYTES, end - pos));
    if (block.length === 0) return undefined;
    for (let i = 0; i < block.length; ) {
      const nl = block.indexOf(NEWLINE, i);
      if (nl === -1) {
        if (!skipping) pending = appendCapped(pending, block, i, block.length);
        break;
      }
      if (skipping) {
        skipping = false;
      } else {
        const whole = appendCapped(pending, block, i, nl);
        const time = validTime(timeOf(lineText(whole, 0, whole.length)));
        if (time !== undefined) return { start: lineStart, time };
      }
      pending = Buffer.alloc(0);
      i = nl + 1;
      lineStart = pos + i;
    }
    pos += block.length;
  }
  return undefined;
}

function appendCapped(pending: Buffer, block: Buffer, start: number, end: number): Buffer {
  const room = TIME_TEXT_BYTES - pending.length;
  if (room <= 0) return pending;
  return Buffer.concat([pending, block.subarray(start, Math.min(end, start + room))]);
}

function lineText(buf: Buffer, start: number, end: number): string {
  const stop = end > start && buf[end - 1] === CARRIAGE_RETURN ? end - 1 : end;
  return buf.toString('utf8', start, Math.min(stop, start + TIME_TEXT_BYTES));
}

function validTime(t: number | undefined): number | undefined {
  return t !== undefined && Number.isFinite(t) ? t : undefined;
}

async function countNewlines(read: ByteReader, end: number): Promise<number> {
  let count = 0;
  for (let pos = 0; pos < end; ) {
    const block = await read(pos, Math.min(COUNT_BYTES, end - pos));
    if (block.length === 0) break;
    for (let i = block.indexOf(NEWLINE); i !== -1; i = block.indexOf(NEWLINE, i + 1)) count++;
    pos += block.length;
  }
  return count;
}

/* ----------------------------------------------------------------------------
 * I/O edges.
 * ------------------------------------------------------------------------- */

async function planFirstRun(path: string, live: Input, opts: PlanOptions): Promise<ReadPlan> {
  // Seeking a gzip file means decompressing from its start per probe: read it whole.
  if (opts.startAt === 'start' || live.compressed) return { segments: [segment(path, 0, 1, true)], warnings: [] };
  const start = await findWindowStart((position, length) => readAt(live, position, length), live.size ?? 0, opts.windowMs, opts.timeOf);
  if (start === undefined) {
    return {
      segments: [segment(path, 0, 1, true)],
      warnings: [`${path}: no line with a recognisable time near its end, so the first run cannot start one rule window before it; reading it from the start`],
    };
  }
  return { segments: [segment(path, start.offset, start.linesBefore + 1, true)], warnings: [] };
}

function missingLive(path: string, saved: Cursor | undefined): ReadPlan {
  // The rest of the rotated file waits too: reading it now without a new live cursor
  // would read it again next run.
  const warning =
    saved === undefined
      ? `${path}: no such file yet; nothing to read`
      : `${path}: no such file (rotated and not yet recreated?); keeping the cursor at byte ${saved.offset} until it is back`;
  return { segments: [], warnings: [warning] };
}

async function openIfPresent(path: string): Promise<Input | undefined> {
  try {
    return await openInput(path);
  } catch (err) {
    if (err instanceof InputError && err.reason === 'no such file') return undefined;
    throw err;
  }
}

async function listRotated(path: string, live: LiveFacts, warnings: string[]): Promise<RotatedFile[]> {
  const dir = dirname(path);
  const liveName = basename(path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    warnings.push(`${path}: cannot list ${dir} (${reasonOf(err)}), so its rotated files cannot be found`);
    return [];
  }
  const files: RotatedFile[] = [];
  for (const name of names) {
    const parsed = parseRotatedName(liveName, name);
    if (parsed === undefined) continue;
    const filePath = join(dir, name);
    let st: Stats;
    try {
      st = await stat(filePath);
    } catch {
      continue; // rotated away while listing, or a dangling link: not a candidate
    }
    // The live file may be a symlink to a dated file; that one is not a rotated copy.
    if (!st.isFile() || (st.dev === live.dev && st.ino === live.ino)) continue;
    files.push({ ...parsed, path: filePath, dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs });
  }
  return files;
}

/** Hashes each sibling's head at most once per length; an unreadable sibling is a warning, not a failure. */
function cachedHeadHasher(warnings: string[]): HeadHasher {
  const cache = new Map<string, string | undefined>();
  return async (file, length) => {
    const key = `${length}:${file.path}`;
    if (cache.has(key)) return cache.get(key);
    let hash: string | undefined;
    try {
      const input = await openInput(file.path);
      try {
        const head = await readAt(input, 0, length);
        hash = head.length === length ? hashHead(head) : undefined;
      } finally {
        await input.close();
      }
    } catch (err) {
      warnings.push(`${file.path}: cannot read (${err instanceof InputError ? err.reason : reasonOf(err)}); not considered as a rotated part of the log`);
    }
    cache.set(key, hash);
    return hash;
  };
}

/** Up to `length` content bytes from `position` (decompressed for gzip), copied out of the reader's reused buffers. */
async function readAt(input: Input, position: number, length: number): Promise<Buffer> {
  if (length <= 0) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  let have = 0;
  try {
    for await (const chunk of input.chunks(position, length)) {
      const take = Math.min(chunk.length, length - have);
      parts.push(Buffer.from(chunk.subarray(0, take)));
      have += take;
      if (have >= length) break;
    }
  } catch (err) {
    throw new InputError(input.name, reasonOf(err), { cause: err });
  }
  return Buffer.concat(parts, have);
}

function hashHead(head: Buffer): string {
  return createHash('sha256').update(head).digest('hex').slice(0, HASH_HEX_CHARS);
}

function requireCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be an integer >= 0, got ${value}`);
}

/** A short reason for a Node error (the reader's own mapping is private to it). */
function reasonOf(err: unknown): string {
  const code = typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'Z_BUF_ERROR') return 'truncated gzip data';
  const message = err instanceof Error ? err.message : String(err);
  if (code?.startsWith('Z_') === true) return `corrupt gzip data (${message})`;
  return message;
}
