/**
 * The syslog line envelope shared by every program that logs through syslog:
 * `STAMP HOST TAG[PID]: MESSAGE`, where STAMP is RFC 3164 (`Mar  6 21:19:00`, no year,
 * no zone) or RFC 3339 (`2023-03-14T00:31:06.621091+01:00`, also `+0100` and `Z`).
 * Scanned by index, not by regex: this runs on every line of gigabyte files.
 */
import { monthIndex, offsetAt, twoDigitsAt, YearInferrer, zonedToEpoch } from '../core/time.js';

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/**
 * Parses syslog stamps for one input. Consecutive lines mostly share their second, so
 * the last second converted is remembered and recognised by comparing the line's
 * stamp text in place: a hit costs no allocation and no date arithmetic.
 */
export class StampParser {
  // The last second converted, per style (files that mix hosts mix styles), known by
  // small numbers read from its digits: a hit compares a few integers and allocates nothing.
  /** RFC 3164: the month's three letters, and day + time of day. */
  private lastM0 = -1;
  private lastM1 = -1;
  private lastM2 = -1;
  private lastTimeKey = -1;
  private lastEpoch = 0;
  /** The month of lastM0-2. */
  private lastMonth = -1;
  /** RFC 3339: date, time of day, and the zone's offset. */
  private last3339Date = -1;
  private last3339Time = -1;
  private last3339Offset = 0;
  private last3339Epoch = 0;
  private readonly years: YearInferrer;
  /** After a successful read: the index after the stamp and its following space. */
  end = 0;
  /** After a successful scan: the stamp's time, epoch ms. */
  at = 0;

  constructor(private readonly timezone: string, referenceTime: number) {
    this.years = new YearInferrer(referenceTime, timezone);
  }

  get inferredYear(): number {
    return this.years.current;
  }

  /** Returns [epoch ms, index after the stamp and its following space] or undefined. */
  parse(s: string): [number, number] | undefined {
    const at = this.read(s);
    return Number.isNaN(at) ? undefined : [at, this.end];
  }

  /** Epoch ms of the stamp that starts `s`, or NaN; `end` is set on success. */
  read(s: string): number {
    return this.scan(s) ? this.at : NaN;
  }

  /**
   * Reads the stamp that starts `s`: false if there is none, else its time is left in `at`
   * and the index after it and its space in `end`. Fields rather than a returned epoch:
   * a returned double is boxed in a new heap number on every line.
   */
  scan(s: string): boolean {
    const c0 = s.charCodeAt(0);
    if (isDigit(c0)) return this.scan3339(s);
    if (c0 >= 65 && c0 <= 90) return this.scan3164(s);
    return false;
  }

  private scan3164(s: string): boolean {
    // `Mon DD HH:MM:SS ` with the day space-padded, zero-padded or bare.
    if (s.charCodeAt(3) !== 32) return false;
    let i = 4;
    if (s.charCodeAt(i) === 32) i++;
    let day = s.charCodeAt(i) - 48;
    if (!(day >= 0 && day <= 9)) return false;
    const second = s.charCodeAt(i + 1) - 48;
    if (second >= 0 && second <= 9) {
      day = day * 10 + second;
      i += 2;
    } else {
      i += 1;
    }
    if (s.charCodeAt(i) !== 32) return false;
    const timeStart = i + 1;
    let end = timeStart + 8;
    if (s.charCodeAt(timeStart + 2) !== 58 || s.charCodeAt(timeStart + 5) !== 58) return false;
    // Some relays keep sub-second precision: `Mar  6 21:19:00.123 `.
    let ms = 0;
    if (s.charCodeAt(end) === 46) {
      let j = end + 1;
      let scale = 100;
      while (isDigit(s.charCodeAt(j))) {
        ms += (s.charCodeAt(j) - 48) * scale;
        scale /= 10;
        j++;
      }
      end = j;
    }
    if (s.charCodeAt(end) !== 32) return false;
    const hh = twoDigitsAt(s, timeStart);
    const mm = twoDigitsAt(s, timeStart + 3);
    const ss = twoDigitsAt(s, timeStart + 6);
    if (day < 1 || day > 31 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60) return false;
    // Small integers only: the month's three char codes, and day + time of day.
    const m0 = s.charCodeAt(0);
    const m1 = s.charCodeAt(1);
    const m2 = s.charCodeAt(2);
    const timeKey = ((day * 24 + hh) * 60 + mm) * 61 + ss;
    const sameMonth = m0 === this.lastM0 && m1 === this.lastM1 && m2 === this.lastM2;
    if (!sameMonth || timeKey !== this.lastTimeKey) {
      const month = sameMonth ? this.lastMonth : monthIndex(s.slice(0, 3));
      if (month < 0) return false;
      // Only a new second asks which year it is: the same month and day again would not change the answer.
      const year = this.years.yearFor(month, day);
      this.lastEpoch = zonedToEpoch(this.timezone, year, month, day, hh, mm, ss);
      this.lastM0 = m0;
      this.lastM1 = m1;
      this.lastM2 = m2;
      this.lastMonth = month;
      this.lastTimeKey = timeKey;
    }
    this.end = end + 1;
    this.at = this.lastEpoch + Math.floor(ms);
    return true;
  }

