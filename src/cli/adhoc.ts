/**
 * What the ad-hoc commands over whole logs (`scan`, `report`, `parse`) share: the open
 * message lifetime, choice flags, and the set-up from config, time zone, `--since` /
 * `--until` and the list of inputs. Kept apart from scan.ts so that `report` and `parse`
 * do not load the rules engine and output code only `scan` needs.
 */
import { loadConfig, type Config } from '../config/load.js';
import { now } from '../core/clock.js';
import { UsageError } from '../core/errors.js';
import { hostTimezone } from '../core/time.js';
import { checkTimezoneFlag, parseTimeArg } from './time-args.js';
import type { Io } from './io.js';

/** Open messages are kept this long in log time: Postfix's default queue lifetime. */
export const OPEN_TTL_MS = 5 * 24 * 3600 * 1000;

export function checkChoice<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) throw new UsageError(`${flag}: "${value}" is not one of ${choices.join(', ')}`);
  return value as T;
}

export interface AdhocFlags {
  readonly config?: string | undefined;
  readonly timezone?: string | undefined;
  readonly since?: string | undefined;
  readonly until?: string | undefined;
}

export interface AdhocSetup {
  readonly config: Config;
  readonly timezone: string;
  readonly since: number | undefined;
  readonly until: number | undefined;
  /** The files given, or `-` (standard input) when none. */
  readonly inputs: readonly string[];
}

/** The files given, or `-` (standard input) when none; none with a terminal for input is a mistake. */
export function inputsOf(files: readonly string[], io: Pick<Io, 'stdinIsTty'>): readonly string[] {
  if (files.length === 0 && io.stdinIsTty) throw new UsageError('no log files given (use - to read standard input; see --help)');
  return files.length > 0 ? files : ['-'];
}

/** Checks the common flags in the order users see their errors, and loads the config. */
export function adhocSetup(files: readonly string[], o: AdhocFlags, io: Pick<Io, 'stdinIsTty'>): AdhocSetup {
  checkTimezoneFlag(o.timezone);
  const config = loadConfig(o.config);
  const timezone = o.timezone ?? config.timezone ?? hostTimezone();
  const clock = now();
  const since = o.since !== undefined ? parseTimeArg('--since', o.since, clock) : undefined;
  const until = o.until !== undefined ? parseTimeArg('--until', o.until, clock) : undefined;
  return { config, timezone, since, until, inputs: inputsOf(files, io) };
}
