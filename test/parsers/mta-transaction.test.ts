import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthFailure, AuthSuccess, Delivery, MailRecord, Submission } from '../../src/core/types.js';
import { MAX_OPEN, QUIET_MS } from '../../src/correlate/mta-transaction.js';
import { decodeEntities, splitAuthText } from '../../src/parsers/mta-fields.js';
import { detectMtaTransaction, mtaTransaction, type MtaEvent } from '../../src/parsers/mta-transaction.js';
import type { LineStatus } from '../../src/parsers/types.js';
import { DETECT_THRESHOLD } from '../../src/parsers/index.js';

interface RunOptions {
  readonly timezone?: string;
  readonly defaultDomain?: string;
  readonly saved?: unknown;
  readonly firstLineNo?: number;
  readonly noFlush?: boolean;
}

interface Run {
  readonly records: MailRecord[];
  readonly statuses: LineStatus[];
  readonly diagnostics: readonly string[];
  readonly snapshot: unknown;
}

function run(lines: readonly string[], opts: RunOptions = {}): Run {
  const records: MailRecord[] = [];
  const session = mtaTransaction.open(
    { source: 't.log', timezone: opts.timezone ?? 'UTC', referenceTime: 0 },
    { openTtlMs: 7 * 86_400_000, defaultDomain: opts.defaultDomain },
    (r) => records.push(r),
    opts.saved,
  );
  const first = opts.firstLineNo ?? 1;
  const statuses = lines.map((text, i) => session.push({ source: 't.log', lineNo: first + i, text }));
  const snapshot = session.snapshot();
  if (!opts.noFlush) session.flush();
  return { records, statuses, diagnostics: session.diagnostics(), snapshot };
}

const submissions = (rs: readonly MailRecord[]): Submission[] => rs.filter((r): r is Submission => r.kind === 'submission');
const deliveries = (rs: readonly MailRecord[]): Delivery[] => rs.filter((r): r is Delivery => r.kind === 'delivery');
const failures = (rs: readonly MailRecord[]): AuthFailure[] => rs.filter((r): r is AuthFailure => r.kind === 'auth-failure');
const successes = (rs: readonly MailRecord[]): AuthSuccess[] => rs.filter((r): r is AuthSuccess => r.kind === 'auth-success');

/** `DD-Mon-YYYY HH:MM:SS.cc` for second `s` (and centiseconds) after 14-Mar-2024 03:00:00. */
function stamp(s: number, cs = 0): string {
  const hh = 3 + Math.floor(s / 3600);
  const mm = Math.floor(s / 60) % 60;
  const ss = s % 60;
  const two = (n: number): string => String(n).padStart(2, '0');
  return `14-Mar-2024 ${two(hh)}:${two(mm)}:${two(ss)}.${two(cs)}`;
}

const pad = (c: string): string => c.padEnd(12, ' ');

interface Enq {
  readonly t: number;
  readonly cs?: number;
  /** SMTP AUTH login (default alice@example.edu); null = the MTA's OS account. */
  readonly user?: string | null;
  readonly from?: string;
  readonly to: string;
  readonly id?: string;
  readonly ip?: string;
  readonly pi?: string;
  readonly code?: string;
  readonly dst?: string;
  readonly file?: string;
}

/** A format 1 enqueue record as a site with the usual LOG_* options writes it. */
function enq(e: Enq): string {
  const user = e.user === null ? 'mailsrv' : `*${e.user ?? 'alice@example.edu'}`;
  const fields = [
    e.file ?? '',
    e.id !== undefined ? `<${e.id}>` : '',
    user,
    e.ip !== undefined ? `client (dsl.example.net [${e.ip}])` : '',
  ].filter((f) => f !== '');
  const head = `${e.pi !== undefined ? `${e.pi} ` : ''}${pad('tcp_submit')} ${pad(e.dst ?? 'tcp_local')}`;
  return `${stamp(e.t, e.cs)} ${head} ${e.code ?? 'EEA'} 2 ${e.from ?? 'alice@example.edu'} rfc822;${e.to} ${e.to} ${fields.join(' ')}`;
}

