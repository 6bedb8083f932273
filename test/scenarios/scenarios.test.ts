/**
 * Scenario tests: a config and a day of log in, NDJSON findings out, compared with
 * a golden file (TZ=UTC, built binary). Regenerate a golden file only after reading
 * the diff: `UPDATE_GOLDEN=1 npm test`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { repoPath } from '../helpers/paths.js';

interface Row {
  time: string;
  account: string;
  rule: string;
  severity: string;
  message: string;
  data: Record<string, unknown>;
  evidence: { source: string; line: number; text: string }[];
}

const dir = repoPath('fixtures', 'scenarios');
const scenarios = readdirSync(dir).filter((d) => existsSync(join(dir, d, 'input.log'))).sort();

function parseRows(ndjson: string): Row[] {
  return ndjson.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Row);
}

/** The rules' individual findings (`--findings`): what each rule said, for exact assertions. */
async function scan(name: string, ...more: string[]): Promise<{ code: number | null; rows: Row[]; stdout: string; stderr: string }> {
  const rel = join('fixtures', 'scenarios', name);
  const r = await runCli(['scan', '--config', join(rel, 'config.json'), '--output', 'ndjson', ...more, join(rel, 'input.log')]);
  return { ...r, rows: parseRows(r.stdout) };
}

/** The verdicts: one incident per account and period (the default output). */
const incidents = (name: string): ReturnType<typeof scan> => scan(name);
const findings = (name: string): ReturnType<typeof scan> => scan(name, '--findings');

describe('scenarios: golden NDJSON', () => {
  it('has scenarios', () => assert.ok(scenarios.length >= 3));
  for (const name of scenarios) {
    it(name, async () => {
      const r = await incidents(name);
      const golden = join(dir, name, 'expected.ndjson');
      if (process.env.UPDATE_GOLDEN) writeFileSync(golden, r.stdout);
      assert.equal(r.stdout, readFileSync(golden, 'utf8'), `${name}: output differs from expected.ndjson`);
      assert.equal(r.code, r.rows.length > 0 ? 1 : 0);
    });
  }
});

const atLeastWarning = (rows: Row[]): Row[] => rows.filter((f) => f.severity !== 'info');

describe('scenarios: one verdict per account', () => {
  for (const [name, who] of [['postfix-compromised', 'frank@example.edu'], ['kerio-compromised', 'eve@example.com'], ['mta-format1-compromised', 'frank@example.edu'], ['mta-format4-compromised', 'frank@example.edu'], ['metermaid-compromised', 'frank@example.edu']] as const) {
    it(`${name}: the hijacked account is one critical incident, nobody else reaches warning`, async () => {
      const { rows } = await incidents(name);
      const serious = rows.filter((r) => r.severity !== 'info');
      assert.deepEqual(serious.map((r) => [r.account, r.severity]), [[who, 'critical']]);
      const inc = serious[0] as Row & { signals: unknown[]; advice: string[] };
      assert.ok(inc.signals.length > 0 && inc.advice.length > 0);
      assert.match(inc.message, /^looks compromised: /);
    });
  }
  it('postfix-legit: the late message alone stays an info incident', async () => {
    const { rows } = await incidents('postfix-legit');
    assert.deepEqual(rows.map((r) => [r.account, r.rule, r.severity]), [['carol@example.edu', 'odd-hours', 'info']]);
  });
});

