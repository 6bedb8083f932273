/**
 * The postfix plugin end to end (line parser + correlator through `postfix.open`), as the
 * scan pipeline runs it. Line-level shapes are in fixtures/parsers/postfix/*.log; this file
 * is about what the correlator makes of whole transactions. Synthetic lines only.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { postfix, type PostfixEvent } from '../../src/parsers/postfix.js';
import { DETECT_THRESHOLD, findParser } from '../../src/parsers/index.js';
import type { CorrelateContext, LineStatus, ParseContext } from '../../src/parsers/types.js';
import type { AuthFailure, Delivery, LogLine, MailRecord, SenderRejected, Submission } from '../../src/core/types.js';

const PCTX: ParseContext = { source: 'mail.log', timezone: 'UTC', referenceTime: Date.parse('2026-11-22T00:00:00Z') };
const CCTX: CorrelateContext = { defaultDomain: 'example.org', openTtlMs: 5 * 24 * 3600_000 };

const toLines = (texts: readonly string[], first = 1): LogLine[] =>
  texts.map((text, i) => ({ source: 'mail.log', lineNo: first + i, text }));

interface Run {
  records: MailRecord[];
  statuses: LineStatus[];
}

/** One pass over all lines, then flush (an ad-hoc scan). */
function run(texts: readonly string[], cctx: CorrelateContext = CCTX): Run {
  const records: MailRecord[] = [];
  const session = postfix.open(PCTX, cctx, (r) => records.push(r));
  const statuses = toLines(texts).map((l) => session.push(l));
  session.flush();
  return { records, statuses };
}

/**
 * Two runs, as cron does them: the first stops after `split` lines and saves its state as
 * the state file would (JSON), the second resumes from it and reaches the end.
 */
function runSplit(texts: readonly string[], split: number, cctx: CorrelateContext = CCTX): Run & { saved: unknown } {
  const records: MailRecord[] = [];
  const lines = toLines(texts);
  const first = postfix.open(PCTX, cctx, (r) => records.push(r));
  const statuses = lines.slice(0, split).map((l) => first.push(l));
  const saved: unknown = JSON.parse(JSON.stringify(first.snapshot()));
  const second = postfix.open(PCTX, cctx, (r) => records.push(r), saved);
  for (const l of lines.slice(split)) statuses.push(second.push(l));
  second.flush();
  return { records, statuses, saved };
}

const ofKind = <K extends MailRecord['kind']>(records: readonly MailRecord[], kind: K): Extract<MailRecord, { kind: K }>[] =>
  records.filter((r): r is Extract<MailRecord, { kind: K }> => r.kind === kind);

const lineNos = (r: MailRecord): number[] => r.evidence.map((e) => e.lineNo);
const iso = (ms: number): string => new Date(ms).toISOString();

/** `Mar 14 HH:MM:SS HOST PROG[PID]: MSG` in UTC, 2026 (the reference is November 2026). */
const at = (time: string, host: string, prog: string, pid: number, msg: string): string =>
  `Mar 14 ${time} ${host} ${prog}[${pid}]: ${msg}`;

// alice submits one message for two recipients through an amavis-style content filter;
// the child's second recipient is greylisted once.
const AMAVIS = [
  at('09:15:01', 'mx1', 'postfix/submission/smtpd', 4101, 'connect from client.example.net[198.51.100.23]'),
  at('09:15:02', 'mx1', 'postfix/submission/smtpd', 4101, '3F2A1C0D7E: client=client.example.net[198.51.100.23], sasl_method=PLAIN, sasl_username=alice@example.org'),
  at('09:15:02', 'mx1', 'postfix/cleanup', 4105, '3F2A1C0D7E: message-id=<20260314091500.GA1234@client.example.net>'),
  at('09:15:02', 'mx1', 'postfix/qmgr', 880, '3F2A1C0D7E: from=<alice@example.org>, size=2310, nrcpt=2 (queue active)'),
  at('09:15:03', 'mx1', 'postfix/submission/smtpd', 4101, 'disconnect from client.example.net[198.51.100.23] ehlo=2 starttls=1 auth=1 mail=1 rcpt=2 data=1 quit=1 commands=9'),
  at('09:15:04', 'mx1', 'postfix/10025/smtpd', 4120, '5B7E2C0D81: client=localhost[127.0.0.1]'),
  at('09:15:04', 'mx1', 'postfix/cleanup', 4105, '5B7E2C0D81: message-id=<20260314091500.GA1234@client.example.net>'),
  at('09:15:04', 'mx1', 'postfix/qmgr', 880, '5B7E2C0D81: from=<alice@example.org>, size=3420, nrcpt=2 (queue active)'),
  at('09:15:04', 'mx1', 'amavis', 2218, '(02218-07) Passed CLEAN {RelayedInternal}, ORIGINATING LOCAL [198.51.100.23]:50122 [198.51.100.23] <alice@example.org> -> <bob@example.com>,<carol@example.net>, Queue-ID: 3F2A1C0D7E, queued_as: 5B7E2C0D81'),
  at('09:15:04', 'mx1', 'postfix/amavis/smtp', 4115, '3F2A1C0D7E: to=<bob@example.com>, relay=127.0.0.1[127.0.0.1]:10024, delay=2.1, delays=0.05/0.01/0.02/2, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 5B7E2C0D81)'),
  at('09:15:04', 'mx1', 'postfix/amavis/smtp', 4115, '3F2A1C0D7E: to=<carol@example.net>, relay=127.0.0.1[127.0.0.1]:10024, delay=2.1, delays=0.05/0.01/0.02/2, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 5B7E2C0D81)'),
  at('09:15:04', 'mx1', 'postfix/qmgr', 880, '3F2A1C0D7E: removed'),
  at('09:15:05', 'mx1', 'postfix/smtp', 4131, '5B7E2C0D81: to=<bob@example.com>, relay=mx.example.com[203.0.113.25]:25, delay=1.2, delays=0.02/0.01/0.6/0.57, dsn=2.0.0, status=sent (250 2.0.0 OK 1773479705 - gsmtp)'),
  at('09:15:05', 'mx1', 'postfix/smtp', 4132, '5B7E2C0D81: to=<carol@example.net>, relay=mx.example.net[203.0.113.40]:25, delay=1.3, delays=0.02/0.01/0.7/0.57, dsn=4.7.1, status=deferred (host mx.example.net[203.0.113.40] said: 451 4.7.1 Greylisted (in reply to RCPT TO command))'),
  at('09:21:10', 'mx1', 'postfix/smtp', 4180, '5B7E2C0D81: to=<carol@example.net>, relay=mx.example.net[203.0.113.40]:25, conn_use=2, delay=366, delays=365/0.01/0.5/0.4, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 8D1E2F3A4B)'),
  at('09:21:10', 'mx1', 'postfix/qmgr', 880, '5B7E2C0D81: removed'),
];

