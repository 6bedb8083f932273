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
import { StampParser, SyslogEnvelope } from './syslog.js';

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

const event = (e: PostfixEvent): Result => ({ kind: 'event', event: e });

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

const DELIVERY_AGENTS = new Set(['smtp', 'lmtp', 'local', 'virtual', 'pipe', 'error', 'discard', 'retry']);

interface TagInfo {
  readonly tag: string;
  /** undefined: not a postfix program (amavis, dovecot, opendkim share the file). */
  readonly daemon: Daemon | undefined;
  readonly daemonName: string;
  readonly service: string;
}

/** Distinct tags remembered; a file has a few dozen (programs x services x instances). */
const MAX_TAGS = 512;

/**
 * splitTag once per distinct program tag: a busy file has a few dozen, so after the
 * first lines a tag is recognised in place, by length and text, without being cut out.
 */
class TagCache {
  private readonly byLength = new Map<number, TagInfo[]>();
  private size = 0;

  lookup(s: string, start: number, end: number): TagInfo {
    const n = end - start;
    const list = this.byLength.get(n);
    if (list !== undefined) {
      for (let k = 0; k < list.length; k++) {
        const info = list[k];
        if (info !== undefined && s.startsWith(info.tag, start)) return info;
      }
    }
    return this.add(s.slice(start, end));
  }

  private add(tag: string): TagInfo {
    if (this.size >= MAX_TAGS) {
      this.byLength.clear();
      this.size = 0;
    }
    const split = splitTag(tag);
    const name = split?.daemon ?? '';
    const daemon = split === undefined ? undefined
      : name === 'smtpd' ? Daemon.Smtpd
        : name === 'qmgr' ? Daemon.Qmgr
          : name === 'cleanup' ? Daemon.Cleanup
            : DELIVERY_AGENTS.has(name) ? Daemon.Delivery : Daemon.Other;
    const info: TagInfo = { tag, daemon, daemonName: name, service: split?.service ?? '' };
    const list = this.byLength.get(tag.length);
    if (list === undefined) this.byLength.set(tag.length, [info]);
    else list.push(info);
    this.size++;
    return info;
  }
}

const isDigitAt = (s: string, i: number): boolean => {
  const c = s.charCodeAt(i);
  return c >= 48 && c <= 57;
};

const isQidChar = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** Length of a queue id at the start of `msg` followed by `: `, or 0. Lenient: test suites use non-hex ids. */
export function queueIdLength(msg: string, from: number): number {
  let i = from;
  while (i < msg.length && i - from < 32 && isQidChar(msg.charCodeAt(i))) i++;
  const n = i - from;
  if (n < 5 || msg.charCodeAt(i) !== 58 || msg.charCodeAt(i + 1) !== 32) return 0;
  // Words such as `warning:` or `statistics:` have the same shape: a queue id is
  // upper-case hex, or has a digit somewhere (long ids, and test suites' odd ids).
  let digit = false;
  let hexUpper = true;
  for (let k = from; k < i; k++) {
    const c = msg.charCodeAt(k);
    if (c >= 48 && c <= 57) digit = true;
    else if (c < 65 || c > 70) hexUpper = false;
  }
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
  const addr = s.slice(open + 1, s.indexOf(']', open + 1));
  const ip = normaliseIp(addr);
  return ip ? { name: s.slice(from, open), ip, end } : { name: s.slice(from, open), end };
}

