/**
 * volume-baseline: each account's own normal sending, learned from log time, and the
 * hours that break it.
 *
 * What is learned, per account and local day (the account's office-hours zone) of the
 * last `historyDays`: the busiest clock hour's message count (the day's peak) and a
 * 24-bit mask of the hours it sent in. That is three small integers per active day.
 * Hour-of-week counts were the alternative; with four samples per slot in four weeks
 * their median is noise, while a day's peak has up to 28 samples.
 *
 * The account's usual busiest hour is the larger of
 *   - median + 3 x 1.4826 x MAD of its daily peaks (robust: one odd day moves neither), and
 *   - its largest peak on the same weekday (a weekly routine, Monday's newsletter, is normal);
 * an hour with `warningFactor` times that is a warning, `criticalFactor` times critical,
 * never below `minMessages` / `criticalMinMessages`: the floor that keeps a quiet
 * account (two messages a day) from flapping on five.
 *
 * An hour at or above the warning level is learned only up to just below it, so a spam
 * run does not teach the baseline that spam is normal; a real change of habit, above it
 * on most days, still moves the median.
 *
 * Odd hours: sending in an hour of the day, or on a weekday, the account has not used in
 * its history (with at least `oddHoursMinActiveDays` active days): info, once per stretch
 * of consecutive odd hours.
 *
 * Warm-up: nothing is reported until the account was first seen `warmupDays` before.
 * An account whose history holds no sending (back after a long silence) has a usual
 * hour of zero, so only the floors apply to it.
 *
 * A slow drip (a few messages an hour above normal, all afternoon) never makes an hour
 * stand out, so each day's total is learned as well, for the last DAY_TOTAL_DAYS days:
 * the messages of the local day so far are a warning (once a day) at `dayFactor` times
 * the median of the account's daily totals, at least that median plus 4 x 1.4826 x
 * their MAD (its own day-to-day noise), and at least `dayMinExcess` messages above the
 * median (the floor: two a day is not reported for five). It needs only
 * `dayMinActiveDays` active days in that history, not `warmupDays`: a daily total is a
 * coarse, stable figure, and a drip should not get a week's grace. A day's total is
 * learned as it was (a spam day included); the median of the week's active days
 * ignores one or two such days.
 */
import { z } from 'zod';
import { zoneOffset } from '../core/time.js';
import { SEVERITY_RANK, type Submission } from '../core/types.js';
import { commonRuleOptions } from '../config/schema.js';
import { defineRule } from './types.js';
import { officeHoursOf } from './rule-support.js';
import { LazyAccounts, savedRows } from '../core/lazy-accounts.js';
import { isFiniteNumber, isNumberList } from '../core/saved-json.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/** An account not seen for this long is forgotten (and warms up again if it comes back). */
const IDLE_DAYS_KEPT = 365;
/** Hours kept open for late records (correlators finish messages slightly out of order). */
const OPEN_HOURS = 3;
/** Days of daily totals kept and learned from (the day comparison): one weekly cycle, and seven small numbers of state. */
const DAY_TOTAL_DAYS = 7;
/**
 * MADs (scaled to a standard deviation) above the median daily total the day must be: 4,
 * not the hour's 3, because daily totals of an irregular sender spread wide (16, 45, 14,
 * 25 a day is one ordinary account's week).
 */
const DAY_MAD_FACTOR = 4;

