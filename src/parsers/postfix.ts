/**
 * Postfix via syslog. Lines of one message share host + queue id and are joined by
 * the postfix correlator; this file only turns single lines into events.
 * Every field value here can be attacker-written (addresses, HELO names, SASL user
 * names of failed logins, remote replies), so values are cut at fixed, known delimiters,
 * fields that follow attacker text are found from the end of the line, and a line whose
 * attacker text makes the split ambiguous is unrecognised rather than guessed at.
 */
import { stripAngles } from '../core/address.js';
import { normaliseIp } from '../core/net.js';
import type { LogLine } from '../core/types.js';
import { createPostfixCorrelator, type PostfixInterest } from '../correlate/postfix.js';
import { defineParser, IGNORED, UNRECOGNISED, type ParseContext, type ParseResult, type Parser } from './types.js';
import { internAt, StampParser, SyslogEnvelope } from './syslog.js';

interface Base {
  readonly at: number;
  readonly host: string;
}

export type PostfixEvent =
  | (Base & { type: 'client'; qid: string; pid: string; service: string; clientHost: string; clientIp?: string; login?: string; method?: string })
  | (Base & { type: 'message-id'; qid: string; messageId: string })
  | (Base & { type: 'header-from'; qid: string; headerFrom: string })
  | (Base & { type: 'queued'; qid: string; from: string; size: number; nrcpt: number })
  | (Base & { type: 'delivery'; qid: string; to: string; status: string; relay: string; queuedAs?: string })
  | (Base & { type: 'removed'; qid: string })
  | (Base & { type: 'connect'; pid: string; service: string; clientIp?: string })
  | (Base & { type: 'disconnect'; pid: string; service: string; clientIp?: string; authOk: number; authAttempts: number })
  | (Base & { type: 'auth-failed'; pid: string; service: string; clientIp?: string; mechanism: string; login?: string; reason: string })
  /**
   * The server's own authentication backend failed, not the client's password: `attempt` is true for
   * the per-attempt `SASL X authentication failed: Connection lost to authentication server` line,
   * false for Cyrus's IP-less `SASL authentication failure: cannot connect to saslauthd server` that
   * precedes the attempt's `authentication failed` line on the same pid.
   */
  | (Base & { type: 'auth-unavailable'; pid: string; service: string; clientIp?: string; reason: string; attempt: boolean })
  | (Base & { type: 'sender-rejected'; pid: string; service: string; clientIp?: string; login: string; from: string; to: string; warnOnly: boolean });

type Result = ParseResult<PostfixEvent>;

/**
 * What the line parser returns, when the correlator has said so, for an event it would
 * not act on (a queue id it does not track, a process without session state): the
 * line is still an event (its verdict is counted the same), but no event is built.
 */
const NOT_WANTED: Result = Object.freeze({ kind: 'event', event: Object.freeze({ type: 'removed', at: 0, host: '', qid: '' }) });

/** `postfix/submission/smtpd` -> daemon `smtpd`, service `submission`; `postfix-out/smtpd` -> `smtpd`, `smtpd`. */
export function splitTag(tag: string): { daemon: string; service: string } | undefined {
  if (!tag.startsWith('postfix')) return undefined;
  const last = tag.lastIndexOf('/');
  if (last < 0) return undefined;
  const daemon = tag.slice(last + 1);
  const prev = tag.lastIndexOf('/', last - 1);
  const service = prev >= 0 ? tag.slice(prev + 1, last) : daemon;
  return { daemon, service };
}

const enum Daemon { Smtpd, Qmgr, Cleanup, Delivery, Other }

/** Four given char codes at s[i]: call sites pass constants, which the JIT folds into plain compares. */
function codesAt4(s: string, i: number, a: number, b: number, c: number, d: number): boolean {
  return s.charCodeAt(i) === a && s.charCodeAt(i + 1) === b && s.charCodeAt(i + 2) === c && s.charCodeAt(i + 3) === d;
}

/** `postfix` at s[i]: the prefix every Postfix program's tag starts with (splitTag). */
function isPostfixAt(s: string, i: number): boolean {
  return codesAt4(s, i, 112, 111, 115, 116) && codesAt4(s, i + 3, 116, 102, 105, 120);
}

