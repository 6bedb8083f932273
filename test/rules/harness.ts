/**
 * What the rule tests share to check that a rule's state survives cron runs: the records
 * read in several runs, each restored from the last one's snapshot through JSON, must give
 * the findings of one long run.
 */
import assert from 'node:assert/strict';
import { getHeapSnapshot } from 'node:v8';
import type { Finding, MailRecord } from '../../src/core/types.js';
import { parseConfig, resolveContext } from '../../src/config/load.js';
import { createEngine } from '../../src/rules/engine.js';
import { rules } from '../../src/rules/index.js';
import { HOUR, MINUTE, submission, T0 } from '../helpers/records.js';

export interface InRunsOptions {
  /** Site configuration (timezone UTC unless it says otherwise); the rule's options are taken from it. */
  readonly config?: Record<string, unknown>;
  /** The state the first run starts from. */
  readonly first?: unknown;
  /** Applied to each snapshot (after the trip through JSON) before the next run reads it. */
  readonly between?: (state: unknown) => unknown;
}

/** Findings of rule `ruleName` over `records` read in cron runs cut at `cuts`, each run a new instance restored from the last one's snapshot (through JSON). */
export function inRuns(ruleName: string, records: readonly MailRecord[], cuts: readonly number[], opts: InRunsOptions = {}): Finding[] {
  const rule = rules.find((r) => r.name === ruleName);
  assert.ok(rule);
  const cfg = parseConfig({ timezone: 'UTC', ...opts.config });
  const raw = (cfg.rules as Record<string, unknown>)[ruleName] ?? {};
  const between = opts.between ?? ((x: unknown): unknown => x);
  const out: Finding[] = [];
  let saved: unknown = opts.first;
  let start = 0;
  for (const end of [...cuts, records.length]) {
    const inst = rule.instantiate(raw, resolveContext(cfg), saved);
    for (const r of records.slice(start, end)) inst.onRecord(r, (f) => out.push(f));
    saved = between(JSON.parse(JSON.stringify(inst.snapshot?.())));
    start = end;
  }
  return out;
}

/** A finding in one line, its numbers and the line numbers it quotes included: a cron run must quote what one long run quotes. */
export const brief = (fs: readonly Finding[]): string[] => fs.map((f) =>
  `${f.account} ${f.severity} ${new Date(f.at).toISOString()} ${f.message} ${JSON.stringify(f.data)} [${f.evidence.map((e) => e.lineNo).join(' ')}]`);

/** Findings of rule `ruleName` run by the engine over `records` in one run, or in two cut at `split` with the engine's state carried between them through JSON; `state` is the last snapshot as JSON. */
export function runSplit(ruleName: string, config: Record<string, unknown>, records: readonly MailRecord[], split?: number): { findings: Finding[]; state: string } {
  const c = parseConfig({ timezone: 'UTC', ...config });
  const rule = rules.find((r) => r.name === ruleName);
  assert.ok(rule);
  const findings: Finding[] = [];
  let saved: Record<string, unknown> | undefined;
  let state = '';
  for (const part of split === undefined ? [records] : [records.slice(0, split), records.slice(split)]) {
    const engine = createEngine(c, resolveContext(c), (f) => findings.push(f), { rules: [rule], ...(saved ? { saved } : {}) });
    for (const r of part) engine.onRecord(r);
    state = JSON.stringify(engine.snapshot());
    saved = JSON.parse(state) as Record<string, unknown>;
  }
  return { findings, state };
}

/**
 * The rows of a run that touched only `account` against the rows it restored: as many,
 * every other row exactly as it was read, and that account's `column` (its text, or its
 * stamp where the text may not change) written anew.
 */
export function assertOnlyRowChanged(before: readonly (readonly unknown[])[], after: readonly (readonly unknown[])[], account: string, column = 2): void {
  assert.equal(after.length, before.length);
  for (const [i, row] of after.entries()) {
    if (row[0] === account) assert.notEqual(row[column], before[i]?.[column]);
    else assert.deepEqual(row, before[i]);
  }
}

type Row = readonly [account: string, stamp: number, text: string];

/** `rows` with `account`'s text replaced by `text`: a damaged row. */
export function withRowText<R extends Row>(rows: readonly R[], account: string, text: string): R[] {
  return rows.map((r) => (r[0] === account ? [r[0], r[1], text] as unknown as R : r));
}

/** `rows` without `account`'s: what a damaged row must restore as. */
export function withoutRow<R extends Row>(rows: readonly R[], account: string): R[] {
  return rows.filter((r) => r[0] !== account);
}

/**
 * How many strings containing `marker` (but the marker itself) are alive after a full
 * collection (a heap snapshot makes one): a rule that keeps a record's field as it came
 * keeps the whole log line it was sliced from, which no count shows. V8 cuts a substring
 * of 13 characters or more as a slice of its parent, so a test's field of that length
 * keeps its line. Make the marker at run time: the test's own source holds its literals.
 */
export async function aliveWith(marker: string): Promise<number> {
  let text = '';
  for await (const chunk of getHeapSnapshot()) text += String(chunk);
  const { strings } = JSON.parse(text) as { strings: string[] };
  return strings.filter((s) => s !== marker && s.includes(marker)).length;
}

/** `field` (13 characters or more) cut out of a log line holding `marker`, as a parser cuts it. */
export function slicedFromLine(marker: string, field: string): string {
  const line = ['Mar  4 02:26:49 mail postfix/submission/smtpd[1]: ', marker, ': client=unknown[', field, '], sasl_username=x'].join('');
  const at = line.indexOf('[', line.indexOf(marker)) + 1;
  return line.slice(at, at + field.length);
}

/**
 * How many log lines a rule keeps alive through the client addresses it remembers, after
 * 20 submissions from addresses cut out of their lines (`tag` names the test's lines).
 */
export async function linesKeptByAddresses(ruleName: string, tag: string): Promise<number> {
  const rule = rules.find((r) => r.name === ruleName);
  assert.ok(rule);
  const inst = rule.instantiate({}, resolveContext(parseConfig({ timezone: 'UTC' })));
  const marker = [tag, 'line'].join('~');
  // In a function of its own: a suspended async function's frame would keep its last values.
  const feed = (): void => {
    for (let i = 0; i < 20; i++) {
      inst.onRecord(submission({ account: `u${i}@example.edu`, clientIp: slicedFromLine(`${marker}${i}`, `203.0.113.${100 + i}`), at: T0 + i * MINUTE }), () => undefined);
    }
    // The last address stays in the caches the rules share until another comes.
    inst.onRecord(submission({ clientIp: '198.18.0.1', at: T0 + HOUR }), () => undefined);
  };
  feed();
  return aliveWith(marker);
}
