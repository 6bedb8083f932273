/**
 * End to end with the built binary: attacker-written log fields carrying terminal
 * escapes (clear screen, OSC 52 clipboard writes), CR, TAB, NUL, DEL, C1 controls and
 * bidi overrides never reach a terminal, a TSV column or an alert e-mail raw.
 *
 *  - `scan` text output: no control character but the `\n` line ends; on a terminal
 *    (a pty, colours forced) every ESC starts an SGR colour sequence sendwatch wrote;
 *  - TSV: every row one line of exactly six columns, as many rows as NDJSON objects;
 *  - NDJSON: one JSON object per line, evidence quoted verbatim (forensics keep the
 *    bytes), and nothing a terminal would act on left raw in the text;
 *  - the digest e-mail of a cron run (recording fake sendmail): exactly the expected
 *    header names, one Subject line, printable ASCII headers, no control character in
 *    the decoded body;
 *  - stderr, also with --verbose (which lists lines not understood).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliResult } from '../helpers/cli.js';
import { CLI, ROOT } from '../helpers/paths.js';
import { hostileLogs, PAYLOAD, writeTemp, type HostileLog } from './logs.js';

/** Every C0 control but `\n`, DEL, C1, and the bidi embeddings, overrides and isolates. */
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
/** The same, TAB allowed (the TSV separator). */
const CONTROL_BUT_TAB = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
/** The OSC 52 of the payload once sanitised: proof that hostile text reached the output. */
const MARK = '\\x1b]52;';

/** Where a control character sits, shown escaped, or undefined when there is none. */
function firstControl(s: string, re = CONTROL): string | undefined {
  const m = re.exec(s);
  if (!m) return undefined;
  return `U+${(m[0].codePointAt(0) ?? 0).toString(16).padStart(4, '0')} at ${m.index}: ${JSON.stringify(s.slice(Math.max(0, m.index - 80), m.index + 20))}`;
}

function assertClean(s: string, what: string, re = CONTROL): void {
  const found = firstControl(s, re);
  assert.equal(found, undefined, `raw control character in ${what}: ${found ?? ''}`);
}

interface Prepared extends HostileLog {
  readonly path: string;
  readonly lines: ReadonlySet<string>;
}

/** One line no parser understands, with the payload: --verbose lists it. */
const GARBAGE = `garbage ${PAYLOAD} end`;

const logs: Prepared[] = hostileLogs().map((h) => {
  const text = `${h.text.replace(/\n$/, '')}\n${GARBAGE}\n`;
  return { ...h, path: writeTemp(`${h.name}.log`, text), lines: new Set(text.split('\n')) };
});

const scan = (h: Prepared, ...args: string[]): Promise<CliResult> =>
  runCli(['scan', '--config', h.config, '--format', h.format, ...args, h.path]);

function ndjsonObjects(stdout: string): Record<string, unknown>[] {
  const lines = stdout.split('\n');
  assert.equal(lines.pop(), '', 'NDJSON ends with a newline');
  return lines.map((l, i) => {
    let v: unknown;
    assert.doesNotThrow(() => {
      v = JSON.parse(l);
    }, `line ${i + 1} is not JSON: ${l.slice(0, 200)}`);
    assert.ok(typeof v === 'object' && v !== null && !Array.isArray(v), `line ${i + 1} is not an object`);
    return v as Record<string, unknown>;
  });
}

interface EvidenceJson {
  readonly source: string;
  readonly line: number;
  readonly text: string;
}