// bob (IPv6, port 465) sends one message to three recipients directly; one bounces.
const DIRECT = [
  at('10:02:17', 'mx1', 'postfix/smtps/smtpd', 5230, '4Tq7Kd1bXkz9vLm: client=unknown[2001:db8:40:1::25], sasl_method=LOGIN, sasl_username=bob@example.org'),
  at('10:02:17', 'mx1', 'postfix/cleanup', 5231, '4Tq7Kd1bXkz9vLm: message-id=<b1@example.org>'),
  at('10:02:18', 'mx1', 'postfix/qmgr', 880, '4Tq7Kd1bXkz9vLm: from=<bob@example.org>, size=900, nrcpt=3 (queue active)'),
  at('10:02:19', 'mx1', 'postfix/smtp', 5240, '4Tq7Kd1bXkz9vLm: to=<a@example.com>, relay=mx.example.com[203.0.113.25]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=2.0.0, status=sent (250 ok)'),
  at('10:02:19', 'mx1', 'postfix/smtp', 5240, '4Tq7Kd1bXkz9vLm: to=<b@example.com>, relay=mx.example.com[203.0.113.25]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=5.1.1, status=bounced (host mx.example.com[203.0.113.25] said: 550 5.1.1 <b@example.com>: user unknown (in reply to RCPT TO command))'),
  at('10:02:20', 'mx1', 'postfix/smtp', 5241, '4Tq7Kd1bXkz9vLm: to=<c@example.net>, relay=mx.example.net[203.0.113.40]:25, delay=2, delays=0.1/0/1/0.9, dsn=2.0.0, status=sent (250 ok)'),
  at('10:02:20', 'mx1', 'postfix/qmgr', 880, '4Tq7Kd1bXkz9vLm: removed'),
];

