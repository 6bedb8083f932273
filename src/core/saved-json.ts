/**
 * Checks for JSON read back from the state file, by hand: zod's generic walk over
 * thousands of saved entries cost a cron run more than its new lines, and a damaged
 * entry must be refused, never thrown on. Each returns what it checked, typed, or says no.
 */
import type { Evidence } from './types.js';

/** A saved section's fields, or none when it is not an object. */
export function sectionOf(saved: unknown): Record<string, unknown> {
  return typeof saved === 'object' && saved !== null ? (saved as Record<string, unknown>) : {};
}

export const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
export const isNumberList = (v: unknown): v is number[] => Array.isArray(v) && v.every(isFiniteNumber);
export const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
/** A JSON object (not an array): what zod's z.object takes. */
export const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every item of a saved list through `of`, or undefined when it is no list or any item is out of shape. */
export function listOf<T>(v: unknown, of: (item: unknown) => T | undefined): T[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: T[] = [];
  for (const item of v as unknown[]) {
    const x = of(item);
    if (x === undefined) return undefined;
    out.push(x);
  }
  return out;
}

/** A saved evidence line `{source, lineNo, text}`, rebuilt without other keys; undefined when out of shape. */
export function evidenceOf(v: unknown): Evidence | undefined {
  if (!isPlainObject(v) || typeof v.source !== 'string' || !isFiniteNumber(v.lineNo) || typeof v.text !== 'string') return undefined;
  return { source: v.source, lineNo: v.lineNo, text: v.text };
}