describe('mta-transaction: one submission per message', () => {
  it('groups the per-recipient E records of a message into one Submission', () => {
    const lines = [
      enq({ t: 0, cs: 10, to: 'bob@example.org', id: 'm1@example.edu', ip: '198.51.100.17', pi: '2e2d.5.1' }),
      enq({ t: 0, cs: 12, to: 'carol@example.edu', id: 'm1@example.edu', ip: '198.51.100.17', pi: '2e2d.5.1', dst: 'ims-ms' }),
      enq({ t: 0, cs: 13, to: 'dan@example.net', id: 'm1@example.edu', ip: '198.51.100.17', pi: '2e2d.5.1' }),
    ];
    const { records } = run(lines, { timezone: 'Europe/Paris' });
    const subs = submissions(records);
    assert.equal(subs.length, 1);
    const s = subs[0];
    assert.ok(s);
    assert.equal(s.account, 'alice@example.edu');
    assert.equal(s.login, 'alice@example.edu');
    assert.equal(s.envelopeFrom, 'alice@example.edu');
    assert.deepEqual(s.recipients, ['bob@example.org', 'carol@example.edu', 'dan@example.net']);
    assert.equal(s.recipientCount, 3);
    assert.equal(s.clientIp, '198.51.100.17');
    assert.equal(s.service, 'tcp_submit');
    assert.equal(s.messageId, 'm1@example.edu');
    assert.equal(s.size, 2);
    assert.equal(s.at, Date.parse('2024-03-14T02:00:00.100Z'));
    assert.deepEqual(s.evidence.map((e) => e.lineNo), [1, 2, 3]);
  });

  it('counts one recipient once when a list expands to several current recipients', () => {
    const line = (to: string): string =>
      `${stamp(0)} ${pad('tcp_submit')} ${pad('ims-ms')} EEA 1 alice@example.edu rfc822;staff@example.edu ${to} <m2@example.edu> *alice@example.edu`;
    const subs = submissions(run([line('a@ims-ms-daemon'), line('b@ims-ms-daemon')]).records);
    assert.equal(subs.length, 1);
    assert.deepEqual(subs[0]?.recipients, ['staff@example.edu']);
    assert.equal(subs[0]?.recipientCount, 1);
  });

  it('keeps apart messages with different message ids, and a resend of the same id to the same recipient', () => {
    const lines = [
      enq({ t: 0, to: 'b@example.org', id: 'a1@example.edu' }),
      enq({ t: 0, to: 'b@example.org', id: 'a2@example.edu' }),
      enq({ t: 5, to: 'b@example.org', id: 'a2@example.edu' }),
    ];
    const subs = submissions(run(lines).records);
    assert.equal(subs.length, 3);
    assert.ok(subs.every((s) => s.recipientCount === 1));
  });

  it('without message id or queue file, groups records written within a second', () => {
    const lines = [
      enq({ t: 0, cs: 0, to: 'r1@example.org' }),
      enq({ t: 0, cs: 40, to: 'r2@example.org' }),
      enq({ t: 3, to: 'r3@example.org' }),
    ];
    const subs = submissions(run(lines).records);
    assert.deepEqual(subs.map((s) => s.recipientCount), [2, 1]);
  });

  it('splits on a second queue file for the same destination channel', () => {
    const lines = [
      enq({ t: 0, to: 'r1@example.org', file: '/q/tcp_local/ZZa.00' }),
      enq({ t: 0, to: 'r2@example.org', file: '/q/tcp_local/ZZa.00' }),
      enq({ t: 0, to: 'r3@example.org', file: '/q/tcp_local/ZZb.00' }),
      enq({ t: 0, to: 'r4@example.edu', file: '/q/ims-ms/ZZc.00', dst: 'ims-ms' }),
    ];
    const subs = submissions(run(lines).records);
    assert.deepEqual(subs.map((s) => s.recipientCount), [2, 2]);
  });

  it('completes a message only once the log is more than 30 s past its last E record, or at flush', () => {
    const lines = [
      enq({ t: 0, to: 'r1@example.org', id: 'q1@example.edu' }),
      enq({ t: 20, to: 'r2@example.org', id: 'q1@example.edu' }),
      `${stamp(50)} ${pad('tcp_local')}              Q 1 x@example.net rfc822;y@example.net y@example.net mailsrv`,
    ];
    const open = run(lines, { noFlush: true });
    assert.equal(submissions(open.records).length, 0, '30 s after the last E record is not yet complete');
    const later = run([...lines, `${stamp(51)} ${pad('tcp_local')}              Q 1 x@example.net rfc822;y@example.net y@example.net mailsrv`], { noFlush: true });
    assert.equal(submissions(later.records).length, 1);
    assert.equal(submissions(later.records)[0]?.recipientCount, 2);
    assert.equal(QUIET_MS, 30_000);
  });

  it(`keeps at most ${MAX_OPEN} messages open, completing the oldest`, () => {
    const lines: string[] = [];
    for (let i = 0; i <= MAX_OPEN; i++) lines.push(enq({ t: 0, to: `r${i}@example.org`, id: `flood${i}@example.edu` }));
    const r = run(lines, { noFlush: true });
    const subs = submissions(r.records);
    assert.equal(subs.length, 1);
    assert.equal(subs[0]?.messageId, 'flood0@example.edu');
  });

  it('never makes the MTA OS account (no `*`) an account', () => {
    const lines = [
      `${stamp(0)} ${pad('tcp_local')} ${pad('ims-ms')} EEQ 5  rfc822;a@example.edu a@ims-ms-daemon mailsrv mx.example.com ([192.0.2.44])`,
      `${stamp(1)} ${pad('tcp_local')} ${pad('ims-ms')} EE 5 b@example.com rfc822;a@example.edu a@ims-ms-daemon root mx.example.com ([192.0.2.44])`,
    ];
    assert.equal(submissions(run(lines).records).length, 0);
  });

  it('adds the default domain to a bare login and keeps the login as logged', () => {
    const subs = submissions(run([enq({ t: 0, user: 'JDent', to: 'x@example.org', id: 'b1@example.edu' })], { defaultDomain: 'example.edu' }).records);
    assert.equal(subs[0]?.account, 'jdent@example.edu');
    assert.equal(subs[0]?.login, 'JDent');
  });

  it('takes header From and Subject from LOG_HEADER lines written with the enqueue', () => {
    const e = enq({ t: 0, cs: 10, to: 'x@example.org', id: 'h1@example.edu' });
    const lines = [
      e,
      `${stamp(0, 10)} > From: "Alice" <ceo@example.com>`,
      `${stamp(0, 10)} > Subject: Urgent wire transfer`,
      `${stamp(0, 10)} > Received: from somewhere`,
    ];
    const s = submissions(run(lines).records)[0];
    assert.equal(s?.headerFrom, '"Alice" <ceo@example.com>');
    assert.equal(s?.subject, 'Urgent wire transfer');
    // Written before the enqueue record, with the same stamp.
    const before = submissions(run([lines[1] ?? '', e]).records)[0];
    assert.equal(before?.headerFrom, '"Alice" <ceo@example.com>');
    // A header of another instant is not this message's.
    const other = submissions(run([e, `${stamp(0, 11)} > From: someone@example.com`]).records)[0];
    assert.equal(other?.headerFrom, undefined);
  });

  it('groups XML (format 4) and counted (format 3) records the same way', () => {
    const xml = (ts: string, to: string): string =>
      `<en ts="2024-07-01T09:30:00.${ts}" pi="72aa.1.1" sc="tcp_submit" dc="tcp_local" ac="EEA" sz="5" so="alice@example.edu" od="rfc822;${to}" de="${to}" mi="&lt;x1@example.edu&gt;" us="*alice@example.edu" ss="pc ([198.51.100.17])"/>`;
    const subs = submissions(run([xml('25', 'a@example.org'), xml('26', 'b@example.org')]).records);
    assert.equal(subs.length, 1);
    assert.equal(subs[0]?.recipientCount, 2);
    const counted = (to: string): string =>
      `${stamp(0)} ${pad('tcp_submit')} ${pad('tcp_local')} EEA 1 17:alice@example.edu ${7 + to.length}:rfc822;${to} ${to.length}:${to} 16:<c1@example.edu> 18:*alice@example.edu 15:([203.0.113.9])`;
    const subs3 = submissions(run([counted('a@example.org'), counted('b@example.org')]).records);
    assert.equal(subs3.length, 1);
    assert.equal(subs3[0]?.recipientCount, 2);
    assert.equal(subs3[0]?.clientIp, '203.0.113.9');
  });
});

