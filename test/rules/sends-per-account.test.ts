/**
 * sends-per-account, with the default windows unless a case says otherwise:
 *   10 min: 30/60 messages, 150/400 recipients
 *   60 min: 70/90 messages, 300/1000 recipients
 *   24 h:   500/1000 messages, 1500/4000 recipients
 * Spacings are chosen so that only the window a case is about can reach a level
 * (e.g. 51 s apart: 12 messages in any 10 minutes, 70 in 3519 s).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { burst, checkFindings, type Overrides, HOUR, MINUTE, rcpts, ruleTester, runRule, SECOND, submission, T0, withRuleOptions } from '../helpers/records.js';
import type { Evidence, Finding, Submission } from '../../src/core/types.js';
import { parseConfig, resolveContext } from '../../src/config/load.js';
import { createEngine } from '../../src/rules/engine.js';
import { rules } from '../../src/rules/index.js';
import { packLines } from '../helpers/old-state.js';
import { TextPacker } from '../../src/core/lazy-accounts.js';
import { addMessage } from '../../src/rules/sends-per-account.js';

const RULE = 'sends-per-account';
const opts = (o: Record<string, unknown>): Record<string, unknown> => withRuleOptions(RULE, o);

/** `n` messages spread evenly so the first is at `start` and the last exactly `spanMs` later. */
function spread(n: number, start: number, spanMs: number, over: Overrides<Submission> = {}): Submission[] {
  return burst(n, start, spanMs / (n - 1), over);
}

/** Moves each element of `xs` at an index in `late` to `by` places later in processing order (times unchanged). */
function processLate<T>(xs: readonly T[], late: readonly number[], by: number): T[] {
  const out = xs.slice();
  for (const i of [...late].sort((a, b) => b - a)) {
    const [x] = out.splice(i, 1);
    if (x !== undefined) out.splice(Math.min(i + by, out.length), 0, x);
  }
  return out;
}

const hourly = (severity: 'warning' | 'critical', count: number, at?: number) => ({
  severity, ...(at !== undefined ? { at } : {}),
  data: { window_minutes: 60, metric: 'messages', count, messages: count, threshold: severity === 'warning' ? 70 : 90 },
});

const BOB = 'bob@example.edu';

