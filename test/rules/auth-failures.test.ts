/**
 * auth-failures, default options unless a case says otherwise:
 *   per account: warning at 10, critical at 50 failures in 60 min (accounts that exist);
 *   per address: 20 failures for 5+ accounts in 60 min = spraying, info, pseudo-account;
 *   success (login or message) from an address with 5+ failures for that account, or
 *   from a spraying address, within 60 min: critical.
 * Default trusted networks are the private ranges; ATTACKER is a public address.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthFailure, Finding, MailRecord } from '../../src/core/types.js';
import { parseConfig, resolveContext } from '../../src/config/load.js';
import { UsageError } from '../../src/core/errors.js';
import { rules } from '../../src/rules/index.js';
import {
  authSuccess, FAKE_SOURCE, HOUR, MINUTE, ruleTester, runRule, SECOND, submission, T0, withRuleOptions, type Overrides,
} from '../helpers/records.js';
import { brief, inRuns as runInRuns } from './harness.js';

const RULE = 'auth-failures';
const ATTACKER = '198.51.100.7';
const opts = (o: Record<string, unknown>): Record<string, unknown> => withRuleOptions(RULE, o);

let nextLine = 500_000;

/** A failed SMTP AUTH for alice from ATTACKER at T0; `undefined` removes a field (Postfix logs no login). */
function failure(over: Overrides<AuthFailure> = {}): AuthFailure {
  const at = over.at ?? T0;
  const ip = 'clientIp' in over ? over.clientIp : ATTACKER;
  const base: AuthFailure = {
    kind: 'auth-failure', at, account: 'alice@example.edu', login: 'alice', clientIp: ATTACKER, service: 'smtpd', mechanism: 'LOGIN',
    evidence: [{ source: FAKE_SOURCE, lineNo: nextLine++, text: `${new Date(at).toISOString()} mail1 postfix/smtpd: warning: unknown[${ip ?? '?'}]: SASL LOGIN authentication failed` }],
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries({ ...base, ...over })) if (v !== undefined) out[k] = v;
  return out as unknown as AuthFailure;
}

/** `n` failures from `start`, `everyMs` apart; `over` may be a function of the index. */
function fails(n: number, start: number, everyMs: number, over: Overrides<AuthFailure> | ((i: number) => Overrides<AuthFailure>) = {}): AuthFailure[] {
  return Array.from({ length: n }, (_, i) => failure({ ...(typeof over === 'function' ? over(i) : over), at: start + i * everyMs }));
}

/** Accounts a0..a{k-1}, taken in turn. */
const cycle = (k: number, prefix = 'a') => (i: number): Overrides<AuthFailure> => ({ account: `${prefix}${i % k}@example.edu`, login: `${prefix}${i % k}` });

const SPRAYER = `(spraying from ${ATTACKER})`;

