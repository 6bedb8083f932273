/**
 * metermaid-quota, with the defaults unless a case says otherwise: a warning at 70 %
 * and critical at 90 % of each table's quota, every table, address keys only.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Counter } from '../../src/core/types.js';
import { parseConfig, resolveContext } from '../../src/config/load.js';
import { rules } from '../../src/rules/index.js';
import { UsageError } from '../../src/core/errors.js';
import { reaches } from '../../src/rules/metermaid-quota.js';
import { checkFindings, FAKE_SOURCE, MINUTE, type Overrides, ruleTester, runRule, SECOND, T0, withRuleOptions } from '../helpers/records.js';

const RULE = 'metermaid-quota';
const opts = (o: Record<string, unknown>): Record<string, unknown> => withRuleOptions(RULE, o);
const ALICE = 'alice@example.edu';
const BOB = 'bob@example.edu';

let nextLine = 10_000;

/** One MeterMaid status line as a record: alice in `sendlim`, 1 / 100 unless overridden. */
function counter(over: Overrides<Counter> = {}): Counter {
  const key = over.key ?? over.account ?? ALICE;
  const table = over.table ?? 'sendlim';
  const count = over.count ?? 1;
  const quota = over.quota ?? 100;
  const at = over.at ?? T0;
  const base = {
    kind: 'counter', at, key, table, count, quota, host: 'mail1',
    // As the parser does: an address key names the account, an IP or bare word does not.
    ...(key.includes('@') ? { account: key.toLowerCase() } : {}),
    evidence: [{
      source: FAKE_SOURCE, lineNo: nextLine++,
      text: `[${new Date(at).toISOString()}] mail1 metermaid[2141]: General Notice: Current status for "${key}" in ${table}: ${count} / ${quota}`,
    }],
  };
  // A value replaces, `undefined` removes the field.
  const merged = Object.entries({ ...base, ...over }).filter(([, v]) => v !== undefined);
  return Object.fromEntries(merged) as unknown as Counter;
}

/** Status lines for `counts` one minute apart, with `over` applied to each. */
function climb(counts: readonly number[], over: Overrides<Counter> = {}, start = T0): Counter[] {
  return counts.map((count, i) => counter({ ...over, count, at: start + i * MINUTE }));
}

const at = (i: number, start = T0): number => start + i * MINUTE;

