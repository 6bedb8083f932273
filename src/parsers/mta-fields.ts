/**
 * Field grammar of the Oracle Communications (Sun) Messaging Server MTA transaction
 * log (`mail.log_current`, `connection.log_current`): the four LOG_FORMATs, the
 * optional LOG_* fields recognised by their shape, and the events one line becomes.
 *
 * Sites switch optional fields on and off at will and format 1 pads columns and
 * leaves empty fields as bare blanks, so nothing here trusts a field's position after
 * the recipients: every optional field is known by what it looks like. All field
 * values are attacker-written (addresses, HELO names, message ids, SMTP replies), so
 * scanning is by index with at most one anchored, quantifier-bounded regex per field.
 */
import { stripAngles } from '../core/address.js';
import { normaliseIp as normaliseAddress } from '../core/net.js';
import { monthIndex, parseOffset, zonedToEpoch } from '../core/time.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface MtaBase {
  readonly at: number;
  /** The stamp as written: LOG_HEADER lines belong to the enqueue that has the same one. */
  readonly stamp: string;
  /** LOG_NODE. */
  readonly node?: string;
  /** LOG_PROCESS id, `pid.thread.sequence` in hex: one SMTP session keeps it. */
  readonly process?: string;
  /** The entry type as logged (`EEQ`, `DSA`, `U`): action letter, then modifier letters. */
  readonly entry: string;
  readonly action: string;
  /** Modifier letters after the action (`E` ESMTP, `A` SASL, `S` TLS, `C` chunking, and unknown ones). */
  readonly modifiers: string;
}

/** A message record: enqueue, dequeue, rejection, retry, bad command… one per recipient. */
export interface MtaMessage extends MtaBase {
  readonly type: 'message';
  readonly srcChannel: string;
  /** Blank on dequeue (`D`, `Q`, `R`) and `J` records in real logs. */
  readonly dstChannel?: string;
  readonly size?: number;
  /** Envelope From; '' for the null sender. */
  readonly from: string;
  /** Original envelope To without its `rfc822;` type; may be ''. */
  readonly origTo: string;
  /** Current envelope To (`user@ims-ms-daemon` for the message store). */
  readonly to: string;
  readonly filename?: string;
  readonly envelopeId?: string;
  readonly messageId?: string;
  /** The username field as logged: the MTA's own OS account, or `*login` after SMTP AUTH. */
  readonly username?: string;
  /** The SMTP AUTH login: the username field without its `*` (never the OS account). */
  readonly login?: string;
  /** HELO name of the source system (LOG_CONNECTION). */
  readonly helo?: string;
  /** The client: `[ip]` of the source system, else the remote end of the TCP transport field. */
  readonly clientIp?: string;
  /** SMTP reply or other delivery diagnostic (`smtp;550 5.1.1 ...`, `530 5.7.1 ...`). */
  readonly diagnostic?: string;
  /** Free text such as LOG_REASON or a Q record's explanation. */
  readonly reason?: string;
}

/** A connection record (`+` inbound, `-` outbound): open, close, auth attempt, failure. */
export interface MtaConnection extends MtaBase {
  readonly type: 'connection';
  readonly channel: string;
  readonly direction: '+' | '-';
  readonly localIp?: string;
  readonly remoteIp?: string;
  /** Application info: `SMTP`, `SMTP/helo/rdns/TLS-…`. */
  readonly application?: string;
  /** `U` records: the login that was tried. */
  readonly login?: string;
  /** `U` records: the MTA's summary (`Bad password`, `Authentication successful - …`). */
  readonly message?: string;
  readonly diagnostic?: string;
  /** `U` records: what the attempt came to, when the record says. */
  readonly auth?: 'success' | 'failure';
}

/** A LOG_HEADER line; only the headers a rule can use become events. */
export interface MtaHeader {
  readonly type: 'header';
  readonly at: number;
  readonly stamp: string;
  readonly process?: string;
  /** Lower-case header name. */
  readonly name: string;
  readonly value: string;
}

export type MtaEvent = MtaMessage | MtaConnection | MtaHeader;

/** Headers worth an event: the rest of LOG_HEADER output (Received: …) is ignored. */
export const USEFUL_HEADERS: ReadonlySet<string> = new Set(['from', 'subject']);

// ---------------------------------------------------------------- characters

const SPACE = 32;
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isUpper = (c: number): boolean => c >= 65 && c <= 90;
const isHex = (c: number): boolean => isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);

export function skipSpaces(s: string, p: number): number {
  let i = p;
  while (i < s.length && (s.charCodeAt(i) === SPACE || s.charCodeAt(i) === 9)) i++;
  return i;
}

/** Index of the next blank at or after `p`, or the end. */
function tokenEnd(s: string, p: number): number {
  let i = p;
  while (i < s.length && s.charCodeAt(i) !== SPACE && s.charCodeAt(i) !== 9) i++;
  return i;
}