const Options = z.strictObject({
  ...commonRuleOptions,
  /** Days of history the baseline is learned from (the current day is not part of it). */
  historyDays: z.number().int().min(7).max(90).default(28),
  /** Days an account must have been seen before anything is reported. */
  warmupDays: z.number().min(0).default(7),
  /** An hour is a warning at this many times the account's usual busiest hour ... */
  warningFactor: z.number().min(1).default(3),
  /** ... but never below this many messages in the hour. */
  minMessages: z.number().int().positive().default(20),
  /** An hour is critical at this many times the usual busiest hour ... */
  criticalFactor: z.number().min(1).default(10),
  /** ... but never below this many messages in the hour. */
  criticalMinMessages: z.number().int().positive().default(60),
  /** Report sending at an hour of the day or on a weekday the account has not used (info). */
  oddHours: z.boolean().default(true),
  /** Active days the history must hold before an hour can be odd for the account. */
  oddHoursMinActiveDays: z.number().int().min(1).default(5),
  /** The day so far is a warning at this many times the median of the account's daily totals ... */
  dayFactor: z.number().min(1).default(2),
  /** ... and at least this many messages above that median. */
  dayMinExcess: z.number().int().positive().default(15),
  /** Active days (of the last 7) the daily totals must hold before the day comparison reports. */
  dayMinActiveDays: z.number().int().min(1).max(7).default(3),
});
type Opts = z.output<typeof Options>;

interface DayStat {
  peak: number;
  /** Messages in the day. */
  total: number;
  /** Bit h set: sent in local hour h. */
  mask: number;
}

interface Baseline {
  /** Local day (days since epoch) first seen. */
  since: number;
  /** Local day last seen. */
  last: number;
  days: Map<number, DayStat>;
  /** Local hour index -> messages, for the last OPEN_HOURS hours. */
  hours: Map<number, number>;
  /** Severity rank reported in the current episode of busy hours (-1: none) and the last hour at warning or above. */
  level: number;
  levelHour: number;
  /** Last local hour reported as odd, so a stretch of odd hours is one finding. */
  oddHour: number;
  /** Last local day whose total was reported (one finding a day). */
  dayReported: number;
  /** What the history says about the day of the latest record, until a late record changes that history. */
  usual?: Usual | undefined;
}

/** What the history says about one day, computed once per account and day (it excludes the day itself). */
interface Usual {
  day: number;
  activeDays: number;
  median: number;
  mad: number;
  /** Largest peak on this day's weekday. */
  weekdayMax: number;
  usualHour: number;
  warning: number;
  critical: number;
  hoursUsed: number;
  weekdaysUsed: number;
  /** Daily totals of the last DAY_TOTAL_DAYS days: active days, median, MAD, warning level. */
  totalDays: number;
  medianTotal: number;
  madTotal: number;
  dayWarning: number;
}

/** The snapshot before accounts were saved as rows: still read, so an upgraded site keeps its history. */
const SnapshotV1Schema = z.object({
  v: z.literal(1),
  historyDays: z.number(),
  /** The newest record's time (UTC ms): each account's "now" in its own zone, for pruning. */
  latestAt: z.number(),
  /**
   * [account, since, last, peaks, masks, [hour, count, ...], level, levelHour, oddHour, totals, dayReported]:
   * `peaks[i]` is day `last - i` (0 when idle), `masks` the same days' hour masks as
   * base64url, three bytes a day, `totals` the same days' message counts (the newest
   * DAY_TOTAL_DAYS + 1 only). Dense arrays cost less than day numbers when most days are
   * active, and the oldest idle days are left off.
   */
  accounts: z.array(z.tuple([
    z.string(), z.number(), z.number(), z.array(z.number()), z.string(), z.array(z.number()), z.number(), z.number(), z.number(), z.array(z.number()), z.number(),
  ])),
});
type SavedAccount = z.output<typeof SnapshotV1Schema>['accounts'][number];
/** A saved account without its name. */
type SavedBaseline = SavedAccount extends readonly [string, ...infer Rest] ? Rest : never;

/**
 * Rows `[account, stamp, text]`: `stamp` is `latestAt` when the account was last written,
 * `text` its SavedBaseline (see encodeBaseline). `marks` are the `latestAt` of the
 * snapshots of the last MARK_MS: a row decoded later is pruned as each of them would
 * have pruned it.
 */
const SnapshotSchema = z.object({
  v: z.literal(2),
  historyDays: z.number(),
  latestAt: z.number(),
  marks: z.array(z.number()),
  accounts: z.unknown(),
});

/**
 * Snapshots older than this before the last one never prune more than it does: local
 * time only runs backwards at an offset change, by at most 2 hours (Antarctica/Troll).
 */
const MARK_MS = 3 * HOUR;