ruleTester(RULE, {
  valid: [
    { name: 'a single message', records: [submission()] },
    { name: '69 messages in one hour (warning is at 70)', records: burst(69, T0, 51 * SECOND) },
    { name: '29 messages in 10 minutes (warning is at 30)', records: burst(29, T0, 20 * SECOND) },
    { name: '70 messages spread over 2 hours do not fire the 1-hour level', records: burst(70, T0, 104 * SECOND) },
    {
      name: '70 messages whose first and last are exactly 60 minutes apart (the window is the last 60 minutes, first not included)',
      records: spread(70, T0, HOUR),
    },
    {
      name: 'two accounts with 40 messages an hour each are counted apart',
      records: burst(80, T0, 45 * SECOND).map((r, i) => ({ ...r, account: i % 2 ? BOB : r.account })),
    },
    {
      name: 'five 50-recipient messages 12 minutes apart: 50 in any 10 min, 250 in an hour (levels 150 and 300)',
      records: burst(5, T0, 12 * MINUTE, { recipients: rcpts(50) }),
    },
    {
      name: 'one message with 50 recipients is one message (message level 2)',
      config: opts({ windows: [{ minutes: 60, messages: { warning: 2 } }] }),
      records: [submission({ recipients: rcpts(50) })],
    },
    {
      name: 'override factor 2 for a named account: 139 messages an hour (70 x 2 = 140)',
      config: opts({ overrides: [{ accounts: ['alice@example.edu'], factor: 2 }] }),
      records: burst(139, T0, 25 * SECOND),
    },
    {
      name: 'override by pattern, case-insensitive: *@Lists.Example.EDU x 3, 200 messages an hour',
      config: opts({ overrides: [{ accounts: ['*@Lists.Example.EDU'], factor: 3 }] }),
      records: burst(200, T0, 17 * SECOND, { account: 'news@lists.example.edu' }),
    },
    {
      name: 'override factor 1.5: 104 messages an hour (threshold 105)',
      config: opts({ overrides: [{ accounts: ['alice@example.edu'], factor: 1.5 }] }),
      records: burst(104, T0, 34 * SECOND),
    },
    {
      name: 'a record two hours late is not counted in the 1-hour window',
      records: [...burst(69, T0 + 3 * HOUR, 51 * SECOND), submission({ at: T0 + HOUR })],
    },
    {
      name: 'an older input after a newer one (rotated files newest first) is not piled onto the newest second',
      // 240 messages a day, one every 6 minutes: day 2 first, then day 1.
      records: [...burst(240, T0 + 24 * HOUR, 6 * MINUTE), ...burst(240, T0, 6 * MINUTE)],
    },
  ],
  invalid: [
    {
      name: '70 messages in one hour: exactly one warning at the 70th',
      records: burst(70, T0, 51 * SECOND),
      findings: [hourly('warning', 70, T0 + 69 * 51 * SECOND)],
    },
    {
      name: '70 messages whose first and last are 59:59 apart',
      records: spread(70, T0, HOUR - SECOND),
      findings: [hourly('warning', 70, T0 + HOUR - SECOND)],
    },
    {
      name: '90 messages in one hour: a warning at 70, then critical at 90, not one finding per message',
      records: burst(90, T0, 39 * SECOND),
      findings: [hourly('warning', 70, T0 + 69 * 39 * SECOND), hourly('critical', 90, T0 + 89 * 39 * SECOND)],
    },
    {
      name: '89 messages in one hour stay at warning',
      records: burst(89, T0, 39 * SECOND),
      findings: [hourly('warning', 70)],
    },
    {
      name: '300 messages in half an hour still give two findings',
      records: burst(300, T0, 6 * SECOND),
      findings: [
        { severity: 'warning', data: { window_minutes: 10, metric: 'messages', count: 30, threshold: 30 } },
        { severity: 'critical', data: { window_minutes: 10, metric: 'messages', count: 60, threshold: 60 } },
      ],
    },
    {
      name: '30 messages in 10 minutes: warning from the 10-minute window',
      records: burst(30, T0, 20 * SECOND),
      findings: [{ severity: 'warning', at: T0 + 29 * 20 * SECOND, data: { window_minutes: 10, metric: 'messages', count: 30, threshold: 30 } }],
    },
    {
      name: 'escalation across windows in one episode: 10-minute warning, then 1-hour critical (no finding at 70 an hour)',
      // 30 in 5 minutes, then one every 18 s: the 10-minute window stays between 30 and 60.
      records: [...burst(30, T0, 10 * SECOND), ...burst(60, T0 + 5 * MINUTE, 18 * SECOND)],
      findings: [
        { severity: 'warning', at: T0 + 290 * SECOND, data: { window_minutes: 10, count: 30 } },
        hourly('critical', 90, T0 + 5 * MINUTE + 59 * 18 * SECOND),
      ],
    },
    {
      name: 'all windows back under warning before the hour reaches 70: the 1-hour warning is a new episode',
      records: [...burst(30, T0, 10 * SECOND), ...burst(60, T0 + 5 * MINUTE, 50 * SECOND)],
      findings: [
        { severity: 'warning', data: { window_minutes: 10, count: 30 } },
        hourly('warning', 70),
        hourly('critical', 90),
      ],
    },
    {
      name: 'three 50-recipient messages: 3 messages and 150 recipients in 10 minutes',
      records: burst(3, T0, MINUTE, { recipients: rcpts(50) }),
      findings: [{
        severity: 'warning',
        data: { window_minutes: 10, metric: 'recipients', count: 150, messages: 3, recipients: 150, threshold: 150 },
      }],
    },
    {
      name: 'eight 50-recipient messages in 10 minutes: warning at 150 recipients, critical at 400',
      records: burst(8, T0, MINUTE, { recipients: rcpts(50) }),
      findings: [
        { severity: 'warning', data: { metric: 'recipients', count: 150, messages: 3 } },
        { severity: 'critical', data: { window_minutes: 10, metric: 'recipients', count: 400, messages: 8, recipients: 400, threshold: 400 } },
      ],
    },
    {
      name: 'one message with 50 recipients against a 50-recipient level counts as 1 message',
      config: opts({ windows: [{ minutes: 60, messages: { warning: 2 }, recipients: { warning: 50 } }] }),
      records: [submission({ recipients: rcpts(50) })],
      findings: [{ severity: 'warning', data: { metric: 'recipients', count: 50, messages: 1, recipients: 50, threshold: 50 } }],
    },
    {
      name: 'recipient levels use recipientCount (Postfix nrcpt) when the list is shorter',
      config: opts({ windows: [{ minutes: 60, recipients: { warning: 50 } }] }),
      records: [submission({ recipients: ['a@example.org'], recipientCount: 50 })],
      findings: [{ severity: 'warning', data: { metric: 'recipients', count: 50, messages: 1, recipients: 50 } }],
    },
    {
      name: 'a second host\'s log of the same hour, read after the first, adds to that hour (not piled onto one second)',
      records: [...burst(60, T0, 59 * SECOND), ...burst(60, T0 + 20 * SECOND, 59 * SECOND)],
      findings: [hourly('warning', 70), hourly('critical', 90)],
    },
    {
      name: 'a late record outside the 10-minute window (inside the hour) leaves the 10-minute count exact',
      config: opts({ windows: [{ minutes: 10, messages: { warning: 5 } }, { minutes: 60 }] }),
      records: [
        ...burst(4, T0 + 20 * MINUTE, 10 * SECOND),
        submission({ at: T0 + 5 * MINUTE }),
        submission({ at: T0 + 20 * MINUTE + 40 * SECOND }),
      ],
      findings: [{ severity: 'warning', at: T0 + 20 * MINUTE + 40 * SECOND, data: { window_minutes: 10, count: 5 } }],
    },
    {
      name: 'an older input read after a newer one: the spam run in the older one is still found',
      records: [...burst(24, T0 + 48 * HOUR, HOUR), ...burst(90, T0, 39 * SECOND)],
      findings: [hourly('warning', 70, T0 + 69 * 39 * SECOND), hourly('critical', 90, T0 + 89 * 39 * SECOND)],
    },
    {
      name: 'two bursts three hours apart are two episodes',
      records: [...burst(90, T0, 39 * SECOND), ...burst(90, T0 + 3 * HOUR, 39 * SECOND)],
      findings: [hourly('warning', 70), hourly('critical', 90), hourly('warning', 70, T0 + 3 * HOUR + 69 * 39 * SECOND), hourly('critical', 90)],
    },
    {
      name: 'a pause of five minutes inside a run is the same episode',
      records: [...burst(95, T0, 32 * SECOND), ...burst(95, T0 + 94 * 32 * SECOND + 5 * MINUTE, 32 * SECOND)],
      findings: [hourly('warning', 70), hourly('critical', 90)],
    },
    {
      name: 'records out of order by up to 3 minutes: same findings as in order',
      records: processLate(burst(90, T0, 39 * SECOND), [3, 10, 40, 68, 69, 85], 4),
      findings: [{ severity: 'warning', data: { window_minutes: 60, count: 70 } }, { severity: 'critical', data: { window_minutes: 60, count: 90 } }],
    },
    {
      name: 'a record three minutes late still counts in the hour it belongs to',
      records: [...burst(69, T0, 51 * SECOND), submission({ at: T0 + 68 * 51 * SECOND - 3 * MINUTE })],
      findings: [hourly('warning', 70, T0 + 68 * 51 * SECOND - 3 * MINUTE)],
    },
    {
      name: 'override factor 0.5 for a sensitive account: warning at 35 an hour',
      config: opts({ overrides: [{ accounts: ['alice@example.edu'], factor: 0.5 }] }),
      records: burst(35, T0, 100 * SECOND),
      findings: [{ severity: 'warning', data: { window_minutes: 60, count: 35, threshold: 35 } }],
    },
    {
      name: 'override factor 1.5: warning at 105 an hour, threshold reported rounded up',
      config: opts({ overrides: [{ accounts: ['alice@example.edu'], factor: 1.5 }] }),
      records: burst(105, T0, 34 * SECOND),
      findings: [{ severity: 'warning', message: '(warning at 105)', data: { window_minutes: 60, count: 105, threshold: 105 } }],
    },
    {
      name: 'an override for another account does not raise alice\'s levels',
      config: opts({ overrides: [{ accounts: [BOB, '*@lists.example.edu'], factor: 10 }] }),
      records: burst(70, T0, 51 * SECOND),
      findings: [hourly('warning', 70)],
    },
    {
      name: 'a warning-only window: 100 messages give one warning',
      config: opts({ windows: [{ minutes: 5, messages: { warning: 5 } }] }),
      records: burst(100, T0, SECOND),
      findings: [{ severity: 'warning', at: T0 + 4 * SECOND, data: { window_minutes: 5, metric: 'messages', count: 5, threshold: 5 } }],
    },
    {
      name: 'a critical-only window jumps straight to critical',
      config: opts({ windows: [{ minutes: 60, recipients: { critical: 10 } }] }),
      records: burst(3, T0, MINUTE, { recipients: rcpts(4) }),
      findings: [{ severity: 'critical', data: { metric: 'recipients', count: 12, threshold: 10 } }],
    },
    {
      name: 're-armed after calming down: a burst, an hour and more of quiet sending, another burst',
      config: opts({ windows: [{ minutes: 60, messages: { warning: 10 } }] }),
      records: [...burst(10, T0, MINUTE), ...burst(5, T0 + 2 * HOUR, 20 * MINUTE), ...burst(10, T0 + 5 * HOUR, MINUTE)],
      findings: [{ severity: 'warning', at: T0 + 9 * MINUTE }, { severity: 'warning', at: T0 + 5 * HOUR + 9 * MINUTE }],
    },
    {
      name: 'each account has its own episode',
      records: burst(140, T0, 25 * SECOND).map((r, i) => ({ ...r, account: i % 2 ? BOB : r.account })),
      findings: [hourly('warning', 70), { ...hourly('warning', 70), account: BOB }],
    },
    {
      name: 'the 24-hour level: 500 messages in a day, never 70 in an hour',
      records: burst(500, T0, 2.8 * MINUTE),
      findings: [{ severity: 'warning', data: { window_minutes: 1440, metric: 'messages', count: 500, threshold: 500 } }],
    },
  ],
});

