/**
 * many-sender-hosts, default options unless a case says otherwise: window 24 h,
 * warning above 10 addresses or above 5 networks (/24, IPv6 /48), critical above 3x
 * (30 addresses, 15 networks); wide networks (/16) not checked; sending only.
 * Default trusted networks are the private ranges.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Finding, MailRecord } from '../../src/core/types.js';
import { parseConfig, resolveContext } from '../../src/config/load.js';
import { rules } from '../../src/rules/index.js';
import { heldBy } from '../../src/rules/rule-support.js';
import { authSuccess, HOUR, MINUTE, ruleTester, submission, T0, withRuleOptions } from '../helpers/records.js';
import { assertOnlyRowChanged, brief, inRuns as runInRuns, linesKeptByAddresses, withoutRow, withRowText } from './harness.js';

const RULE = 'many-sender-hosts';
const BOB = 'bob@example.edu';
const opts = (o: Record<string, unknown>): Record<string, unknown> => withRuleOptions(RULE, o);

/** `n` messages from the addresses `ipOf(i)`, `everyMs` apart from T0. */
function from(n: number, ipOf: (i: number) => string, everyMs = 10 * MINUTE, start = T0, account?: string): MailRecord[] {
  return Array.from({ length: n }, (_, i) => submission({ clientIp: ipOf(i), at: start + i * everyMs, ...(account ? { account } : {}) }));
}
/** Addresses in one /24. */
const sameNet = (i: number): string => `45.33.7.${i + 1}`;
/** One address in each of many /24s (all in 45.33.0.0/16). */
const ownNet = (i: number): string => `45.33.${i}.9`;

const warnAt = (n: number, data: Record<string, number | string>, message?: string) => ({
  severity: 'warning' as const, at: T0 + (n - 1) * 10 * MINUTE, data, ...(message ? { message } : {}),
});

