/**
 * Oracle Communications (Sun Java System) Messaging Server MTA transaction log:
 * `mail.log_current` (and `connection.log_current` with SEPARATE_CONNECTION_LOG=1),
 * LOG_FORMAT 1 (padded columns), 2 (`<>` for empty addresses), 3 (`N:` counted
 * fields) and 4 (one XML element per line). This file turns one line into one event;
 * src/correlate/mta-transaction.ts joins the per-recipient records into messages.
 */
import { stripAngles } from '../core/address.js';
import type { LogLine } from '../core/types.js';
import { createMtaCorrelator } from '../correlate/mta-transaction.js';
import {
  authOutcome, hasAddressType, isCountedAt, isDigits, isEntryCode, isProcessId, loginOf,
  parseSourceSystem, parseTransport, readCounted, scanOptional, skipSpaces, splitAuthText, StampCache,
  stripAddressType, USEFUL_HEADERS, XmlAttributes,
  type MtaConnection, type MtaEvent, type MtaMessage,
} from './mta-fields.js';
import { defineParser, IGNORED, UNRECOGNISED, type ParseContext, type ParseResult, type Parser } from './types.js';

export type { MtaEvent } from './mta-fields.js';

/**
 * What one line comes to, the event unwrapped: a scan session takes one per line and
 * need not allocate a ParseResult for it.
 */
type Result = MtaEvent | ParseResult<never>;
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Format 1 pads each channel to 12 columns; a run of blanks this long before the entry
 * code is an empty destination-channel column (dequeue and `J` records), not a separator.
 */
const BLANK_COLUMN = 13;
/** node, process, source channel, destination channel, `+`/`-`, entry, size: enough to find the entry. */
const HEAD_TOKENS = 8;
/** Records written by the receiving side, where the transport's remote end is the client. */
const INBOUND_ACTIONS = new Set(['E', 'J', 'V', 'B']);

/**
 * Bounds and text of the head tokens of the line being parsed, reused from line to
 * line: parsing is synchronous, and a line's head then costs no objects.
 */
const tokStart = new Int32Array(HEAD_TOKENS);
const tokEnd = new Int32Array(HEAD_TOKENS);
const tokText: string[] = [];

/** LOG_HEADER line text after `> `: `Name: value`. Only headers some rule reads become events. */
function headerEvent(at: number, stamp: string, text: string, process?: string): Result {
  const colon = text.indexOf(':');
  if (colon <= 0 || colon > 80) return IGNORED;
  const name = text.slice(0, colon).trim().toLowerCase();
  if (!USEFUL_HEADERS.has(name)) return IGNORED;
  return {
    type: 'header', at, stamp, name, value: text.slice(colon + 1).trim(),
    ...(process !== undefined ? { process } : {}),
  };
}

/** Which head tokens are node, process id and channels (-1: none). */
interface Prefix {
  node: number;
  process: number;
  src: number;
  dst: number;
}

const prefix: Prefix = { node: -1, process: -1, src: -1, dst: -1 };

/**
 * Node, process id and channels among the `n` head tokens before the entry code. The
 * process id is known by its shape; without one, a record with three words has a node,
 * and two words are either both channels or a node and a channel with a blank
 * destination column after it.
 */
function splitPrefix(n: number, blankAfter: boolean): Prefix {
  const out = prefix;
  out.node = -1;
  out.process = -1;
  let first = 0;
  if (n >= 2 && isProcessId(tokText[0] ?? '')) {
    out.process = 0;
    first = 1;
  } else if (n >= 3 && isProcessId(tokText[1] ?? '')) {
    out.node = 0;
    out.process = 1;
    first = 2;
  } else if (n >= 3 || (n === 2 && blankAfter)) {
    out.node = 0;
    first = 1;
  }
  out.src = first < n ? first : -1;
  out.dst = first + 1 < n ? first + 1 : -1;
  return out;
}

interface Addresses {
  from: string;
  origTo: string;
  to: string;
  end: number;
  counted: boolean;
}

