/**
 * new-sender-host. Alice is first seen on day 0 (T0, Wednesday 10:00 UTC); the
 * warm-up is 7 days and a network is remembered for 30. Default trusted networks are
 * the private ranges; alice also has a home network of her own.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Finding, MailRecord } from '../../src/core/types.js';
import { authSuccess, HOUR, ruleTester, submission, T0, type ExpectedFinding } from '../helpers/records.js';
import { parseConfig, resolveContext } from '../../src/config/load.js';
import { rules } from '../../src/rules/index.js';
import { decodeProfile } from '../../src/rules/new-sender-host.js';
import { assertOnlyRowChanged, brief, inRuns, runSplit as splitRun, withRowText } from './harness.js';

const RULE = 'new-sender-host';
const DAY = 24 * HOUR;
const BOB = 'bob@example.edu';

const cfg = (options: Record<string, unknown> = {}): Record<string, unknown> => ({
  accounts: { 'alice@example.edu': { trustedNetworks: ['192.0.2.0/28'] } },
  rules: { [RULE]: options },
});

const at = (d: number, h = 0): number => T0 + d * DAY + h * HOUR;
const from = (ip: string | undefined, when: number, over: Parameters<typeof submission>[0] = {}) => submission({ ...over, clientIp: ip, at: when });
/** Days 0..n-1 from the office LAN: history without a network to learn. */
const office = (n: number, over: Parameters<typeof submission>[0] = {}): MailRecord[] => Array.from({ length: n }, (_, d) => from('10.1.2.3', at(d), over));

const fresh = (ip: string, network: string, more: Partial<ExpectedFinding> & { known?: number; history?: number } = {}): ExpectedFinding => ({
  severity: more.severity ?? 'info',
  ...(more.account ? { account: more.account } : {}),
  ...(more.at !== undefined ? { at: more.at } : {}),
  ...(more.message ? { message: more.message } : {}),
  data: { client_ip: ip, network, known_networks: more.known ?? 0, ...(more.history !== undefined ? { history_days: more.history } : {}), ...more.data },
});

