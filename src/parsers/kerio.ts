/**
 * Kerio Connect: `mail.log` (Recv/Sent per recipient) and `security.log` (failed
 * logins and rejection notices). Both start with `[DD/Mon/YYYY HH:MM:SS] ` in the
 * server's local time, with no zone.
 *
 * Everything after the prefix is scanned with indexOf/startsWith, never a regex over
 * the line: Subjects, envelope addresses and attempted logins are attacker-written,
 * and a line may be megabytes long.
 */
import { isIP } from 'node:net';
import { createKerioCorrelator, type KerioInterest } from '../correlate/kerio.js';
import { monthIndex, zonedToEpoch } from '../core/time.js';
import type { LogLine } from '../core/types.js';
import { defineParser, IGNORED, UNRECOGNISED, type ParseContext, type ParseResult, type Parser } from './types.js';

/** One `Recv:` line: one recipient of a message the server accepted. */
export interface KerioRecv {
  readonly type: 'recv';
  readonly at: number;
  readonly queueId: string;
  /** `SMTP`, `Kerio Connect Client` (webmail), `HTTP` (KMS 6 webmail), `DSN` (server-generated)... */
  readonly service: string;
  /** Envelope sender without angle brackets; '' for `<>`. */
  readonly from: string;
  readonly to: string;
  readonly size: number;
  /** `Sender-Host` as logged. */
  readonly senderHost: string;
  /** `senderHost` when it is a real address; null for webmail's 0.0.0.0 (address unknown). */
  readonly clientIp: string | null;
  /** The authenticated login; null for unauthenticated (inbound) mail. */
  readonly user: string | null;
  readonly ssl: boolean;
  readonly subject: string;
  readonly messageId: string | null;
}

export type KerioResult = 'delivered' | 'relayed' | 'deferred' | 'failed';

/** One `Sent:` line: one delivery attempt to one recipient. */
export interface KerioSent {
  readonly type: 'sent';
  readonly at: number;
  readonly queueId: string;
  readonly recipient: string;
  readonly result: KerioResult;
  /** Enhanced status code, e.g. `5.1.1`; null on versions that log none. */
  readonly status: string | null;
  /** Next hop (127.0.0.1 = local delivery); null on versions before it was logged. */
  readonly remoteHost: string | null;
  readonly messageId: string | null;
}

/** A failed login from security.log. */
export interface KerioAuthFailure {
  readonly type: 'auth-failure';
  readonly at: number;
  /** `SMTP`, `IMAP`, `HTTP/WebMail`...; null when the line names none. */
  readonly service: string | null;
  /** The login as attempted; null when the line names none. */
  readonly login: string | null;
  /** Where the attempt came from as logged: an address, or a reverse-DNS host name. */
  readonly remote: string;
  /** `remote` when it is an address. */
  readonly clientIp: string | null;
  readonly mechanism: string | null;
  readonly reason: string | null;
  /** false when the server said the user does not exist; null when the line does not say. */
  readonly accountExists: boolean | null;
}

/**
 * Fields a line does not carry are null rather than absent: every event of a type has
 * the same shape, and an annotated sample can state that a line has no `User:`.
 */
export type KerioEvent = KerioRecv | KerioSent | KerioAuthFailure;

// ---------------------------------------------------------------------------
// Time

/** `[DD/Mon/YYYY HH:MM:SS] `: the body starts here. */
const BODY = 23;
/** The bracketed stamp without the trailing space: the cache key. */
const STAMP_LEN = 22;
const QUARTER_HOUR = 15 * 60_000;
/** Real zones lie within UTC-12..UTC+14; a larger gap means the Queue-ID is not the queueing time. */
const MAX_OFFSET = 14 * 3600_000;

