/**
 * odd-hours: authenticated sending outside office hours (days, hours, IANA zone; per
 * account or group overrides). One off-hours message is a weak signal (info by
 * default); a stretch of them (messages less than `gapMinutes` apart) escalates at
 * `warningMessages` and `criticalMessages`.
 */
import { z } from 'zod';
import { localParts, zoneOffset } from '../core/time.js';
import type { Submission } from '../core/types.js';
import { commonRuleOptions, DAYS, SeveritySchema } from '../config/schema.js';
import { defineRule, type ResolvedOfficeHours } from './types.js';
import { officeHoursOf } from './rule-support.js';
import { LazyAccounts, savedRows } from '../core/lazy-accounts.js';
import { sectionOf } from '../core/saved-json.js';

const Options = z.strictObject({
  ...commonRuleOptions,
  /** Severity of the first off-hours message of a stretch. */
  severity: SeveritySchema.default('info'),
  /** Off-hours messages in one stretch that make a warning. */
  warningMessages: z.number().int().positive().default(20),
  /** Off-hours messages in one stretch that make it critical. */
  criticalMessages: z.number().int().positive().default(100),
  /** Off-hours messages closer together than this belong to one stretch. */
  gapMinutes: z.number().int().positive().default(120),
});

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

const MINUTE_MS = 60_000;
const DAY_MINUTES = 1440;

/** Office hours as numbers: minutes of the day, and bit `weekday` (0 Sunday) set for each day. */
interface Hours { start: number; end: number; days: number }

/** Read once per office-hours object (the context hands out one per account or group, mostly the global one). */
const compiled = new WeakMap<ResolvedOfficeHours, Hours>();

function hoursOf(oh: ResolvedOfficeHours): Hours {
  let h = compiled.get(oh);
  if (!h) {
    let days = 0;
    DAYS.forEach((d, i) => { if (oh.days.includes(d)) days |= 1 << i; });
    h = { start: minutesOf(oh.start), end: minutesOf(oh.end), days };
    compiled.set(oh, h);
  }
  return h;
}

/**
 * True when `at` falls inside the office hours. An end before the start means a night
 * shift, and `days` are the days a shift starts: `mon`-`fri` 22:00-06:00 covers Friday
 * night into Saturday 06:00, but not Sunday night into Monday.
 */
export function withinOfficeHours(at: number, oh: ResolvedOfficeHours): boolean {
  const { start, end, days } = hoursOf(oh);
  // Local minutes since the epoch; 1 January 1970 was a Thursday (weekday 4).
  const local = Math.floor((at + zoneOffset(oh.timezone, at)) / MINUTE_MS);
  const day = Math.floor(local / DAY_MINUTES);
  const m = local - day * DAY_MINUTES;
  const weekday = (((day + 4) % 7) + 7) % 7;
  const onDay = (wd: number): boolean => (days & (1 << wd)) !== 0;
  if (start <= end) return m >= start && m < end && onDay(weekday);
  if (m >= start) return onDay(weekday);
  // After midnight: the shift began the day before.
  return m < end && onDay((weekday + 6) % 7);
}

function describe(oh: ResolvedOfficeHours): string {
  return `${oh.days.join(',')} ${oh.start}-${oh.end} ${oh.timezone}`;
}

interface Stretch {
  last: number;
  count: number;
  level: number;
}

/** Versions 1 and 2, still read when a site upgrades: version 2's stretch is `[account, last, count, level]`, version 1's an object. */
const SnapshotSchema = z.discriminatedUnion('v', [
  z.object({ v: z.literal(1), stretches: z.array(z.tuple([z.string(), z.object({ last: z.number(), count: z.number(), level: z.number() })])) }),
  z.object({ v: z.literal(2), stretches: z.array(z.tuple([z.string(), z.number(), z.number(), z.number()])) }),
]);

/** Row text (stamp: `last`): `count level`. */
const encodeRow = (st: Stretch): string => `${st.count} ${st.level}`;

function decodeRow(text: string, last: number): Stretch | undefined {
  const [count, level, ...rest] = text.split(' ').map(Number);
  if (rest.length > 0 || !Number.isInteger(count) || !Number.isInteger(level) || count === undefined || level === undefined) return undefined;
  return { last, count, level };
}

function restore(saved: unknown): LazyAccounts<Stretch> {
  const s = sectionOf(saved);
  const rows = s.v === 3 ? savedRows(s.stretches) : undefined;
  if (rows) return new LazyAccounts((text, _account, last) => decodeRow(text, last), rows);
  const stretches = new LazyAccounts<Stretch>(() => undefined);
  const r = SnapshotSchema.safeParse(saved);
  if (!r.success) return stretches;
  const old = r.data;
  if (old.v === 1) for (const [k, v] of old.stretches) stretches.set(k, v);
  else for (const [k, last, count, level] of old.stretches) stretches.set(k, { last, count, level });
  return stretches;
}

export const oddHours = defineRule({
  name: 'odd-hours',
  description: 'Sending outside configured office hours (days, hours, time zone; per account or group).',
  options: Options,
  consumes: ['submission'],
  create(opts, ctx, saved) {
    const stretches = restore(saved);
    const gapMs = opts.gapMinutes * 60_000;
    const base = opts.severity === 'critical' ? 2 : opts.severity === 'warning' ? 1 : 0;
    return {
      onRecord(r, emit) {
        const s = r as Submission;
        const oh = officeHoursOf(ctx, s.account);
        if (withinOfficeHours(s.at, oh)) return;
        let st = stretches.get(s.account);
        if (!st || s.at - st.last > gapMs) {
          st = { last: s.at, count: 0, level: -1 };
          stretches.set(s.account, st);
        }
        st.last = Math.max(st.last, s.at);
        st.count++;
        const level = st.count >= opts.criticalMessages ? 2 : st.count >= opts.warningMessages ? Math.max(1, base) : base;
        if (level <= st.level) return;
        st.level = level;
        const p = localParts(s.at, oh.timezone);
        const local = `${String(p.hour).padStart(2, '0')}:${String(p.minute).padStart(2, '0')}`;
        emit({
          rule: 'odd-hours', account: s.account, at: s.at,
          severity: level === 2 ? 'critical' : level === 1 ? 'warning' : 'info',
          message: st.count === 1
            ? `sent at ${local} ${oh.timezone}, outside office hours (${describe(oh)})`
            : `${st.count} messages outside office hours (${describe(oh)}), latest at ${local}`,
          data: { local_time: local, timezone: oh.timezone, messages: st.count },
          evidence: s.evidence.slice(0, 3),
        });
      },
      snapshot() {
        const latest = stretches.latest((st) => st.last);
        return { v: 3, stretches: stretches.rows((st) => st.last, (last) => latest - last <= gapMs, encodeRow) };
      },
    };
  },
});
