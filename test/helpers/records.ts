/**
 * Record builders and a RuleTester-style table runner for the detection rules.
 *
 * Builders give sensible defaults (account alice@example.edu from 10.1.2.3 on a
 * Wednesday morning, UTC) and take any field as an override; each record gets one
 * evidence line from a fake source with a fresh line number.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthSuccess, Evidence, Finding, FindingData, MailRecord, SenderRejected, Severity, Submission } from '../../src/core/types.js';
import { SEVERITY_RANK } from '../../src/core/types.js';
import { parseConfig, resolveContext } from '../../src/config/load.js';
import { createEngine, type EngineOptions } from '../../src/rules/engine.js';
import { rules } from '../../src/rules/index.js';

/** Wednesday 4 March 2026, 10:00 UTC (11:00 in Berlin, 05:00 in New York). */
export const T0 = Date.parse('2026-03-04T10:00:00Z');
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;

export const FAKE_SOURCE = 'test/fake.log';

let nextLine = 1;

function evidenceFor(text: string): Evidence[] {
  return [{ source: FAKE_SOURCE, lineNo: nextLine++, text }];
}

/** Fields to set; `undefined` removes an optional field (a record without a client address). */
export type Overrides<R> = { -readonly [K in keyof Omit<R, 'kind'>]?: R[K] | undefined };

/** `base` with `over` applied: a value replaces, `undefined` removes the field. */
function apply<R extends object>(base: R, over: object): R {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries<unknown>({ ...(base as object), ...over })) if (v !== undefined) out[k] = v;
  return out as R;
}

/** A submitted message. `recipientCount` follows `recipients` unless given. */
export function submission(over: Overrides<Submission> = {}): Submission {
  const account = over.account ?? 'alice@example.edu';
  const recipients = over.recipients ?? ['rcpt@example.org'];
  const at = over.at ?? T0;
  const base: Submission = {
    kind: 'submission',
    at,
    account,
    login: account.split('@')[0] ?? account,
    envelopeFrom: account,
    recipients,
    recipientCount: recipients.length,
    clientIp: '10.1.2.3',
    service: 'smtpd',
    host: 'mail1',
    evidence: evidenceFor(`${new Date(at).toISOString()} mail1 postfix/smtpd: client=[${'clientIp' in over ? (over.clientIp ?? 'unknown') : '10.1.2.3'}], sasl_username=${account}`),
  };
  return apply(base, over);
}

/** Postfix `not owned by user` rejection. */
export function senderRejected(over: Overrides<SenderRejected> = {}): SenderRejected {
  const account = over.account ?? 'alice@example.edu';
  const at = over.at ?? T0;
  const from = over.envelopeFrom ?? 'ceo@example.edu';
  return apply<SenderRejected>({
    kind: 'sender-rejected',
    at,
    account,
    login: account,
    envelopeFrom: from,
    clientIp: '10.1.2.3',
    host: 'mail1',
    evidence: evidenceFor(`${new Date(at).toISOString()} mail1 postfix/submission/smtpd: NOQUEUE: reject: 553 5.7.1 <${from}>: Sender address rejected: not owned by user ${account}`),
  }, over);
}

/** A login that is not a message (IMAP, MTA `U` record). */
export function authSuccess(over: Overrides<AuthSuccess> = {}): AuthSuccess {
  const account = over.account ?? 'alice@example.edu';
  const at = over.at ?? T0;
  return apply<AuthSuccess>({
    kind: 'auth-success',
    at,
    account,
    login: account,
    clientIp: '10.1.2.3',
    service: 'imap',
    host: 'store1',
    evidence: evidenceFor(`${new Date(at).toISOString()} store1 imapd: login ${account}`),
  }, over);
}

/** `n` recipient addresses. */
export function rcpts(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `r${i}@example.org`);
}

/** `n` submissions starting at `start`, `everyMs` apart (rounded to ms), with `over` applied to each. */
export function burst(n: number, start: number, everyMs: number, over: Overrides<Submission> = {}): Submission[] {
  return Array.from({ length: n }, (_, i) => submission({ ...over, at: start + Math.round(i * everyMs) }));
}

/** Findings for `records` with only `ruleName` active. Config is raw (as in the JSON file); timezone defaults to UTC. */
export function runRule(ruleName: string, config: Record<string, unknown>, records: readonly MailRecord[], opts: Omit<EngineOptions, 'rules'> = {}): Finding[] {
  const rule = rules.find((r) => r.name === ruleName);
  if (!rule) throw new Error(`no rule ${ruleName}`);
  return runEngine(config, records, { ...opts, rules: [rule] });
}