export function isDigits(s: string): boolean {
  if (s.length === 0 || s.length > 15) return false;
  for (let i = 0; i < s.length; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

/** `EEQ`, `DSA`, `U`: upper-case letters only, short. */
export function isEntryCode(s: string): boolean {
  if (s.length === 0 || s.length > 8) return false;
  for (let i = 0; i < s.length; i++) if (!isUpper(s.charCodeAt(i))) return false;
  return true;
}

/** LOG_PROCESS id: three dot-separated hex numbers (`2e2d.5.1`, `72aa.17f0.25622`). */
export function isProcessId(s: string): boolean {
  let dots = 0;
  let run = 0;
  if (s.length > 40) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (run === 0) return false;
      dots++;
      run = 0;
    } else if (isHex(c)) run++;
    else return false;
  }
  return dots === 2 && run > 0;
}

/**
 * Whether `s` at `at` starts with `prefix` (lower-case ASCII) in any case, as
 * `s.slice(at, at + n).toLowerCase() === prefix` would say, without allocating: no
 * character outside ASCII lower-cases to an ASCII letter these prefixes use.
 */
const startsWithCI = (s: string, prefix: string, at = 0): boolean => {
  if (s.length - at < prefix.length) return false;
  for (let k = 0; k < prefix.length; k++) {
    const c = s.charCodeAt(at + k);
    const p = prefix.charCodeAt(k);
    if (c !== p && !(p >= 97 && p <= 122 && c === p - 32)) return false;
  }
  return true;
};

/** normaliseIp of recently seen texts: the server's own address is in every transport field. */
const ipCache = new Map<string, string | null>();
const IP_CACHE_SIZE = 4096;

/**
 * Whether `s` is a dotted quad as node's isIP accepts one (four parts of 0-255 without
 * leading zeros): core's normaliseIp gives such a text back as it is. Nearly every
 * address logged is one, and these compares cost less than the cache's hash lookup.
 */
function isDottedQuad(s: string): boolean {
  let dots = 0;
  let digits = 0;
  let part = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return false;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return false;
      part = digits === 0 ? c - 48 : part * 10 + c - 48;
      if (part > 255) return false;
      digits++;
    } else return false;
  }
  return dots === 3 && digits > 0;
}

/** core's normaliseIp, remembered per text: the server's own address is in every transport field. */
export function normaliseIp(addr: string): string | undefined {
  if (isDottedQuad(addr)) return addr;
  const known = ipCache.get(addr);
  if (known !== undefined) return known ?? undefined;
  const ip = normaliseAddress(addr);
  if (ipCache.size >= IP_CACHE_SIZE) ipCache.clear();
  ipCache.set(addr, ip ?? null);
  return ip;
}

// ---------------------------------------------------------------- time

/** Milliseconds of a decimal fraction written after the seconds (`.62` = 620). */
function fractionMs(frac: string | undefined): number {
  if (!frac) return 0;
  return Math.floor(Number(`0.${frac}`) * 1000);
}

/** fractionMs of every one- and two-digit fraction (the MTA writes centiseconds), computed the same way. */
const FRACTION_1 = Array.from({ length: 10 }, (_, d) => fractionMs(String(d)));
const FRACTION_2 = Array.from({ length: 100 }, (_, d) => fractionMs(String(d).padStart(2, '0')));

/** fractionMs of the digits s[from, to). */
function fractionAt(s: string, from: number, to: number): number {
  const n = to - from;
  if (n === 0) return 0;
  if (n === 1) return FRACTION_1[s.charCodeAt(from) - 48] ?? 0;
  if (n === 2) return FRACTION_2[(s.charCodeAt(from) - 48) * 10 + s.charCodeAt(from + 1) - 48] ?? 0;
  return fractionMs(s.slice(from, to));
}

/** The value of `n` digits at `i`, or -1 if any is not a digit. */
function digitsAt(s: string, i: number, n: number): number {
  let v = 0;
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(i + k);
    if (!isDigit(c)) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}

/** Index after the run of at most `max` + 1 digits at `i` (so a caller can tell a run longer than `max`). */
function digitRunEnd(s: string, i: number, max: number): number {
  let j = i;
  while (j - i <= max && isDigit(s.charCodeAt(j))) j++;
  return j;
}

const isLetter = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

function validClock(month0: number, day: number, hour: number, minute: number, second: number): boolean {
  return month0 >= 0 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 && second <= 60;
}

/**
 * Turns the log's zone-less stamps into epoch ms for one input. The stamps are read by
 * index (the grammar of `DD-Mon-YYYY HH:MM:SS(.f{1,6})? ` and of XML's ISO 8601 `ts`),
 * and the epoch of the whole second is cached under numbers read from its digits, so a
 * busy log asks the zone code once a second at most and a hit allocates nothing.
 */
export class StampCache {
  private lastDate = -1;
  private lastMonth = -1;
  private lastEpoch = NaN;
  private lastIsoKey = -1;
  private lastIsoEpoch = NaN;
  /** After classicAt: the index after the stamp's blank. */
  end = 0;

  constructor(private readonly timezone: string) {}

  /** `11-Jun-2019 09:07:57.62 ` at the start of `s`: [epoch ms, index after the stamp's blank]. */
  classic(s: string): [number, number] | undefined {
    const at = this.classicAt(s);
    return Number.isNaN(at) ? undefined : [at, this.end];
  }

