/** `--since` / `--until` values: ISO 8601 dates and times, or a duration back from now (`90m`, `2h`, `7d`). */
import { isValid, parseISO, sub } from 'date-fns';
import { UsageError } from '../core/errors.js';
import { isValidTimezone } from '../core/time.js';

const UNITS: Readonly<Record<string, keyof Duration>> = { s: 'seconds', m: 'minutes', h: 'hours', d: 'days', w: 'weeks' };
type Duration = { seconds?: number; minutes?: number; hours?: number; days?: number; weeks?: number };

export function parseTimeArg(flag: string, value: string, now: number): number {
  const rel = /^(\d{1,6})([smhdw])$/.exec(value.trim());
  if (rel) {
    const unit = UNITS[rel[2] ?? ''];
    if (unit) return sub(new Date(now), { [unit]: Number(rel[1]) }).getTime();
  }
  // parseISO reads a stamp without an offset as local time of this process (TZ).
  const d = parseISO(value.trim());
  if (!isValid(d)) throw new UsageError(`${flag}: "${value}" is neither an ISO 8601 time (2026-03-06, 2026-03-06T21:00+01:00) nor a duration (90m, 2h, 7d)`);
  return d.getTime();
}

/** `--timezone`, when given, is an IANA zone. */
export function checkTimezoneFlag(timezone: string | undefined): void {
  if (timezone !== undefined && !isValidTimezone(timezone)) throw new UsageError(`--timezone: "${timezone}" is not an IANA time zone`);
}