ruleTester(RULE, {
  valid: [
    { name: '9 failed logins for one account in an hour (warning at 10)', records: fails(9, T0, 6 * MINUTE) },
    { name: '10 failures whose first and last are 63 minutes apart: 9 in any hour', records: fails(10, T0, 7 * MINUTE) },
    { name: 'a typo: 4 failures, then a success from the same address', records: [...fails(4, T0, MINUTE), authSuccess({ clientIp: ATTACKER, at: T0 + 5 * MINUTE })] },
    {
      name: 'a user on the LAN: 6 failures from a trusted address, then a message from it',
      records: [...fails(6, T0, MINUTE, { clientIp: '10.1.2.3' }), submission({ at: T0 + 10 * MINUTE })],
    },
    {
      name: 'a success from another address than the failures',
      records: [...fails(6, T0, MINUTE), authSuccess({ clientIp: '203.0.113.50', at: T0 + 10 * MINUTE })],
    },
    {
      name: 'a success 61 minutes after the last failure',
      records: [...fails(6, T0, MINUTE), authSuccess({ clientIp: ATTACKER, at: T0 + 5 * MINUTE + 61 * MINUTE })],
    },
    { name: 'a success before the failures', records: [authSuccess({ clientIp: ATTACKER, at: T0 }), ...fails(6, T0 + MINUTE, MINUTE)] },
    {
      name: 'an office NAT: 25 failures for 6 accounts from a trusted address is no spraying',
      records: fails(25, T0, MINUTE, (i) => ({ ...cycle(6)(i), clientIp: '192.168.1.1' })),
    },
    {
      name: '30 failures for one account that the server says does not exist (one account is no spraying)',
      records: fails(30, T0, MINUTE, { account: 'nobody@example.edu', login: 'nobody', accountExists: false }),
    },
    {
      name: 'validDomains: 12 failures for a login in another domain do not count for it',
      config: opts({ validDomains: ['example.edu'] }),
      records: fails(12, T0, MINUTE, { account: 'alice@other.test', login: 'alice@other.test' }),
    },
    { name: 'spraying: off reports no spraying address', config: opts({ spraying: 'off' }), records: fails(20, T0, MINUTE, cycle(5)) },
    { name: '19 failures naming no account (Postfix)', records: fails(19, T0, MINUTE, { account: undefined, login: undefined }) },
    {
      name: 'successAfterFailures: 0, no spraying: 6 failures then a success',
      config: opts({ successAfterFailures: 0 }),
      records: [...fails(6, T0, MINUTE), authSuccess({ clientIp: ATTACKER, at: T0 + 10 * MINUTE })],
    },
    {
      name: 'Kerio webmail 0.0.0.0 and a missing address are no client',
      records: [...fails(6, T0, MINUTE, { clientIp: '0.0.0.0' }), authSuccess({ clientIp: '0.0.0.0', at: T0 + 7 * MINUTE }), submission({ clientIp: undefined, at: T0 + 8 * MINUTE })],
    },
  ],
  invalid: [
    {
      name: '10 failed logins for one account in 45 minutes: warning',
      records: fails(10, T0, 5 * MINUTE),
      findings: [{
        severity: 'warning', at: T0 + 45 * MINUTE, message: '10 failed logins in 1 h from 1 address (warning at 10)',
        data: { signal: 'account-failures', failures: 10, threshold: 10, window_minutes: 60, distinct_clients: 1, client: ATTACKER },
      }],
    },
    {
      name: '60 in an hour: warning at 10, critical at 50, nothing more',
      records: fails(60, T0, MINUTE),
      findings: [
        { severity: 'warning', at: T0 + 9 * MINUTE, data: { failures: 10 } },
        { severity: 'critical', at: T0 + 49 * MINUTE, data: { failures: 50, threshold: 50 } },
      ],
    },
    {
      name: 'the episode ends below the warning level: the next run is reported again',
      records: [...fails(10, T0, MINUTE), ...fails(10, T0 + 3 * HOUR, MINUTE)],
      findings: [{ severity: 'warning', at: T0 + 9 * MINUTE }, { severity: 'warning', at: T0 + 3 * HOUR + 9 * MINUTE }],
    },
    {
      name: 'a botnet on one account: 10 failures from 10 addresses',
      records: fails(10, T0, MINUTE, (i) => ({ clientIp: `203.0.113.${i + 1}` })),
      findings: [{ severity: 'warning', message: 'from 10 addresses', data: { failures: 10, distinct_clients: 10 } }],
    },
    {
      name: 'a phone retrying an old password every 6.5 minutes for 3 hours: one warning (9 or 10 in any hour)',
      records: fails(28, T0, 6.5 * MINUTE),
      findings: [{ severity: 'warning', at: T0 + 9 * 6.5 * MINUTE }],
    },
    {
      name: 'out of order by a few minutes: still 10 in the hour',
      records: [3, 0, 1, 5, 2, 4, 9, 6, 8, 7].map((i) => failure({ at: T0 + i * 4 * MINUTE })),
      findings: [{ severity: 'warning', at: T0 + 7 * 4 * MINUTE, data: { failures: 10 } }],
    },
    {
      name: 'custom levels: warning at 3, critical at 5',
      config: opts({ warningFailures: 3, criticalFailures: 5 }),
      records: fails(5, T0, MINUTE),
      findings: [{ severity: 'warning', at: T0 + 2 * MINUTE, data: { threshold: 3 } }, { severity: 'critical', at: T0 + 4 * MINUTE, data: { threshold: 5 } }],
    },
    {
      name: 'password spraying: 20 failures for 5 accounts from one address (info, under a pseudo-account)',
      records: fails(20, T0, MINUTE, cycle(5)),
      findings: [{
        severity: 'info', account: SPRAYER, at: T0 + 19 * MINUTE, message: `password spraying: 20 failed logins for 5 accounts in 1 h from ${ATTACKER}`,
        data: { signal: 'spraying', client: ATTACKER, failures: 20, accounts: 5, unknown_account_failures: 0, unnamed_failures: 0, threshold: 20 },
      }],
    },
    {
      name: 'spraying accounts that do not exist (the server says so): info, counted apart',
      records: fails(20, T0, MINUTE, (i) => ({ account: `guess${i}@example.edu`, login: `guess${i}`, accountExists: false })),
      findings: [{ severity: 'info', account: SPRAYER, message: '20 for accounts that do not exist', data: { failures: 20, accounts: 20, unknown_account_failures: 20 } }],
    },
    {
      name: 'validDomains: logins in foreign domains are spraying, never an account\'s failures',
      config: opts({ validDomains: ['example.edu'] }),
      records: fails(20, T0, MINUTE, (i) => ({ account: `admin@site${i % 5}.test`, login: `admin@site${i % 5}.test` })),
      findings: [{ severity: 'info', account: SPRAYER, data: { accounts: 5, unknown_account_failures: 20 } }],
    },
    {
      name: 'spraying: warning',
      config: opts({ spraying: 'warning' }),
      records: fails(20, T0, MINUTE, cycle(5)),
      findings: [{ severity: 'warning', account: SPRAYER }],
    },
    {
      name: 'an IPv6 /64 is one client',
      records: fails(20, T0, MINUTE, (i) => ({ ...cycle(5)(i), clientIp: `2001:db8:1:2::${(i + 1).toString(16)}` })),
      findings: [{ severity: 'info', account: '(spraying from 2001:db8:1:2::/64)', data: { client: '2001:db8:1:2::/64', failures: 20 } }],
    },
    {
      name: 'Postfix: 20 failures naming no account from one address is password guessing',
      records: fails(20, T0, MINUTE, { account: undefined, login: undefined }),
      findings: [{ severity: 'info', account: SPRAYER, message: 'password guessing: 20 failed logins in 1 h', data: { accounts: 0, unnamed_failures: 20 } }],
    },
    {
      name: 'a login after 5 failures from the same address: critical',
      records: [...fails(5, T0, MINUTE), authSuccess({ clientIp: ATTACKER, at: T0 + 10 * MINUTE })],
      findings: [{
        severity: 'critical', at: T0 + 10 * MINUTE, message: `success from ${ATTACKER} after 5 failed logins for this account from there`,
        data: { signal: 'success-after-failures', client: ATTACKER, failures_from_client: 5 },
      }],
    },
    {
      name: 'a message sent after 5 failures from the same address: critical',
      records: [...fails(5, T0, MINUTE), submission({ clientIp: ATTACKER, at: T0 + 59 * MINUTE })],
      findings: [{ severity: 'critical', at: T0 + 59 * MINUTE, data: { failures_from_client: 5 } }],
    },
    {
      name: 'the success read before the failures (another log file) is still found',
      records: [submission({ clientIp: ATTACKER, at: T0 + 30 * MINUTE }), ...fails(5, T0, MINUTE)],
      findings: [{ severity: 'critical', at: T0 + 30 * MINUTE, data: { failures_from_client: 5 } }],
    },
    {
      name: 'one critical however often the attacker then sends',
      records: [...fails(5, T0, MINUTE), ...Array.from({ length: 10 }, (_, i) => submission({ clientIp: ATTACKER, at: T0 + (10 + i) * MINUTE }))],
      findings: [{ severity: 'critical', at: T0 + 10 * MINUTE }],
    },
    {
      name: 'a success from a spraying address for an account it never failed for: critical',
      records: [...fails(20, T0, MINUTE, cycle(5, 'b')), authSuccess({ clientIp: ATTACKER, at: T0 + 25 * MINUTE })],
      findings: [
        { severity: 'info', account: SPRAYER, at: T0 + 19 * MINUTE },
        { severity: 'critical', at: T0 + 25 * MINUTE, message: 'an address that failed logins for 5 accounts in 1 h (password spraying)', data: { client_accounts: 5, client_failures: 20, failures_from_client: 0 } },
      ],
    },
    {
      name: 'the same, with the success read first',
      records: [authSuccess({ clientIp: ATTACKER, at: T0 + 25 * MINUTE }), ...fails(20, T0, MINUTE, cycle(5, 'b'))],
      findings: [
        { severity: 'critical', at: T0 + 25 * MINUTE, data: { client_accounts: 5 } },
        { severity: 'info', account: SPRAYER, at: T0 + 19 * MINUTE },
      ],
    },
    {
      name: 'an IPv4-mapped IPv6 success is the IPv4 client that failed',
      records: [...fails(5, T0, MINUTE), authSuccess({ clientIp: `::ffff:${ATTACKER}`, at: T0 + 10 * MINUTE })],
      findings: [{ severity: 'critical', data: { client: ATTACKER } }],
    },
    {
      name: 'successAfterFailures: 3',
      config: opts({ successAfterFailures: 3 }),
      records: [...fails(3, T0, MINUTE), authSuccess({ clientIp: ATTACKER, at: T0 + 4 * MINUTE })],
      findings: [{ severity: 'critical', data: { failures_from_client: 3 } }],
    },
    {
      name: 'brute force then success: warning, critical (account), critical (success)',
      records: [...fails(50, T0, 30 * SECOND), authSuccess({ clientIp: ATTACKER, at: T0 + 30 * MINUTE })],
      findings: [
        { severity: 'warning', data: { signal: 'account-failures', failures: 10 } },
        { severity: 'critical', data: { signal: 'account-failures', failures: 50 } },
        { severity: 'critical', at: T0 + 30 * MINUTE, data: { signal: 'success-after-failures', failures_from_client: 50 } },
      ],
    },
  ],
});