  /** Epoch ms of the `DD-Mon-YYYY HH:MM:SS(.f)? ` stamp starting `s`, or NaN; sets `end`. */
  classicAt(s: string): number {
    let i = isDigit(s.charCodeAt(1)) ? 2 : 1;
    if (!isDigit(s.charCodeAt(0)) || s.charCodeAt(i) !== 45) return NaN;
    const day = digitsAt(s, 0, i);
    const m = i + 1;
    if (!isLetter(s.charCodeAt(m)) || !isLetter(s.charCodeAt(m + 1)) || !isLetter(s.charCodeAt(m + 2)) || s.charCodeAt(m + 3) !== 45) return NaN;
    i = m + 4;
    const year = digitsAt(s, i, 4);
    const t = i + 5;
    if (year < 0 || s.charCodeAt(i + 4) !== 32 || s.charCodeAt(t + 2) !== 58 || s.charCodeAt(t + 5) !== 58) return NaN;
    const hour = digitsAt(s, t, 2);
    const minute = digitsAt(s, t + 3, 2);
    const second = digitsAt(s, t + 6, 2);
    // Out of range is never a valid stamp, and in range the numbers below name one second each.
    if (day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) return NaN;
    let end = t + 8;
    let ms = 0;
    if (s.charCodeAt(end) === 46) {
      const fracEnd = digitRunEnd(s, end + 1, 6);
      if (fracEnd === end + 1 || fracEnd - (end + 1) > 6) return NaN;
      ms = fractionAt(s, end + 1, fracEnd);
      end = fracEnd;
    }
    if (s.charCodeAt(end) !== 32) return NaN;
    // Letters folded to lower case: `Jun`, `JUN` and `jun` are one month.
    const monthKey = ((s.charCodeAt(m) | 0x20) << 16) | ((s.charCodeAt(m + 1) | 0x20) << 8) | (s.charCodeAt(m + 2) | 0x20);
    const dateKey = ((((year * 32 + day) * 24 + hour) * 60 + minute) * 61) + second;
    if (dateKey !== this.lastDate || monthKey !== this.lastMonth) {
      const mon = s.slice(m, m + 3);
      const month0 = monthIndex(mon.charAt(0).toUpperCase() + mon.slice(1).toLowerCase());
      if (!validClock(month0, day, hour, minute, second)) return NaN;
      this.lastDate = dateKey;
      this.lastMonth = monthKey;
      this.lastEpoch = zonedToEpoch(this.timezone, year, month0, day, hour, minute, second);
    }
    this.end = end + 1;
    return this.lastEpoch + ms;
  }

  /**
   * XML `ts`: ISO 8601 local time, or with an offset should a release add one:
   * `YYYY-MM-DD[T ]HH:MM:SS([.,]f{1,9})?(Z|[+-]HH:?MM)?`, nothing after.
   */
  iso(ts: string): number | undefined {
    if (ts.length < 19 || ts.length > 40) return undefined;
    const year = digitsAt(ts, 0, 4);
    const month = digitsAt(ts, 5, 2);
    const day = digitsAt(ts, 8, 2);
    const hour = digitsAt(ts, 11, 2);
    const minute = digitsAt(ts, 14, 2);
    const second = digitsAt(ts, 17, 2);
    const sep = ts.charCodeAt(10);
    if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0 || ts.charCodeAt(4) !== 45 || ts.charCodeAt(7) !== 45
      || (sep !== 84 && sep !== 32) || ts.charCodeAt(13) !== 58 || ts.charCodeAt(16) !== 58) return undefined;
    let i = 19;
    let ms = 0;
    const f = ts.charCodeAt(i);
    if (f === 46 || f === 44) {
      const fracEnd = digitRunEnd(ts, i + 1, 9);
      if (fracEnd === i + 1 || fracEnd - (i + 1) > 9) return undefined;
      ms = fractionAt(ts, i + 1, fracEnd);
      i = fracEnd;
    }
    let zone: string | undefined;
    if (i < ts.length) {
      const z = ts.charCodeAt(i);
      const colon = ts.charCodeAt(i + 3) === 58 ? 1 : 0;
      const zoneEnd = i + 5 + colon;
      const ok = z === 90 ? i + 1 === ts.length
        : (z === 43 || z === 45) && zoneEnd === ts.length && digitsAt(ts, i + 1, 2) >= 0 && digitsAt(ts, i + 3 + colon, 2) >= 0;
      if (!ok) return undefined;
      zone = ts.slice(i);
    }
    if (!validClock(month - 1, day, hour, minute, second) || month > 12) return undefined;
    if (zone !== undefined) {
      const offset = parseOffset(zone);
      if (Number.isNaN(offset)) return undefined;
      return Date.UTC(year, month - 1, day, hour, minute, second, ms) - offset;
    }
    const key = ((((year * 13 + month) * 32 + day) * 24 + hour) * 60 + minute) * 61 + second;
    if (key !== this.lastIsoKey) {
      this.lastIsoKey = key;
      this.lastIsoEpoch = zonedToEpoch(this.timezone, year, month - 1, day, hour, minute, second);
    }
    return this.lastIsoEpoch + ms;
  }
}

// ---------------------------------------------------------------- XML (LOG_FORMAT=4)