describe('mta-transaction: deliveries', () => {
  const e1 = enq({ t: 0, to: 'bob@example.org', id: 'd1@example.edu', file: '/q/tcp_local/ZZd1.00' });
  const rest = (code: string, to: string, tail: string): string =>
    `${stamp(2)} ${pad('tcp_local')}              ${code} 2 alice@example.edu rfc822;${to} ${to} /q/tcp_local/ZZd1.00 <d1@example.edu> mailsrv ${tail}`;

  it('turns D, R, K, Q and J records into Deliveries attributed to the submitting account', () => {
    const lines = [
      e1,
      rest('DE', 'bob@example.org', 'dns;mx.example.org (TCP|192.0.2.1|1|203.0.113.2|25) smtp;250 2.1.5 Ok'),
      rest('R', 'nobody@example.org', 'smtp;550 5.1.1 User unknown'),
      rest('K', 'late@example.org', 'Message timed out'),
      rest('K', 'deleted@example.org', 'Deleted by postmaster'),
      rest('Q', 'slow@example.org', 'smtp;451 4.7.1 Greylisted'),
      rest('D', 'odd@example.org', 'smtp;554 5.7.1 Rejected after DATA'),
      `${stamp(3)} ${pad('tcp_submit')}              JEA 0 alice@example.edu rfc822;x@example.net x@example.net *alice@example.edu pc ([198.51.100.17]) 550 5.7.1 Relaying denied`,
      `${stamp(3)} ${pad('tcp_local')}              JE 0 spam@example.com rfc822;x@example.edu x@example.edu 550 5.1.1 unknown`,
    ];
    const ds = deliveries(run(lines).records);
    assert.deepEqual(ds.map((d) => [d.recipient, d.status, d.account]), [
      ['bob@example.org', 'sent', 'alice@example.edu'],
      ['nobody@example.org', 'bounced', 'alice@example.edu'],
      ['late@example.org', 'expired', 'alice@example.edu'],
      ['deleted@example.org', 'failed', 'alice@example.edu'],
      ['slow@example.org', 'deferred', 'alice@example.edu'],
      ['odd@example.org', 'bounced', 'alice@example.edu'],
      ['x@example.net', 'failed', 'alice@example.edu'],
      ['x@example.edu', 'failed', undefined],
    ]);
  });

  it('attributes a delivery by queue file name when no message id is logged', () => {
    const lines = [
      enq({ t: 0, to: 'bob@example.org', file: '/q/tcp_local/ZZf.00' }),
      `${stamp(4)} ${pad('tcp_local')}              D 2 alice@example.edu rfc822;bob@example.org bob@example.org /q/tcp_local/ZZf.00 mailsrv`,
    ];
    assert.equal(deliveries(run(lines).records)[0]?.account, 'alice@example.edu');
  });

  it('leaves deliveries of unknown messages, B and V records unattributed or silent', () => {
    const lines = [
      `${stamp(0)} ims-ms                    D 3 x@example.com rfc822;c@example.edu c@ims-ms-daemon mailsrv`,
      `${stamp(1)} ${pad('tcp_local')}              B 0  rfc822;EXPN EXPN 502 5.5.1 Command not implemented`,
      `${stamp(2)} ${pad('tcp_submit')} ${pad('ims-ms')} VEA 0 a@example.edu rfc822;b b@ims-ms-daemon   *a@example.edu [127.0.0.1] ([127.0.0.1]) Error reading SMTP packet`,
    ];
    const r = run(lines);
    assert.deepEqual(r.records.map((x) => [x.kind, x.kind === 'delivery' ? x.account : 'n/a']), [['delivery', undefined]]);
  });
});

