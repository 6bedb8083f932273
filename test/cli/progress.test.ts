/**
 * The progress bar, seen as a user sees it: a real pseudo-terminal (util-linux `script`)
 * for a terminal run, pipes for cron; and colour in the report only on a terminal.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { runCli } from '../helpers/cli.js';
import { CLI, ROOT } from '../helpers/paths.js';
import { findWorkload, writeLog } from '../bench/generate.js';
import { contentSize, renderProgress } from '../../src/cli/progress.js';

const tmp = mkdtempSync(join(tmpdir(), 'sendwatch-progress-'));
const BIG = join(tmp, 'maillog');
const SCRIPT = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));
const sh = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs the binary in a pseudo-terminal (stdin, stdout and stderr all a tty); returns what the terminal showed. */
function inTerminal(args: readonly string[], env: Record<string, string> = {}): { status: number | null; screen: string } {
  const cmd = [process.execPath, CLI, ...args].map(sh).join(' ');
  const e: Record<string, string | undefined> = { ...process.env, TZ: 'UTC', TERM: 'xterm-256color', COLUMNS: '120', ...env };
  delete e.NO_COLOR;
  delete e.FORCE_COLOR;
  Object.assign(e, env);
  const r = spawnSync(SCRIPT ?? 'script', ['-qfec', cmd, '/dev/null'], { cwd: ROOT, env: e, encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status, screen: r.stdout };
}

describe('progress bar', () => {
  before(async () => {
    // Big enough that a scan takes well over the half second before a bar is shown.
    await writeLog(findWorkload('postfix'), BIG, 7, 12 * 1024 * 1024);
  });

  it('renders bytes done of total, lines/s, time left and the input', () => {
    const line = renderProgress({ bytesDone: 50e6, bytesTotal: 200e6, lines: 300_000, elapsedMs: 1000, name: 'maillog', index: 1, count: 2 }, 120);
    assert.equal(line, '[#####...............]  25%  50.0 MB of 200 MB  300k lines/s  0:03 left  maillog (1/2)');
    assert.ok(renderProgress({ bytesDone: 5e6, bytesTotal: undefined, lines: 10, elapsedMs: 10, name: '-', index: 1, count: 1 }, 120).startsWith('5.0 MB  1000 lines/s'));
    assert.ok(renderProgress({ bytesDone: 1, bytesTotal: 2, lines: 1, elapsedMs: 1, name: 'x'.repeat(300), index: 1, count: 1 }, 40).length <= 40);
  });

  it('knows a gzip file\'s content size from its trailer', () => {
    const text = 'x'.repeat(100_000);
    const gz = join(tmp, 'a.gz');
    writeFileSync(gz, gzipSync(text));
    assert.equal(contentSize(gz), 100_000);
    assert.equal(contentSize('-'), undefined);
    assert.equal(contentSize(join(tmp, 'missing')), undefined);
  });

  it('a terminal sees the bar on stderr while a large scan runs, then it is erased', { skip: SCRIPT ? false : 'no script(1)' }, () => {
    const r = inTerminal(['scan', '--output', 'ndjson', '--min-severity', 'critical', BIG]);
    assert.ok(r.status === 0 || r.status === 1, r.screen.slice(-500));
    const frames = r.screen.split('\r').filter((f) => f.includes('lines/s'));
    assert.ok(frames.length >= 1, `no bar drawn: ${JSON.stringify(r.screen.slice(0, 300))}`);
    const frame = frames[frames.length - 1] ?? '';
    assert.match(frame, /^\[[#.]{20}\] +\d+% {2}[\d.]+ MB of 1\d\.\d MB {2}[\d.]+[kM]? lines\/s {2}\d+:\d\d left {2}\S/);
    assert.ok(r.screen.includes('\r\u001b[K'), 'the bar is erased at the end');
  });

  it('cron and pipes see nothing; --no-progress silences a terminal; --progress forces it', { skip: SCRIPT ? false : 'no script(1)' }, async () => {
    const piped = await runCli(['report', BIG]);
    assert.ok(!piped.stderr.includes('lines/s') && !piped.stderr.includes('\r'), piped.stderr);
    const quiet = inTerminal(['report', '--no-progress', BIG]);
    assert.equal(quiet.status, 0);
    assert.match(quiet.screen, /Authenticated sending per account/);
    assert.ok(!quiet.screen.includes('lines/s'));
    const forced = await runCli(['report', '--progress', join('fixtures', 'scenarios', 'postfix-compromised', 'input.log')]);
    assert.match(forced.stderr, /\r\[#{20}\] 100% .* lines\/s/);
    assert.ok(!forced.stdout.includes('lines/s'), 'never on stdout');
  });
});

describe('colour in a terminal', () => {
  it('report: colour on a terminal, none with NO_COLOR or --no-color, none in a pipe', { skip: SCRIPT ? false : 'no script(1)' }, async () => {
    const args = ['report', '--config', join('fixtures', 'scenarios', 'postfix-compromised', 'config.json'), join('fixtures', 'scenarios', 'postfix-compromised', 'input.log')];
    const tty = inTerminal(args);
    assert.equal(tty.status, 0);
    assert.ok(tty.screen.includes('\u001b[1m'), 'bold header');
    assert.match(tty.screen, /\u001b\[31m *█/, 'the 02:00 burst in red: outside office hours');
    assert.ok(!inTerminal(args, { NO_COLOR: '1' }).screen.includes('\u001b[1m'));
    assert.ok(!inTerminal([...args, '--no-color']).screen.includes('\u001b[31m'));
    assert.ok(!(await runCli(args)).stdout.includes('\u001b['));
  });
});