describe(`${RULE}: details`, () => {
  it('quotes the latest evidence lines (at most 10) and names the window in its message', () => {
    const records = burst(70, T0, 51 * SECOND);
    const [f] = runRule(RULE, {}, records);
    assert.ok(f);
    assert.equal(f.message, '70 messages in 1 h (warning at 70)');
    assert.deepEqual(f.evidence, records.slice(-10).flatMap((r) => r.evidence));
  });

  it('counts log time, not the clock: the same records a year later give the same findings', () => {
    const year = 365 * 24 * HOUR;
    const a = runRule(RULE, {}, burst(90, T0, 39 * SECOND));
    const b = runRule(RULE, {}, burst(90, T0 + year, 39 * SECOND));
    assert.deepEqual(b.map((f) => [f.severity, f.at - year, f.data]), a.map((f) => [f.severity, f.at, f.data]));
  });

  it('counts a message once however many evidence lines it has', () => {
    const records = burst(70, T0, 51 * SECOND).map((r) => ({ ...r, evidence: [...r.evidence, ...r.evidence, ...r.evidence] }));
    checkFindings(runRule(RULE, {}, records), [hourly('warning', 70)], RULE);
  });

  it('stays exact over days of traffic while old seconds are dropped in batches', () => {
    // 5000 messages over ~5.8 days, 100 s apart: the 24-hour window never holds more than 864.
    const findings = runRule(RULE, opts({ windows: [{ minutes: 1440, messages: { warning: 865 } }] }), burst(5000, T0, 100 * SECOND));
    assert.equal(findings.length, 0);
    const busy = runRule(RULE, opts({ windows: [{ minutes: 1440, messages: { warning: 864 } }] }), burst(5000, T0, 100 * SECOND));
    checkFindings(busy, [{ severity: 'warning', data: { count: 864 } }], RULE);
  });
});

