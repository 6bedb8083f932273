/**
 * recipient-spread, default options unless a case says otherwise: window 60 min,
 * history 30 days, warm-up 24 h; info at 20 recipients with 80 % new; warning at 50
 * with 80 % new recipients and 50 % new domains; critical at 200 with 90 % / 50 %.
 * Subjects: 50 distinct recipients in 3+ messages (warning), 200 (critical).
 *
 * HISTORY is alice two days before T0 writing to 30 contacts at three partner domains:
 * by T0 she is out of warm-up and those are known.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Finding, MailRecord, Submission } from '../../src/core/types.js';
import { parseConfig, resolveContext } from '../../src/config/load.js';
import { rules } from '../../src/rules/index.js';
import fc from 'fast-check';
import { splitAddress } from '../../src/core/address.js';
import { hashRecipients, subjectKey } from '../../src/rules/recipient-spread.js';
import { hash32, unpackSet16 } from '../../src/rules/rule-support.js';
import { HOUR, MINUTE, ruleTester, submission, T0, withRuleOptions, type Overrides } from '../helpers/records.js';
import { brief, inRuns as runInRuns } from './harness.js';

const RULE = 'recipient-spread';
const DAY = 24 * HOUR;
const opts = (o: Record<string, unknown>): Record<string, unknown> => withRuleOptions(RULE, o);

const contact = (i: number): string => `c${i}@partner${i % 3}.example`;
const contacts = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => contact(from + i));

/** Alice's past: 30 contacts in three messages, two days before `at`. */
const history = (at = T0, over: Overrides<Submission> = {}): Submission[] =>
  [0, 1, 2].map((k) => submission({ ...over, at: at - 2 * DAY + k * HOUR, recipients: contacts(10 * k, 10 * k + 10) }));

/** `messages` messages of `per` recipients each, every one new and in a domain of its own; `first` numbers them. */
function spam(messages: number, per = 10, start = T0, over: Overrides<Submission> = {}, first = 0): Submission[] {
  return Array.from({ length: messages }, (_, m) => submission({
    ...over, at: start + m * MINUTE,
    recipients: Array.from({ length: per }, (_, i) => `x${first + m * per + i}@d${first + m * per + i}.test`),
  }));
}

const spreadFinding = (severity: 'info' | 'warning' | 'critical', messages: number, per = 10, start = T0) => ({
  severity, at: start + (messages - 1) * MINUTE,
  data: { signal: 'new-recipients', recipients: messages * per, new_recipients: messages * per, percent_new: 100, domains: messages * per, new_domains: messages * per },
});

