import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  kerio, createKerioLineParser, detectKerio, inferOffset, queueIdEpoch, parseWallClock,
  type KerioEvent,
} from '../../src/parsers/kerio.js';
import { createKerioCorrelator, KERIO_LIMITS, type KerioLimits } from '../../src/correlate/kerio.js';
import { DETECT_THRESHOLD, findParser } from '../../src/parsers/index.js';
import type { CorrelateContext, LineStatus, ParseContext } from '../../src/parsers/types.js';
import type { AuthFailure, Delivery, LogLine, MailRecord, Submission } from '../../src/core/types.js';

const PCTX: ParseContext = { source: 'mail.log', timezone: 'UTC', referenceTime: Date.parse('2026-03-01T00:00:00Z') };
const CCTX: CorrelateContext = { defaultDomain: 'example.edu', openTtlMs: 600_000 };
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const HOUR = 3600_000;

// ---------------------------------------------------------------------------
// Line builders: times are given in UTC and written as a server `offsetH` hours east would.

const pad = (n: number): string => String(n).padStart(2, '0');

function stamp(iso: string, offsetH: number): string {
  const d = new Date(Date.parse(iso) + offsetH * HOUR);
  return `[${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()] ?? '?'}/${d.getUTCFullYear()} `
    + `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}]`;
}

function qid(iso: string, counter: number): string {
  return `${(Date.parse(iso) / 1000).toString(16).padStart(8, '0')}-${counter.toString(16).padStart(8, '0')}`;
}

interface RecvSpec {
  readonly at: string;
  readonly queued?: string;
  readonly counter: number;
  readonly to: string;
  readonly user?: string;
  readonly from?: string;
  readonly host?: string;
  readonly service?: string;
  readonly subject?: string;
  readonly offsetH?: number;
}

function recv(s: RecvSpec): string {
  const user = s.user === undefined ? '' : `User: ${s.user}, `;
  return `${stamp(s.at, s.offsetH ?? 1)} Recv: Queue-ID: ${qid(s.queued ?? s.at, s.counter)}, Service: ${s.service ?? 'SMTP'}, `
    + `From: <${s.from ?? s.user ?? 'someone@example.org'}>, To: <${s.to}>, Size: 1234, Sender-Host: ${s.host ?? '203.0.113.45'}, `
    + `${user}SSL: yes, Subject: ${s.subject ?? 'hello'}, Msg-Id: <m${s.counter}@example.edu>`;
}

function sent(at: string, queued: string, counter: number, rcpt: string, result: string, offsetH = 1): string {
  return `${stamp(at, offsetH)} Sent: Queue-ID: ${qid(queued, counter)}, Recipient: <${rcpt}>, Result: ${result}, `
    + `Status: ${result === 'failed' ? '5.1.1' : '2.0.0'} , Remote-Host: 198.51.100.1, Msg-Id: <m${counter}@example.edu>`;
}

function smtpFail(at: string, ip: string, offsetH = 1): string {
  return `${stamp(at, offsetH)} Failed SMTP login from ${ip} with SASL method LOGIN.`;
}

const toLines = (texts: readonly string[]): LogLine[] => texts.map((text, i) => ({ source: 'mail.log', lineNo: i + 1, text }));

interface Run {
  readonly records: MailRecord[];
  readonly statuses: LineStatus[];
  readonly diagnostics: readonly string[];
}

/** The whole plugin as the pipeline drives it: line parser + correlator, flushed at the end. */
function run(texts: readonly string[], pctx: ParseContext = PCTX, flush = true): Run {
  const records: MailRecord[] = [];
  const session = kerio.open(pctx, CCTX, (r) => records.push(r));
  const statuses = toLines(texts).map((l) => session.push(l));
  if (flush) session.flush();
  return { records, statuses, diagnostics: session.diagnostics() };
}

function parseAll(texts: readonly string[], pctx: ParseContext = PCTX): { event: KerioEvent; line: LogLine }[] {
  const parse = createKerioLineParser(pctx);
  const out: { event: KerioEvent; line: LogLine }[] = [];
  for (const line of toLines(texts)) {
    const r = parse(line);
    if (r.kind === 'event') out.push({ event: r.event, line });
  }
  return out;
}

function parseOne(text: string): KerioEvent | undefined {
  return parseAll([text])[0]?.event;
}

