/**
 * Cron mode end to end: the built binary run as cron would, over real files that grow
 * and rotate, with a recording `sendmail` and a real SMTP server on loopback.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { runCli, type CliResult } from '../helpers/cli.js';
import { repoPath } from '../helpers/paths.js';

const LOG = readFileSync(repoPath('fixtures', 'scenarios', 'postfix-compromised', 'input.log'), 'utf8');
const LINES = LOG.split('\n').filter((l) => l !== '');

interface Site {
  dir: string;
  log: string;
  config: string;
  state: string;
  mails: string;
}

/** A fake `sendmail -t -i` that appends each message it gets to a file, or fails with 75. */
function fakeSendmail(dir: string): string {
  const path = join(dir, 'sendmail');
  writeFileSync(path, `#!/bin/sh\nif [ -e "${dir}/sendmail-down" ]; then echo "sendmail: cannot connect" >&2; exit 75; fi\n{ cat; echo "=====END====="; } >> "${dir}/mails.txt"\n`);
  chmodSync(path, 0o755);
  return path;
}

function site(extra: Record<string, unknown> = {}, alerts: Record<string, unknown> | null = {}): Site {
  const dir = mkdtempSync(join(tmpdir(), 'sendwatch-run-'));
  const log = join(dir, 'maillog');
  writeFileSync(log, '');
  const state = join(dir, 'state', 'state.json');
  const config = join(dir, 'config.json');
  const sendmail = fakeSendmail(dir);
  const cfg = {
    timezone: 'Europe/Berlin', defaultDomain: 'example.edu',
    sources: [{ path: log, format: 'postfix' }],
    state: { path: state },
    ...(alerts === null ? {} : { alerts: { to: ['postmaster@example.edu'], from: 'sendwatch@mx1.example.edu', hostname: 'mx1', transport: { type: 'sendmail', path: sendmail }, ...alerts } }),
    ...extra,
  };
  writeFileSync(config, JSON.stringify(cfg, null, 2));
  return { dir, log, config, state, mails: join(dir, 'mails.txt') };
}

const run = (s: Site, ...args: string[]): Promise<CliResult> => runCli(['run', '--config', s.config, ...args]);

function mails(s: Site): string[] {
  if (!existsSync(s.mails)) return [];
  return readFileSync(s.mails, 'utf8').split('=====END=====\n').filter((m) => m.trim() !== '');
}

