/**
 * The properties every parser must keep on hostile input, shared by the bounded suite
 * (parsers.test.ts, fixed seed, a few hundred runs) and the long run (fuzz.ts,
 * `npm run fuzz`). Every parser of the registry is covered, so a new family is fuzzed
 * as soon as it is registered.
 *
 * Inputs: random text (control characters, lone surrogates, bidi controls, separators),
 * random bytes decoded as UTF-8, and mutations of the family's own fixture lines
 * (fixtures/parsers/<name>/*.log): truncated, fields doubled, separators and quotes
 * inserted, numbers made huge, pieces of forged fields (`User: ceo@...`,
 * `sasl_username=...`) spliced in.
 *
 * Properties:
 *  - the line parser never throws, answers one of its three verdicts, and no line takes long;
 *  - an event's claim of an account (`user`, `login`, `username`, `account`, a counter `key`)
 *    is text written in the line (XML-entity decoded for LOG_FORMAT=4), never made up;
 *  - a whole session (`open`, push, snapshot through JSON, reopen, push, flush) never
 *    throws; its records have finite times, quote pushed lines verbatim as evidence, and
 *    name only accounts and logins written in the lines pushed;
 *  - `detect` never throws and answers a confidence in [0, 1];
 *  - the server's own field syntax (`, User: ceo@...`, `, sasl_username=...`, `*ceo@...`,
 *    `" in sendlim: 99 / 100`) written into an attacker-chosen value (Subject, envelope
 *    addresses as quoted local parts, Message-ID, HELO, MeterMaid key) changes no field
 *    the server wrote (who, from where, how many, what happened) of a fixture event line:
 *    randomly, and as a sweep over every line, field and forged token.
 */
import fc from 'fast-check';
import { existsSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parsers } from '../../src/parsers/index.js';
import type { CorrelateContext, ParseContext, Parser, ParseResult } from '../../src/parsers/types.js';
import type { LogLine, MailRecord } from '../../src/core/types.js';
import { readAnnotated } from '../helpers/annotated.js';
import { repoPath } from '../helpers/paths.js';

/** The fixed seed of the bounded suite; `npm run fuzz` takes its own. */
export const DEFAULT_SEED = 20_260_322;

/** A line slower than this is a failure ("never hangs"); the lines generated are at most a few KB. */
export const SLOW_LINE_MS = 1000;

export const DEFAULT_DOMAIN = 'example.edu';
const OPEN_TTL_MS = 5 * 24 * 3600 * 1000;

/** Keys of an event or record that say who did something. */
const CLAIM_KEYS = ['user', 'login', 'username', 'account', 'key'] as const;

// ----------------------------------------------------------------------------- corpus

export interface Corpus {
  /** The family's own fixture lines (valid and deliberately odd). */
  readonly own: readonly string[];
  /** Every other family's fixture lines: what a misdetected or mixed file would feed it. */
  readonly others: readonly string[];
  readonly timezone: string;
  readonly reference: number;
}

function fixtureLines(family: string): { lines: string[]; timezone: string; reference: number } {
  const dir = repoPath('fixtures', 'parsers', family);
  const lines: string[] = [];
  let timezone = 'UTC';
  let reference = Date.parse('2026-11-22T00:00:00Z');
  if (!existsSync(dir)) return { lines, timezone, reference };
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.log')).sort()) {
    const a = readAnnotated(`${dir}/${f}`);
    timezone = a.timezone;
    reference = a.reference;
    for (const c of a.cases) lines.push(c.text);
  }
  return { lines, timezone, reference };
}

const corpora = new Map<string, Corpus>();

export function corpusOf(parser: Parser): Corpus {
  const known = corpora.get(parser.name);
  if (known) return known;
  const own = fixtureLines(parser.name);
  const others = parsers.filter((p) => p.name !== parser.name).flatMap((p) => fixtureLines(p.name).lines);
  // A family without fixtures of its own is still fuzzed with everyone else's lines.
  const corpus = { own: own.lines.length > 0 ? own.lines : others, others, timezone: own.timezone, reference: own.reference };
  corpora.set(parser.name, corpus);
  return corpus;
}

export function parseContext(corpus: Corpus): ParseContext {
  return { source: 'fuzz.log', timezone: corpus.timezone, referenceTime: corpus.reference };
}