const submissions = (rs: readonly MailRecord[]): Submission[] => rs.filter((r): r is Submission => r.kind === 'submission');
const deliveries = (rs: readonly MailRecord[]): Delivery[] => rs.filter((r): r is Delivery => r.kind === 'delivery');
const failures = (rs: readonly MailRecord[]): AuthFailure[] => rs.filter((r): r is AuthFailure => r.kind === 'auth-failure');

// ---------------------------------------------------------------------------

describe('kerio: registry and detection', () => {
  it('is registered under its file name', () => {
    assert.equal(findParser('kerio'), kerio);
  });

  it('is confident about Kerio lines and not about other families', () => {
    const ours = [recv({ at: '2026-01-12T08:00:00Z', counter: 1, to: 'a@example.org', user: 'x' }), smtpFail('2026-01-12T08:00:01Z', '192.0.2.1')];
    assert.ok(detectKerio(ours) >= 0.99);
    assert.ok(detectKerio(['# failJSON: {}', '', ...ours]) >= 0.99, 'comments and blank lines do not count');
    assert.equal(detectKerio(['Mar 11 11:40:39 mail postfix/smtpd[1]: connect from unknown[192.0.2.1]']), 0);
    assert.equal(detectKerio(['[06/Mar/2012:14:05:01 -0800] mail1 metermaid[2141]: General Notice: x']), 0);
    assert.equal(detectKerio([]), 0);
    assert.ok(detectKerio(['[11/Mar/2024 11:40:39] Some other Kerio notice']) >= DETECT_THRESHOLD);
  });
});

