/**
 * Where the values of a JSON object's top-level keys are in its text, without parsing
 * them. The state file is one JSON object whose first sections (cursors, outbox) are a
 * few kilobytes and whose last ones (the rules' windows) are megabytes: a run with
 * nothing new reads the first and never builds the second.
 *
 * Only the structure is followed (strings, brackets, commas): each span is meant for
 * JSON.parse, which checks its content.
 */

/** `incomplete`: the text ends before the wanted keys (a prefix of a bigger file). */
export type SpanResult = ReadonlyMap<string, readonly [number, number]> | 'incomplete' | 'malformed';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}

/** Index after the string starting at `i` (a quote), or -1 when the text ends inside it. */
function skipString(text: string, i: number): number {
  let from = i + 1;
  for (;;) {
    const q = text.indexOf('"', from);
    if (q === -1) return -1;
    let backslashes = 0;
    while (text.charCodeAt(q - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
    from = q + 1;
  }
}

/** Index after the value starting at `i`, or -1 when the text ends inside it. */
function skipValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return skipString(text, i);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    let depth = 0;
    let j = i;
    while (j < text.length) {
      const d = text.charCodeAt(j);
      if (d === QUOTE) {
        j = skipString(text, j);
        if (j === -1) return -1;
        continue;
      }
      if (d === OPEN_BRACE || d === OPEN_BRACKET) depth++;
      else if (d === CLOSE_BRACE || d === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
    return -1;
  }
  // A number, true, false or null: JSON.parse of the span tells which, if any.
  let j = i;
  while (j < text.length && isScalarChar(text.charCodeAt(j))) j++;
  return j < text.length ? j : -1;
}

/** Characters of numbers and of true, false and null. */
function isScalarChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x2e || c === 0x2b || c === 0x2d;
}

/**
 * The [start, end) of each wanted key's value in `text`, a JSON object or a prefix of
 * one; it stops as soon as every wanted key was found, so keys written first are found
 * without going through the rest (a key written twice, which saveState never does,
 * is taken at its first).
 */
export function topLevelSpans(text: string, wanted: ReadonlySet<string>): SpanResult {
  const spans = new Map<string, readonly [number, number]>();
  let i = skipSpace(text, 0);
  if (i >= text.length) return 'incomplete';
  if (text.charCodeAt(i) !== OPEN_BRACE) return 'malformed';
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) === CLOSE_BRACE) return spans;
  for (;;) {
    if (i >= text.length) return 'incomplete';
    if (text.charCodeAt(i) !== QUOTE) return 'malformed';
    const keyEnd = skipString(text, i);
    if (keyEnd === -1) return 'incomplete';
    let key: unknown;
    try {
      key = JSON.parse(text.slice(i, keyEnd));
    } catch {
      return 'malformed';
    }
    i = skipSpace(text, keyEnd);
    if (i >= text.length) return 'incomplete';
    if (text.charCodeAt(i) !== COLON) return 'malformed';
    i = skipSpace(text, i + 1);
    if (i >= text.length) return 'incomplete';
    const end = skipValue(text, i);
    if (end === -1) return 'incomplete';
    if (end === i) return 'malformed';
    if (typeof key === 'string' && wanted.has(key)) {
      spans.set(key, [i, end]);
      if (spans.size === wanted.size) return spans;
    }
    i = skipSpace(text, end);
    if (i >= text.length) return 'incomplete';
    const sep = text.charCodeAt(i);
    if (sep === CLOSE_BRACE) return spans;
    if (sep !== COMMA) return 'malformed';
    i = skipSpace(text, i + 1);
  }
}
