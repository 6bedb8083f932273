/**
 * Sun/Oracle Messaging Server service logs: MeterMaid (`Current status for ...` throttle
 * counters) and the imapd/popd/mshttpd lines of the same grammar that carry logins:
 *
 *   [29/May/2019:08:39:42 +0200] host process[pid]: Category Level: message
 *
 * MeterMaid's own wording is known only from admins' scripts (no public sample exists),
 * so the body parsers are liberal about spacing and read the server-written tail of a
 * counter line from the right, where an attacker-chosen key cannot reach.
 */
import { isIP } from 'node:net';
import type { AuthFailure, AuthSuccess, Counter, LogLine } from '../core/types.js';
import { monthIndex, parseOffset } from '../core/time.js';
import { normaliseAccount, stripAngles } from '../core/address.js';
import { defineParser, IGNORED, UNRECOGNISED } from './types.js';
import type { Correlator, ParseResult, RecordSink } from './types.js';

interface EventBase {
  /** Epoch ms (UTC), from the stamp's own offset. */
  readonly at: number;
  readonly host: string;
  /** The logging process (`metermaid`, `imapd`, `popd`, `mshttpd`, ...). */
  readonly service: string;
}

/** `Current status for "KEY" in TABLE: COUNT / QUOTA`. */
export interface CounterEvent extends EventBase {
  readonly type: 'counter';
  /** As logged: an address, an IP, or whatever the mapping passed to MeterMaid. */
  readonly key: string;
  readonly table: string;
  readonly count: number;
  readonly quota: number;
}

/** `badlogin: [IP:port] MECH USER REASON`. */
export interface AuthFailureEvent extends EventBase {
  readonly type: 'auth-failure';
  readonly login: string;
  readonly clientIp?: string;
  readonly mechanism?: string;
  readonly reason?: string;
}

/** `login [IP:port] USER MECH`. */
export interface AuthSuccessEvent extends EventBase {
  readonly type: 'auth-success';
  readonly login: string;
  readonly clientIp?: string;
  readonly mechanism?: string;
}

export type MeterMaidEvent = CounterEvent | AuthFailureEvent | AuthSuccessEvent;

/*
 * Header. The stamp is captured whole so its arithmetic runs once per distinct second
 * (see stampParser); only `\S+` and negated classes, each bounded by the next literal.
 */