/**
 * The daemon of splitTag's reading of a tag, from its name s[i, i + n) after the last `/`:
 * delivery agents are smtp, lmtp, local, virtual, pipe, error, discard and retry.
 */
function daemonNamed(s: string, i: number, n: number): Daemon {
  switch (n) {
    case 4:
      if (codesAt4(s, i, 113, 109, 103, 114)) return Daemon.Qmgr; // qmgr
      return codesAt4(s, i, 115, 109, 116, 112) // smtp
        || codesAt4(s, i, 108, 109, 116, 112) // lmtp
        || codesAt4(s, i, 112, 105, 112, 101) // pipe
        ? Daemon.Delivery : Daemon.Other;
    case 5:
      if (codesAt4(s, i, 115, 109, 116, 112) && s.charCodeAt(i + 4) === 100) return Daemon.Smtpd; // smtpd
      return (codesAt4(s, i, 108, 111, 99, 97) && s.charCodeAt(i + 4) === 108) // local
        || (codesAt4(s, i, 101, 114, 114, 111) && s.charCodeAt(i + 4) === 114) // error
        || (codesAt4(s, i, 114, 101, 116, 114) && s.charCodeAt(i + 4) === 121) // retry
        ? Daemon.Delivery : Daemon.Other;
    case 7:
      if (codesAt4(s, i, 99, 108, 101, 97) && codesAt4(s, i + 3, 97, 110, 117, 112)) return Daemon.Cleanup; // cleanup
      return (codesAt4(s, i, 118, 105, 114, 116) && codesAt4(s, i + 3, 116, 117, 97, 108)) // virtual
        || (codesAt4(s, i, 100, 105, 115, 99) && codesAt4(s, i + 3, 99, 97, 114, 100)) // discard
        ? Daemon.Delivery : Daemon.Other;
    default:
      return Daemon.Other;
  }
}

/** How many distinct service names are remembered to hand out the same string again. */
const SERVICE_CACHE = 16;

const isDigitAt = (s: string, i: number): boolean => {
  const c = s.charCodeAt(i);
  return c >= 48 && c <= 57;
};

const isQidChar = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** Length of a queue id at the start of `msg` followed by `: `, or 0. Lenient: test suites use non-hex ids. */
export function queueIdLength(msg: string, from: number): number {
  // Words such as `warning:` or `statistics:` have the same shape: a queue id is
  // upper-case hex, or has a digit somewhere (long ids, and test suites' odd ids).
  const stop = Math.min(msg.length, from + 32);
  let digit = false;
  let i = from;
  // Upper-case hex, as short ids are, in a loop of its own: the usual case is two compares a char.
  for (; i < stop; i++) {
    const c = msg.charCodeAt(i);
    if (c >= 48 && c <= 57) digit = true;
    else if (c < 65 || c > 70) break;
  }
  // Any other letter (long ids) makes the id not hex; any other char ends it.
  let hexUpper = true;
  for (; i < stop; i++) {
    const c = msg.charCodeAt(i);
    if (c >= 48 && c <= 57) digit = true;
    else if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) hexUpper = false;
    else break;
  }
  const n = i - from;
  if (n < 5 || msg.charCodeAt(i) !== 58 || msg.charCodeAt(i + 1) !== 32) return 0;
  return digit || hexUpper ? n : 0;
}

/** `HOST[ADDR]` or `HOST[ADDR]:PORT` starting at `from`: the index after it, or -1 without `[...]`. */
function clientEnd(s: string, from: number): number {
  const open = s.indexOf('[', from);
  if (open < 0) return -1;
  const close = s.indexOf(']', open + 1);
  if (close < 0) return -1;
  let end = close + 1;
  if (s.charCodeAt(end) === 58) {
    let j = end + 1;
    while (j < s.length && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) j++;
    if (j > end + 1) end = j;
  }
  return end;
}

/** `HOST[ADDR]` or `HOST[ADDR]:PORT` starting at `from`: name, address if it is an IP, and the index after it. */
export function parseClient(s: string, from: number): { name: string; ip?: string; end: number } | undefined {
  const end = clientEnd(s, from);
  if (end < 0) return undefined;
  const open = s.indexOf('[', from);
  const ip = ipAt(s, open + 1, s.indexOf(']', open + 1));
  return ip ? { name: s.slice(from, open), ip, end } : { name: s.slice(from, open), end };
}

