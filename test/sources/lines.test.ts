import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, chmodSync, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import {
  DEFAULT_MAX_LINE_BYTES,
  InputError,
  openInput,
  readLineBatches,
  type ReadOptions,
  type ReadStats,
} from '../../src/sources/lines.js';

const LINES_MODULE = new URL('../../src/sources/lines.js', import.meta.url).href;

interface ReadResult {
  readonly texts: string[];
  readonly lineNos: number[];
  readonly sources: string[];
  readonly endOffsets: number[];
  readonly stats: ReadStats;
}

async function readAll(path: string, options: ReadOptions = {}): Promise<ReadResult> {
  const input = await openInput(path);
  try {
    const reader = readLineBatches(input, options);
    const result: ReadResult = { texts: [], lineNos: [], sources: [], endOffsets: [], stats: reader.stats };
    for await (const batch of reader) {
      for (const line of batch.lines) {
        result.texts.push(line.text);
        result.lineNos.push(line.lineNo);
        result.sources.push(line.source);
      }
      result.endOffsets.push(batch.endOffset);
    }
    return { ...result, stats: reader.stats };
  } finally {
    await input.close();
  }
}

async function readError(path: string): Promise<InputError> {
  try {
    await readAll(path);
  } catch (err) {
    assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
    return err;
  }
  assert.fail(`reading ${path} did not fail`);
}

/**
 * A handle on V8's collector, so memory samples count what is retained, not garbage
 * (gunzip allocates a fresh output buffer per chunk) the collector has not reached yet.
 */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  if (typeof gc !== 'function') throw new Error('cannot expose the garbage collector');
  return gc as () => void;
}

function* hugeLineBlocks(lineBytes: number): Generator<Buffer> {
  yield Buffer.from('before\n');
  const block = Buffer.alloc(64 * 1024, 0x78);
  for (let i = 0; i < lineBytes / block.length; i++) yield block;
  yield Buffer.from('\nafter\n');
}