const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Decodes the five XML entities and numeric references; anything else is left as written. */
export function decodeEntities(v: string): string {
  let amp = v.indexOf('&');
  if (amp < 0) return v;
  let out = '';
  let from = 0;
  let semi = -1;
  while (amp >= 0) {
    // The next `;` is looked up once per stretch, so `&&&&…` stays linear.
    if (semi < amp) semi = v.indexOf(';', amp + 1);
    if (semi < 0) break;
    if (semi - amp > 12) {
      amp = v.indexOf('&', amp + 1);
      continue;
    }
    const name = v.slice(amp + 1, semi);
    // Own keys only: `&constructor;` must not find Object.prototype's.
    let rep: string | undefined = Object.hasOwn(ENTITIES, name) ? ENTITIES[name] : undefined;
    if (rep === undefined && name.charCodeAt(0) === 35) {
      const hex = name.charCodeAt(1) === 120 || name.charCodeAt(1) === 88;
      const digits = name.slice(hex ? 2 : 1);
      const cp = digits.length > 0 && (hex ? /^[0-9a-fA-F]{1,6}$/ : /^\d{1,7}$/).test(digits) ? parseInt(digits, hex ? 16 : 10) : NaN;
      if (cp >= 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff)) rep = String.fromCodePoint(cp);
    }
    if (rep !== undefined) {
      out += v.slice(from, amp) + rep;
      from = semi + 1;
    }
    amp = v.indexOf('&', rep !== undefined ? semi + 1 : amp + 1);
  }
  return out + v.slice(from);
}

const isNameChar = (c: number): boolean =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || isDigit(c) || c === 95 || c === 45 || c === 58;

/** Slot of a two-lower-case-letter attribute name (every name LOG_FORMAT=4 writes), or -1. */
function shortNameSlot(s: string, from: number, to: number): number {
  if (to - from !== 2) return -1;
  const a = s.charCodeAt(from) - 97;
  const b = s.charCodeAt(from + 1) - 97;
  return a >= 0 && a < 26 && b >= 0 && b < 26 ? a * 26 + b : -1;
}

/**
 * The attributes of one self-closing element, by name, values entity-decoded when
 * asked for: what a Map of them would answer (a name written twice keeps its first
 * place and takes its last value), without a Map, a name string or a decoded value per
 * attribute. Reused from line to line: parsing is synchronous and nothing keeps it.
 */
export class XmlAttributes {
  private s = '';
  private count = 0;
  /** Per attribute: name start, name end, value start, value end. */
  private readonly bounds: number[] = [];
  /** Per short name: the line (generation) it was last seen on and its index there. */
  private readonly slotLine = new Int32Array(26 * 26);
  private readonly slotIndex = new Int32Array(26 * 26);
  private line = 0;

  /** Reads the attributes starting at `p` (after the element name); false when the element is malformed (a line cut short). */
  read(s: string, p: number): boolean {
    this.s = s;
    this.count = 0;
    if (++this.line === 0x7fffffff) {
      this.slotLine.fill(0);
      this.line = 1;
    }
    let i = p;
    for (;;) {
      i = skipSpaces(s, i);
      if (i >= s.length) return false;
      const c = s.charCodeAt(i);
      if (c === 47 || c === 62) return true; // `/>` or `>`
      const nameStart = i;
      while (i < s.length && isNameChar(s.charCodeAt(i))) i++;
      if (i === nameStart || s.charCodeAt(i) !== 61) return false;
      const quote = s.charCodeAt(i + 1);
      if (quote !== 34 && quote !== 39) return false;
      const close = s.indexOf(quote === 34 ? '"' : "'", i + 2);
      if (close < 0) return false;
      this.add(nameStart, i, i + 2, close);
      i = close + 1;
    }
  }

  private add(nameStart: number, nameEnd: number, valueStart: number, valueEnd: number): void {
    const b = this.bounds;
    const slot = shortNameSlot(this.s, nameStart, nameEnd);
    let k = slot >= 0 ? this.indexOfSlot(slot) : this.findLong(nameStart, nameEnd);
    if (k < 0) {
      k = this.count++;
      b[k * 4] = nameStart;
      b[k * 4 + 1] = nameEnd;
      if (slot >= 0) {
        this.slotLine[slot] = this.line;
        this.slotIndex[slot] = k;
      }
    }
    b[k * 4 + 2] = valueStart;
    b[k * 4 + 3] = valueEnd;
  }

  private indexOfSlot(slot: number): number {
    return this.slotLine[slot] === this.line ? this.slotIndex[slot] ?? -1 : -1;
  }

  /** Index of the attribute named s[from, to) when that is no short name (never in real logs), or -1. */
  private findLong(from: number, to: number): number {
    const s = this.s;
    const b = this.bounds;
    for (let k = 0; k < this.count; k++) {
      const ns = b[k * 4] ?? 0;
      if ((b[k * 4 + 1] ?? 0) - ns !== to - from) continue;
      let i = 0;
      while (i < to - from && s.charCodeAt(ns + i) === s.charCodeAt(from + i)) i++;
      if (i === to - from) return k;
    }
    return -1;
  }

  /** Index of the attribute with this two-lower-case-letter name, or -1. */
  private indexOf(name: string): number {
    const slot = shortNameSlot(name, 0, name.length);
    return slot < 0 ? -1 : this.indexOfSlot(slot);
  }

  has(name: string): boolean {
    return this.indexOf(name) >= 0;
  }

  /** The value, entity-decoded, of the attribute with this two-lower-case-letter name. */
  get(name: string): string | undefined {
    const k = this.indexOf(name);
    return k < 0 ? undefined : this.value(k);
  }