describe('kerio: one Submission per authenticated message', () => {
  const T = '2026-01-12T08:03:17Z';
  const three = ['carol@example.net', 'dave@example.edu', 'erin@example.org']
    .map((to) => recv({ at: T, counter: 0x1b, to, user: 'MKowalski', from: 'mkowalski@example.edu', subject: 'Re: invoice, payment' }));

  it('joins the Recv lines of one Queue-ID into one message with N recipients', () => {
    const { records } = run(three);
    assert.deepEqual(records, [{
      kind: 'submission',
      at: Date.parse(T),
      account: 'mkowalski@example.edu',
      login: 'MKowalski',
      envelopeFrom: 'mkowalski@example.edu',
      recipients: ['carol@example.net', 'dave@example.edu', 'erin@example.org'],
      recipientCount: 3,
      clientIp: '203.0.113.45',
      service: 'SMTP',
      messageId: 'm27@example.edu',
      subject: 'Re: invoice, payment',
      size: 1234,
      evidence: toLines(three),
    }]);
    assert.ok(!('host' in (records[0] ?? {})), 'Kerio logs no server name');
  });

  it('counts a recipient logged twice once', () => {
    const [s] = submissions(run([three[0] ?? '', three[0] ?? '', three[1] ?? '']).records);
    assert.equal(s?.recipientCount, 2);
    assert.equal(s?.evidence.length, 3);
  });

  it('caps the evidence at 20 lines but counts every recipient', () => {
    const many = Array.from({ length: 45 }, (_, i) => recv({ at: T, counter: 7, to: `r${i}@example.org`, user: 'spam' }));
    const [s] = submissions(run(many).records);
    assert.equal(s?.recipientCount, 45);
    assert.equal(s?.recipients.length, 45);
    assert.equal(s?.evidence.length, 20);
  });

  it('completes a message only when an event is more than 30 s after its last Recv line', () => {
    const records: MailRecord[] = [];
    const session = kerio.open(PCTX, CCTX, (r) => records.push(r));
    const push = (text: string, lineNo: number): void => { session.push({ source: 'mail.log', lineNo, text }); };
    push(recv({ at: '2026-01-12T08:00:00Z', counter: 1, to: 'a@example.org', user: 'u1' }), 1);
    push(recv({ at: '2026-01-12T08:00:10Z', queued: '2026-01-12T08:00:00Z', counter: 1, to: 'b@example.org', user: 'u1' }), 2);
    push(smtpFail('2026-01-12T08:00:40Z', '192.0.2.1'), 3); // exactly 30 s after the last Recv line
    assert.equal(submissions(records).length, 0, '30 s is not yet more than 30 s');
    push(smtpFail('2026-01-12T08:00:41Z', '192.0.2.1'), 4);
    const [s] = submissions(records);
    assert.equal(s?.recipientCount, 2);
    assert.equal(records.indexOf(s as MailRecord), 1, 'the Submission comes before the event that completed it');
  });

  it('completes what is open on flush(), and not before', () => {
    const line = recv({ at: T, counter: 2, to: 'a@example.org', user: 'u1' });
    assert.equal(run([line], PCTX, false).records.length, 0);
    assert.equal(run([line]).records.length, 1);
  });

  it('keeps messages with different Queue-IDs apart, even when their counters repeat', () => {
    const { records } = run([
      recv({ at: '2026-01-12T08:00:00Z', counter: 3, to: 'a@example.org', user: 'u1' }),
      recv({ at: '2026-01-12T08:00:01Z', counter: 3, to: 'b@example.org', user: 'u2' }),
    ]);
    assert.deepEqual(submissions(records).map((s) => s.account), ['u1@example.edu', 'u2@example.edu']);
  });

  it('produces nothing for unauthenticated (inbound) mail, its deliveries, or server-generated DSNs', () => {
    const { records } = run([
      recv({ at: T, counter: 4, to: 'jdent@example.edu', from: 'news@shop.example.com', host: '198.51.100.23' }),
      sent('2026-01-12T08:03:18Z', T, 4, 'jdent@example.edu', 'delivered'),
      recv({ at: T, counter: 5, to: 'u1@example.edu', user: 'u1', from: '', service: 'DSN', host: '127.0.0.1' }),
      sent('2026-01-12T08:03:19Z', T, 5, 'u1@example.edu', 'delivered'),
    ]);
    assert.deepEqual(records, []);
  });

  it('gives webmail (Sender-Host 0.0.0.0) no client address, never a foreign one, and says so once', () => {
    const { records, diagnostics } = run([
      recv({ at: T, counter: 6, to: 'a@example.org', user: 'jdent@example.edu', service: 'Kerio Connect Client', host: '0.0.0.0' }),
    ]);
    const [s] = submissions(records);
    assert.equal(s?.service, 'Kerio Connect Client');
    assert.ok(s && !('clientIp' in s));
    assert.equal(diagnostics.length, 1);
    assert.match(diagnostics[0] ?? '', /1 submission\(s\) logged no client address/);
  });

  it('bounds open messages: beyond the limit the oldest is completed early', () => {
    const records: MailRecord[] = [];
    const limits: KerioLimits = { ...KERIO_LIMITS, maxOpen: 3 };
    const c = createKerioCorrelator(CCTX, (r) => records.push(r), undefined, limits);
    const evs = parseAll([1, 2, 3, 4].map((n) => recv({ at: T, counter: n, to: 'a@example.org', user: `u${n}` })));
    for (const { event, line } of evs.slice(0, 3)) c.push(event, line);
    assert.equal(records.length, 0);
    const fourth = evs[3];
    assert.ok(fourth);
    c.push(fourth.event, fourth.line);
    assert.deepEqual(submissions(records).map((s) => s.login), ['u1']);
  });

  it('holds 10,000 open messages by default', () => {
    assert.equal(KERIO_LIMITS.maxOpen, 10_000);
    const records: MailRecord[] = [];
    const c = createKerioCorrelator(CCTX, (r) => records.push(r));
    const [ev] = parseAll([recv({ at: T, counter: 1, to: 'a@example.org', user: 'u' })]);
    assert.ok(ev?.event.type === 'recv');
    for (let i = 0; i < 10_001; i++) c.push({ ...ev.event, queueId: `q${i}` }, ev.line);
    assert.equal(records.length, 1);
    assert.equal(submissions(records)[0]?.evidence[0]?.lineNo, 1);
  });
});

