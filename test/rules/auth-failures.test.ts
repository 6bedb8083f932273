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
import { z } from 'zod';
import type { AuthFailure, Finding, MailRecord } from '../../src/core/types.js';
import { parseConfig, resolveContext } from '../../src/config/load.js';
import { UsageError } from '../../src/core/errors.js';
import { rules } from '../../src/rules/index.js';
import { heldBy } from '../../src/rules/rule-support.js';
import type { RuleInstance } from '../../src/rules/types.js';
import { mulberry32 } from '../helpers/random.js';
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

describe(`${RULE}: pruned while it runs`, () => {
  const ctx = resolveContext(parseConfig({ timezone: 'UTC' }));
  const instance = (options: Record<string, unknown> = {}): RuleInstance => {
    const rule = rules.find((r) => r.name === RULE);
    assert.ok(rule);
    return rule.instantiate(options, ctx);
  };
  /** A public address of its own for each `i` (100.0.0.0/16 and up: not a private range). */
  const publicIp = (i: number): string => `100.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

  it('holds what its windows need, not everything seen: 200,000 successes and 20,000 failures over 4 days', () => {
    const DAYS = 4;
    const span = DAYS * 24 * HOUR;
    const records: MailRecord[] = [];
    for (let i = 0; i < 200_000; i++) {
      records.push(authSuccess({ account: `s${i % 5000}@example.edu`, clientIp: publicIp(i), at: T0 + Math.floor((i * span) / 200_000) }));
    }
    for (let i = 0; i < 20_000; i++) {
      records.push(failure({ account: `f${i % 5000}@example.edu`, login: `f${i % 5000}`, clientIp: publicIp(300_000 + i), at: T0 + Math.floor((i * span) / 20_000) + 7 }));
    }
    records.sort((a, b) => a.at - b.at);
    const inst = instance();
    // What a run may hold: one entry per success (account at a client), and an account and an
    // address per failure, of the last hour (the longer window) and the 10 minutes between prunes.
    const horizon = 70 * MINUTE;
    let first = 0;
    let most = 0;
    for (const [i, r] of records.entries()) {
      inst.onRecord(r, () => assert.fail('no finding expected'));
      while ((records[first]?.at ?? 0) < r.at - horizon) first++;
      const bound = 2 * (i + 1 - first);
      const held = heldBy(inst)?.entries ?? -1;
      if (i % 1000 === 0) assert.ok(held <= bound, `record ${i}: ${held} entries held, bound ${bound}`);
      most = Math.max(most, held);
    }
    // 220,000 records, about 3,800 of them in any 70 minutes.
    assert.ok(most < 8000, `at most ${most} entries held`);
  });

  it('keeps what a later input, back in time, must be matched with when the run reads several inputs', () => {
    // A failures log for two days read whole, then the mail log of the same days: the
    // success an hour after the brute force is only found if the failures are still held.
    const attacker = publicIp(7);
    const failures = Array.from({ length: 6 }, (_, i) => failure({ account: 'ann@example.edu', login: 'ann', clientIp: attacker, at: T0 + i * MINUTE }));
    const laterNoise = Array.from({ length: 48 }, (_, h) => failure({ account: `x${h}@example.edu`, login: `x${h}`, clientIp: publicIp(100 + h), at: T0 + (h + 1) * HOUR }));
    const success = authSuccess({ account: 'ann@example.edu', clientIp: attacker, at: T0 + 50 * MINUTE });
    const run = (severalInputs: boolean): Finding[] => {
      const rule = rules.find((r) => r.name === RULE);
      assert.ok(rule);
      const inst = rule.instantiate({}, { ...ctx, severalInputs });
      const found: Finding[] = [];
      for (const r of [...failures, ...laterNoise, success]) inst.onRecord(r, (f) => found.push(f));
      return found.filter((f) => f.data.signal === 'success-after-failures');
    };
    assert.equal(run(true).length, 1, 'several inputs: the success is matched with the failures of the first');
    // One input going back two days is not what in-run pruning is for: it forgot them.
    assert.equal(run(false).length, 0);
  });

  // Brute force on one account per address only: with spraying addresses, successes checked
  // when an address turns spraying already differed between one run and cron runs before
  // runs were pruned (left for its own change).
  it('one long run gives the findings of cron runs every 10 minutes of log time (random traffic, 3 days)', () => {
    const random = mulberry32(20261122);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
    const accountsPool = Array.from({ length: 12 }, (_, i) => `p${i}@example.edu`);
    const clients = [...Array.from({ length: 8 }, (_, i) => publicIp(1000 + i)), '2001:db8::1', '2001:db8::2', '10.0.0.9', '192.168.4.4'];
    const records: MailRecord[] = [];
    for (let e = 0; e < 400; e++) {
      const start = T0 + Math.floor(random() * 3 * 24 * HOUR);
      const ip = pick(clients);
      const n = 1 + Math.floor(random() * 20);
      const gap = Math.floor(random() * 3 * MINUTE);
      const account = pick(accountsPool);
      for (let i = 0; i < n; i++) {
        records.push(failure({ account, login: account.split('@')[0], clientIp: ip, at: start + i * gap, accountExists: random() < 0.9 }));
      }
      if (random() < 0.5) {
        const late = start + n * gap + Math.floor(random() * 90 * MINUTE);
        records.push(random() < 0.5 ? authSuccess({ account, clientIp: ip, at: late }) : submission({ account, clientIp: ip, at: late }));
      }
    }
    records.sort((a, b) => a.at - b.at);
    const cuts: number[] = [];
    for (let i = 1; i < records.length; i++) {
      if (Math.floor((records[i]?.at ?? 0) / (10 * MINUTE)) !== Math.floor((records[i - 1]?.at ?? 0) / (10 * MINUTE))) cuts.push(i);
    }
    const whole = brief(inRuns(records, []));
    const signals = new Set(whole.map((f) => /"signal":"([a-z-]+)"/.exec(f)?.[1]));
    assert.deepEqual([...signals].sort(), ['account-failures', 'success-after-failures'], whole.join('\n'));
    assert.ok(cuts.length > 300, `${cuts.length} runs`);
    assert.deepEqual(brief(inRuns(records, cuts)), whole);
  });

  it('a success 59 minutes after the failures from there is critical though prunes ran in between', () => {
    const own = fails(6, T0, MINUTE);
    // Other traffic every 5 minutes moves the run on, so prunes happen between the failures and the success.
    const other = fails(30, T0, 5 * MINUTE, (i) => ({ account: `o${i}@example.edu`, login: `o${i}`, clientIp: publicIp(i) }));
    const success = authSuccess({ clientIp: ATTACKER, at: T0 + 5 * MINUTE + 59 * MINUTE });
    const records = [...own, ...other, success].sort((a, b) => a.at - b.at);
    const findings = runRule(RULE, {}, records);
    assert.deepEqual(findings.map((f) => [f.severity, f.data['signal'], f.at]), [['critical', 'success-after-failures', success.at]]);
    assert.deepEqual(brief(inRuns(records, [])), brief(findings));
  });

  it('an episode whose failures a prune dropped is over, as in cron runs (warning at 1, tries kept for a longer success window)', () => {
    // At 1 failure no count is ever below half the level, so only the failures leaving the
    // window end the episode: a snapshot does that, and so does a prune.
    const config = opts({ windowMinutes: 30, successWindowMinutes: 120, warningFailures: 1 });
    const later = T0 + 50 * MINUTE;
    const records = [
      failure(),
      ...fails(8, T0 + 20 * MINUTE, 5 * MINUTE, (i) => ({ account: `o${i}@example.edu`, login: `o${i}`, clientIp: publicIp(i) })),
      failure({ at: later }),
    ].sort((a, b) => a.at - b.at);
    const alice = (fs: readonly Finding[]): [string, number][] => fs.filter((f) => f.account === 'alice@example.edu').map((f) => [f.severity, f.at]);
    assert.deepEqual(alice(runRule(RULE, config, records)), [['warning', T0], ['warning', later]]);
    const cut = records.findIndex((r) => r.at >= T0 + 45 * MINUTE);
    assert.deepEqual(brief(inRuns(records, [cut], config)), brief(inRuns(records, [], config)));
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

describe(`${RULE}: restoring a saved state`, () => {
  /** The schema the state was checked with before the hand-written reader (zod), kept here as the reference. */
  const Evidence = z.object({ source: z.string(), lineNo: z.number(), text: z.string() });
  const Reference = z.object({
    v: z.literal(1),
    window: z.number(),
    accounts: z.array(z.tuple([z.string(), z.object({
      b: z.array(z.array(z.number())), now: z.number(), level: z.number(),
      ips: z.array(z.tuple([z.string(), z.object({ n: z.number(), first: z.number(), last: z.number() })])), recent: z.array(Evidence),
    })])),
    addresses: z.array(z.tuple([z.string(), z.object({
      b: z.array(z.array(z.number())), now: z.number(), told: z.boolean(),
      accts: z.array(z.tuple([z.number(), z.number()])), recent: z.array(Evidence),
    })])),
    successes: z.array(z.tuple([z.string(), z.array(z.tuple([z.string(), z.number(), z.number(), z.array(Evidence)]))])),
  });
  const ctx = resolveContext(parseConfig({ timezone: 'UTC' }));
  const rule = rules.find((r) => r.name === RULE);
  const instance = (saved?: unknown): RuleInstance => {
    assert.ok(rule);
    return rule.instantiate({ warningFailures: 3 }, ctx, saved);
  };
  /** A state with an account, an address (its failures name accounts) and a success in it. */
  const base = (): unknown => {
    const inst = instance();
    const records = [
      ...Array.from({ length: 4 }, (_, i) => failure({ at: T0 + i * MINUTE, account: `u${i % 2}@example.edu`, login: `u${i % 2}` })),
      authSuccess({ account: 'u0@example.edu', clientIp: '203.0.113.9', at: T0 + 5 * MINUTE }),
    ];
    for (const r of records) inst.onRecord(r, () => undefined);
    return JSON.parse(JSON.stringify(inst.snapshot?.())) as unknown;
  };
  const restoresAnything = (saved: unknown): boolean => {
    const s = instance(saved).snapshot?.() as { accounts: unknown[]; addresses: unknown[]; successes: unknown[] };
    return s.accounts.length + s.addresses.length + s.successes.length > 0;
  };

  it('gives back what it saved', () => {
    const saved = base() as { accounts: unknown[]; addresses: unknown[]; successes: unknown[] };
    assert.ok(saved.accounts.length > 0 && saved.addresses.length > 0 && saved.successes.length > 0);
    assert.deepEqual(JSON.parse(JSON.stringify(instance(saved).snapshot?.())), saved);
  });

  it('restores exactly the states the schema took: every value of the saved state replaced, removed or given an extra item', () => {
    const paths: (string | number)[][] = [];
    const walk = (v: unknown, path: (string | number)[]): void => {
      paths.push(path);
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
      else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
    };
    walk(base(), []);
    const changed = (path: readonly (string | number)[], change: (parent: Record<string | number, unknown>, key: string | number) => void): unknown => {
      const copy = base();
      if (path.length === 0) return 'x';
      let parent = copy as Record<string | number, unknown>;
      for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
      change(parent, path[path.length - 1] as string | number);
      return copy;
    };
    let accepted = 0;
    let refused = 0;
    for (const path of paths) {
      const variants: unknown[] = [
        ...['x', 1.5, null, true, [], {}].map((value) => changed(path, (p, k) => { p[k] = value; })),
        changed(path, (p, k) => { if (Array.isArray(p)) p.splice(Number(k), 1); else Reflect.deleteProperty(p, k); }),
        changed(path, (p, k) => { const v = p[k]; if (Array.isArray(v)) v.push(0); }),
      ];
      for (const saved of variants) {
        const want = Reference.safeParse(saved).success && (saved as { window: unknown }).window === 60;
        assert.equal(restoresAnything(saved), want, `${path.join('.')}: ${JSON.stringify(saved).slice(0, 300)}`);
        if (want) accepted++;
        else refused++;
      }
    }
    assert.ok(accepted > 20 && refused > 100, `${accepted} accepted, ${refused} refused`);
  });
});