describe('mta-transaction: SMTP AUTH (U records)', () => {
  it('makes failed U records AuthFailures and successful ones AuthSuccesses', () => {
    const lines = [
      `${stamp(0)} 2e2d.6.1 ${pad('tcp_local')} +            U TCP|192.0.2.1|25|203.0.113.66|41012 SMTP Bad password mallory@example.edu 535 5.7.8 Bad username or password (Authentication failed).`,
      `<co ts="2024-03-14T03:00:01.00" pi="72aa.1.2" sc="tcp_local" dr="+" ac="U" tr="TCP|192.0.2.1|25|203.0.113.67|4299" ap="SMTP" mi="Bad password" us="bob@example.edu" di="535 5.7.8 Bad username or password (Authentication failed)."/>`,
      `<co ts="2024-03-14T03:00:02.00" pi="72a9.3b4.3774" sc="tcp_submit" dr="+" ac="U" tr="TCP|192.0.2.1|465|198.51.100.17|60766" ap="SMTP/TLS-128-RC4" mi="Authentication successful - switched to channel tcp_submit" us="Alice@Example.edu" di="235 2.7.0 LOGIN authentication successful."/>`,
      `<co ts="2024-03-14T03:00:03.00" pi="72a9.3b4.3775" sc="tcp_submit" dr="+" ac="U" ap="SMTP" mi="Mechanism not supported" di="504 5.5.4 Unrecognized authentication type"/>`,
    ];
    const { records } = run(lines);
    assert.deepEqual(failures(records).map((f) => [f.account, f.login, f.clientIp, f.service, f.reason]), [
      ['mallory@example.edu', 'mallory@example.edu', '203.0.113.66', 'tcp_local', 'Bad password'],
      ['bob@example.edu', 'bob@example.edu', '203.0.113.67', 'tcp_local', 'Bad password'],
    ]);
    assert.deepEqual(successes(records).map((s) => [s.account, s.login, s.clientIp, s.service]), [
      ['alice@example.edu', 'Alice@Example.edu', '198.51.100.17', 'tcp_submit'],
    ]);
    assert.equal(records.length, 3, 'a refused mechanism is no password guess');
  });

  it('attributes an A enqueue without a username to the login of its SMTP session (same process id)', () => {
    const lines = [
      `${stamp(0)} 2e2d.6.1 ${pad('tcp_submit')} +            O TCP|192.0.2.1|587|198.51.100.40|41012 SMTP`,
      `${stamp(1)} 2e2d.6.1 ${pad('tcp_submit')} +            U TCP|192.0.2.1|587|198.51.100.40|41012 SMTP Authentication successful - switched to channel tcp_submit carol@example.edu 235 2.7.0 PLAIN authentication successful.`,
      `${stamp(2)} 2e2d.6.1 ${pad('tcp_submit')} ${pad('tcp_local')} EEA 1 carol@example.edu rfc822;z@example.net z@example.net <s1@example.edu>`,
      `${stamp(3)} 2e2d.6.1 ${pad('tcp_submit')} +            C TCP|192.0.2.1|587|198.51.100.40|41012 SMTP`,
      `${stamp(4)} 2e2d.6.1 ${pad('tcp_submit')} ${pad('tcp_local')} EEA 1 carol@example.edu rfc822;z2@example.net z2@example.net <s2@example.edu>`,
    ];
    const r = run(lines);
    const subs = submissions(r.records);
    assert.equal(subs.length, 1, 'after the close, the process id names no session');
    assert.equal(subs[0]?.account, 'carol@example.edu');
    assert.equal(subs[0]?.clientIp, '198.51.100.40');
    assert.ok(r.diagnostics.some((d) => d.startsWith('1 authenticated enqueue record(s)')));
  });
});