ruleTester(RULE, {
  valid: [
    { name: 'warm-up: an account first seen now writes to 100 new recipients', records: spam(10) },
    { name: '60 recipients, half of them known', records: [...history(), submission({ recipients: [...contacts(0, 30), ...spam(1, 30)[0]?.recipients ?? []] })] },
    { name: '19 new recipients (minRecipients is 20)', records: [...history(), ...spam(1, 19)] },
    {
      name: '60 new people at known domains: info at most (warning needs 50 % new domains)',
      records: [...history(), submission({ recipients: Array.from({ length: 60 }, (_, i) => `new${i}@partner0.example`) })],
      allowInfo: true,
    },
    { name: 'one message to 80 with one subject is no campaign (3 messages needed)', records: spam(1, 80, T0, { subject: 'Hello' }) },
    {
      name: '3 messages, one subject, 49 distinct recipients',
      records: [[0, 20], [15, 35], [30, 49]].map(([a = 0, b = 0], k) => submission({ at: T0 + k * MINUTE, subject: 'Meeting', recipients: Array.from({ length: b - a }, (_, i) => `p${a + i}@x.test`) })),
    },
    { name: '5 messages of 20 recipients, each its own subject', records: spam(5, 20).map((s, i) => ({ ...s, subject: `Topic ${i}` })) },
    {
      name: 'the same 60-recipient list every day is learned',
      records: [0, 1, 2].map((d) => submission({ at: T0 - 2 * DAY + d * DAY, recipients: Array.from({ length: 60 }, (_, i) => `m${i}@club${i % 20}.example`) })),
    },
    { name: 'subjectRecipients 0 switches subjects off', config: opts({ subjectRecipients: 0 }), records: spam(10, 10, T0, { subject: 'Invoice' }) },
  ],
  invalid: [
    {
      name: 'a spam run after a history: info at 20 new, warning at 50 new in new domains',
      records: [...history(), ...spam(5)],
      findings: [
        { ...spreadFinding('info', 2), message: '20 of 20 recipients (100%) and 20 of 20 domains (100%) in 1 h never mailed before' },
        { ...spreadFinding('warning', 5), data: { ...spreadFinding('warning', 5).data, percent_new_domains: 100, window_minutes: 60 } },
      ],
    },
    {
      name: '200 new recipients: info, warning, critical',
      records: [...history(), ...spam(20)],
      findings: [spreadFinding('info', 2), spreadFinding('warning', 5), spreadFinding('critical', 20)],
    },
    {
      name: '45 new and 5 known of 50 (90 %): warning in one message',
      records: [...history(), submission({ recipients: [...contacts(0, 5), ...spam(1, 45)[0]?.recipients ?? []] })],
      findings: [{ severity: 'warning', data: { recipients: 50, new_recipients: 45, percent_new: 90, domains: 48, new_domains: 45 } }],
    },
    {
      name: 'forgotten after two history periods: the old contacts are new again',
      records: [...history(T0 - 60 * DAY), submission({ recipients: [...contacts(0, 30), ...Array.from({ length: 30 }, (_, i) => contact(30 + i))] })],
      findings: [{ severity: 'warning', data: { recipients: 60, new_recipients: 60, domains: 3, new_domains: 3 } }],
    },
    {
      name: 'one subject to 60 recipients in 5 messages: warning (no history needed)',
      records: spam(5, 12, T0, { subject: 'Invoice overdue' }),
      findings: [{
        severity: 'warning', at: T0 + 4 * MINUTE, message: 'one subject to 60 recipients in 5 messages in 1 h (warning at 50)',
        data: { signal: 'same-subject', recipients: 60, messages: 5, subject: 'Invoice overdue', threshold: 50 },
      }],
    },
    {
      name: 'one subject to 200 recipients: warning, then critical',
      records: spam(20, 10, T0, { subject: 'Invoice overdue' }),
      findings: [{ severity: 'warning', at: T0 + 4 * MINUTE, data: { recipients: 50 } }, { severity: 'critical', at: T0 + 19 * MINUTE, data: { recipients: 200, threshold: 200 } }],
    },
    {
      name: 'subjects compared without case and extra spaces',
      records: spam(5, 12).map((s, i) => ({ ...s, subject: i % 2 ? '  INVOICE   overdue ' : 'Invoice overdue' })),
      findings: [{ severity: 'warning', data: { recipients: 60, messages: 5 } }],
    },
    {
      name: 'custom levels: warning at 10 new recipients in new domains',
      config: opts({ minRecipients: 5, warningRecipients: 10, criticalRecipients: 1000 }),
      records: [...history(), ...spam(2, 5)],
      findings: [spreadFinding('info', 1, 5), spreadFinding('warning', 2, 5)],
    },
    {
      name: 'warmupHours 0: judged from the first message',
      config: opts({ warmupHours: 0 }),
      records: spam(5),
      findings: [spreadFinding('info', 2), spreadFinding('warning', 5)],
    },
  ],
});

const inRuns = (records: readonly MailRecord[], cuts: readonly number[], first?: unknown): Finding[] => runInRuns(RULE, records, cuts, { first });

describe(`${RULE}: learning`, () => {
  it('recipients of a spam run are never learned: the same list three hours later is new again', () => {
    const run = spam(5);
    const again = run.map((s) => ({ ...s, at: s.at + 3 * HOUR }));
    const fs = inRuns([...history(), ...run, ...again], []);
    assert.deepEqual(fs.map((f) => [f.severity, f.data.new_recipients]), [['info', 20], ['warning', 50], ['info', 20], ['warning', 50]]);
  });

  it('a list mailed in a normal hour is learned, and is known the next day', () => {
    const list = spam(1, 30, T0 - DAY)[0];
    assert.ok(list);
    const fs = inRuns([...history(), list, { ...list, at: T0 }], []);
    assert.deepEqual(fs.map((f) => f.severity), ['info'], 'new the first time, known the second');
  });

  it('maxKnownRecipients bounds the history', () => {
    const rule = rules.find((r) => r.name === RULE);
    assert.ok(rule);
    const inst = rule.instantiate({ maxKnownRecipients: 10, maxKnownDomains: 4 }, resolveContext(parseConfig({ timezone: 'UTC' })));
    for (const r of [...history(), ...spam(3, 10, T0 - DAY), submission({ at: T0 })]) inst.onRecord(r, () => undefined);
    const snap = JSON.parse(JSON.stringify(inst.snapshot?.())) as { accounts: [string, unknown, string[]][] };
    const known = snap.accounts[0]?.[2].map((k) => unpackSet16(k).length);
    assert.ok(known);
    assert.ok((known[0] ?? 0) + (known[1] ?? 0) <= 10 && (known[2] ?? 0) + (known[3] ?? 0) <= 4, JSON.stringify(known));
  });
});