describe('scenarios: what must and must not be flagged', () => {
  it('postfix: the hijacked account is critical on volume, forged senders, night and foreign host', async () => {
    const { rows } = await findings('postfix-compromised');
    const frank = rows.filter((f) => f.account === 'frank@example.edu');
    for (const rule of ['sends-per-account', 'from-user-mismatch', 'odd-hours']) {
      assert.ok(frank.some((f) => f.rule === rule && f.severity === 'critical'), `no critical ${rule}`);
    }
    assert.ok(frank.some((f) => f.rule === 'foreign-sender-host' && f.data.client_ip === '185.220.101.34'));
    assert.deepEqual([...new Set(atLeastWarning(rows).map((f) => f.account))], ['frank@example.edu'], 'only frank is flagged');
    // Every evidence line is one of frank's own: his login line, or a line of one of his messages.
    const log = readFileSync(join(dir, 'postfix-compromised', 'input.log'), 'utf8').split('\n');
    const qids = new Set(log.filter((l) => l.includes('sasl_username=frank@example.edu')).map((l) => /: (\w+): client=/.exec(l)?.[1]));
    for (const f of frank) {
      assert.ok(f.evidence.length > 0, 'evidence lines');
      for (const e of f.evidence) {
        assert.equal(e.text, log[e.line - 1], 'evidence quotes the log line at that number');
        const qid = /: (\w+): /.exec(e.text.slice(e.text.indexOf(']: ')))?.[1];
        const failedLogin = e.text.includes('authentication failed') && e.text.endsWith('sasl_username=frank@example.edu');
        assert.ok(failedLogin || e.text.includes('not owned by user frank') || (qid !== undefined && qids.has(qid)), e.text);
      }
    }
  });

  it('postfix: bulk sender, alias user and steady heavy sender are not flagged at warning or above', async () => {
    const { rows } = await findings('postfix-legit');
    assert.deepEqual(atLeastWarning(rows), []);
    for (const who of ['newsletter@example.edu', 'dean@example.edu', 'sales@example.edu']) {
      assert.ok(!rows.some((f) => f.account === who), `${who} flagged`);
    }
    // The one late message is a weak signal and stays info.
    assert.deepEqual(rows.map((f) => [f.account, f.rule, f.severity]), [['carol@example.edu', 'odd-hours', 'info']]);
  });

  it('kerio: the hijacked account is flagged; the Subject cannot change who sent it or from where', async () => {
    const { rows } = await findings('kerio-compromised');
    const eve = rows.filter((f) => f.account === 'eve@example.com');
    assert.ok(eve.some((f) => f.rule === 'sends-per-account' && f.severity === 'critical'));
    assert.ok(eve.some((f) => f.rule === 'from-user-mismatch' && f.severity === 'critical'));
    assert.ok(eve.some((f) => f.rule === 'foreign-sender-host' && f.data.client_ip === '203.0.113.50'));
    assert.deepEqual([...new Set(atLeastWarning(rows).map((f) => f.account))], ['eve@example.com']);
    assert.ok(!rows.some((f) => f.account === 'ceo@example.com'), 'the Subject blamed ceo@');
    // Webmail (0.0.0.0) and the alias sender are not flagged.
    assert.ok(!rows.some((f) => f.account === 'anna@example.com'));
  });
});

// ---------------------------------------------------------------------------
// Oracle Communications (Sun) Messaging Server

const MTA_FORMATS = [1, 2, 3, 4] as const;
const FRANK = 'frank@example.edu';
const SPAM_IP = '185.220.101.34';

/** One of frank's own transaction-log records: the username field `*frank`, in any LOG_FORMAT. */
const FRANKS_RECORD = /(?:^| |\d:)\*frank(?: |$)|\bus="\*frank"/;

/** A finding without its evidence text: what must not depend on the log format. */
const essence = (f: Row): unknown => ({ ...f, evidence: f.evidence.map((e) => e.line) });

/** Rule, severity, account, message and numbers, at the log's centisecond resolution; `service` names the family's channel. */
function comparable(f: Row): unknown {
  const data = Object.fromEntries(Object.entries(f.data).filter(([k]) => k !== 'service'));
  return { rule: f.rule, severity: f.severity, account: f.account, message: f.message, data, cs: Math.floor(Date.parse(f.time) / 10) };
}

function assertOwnEvidence(rows: readonly Row[], logPath: string, own: (text: string) => boolean): void {
  const log = readFileSync(logPath, 'utf8').split('\n');
  for (const f of rows) {
    assert.ok(f.evidence.length > 0, `${f.rule}: evidence lines`);
    for (const e of f.evidence) {
      assert.equal(e.text, log[e.line - 1], 'evidence quotes the log line at that number');
      assert.ok(own(e.text), `${f.rule} ${f.severity}: not one of ${f.account}'s own records: ${e.text}`);
    }
  }
}