interface WallClock {
  readonly year: number;
  readonly month0: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

function digit(s: string, i: number): number {
  const c = s.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : NaN;
}

function twoDigits(s: string, i: number): number {
  return digit(s, i) * 10 + digit(s, i + 1);
}

/** The wall-clock time of a `[DD/Mon/YYYY HH:MM:SS] ` prefix, or undefined. NaN fails every range check. */
export function parseWallClock(s: string): WallClock | undefined {
  if (s.length < BODY || s.charCodeAt(0) !== 91 || s.charCodeAt(3) !== 47 || s.charCodeAt(7) !== 47
    || s.charCodeAt(12) !== 32 || s.charCodeAt(15) !== 58 || s.charCodeAt(18) !== 58
    || s.charCodeAt(21) !== 93 || s.charCodeAt(22) !== 32) return undefined;
  const day = twoDigits(s, 1);
  const month0 = monthIndex(s.slice(4, 7));
  const year = twoDigits(s, 8) * 100 + twoDigits(s, 10);
  const hour = twoDigits(s, 13);
  const minute = twoDigits(s, 16);
  const second = twoDigits(s, 19);
  if (!(day >= 1 && day <= 31 && month0 >= 0 && year >= 1970 && hour <= 23 && minute <= 59 && second <= 60)) {
    return undefined;
  }
  return { year, month0, day, hour, minute, second };
}

/**
 * The 8 characters at s[from, from + 8) read as parseInt(…, 16) reads them, or -1 when
 * one is no hex digit. U+0010..U+0019 pass as digits (OR-ing 0x20 folds them onto `0`-`9`,
 * which is how Queue-IDs were always checked) and end the number there as they end
 * parseInt's, NaN when first: hostile Queue-IDs keep giving the times they always gave.
 */
function hex8At(s: string, from: number): number {
  let v = 0;
  let ended = false;
  for (let i = from; i < from + 8; i++) {
    const c = s.charCodeAt(i);
    let d: number;
    if (c >= 48 && c <= 57) d = c - 48;
    else if ((c >= 97 && c <= 102) || (c >= 65 && c <= 70)) d = (c | 0x20) - 87;
    else if (c >= 0x10 && c <= 0x19) {
      if (i === from) v = NaN;
      ended = true;
      continue;
    } else return -1;
    if (!ended) v = v * 16 + d;
  }
  return v;
}

/** Queueing time (epoch s) of the Queue-ID at s[from, to) `<8 hex epoch s>-<8 hex counter>`, or undefined. */
function queueIdEpochAt(s: string, from: number, to: number): number | undefined {
  if (to - from !== 17 || s.charCodeAt(from + 8) !== 45 || hex8At(s, from + 9) < 0) return undefined;
  const epoch = hex8At(s, from);
  return epoch < 0 ? undefined : epoch;
}

/** Queueing time (epoch ms) encoded in a Queue-ID `<8 hex epoch s>-<8 hex counter>`, or undefined. */
export function queueIdEpoch(queueId: string): number | undefined {
  const epoch = queueIdEpochAt(queueId, 0, queueId.length);
  return epoch === undefined ? undefined : epoch * 1000;
}

/** See inferOffset; `queued` in epoch seconds. */
function offsetFrom(wallAsUtc: number, queued: number): number | undefined {
  const offset = Math.round((wallAsUtc - queued * 1000) / QUARTER_HOUR) * QUARTER_HOUR;
  return Math.abs(offset) <= MAX_OFFSET ? offset : undefined;
}

/**
 * Server's UTC offset told by a Recv line: its local stamp minus the queueing time in
 * its Queue-ID (the Recv line is written as the message is queued), rounded to the
 * quarter hour every real zone uses. Undefined when implausible.
 */
export function inferOffset(wallAsUtc: number, queueId: string): number | undefined {
  const queued = queueIdEpochAt(queueId, 0, queueId.length);
  return queued === undefined ? undefined : offsetFrom(wallAsUtc, queued);
}

/**
 * Turns stamps into UTC for one input. Consecutive lines mostly share their second,
 * so the last line whose stamp was parsed is kept and the next one compared with it in
 * place; the zone conversion runs only on a miss and only while no offset has been
 * learnt from a Queue-ID.
 */
class KerioClock {
  /** The last line whose stamp was parsed: compared in place, since a slice of it as the key cost more than the parse. */
  private stampLine = '';
  private wall: WallClock | undefined;
  private wallAsUtc = NaN;
  private zoned = NaN;
  private offset: number | undefined;
  /** Queueing time (epoch s) and stamp the offset was last learnt from. */
  private learntFrom = NaN;
  private learntAt = NaN;