ruleTester(RULE, {
  valid: [
    { name: '10 addresses in one /24 in a day (warning above 10)', records: from(10, sameNet, HOUR) },
    { name: '10 addresses in 5 networks', records: from(10, (i) => `45.33.${i % 5}.${i + 1}`) },
    { name: '20 addresses in the trusted private ranges', records: from(20, (i) => `10.0.${i}.1`) },
    { name: '11 addresses, first and last 24 h 30 min apart: 10 in any day', records: from(11, sameNet, 147 * MINUTE) },
    { name: 'a phone\'s privacy addresses: 30 IPv6 addresses in one /64', records: from(30, (i) => `2001:db8:5:6:${(i + 1).toString(16)}::1`) },
    {
      name: 'alice\'s own network (per-account trustedNetworks)',
      config: { accounts: { 'alice@example.edu': { trustedNetworks: ['45.33.0.0/16'] } } },
      records: from(20, ownNet),
    },
    {
      name: 'IMAP logins are not counted by default',
      records: Array.from({ length: 12 }, (_, i) => authSuccess({ clientIp: ownNet(i), at: T0 + i * MINUTE })),
    },
    {
      name: 'no address, Kerio webmail 0.0.0.0, IPv6 ::',
      records: [submission({ clientIp: undefined }), ...from(12, (i) => (i % 2 ? '0.0.0.0' : '::'))],
    },
    {
      name: 'each account is counted apart: two accounts with 8 addresses each in one /24',
      records: [...from(8, sameNet), ...from(8, (i) => `45.33.7.${i + 100}`, 10 * MINUTE, T0, BOB)],
    },
  ],
  invalid: [
    {
      name: '11 addresses in one /24: warning',
      records: from(11, sameNet),
      findings: [warnAt(11, { addresses: 11, networks: 1, wide_networks: 1, client: '45.33.7.11', max_addresses: 10, window_minutes: 1440 },
        '11 untrusted client addresses in 1 networks in 24 h, latest 45.33.7.11 (more than 10 addresses)')],
    },
    {
      name: '6 networks: warning',
      records: from(6, ownNet),
      findings: [warnAt(6, { addresses: 6, networks: 6, max_networks: 5 }, 'more than 5 networks')],
    },
    {
      name: 'a botnet: 40 addresses in 40 networks, warning at 6, critical at 16 (above 3 x 5)',
      records: from(40, ownNet),
      findings: [warnAt(6, { networks: 6 }), { severity: 'critical', at: T0 + 15 * 10 * MINUTE, data: { addresses: 16, networks: 16 }, message: 'more than 15 networks' }],
    },
    {
      name: '31 addresses in one /24: warning at 11, critical at 31',
      records: from(31, sameNet, 5 * MINUTE),
      findings: [
        { severity: 'warning', at: T0 + 10 * 5 * MINUTE, data: { addresses: 11 } },
        { severity: 'critical', at: T0 + 30 * 5 * MINUTE, data: { addresses: 31 }, message: 'more than 30 addresses' },
      ],
    },
    {
      name: 'IPv6: six /48s',
      records: from(6, (i) => `2001:db8:${(i + 1).toString(16)}::1`),
      findings: [warnAt(6, { networks: 6, client: '2001:db8:6::/64' })],
    },
    {
      name: 'an IPv4-mapped IPv6 address is its IPv4 address',
      records: [...from(10, sameNet), submission({ clientIp: '::ffff:45.33.7.1', at: T0 + HOUR }), submission({ clientIp: '::ffff:45.33.7.200', at: T0 + 2 * HOUR })],
      findings: [{ severity: 'warning', at: T0 + 2 * HOUR, data: { addresses: 11, client: '45.33.7.200' } }],
    },
    {
      name: 'maxWideNetworks: 2: three /16s',
      config: opts({ maxWideNetworks: 2 }),
      records: from(3, (i) => `45.${i + 1}.0.1`),
      findings: [warnAt(3, { wide_networks: 3, networks: 3 }, 'more than 2 wide networks')],
    },
    {
      name: 'includeLogins: IMAP logins count too',
      config: opts({ includeLogins: true }),
      records: Array.from({ length: 11 }, (_, i) => authSuccess({ clientIp: sameNet(i), at: T0 + i * MINUTE })),
      findings: [{ severity: 'warning', at: T0 + 10 * MINUTE, data: { addresses: 11 } }],
    },
    {
      name: 'maxAddresses 3, criticalFactor 2: warning at 4, critical at 7',
      config: opts({ maxAddresses: 3, criticalFactor: 2 }),
      records: from(7, sameNet),
      findings: [warnAt(4, { addresses: 4 }), { severity: 'critical', at: T0 + 6 * 10 * MINUTE, data: { addresses: 7 } }],
    },
    {
      name: 'the episode ends with the window: a second run two days later is reported again',
      records: [...from(11, sameNet), ...from(11, (i) => `45.34.7.${i + 1}`, 10 * MINUTE, T0 + 48 * HOUR)],
      findings: [warnAt(11, { addresses: 11 }), { severity: 'warning', at: T0 + 48 * HOUR + 100 * MINUTE, data: { addresses: 11 } }],
    },
    {
      name: 'addresses already counted add nothing',
      records: [...from(11, sameNet), ...from(30, (i) => sameNet(i % 11), MINUTE, T0 + 2 * HOUR)],
      findings: [warnAt(11, { addresses: 11 })],
    },
    {
      name: 'a window of 60 minutes',
      config: opts({ windowMinutes: 60 }),
      records: [...from(11, sameNet, 10 * MINUTE), ...from(11, (i) => `45.34.7.${i + 1}`, 5 * MINUTE, T0 + 3 * HOUR)],
      findings: [{ severity: 'warning', at: T0 + 3 * HOUR + 50 * MINUTE, data: { addresses: 11, window_minutes: 60 } }],
    },
  ],
});

const inRuns = (records: readonly MailRecord[], cuts: readonly number[], first?: unknown): Finding[] => runInRuns(RULE, records, cuts, { first });

