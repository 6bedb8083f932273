/** `sendwatch parse`, spawned as a user runs it: format, per-pattern counts, time decisions, records, lines not understood. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { lineShape, readStamp } from '../../src/cli/parse.js';

const PF = join('fixtures', 'scenarios', 'postfix-compromised', 'input.log');
const KERIO = join('fixtures', 'scenarios', 'kerio-compromised', 'input.log');
const tmp = mkdtempSync(join(tmpdir(), 'sendwatch-parse-'));

/** A year-less syslog file across new year, with one line no parser knows. */
function yearEndLog(): string {
  const path = join(tmp, 'maillog');
  writeFileSync(path, [
    'Dec 31 23:59:58 mx1 postfix/smtpd[1]: connect from unknown[203.0.113.9]',
    'Dec 31 23:59:59 mx1 postfix/anvil[2]: statistics: max connection rate 1/60s for (smtp:203.0.113.9) at Dec 31 23:59:58',
    'Jan  1 00:00:01 mx1 postfix/smtpd[1]: disconnect from unknown[203.0.113.9] ehlo=1 quit=1 commands=2',
    'this is \u001b[31mnot\u001b[0m a log line',
    '',
  ].join('\n'));
  utimesSync(path, new Date('2027-01-01T08:00:00Z'), new Date('2027-01-01T08:00:00Z'));
  return path;
}

describe('parse helpers', () => {
  it('reads stamp styles', () => {
    assert.equal(readStamp('Mar  6 21:19:00 mx postfix/smtpd[1]: x')?.style, 'RFC 3164');
    assert.equal(readStamp('2023-03-14T00:31:06.621091+01:00 mx postfix/smtpd[1]: x')?.zone, '+01:00');
    assert.equal(readStamp('[17/Nov/2026 03:05:01] Recv: x')?.style, 'Kerio');
    assert.equal(readStamp('[17/Nov/2026:00:00:03 +0100] mail1 metermaid[2141]: x')?.zone, '+0100');
    assert.equal(readStamp('17-Nov-2026 01:59:59.20 2e2d tcp_submit')?.style, 'MTA');
    assert.equal(readStamp('<co ts="2026-11-17T01:59:59.20" no="mail1"/>')?.style, 'MTA');
    assert.equal(lineShape('Mar  6 21:19:00 mx postfix/anvil[1]: x'), 'postfix/anvil');
    assert.equal(lineShape('[17/Nov/2026:00:00:03 +0100] mail1 metermaid[2141]: x'), 'metermaid');
  });
});

describe('sendwatch parse (built binary)', () => {
  it('says the format, counts per pattern and program, and the zone written in the stamps', async () => {
    const r = await runCli(['parse', PF]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /format {4}postfix: detected from the first 50 lines, confidence 1\.00/);
    assert.match(r.stdout, /lines {5}2,317: 2,197 recognised \(94\.8 %\), 120 ignored \(5\.2 %\), 0 not understood/);
    assert.match(r.stdout, /^ {4}delivery +1,084 /m);
    assert.match(r.stdout, /^ {4}postfix\/postscreen +120 /m);
    assert.match(r.stdout, /offsets {3}written in the stamps: \+01:00 \(2,197\)/);
    assert.match(r.stdout, /records {3}delivery 1,024, submission 154/);
  });

  it('Kerio: an offset inferred from the log, not the zone given', async () => {
    const r = await runCli(['parse', '--timezone', 'UTC', KERIO]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /offset {4}\+01:00 \(1,268\): inferred by the kerio parser from the log itself, not UTC/);
    const berlin = await runCli(['parse', '--timezone', 'Europe/Berlin', KERIO]);
    assert.match(berlin.stdout, /zone {6}stamps without an offset read in Europe\/Berlin \(--timezone\): \+01:00 \(1,268\)/);
  });

  it('year-less stamps: the year chosen from the file time, the rollover, --year; exit 1 with lines not understood', async () => {
    const log = yearEndLog();
    const r = await runCli(['parse', log]);
    assert.equal(r.code, 1, 'some lines not understood');
    assert.match(r.stdout, /stamps {4}RFC 3164, no year, no zone/);
    assert.match(r.stdout, /year {6}2026 for the first stamp: the year that puts the first stamp no later than a day after the file was last written \(2027-01-01 08:00:00 \+00:00\)/);
    assert.match(r.stdout, /2027 from line 3 on \(Dec -> Jan rollover\)/);
    assert.match(r.stdout, /not understood, per program\n {4}\(other\) +1 +\d+\.\d % +e\.g\. line 4: this is \\x1b\[31mnot/);
    assert.ok(!r.stdout.includes('\u001b'), 'log text is sanitised');
    const y = await runCli(['parse', '--year', '2024', log]);
    assert.match(y.stdout, /year {6}2024 for the first stamp: --year 2024/);
    assert.equal((await runCli(['parse', '--year', 'last', log])).code, 2);
  });

  it('--unrecognised lists the lines, --records prints NDJSON records; the summary moves to stderr', async () => {
    const log = yearEndLog();
    const u = await runCli(['parse', '--unrecognised', log]);
    assert.equal(u.stdout, `${log}:4: this is \\x1b[31mnot\\x1b[0m a log line\n`);
    assert.match(u.stderr, /format {4}postfix/);
    const r = await runCli(['parse', '--records', KERIO]);
    assert.equal(r.code, 0);
    const recs = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(recs.filter((x) => x.kind === 'submission').length, 112);
    const s = recs.find((x) => x.kind === 'submission');
    assert.match(String(s?.time), /^2026-11-17T\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(Array.isArray(s?.evidence));
    assert.match(r.stderr, /records {3}delivery 584, submission 112/);
    const both = await runCli(['parse', '--records', '--unrecognised', log]);
    const kinds = both.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { kind: string }).kind);
    assert.ok(kinds.includes('unrecognised'));
  });

  it('a log no parser knows: exit 3 with one line', async () => {
    const path = join(tmp, 'notes.txt');
    writeFileSync(path, 'hello\nworld\n');
    const r = await runCli(['parse', path]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /cannot tell the log format/);
  });
});
