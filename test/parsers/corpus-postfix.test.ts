/**
 * Real and test-suite Postfix logs from public projects in ../shared/corpus/postfix (see its
 * SOURCES.md), run through the whole plugin (line parser + correlator). The counts below were
 * checked by reading each file line by line (and with grep); a new file in the corpus fails
 * here until someone reads it and adds its counts. Nothing from the corpus is copied here.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { postfix } from '../../src/parsers/postfix.js';
import type { CorrelateContext, LineStatus, ParseContext } from '../../src/parsers/types.js';
import type { MailRecord, RecordKind } from '../../src/core/types.js';
import { corpusDir } from '../helpers/paths.js';

type Counts = Record<LineStatus, number>;

interface Expected {
  /** Log lines pushed (lines starting with `#` and empty lines are the projects' annotations). */
  readonly lines: number;
  readonly status: Counts;
  readonly records: Partial<Record<RecordKind, number>>;
  readonly check?: (records: readonly MailRecord[]) => void;
}

const only = <K extends RecordKind>(records: readonly MailRecord[], kind: K): Extract<MailRecord, { kind: K }>[] =>
  records.filter((r): r is Extract<MailRecord, { kind: K }> => r.kind === kind);

const NONE = { 'submission': 0, 'delivery': 0, 'auth-failure': 0, 'sender-rejected': 0 } as const;

