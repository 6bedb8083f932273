/**
 * The part of `sendwatch run` that reads and evaluates: loaded only when some log has
 * something new (or the outbox waits), so that a run with nothing new stays a small
 * program (see nothingNew in run.ts).
 */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { decideAlerts } from '../alerts/policy.js';
import type { Alert, Digest, Verdict } from '../alerts/types.js';
import { incidentAddresses, incidentAdvice, incidentCountries, IncidentTracker, scoreSignals, type Incident } from '../alerts/incidents.js';
import { resolveContext, type Config } from '../config/load.js';
import { now } from '../core/clock.js';
import { boundHeapGrowth } from '../core/heap.js';
import { EXIT } from '../core/errors.js';
import { SourceRun, type InputSummary } from '../core/pipeline.js';
import { hostTimezone } from '../core/time.js';
import { SEVERITY_RANK, type Finding, type MailRecord } from '../core/types.js';
import { detectParser, findParser } from '../parsers/index.js';
import { createEngine } from '../rules/engine.js';
import { cursorAfter, planRead, type Cursor, type ReadPlan } from '../sources/cursor.js';
import { InputError, openInput, readLineBatches } from '../sources/lines.js';
import { loadState, saveState } from '../state/store.js';
import type { OutboxEntry, SourceState, State } from '../state/schema.js';
import type { Io } from './io.js';
import { sanitize } from '../core/sanitize.js';
import { toNdjsonLine, toText, toTsvLine, type OutputFormat } from './output.js';
import { Chalk } from 'chalk';
import { fault, type RunOptions } from './run.js';

/** The longest span of log time any rule looks back over: a first run reads this much history. */
export function longestWindowMs(config: Config): number {
  const r = config.rules as Record<string, Record<string, unknown> | undefined>;
  const minutes: number[] = [60];
  const spa = r['sends-per-account']?.windows;
  if (Array.isArray(spa)) for (const w of spa) minutes.push(Number((w as { minutes?: unknown }).minutes) || 0);
  else minutes.push(1440);
  minutes.push(Number(r['from-user-mismatch']?.windowMinutes ?? 60));
  minutes.push(Number(r['odd-hours']?.gapMinutes ?? 120));
  minutes.push(Number(r['foreign-sender-host']?.repeatAfterHours ?? 24) * 60);
  return Math.max(...minutes.filter((m) => Number.isFinite(m))) * 60_000;
}

/** Log time of a line, by the source's parser: for placing a first run's start. */
async function timeReader(path: string, format: string | undefined, timezone: string): Promise<{ format?: string; timeOf: (text: string) => number | undefined }> {
  let parser = format && format !== 'auto' ? findParser(format) : undefined;
  if (!parser) {
    const input = await openInput(path);
    const sample: string[] = [];
    try {
      for await (const batch of readLineBatches(input)) {
        for (const l of batch.lines) if (l.text.trim() !== '' && sample.length < 50) sample.push(l.text);
        break;
      }
    } finally {
      await input.close();
    }
    parser = detectParser(sample)?.parser;
  }
  if (!parser) return { timeOf: () => undefined };
  // As SourceRun dates the lines it reads: year-less stamps from the file's modification time.
  const parse = parser.createLineParser({ source: path, timezone, referenceTime: statSync(path).mtimeMs });
  let lineNo = 0;
  return {
    format: parser.name,
    timeOf: (text) => {
      const r = parse({ source: path, lineNo: ++lineNo, text });
      if (r.kind !== 'event') return undefined;
      const at = (r.event as { at?: unknown }).at;
      return typeof at === 'number' ? at : undefined;
    },
  };
}

