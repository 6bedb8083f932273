/**
 * The state file of cron mode: versioned and validated on load, so a file written by
 * another version or damaged on disk is recognised instead of misread.
 */
import { z } from 'zod';
import type { Severity as SeverityName } from '../core/types.js';
import { isPlainObject } from '../core/saved-json.js';

export const STATE_VERSION = 1;

const Evidence = z.object({ source: z.string(), lineNo: z.number(), text: z.string() });
const Severity = z.enum(['info', 'warning', 'critical']);

export const CursorSchema = z.object({
  path: z.string(),
  dev: z.number(),
  ino: z.number(),
  size: z.number(),
  offset: z.number(),
  lineNo: z.number(),
  headHash: z.string(),
  headLength: z.number(),
  mtimeMs: z.number(),
});

export const SourceStateSchema = z.object({
  cursor: CursorSchema.optional(),
  /** The detected (or configured) parser, so a quiet file keeps its format. */
  format: z.string().optional(),
  /** The correlator's open messages (parser-specific JSON). */
  parser: z.unknown().optional(),
});

/** What the alert policy remembers of a fingerprint (rule + account + level). */
export const AlertMemorySchema = z.object({
  rule: z.string(),
  account: z.string(),
  severity: Severity,
  firstSeen: z.number(),
  lastSeen: z.number(),
  lastSent: z.number(),
  /** The size of the condition when last sent, so a doubling is news again. */
  magnitude: z.number(),
  sent: z.number(),
});

export const AlertSchema = z.object({
  fingerprint: z.string(),
  rule: z.string(),
  account: z.string(),
  severity: Severity,
  reason: z.enum(['new', 'escalated', 'reminder']),
  firstSeen: z.number(),
  lastSeen: z.number(),
  message: z.string(),
  data: z.record(z.string(), z.union([z.string(), z.number()])),
  evidence: z.array(Evidence),
});

export const VerdictSchema = z.object({
  severity: Severity,
  score: z.number(),
  families: z.array(z.string()),
  firstSeen: z.number(),
  lastSeen: z.number(),
  addresses: z.array(z.string()),
  countries: z.array(z.string()),
  advice: z.array(z.string()),
});

export const DigestSchema = z.object({
  id: z.string(),
  createdAt: z.number(),
  host: z.string(),
  alerts: z.array(AlertSchema),
  verdicts: z.record(z.string(), VerdictSchema).optional(),
});

export const OutboxEntrySchema = z.object({
  digest: DigestSchema,
  attempts: z.number(),
  lastError: z.string().optional(),
  lastAttempt: z.number().optional(),
});

/**
 * The state as loadState checks it: the small sections whole, the alert memory (one
 * entry per account and rule, the biggest part the schema would walk) by
 * isAlertMemory, and the rules' and incidents' parts left to their owners, which
 * validate what they restore.
 */
export const StateShellSchema = z.object({
  version: z.literal(STATE_VERSION),
  updatedAt: z.number(),
  sources: z.record(z.string(), SourceStateSchema),
  rules: z.custom<Record<string, unknown>>(isPlainObject, 'expected an object'),
  /** Rows (alertMemoryRows); a file from before them holds an object by fingerprint. */
  alerts: z.custom<Record<string, unknown> | unknown[]>((v) => isPlainObject(v) || Array.isArray(v), 'expected a list or an object'),
  outbox: z.array(OutboxEntrySchema),
  incidents: z.unknown().optional(),
});

const SEVERITIES: ReadonlySet<unknown> = new Set(Severity.options);

/** AlertMemorySchema without zod's walk: thousands of entries are checked on every run. */
export function isAlertMemory(v: unknown): v is AlertMemory {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  return typeof m.rule === 'string' && typeof m.account === 'string' && SEVERITIES.has(m.severity)
    && typeof m.firstSeen === 'number' && typeof m.lastSeen === 'number' && typeof m.lastSent === 'number'
    && typeof m.magnitude === 'number' && typeof m.sent === 'number';
}

/** An alert's identity: the policy remembers one entry per fingerprint. */
export const fingerprintOf = (f: { readonly rule: string; readonly account: string; readonly severity: SeverityName }): string => `${f.rule}|${f.account}|${f.severity}`;

/**
 * The alert memory as the state file holds it: one row per fingerprint, `[rule, account,
 * severity, firstSeen, lastSeen, lastSent, magnitude, sent]`. An object per entry repeated
 * every field name and the fingerprint (rule|account|severity) besides: 230 bytes an
 * entry, half of it names, and thousands of entries on a site of thousands of accounts.
 */
export type AlertMemoryRow = [string, string, SeverityName, number, number, number, number, number];

export function alertMemoryRows(memory: Readonly<Record<string, AlertMemory>>): AlertMemoryRow[] {
  const rows: AlertMemoryRow[] = [];
  for (const key in memory) {
    const m = memory[key];
    if (m) rows.push([m.rule, m.account, m.severity, m.firstSeen, m.lastSeen, m.lastSent, m.magnitude, m.sent]);
  }
  return rows;
}

/** The memory the rows (or an older file's object) hold, by fingerprint; a string naming the first damaged entry otherwise. */
export function alertMemoryOf(saved: Record<string, unknown> | unknown[]): Record<string, AlertMemory> | string {
  if (!Array.isArray(saved)) {
    for (const key in saved) if (!isAlertMemory(saved[key])) return key;
    return saved as Record<string, AlertMemory>;
  }
  const memory: Record<string, AlertMemory> = {};
  for (let i = 0; i < saved.length; i++) {
    const row: unknown = saved[i];
    if (!Array.isArray(row) || row.length !== 8) return String(i);
    const [rule, account, severity, firstSeen, lastSeen, lastSent, magnitude, sent] = row as unknown[];
    const m = { rule, account, severity, firstSeen, lastSeen, lastSent, magnitude, sent };
    if (!isAlertMemory(m)) return String(i);
    memory[fingerprintOf(m)] = m;
  }
  return memory;
}

/** The sections a run with nothing new reads (see peekState); saveState writes them first. */
export const StateHeadSchema = z.object({
  version: z.literal(STATE_VERSION),
  sources: z.record(z.string(), SourceStateSchema),
  outbox: z.array(OutboxEntrySchema),
});

export type StateHead = z.output<typeof StateHeadSchema>;

export const StateSchema = z.object({
  version: z.literal(STATE_VERSION),
  updatedAt: z.number(),
  sources: z.record(z.string(), SourceStateSchema),
  /** Each rule's windows and episodes (rule-specific JSON). */
  rules: z.record(z.string(), z.unknown()),
  alerts: z.record(z.string(), AlertMemorySchema),
  outbox: z.array(OutboxEntrySchema),
  /** Open incidents per account, so a verdict builds up across runs as in one scan. */
  incidents: z.unknown().optional(),
});

export type State = z.output<typeof StateSchema>;
export type SourceState = z.output<typeof SourceStateSchema>;
export type AlertMemory = z.output<typeof AlertMemorySchema>;
export type OutboxEntry = z.output<typeof OutboxEntrySchema>;

export function emptyState(now: number): State {
  return { version: STATE_VERSION, updatedAt: now, sources: {}, rules: {}, alerts: {}, outbox: [] };
}