/** The address of `HOST[ADDR]` at `from` if it is an IP, without building the rest. */
function clientIpAt(s: string, from: number): string | undefined {
  const open = s.indexOf('[', from);
  if (open < 0) return undefined;
  const close = s.indexOf(']', open + 1);
  return close < 0 ? undefined : normaliseIp(s.slice(open + 1, close));
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

/**
 * Turns Postfix lines into events, for one input. With an `interest` (the correlator's,
 * in a scan), a line whose event the correlator would not act on is still checked
 * and counted as an event, but its fields are not cut out (NOT_WANTED).
 */
export class PostfixLineParser {
  private readonly env: SyslogEnvelope;
  private readonly tags = new TagCache();

  constructor(ctx: ParseContext, private readonly interest?: PostfixInterest) {
    this.env = new SyslogEnvelope(new StampParser(ctx.timezone, ctx.referenceTime));
  }

  /** Time of the last line with a syslog envelope. */
  get at(): number {
    return this.env.at;
  }

  parse(line: LogLine): Result {
    const s = line.text;
    const env = this.env;
    if (!env.read(s)) return UNRECOGNISED;
    const tag = this.tags.lookup(s, env.tagStart, env.tagEnd);
    switch (tag.daemon) {
      // Other programs share the file (amavis, dovecot, opendkim): understood, not ours.
      case undefined: return IGNORED;
      case Daemon.Smtpd: return this.smtpd(tag, s, env.msgStart);
      case Daemon.Other: return IGNORED;
      default: return this.queueMessage(tag.daemon, s, env.msgStart);
    }
  }

  private wantsMessage(qidStart: number, qidEnd: number): boolean {
    return this.interest === undefined || this.interest.message(this.env.host, this.env.text, qidStart, qidEnd);
  }

  private wantsSession(): boolean {
    const env = this.env;
    // No `[PID]`: the pid is ''.
    const start = env.pidStart < 0 ? 0 : env.pidStart;
    const end = env.pidStart < 0 ? 0 : env.pidEnd;
    return this.interest === undefined || this.interest.session(env.host, env.text, start, end);
  }

  private smtpdBase(tag: TagInfo): SmtpdBase {
    return { at: this.env.at, host: this.env.host, pid: this.env.pid, service: tag.service };
  }

  private smtpd(tag: TagInfo, s: string, m: number): Result {
    const q = queueIdLength(s, m);
    if (q > 0) {
      const body = m + q + 2;
      // After a first accepted recipient, later recipients' rejects carry the queue id instead of NOQUEUE.
      if (s.startsWith('reject', body)) return this.reject(tag, s, body);
      if (!s.startsWith('client=', body)) return IGNORED;
      const end = clientEnd(s, body + 7);
      if (end < 0) return UNRECOGNISED;
      // sasl fields come after the client and before any XFORWARD `orig_` fields.
      const user = s.indexOf(SASL_USERNAME, end);
      const anonymous = user < 0 || s.startsWith(', ', user + SASL_USERNAME.length) || user + SASL_USERNAME.length === s.length;
      if (anonymous && !this.wantsMessage(m, m + q)) return NOT_WANTED;
      const c = parseClient(s, body + 7);
      if (!c) return UNRECOGNISED;
      const method = fieldValue(s, ', sasl_method=', c.end);
      let login = fieldValue(s, SASL_USERNAME, c.end);
      if (login !== undefined && login === '') login = undefined;
      const e: PostfixEvent = {
        type: 'client', at: this.env.at, host: this.env.host, pid: this.env.pid, service: tag.service,
        qid: s.slice(m, m + q), clientHost: c.name,
      };
      if (c.ip) e.clientIp = c.ip;
      if (login !== undefined) e.login = login;
      if (method !== undefined) e.method = method;
      return event(e);
    }
    if (s.startsWith('connect from ', m)) {
      if (!this.wantsSession()) return NOT_WANTED;
      const ip = clientIpAt(s, m + 13);
      const e: PostfixEvent = { type: 'connect', at: this.env.at, host: this.env.host, pid: this.env.pid, service: tag.service };
      if (ip) e.clientIp = ip;
      return event(e);
    }
    if (s.startsWith('disconnect from ', m)) {
      const auth = s.indexOf(' auth=', m);
      let authOk = 0;
      let authAttempts = 0;
      if (auth >= 0) {
        const v = s.slice(auth + 6, s.indexOf(' ', auth + 6) >>> 0);
        const slash = v.indexOf('/');
        // Postfix writes small decimal counters; anything else (`1e9`, `0x10`, 30 digits) is
        // not its line, and must not make the correlator loop over a forged count.
        const okText = slash < 0 ? v : v.slice(0, slash);
        const attemptsText = slash < 0 ? v : v.slice(slash + 1);
        if (!/^\d{1,6}$/.test(okText) || !/^\d{1,6}$/.test(attemptsText)) return UNRECOGNISED;
        authOk = Number(okText);
        authAttempts = Number(attemptsText);
      }
      // Without AUTH attempts a disconnect only ends the process's session state.
      if (authAttempts - authOk <= 0 && !this.wantsSession()) return NOT_WANTED;
      const ip = clientIpAt(s, m + 16);
      const e: PostfixEvent = {
        type: 'disconnect', at: this.env.at, host: this.env.host, pid: this.env.pid, service: tag.service, authOk, authAttempts,
      };
      if (ip) e.clientIp = ip;
      return event(e);
    }
    if (s.startsWith('warning: ', m)) return this.smtpdWarning(tag, s, m + 9);
    if (s.startsWith('NOQUEUE: reject', m)) return this.reject(tag, s, m + 9);
    return IGNORED;
  }

  /** `warning: HOST[IP](:PORT)?: SASL MECH authentication failed: REASON(, sasl_username=USER)?` */
  private smtpdWarning(tag: TagInfo, s: string, m: number): Result {
    // Cyrus, IP-less, just before the attempt's own line: the password was never checked.
    if (s.startsWith(`${SASL_FAILURE}cannot connect to saslauthd server`, m)) {
      return event({ type: 'auth-unavailable', ...this.smtpdBase(tag), reason: s.slice(m + SASL_FAILURE.length), attempt: false });
    }
    const marker = s.indexOf(': SASL ', m);
    if (marker < 0) return IGNORED;
    const c = parseClient(s, m);
    if (!c || c.end !== marker) return IGNORED;
    const mechStart = marker + 7;
    const mechEnd = s.indexOf(' ', mechStart);
    if (mechEnd < 0 || !s.startsWith(' authentication failed', mechEnd)) return IGNORED;
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
      return event({ type: 'auth-unavailable', ...this.smtpdBase(tag), ...ip, reason, attempt: true });
    }
    // Postfix >= 3.9 writes `sasl_username=(unavailable)` when the backend did not say who it was.
    let login = userAt < 0 ? undefined : s.slice(userAt + 16);
    if (login === '(unavailable)') login = undefined;
    return event({
      type: 'auth-failed', ...this.smtpdBase(tag), ...ip, mechanism: s.slice(mechStart, mechEnd).toUpperCase(),
      ...(login ? { login } : {}), reason,
    });
  }

  /**
   * `(NOQUEUE|QID): reject(_warning)?: (RCPT|MAIL) from H[IP]: CODE X.Y.Z <S>: Sender address rejected:
   * not owned by user U; from=<S>( to=<R>)? proto=P helo=<H>`, from `reject` at `r`.
   * S, R and H are the client's text and may contain anything, the marker included (an
   * unauthenticated client can echo it into a relay reject). So the marker must appear once,
   * directly after the first `<...>` behind the reply code, and S must be repeated in `from=<S>`
   * right after the login; a line where that is not so cannot be read safely and is unrecognised.
   */
  private reject(tag: TagInfo, s: string, r: number): Result {
    const first = s.indexOf(NOT_OWNED, r);
    if (first < 0) return IGNORED;
    let i: number;
    let warnOnly: boolean;
    if (s.startsWith('reject: ', r)) [i, warnOnly] = [r + 8, false];
    else if (s.startsWith('reject_warning: ', r)) [i, warnOnly] = [r + 16, true];
    else return IGNORED;
    if (s.startsWith('RCPT from ', i)) i += 10;
    else if (s.startsWith('MAIL from ', i)) i += 10;
    else return UNRECOGNISED;
    if (s.indexOf(NOT_OWNED, first + 1) >= 0) return UNRECOGNISED;
    const c = parseClient(s, i);
    if (!c || !s.startsWith(': ', c.end)) return UNRECOGNISED;
    // `553 5.7.1 <`: reply code, enhanced status code, then the sender.
    let j = c.end + 2;
    const codeStart = j;
    while (isDigitAt(s, j)) j++;
    if (j - codeStart !== 3 || s.charCodeAt(j) !== 32) return UNRECOGNISED;
    j++;
    while (isDigitAt(s, j) || s.charCodeAt(j) === 46) j++;
    if (s.charCodeAt(j) !== 32 || s.charCodeAt(j + 1) !== 60 || j + 1 >= first) return UNRECOGNISED;
    const from = s.slice(j + 2, first);
    const userStart = first + NOT_OWNED.length;
    const tail = `; from=<${from}>`;
    const semi = s.indexOf(tail, userStart);
    if (semi <= userStart) return UNRECOGNISED;
    const login = s.slice(userStart, semi);
    const after = semi + tail.length;
    const to = s.startsWith(' to=<', after) ? addressAt(s, after + 4).value : '';
    return event({ type: 'sender-rejected', ...this.smtpdBase(tag), ...(c.ip ? { clientIp: c.ip } : {}), login, from, to, warnOnly });
  }

  private queueMessage(daemon: Daemon, s: string, m: number): Result {
    const q = queueIdLength(s, m);
    if (q === 0) return IGNORED;
    const body = m + q + 2;
    if (daemon === Daemon.Qmgr) {
      if (s.startsWith('removed', body)) {
        if (!this.wantsMessage(m, m + q)) return NOT_WANTED;
        return event({ type: 'removed', at: this.env.at, host: this.env.host, qid: s.slice(m, m + q) });
      }
      if (!s.startsWith('from=', body)) return IGNORED;
      // The sender is attacker-written: the real ` size=, nrcpt=` tail is the last one.
      const tail = s.lastIndexOf(', size=');
      if (tail < 0) return IGNORED;
      const nr = s.indexOf(', nrcpt=', tail);
      if (nr < 0) return IGNORED;
      let j = nr + 8;
      while (j < s.length && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) j++;
      // The real tail ends the line; one inside the sender (e.g. of a `status=expired` line) does not.
      if (j < s.length && !(s.length - j === 15 && s.endsWith(' (queue active)'))) return IGNORED;
      const size = numberAt(s, tail + 7, nr);
      const nrcpt = numberAt(s, nr + 8, j);
      if (!Number.isFinite(size) || !Number.isFinite(nrcpt) || j === nr + 8) return UNRECOGNISED;
      if (!this.wantsMessage(m, m + q)) return NOT_WANTED;
      let from = s.slice(body + 5, tail);
      if (from.charCodeAt(0) === 60 && from.charCodeAt(from.length - 1) === 62) from = from.slice(1, -1);
      return event({ type: 'queued', at: this.env.at, host: this.env.host, qid: s.slice(m, m + q), from, size, nrcpt });
    }
    if (daemon === Daemon.Cleanup) {
      if (s.startsWith('message-id=', body)) {
        if (!this.wantsMessage(m, m + q)) return NOT_WANTED;
        let id = s.slice(body + 11);
        if (id.charCodeAt(0) === 60 && id.charCodeAt(id.length - 1) === 62) id = id.slice(1, -1);
        return event({ type: 'message-id', at: this.env.at, host: this.env.host, qid: s.slice(m, m + q), messageId: id });
      }
      if (s.startsWith('info: header From: ', body) || s.startsWith('warning: header From: ', body)) {
        if (!this.wantsMessage(m, m + q)) return NOT_WANTED;
        const valStart = s.indexOf('From: ', body) + 6;
        // Postfix appends ` from HOST[IP]; from=<...> ...`: cut at the last such tail.
        const tail = s.lastIndexOf('; from=<');
        const cut = tail < 0 ? s.length : s.lastIndexOf(' from ', tail);
        const headerFrom = s.slice(valStart, cut < valStart ? s.length : cut);
        return event({ type: 'header-from', at: this.env.at, host: this.env.host, qid: s.slice(m, m + q), headerFrom });
      }
      return IGNORED;
    }
    // A delivery agent.
    if (!s.startsWith('to=', body)) return IGNORED;
    // `to=<R>(, orig_to=<O>)?, relay=...` R and O are the sender's text, the reply after
    // `status=` is the remote's, and only what lies between is Postfix's own. A second
    // `, relay=` means someone wrote one into an address or reply: such a line cannot be
    // split safely (R could carry a fake relay, status and `queued as`), so it is not read.
    const relayAt = s.indexOf(', relay=', body);
    if (relayAt < 0) return UNRECOGNISED;
    if (s.indexOf(', relay=', relayAt + 8) >= 0) return UNRECOGNISED;
    const st = s.indexOf(', status=', relayAt);
    if (st < 0) return UNRECOGNISED;
    if (!this.wantsMessage(m, m + q)) return NOT_WANTED;
    const orig = s.indexOf(', orig_to=', body);
    const to = stripAngles(s.slice(body + 3, orig >= 0 && orig < relayAt ? orig : relayAt));
    const relayEnd = s.indexOf(', ', relayAt + 8);
    const relay = s.slice(relayAt + 8, relayEnd < 0 ? s.length : relayEnd);
    let k = st + 9;
    while (k < s.length && s.charCodeAt(k) !== 32 && s.charCodeAt(k) !== 44) k++;
    const status = s.slice(st + 9, k);
    const qa = s.lastIndexOf('queued as ');
    const e: PostfixEvent = { type: 'delivery', at: this.env.at, host: this.env.host, qid: s.slice(m, m + q), to, status, relay };
    if (qa > k) {
      let end = qa + 10;
      while (end < s.length && isQidChar(s.charCodeAt(end))) end++;
      if (end - (qa + 10) >= 5) e.queuedAs = s.slice(qa + 10, end);
    }
    return event(e);
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
    if (splitTag(env.tag)) ours++;
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
        const r = parser.parse(line);
        if (r === NOT_WANTED) correlator.advance(parser.at);
        else if (r.kind === 'event') correlator.push(r.event, line);
        return r.kind;
      },
      flush: () => correlator.flush(),
      snapshot: () => correlator.snapshot(),
      diagnostics: () => correlator.diagnostics?.() ?? [],
    };
  },
};