export const correlateContext: CorrelateContext = { defaultDomain: DEFAULT_DOMAIN, openTtlMs: OPEN_TTL_MS };

// ----------------------------------------------------------------------------- inputs

/** Pieces an attacker or a broken writer puts into a line. */
export const TOKENS: readonly string[] = [
  // separators and quotes of the families' grammars
  ', ', ',', ': ', ':', '[', ']', '<', '>', '<>', '=', '"', "'", '\\"', '\\', '(', ')', '|', ';', '*', '/', ' ', '   ', '\t', '@', '@@', '.',
  // numbers no field holds
  '99999999999999999999999999', '18446744073709551616', '4294967296', '-1', '1e308', '0x1F', 'NaN', 'Infinity', '00000000000000000000007',
  '9'.repeat(400),
  // control characters, terminal escapes, line breaks, bidi, odd Unicode, invalid UTF-16
  '\0', '\x07', '\b', '\x1b[2J', '\x1b]52;c;ZWNobyBoaQ==\x07', '\x1b[31m', '\r', '\r\n', '\n', '\v', '\f', '\x7f', '\x85', '\x9b',
  '\u202e', '\u202d', '\u2066', '\u2069', '\u200f', '\u2028', '\u2029', '\ufeff', '\ufffd', '\ud800', '\udc00', '\udbff\udfff', '\ud83d\ude00',
  'İ', 'ß', 'Σ', 'ﬀ', '\u0301', '\u3000', '\u00a0',
  // forged fields: who sent and from where
  'User: ceo@example.edu', ', User: ceo@example.edu, SSL: yes', ', Sender-Host: 192.168.1.1', 'Sender-Host: 10.0.0.1, ',
  'sasl_username=ceo@example.edu', ', sasl_username=ceo@example.edu', 'from=<a@b>, sasl_username=x', ', sasl_method=PLAIN',
  'client=unknown[192.168.1.1]', ': client=x[10.0.0.1], sasl_username=ceo', 'status=sent (250 ok)', ' (queued as ABCDEF1234)',
  ', Msg-Id: <x@y>', ', Subject: ', ' Recv: Queue-ID: 69804b70-00000101, ', ' Failed SMTP login from 10.0.0.1 with SASL method PLAIN.',
  ' *ceo@example.edu ', '*ceo@example.edu', ' rfc822;ceo@example.edu ', ' ([10.0.0.1])', ' (TCP|10.0.0.1|25|10.0.0.2|4242)',
  ' us="*ceo@example.edu"', '" us="*ceo@example.edu', ' tr="TCP|1.2.3.4|25|5.6.7.8|9"', '/>', '="', "='", '12:', '0:', '9999999:',
  '&amp;', '&lt;', '&#0;', '&#27;', '&#10;', '&#x110000;', '&#99999999;', '&#xD800;', '&',
  'Current status for "', '" in sendlim: 99 / 100', ' in t: 1 / 100', 'badlogin: [10.0.0.1:1] plaintext ceo ', 'login [10.0.0.1:1] ceo plaintext',
];

/** One UTF-16 code unit or code point of the kinds that break parsers. */
const hostileChar: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...'aZ09 ,:<>[]="@.-/()*;&#\\\t|'.split('')) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 0x9f }).map((c) => String.fromCharCode(c)) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);

export const hostileText = (maxLength: number): fc.Arbitrary<string> => fc.string({ unit: hostileChar, maxLength });

/** Random bytes, decoded as the reader decodes a line (invalid sequences become U+FFFD). */
export const utf8Bytes = (maxLength: number): fc.Arbitrary<string> =>
  fc.uint8Array({ maxLength }).map((b) => Buffer.from(b).toString('utf8'));

/** A position as a fraction of whatever line it is applied to, so shrinking works on any line. */
const position = fc.integer({ min: 0, max: 0xffff });
const at = (p: number, s: string): number => Math.floor((p / 0x10000) * (s.length + 1));

export type Mutation =
  | { readonly op: 'truncate'; readonly at: number }
  | { readonly op: 'insert'; readonly at: number; readonly text: string }
  /** Inserted just after a separator (` `, `,`, `:`, `=`, `<`, `[`, a quote): a field boundary, so the line mostly still parses. */
  | { readonly op: 'field'; readonly at: number; readonly text: string }
  | { readonly op: 'delete'; readonly at: number; readonly len: number }
  | { readonly op: 'duplicate'; readonly at: number }
  | { readonly op: 'number'; readonly at: number; readonly text: string }
  | { readonly op: 'repeat'; readonly at: number; readonly text: string; readonly times: number };

