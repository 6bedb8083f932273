/**
 * Annotated sample logs (fail2ban style): every log line is preceded by `#> ` and
 * what the parser must make of it: `ignored`, `unrecognised`, or a JSON object that
 * the event must contain (each key deep-equal; `at` may be written as ISO 8601;
 * the value `"<absent>"` requires the field to be missing).
 * `#! key=value ...` sets the parse context (timezone, reference); other `#` lines are comments.
 */
import { readFileSync } from 'node:fs';

export type Expectation = { kind: 'ignored' } | { kind: 'unrecognised' } | { kind: 'event'; fields: Record<string, unknown> };

export interface AnnotatedCase {
  readonly lineNo: number;
  readonly text: string;
  readonly expect: Expectation;
}

export interface AnnotatedFile {
  readonly timezone: string;
  readonly reference: number;
  readonly cases: readonly AnnotatedCase[];
}

export function readAnnotated(path: string): AnnotatedFile {
  const lines = readFileSync(path, 'utf8').split('\n');
  let timezone = 'UTC';
  let reference = Date.parse('2026-11-22T00:00:00Z');
  const cases: AnnotatedCase[] = [];
  let pending: Expectation | undefined;
  lines.forEach((text, i) => {
    const lineNo = i + 1;
    if (text.startsWith('#!')) {
      for (const kv of text.slice(2).trim().split(/\s+/)) {
        const [k, v] = kv.split('=');
        if (k === 'timezone' && v) timezone = v;
        else if (k === 'reference' && v) reference = Date.parse(v);
        else throw new Error(`${path}:${lineNo}: unknown directive ${kv}`);
      }
      return;
    }
    if (text.startsWith('#>')) {
      if (pending) throw new Error(`${path}:${lineNo}: two expectations in a row`);
      const body = text.slice(2).trim();
      if (body === 'ignored' || body === 'unrecognised') pending = { kind: body };
      else pending = { kind: 'event', fields: JSON.parse(body) as Record<string, unknown> };
      return;
    }
    if (text.startsWith('#') || text === '') return;
    if (!pending) throw new Error(`${path}:${lineNo}: log line without a '#>' expectation`);
    cases.push({ lineNo, text, expect: pending });
    pending = undefined;
  });
  if (pending) throw new Error(`${path}: expectation at end of file without a line`);
  return { timezone, reference, cases };
}

export const ABSENT = '<absent>';

/** The event's own fields, with `at` shown as ISO 8601 when the expectation writes it so. */
export function pickComparable(event: unknown, fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const ev = event as Record<string, unknown>;
  for (const k of Object.keys(fields)) {
    const v = ev[k];
    // `"<absent>"` says the event must not have the field at all.
    if (fields[k] === ABSENT) {
      out[k] = v === undefined ? ABSENT : v;
      continue;
    }
    out[k] = typeof fields[k] === 'string' && typeof v === 'number' && k === 'at' ? new Date(v).toISOString() : v;
  }
  return out;
}