/** Counted (format 3) From, original To and current To, if the line is counted. */
function countedAddresses(s: string, p: number): Addresses | undefined {
  const a = readCounted(s, p);
  if (!a) return undefined;
  const b = readCounted(s, skipSpaces(s, a.end));
  if (!b) return undefined;
  const c = readCounted(s, skipSpaces(s, b.end));
  const end = c ? c.end : b.end;
  return { from: stripAngles(a.value), origTo: stripAddressType(b.value), to: stripAngles(c?.value ?? ''), end, counted: true };
}

/** Whether a format-3 count (`N:`, at most 7 digits) starts at `p`. */
function hasCountPrefix(s: string, p: number): boolean {
  let i = p;
  while (i - p < 8 && isDigitAt(s, i)) i++;
  return i > p && i - p <= 7 && s.charCodeAt(i) === 58;
}

const isDigitAt = (s: string, i: number): boolean => s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57;

/** End of the blank-separated word at `i`. */
function wordEnd(s: string, i: number): number {
  let j = i;
  while (j < s.length && s.charCodeAt(j) !== 32 && s.charCodeAt(j) !== 9) j++;
  return j;
}

/**
 * Uncounted From / original To / current To. Empty fields are bare blanks in format 1,
 * so position lies: the word after the size is the From unless it is already the
 * `rfc822;`-typed original recipient.
 */
function looseAddresses(s: string, p: number): Addresses | undefined {
  const firstStart = skipSpaces(s, p);
  const firstEnd = wordEnd(s, firstStart);
  if (firstEnd === firstStart) return undefined;
  const first = s.slice(firstStart, firstEnd);
  let from = '';
  let orig = first;
  let origEnd = firstEnd;
  if (!hasAddressType(first)) {
    from = first;
    const origStart = skipSpaces(s, firstEnd);
    origEnd = wordEnd(s, origStart);
    orig = s.slice(origStart, origEnd);
  }
  const toStart = skipSpaces(s, origEnd);
  const toEnd = wordEnd(s, toStart);
  return { from: stripAngles(from), origTo: stripAddressType(orig), to: stripAngles(s.slice(toStart, toEnd)), end: toEnd, counted: false };
}

/** The digits of a size token (at most 15, see isDigits) as Number() reads them. */
function digitsValue(s: string, from: number, to: number): number {
  let v = 0;
  for (let i = from; i < to; i++) v = v * 10 + s.charCodeAt(i) - 48;
  return v;
}

function messageRecord(s: string, at: number, stamp: string, act: number): Result {
  const prefix = splitPrefix(act, (tokStart[act] ?? 0) - (tokEnd[act - 1] ?? 0) >= BLANK_COLUMN);
  if (prefix.src < 0) return UNRECOGNISED;
  const p = skipSpaces(s, tokEnd[act + 1] ?? 0);
  const addr = countedAddresses(s, p) ?? (hasCountPrefix(s, p) ? undefined : looseAddresses(s, p));
  // A count that does not fit is a cut or corrupt format-3 line: guessing would shift every field.
  if (!addr) return UNRECOGNISED;
  const opt = scanOptional(s, addr.end, addr.counted, true);
  const entry = tokText[act] ?? '';
  const action = entry.charAt(0);
  const e: Mutable<MtaMessage> = {
    type: 'message', at, stamp, entry, action, modifiers: entry.slice(1), srcChannel: tokText[prefix.src] ?? '',
    size: digitsValue(s, tokStart[act + 1] ?? 0, tokEnd[act + 1] ?? 0), from: addr.from, origTo: addr.origTo, to: addr.to,
  };
  fillCommon(e, prefix.node < 0 ? undefined : tokText[prefix.node], prefix.process < 0 ? undefined : tokText[prefix.process]);
  if (prefix.dst >= 0) e.dstChannel = tokText[prefix.dst] ?? '';
  if (opt.filename !== undefined) e.filename = opt.filename;
  const [id1, id2] = opt.ids;
  // Two ids are LOG_ENVELOPE_ID then LOG_MESSAGE_ID; a lone one is nearly always the message id.
  if (id2 !== undefined) {
    e.envelopeId = id1 ?? '';
    e.messageId = id2;
  } else if (id1 !== undefined) e.messageId = id1;
  if (opt.username !== undefined) {
    e.username = opt.username;
    const login = loginOf(opt.username);
    if (login !== undefined) e.login = login;
  }
  if (opt.helo !== undefined) e.helo = opt.helo;
  const clientIp = opt.sourceIp ?? (INBOUND_ACTIONS.has(action) ? opt.transport?.remoteIp : undefined);
  if (clientIp !== undefined) e.clientIp = clientIp;
  if (opt.diagnostic !== undefined) e.diagnostic = opt.diagnostic;
  if (opt.text !== undefined) e.reason = opt.text;
  return e;
}