function hasMkfifo(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v mkfifo'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface ChildResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs an ES module snippet in a fresh node, with `stdin` piped in. */
function runChild(script: string, stdin: Buffer, uid?: number): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const ids = uid === undefined ? {} : { uid, gid: uid };
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { ...ids, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

/** A script that reads `path` with readLineBatches and prints what it saw as JSON. */
function readerScript(path: string): string {
  return `
    import { openInput, readLineBatches, InputError } from ${JSON.stringify(LINES_MODULE)};
    try {
      const input = await openInput(${JSON.stringify(path)});
      const reader = readLineBatches(input);
      const lines = [];
      for await (const b of reader) for (const l of b.lines) lines.push(l);
      await input.close();
      console.log(JSON.stringify({ compressed: input.compressed, kind: input.kind, lines, stats: reader.stats }));
    } catch (err) {
      console.log(JSON.stringify({ error: err instanceof InputError ? err.message : String(err) }));
    }`;
}

describe('sources/lines', () => {
  let dir = '';
  const file = (name: string, content: string | Buffer): string => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sendwatch-lines-'));
    // Traversable, so the unprivileged child of the EACCES test reaches the file itself.
    chmodSync(dir, 0o755);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a plain file with line numbers, source and end offset', async () => {
    const path = file('plain.log', 'one\ntwo\nthree\n');
    const r = await readAll(path);
    assert.deepEqual(r.texts, ['one', 'two', 'three']);
    assert.deepEqual(r.lineNos, [1, 2, 3]);
    assert.deepEqual(new Set(r.sources), new Set([path]));
    assert.deepEqual(r.stats, { lines: 3, bytes: 14, oversizedLines: 0, endOffset: 14 });
  });

  it('reports file metadata', async () => {
    const path = file('meta.log', 'x\n');
    const st = statSync(path);
    const input = await openInput(path);
    await input.close();
    await input.close();
    assert.equal(input.name, path);
    assert.equal(input.kind, 'file');
    assert.equal(input.size, 2);
    assert.equal(input.mtimeMs, st.mtimeMs);
    assert.equal(input.dev, st.dev);
    assert.equal(input.ino, st.ino);
    assert.equal(input.compressed, false);
  });

  it('decompresses gzip found by its magic bytes, whatever the name', async () => {
    const content = 'alpha\nbeta\r\ngamma\n';
    for (const name of ['rotated.log.gz', 'no-suffix.log']) {
      const path = file(name, gzipSync(content));
      const input = await openInput(path);
      await input.close();
      assert.equal(input.compressed, true, name);
      const r = await readAll(path, { chunkBytes: 5 });
      assert.deepEqual(r.texts, ['alpha', 'beta', 'gamma'], name);
      assert.deepEqual(r.stats, { lines: 3, bytes: content.length, oversizedLines: 0, endOffset: content.length });
    }
  });

  it('reads concatenated gzip members (logrotate + cat)', async () => {
    const path = file('multi.gz', Buffer.concat([gzipSync('a\n'), gzipSync('b\n')]));
    assert.deepEqual((await readAll(path)).texts, ['a', 'b']);
  });

  it('does not take a file named .gz for gzip when its bytes are not', async () => {
    const path = file('plain-named.gz', 'just text\n');
    assert.deepEqual((await readAll(path)).texts, ['just text']);
  });

  it('strips the \\r of CRLF line ends, and only that one', async () => {
    const path = file('crlf.log', 'a\r\nb\r\n\r\nin\rside\r\r\n');
    assert.deepEqual((await readAll(path)).texts, ['a', 'b', '', 'in\rside\r']);
  });

  it('delivers an unterminated last line in ad-hoc mode', async () => {
    const path = file('partial-adhoc.log', 'a\nb');
    const r = await readAll(path);
    assert.deepEqual(r.texts, ['a', 'b']);
    assert.deepEqual(r.stats, { lines: 2, bytes: 3, oversizedLines: 0, endOffset: 3 });
  });

  it('holds back an unterminated last line in cron mode and reads it whole next run', async () => {
    const path = file('partial-cron.log', 'a\nb\npar');
    const first = await readAll(path, { consumePartialLastLine: false });
    assert.deepEqual(first.texts, ['a', 'b']);
    assert.deepEqual(first.stats, { lines: 2, bytes: 7, oversizedLines: 0, endOffset: 4 });
    assert.deepEqual(first.endOffsets, [4]);

    appendFileSync(path, 'tial\nnext\n');
    const second = await readAll(path, {
      consumePartialLastLine: false,
      startOffset: first.stats.endOffset,
      firstLineNo: first.stats.lines + 1,
    });
    assert.deepEqual(second.texts, ['partial', 'next']);
    assert.deepEqual(second.lineNos, [3, 4]);
    assert.equal(second.stats.endOffset, statSync(path).size);
  });

  it('holds back an unterminated oversized last line in cron mode without counting it', async () => {
    const path = file('partial-long.log', `ok\n${'y'.repeat(100)}`);
    const r = await readAll(path, { consumePartialLastLine: false, maxLineBytes: 10, chunkBytes: 8 });
    assert.deepEqual(r.texts, ['ok']);
    assert.deepEqual(r.stats, { lines: 1, bytes: 103, oversizedLines: 0, endOffset: 3 });
  });

  it('reads an empty file as no lines', async () => {
    const path = file('empty.log', '');
    for (const consumePartialLastLine of [true, false]) {
      const r = await readAll(path, { consumePartialLastLine });
      assert.deepEqual(r.texts, []);
      assert.deepEqual(r.endOffsets, []);
      assert.deepEqual(r.stats, { lines: 0, bytes: 0, oversizedLines: 0, endOffset: 0 });
    }
  });

  it('reads empty lines as lines', async () => {
    assert.deepEqual((await readAll(file('blank.log', '\n\nx\n'))).texts, ['', '', 'x']);
  });

  it('seeks to startOffset in a plain file and skips to it in a gzip file', async () => {
    const content = 'one\ntwo\nthree\n';
    for (const [name, data] of [['seek.log', content], ['seek.log.gz', gzipSync(content)]] as const) {
      const r = await readAll(file(name, data), { startOffset: 4, chunkBytes: 3 });
      assert.deepEqual(r.texts, ['two', 'three'], name);
      assert.deepEqual(r.lineNos, [1, 2], name);
      assert.deepEqual(r.stats, { lines: 2, bytes: 10, oversizedLines: 0, endOffset: 14 }, name);
    }
  });

  it('reads nothing from a startOffset at or past the end', async () => {
    const path = file('short.log', 'a\n');
    const r = await readAll(path, { startOffset: 50 });
    assert.deepEqual(r.texts, []);
    assert.equal(r.stats.endOffset, 50);
  });

  it('reports batch end offsets after the last complete line of each batch', async () => {
    const path = file('offsets.log', 'aa\nbb\ncc\n');
    const r = await readAll(path, { chunkBytes: 4 });
    // Chunks: "aa\nb" "b\ncc" "\n": each batch ends after the line it completed.
    assert.deepEqual(r.endOffsets, [3, 6, 9]);
  });

  it('decodes multibyte characters cut across chunk boundaries, at every chunk size', async () => {
    const lines = ['héllo wörld', '€uro 😀 end', '日本語のログ行', 'ascii', '', 'ü'];
    const path = file('utf8.log', `${lines.join('\n')}\n`);
    for (let chunkBytes = 1; chunkBytes <= 17; chunkBytes++) {
      assert.deepEqual((await readAll(path, { chunkBytes })).texts, lines, `chunkBytes=${chunkBytes}`);
    }
  });

  it('turns invalid UTF-8 into U+FFFD without losing the line structure', async () => {
    const bytes = Buffer.from([0x61, 0xff, 0x62, 0x0a, 0xc3, 0x0a, 0xe2, 0x82, 0x0d, 0x0a, 0x63, 0x0a]);
    const path = file('invalid.log', bytes);
    for (const chunkBytes of [1, 2, 3, 64]) {
      assert.deepEqual((await readAll(path, { chunkBytes })).texts, ['a\uFFFDb', '\uFFFD', '\uFFFD', 'c'], `chunkBytes=${chunkBytes}`);
    }
  });

  it('cuts an oversized line at a character boundary, in one chunk or across chunks', async () => {
    const path = file('cut.log', 'short\n€€€€€\nend\n');
    for (const chunkBytes of [1, 4, 7, 1024]) {
      const r = await readAll(path, { maxLineBytes: 7, chunkBytes });
      // 7 bytes would end inside the third euro sign (3 bytes each): cut back to 6.
      assert.deepEqual(r.texts, ['short', '€€', 'end'], `chunkBytes=${chunkBytes}`);
      assert.equal(r.stats.oversizedLines, 1);
      assert.equal(r.stats.endOffset, statSync(path).size);
    }
  });

  it('counts a line of exactly maxLineBytes before its \\r\\n as fitting', async () => {
    const path = file('exact.log', 'abcd\r\nabcde\r\n');
    for (const chunkBytes of [1, 3, 64]) {
      const r = await readAll(path, { maxLineBytes: 4, chunkBytes });
      assert.deepEqual(r.texts, ['abcd', 'abcd'], `chunkBytes=${chunkBytes}`);
      assert.equal(r.stats.oversizedLines, 1);
    }
  });

  it('keeps memory bounded on a 10 MB line: cut, counted, the rest skipped unbuffered', async () => {
    const lineBytes = 10 * 1024 * 1024;
    const path = join(dir, 'huge.log');
    const gzPath = join(dir, 'huge.log.gz');
    // Written in 64 KiB blocks, so the test itself holds no 10 MB buffer to blur the measurement.
    await pipeline(Readable.from(hugeLineBlocks(lineBytes)), createWriteStream(path));
    await pipeline(Readable.from(hugeLineBlocks(lineBytes)), createGzip(), createWriteStream(gzPath));

    const gc = exposeGc();
    for (const p of [path, gzPath]) {
      gc();
      const before = process.memoryUsage();
      let peakArrayBuffers = before.arrayBuffers;
      let peakRss = before.rss;
      let sampling = true;
      // Reads go through the thread pool, so this runs between every two chunks.
      const sample = (): void => {
        gc();
        const m = process.memoryUsage();
        peakArrayBuffers = Math.max(peakArrayBuffers, m.arrayBuffers);
        peakRss = Math.max(peakRss, m.rss);
        if (sampling) setImmediate(sample);
      };
      sample();
      const r = await readAll(p, { maxLineBytes: 4096, chunkBytes: 64 * 1024 });
      sampling = false;

      const growth = peakArrayBuffers - before.arrayBuffers;
      assert.ok(growth < 1024 * 1024, `${p}: Buffer memory grew ${growth} bytes reading a ${lineBytes}-byte line`);
      assert.ok(peakRss - before.rss < lineBytes / 2, `${p}: RSS grew ${peakRss - before.rss} bytes`);
      assert.deepEqual(r.texts, ['before', 'x'.repeat(4096), 'after'], p);
      assert.equal(r.stats.oversizedLines, 1);
      assert.equal(r.stats.bytes, lineBytes + 14);
    }
  });

  it('delivers a partial oversized last line cut in ad-hoc mode', async () => {
    const path = file('long-tail.log', `a\n${'z'.repeat(5000)}`);
    const r = await readAll(path, { maxLineBytes: 100, chunkBytes: 512 });
    assert.deepEqual(r.texts, ['a', 'z'.repeat(100)]);
    assert.deepEqual(r.stats, { lines: 2, bytes: 5002, oversizedLines: 1, endOffset: 5002 });
  });

  it('documents a 64 KiB default line cap', () => {
    assert.equal(DEFAULT_MAX_LINE_BYTES, 64 * 1024);
  });

  it('reads stdin, plain or gzip, when the path is -', async () => {
    const content = 'from\r\nstdin\nno newline';
    for (const [label, data] of [['plain', Buffer.from(content)], ['gzip', gzipSync(content)]] as const) {
      const child = await runChild(readerScript('-'), data);
      assert.equal(child.code, 0, child.stderr);
      const out = JSON.parse(child.stdout) as { compressed: boolean; kind: string; lines: { source: string; lineNo: number; text: string }[] };
      assert.equal(out.compressed, label === 'gzip', label);
      assert.equal(out.kind, 'stream');
      assert.deepEqual(out.lines, [
        { source: '-', lineNo: 1, text: 'from' },
        { source: '-', lineNo: 2, text: 'stdin' },
        { source: '-', lineNo: 3, text: 'no newline' },
      ], label);
    }
  });

  it('reads an empty stdin as no lines', async () => {
    const child = await runChild(readerScript('-'), Buffer.alloc(0));
    assert.deepEqual((JSON.parse(child.stdout) as { lines: unknown[] }).lines, []);
  });

  it('reads a named pipe (as `<(zcat old.gz)` gives) as a stream, gzip detected', { skip: !hasMkfifo() }, async () => {
    const fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const source = file('for-pipe.gz', gzipSync('through\na pipe\n'));
    const writer = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', source, fifo], { stdio: 'ignore' });
    const input = await openInput(fifo);
    try {
      assert.equal(input.kind, 'stream');
      assert.equal(input.compressed, true);
      const texts: string[] = [];
      for await (const batch of readLineBatches(input)) for (const line of batch.lines) texts.push(line.text);
      assert.deepEqual(texts, ['through', 'a pipe']);
    } finally {
      await input.close();
      writer.kill();
    }
  });

  it('lets a consumer stop early, and a reader be iterated only once', async () => {
    const content = 'line\n'.repeat(1000);
    for (const [name, data] of [['early.log', content], ['early.log.gz', gzipSync(content)]] as const) {
      const input = await openInput(file(name, data));
      const reader = readLineBatches(input, { chunkBytes: 64 });
      let batches = 0;
      for await (const batch of reader) {
        assert.ok(batch.lines.length > 0);
        if (++batches === 2) break;
      }
      assert.equal(reader.stats.lines, 25, name);
      assert.throws(() => reader[Symbol.asyncIterator](), /iterated once/);
      await input.close();
    }
  });

  describe('errors are one-line InputErrors naming the path', () => {
    it('missing file', async () => {
      const err = await readError(join(dir, 'maillog'));
      assert.equal(err.message, `cannot read ${join(dir, 'maillog')}: no such file`);
      assert.equal(err.reason, 'no such file');
    });

    it('directory', async () => {
      const sub = join(dir, 'a-dir');
      mkdirSync(sub);
      assert.equal((await readError(sub)).message, `cannot read ${sub}: is a directory`);
    });

    it('unreadable file', async () => {
      const path = file('secret.log', 'x\n');
      chmodSync(path, 0o000);
      if (process.getuid?.() !== 0) {
        assert.equal((await readError(path)).message, `cannot read ${path}: permission denied`);
        return;
      }
      // root reads anything: ask an unprivileged child (nobody) instead.
      const child = await runChild(readerScript(path), Buffer.alloc(0), 65534);
      assert.equal(child.code, 0, child.stderr);
      assert.deepEqual(JSON.parse(child.stdout), { error: `cannot read ${path}: permission denied` });
    });

    it('corrupt gzip', async () => {
      const path = file('corrupt.gz', Buffer.from([0x1f, 0x8b, 0x63, 0x6f, 0x72, 0x72, 0x75, 0x70, 0x74, 0x0a, 0, 0, 0, 0]));
      const err = await readError(path);
      assert.match(err.message, /^cannot read .*corrupt\.gz: corrupt gzip data \(.+\)$/);
    });

    it('truncated gzip', async () => {
      const whole = gzipSync(Buffer.from('line\n'.repeat(10000)));
      const path = file('truncated.gz', whole.subarray(0, whole.length - 20));
      const err = await readError(path);
      assert.equal(err.message, `cannot read ${path}: truncated gzip data`);
    });

    it('keeps control characters of a file name off the message line', async () => {
      const err = await readError(join(dir, 'evil\nname'));
      assert.ok(!err.message.includes('\n'), err.message);
    });
  });
});