describe('postfix: submissions', () => {
  it('makes one Submission per authenticated message, with the fields of all its lines', () => {
    const { records, statuses } = run(AMAVIS);
    assert.deepEqual(statuses, [
      'event', 'event', 'event', 'event', 'event', 'event', 'event', 'event', 'ignored',
      'event', 'event', 'event', 'event', 'event', 'event', 'event',
    ]);
    const subs = ofKind(records, 'submission');
    assert.equal(subs.length, 1);
    const [s] = subs;
    assert.ok(s);
    const { evidence, ...fields } = s;
    assert.deepEqual(fields, {
      kind: 'submission', at: Date.parse('2026-03-14T09:15:02Z'), account: 'alice@example.org', login: 'alice@example.org',
      envelopeFrom: 'alice@example.org', recipients: ['bob@example.com', 'carol@example.net'], recipientCount: 2,
      clientIp: '198.51.100.23', service: 'submission', host: 'mx1',
      messageId: '20260314091500.GA1234@client.example.net', size: 2310,
    } satisfies Omit<Submission, 'evidence'>);
    // client, message-id, qmgr and the two hand-overs to the filter: the parent's own lines.
    assert.deepEqual(evidence.map((e) => e.lineNo), [2, 3, 4, 10, 11]);
    assert.deepEqual(evidence[0], { source: 'mail.log', lineNo: 2, text: AMAVIS[1] });
  });

  it('counts a content-filter re-queue once and gives the copy\'s deliveries to the parent\'s account', () => {
    const { records } = run(AMAVIS);
    assert.equal(ofKind(records, 'submission').length, 1, 'the re-injected copy is not a second submission');
    const deliveries = ofKind(records, 'delivery');
    // The loopback hand-over to the filter is no delivery; the copy's three attempts are.
    assert.deepEqual(deliveries.map((d) => [d.account, d.recipient, d.status, d.host, iso(d.at)]), [
      ['alice@example.org', 'bob@example.com', 'sent', 'mx1', '2026-03-14T09:15:05.000Z'],
      ['alice@example.org', 'carol@example.net', 'deferred', 'mx1', '2026-03-14T09:15:05.000Z'],
      ['alice@example.org', 'carol@example.net', 'sent', 'mx1', '2026-03-14T09:21:10.000Z'],
    ]);
    assert.deepEqual(deliveries.map(lineNos), [[13], [14], [15]]);
  });

  it('emits the submission as soon as every recipient has a delivery line, before `removed`', () => {
    const records: MailRecord[] = [];
    const session = postfix.open(PCTX, CCTX, (r) => records.push(r));
    const lines = toLines(AMAVIS);
    lines.slice(0, 10).forEach((l) => session.push(l));
    assert.equal(ofKind(records, 'submission').length, 0, 'one of two recipients handed over');
    const eleventh = lines[10];
    assert.ok(eleventh);
    session.push(eleventh);
    assert.equal(ofKind(records, 'submission').length, 1, 'both handed over');
  });

  it('lists every recipient of a multi-recipient message and reports its bounce as a Delivery', () => {
    const { records } = run(DIRECT);
    const subs = ofKind(records, 'submission');
    assert.equal(subs.length, 1);
    assert.deepEqual(subs[0]?.recipients, ['a@example.com', 'b@example.com', 'c@example.net']);
    assert.equal(subs[0]?.recipientCount, 3);
    assert.equal(subs[0]?.clientIp, '2001:db8:40:1::25');
    assert.equal(subs[0]?.service, 'smtps');
    assert.equal(subs[0]?.messageId, 'b1@example.org');
    const bounced = ofKind(records, 'delivery').filter((d) => d.status === 'bounced');
    assert.deepEqual(bounced, [{
      kind: 'delivery', at: Date.parse('2026-03-14T10:02:19Z'), account: 'bob@example.org', recipient: 'b@example.com',
      status: 'bounced', host: 'mx1', evidence: [{ source: 'mail.log', lineNo: 5, text: DIRECT[4] ?? '' }],
    } satisfies Delivery]);
    assert.equal(ofKind(records, 'delivery').length, 3);
  });

  it('counts recipients from nrcpt when the delivery lines are not in the input', () => {
    const { records } = run(DIRECT.slice(0, 3));
    const [s] = ofKind(records, 'submission');
    assert.deepEqual(s?.recipients, []);
    assert.equal(s?.recipientCount, 3);
  });

  it('does not count an authenticated client= that never reached the queue (no qmgr line)', () => {
    const { records } = run(DIRECT.slice(0, 2));
    assert.deepEqual(records, []);
  });

  it('counts a queued message whose delivery round is overdue once time moves on, without waiting for removed', () => {
    const lines = [
      ...DIRECT.slice(0, 3),
      at('10:20:00', 'mx1', 'postfix/smtpd', 6000, 'connect from mail.example.com[203.0.113.9]'),
    ];
    const records: MailRecord[] = [];
    const session = postfix.open(PCTX, CCTX, (r) => records.push(r));
    toLines(lines).forEach((l) => session.push(l));
    assert.equal(ofKind(records, 'submission').length, 1, 'emitted by the sweep, before flush');
    session.flush();
    assert.equal(ofKind(records, 'submission').length, 1, 'and not again at flush');
  });

  it('keeps two hosts with the same queue id apart (one centrally collected file)', () => {
    const q = '3F2A1C0D7E';
    const lines = [
      at('11:00:00', 'mx1', 'postfix/submission/smtpd', 100, `${q}: client=unknown[192.0.2.10], sasl_method=PLAIN, sasl_username=alice@example.org`),
      at('11:00:00', 'mx2', 'postfix/submission/smtpd', 100, `${q}: client=unknown[192.0.2.20], sasl_method=PLAIN, sasl_username=dave@example.org`),
      at('11:00:01', 'mx2', 'postfix/qmgr', 50, `${q}: from=<dave@example.org>, size=200, nrcpt=1 (queue active)`),
      at('11:00:01', 'mx1', 'postfix/qmgr', 50, `${q}: from=<alice@example.org>, size=100, nrcpt=1 (queue active)`),
      at('11:00:02', 'mx1', 'postfix/smtp', 60, `${q}: to=<x@example.com>, relay=mx.example.com[203.0.113.25]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)`),
      at('11:00:02', 'mx2', 'postfix/smtp', 60, `${q}: to=<y@example.com>, relay=mx.example.com[203.0.113.25]:25, delay=1, delays=0/0/0.5/0.5, dsn=5.0.0, status=bounced (550 no)`),
      at('11:00:03', 'mx2', 'postfix/qmgr', 50, `${q}: removed`),
      at('11:00:03', 'mx1', 'postfix/qmgr', 50, `${q}: removed`),
    ];
    const { records } = run(lines);
    const subs = ofKind(records, 'submission').map((s) => [s.host, s.account, s.clientIp, s.envelopeFrom, s.size, s.recipients]);
    assert.deepEqual(subs.sort(), [
      ['mx1', 'alice@example.org', '192.0.2.10', 'alice@example.org', 100, ['x@example.com']],
      ['mx2', 'dave@example.org', '192.0.2.20', 'dave@example.org', 200, ['y@example.com']],
    ]);
    assert.deepEqual(ofKind(records, 'delivery').map((d) => [d.host, d.account, d.recipient, d.status]), [
      ['mx1', 'alice@example.org', 'x@example.com', 'sent'],
      ['mx2', 'dave@example.org', 'y@example.com', 'bounced'],
    ]);
  });

  it('maps a bare sasl_username to an address with the default domain, and keeps the login as logged', () => {
    const lines = [
      at('12:00:00', 'mx1', 'postfix/submission/smtpd', 200, 'A0C1E2F3B4: client=pc12.example.org[192.0.2.44], sasl_method=PLAIN, sasl_username=JDent'),
      at('12:00:00', 'mx1', 'postfix/cleanup', 201, 'A0C1E2F3B4: message-id=<>'),
      at('12:00:01', 'mx1', 'postfix/qmgr', 50, 'A0C1E2F3B4: from=<jdent@example.org>, size=100, nrcpt=1 (queue active)'),
      at('12:00:02', 'mx1', 'postfix/qmgr', 50, 'A0C1E2F3B4: removed'),
    ];
    const [withDomain] = ofKind(run(lines).records, 'submission');
    assert.equal(withDomain?.account, 'jdent@example.org');
    assert.equal(withDomain?.login, 'JDent');
    assert.ok(withDomain && !('messageId' in withDomain), 'an empty message-id=<> is no message id');
    const [without] = ofKind(run(lines, { openTtlMs: CCTX.openTtlMs }).records, 'submission');
    assert.equal(without?.account, 'jdent', 'no default domain configured: the bare name, lower-cased');
  });

  it('ignores unauthenticated mail entirely (no Submission, no Delivery)', () => {
    const lines = [
      at('12:10:00', 'mx1', 'postfix/smtpd', 300, 'C6E0DD7400: client=mail.example.com[203.0.113.9]'),
      at('12:10:00', 'mx1', 'postfix/qmgr', 50, 'C6E0DD7400: from=<news@example.com>, size=100, nrcpt=1 (queue active)'),
      at('12:10:01', 'mx1', 'postfix/pipe', 301, 'C6E0DD7400: to=<tom@example.org>, relay=dovecot, delay=0.2, delays=0.1/0/0/0.1, dsn=2.0.0, status=sent (delivered via dovecot service)'),
      at('12:10:01', 'mx1', 'postfix/qmgr', 50, 'C6E0DD7400: removed'),
    ];
    assert.deepEqual(run(lines).records, []);
  });

  it('treats a reused queue id as a new message: the old one is counted, the new one not attributed to it', () => {
    const lines = [
      at('13:00:00', 'mx1', 'postfix/submission/smtpd', 400, 'D1D2D3D4D5: client=unknown[192.0.2.30], sasl_method=PLAIN, sasl_username=alice@example.org'),
      at('13:00:01', 'mx1', 'postfix/qmgr', 50, 'D1D2D3D4D5: from=<alice@example.org>, size=100, nrcpt=1 (queue active)'),
      // Its delivery and `removed` lines were lost (e.g. a truncated file); later the id comes back.
      at('13:05:00', 'mx1', 'postfix/smtpd', 401, 'D1D2D3D4D5: client=mail.example.com[203.0.113.9]'),
      at('13:05:01', 'mx1', 'postfix/qmgr', 50, 'D1D2D3D4D5: from=<news@example.com>, size=100, nrcpt=1 (queue active)'),
      at('13:05:02', 'mx1', 'postfix/local', 402, 'D1D2D3D4D5: to=<alice@example.org>, relay=local, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (delivered to mailbox)'),
      at('13:05:02', 'mx1', 'postfix/qmgr', 50, 'D1D2D3D4D5: removed'),
    ];
    const { records } = run(lines);
    assert.deepEqual(records.map((r) => [r.kind, lineNos(r).at(-1)]), [['submission', 2]]);
  });
});