function fillCommon(e: Mutable<MtaMessage> | Mutable<MtaConnection>, node?: string, process?: string): void {
  if (node !== undefined && node !== '') e.node = node;
  if (process !== undefined && process !== '') e.process = process;
}

function connectionRecord(s: string, at: number, stamp: string, dir: number): Result {
  const channel = tokText[dir - 1] ?? '';
  // Before the channel: a process id and a node, in either order.
  let process: string | undefined;
  let node: string | undefined;
  for (let i = 0; i < dir - 1; i++) {
    const t = tokText[i] ?? '';
    if (process === undefined && isProcessId(t)) process = t;
  }
  for (let i = 0; i < dir - 1; i++) {
    const t = tokText[i] ?? '';
    if (t !== process) {
      node = t;
      break;
    }
  }
  const p = skipSpaces(s, tokEnd[dir + 1] ?? 0);
  const counted = isCountedAt(s, p);
  const opt = scanOptional(s, p, counted, false);
  const entry = tokText[dir + 1] ?? '';
  const e: Mutable<MtaConnection> = {
    type: 'connection', at, stamp, entry, action: entry.charAt(0), modifiers: entry.slice(1), channel,
    direction: tokText[dir] === '-' ? '-' : '+',
  };
  fillCommon(e, node, process);
  if (opt.transport?.localIp !== undefined) e.localIp = opt.transport.localIp;
  if (opt.transport?.remoteIp !== undefined) e.remoteIp = opt.transport.remoteIp;
  if (opt.application !== undefined) e.application = opt.application;
  if (opt.diagnostic !== undefined) e.diagnostic = opt.diagnostic;
  if (e.action === 'U') {
    // Counted, summary and login are separate values; uncounted, one run of words.
    const { message, login } = opt.words.length >= 2
      ? { message: opt.words.slice(0, -1).join(' '), login: opt.words[opt.words.length - 1] }
      : splitAuthText(opt.text);
    if (message !== undefined) e.message = message;
    const l = login?.charCodeAt(0) === 42 ? login.slice(1) : login;
    if (l) e.login = l;
    const outcome = authOutcome(e.diagnostic, message);
    if (outcome !== undefined) e.auth = outcome;
  } else if (opt.text !== undefined) e.message = opt.text;
  return e;
}

/** Formats 1-3: `DD-Mon-YYYY HH:MM:SS.cc [node] [process] channels entry …`. */
export function parseClassic(s: string, stamps: StampCache): Result {
  const at = stamps.classicAt(s);
  if (Number.isNaN(at)) return UNRECOGNISED;
  const bodyStart = stamps.end;
  const stamp = s.slice(0, bodyStart - 1);
  const p = skipSpaces(s, bodyStart);
  if (s.charCodeAt(p) === 62 && s.charCodeAt(p + 1) === 32) return headerEvent(at, stamp, s.slice(p + 2));
  // The first HEAD_TOKENS tokens, read only as far as the entry code: the addresses after it are cut out later.
  let n = 0;
  for (let j = skipSpaces(s, p); j < s.length && n < HEAD_TOKENS;) {
    const end = wordEnd(s, j);
    tokStart[n] = j;
    tokEnd[n] = end;
    tokText[n] = s.slice(j, end);
    n++;
    j = skipSpaces(s, end);
    const i = n - 2;
    if (i < 1) continue;
    const t = tokText[i] ?? '';
    const next = tokText[i + 1] ?? '';
    if ((t === '+' || t === '-') && isEntryCode(next)) return connectionRecord(s, at, stamp, i);
    if (isEntryCode(t) && isDigits(next)) return messageRecord(s, at, stamp, i);
  }
  return UNRECOGNISED;
}