  private value(k: number): string {
    return decodeEntities(this.s.slice(this.bounds[k * 4 + 2] ?? 0, this.bounds[k * 4 + 3] ?? 0));
  }

  /** Every attribute as [name, decoded value], in the order of first appearance. */
  entries(): [string, string][] {
    const out: [string, string][] = [];
    for (let k = 0; k < this.count; k++) out.push([this.s.slice(this.bounds[k * 4] ?? 0, this.bounds[k * 4 + 1] ?? 0), this.value(k)]);
    return out;
  }
}

// ---------------------------------------------------------------- optional fields

export interface Transport {
  readonly localIp?: string;
  readonly remoteIp?: string;
}

/** Index of `ch` in s[from, to), or -1: bounded, so no search runs past the field it is about. */
function indexIn(s: string, ch: number, from: number, to: number): number {
  for (let i = from; i < to; i++) if (s.charCodeAt(i) === ch) return i;
  return -1;
}

/** What String#trim removes: WhiteSpace and LineTerminator code units. */
function isTrimmed(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a)
    || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** `TCP|local-ip|local-port|remote-ip|remote-port` (LOG_CONNECTION transport information) at s[from, to). */
function parseTransportAt(s: string, from: number, to: number): Transport | undefined {
  if (to - from < 4 || !startsWithCI(s, 'tcp|', from)) return undefined;
  // `v.split('|')[1]` and `[3]`, without the array.
  const a = indexIn(s, 124, from + 4, to);
  const b = a < 0 ? -1 : indexIn(s, 124, a + 1, to);
  const c = b < 0 ? -1 : indexIn(s, 124, b + 1, to);
  const out: Mutable<Transport> = {};
  const local = normaliseIp(s.slice(from + 4, a < 0 ? to : a));
  const remote = normaliseIp(b < 0 ? '' : s.slice(b + 1, c < 0 ? to : c));
  if (local !== undefined) out.localIp = local;
  if (remote !== undefined) out.remoteIp = remote;
  return out;
}

/** `TCP|local-ip|local-port|remote-ip|remote-port` (LOG_CONNECTION transport information). */
export function parseTransport(v: string): Transport | undefined {
  return parseTransportAt(v, 0, v.length);
}

/** The `[ip]` that ends a source-system group's inside s[from, to) (`rdns [ip]`, `[ip]`), if it is an address. */
function bracketIpAt(s: string, from: number, to: number): string | undefined {
  let t = to;
  while (t > from && isTrimmed(s.charCodeAt(t - 1))) t--;
  if (t <= from || s.charCodeAt(t - 1) !== 93) return undefined;
  let open = t - 2;
  while (open >= from && s.charCodeAt(open) !== 91) open--;
  if (open < from) return undefined;
  return normaliseIp(s.slice(open + 1, t - 1));
}

/** The `[ip]` that ends a source-system group's inside (`rdns [ip]`, `[ip]`), if it is an address. */
function bracketIp(inner: string): { ip: string } | undefined {
  const ip = bracketIpAt(inner, 0, inner.length);
  return ip === undefined ? undefined : { ip };
}

/**
 * LOG_CONNECTION source system as one value (`helo (rdns [ip])`, `([ip])`): the counted
 * format keeps it in one field. The group is the last `(` … `)` of the value, since a
 * hostile HELO may itself contain parentheses.
 */
export function parseSourceSystem(v: string): { helo?: string; ip: string } | undefined {
  const t = v.trimEnd();
  if (t.charCodeAt(t.length - 1) !== 41) return undefined;
  const open = t.lastIndexOf('(');
  if (open < 0) return undefined;
  const inner = bracketIp(t.slice(open + 1, -1));
  if (!inner) return undefined;
  const helo = t.slice(0, open).trim();
  return helo ? { helo, ip: inner.ip } : { ip: inner.ip };
}

/** `550 5.1.1 …`: a reply code followed by an enhanced status code. */
function isReplyAt(s: string, p: number, end: number): boolean {
  if (end - p !== 3 && !(end - p === 4 && s.charCodeAt(p + 3) === 45)) return false;
  const c0 = s.charCodeAt(p);
  if (c0 < 50 || c0 > 53 || !isDigit(s.charCodeAt(p + 1)) || !isDigit(s.charCodeAt(p + 2))) return false;
  const q = end + 1;
  return s.charCodeAt(end) === SPACE && s.charCodeAt(q) === c0 && s.charCodeAt(q + 1) === 46 && isDigit(s.charCodeAt(q + 2));
}

const APPLICATIONS = ['SMTP', 'ESMTP', 'LMTP', 'SUBMIT'];

/** Application info at s[from, to): `SMTP`, `ESMTP`, `LMTP`, `SMTP/helo/rdns/TLS-…`. */
function isApplicationAt(s: string, from: number, to: number): boolean {
  const c0 = s.charCodeAt(from);
  // Most words are free text: one compare turns them away before four startsWith calls.
  if (c0 !== 83 && c0 !== 69 && c0 !== 76) return false; // S E L
  for (const proto of APPLICATIONS) {
    const end = from + proto.length;
    if (end <= to && s.startsWith(proto, from) && (end === to || s.charCodeAt(end) === 47)) return true;
  }
  return false;
}