/** Findings of `records` read in cron runs cut at `cuts`, each run restored from the last one's snapshot (through JSON). */
const inRuns = (records: readonly MailRecord[], cuts: readonly number[], config: Record<string, unknown> = {}, first?: unknown): Finding[] =>
  runInRuns(RULE, records, cuts, { config, first });

describe(`${RULE}: state across cron runs`, () => {
  const records: MailRecord[] = [
    authSuccess({ account: 'carol@example.edu', clientIp: ATTACKER, at: T0 + 40 * MINUTE }),
    ...fails(12, T0, 2 * MINUTE),
    ...fails(20, T0 + 5 * MINUTE, MINUTE, cycle(5, 'b')),
    failure({ account: 'carol@example.edu', at: T0 + 26 * MINUTE }),
    ...fails(40, T0 + 30 * MINUTE, 20 * SECOND),
    submission({ clientIp: ATTACKER, at: T0 + 50 * MINUTE }),
    ...fails(10, T0 + 4 * HOUR, MINUTE, { clientIp: '2001:db8::5' }),
  ];

  it('a snapshot restored (through JSON) at any cut gives the findings of one long run', () => {
    const whole = brief(inRuns(records, []));
    assert.equal(whole.length, 6, whole.join('\n'));
    for (let cut = 1; cut < records.length; cut += 3) assert.deepEqual(brief(inRuns(records, [cut])), whole, `cut after ${cut}`);
    assert.deepEqual(brief(inRuns(records, [10, 30, 50, 70])), whole, 'many runs');
  });

  it('an unusable snapshot, or one counted for another window, is ignored', () => {
    const whole = brief(inRuns(records, []));
    assert.deepEqual(brief(inRuns(records, [], {}, { v: 99 })), whole);
    const other = inRuns(records.slice(0, 20), [], opts({ windowMinutes: 30 }));
    assert.ok(other.length > 0);
    const rule = rules.find((r) => r.name === RULE);
    assert.ok(rule);
    const ctx = resolveContext(parseConfig({ timezone: 'UTC' }));
    const a = rule.instantiate({ windowMinutes: 30 }, ctx);
    for (const r of records.slice(0, 20)) a.onRecord(r, () => undefined);
    const b = rule.instantiate({}, ctx, JSON.parse(JSON.stringify(a.snapshot?.())));
    assert.deepEqual(JSON.parse(JSON.stringify(b.snapshot?.())), { v: 1, window: 60, accounts: [], addresses: [], successes: [] });
  });

  it('what can no longer matter is pruned: a quiet day later the state is empty', () => {
    const rule = rules.find((r) => r.name === RULE);
    assert.ok(rule);
    const inst = rule.instantiate({}, resolveContext(parseConfig({ timezone: 'UTC' })));
    for (const r of [...records, failure({ account: 'zed@example.edu', clientIp: '10.0.0.1', at: T0 + 30 * HOUR })]) inst.onRecord(r, () => undefined);
    const snap = JSON.parse(JSON.stringify(inst.snapshot?.())) as { accounts: [string][]; addresses: unknown[]; successes: unknown[] };
    assert.deepEqual(snap.accounts.map(([k]) => k), ['zed@example.edu']);
    assert.deepEqual([snap.addresses.length, snap.successes.length], [0, 0]);
  });

  it('stays bounded under a distributed spraying run: 40,000 addresses guessing 40,000 accounts', () => {
    const rule = rules.find((r) => r.name === RULE);
    assert.ok(rule);
    const inst = rule.instantiate({}, resolveContext(parseConfig({ timezone: 'UTC' })));
    for (let i = 0; i < 40_000; i++) {
      inst.onRecord(failure({ account: `u${i}@example.edu`, login: `u${i}`, clientIp: `100.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, at: T0 + i * 50 }), () => undefined);
    }
    const size = JSON.stringify(inst.snapshot?.()).length;
    assert.ok(size < 4_000_000, `state ${size} bytes`);
    const snap = JSON.parse(JSON.stringify(inst.snapshot?.())) as { accounts: unknown[]; addresses: unknown[] };
    assert.deepEqual([snap.accounts.length, snap.addresses.length], [10_000, 10_000]);
  });
});

describe(`${RULE}: options`, () => {
  it('rejects criticalFailures below warningFailures, naming the key', () => {
    assert.throws(
      () => parseConfig({ rules: { [RULE]: { warningFailures: 20, criticalFailures: 10 } } }, 'site.json'),
      (e: unknown) => e instanceof UsageError && /rules\.auth-failures\.criticalFailures: must be at least warningFailures/.test(e.message),
    );
  });

  it('the evidence of a success-after-failures finding quotes the failures, then the success', () => {
    const records = [...fails(5, T0, MINUTE), authSuccess({ clientIp: ATTACKER, at: T0 + 10 * MINUTE })];
    const [f] = runRule(RULE, {}, records);
    assert.ok(f);
    assert.deepEqual(f.evidence.map((e) => e.lineNo), [...records.slice(2, 5), records[5]].map((r) => r?.evidence[0]?.lineNo));
  });
});