ruleTester(RULE, {
  valid: [
    { name: 'trusted (private) networks are never new', config: cfg(), records: [...office(8), from('192.168.7.7', at(8)), from('fd00::9', at(8)), from('::ffff:10.9.9.9', at(8))] },
    { name: 'the account\'s own trusted network', config: cfg(), records: [...office(8), from('192.0.2.5', at(8))] },
    { name: 'no client address, and webmail 0.0.0.0', config: cfg(), records: [...office(8), from(undefined, at(8)), from('0.0.0.0', at(8)), from('::', at(8))] },
    { name: 'during the warm-up every network is only learned', config: cfg(), records: [from('198.51.100.7', at(0)), from('203.0.113.5', at(3)), from('2001:db8:1::1', at(6, 13))] },
    { name: 'another address in a known /24', config: cfg(), records: [from('198.51.100.7', at(0)), ...office(8).slice(1), from('198.51.100.200', at(8))] },
    { name: 'another /64 in a known IPv6 /48', config: cfg(), records: [from('2001:db8:aaaa:1::5', at(0)), ...office(8).slice(1), from('2001:DB8:AAAA:ff::9', at(8))] },
    { name: 'the IPv4-mapped spelling of a known network', config: cfg(), records: [from('198.51.100.7', at(0)), ...office(8).slice(1), from('::ffff:198.51.100.8', at(8))] },
    { name: 'a network last used 30 days ago is still known', config: cfg(), records: [from('198.51.100.7', at(0)), ...office(8).slice(1), from('198.51.100.7', at(30))] },
    { name: 'a new network for bob is not alice\'s business', config: cfg(), records: [...office(8), from('198.51.100.7', at(8), { account: BOB })] },
    { name: 'an exempt account', config: cfg({ exempt: ['alice@example.edu'] }), records: [...office(8), from('198.51.100.7', at(8))] },
  ],
  invalid: [
    {
      name: 'after a week of history, a network never used: info, with client_ip and network for the scoring layer',
      config: cfg(),
      records: [...office(7), from('198.51.100.7', at(7))],
      findings: [{
        ...fresh('198.51.100.7', '198.51.100.0/24', { history: 7, at: at(7), message: 'sent from 198.51.100.7 in 198.51.100.0/24, a network not used by this account in 30 days' }),
        data: { client_ip: '198.51.100.7', network: '198.51.100.0/24', known_networks: 0, history_days: 7, service: 'smtpd' },
      }],
    },
    {
      name: 'each new network once, however often it is used',
      config: cfg(),
      records: [...office(8), from('198.51.100.7', at(8)), from('198.51.100.9', at(8, 1)), from('198.51.100.7', at(9)), from('203.0.113.5', at(9, 2))],
      findings: [fresh('198.51.100.7', '198.51.100.0/24'), fresh('203.0.113.5', '203.0.113.0/24', { known: 1, message: '(1 other known)' })],
    },
    {
      name: 'a network unused for more than 30 days is new again',
      config: cfg(),
      records: [from('198.51.100.7', at(0)), ...office(31).slice(1), from('198.51.100.7', at(31))],
      findings: [fresh('198.51.100.7', '198.51.100.0/24', { at: at(31), data: { last_used_days_ago: 31 } })],
    },
    {
      name: 'days: 7',
      config: cfg({ days: 7 }),
      records: [...office(8), from('198.51.100.7', at(8)), from('198.51.100.7', at(16))],
      findings: [fresh('198.51.100.7', '198.51.100.0/24'), fresh('198.51.100.7', '198.51.100.0/24', { at: at(16), data: { last_used_days_ago: 8 } })],
    },
    {
      name: 'an IPv6 /48',
      config: cfg(),
      records: [from('2001:db8:aaaa::1', at(0)), ...office(8).slice(1), from('2001:db8:aaab::1', at(8))],
      findings: [fresh('2001:db8:aaab::1', '2001:db8:aaab::/48', { known: 1 })],
    },
    {
      name: 'logins count too',
      config: cfg(),
      records: [...office(8), authSuccess({ clientIp: '198.51.100.7', at: at(8) })],
      findings: [fresh('198.51.100.7', '198.51.100.0/24', { message: 'logged in from 198.51.100.7' })],
    },
    {
      name: 'maxNetworks: 2 forgets the least recently used',
      config: cfg({ maxNetworks: 2 }),
      records: [from('198.51.100.1', at(0)), from('203.0.113.1', at(1)), from('198.18.0.1', at(2)), ...office(8).slice(3), from('198.51.100.1', at(8)), from('198.18.0.1', at(8))],
      findings: [fresh('198.51.100.1', '198.51.100.0/24', { known: 1 })],
    },
    {
      name: 'warmupDays: 0 reports from the second record on',
      config: cfg({ warmupDays: 0 }),
      records: [from('198.51.100.7', at(0)), from('203.0.113.5', at(0, 1))],
      findings: [fresh('203.0.113.5', '203.0.113.0/24', { known: 1, history: 0 })],
    },
    {
      name: 'severity: warning',
      config: cfg({ severity: 'warning' }),
      records: [...office(8), from('198.51.100.7', at(8))],
      findings: [fresh('198.51.100.7', '198.51.100.0/24', { severity: 'warning' })],
    },
  ],
});

const runSplit = (config: Record<string, unknown>, records: readonly MailRecord[], split?: number): { findings: Finding[]; state: string } =>
  splitRun(RULE, config, records, split);

type Row = [string, number, string];
interface Section { v: number; latest?: number; accounts: unknown[] }

/** A v2 section as the v1 snapshot of the same run had it: every account a tuple, its networks pruned by `latest` (30 days). */
function asV1(section: Section): Section {
  const accounts = (section.accounts as Row[]).map(([account, stamp, text]) => {
    const saved = decodeProfile(text, stamp);
    assert.ok(saved, text);
    const [since, last, nets] = saved;
    return [account, since, last, nets.filter(([, ago]) => (section.latest ?? 0) - (last - ago) <= 30)];
  });
  return { v: 1, accounts };
}

describe(`${RULE}: state across cron runs`, () => {
  it('a run split anywhere gives the findings of one run', () => {
    const records = [from('198.51.100.7', at(0)), ...office(8).slice(1), from('203.0.113.5', at(8)), from('198.51.100.9', at(9)), from('203.0.113.5', at(9, 1)), from('2001:db8:1::1', at(10))];
    const whole = runSplit(cfg(), records).findings;
    assert.equal(whole.length, 2);
    for (let split = 1; split < records.length; split++) assert.deepEqual(runSplit(cfg(), records, split).findings, whole, `split at ${split}`);
  });

  it('the snapshot drops networks older than `days` and accounts idle for a year', () => {
    const { state } = runSplit(cfg(), [from('198.51.100.7', at(0), { account: BOB }), from('198.51.100.7', at(0)), from('203.0.113.5', at(100)), from('10.1.2.3', at(400))]);
    const day = (d: number): number => Math.floor(at(d) / DAY);
    const saved = (JSON.parse(state) as Record<string, Section>)[RULE];
    assert.deepEqual(saved && asV1(saved), { v: 1, accounts: [['alice@example.edu', day(0), day(400), []]] });
  });

  it('state stays small: 10,000 accounts with three networks each', () => {
    const many: MailRecord[] = [];
    for (let i = 0; i < 10_000; i++) {
      const account = `user${i}@example.edu`;
      const n = (k: number): string => `${100 + k}.${(i >> 8) & 255}.${i & 255}.${1 + (i % 200)}`;
      many.push(from(n(0), at(0, i / 10_000), { account }), from(n(1), at(5, i / 10_000), { account }), from(`2a02:8109:${i.toString(16)}::1`, at(9, i / 10_000), { account }));
    }
    const { state } = runSplit(cfg(), many);
    const perAccount = Buffer.byteLength(state) / 10_000;
    assert.ok(perAccount < 120, `${perAccount.toFixed(0)} bytes per account`);
  });
});