describe('postfix: open messages whose keys share a slot of the correlator\'s presence filter', () => {
  // The correlator finds a line's open message by a hash of `HOST QID` (FNV-1a, 65536 slots) and
  // compares only the key last put in that slot in place; other keys of the slot are looked up in
  // full. Queue ids that share a slot exercise that path. (Were the hash changed, these would
  // merely be ordinary queue ids.)
  const slotOf = (key: string): number => {
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    return h & 0xffff;
  };
  const bySlot = new Map<number, string[]>();
  let shared: string[] = [];
  for (let n = 0; shared.length < 4; n++) {
    const qid = (0xA000000000 + n).toString(16).toUpperCase();
    const slot = slotOf(`mx1 ${qid}`);
    const list = bySlot.get(slot) ?? [];
    list.push(qid);
    bySlot.set(slot, list);
    if (list.length === 4) shared = list;
  }
  const [q1 = '', q2 = '', q3 = '', q4 = ''] = shared;
  const users = new Map([[q1, 'alice'], [q2, 'bob'], [q3, 'carol']]);
  const client = (t: string, q: string): string => {
    const user = users.get(q);
    return at(t, 'mx1', 'postfix/submission/smtpd', 700, `${q}: client=unknown[192.0.2.7]${user === undefined ? '' : `, sasl_method=PLAIN, sasl_username=${user}@example.org`}`);
  };
  const LINES = [
    client('12:00:00', q1), client('12:00:01', q2), client('12:00:02', q4), client('12:00:03', q3),
    ...[q2, q1, q4, q3].map((q) => at('12:00:04', 'mx1', 'postfix/cleanup', 701, `${q}: message-id=<${q}@example.org>`)),
    ...[q3, q4, q1, q2].map((q) => at('12:00:05', 'mx1', 'postfix/qmgr', 702, `${q}: from=<${users.get(q) ?? 'x'}@example.org>, size=100, nrcpt=1 (queue active)`)),
    // The first one goes, so the slot's remembered key goes with it; the others are found all the same.
    at('12:00:06', 'mx1', 'postfix/smtp', 703, `${q1}: to=<to-${q1}@example.net>, relay=mx.example.net[203.0.113.40]:25, delay=1, dsn=2.0.0, status=sent (250 ok)`),
    at('12:00:06', 'mx1', 'postfix/qmgr', 702, `${q1}: removed`),
    ...[q4, q3, q2].map((q) => at('12:00:07', 'mx1', 'postfix/smtp', 703, `${q}: to=<to-${q}@example.net>, relay=mx.example.net[203.0.113.40]:25, delay=1, dsn=2.0.0, status=sent (250 ok)`)),
    ...[q2, q4, q3].map((q) => at('12:00:08', 'mx1', 'postfix/qmgr', 702, `${q}: removed`)),
  ];

  it('found four queue ids in one slot', () => assert.equal(new Set(shared.map((q) => slotOf(`mx1 ${q}`))).size, 1));

  it('gives each message its own lines, and none to the unauthenticated one', () => {
    const { records } = run(LINES);
    const subs = ofKind(records, 'submission').map((r) => [r.account, r.messageId, r.recipients.join(), r.evidence.length]);
    assert.deepEqual(subs, [
      ['alice@example.org', `${q1}@example.org`, `to-${q1}@example.net`, 4],
      ['carol@example.org', `${q3}@example.org`, `to-${q3}@example.net`, 4],
      ['bob@example.org', `${q2}@example.org`, `to-${q2}@example.net`, 4],
    ]);
    assert.deepEqual(ofKind(records, 'delivery').map((d) => [d.account, d.recipient]),
      [q1, q3, q2].map((q) => [`${users.get(q) ?? ''}@example.org`, `to-${q}@example.net`]));
  });

  it('gives the same records when resumed from state at any line', () => {
    const once = run(LINES).records;
    for (let split = 0; split <= LINES.length; split++) assert.deepEqual(runSplit(LINES, split).records, once, `split after line ${split}`);
  });
});