describe('kerio: deliveries', () => {
  const Q = '2026-01-12T08:03:17Z';
  const msg = ['dave@example.edu', 'carol@example.net', 'erin@example.org', 'frank@example.org']
    .map((to) => recv({ at: Q, counter: 9, to, user: 'mkowalski' }));

  it('turns Sent lines of an authenticated message into Deliveries for its account, after its Submission', () => {
    const { records } = run([
      ...msg,
      sent('2026-01-12T08:03:18Z', Q, 9, 'dave@example.edu', 'delivered'),
      sent('2026-01-12T08:03:19Z', Q, 9, 'carol@example.net', 'relayed'),
      sent('2026-01-12T08:03:20Z', Q, 9, 'erin@example.org', 'deferred'),
      sent('2026-01-12T08:03:21Z', Q, 9, 'frank@example.org', 'failed'),
    ]);
    assert.deepEqual(records.map((r) => r.kind), ['submission', 'delivery', 'delivery', 'delivery', 'delivery']);
    assert.deepEqual(deliveries(records).map((d) => [d.recipient, d.status, d.account]), [
      ['dave@example.edu', 'sent', 'mkowalski@example.edu'],
      ['carol@example.net', 'sent', 'mkowalski@example.edu'],
      ['erin@example.org', 'deferred', 'mkowalski@example.edu'],
      ['frank@example.org', 'failed', 'mkowalski@example.edu'],
    ]);
    const d = deliveries(records)[0];
    assert.equal(d?.at, Date.parse('2026-01-12T08:03:18Z'));
    assert.equal(d?.evidence.length, 1);
    assert.match(d?.evidence[0]?.text ?? '', /Sent: /);
  });

  it('still attributes a retry hours after the message completed', () => {
    const { records } = run([
      ...msg,
      smtpFail('2026-01-12T09:00:00Z', '192.0.2.1'),
      sent('2026-01-12T20:03:21Z', Q, 9, 'erin@example.org', 'failed'),
    ]);
    assert.deepEqual(records.map((r) => r.kind), ['submission', 'auth-failure', 'delivery']);
    assert.equal(deliveries(records)[0]?.account, 'mkowalski@example.edu');
  });

  it('forgets a completed Queue-ID after its time, and beyond its count', () => {
    const limits: KerioLimits = { ...KERIO_LIMITS, minRememberMs: HOUR, maxRemembered: 2 };
    const drive = (texts: readonly string[]): MailRecord[] => {
      const records: MailRecord[] = [];
      const c = createKerioCorrelator({ openTtlMs: 60_000 }, (r) => records.push(r), undefined, limits);
      for (const { event, line } of parseAll(texts)) c.push(event, line);
      c.flush();
      return records;
    };
    const late = drive([...msg, sent('2026-01-12T09:03:18Z', Q, 9, 'erin@example.org', 'failed')]);
    assert.equal(deliveries(late).length, 0, 'an hour and a second later it is forgotten');
    const evicted = drive([
      ...msg,
      recv({ at: '2026-01-12T08:05:00Z', counter: 10, to: 'a@example.org', user: 'u2' }),
      recv({ at: '2026-01-12T08:06:00Z', counter: 11, to: 'a@example.org', user: 'u3' }),
      recv({ at: '2026-01-12T08:07:00Z', counter: 12, to: 'a@example.org', user: 'u4' }),
      sent('2026-01-12T08:08:00Z', Q, 9, 'erin@example.org', 'failed'),
    ]);
    assert.equal(deliveries(evicted).length, 0, 'three later messages pushed it out of a memory of two');
  });

  it('ignores a Sent line whose message it never saw', () => {
    assert.deepEqual(run([sent('2026-01-12T08:03:18Z', Q, 99, 'x@example.org', 'failed')]).records, []);
  });
});