describe('mta-transaction: diagnostics name the missing LOG_* option', () => {
  it('says so when A enqueues carry no username (LOG_USERNAME)', () => {
    const lines = [
      `${stamp(0)} ${pad('tcp_submit')} ${pad('tcp_local')} EEA 1 a@example.edu rfc822;z@example.net z@example.net <n1@example.edu> pc (dsl [198.51.100.1])`,
      `${stamp(0)} ${pad('tcp_submit')} ${pad('tcp_local')} ESA 1 a@example.edu rfc822;y@example.net y@example.net <n1@example.edu> pc (dsl [198.51.100.1])`,
    ];
    const r = run(lines);
    assert.equal(submissions(r.records).length, 0);
    assert.ok(r.diagnostics.some((d) => d.startsWith('2 authenticated enqueue record(s) (A modifier) without a username') && d.includes('LOG_USERNAME=1')), r.diagnostics.join('\n'));
  });

  it('says so when no enqueue has a username field at all', () => {
    const r = run([`${stamp(0)} ${pad('tcp_local')} ${pad('ims-ms')} EE 1 a@example.com rfc822;z@example.edu z@ims-ms-daemon <n2@example.com> mx ([192.0.2.9])`]);
    assert.ok(r.diagnostics.some((d) => d.startsWith('none of 1 enqueue records has a username field') && d.includes('LOG_USERNAME=1')), r.diagnostics.join('\n'));
  });

  it('says the sender-host rule is blind when enqueues carry no source system (LOG_CONNECTION)', () => {
    const r = run([enq({ t: 0, to: 'x@example.org', id: 'n3@example.edu' })]);
    assert.ok(r.diagnostics.some((d) => d.includes('foreign-sender-host is blind') && d.includes('LOG_CONNECTION')), r.diagnostics.join('\n'));
    assert.ok(r.diagnostics.some((d) => d.startsWith('no connection records')), r.diagnostics.join('\n'));
  });

  it('counts the submissions without a client IP when only some lack one', () => {
    const r = run([
      enq({ t: 0, to: 'x@example.org', id: 'n4@example.edu', ip: '198.51.100.4' }),
      enq({ t: 0, to: 'x@example.org', id: 'n5@example.edu' }),
    ]);
    assert.ok(r.diagnostics.some((d) => d.startsWith('1 of 2 submissions have no client IP')), r.diagnostics.join('\n'));
  });

  it('warns that grouping is by time without message id or queue file (LOG_MESSAGE_ID)', () => {
    const r = run([enq({ t: 0, to: 'x@example.org', ip: '198.51.100.4' })]);
    assert.ok(r.diagnostics.some((d) => d.includes('LOG_MESSAGE_ID=1')), r.diagnostics.join('\n'));
  });

  it('is silent for a fully configured log', () => {
    const r = run([
      `${stamp(0)} 2e2d.6.1 ${pad('tcp_submit')} +            O TCP|192.0.2.1|587|198.51.100.40|41012 SMTP`,
      enq({ t: 1, to: 'x@example.org', id: 'n6@example.edu', ip: '198.51.100.4', pi: '2e2d.6.1' }),
    ]);
    assert.deepEqual(r.diagnostics, []);
  });
});