describe('postfix: sender rejected (From/login mismatch)', () => {
  const reject = (time: string, pid: number, from: string, to: string, kind = 'reject'): string =>
    at(time, 'mx1', 'postfix/submission/smtpd', pid, `NOQUEUE: ${kind}: RCPT from client.example.net[198.51.100.23]: 553 5.7.1 <${from}>: Sender address rejected: not owned by user alice@example.org; from=<${from}> to=<${to}> proto=ESMTP helo=<pc>`);

  it('makes one SenderRejected per sender per session, however many recipients were refused', () => {
    const lines = [
      at('14:00:00', 'mx1', 'postfix/submission/smtpd', 500, 'connect from client.example.net[198.51.100.23]'),
      reject('14:00:01', 500, 'ceo@example.com', 'a@example.net'),
      reject('14:00:01', 500, 'ceo@example.com', 'b@example.net'),
      reject('14:00:02', 500, 'cfo@example.com', 'a@example.net'),
      at('14:00:03', 'mx1', 'postfix/submission/smtpd', 500, 'disconnect from client.example.net[198.51.100.23] ehlo=1 auth=1 mail=2 rcpt=0/3 quit=1 commands=4/7'),
      // The same pid serves a new session: the same sender counts again.
      at('14:05:00', 'mx1', 'postfix/submission/smtpd', 500, 'connect from client.example.net[198.51.100.23]'),
      reject('14:05:01', 500, 'ceo@example.com', 'c@example.net', 'reject_warning'),
    ];
    const { records } = run(lines);
    const rejected = ofKind(records, 'sender-rejected');
    assert.deepEqual(rejected.map((r) => [r.envelopeFrom, lineNos(r)]), [
      ['ceo@example.com', [2]], ['cfo@example.com', [4]], ['ceo@example.com', [7]],
    ]);
    assert.deepEqual(rejected[0], {
      kind: 'sender-rejected', at: Date.parse('2026-03-14T14:00:01Z'), account: 'alice@example.org', login: 'alice@example.org',
      envelopeFrom: 'ceo@example.com', host: 'mx1', clientIp: '198.51.100.23',
      evidence: [{ source: 'mail.log', lineNo: 2, text: lines[1] ?? '' }],
    } satisfies SenderRejected);
    assert.equal(records.length, 3, 'no other records: auth=1 was a success');
  });

  it('gives a bare login in the reject the default domain', () => {
    const line = at('14:10:00', 'mx1', 'postfix/submission/smtpd', 501, 'NOQUEUE: reject: RCPT from unknown[192.0.2.44]: 553 5.7.1 <info@example.com>: Sender address rejected: not owned by user jdent; from=<info@example.com> to=<b@example.net> proto=ESMTP helo=<pc12>');
    const [r] = ofKind(run([line]).records, 'sender-rejected');
    assert.equal(r?.account, 'jdent@example.org');
    assert.equal(r?.login, 'jdent');
  });
});

describe('postfix: authentication failures', () => {
  const smtpd = (time: string, pid: number, msg: string): string => at(time, 'mx1', 'postfix/submission/smtpd', pid, msg);
  const connect = (time: string, pid: number): string => smtpd(time, pid, 'connect from unknown[203.0.113.7]');
  const fail = (time: string, pid: number, user?: string): string =>
    smtpd(time, pid, `warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6${user === undefined ? '' : `, sasl_username=${user}`}`);
  const disconnect = (time: string, pid: number, auth: string): string =>
    smtpd(time, pid, `disconnect from unknown[203.0.113.7] ehlo=1 auth=${auth} quit=1 commands=2/3`);

  it('turns a SASL warning into an AuthFailure with login, account, mechanism, reason and client', () => {
    const line = fail('15:00:00', 600, 'Bob');
    assert.deepEqual(run([line]).records, [{
      kind: 'auth-failure', at: Date.parse('2026-03-14T15:00:00Z'), mechanism: 'LOGIN', service: 'submission',
      reason: 'UGFzc3dvcmQ6', host: 'mx1', login: 'Bob', account: 'bob@example.org', clientIp: '203.0.113.7',
      evidence: [{ source: 'mail.log', lineNo: 1, text: line }],
    } satisfies AuthFailure]);
  });

  it('counts a silent failure (disconnect auth=0/1 with no warning line) once', () => {
    const { records } = run([connect('15:01:00', 601), disconnect('15:01:01', 601, '0/1')]);
    assert.deepEqual(records.map((r) => r.kind === 'auth-failure' && [r.reason, r.clientIp, r.service, r.account, lineNos(r)]), [
      ['AUTH failed without a logged reason (auth=0/1)', '203.0.113.7', 'submission', undefined, [2]],
    ]);
  });

  it('does not count the disconnect again when a SASL warning was logged for the same smtpd pid', () => {
    const { records } = run([connect('15:02:00', 602), fail('15:02:01', 602, 'bob'), disconnect('15:02:02', 602, '0/1')]);
    assert.deepEqual(records.map(lineNos), [[2]]);
  });

  it('counts only the attempts no warning explained (auth=1/3 with one warning: one silent)', () => {
    const { records } = run([connect('15:03:00', 603), fail('15:03:01', 603), smtpd('15:03:02', 604, 'connect from unknown[192.0.2.1]'),
      fail('15:03:02', 604), disconnect('15:03:05', 603, '1/3')]);
    assert.deepEqual(records.map(lineNos), [[2], [4], [5]], 'the warning of pid 604 does not explain pid 603');
  });

  it('does not let warnings of an earlier session on a reused pid hide a later silent failure', () => {
    // The first session's disconnect line is missing; the pid serves a new session.
    const { records } = run([connect('15:04:00', 605), fail('15:04:01', 605), connect('15:10:00', 605), disconnect('15:10:01', 605, '0/1')]);
    assert.deepEqual(records.map(lineNos), [[2], [4]]);
  });

  it('does not count server trouble: Connection lost to authentication server, saslauthd down', () => {
    const lost = smtpd('15:05:01', 606, 'warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: Connection lost to authentication server');
    const saslauthd = [
      smtpd('15:06:00', 607, 'connect from laptop.local[192.168.1.2]'),
      smtpd('15:06:01', 607, 'warning: SASL authentication failure: cannot connect to saslauthd server: Permission denied'),
      smtpd('15:06:01', 607, 'warning: SASL authentication failure: Password verification failed'),
      smtpd('15:06:01', 607, 'warning: laptop.local[192.168.1.2]: SASL PLAIN authentication failed: generic failure'),
      smtpd('15:06:02', 607, 'disconnect from laptop.local[192.168.1.2] ehlo=1 auth=0/1 quit=1 commands=2/3'),
    ];
    const { records } = run([connect('15:05:00', 606), lost, disconnect('15:05:02', 606, '0/1'), ...saslauthd]);
    assert.deepEqual(records, []);
    // The next real failure on that pid is counted again.
    const again = run([...saslauthd.slice(0, 4), fail('15:06:05', 607, 'carol')]).records;
    assert.deepEqual(again.map((r) => r.kind === 'auth-failure' && r.login), ['carol']);
  });

  it('does not double-count when the warning and the disconnect fall into different runs', () => {
    const lines = [connect('15:07:00', 608), fail('15:07:01', 608, 'bob'), disconnect('15:07:02', 608, '0/1')];
    for (let split = 0; split <= lines.length; split++) {
      assert.deepEqual(runSplit(lines, split).records.map(lineNos), [[2]], `split after line ${split}`);
    }
  });
});