describe('kerio: failed logins', () => {
  it('turns each security.log shape into an AuthFailure', () => {
    const at = '2026-03-20T06:25:15Z';
    const s = stamp(at, 0);
    const { records, statuses } = run([
      `${s} Failed SMTP login from 203.0.113.112 with SASL method CRAM-MD5.`,
      `${s} Failed IMAP login from 192.0.2.139,missing parameter in AUTHENTICATE header`,
      `${s} SMTP: User Printer doesn't exist. Attempt from IP address 198.51.100.26.`,
      `${s} HTTP/WebMail: Invalid password for user jdent@example.edu. Attempt from IP address 203.0.113.125`,
      `${s} Failed SMTP login from dyn-77.pool.example.net with SASL method LOGIN.`,
    ]);
    assert.deepEqual(statuses, ['event', 'event', 'event', 'event', 'event']);
    const ev = (i: number): readonly LogLine[] => records[i]?.evidence ?? [];
    assert.deepEqual(failures(records), [
      { kind: 'auth-failure', at: Date.parse(at), clientIp: '203.0.113.112', mechanism: 'CRAM-MD5', service: 'SMTP', evidence: ev(0) },
      { kind: 'auth-failure', at: Date.parse(at), clientIp: '192.0.2.139', service: 'IMAP', reason: 'missing parameter in AUTHENTICATE header', evidence: ev(1) },
      {
        kind: 'auth-failure', at: Date.parse(at), account: 'printer@example.edu', login: 'Printer', clientIp: '198.51.100.26',
        service: 'SMTP', reason: 'no such user', accountExists: false, evidence: ev(2),
      },
      {
        kind: 'auth-failure', at: Date.parse(at), account: 'jdent@example.edu', login: 'jdent@example.edu', clientIp: '203.0.113.125',
        service: 'HTTP/WebMail', reason: 'invalid password', accountExists: true, evidence: ev(3),
      },
      { kind: 'auth-failure', at: Date.parse(at), mechanism: 'LOGIN', service: 'SMTP', reason: 'client dyn-77.pool.example.net', evidence: ev(4) },
    ]);
  });

  it('ignores the other security notices instead of calling them unrecognised', () => {
    const s = stamp('2026-03-20T06:25:15Z', 0);
    const { statuses, records } = run([
      `${s} Relay attempt from IP address 198.51.100.75, mail from <a@spam.example> to <b@example.org> rejected`,
      `${s} IP address 198.51.100.199 found in DNS blacklist SpamCop, mail from <x@spam.example> to <o@example.edu> rejected`,
      `${s} SPF check failed: The IP address '198.51.100.76' is not in permitted set for sender 'a@spam.example' (FAIL)`,
      `${s} SMTP Spam attack detected from 198.51.100.84, client closed connection before SMTP greeting`,
      `${s} SMTP: AntiHammering - IP address 203.0.113.1 will be blocked for 5 minutes, too many failed logins from this IP address.`,
      `${s} Administration login into Web Administration from 198.51.100.136 failed: IP address not allowed`,
      `${s} Found virus in mail from <a@spam.example> to <b@example.edu>: EICAR-Test-File`,
    ]);
    assert.deepEqual(new Set(statuses), new Set(['ignored']));
    assert.deepEqual(records, []);
  });
});