/** Findings with the whole registry (or `opts.rules`) active. */
export function runEngine(config: Record<string, unknown>, records: readonly MailRecord[], opts: EngineOptions = {}): Finding[] {
  const cfg = parseConfig({ timezone: 'UTC', ...config }, 'test-config');
  const findings: Finding[] = [];
  const engine = createEngine(cfg, resolveContext(cfg), (f) => findings.push(f), opts);
  for (const r of records) engine.onRecord(r);
  return findings;
}

// ---------------------------------------------------------------------------
// RuleTester-style tables

export interface ExpectedFinding {
  readonly severity: Severity;
  /** Defaults to the default builder account. */
  readonly account?: string;
  readonly at?: number;
  /** Keys that must be present with exactly these values (others are not checked). */
  readonly data?: FindingData;
  /** Substring the message must contain. */
  readonly message?: string;
}

export interface ValidCase {
  readonly name: string;
  readonly config?: Record<string, unknown>;
  readonly records: readonly MailRecord[];
  /** Allow findings below warning (the rule may note it as info, but must not raise it). */
  readonly allowInfo?: boolean;
}

export interface InvalidCase {
  readonly name: string;
  readonly config?: Record<string, unknown>;
  readonly records: readonly MailRecord[];
  /** Every finding, in order. */
  readonly findings: readonly ExpectedFinding[];
}

/** Config with `options` under `rules.<ruleName>`, merged over `base`. */
export function withRuleOptions(ruleName: string, options: Record<string, unknown>, base: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...base, rules: { [ruleName]: options } };
}

/** Shape checks every finding must pass, whatever the case. */
export function assertWellFormed(f: Finding, ruleName: string): void {
  assert.equal(f.rule, ruleName);
  assert.ok(f.message.length > 0 && !/[\r\n]/.test(f.message), `message must be one line: ${JSON.stringify(f.message)}`);
  assert.ok(Number.isFinite(f.at), 'at must be a time');
  assert.ok(f.evidence.length > 0, 'a finding must quote evidence');
  for (const e of f.evidence) assert.equal(e.source, FAKE_SOURCE);
  for (const [k, v] of Object.entries(f.data)) {
    assert.ok(typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)), `data.${k} must be a string or finite number`);
  }
}

function summary(fs: readonly Finding[]): string {
  return JSON.stringify(fs.map((f) => ({ severity: f.severity, account: f.account, message: f.message, data: f.data })), null, 1);
}

export function checkFindings(actual: readonly Finding[], expected: readonly ExpectedFinding[], ruleName: string): void {
  assert.equal(actual.length, expected.length, `expected ${expected.length} finding(s), got ${actual.length}: ${summary(actual)}`);
  expected.forEach((e, i) => {
    const f = actual[i];
    assert.ok(f);
    assertWellFormed(f, ruleName);
    assert.equal(f.severity, e.severity, `finding ${i} severity: ${summary([f])}`);
    assert.equal(f.account, e.account ?? 'alice@example.edu', `finding ${i} account`);
    if (e.at !== undefined) assert.equal(new Date(f.at).toISOString(), new Date(e.at).toISOString(), `finding ${i} time`);
    if (e.message !== undefined) assert.ok(f.message.includes(e.message), `finding ${i} message ${JSON.stringify(f.message)} lacks ${JSON.stringify(e.message)}`);
    for (const [k, v] of Object.entries(e.data ?? {})) assert.equal(f.data[k], v, `finding ${i} data.${k}: ${summary([f])}`);
  });
}

/** One `describe` per rule with a test per case, like ESLint's RuleTester. */
export function ruleTester(ruleName: string, tables: { valid: readonly ValidCase[]; invalid: readonly InvalidCase[] }): void {
  describe(`${ruleName}: valid (must not fire)`, () => {
    for (const c of tables.valid) {
      it(c.name, () => {
        const findings = runRule(ruleName, c.config ?? {}, c.records);
        for (const f of findings) assertWellFormed(f, ruleName);
        const raised = c.allowInfo ? findings.filter((f) => SEVERITY_RANK[f.severity] >= SEVERITY_RANK.warning) : findings;
        assert.equal(raised.length, 0, `expected no finding${c.allowInfo ? ' at warning or above' : ''}, got ${summary(raised)}`);
      });
    }
  });
  describe(`${ruleName}: invalid (must fire)`, () => {
    for (const c of tables.invalid) {
      it(c.name, () => checkFindings(runRule(ruleName, c.config ?? {}, c.records), c.findings, ruleName));
    }
  });
}