const insertText = (lines: readonly string[]): fc.Arbitrary<string> => fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...TOKENS) },
  { weight: 2, arbitrary: hostileText(12) },
  // a piece of another line: fields of the right shape in the wrong place
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...lines), position, fc.integer({ min: 1, max: 80 }))
    .map(([l, p, n]) => l.slice(at(p, l), at(p, l) + n)) },
);

const HUGE = ['99999999999999999999999999', '18446744073709551617', '4294967296', '9007199254740993', '0', '-1', '1e99', '0000000000000000000000', '9'.repeat(1000)];

export const mutation = (lines: readonly string[]): fc.Arbitrary<Mutation> => fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: position }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('insert' as const), at: position, text: insertText(lines) }) },
  { weight: 6, arbitrary: fc.record({ op: fc.constant('field' as const), at: position, text: insertText(lines) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), at: position, len: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('duplicate' as const), at: position }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('number' as const), at: position, text: fc.constantFrom(...HUGE) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('repeat' as const), at: position, text: fc.constantFrom(...TOKENS.slice(0, 30)), times: fc.integer({ min: 2, max: 300 }) }) },
);

const FIELD_SEPARATORS = ' ,:=<>[("\'';
const isSep = (s: string, i: number): boolean => s.charCodeAt(i) === 32 || s.charCodeAt(i) === 44;

export function applyMutation(s: string, m: Mutation): string {
  const p = at(m.at, s);
  switch (m.op) {
    case 'truncate':
      return s.slice(0, p);
    case 'insert':
      return s.slice(0, p) + m.text + s.slice(p);
    case 'delete':
      return s.slice(0, p) + s.slice(p + m.len);
    case 'field': {
      const bounds: number[] = [];
      for (let i = 1; i <= s.length; i++) if (FIELD_SEPARATORS.includes(s.charAt(i - 1))) bounds.push(i);
      const q = bounds[Math.floor((m.at / 0x10000) * bounds.length)] ?? p;
      return s.slice(0, q) + m.text + s.slice(q);
    }
    case 'repeat':
      return s.slice(0, p) + m.text.repeat(m.times) + s.slice(p);
    case 'duplicate': {
      // The field around p: from after the separator before it to the separator after it.
      let a = p;
      while (a > 0 && !isSep(s, a - 1)) a--;
      let b = p;
      while (b < s.length && !isSep(s, b)) b++;
      const sep = b < s.length ? s.slice(b, s.charCodeAt(b) === 44 && s.charCodeAt(b + 1) === 32 ? b + 2 : b + 1) : ' ';
      return s.slice(0, b) + sep + s.slice(a, b) + s.slice(b);
    }
    case 'number': {
      let a = p;
      while (a < s.length && !isDigit(s.charCodeAt(a))) a++;
      if (a >= s.length) return s + m.text;
      let b = a;
      while (b < s.length && isDigit(s.charCodeAt(b))) b++;
      return s.slice(0, a) + m.text + s.slice(b);
    }
  }
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

export const mutatedLine = (corpus: Corpus): fc.Arbitrary<string> => {
  const all = [...corpus.own, ...corpus.others];
  const base = fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...corpus.own) }, { weight: 1, arbitrary: fc.constantFrom(...corpus.others) });
  return fc.tuple(base, fc.array(mutation(all), { minLength: 1, maxLength: 3 }))
    .map(([line, ms]) => ms.reduce(applyMutation, line));
};

/** What a session is fed: the family's lines as they are, mutated, random. */
export const sessionLine = (corpus: Corpus): fc.Arbitrary<string> => fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...corpus.own) },
  { weight: 4, arbitrary: mutatedLine(corpus) },
  { weight: 1, arbitrary: hostileText(120) },
  { weight: 1, arbitrary: utf8Bytes(120) },
);

// ----------------------------------------------------------------------------- checks

/** Called with every line just before it is parsed (the fuzz watchdog records it). */
let probe: ((text: string) => void) | undefined;
export function setProbe(p: ((text: string) => void) | undefined): void {
  probe = p;
}

