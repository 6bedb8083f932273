/**
 * odd-hours. Global office hours: Mon-Fri 07:00-19:00 Europe/Berlin (CET, UTC+1,
 * until 29 March 2026 01:00 UTC; CEST, UTC+2, until 25 October 2026 01:00 UTC).
 * Times in the tables are UTC; comments give the local time.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Finding, MailRecord } from '../../src/core/types.js';
import { parseConfig, resolveContext } from '../../src/config/load.js';
import { rules } from '../../src/rules/index.js';
import { burst, MINUTE, ruleTester, runRule, submission, type ExpectedFinding } from '../helpers/records.js';
import { assertOnlyRowChanged, brief, inRuns, withoutRow, withRowText } from './harness.js';
import fc from 'fast-check';
import { localParts } from '../../src/core/time.js';
import { DAYS } from '../../src/config/schema.js';
import { withinOfficeHours } from '../../src/rules/odd-hours.js';
import type { ResolvedOfficeHours } from '../../src/rules/types.js';

const RULE = 'odd-hours';
const BERLIN = 'Europe/Berlin';
const NY = 'America/New_York';
const ALL_DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

const NURSE = 'nurse@example.edu';
const PROF = 'prof@example.edu';
const LEAD = 'lead@example.edu';
const TEMP = 'temp@example.edu';

const SITE = {
  officeHours: { timezone: BERLIN },
  groups: {
    night: { officeHours: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '22:00', end: '06:00', timezone: BERLIN } },
    plain: { trustedNetworks: ['198.51.100.0/24'] },
  },
  accounts: {
    [NURSE]: { groups: ['night'] },
    [PROF]: { officeHours: { start: '08:00', end: '18:00', timezone: NY } },
    [LEAD]: { groups: ['night'], officeHours: { timezone: BERLIN } },
    [TEMP]: { groups: ['plain', 'night'] },
  },
};
const site = (options: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ ...SITE, ...extra, rules: { [RULE]: options } });
const everyDay = (over: Record<string, unknown> = {}): Record<string, unknown> => site({}, { officeHours: { timezone: BERLIN, days: ALL_DAYS, ...over } });

const at = (iso: string): number => Date.parse(iso);
const sent = (iso: string, account?: string) => submission({ at: at(iso), ...(account ? { account } : {}) });

const off = (local: string, more: Partial<ExpectedFinding> = {}, timezone = BERLIN): ExpectedFinding =>
  ({ severity: 'info', ...more, data: { local_time: local, timezone, messages: 1, ...more.data } });

ruleTester(RULE, {
  valid: [
    { name: 'Wednesday 11:00', config: site(), records: [sent('2026-03-04T10:00:00Z')] },
    { name: 'Wednesday 07:00 exactly (start is inclusive)', config: site(), records: [sent('2026-03-04T06:00:00Z')] },
    { name: 'Wednesday 18:59', config: site(), records: [sent('2026-03-04T17:59:59Z')] },
    { name: 'Friday 18:30', config: site(), records: [sent('2026-03-06T17:30:00Z')] },
    { name: 'summer time: Wednesday 1 July 07:30 CEST (05:30Z)', config: site(), records: [sent('2026-07-01T05:30:00Z')] },
    { name: 'DST spring: Sunday 29 March 07:30 CEST (05:30Z), every day open', config: everyDay(), records: [sent('2026-03-29T05:30:00Z')] },
    { name: 'DST spring: Sunday 29 March 18:30 CEST (16:30Z)', config: everyDay(), records: [sent('2026-03-29T16:30:00Z')] },
    { name: 'DST autumn: Sunday 25 October 07:30 CET (06:30Z)', config: everyDay(), records: [sent('2026-10-25T06:30:00Z')] },
    { name: 'DST autumn: Sunday 25 October 18:30 CET (17:30Z)', config: everyDay(), records: [sent('2026-10-25T17:30:00Z')] },
    { name: 'DST autumn: Saturday 24 October 07:30 CEST (05:30Z)', config: everyDay(), records: [sent('2026-10-24T05:30:00Z')] },
    { name: 'weekend office: Saturday 11:00 with days sat,sun', config: site({}, { officeHours: { timezone: BERLIN, days: ['sat', 'sun'] } }), records: [sent('2026-03-07T10:00:00Z')] },
    { name: '00:00-24:00 every day: Sunday 03:00', config: everyDay({ start: '00:00', end: '24:00' }), records: [sent('2026-03-08T02:00:00Z')] },
    { name: 'night shift (group): Wednesday 23:30', config: site(), records: [sent('2026-03-04T22:30:00Z', NURSE)] },
    { name: 'night shift: Thursday 03:00 (Wednesday night)', config: site(), records: [sent('2026-03-05T02:00:00Z', NURSE)] },
    { name: 'night shift: Saturday 03:00 is Friday night\'s shift', config: site(), records: [sent('2026-03-07T02:00:00Z', NURSE)] },
    { name: 'night shift: Saturday 05:59', config: site(), records: [sent('2026-03-07T04:59:00Z', NURSE)] },
    { name: 'night shift: Monday 22:00 exactly', config: site(), records: [sent('2026-03-09T21:00:00Z', NURSE)] },
    { name: 'per-account zone: Wednesday 17:30 in New York (23:30 in Berlin)', config: site(), records: [sent('2026-03-04T22:30:00Z', PROF)] },
    { name: 'first group that has office hours applies', config: site(), records: [sent('2026-03-04T22:30:00Z', TEMP)] },
    { name: 'account office hours beat its group\'s: Wednesday 11:00', config: site(), records: [sent('2026-03-04T10:00:00Z', LEAD)] },
    {
      name: 'top-level timezone when office hours name none: Wednesday 09:30 in Tokyo (00:30Z)',
      config: { timezone: 'Asia/Tokyo' },
      records: [sent('2026-03-04T00:30:00Z')],
    },
    { name: 'one message at Saturday 11:00 is only noted (info)', config: site(), records: [sent('2026-03-07T10:00:00Z')], allowInfo: true },
    { name: '19 off-hours messages in a stretch stay info', config: site(), records: burst(19, at('2026-03-07T10:00:00Z'), 5 * MINUTE), allowInfo: true },
    {
      name: 'in-hours messages around an off-hours one do not count',
      config: site(),
      records: [...burst(50, at('2026-03-04T10:00:00Z'), MINUTE), sent('2026-03-04T18:30:00Z'), ...burst(50, at('2026-03-05T10:00:00Z'), MINUTE)],
      allowInfo: true,
    },
  ],
  invalid: [
    {
      name: 'Wednesday 06:59',
      config: site(),
      records: [sent('2026-03-04T05:59:00Z')],
      findings: [off('06:59', { message: 'sent at 06:59 Europe/Berlin, outside office hours (mon,tue,wed,thu,fri 07:00-19:00 Europe/Berlin)' })],
    },
    { name: 'Wednesday 19:00 (end is exclusive)', config: site(), records: [sent('2026-03-04T18:00:00Z')], findings: [off('19:00')] },
    { name: 'Saturday 11:00 (weekend)', config: site(), records: [sent('2026-03-07T10:00:00Z')], findings: [off('11:00')] },
    { name: 'Sunday 11:00 (weekend)', config: site(), records: [sent('2026-03-08T10:00:00Z')], findings: [off('11:00')] },
    { name: 'Wednesday 00:30 local is Tuesday 23:30 UTC', config: site(), records: [sent('2026-03-03T23:30:00Z')], findings: [off('00:30')] },
    { name: 'summer time: Wednesday 1 July 06:30 CEST (04:30Z)', config: site(), records: [sent('2026-07-01T04:30:00Z')], findings: [off('06:30')] },
    { name: 'DST spring: Saturday 28 March 06:30 CET (05:30Z)', config: everyDay(), records: [sent('2026-03-28T05:30:00Z')], findings: [off('06:30')] },
    { name: 'DST spring: Sunday 29 March 06:30 CEST (04:30Z)', config: everyDay(), records: [sent('2026-03-29T04:30:00Z')], findings: [off('06:30')] },
    { name: 'DST spring: Sunday 29 March 03:00 CEST, just after the skipped hour (01:00Z)', config: everyDay(), records: [sent('2026-03-29T01:00:00Z')], findings: [off('03:00')] },
    { name: 'DST spring: Sunday 29 March 19:00 CEST (17:00Z)', config: everyDay(), records: [sent('2026-03-29T17:00:00Z')], findings: [off('19:00')] },
    { name: 'DST autumn: Saturday 24 October 19:30 CEST (17:30Z)', config: everyDay(), records: [sent('2026-10-24T17:30:00Z')], findings: [off('19:30')] },
    { name: 'DST autumn: Sunday 25 October 19:30 CET (18:30Z)', config: everyDay(), records: [sent('2026-10-25T18:30:00Z')], findings: [off('19:30')] },
    { name: 'DST autumn: Sunday 25 October 06:30 CET (05:30Z)', config: everyDay(), records: [sent('2026-10-25T05:30:00Z')], findings: [off('06:30')] },
    { name: 'DST autumn: the repeated hour, 02:30 CET (01:30Z)', config: everyDay(), records: [sent('2026-10-25T01:30:00Z')], findings: [off('02:30')] },
    { name: 'weekend office: Monday 11:00 with days sat,sun', config: site({}, { officeHours: { timezone: BERLIN, days: ['sat', 'sun'] } }), records: [sent('2026-03-09T10:00:00Z')], findings: [off('11:00')] },
    { name: 'night shift: Wednesday 12:00', config: site(), records: [sent('2026-03-04T11:00:00Z', NURSE)], findings: [off('12:00', { account: NURSE })] },
    { name: 'night shift: Monday 03:00 is Sunday night, no shift', config: site(), records: [sent('2026-03-09T02:00:00Z', NURSE)], findings: [off('03:00', { account: NURSE })] },
    { name: 'night shift: Saturday 22:30, no shift starts on Saturday', config: site(), records: [sent('2026-03-07T21:30:00Z', NURSE)], findings: [off('22:30', { account: NURSE })] },
    { name: 'night shift: Thursday 06:00 (end is exclusive)', config: site(), records: [sent('2026-03-05T05:00:00Z', NURSE)], findings: [off('06:00', { account: NURSE })] },
    { name: 'night shift: Wednesday 21:59', config: site(), records: [sent('2026-03-04T20:59:00Z', NURSE)], findings: [off('21:59', { account: NURSE })] },
    {
      name: 'per-account zone: Wednesday 06:30 in New York (12:30 in Berlin)',
      config: site(),
      records: [sent('2026-03-04T11:30:00Z', PROF)],
      findings: [off('06:30', { account: PROF }, NY)],
    },
    { name: 'per-account hours 08:00-18:00: Wednesday 18:00 in New York', config: site(), records: [sent('2026-03-04T23:00:00Z', PROF)], findings: [off('18:00', { account: PROF }, NY)] },
    { name: 'account office hours beat its group\'s: Wednesday 23:30', config: site(), records: [sent('2026-03-04T22:30:00Z', LEAD)], findings: [off('23:30', { account: LEAD })] },
    { name: 'first group with office hours: Wednesday 12:00 is outside the night shift', config: site(), records: [sent('2026-03-04T11:00:00Z', TEMP)], findings: [off('12:00', { account: TEMP })] },
    {
      name: 'a stretch of 20 messages: info, then warning at 20',
      config: site(),
      records: burst(25, at('2026-03-07T10:00:00Z'), 5 * MINUTE),
      findings: [off('11:00'), { severity: 'warning', at: at('2026-03-07T11:35:00Z'), data: { messages: 20, local_time: '12:35' } }],
    },
    {
      name: 'a stretch of 100 messages: info, warning at 20, critical at 100',
      config: site(),
      records: burst(150, at('2026-03-07T01:00:00Z'), MINUTE),
      findings: [off('02:00'), { severity: 'warning', data: { messages: 20 } }, { severity: 'critical', data: { messages: 100, local_time: '03:39' } }],
    },
    {
      name: 'off-hours messages more than 120 minutes apart are separate stretches',
      config: site(),
      records: [sent('2026-03-07T10:00:00Z'), sent('2026-03-07T12:01:00Z')],
      findings: [off('11:00'), off('13:01')],
    },
    {
      name: 'off-hours messages exactly 120 minutes apart are one stretch',
      config: site(),
      records: [sent('2026-03-07T10:00:00Z'), sent('2026-03-07T12:00:00Z')],
      findings: [off('11:00')],
    },
    {
      name: 'a Friday-evening stretch runs on past midnight into Saturday',
      config: site({ warningMessages: 3 }),
      records: [sent('2026-03-06T22:00:00Z'), sent('2026-03-06T23:30:00Z'), sent('2026-03-07T00:30:00Z')],
      findings: [off('23:00'), { severity: 'warning', data: { messages: 3, local_time: '01:30' } }],
    },
    {
      name: 'severity warning, warningMessages 3, criticalMessages 5',
      config: site({ severity: 'warning', warningMessages: 3, criticalMessages: 5 }),
      records: burst(8, at('2026-03-07T10:00:00Z'), MINUTE),
      findings: [off('11:00', { severity: 'warning' }), { severity: 'critical', data: { messages: 5 } }],
    },
    {
      name: 'each account has its own stretch',
      config: site({ warningMessages: 2 }),
      records: [sent('2026-03-07T10:00:00Z'), sent('2026-03-07T10:01:00Z', 'bob@example.edu'), sent('2026-03-07T10:02:00Z')],
      findings: [off('11:00'), off('11:01', { account: 'bob@example.edu' }), { severity: 'warning', data: { messages: 2 } }],
    },
  ],
});

describe(`${RULE}: withinOfficeHours`, () => {
  const oh = (o: Partial<ResolvedOfficeHours>): ResolvedOfficeHours => ({ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '07:00', end: '19:00', timezone: 'UTC', ...o });

  it('a night shift on every day covers the whole night, every night', () => {
    const night = oh({ days: ALL_DAYS as ResolvedOfficeHours['days'], start: '22:00', end: '06:00' });
    for (let d = 1; d <= 7; d++) {
      const day = `2026-03-0${d}`;
      assert.equal(withinOfficeHours(at(`${day}T23:00:00Z`), night), true, `${day} 23:00`);
      assert.equal(withinOfficeHours(at(`${day}T05:59:00Z`), night), true, `${day} 05:59`);
      assert.equal(withinOfficeHours(at(`${day}T12:00:00Z`), night), false, `${day} 12:00`);
    }
  });

  it('start equal to end never matches; 00:00-24:00 always does', () => {
    assert.equal(withinOfficeHours(at('2026-03-04T07:00:00Z'), oh({ start: '07:00', end: '07:00' })), false);
    assert.equal(withinOfficeHours(at('2026-03-04T23:59:00Z'), oh({ start: '00:00', end: '24:00' })), true);
    assert.equal(withinOfficeHours(at('2026-03-04T00:00:00Z'), oh({ start: '00:00', end: '24:00' })), true);
  });

  it('uses the zone\'s offset at that instant, not at a fixed one', () => {
    const h = oh({ timezone: BERLIN, days: ALL_DAYS as ResolvedOfficeHours['days'] });
    // 06:00Z is 07:00 CET before the change and 08:00 CEST after; 05:00Z is 06:00 CET / 07:00 CEST.
    assert.equal(withinOfficeHours(at('2026-03-28T05:00:00Z'), h), false);
    assert.equal(withinOfficeHours(at('2026-03-29T05:00:00Z'), h), true);
    assert.equal(withinOfficeHours(at('2026-10-24T05:00:00Z'), h), true);
    assert.equal(withinOfficeHours(at('2026-10-25T05:00:00Z'), h), false);
  });

  it('answers as the calendar does: local parts of the instant, for any hours, days and zone', () => {
    // The rule reads the hours once as numbers; this is the reading it replaced.
    const reference = (t: number, o: ResolvedOfficeHours): boolean => {
      const p = localParts(t, o.timezone);
      const m = p.hour * 60 + p.minute;
      const minutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
      const onDay = (wd: number): boolean => o.days.includes(DAYS[wd] ?? 'sun');
      const [start, end] = [minutes(o.start), minutes(o.end)];
      if (start <= end) return m >= start && m < end && onDay(p.weekday);
      if (m >= start) return onDay(p.weekday);
      return m < end && onDay((p.weekday + 6) % 7);
    };
    const hhmm = fc.tuple(fc.integer({ min: 0, max: 24 }), fc.constantFrom(0, 1, 30, 59)).map(([h, m]) => `${String(h).padStart(2, '0')}:${String(h === 24 ? 0 : m).padStart(2, '0')}`);
    const hours = fc.record({
      days: fc.subarray([...DAYS]), start: hhmm, end: hhmm, timezone: fc.constantFrom('UTC', BERLIN, NY, 'Asia/Kolkata', 'Australia/Lord_Howe', 'Pacific/Chatham'),
    });
    fc.assert(fc.property(fc.integer({ min: Date.parse('2000-01-01'), max: Date.parse('2040-01-01') }), hours, (t, o) => {
      assert.equal(withinOfficeHours(t, o), reference(t, o));
    }), { numRuns: 5000 });
  });
});

describe(`${RULE}: state`, () => {
  const SATURDAY = Date.parse('2026-03-07T10:00:00Z');
  const ALICE = 'alice@example.edu';
  const v2 = { v: 2, stretches: [[ALICE, SATURDAY, 19, 0]] };
  const v1 = { v: 1, stretches: [[ALICE, { last: SATURDAY, count: 19, level: 0 }]] };

  it('a stretch saved as a tuple (version 2) or as an object (version 1) goes on in the next run', () => {
    const next = [submission({ at: SATURDAY + 10 * MINUTE })];
    const fromV2 = runRule(RULE, {}, next, { saved: { [RULE]: v2 } });
    assert.deepEqual(fromV2.map((f) => [f.severity, f.data.messages]), [['warning', 20]]);
    assert.deepEqual(runRule(RULE, {}, next, { saved: { [RULE]: v1 } }), fromV2);
  });
});

describe(`${RULE}: state across cron runs, rows decoded only for the accounts a run touches`, () => {
  type Rows = [string, number, string][];
  const SATURDAY = Date.parse('2026-03-07T10:00:00Z');
  const BOB = 'bob@example.edu';
  const rule = rules.find((r) => r.name === RULE);
  assert.ok(rule);
  const ctx = resolveContext(parseConfig({ timezone: 'UTC', ...SITE }));
  /** The snapshot (through JSON) after `records` read by an instance restored from `saved`, and its findings. */
  const run = (records: readonly MailRecord[], saved?: unknown): { state: { v: number; stretches: Rows }; findings: Finding[] } => {
    const inst = rule.instantiate({}, ctx, saved);
    const findings: Finding[] = [];
    for (const r of records) inst.onRecord(r, (f) => findings.push(f));
    return { state: JSON.parse(JSON.stringify(inst.snapshot?.())) as { v: number; stretches: Rows }, findings };
  };
  const records = [
    ...burst(25, SATURDAY, 3 * MINUTE), ...burst(3, SATURDAY + MINUTE, 50 * MINUTE, { account: BOB }),
    ...burst(2, SATURDAY + 8 * 60 * MINUTE, MINUTE, { account: NURSE }), ...burst(21, SATURDAY + 9 * 60 * MINUTE, 2 * MINUTE),
  ].sort((a, b) => a.at - b.at);

  it('a snapshot restored (through JSON) at any cut gives the findings of one long run', () => {
    const whole = brief(inRuns(RULE, records, [], { config: SITE }));
    assert.equal(whole.length, 6, whole.join('\n'));
    for (let cut = 1; cut < records.length; cut++) assert.deepEqual(brief(inRuns(RULE, records, [cut], { config: SITE })), whole, `cut after ${cut}`);
    assert.deepEqual(brief(inRuns(RULE, records, [5, 20, 27, 30, 40], { config: SITE })), whole);
  });

  it('gives back its rows unchanged when a run reads nothing', () => {
    const { state } = run(records.slice(0, 30));
    assert.equal(state.v, 3);
    assert.deepEqual(run([], state).state, state);
  });

  it('a run touching one account changes only that account\'s row', () => {
    const { state } = run(records.slice(0, 26));
    const after = run([submission({ account: BOB, at: SATURDAY + 3 * 60 * MINUTE })], state).state;
    assertOnlyRowChanged(state.stretches, after.stretches, BOB, 1);
  });

  it('a damaged row drops only its account', () => {
    const { state } = run(records.slice(0, 26));
    const rest = [...burst(3, SATURDAY + 200 * MINUTE, MINUTE), ...burst(2, SATURDAY + 200 * MINUTE, MINUTE, { account: BOB })];
    for (const bad of ['', '19', '19 x', '1 2 3']) {
      const damaged = { ...state, stretches: withRowText(state.stretches, BOB, bad) };
      const fresh = { ...state, stretches: withoutRow(state.stretches, BOB) };
      assert.deepEqual(brief(run(rest, damaged).findings), brief(run(rest, fresh).findings), bad);
      assert.deepEqual(run(rest, damaged).state, run(rest, fresh).state, bad);
    }
  });
});
