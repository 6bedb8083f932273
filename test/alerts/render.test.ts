/**
 * The digest e-mail's subject and body. Times in the fixtures are UTC; the digest is
 * rendered in Europe/Berlin (CET, UTC+1, in March 2026 before the 29th).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { alertHeaders, digestMessage, messageIdDomain, testMessage } from '../../src/alerts/message.js';
import { CHECKS, clip, EVIDENCE_PER_ALERT, EVIDENCE_WIDTH, GENERIC_CHECK, renderDigest, renderSubject } from '../../src/alerts/render.js';
import type { Alert, Digest } from '../../src/alerts/types.js';
import { AlertsSchema } from '../../src/config/alerts-schema.js';
import type { Evidence } from '../../src/core/types.js';

const BERLIN = { timezone: 'Europe/Berlin' };
const T0 = Date.parse('2026-03-06T20:01:12Z');

function alert(over: Partial<Alert> = {}): Alert {
  return {
    fingerprint: 'fp', rule: 'sends-per-account', account: 'jdent@example.edu', severity: 'critical', reason: 'new',
    firstSeen: T0, lastSeen: T0 + 18 * 60_000, message: 'jdent@example.edu sent 95 messages in 60 minutes',
    data: { messages: 95, recipients: 480, window_minutes: 60 },
    evidence: [{ source: '/var/log/mail.log', lineNo: 1234, text: 'Mar  6 21:01:12 mx1 postfix/smtpd[4711]: 4F3A: client=x[185.220.101.34], sasl_method=PLAIN, sasl_username=jdent' }],
    ...over,
  };
}

function digest(alerts: readonly Alert[], over: Partial<Digest> = {}): Digest {
  return { id: 'd-20260306-2019', createdAt: T0 + 20 * 60_000, host: 'mx1', alerts, ...over };
}

/** Characters that must never reach a header, nor the body unescaped. */
const HOSTILE = ['\r', '\n', '\u001b', '\u0000', '\u0007', '\u007f', '\u0085', '\u202e', '\u2066', '\u2069'];

