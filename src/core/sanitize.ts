/**
 * Log fields are attacker-written. Before any of them reaches a terminal, a TSV
 * column or an e-mail header, control characters (C0, DEL, C1) and the Unicode
 * bidirectional overrides that can visually reorder text are made visible as escapes.
 * One character class, no alternation: linear time on any input.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_G = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const TSV_UNSAFE_G = /[\\\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  if (c === '\\') return '\\\\';
  if (c === '\t') return '\\t';
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** For terminals and e-mail bodies: control characters become visible escapes. */
export function sanitize(s: string): string {
  return UNSAFE.test(s) ? s.replace(UNSAFE_G, escapeChar) : s;
}

/** For a TSV column: also tabs, newlines and backslashes escaped, so columns and rows stay whole. */
export function sanitizeTsv(s: string): string {
  return s.replace(TSV_UNSAFE_G, escapeChar);
}

const JSON_UNSAFE_G = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * For a JSON text from JSON.stringify, which escapes C0 but leaves DEL, C1 controls
 * (U+009B is a CSI to some terminals), bidi overrides and U+2028/9 raw: those become
 * `\u` escapes. Outside strings JSON.stringify writes only ASCII, and every escape it
 * writes is complete, so the text still parses to the very same value.
 */
export function escapeJsonText(json: string): string {
  return json.replace(JSON_UNSAFE_G, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** For an e-mail header: one line, no CR/LF, bounded length. */
export function sanitizeHeader(s: string, max = 200): string {
  const one = sanitize(s);
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}
