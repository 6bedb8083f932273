import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  appendFileSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { LogLine } from '../../src/core/types.js';
import { StampParser } from '../../src/parsers/syslog.js';
import {
  cursorAfter,
  findWindowStart,
  judgeLive,
  orderNewestFirst,
  parseRotatedName,
  planAfterReplacement,
  planRead,
  type Cursor,
  type PlanOptions,
  type ReadSegment,
  type RotatedFile,
} from '../../src/sources/cursor.js';
import { InputError, openInput, readLineBatches } from '../../src/sources/lines.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Log time from the real syslog stamp parser, as cron mode will get it from a parser. */
function makeTimeOf(): (text: string) => number | undefined {
  const stamps = new StampParser('UTC', Date.UTC(2026, 10, 22));
  return (text) => stamps.parse(text)?.[0];
}

interface RunResult {
  readonly lines: LogLine[];
  readonly texts: string[];
  readonly cursor: Cursor | undefined;
  readonly warnings: string[];
  readonly segments: ReadSegment[];
}

/** One cron run as `sendwatch run` does it: plan, read every segment, take the live cursor. */
async function runOnce(path: string, saved: Cursor | undefined, opts: Partial<PlanOptions> = {}): Promise<RunResult> {
  const plan = await planRead(path, saved, { startAt: 'start', windowMs: HOUR, timeOf: makeTimeOf(), ...opts });
  let cursor = saved;
  const lines: LogLine[] = [];
  for (const seg of plan.segments) {
    const input = await openInput(seg.path);
    try {
      const reader = readLineBatches(input, { startOffset: seg.startOffset, firstLineNo: seg.firstLineNo, consumePartialLastLine: !seg.live });
      for await (const batch of reader) lines.push(...batch.lines);
      if (seg.live) cursor = await cursorAfter(path, reader.stats.endOffset, seg.firstLineNo + reader.stats.lines, input);
    } finally {
      await input.close();
    }
  }
  assertLineNumbersPointAtTheLines(lines);
  return { lines, texts: lines.map((l) => l.text), cursor, warnings: plan.warnings, segments: plan.segments };
}