  private scan3339(s: string): boolean {
    // `YYYY-MM-DDTHH:MM:SS(.frac)?(Z|±HH:MM|±HHMM) `
    if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || (s.charCodeAt(10) !== 84 && s.charCodeAt(10) !== 32)) return false;
    if (s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return false;
    let i = 19;
    let ms = 0;
    if (s.charCodeAt(i) === 46) {
      // Up to 12 fraction digits; the milliseconds are the first three (floor of the fraction,
      // which a sum of at most 12 digits' float parts never rounds up to the next one).
      i++;
      const fracStart = i;
      while (isDigit(s.charCodeAt(i)) && i < fracStart + 12) {
        if (i < fracStart + 3) ms = ms * 10 + s.charCodeAt(i) - 48;
        i++;
      }
      for (let k = i - fracStart; k < 3; k++) ms *= 10;
    }
    const zoneStart = i;
    const z = s.charCodeAt(i);
    if (z === 90 || z === 122) i += 1;
    else if (z === 43 || z === 45) i += s.charCodeAt(i + 3) === 58 ? 6 : 5;
    else return false;
    if (s.charCodeAt(i) !== 32) return false;
    const century = twoDigitsAt(s, 0);
    const yy = twoDigitsAt(s, 2);
    const mo = twoDigitsAt(s, 5);
    const d = twoDigitsAt(s, 8);
    const hh = twoDigitsAt(s, 11);
    const mi = twoDigitsAt(s, 14);
    const ss = twoDigitsAt(s, 17);
    if (century < 0 || yy < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || hh < 0 || hh > 23 || mi < 0 || mi > 59 || ss < 0 || ss > 60) {
      return false;
    }
    // The zone is read as a number on every line: cheaper than keeping and comparing its text.
    const off = offsetAt(s, zoneStart, i);
    if (Number.isNaN(off)) return false;
    const y = century * 100 + yy;
    const dateKey = (y * 13 + mo) * 32 + d;
    const timeKey = (hh * 60 + mi) * 61 + ss;
    if (dateKey !== this.last3339Date || timeKey !== this.last3339Time || off !== this.last3339Offset) {
      this.last3339Epoch = Date.UTC(y, mo - 1, d, hh, mi, ss) - off;
      this.last3339Date = dateKey;
      this.last3339Time = timeKey;
      this.last3339Offset = off;
    }
    this.end = i + 1;
    this.at = this.last3339Epoch + ms;
    return true;
  }
}

/** How many distinct host names are remembered to hand out the same string again. */
const HOST_CACHE = 8;

/**
 * One syslog line's envelope `STAMP HOST TAG[PID]: MESSAGE`, read in place: one object
 * per input, refilled for every line. Positions are indices into the line; the host,
 * tag and pid are cut out only when asked for, so a line that is skipped on its tag or
 * message costs no allocation. The host is then a string shared by every line of that
 * host.
 *
 * The line itself is not kept here: callers pass it again. This object lives as long as
 * the input, and storing each young line into it would, while V8 marks the old
 * generation, mark every line live and so promote them all out of the young generation.
 */
export class SyslogEnvelope {
  at = 0;
  hostStart = 0;
  hostEnd = 0;
  tagStart = 0;
  tagEnd = 0;
  /** -1 when the line has no `[PID]`. */
  pidStart = -1;
  pidEnd = -1;
  /** Offset of the message text (after `]: ` or `: `). */
  msgStart = 0;
  private readonly hosts: string[] = [];
  /** Lines read so far; `hostName` belongs to line number `hostLine`. */
  private lines = 0;
  private hostLine = -1;
  private hostName = '';

  constructor(private readonly stamps: StampParser) {}