/** The address of `HOST[ADDR]` at `from` if it is an IP, without building the rest. */
function clientIpAt(s: string, from: number): string | undefined {
  const open = s.indexOf('[', from);
  if (open < 0) return undefined;
  const close = s.indexOf(']', open + 1);
  return close < 0 ? undefined : ipAt(s, open + 1, close);
}

/**
 * normaliseIp(s.slice(start, end)). Most logged addresses are plain dotted quads, which
 * normaliseIp returns as written: those are recognised in place, without its regexes.
 */
function ipAt(s: string, start: number, end: number): string | undefined {
  return isDottedQuadAt(s, start, end) ? s.slice(start, end) : normaliseIp(s.slice(start, end));
}

/** Whether s[start, end) is what node's isIPv4 takes: four decimal octets 0-255, no leading zeros. */
function isDottedQuadAt(s: string, start: number, end: number): boolean {
  let i = start;
  for (let octet = 0; octet < 4; octet++) {
    if (octet > 0) {
      if (i >= end || s.charCodeAt(i) !== 46) return false;
      i++;
    }
    const first = i;
    let value = 0;
    while (i < end && i - first < 3 && isDigitAt(s, i)) value = value * 10 + s.charCodeAt(i++) - 48;
    if (i === first || value > 255 || (i - first > 1 && s.charCodeAt(first) === 48)) return false;
  }
  return i === end;
}

export { normaliseIp };

/** Value of `key` (e.g. `sasl_username=`) up to the next `, ` or end, starting the search at `from`. */
function fieldValue(s: string, key: string, from: number): string | undefined {
  const k = s.indexOf(key, from);
  if (k < 0) return undefined;
  const start = k + key.length;
  const comma = s.indexOf(', ', start);
  return s.slice(start, comma < 0 ? s.length : comma);
}

/** `<a@b>` or bare `a@b` at `from`, up to `>` (bracketed) or the next `,`/space. */
function addressAt(s: string, from: number): { value: string; end: number } {
  if (s.charCodeAt(from) === 60) {
    const close = s.indexOf('>', from + 1);
    const end = close < 0 ? s.length : close;
    return { value: s.slice(from + 1, end), end: Math.min(s.length, end + 1) };
  }
  let i = from;
  while (i < s.length && s.charCodeAt(i) !== 44 && s.charCodeAt(i) !== 32) i++;
  return { value: s.slice(from, i), end: i };
}

/**
 * s.lastIndexOf(word) by forward searches: V8's lastIndexOf is a runtime call, its indexOf a fast
 * builtin. Each search starts after the last match, so the whole is one pass over `s`.
 */
function lastIndexOf(s: string, word: string): number {
  let at = s.indexOf(word);
  if (at < 0) return -1;
  for (let next = s.indexOf(word, at + 1); next >= 0; next = s.indexOf(word, at + 1)) at = next;
  return at;
}

/** Number(s.slice(from, to)) without the slice when the text is plain digits (nearly always). */
function numberAt(s: string, from: number, to: number): number {
  if (to <= from || to - from > 15) return Number(s.slice(from, to));
  let v = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return Number(s.slice(from, to));
    v = v * 10 + (c - 48);
  }
  return v;
}

/** An smtpd line's own facts, besides the message. */
interface SmtpdBase {
  readonly at: number;
  readonly host: string;
  readonly pid: string;
  readonly service: string;
}

const SASL_FAILURE = 'SASL authentication failure: ';
const NOT_OWNED = '>: Sender address rejected: not owned by user ';
const SASL_USERNAME = ', sasl_username=';

/** What reading one line came to when it is no event to hand on. */
const enum Verdict { Ignored, Unrecognised, NotWanted }

/**
 * A line's event, or its verdict. Returned rather than kept in a field: the parser lives
 * as long as the input, and a young object stored into it is marked live whenever V8
 * happens to be marking the old generation, then promoted out of the young one.
 */
type Read = PostfixEvent | Verdict;