/** A log exercising every correlator path: used to split at every line. */
const SPLIT_LOG: readonly string[] = [
  `${stamp(0)} 2e2d.6.1 ${pad('tcp_submit')} +            O TCP|192.0.2.1|587|198.51.100.40|41012 SMTP`,
  `${stamp(1)} 2e2d.6.1 ${pad('tcp_submit')} +            U TCP|192.0.2.1|587|198.51.100.40|41012 SMTP Bad password carol@example.edu 535 5.7.8 Bad username or password (Authentication failed).`,
  `${stamp(2)} 2e2d.6.1 ${pad('tcp_submit')} +            U TCP|192.0.2.1|587|198.51.100.40|41012 SMTP Authentication successful - switched to channel tcp_submit carol@example.edu 235 2.7.0 PLAIN authentication successful.`,
  `${stamp(3)} > Subject: pending header`,
  `${stamp(3)} 2e2d.6.1 ${pad('tcp_submit')} ${pad('tcp_local')} EEA 1 carol@example.edu rfc822;z@example.net z@example.net <s1@example.edu>`,
  `${stamp(3)} > From: Carol <carol@example.edu>`,
  enq({ t: 4, to: 'b1@example.org', id: 'm1@example.edu', ip: '198.51.100.17', pi: '2e2d.5.1', file: '/q/tcp_local/ZZ1.00' }),
  enq({ t: 4, cs: 1, to: 'b2@example.edu', id: 'm1@example.edu', ip: '198.51.100.17', pi: '2e2d.5.1', dst: 'ims-ms', file: '/q/ims-ms/ZZ2.00' }),
  `${stamp(5)} ims-ms                    D 3 alice@example.edu rfc822;b2@example.edu b2@ims-ms-daemon /q/ims-ms/ZZ2.00 <m1@example.edu> mailsrv`,
  enq({ t: 6, to: 'r1@example.org' }),
  enq({ t: 6, cs: 50, to: 'r2@example.org' }),
  `${stamp(8)} ${pad('tcp_local')}              R 3 alice@example.edu rfc822;b1@example.org b1@example.org /q/tcp_local/ZZ1.00 <m1@example.edu> mailsrv smtp;550 5.1.1 unknown`,
  `${stamp(9)} 2e2d.6.1 ${pad('tcp_submit')} +            C TCP|192.0.2.1|587|198.51.100.40|41012 SMTP`,
  `<en ts="2024-03-14T03:00:20.00" pi="72aa.1.1" sc="tcp_submit" dc="tcp_local" ac="EEA" sz="5" so="dave@example.edu" od="rfc822;q@example.org" de="q@example.org" mi="&lt;x1@example.edu&gt;" us="*dave@example.edu" ss="pc ([198.51.100.9])"/>`,
  'garbage line',
  `${stamp(45)} ${pad('tcp_local')}              Q 3 alice@example.edu rfc822;b1@example.org b1@example.org /q/tcp_local/ZZ1.00 <m1@example.edu> mailsrv smtp;451 4.3.0 later`,
  enq({ t: 60, to: 'late@example.org', id: 'm9@example.edu', ip: '198.51.100.17' }),
  `${stamp(60)} > From: other@example.com`,
  `${stamp(70)} ${pad('tcp_local')}              D 3 alice@example.edu rfc822;b1@example.org b1@example.org /q/tcp_local/ZZ1.00 <m1@example.edu> mailsrv smtp;250 ok`,
  enq({ t: 200, to: 'last@example.org', id: 'm10@example.edu', ip: '198.51.100.17' }),
];