/** Application info: `SMTP`, `ESMTP`, `LMTP`, `SMTP/helo/rdns/TLS-…`. */
function isApplication(v: string): boolean {
  return isApplicationAt(v, 0, v.length);
}

/** A DNS-name-looking word at s[from, to) (remote host of a dequeue record), not free text. */
function isHostNameAt(s: string, from: number, to: number): boolean {
  if (to - from > 253 || to === from || s.charCodeAt(from) === 46) return false;
  let dot = false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) dot = true;
    else if (!(isDigit(c) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 45 || c === 95)) return false;
  }
  return dot;
}

/** isDigits of s[from, to). */
function isDigitsAt(s: string, from: number, to: number): boolean {
  if (to === from || to - from > 15) return false;
  for (let i = from; i < to; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

/** End of the `N:` + exactly N characters at `p` (LOG_FORMAT=3), if the value ends at a blank or the end; else -1. */
function countedEnd(s: string, p: number): number {
  let i = p;
  let n = 0;
  while (i < s.length && i - p < 7 && isDigit(s.charCodeAt(i))) n = n * 10 + s.charCodeAt(i++) - 48;
  if (i === p || s.charCodeAt(i) !== 58) return -1;
  const end = i + 1 + n;
  if (end > s.length) return -1;
  if (end < s.length && s.charCodeAt(end) !== SPACE && s.charCodeAt(end) !== 9) return -1;
  return end;
}

/** Whether a counted (LOG_FORMAT=3) value starts at `p`. */
export function isCountedAt(s: string, p: number): boolean {
  return countedEnd(s, p) >= 0;
}

/** Reads `N:` + exactly N characters at `p` (LOG_FORMAT=3), if the value ends at a blank or the end. */
export function readCounted(s: string, p: number): { value: string; end: number } | undefined {
  const end = countedEnd(s, p);
  if (end < 0) return undefined;
  return { value: s.slice(s.indexOf(':', p) + 1, end), end };
}

/** Index just after the `(` group at `p`, balanced; an unclosed group runs to the end. */
function closeParen(s: string, p: number): number {
  let depth = 0;
  for (let i = p; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 40) depth++;
    else if (c === 41 && --depth === 0) return i + 1;
  }
  return s.length;
}

/** Piece kinds. */
const NONE = 0;
const VALUE = 1;
const GROUP = 2;

/**
 * Splits the optional region into pieces: counted values, `(…)` groups, or
 * blank-separated words. The current piece and the one peeked at are fields, not
 * objects, and a piece's text is cut out only when asked for.
 */
class PieceReader {
  kind = NONE;
  start = 0;
  end = 0;
  /** Start of a counted piece's value (after `N:`), else -1. */
  private valueStart = -1;
  private peeked = false;
  nextKind = NONE;
  nextStart = 0;
  nextEnd = 0;
  private nextValueStart = -1;

  constructor(private readonly s: string, private pos: number, private readonly counted: boolean) {}

  /** Moves to the next piece; false after the last. */
  next(): boolean {
    if (!this.peeked) this.read();
    this.peeked = false;
    this.kind = this.nextKind;
    this.start = this.nextStart;
    this.end = this.nextEnd;
    this.valueStart = this.nextValueStart;
    return this.kind !== NONE;
  }

  /** Reads the piece after the current one into the `next*` fields; its kind. */
  peek(): number {
    if (!this.peeked) {
      this.read();
      this.peeked = true;
    }
    return this.nextKind;
  }

  /** The current piece's text: a counted value without its count, else the piece as written. */
  value(): string {
    return this.s.slice(this.valueStart >= 0 ? this.valueStart : this.start, this.end);
  }

  private read(): void {
    const s = this.s;
    const p = skipSpaces(s, this.pos);
    this.nextValueStart = -1;
    if (p >= s.length) {
      this.nextKind = NONE;
      return;
    }
    this.nextStart = p;
    if (this.counted) {
      const end = countedEnd(s, p);
      if (end >= 0) {
        this.pos = end;
        this.nextKind = VALUE;
        this.nextEnd = end;
        this.nextValueStart = s.indexOf(':', p) + 1;
        return;
      }
    }
    const group = s.charCodeAt(p) === 40;
    const end = group ? closeParen(s, p) : tokenEnd(s, p);
    this.pos = end;
    this.nextKind = group ? GROUP : VALUE;
    this.nextEnd = end;
  }
}

export interface OptionalFields {
  filename?: string;
  ids: string[];
  username?: string;
  helo?: string;
  sourceIp?: string;
  transport?: Transport;
  application?: string;
  diagnostic?: string;
  /** Free text (reason, explanations) as written. */
  text?: string;
  /** Format 3: the unclassified values one by one (a `U` record's summary, then its login). */
  words: string[];
}

/** End of the inside of the `(…)` group s[start, end): before its `)`, if it has one. */
const groupInnerEnd = (s: string, start: number, end: number): number => (end - start > 1 && s.charCodeAt(end - 1) === 41 ? end - 1 : end);

/** The inside of the `(…)` group s[start, end): transport info, a source system, or something to skip (a banner). */
function readGroupAt(s: string, start: number, end: number, out: OptionalFields): void {
  const innerEnd = groupInnerEnd(s, start, end);
  const tr = parseTransportAt(s, start + 1, innerEnd);
  if (tr) {
    out.transport ??= tr;
    return;
  }
  const ip = bracketIpAt(s, start + 1, innerEnd);
  if (ip !== undefined) out.sourceIp = ip;
}

/** readGroupAt of a counted value that is a whole group. */
function readGroup(value: string, out: OptionalFields): void {
  readGroupAt(value, 0, value.length, out);
}

/**
 * Recognises the optional fields after the current-To by shape: `N` notary/priority
 * numbers, `/…/ZZ…` queue file, `<…>` envelope and message ids, the username (`*login`
 * after SMTP AUTH, else the OS account), the source system `helo (rdns [ip])`,
 * `dns;host`, `(TCP|…)` transport, SMTP banner, and the diagnostic (`smtp;…` or a
 * reply code with enhanced status), which runs to the end of a format 1/2 line.
 * `usernameSlot` is false for connection records, which have no username field.
 */
export function scanOptional(s: string, p: number, counted: boolean, usernameSlot: boolean): OptionalFields {
  return counted ? scanCounted(s, p, usernameSlot) : scanUncounted(s, p, usernameSlot);
}

/**
 * scanOptional of formats 1 and 2: every piece is a word or a group as written, so it
 * is judged where it stands in the line and only the fields kept are cut out.
 */
function scanUncounted(s: string, p: number, usernameSlot: boolean): OptionalFields {
  const out: OptionalFields = { ids: [], words: [] };
  const reader = new PieceReader(s, p, false);
  let textStart = -1;
  let textEnd = -1;
  let structured = false;
  while (reader.next()) {
    const start = reader.start;
    const end = reader.end;
    if (reader.kind === GROUP) {
      readGroupAt(s, start, end, out);
      structured = true;
      continue;
    }
    const c0 = s.charCodeAt(start);
    const last = s.charCodeAt(end - 1);
    if (end - start === 2 && c0 === 60 && last === 62) continue; // `<>`
    if (c0 === 60 && last === 62) {
      // A word has no blank at either end, so stripAngles would not trim it.
      out.ids.push(s.slice(start + 1, end - 1));
      continue;
    }
    // Fields that come before any free text; inside it, a `/` or `*` word is just text.
    if (c0 === 47 && out.filename === undefined && textStart < 0) {
      out.filename = s.slice(start, end);
      continue;
    }
    if (c0 === 42 && end - start > 1 && usernameSlot && out.username === undefined && textStart < 0) {
      out.username = s.slice(start, end);
      continue;
    }
    if ((end - start >= 5 && startsWithCI(s, 'smtp;', start)) || isReplyAt(s, start, end)) {
      // The diagnostic is free text with blanks: it runs to the end of the line.
      out.diagnostic = s.slice(start).trim();
      if (textStart >= 0 && textEnd < 0) textEnd = start;
      break;
    }
    // Notary flags, sensitivity, priority, queue time: numbers nothing here needs.
    if (isDigitsAt(s, start, end)) continue;
    if (end - start >= 4 && startsWithCI(s, 'dns;', start)) {
      structured = true;
      continue;
    }
    const tr = parseTransportAt(s, start, end);
    if (tr) {
      out.transport ??= tr;
      structured = true;
      continue;
    }
    if (!usernameSlot && isApplicationAt(s, start, end)) {
      out.application ??= s.slice(start, end);
      continue;
    }
    // A bare word: HELO of a source system, remote host, the username field, or free text.
    const next = reader.peek();
    // Format 1 writes an empty HELO as a second blank: only an adjacent word is the HELO.
    if (next === GROUP && reader.nextStart === end + 1) {
      const ip = bracketIpAt(s, reader.nextStart + 1, groupInnerEnd(s, reader.nextStart, reader.nextEnd));
      if (ip !== undefined) {
        reader.next();
        out.helo = s.slice(start, end);
        out.sourceIp = ip;
        structured = true;
        continue;
      }
    }
    if (next === VALUE && reader.nextEnd - reader.nextStart >= 4 && startsWithCI(s, 'dns;', reader.nextStart)) continue;
    if (usernameSlot && out.username === undefined && textStart < 0 && !structured) {
      out.username = s.slice(start, end);
      continue;
    }
    if (textStart < 0 && isHostNameAt(s, start, end)) continue;
    if (textStart < 0) textStart = start;
  }
  if (textStart >= 0) {
    const t = s.slice(textStart, textEnd < 0 ? s.length : textEnd).trim();
    if (t) out.text = t;
  }
  return out;
}

/** scanOptional of format 3, whose pieces are mostly counted values. */
function scanCounted(s: string, p: number, usernameSlot: boolean): OptionalFields {
  const out: OptionalFields = { ids: [], words: [] };
  const reader = new PieceReader(s, p, true);
  let structured = false;
  while (reader.next()) {
    const v = reader.value();
    if (reader.kind === GROUP) {
      readGroup(v, out);
      structured = true;
      continue;
    }
    if (v === '' || v === '<>') continue;
    const c0 = v.charCodeAt(0);
    if (c0 === 60 && v.charCodeAt(v.length - 1) === 62) {
      out.ids.push(stripAngles(v));
      continue;
    }
    // Fields that come before any free text; inside it, a `/` or `*` word is just text.
    if (c0 === 47 && out.filename === undefined) {
      out.filename = v;
      continue;
    }
    if (c0 === 42 && v.length > 1 && usernameSlot && out.username === undefined) {
      out.username = v;
      continue;
    }
    if (startsWithCI(v, 'smtp;') || isReplyValue(v)) {
      out.diagnostic = v;
      continue;
    }
    // Notary flags, sensitivity, priority, queue time: numbers nothing here needs.
    if (isDigits(v)) continue;
    if (startsWithCI(v, 'dns;')) {
      structured = true;
      continue;
    }
    const tr = parseTransport(v);
    if (tr) {
      out.transport ??= tr;
      structured = true;
      continue;
    }
    if (isApplication(v) && !usernameSlot) {
      out.application ??= v;
      continue;
    }
    // A counted value is whole: a source system with its HELO, the username, or free text.
    if (c0 === 40) {
      readGroup(v, out);
      structured = true;
      continue;
    }
    const src = v.charCodeAt(v.length - 1) === 41 ? parseSourceSystem(v) : undefined;
    if (src) {
      out.sourceIp = src.ip;
      if (src.helo !== undefined) out.helo = src.helo;
      structured = true;
    } else if (usernameSlot && out.username === undefined && out.words.length === 0 && !structured && !v.includes(' ')) {
      out.username = v;
    } else out.words.push(v);
  }
  if (out.words.length > 0) out.text = out.words.join(' ');
  return out;
}

/** A counted diagnostic value: `550 5.1.1 …` or `smtp;550 …`. */
function isReplyValue(v: string): boolean {
  const sp = v.indexOf(' ');
  return sp > 0 && isReplyAt(v, 0, sp);
}

/** The three-digit reply code at the start of a diagnostic (after `smtp;`), or ''. */
export function replyCode(diag: string | undefined): string {
  if (!diag) return '';
  const d = startsWithCI(diag, 'smtp;') ? diag.slice(5) : diag;
  return d.length >= 3 && isDigit(d.charCodeAt(0)) && isDigit(d.charCodeAt(1)) && isDigit(d.charCodeAt(2)) ? d.slice(0, 3) : '';
}

// ---------------------------------------------------------------- SMTP AUTH (`U` records)

/** MTA summaries of an auth attempt, which precede the login in an uncounted `U` record. */
const AUTH_MESSAGES = ['bad password', 'authentication successful', 'authentication failed', 'no such user', 'invalid user'];

/**
 * Splits the free text of an uncounted `U` record, `<summary> <login>`, into its parts.
 * The login is the last word when it looks like one (has an `@`, or follows a known
 * summary); a lone word is a login with no summary logged.
 */
export function splitAuthText(text: string | undefined): { message?: string; login?: string } {
  if (!text) return {};
  const sp = text.lastIndexOf(' ');
  const last = text.slice(sp + 1);
  const before = sp < 0 ? '' : text.slice(0, sp).trim();
  const lower = before.toLowerCase();
  const afterChannel = lower.endsWith(' channel') || lower === 'channel';
  const known = AUTH_MESSAGES.some((m) => lower.startsWith(m));
  if (before === '') return AUTH_MESSAGES.includes(text.toLowerCase()) ? { message: text } : { login: last };
  if (!afterChannel && (last.includes('@') || last.charCodeAt(0) === 42 || known) && !AUTH_MESSAGES.includes(text.toLowerCase())) {
    return { message: before, login: last };
  }
  return { message: text };
}

/**
 * What an auth attempt came to: the reply (235 / 535, 5.7.8) decides; without one, the
 * summary's wording. 4xx replies and other refusals (mechanism not offered, TLS first)
 * are not a wrong password, so they say nothing.
 */
export function authOutcome(diagnostic: string | undefined, message: string | undefined): 'success' | 'failure' | undefined {
  const code = replyCode(diagnostic);
  if (code === '235') return 'success';
  if (code === '535' || (code.startsWith('5') && diagnostic?.includes(' 5.7.8') === true)) return 'failure';
  if (code !== '') return undefined;
  const m = (message ?? '').toLowerCase();
  if (m.includes('successful')) return 'success';
  if (m.includes('bad password') || m.includes('authentication failed')) return 'failure';
  return undefined;
}

/** Login from a username field: `*alice@example.edu` -> `alice@example.edu`; the OS account -> undefined. */
export function loginOf(username: string | undefined): string | undefined {
  if (username === undefined || username.charCodeAt(0) !== 42) return undefined;
  const l = username.slice(1).trim();
  return l === '' ? undefined : l;
}

/** `rfc822;addr` -> `addr`; `<>` -> ''. The address type is whatever precedes the first `;`. */
export function stripAddressType(v: string): string {
  const semi = v.indexOf(';');
  const bare = semi >= 0 && semi <= 20 ? v.slice(semi + 1) : v;
  return stripAngles(bare);
}

/** Whether a word is an `rfc822;…`-style typed recipient (then the From before it was empty). */
export function hasAddressType(v: string): boolean {
  const semi = v.indexOf(';');
  if (semi <= 0 || semi > 20) return false;
  for (let i = 0; i < semi; i++) {
    const c = v.charCodeAt(i);
    if (!(isDigit(c) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 45)) return false;
  }
  return true;
}