/**
 * Turns Postfix lines into events, for one input. With an `interest` (the correlator's,
 * in a scan), a line whose event the correlator would not act on is still checked
 * and counted as an event, but its fields are not cut out (NOT_WANTED).
 *
 * A line is classified in place, by its tag's daemon name and the first characters of
 * its message, before anything is cut out or allocated: most lines of a busy server
 * (postscreen, TLS, connects of unauthenticated clients) end there.
 */
export class PostfixLineParser {
  private readonly env: SyslogEnvelope;
  private readonly services: string[] = [];
  /** Index of the `/` before the daemon name in the current line's tag. */
  private daemonSlash = 0;
  /** The correlator's key of the open message the current line's queue id names, once asked. */
  found: string | undefined;

  constructor(ctx: ParseContext, private readonly interest?: PostfixInterest) {
    this.env = new SyslogEnvelope(new StampParser(ctx.timezone, ctx.referenceTime));
  }

  /** Time of the last line with a syslog envelope. */
  get at(): number {
    return this.env.at;
  }

  parse(line: LogLine): Result {
    const r = this.read(line.text);
    if (typeof r === 'object') return { kind: 'event', event: r };
    return r === Verdict.Ignored ? IGNORED : r === Verdict.NotWanted ? NOT_WANTED : UNRECOGNISED;
  }

  /** Reads one line: its event, or why there is none. */
  read(s: string): Read {
    const env = this.env;
    this.found = undefined;
    if (!env.read(s)) return Verdict.Unrecognised;
    switch (this.daemonOf(s, env.tagStart, env.tagEnd)) {
      case Daemon.Smtpd: return this.smtpd(s, env.msgStart);
      // Other programs share the file (amavis, dovecot, opendkim): understood, not ours.
      case Daemon.Other: return Verdict.Ignored;
      case Daemon.Qmgr: return this.qmgr(s, env.msgStart);
      case Daemon.Cleanup: return this.cleanup(s, env.msgStart);
      case Daemon.Delivery: return this.delivery(s, env.msgStart);
    }
  }

  /**
   * splitTag's reading of the tag s[start, end), in place: a program other than `postfix...`,
   * or one without a `/`, is Other. Remembers where the daemon name starts, for `service`.
   */
  private daemonOf(s: string, start: number, end: number): Daemon {
    if (end - start < 8 || !isPostfixAt(s, start)) return Daemon.Other;
    // `postfix` holds no `/`, so the last one is after it, if there is one.
    let slash = end - 1;
    while (slash >= start + 7 && s.charCodeAt(slash) !== 47) slash--;
    if (slash < start + 7) return Daemon.Other;
    this.daemonSlash = slash;
    return daemonNamed(s, slash + 1, end - slash - 1);
  }

  /** The service of the current smtpd line's tag (`submission` of `postfix/submission/smtpd`), else `smtpd`. */
  private service(s: string): string {
    const env = this.env;
    const slash = this.daemonSlash;
    let prev = slash - 1;
    while (prev >= env.tagStart && s.charCodeAt(prev) !== 47) prev--;
    return prev < env.tagStart ? 'smtpd' : internAt(this.services, SERVICE_CACHE, s, prev + 1, slash);
  }

  private wantsMessage(s: string, qidStart: number, qidEnd: number): boolean {
    if (this.interest === undefined) return true;
    const env = this.env;
    this.found = this.interest.message(s, env.hostStart, env.hostEnd, qidStart, qidEnd);
    return this.found !== undefined;
  }

  private wantsSession(s: string): boolean {
    const env = this.env;
    // No `[PID]`: the pid is ''.
    const start = env.pidStart < 0 ? 0 : env.pidStart;
    const end = env.pidStart < 0 ? 0 : env.pidEnd;
    return this.interest === undefined || this.interest.session(s, env.hostStart, env.hostEnd, start, end);
  }

  private smtpdBase(s: string): SmtpdBase {
    return { at: this.env.at, host: this.env.host(s), pid: this.env.pid(s), service: this.service(s) };
  }

