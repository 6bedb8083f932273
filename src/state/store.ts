/**
 * The state file on disk: a lock against overlapping runs, validated loading, and
 * atomic saving (temp file in the same directory, fsync, rename, fsync the directory).
 * Files are created 0600 with O_EXCL | O_NOFOLLOW, so a planted symlink is never followed.
 *
 * The file is one JSON object, its small sections first (SECTION_ORDER), so that
 * peekState can read the cursors and the outbox of a file of any size from its first
 * kilobytes. Each log's open messages (its parser's state: 2.2 MB of message-id and
 * queue-file attributions for a busy Messaging Server) are written apart from its cursor,
 * in `parsers` after the alerts, so they never make the head long.
 */
import { closeSync, constants, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { RuntimeError } from '../core/errors.js';
import { isPlainObject } from '../core/saved-json.js';
import { topLevelSpans } from './json-spans.js';
import { alertMemoryOf, alertMemoryRows, emptyState, StateHeadSchema, StateShellSchema, STATE_VERSION, type State, type StateHead } from './schema.js';

/**
 * The order saveState writes the sections in: what a run with nothing new needs, then the
 * bulk. `parsers` is the one section that is not a State field (see serializeState).
 */
const SECTION_ORDER = ['version', 'updatedAt', 'sources', 'outbox', 'alerts', 'parsers', 'incidents', 'rules'] as const;
type FileSection = (typeof SECTION_ORDER)[number];
const HEAD_SECTIONS: ReadonlySet<string> = new Set(['version', 'sources', 'outbox']);
/** Enough for the head of a state with dozens of logs; a bigger head is read whole. */
const PEEK_BYTES = 64 * 1024;

/** Another run holds the lock: exit with this status and change nothing. */
export class LockedError extends Error {
  override readonly name = 'LockedError';
}

const CREATE_EXCL = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

function describeFsError(what: string, path: string, e: unknown): string {
  const code = errno(e);
  const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : code === 'ENOSPC' ? 'no space left on device'
      : code === 'EROFS' ? 'read-only file system'
        : code === 'ENOENT' ? 'no such directory'
          : code === 'ELOOP' ? 'is a symbolic link (refused)'
            : (e as Error).message;
  return `cannot ${what} ${path}: ${why}`;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errno(e) === 'EPERM';
  }
}

export interface Lock {
  release(): void;
}

/** Takes `<state>.lock`; a lock left by a dead process is taken over. */
export function acquireLock(statePath: string): Lock {
  const lockPath = `${statePath}.lock`;
  mkdirSync(dirname(statePath), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockPath, CREATE_EXCL, 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return {
        release() {
          try {
            const owner = Number(readFileSync(lockPath, 'utf8').trim());
            if (owner === process.pid) unlinkSync(lockPath);
          } catch {
            // Already gone: nothing to release.
          }
        },
      };
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw new RuntimeError(describeFsError('create lock', lockPath, e));
      let owner = NaN;
      try {
        owner = Number(readFileSync(lockPath, 'utf8').trim());
      } catch {
        // Vanished between open and read: try again.
        continue;
      }
      if (Number.isInteger(owner) && owner > 0 && pidAlive(owner)) {
        throw new LockedError(`another sendwatch run (pid ${owner}) holds ${lockPath}; nothing done`);
      }
      // A crashed run's lock (or an unreadable one): take it over.
      try {
        unlinkSync(lockPath);
      } catch (u) {
        if (errno(u) !== 'ENOENT') throw new RuntimeError(describeFsError('remove stale lock', lockPath, u));
      }
    }
  }
  throw new LockedError(`could not take ${lockPath}: another run keeps taking it`);
}

/**
 * The state decides what is alerted: a file someone else owns (or a link to one) could
 * silence sendwatch, so it is refused rather than trusted or overwritten.
 */
function checkOwnFile(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    if (errno(e) === 'ENOENT') return;
    throw new RuntimeError(describeFsError('read state', path, e));
  }
  if (st.isSymbolicLink()) throw new RuntimeError(`state ${path} is a symbolic link: refusing to follow it (remove it, or point state.path at the real file)`);
  if (!st.isFile()) throw new RuntimeError(`state ${path} is not a regular file`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new RuntimeError(`state ${path} is owned by uid ${st.uid}, not by this user (uid ${uid}): refusing to use it`);
  }
}

export interface LoadResult {
  readonly state: State;
  /** Set when a damaged file was moved aside: say so on stderr, never reset silently. */
  readonly warning?: string;
}

/** The file's bytes, refusing links and files that are not the user's own; undefined when it does not exist. */
function readOwnFile(path: string, maxBytes?: number): Buffer | undefined {
  try {
    checkOwnFile(path);
    // O_NOFOLLOW: a symlink planted where the state lives is refused, not read through.
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      if (maxBytes === undefined) return readFileSync(fd);
      const buf = Buffer.allocUnsafe(maxBytes);
      let n = 0;
      while (n < maxBytes) {
        const r = readSync(fd, buf, n, maxBytes - n, n);
        if (r === 0) break;
        n += r;
      }
      return buf.subarray(0, n);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if (e instanceof RuntimeError) throw e;
    if (errno(e) === 'ENOENT') return undefined;
    throw new RuntimeError(describeFsError('read state', path, e));
  }
}

