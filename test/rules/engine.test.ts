/**
 * The engine around the rules: per-rule `exempt`, global `ignoreAccounts`,
 * `enabled: false`, the since/until time range, and record kinds no rule takes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Finding, MailRecord } from '../../src/core/types.js';
import { parseConfig, resolveContext } from '../../src/config/load.js';
import { createEngine } from '../../src/rules/engine.js';
import { rules } from '../../src/rules/index.js';
import { UsageError } from '../../src/core/errors.js';
import { burst, checkFindings, HOUR, runEngine, runRule, SECOND, senderRejected, submission, T0 } from '../helpers/records.js';

const SPA = 'sends-per-account';
const BULK = 'news@lists.example.edu';

/** 90 messages in an hour for `account`: a warning and a critical from sends-per-account. */
const spamRun = (account = 'alice@example.edu', start = T0): MailRecord[] => burst(90, start, 39 * SECOND, { account });
/** One message that every rule but sends-per-account reports: forged sender, public client, Saturday 03:00 UTC. */
const allBad = (account = 'alice@example.edu'): MailRecord =>
  submission({ account, at: Date.parse('2026-03-07T03:00:00Z'), envelopeFrom: 'ceo@attacker.test', clientIp: '198.51.100.9' });

const summary = (fs: readonly Finding[]): string[] => fs.map((f) => `${f.rule} ${f.account} ${f.severity}`);

interface Case {
  readonly name: string;
  readonly config: Record<string, unknown>;
  readonly records: readonly MailRecord[];
  readonly since?: number;
  readonly until?: number;
  /** `rule account severity`, in order. */
  readonly expect: readonly string[];
}

const cases: readonly Case[] = [
  {
    name: 'no allowlists: every rule reports',
    config: {},
    records: [allBad()],
    expect: ['foreign-sender-host alice@example.edu warning', 'from-user-mismatch alice@example.edu warning', 'odd-hours alice@example.edu info'],
  },
  {
    name: 'exempt (exact) silences that rule for that account only',
    config: { rules: { [SPA]: { exempt: ['alice@example.edu'] } } },
    records: [...spamRun(), ...spamRun('bob@example.edu', T0 + 2 * HOUR)],
    expect: [`${SPA} bob@example.edu warning`, `${SPA} bob@example.edu critical`],
  },
  {
    name: 'exempt pattern, case-insensitive',
    config: { rules: { [SPA]: { exempt: ['*@Lists.Example.EDU'] } } },
    records: spamRun(BULK),
    expect: [],
  },
  {
    name: 'exempt in one rule leaves the others',
    config: { rules: { 'from-user-mismatch': { exempt: ['alice@example.edu'] } } },
    records: [allBad()],
    expect: ['foreign-sender-host alice@example.edu warning', 'odd-hours alice@example.edu info'],
  },
  {
    name: 'exempt applies to sender-rejected records too',
    config: { rules: { 'from-user-mismatch': { exempt: ['alice@example.edu'] } } },
    records: [senderRejected()],
    expect: [],
  },
  {
    name: 'ignoreAccounts silences every rule',
    config: { ignoreAccounts: ['alice@example.edu'] },
    records: [allBad(), ...spamRun(), allBad('bob@example.edu')],
    expect: ['foreign-sender-host bob@example.edu warning', 'from-user-mismatch bob@example.edu warning', 'odd-hours bob@example.edu info'],
  },
  {
    name: 'ignoreAccounts pattern, case-insensitive',
    config: { ignoreAccounts: ['*@LISTS.example.edu', 'Sendwatch@Example.EDU'] },
    records: [...spamRun(BULK), allBad('sendwatch@example.edu')],
    expect: [],
  },
  {
    name: 'a pattern that does not match is no allowlist',
    config: { ignoreAccounts: ['*@lists.example.edu'], rules: { [SPA]: { exempt: ['alice@*.example.edu'] } } },
    records: spamRun(),
    expect: [`${SPA} alice@example.edu warning`, `${SPA} alice@example.edu critical`],
  },
  {
    name: 'enabled: false switches a rule off',
    config: { rules: { 'odd-hours': { enabled: false }, 'foreign-sender-host': { enabled: false } } },
    records: [allBad()],
    expect: ['from-user-mismatch alice@example.edu warning'],
  },
  {
    name: 'since drops earlier records before any rule counts them: 70 of 90 counted, warning only',
    config: {},
    records: spamRun(),
    since: T0 + 20 * 39 * SECOND,
    expect: [`${SPA} alice@example.edu warning`],
  },
  {
    name: 'since is inclusive',
    config: { rules: { [SPA]: { windows: [{ minutes: 60, messages: { warning: 1 } }] } } },
    records: [submission({ at: T0 })],
    since: T0,
    expect: [`${SPA} alice@example.edu warning`],
  },
  {
    name: 'until is exclusive: the 70th message at until is not counted',
    config: {},
    records: spamRun(),
    until: T0 + 69 * 39 * SECOND,
    expect: [],
  },
  {
    name: 'until one millisecond later counts it',
    config: {},
    records: spamRun(),
    until: T0 + 69 * 39 * SECOND + 1,
    expect: [`${SPA} alice@example.edu warning`],
  },
  {
    name: 'record kinds no rule consumes are passed over',
    config: {},
    records: [
      { kind: 'auth-failure', at: T0, clientIp: '198.51.100.9', evidence: [] },
      { kind: 'delivery', at: T0, account: 'alice@example.edu', recipient: 'x@example.org', status: 'bounced', evidence: [] },
      { kind: 'counter', at: T0, key: '198.51.100.9', table: 'conn', count: 500, quota: 10, evidence: [] },
      { kind: 'auth-success', at: Date.parse('2026-03-07T03:00:00Z'), account: 'alice@example.edu', login: 'alice', clientIp: '198.51.100.9', evidence: [] },
    ],
    expect: [],
  },
];