  private smtpd(s: string, m: number): Read {
    // None of these words is read as a queue id (see queueIdLength), so they are tried first.
    switch (s.charCodeAt(m)) {
      case 99: // c
        if (s.startsWith('connect from ', m)) return this.connect(s, m);
        break;
      case 100: // d
        if (s.startsWith('disconnect from ', m)) return this.disconnect(s, m);
        break;
      case 119: // w
        if (s.startsWith('warning: ', m)) return this.smtpdWarning(s, m + 9);
        break;
      case 78: // N
        if (s.startsWith('NOQUEUE: reject', m)) return this.reject(s, m + 9);
        break;
      default:
        break;
    }
    const q = queueIdLength(s, m);
    if (q === 0) return Verdict.Ignored;
    const body = m + q + 2;
    // After a first accepted recipient, later recipients' rejects carry the queue id instead of NOQUEUE.
    if (s.startsWith('reject', body)) return this.reject(s, body);
    if (!s.startsWith('client=', body)) return Verdict.Ignored;
    // `client=HOST[ADDR](:PORT)?`, as parseClient reads it, each bound found once.
    const from = body + 7;
    const open = s.indexOf('[', from);
    if (open < 0) return Verdict.Unrecognised;
    const close = s.indexOf(']', open + 1);
    if (close < 0) return Verdict.Unrecognised;
    const end = clientEnd(s, from);
    // sasl fields come after the client and before any XFORWARD `orig_` fields.
    const user = s.indexOf(SASL_USERNAME, end);
    const userStart = user + SASL_USERNAME.length;
    const anonymous = user < 0 || s.startsWith(', ', userStart) || userStart === s.length;
    if (anonymous && !this.wantsMessage(s, m, m + q)) return Verdict.NotWanted;
    const ip = ipAt(s, open + 1, close);
    const method = fieldValue(s, ', sasl_method=', end);
    let login: string | undefined;
    if (user >= 0) {
      const comma = s.indexOf(', ', userStart);
      login = s.slice(userStart, comma < 0 ? s.length : comma);
      if (login === '') login = undefined;
    }
    const e: PostfixEvent = {
      type: 'client', at: this.env.at, host: this.env.host(s), pid: this.env.pid(s), service: this.service(s),
      qid: s.slice(m, m + q), clientHost: s.slice(from, open),
    };
    if (ip) e.clientIp = ip;
    if (login !== undefined) e.login = login;
    if (method !== undefined) e.method = method;
    return e;
  }

  private connect(s: string, m: number): Read {
    if (!this.wantsSession(s)) return Verdict.NotWanted;
    const ip = clientIpAt(s, m + 13);
    const e: PostfixEvent = { type: 'connect', at: this.env.at, host: this.env.host(s), pid: this.env.pid(s), service: this.service(s) };
    if (ip) e.clientIp = ip;
    return e;
  }

  private disconnect(s: string, m: number): Read {
    const auth = s.indexOf(' auth=', m);
    let authOk = 0;
    let authAttempts = 0;
    if (auth >= 0) {
      // `auth=OK/ATTEMPTS`, or `auth=N` for N of N. Postfix writes small decimal counters;
      // anything else (`1e9`, `0x10`, 30 digits) is not its line, and must not make the
      // correlator loop over a forged count.
      let i = auth + 6;
      const okStart = i;
      while (i - okStart <= 6 && isDigitAt(s, i)) authOk = authOk * 10 + s.charCodeAt(i++) - 48;
      if (i === okStart || i - okStart > 6) return Verdict.Unrecognised;
      authAttempts = authOk;
      if (s.charCodeAt(i) === 47) {
        const attemptsStart = ++i;
        authAttempts = 0;
        while (i - attemptsStart <= 6 && isDigitAt(s, i)) authAttempts = authAttempts * 10 + s.charCodeAt(i++) - 48;
        if (i === attemptsStart || i - attemptsStart > 6) return Verdict.Unrecognised;
      }
      if (i < s.length && s.charCodeAt(i) !== 32) return Verdict.Unrecognised;
    }
    // Without AUTH attempts a disconnect only ends the process's session state.
    if (authAttempts - authOk <= 0 && !this.wantsSession(s)) return Verdict.NotWanted;
    const ip = clientIpAt(s, m + 16);
    const e: PostfixEvent = {
      type: 'disconnect', at: this.env.at, host: this.env.host(s), pid: this.env.pid(s), service: this.service(s), authOk, authAttempts,
    };
    if (ip) e.clientIp = ip;
    return e;
  }