function report(io: Io, s: InputSummary, o: RunOptions): void {
  if (o.verbose) {
    const total = s.counts.event + s.counts.ignored + s.counts.unrecognised;
    io.err(`${s.name}: ${s.format}, ${total} new lines: ${s.counts.event} events, ${s.counts.ignored} ignored, ${s.counts.unrecognised} not understood; ${s.records} records`);
    for (const l of s.unrecognisedSamples) io.err(`  not understood: ${sanitize(l.source)}:${l.lineNo}: ${sanitize(l.text.slice(0, 300))}`);
  } else if (!o.quiet && s.counts.unrecognised > 0) {
    io.err(`${s.name}: ${s.counts.unrecognised} new lines not understood as ${s.format} (--verbose lists them)`);
  }
  if (!o.quiet) for (const d of s.diagnostics) io.err(`${s.name}: ${d}`);
}

/** The incident as the digest shows it. */
function verdictOf(inc: Incident, o: Config['incidents']): Verdict {
  return {
    severity: inc.severity, score: inc.score, families: scoreSignals(inc.signals, o).families,
    firstSeen: inc.firstSeen, lastSeen: inc.lastSeen,
    addresses: incidentAddresses(inc), countries: incidentCountries(inc), advice: incidentAdvice(inc),
  };
}

/** An alert as a finding, for stdout: the scan's NDJSON/TSV contract plus `reason`. */
function alertAsFinding(a: Alert): Finding {
  return { rule: a.rule, account: a.account, severity: a.severity, at: a.firstSeen, message: a.message, data: a.data, evidence: a.evidence };
}

function printAlerts(io: Io, alerts: readonly Alert[], format: OutputFormat, tz: string): void {
  if (alerts.length === 0) return;
  if (format === 'ndjson') {
    for (const a of alerts) io.write(`${toNdjsonLine(alertAsFinding(a)).slice(0, -1)},"reason":${JSON.stringify(a.reason)}}\n`);
  } else if (format === 'tsv') {
    for (const a of alerts) io.write(`${toTsvLine(alertAsFinding(a))}\n`);
  } else {
    const chalk = new Chalk({ level: 0 });
    io.write(toText(alerts.map(alertAsFinding), { chalk, timezone: tz, evidenceLines: 5, width: 240 }));
  }
}

interface SourceOutcome {
  readonly state: SourceState | undefined;
  readonly lastAt: number | undefined;
  readonly failed: boolean;
}

/**
 * Records of one log are held back until its new part was read whole: a log that fails
 * half-way (vanished, unreadable) then counts for nothing this run and is read again from
 * its old cursor next time, so no line is counted twice. Beyond this many (a first run
 * over a large log) they are applied as they come, to bound memory.
 */
const HOLD_RECORDS = 100_000;

/** A cron source must be a regular file: a FIFO would block the run, a directory is a mistake. */
function checkSourceFile(path: string): void {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(path, code === 'ENOENT' ? 'no such file (not logged to yet after a rotation?)' : code === 'EACCES' ? 'permission denied' : (e as Error).message);
  }
  if (st.isDirectory()) throw new InputError(path, 'is a directory');
  if (!st.isFile()) throw new InputError(path, 'not a regular file (a FIFO or device cannot be followed from cron)');
}

/**
 * A run that reads this much streams like a scan: a first run, a `--from-start`, one after
 * days without cron. It bounds the heap's growth as scan does (the state-less first run of
 * the 1 GB log: 440 -> 327 MB peak RSS, at a fifth more CPU). A run of a few MB is left at
 * V8's default, where the bound cost a tenth of its time to save 10 MB.
 */
const LARGE_READ_BYTES = 64 * 1024 * 1024;

/** What a plan has left to read, by the files' sizes (a compressed file counts as its size). */
function plannedBytes(plan: ReadPlan): number {
  let n = 0;
  for (const seg of plan.segments) {
    try {
      n += Math.max(0, statSync(seg.path).size - seg.startOffset);
    } catch {
      // Gone since the plan: reading it will say so.
    }
  }
  return n;
}

