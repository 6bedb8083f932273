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
    const snap = JSON.parse(JSON.stringify(inst.snapshot?.())) as { accounts: [string, number, string][] };
    // A row's text: `first gen level rc rp dc dp ...`.
    const known = snap.accounts[0]?.[2].split(' ').slice(3, 7).map((k) => unpackSet16(k).length);
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

describe(`${RULE}: rows (state version 3)`, () => {
  type Section = { v: number; latest: number; accounts: [string, number, string][] };
  const bob = 'bob@example.edu';
  const instance = (saved?: unknown) => {
    const rule = rules.find((r) => r.name === RULE);
    assert.ok(rule);
    return rule.instantiate({}, resolveContext(parseConfig({ timezone: 'UTC' })), saved);
  };
  /** The section after `records`, read in one run from `saved`, through JSON. */
  const after = (records: readonly MailRecord[], saved?: unknown): Section => {
    const inst = instance(saved);
    for (const r of records) inst.onRecord(r, () => undefined);
    return JSON.parse(JSON.stringify(inst.snapshot?.())) as Section;
  };
  const texts = (s: Section): Map<string, string> => new Map(s.accounts.map(([k, , t]) => [k, t]));
  const site: MailRecord[] = [
    ...history(),
    ...history(T0, { account: bob }),
    ...['carol', 'dave', 'erin'].flatMap((n, i) => history(T0 + i * HOUR, { account: `${n}@example.edu` })),
    ...spam(3, 4, T0, { subject: 'Invoice overdue' }),
    ...spam(2, 4, T0 + 10 * MINUTE, { account: bob }, 700),
  ].sort((a, b) => a.at - b.at);

  // Written by the eager rule (state version 2) after V2_RECORDS: alice's and bob's windows, and alice's subject, still open.
  const V2 = {
    v: 2, window: 60, accounts: [
      ['alice@example.edu', [1772445600, 1772445600, 1772618520, -1], ['CtAS3YYPxprvY1lS/crs9oIpDGtz2phHt4gyD+BUUQTZIpT3wY7NQ/DIlOIAk/qI', '', 'DWKO5cfDVA==', ''],
        [39482995, 481, 1152024377, 481, 276954283, 481, 433212245, 481, 2728259627, 241, 3112553065, 241, 667377603, 241, 139647213, 241, 2300154563, 1, 4136467593, 1, 716940843, 1, 4223008839, 1],
        [3839120757, 481, 1440278684, 481, 857326515, 481, 1575899946, 481, 67859721, 241, 1004979664, 241, 1755341943, 241, 426772334, 241, 1998783597, 1, 1160664468, 1, 1153492800, 1, 853541113, 1],
        [[2532663144, -1, [120, 60, 0], [39482995, 120, 1152024377, 120, 276954283, 120, 433212245, 120, 2728259627, 60, 3112553065, 60, 667377603, 60, 139647213, 60, 2300154563, 0, 4136467593, 0, 716940843, 0, 4223008839, 0]]]],
      ['bob@example.edu', [1772617200, 1772617200, 1772617200, -1], ['', '', '', ''], [489778049, 1, 2479834011, 1, 1176542517, 1, 3413325731, 1], [2339305856, 1, 2781684793, 1, 2439946654, 1, 1718526311, 1], []],
    ],
  };
  const V2_RECORDS = [...history(), ...spam(1, 4, T0 - 20 * MINUTE, { account: bob }, 500), ...spam(3, 4, T0, { subject: 'Invoice overdue' })];

  it('a version-2 snapshot still restores, to the findings of one long run', () => {
    const rest = [
      ...spam(22, 4, T0 + 3 * MINUTE, { subject: 'Invoice overdue' }, 12),
      ...spam(20, 4, T0 + 10 * MINUTE, { account: bob, subject: 'Win' }, 600),
    ].sort((a, b) => a.at - b.at);
    const whole = brief(inRuns([...V2_RECORDS, ...rest], []));
    const before = brief(inRuns(V2_RECORDS, [])).length;
    assert.ok(whole.length > before + 2, whole.join('\n'));
    assert.deepEqual(brief(inRuns(rest, [], V2)), whole.slice(before));
    assert.deepEqual(brief(inRuns(rest, [7, 30], V2)), whole.slice(before));
    assert.equal(after([], V2).v, 3);
  });

  it('restored and saved with no records between, the rows come back as they were', () => {
    const saved = after(site);
    assert.equal(saved.v, 3);
    assert.equal(saved.accounts.length, 5);
    assert.deepEqual(after([], saved), saved);
  });

  it('a run that touches one account changes only that account\'s row', () => {
    const saved = after(site);
    const next = after([submission({ account: bob, at: T0 + 3 * HOUR, recipients: ['p1@partner0.example'] })], saved);
    const [was, now] = [texts(saved), texts(next)];
    assert.deepEqual([...now.keys()], [...was.keys()]);
    for (const [k, t] of now) {
      if (k === bob) assert.notEqual(t, was.get(k));
      else assert.equal(t, was.get(k), k);
    }
  });

  it('a damaged row drops only that account', () => {
    const saved = after(site);
    const damaged = { ...saved, accounts: saved.accounts.map(([k, at, t]): [string, number, string] => [k, at, k === bob ? `${t} x:y` : t]) };
    const without = { ...saved, accounts: saved.accounts.filter(([k]) => k !== bob) };
    const later = [...spam(25, 10, T0 + 20 * MINUTE, { account: bob }, 3000), ...spam(25, 10, T0 + 20 * MINUTE, {}, 6000)].sort((a, b) => a.at - b.at);
    const fs = brief(inRuns(later, [], damaged));
    assert.deepEqual(fs, brief(inRuns(later, [], without)));
    assert.ok(fs.some((f) => f.startsWith('alice')), fs.join('\n'));
    for (const bad of ['', 'x', '1 2 3 A A A A 1,2 3', '1 2 3 A A A A 1,2 3,4 5:1:2:3', '1 2 3 A A A A 1,2 3,4 5:1:2,3,4:5,6:7', '1 2 3 A" A A A  ']) {
      const one = { ...saved, accounts: saved.accounts.map(([k, at, t]): [string, number, string] => [k, at, k === bob ? bad : t]) };
      assert.deepEqual(brief(inRuns(later, [], one)), fs, bad);
    }
  });

  // What the window held is learned at the snapshot after it left, as the eager rule learned it there.
  const back = (at: number): Submission => submission({ at, recipients: [...contacts(30, 40), ...Array.from({ length: 15 }, (_, i) => `new${i}@elsewhere.test`)] });
  const ping = (at: number): Submission => submission({ account: bob, at, recipients: ['someone@example.org'] });
  const runs = (parts: readonly MailRecord[][]): Finding[] => inRuns(parts.flat(), parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).flat().length));
  const first = [...history(), submission({ at: T0, recipients: contacts(30, 40) })];

  it('a list mailed before a quiet month is known when the account comes back (snapshots between were days apart)', () => {
    assert.deepEqual(runs([first, [ping(T0 + 2 * HOUR)], [ping(T0 + 12 * DAY)], [ping(T0 + 24 * DAY)], [ping(T0 + 33 * DAY)], [back(T0 + 35 * DAY)]]), []);
  });

  it('a list mailed before a jump of more than the history between two snapshots is new again', () => {
    assert.deepEqual(runs([first, [ping(T0 + 31 * DAY)], [back(T0 + 32 * DAY)]]).map((f) => [f.account, f.severity, f.data.new_recipients]), [['alice@example.edu', 'info', 25]]);
  });
});