describe('mta-transaction: snapshot and restore', () => {
  it('gives the same records when the log is split at any line', () => {
    const whole = run(SPLIT_LOG);
    assert.ok(submissions(whole.records).length >= 5, 'the log exercises grouping');
    assert.ok(deliveries(whole.records).length >= 4);
    for (let cut = 0; cut <= SPLIT_LOG.length; cut++) {
      const first = run(SPLIT_LOG.slice(0, cut), { noFlush: true });
      const saved: unknown = JSON.parse(JSON.stringify(first.snapshot));
      const second = run(SPLIT_LOG.slice(cut), { saved, firstLineNo: cut + 1 });
      assert.deepEqual([...first.records, ...second.records], whole.records, `split before line ${cut + 1}`);
    }
  });

  it('ignores a saved state it does not understand', () => {
    for (const saved of [null, 42, 'x', { v: 2 }, { v: 1, open: 'no' }]) {
      assert.equal(submissions(run([enq({ t: 0, to: 'x@example.org', id: 'z@example.edu' })], { saved }).records).length, 1);
    }
  });
});

describe('mta-transaction: detection', () => {
  const samples: Record<string, readonly string[]> = {
    format1: [
      '11-Jun-2019 09:07:57.62 tcp_local    ims-ms       EEQ 5  rfc822;a@example.fr b@ims-ms-daemon mailsrv h.example.fr ([192.0.2.130])',
      '11-Jun-2019 09:07:57.65 ims-ms                    D 5  rfc822;a@example.fr b@ims-ms-daemon mailsrv',
      '10-Jul-2019 09:30:57.32 tcp_intranet - Y SMTP/relay.example.eu/relay.example.eu',
    ],
    format2: ['01-Jun-2024 08:00:00.01 tcp_local    ims-ms       EE 2 <> rfc822;dave@example.edu dave@ims-ms-daemon mailsrv'],
    format3: ['15-Mar-2024 10:15:02.00 tcp_local    ims-ms       EE 2 0: 23:rfc822;dave@example.edu 18:dave@ims-ms-daemon 7:mailsrv'],
    format4: [
      '<co ts="2014-06-02T16:06:33.99" pi="72aa.17f0.25622" sc="tcp_local" dr="+" ac="U" tr="TCP|192.0.2.223|25|203.0.113.78|4299" ap="SMTP" mi="Bad password" us="nic@example.com" di="535 5.7.8 Bad username or password (Authentication failed)."/>',
      '<en ts="2024-07-01T09:30:00.25" sc="tcp_submit" dc="tcp_local" ac="EEA" sz="5" so="a@example.edu" od="rfc822;b@example.org" de="b@example.org"/>',
    ],
  };
  for (const [name, lines] of Object.entries(samples)) {
    it(`recognises ${name}`, () => {
      assert.ok(detectMtaTransaction(lines) >= 0.9);
      assert.ok(mtaTransaction.detect(['# a comment', '', ...lines]) >= 0.9);
    });
  }

  const others: Record<string, readonly string[]> = {
    'postfix syslog': [
      'Mar 14 03:16:00 mx postfix/smtpd[123]: connect from unknown[203.0.113.5]',
      '2023-03-14T00:31:06.621091+01:00 mx postfix/submission/smtpd[4242]: 4PbX1x: client=unknown[203.0.113.5], sasl_method=LOGIN, sasl_username=alice',
    ],
    'kerio': [
      '[14/Mar/2024 03:16:00] Recv: Queue-ID: 65f2a1b0-00000001, Service: SMTP, From: <a@example.edu>, To: <b@example.net>, Size: 1234, Sender-Host: 198.51.100.3, SSL: yes',
      '[14/Mar/2024 03:16:01] Failed SMTP login from 203.0.113.5 with SASL method LOGIN.',
    ],
    'metermaid / service log': [
      '[29/May/2019:08:39:42 +0200] mta1 imapd[17849]: Account Notice: badlogin: [192.0.2.6:45711] plaintext user1@example.fr Authentication failed',
      '[06/Mar/2012:21:19:00 -0800] mta1 metermaid[2121]: General Notice: Current status for "a@example.edu" in sendlim: 90 / 100',
    ],
  };
  for (const [name, lines] of Object.entries(others)) {
    it(`does not claim ${name}`, () => {
      assert.ok(detectMtaTransaction(lines) < DETECT_THRESHOLD);
      assert.equal(detectMtaTransaction(lines), 0);
      const parse = mtaTransaction.createLineParser({ source: 'x', timezone: 'UTC', referenceTime: 0 });
      for (const text of lines) assert.equal(parse({ source: 'x', lineNo: 1, text }).kind, 'unrecognised', text);
    });
  }

  it('stays below the threshold for a stray match among other lines', () => {
    const mixed = [...(others['postfix syslog'] ?? []), ...(others.kerio ?? []), ...(others['metermaid / service log'] ?? []), ...(samples.format2 ?? [])];
    mixed.push(...mixed, ...mixed);
    assert.ok(detectMtaTransaction(mixed) < DETECT_THRESHOLD);
  });
});