/**
 * The cursors and the outbox, read from the start of the file without parsing the rest:
 * enough to tell that no log has anything new. undefined when there is no state, or it
 * is not a current, well-formed one: then loadState reads it (and deals with damage).
 */
export function peekState(path: string): StateHead | undefined {
  let bytes = readOwnFile(path, PEEK_BYTES);
  if (bytes === undefined) return undefined;
  // A cut multi-byte character at the end of the prefix only garbles what is not used.
  let text = bytes.toString('utf8');
  let spans = topLevelSpans(text, HEAD_SECTIONS);
  if (spans === 'incomplete' && bytes.length === PEEK_BYTES) {
    // Sections in another order (a file from an earlier version) or a very long head.
    bytes = readOwnFile(path);
    if (bytes === undefined) return undefined;
    text = bytes.toString('utf8');
    spans = topLevelSpans(text, HEAD_SECTIONS);
  }
  if (typeof spans === 'string') return undefined;
  const head: Record<string, unknown> = {};
  try {
    for (const [key, [start, end]] of spans) head[key] = JSON.parse(text.slice(start, end));
  } catch {
    return undefined;
  }
  const r = StateHeadSchema.safeParse(head);
  return r.success ? r.data : undefined;
}

/** The state a file's text holds, or what is wrong with it ("not valid JSON", "invalid (...)"). */
export function stateFromText(text: string): State | { readonly problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { problem: 'not valid JSON' };
  }
  rejoinParsers(raw);
  const version = (raw as { version?: unknown } | null)?.version;
  if (version !== undefined && version !== STATE_VERSION) {
    return { problem: `version ${JSON.stringify(version)}, this sendwatch reads version ${STATE_VERSION}` };
  }
  const r = StateShellSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    return { problem: `invalid (${issue ? `${issue.path.join('.')}: ${issue.message}` : 'schema'})` };
  }
  const alerts = alertMemoryOf(r.data.alerts);
  if (typeof alerts === 'string') return { problem: `invalid (alerts.${alerts}: not an alert memory entry)` };
  return { ...r.data, alerts };
}

/** Loads the state; a missing file is a first run; a damaged one is moved aside. */
export function loadState(path: string, now: number): LoadResult {
  const bytes = readOwnFile(path);
  if (bytes === undefined) return { state: emptyState(now) };
  const loaded = stateFromText(bytes.toString('utf8'));
  if (!('problem' in loaded)) return { state: loaded };
  const { problem } = loaded;
  const aside = `${path}.corrupt-${new Date(now).toISOString().replace(/[:.]/g, '-')}`;
  try {
    renameSync(path, aside);
  } catch (e) {
    throw new RuntimeError(`state ${path} is ${problem} and ${describeFsError('move it aside to', aside, e)}`);
  }
  return { state: emptyState(now), warning: `state ${path} was ${problem}: moved aside to ${aside}; starting with fresh state` };
}

/** The state as JSON, its sections in SECTION_ORDER, each log's parser state apart in `parsers`. */
export function serializeState(state: State): string {
  const cursors: Record<string, unknown> = {};
  const parsers: Record<string, unknown> = {};
  for (const [path, { parser, ...rest }] of Object.entries(state.sources)) {
    cursors[path] = rest;
    if (parser !== undefined) parsers[path] = parser;
  }
  const sections: Partial<Record<FileSection, unknown>> = {
    ...state, sources: cursors, alerts: alertMemoryRows(state.alerts), parsers: Object.keys(parsers).length > 0 ? parsers : undefined,
  };
  const parts: string[] = [];
  for (const key of SECTION_ORDER) {
    const value = sections[key];
    if (value !== undefined) parts.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
  }
  return `{${parts.join(',')}}\n`;
}

/** Puts each log's parser state (see serializeState) back beside its cursor; a file without `parsers` (an older one) keeps its own. */
function rejoinParsers(raw: unknown): void {
  if (typeof raw !== 'object' || raw === null) return;
  const o = raw as { sources?: unknown; parsers?: unknown };
  const parsers = o.parsers;
  delete o.parsers;
  if (typeof parsers !== 'object' || parsers === null || typeof o.sources !== 'object' || o.sources === null) return;
  const sources = o.sources as Record<string, unknown>;
  for (const [path, parser] of Object.entries(parsers as Record<string, unknown>)) {
    const src = sources[path];
    if (isPlainObject(src)) src.parser = parser;
  }
}

/** Writes the whole state atomically: readers see the old file or the new one, never a mix. */
export function saveState(path: string, state: State): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}`);
  const text = serializeState(state);
  let fd: number | undefined;
  try {
    try {
      unlinkSync(tmp);
    } catch {
      // Usually absent.
    }
    fd = openSync(tmp, CREATE_EXCL, 0o600);
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // Nothing was created.
    }
    throw new RuntimeError(describeFsError('write state', path, e));
  }
  try {
    const dfd = openSync(dir, constants.O_RDONLY);
    fsyncSync(dfd);
    closeSync(dfd);
  } catch {
    // Some file systems cannot fsync a directory; the rename is still atomic.
  }
}