/** Quoted-printable, as nodemailer encodes long lines: soft breaks and =XX escapes. */
function decodeQp(s: string): string {
  return s.replace(/=\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** `account rule severity` for every alert in every mail, from the digest's text. */
function alertsIn(s: Site): string[] {
  const out: string[] = [];
  for (const m of mails(s)) {
    let account = '';
    for (const line of decodeQp(m).split('\n')) {
      const head = /^\d+\. (\S+) {2}\[/.exec(line);
      if (head) account = head[1] ?? '';
      const a = /^ {2}(CRITICAL|WARNING|INFO) {2}(\S+)/.exec(line);
      if (a) out.push(`${account} ${a[2] ?? ''} ${a[1] ?? ''}`);
    }
  }
  return out;
}

function ndjson(stdout: string): Record<string, unknown>[] {
  return stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A finding without the fields that legitimately differ between a scan and cron runs. */
const comparable = (f: Record<string, unknown>): string => {
  const rest = Object.fromEntries(Object.entries(f).filter(([k]) => k !== 'reason' && k !== 'evidence'));
  const evidence = f.evidence as { line: number; text: string }[];
  return JSON.stringify({ ...rest, evidence: (evidence as { line: number; text: string }[]).map((e) => [e.line, e.text]) });
};

describe('sendwatch run: incremental reading equals one scan', () => {
  for (const chunks of [2, 6, 17]) {
    it(`${chunks} appended chunks, a run after each, find exactly what one scan finds`, async () => {
      const s = site({}, { minSeverity: 'info', cooldownHours: 0 });
      const found: Record<string, unknown>[] = [];
      for (let i = 0; i < chunks; i++) {
        const part = LINES.slice(Math.floor((i * LINES.length) / chunks), Math.floor(((i + 1) * LINES.length) / chunks));
        appendFileSync(s.log, `${part.join('\n')}\n`);
        const r = await run(s, '--output', 'ndjson', ...(i === 0 ? ['--from-start'] : []));
        assert.ok(r.code === 0 || r.code === 1, r.stderr);
        assert.equal(r.stderr, '');
        found.push(...ndjson(r.stdout));
      }
      const scan = await runCli(['scan', '--config', s.config, '--format', 'postfix', '--output', 'ndjson', '--findings', s.log]);
      const expected = ndjson(scan.stdout);
      assert.ok(expected.length >= 5);
      assert.deepEqual(found.map(comparable), expected.map(comparable));
    });
  }

  it('a partial last line is left for the next run, and a message straddling runs is joined', async () => {
    const s = site({}, { minSeverity: 'info', cooldownHours: 0 });
    const cut = LOG.indexOf('sasl_username=frank@example.edu') + 10;
    writeFileSync(s.log, LOG.slice(0, cut));
    const first = await run(s, '--output', 'ndjson', '--from-start');
    appendFileSync(s.log, LOG.slice(cut));
    const second = await run(s, '--output', 'ndjson');
    const scan = await runCli(['scan', '--config', s.config, '--format', 'postfix', '--output', 'ndjson', '--findings', s.log]);
    assert.deepEqual([...ndjson(first.stdout), ...ndjson(second.stdout)].map(comparable), ndjson(scan.stdout).map(comparable));
  });
});

describe('sendwatch run: alerts once, by e-mail', () => {
  it('six runs over a growing log with a rotation: one digest for the hijack, one more when it escalates', async () => {
    const s = site();
    // Six slices of the day; the log is rotated (renamed and recreated) after the third run.
    const bounds = [0.3, 0.46, 0.5, 0.53, 0.56, 1].map((f) => Math.floor(f * LINES.length));
    let from = 0;
    const codes: (number | null)[] = [];
    for (const [i, to] of bounds.entries()) {
      if (i === 3) {
        renameSync(s.log, `${s.log}.1`);
        writeFileSync(s.log, '');
      }
      appendFileSync(s.log, `${LINES.slice(from, to).join('\n')}\n`);
      from = to;
      const r = await run(s, ...(i === 0 ? ['--from-start'] : []));
      assert.equal(r.stdout, '', 'cron mode is silent on stdout when it mails');
      assert.equal(r.stderr, '');
      codes.push(r.code);
    }
    const sent = mails(s);
    assert.ok(sent.length >= 1 && sent.length <= 3, `${sent.length} mails`);
    const first = sent[0] ?? '';
    assert.match(first, /^Subject: \[sendwatch\] (WARNING|CRITICAL): 1 account looks compromised on mx1$/m);
    assert.match(first, /^Auto-Submitted: auto-generated$/m);
    assert.match(first, /frank@example\.edu/);
    // Every later mail is an escalation, never the same alert again.
    for (const m of sent.slice(1)) assert.match(m, /escalat|CRITICAL/i);
    const critical = sent.filter((m) => /^Subject: \[sendwatch\] CRITICAL/m.test(m));
    assert.ok(critical.length >= 1, 'the critical escalation was mailed');
    assert.ok(codes.includes(1));
    // Quiet runs afterwards send nothing more.
    const again = await run(s);
    assert.deepEqual([again.code, again.stdout, mails(s).length], [0, '', sent.length]);
  });

  it('sendmail failing keeps the digest in the outbox (exit 3), the next run sends it', async () => {
    const s = site();
    writeFileSync(join(s.dir, 'sendmail-down'), '');
    appendFileSync(s.log, LOG);
    const down = await run(s, '--from-start');
    assert.equal(down.code, 3);
    assert.match(down.stderr, /^sendwatch: alert e-mail not sent: .*75.*; 1 digest\(s\) kept in the outbox for the next run$/m);
    assert.equal(mails(s).length, 0);
    const state = JSON.parse(readFileSync(s.state, 'utf8')) as { outbox: unknown[] };
    assert.equal(state.outbox.length, 1);
    const { rmSync } = await import('node:fs');
    rmSync(join(s.dir, 'sendmail-down'));
    const up = await run(s);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(mails(s).length, 1);
    assert.match(mails(s)[0] ?? '', /frank@example\.edu/);
  });

  it('without an alerts section, new alerts go to stdout (cron mails them); nothing new: silence', async () => {
    const s = site({}, null);
    appendFileSync(s.log, LOG);
    const r = await run(s, '--from-start');
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^frank@example\.edu {2}CRITICAL/m);
    const quiet = await run(s);
    assert.deepEqual([quiet.code, quiet.stdout, quiet.stderr], [0, '', '']);
  });
});

/** The rules' windows as saved, with the site's directory taken out of evidence paths. */
function rulesOf(x: Site): string {
  return JSON.stringify((JSON.parse(readFileSync(x.state, 'utf8')) as { rules: unknown }).rules).replaceAll(x.dir, 'DIR');
}

describe('sendwatch run: the first run', () => {
  it('starts one window before the end, dating year-less stamps from the log\'s modification time as the reading does', async () => {
    // Two days of a submission server writing classic stamps, then a host writing RFC 3339
    // ones: read in another year, the classic stamps must not land in that year.
    const s = site({ timezone: 'UTC' }, null);
    const lines: string[] = [];
    for (let h = 0; h < 48; h++) {
      const day = 1 + Math.floor(h / 24);
      lines.push(`Mar  ${day} ${String(h % 24).padStart(2, '0')}:00:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]`);
    }
    lines.push('2024-03-02T23:30:00.000000+00:00 mx2 postfix/smtpd[2]: connect from unknown[192.0.2.2]');
    writeFileSync(s.log, `${lines.join('\n')}\n`);
    const mtime = new Date('2024-03-02T23:30:01Z');
    utimesSync(s.log, mtime, mtime);
    const r = await runCli(['run', '--config', s.config, '--verbose'], { env: { SENDWATCH_NOW: '2026-11-22T08:00:00Z' } });
    assert.equal(r.code, 0, r.stderr);
    // The longest window is a day: from Mar 1 23:30 on, 24 classic lines and the last one.
    assert.match(r.stderr, /maillog: postfix, 25 new lines/);
  });
});

describe('sendwatch run: nothing new', () => {
  it('leaves the state file as it was, and later runs find what they would have found without the quiet ones', async () => {
    const ref = site({}, { minSeverity: 'info', cooldownHours: 0 });
    const s = site({}, { minSeverity: 'info', cooldownHours: 0 });
    const half = Math.floor(LINES.length * 0.5);
    for (const x of [ref, s]) {
      appendFileSync(x.log, LINES.slice(0, half).join('\n') + '\n');
      await run(x, '--from-start');
    }
    const saved = readFileSync(s.state);
    const ino = statSync(s.state).ino;
    for (let i = 0; i < 2; i++) {
      const quiet = await run(s);
      assert.deepEqual([quiet.code, quiet.stdout, quiet.stderr], [0, '', '']);
    }
    assert.equal(statSync(s.state).ino, ino, 'not rewritten');
    assert.deepEqual(readFileSync(s.state), saved);
    // --verbose still reports the log, through a full run.
    const verbose = await run(s, '--verbose');
    assert.match(verbose.stderr, /maillog: postfix, 0 new lines/);
    // A log touched without growing gets a full run, which takes the new time into the cursor.
    const untouched = statSync(s.log).mtimeMs;
    const touchedAt = new Date(untouched + 60_000);
    utimesSync(s.log, touchedAt, touchedAt);
    const touched = await run(s);
    assert.equal(touched.code, 0, touched.stderr);
    const cursor = (JSON.parse(readFileSync(s.state, 'utf8')) as { sources: Record<string, { cursor: { mtimeMs: number } }> }).sources[s.log]?.cursor;
    assert.equal(cursor?.mtimeMs, statSync(s.log).mtimeMs);
    assert.notEqual(cursor?.mtimeMs, untouched);
    for (const x of [ref, s]) {
      appendFileSync(x.log, LINES.slice(half).join('\n') + '\n');
      await run(x);
    }
    assert.deepEqual(alertsIn(s), alertsIn(ref));
    assert.ok(alertsIn(ref).length > 3);
    assert.equal(rulesOf(s), rulesOf(ref));
  });

  it('a changed format in the config, or a log not read yet, gets a full run', async () => {
    const s = site({}, null);
    appendFileSync(s.log, LINES.slice(0, 50).join('\n') + '\n');
    await run(s, '--from-start');
    const ino = statSync(s.state).ino;
    const other = join(s.dir, 'other.log');
    writeFileSync(other, '');
    const cfg = JSON.parse(readFileSync(s.config, 'utf8')) as { sources: { path: string; format?: string }[] };
    writeFileSync(s.config, JSON.stringify({ ...cfg, sources: [...cfg.sources, { path: other, format: 'postfix' }] }));
    const added = await run(s);
    assert.equal(added.code, 0, added.stderr);
    assert.notEqual(statSync(s.state).ino, ino);
    const withOther = statSync(s.state).ino;
    writeFileSync(s.config, JSON.stringify({ ...cfg, sources: [{ path: s.log, format: 'kerio' }, { path: other, format: 'postfix' }] }));
    const changed = await run(s);
    assert.equal(changed.code, 0, changed.stderr);
    assert.notEqual(statSync(s.state).ino, withOther);
    const formats = (JSON.parse(readFileSync(s.state, 'utf8')) as { sources: Record<string, { format?: string }> }).sources;
    assert.equal(formats[s.log]?.format, 'kerio');
  });
});

describe('sendwatch run: state, lock and crashes', () => {
  it('a second run while one holds the lock exits 4 and changes nothing; a dead run\'s lock is taken over', async () => {
    const s = site();
    appendFileSync(s.log, LINES.slice(0, 100).join('\n') + '\n');
    await run(s, '--from-start');
    const before = readFileSync(s.state, 'utf8');
    const sleeper = spawn('sleep', ['30']);
    writeFileSync(`${s.state}.lock`, `${sleeper.pid ?? 0}\n`);
    appendFileSync(s.log, LINES.slice(100, 200).join('\n') + '\n');
    const locked = await run(s);
    sleeper.kill();
    assert.equal(locked.code, 4);
    assert.match(locked.stderr, /another sendwatch run \(pid \d+\) holds .*state\.json\.lock; nothing done/);
    assert.equal(readFileSync(s.state, 'utf8'), before);
    // The holder is gone now: its lock is stale.
    await new Promise((r) => setTimeout(r, 100));
    const after = await run(s);
    assert.ok(after.code === 0 || after.code === 1, after.stderr);
    assert.equal(existsSync(`${s.state}.lock`), false);
  });

  it('a corrupt state file is moved aside and reported, and the run goes on', async () => {
    const s = site();
    appendFileSync(s.log, LINES.slice(0, 50).join('\n') + '\n');
    await run(s, '--from-start');
    writeFileSync(s.state, '{"version":1,"updat');
    const r = await run(s);
    assert.match(r.stderr, /state .*state\.json was not valid JSON: moved aside to .*state\.json\.corrupt-\S+; starting with fresh state/);
    assert.ok(readdirSync(join(s.dir, 'state')).some((f) => f.startsWith('state.json.corrupt-')));
    assert.ok(existsSync(s.state));
  });

  it('the state file is 0600 and its directory is created 0700', async () => {
    const s = site();
    appendFileSync(s.log, LINES.slice(0, 50).join('\n') + '\n');
    await run(s, '--from-start');
    assert.equal(statSync(s.state).mode & 0o777, 0o600);
    assert.equal(statSync(join(s.dir, 'state')).mode & 0o777, 0o700);
  });

  for (const point of ['after-lock', 'mid-read', 'after-state-write', 'mid-send', 'after-send']) {
    it(`killed with SIGKILL ${point}: the next run counts every line once and delivers every alert`, async () => {
      const ref = site({}, { minSeverity: 'info', cooldownHours: 0 });
      const s = site({}, { minSeverity: 'info', cooldownHours: 0 });
      const half = Math.floor(LINES.length * 0.5);
      for (const x of [ref, s]) appendFileSync(x.log, LINES.slice(0, half).join('\n') + '\n');
      await run(ref, '--from-start');
      const crashed = await runCli(['run', '--config', s.config, '--from-start'], { env: { SENDWATCH_FAULT: point } });
      assert.equal(crashed.code, null, 'killed');
      for (const x of [ref, s]) appendFileSync(x.log, LINES.slice(half).join('\n') + '\n');
      await run(ref);
      const r = await run(s);
      assert.ok(r.code === 0 || r.code === 1, r.stderr);
      // Every alert the uninterrupted run mailed was mailed (a crash may send one twice).
      assert.deepEqual(new Set(alertsIn(s)), new Set(alertsIn(ref)));
      assert.ok(alertsIn(ref).length > 3);
      // Lines counted once: the rule windows end in the same state.
      assert.equal(rulesOf(s), rulesOf(ref));
    });
  }
});

describe('sendwatch state', () => {
  it('show summarises cursors, rules and alerts; reset moves the file aside', async () => {
    const s = site();
    // A message still open at the end: the parser's state (saved apart from the cursor) has it.
    appendFileSync(s.log, `${LOG}2026-11-17T17:59:00.000000+01:00 mx1 postfix/submission/smtpd[20031]: 4Q3llwf1WFzZZZ9: client=pc4.example.edu[10.1.2.14], sasl_method=PLAIN, sasl_username=erin@example.edu\n`);
    await run(s, '--from-start');
    const show = await runCli(['state', 'show', '--config', s.config]);
    assert.equal(show.code, 0);
    assert.match(show.stdout, /maillog: postfix, read to byte \d+ of \d+ \(line \d+\), inode \d+, [1-9]\d* open messages/);
    assert.match(show.stdout, /sends-per-account: \d+ accounts tracked/);
    // Each rule counts its accounts, not a site-wide list that comes first (countries' counts per country).
    const saved = JSON.parse(readFileSync(s.state, 'utf8')) as { rules: Record<string, { accounts?: unknown[]; rows?: unknown[] }> };
    for (const [rule, section] of Object.entries(saved.rules)) {
      const list = section.accounts ?? section.rows;
      if (list) assert.match(show.stdout, new RegExp(`${rule}: ${list.length} accounts tracked`));
    }
    assert.match(show.stdout, /countries: [1-9]\d* accounts tracked/);
    assert.match(show.stdout, /alerts remembered: [1-9]/);
    const reset = await runCli(['state', 'reset', '--config', s.config]);
    assert.equal(reset.code, 0);
    assert.match(reset.stderr, /state moved aside to .*state\.json\.reset-/);
    assert.equal(existsSync(s.state), false);
  });
});
