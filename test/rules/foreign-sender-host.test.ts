/**
 * foreign-sender-host. Default trusted networks are the private and loopback
 * ranges; SITE adds alice's home network and a partner group for carol.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Finding, MailRecord } from '../../src/core/types.js';
import { parseConfig, resolveContext } from '../../src/config/load.js';
import { rules } from '../../src/rules/index.js';
import { authSuccess, HOUR, MINUTE, ruleTester, runRule, submission, T0, type ExpectedFinding } from '../helpers/records.js';
import { assertOnlyRowChanged, brief, inRuns, linesKeptByAddresses, withoutRow, withRowText } from './harness.js';

const RULE = 'foreign-sender-host';
const BOB = 'bob@example.edu';
const CAROL = 'carol@example.edu';

const SITE = {
  accounts: {
    'alice@example.edu': { trustedNetworks: ['203.0.113.0/28', '2001:db8:aaaa::/48'] },
    [CAROL]: { groups: ['partner'] },
  },
  groups: { partner: { trustedNetworks: ['192.0.2.128/25'] } },
};
const site = (options: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ ...SITE, ...extra, rules: { [RULE]: options } });
const OWN_NETS = site({}, { trustedNetworks: ['198.51.100.0/24', '2001:db8:100::/48'] });

const from = (clientIp: string | undefined, over: Parameters<typeof submission>[0] = {}) =>
  submission({ ...over, clientIp });

const foreign = (ip: string, more: Partial<ExpectedFinding> & { distinct?: number } = {}): ExpectedFinding => ({
  severity: more.severity ?? 'warning',
  ...(more.account ? { account: more.account } : {}),
  ...(more.at !== undefined ? { at: more.at } : {}),
  ...(more.message ? { message: more.message } : {}),
  data: { client_ip: ip, distinct_foreign_hosts: more.distinct ?? 1 },
});

ruleTester(RULE, {
  valid: [
    ...['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.5', '127.0.0.1', '::1', 'fd00::25', 'fe80::1'].map((ip) => ({
      name: `private/loopback ${ip} (default trusted networks)`, config: site(), records: [from(ip)],
    })),
    { name: 'no client address (local pickup)', config: site(), records: [from(undefined)] },
    { name: 'Kerio webmail 0.0.0.0', config: site(), records: [from('0.0.0.0')] },
    { name: 'unspecified IPv6 ::', config: site(), records: [from('::')] },
    { name: 'IPv4-mapped IPv6 of a private address', config: site(), records: [from('::ffff:10.1.2.3')] },
    { name: 'configured IPv4 network', config: OWN_NETS, records: [from('198.51.100.77')] },
    { name: 'configured IPv6 network', config: OWN_NETS, records: [from('2001:db8:100:ffff::5')] },
    { name: 'configured IPv6 network, address written in capitals', config: OWN_NETS, records: [from('2001:DB8:100::5')] },
    { name: 'IPv4-mapped IPv6 inside a configured IPv4 network', config: OWN_NETS, records: [from('::ffff:198.51.100.7')] },
    { name: 'per-account network (alice\'s home, /28)', config: site(), records: [from('203.0.113.15')] },
    { name: 'per-account IPv6 network', config: site(), records: [from('2001:db8:aaaa:1::9')] },
    { name: 'per-group network for a member', config: site(), records: [from('192.0.2.200', { account: CAROL })] },
    { name: 'a foreign IMAP login is not checked by default', config: site(), records: [authSuccess({ clientIp: '198.51.100.9' })] },
    { name: 'severity info: noted, never raised', config: site({ severity: 'info', criticalDistinctHosts: 0 }), records: [from('198.51.100.9')], allowInfo: true },
  ],
  invalid: [
    {
      name: 'a public IPv4 address',
      config: site(),
      records: [from('198.51.100.9')],
      findings: [{ ...foreign('198.51.100.9', { at: T0, message: 'sent from 198.51.100.9, outside the trusted networks' }), data: { client_ip: '198.51.100.9', distinct_foreign_hosts: 1, service: 'smtpd' } }],
    },
    { name: 'just outside 172.16.0.0/12', config: site(), records: [from('172.32.0.1')], findings: [foreign('172.32.0.1')] },
    { name: 'just outside 192.168.0.0/16', config: site(), records: [from('192.169.0.1')], findings: [foreign('192.169.0.1')] },
    { name: 'just outside 10.0.0.0/8', config: site(), records: [from('11.0.0.1')], findings: [foreign('11.0.0.1')] },
    { name: 'a public IPv6 address', config: site(), records: [from('2001:db8::1')], findings: [foreign('2001:db8::1')] },
    { name: 'IPv6 just outside a configured /48', config: OWN_NETS, records: [from('2001:db8:101::1')], findings: [foreign('2001:db8:101::1')] },
    { name: 'IPv4-mapped IPv6 of a public address', config: site(), records: [from('::ffff:203.0.113.200')], findings: [foreign('::ffff:203.0.113.200')] },
    {
      name: 'configured trustedNetworks replace the private defaults',
      config: OWN_NETS,
      records: [from('10.1.2.3')],
      findings: [foreign('10.1.2.3')],
    },
    { name: 'just outside alice\'s /28', config: site(), records: [from('203.0.113.16')], findings: [foreign('203.0.113.16')] },
    {
      name: 'alice\'s home network is not bob\'s',
      config: site(),
      records: [from('203.0.113.5', { account: BOB })],
      findings: [foreign('203.0.113.5', { account: BOB })],
    },
    {
      name: 'a group network is not a non-member\'s',
      config: site(),
      records: [from('192.0.2.200')],
      findings: [foreign('192.0.2.200')],
    },
    {
      name: 'the same address ten times in a day is reported once',
      config: site(),
      records: Array.from({ length: 10 }, (_, i) => from('198.51.100.9', { at: T0 + i * 2 * HOUR })),
      findings: [foreign('198.51.100.9')],
    },
    {
      name: 'the same address again after the repeat period (24 h) is reported again',
      config: site(),
      records: [from('198.51.100.9'), from('198.51.100.9', { at: T0 + 23 * HOUR }), from('198.51.100.9', { at: T0 + 24 * HOUR + MINUTE })],
      findings: [foreign('198.51.100.9'), foreign('198.51.100.9', { at: T0 + 24 * HOUR + MINUTE })],
    },
    {
      name: 'repeatAfterHours: 1',
      config: site({ repeatAfterHours: 1 }),
      records: [from('198.51.100.9'), from('198.51.100.9', { at: T0 + 30 * MINUTE }), from('198.51.100.9', { at: T0 + 61 * MINUTE })],
      findings: [foreign('198.51.100.9'), foreign('198.51.100.9', { at: T0 + 61 * MINUTE })],
    },
    {
      name: 'five different foreign addresses: four warnings, then critical; a sixth adds nothing',
      config: site(),
      records: [1, 2, 3, 4, 5, 6].map((n) => from(`198.51.100.${n}`, { at: T0 + n * MINUTE })),
      findings: [
        foreign('198.51.100.1'), foreign('198.51.100.2', { distinct: 2 }), foreign('198.51.100.3', { distinct: 3 }), foreign('198.51.100.4', { distinct: 4 }),
        foreign('198.51.100.5', { severity: 'critical', distinct: 5, message: '5 different untrusted client addresses within 24 h, latest 198.51.100.5' }),
      ],
    },
    {
      name: 'criticalDistinctHosts: 0 never escalates',
      config: site({ criticalDistinctHosts: 0 }),
      records: [1, 2, 3, 4, 5, 6].map((n) => from(`198.51.100.${n}`)),
      findings: [1, 2, 3, 4, 5, 6].map((n) => foreign(`198.51.100.${n}`, { distinct: n })),
    },
    {
      name: 'trusted addresses between foreign ones do not count',
      config: site({ criticalDistinctHosts: 2 }),
      records: [from('198.51.100.1'), from('10.0.0.1'), from('0.0.0.0'), from(undefined), from('198.51.100.2')],
      findings: [foreign('198.51.100.1'), foreign('198.51.100.2', { severity: 'critical', distinct: 2 })],
    },
    {
      name: 'each account is tracked apart',
      config: site(),
      records: [from('198.51.100.9'), from('198.51.100.9', { account: BOB }), from('198.51.100.9')],
      findings: [foreign('198.51.100.9'), foreign('198.51.100.9', { account: BOB })],
    },
    {
      name: 'includeLogins: a foreign IMAP login',
      config: site({ includeLogins: true }),
      records: [authSuccess({ clientIp: '198.51.100.9' })],
      findings: [{ ...foreign('198.51.100.9', { message: 'logged in from 198.51.100.9' }), data: { client_ip: '198.51.100.9', service: 'imap' } }],
    },
    {
      name: 'severity critical from the first foreign address, once',
      config: site({ severity: 'critical' }),
      records: [from('198.51.100.1'), from('198.51.100.2')],
      findings: [foreign('198.51.100.1', { severity: 'critical' })],
    },
  ],
});

describe(`${RULE}: details`, () => {
  it('after the repeat period has cleared every address, a new episode starts at warning again', () => {
    const config = site({ criticalDistinctHosts: 2 });
    const findings = runRule(RULE, config, [
      from('198.51.100.1'), from('198.51.100.2', { at: T0 + MINUTE }),
      from('198.51.100.3', { at: T0 + 25 * HOUR }),
    ]);
    assert.deepEqual(findings.map((f) => [f.severity, f.data.client_ip, f.data.distinct_foreign_hosts]), [
      ['warning', '198.51.100.1', 1], ['critical', '198.51.100.2', 2], ['warning', '198.51.100.3', 1],
    ]);
  });
});

describe(`${RULE}: state across cron runs, rows decoded only for the accounts a run touches`, () => {
  type Rows = [string, number, string][];
  const DAVE = 'dave@example.edu';
  const rule = rules.find((r) => r.name === RULE);
  assert.ok(rule);
  const config = site();
  const ctx = resolveContext(parseConfig({ timezone: 'UTC', ...config }));
  /** The snapshot (through JSON) after `records` read by an instance restored from `saved`, and its findings. */
  const run = (records: readonly MailRecord[], saved?: unknown, options: Record<string, unknown> = {}): { state: { v: number; now: number; rows: Rows }; findings: Finding[] } => {
    const inst = rule.instantiate(options, ctx, saved);
    const findings: Finding[] = [];
    for (const r of records) inst.onRecord(r, (f) => findings.push(f));
    return { state: JSON.parse(JSON.stringify(inst.snapshot?.())) as { v: number; now: number; rows: Rows }, findings };
  };
  // Dave's "address" is no word (a parser's odd field): his row is JSON.
  const first = [from('198.51.100.1'), from('198.51.100.2', { at: T0 + MINUTE }), from('198.51.100.9', { account: BOB }), from('bad ip', { account: DAVE, at: T0 + 2 * MINUTE })];
  const second = [
    ...[3, 4, 5].map((n) => from(`198.51.100.${n}`, { at: T0 + 2 * HOUR + n * MINUTE })),
    from('bad ip', { account: DAVE, at: T0 + 3 * HOUR }), from('198.51.100.9', { account: BOB, at: T0 + 25 * HOUR }),
    from('198.51.100.6', { at: T0 + 26 * HOUR + 2 * MINUTE }), from('bad ip', { account: DAVE, at: T0 + 27 * HOUR }),
  ];
  const all = [...first, ...second];

  it('keeps no log line alive through the addresses it remembers', async () => {
    assert.equal(await linesKeptByAddresses(RULE, 'fsh'), 0);
  });

  it('a snapshot restored (through JSON) at any cut gives the findings of one long run', () => {
    const whole = brief(inRuns(RULE, all, [], { config }));
    assert.equal(whole.length, 9, whole.join('\n'));
    for (let cut = 1; cut < all.length; cut++) assert.deepEqual(brief(inRuns(RULE, all, [cut], { config })), whole, `cut after ${cut}`);
    assert.deepEqual(brief(inRuns(RULE, all, [1, 3, 5, 7, 9], { config })), whole);
    assert.deepEqual(brief(inRuns(RULE, all, [], { config, first: { v: 7 } })), whole, 'an unusable snapshot is ignored');
  });

  it('reads a version 1 snapshot, and finds what it found after one', () => {
    const v1 = {
      v: 1,
      seen: [
        ['alice@example.edu', { hosts: [['198.51.100.1', T0], ['198.51.100.2', T0 + MINUTE]], level: 1 }],
        [BOB, { hosts: [['198.51.100.9', T0]], level: 1 }],
        [DAVE, { hosts: [['bad ip', T0 + 2 * MINUTE]], level: 1 }],
      ],
    };
    const whole = brief(inRuns(RULE, all, [first.length], { config }));
    assert.deepEqual(brief([...run(first).findings, ...run(second, v1).findings]), whole);
    assert.deepEqual(run(second, v1).state, run(second, run(first).state).state);
    // Version 1 is restored eagerly: rows decoded later must give what it gives, also when the options change between runs.
    for (const options of [{ repeatAfterHours: 1 }, { repeatAfterHours: 48 }, { repeatAfterHours: 0.3333 }]) {
      const [eager, lazy] = [run(second, v1, options), run(second, run(first).state, options)];
      assert.deepEqual(brief(lazy.findings), brief(eager.findings), JSON.stringify(options));
      // An untouched row stays as it was read (pruned when decoded): the next run tells.
      const third = [from('198.51.100.1', { at: T0 + 30 * HOUR }), from('198.51.100.9', { account: BOB, at: T0 + 30 * HOUR }), from('bad ip', { account: DAVE, at: T0 + 30 * HOUR })];
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
    const after = run([from('198.51.100.7', { account: BOB, at: T0 + HOUR })], state).state;
    assertOnlyRowChanged(state.rows, after.rows, BOB);
  });

  it('a damaged row drops only its account', () => {
    const { state } = run(first);
    for (const bad of ['1 198.51.100.1 x', '[1,[["198.51.100.1"]]]', '']) {
      const damaged = { ...state, rows: withRowText(state.rows, 'alice@example.edu', bad) };
      const fresh = { ...state, rows: withoutRow(state.rows, 'alice@example.edu') };
      assert.deepEqual(brief(run(second, damaged).findings), brief(run(second, fresh).findings), bad);
      assert.deepEqual(run(second, damaged).state, run(second, fresh).state, bad);
    }
  });
});