describe('postfix: state across runs', () => {
  // Everything above in one file, interleaved by time as syslog writes it.
  const OTHER_HOST = [
    at('09:15:03', 'mx2', 'postfix/submission/smtpd', 4101, '3F2A1C0D7E: client=unknown[192.0.2.20], sasl_method=PLAIN, sasl_username=dave@example.org'),
    at('09:15:03', 'mx2', 'postfix/qmgr', 50, '3F2A1C0D7E: from=<dave@example.org>, size=200, nrcpt=1 (queue active)'),
    at('09:15:06', 'mx2', 'postfix/smtp', 60, '3F2A1C0D7E: to=<y@example.com>, relay=mx.example.com[203.0.113.25]:25, delay=1, delays=0/0/0.5/0.5, dsn=4.0.0, status=deferred (451 later)'),
    // No more lines for this one: the overdue delivery round is counted by the sweep.
    at('09:15:07', 'mx2', 'postfix/submission/smtpd', 4102, 'connect from unknown[203.0.113.7]'),
    at('09:15:08', 'mx2', 'postfix/submission/smtpd', 4102, 'warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=info'),
    at('09:15:09', 'mx2', 'postfix/submission/smtpd', 4102, 'NOQUEUE: reject: RCPT from unknown[203.0.113.7]: 553 5.7.1 <ceo@example.com>: Sender address rejected: not owned by user info; from=<ceo@example.com> to=<a@example.net> proto=ESMTP helo=<x>'),
    at('09:15:09', 'mx2', 'postfix/submission/smtpd', 4102, 'NOQUEUE: reject: RCPT from unknown[203.0.113.7]: 553 5.7.1 <ceo@example.com>: Sender address rejected: not owned by user info; from=<ceo@example.com> to=<b@example.net> proto=ESMTP helo=<x>'),
    at('09:15:10', 'mx2', 'postfix/submission/smtpd', 4102, 'disconnect from unknown[203.0.113.7] ehlo=1 auth=1/3 rcpt=0/2 commands=2/6'),
  ];
  // A message that never gets a delivery line: the sweep counts it 10 minutes after qmgr took
  // it. The failure at 11:10:20 falls between two sweeps, so only a resumed run that sweeps on
  // the same schedule as one pass emits the two records in the same order.
  const OVERDUE = [
    at('11:00:00', 'mx3', 'postfix/submission/smtpd', 300, '7A7A7A7A7A: client=unknown[192.0.2.30], sasl_method=PLAIN, sasl_username=erin@example.org'),
    at('11:00:00', 'mx3', 'postfix/qmgr', 30, '7A7A7A7A7A: from=<erin@example.org>, size=300, nrcpt=2 (queue active)'),
    at('11:09:50', 'mx3', 'postfix/submission/smtpd', 301, 'connect from unknown[203.0.113.8]'),
    at('11:10:20', 'mx3', 'postfix/submission/smtpd', 301, 'warning: unknown[203.0.113.8]: SASL PLAIN authentication failed: UGFzc3dvcmQ6, sasl_username=erin'),
    at('11:11:00', 'mx3', 'postfix/submission/smtpd', 301, 'disconnect from unknown[203.0.113.8] ehlo=1 auth=0/1 commands=1/2'),
  ];
  const byTime = (lines: readonly string[]): string[] => lines.map((t, i) => [t, i] as const)
    .sort(([a, i], [b, j]) => a.slice(7, 15).localeCompare(b.slice(7, 15)) || i - j).map(([t]) => t);
  const ALL = byTime([...AMAVIS, ...OTHER_HOST, ...DIRECT, ...OVERDUE]);

  it('has a stream that exercises every record kind', () => {
    const { records } = run(ALL);
    const kinds: Record<string, number> = {};
    for (const r of records) kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;
    assert.deepEqual(kinds, { 'submission': 4, 'delivery': 7, 'auth-failure': 3, 'sender-rejected': 1 });
    assert.deepEqual(records.slice(-2).map((r) => [r.kind, lineNos(r)[0]]), [['auth-failure', ALL.length - 1], ['submission', ALL.length - 4]],
      'the overdue message is counted by the sweep after the failure that came 30 s after the last sweep');
  });

  it('gives the same records, in the same order, when the input is cut at any line and resumed from JSON state', () => {
    const once = run(ALL).records;
    for (let split = 0; split <= ALL.length; split++) {
      assert.deepEqual(runSplit(ALL, split).records, once, `split after line ${split}`);
    }
  });

  it('finishes a message whose lines arrive across the split', () => {
    // Run 1 ends after the client= and qmgr lines; run 2 brings the deliveries.
    const { records, saved } = runSplit(DIRECT, 3);
    assert.ok(JSON.stringify(saved).includes('4Tq7Kd1bXkz9vLm'), 'the open message is in the saved state');
    const subs = ofKind(records, 'submission');
    assert.equal(subs.length, 1);
    assert.equal(subs[0]?.account, 'bob@example.org');
    assert.equal(subs[0]?.clientIp, '2001:db8:40:1::25', 'the client line was in run 1');
    assert.deepEqual(subs[0]?.recipients, ['a@example.com', 'b@example.com', 'c@example.net']);
    assert.deepEqual(subs[0] && lineNos(subs[0]), [1, 2, 3, 4, 5, 6], 'evidence from both runs');
    assert.deepEqual(ofKind(records, 'delivery').map((d) => d.account), ['bob@example.org', 'bob@example.org', 'bob@example.org']);
  });

  it('follows a content filter whose re-injection falls into the next run', () => {
    // Split right after the parent's hand-over lines: the child is known only through the state.
    const { records } = runSplit(AMAVIS, 12);
    assert.equal(ofKind(records, 'submission').length, 1);
    assert.deepEqual(ofKind(records, 'delivery').map((d) => d.account), ['alice@example.org', 'alice@example.org', 'alice@example.org']);
  });

  it('keeps nothing in state for sessions that have nothing to remember', () => {
    const records: MailRecord[] = [];
    const session = postfix.open(PCTX, CCTX, (r) => records.push(r));
    // Connections whose disconnect is not in this run (yet): scanners, idle clients.
    toLines(Array.from({ length: 500 }, (_, i) => at('17:00:00', 'mx1', 'postfix/smtpd', 1000 + i, `connect from unknown[192.0.2.${i % 250}]`)))
      .forEach((l) => session.push(l));
    const saved = session.snapshot() as { sessions: unknown[]; messages: unknown[] };
    assert.deepEqual([saved.sessions.length, saved.messages.length, records.length], [0, 0, 0]);
  });

  it('ignores a saved state it does not understand rather than failing', () => {
    const records: MailRecord[] = [];
    const session = postfix.open(PCTX, CCTX, (r) => records.push(r), { v: 99, messages: 'nonsense' });
    toLines(DIRECT).forEach((l) => session.push(l));
    session.flush();
    assert.equal(ofKind(records, 'submission').length, 1);
  });
});