  constructor(private readonly timezone: string) {}

  /** Reads the line's stamp; false when the line has none. */
  read(s: string): boolean {
    if (this.stampLine !== '' && s.charCodeAt(STAMP_LEN) === 32 && sameStamp(s, this.stampLine)) return true;
    const w = parseWallClock(s);
    if (!w) return false;
    this.stampLine = s;
    this.wall = w;
    this.wallAsUtc = Date.UTC(w.year, w.month0, w.day, w.hour, w.minute, w.second);
    this.zoned = NaN;
    return true;
  }

  /** Adopts the offset told by a Recv line's Queue-ID at s[from, to), for this and all following lines. */
  learn(s: string, from: number, to: number): void {
    const queued = queueIdEpochAt(s, from, to);
    if (queued === undefined) return;
    // The N Recv lines of one message share stamp and Queue-ID: learn once.
    if (queued === this.learntFrom && this.wallAsUtc === this.learntAt) return;
    this.learntFrom = queued;
    this.learntAt = this.wallAsUtc;
    const off = offsetFrom(this.wallAsUtc, queued);
    if (off !== undefined) this.offset = off;
  }

  /** UTC epoch ms of the stamp last read. */
  now(): number {
    if (this.offset !== undefined) return this.wallAsUtc - this.offset;
    if (Number.isNaN(this.zoned) && this.wall) {
      const w = this.wall;
      this.zoned = zonedToEpoch(this.timezone, w.year, w.month0, w.day, w.hour, w.minute, w.second);
    }
    return this.zoned;
  }
}

/** Whether `s` starts with the same `[DD/Mon/YYYY HH:MM:SS]` as the stamped line `prev`: from the end, where lines differ. */
function sameStamp(s: string, prev: string): boolean {
  for (let i = STAMP_LEN - 1; i >= 0; i--) if (s.charCodeAt(i) !== prev.charCodeAt(i)) return false;
  return true;
}

// ---------------------------------------------------------------------------
// Scanning helpers: each takes a position and returns the next one, or -1.

/** Position after `key` when it starts at `pos`. */
function expectKey(s: string, pos: number, key: string): number {
  return pos >= 0 && s.startsWith(key, pos) ? pos + key.length : -1;
}

/** Position after a field separator: a comma and any spaces (KMS 6.x sometimes wrote none). */
function skipSeparator(s: string, pos: number): number {
  if (pos < 0 || s.charCodeAt(pos) !== 44) return -1;
  let p = pos + 1;
  while (s.charCodeAt(p) === 32) p++;
  return p;
}

/**
 * Just past the `>` closing the `<address>` at `pos`. A quoted local part may hold
 * `>` and `, Key: ` (`<"x>, User: ceo"@evil>`), so quotes are skipped; an unclosed
 * quote fails the line rather than let text inside it pose as the next fields.
 */
function addressEnd(s: string, pos: number): number {
  if (pos < 0 || s.charCodeAt(pos) !== 60) return -1;
  // Nearly every address has no quote: then the first `>` closes it, found by indexOf.
  const gt = s.indexOf('>', pos + 1);
  if (gt < 0) return -1;
  for (let i = pos + 1; i < gt; i++) if (s.charCodeAt(i) === 34) return quotedAddressEnd(s, i);
  return gt + 1;
}

/** addressEnd from the first quote `q` on. */
function quotedAddressEnd(s: string, q: number): number {
  let quoted = true;
  for (let i = q + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (quoted) {
      if (c === 92) i++;
      else if (c === 34) quoted = false;
    } else if (c === 34) quoted = true;
    else if (c === 62) return i + 1;
  }
  return -1;
}

function digitsEnd(s: string, pos: number): number {
  let p = pos;
  while (p < s.length && s.charCodeAt(p) >= 48 && s.charCodeAt(p) <= 57) p++;
  return p > pos ? p : -1;
}

/** End of a value that runs to the next comma or the end of the line. */
function valueEnd(s: string, pos: number): number {
  const c = s.indexOf(',', pos);
  return c < 0 ? s.length : c;
}

function trimEndSpaces(s: string): string {
  return s.charCodeAt(s.length - 1) === 32 ? s.trimEnd() : s;
}

/**
 * The Status value at s[from, to) without trailing blanks, or null when empty. Kerio
 * writes one blank after it (`Status: 2.0.0 ,`): that one is cut in place, anything
 * odder goes through trimEndSpaces.
 */
function statusAt(s: string, from: number, to: number): string | null {
  const last = s.charCodeAt(to - 2);
  if (to - from >= 2 && s.charCodeAt(to - 1) === 32 && last > 32 && last < 127) return s.slice(from, to - 1);
  return trimEndSpaces(s.slice(from, to)) || null;
}

/** Longest text an address (IPv6 with a zone id included) can take; longer cannot be one. */
const MAX_IP_TEXT = 64;

/** The address itself when `host` is one, else null. 0.0.0.0 and :: mean "unknown", never an address. */
export function clientAddress(host: string): string | null {
  if (host.length > MAX_IP_TEXT || host === '0.0.0.0' || host === '::' || isIP(host) === 0) return null;
  return host;
}

let lastHost = '';
let lastAddress: string | null = null;

/** clientAddress for the hot path: one message's N Recv lines name the same host. */
function cachedClientAddress(host: string): string | null {
  if (host !== lastHost) {
    lastAddress = clientAddress(host);
    lastHost = host;
  }
  return lastAddress;
}

// ---------------------------------------------------------------------------
// mail.log

/**
 * What parseRecv and parseSent return, when given the correlator's interest, for a
 * well-formed line the correlator would not act on (unauthenticated mail, a Queue-ID
 * it does not know): the line is an event all the same, but none is built.
 */
const NOT_WANTED: unique symbol = Symbol('not wanted');

const RECV_MSGID = ', Msg-Id: <';
const RECV_MSGID_TIGHT = ',Msg-Id: <';

/**
 * Where the Subject that starts at `from` ends: the Msg-Id is the last field, so the
 * Subject runs to the LAST `, Msg-Id: <` whose `<...>` closes the line, and a Subject
 * quoting `, Msg-Id: <x>` cannot take the real one's place. -1: no Msg-Id, the Subject
 * runs to the end.
 */
function subjectEnd(s: string, from: number): number {
  if (s.charCodeAt(s.length - 1) !== 62) return -1;
  // The comma-without-space form is looked for only when the usual one is absent:
  // a backward scan of a long line for a marker that is not there costs its length.
  const wide = s.lastIndexOf(RECV_MSGID);
  if (wide >= from) return wide;
  const tight = s.lastIndexOf(RECV_MSGID_TIGHT);
  return tight >= from ? tight : -1;
}

/**
 * `Recv: Queue-ID: Q, Service: S, From: <F>, To: <T>, Size: N, Sender-Host: H,
 * (User: U, )?SSL: yes|no, Subject: TEXT, Msg-Id: <ID>`. The fixed fields are read
 * left to right in their fixed order and nothing after `Subject: ` is consulted for
 * them, so no Subject can change who sent a message or from where.
 * The line's time is known once its Queue-ID is (it may tell the server's offset).
 */
function parseRecv(
  s: string, start: number, clock: KerioClock, interest?: KerioInterest,
): KerioRecv | typeof NOT_WANTED | undefined {
  // Only positions are kept until the line is known to be well-formed and wanted: most
  // lines are inbound mail, checked and counted but never cut into strings.
  let p = expectKey(s, start, 'Recv: Queue-ID: ');
  if (p < 0) return undefined;
  let e = valueEnd(s, p);
  const queueStart = p;
  const queueEnd = e;
  p = expectKey(s, skipSeparator(s, e), 'Service: ');
  if (p < 0) return undefined;
  e = valueEnd(s, p);
  const serviceStart = p;
  const serviceEnd = e;
  p = expectKey(s, skipSeparator(s, e), 'From: ');
  e = addressEnd(s, p);
  if (e < 0) return undefined;
  const fromStart = p + 1;
  const fromEnd = e - 1;
  p = expectKey(s, skipSeparator(s, e), 'To: ');
  e = addressEnd(s, p);
  if (e < 0) return undefined;
  const toStart = p + 1;
  const toEnd = e - 1;
  p = expectKey(s, skipSeparator(s, e), 'Size: ');
  e = p < 0 ? -1 : digitsEnd(s, p);
  if (e < 0) return undefined;
  const sizeStart = p;
  const sizeEnd = e;
  p = expectKey(s, skipSeparator(s, e), 'Sender-Host: ');
  if (p < 0) return undefined;
  e = valueEnd(s, p);
  const hostStart = p;
  const hostEnd = e;
  p = skipSeparator(s, e);
  let userStart = -1;
  let userEnd = -1;
  if (p >= 0 && s.startsWith('User: ', p)) {
    e = valueEnd(s, p + 6);
    userStart = p + 6;
    userEnd = e;
    p = skipSeparator(s, e);
  }
  p = expectKey(s, p, 'SSL: ');
  if (p < 0) return undefined;
  let ssl: boolean;
  if (s.startsWith('yes', p)) { ssl = true; p += 3; } else if (s.startsWith('no', p)) { ssl = false; p += 2; } else return undefined;
  p = expectKey(s, skipSeparator(s, p), 'Subject: ');
  if (p < 0 || queueStart === queueEnd || serviceStart === serviceEnd || (userStart >= 0 && userStart === userEnd)) return undefined;
  clock.learn(s, queueStart, queueEnd);
  const at = clock.now();
  const service = s.slice(serviceStart, serviceEnd);
  const user = userStart < 0 ? null : s.slice(userStart, userEnd);
  if (interest !== undefined && !interest.recv(service, user)) return NOT_WANTED;
  const cut = subjectEnd(s, p);
  let subject: string;
  let messageId: string | null = null;
  if (cut < 0) subject = s.slice(p);
  else {
    subject = s.slice(p, cut);
    const idStart = cut + (s.charCodeAt(cut + 1) === 32 ? RECV_MSGID.length : RECV_MSGID_TIGHT.length);
    if (idStart < s.length - 1) messageId = s.slice(idStart, s.length - 1);
  }
  const senderHost = s.slice(hostStart, hostEnd);
  return {
    type: 'recv', at, queueId: s.slice(queueStart, queueEnd), service, from: s.slice(fromStart, fromEnd), to: s.slice(toStart, toEnd),
    size: sizeOf(s.slice(sizeStart, sizeEnd)), senderHost, clientIp: cachedClientAddress(senderHost), user, ssl, subject, messageId,
  };
}

const RESULTS: ReadonlySet<string> = new Set<KerioResult>(['delivered', 'relayed', 'deferred', 'failed']);

function isResult(s: string): s is KerioResult {
  return RESULTS.has(s);
}

const isLetter = (c: number): boolean => (c | 0x20) >= 97 && (c | 0x20) <= 122;

/** The Result value at s[from, to) as trimmed text, if it is one; the common unpadded word is compared in place. */
function resultAt(s: string, from: number, to: number): KerioResult | undefined {
  if (to - from >= 6 && isLetter(s.charCodeAt(from)) && isLetter(s.charCodeAt(to - 1))) {
    const word = to - from === 9 ? 'delivered' : to - from === 8 ? 'deferred' : to - from === 7 ? 'relayed' : to - from === 6 ? 'failed' : '';
    return word !== '' && s.startsWith(word, from) ? word : undefined;
  }
  const r = s.slice(from, to).trim();
  return isResult(r) ? r : undefined;
}

/**
 * `Sent: Queue-ID: Q, Recipient: <R>, Result: X, Status: X.Y.Z , Remote-Host: H, Msg-Id: <ID>`;
 * versions before Kerio Connect 7 end after Status. Msg-Id comes last and is read to the end.
 */
export function parseSent(s: string, start: number, at: number, interest?: KerioInterest): KerioSent | typeof NOT_WANTED | undefined {
  let p = expectKey(s, start, 'Sent: Queue-ID: ');
  if (p < 0) return undefined;
  let e = valueEnd(s, p);
  const queueId = s.slice(p, e);
  p = expectKey(s, skipSeparator(s, e), 'Recipient: ');
  e = addressEnd(s, p);
  if (e < 0 || queueId === '') return undefined;
  const recipientStart = p + 1;
  const recipientEnd = e - 1;
  p = expectKey(s, skipSeparator(s, e), 'Result: ');
  if (p < 0) return undefined;
  e = valueEnd(s, p);
  const result = resultAt(s, p, e);
  if (result === undefined) return undefined;
  if (interest !== undefined && !interest.sent(queueId, at)) return NOT_WANTED;
  let status: string | null = null;
  let remoteHost: string | null = null;
  let messageId: string | null = null;
  p = skipSeparator(s, e);
  if (p >= 0 && s.startsWith('Status: ', p)) {
    e = valueEnd(s, p + 8);
    status = statusAt(s, p + 8, e);
    p = skipSeparator(s, e);
  }
  if (p >= 0 && s.startsWith('Remote-Host: ', p)) {
    e = valueEnd(s, p + 13);
    remoteHost = s.slice(p + 13, e) || null;
    p = skipSeparator(s, e);
  }
  if (p >= 0 && s.startsWith('Msg-Id: ', p)) {
    const from = p + 8;
    if (s.charCodeAt(from) === 60 && s.charCodeAt(s.length - 1) === 62 && s.length - from >= 2) {
      messageId = s.length - 1 > from + 1 ? s.slice(from + 1, s.length - 1) : null;
    } else messageId = s.slice(from) || null;
  }
  return { type: 'sent', at, queueId, recipient: s.slice(recipientStart, recipientEnd), result, status, remoteHost, messageId };
}

// ---------------------------------------------------------------------------
// security.log

/**
 * End of a leading `PROTO: ` tag (`SMTP: `, `HTTP/WebMail: `), or -1. A tag is one
 * short word; `SPF check failed: ...` has spaces before its colon and is no tag.
 */
function protocolTagEnd(s: string, start: number): number {
  const limit = Math.min(s.length - 1, start + 32);
  for (let i = start; i < limit; i++) {
    const c = s.charCodeAt(i);
    if (c === 32) return -1;
    if (c === 58) return i > start && s.charCodeAt(i + 1) === 32 ? i : -1;
  }
  return -1;
}

function withoutFinalPeriod(s: string): string {
  return s.charCodeAt(s.length - 1) === 46 ? s.slice(0, -1) : s;
}

function authFailure(
  at: number, service: string | null, login: string | null, remote: string,
  mechanism: string | null, reason: string | null, accountExists: boolean | null,
): KerioAuthFailure {
  return { type: 'auth-failure', at, service, login, remote, clientIp: clientAddress(remote), mechanism, reason, accountExists };
}

/**
 * `Failed SMTP login from 212.92.127.112 with SASL method CRAM-MD5.` and
 * `Failed IMAP login from 192.168.36.139,missing parameter in AUTHENTICATE header`.
 * The "from" value may be a reverse-DNS name rather than an address.
 */
export function parseFailedLogin(s: string, start: number, at: number): KerioAuthFailure | undefined {
  const p = start + 'Failed '.length;
  const lf = s.indexOf(' login from ', p);
  if (lf <= p || lf - p > 32) return undefined;
  const service = s.slice(p, lf);
  if (service.includes(' ')) return undefined;
  const h = lf + ' login from '.length;
  let he = h;
  while (he < s.length && s.charCodeAt(he) !== 32 && s.charCodeAt(he) !== 44) he++;
  const remote = withoutFinalPeriod(s.slice(h, he));
  if (remote === '') return undefined;
  let mechanism: string | null = null;
  let reason: string | null = null;
  if (s.startsWith(' with SASL method ', he)) {
    const m = he + ' with SASL method '.length;
    const me = valueEnd(s, m);
    mechanism = withoutFinalPeriod(s.slice(m, me)).trim() || null;
    if (me < s.length) reason = withoutFinalPeriod(s.slice(me + 1)).trim() || null;
  } else if (he < s.length) {
    reason = withoutFinalPeriod(s.slice(he + 1)).trim() || null;
  }
  return authFailure(at, service, null, remote, mechanism, reason, null);
}

const ATTEMPT_FROM = '. Attempt from IP address ';
const INVALID_PASSWORD = 'Invalid password for user ';
const NO_SUCH_USER = ' doesn\'t exist';

/**
 * `(PROTO: )?Invalid password for user X. Attempt from IP address Y.?` and
 * `(PROTO: )?User X doesn't exist. Attempt from IP address Y.?`. The login is
 * attacker-typed and may itself say `. Attempt from IP address 10.0.0.1`, so the
 * address is taken after the LAST such marker, where the server wrote it.
 */
export function parseAttempt(s: string, start: number, service: string | null, at: number): KerioAuthFailure | undefined {
  const d = s.lastIndexOf(ATTEMPT_FROM);
  if (d < start) return undefined;
  const remote = withoutFinalPeriod(s.slice(d + ATTEMPT_FROM.length));
  if (remote === '' || remote.includes(' ')) return undefined;
  if (s.startsWith(INVALID_PASSWORD, start)) {
    const login = s.slice(start + INVALID_PASSWORD.length, d);
    return login === '' ? undefined : authFailure(at, service, login, remote, null, 'invalid password', true);
  }
  const nameEnd = d - NO_SUCH_USER.length;
  if (s.startsWith('User ', start) && nameEnd > start + 5 && s.startsWith(NO_SUCH_USER, nameEnd)) {
    return authFailure(at, service, s.slice(start + 5, nameEnd), remote, null, 'no such user', false);
  }
  return undefined;
}

/**
 * security.log notices that are not about an account's login: rejections of other
 * servers' mail, blocklists, antivirus. Known, so `ignored`; anything else is `unrecognised`.
 */
const IGNORED_NOTICES: readonly string[] = [
  'Relay attempt from ',
  'IP address ', // DNS blacklist hits
  'SPF check failed',
  'SMTP Spam attack detected',
  'Attempt to deliver to unknown recipient',
  'Client with IP address ',
  'Administration login into ',
  'Message from ',
  'Found virus',
  'Kerio Antivirus',
];

function parseSecurity(s: string, start: number, at: number): ParseResult<KerioEvent> {
  if (s.startsWith('Failed ', start)) {
    const f = parseFailedLogin(s, start, at);
    return f ? { kind: 'event', event: f } : UNRECOGNISED;
  }
  const tag = protocolTagEnd(s, start);
  const body = tag < 0 ? start : tag + 2;
  if (tag >= 0) {
    // KMS 6.0 mail.log (`SMTP: From: <a>, To: <b>, Size: 378, ...`) names no user; AntiHammering blocks name none.
    if (s.startsWith('From: ', body) || s.startsWith('AntiHammering', body)) return IGNORED;
  }
  if (s.startsWith(INVALID_PASSWORD, body) || s.startsWith('User ', body)) {
    const a = parseAttempt(s, body, tag < 0 ? null : s.slice(start, tag), at);
    return a ? { kind: 'event', event: a } : UNRECOGNISED;
  }
  for (const notice of IGNORED_NOTICES) if (s.startsWith(notice, start)) return IGNORED;
  return UNRECOGNISED;
}

// ---------------------------------------------------------------------------
// The line parser

function isBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 32) return false;
  return true;
}