  /** `warning: HOST[IP](:PORT)?: SASL MECH authentication failed: REASON(, sasl_username=USER)?` */
  private smtpdWarning(s: string, m: number): Read {
    // Cyrus, IP-less, just before the attempt's own line: the password was never checked.
    if (s.startsWith(`${SASL_FAILURE}cannot connect to saslauthd server`, m)) {
      return { type: 'auth-unavailable', ...this.smtpdBase(s), reason: s.slice(m + SASL_FAILURE.length), attempt: false };
    }
    const marker = s.indexOf(': SASL ', m);
    if (marker < 0) return Verdict.Ignored;
    const c = parseClient(s, m);
    if (!c || c.end !== marker) return Verdict.Ignored;
    const mechStart = marker + 7;
    const mechEnd = s.indexOf(' ', mechStart);
    if (mechEnd < 0 || !s.startsWith(' authentication failed', mechEnd)) return Verdict.Ignored;
    let reasonStart = mechEnd + 22;
    if (s.charCodeAt(reasonStart) === 58) reasonStart++;
    if (s.charCodeAt(reasonStart) === 32) reasonStart++;
    // The user name is the client's own text and may itself contain `, sasl_username=`:
    // the first marker is Postfix's, everything after it is the name.
    const userAt = s.indexOf(SASL_USERNAME, reasonStart);
    const reason = s.slice(reasonStart, userAt < 0 ? s.length : userAt);
    const ip = c.ip ? { clientIp: c.ip } : {};
    // Server-side trouble is not an attack on the account.
    if (reason.startsWith('Connection lost to authentication server')) {
      return { type: 'auth-unavailable', ...this.smtpdBase(s), ...ip, reason, attempt: true };
    }
    // Postfix >= 3.9 writes `sasl_username=(unavailable)` when the backend did not say who it was.
    let login = userAt < 0 ? undefined : s.slice(userAt + 16);
    if (login === '(unavailable)') login = undefined;
    return {
      type: 'auth-failed', ...this.smtpdBase(s), ...ip, mechanism: s.slice(mechStart, mechEnd).toUpperCase(),
      ...(login ? { login } : {}), reason,
    };
  }

  /**
   * `(NOQUEUE|QID): reject(_warning)?: (RCPT|MAIL) from H[IP]: CODE X.Y.Z <S>: Sender address rejected:
   * not owned by user U; from=<S>( to=<R>)? proto=P helo=<H>`, from `reject` at `r`.
   * S, R and H are the client's text and may contain anything, the marker included (an
   * unauthenticated client can echo it into a relay reject). So the marker must appear once,
   * directly after the first `<...>` behind the reply code, and S must be repeated in `from=<S>`
   * right after the login; a line where that is not so cannot be read safely and is unrecognised.
   */
  private reject(s: string, r: number): Read {
    const first = s.indexOf(NOT_OWNED, r);
    if (first < 0) return Verdict.Ignored;
    let i: number;
    let warnOnly: boolean;
    if (s.startsWith('reject: ', r)) [i, warnOnly] = [r + 8, false];
    else if (s.startsWith('reject_warning: ', r)) [i, warnOnly] = [r + 16, true];
    else return Verdict.Ignored;
    if (s.startsWith('RCPT from ', i)) i += 10;
    else if (s.startsWith('MAIL from ', i)) i += 10;
    else return Verdict.Unrecognised;
    if (s.indexOf(NOT_OWNED, first + 1) >= 0) return Verdict.Unrecognised;
    const c = parseClient(s, i);
    if (!c || !s.startsWith(': ', c.end)) return Verdict.Unrecognised;
    // `553 5.7.1 <`: reply code, enhanced status code, then the sender.
    let j = c.end + 2;
    const codeStart = j;
    while (isDigitAt(s, j)) j++;
    if (j - codeStart !== 3 || s.charCodeAt(j) !== 32) return Verdict.Unrecognised;
    j++;
    while (isDigitAt(s, j) || s.charCodeAt(j) === 46) j++;
    if (s.charCodeAt(j) !== 32 || s.charCodeAt(j + 1) !== 60 || j + 1 >= first) return Verdict.Unrecognised;
    const from = s.slice(j + 2, first);
    const userStart = first + NOT_OWNED.length;
    const tail = `; from=<${from}>`;
    const semi = s.indexOf(tail, userStart);
    if (semi <= userStart) return Verdict.Unrecognised;
    const login = s.slice(userStart, semi);
    const after = semi + tail.length;
    const to = s.startsWith(' to=<', after) ? addressAt(s, after + 4).value : '';
    return { type: 'sender-rejected', ...this.smtpdBase(s), ...(c.ip ? { clientIp: c.ip } : {}), login, from, to, warnOnly };
  }