describe('postfix: hostile input', () => {
  it('never takes a login from a sender or recipient address', () => {
    const lines = [
      at('16:00:00', 'mx1', 'postfix/submission/smtpd', 700, '1A1A1A1A1A: client=unknown[192.0.2.66], sasl_method=PLAIN, sasl_username=mallory@example.org, sasl_sender="x, sasl_username=victim@example.org"@evil.example'),
      at('16:00:01', 'mx1', 'postfix/qmgr', 50, '1A1A1A1A1A: from=<"from=<a@b>, sasl_username=victim@example.org, size=1, nrcpt=999"@evil.example>, size=2048, nrcpt=1 (queue active)'),
      at('16:00:02', 'mx1', 'postfix/smtp', 701, '1A1A1A1A1A: to=<"from=<a@b>, sasl_username=victim@example.org"@evil.example>, relay=mx.evil.example[203.0.113.66]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=2.0.0, status=sent (250 ok)'),
      at('16:00:03', 'mx1', 'postfix/qmgr', 50, '1A1A1A1A1A: removed'),
    ];
    const { records } = run(lines);
    assert.deepEqual(records.map((r) => [r.kind, 'account' in r ? r.account : undefined]), [
      ['submission', 'mallory@example.org'], ['delivery', 'mallory@example.org'],
    ]);
    const [s] = ofKind(records, 'submission');
    assert.equal(s?.recipientCount, 1, 'nrcpt from the real tail, not the one in the sender');
    assert.equal(s?.size, 2048);
  });

  it('does not blame the victim for a failed login whose user name names them', () => {
    const line = at('16:01:00', 'mx1', 'postfix/smtps/smtpd', 702, 'warning: unknown[192.0.2.66]: SASL LOGIN authentication failed: (reason unavailable), sasl_username=attacker, sasl_username=victim@example.org');
    const [r] = ofKind(run([line]).records, 'auth-failure');
    assert.equal(r?.login, 'attacker, sasl_username=victim@example.org');
    assert.notEqual(r?.account, 'victim@example.org');
  });

  it('does not let an unauthenticated client write a SenderRejected for someone else', () => {
    const lines = [
      at('16:02:00', 'mx1', 'postfix/smtpd', 703, 'NOQUEUE: reject: RCPT from unknown[192.0.2.66]: 454 4.7.1 <x>: Sender address rejected: not owned by user victim@example.org; from=<x> to=<y>: Relay access denied; from=<spam@evil.example> to=<x>: Sender address rejected: not owned by user victim@example.org; from=<x> to=<y> proto=ESMTP helo=<evil>'),
      at('16:02:01', 'mx1', 'postfix/smtpd', 703, 'NOQUEUE: reject: RCPT from unknown[192.0.2.66]: 550 5.7.25 Client host rejected: cannot find your hostname, [192.0.2.66]; from=<x>: Sender address rejected: not owned by user victim@example.org; from=<x> to=<a@example.org> proto=ESMTP helo=<evil>'),
      at('16:02:02', 'mx1', 'postfix/smtpd', 703, 'NOQUEUE: reject: ETRN from unknown[192.0.2.66]: 554 5.7.1 <x>: Sender address rejected: not owned by user victim@example.org; from=<x>: Etrn command rejected: Access denied; proto=ESMTP helo=<evil>'),
    ];
    const { records, statuses } = run(lines);
    assert.deepEqual(records, []);
    assert.deepEqual(statuses, ['unrecognised', 'unrecognised', 'unrecognised'], 'reported, not silently dropped');
  });

  it('does not let a remote reply\'s `queued as` turn another account\'s message into a re-injected copy', () => {
    const lines = [
      // victim's message is open on the same host...
      at('16:03:00', 'mx1', 'postfix/submission/smtpd', 710, '3C3C3C3C3C: client=unknown[198.51.100.50], sasl_method=PLAIN, sasl_username=victim@example.org'),
      at('16:03:00', 'mx1', 'postfix/qmgr', 50, '3C3C3C3C3C: from=<victim@example.org>, size=100, nrcpt=1 (queue active)'),
      // ...when mallory's deliveries come back with replies naming its queue id.
      at('16:03:01', 'mx1', 'postfix/submission/smtpd', 711, '4D4D4D4D4D: client=unknown[192.0.2.66], sasl_method=PLAIN, sasl_username=mallory@example.org'),
      at('16:03:01', 'mx1', 'postfix/qmgr', 50, '4D4D4D4D4D: from=<mallory@example.org>, size=100, nrcpt=2 (queue active)'),
      at('16:03:02', 'mx1', 'postfix/smtp', 712, '4D4D4D4D4D: to=<a@evil.example>, relay=mx.evil.example[203.0.113.66]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 Ok: queued as 3C3C3C3C3C)'),
      at('16:03:02', 'mx1', 'postfix/smtp', 712, '4D4D4D4D4D: to=<b@evil.example>, relay=127.0.0.1[127.0.0.1]:2525, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 Ok: queued as 3C3C3C3C3C)'),
      at('16:03:03', 'mx1', 'postfix/smtp', 713, '3C3C3C3C3C: to=<friend@example.net>, relay=mx.example.net[203.0.113.40]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)'),
      at('16:03:04', 'mx1', 'postfix/qmgr', 50, '3C3C3C3C3C: removed'),
      at('16:03:04', 'mx1', 'postfix/qmgr', 50, '4D4D4D4D4D: removed'),
    ];
    const { records } = run(lines);
    assert.deepEqual(ofKind(records, 'submission').map((s) => [s.account, s.recipients]).sort(), [
      ['mallory@example.org', ['a@evil.example', 'b@evil.example']],
      ['victim@example.org', ['friend@example.net']],
    ]);
    const toFriend = ofKind(records, 'delivery').filter((d) => d.recipient === 'friend@example.net');
    assert.deepEqual(toFriend.map((d) => d.account), ['victim@example.org']);
  });

  it('does not read a delivery line whose recipient carries a fake tail', () => {
    const lines = [
      at('16:04:00', 'mx1', 'postfix/submission/smtpd', 720, '5E5E5E5E5E: client=unknown[192.0.2.66], sasl_method=PLAIN, sasl_username=mallory@example.org'),
      at('16:04:00', 'mx1', 'postfix/qmgr', 50, '5E5E5E5E5E: from=<mallory@example.org>, size=100, nrcpt=1 (queue active)'),
      at('16:04:01', 'mx1', 'postfix/smtp', 721, '5E5E5E5E5E: to=<"x>, relay=127.0.0.1[127.0.0.1]:10025, delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 6F6F6F6F6F)"@evil.example>, relay=mx.example.com[203.0.113.25]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=5.1.1, status=bounced (550 5.1.1 user unknown)'),
      at('16:04:02', 'mx1', 'postfix/qmgr', 50, '5E5E5E5E5E: removed'),
    ];
    const { records, statuses } = run(lines);
    assert.equal(statuses[2], 'unrecognised');
    assert.deepEqual(records.map((r) => r.kind), ['submission'], 'still counted once; no delivery guessed');
    assert.equal(ofKind(records, 'submission')[0]?.recipientCount, 1);
  });
});