describe(`${RULE}: state across cron runs`, () => {
  const records: MailRecord[] = [
    ...history(),
    ...history(T0, { account: 'bob@example.edu' }),
    ...spam(1, 30, T0 - DAY),
    ...spam(25, 10, T0, { subject: 'Invoice overdue' }),
    ...spam(6, 10, T0 + 30 * MINUTE, { account: 'bob@example.edu' }, 5000),
    ...spam(6, 10, T0 + 5 * HOUR, {}, 9000),
  ].sort((a, b) => a.at - b.at);

  it('a snapshot restored (through JSON) at any cut gives the findings of one long run', () => {
    const whole = brief(inRuns(records, []));
    assert.equal(whole.length, 8, whole.join('\n'));
    for (let cut = 1; cut < records.length; cut += 2) assert.deepEqual(brief(inRuns(records, [cut])), whole, `cut after ${cut}`);
    assert.deepEqual(brief(inRuns(records, [3, 8, 14, 20, 30, 40])), whole);
    assert.deepEqual(brief(inRuns(records, [], { v: 2, window: 60, accounts: [['x', {}]] })), whole, 'an unusable snapshot is ignored');
  });

  it('stays small: 10,000 accounts that each know 150 recipients in 20 domains', () => {
    const rule = rules.find((r) => r.name === RULE);
    assert.ok(rule);
    const inst = rule.instantiate({}, resolveContext(parseConfig({ timezone: 'UTC' })));
    for (let i = 0; i < 10_000; i++) {
      const account = `u${i}@example.edu`;
      for (let m = 0; m < 5; m++) {
        const recipients = Array.from({ length: 30 }, (_, k) => `p${i}-${m * 30 + k}@org${(m * 30 + k) % 20}.example`);
        inst.onRecord(submission({ account, recipients, at: T0 - 3 * DAY + m * 2 * HOUR + i }), () => undefined);
      }
      inst.onRecord(submission({ account, recipients: ['p0@org0.example'], at: T0 + i }), () => undefined);
    }
    const size = JSON.stringify(inst.snapshot?.()).length;
    assert.ok(size < 5_000_000, `state ${size} bytes`);
  });
});

describe('recipient-spread: hashing as it is read', () => {
  // What the rule hashed before it hashed in one pass: the lower-case copy, split.
  const reference = (raw: string): [number, number] => {
    const addr = raw.toLowerCase();
    const { domain } = splitAddress(addr);
    return [hash32(addr), domain === '' ? -1 : hash32(domain)];
  };
  const text = fc.oneof(
    fc.string({ unit: fc.constantFrom('a', 'B', '@', '.', ' ', '\t', '\n', '\u00a0', 'Σ', 'İ', 'é', 'Z', '+', '\u2028'), maxLength: 20 }),
    fc.string({ maxLength: 20 }),
    fc.emailAddress(),
  );

  it('hashRecipients gives the hashes of the lower-cased address and its domain, ASCII or not', () => {
    fc.assert(fc.property(fc.array(text, { maxLength: 4 }), (recipients) => {
      const out = [7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7];
      const n = hashRecipients(recipients, out);
      assert.deepEqual(out.slice(0, n), recipients.flatMap(reference));
    }), { numRuns: 3000 });
  });

  it('subjectKey is the hash of the normalised subject, -1 for an empty one', () => {
    const normalised = (s: string): string => s.toLowerCase().replace(/\s+/g, ' ').trim();
    fc.assert(fc.property(text, (subject) => {
      const n = normalised(subject);
      assert.equal(subjectKey(subject), n === '' ? -1 : hash32(n));
    }), { numRuns: 3000 });
  });
});