const EXPECTED: Readonly<Record<string, Expected>> = {
  // Two RFC 3339 `Helo command rejected` lines, no trailing newline: rejects of strangers.
  'crowdsec-hub-postfix-helo.log': { lines: 2, status: { event: 0, ignored: 2, unrecognised: 0 }, records: NONE },
  // Nine `SASL LOGIN authentication failed: (reason unavailable), sasl_username=...` lines.
  'crowdsec-hub-postfix-honeypot-users.log': {
    lines: 9, status: { event: 9, ignored: 0, unrecognised: 0 }, records: { ...NONE, 'auth-failure': 9 },
    check(records) {
      const logins = only(records, 'auth-failure').map((r) => r.login);
      assert.equal(new Set(logins).size, 9);
      assert.ok(logins.every((l) => l?.endsWith('@example.org')), 'every failure names the user tried');
    },
  },
  // Mixed RFC 3164 (`May 11`, zero-padded `Jun 04`) and RFC 3339: one SASL failure, rejects,
  // `non-SMTP command` warnings.
  'crowdsec-hub-postfix-logs.log': { lines: 7, status: { event: 1, ignored: 6, unrecognised: 0 }, records: { ...NONE, 'auth-failure': 1 } },
  'crowdsec-hub-postfix-relay.log': { lines: 2, status: { event: 0, ignored: 2, unrecognised: 0 }, records: NONE },
  'crowdsec-hub-postfix-sasl-bf.log': { lines: 3, status: { event: 3, ignored: 0, unrecognised: 0 }, records: { ...NONE, 'auth-failure': 3 } },
  // 63 log lines. 14 `SASL ... authentication failed` lines, one of them `Connection lost to
  // authentication server` (server trouble, an event but no record): 13 failures. Four
  // `disconnect ... auth=0/1` sessions without a warning on their pid: 4 silent failures.
  'fail2ban-postfix.log': {
    lines: 63, status: { event: 18, ignored: 45, unrecognised: 0 }, records: { ...NONE, 'auth-failure': 17 },
    check(records) {
      const failures = only(records, 'auth-failure');
      assert.equal(failures.filter((r) => r.reason?.startsWith('AUTH failed without a logged reason')).length, 4);
      assert.deepEqual(failures.filter((r) => r.login !== undefined).map((r) => [r.login, r.account]), [['admin', 'admin@example.org']]);
      assert.deepEqual([...new Set(failures.map((r) => r.service))].sort(), ['smtp-25', 'smtpd', 'smtps', 'submission']);
    },
  },
  // 51 lines from Go test literals: 32 qmgr `removed` of unknown ids, an authenticated `client=`
  // whose message never reaches qmgr here (not counted), deliveries of unauthenticated mail, and
  // the Cyrus sequence `cannot connect to saslauthd server` -> `Password verification failed`
  // -> `SASL PLAIN authentication failed: generic failure` on one pid: server trouble, no record.
  'kumina-postfix_exporter-test.log': { lines: 51, status: { event: 40, ignored: 11, unrecognised: 0 }, records: NONE },
  // Unauthenticated transactions only.
  'pflogsumm-go-rfc3339.log': { lines: 4, status: { event: 4, ignored: 0, unrecognised: 0 }, records: NONE },
  'pflogsumm-go-sample.log': { lines: 31, status: { event: 27, ignored: 4, unrecognised: 0 }, records: NONE },
  // The first 3,213 lines of a real server's log: two authenticated submissions by
  // vmail@uhu-banane.net, each through amavis (one delivery each, via dovecot); hundreds of
  // inbound messages, postscreen and dnsblog lines that are not about accounts.
  'pixelpark-postfix-logsums-rfc3339-head.log': {
    lines: 3213, status: { event: 774, ignored: 2439, unrecognised: 0 }, records: { ...NONE, 'submission': 2, 'delivery': 2 },
    check(records) {
      assert.deepEqual(only(records, 'submission').map((s) => [new Date(s.at).toISOString(), s.clientIp, s.envelopeFrom]), [
        ['2023-03-13T23:31:06.621Z', '2a02:8109:b240:41c8:9264:99a9:1b0d:15c8', 'user01.test+root.host1@uhu-banane.net'],
        ['2023-03-14T03:54:11.569Z', '185.102.95.107', 'root@host3.uhu-banane.de'],
      ]);
    },
  },
  // Every line of the 3 days that belongs to an authenticated submission: 16 messages by
  // vmail@uhu-banane.net, each re-queued once by amavis (`queued as`, 10025/smtpd): 16
  // submissions, not 32, and the 16 final deliveries (pipe -> dovecot) belong to vmail.
  'pixelpark-postfix-logsums-rfc3339-sasl-transactions.log': {
    lines: 227, status: { event: 194, ignored: 33, unrecognised: 0 }, records: { ...NONE, 'submission': 16, 'delivery': 16 },
    check(records) {
      const subs = only(records, 'submission');
      assert.ok(subs.every((s) => s.account === 'vmail@uhu-banane.net' && s.service === 'submission' && s.host === 'helga'));
      assert.equal(new Set(subs.map((s) => s.messageId)).size, 16, 'sixteen different messages');
      assert.ok(subs.every((s) => s.recipientCount === 1 && s.recipients.length === 1 && s.clientIp !== undefined && s.envelopeFrom !== undefined));
      assert.ok(subs.every((s) => s.evidence.some((e) => e.text.includes('queued as '))), 'each went through the content filter');
      assert.equal(new Set(subs.map((s) => s.clientIp)).size, 6, 'six client addresses, two of them IPv6');
      const deliveries = only(records, 'delivery');
      assert.ok(deliveries.every((d) => d.account === 'vmail@uhu-banane.net' && d.status === 'sent' && d.evidence[0]?.text.includes('relay=dovecot')));
    },
  },
  // All `postfix/submission/smtpd` lines of the 3 days: 21 sessions end `auth=0/1` with no
  // SASL warning at all (AUTH refused before STARTTLS); 16 `auth=1` logins whose messages'
  // qmgr lines are not in this excerpt, so no submission is counted.
  'pixelpark-postfix-logsums-rfc3339-submission-smtpd.log': {
    lines: 1722, status: { event: 1170, ignored: 552, unrecognised: 0 }, records: { ...NONE, 'auth-failure': 21 },
    check(records) {
      const failures = only(records, 'auth-failure');
      assert.ok(failures.every((r) => r.reason === 'AUTH failed without a logged reason (auth=0/1)' && r.service === 'submission'
        && r.clientIp !== undefined && r.login === undefined));
    },
  },
  // 59 log lines (7 `#` section headers): deliberately malformed envelopes (6 unrecognised),
  // `Unsupported` bodies, postscreen, one SASL failure, deliveries of unknown ids.
  'sergeymakinen-postfix_exporter-mail.log': {
    lines: 59, status: { event: 8, ignored: 45, unrecognised: 6 }, records: { ...NONE, 'auth-failure': 1 },
  },
  // Complete unauthenticated transactions, in RFC 3164 and in RFC 3339 with `+09:00`.
  'youyo-postfix-log-parser-test-iso8601.log': { lines: 22, status: { event: 22, ignored: 0, unrecognised: 0 }, records: NONE },
  'youyo-postfix-log-parser-test.log': { lines: 22, status: { event: 22, ignored: 0, unrecognised: 0 }, records: NONE },
};

const TSV = 'whyscream-postfix-grok-messages.tsv';
const PCTX: Omit<ParseContext, 'source'> = { timezone: 'UTC', referenceTime: Date.parse('2026-11-22T00:00:00Z') };
const CCTX: CorrelateContext = { defaultDomain: 'example.org', openTtlMs: 5 * 24 * 3600_000 };