export function median(sorted: readonly number[]): number {
  if (sorted.length === 0) return 0;
  const m = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[m] ?? 0) : ((sorted[m - 1] ?? 0) + (sorted[m] ?? 0)) / 2;
}

/** 1 January 1970 was a Thursday. */
const weekdayOf = (day: number): number => (day + 4) % 7;

/** The account's usual busiest hour and levels for `day`, from the days before it. */
function usualFor(b: Baseline, day: number, o: Opts): Usual {
  const peaks: number[] = [];
  const totals: number[] = [];
  let weekdayMax = 0;
  let hoursUsed = 0;
  let weekdaysUsed = 0;
  for (const [d, s] of b.days) {
    if (d >= day || d < day - o.historyDays) continue;
    if (d >= day - DAY_TOTAL_DAYS && s.total > 0) totals.push(s.total);
    peaks.push(s.peak);
    hoursUsed |= s.mask;
    weekdaysUsed |= 1 << weekdayOf(d);
    if (weekdayOf(d) === weekdayOf(day)) weekdayMax = Math.max(weekdayMax, s.peak);
  }
  peaks.sort((a, b) => a - b);
  const med = median(peaks);
  const mad = median(peaks.map((p) => Math.abs(p - med)).sort((a, b) => a - b));
  const usualHour = Math.max(med + 3 * 1.4826 * mad, weekdayMax);
  totals.sort((a, b) => a - b);
  const medT = median(totals);
  const madT = median(totals.map((t) => Math.abs(t - medT)).sort((a, b) => a - b));
  return {
    day, activeDays: peaks.length, median: med, mad, weekdayMax, usualHour, hoursUsed, weekdaysUsed,
    totalDays: totals.length, medianTotal: medT, madTotal: madT,
    dayWarning: Math.ceil(Math.max(o.dayFactor * medT, medT + DAY_MAD_FACTOR * 1.4826 * madT, medT + o.dayMinExcess)),
    warning: Math.max(o.minMessages, Math.ceil(o.warningFactor * usualHour)),
    critical: Math.max(o.criticalMinMessages, Math.ceil(o.criticalFactor * usualHour)),
  };
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** Days from `oldest` to `last` as dense peaks (newest first) and base64url hour masks; the oldest idle days are left off. */
function encodeDays(last: number, days: ReadonlyMap<number, DayStat>, oldest: number): [number[], string, number[]] {
  let n = 0;
  for (const [d, st] of days) if (d >= oldest && d <= last && st.peak > 0) n = Math.max(n, last - d + 1);
  const peaks = new Array<number>(n).fill(0);
  const masks = Buffer.alloc(3 * n);
  const totals = new Array<number>(Math.min(n, DAY_TOTAL_DAYS + 1)).fill(0);
  for (const [d, st] of days) {
    const i = last - d;
    if (i < 0 || i >= n) continue;
    peaks[i] = st.peak;
    masks.writeUIntBE(st.mask, 3 * i, 3);
    if (i < totals.length) totals[i] = st.total;
  }
  return [peaks, masks.toString('base64url'), totals];
}

function decodeDays(last: number, peaks: readonly number[], masks: string, totals: readonly number[]): Map<number, DayStat> {
  const bytes = Buffer.from(masks, 'base64url');
  const days = new Map<number, DayStat>();
  peaks.forEach((peak, i) => {
    if (peak > 0 && bytes.length >= 3 * (i + 1)) days.set(last - i, { peak, total: totals[i] ?? 0, mask: bytes.readUIntBE(3 * i, 3) });
  });
  return days;
}

/** An account's local hour and day at `at` (UTC ms). */
function localNow(tz: string, at: number): [hour: number, day: number] {
  const local = at + zoneOffset(tz, at);
  return [Math.floor(local / HOUR), Math.floor(local / DAY)];
}

/** What a snapshot at local `nowHour` / `nowDay` keeps of the account; undefined once it has been idle too long. */
function savedBaseline(b: Baseline, nowHour: number, nowDay: number, historyDays: number): SavedBaseline | undefined {
  if (nowDay - b.last > IDLE_DAYS_KEPT) return undefined;
  const [peaks, masks, totals] = encodeDays(b.last, b.days, nowDay - historyDays);
  const flatHours: number[] = [];
  for (const [h, c] of b.hours) if (h > nowHour - OPEN_HOURS) flatHours.push(h, c);
  // Episodes end after a quiet hour: one older than that is nothing to continue.
  const live = (h: number): boolean => h >= nowHour - 1;
  return [
    b.since, b.last, peaks, masks, flatHours,
    live(b.levelHour) ? b.level : -1, live(b.levelHour) ? b.levelHour : -1, live(b.oddHour) ? b.oddHour : -1,
    totals, b.dayReported >= nowDay - 1 ? b.dayReported : -1,
  ];
}

function restoredBaseline([since, last, peaks, masks, flatHours, level, levelHour, oddHour, totals, dayReported]: SavedBaseline): Baseline {
  const days = decodeDays(last, peaks, masks, totals);
  const hours = new Map<number, number>();
  for (let i = 0; i + 1 < flatHours.length; i += 2) hours.set(flatHours[i] ?? 0, flatHours[i + 1] ?? 0);
  return { since, last, days, hours, level, levelHour, oddHour, dayReported };
}

/**
 * A row's text: the numbers as JSON, then the masks (base64url has no `]` and no `"` to
 * escape). `last` is counted back from the day of `stamp` and `since` back from `last`,
 * the open hours from the start of `last`: small numbers near them. The episode marks,
 * mostly -1, come last and are left off while they are -1 (the open hours too while none).
 */
function encodeBaseline([since, last, peaks, masks, flatHours, level, levelHour, oddHour, totals, dayReported]: SavedBaseline, stamp: number): string {
  const hours = flatHours.map((v, i) => (i % 2 ? v : v - last * 24));
  const tail: (number | number[])[] = [hours, level, levelHour, oddHour, dayReported];
  while (tail.length > 0 && (tail.at(-1) === -1 || (tail.length === 1 && hours.length === 0))) tail.pop();
  return JSON.stringify([Math.floor(stamp / DAY) - last, last - since, peaks, totals, ...tail]) + masks;
}

/** The SavedBaseline encodeBaseline wrote, or undefined for a damaged row. */
export function decodeBaseline(text: string, stamp: number): SavedBaseline | undefined {
  const end = text.lastIndexOf(']') + 1;
  const masks = text.slice(end);
  if (!/^[\w-]*$/.test(masks)) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text.slice(0, end));
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || v.length < 4 || v.length > 9) return undefined;
  const [lastBack, sinceBack, peaks, totals, hours = [], level = -1, levelHour = -1, oddHour = -1, dayReported = -1] = v as unknown[];
  if (!isFiniteNumber(lastBack) || !isFiniteNumber(sinceBack) || !isNumberList(peaks) || !isNumberList(totals) || !isNumberList(hours) || !isFiniteNumber(level) || !isFiniteNumber(levelHour) || !isFiniteNumber(oddHour) || !isFiniteNumber(dayReported)) return undefined;
  const last = Math.floor(stamp / DAY) - lastBack;
  const flatHours = hours.map((h, i) => (i % 2 ? h : h + last * 24));
  return [last - sinceBack, last, peaks, masks, flatHours, level, levelHour, oddHour, totals, dayReported];
}