  private qmgr(s: string, m: number): Read {
    const q = queueIdLength(s, m);
    if (q === 0) return Verdict.Ignored;
    const body = m + q + 2;
    if (s.startsWith('removed', body)) {
      if (!this.wantsMessage(s, m, m + q)) return Verdict.NotWanted;
      return { type: 'removed', at: this.env.at, host: this.env.host(s), qid: s.slice(m, m + q) };
    }
    if (!s.startsWith('from=', body)) return Verdict.Ignored;
    // The sender is attacker-written: the real ` size=, nrcpt=` tail is the last one.
    const tail = lastIndexOf(s, ', size=');
    if (tail < 0) return Verdict.Ignored;
    const nr = s.indexOf(', nrcpt=', tail);
    if (nr < 0) return Verdict.Ignored;
    let j = nr + 8;
    while (j < s.length && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) j++;
    // The real tail ends the line; one inside the sender (e.g. of a `status=expired` line) does not.
    if (j < s.length && !(s.length - j === 15 && s.endsWith(' (queue active)'))) return Verdict.Ignored;
    const size = numberAt(s, tail + 7, nr);
    const nrcpt = numberAt(s, nr + 8, j);
    if (!Number.isFinite(size) || !Number.isFinite(nrcpt) || j === nr + 8) return Verdict.Unrecognised;
    if (!this.wantsMessage(s, m, m + q)) return Verdict.NotWanted;
    const fromStart = body + 5;
    const bracketed = tail - fromStart >= 2 && s.charCodeAt(fromStart) === 60 && s.charCodeAt(tail - 1) === 62;
    const from = bracketed ? s.slice(fromStart + 1, tail - 1) : s.slice(fromStart, tail);
    return { type: 'queued', at: this.env.at, host: this.env.host(s), qid: s.slice(m, m + q), from, size, nrcpt };
  }

  private cleanup(s: string, m: number): Read {
    const q = queueIdLength(s, m);
    if (q === 0) return Verdict.Ignored;
    const body = m + q + 2;
    if (s.startsWith('message-id=', body)) {
      if (!this.wantsMessage(s, m, m + q)) return Verdict.NotWanted;
      // `<id>` loses its brackets; a bare or half-bracketed id is kept as written.
      const idStart = body + 11;
      const bracketed = s.length - idStart >= 2 && s.charCodeAt(idStart) === 60 && s.charCodeAt(s.length - 1) === 62;
      const id = bracketed ? s.slice(idStart + 1, -1) : s.slice(idStart);
      return { type: 'message-id', at: this.env.at, host: this.env.host(s), qid: s.slice(m, m + q), messageId: id };
    }
    if (s.startsWith('info: header From: ', body) || s.startsWith('warning: header From: ', body)) {
      if (!this.wantsMessage(s, m, m + q)) return Verdict.NotWanted;
      const valStart = s.indexOf('From: ', body) + 6;
      // Postfix appends ` from HOST[IP]; from=<...> ...`: cut at the last such tail.
      const tail = s.lastIndexOf('; from=<');
      const cut = tail < 0 ? s.length : s.lastIndexOf(' from ', tail);
      const headerFrom = s.slice(valStart, cut < valStart ? s.length : cut);
      return { type: 'header-from', at: this.env.at, host: this.env.host(s), qid: s.slice(m, m + q), headerFrom };
    }
    return Verdict.Ignored;
  }