/** Pushes `[lineNo, text]` pairs through one parser session, then flushes it. */
function runLines(source: string, lines: readonly (readonly [number, string])[]): { status: Counts; records: MailRecord[] } {
  const records: MailRecord[] = [];
  const session = postfix.open({ ...PCTX, source }, CCTX, (r) => records.push(r));
  const status: Counts = { event: 0, ignored: 0, unrecognised: 0 };
  for (const [lineNo, text] of lines) status[session.push({ source, lineNo, text })] += 1;
  session.flush();
  return { status, records };
}

/** The daemon that logs a whyscream test's message: the file name's prefix, where it is one. */
function programOf(name: string): string {
  const prefix = name.replace(/_\d+$/, '');
  // Test names that describe a field rather than a daemon.
  const daemon: Readonly<Record<string, string>> = {
    command_counter_data: 'smtpd', delays: 'smtp', relay: 'smtp', tls_features: 'smtp',
    trivial_rewrite: 'trivial-rewrite', script: 'postfix-script',
  };
  return daemon[prefix] ?? prefix;
}

/** A YAML scalar as the TSV holds it: double-quoted (JSON-compatible escapes only here) or plain. */
function unquote(value: string): string {
  if (!value.startsWith('"')) return value;
  const parsed: unknown = JSON.parse(value);
  if (typeof parsed !== 'string') throw new Error(`not a string: ${value}`);
  return parsed;
}

const dir = corpusDir('postfix');

describe('postfix: real corpus', { skip: dir ? false : 'no ../shared/corpus/postfix beside the repository' }, () => {
  const files = dir ? readdirSync(dir).filter((f) => !f.startsWith('.')).sort() : [];

  it('has an expectation for every corpus file', () => {
    assert.deepEqual(files, [...Object.keys(EXPECTED), TSV].sort());
  });

  for (const file of files.filter((f) => f !== TSV)) {
    it(file, () => {
      const want = EXPECTED[file];
      assert.ok(want, `no expected counts for ${file}: read it and add them`);
      // latin1: real logs carry non-UTF-8 header bytes; every byte stays one character.
      const all = readFileSync(join(dir ?? '', file), 'latin1').split('\n');
      const lines = all.map((t, i) => [i + 1, t] as const).filter(([, t]) => t !== '' && !t.startsWith('#'));
      assert.equal(lines.length, want.lines, 'log lines');

      const { status, records } = runLines(file, lines);
      assert.deepEqual(status, want.status);
      const byKind: Partial<Record<RecordKind, number>> = {};
      for (const r of records) byKind[r.kind] = (byKind[r.kind] ?? 0) + 1;
      assert.deepEqual(byKind, Object.fromEntries(Object.entries(want.records).filter(([, n]) => n > 0)));
      for (const r of records) {
        // Only a plausible instant: fail2ban's file is a collection of unrelated lines whose
        // months jump back and forth, so year inference (built for files in time order) rolls
        // its year forward at every backward jump.
        assert.ok(Number.isFinite(r.at) && r.at > Date.parse('2000-01-01'), `time of line ${r.evidence[0]?.lineNo ?? '?'}`);
        assert.ok(r.evidence.length > 0 && r.evidence.every((e) => e.source === file && all[e.lineNo - 1] === e.text), 'evidence quotes the file');
      }
      want.check?.(records);

      assert.ok(postfix.detect(all.slice(0, 50)) >= 0.9, 'detected as postfix');
    });
  }

  it(`${TSV}: every message body in a synthetic envelope parses without throwing`, () => {
    const rows = readFileSync(join(dir ?? '', TSV), 'utf8').split('\n').filter((r) => r !== '');
    assert.equal(rows.length, 191);
    const lines = rows.map((row, i) => {
      const tab = row.indexOf('\t');
      assert.ok(tab > 0, row);
      return [i + 1, `Jan  1 00:00:00 host postfix/${programOf(row.slice(0, tab))}[1]: ${unquote(row.slice(tab + 1))}`] as const;
    });
    const { status, records } = runLines(TSV, lines);
    // Read row by row: no body is unrecognised. 37 events: 4 message-id (incl. `<>` and two
    // RFC 2047 ones), 1 qmgr queued, 1 removed, 21 deliveries (discard, error, lmtp, local,
    // pipe, smtp, virtual, six tls= variants), smtpd connect/client/4 disconnects, one SASL
    // failure and one `reject_warning ... not owned by user ph123`. The rest (postscreen,
    // anvil, scache, master, bounce, postsuper, TLS chatter, other rejects) is ignored.
    assert.deepEqual(status, { event: 37, ignored: 154, unrecognised: 0 });
    assert.deepEqual(records.map((r) => [r.kind, 'login' in r ? r.login : undefined]), [
      ['auth-failure', undefined], ['sender-rejected', 'ph123'],
    ]);
  });
});