describe('kerio: attacker-written fields cannot move the blame', () => {
  const T = '2026-02-02T07:00:00Z';
  const injected = 'Invoice, User: ceo@example.edu, SSL: yes, Sender-Host: 192.168.1.1';

  it('a Subject cannot make inbound mail look like an authenticated local submission', () => {
    const line = recv({ at: T, counter: 1, to: 'staff@example.edu', from: 'billing@evil.example', host: '198.51.100.77', subject: injected });
    const e = parseOne(line);
    assert.ok(e?.type === 'recv');
    assert.equal(e.user, null);
    assert.equal(e.clientIp, '198.51.100.77');
    assert.equal(e.subject, injected);
    assert.deepEqual(run([line]).records, []);
  });

  it('a Subject cannot change the account that sent or the address it sent from', () => {
    const line = recv({
      at: T, counter: 2, to: 'victim@example.org', from: 'ceo@example.edu', user: 'mallory@example.edu',
      host: '203.0.113.66', subject: `hi, Sender-Host: 192.168.1.1, User: ceo@example.edu, SSL: yes, Msg-Id: <fake@example.edu>`,
    });
    const [s] = submissions(run([line]).records);
    assert.equal(s?.account, 'mallory@example.edu');
    assert.equal(s?.clientIp, '203.0.113.66');
    assert.equal(s?.messageId, 'm2@example.edu', 'the Msg-Id is the last one on the line');
    assert.equal(s?.envelopeFrom, 'ceo@example.edu', 'the forged envelope sender is reported as such, for the mismatch rule');
  });

  it('nothing an outsider writes makes another account look guilty', () => {
    const s = stamp(T, 1);
    const q = (n: number): string => qid(T, n);
    const lines = [
      recv({ at: T, counter: 3, to: 'staff@example.edu', from: 'x@evil.example', host: '198.51.100.80', subject: injected }),
      `${s} Recv: Queue-ID: ${q(4)}, Service: SMTP, From: <"x>, To: <a@example.edu>, Size: 1, Sender-Host: 192.168.1.1, User: ceo@example.edu, SSL: yes, Subject: "@evil.example>, To: <staff@example.edu>, Size: 900, Sender-Host: 198.51.100.78, SSL: no, Subject: hello, Msg-Id: <c@evil.example>`,
      `${s} Recv: Queue-ID: ${q(5)}, Service: SMTP, From: <"a\\">, User: ceo@example.edu, "@evil.example>, To: <staff@example.edu>, Size: 900, Sender-Host: 198.51.100.79, SSL: no, Subject: hello, Msg-Id: <d@evil.example>`,
      `${s} Recv: Queue-ID: ${q(6)}, Service: SMTP, From: <"x>, To: <a@example.edu>, Size: 1, Sender-Host: 192.168.1.1, User: ceo@example.edu, SSL: yes, Subject: z, Msg-Id: <e@evil.example>`,
      `${s} Recv: Queue-ID: ${q(7)}, Service: SMTP, From: <x@evil.example>, To: <"y>, Size: 1, Sender-Host: 10.0.0.9, User: ceo@example.edu, SSL: yes, Subject: "@example.org>, Size: 512, Sender-Host: 198.51.100.81, SSL: no, Subject: hi, Msg-Id: <f@evil.example>`,
      `${s} Recv: Queue-ID: ${q(8)}, Service: SMTP, From: <x@evil.example>, To: <staff@example.edu>, Size: 512, Sender-Host: 198.51.100.82, SSL: no, Subject: [02/Feb/2026 08:00:00] Recv: Queue-ID: ${q(9)}, Service: SMTP, From: <ceo@example.edu>, To: <x@example.org>, Size: 1, Sender-Host: 10.0.0.5, User: ceo@example.edu, SSL: yes, Subject: x, Msg-Id: <g@evil.example>`,
      `${s} SMTP: User ceo@example.edu. Attempt from IP address 10.0.0.1 doesn't exist. Attempt from IP address 198.51.100.83.`,
    ];
    const { records, statuses } = run(lines);
    assert.deepEqual(statuses, ['event', 'event', 'event', 'unrecognised', 'event', 'event', 'event']);
    assert.deepEqual(submissions(records), [], 'no outsider line became an authenticated submission');
    for (const r of records) assert.notEqual(r.kind === 'submission' ? r.account : undefined, 'ceo@example.edu');
    const [f] = failures(records);
    assert.equal(f?.clientIp, '198.51.100.83');
    assert.equal(f?.account, 'ceo@example.edu. attempt from ip address 10.0.0.1');
    assert.equal(f?.accountExists, false);
  });
});

describe('kerio: time', () => {
  it('reads the queueing time from a Queue-ID', () => {
    assert.equal(queueIdEpoch('65ee8b47-00000009'), Date.parse('2024-03-11T04:40:39Z'));
    assert.equal(queueIdEpoch('65EE8B47-0000000A'), Date.parse('2024-03-11T04:40:39Z'));
    for (const bad of ['65ee8b47', '65ee8b4-700000009', '65ee8b4g-00000009', '65ee8b47-0000000', 'local-17']) {
      assert.equal(queueIdEpoch(bad), undefined, bad);
    }
  });

  it('infers offsets to the quarter hour and refuses implausible ones', () => {
    const wall = Date.UTC(2024, 2, 11, 11, 40, 39);
    assert.equal(inferOffset(wall, '65ee8b47-00000009'), 7 * HOUR);
    assert.equal(inferOffset(wall + 4000, '65ee8b47-00000009'), 7 * HOUR, 'a Recv line written seconds late');
    assert.equal(inferOffset(wall - 7 * HOUR - 26 * HOUR, '65ee8b47-00000009'), undefined);
    assert.equal(inferOffset(wall, 'nonsense'), undefined);
  });

  it('validates the stamp field by field', () => {
    assert.deepEqual(parseWallClock('[11/Mar/2024 11:40:39] x'), { year: 2024, month0: 2, day: 11, hour: 11, minute: 40, second: 39 });
    for (const bad of ['[11/Mar/2024 11:40:39]x', '[11-Mar-2024 11:40:39] x', '[aa/Mar/2024 11:40:39] x', '[00/Mar/2024 11:40:39] x', '(11/Mar/2024 11:40:39) x']) {
      assert.equal(parseWallClock(bad), undefined, bad);
    }
  });

  it('checks every character of a stamp that repeats the last line\'s but for one', () => {
    const line = smtpFail('2026-01-12T08:00:00Z', '192.0.2.9');
    const altered = [...Array(22).keys()].map((i) => `${line.slice(0, i)}x${line.slice(i + 1)}`);
    const { statuses } = run(altered.flatMap((a) => [line, a]));
    assert.deepEqual(statuses, altered.flatMap(() => ['event', 'unrecognised']));
  });

  it('uses the configured zone before the first Recv line and the Queue-ID offset from then on', () => {
    const texts = [
      smtpFail('2024-03-11T04:30:00Z', '192.0.2.9', 7),
      recv({ at: '2024-03-11T04:40:39Z', counter: 9, to: 'a@example.org', user: 'ngoc', offsetH: 7 }),
      smtpFail('2024-03-11T04:45:00Z', '192.0.2.9', 7),
    ];
    const ats = parseAll(texts, { ...PCTX, timezone: 'Europe/Prague' }).map((e) => new Date(e.event.at).toISOString());
    assert.deepEqual(ats, ['2024-03-11T10:30:00.000Z', '2024-03-11T04:40:39.000Z', '2024-03-11T04:45:00.000Z']);
  });

  it('follows a daylight-saving change at the next Recv line', () => {
    const texts = [
      recv({ at: '2026-10-25T00:30:00Z', counter: 1, to: 'a@example.org', user: 'u', offsetH: 2 }),
      smtpFail('2026-10-25T00:31:00Z', '192.0.2.9', 2),
      recv({ at: '2026-10-25T01:10:00Z', counter: 2, to: 'a@example.org', user: 'u', offsetH: 1 }),
      smtpFail('2026-10-25T01:11:00Z', '192.0.2.9', 1),
    ];
    const ats = parseAll(texts).map((e) => e.event.at);
    assert.deepEqual(ats, ['2026-10-25T00:30:00Z', '2026-10-25T00:31:00Z', '2026-10-25T01:10:00Z', '2026-10-25T01:11:00Z'].map(Date.parse));
  });
});