/** The result for a line whose event was not wanted: an event, never pushed (its content is a placeholder). */
const NOT_WANTED_RESULT: ParseResult<KerioEvent> = Object.freeze({
  kind: 'event',
  event: Object.freeze({
    type: 'auth-failure', at: 0, service: null, login: null, remote: '', clientIp: null, mechanism: null, reason: null, accountExists: null,
  }),
});

/** Turns Kerio lines into events for one input; with an `interest`, see NOT_WANTED. */
export class KerioLineParser {
  private readonly clock: KerioClock;
  constructor(ctx: ParseContext, private readonly interest?: KerioInterest) {
    this.clock = new KerioClock(ctx.timezone);
  }

  /** Time of the last line with a stamp. */
  get at(): number {
    return this.clock.now();
  }

  parse(line: LogLine): ParseResult<KerioEvent> {
    const r = this.next(line);
    if (typeof r === 'symbol') return NOT_WANTED_RESULT;
    return 'kind' in r ? r : { kind: 'event', event: r };
  }

  /** What parse says, the event unwrapped: a scan session asks once per line and need not allocate the wrapper. */
  next(line: LogLine): KerioEvent | typeof NOT_WANTED | ParseResult<never> {
    let s = line.text;
    if (s.charCodeAt(s.length - 1) === 13) s = s.slice(0, -1); // Kerio on Windows writes CRLF
    const clock = this.clock;
    if (!clock.read(s)) return isBlank(s) ? IGNORED : UNRECOGNISED;
    let ev: KerioEvent | typeof NOT_WANTED | undefined;
    if (s.startsWith('Recv: ', BODY)) ev = parseRecv(s, BODY, clock, this.interest);
    else if (s.startsWith('Sent: ', BODY)) ev = parseSent(s, BODY, clock.now(), this.interest);
    else {
      const r = parseSecurity(s, BODY, clock.now());
      return r.kind === 'event' ? r.event : r;
    }
    return ev ?? UNRECOGNISED;
  }
}

