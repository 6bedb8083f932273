/** The built binary, spawned as a user or cron would run it: outputs, exit codes, pipes, errors. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { runCli } from '../helpers/cli.js';
import { CLI, ROOT } from '../helpers/paths.js';

const PF = join('fixtures', 'scenarios', 'postfix-compromised');
const KERIO = join('fixtures', 'scenarios', 'kerio-compromised');
const args = (dir: string, ...more: string[]): string[] => ['scan', '--config', join(dir, 'config.json'), join(dir, 'input.log'), ...more];
const tmp = mkdtempSync(join(tmpdir(), 'sendwatch-cli-'));

describe('sendwatch scan: output formats', () => {
  for (const [name, dir, account] of [['postfix', PF, 'frank@example.edu'], ['kerio', KERIO, 'eve@example.com']] as const) {
    it(`${name}: text is grouped by account, worst first, with evidence, no colour in a pipe`, async () => {
      const r = await runCli(args(dir));
      assert.equal(r.code, 1);
      assert.equal(r.stderr.includes('not understood'), false);
      const first = r.stdout.split('\n')[0] ?? '';
      assert.ok(first.startsWith(account) && first.includes('CRITICAL'), first);
      assert.match(r.stdout, /^ {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d {2}critical /m);
      assert.match(r.stdout, /^ {6}fixtures\/scenarios\/[a-z-]+\/input\.log:\d+: /m);
      assert.equal(r.stdout.includes('\u001b['), false, 'ANSI colour in a pipe');
    });

    it(`${name}: ndjson has the documented fields on every line`, async () => {
      const r = await runCli(args(dir, '--output', 'ndjson'));
      assert.equal(r.code, 1);
      const rows = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.ok(rows.length >= 1);
      for (const row of rows) {
        assert.deepEqual(Object.keys(row).slice(0, 7), ['time', 'account', 'rule', 'severity', 'message', 'data', 'evidence']);
        assert.ok(Array.isArray(row.signals) && Array.isArray(row.advice), 'an incident carries its signals and what to do');
        assert.match(String(row.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assert.ok(['info', 'warning', 'critical'].includes(String(row.severity)));
        const ev = row.evidence as { source: string; line: number; text: string }[];
        assert.ok(ev.length > 0 && ev.every((e) => typeof e.line === 'number' && e.source.endsWith('input.log')));
      }
      assert.ok(rows.some((x) => x.account === account && x.severity === 'critical'));
    });

    it(`${name}: tsv has six fixed columns, no embedded tabs or newlines`, async () => {
      const r = await runCli(args(dir, '--output', 'tsv'));
      assert.equal(r.code, 1);
      const lines = r.stdout.trimEnd().split('\n');
      for (const l of lines) {
        const cols = l.split('\t');
        assert.equal(cols.length, 6, l);
        assert.match(cols[5] ?? '', /^([^,:]+:\d+)(,[^,:]+:\d+)*$/);
      }
      assert.ok(lines.some((l) => l.split('\t')[3] === account));
    });
  }
});

describe('sendwatch scan: exit codes and Unix manners', () => {
  it('0 and silence when nothing is found', async () => {
    const clean = join(tmp, 'clean.log');
    writeFileSync(clean, '2026-11-17T10:00:00+01:00 mx1 postfix/smtpd[1]: connect from unknown[10.0.0.1]\n');
    const r = await runCli(['scan', clean]);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', '']);
  });

  it('--min-severity hides info findings and the exit code follows what is shown', async () => {
    const legit = join('fixtures', 'scenarios', 'postfix-legit');
    const all = await runCli(args(legit));
    assert.equal(all.code, 1);
    const warn = await runCli(args(legit, '--min-severity', 'warning'));
    assert.deepEqual([warn.code, warn.stdout], [0, '']);
  });

  it('3 and one line on stderr for an unreadable input; the other inputs are still scanned', async () => {
    const r = await runCli(['scan', '--output', 'tsv', '--config', join(PF, 'config.json'), join(tmp, 'missing.log'), join(PF, 'input.log')]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /^sendwatch: cannot read .*missing\.log: no such file/);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1);
    assert.ok(r.stdout.includes('frank@example.edu'));
  });

  it('2 and one line naming the key path for a bad config', async () => {
    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, JSON.stringify({ rules: { 'sends-per-account': { windows: [{ minutes: 'sixty' }] } } }));
    const r = await runCli(['scan', '--config', bad, join(PF, 'input.log')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^sendwatch: .*bad\.json: rules\.sends-per-account\.windows\[0\]\.minutes: .*expected number/);
    const typo = join(tmp, 'typo.json');
    writeFileSync(typo, JSON.stringify({ trustedNetwork: [] }));
    const t = await runCli(['scan', '--config', typo, join(PF, 'input.log')]);
    assert.equal(t.code, 2);
    assert.match(t.stderr, /unknown key "trustedNetwork" \(did you mean "trustedNetworks"\?\)/);
    const notJson = join(tmp, 'broken.json');
    writeFileSync(notJson, '{\n  "timezone": "UTC",\n}\n');
    const j = await runCli(['scan', '--config', notJson, join(PF, 'input.log')]);
    assert.equal(j.code, 2);
    assert.match(j.stderr, /broken\.json: not valid JSON/);
  });

  it('2 for unknown options, formats and bad times', async () => {
    assert.equal((await runCli(['scan', '--bogus', join(PF, 'input.log')])).code, 2);
    const f = await runCli(['scan', '--format', 'exchange', join(PF, 'input.log')]);
    assert.equal(f.code, 2);
    assert.match(f.stderr, /unknown format "exchange" \(known: auto, .*postfix/);
    assert.equal((await runCli(['scan', '--since', 'yesterday-ish', join(PF, 'input.log')])).code, 2);
    assert.equal((await runCli(['scan', '--output', 'xml', join(PF, 'input.log')])).code, 2);
  });

  it('--help shows examples and exit codes; --version prints the version', async () => {
    const h = await runCli(['scan', '--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /Examples:/);
    assert.match(h.stdout, /Exit status:/);
    const top = await runCli(['--help']);
    assert.equal(top.code, 0);
    assert.match(top.stdout, /scan \[options\] \[files\.\.\.\]/);
    const v = await runCli(['--version']);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.deepEqual([v.code, v.stdout.trim()], [0, pkg.version]);
  });

  it('reads stdin with - and gzip transparently, with the same findings', async () => {
    const plain = await runCli(args(KERIO, '--output', 'ndjson'));
    const input = readFileSync(join(ROOT, KERIO, 'input.log'));
    const viaStdin = await runCli(['scan', '--config', join(KERIO, 'config.json'), '--output', 'ndjson', '-'], { stdin: input });
    const strip = (s: string): string => s.replace(/"source":"[^"]*"/g, '"source":""');
    assert.equal(viaStdin.code, 1);
    assert.equal(strip(viaStdin.stdout), strip(plain.stdout));
    const gz = join(tmp, 'mail.log.gz');
    writeFileSync(gz, gzipSync(input));
    const viaGz = await runCli(['scan', '--config', join(KERIO, 'config.json'), '--output', 'ndjson', gz]);
    assert.equal(strip(viaGz.stdout), strip(plain.stdout));
  });

  it('matches a success in a second input with failures in the first, however far back in it they are', async () => {
    // Kerio logs failures (security.log) and sending (mail.log) apart; scanning two days of
    // each reads every failure before the first success.
    const stamp = (ms: number): string => {
      const d = new Date(Date.UTC(2026, 10, 17) + ms);
      const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()] ?? '';
      return `[${String(d.getUTCDate()).padStart(2, '0')}/${mon}/${d.getUTCFullYear()} ${d.toISOString().slice(11, 19)}]`;
    };
    const MIN = 60_000;
    const security = [
      ...Array.from({ length: 6 }, (_, i) => `${stamp(i * MIN)} SMTP: Invalid password for user ann@example.com. Attempt from IP address 203.0.113.7.`),
      ...Array.from({ length: 48 }, (_, h) => `${stamp((h + 1) * 60 * MIN)} SMTP: Invalid password for user x${h}@example.com. Attempt from IP address 198.18.${h}.1.`),
    ];
    // Kerio's Queue-ID starts with the time in hex, which the parser checks the zone with.
    const queueId = `${Math.floor((Date.UTC(2026, 10, 17) + 50 * MIN) / 1000).toString(16)}-00000001`;
    const mail = [`${stamp(50 * MIN)} Recv: Queue-ID: ${queueId}, Service: SMTP, From: <ann@example.com>, To: <b@example.org>, Size: 900, Sender-Host: 203.0.113.7, User: ann@example.com, SSL: yes, Subject: hi, Msg-Id: <m1@example.com>`];
    const dir = mkdtempSync(join(tmpdir(), 'sendwatch-two-inputs-'));
    writeFileSync(join(dir, 'security.log'), `${security.join('\n')}\n`);
    writeFileSync(join(dir, 'mail.log'), `${mail.join('\n')}\n`);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ timezone: 'UTC', trustedNetworks: ['10.0.0.0/8'] }));
    const r = await runCli(['scan', '--config', join(dir, 'config.json'), '--format', 'kerio', '--output', 'ndjson', join(dir, 'security.log'), join(dir, 'mail.log')]);
    assert.equal(r.code, 1, r.stderr);
    const signals = r.stdout.trim().split('\n').flatMap((l) => (JSON.parse(l) as { signals?: { rule: string; data: Record<string, unknown> }[] }).signals ?? []);
    assert.ok(signals.some((s) => s.rule === 'auth-failures' && s.data.signal === 'success-after-failures' && s.data.client === '203.0.113.7'), r.stdout);
  });

  it('| head ends quietly: no EPIPE noise, no error status', () => {
    const sh = spawnSync('sh', ['-c', `"${process.execPath}" "${CLI}" scan --output tsv --config ${join(PF, 'config.json')} ${join(PF, 'input.log')} | head -1; echo "status=$?"`], { cwd: ROOT, env: { ...process.env, TZ: 'UTC' }, encoding: 'utf8' });
    assert.equal(sh.stderr, '');
    assert.match(sh.stdout, /\tfrank@example\.edu\t[^\n]*\nstatus=0\n$/);
  });

  it('reports lines it does not understand on stderr, and lists them with --verbose', async () => {
    const mixed = join(tmp, 'mixed.log');
    writeFileSync(mixed, `${readFileSync(join(ROOT, PF, 'input.log'), 'utf8')}this is not a syslog line\n`);
    chmodSync(mixed, 0o644);
    const r = await runCli(['scan', '--format', 'postfix', '--output', 'tsv', mixed]);
    assert.match(r.stderr, /mixed\.log: 1 of \d+ lines not understood as postfix \(--verbose lists them\)/);
    const v = await runCli(['scan', '--format', 'postfix', '--verbose', '--output', 'tsv', mixed]);
    assert.match(v.stderr, /not understood: .*mixed\.log:\d+: this is not a syslog line/);
    const q = await runCli(['scan', '--format', 'postfix', '--quiet', '--output', 'tsv', mixed]);
    assert.equal(q.stderr, '');
  });
});