describe('scenarios: Messaging Server MTA transaction log, every LOG_FORMAT', () => {
  for (const format of MTA_FORMATS) {
    const name = `mta-format${format}-compromised`;
    it(`format ${format}: the hijacked account is critical on volume, forged senders and night, and foreign; nobody else is flagged`, async () => {
      const { rows, stderr, code } = await findings(name);
      assert.equal(code, 1);
      assert.equal(stderr, '', 'every LOG_* option the rules need is in this log: no blind-spot notes');
      const frank = rows.filter((f) => f.account === FRANK);
      for (const rule of ['sends-per-account', 'from-user-mismatch', 'odd-hours']) {
        assert.ok(frank.some((f) => f.rule === rule && f.severity === 'critical'), `no critical ${rule}`);
      }
      assert.ok(frank.some((f) => f.rule === 'foreign-sender-host' && f.data.client_ip === SPAM_IP && f.data.service === 'tcp_submit'));
      // The ordinary users (bare uids `*alice`, one `*carol@example.edu`) send from the LAN in office hours: not a single finding.
      assert.deepEqual(rows.filter((f) => f.account !== FRANK), []);
      // His own enqueue records, or the SMTP AUTH (U) records of his login: auth-failures quotes
      // the failures and the success from the same address.
      const failedLoginOfFrank = (t: string): boolean => (/ U (?:\d+:)?TCP\|/.test(t) && /(?: |\d:)frank /.test(t)) || (t.startsWith('<co ') && t.includes('us="frank"') && t.includes('ac="U"'));
      assertOwnEvidence(frank, join(dir, name, 'input.log'), (t) => (FRANKS_RECORD.test(t) && !t.includes(' + ') && !t.startsWith('<co ')) || failedLoginOfFrank(t));
      // The run's enqueue records, not his daytime ones from the LAN, are the evidence.
      for (const f of frank) for (const e of f.evidence) assert.ok(e.text.includes(SPAM_IP), e.text);
    });
  }

  it('the four formats of the same day give the same findings on the same line numbers', async () => {
    const [first, ...rest] = await Promise.all(MTA_FORMATS.map((f) => findings(`mta-format${f}-compromised`)));
    assert.ok(first && first.rows.length > 0);
    for (const [i, r] of rest.entries()) assert.deepEqual(r.rows.map(essence), first.rows.map(essence), `format ${i + 2} vs format 1`);
  });

  it('the four rules find on the Messaging Server day what they find on the same day written by Postfix', async () => {
    const [postfix, mta] = await Promise.all([findings('postfix-compromised'), findings('mta-format1-compromised')]);
    const pick = (rows: Row[], rule: string): unknown[] => rows.filter((f) => f.rule === rule).map(comparable);
    for (const rule of ['sends-per-account', 'odd-hours', 'foreign-sender-host']) {
      assert.deepEqual(pick(mta.rows, rule), pick(postfix.rows, rule), rule);
    }
    // from-user-mismatch: the first forged sender alike; Postfix also logged the server refusing
    // `ceo@example.edu` (reject_sender_login_mismatch), which makes three different senders
    // sooner there. The transaction log has no such record, so the third is the third forged message.
    const fum = (rows: Row[]): Row[] => rows.filter((f) => f.rule === 'from-user-mismatch');
    assert.deepEqual(fum(mta.rows).map((f) => f.severity), ['warning', 'critical']);
    assert.deepEqual(comparable(fum(mta.rows)[0] as Row), comparable(fum(postfix.rows)[0] as Row));
    assert.deepEqual(fum(mta.rows)[1]?.data, {
      sender: 'no-reply@parcel-track.example.net', distinct_senders: 3, mismatches: 3, refused_by_server: 0,
    });
  });

  it('says on stderr which LOG_* option a blind rule needs, in the words the README quotes', async () => {
    const readme = readFileSync(repoPath('README.md'), 'utf8');
    const lines = (format: number): string[] => readFileSync(join(dir, `mta-format${format}-compromised`, 'input.log'), 'utf8').split('\n').filter((l) => l !== '');
    const notes = async (log: string[]): Promise<string[]> => {
      const r = await runCli(['scan', '--config', join('fixtures', 'scenarios', 'mta-format2-compromised', 'config.json'), '--output', 'ndjson', '--format', 'mta-transaction', '-'], { stdin: `${log.join('\n')}\n` });
      return r.stderr.split('\n').filter((l) => l !== '').map((l) => l.replace(/^sendwatch: -: /, ''));
    };
    // Numbers in a note are counts: the README writes them as N and M.
    const shape = (note: string): string => {
      let k = 0;
      return note.replace(/(^|\s)\d+(?=\s)/g, (_m, pre: string) => `${pre}${k++ === 0 ? 'N' : 'M'}`);
    };
    const noGroups = (l: string): string => l.replace(/ \S* ?\([^()]*\[[0-9a-f.:]+\]\)/g, '');
    // Format 2 (no LOG_PROCESS) without LOG_USERNAME, LOG_CONNECTION and LOG_MESSAGE_ID.
    const bare = lines(2).filter((l) => !l.includes(' + '))
      .map((l) => noGroups(l).replace(/ <[^<>]*>/g, '').replace(/ (?:\*\S+|mailsrv)(?= |$)/g, ''));
    // Format 1 without LOG_USERNAME: the logins still come from the U records of the same process.
    const noUsername = lines(1).map((l) => l.replace(/ (?:\*\S+|mailsrv)(?= |$)/g, ''));
    // Format 2 where alice's enqueues lack the source system.
    const someNoIp = lines(2).map((l) => (l.includes(' *alice ') ? noGroups(l) : l));
    const got = [...await notes(bare), ...await notes(noUsername), ...await notes(someNoIp)];
    assert.deepEqual(got.map(shape), [
      'N authenticated enqueue record(s) (A modifier) without a username: their messages count for no account; set LOG_USERNAME=1',
      'none of N enqueue records names the client ([ip] source system): foreign-sender-host is blind; set LOG_CONNECTION=1 (or any value with bit 0)',
      'enqueue records carry no message id or queue file name: recipients are grouped by sender and time, so messages sent within a second may count as one; set LOG_MESSAGE_ID=1',
      'no connection records (O/C/U): SMTP AUTH failures and successes are invisible; enable connection and authentication entries with LOG_CONNECTION (and scan connection.log* too when SEPARATE_CONNECTION_LOG=1)',
      'none of N enqueue records has a username field: no message can be tied to an account; set LOG_USERNAME=1',
      'N of M submissions have no client IP: foreign-sender-host cannot judge them; set LOG_CONNECTION bit 0',
    ]);
    for (const note of got) assert.ok(readme.includes(shape(note)), `README does not quote: ${shape(note)}`);
  });
});