async function readSource(
  src: Config['sources'][number], saved: SourceState | undefined, config: Config, o: RunOptions, io: Io,
  onRecord: (r: MailRecord) => void,
): Promise<SourceOutcome> {
  const tz = src.timezone ?? config.timezone ?? hostTimezone();
  const format = src.format !== 'auto' ? src.format : saved?.format ?? 'auto';
  let batches = 0;
  let held: MailRecord[] = [];
  let applied = 0;
  const hold = (r: MailRecord): void => {
    held.push(r);
    if (held.length >= HOLD_RECORDS) {
      for (const h of held) onRecord(h);
      applied += held.length;
      held = [];
    }
  };
  const run = new SourceRun(src.path, {
    format, timezone: tz, defaultDomain: config.defaultDomain, openTtlMs: config.state.openMessageHours * 3_600_000,
    keepUnrecognised: o.verbose ? 100 : 0, onRecord: hold, savedParserState: saved?.parser,
    afterBatch: () => {
      if (++batches === 1) fault('mid-read');
      return Promise.resolve();
    },
  });
  try {
    checkSourceFile(src.path);
    const times = saved?.cursor || o.fromStart ? { timeOf: () => undefined } : await timeReader(src.path, format, tz).catch(() => ({ timeOf: () => undefined }));
    const plan = await planRead(src.path, saved?.cursor, {
      startAt: o.fromStart ? 'start' : 'end-window', windowMs: longestWindowMs(config), timeOf: times.timeOf,
    });
    for (const w of plan.warnings) io.err(w);
    if (plannedBytes(plan) >= LARGE_READ_BYTES) boundHeapGrowth();
    let live: { endOffset: number; lineNo: number } | undefined;
    for (const seg of plan.segments) {
      const stats = await run.feed(seg.path, { startOffset: seg.startOffset, firstLineNo: seg.firstLineNo, consumePartialLastLine: !seg.live });
      if (seg.live) live = { endOffset: stats.endOffset, lineNo: seg.firstLineNo + stats.lines };
    }
    let cursor: Cursor | undefined;
    try {
      cursor = live ? await cursorAfter(src.path, live.endOffset, live.lineNo) : saved?.cursor;
    } catch (e) {
      throw e instanceof InputError ? e : new InputError(src.path, `vanished while it was read (${(e as Error).message})`);
    }
    for (const h of held) onRecord(h);
    held = [];
    report(io, run.finish(), o);
    const fmt = run.format ?? saved?.format;
    const parser = run.snapshot();
    return {
      state: { ...(cursor ? { cursor } : {}), ...(fmt ? { format: fmt } : {}), ...(parser !== undefined ? { parser } : {}) },
      lastAt: run.summary.lastAt, failed: false,
    };
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    // The cursor stays where it was: the next run reads this log again from there.
    io.err(applied > 0
      ? `${e.message}; ${applied} of its records were already counted and may count again when it is re-read`
      : `${e.message}; it will be read again from the same place next run`);
    return { state: saved, lastAt: undefined, failed: true };
  }
}

async function sendOutbox(state: State, config: Config, tz: string, io: Io): Promise<{ sent: number; failed: boolean }> {
  const alerts = config.alerts;
  if (!alerts || state.outbox.length === 0) return { sent: 0, failed: false };
  const { sendMail } = await import('../sinks/mail.js');
  const { digestMessage } = await import('../alerts/message.js');
  let sent = 0;
  while (state.outbox.length > 0) {
    const entry = state.outbox[0] as OutboxEntry;
    try {
      await sendMail(alerts.transport, digestMessage(entry.digest, alerts, { timezone: tz, sentAt: now() }));
      // Sent but not yet struck from the outbox: a crash here sends this digest twice.
      fault('mid-send');
      state.outbox.shift();
      sent++;
    } catch (e) {
      entry.attempts++;
      entry.lastAttempt = now();
      entry.lastError = e instanceof Error ? e.message : String(e);
      io.err(`alert e-mail not sent: ${entry.lastError}; ${state.outbox.length} digest(s) kept in the outbox for the next run`);
      return { sent, failed: true };
    }
  }
  return { sent, failed: false };
}