ruleTester(RULE, {
  valid: [
    { name: 'one low count', records: [counter({ count: 3 })] },
    { name: '69 / 100 (warning is at 70)', records: [counter({ count: 69 })] },
    { name: 'a climb that stops at 69 / 100', records: climb([5, 20, 41, 58, 66, 69, 64]) },
    { name: '6 / 10 (60 %)', records: [counter({ count: 6, quota: 10 })] },
    { name: '13 / 20 (65 %)', records: [counter({ count: 13, quota: 20 })] },
    { name: 'a decaying average just under 70 %: 69.9 / 100', records: [counter({ count: 69.9 })] },
    { name: '34 / 50 (68 %)', records: [counter({ count: 34, quota: 50, table: 'fromlimit' })] },
    {
      name: 'an IPv4 key over its quota is read but not reported by default',
      records: [counter({ key: '192.0.2.17', table: 'ext_conn_throttle', count: 25, quota: 20 })],
    },
    {
      name: 'an IPv6 key over its quota is not reported by default',
      records: climb([10, 16, 19], { key: '2001:db8:10::25', table: 'ext_conn_throttle', quota: 20 }),
    },
    {
      name: 'a key that is neither an address nor an IP names no account: not reported by default',
      records: [counter({ key: 'tcp_local', table: 'chanlim', count: 99 })],
    },
    {
      name: 'two tables are not added up: 40 in sendlim and 40 in fromlimit',
      records: [counter({ count: 40 }), counter({ count: 40, table: 'fromlimit', at: T0 + SECOND })],
    },
    {
      name: 'two accounts are not added up: 50 each in one table',
      records: [counter({ count: 50 }), counter({ key: BOB, count: 50, at: T0 + SECOND })],
    },
    {
      name: 'a table outside `tables` is not watched',
      config: opts({ tables: ['sendlim'] }),
      records: [counter({ table: 'fromlimit', count: 95 })],
    },
    {
      name: 'a table outside a `tables` pattern is not watched',
      config: opts({ tables: ['send*'] }),
      records: [counter({ table: 'fromlimit', count: 95 })],
    },
    {
      name: 'with includeIpKeys, `exempt` patterns apply to the keys too',
      config: opts({ includeIpKeys: true, exempt: ['192.0.2.*'] }),
      records: [counter({ key: '192.0.2.17', table: 'ext_conn_throttle', count: 25, quota: 20 })],
    },
    { name: 'a quota of 0 gives no fraction to compare', records: [counter({ count: 5, quota: 0 })] },
    { name: 'switched off with enabled: false', config: opts({ enabled: false }), records: [counter({ count: 99 })] },
    { name: 'an exempt account', config: opts({ exempt: ['*@example.edu'] }), records: [counter({ count: 99 })] },
    { name: 'an ignored account', config: { ignoreAccounts: [ALICE] }, records: [counter({ count: 99 })] },
    {
      name: 'higher fractions: 80 / 100 under warningFraction 0.85',
      config: opts({ warningFraction: 0.85, criticalFraction: 0.95 }),
      records: [counter({ count: 80 })],
    },
  ],
  invalid: [
    {
      name: 'exactly 70 / 100: one warning, saying the count is MeterMaid\'s decaying average',
      records: [counter({ count: 70 })],
      findings: [{
        severity: 'warning', at: T0,
        message: "70 / 100 in table sendlim (MeterMaid's decaying count; 70% of quota)",
        data: { table: 'sendlim', key: ALICE, count: 70, quota: 100, percent_of_quota: 70, threshold: 70, host: 'mail1' },
      }],
    },
    {
      name: '89 / 100 stays at warning',
      records: climb([70, 80, 89]),
      findings: [{ severity: 'warning', at: at(0), data: { count: 70 } }],
    },
    {
      name: '69, 70, 89, 90: a warning at 70, critical at 90, nothing in between',
      records: climb([69, 70, 89, 90]),
      findings: [
        { severity: 'warning', at: at(1), data: { count: 70, threshold: 70 } },
        { severity: 'critical', at: at(3), data: { count: 90, threshold: 90 }, message: "90 / 100 in table sendlim (MeterMaid's decaying count; 90% of quota)" },
      ],
    },
    {
      name: 'straight to 91 / 100: one critical finding, not a warning as well',
      records: [counter({ count: 91 })],
      findings: [{ severity: 'critical', message: "91 / 100 in table sendlim (MeterMaid's decaying count; 91% of quota)" }],
    },
    {
      name: 'over the quota: 143 / 100',
      records: [counter({ count: 143 })],
      findings: [{ severity: 'critical', data: { percent_of_quota: 143 } }],
    },
    {
      name: 'quota 10: 7 is a warning, 9 critical (the admin scripts\' per-hour quotas scaled down)',
      records: climb([6, 7, 8, 9], { quota: 10 }),
      findings: [
        { severity: 'warning', at: at(1), data: { count: 7, quota: 10, threshold: 7 } },
        { severity: 'critical', at: at(3), data: { count: 9, quota: 10, threshold: 9 } },
      ],
    },
    {
      name: 'quota 20: 14 is exactly 70 % (0.7 x 20 is 14.000000000000002 in floating point)',
      records: climb([13, 14, 17, 18], { quota: 20 }),
      findings: [
        { severity: 'warning', at: at(1), data: { threshold: 14 } },
        { severity: 'critical', at: at(3), data: { threshold: 18 } },
      ],
    },
    {
      name: 'quota 50 in another table',
      records: climb([34, 35, 44, 45], { quota: 50, table: 'fromlimit' }),
      findings: [
        { severity: 'warning', at: at(1), data: { table: 'fromlimit', count: 35 } },
        { severity: 'critical', at: at(3), data: { table: 'fromlimit', count: 45 } },
      ],
    },
    {
      name: 'quota 3: 2 is 67 %, 3 is 100 %',
      records: climb([2, 3], { quota: 3 }),
      findings: [{ severity: 'critical', at: at(1), data: { percent_of_quota: 100, threshold: 2.7 } }],
    },
    {
      name: 'a decaying average with a fraction: 12.5 / 20 is 62.5 %, 14.5 / 20 is 72.5 %',
      records: climb([12.5, 14.5], { quota: 20 }),
      findings: [{ severity: 'warning', at: at(1), message: '14.5 / 20 in table sendlim', data: { percent_of_quota: 72.5 } }],
    },
    {
      name: 'several tables: each (account, table) has its own episode',
      records: [
        counter({ count: 70, at: at(0) }),
        counter({ count: 35, quota: 50, table: 'fromlimit', at: at(1) }),
        counter({ count: 90, at: at(2) }),
        counter({ count: 40, quota: 50, table: 'fromlimit', at: at(3) }),
        counter({ count: 46, quota: 50, table: 'fromlimit', at: at(4) }),
      ],
      findings: [
        { severity: 'warning', at: at(0), data: { table: 'sendlim' } },
        { severity: 'warning', at: at(1), data: { table: 'fromlimit' } },
        { severity: 'critical', at: at(2), data: { table: 'sendlim' } },
        { severity: 'critical', at: at(4), data: { table: 'fromlimit' } },
      ],
    },
    {
      name: 'two accounts in one table are apart',
      records: [counter({ count: 75 }), counter({ key: BOB, count: 20, at: at(1) }), counter({ key: BOB, count: 72, at: at(2) })],
      findings: [{ severity: 'warning', at: at(0) }, { severity: 'warning', account: BOB, at: at(2), data: { key: BOB } }],
    },
    {
      name: 're-arming: back below 70 % ends the episode, the next climb is reported again',
      records: climb([70, 90, 95, 60, 75, 91]),
      findings: [
        { severity: 'warning', at: at(0) },
        { severity: 'critical', at: at(1) },
        { severity: 'warning', at: at(4) },
        { severity: 'critical', at: at(5) },
      ],
    },
    {
      name: 'falling from critical to warning level and climbing again is the same episode',
      records: climb([91, 80, 72, 88, 96]),
      findings: [{ severity: 'critical', at: at(0) }],
    },
    {
      name: 'a MeterMaid restart (counts reset to 0) ends the episode',
      records: climb([92, 1, 93]),
      findings: [{ severity: 'critical', at: at(0) }, { severity: 'critical', at: at(2) }],
    },
    {
      name: 'a day without a status line for the key ends the episode (MeterMaid may have restarted)',
      records: [counter({ count: 92, at: T0 }), counter({ count: 93, at: T0 + 23 * 60 * MINUTE }), counter({ count: 91, at: T0 + 48 * 60 * MINUTE })],
      findings: [{ severity: 'critical', at: T0 }, { severity: 'critical', at: T0 + 48 * 60 * MINUTE }],
    },
    {
      name: 'IP keys with includeIpKeys: the finding\'s account is the key',
      config: opts({ includeIpKeys: true }),
      records: [
        counter({ key: '192.0.2.17', table: 'ext_conn_throttle', count: 15, quota: 20 }),
        counter({ key: '2001:DB8:10::25', table: 'ext_conn_throttle', count: 19, quota: 20, at: at(1) }),
      ],
      findings: [
        { severity: 'warning', account: '192.0.2.17', data: { key: '192.0.2.17', table: 'ext_conn_throttle', count: 15, quota: 20 } },
        { severity: 'critical', account: '2001:db8:10::25', at: at(1), data: { key: '2001:DB8:10::25' } },
      ],
    },
    {
      name: 'tables by name and pattern, case-insensitive',
      config: opts({ tables: ['SendLim', 'from*'] }),
      records: [
        counter({ count: 70, table: 'sendlim' }),
        counter({ count: 70, table: 'fromlimit', at: at(1) }),
        counter({ count: 99, table: 'conn_throttle', at: at(2) }),
      ],
      findings: [{ severity: 'warning', data: { table: 'sendlim' } }, { severity: 'warning', at: at(1), data: { table: 'fromlimit' } }],
    },
    {
      name: 'custom fractions: warning at 50 %, critical at 80 %',
      config: opts({ warningFraction: 0.5, criticalFraction: 0.8 }),
      records: climb([49, 50, 79, 80]),
      findings: [
        { severity: 'warning', at: at(1), data: { threshold: 50 } },
        { severity: 'critical', at: at(3), data: { threshold: 80 } },
      ],
    },
    {
      name: 'equal fractions: straight to critical',
      config: opts({ warningFraction: 0.9, criticalFraction: 0.9 }),
      records: climb([89, 90]),
      findings: [{ severity: 'critical', at: at(1) }],
    },
    {
      name: 'a fraction above 1: warn only once the quota is exceeded by half',
      config: opts({ warningFraction: 1, criticalFraction: 1.5 }),
      records: climb([99, 100, 149, 150]),
      findings: [{ severity: 'warning', at: at(1) }, { severity: 'critical', at: at(3) }],
    },
  ],
});