describe('postfix: plugin', () => {
  it('is registered under its name', () => {
    assert.equal(findParser('postfix'), postfix);
  });

  it('detects postfix lines, and not other text', () => {
    assert.ok(postfix.detect(AMAVIS) >= 0.9);
    assert.ok(postfix.detect(['# comment', '', ...DIRECT]) >= 0.9, 'comments and blank lines do not count');
    assert.ok(postfix.detect([
      'Mar 14 09:15:01 mx1 dovecot: imap-login: Login: user=<a@example.org>',
      'Mar 14 09:15:02 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]',
      'Mar 14 09:15:03 mx1 CRON[2]: (root) CMD (true)',
    ]) >= DETECT_THRESHOLD, 'a mixed syslog file with some postfix lines');
    assert.ok(postfix.detect(['[06/Mar/2012:14:05:01 -0800] mail1 metermaid[2141]: General Notice: x', 'hello world']) < DETECT_THRESHOLD);
    assert.equal(postfix.detect([]), 0);
  });

  it('reports the status of every line it is given', () => {
    const { statuses } = run(['', 'garbage', AMAVIS[8] ?? '', AMAVIS[0] ?? '']);
    assert.deepEqual(statuses, ['unrecognised', 'unrecognised', 'ignored', 'event']);
  });

  it('carries the year across a Dec -> Jan rollover while reading one input', () => {
    const parse = postfix.createLineParser({ ...PCTX, referenceTime: Date.parse('2027-01-01T12:00:00Z') });
    const times = ['Dec 31 23:59:59', 'Jan  1 00:00:01', 'Jan  1 09:00:00'].map((st, i) => {
      const r = parse({ source: 't', lineNo: i + 1, text: `${st} mx1 postfix/qmgr[1]: 1A2B3C4D5E: removed` });
      return r.kind === 'event' ? iso((r.event as PostfixEvent).at) : r.kind;
    });
    assert.deepEqual(times, ['2026-12-31T23:59:59.000Z', '2027-01-01T00:00:01.000Z', '2027-01-01T09:00:00.000Z']);
  });

  it('keeps the year when hosts of one central file disagree around midnight', () => {
    const parse = postfix.createLineParser({ ...PCTX, referenceTime: Date.parse('2027-01-01T12:00:00Z') });
    const times = ['Dec 31 23:59:58', 'Jan  1 00:00:01', 'Dec 31 23:59:59', 'Jan  1 00:00:02'].map((st, i) => {
      const r = parse({ source: 't', lineNo: i + 1, text: `${st} mx${i % 2} postfix/qmgr[1]: 1A2B3C4D5E: removed` });
      return r.kind === 'event' ? iso((r.event as PostfixEvent).at) : r.kind;
    });
    assert.deepEqual(times, ['2026-12-31T23:59:58.000Z', '2027-01-01T00:00:01.000Z', '2026-12-31T23:59:59.000Z', '2027-01-01T00:00:02.000Z']);
  });
});