  private delivery(s: string, m: number): Read {
    const q = queueIdLength(s, m);
    if (q === 0) return Verdict.Ignored;
    const body = m + q + 2;
    if (!s.startsWith('to=', body)) return Verdict.Ignored;
    // `to=<R>(, orig_to=<O>)?, relay=...` R and O are the sender's text, the reply after
    // `status=` is the remote's, and only what lies between is Postfix's own. A second
    // `, relay=` means someone wrote one into an address or reply: such a line cannot be
    // split safely (R could carry a fake relay, status and `queued as`), so it is not read.
    const relayAt = s.indexOf(', relay=', body);
    if (relayAt < 0) return Verdict.Unrecognised;
    if (s.indexOf(', relay=', relayAt + 8) >= 0) return Verdict.Unrecognised;
    const st = s.indexOf(', status=', relayAt);
    if (st < 0) return Verdict.Unrecognised;
    if (!this.wantsMessage(s, m, m + q)) return Verdict.NotWanted;
    const orig = s.indexOf(', orig_to=', body);
    const toEnd = orig >= 0 && orig < relayAt ? orig : relayAt;
    // `<R>`, as nearly always: stripAngles' trim has nothing to remove.
    const to = toEnd - body >= 5 && s.charCodeAt(body + 3) === 60 && s.charCodeAt(toEnd - 1) === 62
      ? s.slice(body + 4, toEnd - 1) : stripAngles(s.slice(body + 3, toEnd));
    const relayEnd = s.indexOf(', ', relayAt + 8);
    const relay = s.slice(relayAt + 8, relayEnd < 0 ? s.length : relayEnd);
    let k = st + 9;
    while (k < s.length && s.charCodeAt(k) !== 32 && s.charCodeAt(k) !== 44) k++;
    const status = s.slice(st + 9, k);
    const qa = lastIndexOf(s, 'queued as ');
    const e: PostfixEvent = { type: 'delivery', at: this.env.at, host: this.env.host(s), qid: s.slice(m, m + q), to, status, relay };
    if (qa > k) {
      let end = qa + 10;
      while (end < s.length && isQidChar(s.charCodeAt(end))) end++;
      if (end - (qa + 10) >= 5) e.queuedAs = s.slice(qa + 10, end);
    }
    return e;
  }
}

export function createPostfixLineParser(ctx: ParseContext): (line: LogLine) => Result {
  const parser = new PostfixLineParser(ctx);
  return (line) => parser.parse(line);
}

/** Share of sample lines that are syslog lines from a postfix program. */
export function detectPostfix(sample: readonly string[]): number {
  // Detection only looks at the envelope's shape: the reference time does not matter.
  const env = new SyslogEnvelope(new StampParser('UTC', 0));
  let lines = 0;
  let syslog = 0;
  let ours = 0;
  for (const text of sample) {
    if (text === '' || text.startsWith('#')) continue;
    lines++;
    if (!env.read(text)) continue;
    syslog++;
    if (splitTag(env.tag(text))) ours++;
  }
  if (ours === 0 || lines === 0) return 0;
  // Mixed syslog files are normal; a single postfix line among syslog lines is a good sign.
  return Math.min(1, 0.5 + 0.5 * (ours / lines) + 0.2 * (syslog / lines));
}

const plugin = defineParser<PostfixEvent>({
  name: 'postfix',
  description: 'Postfix via syslog (RFC 3164 or RFC 3339 stamps), several hosts and instances per file',
  detect: detectPostfix,
  createLineParser: createPostfixLineParser,
  createCorrelator: createPostfixCorrelator,
});

/**
 * The plugin, with a scan session in which the correlator tells the line parser which
 * queue ids and processes it tracks: the inbound majority of a busy server is then
 * checked and counted but never cut into events. The records are the same as with
 * every line's event pushed (test/perf/equivalence.test.ts).
 */
export const postfix: Parser = {
  ...plugin,
  open(pctx, cctx, sink, saved) {
    const correlator = createPostfixCorrelator(cctx, sink, saved);
    const parser = new PostfixLineParser(pctx, correlator);
    return {
      push(line) {
        const r = parser.read(line.text);
        if (typeof r === 'object') {
          correlator.push(r, line, parser.found);
          return 'event';
        }
        switch (r) {
          case Verdict.NotWanted:
            correlator.advance(parser.at);
            return 'event';
          case Verdict.Ignored:
            return 'ignored';
          case Verdict.Unrecognised:
            return 'unrecognised';
        }
      },
      flush: () => correlator.flush(),
      snapshot: () => correlator.snapshot(),
      diagnostics: () => correlator.diagnostics?.() ?? [],
    };
  },
};