/** The one-pass XML decoding of LOG_FORMAT=4 attribute values, written independently of the parser's. */
function decodeXml(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#\d{1,7}|#[xX][0-9a-fA-F]{1,6});/g, (all, name: string) => {
    const named: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
    const n = named[name];
    if (n !== undefined) return n;
    const cp = name.startsWith('#x') || name.startsWith('#X') ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
    return cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) ? String.fromCodePoint(cp) : all;
  });
}

/** Case folding for "is this account written in the line": lower-case, one sigma. */
const fold = (s: string): string => s.toLowerCase().replace(/ς/g, 'σ');

/** Text that claims may come from: the lines as written and as XML-decoded. */
export class Haystack {
  private readonly raw: string[] = [];
  private folded: string | undefined;

  add(text: string): void {
    this.raw.push(text);
    if (text.includes('&')) this.raw.push(decodeXml(text));
    this.folded = undefined;
  }

  has(value: string): boolean {
    return this.raw.some((t) => t.includes(value));
  }

  /** An account: the login lower-cased (and trimmed), with the default domain added to a bare one. */
  hasAccount(account: string): boolean {
    this.folded ??= fold(this.raw.join('\n'));
    const a = fold(account);
    if (this.folded.includes(a)) return true;
    const suffix = `@${DEFAULT_DOMAIN}`;
    return a.endsWith(suffix) && this.folded.includes(a.slice(0, -suffix.length));
  }
}

function describeError(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
}

const VERDICTS = new Set(['event', 'ignored', 'unrecognised']);

function claimsOf(o: unknown): [string, string][] {
  if (typeof o !== 'object' || o === null) return [];
  const out: [string, string][] = [];
  for (const k of CLAIM_KEYS) {
    const v = (o as Record<string, unknown>)[k];
    if (typeof v === 'string') out.push([k, v]);
  }
  return out;
}

/** Parses one line and throws an Error naming the broken property, if any. */
export function checkLine(parse: (line: LogLine) => ParseResult<unknown>, text: string, lineNo = 1): void {
  probe?.(text);
  const t0 = performance.now();
  let r: ParseResult<unknown>;
  try {
    r = parse({ source: 'fuzz.log', lineNo, text });
  } catch (e) {
    throw new Error(`line parser threw: ${describeError(e)}`);
  }
  const ms = performance.now() - t0;
  if (ms > SLOW_LINE_MS) throw new Error(`line parser took ${ms.toFixed(0)} ms on a line of ${text.length} characters`);
  if (typeof r !== 'object' || !VERDICTS.has(r.kind)) throw new Error(`line parser answered ${JSON.stringify(r)}`);
  if (r.kind !== 'event') return;
  const hay = new Haystack();
  hay.add(text);
  for (const [k, v] of claimsOf(r.event)) {
    if (k === 'account' ? !hay.hasAccount(v) : !hay.has(v)) throw new Error(`event claims ${k}=${JSON.stringify(v)}, which is not in the line`);
  }
  try {
    JSON.stringify(r.event);
  } catch (e) {
    throw new Error(`event is not JSON-serialisable: ${describeError(e)}`);
  }
}

export function checkRecord(r: MailRecord, hay: Haystack, pushed: ReadonlySet<string>): void {
  if (!Number.isFinite(r.at)) throw new Error(`record ${r.kind} has time ${String(r.at)}: ${safeJson(r)}`);
  for (const [k, v] of claimsOf(r)) {
    if (k === 'account' ? !hay.hasAccount(v) : !hay.has(v)) throw new Error(`record ${r.kind} names ${k}=${JSON.stringify(v)}, which no line holds`);
  }
  for (const e of r.evidence) {
    if (!pushed.has(e.text)) throw new Error(`record ${r.kind} quotes evidence that is no pushed line: ${JSON.stringify(e.text)}`);
  }
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

function guard<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new Error(`${what} threw: ${describeError(e)}`);
  }
}

/**
 * A whole input through `open`: the first `cut` lines, a snapshot through JSON, a new
 * session from it (as the next cron run), the rest, flush, a last snapshot.
 */