describe('engine: allowlists, switches and time range', () => {
  for (const c of cases) {
    it(c.name, () => {
      const findings = runEngine(c.config, c.records, { since: c.since, until: c.until });
      assert.deepEqual(summary(findings), c.expect);
    });
  }
});

describe('engine: setup', () => {
  it('lists the active rules, sorted, without the disabled ones', () => {
    const cfg = parseConfig({ rules: { 'odd-hours': { enabled: false } } });
    const engine = createEngine(cfg, resolveContext(cfg), () => undefined);
    const all = [
      'auth-failures', 'bounces', 'countries', 'foreign-sender-host', 'from-user-mismatch', 'many-sender-hosts', 'metermaid-quota',
      'new-sender-host', 'odd-hours', 'recipient-spread', 'sends-per-account', 'volume-baseline',
    ];
    assert.deepEqual(engine.active, all.filter((r) => r !== 'odd-hours'));
    assert.deepEqual(rules.map((r) => r.name), all);
  });

  it('runRule restricts the engine to one rule', () => {
    checkFindings(runRule('odd-hours', {}, [allBad()]), [{ severity: 'info', data: { local_time: '03:00' } }], 'odd-hours');
  });

  it('rejects an unknown rule name and misspelt options with a usage error naming the key', () => {
    assert.throws(() => parseConfig({ rules: { 'sends-per-acount': {} } }), (e: unknown) => e instanceof UsageError && e.message.includes('sends-per-acount'));
    assert.throws(() => parseConfig({ rules: { [SPA]: { window: [] } } }), (e: unknown) => e instanceof UsageError && e.message.includes('did you mean "windows"'));
    assert.throws(() => parseConfig({ rules: { [SPA]: { exempt: [''] } } }), UsageError);
  });
});

describe('engine: every rule keeps its state across cron runs', () => {
  it('each registered rule has a snapshot that survives JSON and restores', () => {
    const cfg = parseConfig({});
    for (const rule of rules) {
      const inst = rule.instantiate({}, resolveContext(cfg));
      assert.equal(typeof inst.snapshot, 'function', `${rule.name} has no snapshot(): its windows would be lost between cron runs`);
      const saved: unknown = JSON.parse(JSON.stringify(inst.snapshot?.()));
      const again = rule.instantiate({}, resolveContext(cfg), saved);
      assert.deepEqual(JSON.parse(JSON.stringify(again.snapshot?.())), saved, rule.name);
    }
  });
});