export function createKerioLineParser(ctx: ParseContext): (line: LogLine) => ParseResult<KerioEvent> {
  const parser = new KerioLineParser(ctx);
  return (line) => parser.parse(line);
}

const KNOWN_BODIES: readonly string[] = [
  'Recv: Queue-ID: ', 'Sent: Queue-ID: ', 'Failed ', 'SMTP: ', 'HTTP/WebMail: ', 'Relay attempt from ',
  'IP address ', 'SPF check failed', 'SMTP Spam attack detected', 'Attempt to deliver to unknown recipient',
];

/** Share of non-comment lines with a Kerio stamp, weighted up when the text after it is a known shape. */
export function detectKerio(sample: readonly string[]): number {
  let considered = 0;
  let score = 0;
  for (const line of sample) {
    if (line === '' || line.startsWith('#')) continue;
    considered++;
    if (!parseWallClock(line)) continue;
    score += KNOWN_BODIES.some((b) => line.startsWith(b, BODY)) ? 1 : 0.7;
  }
  return considered === 0 ? 0 : score / considered;
}

const plugin = defineParser<KerioEvent>({
  name: 'kerio',
  description: 'Kerio Connect mail.log (Recv/Sent) and security.log (failed logins)',
  detect: detectKerio,
  createLineParser: createKerioLineParser,
  createCorrelator: (ctx, sink, saved) => createKerioCorrelator(ctx, sink, saved),
});

/**
 * The plugin, with a scan session in which the correlator tells the line parser which
 * lines it acts on: inbound mail and Sent lines of Queue-IDs it does not know are
 * checked and counted but not cut into events. Same records as pushing every event
 * (test/perf/equivalence.test.ts).
 */
/** A size of hundreds of digits is Infinity, which JSON (the cron state) cannot hold: clamp it. */
function sizeOf(digits: string): number {
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : Number.MAX_SAFE_INTEGER;
}

export const kerio: Parser = {
  ...plugin,
  open(pctx, cctx, sink, saved) {
    const correlator = createKerioCorrelator(cctx, sink, saved);
    const parser = new KerioLineParser(pctx, correlator);
    return {
      push(line) {
        const r = parser.next(line);
        if (typeof r === 'symbol') correlator.advance(parser.at);
        else if ('kind' in r) return r.kind;
        else correlator.push(r, line);
        return 'event';
      },
      flush: () => correlator.flush(),
      snapshot: () => correlator.snapshot(),
      diagnostics: () => correlator.diagnostics?.() ?? [],
    };
  },
};