describe('hostile log fields: scan output', () => {
  for (const h of logs) {
    describe(h.name, () => {
      for (const mode of ['findings', 'incidents'] as const) {
        const extra = mode === 'findings' ? ['--findings'] : [];

        it(`text (${mode}): only printable text and line ends; the payload shown escaped`, async () => {
          const r = await scan(h, ...extra);
          assert.equal(r.code, 1, r.stderr);
          assertClean(r.stdout, 'stdout');
          assertClean(r.stderr, 'stderr');
          assert.ok(r.stdout.includes(MARK), 'the hostile text reached the output (escaped)');
        });

        it(`tsv and ndjson (${mode}): six columns on one line per row; one JSON object per line`, async () => {
          const [tsv, nd] = await Promise.all([scan(h, ...extra, '--output', 'tsv'), scan(h, ...extra, '--output', 'ndjson')]);
          assert.equal(tsv.code, 1, tsv.stderr);
          assert.equal(nd.code, 1, nd.stderr);
          assertClean(tsv.stdout, 'TSV', CONTROL_BUT_TAB);
          const rows = tsv.stdout.split('\n');
          assert.equal(rows.pop(), '', 'TSV ends with a newline');
          for (const [i, row] of rows.entries()) assert.equal(row.split('\t').length, 6, `TSV row ${i + 1}: ${row.slice(0, 200)}`);
          assert.ok(tsv.stdout.includes(MARK), 'the hostile text reached the TSV (escaped)');

          const objects = ndjsonObjects(nd.stdout);
          assert.equal(rows.length, objects.length, 'as many TSV rows as NDJSON objects');
          assert.ok(objects.length > 0);
          // Evidence is quoted byte for byte (forensics), and some of it is hostile.
          let hostile = 0;
          for (const o of objects) {
            for (const e of o.evidence as EvidenceJson[]) {
              assert.ok(h.lines.has(e.text), `evidence is a line of the log: ${JSON.stringify(e.text).slice(0, 200)}`);
              if (CONTROL.test(e.text)) hostile++;
            }
          }
          assert.ok(hostile > 0, 'some evidence carries the payload');
          // JSON escapes C0 itself; C1 controls and bidi overrides must be escaped too (\u0085), or a terminal acts on them.
          assertClean(nd.stdout, 'NDJSON');
        });
      }
    });
  }

  // A not-understood line's ESC, OSC 52, CR... must not reach the terminal through --verbose either.
  it('--verbose lists the lines not understood on stderr, escaped', async () => {
    const h = logs[0];
    assert.ok(h);
    const r = await scan(h, '--verbose');
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.includes('garbage'), 'the line is listed');
    assertClean(r.stderr, 'stderr of --verbose');
  });
});

describe('hostile log fields: report output', () => {
  for (const h of logs.filter((l) => ['postfix', 'kerio', 'mta-format4'].includes(l.name))) {
    it(`${h.name}: text and tsv`, async () => {
      const [text, tsv] = await Promise.all([
        runCli(['report', '--config', h.config, '--format', h.format, h.path]),
        runCli(['report', '--config', h.config, '--format', h.format, '--output', 'tsv', h.path]),
      ]);
      assert.equal(text.code, 0, text.stderr);
      assertClean(text.stdout, 'report text');
      assertClean(tsv.stdout, 'report TSV', CONTROL_BUT_TAB);
      const rows = tsv.stdout.split('\n').filter((l) => l !== '');
      const columns = new Set(rows.map((r) => r.split('\t').length));
      assert.equal(columns.size, 1, 'every report TSV row has the same number of columns');
    });
  }
});

/** `script` runs a command on a pseudo-terminal: the way to see what a terminal user sees. */
const SCRIPT = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));
const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