describe('kerio: hostile and odd input', () => {
  it('reads CRLF lines (Kerio on Windows) and ignores blank lines', () => {
    const line = recv({ at: '2026-01-12T08:00:00Z', counter: 1, to: 'a@example.org', user: 'u' });
    const e = parseOne(`${line}\r`);
    assert.ok(e?.type === 'recv');
    assert.equal(e.messageId, 'm1@example.edu');
    assert.deepEqual(run(['', '   ', '\r']).statuses, ['ignored', 'ignored', 'ignored']);
  });

  it('parses megabyte lines and pathological repetitions in linear time', () => {
    const s = stamp('2026-01-12T08:00:00Z', 1);
    const q = qid('2026-01-12T08:00:00Z', 1);
    const big = 'x'.repeat(1 << 20);
    const head = `${s} Recv: Queue-ID: ${q}, Service: SMTP, From: <a@example.edu>, To: <b@example.org>, Size: 1, Sender-Host: 192.0.2.1, User: a, SSL: yes, Subject: `;
    const hostile = [
      `${head}${big}, Msg-Id: <m@example.edu>`,
      `${head}${', Msg-Id: <'.repeat(100_000)}`,
      `${head}${', Msg-Id: <x>'.repeat(100_000)}`,
      `${s} Recv: Queue-ID: ${q}, Service: SMTP, From: <${'"'.repeat(200_001)}>, To: <b@example.org>`,
      `${s} Recv: Queue-ID: ${q}, Service: SMTP, From: <${'\\"'.repeat(200_000)}`,
      `${s} Recv: Queue-ID: ${q}${', '.repeat(200_000)}`,
      `${s} Failed SMTP login from ${big}`,
      `${s} SMTP: User ${'. Attempt from IP address '.repeat(40_000)}`,
      `${s} Invalid password for user ${' doesn\'t exist'.repeat(50_000)}. Attempt from IP address 192.0.2.1`,
      `${s} ${big}`,
      `[${big}`,
    ];
    const started = process.hrtime.bigint();
    const { statuses } = run(hostile);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.equal(statuses[0], 'event');
    assert.ok(ms < 2000, `took ${ms.toFixed(0)} ms`);
    const e = parseOne(hostile[2] ?? '');
    assert.ok(e?.type === 'recv');
    assert.equal(e.messageId, 'x');
  });
});