/** A run under the lock: load the state, read and evaluate what is new, save, send. */
export async function evaluateRun(config: Config, o: RunOptions, io: Io): Promise<number> {
  const statePath = config.state.path;
  const wall = now();
  const loaded = loadState(statePath, wall);
  if (loaded.warning) io.err(loaded.warning);
  const state = loaded.state;
  const tz = config.timezone ?? hostTimezone();
  const findings: Finding[] = [];
  // Each finding joins its account's incident; the incident (not the finding alone)
  // decides whether it is worth a mail.
  const incidentOf = new Map<Finding, Incident>();
  const tracker = new IncidentTracker(config.incidents, null, state.incidents);
  const engine = createEngine(config, { ...resolveContext(config), severalInputs: config.sources.length > 1 }, (f) => {
    findings.push(f);
    incidentOf.set(f, tracker.add(f));
  }, { saved: state.rules });

  let failed = false;
  let latest = 0;
  const sources: Record<string, SourceState> = { ...state.sources };
  for (const src of config.sources) {
    const r = await readSource(src, state.sources[src.path], config, o, io, (rec) => engine.onRecord(rec));
    if (r.state) sources[src.path] = r.state;
    if (r.failed) failed = true;
    if (r.lastAt !== undefined && r.lastAt > latest) latest = r.lastAt;
  }

  if (latest > 0) tracker.closeIdle(latest);
  const alertsCfg = config.alerts;
  const minSeverity = alertsCfg?.minSeverity ?? 'warning';
  const decided = decideAlerts(findings, state.alerts, {
    minSeverity,
    cooldownMs: (alertsCfg?.cooldownHours ?? 24) * 3_600_000,
    ...(latest > 0 ? { now: latest } : {}),
    accept: (f) => SEVERITY_RANK[incidentOf.get(f)?.severity ?? f.severity] >= SEVERITY_RANK[minSeverity],
  });
  const verdicts: Record<string, Verdict> = {};
  // An alert's first finding, found by key: a first run has thousands of alerts and tens of thousands of findings.
  const firstFinding = new Map<string, Finding>();
  const keyOf = (account: string, rule: string, at: number): string => `${account}\n${rule}\n${at}`;
  for (const f of findings) {
    const k = keyOf(f.account, f.rule, f.at);
    if (!firstFinding.has(k)) firstFinding.set(k, f);
  }
  for (const a of decided.alerts) {
    const f = firstFinding.get(keyOf(a.account, a.rule, a.firstSeen));
    const inc = (f && incidentOf.get(f)) ?? tracker.get(a.account);
    if (inc) verdicts[a.account] = verdictOf(inc, config.incidents);
  }
  const next: State = {
    ...state, updatedAt: wall, sources, rules: engine.snapshot(), alerts: decided.memory, outbox: [...state.outbox],
    incidents: tracker.snapshot(),
  };
  if (alertsCfg && decided.alerts.length > 0) {
    const digest: Digest = { id: `${wall.toString(36)}.${randomBytes(6).toString('hex')}`, createdAt: wall, host: alertsCfg.hostname, alerts: decided.alerts, verdicts };
    // The state holds plain mutable JSON: copy the readonly alert structures into it.
    next.outbox.push({ digest: JSON.parse(JSON.stringify(digest)) as OutboxEntry['digest'], attempts: 0 });
  }
  saveState(statePath, next);
  fault('after-state-write');

  // Without an e-mail section the alerts go to stdout, which cron mails: mailx manners.
  const format = o.output ?? (alertsCfg ? undefined : 'text');
  if (format) printAlerts(io, decided.alerts, format, tz);
  await io.drain();

  const outboxBefore = next.outbox.length;
  const sending = await sendOutbox(next, config, tz, io);
  if (sending.failed) failed = true;
  if (next.outbox.length !== outboxBefore || sending.failed) saveState(statePath, next);
  fault('after-send');
  if (failed) return EXIT.RUNTIME;
  return decided.alerts.length > 0 ? EXIT.FINDINGS : EXIT.OK;
}