/**
 * The latest local hour and day of the snapshots since `stamp` (in `marks`): pruning by
 * each in turn keeps what pruning by the latest of them keeps.
 */
function prunedBy(tz: string, marks: readonly number[], stamp: number): [hour: number, day: number] | undefined {
  let hour = -Infinity;
  let day = -Infinity;
  for (const m of marks) {
    if (m < stamp) continue;
    const [h, d] = localNow(tz, m);
    hour = Math.max(hour, h);
    day = Math.max(day, d);
  }
  return hour === -Infinity ? undefined : [hour, day];
}

export const volumeBaseline = defineRule({
  name: 'volume-baseline',
  description: 'Messages per hour, and per day so far, far above the account\'s own learned normal (median and MAD of its daily busiest hour, per weekday, and of its daily totals), and sending at hours it never uses.',
  options: Options,
  consumes: ['submission'],
  create(opts, ctx, saved) {
    let latestAt = 0;
    /** Marks of the snapshot restored: where a row decoded in this run was last pruned. */
    let marks: readonly number[] = [];
    const decode = (text: string, account: string, stamp: number): Baseline | undefined => {
      const row = decodeBaseline(text, stamp);
      const now = row && prunedBy(ctx.officeHoursOf(account).timezone, marks, stamp);
      // Pruned as the snapshots since it was written would have pruned it, had it been restored in each.
      const pruned = row && now && savedBaseline(restoredBaseline(row), now[0], now[1], opts.historyDays);
      return pruned && restoredBaseline(pruned);
    };
    let accounts = new LazyAccounts(decode);
    const restored = SnapshotSchema.safeParse(saved);
    const rows = restored.success && restored.data.historyDays === opts.historyDays ? savedRows(restored.data.accounts) : undefined;
    if (restored.success && rows) {
      latestAt = restored.data.latestAt;
      marks = restored.data.marks;
      accounts = new LazyAccounts(decode, rows);
    }
    const restoredV1 = restored.success ? undefined : SnapshotV1Schema.safeParse(saved);
    if (restoredV1?.success && restoredV1.data.historyDays === opts.historyDays) {
      latestAt = restoredV1.data.latestAt;
      for (const [account, ...rest] of restoredV1.data.accounts) accounts.set(account, restoredBaseline(rest));
    }

    const usualOf = (b: Baseline, day: number): Usual => {
      let u = b.usual;
      if (u?.day !== day) {
        u = usualFor(b, day, opts);
        b.usual = u;
      }
      return u;
    };

    return {
      onRecord(record, emit) {
        const s = record as Submission;
        latestAt = Math.max(latestAt, s.at);
        const tz = officeHoursOf(ctx, s.account).timezone;
        const local = s.at + zoneOffset(tz, s.at);
        const hour = Math.floor(local / HOUR);
        const day = Math.floor(local / DAY);
        const hourOfDay = hour - day * 24;
        let b = accounts.get(s.account);
        if (!b) {
          b = { since: day, last: day, days: new Map(), hours: new Map(), level: -1, levelHour: -1, oddHour: -1, dayReported: -1 };
          accounts.set(s.account, b);
        }
        b.since = Math.min(b.since, day);
        b.last = Math.max(b.last, day);
        let newestHour = hour;
        for (const h of b.hours.keys()) if (h > newestHour) newestHour = h;
        for (const h of b.hours.keys()) if (h <= newestHour - OPEN_HOURS) b.hours.delete(h);
        const count = hour > newestHour - OPEN_HOURS ? (b.hours.get(hour) ?? 0) + 1 : 1;
        if (hour > newestHour - OPEN_HOURS) b.hours.set(hour, count);

        const warm = day - b.since >= opts.warmupDays;
        const u = usualOf(b, day);
        let stat = b.days.get(day);
        if (!stat) {
          stat = { peak: 0, total: 0, mask: 0 };
          b.days.set(day, stat);
          for (const d of b.days.keys()) if (d < b.last - opts.historyDays) b.days.delete(d);
        }
        stat.mask |= 1 << hourOfDay;
        stat.peak = Math.max(stat.peak, warm ? Math.min(count, u.warning - 1) : count);
        stat.total++;
        // A late record for an earlier day changed that day's history.
        if (day < b.last) b.usual = undefined;

        // The day so far against the account's usual day: a slow drip no single hour shows.
        if (u.totalDays >= opts.dayMinActiveDays && stat.total >= u.dayWarning && day > b.dayReported) {
          b.dayReported = day;
          emit({
            rule: 'volume-baseline', account: s.account, at: s.at, severity: 'warning',
            message: `${stat.total} messages today by ${pad2(hourOfDay)}:${pad2(Math.floor((local % HOUR) / 60_000))} ${tz}; this account's usual day is ${u.medianTotal} (median of ${u.totalDays} active days; warning at ${u.dayWarning})`,
            data: {
              condition: 'day', count: stat.total, median_day: u.medianTotal, mad_day: u.madTotal, active_days: u.totalDays,
              threshold: u.dayWarning, local_hour: hourOfDay, timezone: tz,
            },
            evidence: s.evidence.slice(0, 3),
          });
        }
        if (!warm) return;

        const weekday = weekdayOf(day);
        if (opts.oddHours && u.activeDays >= opts.oddHoursMinActiveDays) {
          const oddHour = (u.hoursUsed & (1 << hourOfDay)) === 0;
          const oddDay = (u.weekdaysUsed & (1 << weekday)) === 0;
          // Consecutive odd hours are one stretch: the night's first message is the news.
          const continues = b.oddHour >= hour - 1;
          if (oddHour || oddDay) b.oddHour = Math.max(b.oddHour, hour);
          if ((oddHour || oddDay) && !continues) {
            const localTime = `${pad2(hourOfDay)}:00`;
            const what = oddHour && oddDay ? `at ${localTime} on a ${WEEKDAYS[weekday]}` : oddHour ? `at ${localTime}` : `on a ${WEEKDAYS[weekday]}`;
            emit({
              rule: 'volume-baseline', account: s.account, at: s.at, severity: 'info',
              message: `sent ${what} ${tz}, ${oddHour && oddDay ? 'an hour and a day' : oddHour ? 'an hour' : 'a day'} this account has not used in ${opts.historyDays} days`,
              data: { condition: 'odd-hour', local_hour: hourOfDay, weekday: WEEKDAYS[weekday] ?? '', timezone: tz, active_days: u.activeDays },
              evidence: s.evidence.slice(0, 3),
            });
          }
        }

        // A busy-hour episode ends after an hour below the warning level.
        if (b.levelHour < hour - 1) b.level = -1;
        const rank = count >= u.critical ? SEVERITY_RANK.critical : count >= u.warning ? SEVERITY_RANK.warning : -1;
        if (rank < 0) return;
        b.levelHour = Math.max(b.levelHour, hour);
        if (rank <= b.level) return;
        b.level = rank;
        const severity = rank === SEVERITY_RANK.critical ? 'critical' : 'warning';
        const usual = Math.round(u.usualHour * 10) / 10;
        const localTime = `${pad2(hourOfDay)}:00`;
        emit({
          rule: 'volume-baseline', account: s.account, at: s.at, severity,
          message: `${count} messages in the hour from ${localTime} ${tz}; this account's usual busiest hour is ${usual} (${severity} at ${severity === 'critical' ? u.critical : u.warning})`,
          data: {
            condition: 'rate', count, usual_hour: usual, median_peak: u.median, mad_peak: u.mad, weekday_max: u.weekdayMax,
            active_days: u.activeDays, threshold: severity === 'critical' ? u.critical : u.warning, local_hour: hourOfDay, timezone: tz,
          },
          evidence: s.evidence.slice(0, 3),
        });
      },
      snapshot() {
        const today = Math.floor(latestAt / DAY);
        const text = (b: Baseline, account: string): string | undefined => {
          // "Now" is the newest record's time, in this account's zone: accounts' local hours differ.
          const [nowHour, nowDay] = localNow(ctx.officeHoursOf(account).timezone, latestAt);
          const kept = savedBaseline(b, nowHour, nowDay, opts.historyDays);
          return kept && encodeBaseline(kept, latestAt);
        };
        // An unread row is dropped only when idle in every zone (local days are within one of UTC's); decode drops the rest.
        const rows = accounts.rows(() => latestAt, (stamp) => today - Math.floor(stamp / DAY) <= IDLE_DAYS_KEPT + 2, text);
        return { v: 2, historyDays: opts.historyDays, latestAt, marks: [...marks.filter((m) => m >= latestAt - MARK_MS && m < latestAt), latestAt], accounts: rows };
      },
    };
  },
});
