/**
 * volume-baseline. Day 0 is Wednesday 4 March 2026 (UTC unless a case gives alice
 * another zone). Histories are built from `hours(d, h, n)`: n messages spread over
 * local hour h of day d. Levels with the defaults: warning at max(20, 3 x usual hour),
 * critical at max(60, 10 x usual hour); the day so far: warning at
 * max(2 x median day, median + 4 x 1.4826 x MAD, median + 15), from 3 active days.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Finding, MailRecord } from '../../src/core/types.js';
import { parseConfig, resolveContext } from '../../src/config/load.js';
import { rules } from '../../src/rules/index.js';
import { decodeBaseline, median } from '../../src/rules/volume-baseline.js';
import { HOUR, MINUTE, ruleTester, submission, type ExpectedFinding } from '../helpers/records.js';
import { brief, inRuns, runSplit as splitRun, withoutRow, withRowText } from './harness.js';

const RULE = 'volume-baseline';
const DAY = 24 * HOUR;
const DAY0 = Date.parse('2026-03-04T00:00:00Z');
const NY = 'America/New_York';

const cfg = (options: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ ...extra, rules: { [RULE]: options } });
/** The hourly cases: the day comparison kept out of the way (it has its own table below). */
const hourly = (options: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Record<string, unknown> => cfg({ dayMinExcess: 100_000, ...options }, extra);

/** Records in log time order (histories are built in pieces). */
const byTime = (...parts: (readonly MailRecord[])[]): MailRecord[] => parts.flat().sort((a, b) => a.at - b.at);

/** `n` messages spread evenly over hour `h` of day `d` (UTC), starting on the hour. */
function hours(d: number, h: number, n: number, over: Parameters<typeof submission>[0] = {}): MailRecord[] {
  return Array.from({ length: n }, (_, i) => submission({ ...over, at: DAY0 + d * DAY + h * HOUR + Math.floor((i * 60 * MINUTE) / n) }));
}

/** Days `from`..`to`-1, `n` messages an hour in each of `hrs`, weekdays only unless `weekends`. */
function routine(from: number, to: number, hrs: readonly number[], n: number, opts: { weekends?: boolean; over?: Parameters<typeof submission>[0] } = {}): MailRecord[] {
  const out: MailRecord[] = [];
  for (let d = from; d < to; d++) {
    const weekday = (3 + d) % 7;
    if (!opts.weekends && (weekday === 0 || weekday === 6)) continue;
    for (const h of hrs) out.push(...hours(d, h, n, opts.over));
  }
  return out;
}

/** Two a day, at 09:00 and 14:00, every day. */
const quiet = (days: number): MailRecord[] => routine(0, days, [9, 14], 1, { weekends: true });
/** One an hour from 09:00 to 14:59, every day: as quiet, but no daytime hour is odd. */
const quietAllDay = (days: number): MailRecord[] => routine(0, days, [9, 10, 11, 12, 13, 14], 1, { weekends: true });

const rate = (severity: 'warning' | 'critical', count: number, threshold: number, data: Record<string, string | number> = {}): ExpectedFinding =>
  ({ severity, data: { condition: 'rate', count, threshold, ...data } });
const odd = (local_hour: number, weekday: string, data: Record<string, string | number> = {}, message?: string): ExpectedFinding =>
  ({ severity: 'info', ...(message ? { message } : {}), data: { condition: 'odd-hour', local_hour, weekday, ...data } });

/** Day-by-day busiest hours whose median is 5 and MAD 1 (the Wednesdays, days 0 and 7, peak at 4 and 6). */
const NOISY_PEAKS = [4, 6, 5, 8, 5, 12, 5, 6, 4, 5, 7, 5, 6, 5];
const noisy = (): MailRecord[] => NOISY_PEAKS.flatMap((n, d) => [...hours(d, 9, n), ...hours(d, 10, 2)]);

ruleTester(RULE, {
  valid: [
    { name: 'warm-up: 100 in an hour three days after the account was first seen', config: hourly(), records: [...quiet(3), ...hours(3, 9, 100)] },
    { name: 'a quiet account (two a day) sending 5 in an hour', config: hourly(), records: [...quiet(14), ...hours(14, 9, 5)] },
    { name: 'a quiet account sending 19 in an hour: below the floor of 20', config: hourly(), records: [...quiet(14), ...hours(14, 9, 19)] },
    { name: 'a steady 10 an hour sending 29 (warning at 30)', config: hourly(), records: [...routine(0, 14, [9, 10, 11, 14, 15], 10), ...hours(14, 9, 29)] },
    { name: 'a weekly routine: the Monday newsletter hour is normal on Mondays', config: hourly(), records: byTime(routine(0, 33, [9, 10], 5), [5, 12, 19, 26].flatMap((d) => hours(d, 8, 50)), hours(33, 8, 50)) },
    { name: 'odd hours need 5 active days of history', config: hourly(), records: [...routine(0, 4, [9, 10], 3, { weekends: true }), ...hours(8, 3, 1)] },
    { name: 'oddHours: false', config: hourly({ oddHours: false }), records: [...routine(0, 14, [9, 10], 3), ...hours(14, 3, 2), ...hours(17, 10, 1)] },
    { name: 'the account\'s own zone: 09:00-12:00 in New York is not odd there', config: hourly({}, { accounts: { 'alice@example.edu': { officeHours: { timezone: NY } } } }), records: [...routine(0, 14, [14, 15, 16], 2), ...hours(14, 15, 2)] },
    { name: 'an exempt account', config: hourly({ exempt: ['alice@example.edu'] }), records: [...quiet(14), ...hours(14, 9, 100)] },
  ],
  invalid: [
    {
      name: 'a quiet account sending 60 in an hour: warning at 20, critical at 60',
      config: hourly(),
      records: [...quiet(14), ...hours(14, 9, 70)],
      findings: [
        { ...rate('warning', 20, 20, { usual_hour: 1, median_peak: 1, mad_peak: 0, weekday_max: 1, active_days: 14, local_hour: 9, timezone: 'UTC' }), at: DAY0 + 14 * DAY + 9 * HOUR + Math.floor((19 * 60 * MINUTE) / 70), message: '20 messages in the hour from 09:00 UTC; this account\'s usual busiest hour is 1 (warning at 20)' },
        rate('critical', 60, 60),
      ],
    },
    {
      name: 'a steady 10 an hour: warning at 30, critical at 100',
      config: hourly(),
      records: [...routine(0, 14, [9, 10, 11, 14, 15], 10), ...hours(14, 9, 120)],
      findings: [rate('warning', 30, 30, { usual_hour: 10 }), rate('critical', 100, 100)],
    },
    {
      name: 'median and MAD: peaks with median 5 and MAD 1 give a usual hour of 5 + 3 x 1.4826 = 9.4',
      config: hourly(),
      records: [...noisy(), ...hours(14, 9, 100)],
      findings: [rate('warning', 29, 29, { usual_hour: 9.4, median_peak: 5, mad_peak: 1, weekday_max: 6 }), rate('critical', 95, 95)],
    },
    {
      name: 'a weekly routine on its own weekday only: Monday\'s 50 on a Wednesday',
      config: hourly(),
      records: byTime(routine(0, 28, [9, 10], 5), [5, 12, 19, 26].flatMap((d) => hours(d, 8, 50)), hours(28, 9, 50)),
      findings: [rate('warning', 20, 20, { usual_hour: 5, weekday_max: 5 })],
    },
    {
      name: 'a run over three hours is one episode; after a quiet hour, a new one',
      config: hourly(),
      records: [...quietAllDay(14), ...hours(14, 9, 30), ...hours(14, 10, 70), ...hours(14, 11, 70), ...hours(14, 12, 5), ...hours(14, 13, 25)],
      findings: [rate('warning', 20, 20), rate('critical', 60, 60, { local_hour: 10 }), rate('warning', 20, 20, { local_hour: 13 })],
    },
    {
      name: 'a spam day is not learned as normal: the next day is reported the same way',
      config: hourly(),
      records: [...quiet(14), ...hours(14, 9, 100), ...hours(15, 9, 100)],
      findings: [rate('warning', 20, 20), rate('critical', 60, 60), rate('warning', 20, 20, { usual_hour: 1 }), rate('critical', 60, 60)],
    },
    {
      name: 'back after a long silence: no history, so the floors alone',
      config: hourly(),
      records: [...hours(0, 9, 1), ...hours(40, 9, 25)],
      findings: [rate('warning', 20, 20, { usual_hour: 0, active_days: 0 })],
    },
    {
      name: 'records slightly out of order count in their own hour',
      config: hourly(),
      records: [...quietAllDay(14), ...hours(14, 10, 10), ...hours(14, 9, 10), ...hours(14, 10, 10)],
      findings: [rate('warning', 20, 20, { local_hour: 10 })],
    },
    {
      name: 'minMessages and warningFactor',
      config: hourly({ minMessages: 5, warningFactor: 2 }),
      records: [...routine(0, 14, [9, 10], 3, { weekends: true }), ...hours(14, 9, 6)],
      findings: [rate('warning', 6, 6, { usual_hour: 3 })],
    },
    {
      name: 'an hour the account never uses: info once per stretch of odd hours',
      config: hourly(),
      records: [...routine(0, 14, [9, 10, 11, 14, 15], 2), ...hours(14, 3, 2), ...hours(14, 4, 3), ...hours(14, 9, 1), ...hours(14, 22, 1)],
      findings: [
        odd(3, 'wed', { timezone: 'UTC', active_days: 10 }, 'sent at 03:00 UTC, an hour this account has not used in 28 days'),
        odd(22, 'wed'),
      ],
    },
    {
      name: 'a weekday the account never uses',
      config: hourly(),
      records: [...routine(0, 14, [9, 10], 2), ...hours(17, 10, 2)],
      findings: [odd(10, 'sat', {}, 'sent on a sat UTC, a day this account has not used in 28 days')],
    },
    {
      name: 'a spam night: odd hour first, then the rate',
      config: hourly(),
      records: [...routine(0, 14, [9, 10], 2), ...hours(14, 2, 25)],
      findings: [odd(2, 'wed'), rate('warning', 20, 20, { local_hour: 2 })],
    },
    {
      name: 'hours in the account\'s own zone (office hours timezone)',
      config: hourly({}, { accounts: { 'alice@example.edu': { officeHours: { timezone: NY } } } }),
      records: [...routine(0, 14, [14, 15, 16], 2), ...hours(14, 7, 1)],
      findings: [odd(3, 'wed', { timezone: NY }, 'sent at 03:00 America/New_York')],
    },
  ],
});

/** A day of `total` messages spread over 08:00-15:59 (the first hours get the remainder). */
function day(d: number, total: number, over: Parameters<typeof submission>[0] = {}): MailRecord[] {
  return [8, 9, 10, 11, 12, 13, 14, 15].flatMap((h, i) => hours(d, h, Math.floor(total / 8) + (i < total % 8 ? 1 : 0), over));
}
/** Days 0.. with these totals (0: idle). */
const days = (totals: readonly number[], over: Parameters<typeof submission>[0] = {}): MailRecord[] => totals.flatMap((t, d) => day(d, t, over));
/** 12 a day in 08:00-15:59 (2, 1, 2, 1, ...), and the drip: the same hours at 3.5 times that (7, 4, 7, 4, ...: 44). */
const usualDay = (d: number): MailRecord[] => [8, 9, 10, 11, 12, 13, 14, 15].flatMap((h, i) => hours(d, h, i % 2 ? 1 : 2));
const dripDay = (d: number): MailRecord[] => [8, 9, 10, 11, 12, 13, 14, 15].flatMap((h, i) => hours(d, h, i % 2 ? 4 : 7));
const dayWarning = (count: number, threshold: number, data: Record<string, string | number> = {}): ExpectedFinding =>
  ({ severity: 'warning', data: { condition: 'day', count, threshold, ...data } });

describe(`${RULE}: the day so far`, () => ruleTester(RULE, {
  valid: [
    { name: 'a drip after only two days of history (dayMinActiveDays 3)', config: cfg(), records: [...usualDay(0), ...usualDay(1), ...dripDay(2)] },
    { name: 'a quiet account (two a day) sending 5 in a day', config: cfg({ oddHours: false }), records: [...quiet(14), ...day(14, 5)] },
    { name: 'a quiet account sending 16 in a day: below median + 15', config: cfg({ oddHours: false }), records: [...quiet(14), ...day(14, 16)] },
    { name: 'a steady heavy sender, 40-60 every working day, at 60', config: cfg(), records: [...days([52, 47, 0, 0, 58, 41, 55, 60, 44, 0, 0, 50, 49, 57]), ...day(14, 60)] },
    { name: 'day-to-day noise: 16, 45, 14, 25 a day, then 45 (the MAD term: warning at 54)', config: cfg(), records: [...days([16, 45, 14, 25]), ...day(4, 45)] },
    { name: 'an irregular small sender: 4, 4, 3, 7 a day, then 18 (warning at 19)', config: cfg(), records: [...days([4, 4, 3, 7]), ...day(4, 18)] },
    { name: 'idle days are not part of the median', config: cfg(), records: [...days([12, 0, 0, 12, 0, 12, 0]), ...day(7, 26)] },
    { name: 'an exempt account', config: cfg({ exempt: ['alice@example.edu'] }), records: [...usualDay(0), ...usualDay(1), ...usualDay(2), ...dripDay(3)] },
  ],
  invalid: [
    {
      name: 'a slow drip: 3.5x its usual hours after three days of 12, warning at 12 + 15 = 27, once',
      config: cfg(),
      records: [...usualDay(0), ...usualDay(1), ...usualDay(2), ...dripDay(3)],
      findings: [{
        ...dayWarning(27, 27, { median_day: 12, mad_day: 0, active_days: 3, local_hour: 12, timezone: 'UTC' }),
        at: DAY0 + 3 * DAY + 12 * HOUR + Math.floor((4 * 60 * MINUTE) / 7),
        message: '27 messages today by 12:34 UTC; this account\'s usual day is 12 (median of 3 active days; warning at 27)',
      }],
    },
    {
      name: 'the drip again the next day: the drip day is not the median',
      config: cfg(),
      records: [...usualDay(0), ...usualDay(1), ...usualDay(2), ...dripDay(3), ...dripDay(4)],
      findings: [dayWarning(27, 27), dayWarning(27, 27, { median_day: 12, active_days: 4 })],
    },
    {
      name: 'a heavier account: 2 x the median (30) is above median + 15',
      config: cfg(),
      records: [...days([30, 29, 31, 30]), ...day(4, 70)],
      findings: [dayWarning(60, 60, { median_day: 30, mad_day: 0.5 })],
    },
    {
      name: 'the MAD term: 10, 20, 14, 24, 8 a day (median 14, MAD 6): warning at 14 + 4 x 1.4826 x 6 = 50',
      config: cfg(),
      records: [...days([10, 20, 14, 24, 8]), ...day(5, 60)],
      findings: [dayWarning(50, 50, { median_day: 14, mad_day: 6 })],
    },
    {
      name: 'dayFactor, dayMinExcess and dayMinActiveDays',
      config: cfg({ dayFactor: 3, dayMinExcess: 5, dayMinActiveDays: 2 }),
      records: [...usualDay(0), ...usualDay(1), ...day(2, 40)],
      findings: [dayWarning(36, 36, { median_day: 12, active_days: 2 })],
    },
    {
      name: 'a spam hour on a quiet account: the day and the hour',
      config: cfg(),
      records: [...quiet(14), ...hours(14, 9, 70)],
      findings: [dayWarning(17, 17, { median_day: 2 }), rate('warning', 20, 20), rate('critical', 60, 60)],
    },
  ],
}));

const runSplit = (config: Record<string, unknown>, records: readonly MailRecord[], split?: number): { findings: Finding[]; state: string } =>
  splitRun(RULE, config, records, split);

type Row = [string, number, string];
interface Section { v: number; historyDays: number; latestAt: number; marks?: number[]; accounts: unknown[] }

/** A v2 section written as v1 (every account a tuple), as a site upgraded from v1 has it. */
function asV1(section: Section): Section {
  const accounts = (section.accounts as Row[]).map(([account, stamp, text]) => {
    const saved = decodeBaseline(text, stamp);
    assert.ok(saved, text);
    return [account, ...saved];
  });
  return { v: 1, historyDays: section.historyDays, latestAt: section.latestAt, accounts };
}

describe(`${RULE}: state across cron runs`, () => {
  it('a run split anywhere gives the findings of one run', () => {
    const records = [...noisy(), ...hours(14, 3, 2), ...hours(14, 9, 100), ...hours(14, 10, 30), ...hours(15, 9, 40)];
    const whole = runSplit(cfg(), records).findings;
    assert.deepEqual(whole.map((f) => `${f.severity} ${String(f.data.condition)} ${String(f.data.count ?? f.data.local_hour)}`), [
      'info odd-hour 3', 'warning day 22', 'warning rate 29', 'critical rate 95', 'warning day 22', 'warning rate 29',
    ]);
    const splits = [1, 50, 100, records.length - 172, records.length - 171, records.length - 100, records.length - 41, records.length - 40, records.length - 1];
    for (const split of splits) assert.deepEqual(runSplit(cfg(), records, split).findings, whole, `split at ${split}`);
  });

  it('accounts in zones far apart: a split gives the findings of one run', () => {
    const zones = { accounts: { 'alice@example.edu': { officeHours: { timezone: NY } }, 'bob@example.edu': { officeHours: { timezone: 'Pacific/Kiritimati' } } } };
    const bob = { account: 'bob@example.edu' };
    const records = byTime(noisy(), NOISY_PEAKS.flatMap((n, d) => hours(d, 20, n, bob)), hours(14, 9, 40), hours(14, 10, 40), hours(14, 20, 30, bob), hours(14, 21, 100, bob));
    const whole = runSplit(cfg({}, zones), records).findings;
    assert.deepEqual(whole.map((f) => `${f.account} ${f.severity} ${String(f.data.condition)}`), [
      'alice@example.edu warning day', 'alice@example.edu warning rate',
      'bob@example.edu warning day', 'bob@example.edu warning rate', 'bob@example.edu info odd-hour', 'bob@example.edu critical rate',
    ]);
    for (let split = records.length - 200; split < records.length; split += 7) assert.deepEqual(runSplit(cfg({}, zones), records, split).findings, whole, `split at ${split}`);
  });

  it('the snapshot keeps 28 days of history, and an idle account for a year', () => {
    const records = [...hours(0, 9, 1, { account: 'bob@example.edu' }), ...hours(0, 9, 3), ...hours(30, 10, 2), ...hours(390, 9, 1, { account: 'carol@example.edu' })];
    const saved = (JSON.parse(runSplit(cfg(), records).state) as Record<string, Section>)[RULE];
    const dayNo = (d: number): number => Math.floor((DAY0 + d * DAY) / DAY);
    // bob is silent for 390 days: gone. alice is silent for 360: her days are gone, her first sighting stays.
    assert.deepEqual(saved && asV1(saved).accounts, [
      ['alice@example.edu', dayNo(0), dayNo(30), [], '', [], -1, -1, -1, [], -1],
      ['carol@example.edu', dayNo(390), dayNo(390), [1], Buffer.from([0, 2, 0]).toString('base64url'), [(dayNo(390) * 24) + 9, 1], -1, -1, -1, [1], -1],
    ]);
  });

  it('a snapshot made with another historyDays is not reused', () => {
    const { state } = runSplit(cfg(), quiet(3));
    const rule = rules.find((r) => r.name === RULE);
    const c = parseConfig({ timezone: 'UTC' });
    const inst = rule?.instantiate({ historyDays: 14 }, resolveContext(c), (JSON.parse(state) as Record<string, unknown>)[RULE]);
    assert.deepEqual(inst?.snapshot?.(), { v: 2, historyDays: 14, latestAt: 0, marks: [0], accounts: [] });
  });

  it('state stays small: an account active 8 hours on each of 28 days', () => {
    const records: MailRecord[] = [];
    const accounts = 100;
    for (let a = 0; a < accounts; a++) {
      const account = `user${a}@example.edu`;
      for (let d = 0; d < 29; d++) for (const h of [7, 8, 9, 10, 13, 14, 15, 16]) records.push(...hours(d, h, 1 + ((a + d + h) % 12), { account }));
    }
    const { state } = runSplit(cfg(), records);
    const perAccount = Buffer.byteLength(state) / accounts;
    assert.ok(perAccount < 320, `${perAccount.toFixed(0)} bytes per account`);
  });
});

describe(`${RULE}: median`, () => {
  const cases: [number[], number][] = [[[], 0], [[3], 3], [[1, 5], 3], [[1, 2, 9], 2], [[4, 4, 5, 5, 5, 5, 5, 5, 6, 6, 6, 7, 8, 12], 5]];
  for (const [xs, m] of cases) it(`median of [${xs.join(',')}] is ${m}`, () => assert.equal(median(xs), m));
});

describe(`${RULE}: accounts saved as rows`, () => {
  const bob = { account: 'bob@example.edu' };
  const carol = { account: 'carol@example.edu' };
  const history = (): MailRecord[] => byTime(noisy(), NOISY_PEAKS.flatMap((n, d) => hours(d, 11, n, bob)), quiet(14).map((r) => ({ ...r, ...carol })));
  const restore = (section: unknown): ReturnType<NonNullable<(typeof rules)[number]>['instantiate']> => {
    const rule = rules.find((r) => r.name === RULE);
    assert.ok(rule);
    return rule.instantiate({}, resolveContext(parseConfig({ timezone: 'UTC' })), section);
  };
  const sectionOf = (records: readonly MailRecord[]): Section =>
    (JSON.parse(runSplit(cfg(), records).state) as Record<string, Section>)[RULE] ?? assert.fail('no section');
  const rowsOf = (section: unknown): Row[] => (section as Section).accounts as Row[];
  const after = [...hours(14, 3, 2), ...hours(14, 9, 100), ...hours(14, 10, 30, bob), ...hours(15, 9, 40)];

  it('a v1 snapshot restores as before: every run restored from v1 gives the findings of one run', () => {
    const records = [...history(), ...after];
    const whole = brief(inRuns(RULE, records, []));
    const cuts = [history().length, history().length + 50, records.length - 40];
    assert.deepEqual(brief(inRuns(RULE, records, cuts, { between: (s) => asV1(s as Section) })), whole);
    assert.deepEqual(brief(inRuns(RULE, records, cuts)), whole);
  });

  it('restored and saved again without records, every row is as it was', () => {
    const section = sectionOf(history());
    assert.equal(section.v, 2);
    assert.deepEqual(JSON.parse(JSON.stringify(restore(section).snapshot?.())), section);
  });

  it('a run touching one account rewrites only that account\'s row', () => {
    const section = sectionOf(history());
    const inst = restore(section);
    for (const r of hours(14, 10, 3, bob)) inst.onRecord(r, () => undefined);
    const before = rowsOf(section);
    const rows = rowsOf(JSON.parse(JSON.stringify(inst.snapshot?.())));
    assert.deepEqual(rows.map((r) => r[0]), before.map((r) => r[0]));
    assert.deepEqual(rows.filter((r) => r[0] !== bob.account), before.filter((r) => r[0] !== bob.account));
    assert.notEqual(rows.find((r) => r[0] === bob.account)?.[2], before.find((r) => r[0] === bob.account)?.[2]);
  });

  it('a damaged row drops only that account: it starts again as new', () => {
    const section = sectionOf(history());
    const damaged = { ...section, accounts: withRowText(rowsOf(section), bob.account, '[1,2') };
    const without = { ...section, accounts: withoutRow(rowsOf(section), bob.account) };
    const findingsFrom = (saved: unknown): string[] => {
      const inst = restore(saved);
      const out: Finding[] = [];
      for (const r of after) inst.onRecord(r, (f) => out.push(f));
      return brief(out);
    };
    assert.ok(findingsFrom(damaged).some((f) => f.startsWith('alice@')));
    assert.deepEqual(findingsFrom(damaged), findingsFrom(without));
    assert.notDeepEqual(findingsFrom(damaged), findingsFrom(section));
    assert.ok(decodeBaseline('[0,1,[1],[1]]AAAB', DAY0));
    for (const bad of ['', '[]', 'x', '[0,1,[1],[1]]!', '[0,1,["a"],[1]]', '[0,1,[1]]', '[0,1,[1],[1],[],-1,-1,-1,-1,0]']) assert.equal(decodeBaseline(bad, DAY0), undefined, bad);
  });

  it('an account left unread while local time runs back is pruned as each run in between would have pruned it', () => {
    // Troll falls back two hours at 01:00 UTC on 25 October 2026: local 02:59 is followed by 01:00.
    const zones = { accounts: { 'bob@example.edu': { officeHours: { timezone: 'Antarctica/Troll' } } } };
    const at = (iso: string, n: number, over: Parameters<typeof submission>[0]): MailRecord[] =>
      Array.from({ length: n }, (_, i) => submission({ ...over, at: Date.parse(iso) + i * MINUTE }));
    const records: MailRecord[] = [];
    for (let d = 10; d <= 23; d++) records.push(...at(`2026-10-${d}T08:00:00Z`, 2, bob), ...at(`2026-10-${d}T09:00:00Z`, 2, {}));
    records.push(...at('2026-10-24T22:10:00Z', 25, bob), ...at('2026-10-25T00:50:00Z', 2, {}), ...at('2026-10-25T01:05:00Z', 2, {}), ...at('2026-10-25T01:10:00Z', 25, bob));
    const bobs = (fs: readonly Finding[]): string[] => fs.filter((f) => f.account === bob.account).map((f) => `${new Date(f.at).toISOString()} ${String(f.data.condition)}`);
    const early = ['2026-10-24T22:10:00.000Z odd-hour', '2026-10-24T22:26:00.000Z day', '2026-10-24T22:29:00.000Z rate'];
    // The run ending at local 02:59 ended bob's episode of 00:xx (an hour older than its "now"); one long run never ends it.
    assert.deepEqual(bobs(inRuns(RULE, records, [], { config: zones })), early);
    const n = records.length;
    assert.deepEqual(bobs(inRuns(RULE, records, [n - 29, n - 27, n - 25], { config: zones })), [...early, '2026-10-25T01:10:00.000Z odd-hour', '2026-10-25T01:29:00.000Z rate']);
  });
});