function assertNoRawControls(s: string, allowNewline: boolean, what: string): void {
  for (const c of HOSTILE) {
    if (allowNewline && c === '\n') continue;
    assert.ok(!s.includes(c), `${what} contains raw U+${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }
}

describe('renderSubject', () => {
  it('one critical account: singular wording, host name', () => {
    assert.equal(renderSubject(digest([alert()])), '[sendwatch] CRITICAL: 1 account looks compromised on mx1');
  });

  it('several accounts: plural, counted once each however many alerts they have', () => {
    const d = digest([
      alert(),
      alert({ rule: 'from-user-mismatch', severity: 'warning' }),
      alert({ account: 'prof@example.edu', severity: 'warning' }),
    ]);
    assert.equal(renderSubject(d), '[sendwatch] CRITICAL: 2 accounts look compromised on mx1');
  });

  it('the worst severity decides the wording, whatever the order', () => {
    const w = digest([alert({ severity: 'warning' }), alert({ account: 'b@example.edu', severity: 'info' })]);
    assert.equal(renderSubject(w), '[sendwatch] WARNING: 2 accounts may be compromised on mx1');
    const i = digest([alert({ severity: 'info' })]);
    assert.equal(renderSubject(i), '[sendwatch] INFO: 1 account shows unusual sending on mx1');
    const c = digest([alert({ account: 'a@x', severity: 'info' }), alert({ account: 'b@x', severity: 'critical' }), alert({ account: 'c@x', severity: 'warning' })]);
    assert.match(renderSubject(c), /^\[sendwatch\] CRITICAL: 3 accounts look compromised on mx1$/);
  });

  it('a digest of reminders only says so', () => {
    assert.equal(renderSubject(digest([alert({ reason: 'reminder' })])), '[sendwatch] CRITICAL: 1 account looks compromised on mx1 (reminder)');
    assert.ok(!renderSubject(digest([alert({ reason: 'reminder' }), alert({ account: 'b@x', reason: 'new' })])).includes('reminder'));
  });

  it('an empty digest still renders', () => {
    assert.equal(renderSubject(digest([])), '[sendwatch] no new alerts on mx1');
  });

  it('hostile account, message, data and evidence never reach the subject', () => {
    const evil = 'x@y\r\nBcc: victim@example.com\r\n\u001b[31m\u202eevil';
    const d = digest([alert({ account: evil, message: evil, rule: evil, data: { sender: evil }, evidence: [{ source: evil, lineNo: 1, text: evil }] })]);
    const s = renderSubject(d);
    assert.equal(s, '[sendwatch] CRITICAL: 1 account looks compromised on mx1');
    assertNoRawControls(s, false, 'subject');
  });

  it('a hostile host name is sanitised and bounded', () => {
    const s = renderSubject(digest([alert()], { host: 'mx1\r\nBcc: a@b\u202e' + 'h'.repeat(500) }));
    assertNoRawControls(s, false, 'subject');
    assert.ok(s.includes('mx1\\r\\nBcc: a@b\\u202e'));
    assert.ok(s.length <= 200, String(s.length));
  });
});

describe('renderDigest body', () => {
  it('one account: numbers, first and last seen in the zone with offset, evidence, what to check', () => {
    const { subject, text } = renderDigest(digest([alert()]), BERLIN);
    assert.equal(subject, '[sendwatch] CRITICAL: 1 account looks compromised on mx1');
    assert.match(text, /^sendwatch on mx1 raised 1 alert for 1 account \(1 critical\)\.\n/);
    assert.ok(text.includes('Times are shown in Europe/Berlin.'));
    assert.ok(text.includes('1. jdent@example.edu  [CRITICAL]'));
    assert.ok(text.includes('  CRITICAL  sends-per-account  (new)'));
    assert.ok(text.includes('  jdent@example.edu sent 95 messages in 60 minutes'));
    assert.ok(text.includes('    First seen: 2026-03-06 21:01:12 +01:00'));
    assert.ok(text.includes('    Last seen:  2026-03-06 21:19:12 +01:00'));
    assert.ok(text.includes('    Numbers:    messages=95, recipients=480, window_minutes=60'));
    assert.ok(text.includes('    Evidence (1 line):\n      /var/log/mail.log:1234: Mar  6 21:01:12 mx1 postfix/smtpd[4711]: 4F3A: client='));
    assert.ok(text.includes('  What to check:\n  - Look at the mail queue (postqueue -p, or mailq)'));
    assert.ok(text.includes('sendwatch digest d-20260306-2019, built 2026-03-06 21:21:12 +01:00.'));
    assert.ok(text.endsWith('\n'));
  });

  it('times follow the zone, including its DST offset', () => {
    const summer = Date.parse('2026-07-01T10:00:00Z');
    const { text } = renderDigest(digest([alert({ firstSeen: summer, lastSeen: summer })]), BERLIN);
    assert.ok(text.includes('First seen: 2026-07-01 12:00:00 +02:00'));
    const ny = renderDigest(digest([alert({ firstSeen: summer, lastSeen: summer })]), { timezone: 'America/New_York' }).text;
    assert.ok(ny.includes('First seen: 2026-07-01 06:00:00 -04:00'));
    const india = renderDigest(digest([alert({ firstSeen: summer, lastSeen: summer })]), { timezone: 'Asia/Kolkata' }).text;
    assert.ok(india.includes('First seen: 2026-07-01 15:30:00 +05:30'));
  });

  it('groups by account, worst account first, each account once with all its alerts under it', () => {
    const d = digest([
      alert({ account: 'warn@example.edu', severity: 'warning', rule: 'odd-hours', firstSeen: T0 - 3_600_000, data: { local_time: '03:12', messages: 3 } }),
      alert({ account: 'crit@example.edu', severity: 'warning', rule: 'foreign-sender-host', firstSeen: T0 + 5000 }),
      alert({ account: 'crit@example.edu', severity: 'critical', rule: 'sends-per-account', reason: 'escalated' }),
      alert({ account: 'crit@example.edu', severity: 'warning', rule: 'from-user-mismatch', firstSeen: T0 + 1000 }),
    ]);
    const { text } = renderDigest(d, BERLIN);
    assert.match(text, /^sendwatch on mx1 raised 4 alerts for 2 accounts \(1 critical, 1 warning\)\./);
    const crit = text.indexOf('1. crit@example.edu  [CRITICAL]');
    const warn = text.indexOf('2. warn@example.edu  [WARNING]');
    assert.ok(crit > 0 && warn > crit, 'critical account first');
    assert.equal(text.split('crit@example.edu  [').length, 2, 'one section per account');
    const section = text.slice(crit, warn);
    // Within an account: worst first, then by first seen.
    const order = ['CRITICAL  sends-per-account  (escalated)', 'WARNING  from-user-mismatch  (new)', 'WARNING  foreign-sender-host  (new)']
      .map((s) => section.indexOf(s));
    assert.ok(order.every((p) => p > 0), JSON.stringify(order));
    assert.deepEqual([...order].sort((a, b) => a - b), order);
    assert.ok(text.slice(warn).includes('Numbers:    local_time=03:12, messages=3'));
  });

  it('what to check: one line per rule of the account, once each; a generic line for unknown rules', () => {
    const d = digest([
      alert({ account: 'a@x', rule: 'sends-per-account', severity: 'critical' }),
      alert({ account: 'a@x', rule: 'sends-per-account', severity: 'warning', fingerprint: 'fp2' }),
      alert({ account: 'a@x', rule: 'from-user-mismatch', severity: 'warning' }),
      alert({ account: 'b@x', rule: 'foreign-sender-host', severity: 'warning' }),
      alert({ account: 'c@x', rule: 'odd-hours', severity: 'info' }),
      alert({ account: 'd@x', rule: 'metermaid-quota', severity: 'info' }),
    ]);
    const { text } = renderDigest(d, BERLIN);
    const flat = text.replace(/\n {4}/g, ' ');
    assert.equal(flat.split('Look at the mail queue (postqueue -p, or mailq)').length, 2, 'the queue check once for a@x');
    assert.ok(flat.includes('stop its sending'));
    assert.ok(flat.includes('reset its password'));
    assert.ok(flat.includes('end its sessions, and check where the client address is'));
    assert.ok(flat.includes('ask the owner whether these messages are theirs'));
    assert.ok(flat.includes(GENERIC_CHECK));
    for (const c of Object.values(CHECKS)) assert.ok(flat.includes(c), c);
    // Our own prose is wrapped for a mail reader.
    for (const line of text.split('\n').filter((l) => l.startsWith('  - ') || (l.startsWith('    ') && !l.includes(':')))) {
      assert.ok(line.length <= 72, line);
    }
  });

  it('evidence is capped per alert and each line is cut, saying how much is missing', () => {
    const evidence: Evidence[] = Array.from({ length: 25 }, (_, i) => ({ source: '/var/log/maillog', lineNo: i + 1, text: `line ${i + 1} ` + 'x'.repeat(i === 0 ? 1000 : 10) }));
    const { text } = renderDigest(digest([alert({ evidence })]), BERLIN);
    assert.ok(text.includes(`Evidence (${EVIDENCE_PER_ALERT} of 25 lines):`));
    assert.ok(text.includes(`/var/log/maillog:${EVIDENCE_PER_ALERT}: `));
    assert.ok(!text.includes(`/var/log/maillog:${EVIDENCE_PER_ALERT + 1}: `));
    const first = text.split('\n').find((l) => l.includes('/var/log/maillog:1: '));
    assert.ok(first);
    assert.match(first, / \[\+\d+ chars\]$/);
    assert.ok(first.trim().length <= EVIDENCE_WIDTH + 20, String(first.length));
    assert.ok(renderDigest(digest([alert({ evidence: [] })]), BERLIN).text.includes('Evidence:   none kept'));
  });

  it('clip never splits a surrogate pair', () => {
    const s = 'a'.repeat(9) + '😀' + 'b'.repeat(10);
    const c = clip(s, 10);
    assert.ok(c.startsWith('a'.repeat(9) + ' [+'), c);
    assert.equal(clip('short', 10), 'short');
  });

  it('hostile account, message, data and evidence: CR/LF/ESC/NUL/DEL/C1/bidi only as visible escapes', () => {
    const evil = 'jdent@example.edu\r\n\r\nFAKE: everything is fine\u001b[2J\u0000\u0007\u007f\u0085\u202egnp.exe\u2066x\u2069';
    const d = digest([alert({
      account: evil, message: `sent spam ${evil}`, rule: 'sends-per-account',
      data: { sender: evil, [`key${evil}`]: 1 },
      evidence: [{ source: `/var/log/${evil}`, lineNo: 7, text: `postfix: ${evil}` }],
    })], { id: `id${evil}` });
    const { subject, text } = renderDigest(d, BERLIN);
    assertNoRawControls(subject, false, 'subject');
    assertNoRawControls(text, true, 'body');
    // The injected CR/LF did not start a line of its own.
    assert.ok(!text.split('\n').some((l) => l.startsWith('FAKE')));
    assert.ok(text.includes('jdent@example.edu\\r\\n\\r\\nFAKE: everything is fine\\x1b[2J\\x00\\x07\\x7f\\x85\\u202egnp.exe\\u2066x\\u2069'));
    assert.ok(text.includes('/var/log/jdent@example.edu\\r\\n'));
  });

  it('a very long account name or message is bounded', () => {
    const { text } = renderDigest(digest([alert({ account: 'a'.repeat(5000), message: 'm'.repeat(5000) })]), BERLIN);
    assert.ok(text.split('\n').every((l) => l.length < 700), 'no line longer than the caps allow');
  });
});

describe('digest message', () => {
  const config = AlertsSchema.parse({ to: ['admin@example.edu', 'root'], hostname: 'mx1' });

  it('headers: Auto-Submitted, X-Auto-Response-Suppress, a Message-ID from the digest id, Date', () => {
    const sentAt = Date.parse('2026-03-06T20:25:00Z');
    const m = digestMessage(digest([alert()]), { ...config, from: 'sendwatch@example.edu' }, { ...BERLIN, sentAt });
    assert.equal(m.from, 'sendwatch@example.edu');
    assert.deepEqual(m.to, ['admin@example.edu', 'root']);
    assert.equal(m.subject, '[sendwatch] CRITICAL: 1 account looks compromised on mx1');
    assert.deepEqual(m.headers, {
      'Message-ID': '<sendwatch.digest.d-20260306-2019@example.edu>',
      Date: 'Fri, 06 Mar 2026 20:25:00 +0000',
      'Auto-Submitted': 'auto-generated',
      'X-Auto-Response-Suppress': 'All',
    });
    // A resend of the same digest is the same message.
    const again = digestMessage(digest([alert()]), { ...config, from: 'sendwatch@example.edu' }, { ...BERLIN, sentAt: sentAt + 3_600_000 });
    assert.equal(again.headers['Message-ID'], m.headers['Message-ID']);
  });

  it('default sender is sendwatch@<host>; the Message-ID never carries unsafe characters', () => {
    const m = digestMessage(digest([alert()], { id: 'a b<>\r\n@c' }), config, { ...BERLIN, sentAt: T0 });
    assert.match(m.from, /^sendwatch@/);
    assert.match(m.headers['Message-ID'] ?? '', /^<sendwatch\.digest\.abc@[A-Za-z0-9.-]+>$/);
    assert.equal(messageIdDomain('root'), messageIdDomain('x@' + (m.from.split('@')[1] ?? '')));
    assert.equal(alertHeaders({ kind: 'test', id: '', from: 'a@b.example', date: 0 })['Message-ID']?.endsWith('@b.example>'), true);
  });

  it('the test message has the same headers as a digest', () => {
    const m = testMessage(config, T0, 'sendmail /usr/sbin/sendmail');
    assert.equal(m.subject, '[sendwatch] test message from mx1');
    assert.deepEqual(Object.keys(m.headers).sort(), ['Auto-Submitted', 'Date', 'Message-ID', 'X-Auto-Response-Suppress']);
    assert.match(m.headers['Message-ID'] ?? '', /^<sendwatch\.test\.[a-z0-9]+\.[0-9a-f]{8}@/);
    assert.ok(m.text.includes('Transport:  sendmail /usr/sbin/sendmail'));
  });
});