const HEADER = /^\[(\d{1,2}\/[A-Za-z]{3}\/\d{4}:\d{2}:\d{2}:\d{2} +[+-]\d{4})\] +(\S+) +([^\s[\]:]+)(?:\[\d+\])?: */;
/** The header of a real line fits easily; a longer prefix is not this format (and caps regex work). */
const HEADER_WINDOW = 1024;
/** Quick family check for detect(): stamp with a numeric zone, then host and `process[pid]:`. */
const DETECT_HEADER = /^\[\d{1,2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} +[+-]\d{4}\] +\S+ +[^\s[\]:]+\[\d+\]: /;
const STAMP = /^(\d{1,2})\/([A-Za-z]{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) +([+-]\d{4})$/;
/** Optional `Category Level:` in front of the message; the level is checked against LEVELS. */
const CATEGORY_LEVEL = /^(?:[A-Za-z]+ +)?([A-Za-z]+) *:/;
const LEVELS: ReadonlySet<string> = new Set([
  'debug', 'information', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency',
]);
/** MeterMaid counts are decaying averages; accept a fraction should a build print one. */
const NUMBER = /^\d{1,15}(?:\.\d{1,6})?$/;
const COUNTER_PREFIX = 'Current status for';

/** Epoch ms for `29/May/2019:08:39:42 +0200`, or NaN for an impossible date or zone. */
export function stampToEpoch(stamp: string): number {
  const m = STAMP.exec(stamp);
  if (!m) return NaN;
  const [, dd, mon, yyyy, hh, mi, ss, zone] = m;
  const name = mon ?? '';
  // Liberal about case (`may`, `MAY`); monthIndex knows only `May`.
  const month0 = monthIndex(name.charAt(0).toUpperCase() + name.slice(1).toLowerCase());
  const day = Number(dd);
  const year = Number(yyyy);
  const hour = Number(hh);
  const minute = Number(mi);
  const second = Number(ss);
  const offset = parseOffset(zone ?? '');
  if (month0 < 0 || hour > 23 || minute > 59 || second > 60 || Number.isNaN(offset)) return NaN;
  const midnight = Date.UTC(year, month0, day);
  // Date.UTC silently rolls 31/Feb into March (and maps years 0-99 to 1900-1999); a stamp
  // that does so is corrupt, not a date. The time is added after the check so that a
  // leap second (:60) reads as the next second instead of failing it.
  const d = new Date(midnight);
  if (d.getUTCDate() !== day || d.getUTCMonth() !== month0 || d.getUTCFullYear() !== year) return NaN;
  const local = midnight + ((hour * 60 + minute) * 60 + second) * 1000;
  // The zone is explicit, so UTC is local minus offset: no zone database involved.
  return local - offset;
}

/** One-entry cache: consecutive lines share their second far more often than not. */
function stampParser(): (stamp: string) => number {
  let lastStamp = '';
  let lastEpoch = NaN;
  return (stamp) => {
    if (stamp !== lastStamp) {
      lastStamp = stamp;
      lastEpoch = stampToEpoch(stamp);
    }
    return lastEpoch;
  };
}

function isBlank(c: number): boolean {
  return c === 32 || c === 9;
}

/** Index of the last space or tab in `s`, or -1. */
function lastBlank(s: string): number {
  for (let i = s.length - 1; i >= 0; i--) if (isBlank(s.charCodeAt(i))) return i;
  return -1;
}

/** Index of the first space or tab at or after `from`, or -1. */
function firstBlank(s: string, from: number): number {
  for (let i = from; i < s.length; i++) if (isBlank(s.charCodeAt(i))) return i;
  return -1;
}

/** `s` split into its first whitespace-delimited token and the trimmed remainder. */
function nextToken(s: string): { token: string; rest: string } {
  const t = s.trimStart();
  const end = firstBlank(t, 0);
  return end < 0 ? { token: t, rest: '' } : { token: t.slice(0, end), rest: t.slice(end).trimStart() };
}

function parseNumber(s: string): number {
  return NUMBER.test(s) ? Number(s) : NaN;
}

export interface CounterBody {
  readonly key: string;
  readonly table: string;
  readonly count: number;
  readonly quota: number;
}

/**
 * The text after `Current status for`: ` "KEY" in TABLE: COUNT / QUOTA`. Read from the
 * right, because the server writes the tail and the key may be attacker-chosen: a key
 * such as `x" in t: 1 / 100` cannot move the real table or numbers, and a quote inside
 * the key (a quoted local part is legal in an address) stays part of the key.
 */
export function parseCounterBody(body: string): CounterBody | undefined {
  const s = body.trim();
  const slash = s.lastIndexOf('/');
  if (slash < 0) return undefined;
  const quota = parseNumber(s.slice(slash + 1).trim());
  const colon = s.lastIndexOf(':', slash);
  if (colon < 0) return undefined;
  const count = parseNumber(s.slice(colon + 1, slash).trim());
  if (Number.isNaN(quota) || Number.isNaN(count)) return undefined;
  const head = s.slice(0, colon).trimEnd();
  const sp = lastBlank(head);
  if (sp < 0) return undefined;
  const table = head.slice(sp + 1);
  const beforeTable = head.slice(0, sp).trimEnd();
  if (!beforeTable.endsWith('in')) return undefined;
  const quoted = beforeTable.slice(0, -2);
  if (!isBlank(quoted.charCodeAt(quoted.length - 1))) return undefined;
  const q = quoted.trimEnd();
  if (q.length < 3 || q.charCodeAt(0) !== 34 || q.charCodeAt(q.length - 1) !== 34) return undefined;
  const key = q.slice(1, -1);
  if (key.trim() === '' || table.includes('"')) return undefined;
  return { key, table, count, quota };
}

/**
 * The client IP inside `[...]` as Messaging Server prints it: `IP:port`, a bare IP, or
 * `[IPv6]:port`. `2001:db8::1:45711` is ambiguous; the server appends the port to the
 * address, so the last `:digits` is taken as the port whenever what precedes it is an IP
 * on its own. Anything that is not an IP (a host name, `unauthenticated`) gives undefined.
 */
export function parseClientAddress(bracketed: string): string | undefined {
  let s = bracketed;
  if (s.startsWith('[')) {
    // `[2001:db8::1]:45711`: RFC 3986 style; the inner brackets are unambiguous.
    const close = s.indexOf(']');
    s = close < 0 ? s.slice(1) : s.slice(1, close);
  }
  const colon = s.lastIndexOf(':');
  if (colon > 0) {
    const port = s.slice(colon + 1);
    const host = s.slice(0, colon);
    if (/^\d{1,5}$/.test(port) && isIP(host) !== 0) return host;
  }
  return isIP(s) !== 0 ? s : undefined;
}

/** `[addr] tail` -> the address text and what follows, or undefined when no bracket opens it. */
function splitBracket(s: string): { addr: string; rest: string } | undefined {
  if (!s.startsWith('[')) return undefined;
  // `[[2001:db8::1]:45711]` or `[2001:db8::1]:45711`: the token ends at the first blank.
  const end = firstBlank(s, 0);
  const token = end < 0 ? s : s.slice(0, end);
  if (!token.endsWith(']') && !/\]:\d{1,5}$/.test(token)) return undefined;
  const inner = token.endsWith(']') ? token.slice(1, -1) : token;
  return { addr: inner, rest: end < 0 ? '' : s.slice(end).trimStart() };
}