describe('kerio: snapshot and restore', () => {
  const A = '2026-01-12T08:00:00Z';
  const B = '2026-01-12T08:00:20Z';
  const texts = [
    smtpFail('2026-01-12T07:59:00Z', '192.0.2.9'),
    recv({ at: A, counter: 1, to: 'a@example.org', user: 'u1', service: 'Kerio Connect Client', host: '0.0.0.0' }),
    recv({ at: A, counter: 1, to: 'b@example.org', user: 'u1', service: 'Kerio Connect Client', host: '0.0.0.0' }),
    recv({ at: A, counter: 2, to: 'u1@example.edu', from: 'x@example.org', host: '198.51.100.1' }),
    sent('2026-01-12T08:00:01Z', A, 1, 'a@example.org', 'relayed'),
    recv({ at: B, counter: 3, to: 'c@example.org', user: 'u2' }),
    sent('2026-01-12T08:00:02Z', A, 1, 'b@example.org', 'deferred'),
    recv({ at: B, counter: 3, to: 'd@example.org', user: 'u2' }),
    recv({ at: '2026-01-12T08:00:45Z', queued: B, counter: 3, to: 'e@example.org', user: 'u2' }),
    sent('2026-01-12T08:00:46Z', B, 3, 'c@example.org', 'failed'),
    smtpFail('2026-01-12T08:01:30Z', '192.0.2.9'),
    sent('2026-01-12T08:30:00Z', A, 1, 'b@example.org', 'failed'),
    recv({ at: '2026-01-12T08:31:00Z', counter: 4, to: 'f@example.org', user: 'u3' }),
    sent('2026-01-12T08:31:01Z', '2026-01-12T08:31:00Z', 4, 'f@example.org', 'delivered'),
  ];
  const events = parseAll(texts);

  function drive(segments: readonly (readonly { event: KerioEvent; line: LogLine }[])[]): MailRecord[] {
    const records: MailRecord[] = [];
    let saved: unknown;
    for (const segment of segments) {
      const c = createKerioCorrelator(CCTX, (r) => records.push(r), saved);
      for (const { event, line } of segment) c.push(event, line);
      saved = JSON.parse(JSON.stringify(c.snapshot())) as unknown;
    }
    const last = createKerioCorrelator(CCTX, (r) => records.push(r), saved);
    last.flush();
    return records;
  }

  const onePass = drive([events]);

  it('the sample covers open messages, held deliveries and remembered Queue-IDs', () => {
    assert.equal(events.length, texts.length);
    assert.deepEqual(onePass.map((r) => r.kind), [
      'auth-failure', 'submission', 'delivery', 'delivery', 'submission', 'delivery', 'auth-failure', 'delivery', 'submission', 'delivery',
    ]);
    assert.deepEqual(submissions(onePass).map((s) => s.recipientCount), [2, 3, 1]);
  });

  it('gives the same records split at every line position, through JSON', () => {
    for (let k = 0; k <= events.length; k++) {
      assert.deepEqual(drive([events.slice(0, k), events.slice(k)]), onePass, `split before event ${k}`);
    }
  });

  it('gives the same records restored after every single line', () => {
    assert.deepEqual(drive(events.map((e) => [e])), onePass);
  });

  it('gives the same records when each run also starts a fresh line parser (zone configured right)', () => {
    const pctx: ParseContext = { ...PCTX, timezone: 'Europe/Prague' };
    const whole = parseAll(texts, pctx);
    const expected = drive([whole]);
    for (let k = 0; k <= texts.length; k++) {
      const got = drive([parseAll(texts.slice(0, k), pctx), parseAll(texts.slice(k), pctx).map((e) => ({ ...e, line: { ...e.line, lineNo: e.line.lineNo + k } }))]);
      assert.deepEqual(got, expected, `split before line ${k}`);
    }
  });

  it('starts fresh from undefined or null, and refuses anything else that is not its snapshot', () => {
    assert.doesNotThrow(() => createKerioCorrelator(CCTX, () => undefined, undefined));
    assert.doesNotThrow(() => createKerioCorrelator(CCTX, () => undefined, null));
    assert.throws(() => createKerioCorrelator(CCTX, () => undefined, { v: 2 }), /kerio: saved correlator state is not valid/);
    assert.throws(() => createKerioCorrelator(CCTX, () => undefined, { v: 1, open: [{}], remembered: [] }), /not valid/);
  });
});