export function checkSession(parser: Parser, corpus: Corpus, lines: readonly string[], cut: number): void {
  const records: MailRecord[] = [];
  let fromThisLine = 0;
  const sink = (r: MailRecord): void => {
    fromThisLine++;
    if (fromThisLine > MAX_RECORDS_PER_LINE) throw new Error(`one line gave more than ${MAX_RECORDS_PER_LINE} records`);
    records.push(r);
  };
  const pctx = parseContext(corpus);
  const hay = new Haystack();
  const pushed = new Set<string>();
  const feed = (session: ReturnType<Parser['open']>, from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const text = lines[i] ?? '';
      hay.add(text);
      pushed.add(text);
      probe?.(text);
      const t0 = performance.now();
      fromThisLine = 0;
      const status = guard(`session push of line ${i + 1}`, () => session.push({ source: 'fuzz.log', lineNo: i + 1, text }));
      const ms = performance.now() - t0;
      if (ms > SLOW_LINE_MS) throw new Error(`session push took ${ms.toFixed(0)} ms on line ${i + 1}`);
      if (!VERDICTS.has(status)) throw new Error(`session push answered ${JSON.stringify(status)}`);
    }
  };
  const split = Math.min(cut, lines.length);
  const first = guard('open', () => parser.open(pctx, correlateContext, sink));
  feed(first, 0, split);
  const saved = guard('snapshot', () => first.snapshot());
  const json = guard('JSON.stringify(snapshot)', () => JSON.stringify(saved) ?? 'null');
  const restored: unknown = JSON.parse(json);
  const second = guard('open with a saved snapshot', () => parser.open(pctx, correlateContext, sink, restored));
  feed(second, split, lines.length);
  fromThisLine = -Infinity;
  guard('flush', () => second.flush());
  guard('final snapshot', () => JSON.stringify(second.snapshot()));
  const notes = guard('diagnostics', () => [...first.diagnostics(), ...second.diagnostics()]);
  for (const n of notes) if (typeof n !== 'string') throw new Error(`diagnostic is not a string: ${safeJson(n)}`);
  for (const r of records) {
    guard('JSON.stringify(record)', () => JSON.stringify(r));
    checkRecord(r, hay, pushed);
  }
}

export function checkDetect(parser: Parser, sample: readonly string[]): void {
  probe?.(sample.join('\n'));
  const c = guard('detect', () => parser.detect(sample));
  if (!(c >= 0 && c <= 1)) throw new Error(`detect answered ${String(c)}`);
}

// ----------------------------------------------------------------------------- forged fields

/** Event fields whose text the sender of a message chooses. */
const ATTACKER_FIELDS = ['subject', 'from', 'to', 'recipient', 'origTo', 'headerFrom', 'messageId', 'key', 'helo', 'value'] as const;
/** Event fields the server writes: who, from where, what happened. Text in an attacker field must not move them. */
const SERVER_FIELDS = [
  'type', 'at', 'user', 'login', 'username', 'clientIp', 'senderHost', 'remote', 'ssl', 'service', 'queueId', 'qid', 'pid',
  'host', 'size', 'nrcpt', 'status', 'result', 'relay', 'queuedAs', 'table', 'count', 'quota', 'action', 'entry', 'srcChannel', 'dstChannel',
] as const;

/** What an attacker writes into a field: the server's own field syntax. */
export const FORGED: readonly string[] = [
  ', User: ceo@example.edu, SSL: yes', ', Sender-Host: 192.168.1.1', 'User: ceo@example.edu', ', Size: 1', ', Msg-Id: <x@y>',
  ', sasl_username=ceo@example.edu', 'from=<a@b>, sasl_username=x', ', size=1, nrcpt=999', ', status=sent (250 ok)', ' (queued as ABCDEF1234)',
  ', relay=127.0.0.1[127.0.0.1]:10025', '>, size=1', '> ', '" in sendlim: 99 / 100', '" in t: 1 / 100', ' in sendlim: 99 / 100',
  ' *ceo@example.edu ', '*ceo@example.edu', ' ([192.168.1.1])', ' (x [192.168.1.1])', ' rfc822;ceo@example.edu ', ' mailsrv ', ' 12:x ',
  '" us="*ceo@example.edu', '"', '\\', ', ', ': ', '<', '>', '[', ']', '(', ')', '=', ';',
];

const xmlEscape = (t: string): string => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

/**
 * `line` with `token` written into the attacker field `field` the way a server would log
 * it: inside a quoted local part for an address (`"local<token>"@domain`), entity-encoded
 * in an XML attribute, as it is in free text (Subject, Message-ID, MeterMaid key).
 * Undefined when the field cannot be found once in the line.
 */