interface Header {
  readonly at: number;
  readonly host: string;
  readonly service: string;
}

/** `badlogin: [IP:port] MECH USER REASON...` (after `badlogin:`). */
function parseBadlogin(h: Header, rest: string): AuthFailureEvent | undefined {
  const b = splitBracket(rest.trimStart());
  if (!b) return undefined;
  const mech = nextToken(b.rest);
  const user = nextToken(mech.rest);
  if (mech.token === '' || user.token === '') return undefined;
  const clientIp = parseClientAddress(b.addr);
  return {
    type: 'auth-failure', ...h, login: user.token, mechanism: mech.token,
    ...(clientIp === undefined ? {} : { clientIp }),
    ...(user.rest === '' ? {} : { reason: user.rest }),
  };
}

/** `login [IP:port] USER MECH` (after `login`). */
function parseLogin(h: Header, rest: string): AuthSuccessEvent | undefined {
  const b = splitBracket(rest.trimStart());
  if (!b) return undefined;
  const user = nextToken(b.rest);
  if (user.token === '') return undefined;
  const mech = nextToken(user.rest);
  const clientIp = parseClientAddress(b.addr);
  return {
    type: 'auth-success', ...h, login: user.token,
    ...(mech.token === '' ? {} : { mechanism: mech.token }),
    ...(clientIp === undefined ? {} : { clientIp }),
  };
}

/** The message with an optional `Category Level:` removed (`Store Information:append:...` has no blank). */
function stripCategory(message: string): string {
  const m = CATEGORY_LEVEL.exec(message);
  if (m && LEVELS.has((m[1] ?? '').toLowerCase())) return message.slice(m[0].length).trimStart();
  return message;
}

function isMeterMaid(service: string): boolean {
  return service.length >= 9 && service.slice(0, 9).toLowerCase() === 'metermaid';
}

/** What one message of a known header means; a login or counter shape that does not parse is unrecognised, not guessed. */
function parseMessage(h: Header, message: string): ParseResult<MeterMaidEvent> {
  const msg = stripCategory(message).trimEnd();
  let ev: MeterMaidEvent | undefined;
  if (msg.startsWith(COUNTER_PREFIX)) {
    // Only MeterMaid's own counters count: another service echoing the phrase is not a meter.
    if (!isMeterMaid(h.service)) return IGNORED;
    const c = parseCounterBody(msg.slice(COUNTER_PREFIX.length));
    ev = c && { type: 'counter', ...h, ...c };
  } else if (msg.startsWith('badlogin:')) {
    ev = parseBadlogin(h, msg.slice(9));
  } else if (msg.startsWith('login ') || msg.startsWith('login\t')) {
    ev = parseLogin(h, msg.slice(6));
  } else {
    return IGNORED;
  }
  return ev ? { kind: 'event', event: ev } : UNRECOGNISED;
}