function xmlMessage(a: XmlAttributes, at: number, stamp: string): Result {
  const entry = a.get('ac') ?? '';
  if (!isEntryCode(entry)) return UNRECOGNISED;
  const action = entry.charAt(0);
  const modifiers = entry.slice(1);
  const size = Number(a.get('sz') ?? '');
  const e: Mutable<MtaMessage> = {
    type: 'message', at, stamp, entry, action, modifiers, srcChannel: a.get('sc') ?? '',
    from: stripAngles(a.get('so') ?? ''), origTo: stripAddressType(a.get('od') ?? ''), to: stripAngles(a.get('de') ?? ''),
  };
  fillCommon(e, a.get('no'), a.get('pi'));
  const dc = a.get('dc');
  if (dc) e.dstChannel = dc;
  if (Number.isFinite(size) && a.has('sz')) e.size = size;
  const set = (k: 'filename' | 'envelopeId' | 'messageId' | 'diagnostic' | 'reason', v: string | undefined): void => {
    if (v !== undefined && v !== '') e[k] = v;
  };
  set('filename', a.get('fi'));
  set('envelopeId', stripAngles(a.get('ei') ?? ''));
  set('messageId', stripAngles(a.get('mi') ?? ''));
  set('diagnostic', a.get('di'));
  set('reason', a.get('re'));
  const us = a.get('us');
  if (us !== undefined && us !== '') {
    e.username = us;
    // XML writes the same `*login` field; a bare `us` on an `A` record is the login too.
    const login = loginOf(us) ?? (modifiers.includes('A') ? us : undefined);
    if (login !== undefined) e.login = login;
  }
  const ss = parseSourceSystem(a.get('ss') ?? '');
  if (ss?.helo !== undefined) e.helo = ss.helo;
  const clientIp = ss?.ip ?? (INBOUND_ACTIONS.has(action) ? parseTransport(a.get('tr') ?? '')?.remoteIp : undefined);
  if (clientIp !== undefined) e.clientIp = clientIp;
  return e;
}

function xmlConnection(a: XmlAttributes, at: number, stamp: string): Result {
  const entry = a.get('ac') ?? '';
  if (!isEntryCode(entry)) return UNRECOGNISED;
  const e: Mutable<MtaConnection> = {
    type: 'connection', at, stamp, entry, action: entry.charAt(0), modifiers: entry.slice(1),
    channel: a.get('sc') ?? '', direction: a.get('dr') === '-' ? '-' : '+',
  };
  fillCommon(e, a.get('no'), a.get('pi'));
  const tr = parseTransport(a.get('tr') ?? '');
  if (tr?.localIp !== undefined) e.localIp = tr.localIp;
  if (tr?.remoteIp !== undefined) e.remoteIp = tr.remoteIp;
  const ap = a.get('ap');
  if (ap) e.application = ap;
  const mi = a.get('mi');
  if (mi) e.message = mi;
  const di = a.get('di');
  if (di) e.diagnostic = di;
  const us = a.get('us');
  const login = us?.charCodeAt(0) === 42 ? us.slice(1) : us;
  if (login) e.login = login;
  if (e.action === 'U') {
    const outcome = authOutcome(di, mi);
    if (outcome !== undefined) e.auth = outcome;
  }
  return e;
}

/** `<he …/>`: the header is whichever attribute holds `Name: value`. */
function xmlHeader(a: XmlAttributes, at: number, stamp: string): Result {
  for (const [k, v] of a.entries()) {
    if (k === 'ts' || k === 'pi' || k === 'no') continue;
    const colon = v.indexOf(':');
    if (colon > 0 && colon <= 80 && v.lastIndexOf(' ', colon) < 0) return headerEvent(at, stamp, v, a.get('pi'));
  }
  return IGNORED;
}