/** Evidence is only useful if `sed -n Np file` (or zcat) shows the line: check every one. */
function assertLineNumbersPointAtTheLines(lines: readonly LogLine[]): void {
  const files = new Map<string, string[]>();
  for (const line of lines) {
    let content = files.get(line.source);
    if (content === undefined) {
      const raw = readFileSync(line.source);
      content = (line.source.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8').split('\n');
      files.set(line.source, content);
    }
    assert.equal(content[line.lineNo - 1], line.text, `${line.source}:${line.lineNo}`);
  }
}

/**
 * A mail server writing timestamped lines into a log folder, and logrotate acting on
 * it. `written` is every line a reader must see, in order; lines the test means to be
 * lost are written but not listed.
 */
class MailHost {
  readonly written: string[] = [];
  private seq = 0;
  private clock = Date.UTC(2026, 10, 22, 0, 0, 0);

  constructor(readonly dir: string) {}

  path(name: string): string {
    return join(this.dir, name);
  }

  nextLine(): string {
    this.seq++;
    this.clock += 60_000;
    return `${new Date(this.clock).toISOString().slice(0, 19)}Z mx postfix/smtpd[4242]: line ${this.seq}`;
  }

  log(name: string, count: number, opts: { lost?: boolean } = {}): string[] {
    const lines = Array.from({ length: count }, () => this.nextLine());
    appendFileSync(this.path(name), lines.map((l) => `${l}\n`).join(''));
    if (opts.lost !== true) this.written.push(...lines);
    return lines;
  }

  /** Writes the first part of a line; the returned function writes the rest and its newline. */
  startLine(name: string, opts: { lost?: boolean } = {}): { bytes: number; finish: () => void } {
    const line = this.nextLine();
    const cut = 25;
    appendFileSync(this.path(name), line.slice(0, cut));
    return {
      bytes: cut,
      finish: () => {
        appendFileSync(this.path(name), `${line.slice(cut)}\n`);
        if (opts.lost !== true) this.written.push(line);
      },
    };
  }

  /** Old rotated files from before the first run: their lines must never be read. */
  history(name: string, lines = 3): void {
    const text = Array.from({ length: lines }, (_, i) => `2026-11-01T00:00:0${i}Z mx postfix/smtpd[1]: history of ${name}\n`).join('');
    writeFileSync(this.path(name), name.endsWith('.gz') ? gzipSync(text) : text);
    this.age(name, 30 * DAY);
  }

  create(name: string): void {
    writeFileSync(this.path(name), '');
  }

  rename(from: string, to: string): void {
    renameSync(this.path(from), this.path(to));
  }

  /** gzip(1): a new file with the old one's mtime, then the original removed. */
  gzip(name: string, to = `${name}.gz`): void {
    const st = statSync(this.path(name));
    writeFileSync(this.path(to), gzipSync(readFileSync(this.path(name))));
    utimesSync(this.path(to), st.atime, st.mtime);
    unlinkSync(this.path(name));
  }

  /** logrotate's copytruncate: copy the live file, then cut it to zero in place (same inode). */
  copytruncate(name: string, to: string): void {
    copyFileSync(this.path(name), this.path(to));
    truncateSync(this.path(name), 0);
  }

  remove(name: string): void {
    unlinkSync(this.path(name));
  }

  /** Sets a file's mtime `ms` into the past: rotations happen hours apart, not within one clock tick. */
  age(name: string, ms: number): void {
    const t = new Date(Date.now() - ms);
    utimesSync(this.path(name), t, t);
  }
}

/** The cron job: one cursor for one log, and everything it read across its runs. */
class Cron {
  cursor: Cursor | undefined;
  readonly read: string[] = [];

  constructor(private readonly logPath: string) {}

  async run(opts: Partial<PlanOptions> = {}): Promise<RunResult> {
    const result = await runOnce(this.logPath, this.cursor, opts);
    this.cursor = result.cursor;
    this.read.push(...result.texts);
    return result;
  }
}

function names(segments: readonly ReadSegment[], dir: string): string[] {
  return segments.map((s) => `${s.path.slice(dir.length + 1)}@${s.startOffset}${s.live ? ' live' : ''}`);
}

let dir = '';
let host: MailHost;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sendwatch-cursor-'));
  host = new MailHost(dir);
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('cron reads without rotation', () => {
  it('reads appended lines once each, and nothing when nothing is new', async () => {
    const cron = new Cron(host.path('maillog'));
    host.log('maillog', 5);
    assert.equal((await cron.run()).texts.length, 5);
    host.log('maillog', 3);
    const second = await cron.run();
    assert.deepEqual(second.texts, host.written.slice(5));
    assert.deepEqual(second.lines.map((l) => l.lineNo), [6, 7, 8]);
    const idle = await cron.run();
    assert.deepEqual(idle.texts, []);
    assert.deepEqual(idle.warnings, []);
    assert.equal(cron.cursor?.offset, statSync(host.path('maillog')).size);
    assert.equal(cron.cursor?.lineNo, 9, 'the number the next line gets');
    host.log('maillog', 2);
    await cron.run();
    assert.deepEqual(cron.read, host.written);
  });

  it('keeps a partial last line until its newline arrives', async () => {
    const cron = new Cron(host.path('maillog'));
    host.log('maillog', 3);
    const half = host.startLine('maillog');
    const first = await cron.run();
    assert.deepEqual(first.texts, host.written);
    assert.equal(cron.cursor?.offset, statSync(host.path('maillog')).size - half.bytes);
    assert.equal(cron.cursor?.size, statSync(host.path('maillog')).size);
    half.finish();
    host.log('maillog', 2);
    const second = await cron.run();
    assert.deepEqual(second.texts, host.written.slice(3));
    assert.equal(second.lines[0]?.lineNo, 4);
    assert.deepEqual(cron.read, host.written);
  });

  it('records device, inode, size, offset, line number, head hash and mtime', async () => {
    host.log('maillog', 4);
    const cron = new Cron(host.path('maillog'));
    await cron.run();
    const st = statSync(host.path('maillog'));
    const cursor = cron.cursor;
    assert.ok(cursor);
    assert.deepEqual(
      { path: cursor.path, dev: cursor.dev, ino: cursor.ino, size: cursor.size, offset: cursor.offset, lineNo: cursor.lineNo, headLength: cursor.headLength, mtimeMs: cursor.mtimeMs },
      { path: host.path('maillog'), dev: st.dev, ino: st.ino, size: st.size, offset: st.size, lineNo: 5, headLength: st.size, mtimeMs: st.mtimeMs },
    );
    assert.match(cursor.headHash, /^[0-9a-f]{16}$/);
    assert.deepEqual(JSON.parse(JSON.stringify(cursor)), cursor);
  });
});

interface RenameStyle {
  readonly title: string;
  readonly live: string;
  /** Older rotated files already there; the rotation shifts them first, as logrotate does. */
  readonly history: readonly string[];
  readonly shift: readonly (readonly [string, string])[];
  readonly rotated: string;
  readonly compressed: boolean;
}

const RENAME_STYLES: readonly RenameStyle[] = [
  { title: 'maillog -> maillog.1 (logrotate create)', live: 'maillog', history: ['maillog.1', 'maillog.2.gz'], shift: [['maillog.2.gz', 'maillog.3.gz'], ['maillog.1', 'maillog.2']], rotated: 'maillog.1', compressed: false },
  { title: 'maillog -> maillog-YYYYMMDD (dateext)', live: 'maillog', history: ['maillog-20261120', 'maillog-20261121'], shift: [], rotated: 'maillog-20261122', compressed: false },
  { title: 'maillog -> maillog-YYYYMMDD-HHMMSS', live: 'maillog', history: ['maillog-20261121-101500'], shift: [], rotated: 'maillog-20261122-101500', compressed: false },
  { title: "Postfix's own `postfix logrotate`: maillog.YYYYMMDD-HHMMSS.gz", live: 'maillog', history: ['maillog.20261121-000001.gz'], shift: [], rotated: 'maillog.20261122-000001', compressed: true },
  { title: "Kerio's mail.log -> mail.log.0", live: 'mail.log', history: ['mail.log.0'], shift: [['mail.log.0', 'mail.log.1']], rotated: 'mail.log.0', compressed: false },
  { title: 'maillog -> maillog.1, gzipped at once (compress)', live: 'maillog', history: ['maillog.1.gz'], shift: [['maillog.1.gz', 'maillog.2.gz']], rotated: 'maillog.1', compressed: true },
  { title: 'mail.log -> mail-YYYYMMDD.log.gz (extension .log)', live: 'mail.log', history: ['mail-20261121.log.gz'], shift: [], rotated: 'mail-20261122.log', compressed: true },
];

describe('rename-and-create rotation', () => {
  for (const style of RENAME_STYLES) {
    it(`${style.title}: the rest of the old file, then the new one from its start`, async () => {
      for (const name of style.history) host.history(name);
      const cron = new Cron(host.path(style.live));
      host.log(style.live, 5);
      await cron.run();
      const offset = cron.cursor?.offset;
      host.log(style.live, 3); // written after the run, before the rotation: unread so far
      for (const [from, to] of style.shift) host.rename(from, to);
      host.rename(style.live, style.rotated);
      if (style.compressed) host.gzip(style.rotated);
      host.create(style.live);
      host.log(style.live, 4);

      const second = await cron.run();
      const rotatedAs = style.compressed ? `${style.rotated}.gz` : style.rotated;
      assert.deepEqual(names(second.segments, dir), [`${rotatedAs}@${offset}`, `${style.live}@0 live`]);
      assert.deepEqual(second.texts, host.written.slice(5));
      assert.deepEqual(second.lines.map((l) => l.lineNo), [6, 7, 8, 1, 2, 3, 4]);
      assert.deepEqual(second.warnings, []);

      host.log(style.live, 2);
      const afterRotation = cron.cursor?.offset;
      const third = await cron.run();
      assert.deepEqual(names(third.segments, dir), [`${style.live}@${afterRotation} live`]);
      assert.deepEqual(cron.read, host.written);
    });
  }
});

describe('compression one run later (delaycompress)', () => {
  it('reads maillog.1 plain after the first rotation, and nothing of maillog.2.gz after the second', async () => {
    const cron = new Cron(host.path('maillog'));
    host.log('maillog', 5);
    await cron.run();
    host.log('maillog', 2);
    host.rename('maillog', 'maillog.1');
    host.create('maillog');
    host.log('maillog', 3);

    const second = await cron.run();
    assert.deepEqual(names(second.segments, dir).map((n) => n.split('@')[0]), ['maillog.1', 'maillog']);
    host.log('maillog', 2);

    // Next night: the plain maillog.1 is compressed as maillog.2.gz, maillog becomes maillog.1.
    host.gzip('maillog.1', 'maillog.2.gz');
    host.rename('maillog', 'maillog.1');
    host.create('maillog');
    host.log('maillog', 1);
    const third = await cron.run();
    assert.deepEqual(names(third.segments, dir).map((n) => n.split('@')[0]), ['maillog.1', 'maillog']);
    assert.deepEqual(third.lines.map((l) => [l.source.slice(dir.length + 1), l.lineNo]), [
      ['maillog.1', 4],
      ['maillog.1', 5],
      ['maillog', 1],
    ]);
    assert.deepEqual(cron.read, host.written);
  });
});

describe('two rotations between runs', () => {
  it('delaycompress: old rest from maillog.2.gz, all of maillog.1, then maillog', async () => {
    host.history('maillog.2.gz');
    const cron = new Cron(host.path('maillog'));
    host.log('maillog', 4);
    await cron.run();
    const offset = cron.cursor?.offset;
    host.log('maillog', 2);
    host.rename('maillog.2.gz', 'maillog.3.gz');
    host.rename('maillog', 'maillog.1');
    host.create('maillog');
    host.log('maillog', 3);
    host.rename('maillog.3.gz', 'maillog.4.gz');
    host.gzip('maillog.1', 'maillog.2.gz');
    host.rename('maillog', 'maillog.1');
    host.create('maillog');
    host.log('maillog', 2);

    const second = await cron.run();
    assert.deepEqual(names(second.segments, dir), [`maillog.2.gz@${offset}`, 'maillog.1@0', 'maillog@0 live']);
    assert.deepEqual(second.lines.map((l) => l.lineNo), [5, 6, 1, 2, 3, 1, 2]);
    assert.deepEqual(second.warnings, []);
    assert.deepEqual(cron.read, host.written);
  });

  it('dateext with immediate compression: both rotated files, in order', async () => {
    host.history('maillog-20261121.gz');
    const cron = new Cron(host.path('maillog'));
    host.log('maillog', 4);
    await cron.run();
    host.log('maillog', 1);
    host.rename('maillog', 'maillog-20261122');
    host.gzip('maillog-20261122');
    host.create('maillog');
    host.log('maillog', 3);
    host.rename('maillog', 'maillog-20261123');
    host.gzip('maillog-20261123');
    host.create('maillog');
    host.log('maillog', 2);

    const second = await cron.run();
    assert.deepEqual(names(second.segments, dir).map((n) => n.split('@')[0]), ['maillog-20261122.gz', 'maillog-20261123.gz', 'maillog']);
    await cron.run();
    assert.deepEqual(cron.read, host.written);
  });
});

describe('copytruncate (same inode, cut in place; the copy holds the rest)', () => {
  it('no new lines after the truncation', async () => {
    const cron = new Cron(host.path('maillog'));
    host.log('maillog', 5);
    const { ino } = statSync(host.path('maillog'));
    await cron.run();
    host.log('maillog', 3);
    host.copytruncate('maillog', 'maillog.1');
    assert.equal(statSync(host.path('maillog')).ino, ino);

    const second = await cron.run();
    assert.deepEqual(names(second.segments, dir), [`maillog.1@${second.segments[0]?.startOffset}`, 'maillog@0 live']);
    assert.deepEqual(second.texts, host.written.slice(5));
    assert.equal(cron.cursor?.offset, 0);
    host.log('maillog', 2);
    await cron.run();
    assert.deepEqual(cron.read, host.written);
  });

  it('new lines after the truncation, the file still shorter than the old offset', async () => {
    const cron = new Cron(host.path('maillog'));
    host.log('maillog', 8);
    await cron.run();
    const offset = cron.cursor?.offset ?? 0;
    host.log('maillog', 2);
    host.copytruncate('maillog', 'maillog.1');
    host.log('maillog', 2);
    assert.ok(statSync(host.path('maillog')).size < offset);

    const second = await cron.run();
    assert.deepEqual(second.texts, host.written.slice(8));
    assert.deepEqual(second.lines.map((l) => l.lineNo), [9, 10, 1, 2]);
    assert.deepEqual(cron.read, host.written);
  });

  it('the new file already grew past the old offset: told apart by its first bytes', async () => {
    const cron = new Cron(host.path('maillog'));
    host.log('maillog', 3);
    await cron.run();
    const offset = cron.cursor?.offset ?? 0;
    host.log('maillog', 1);
    host.copytruncate('maillog', 'maillog.1');
    host.log('maillog', 10);
    assert.ok(statSync(host.path('maillog')).size > offset);

    const second = await cron.run();
    assert.deepEqual(names(second.segments, dir), [`maillog.1@${offset}`, 'maillog@0 live']);
    assert.deepEqual(second.texts, host.written.slice(3));
    assert.deepEqual(cron.read, host.written);
  });

  it('the copy compressed at once (maillog.1.gz), an older copy already there', async () => {
    host.history('maillog.1.gz');
    const cron = new Cron(host.path('maillog'));
    host.log('maillog', 5);
    await cron.run();
    host.log('maillog', 2);
    host.rename('maillog.1.gz', 'maillog.2.gz');
    host.copytruncate('maillog', 'maillog.1');
    host.gzip('maillog.1');
    host.log('maillog', 1);

    const second = await cron.run();
    assert.deepEqual(names(second.segments, dir).map((n) => n.split('@')[0]), ['maillog.1.gz', 'maillog']);
    assert.deepEqual(cron.read, host.written);
  });
});

describe('inode reuse', () => {
  it('a new file with the old inode number is recognised by its first bytes', async () => {
    const cron = new Cron(host.path('maillog'));
    host.log('maillog', 4);
    await cron.run();
    host.log('maillog', 2);
    host.rename('maillog', 'maillog.1');
    host.gzip('maillog.1'); // frees the old inode
    host.create('maillog');
    host.log('maillog', 12); // longer than the old offset, so size alone says nothing
    // The kernel cannot be made to hand the freed inode to the new file; the cursor is
    // moved onto the new file's inode instead, which is what the next run would see.
    const st = statSync(host.path('maillog'));
    assert.ok(cron.cursor);
    cron.cursor = { ...cron.cursor, dev: st.dev, ino: st.ino };
    assert.ok(st.size > cron.cursor.offset);

    const second = await cron.run();
    assert.deepEqual(names(second.segments, dir).map((n) => n.split('@')[0]), ['maillog.1.gz', 'maillog']);
    assert.deepEqual(second.texts, host.written.slice(4));
    assert.deepEqual(cron.read, host.written);
  });
});

describe('the previous file is gone', () => {
  it('warns with the bytes known unread, and reads the new file from its start', async () => {
    const cron = new Cron(host.path('maillog'));
    host.log('maillog', 5);
    host.startLine('maillog', { lost: true });
    await cron.run();
    const cursor = cron.cursor;
    assert.ok(cursor);
    assert.equal(cursor.size - cursor.offset, 25);
    host.log('maillog', 2, { lost: true });
    host.rename('maillog', 'maillog.1');
    host.create('maillog');
    host.remove('maillog.1'); // rotate 0; removed after the create, as logrotate does, so no inode reuse
    host.log('maillog', 3);

    const second = await cron.run();
    assert.deepEqual(names(second.segments, dir), ['maillog@0 live']);
    assert.equal(second.warnings.length, 1);
    assert.match(second.warnings[0] ?? '', /maillog: was rotated/);
    assert.match(second.warnings[0] ?? '', new RegExp(`at least 25 bytes after byte ${cursor.offset}`));
    assert.deepEqual(cron.read, host.written);
  });

  it('rotated twice with rotate 1: the old file is lost, the file rotated in between is read whole', async () => {
    host.history('maillog.1', 2);
    host.age('maillog.1', 2 * DAY);
    const cron = new Cron(host.path('maillog'));
    host.log('maillog', 4);
    host.age('maillog', 2 * HOUR); // last written two hours before this run
    await cron.run();
    host.rename('maillog', 'maillog.1'); // replaces (deletes) the history file
    host.create('maillog');
    host.log('maillog', 3);
    host.age('maillog', HOUR);
    host.remove('maillog.1'); // rotate 1: the oldest copy goes
    host.rename('maillog', 'maillog.1');
    host.create('maillog');
    host.log('maillog', 2);

    const second = await cron.run();
    assert.deepEqual(names(second.segments, dir), ['maillog.1@0', 'maillog@0 live']);
    assert.match(second.warnings[0] ?? '', /at least 0 bytes/);
    assert.deepEqual(cron.read, host.written);
  });

  it('truncated in place with no copy: warns, reads the file from its start', async () => {
    const cron = new Cron(host.path('maillog'));
    host.log('maillog', 5);
    await cron.run();
    truncateSync(host.path('maillog'), 0);
    host.log('maillog', 2);
    const second = await cron.run();
    assert.match(second.warnings[0] ?? '', /maillog: is shorter than the offset/);
    assert.deepEqual(cron.read, host.written);
  });
});

describe('the live file is missing or unreadable', () => {
  it('missing after rotation: warns, keeps the cursor, reads everything once it is back', async () => {
    const cron = new Cron(host.path('maillog'));
    host.log('maillog', 3);
    await cron.run();
    const kept = cron.cursor;
    host.log('maillog', 2);
    host.rename('maillog', 'maillog.1');

    const waiting = await cron.run();
    assert.deepEqual(waiting.segments, []);
    assert.match(waiting.warnings[0] ?? '', /no such file.*keeping the cursor/);
    assert.equal(cron.cursor, kept);

    host.create('maillog');
    host.log('maillog', 2);
    await cron.run();
    assert.deepEqual(cron.read, host.written);
  });

  it('missing on the first run: a warning and nothing to read', async () => {
    const plan = await planRead(host.path('maillog'), undefined, { startAt: 'end-window', windowMs: HOUR, timeOf: makeTimeOf() });
    assert.deepEqual(plan.segments, []);
    assert.match(plan.warnings[0] ?? '', /no such file yet/);
  });

  it('unreadable: the reader InputError', async () => {
    mkdirSync(host.path('maillog'));
    await assert.rejects(planRead(host.path('maillog'), undefined, { startAt: 'start', windowMs: 0, timeOf: makeTimeOf() }), (err: unknown) => {
      assert.ok(err instanceof InputError);
      assert.equal(err.reason, 'is a directory');
      return true;
    });
    await assert.rejects(planRead('-', undefined, { startAt: 'start', windowMs: 0, timeOf: makeTimeOf() }), InputError);
  });

  it('rotated between the read and cursorAfter: the cursor still names the file that was read', async () => {
    host.log('maillog', 3);
    const path = host.path('maillog');
    const input = await openInput(path);
    const reader = readLineBatches(input, { consumePartialLastLine: false });
    const read: string[] = [];
    for await (const batch of reader) read.push(...batch.lines.map((l) => l.text));
    host.rename('maillog', 'maillog.1');
    host.create('maillog');
    host.log('maillog', 2);
    host.log('maillog.1', 1); // the server wrote to its open handle before it reopened
    const cursor = await cursorAfter(path, reader.stats.endOffset, 1 + reader.stats.lines, input);
    await input.close();
    assert.equal(cursor.ino, statSync(host.path('maillog.1')).ino);

    const cron = new Cron(path);
    cron.read.push(...read);
    cron.cursor = cursor;
    await cron.run();
    assert.deepEqual([...cron.read].sort(), [...host.written].sort());
    assert.equal(new Set(cron.read).size, cron.read.length);
  });
});

describe('first run', () => {
  /** A day of one line a minute, with lines without a time among them, as some logs have. */
  function writeDay(lines: number, timelessEvery: number): void {
    const texts: string[] = [];
    for (let i = 1; i <= lines; i++) {
      texts.push(host.nextLine());
      if (i % timelessEvery === 0) texts.push(`    continuation ${i} without a time`);
    }
    writeFileSync(host.path('maillog'), texts.map((t) => `${t}\n`).join(''));
    host.written.push(...texts);
  }

  /** Index in `written` of the first line with a time at or after (last time - window). */
  function expectedStart(windowMs: number): number {
    const timeOf = makeTimeOf();
    const times = host.written.map((t) => timeOf(t));
    const last = times.filter((t): t is number => t !== undefined).at(-1) ?? 0;
    return times.findIndex((t) => t !== undefined && t >= last - windowMs);
  }

  it('end-window: the first line read is the first inside the window, with its own line number', async () => {
    writeDay(600, 7);
    const half = host.startLine('maillog'); // mid-write, and later than the rest: not the "last line"
    const cron = new Cron(host.path('maillog'));
    const first = await cron.run({ startAt: 'end-window', windowMs: HOUR });
    const start = expectedStart(HOUR);
    assert.ok(start > 0);
    assert.equal(first.texts[0], host.written[start]);
    assert.equal(first.lines[0]?.lineNo, start + 1);
    assert.match(host.written[start - 1] ?? '', /without a time/, 'a timeless line just before the window start is not read');
    assert.deepEqual(first.texts, host.written.slice(start));
    half.finish();
    host.log('maillog', 2);
    await cron.run();
    assert.deepEqual(cron.read, host.written.slice(start));
  });

  it('end-window on a file of megabytes finds the same line as a linear scan', async () => {
    writeDay(40_000, 13);
    assert.ok(statSync(host.path('maillog')).size > 2_000_000);
    for (const windowMs of [2 * HOUR, 90_000, 17 * DAY, 60 * DAY]) {
      const result = await runOnce(host.path('maillog'), undefined, { startAt: 'end-window', windowMs });
      const start = expectedStart(windowMs);
      assert.equal(result.texts[0], host.written[start], `window ${windowMs}`);
      assert.deepEqual(result.texts, host.written.slice(start));
      assert.equal(result.lines[0]?.lineNo, start + 1);
    }
  });

  it('end-window longer than the file reads it all; a window of 0 starts at the last line', async () => {
    writeDay(30, 100);
    const all = await runOnce(host.path('maillog'), undefined, { startAt: 'end-window', windowMs: DAY });
    assert.deepEqual(all.texts, host.written);
    const none = await runOnce(host.path('maillog'), undefined, { startAt: 'end-window', windowMs: 0 });
    assert.deepEqual(none.texts, host.written.slice(-1));
    assert.equal(none.lines[0]?.lineNo, 30);
  });

  it('end-window on a file with no times: warns and reads from the start', async () => {
    writeFileSync(host.path('maillog'), 'no time here\nnor here\n');
    const result = await runOnce(host.path('maillog'), undefined, { startAt: 'end-window', windowMs: HOUR });
    assert.deepEqual(result.texts, ['no time here', 'nor here']);
    assert.match(result.warnings[0] ?? '', /no line with a recognisable time/);
  });

  it('start (--from-start) reads everything', async () => {
    writeDay(50, 10);
    const cron = new Cron(host.path('maillog'));
    const first = await cron.run({ startAt: 'start' });
    assert.deepEqual(first.texts, host.written);
    assert.equal(first.lines[0]?.lineNo, 1);
  });

  it('an empty file: nothing now, everything later', async () => {
    host.create('maillog');
    const cron = new Cron(host.path('maillog'));
    await cron.run({ startAt: 'end-window' });
    assert.equal(cron.cursor?.headLength, 0);
    host.log('maillog', 3);
    await cron.run();
    assert.deepEqual(cron.read, host.written);
  });

  it('empty at the last run, then written and rotated: read whole from the rotated file', async () => {
    host.create('maillog');
    const cron = new Cron(host.path('maillog'));
    await cron.run();
    host.log('maillog', 3);
    host.rename('maillog', 'maillog.1');
    host.create('maillog');
    host.log('maillog', 1);
    await cron.run();
    assert.deepEqual(cron.read, host.written);
  });
});

describe('pure decisions', () => {
  it('parseRotatedName knows rotated names and nothing else', () => {
    const kinds = (live: string, name: string): string | undefined => {
      const r = parseRotatedName(live, name);
      return r && `${r.kind} ${r.numbers.join(',')} ${r.compression}`;
    };
    assert.equal(kinds('maillog', 'maillog.1'), 'count 1 none');
    assert.equal(kinds('maillog', 'maillog.12.gz'), 'count 12 gzip');
    assert.equal(kinds('maillog', 'maillog-20261122'), 'stamp 20261122 none');
    assert.equal(kinds('maillog', 'maillog-20261122-101500.gz'), 'stamp 20261122,101500 gzip');
    assert.equal(kinds('maillog', 'maillog.20261122-101500'), 'stamp 20261122,101500 none');
    assert.equal(kinds('maillog', 'maillog-2026-11-22.xz'), 'stamp 2026,11,22 unsupported');
    assert.equal(kinds('mail.log', 'mail.log.0'), 'count 0 none');
    assert.equal(kinds('mail.log', 'mail-20261122.log.gz'), 'stamp 20261122 gzip');
    assert.equal(kinds('mail.log', 'mail.1.log'), 'count 1 none');
    for (const other of ['maillog', 'maillog.old', 'maillog.1.bak', 'maillog2', 'maillog.', 'mail.err', 'maillog-x1', 'amaillog.1']) {
      assert.equal(parseRotatedName('maillog', other), undefined, other);
    }
  });

  function file(name: string, mtimeMs: number): RotatedFile {
    const parsed = parseRotatedName('maillog', name);
    assert.ok(parsed, name);
    return { ...parsed, path: name, dev: 1, ino: mtimeMs, size: 100, mtimeMs };
  }

  it('orderNewestFirst: by number within a scheme, by mtime across schemes, plain over its half-done .gz', () => {
    const order = (files: RotatedFile[]): string[] => orderNewestFirst(files).map((f) => f.name);
    // mtimes that disagree with the names lose within a scheme (touch, equal clock ticks).
    assert.deepEqual(order([file('maillog.2.gz', 9), file('maillog.10.gz', 9), file('maillog.1', 1)]), ['maillog.1', 'maillog.2.gz', 'maillog.10.gz']);
    assert.deepEqual(order([file('maillog-20261121', 5), file('maillog-20261123', 5), file('maillog-20261122.gz', 5)]), ['maillog-20261123', 'maillog-20261122.gz', 'maillog-20261121']);
    assert.deepEqual(order([file('maillog.1', 50), file('maillog.1.gz', 50), file('maillog.2.gz', 40)]), ['maillog.1', 'maillog.2.gz']);
    // The admin switched to dateext: the numbered files are older.
    assert.deepEqual(order([file('maillog.1.gz', 10), file('maillog-20261122.gz', 30), file('maillog.2.gz', 5), file('maillog-20261121.gz', 20)]), [
      'maillog-20261122.gz',
      'maillog-20261121.gz',
      'maillog.1.gz',
      'maillog.2.gz',
    ]);
  });

  it('judgeLive: continue, rotated, truncated, rewritten', () => {
    const saved: Cursor = { path: 'm', dev: 1, ino: 7, size: 500, offset: 400, lineNo: 4, headHash: 'aaaa', headLength: 500, mtimeMs: 0 };
    const live = { dev: 1, ino: 7, size: 600, headHash: 'aaaa' };
    assert.deepEqual(judgeLive(saved, live), { kind: 'continue' });
    assert.deepEqual(judgeLive(saved, { ...live, ino: 8 }), { kind: 'continue' }, 'same content under a new inode (moved by copy)');
    assert.deepEqual(judgeLive(saved, { ...live, ino: 8, headHash: 'bbbb' }), { kind: 'replaced', why: 'rotated' });
    assert.deepEqual(judgeLive(saved, { ...live, size: 100, headHash: undefined }), { kind: 'replaced', why: 'truncated' });
    assert.deepEqual(judgeLive(saved, { ...live, headHash: 'bbbb' }), { kind: 'replaced', why: 'rewritten' });
    const empty = { ...saved, size: 0, offset: 0, headLength: 0, headHash: 'e3b0' };
    assert.deepEqual(judgeLive(empty, { ...live, headHash: 'e3b0' }), { kind: 'continue' });
    assert.deepEqual(judgeLive(empty, { ...live, ino: 8, headHash: 'e3b0' }), { kind: 'replaced', why: 'rotated' });
  });

  it('planAfterReplacement: oldest first after the previous file; an unreadable compression is a warning', () => {
    const saved: Cursor = { path: 'maillog', dev: 1, ino: 7, size: 500, offset: 400, lineNo: 5, headHash: 'aaaa', headLength: 500, mtimeMs: 100 };
    const ordered = [file('maillog.1', 300), file('maillog.2.xz', 200), file('maillog.3.gz', 150), file('maillog.4.gz', 50)];
    const plan = planAfterReplacement('maillog', saved, ordered, ordered[2], 'rotated');
    assert.deepEqual(plan.segments.map((s) => [s.path, s.startOffset, s.firstLineNo, s.live]), [
      ['maillog.3.gz', 400, 5, false],
      ['maillog.1', 0, 1, false],
      ['maillog', 0, 1, true],
    ]);
    assert.match(plan.warnings[0] ?? '', /^maillog\.2\.xz: .*gzip only/);
    const lost = planAfterReplacement('maillog', saved, ordered, undefined, 'rotated');
    assert.deepEqual(lost.segments.map((s) => s.path), ['maillog.3.gz', 'maillog.1', 'maillog']);
    assert.match(lost.warnings[0] ?? '', /at least 100 bytes after byte 400/);
  });

  it('findWindowStart over bytes in memory: CRLF, a long line, non-monotone stamps', async () => {
    const lines = [
      '2026-11-22T10:00:00Z a',
      '2026-11-22T10:30:00Z b',
      `2026-11-22T10:40:00Z ${'x'.repeat(100_000)}`,
      'no time',
      '2026-11-22T10:39:00Z c (a little out of order)',
      '2026-11-22T11:00:00Z d',
    ];
    const bytes = Buffer.from(lines.map((l) => `${l}\r\n`).join(''));
    const read = (position: number, length: number): Promise<Buffer> => Promise.resolve(bytes.subarray(position, position + length));
    const start = await findWindowStart(read, bytes.length, 25 * 60_000, makeTimeOf());
    assert.ok(start);
    assert.equal(bytes.toString('utf8', start.offset, start.offset + 22), '2026-11-22T10:40:00Z x');
    assert.equal(start.linesBefore, 2);
  });
});