function createLineParser(): (line: LogLine) => ParseResult<MeterMaidEvent> {
  const epochOf = stampParser();
  return (line) => {
    const text = line.text;
    if (text.trim() === '') return IGNORED;
    const m = HEADER.exec(text.length > HEADER_WINDOW ? text.slice(0, HEADER_WINDOW) : text);
    if (!m) return UNRECOGNISED;
    const at = epochOf(m[1] ?? '');
    if (Number.isNaN(at)) return UNRECOGNISED;
    return parseMessage({ at, host: m[2] ?? '', service: m[3] ?? '' }, text.slice(m[0].length));
  };
}

/** Confidence from the share of sample lines with the service-log header; counters settle it. */
export function detectMeterMaid(sample: readonly string[]): number {
  let lines = 0;
  let matched = 0;
  let counters = 0;
  for (const raw of sample) {
    const text = raw.length > HEADER_WINDOW ? raw.slice(0, HEADER_WINDOW) : raw;
    if (text.trim() === '') continue;
    lines++;
    if (!DETECT_HEADER.test(text)) continue;
    matched++;
    if (text.includes(` ${COUNTER_PREFIX} "`)) counters++;
  }
  if (lines === 0 || matched === 0) return 0;
  return Math.min(1, (matched / lines) * 0.95 + (counters > 0 ? 0.05 : 0));
}

function toRecord(ev: MeterMaidEvent, line: LogLine, defaultDomain: string | undefined): Counter | AuthFailure | AuthSuccess {
  const evidence = [{ source: line.source, lineNo: line.lineNo, text: line.text }];
  const base = { at: ev.at, host: ev.host, evidence };
  switch (ev.type) {
    case 'counter':
      return {
        kind: 'counter', ...base, key: ev.key, table: ev.table, count: ev.count, quota: ev.quota,
        // An IP-keyed table (PORT_ACCESS) names no account; a bare word might be anything.
        // A FROM_ACCESS mapping may pass the envelope sender with its angle brackets.
        ...(ev.key.includes('@') ? { account: normaliseAccount(stripAngles(ev.key), defaultDomain) } : {}),
      };
    case 'auth-failure':
      return {
        kind: 'auth-failure', ...base, service: ev.service,
        account: normaliseAccount(ev.login, defaultDomain), login: ev.login,
        ...(ev.clientIp === undefined ? {} : { clientIp: ev.clientIp }),
        ...(ev.mechanism === undefined ? {} : { mechanism: ev.mechanism }),
        ...(ev.reason === undefined ? {} : { reason: ev.reason }),
      };
    case 'auth-success':
      return {
        kind: 'auth-success', ...base, service: ev.service,
        account: normaliseAccount(ev.login, defaultDomain), login: ev.login,
        ...(ev.clientIp === undefined ? {} : { clientIp: ev.clientIp }),
      };
  }
}

/** Every event is a whole record, so there is nothing to hold open between runs. */
function createCorrelator(defaultDomain: string | undefined, sink: RecordSink): Correlator<MeterMaidEvent> {
  return {
    push: (ev, line) => sink(toRecord(ev, line, defaultDomain)),
    flush: () => undefined,
    snapshot: () => null,
  };
}

export const metermaid = defineParser<MeterMaidEvent>({
  name: 'metermaid',
  description: 'Messaging Server service logs: MeterMaid "Current status for" counters, imapd/popd logins and badlogins',
  detect: detectMeterMaid,
  createLineParser: () => createLineParser(),
  createCorrelator: (ctx, sink) => createCorrelator(ctx.defaultDomain, sink),
});