describe(`${RULE}: state across cron runs`, () => {
  const records: MailRecord[] = [
    ...from(40, ownNet, 20 * MINUTE),
    ...from(12, (i) => `2001:db8:${(i + 1).toString(16)}::1`, 30 * MINUTE, T0 + HOUR, BOB),
    ...from(11, sameNet, 10 * MINUTE, T0 + 40 * HOUR),
  ].sort((a, b) => a.at - b.at);

  it('a snapshot restored (through JSON) at any cut gives the findings of one long run', () => {
    const whole = brief(inRuns(records, []));
    assert.equal(whole.length, 4, whole.join('\n'));
    for (let cut = 1; cut < records.length; cut += 2) assert.deepEqual(brief(inRuns(records, [cut])), whole, `cut after ${cut}`);
    assert.deepEqual(brief(inRuns(records, [5, 17, 30, 44, 58])), whole);
    assert.deepEqual(brief(inRuns(records, [], { v: 7 })), whole, 'an unusable snapshot is ignored');
  });

  it('keeps only the addresses inside the window, and a few bytes per account', () => {
    const rule = rules.find((r) => r.name === RULE);
    assert.ok(rule);
    const inst = rule.instantiate({}, resolveContext(parseConfig({ timezone: 'UTC' })));
    // 10,000 accounts, each sending from home and from a phone (two untrusted addresses) in a day.
    for (let i = 0; i < 10_000; i++) {
      for (const ip of [`45.${i >> 8}.${i & 255}.1`, `46.${i >> 8}.${i & 255}.1`]) {
        inst.onRecord(submission({ account: `u${i}@example.edu`, clientIp: ip, at: T0 + i * 1000 }), () => undefined);
      }
    }
    const size = JSON.stringify(inst.snapshot?.()).length;
    assert.ok(size < 1_000_000, `state ${size} bytes`);
    inst.onRecord(submission({ clientIp: '47.0.0.1', at: T0 + 50 * HOUR }), () => undefined);
    const later = JSON.parse(JSON.stringify(inst.snapshot?.())) as { rows: [string, number, string][] };
    // A row's text is `level client age ...`.
    assert.deepEqual(later.rows.map(([k, , text]) => [k, (text.split(' ').length - 1) / 2]), [['alice@example.edu', 1]]);
  });

  it('holds evidence lines only for accounts a few addresses from a finding, while it runs', () => {
    const rule = rules.find((r) => r.name === RULE);
    assert.ok(rule);
    const inst = rule.instantiate({}, resolveContext(parseConfig({ timezone: 'UTC' })));
    // 100 accounts over 20 days, each on a new address of its own network every day (a phone, a hotel).
    let most = 0;
    for (let day = 0; day < 20; day++) {
      for (let i = 0; i < 100; i++) {
        inst.onRecord(submission({ account: `u${i}@example.edu`, clientIp: `45.${i}.${day}.1`, at: T0 + day * 24 * HOUR + i * MINUTE }), () => assert.fail('no finding'));
      }
      most = Math.max(most, heldBy(inst)?.lines ?? Infinity);
    }
    assert.equal(most, 0);
    // Near a level the lines are kept, and quoted.
    const findings: Finding[] = [];
    for (const r of from(6, ownNet, MINUTE, T0 + 30 * 24 * HOUR)) inst.onRecord(r, (f) => findings.push(f));
    assert.equal(heldBy(inst)?.lines, 3);
    assert.deepEqual(findings.map((f) => [f.severity, f.evidence.length]), [['warning', 3]]);
  });
});

describe(`${RULE}: memory`, () => {
  it('keeps no log line alive through the addresses it remembers', async () => {
    assert.equal(await linesKeptByAddresses(RULE, 'msh'), 0);
  });
});