describe('metermaid-quota: evidence and boundaries', () => {
  it('quotes the climb of this account in this table only, at most the last 5 lines', () => {
    const records = [
      ...climb([10, 30, 50], {}, T0),
      counter({ key: BOB, count: 60, at: T0 + 30 * SECOND }),
      counter({ table: 'fromlimit', count: 5, quota: 50, at: T0 + 40 * SECOND }),
      ...climb([60, 65, 71], {}, T0 + 3 * MINUTE),
    ];
    const findings = runRule(RULE, {}, records);
    checkFindings(findings, [{ severity: 'warning', data: { count: 71 } }], RULE);
    const own = records.filter((r) => r.key === ALICE && r.table === 'sendlim').slice(-5).map((r) => r.evidence[0]?.lineNo);
    assert.deepEqual(findings[0]?.evidence.map((e) => e.lineNo), own);
  });

  it('reaches(): 70 % of every quota up to 10 000 is reached by the count that is exactly 70 %, not by one less', () => {
    for (let quota = 10; quota <= 10_000; quota += 10) {
      const n = (quota * 7) / 10;
      assert.ok(reaches(n, quota, 0.7), `${n} / ${quota}`);
      assert.ok(!reaches(n - 1, quota, 0.7), `${n - 1} / ${quota}`);
      const m = (quota * 9) / 10;
      assert.ok(reaches(m, quota, 0.9), `${m} / ${quota}`);
      assert.ok(!reaches(m - 1, quota, 0.9), `${m - 1} / ${quota}`);
    }
  });

  it('the boundaries 69 / 70 / 89 / 90 of 100, one record each in a fresh run', () => {
    const levelOf = (count: number): string => runRule(RULE, {}, [counter({ count })]).map((f) => f.severity).join(',') || 'none';
    assert.deepEqual([69, 70, 89, 90].map(levelOf), ['none', 'warning', 'warning', 'critical']);
  });

  it('a cron run restored from the last run\'s snapshot gives the findings of one long run', () => {
    const rule = rules.find((r) => r.name === RULE);
    assert.ok(rule);
    const ctx = resolveContext(parseConfig({ timezone: 'UTC' }));
    const records = [
      ...climb([50, 72, 80], {}, T0),
      ...climb([66, 71, 90], { key: BOB }, T0 + 10 * MINUTE),
      ...climb([85, 91, 60, 74], {}, T0 + 20 * MINUTE),
      ...climb([95, 97], { key: BOB }, T0 + 30 * MINUTE),
    ];
    const run = (rs: readonly Counter[], saved?: unknown): { findings: string[]; snapshot: unknown } => {
      const inst = rule.instantiate({}, ctx, saved);
      const findings: string[] = [];
      for (const r of rs) inst.onRecord(r, (f) => findings.push(`${f.account} ${f.severity} ${f.data.count ?? ''}`));
      return { findings, snapshot: JSON.parse(JSON.stringify(inst.snapshot?.())) as unknown };
    };
    const whole = run(records).findings;
    for (let cut = 1; cut < records.length; cut++) {
      const first = run(records.slice(0, cut));
      const second = run(records.slice(cut), first.snapshot);
      assert.deepEqual([...first.findings, ...second.findings], whole, `cut after ${cut}`);
    }
    assert.deepEqual(run(records, { v: 99 }).findings, whole, 'an unusable snapshot is ignored');
  });

  it('rejects a critical fraction below the warning fraction, naming the key', () => {
    assert.throws(
      () => parseConfig({ rules: { [RULE]: { warningFraction: 0.9, criticalFraction: 0.7 } } }, 'site.json'),
      (e: unknown) => e instanceof UsageError && /rules\.metermaid-quota\.criticalFraction: must be at least warningFraction/.test(e.message),
    );
    assert.throws(() => parseConfig({ rules: { [RULE]: { warningFraction: 0 } } }, 'site.json'), UsageError);
    assert.throws(() => parseConfig({ rules: { [RULE]: { tables: [] } } }, 'site.json'), UsageError);
  });
});