describe('scenarios: MeterMaid', () => {
  it('the account past 70 % and 90 % of its sendlim quota is a warning, then critical; nobody else, no IP key', async () => {
    const name = 'metermaid-compromised';
    const { rows, stderr } = await findings(name);
    assert.equal(stderr, '');
    assert.deepEqual(rows.map((f) => [f.account, f.rule, f.severity, f.data.table, f.data.count, f.data.quota]), [
      [FRANK, 'metermaid-quota', 'warning', 'sendlim', 70, 100],
      [FRANK, 'metermaid-quota', 'critical', 'sendlim', 90, 100],
    ]);
    for (const f of rows) assert.match(f.message, /^\d+ \/ 100 in table sendlim \(MeterMaid's decaying count; \d+% of quota\)$/);
    // The stamps are +0100 (east of UTC, which the admin scripts' `-[0-9]*` regex missed): 02:39:03 local.
    assert.equal(rows[0]?.time, '2026-11-17T01:39:03.000Z');
    // Evidence: frank's own climb in sendlim, ending with the line that crossed the level.
    assertOwnEvidence(rows, join(dir, name, 'input.log'), (t) => t.includes('Current status for "frank@example.edu" in sendlim: '));
    for (const f of rows) assert.ok(f.evidence.at(-1)?.text.endsWith(` ${String(f.data.count)} / 100`));
    // The spammer's IP is over its connection quota (IP-keyed, read but not alerted on by default),
    // the list owner peaks at 64 / 100: neither is a finding.
    const log = readFileSync(join(dir, name, 'input.log'), 'utf8');
    assert.match(log, /"185\.220\.101\.34" in ext_conn_throttle: 2\d \/ 20/);
    assert.match(log, /"lists@example\.edu" in sendlim: 64 \/ 100/);
  });

  it('IP-keyed tables are alerted on with includeIpKeys', async () => {
    const name = 'metermaid-compromised';
    const cfg = join(tmpdir(), `sendwatch-mm-${process.pid}.json`);
    writeFileSync(cfg, JSON.stringify({ timezone: 'Europe/Berlin', rules: { 'metermaid-quota': { includeIpKeys: true, tables: ['ext_conn_throttle'] } } }));
    try {
      const r = await runCli(['scan', '--config', cfg, '--output', 'ndjson', '--findings', join('fixtures', 'scenarios', name, 'input.log')]);
      const rows = parseRows(r.stdout);
      assert.deepEqual([...new Set(rows.map((f) => f.account))], [SPAM_IP]);
      assert.deepEqual(rows.map((f) => f.severity), ['warning', 'critical']);
    } finally {
      rmSync(cfg, { force: true });
    }
  });
});