describe(`${RULE}: rows decoded only for the accounts a run touches`, () => {
  type Rows = [string, number, string][];
  const rule = rules.find((r) => r.name === RULE);
  assert.ok(rule);
  const ctx = resolveContext(parseConfig({ timezone: 'UTC' }));
  /** The snapshot (through JSON) after `records` read by an instance restored from `saved`, and its findings. */
  const run = (records: readonly MailRecord[], saved?: unknown, options: Record<string, unknown> = {}): { state: { v: number; cut: number; rows: Rows }; findings: Finding[] } => {
    const inst = rule.instantiate(options, ctx, saved);
    const findings: Finding[] = [];
    for (const r of records) inst.onRecord(r, (f) => findings.push(f));
    return { state: JSON.parse(JSON.stringify(inst.snapshot?.())) as { v: number; cut: number; rows: Rows }, findings };
  };
  const first = [...from(10, sameNet), ...from(4, ownNet, 10 * MINUTE, T0, BOB), ...from(3, (i) => `46.1.${i}.1`, HOUR, T0, 'carol@example.edu')];
  const second = [...from(2, (i) => `47.0.${i}.1`, 10 * MINUTE, T0 + 3 * HOUR), ...from(3, (i) => `45.33.${i + 20}.9`, 10 * MINUTE, T0 + 3 * HOUR, BOB)];

  it('reads a version 1 snapshot, and finds what it found after one', () => {
    const hosts = (rs: readonly MailRecord[]): [string, number][] => rs.map((r) => [r.kind === 'submission' ? r.clientIp ?? '' : '', r.at / 1000]);
    // What version 1 saved after `first`: every address with its second, and the last three lines where a level is near.
    const v1 = {
      v: 1,
      accounts: [
        ['alice@example.edu', -1, hosts(first.slice(0, 10)), first.slice(7, 10).map((r) => r.evidence[0])],
        [BOB, -1, hosts(first.slice(10, 14)), first.slice(11, 14).map((r) => r.evidence[0])],
        ['carol@example.edu', -1, hosts(first.slice(14)), []],
      ],
    };
    const whole = brief(inRuns([...first, ...second], [first.length]));
    assert.equal(whole.length, 2, whole.join('\n'));
    assert.deepEqual(brief(run(second, v1).findings), whole);
    assert.deepEqual(run(second, v1).state, run(second, run(first).state).state);
    // Version 1 is restored eagerly: rows decoded later must give what it gives, also when the options change between runs.
    for (const options of [{ windowMinutes: 60 }, { windowMinutes: 2880 }, { windowMinutes: 5 }]) {
      const [eager, lazy] = [run(second, v1, options), run(second, run(first).state, options)];
      assert.deepEqual(brief(lazy.findings), brief(eager.findings), JSON.stringify(options));
      // An untouched row stays as it was read (pruned when decoded): the next run tells.
      const third = [...from(12, (i) => `47.1.${i}.1`, MINUTE, T0 + 5 * HOUR), ...from(12, (i) => `47.2.${i}.1`, MINUTE, T0 + 5 * HOUR, BOB), ...from(12, (i) => `47.3.${i}.1`, MINUTE, T0 + 5 * HOUR, 'carol@example.edu')];
      assert.deepEqual(brief(run(third, lazy.state, options).findings), brief(run(third, eager.state, options).findings), JSON.stringify(options));
    }
  });

  it('gives back its rows unchanged when a run reads nothing', () => {
    const { state } = run(first);
    assert.equal(state.v, 2);
    assert.deepEqual(run([], state).state, state);
  });

  it('a run touching one account changes only that account\'s row', () => {
    const { state } = run(first);
    const after = run([submission({ account: BOB, clientIp: '45.40.1.1', at: T0 + 2 * HOUR })], state).state;
    assertOnlyRowChanged(state.rows, after.rows, BOB);
  });

  it('a damaged row drops only its account', () => {
    const { state } = run(first);
    const damaged = { ...state, rows: withRowText(state.rows, BOB, '-1 45.33.0.9 x') };
    const fresh = { ...state, rows: withoutRow(state.rows, BOB) };
    assert.deepEqual(brief(run(second, damaged).findings), brief(run(second, fresh).findings));
    assert.deepEqual(run(second, damaged).state, run(second, fresh).state);
    assert.equal(run(second, damaged).findings.length, 1);
  });
});