describe('hostile log fields on a terminal (pty, colours forced)', () => {
  for (const h of logs.filter((l) => l.name === 'postfix' || l.name === 'metermaid')) {
    it(`${h.name}: every ESC on the terminal starts an SGR colour sequence of sendwatch's`, { skip: SCRIPT === undefined ? 'no script(1) here' : false }, () => {
      const cmd = [process.execPath, CLI, 'scan', '--findings', '--config', h.config, '--format', h.format, h.path].map(shellQuote).join(' ');
      const env: Record<string, string | undefined> = { ...process.env, TZ: 'UTC', FORCE_COLOR: '1', TERM: 'xterm-256color' };
      delete env.NO_COLOR;
      const r = spawnSync(SCRIPT ?? 'script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
      assert.equal(r.status, 1, `${r.stdout.slice(0, 500)}${r.stderr}`);
      // The pty turns each \n into \r\n.
      const out = r.stdout.replace(/\r\n/g, '\n');
      const sgr = out.match(/\x1b\[[0-9;]*m/g) ?? [];
      assert.ok(sgr.length > 0, 'colours were on: the terminal path was taken');
      assertClean(out.replace(/\x1b\[[0-9;]*m/g, ''), 'terminal output (SGR sequences removed)');
      assert.ok(out.includes(MARK));
    });
  }
});

// ---------------------------------------------------------------------------- the digest

/** A fake `sendmail -t -i` that appends each message it gets to a file. */
function cronSite(h: HostileLog): { config: string; mails: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sendwatch-hostile-run-'));
  const log = join(dir, 'maillog');
  writeFileSync(log, h.text);
  const sendmail = join(dir, 'sendmail');
  writeFileSync(sendmail, `#!/bin/sh\n{ cat; echo "=====END====="; } >> "${dir}/mails.txt"\n`);
  chmodSync(sendmail, 0o755);
  const base = JSON.parse(readFileSync(h.config, 'utf8')) as Record<string, unknown>;
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({
    ...base,
    sources: [{ path: log, format: h.format }],
    state: { path: join(dir, 'state', 'state.json') },
    alerts: { to: ['postmaster@example.edu'], from: 'sendwatch@mx1.example.edu', hostname: 'mx1', transport: { type: 'sendmail', path: sendmail }, minSeverity: 'info' },
  }, null, 2));
  return { config, mails: join(dir, 'mails.txt') };
}

/** Quoted-printable body to text: soft breaks dropped, `=XX` bytes decoded as UTF-8. */
function decodeQp(s: string): string {
  const bytes: number[] = [];
  const flat = s.replace(/=\r?\n/g, '');
  for (let i = 0; i < flat.length; i++) {
    const hex = flat.slice(i + 1, i + 3);
    if (flat[i] === '=' && /^[0-9A-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(flat[i] ?? '', 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

const HEADERS = ['Auto-Submitted', 'Content-Transfer-Encoding', 'Content-Type', 'Date', 'From', 'MIME-Version', 'Message-ID', 'Subject', 'To', 'X-Auto-Response-Suppress'];

describe('hostile log fields: the digest e-mail', () => {
  for (const h of logs.filter((l) => l.name === 'postfix' || l.name === 'kerio' || l.name === 'mta-format4' || l.name === 'metermaid')) {
    it(`${h.name}: no header injection, no control character in the body`, async () => {
      const site = cronSite(h);
      const r = await runCli(['run', '--config', site.config, '--from-start']);
      assert.equal(r.code, 1, r.stderr);
      assertClean(r.stderr, 'stderr');
      const mails = readFileSync(site.mails, 'utf8').split('=====END=====\n').filter((m) => m.trim() !== '');
      assert.equal(mails.length, 1);
      const raw = mails[0] ?? '';
      const split = raw.indexOf('\n\n');
      assert.ok(split > 0, 'a header block and a body');
      const head = raw.slice(0, split);
      assert.match(head, /^[\x20-\x7e\n\t]*$/, 'headers are printable ASCII');
      // Unfold continuation lines, then every line is one header.
      const fields = head.replace(/\n[ \t]+/g, ' ').split('\n');
      const names = fields.map((f) => /^([!-9;-~]+):/.exec(f)?.[1] ?? `(not a header: ${f})`);
      assert.deepEqual([...names].sort(), HEADERS);
      const subject = fields.filter((f) => f.startsWith('Subject:'));
      assert.equal(subject.length, 1);
      assert.match(subject[0] ?? '', /^Subject: \[sendwatch\] (CRITICAL|WARNING|INFO): \d+ accounts? (looks?|may be|shows?) [a-z ]+ on mx1$/);
      const encoding = /^Content-Transfer-Encoding: (.+)$/m.exec(head)?.[1];
      const body = encoding === 'quoted-printable' ? decodeQp(raw.slice(split + 2)) : encoding === 'base64'
        ? Buffer.from(raw.slice(split + 2).replace(/\s+/g, ''), 'base64').toString('utf8') : raw.slice(split + 2);
      assertClean(body, 'the digest body');
      assert.ok(body.includes(MARK), 'the hostile text reached the digest (escaped)');
    });
  }
});