describe(`${RULE}: state`, () => {
  const rule = rules.find((r) => r.name === RULE);
  const run = (records: readonly Submission[], saved?: unknown): { findings: Finding[]; state: unknown } => {
    const cfg = parseConfig({ timezone: 'UTC' }, 'test-config');
    const findings: Finding[] = [];
    const engine = createEngine(cfg, resolveContext(cfg), (f) => findings.push(f), { rules: rule ? [rule] : [], saved: saved === undefined ? {} : { [RULE]: saved } });
    for (const r of records) engine.onRecord(r);
    return { findings, state: JSON.parse(JSON.stringify(engine.snapshot()[RULE])) };
  };

  it('a run cut in two through the state finds, and quotes, what one run does', () => {
    const records = burst(70, T0, 51 * SECOND);
    const whole = run(records).findings;
    const first = run(records.slice(0, 65));
    const rest = run(records.slice(65), first.state).findings;
    assert.equal(whole.length, 1);
    assert.deepEqual(rest, whole);
  });

  type V3 = { v: 3; accounts: [string, number, string][]; sources: string[]; dict: number };
  /** Version 3's row of the one account as version 2 wrote it, and its lines. */
  const asV2 = (state: V3): { v2: unknown; lines: Evidence[] } => {
    const [row] = state.accounts;
    assert.ok(row);
    const [account, now, text] = row;
    const bar = text.indexOf('|');
    const counts = JSON.parse(text.slice(0, bar)) as [number, number, number, number, number[], number[] | 1, number[], number[], number[], number[]];
    if (counts[5] === 1) counts[5] = counts[4].map(() => 1);
    const packer = TextPacker.fromSaved(state.dict);
    const json = packer?.unpack(text.slice(bar + 1));
    assert.ok(json !== undefined);
    const lines = (JSON.parse(json) as [number, number, string][]).map(([i, lineNo, line]) => ({ source: state.sources[i] ?? '?', lineNo, text: line }));
    return { v2: { v: 2, windows: [10, 60, 1440], evidence: packLines(lines), accounts: [[account, now, ...counts, lines.length]] }, lines };
  };

  it('packs each account\'s lines on its own, and still reads version 2 (one packed block) and version 1 (lines inline)', () => {
    const records = burst(65, T0, 51 * SECOND);
    const { state } = run(records);
    const v3 = state as V3;
    assert.equal(v3.v, 3);
    assert.equal(JSON.stringify(state).includes(records[64]?.evidence[0]?.text ?? '?'), false);
    const { v2, lines } = asV2(v3);
    assert.deepEqual(lines, records.slice(-10).flatMap((r) => r.evidence));
    const [[k, now, level, reportedWindow, metric, reportedCount, secs, msgs, rcpts, heads, sumMsgs, sumRcpts]] = (v2 as { accounts: [string, number, number, number, number, number, number[], number[], number[], number[], number[], number[], number][] }).accounts as [[string, number, number, number, number, number, number[], number[], number[], number[], number[], number[], number]];
    const v1 = {
      v: 1, windows: [10, 60, 1440],
      accounts: [[k, {
        secs: secs.map((ago) => now - ago), msgs, rcpts, heads, sumMsgs, sumRcpts, now, level, reportedWindow,
        reportedMetric: metric === 1 ? 'recipients' : 'messages', reportedCount, recent: lines,
      }]],
    };
    const more = burst(5, T0 + 65 * 51 * SECOND, 51 * SECOND);
    const expected = run(more, state).findings;
    assert.equal(expected.length, 1);
    assert.deepEqual(run(more, v2).findings, expected);
    assert.deepEqual(run(more, v1).findings, expected);
    // Read in an old version, the state is written in the new one.
    assert.equal((run([], v2).state as V3).v, 3);
  });

  it('saves seconds of one message each as 1, keeps the list when a second holds more, and reads both', () => {
    const countsOf = (state: V3): unknown[] => {
      const text = state.accounts[0]?.[2] ?? '';
      return JSON.parse(text.slice(0, text.indexOf('|'))) as unknown[];
    };
    const single = burst(65, T0, 51 * SECOND);
    const singleState = run(single).state as V3;
    assert.equal(countsOf(singleState)[5], 1);
    const doubled = [...single, ...burst(1, T0 + 10 * 51 * SECOND, SECOND)].sort((a, b) => a.at - b.at);
    const doubledMsgs = countsOf(run(doubled).state as V3)[5];
    assert.ok(Array.isArray(doubledMsgs) && doubledMsgs.includes(2), JSON.stringify(doubledMsgs));
    // The same account saved with the list written out, as this version's first release did.
    const [account, now, text] = singleState.accounts[0] ?? ['', 0, ''];
    const counts = countsOf(singleState);
    const secs = counts[4] as number[];
    const listed: V3 = { ...singleState, accounts: [[account, now, `${JSON.stringify([...counts.slice(0, 5), secs.map(() => 1), ...counts.slice(6)])}${text.slice(text.indexOf('|'))}`]] };
    const more = burst(6, T0 + 65 * 51 * SECOND, 51 * SECOND);
    const expected = run(more, singleState).findings;
    assert.equal(expected.length, 1);
    assert.deepEqual(run(more, listed).findings, expected);
  });

  it('writes back the accounts a run did not touch as it read them, and re-packs only the one it did', () => {
    const many = ['a', 'b', 'c', 'd'].flatMap((name, i) => burst(12, T0 + i * SECOND, 61 * SECOND, { account: `${name}@example.edu` }));
    many.sort((x, y) => x.at - y.at);
    const first = run(many).state as V3;
    assert.deepEqual(run([], first).state, first);
    const later = run(burst(1, T0 + 13 * 61 * SECOND, SECOND, { account: 'c@example.edu' }), first).state as V3;
    assert.deepEqual(later.accounts.map((r) => r[0]), first.accounts.map((r) => r[0]));
    later.accounts.forEach((row, i) => {
      if (row[0] === 'c@example.edu') assert.notEqual(row[2], first.accounts[i]?.[2]);
      else assert.deepEqual(row, first.accounts[i]);
    });
    assert.equal(later.dict, first.dict);
  });

  it('a damaged row drops that account only', () => {
    const many = ['a', 'b'].flatMap((name, i) => burst(70, T0 + i * SECOND, 10 * SECOND, { account: `${name}@example.edu` }));
    many.sort((x, y) => x.at - y.at);
    const first = run(many.slice(0, 70)).state as V3;
    const damaged: V3 = { ...first, accounts: first.accounts.map((r) => (r[0] === 'a@example.edu' ? [r[0], r[1], `${r[2].slice(0, 20)}x`] : r)) };
    const rest = many.slice(70);
    const whole = run(rest, first).findings.filter((f) => f.account === 'b@example.edu');
    assert.ok(whole.length > 0);
    const after = run(rest, damaged);
    assert.deepEqual(after.findings.filter((f) => f.account === 'b@example.edu'), whole);
    // a starts over: its critical becomes a first warning.
    const severities = (fs: readonly Finding[]): string[] => fs.filter((f) => f.account === 'a@example.edu').map((f) => f.severity);
    assert.deepEqual(severities(run(rest, first).findings), ['critical']);
    assert.deepEqual(severities(after.findings), ['warning']);
  });

  it('holds only the buckets its windows reach while it runs, not every second an account ever sent in', () => {
    type Counts = Parameters<typeof addMessage>[0];
    const windows = [10, 60, 1440].map((minutes) => ({ minutes })) as unknown as Parameters<typeof addMessage>[1];
    const c: Counts = {
      secs: [], msgs: [], rcpts: [], heads: [0, 0, 0], sumMsgs: [0, 0, 0], sumRcpts: [0, 0, 0],
      now: 0, level: -1, reportedWindow: -1, reportedMetric: 'messages', reportedCount: 0, recent: [],
    };
    // A message an hour for 12 weeks: the longest window, a day, reaches 24 of them.
    const start = T0 / 1000;
    let most = 0;
    for (let h = 0; h < 2016; h++) {
      addMessage(c, windows, start + h * 3600, 2);
      most = Math.max(most, c.secs.length);
      assert.equal(c.sumMsgs[2], Math.min(h + 1, 24));
      assert.equal(c.sumRcpts[2], 2 * Math.min(h + 1, 24));
      assert.equal(c.sumMsgs[1], 1);
    }
    assert.ok(most <= 2 * 24 + 16, `held up to ${most} buckets`);
  });
});