describe(`${RULE}: accounts saved as rows`, () => {
  const CAROL = 'carol@example.edu';
  const records = [
    from('198.51.100.7', at(0)), from('203.0.113.5', at(0), { account: BOB }), from('2001:db8:1::1', at(1), { account: CAROL }), ...office(8).slice(1),
    from('203.0.113.9', at(9)), from('198.51.100.3', at(12), { account: BOB }), from('198.51.100.8', at(36), { account: CAROL }),
    from('198.51.100.9', at(38)), from('203.0.113.5', at(39), { account: BOB }), from('2001:db8:1::2', at(40), { account: CAROL }),
  ];
  const restore = (section: unknown): ReturnType<NonNullable<(typeof rules)[number]>['instantiate']> => {
    const rule = rules.find((r) => r.name === RULE);
    assert.ok(rule);
    return rule.instantiate({}, resolveContext(parseConfig({ timezone: 'UTC', ...cfg() })), section);
  };
  const sectionAfter = (n: number): Section => (JSON.parse(runSplit(cfg(), records.slice(0, n)).state) as Record<string, Section>)[RULE] ?? assert.fail('no section');
  const rowsOf = (section: unknown): Row[] => (section as Section).accounts as Row[];

  it('restored from v1 in every run, or from rows, cron runs give the same findings', () => {
    const whole = inRuns(RULE, records, [], { config: cfg() });
    assert.equal(whole.length, 6);
    for (const cuts of [[10], [11, 12], [3, 10, 13], [13], records.map((_, i) => i).slice(1)]) {
      const eager = inRuns(RULE, records, cuts, { config: cfg(), between: (s) => asV1(s as Section) });
      assert.deepEqual(brief(inRuns(RULE, records, cuts, { config: cfg() })), brief(eager), cuts.join());
      // A snapshot after day 31 forgot carol's network of day 1; one run still knows when she last used it.
      assert.equal(eager.at(-1)?.data.last_used_days_ago, cuts.some((c) => c >= 13) ? undefined : 39, cuts.join());
    }
  });

  it('restored and saved again without records, every row is as it was', () => {
    const section = sectionAfter(13);
    assert.equal(section.v, 2);
    assert.deepEqual(JSON.parse(JSON.stringify(restore(section).snapshot?.())), section);
  });

  it('a run touching one account rewrites only that account\'s row', () => {
    const section = sectionAfter(13);
    const inst = restore(section);
    inst.onRecord(from('203.0.113.77', at(36, 1), { account: BOB }), () => undefined);
    assertOnlyRowChanged(rowsOf(section), rowsOf(JSON.parse(JSON.stringify(inst.snapshot?.()))), BOB);
  });

  it('a damaged row drops only that account: it is new again', () => {
    const section = sectionAfter(13);
    const damaged = { ...section, accounts: withRowText(rowsOf(section), BOB, '1 x/2') };
    const findings = (saved: unknown): string[] => {
      const inst = restore(saved);
      const out: Finding[] = [];
      for (const r of [from('192.0.2.200', at(37), { account: BOB }), from('192.0.2.201', at(37, 1))]) inst.onRecord(r, (f) => out.push(f));
      return out.map((f) => f.account);
    };
    assert.deepEqual(findings(damaged), ['alice@example.edu']);
    assert.deepEqual(findings(section), [BOB, 'alice@example.edu']);
    for (const bad of ['', 'x', '1 198.51.100', '1 198.51.100/', '1 198.51.100/x', '1 zz/1']) assert.equal(decodeProfile(bad, 1), undefined, bad);
    assert.deepEqual(decodeProfile('2 198.51.100/1 2001:db8:1/0', 10), [8, 10, [['198.51.100', 1], ['2001:db8:1', 0]]]);
  });
});