export function forge(line: string, field: string, value: string, token: string): string | undefined {
  if (value.length < 3) return undefined;
  const i = line.indexOf(value);
  if (i < 0 || line.indexOf(value, i + 1) >= 0) return undefined;
  const xml = line.startsWith('<');
  const at = value.lastIndexOf('@');
  const address = ['from', 'to', 'recipient', 'origTo', 'headerFrom'].includes(field) && at > 0 && !value.startsWith('"') && !value.includes(' ');
  const text = xml ? xmlEscape(token) : token;
  let changed: string;
  if (address) {
    const quoted = `"${value.slice(0, at)}${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
    changed = `${xml ? xmlEscape(quoted) : quoted}${value.slice(at)}`;
  } else {
    const mid = Math.floor(value.length / 2);
    changed = value.slice(0, mid) + text + value.slice(mid);
  }
  return recount(line, i, value.length, changed);
}

/**
 * Replaces `len` characters at `i` by `changed`; when they sit inside a LOG_FORMAT=3
 * counted field (`N:text`), N is rewritten to the new length, as the server would count.
 */
function recount(line: string, i: number, len: number, changed: string): string {
  const out = line.slice(0, i) + changed + line.slice(i + len);
  for (const m of line.slice(0, i).matchAll(/(^|\s)(\d{1,7}):/g)) {
    const n = Number(m[2]);
    const start = (m.index ?? 0) + (m[1] ?? '').length;
    const valueStart = start + (m[2] ?? '').length + 1;
    if (valueStart <= i && i + len <= valueStart + n && (valueStart + n === line.length || /\s/.test(line.charAt(valueStart + n)))) {
      const count = String(n + changed.length - len);
      return out.slice(0, start) + count + out.slice(start + (m[2] ?? '').length);
    }
  }
  return out;
}

/**
 * Throws if writing `token` into an attacker field (the `fieldPick`th of those the event
 * has, modulo their number unless `exact`) of the event line `line` changes a
 * server-written field of its event: the attacker must not move who, from where, how
 * many or what happened. (The line may instead become unrecognised: a refusal, not a lie.)
 * Returns whether a forged line was tried.
 */
export function checkForgery(parser: Parser, corpus: Corpus, line: string, fieldPick: number, token: string, exact = false): boolean {
  const pctx = parseContext(corpus);
  const before = parser.createLineParser(pctx)({ source: 'fuzz.log', lineNo: 1, text: line });
  if (before.kind !== 'event') return false;
  const ev = before.event as Record<string, unknown>;
  const fields = ATTACKER_FIELDS.filter((f) => typeof ev[f] === 'string');
  const field = fields[exact ? fieldPick : fieldPick % Math.max(1, fields.length)];
  if (field === undefined) return false;
  // Fields without blanks in a blank-separated format (MTA LOG_FORMAT 1/2) cannot hold one.
  if (parser.name === 'mta-transaction' && !line.startsWith('<') && /\s/.test(token)) return false;
  const forged = forge(line, field, ev[field] as string, token);
  if (forged === undefined) return false;
  probe?.(forged);
  const after = guard('line parser', () => parser.createLineParser(pctx)({ source: 'fuzz.log', lineNo: 1, text: forged }));
  if (after.kind !== 'event') return true;
  const ev2 = after.event as Record<string, unknown>;
  for (const k of SERVER_FIELDS) {
    if (k === (field as string) || !(k in ev)) continue;
    if (JSON.stringify(ev2[k]) !== JSON.stringify(ev[k])) {
      throw new Error(`${JSON.stringify(token)} written into ${field} changed ${k}: ${JSON.stringify(ev[k])} -> ${JSON.stringify(ev2[k])}\n  before: ${line}\n  after:  ${forged}`);
    }
  }
  return true;
}

/** Every FORGED token in every attacker field of every fixture event line (a sweep); how many were tried. */
export function checkEveryForgery(parser: Parser): number {
  const corpus = corpusOf(parser);
  let n = 0;
  for (const line of corpus.own) {
    for (let f = 0; f < ATTACKER_FIELDS.length; f++) {
      for (const token of FORGED) if (checkForgery(parser, corpus, line, f, token, true)) n++;
    }
  }
  return n;
}

// ----------------------------------------------------------------------------- known bugs

export interface KnownBug {
  readonly parser: string;
  /** What is wrong, for the `todo` of its regression test and the report. */
  readonly what: string;
  /** Lines that trigger it: left out of the generated inputs, so the properties look for other bugs. */
  readonly matches: (line: string) => boolean;
  /** Throws while the bug is there (quickly, and without hanging even then). */
  readonly check: () => void;
}

/** A session's records per pushed line, beyond which a line is a bug (a real line yields a few). */
export const MAX_RECORDS_PER_LINE = 1000;

/**
 * Bugs the properties found that are not fixed yet. Each has a regression test marked
 * `todo` in parsers.test.ts; delete the entry once its parser is fixed.
 */
export const KNOWN_BUGS: readonly KnownBug[] = [
  // None open. Fixed, with end-to-end regression tests in test/hostile/odd-lines.test.ts:
  // a Kerio Size of 309+ digits (Infinity broke the cron state) and a Postfix
  // `auth=0/N` disconnect looping N times.
];

export function knownBug(parser: Parser, line: string): KnownBug | undefined {
  return KNOWN_BUGS.find((b) => b.parser === parser.name && b.matches(line));
}

// ----------------------------------------------------------------------------- properties

export interface NamedProperty {
  readonly name: string;
  readonly property: fc.IProperty<unknown>;
  /** Runs in the bounded suite. */
  readonly runs: number;
  /** Each run feeds a whole stream of lines (the long run gives these a tenth of its runs). */
  readonly stream: boolean;
}

/**
 * Every property of one parser, with the run counts of the bounded suite. Lines that hit
 * a known bug are left out unless `withKnown` (their regression tests cover them).
 */
export function propertiesOf(parser: Parser, o: { withKnown?: boolean } = {}): NamedProperty[] {
  const corpus = corpusOf(parser);
  const pctx = parseContext(corpus);
  const one = (text: string): void => checkLine(parser.createLineParser(pctx), text);
  const keep = (line: string): boolean => o.withKnown === true || knownBug(parser, line) === undefined;
  const hostile = hostileText(400).filter(keep);
  const bytes = utf8Bytes(400).filter(keep);
  const mutated = mutatedLine(corpus).filter(keep);
  const stream = fc.array(sessionLine(corpus).filter(keep), { maxLength: 40 });
  return [
    { name: 'line parser: random text', runs: 400, stream: false, property: fc.property(hostile, one) },
    { name: 'line parser: random bytes decoded as UTF-8', runs: 300, stream: false, property: fc.property(bytes, one) },
    { name: 'line parser: mutated fixture lines', runs: 1500, stream: false, property: fc.property(mutated, one) },
    {
      name: 'line parser: one parser over a stream of mutated lines',
      runs: 150,
      stream: true,
      property: fc.property(stream, (lines) => {
        const parse = parser.createLineParser(pctx);
        lines.forEach((l, i) => checkLine(parse, l, i + 1));
      }),
    },
    {
      name: 'session: open, push, snapshot through JSON, reopen, push, flush',
      runs: 200,
      stream: true,
      property: fc.property(stream, fc.nat({ max: 40 }), (lines, cut) => checkSession(parser, corpus, lines, cut)),
    },
    {
      name: 'forged fields inside attacker-written values move no server-written field',
      runs: 1000,
      stream: false,
      property: fc.property(fc.constantFrom(...corpus.own), fc.nat(), fc.constantFrom(...FORGED), (line, pick, token) => {
        checkForgery(parser, corpus, line, pick, token);
      }),
    },
    {
      name: 'detect: never throws, a confidence in [0, 1]',
      runs: 200,
      stream: true,
      property: fc.property(fc.array(sessionLine(corpus), { maxLength: 20 }), (sample) => checkDetect(parser, sample)),
    },
  ];
}

/** Every fixture line cut at every position (a deterministic sweep, not random). */
export function checkEveryTruncation(parser: Parser): number {
  const corpus = corpusOf(parser);
  const parse = parser.createLineParser(parseContext(corpus));
  let n = 0;
  for (const line of corpus.own) {
    for (let cut = 0; cut <= line.length; cut++) {
      const text = line.slice(0, cut);
      try {
        checkLine(parse, text);
      } catch (e) {
        throw new Error(`${JSON.stringify(text)}: ${e instanceof Error ? e.message : String(e)}`);
      }
      n++;
    }
  }
  return n;
}