  /** Host name as logged, e.g. `mx1`, of the line `s` last read. */
  host(s: string): string {
    if (this.hostLine !== this.lines) {
      this.hostName = internAt(this.hosts, HOST_CACHE, s, this.hostStart, this.hostEnd);
      this.hostLine = this.lines;
    }
    return this.hostName;
  }

  /** Program name as logged, e.g. `postfix/submission/smtpd`, of the line `s` last read. */
  tag(s: string): string {
    return s.slice(this.tagStart, this.tagEnd);
  }

  /** Process id as logged, '' without one, of the line `s` last read. */
  pid(s: string): string {
    return this.pidStart < 0 ? '' : s.slice(this.pidStart, this.pidEnd);
  }

  /**
   * Reads the envelope of `s`; false when it is not a syslog line. Accepts an RFC 5424-ish
   * `<PRI>` prefix (optionally with version `1 `) and `TAG: MSG` without a pid.
   */
  read(s: string): boolean {
    if (s.charCodeAt(0) !== 60) return this.readFrom(s, 0);
    // `<22>` priority prefix of raw network syslog; an optional RFC 5424 version `1 `.
    const close = s.indexOf('>');
    if (close < 2 || close > 4) return false;
    let start = close + 1;
    if (s.charCodeAt(start) === 49 && s.charCodeAt(start + 1) === 32) start += 2;
    return this.readFrom(s.slice(start), start);
  }

  /** `body` = the line from `base` on, where the stamp starts; positions are set in the line. */
  private readFrom(body: string, base: number): boolean {
    const stamps = this.stamps;
    if (!stamps.scan(body)) return false;
    const hostStart = stamps.end;
    const hostEnd = body.indexOf(' ', hostStart);
    if (hostEnd <= hostStart) return false;
    const tagStart = hostEnd + 1;
    // The tag runs to the first `: `, and holds no blank: the first blank must follow its colon.
    const space = body.indexOf(' ', tagStart);
    if (space <= tagStart || body.charCodeAt(space - 1) !== 58) return false;
    const colon = space - 1;
    let tagEnd = colon;
    let pidStart = -1;
    let pidEnd = -1;
    if (body.charCodeAt(colon - 1) === 93) {
      // The last `[` of the tag, scanned for by hand: lastIndexOf is a slow runtime call in V8.
      let open = colon - 2;
      while (open > tagStart && body.charCodeAt(open) !== 91) open--;
      if (open > tagStart) {
        tagEnd = open;
        pidStart = open + 1 + base;
        pidEnd = colon - 1 + base;
      }
    }
    this.lines++;
    this.at = stamps.at;
    this.hostStart = hostStart + base;
    this.hostEnd = hostEnd + base;
    this.tagStart = tagStart + base;
    this.tagEnd = tagEnd + base;
    this.pidStart = pidStart;
    this.pidEnd = pidEnd;
    this.msgStart = colon + 2 + base;
    return true;
  }

}

/**
 * s[start, end) as a string already in `cache` (most recent first, at most `max`), so the
 * few distinct values of a field (hosts, services) are one string each, compared in place.
 */
export function internAt(cache: string[], max: number, s: string, start: number, end: number): string {
  const n = end - start;
  for (let k = 0; k < cache.length; k++) {
    const known = cache[k] ?? '';
    if (known.length === n && sameText(known, s, start)) return known;
  }
  const text = s.slice(start, end);
  if (cache.length >= max) cache.pop();
  cache.unshift(text);
  return text;
}

/** Whether `known` is at s[start]; short values, so a loop rather than startsWith's call. */
function sameText(known: string, s: string, start: number): boolean {
  for (let i = 0; i < known.length; i++) if (known.charCodeAt(i) !== s.charCodeAt(start + i)) return false;
  return true;
}

/** The envelope as a plain object (for detection and tests); the hot path reuses a SyslogEnvelope. */
export interface Envelope {
  readonly at: number;
  readonly host: string;
  readonly tag: string;
  readonly pid: string;
  readonly msgStart: number;
}

/** Splits `HOST TAG[PID]: MSG` after the stamp; undefined when `s` is not a syslog line. */
export function parseEnvelope(s: string, stamp: StampParser): Envelope | undefined {
  const env = new SyslogEnvelope(stamp);
  if (!env.read(s)) return undefined;
  return { at: env.at, host: env.host(s), tag: env.tag(s), pid: env.pid(s), msgStart: env.msgStart };
}
