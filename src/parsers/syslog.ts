/**
 * The syslog line envelope shared by every program that logs through syslog:
 * `STAMP HOST TAG[PID]: MESSAGE`, where STAMP is RFC 3164 (`Mar  6 21:19:00`, no year,
 * no zone) or RFC 3339 (`2023-03-14T00:31:06.621091+01:00`, also `+0100` and `Z`).
 * Scanned by index, not by regex: this runs on every line of gigabyte files.
 */
import { monthIndex, parseOffset, YearInferrer, zonedToEpoch } from '../core/time.js';

export interface SyslogEnvelope {
  readonly at: number;
  readonly host: string;
  /** Program name as logged, e.g. `postfix/submission/smtpd`. */
  readonly tag: string;
  readonly pid: string;
  /** Offset of the message text (after `]: ` or `: `). */
  readonly msgStart: number;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

function digitsAt(s: string, i: number, n: number): number {
  let v = 0;
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(i + k);
    if (!isDigit(c)) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}

/** Parses syslog stamps for one input, remembering the last second it converted. */
export class StampParser {
  private lastKey = '';
  private lastEpoch = 0;
  private readonly years: YearInferrer;

  constructor(private readonly timezone: string, referenceTime: number) {
    this.years = new YearInferrer(referenceTime, timezone);
  }

  get inferredYear(): number {
    return this.years.current;
  }

  /** Returns [epoch ms, index after the stamp and its following space] or undefined. */
  parse(s: string): [number, number] | undefined {
    const c0 = s.charCodeAt(0);
    if (isDigit(c0)) return this.parse3339(s);
    if (c0 >= 65 && c0 <= 90) return this.parse3164(s);
    return undefined;
  }

  private parse3164(s: string): [number, number] | undefined {
    // `Mon DD HH:MM:SS ` with the day space-padded, zero-padded or bare.
    if (s.charCodeAt(3) !== 32) return undefined;
    let i = 4;
    if (s.charCodeAt(i) === 32) i++;
    const dayStart = i;
    while (i < dayStart + 2 && isDigit(s.charCodeAt(i))) i++;
    if (i === dayStart || s.charCodeAt(i) !== 32) return undefined;
    const timeStart = i + 1;
    let end = timeStart + 8;
    if (s.charCodeAt(timeStart + 2) !== 58 || s.charCodeAt(timeStart + 5) !== 58) return undefined;
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
    if (s.charCodeAt(end) !== 32) return undefined;
    const key = s.slice(0, timeStart + 8);
    if (key !== this.lastKey) {
      const month = monthIndex(s.slice(0, 3));
      const day = digitsAt(s, dayStart, i - dayStart);
      const hh = digitsAt(s, timeStart, 2);
      const mm = digitsAt(s, timeStart + 3, 2);
      const ss = digitsAt(s, timeStart + 6, 2);
      if (month < 0 || day < 1 || day > 31 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60) return undefined;
      const year = this.years.yearFor(month, day);
      this.lastEpoch = zonedToEpoch(this.timezone, year, month, day, hh, mm, ss);
      this.lastKey = key;
    }
    return [this.lastEpoch + Math.floor(ms), end + 1];
  }

  private parse3339(s: string): [number, number] | undefined {
    // `YYYY-MM-DDTHH:MM:SS(.frac)?(Z|±HH:MM|±HHMM) `
    if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || (s.charCodeAt(10) !== 84 && s.charCodeAt(10) !== 32)) return undefined;
    if (s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return undefined;
    let i = 19;
    let ms = 0;
    if (s.charCodeAt(i) === 46) {
      i++;
      let scale = 100;
      const fracStart = i;
      while (isDigit(s.charCodeAt(i)) && i < fracStart + 12) {
        ms += (s.charCodeAt(i) - 48) * scale;
        scale /= 10;
        i++;
      }
    }
    const zoneStart = i;
    const z = s.charCodeAt(i);
    if (z === 90 || z === 122) i += 1;
    else if (z === 43 || z === 45) i += s.charCodeAt(i + 3) === 58 ? 6 : 5;
    else return undefined;
    if (s.charCodeAt(i) !== 32) return undefined;
    const key = s.slice(0, 19) + s.slice(zoneStart, i);
    if (key !== this.lastKey) {
      const y = digitsAt(s, 0, 4);
      const mo = digitsAt(s, 5, 2);
      const d = digitsAt(s, 8, 2);
      const hh = digitsAt(s, 11, 2);
      const mi = digitsAt(s, 14, 2);
      const ss = digitsAt(s, 17, 2);
      const off = parseOffset(s.slice(zoneStart, i));
      if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || hh < 0 || hh > 23 || mi < 0 || mi > 59 || ss < 0 || ss > 60 || Number.isNaN(off)) return undefined;
      this.lastEpoch = Date.UTC(y, mo - 1, d, hh, mi, ss) - off;
      this.lastKey = key;
    }
    return [this.lastEpoch + Math.floor(ms), i + 1];
  }
}

/**
 * Splits `HOST TAG[PID]: MSG` after the stamp. Accepts an RFC 5424-ish `<PRI>` prefix
 * having been stripped by the caller, and `TAG: MSG` without a pid.
 */
export function parseEnvelope(s: string, stamp: StampParser): SyslogEnvelope | undefined {
  let start = 0;
  if (s.charCodeAt(0) === 60) {
    // `<22>` priority prefix of raw network syslog; an optional RFC 5424 version `1 `.
    const close = s.indexOf('>');
    if (close < 2 || close > 4) return undefined;
    start = close + 1;
    if (s.charCodeAt(start) === 49 && s.charCodeAt(start + 1) === 32) start += 2;
    s = s.slice(start);
  }
  const ts = stamp.parse(s);
  if (!ts) return undefined;
  const [at, hostStart] = ts;
  const hostEnd = s.indexOf(' ', hostStart);
  if (hostEnd <= hostStart) return undefined;
  const tagStart = hostEnd + 1;
  const colon = s.indexOf(': ', tagStart);
  if (colon < 0) return undefined;
  const space = s.indexOf(' ', tagStart);
  if (space >= 0 && space < colon) return undefined;
  let tagEnd = colon;
  let pid = '';
  if (s.charCodeAt(colon - 1) === 93) {
    const open = s.lastIndexOf('[', colon);
    if (open > tagStart) {
      tagEnd = open;
      pid = s.slice(open + 1, colon - 1);
    }
  }
  return { at, host: s.slice(hostStart, hostEnd), tag: s.slice(tagStart, tagEnd), pid, msgStart: colon + 2 + start };
}
