/**
 * `sendwatch run`: the cron job. Reads what each watched log gained since the last run
 * (following rotations), continues every window and open message from the state file,
 * and tells the admins once about what is new.
 *
 * Order of a run, so that a crash or an SMTP outage loses nothing:
 *   lock -> load state -> read and evaluate -> write state WITH the new digest in the
 *   outbox -> send the outbox -> write state without what was sent -> unlock.
 * A crash before the first write redoes the run; after it, the next run sends the
 * outbox. At worst one digest goes out twice.
 */
import { statSync } from 'node:fs';
import { loadConfig, type Config } from '../config/load.js';
import { EXIT, UsageError } from '../core/errors.js';
import { planRead } from '../sources/cursor.js';
import { acquireLock, LockedError, peekState, type Lock } from '../state/store.js';
import type { Io } from './io.js';
import { passwordFileWarning } from './check-config.js';
import type { OutputFormat } from './output.js';

/** Another run holds the lock: nothing was done. */
export const EXIT_LOCKED = 4;

/** The state's lock, or undefined (said on stderr) when another run holds it: exit EXIT_LOCKED. */
export function lockOrSay(statePath: string, io: Pick<Io, 'err'>): Lock | undefined {
  try {
    return acquireLock(statePath);
  } catch (e) {
    if (!(e instanceof LockedError)) throw e;
    io.err(e.message);
    return undefined;
  }
}

export interface RunOptions {
  readonly config: string;
  readonly fromStart: boolean;
  readonly output?: OutputFormat | undefined;
  readonly quiet: boolean;
  readonly verbose: boolean;
}

/**
 * Test hook: `SENDWATCH_FAULT=<point>` kills the process with SIGKILL at that point,
 * so the crash tests can prove that nothing is lost wherever a run dies.
 */
export function fault(point: string): void {
  if (process.env.SENDWATCH_FAULT === point) process.kill(process.pid, 'SIGKILL');
}

/**
 * Whether this run would change nothing: every log is exactly where its cursor left it
 * (same file, same size and modification time, same first bytes, no partial line
 * waiting) and no digest waits in the outbox. A full run would then restore every
 * rule's windows, feed them no record and save them as they were; this answers from
 * the state's first kilobytes instead. Anything unusual (a new log, a rotation, a
 * missing file, a changed format) says no, and the full run deals with it.
 */
async function nothingNew(config: Config, statePath: string): Promise<boolean> {
  const head = peekState(statePath);
  if (head === undefined || head.outbox.length > 0) return false;
  for (const src of config.sources) {
    const saved = head.sources[src.path];
    const cursor = saved?.cursor;
    if (cursor === undefined) return false;
    if (src.format !== 'auto' && saved?.format !== src.format) return false;
    let st;
    try {
      st = statSync(src.path);
    } catch {
      return false;
    }
    if (!st.isFile() || st.dev !== cursor.dev || st.ino !== cursor.ino || st.mtimeMs !== cursor.mtimeMs) return false;
    if (st.size !== cursor.offset || st.size !== cursor.size) return false;
    try {
      const plan = await planRead(src.path, cursor, { startAt: 'end-window', windowMs: 0, timeOf: () => undefined });
      const only = plan.segments[0];
      if (plan.warnings.length > 0 || plan.segments.length !== 1 || only?.live !== true || only.startOffset !== cursor.offset) return false;
    } catch {
      return false;
    }
  }
  return true;
}

export async function runCron(o: RunOptions, io: Io): Promise<number> {
  const config = loadConfig(o.config);
  if (config.sources.length === 0) throw new UsageError(`${o.config}: "sources" is empty: list the logs sendwatch run should watch`);
  const pw = passwordFileWarning(config);
  if (pw) io.err(pw);
  const statePath = config.state.path;
  const lock = lockOrSay(statePath, io);
  if (!lock) return EXIT_LOCKED;
  try {
    fault('after-lock');
    // --verbose reports every log's (empty) statistics: the full run does that.
    if (!o.verbose && await nothingNew(config, statePath)) return EXIT.OK;
    const { evaluateRun } = await import('./run-full.js');
    return await evaluateRun(config, o, io);
  } finally {
    lock.release();
  }
}