describe('mta-transaction: hostile input', () => {
  const parse = mtaTransaction.createLineParser({ source: 'x', timezone: 'Europe/Paris', referenceTime: 0 });
  const head = `${stamp(0)} ${pad('tcp_submit')} ${pad('tcp_local')} EEA 1 a@example.edu rfc822;b@example.org b@example.org *a@example.edu `;

  it('handles megabyte lines of pathological shapes quickly and without throwing', () => {
    const big = 1 << 20;
    const bodies = ['('.repeat(big), '<'.repeat(big), '&'.repeat(big), 'x '.repeat(big / 2), '[1.2.3.4])'.repeat(big / 10), '9:'.repeat(big / 2)];
    for (const body of bodies) {
      for (const text of [head + body, `${stamp(0)} ${body}`, `<en ts="2024-07-01T09:30:00.25" mi="${body}"/>`, `<co ts="2024-07-01T09:30:00.25" ${body}`]) {
        const t0 = performance.now();
        const r = parse({ source: 'x', lineNo: 1, text });
        assert.ok(['event', 'ignored', 'unrecognised'].includes(r.kind));
        assert.ok(performance.now() - t0 < 1000, `slow on ${body.slice(0, 10)}…`);
      }
    }
  });

  it('never throws on random lines, in the parser or the correlator', () => {
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = ' ()<>[]|;:*@.-_&#x0123456789ETADRKQJBUOCYabcdefghij"\'=/+\t';
    const prefixes = [head, `${stamp(0)} `, `${stamp(0)} ${pad('tcp_local')} +            U `, '<en ts="2024-07-01T09:30:00.25" ', '<co ts="2024-07-01T09:30:00.25" ac="U" '];
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) {
      let s = prefixes[rnd(prefixes.length)] ?? '';
      const n = rnd(120);
      for (let k = 0; k < n; k++) s += alphabet[rnd(alphabet.length)] ?? '';
      lines.push(s);
    }
    assert.doesNotThrow(() => run(lines));
  });

  it('reads a repeated XML attribute as a map of them would: first place, last value', () => {
    const ts = 'ts="2024-07-01T09:30:00.25"';
    const header = (text: string): unknown => {
      const r = parse({ source: 'x', lineNo: 1, text });
      if (r.kind !== 'event') return r.kind;
      const e = r.event as MtaEvent;
      return e.type === 'header' ? [e.name, e.value, e.process] : e.type;
    };
    assert.deepEqual(header(`<he ${ts} zz="Subject: first" yy="From: second" zz="neither"/>`), ['from', 'second', undefined]);
    assert.deepEqual(header(`<he ${ts} zz="x" yy="From: second" zz="Subject: last" pi="1.2.3" pi="4.5.6"/>`), ['subject', 'last', '4.5.6']);
    assert.deepEqual(header(`<he ${ts} Zz="Subject: upper case is another name" zz="x"/>`), ['subject', 'upper case is another name', undefined]);
    const many = Array.from({ length: 300 }, (_, i) => `a${i}="v${i}"`).join(' ');
    assert.deepEqual(header(`<he ${ts} ${many} zz="From: after 300" pi="7.8.9"/>`), ['from', 'after 300', '7.8.9']);
    assert.equal(header(`<he ${ts} zz="From: cut short"`), 'unrecognised');
  });

  it('decodes entities without trusting them', () => {
    assert.equal(decodeEntities('a&lt;b&gt;&amp;&quot;&apos;&#65;&#x42;&#X43;'), 'a<b>&"\'ABC');
    assert.equal(decodeEntities('&nope; &#xD800; &#99999999; & &;'), '&nope; &#xD800; &#99999999; & &;');
    assert.equal(decodeEntities('&constructor;&toString;&__proto__;&hasOwnProperty;'), '&constructor;&toString;&__proto__;&hasOwnProperty;', 'no name of Object.prototype is an entity');
  });

  it('splits a U record summary from its login', () => {
    assert.deepEqual(splitAuthText('Bad password alice@example.edu'), { message: 'Bad password', login: 'alice@example.edu' });
    assert.deepEqual(splitAuthText('Bad password jdent'), { message: 'Bad password', login: 'jdent' });
    assert.deepEqual(splitAuthText('Bad password'), { message: 'Bad password' });
    assert.deepEqual(splitAuthText('Authentication successful - switched to channel tcp_submit'), { message: 'Authentication successful - switched to channel tcp_submit' });
    assert.deepEqual(splitAuthText('jdent'), { login: 'jdent' });
  });
});
