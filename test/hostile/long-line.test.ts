/**
 * A line of any length: a 10 MB line with no newline through the built binary. The run
 * completes, stderr says the line was cut (at DEFAULT_MAX_LINE_BYTES, 64 KiB), the
 * lines around it are still read, and the process's peak RSS grows by far less than the
 * line's size over a run on a small file (the reader skips the tail of an over-long line
 * without buffering it).
 *
 * Peak RSS comes from `/usr/bin/time -f %M` (the kernel's max RSS of the child), else
 * from polling /proc/<pid>/status VmHWM; without either the test is skipped.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { DEFAULT_MAX_LINE_BYTES } from '../../src/sources/lines.js';
import { CLI, ROOT } from '../helpers/paths.js';
import { writeTemp } from './logs.js';

const MB = 1024 * 1024;
const LINE_BYTES = 10 * MB;
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const PROC = existsSync('/proc/self/status');

const HEAD = '2026-02-02T08:00:00.000000+00:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]\n';
const LONG_PREFIX = '2026-02-02T08:00:01.000000+00:00 mx1 postfix/submission/smtpd[2]: 4QABCDEF: client=unknown[192.0.2.1], sasl_method=PLAIN, sasl_username=';

interface Run {
  readonly code: number | null;
  readonly stderr: string;
  /** Peak resident set size, KiB. */
  readonly peakKb: number;
}

/** Runs `scan` on `args`, feeding `stdin` (a Buffer, or a generator of chunks) if given, and measures peak RSS. */
function measuredScan(args: readonly string[], stdin?: Buffer | (() => Generator<Buffer>)): Promise<Run> {
  const node = [process.execPath, CLI, 'scan', '--format', 'postfix', '--verbose', ...args];
  const [cmd, ...rest] = TIME ? [TIME, '-f', 'MAXRSS %M', ...node] : node;
  const child = spawn(cmd ?? process.execPath, rest, { cwd: ROOT, env: { ...process.env, TZ: 'UTC' }, stdio: ['pipe', 'ignore', 'pipe'] });
  let polled = 0;
  const poll = TIME || !PROC ? undefined : setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid ?? 0}/status`, 'utf8'));
      if (m?.[1] !== undefined) polled = Math.max(polled, Number(m[1]));
    } catch {
      // gone already
    }
  }, 5);
  const err: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => err.push(b));
  child.stdin.on('error', () => undefined);
  if (stdin === undefined) child.stdin.end();
  else if (Buffer.isBuffer(stdin)) child.stdin.end(stdin);
  else {
    const chunks = stdin();
    const pump = (): void => {
      for (let r = chunks.next(); r.done !== true; r = chunks.next()) {
        if (!child.stdin.write(r.value)) {
          child.stdin.once('drain', pump);
          return;
        }
      }
      child.stdin.end();
    };
    pump();
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      const stderr = Buffer.concat(err).toString('utf8');
      const m = /^MAXRSS (\d+)$/m.exec(stderr);
      resolve({ code, stderr: stderr.replace(/^MAXRSS \d+\n?/m, ''), peakKb: m?.[1] !== undefined ? Number(m[1]) : polled });
    });
  });
}

function* longLine(bytes: number): Generator<Buffer> {
  yield Buffer.from(HEAD + LONG_PREFIX);
  const chunk = Buffer.alloc(MB, 'A');
  for (let left = bytes; left > 0; left -= chunk.length) yield left >= chunk.length ? chunk : chunk.subarray(0, left);
}

const skip = TIME === undefined && !PROC ? 'neither /usr/bin/time nor /proc to measure peak RSS' : false;

describe('a 10 MB line without a newline', { skip }, () => {
  it('is cut at the documented maximum, counted, and costs far less memory than its size (file)', async (t) => {
    assert.equal(DEFAULT_MAX_LINE_BYTES, 64 * 1024, 'the documented maximum');
    const small = writeTemp('small.log', Buffer.concat([...longLine(100)]));
    const big = writeTemp('big.log', Buffer.concat([...longLine(LINE_BYTES)]));
    // Baseline and the long line, each twice, alternately: the lower of each pair.
    const runs: Run[] = [];
    for (const path of [small, big, small, big]) runs.push(await measuredScan([path]));
    const [s1, b1, s2, b2] = runs;
    assert.ok(s1 && b1 && s2 && b2);
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    assert.match(b1.stderr, /big\.log: postfix \(forced\), 2 lines:/, 'both lines are read');
    assert.match(b1.stderr, /big\.log: 1 over-long lines were cut/);
    assert.doesNotMatch(s1.stderr, /over-long/);
    const growthKb = Math.min(b1.peakKb, b2.peakKb) - Math.min(s1.peakKb, s2.peakKb);
    assert.ok(s1.peakKb > 0, 'peak RSS was measured');
    t.diagnostic(`file: peak RSS ${Math.min(s1.peakKb, s2.peakKb)} KiB with a 100-byte line, ${Math.min(b1.peakKb, b2.peakKb)} KiB with a ${LINE_BYTES / MB} MB line`);
    // Buffering the line would cost at least its 10 MB (twice, as bytes and as a string).
    assert.ok(growthKb < LINE_BYTES / 1024 / 2, `peak RSS grew by ${growthKb} KiB for a ${LINE_BYTES / MB} MB line (baseline ${Math.min(s1.peakKb, s2.peakKb)} KiB)`);
  });

  it('read from a pipe, the same line is cut and counted too; memory stays bounded', async (t) => {
    const base = await measuredScan(['-'], () => longLine(100));
    const big = await measuredScan(['-'], () => longLine(LINE_BYTES));
    assert.equal(big.code, 0, big.stderr);
    assert.match(big.stderr, /-: 1 over-long lines were cut/);
    const growthKb = big.peakKb - base.peakKb;
    t.diagnostic(`pipe: peak RSS ${base.peakKb} KiB with a 100-byte line, ${big.peakKb} KiB with a ${LINE_BYTES / MB} MB line`);
    // Stream chunks are fresh buffers that V8 collects lazily, so a pipe costs more than a file, but never the line twice over.
    assert.ok(growthKb < (2 * LINE_BYTES) / 1024, `peak RSS grew by ${growthKb} KiB for a ${LINE_BYTES / MB} MB line on a pipe`);
  });
});