/** The attributes of the XML line being parsed (see XmlAttributes). */
const attributes = new XmlAttributes();

/** Format 4: `<en …/>` message, `<co …/>` connection, `<he …/>` header; attributes by name. */
export function parseXml(s: string, stamps: StampCache): Result {
  const t1 = s.charCodeAt(1);
  const t2 = s.charCodeAt(2);
  const tag = t1 === 101 && t2 === 110 ? 'en' : t1 === 99 && t2 === 111 ? 'co' : t1 === 104 && t2 === 101 ? 'he' : '';
  if (s.charCodeAt(3) !== 32 || tag === '') return UNRECOGNISED;
  const a = attributes;
  if (!a.read(s, 4)) return UNRECOGNISED;
  const ts = a.get('ts');
  if (ts === undefined) return UNRECOGNISED;
  const at = stamps.iso(ts);
  if (at === undefined) return UNRECOGNISED;
  if (tag === 'en') return xmlMessage(a, at, ts);
  if (tag === 'co') return xmlConnection(a, at, ts);
  return xmlHeader(a, at, ts);
}

/** A line parser for one input that answers events unwrapped (see Result). */
function createLineReader(ctx: ParseContext): (line: LogLine) => Result {
  const stamps = new StampCache(ctx.timezone);
  return (line) => {
    let s = line.text;
    if (s.charCodeAt(s.length - 1) === 13) s = s.slice(0, -1);
    if (s.length === 0 || ((s.charCodeAt(0) === 32 || s.charCodeAt(0) === 9) && s.trim() === '')) return IGNORED;
    try {
      const c0 = s.charCodeAt(0);
      if (c0 === 60) return parseXml(s, stamps);
      if (c0 >= 48 && c0 <= 57) return parseClassic(s, stamps);
      return UNRECOGNISED;
    } catch {
      // A parser bug must cost one line, never the scan.
      return UNRECOGNISED;
    }
  };
}

export function createMtaLineParser(ctx: ParseContext): (line: LogLine) => ParseResult<MtaEvent> {
  const read = createLineReader(ctx);
  return (line) => {
    const r = read(line);
    return 'kind' in r ? r : { kind: 'event', event: r };
  };
}

const CLASSIC_DETECT = /^\d{1,2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}:\d{2}\.\d{2} +\S/;
const XML_DETECT = /^<(?:en|co|he) [a-z]{2}="/;

/** Share of sample lines that start like a transaction-log entry; other families score 0. */
export function detectMtaTransaction(sample: readonly string[]): number {
  let lines = 0;
  let ours = 0;
  for (const raw of sample) {
    const text = raw.length > 200 ? raw.slice(0, 200) : raw;
    if (text.trim() === '' || text.startsWith('#')) continue;
    lines++;
    if (CLASSIC_DETECT.test(text) || (XML_DETECT.test(text) && text.includes(' ts="'))) ours++;
  }
  if (lines === 0 || ours === 0) return 0;
  return Math.min(1, (ours / lines) * 0.95 + 0.05);
}

const plugin = defineParser<MtaEvent>({
  name: 'mta-transaction',
  description: 'Messaging Server (Oracle/Sun) MTA transaction log mail.log_current, LOG_FORMAT 1-4',
  detect: detectMtaTransaction,
  createLineParser: createMtaLineParser,
  createCorrelator: createMtaCorrelator,
});

/** The plugin, with a scan session that hands events to the correlator without wrapping each in a ParseResult. */
export const mtaTransaction: Parser = {
  ...plugin,
  open(pctx, cctx, sink, saved) {
    const read = createLineReader(pctx);
    const correlator = createMtaCorrelator(cctx, sink, saved);
    return {
      push(line) {
        const r = read(line);
        if ('kind' in r) return r.kind;
        correlator.push(r, line);
        return 'event';
      },
      flush: () => correlator.flush(),
      snapshot: () => correlator.snapshot(),
      diagnostics: () => correlator.diagnostics?.() ?? [],
    };
  },
};
