/**
 * Time helpers for the hot path. Log stamps are local wall-clock times in some IANA
 * zone; converting them with a date library per line is far too slow, so zone
 * offsets are computed once per 15-minute UTC bucket with Intl (every real zone
 * changes offset on a quarter hour) and cached.
 */

const MONTH_INDEX: Readonly<Record<string, number>> = {
  Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11,
};

/** 0-based month for an English three-letter abbreviation, or -1. */
export function monthIndex(abbr: string): number {
  return MONTH_INDEX[abbr] ?? -1;
}

export function hostTimezone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** UTC by either name: no offset to look up, and no zone data to load for it (the first Intl formatter loads ICU's, 10 ms of a run's start). */
const isUtc = (tz: string): boolean => tz === 'UTC' || tz === 'Etc/UTC';

export function isValidTimezone(tz: string): boolean {
  if (isUtc(tz)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const QUARTER_HOUR = 15 * 60 * 1000;
const formatters = new Map<string, Intl.DateTimeFormat>();
const offsetCache = new Map<string, Map<number, number>>();

function formatterFor(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
      hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

function computeOffset(tz: string, instant: number): number {
  const parts = formatterFor(tz).formatToParts(new Date(instant));
  const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value ?? 0);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return asUtc - Math.floor(instant / 1000) * 1000;
}

/** Offset of `tz` from UTC in ms at the given instant (local = utc + offset). */
export function zoneOffset(tz: string, instant: number): number {
  if (isUtc(tz)) return 0;
  let perZone = offsetCache.get(tz);
  if (!perZone) {
    perZone = new Map();
    offsetCache.set(tz, perZone);
  }
  const bucket = Math.floor(instant / QUARTER_HOUR);
  let off = perZone.get(bucket);
  if (off === undefined) {
    off = computeOffset(tz, bucket * QUARTER_HOUR);
    if (perZone.size > 100_000) perZone.clear();
    perZone.set(bucket, off);
  }
  return off;
}

/**
 * Epoch ms of a wall-clock time in `tz`. In the repeated hour after a DST change the
 * earlier instant is chosen; a time skipped by DST maps forward, as a clock would.
 */
export function zonedToEpoch(
  tz: string, year: number, month0: number, day: number,
  hour: number, minute: number, second: number, ms = 0,
): number {
  const asUtc = Date.UTC(year, month0, day, hour, minute, second, ms);
  if (isUtc(tz)) return asUtc;
  // The offsets in force half a day either side cover any single transition; a candidate
  // is real only if the zone really has that offset at that instant.
  const before = zoneOffset(tz, asUtc - 14 * 3_600_000);
  const after = zoneOffset(tz, asUtc + 14 * 3_600_000);
  let best = Number.POSITIVE_INFINITY;
  for (const off of before === after ? [before] : [before, after]) {
    const t = asUtc - off;
    if (zoneOffset(tz, t) === off && t < best) best = t;
  }
  // A wall time skipped by a spring-forward: read it with the old offset, as a clock would.
  return Number.isFinite(best) ? best : asUtc - before;
}

export interface LocalParts {
  readonly year: number;
  readonly month0: number;
  readonly day: number;
  /** 0 = Sunday. */
  readonly weekday: number;
  readonly hour: number;
  readonly minute: number;
}

export function localParts(instant: number, tz: string): LocalParts {
  const d = new Date(instant + zoneOffset(tz, instant));
  return {
    year: d.getUTCFullYear(), month0: d.getUTCMonth(), day: d.getUTCDate(),
    weekday: d.getUTCDay(), hour: d.getUTCHours(), minute: d.getUTCMinutes(),
  };
}

/**
 * Chooses years for year-less syslog stamps read in file order: the first stamp gets
 * the year that does not put it more than a day after the file was last written;
 * later stamps carry a Dec -> Jan rollover forward.
 */
export class YearInferrer {
  private year = 0;
  private lastMonth = -1;
  private readonly refYear: number;
  private readonly refMonth: number;
  private readonly refDay: number;

  constructor(referenceTime: number, tz: string) {
    const p = localParts(referenceTime + 24 * 3600 * 1000, tz);
    this.refYear = p.year;
    this.refMonth = p.month0;
    this.refDay = p.day;
  }

  yearFor(month0: number, day: number): number {
    if (this.lastMonth < 0) {
      const later = month0 > this.refMonth || (month0 === this.refMonth && day > this.refDay);
      this.year = later ? this.refYear - 1 : this.refYear;
    } else if (month0 < this.lastMonth - 6) {
      // Dec -> Jan: the next year, unless that would lie after the file was written
      // (a file that is not in time order, such as a test suite's sample lines).
      const after = this.year + 1 > this.refYear
        || (this.year + 1 === this.refYear && (month0 > this.refMonth || (month0 === this.refMonth && day > this.refDay)));
      if (!after) this.year += 1;
    } else if (month0 > this.lastMonth + 6) {
      // A late line from before the turn of the year (hosts collected into one file):
      // it belongs to the old year, and does not move the file's own calendar.
      return this.year - 1;
    }
    this.lastMonth = month0;
    return this.year;
  }

  /** The year chosen for the first stamp, for `sendwatch parse` to report. */
  get current(): number {
    return this.year;
  }
}

/** Parses `+01:00`, `+0100`, `-0700`, `Z` into an offset in ms (local = utc + offset), or NaN. */
export function parseOffset(s: string): number {
  return offsetAt(s, 0, s.length);
}

/** parseOffset of s[start, end), read in place: stamp parsers call it on every new second. */
export function offsetAt(s: string, start: number, end: number): number {
  const n = end - start;
  const c0 = s.charCodeAt(start);
  if (n === 1 && (c0 === 90 || c0 === 122)) return 0;
  const sign = c0 === 45 ? -1 : c0 === 43 ? 1 : 0;
  if (sign === 0) return NaN;
  // `+HH:MM` or `+HHMM`: where the minutes start.
  let minutes: number;
  if (n === 6 && s.charCodeAt(start + 3) === 58) minutes = start + 4;
  else if (n === 5) minutes = start + 3;
  else return NaN;
  const h = twoDigitsAt(s, start + 1);
  const m = twoDigitsAt(s, minutes);
  if (h < 0 || m < 0 || h > 23 || m > 59) return NaN;
  return sign * (h * 60 + m) * 60_000;
}

/** The two ASCII digits at s[i] as a number, or -1 (also past the end of `s`). */
export function twoDigitsAt(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/** `2026-03-06 21:19:00 +01:00`: a wall-clock time in `tz`, with its offset, for people to read. */
export function formatLocal(at: number, tz: string): string {
  const off = zoneOffset(tz, at);
  const d = new Date(at + off);
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off) / 60_000;
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}
