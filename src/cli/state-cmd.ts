/**
 * `sendwatch state show` and `state reset`: look into cron mode's memory, or start over.
 * Reset moves the file aside instead of deleting it, under the same lock as a run.
 */
import { readFileSync, renameSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import { now } from '../core/clock.js';
import { EXIT } from '../core/errors.js';
import type { State } from '../state/schema.js';
import { stateFromText } from '../state/store.js';
import type { Io } from './io.js';
import { formatLocal } from './output.js';
import { hostTimezone } from '../core/time.js';
import { EXIT_LOCKED, lockOrSay } from './run.js';

/**
 * Entries in a rule's or parser's saved state: its `accounts` or `rows` list (a section
 * may also hold site-wide lists, such as countries' counts per country), else its first list.
 */
function entries(x: unknown): number {
  if (Array.isArray(x)) return x.length;
  if (x && typeof x === 'object') {
    const o = x as Record<string, unknown>;
    for (const key of ['accounts', 'rows']) {
      const v = o[key];
      if (Array.isArray(v)) return v.length;
    }
    for (const v of Object.values(o)) if (Array.isArray(v)) return v.length;
  }
  return 0;
}

export function describeState(state: State, path: string, tz: string, bytes: number): string {
  const out: string[] = [];
  out.push(`state ${path} (${bytes} bytes), last written ${formatLocal(state.updatedAt, tz)}`);
  out.push('logs:');
  const sources = Object.entries(state.sources);
  if (sources.length === 0) out.push('  (none yet)');
  for (const [name, s] of sources) {
    const c = s.cursor;
    const where = c ? `read to byte ${c.offset} of ${c.size} (line ${c.lineNo}), inode ${c.ino}` : 'not read yet';
    out.push(`  ${name}: ${s.format ?? 'format unknown'}, ${where}, ${entries(s.parser)} open messages`);
  }
  out.push('rules:');
  const rules = Object.entries(state.rules);
  if (rules.length === 0) out.push('  (no saved windows)');
  for (const [name, r] of rules) out.push(`  ${name}: ${entries(r)} accounts tracked`);
  const alerts = Object.values(state.alerts);
  out.push(`alerts remembered: ${alerts.length}`);
  for (const a of alerts.sort((x, y) => y.lastSent - x.lastSent).slice(0, 20)) {
    out.push(`  ${a.severity.padEnd(8)} ${a.rule} ${a.account}: last sent ${formatLocal(a.lastSent, tz)} (sent ${a.sent}x)`);
  }
  out.push(`outbox: ${state.outbox.length} digest(s) waiting${state.outbox.length ? `; last error: ${state.outbox[0]?.lastError ?? 'none yet'}` : ''}`);
  return `${out.join('\n')}\n`;
}

export async function runStateShow(configPath: string, io: Io): Promise<number> {
  const config = loadConfig(configPath);
  const path = config.state.path;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    await io.out(`no state yet at ${path}: the first run starts fresh\n`);
    return EXIT.OK;
  }
  // Reading only: no lock, and a damaged file is reported here, moved aside by the next run.
  const state = stateFromText(text);
  if (!('problem' in state)) {
    await io.out(describeState(state, path, config.timezone ?? hostTimezone(), Buffer.byteLength(text)));
    return EXIT.OK;
  }
  io.err(`state ${path} is ${state.problem}; the next run will move it aside and start fresh`);
  return EXIT.RUNTIME;
}

export function runStateReset(configPath: string, io: Io): number {
  const config = loadConfig(configPath);
  const lock = lockOrSay(config.state.path, io);
  if (!lock) return EXIT_LOCKED;
  try {
    const aside = `${config.state.path}.reset-${new Date(now()).toISOString().replace(/[:.]/g, '-')}`;
    try {
      renameSync(config.state.path, aside);
      io.err(`state moved aside to ${aside}; the next run starts fresh`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      io.err(`no state at ${config.state.path}: nothing to reset`);
    }
    return EXIT.OK;
  } finally {
    lock.release();
  }
}

