/**
 * Postfix via syslog. Lines of one message share host + queue id and are joined by
 * the postfix correlator; this file only turns single lines into events.
 * Every field value here can be attacker-written (addresses, HELO names, SASL user
 * names of failed logins, remote replies), so values are cut at fixed, known delimiters,
 * fields that follow attacker text are found from the end of the line, and a line whose
 * attacker text makes the split ambiguous is unrecognised rather than guessed at.
 */
import { isIP } from 'node:net';
import { stripAngles } from '../core/address.js';
import type { LogLine } from '../core/types.js';
import { createPostfixCorrelator } from '../correlate/postfix.js';
import { defineParser, IGNORED, UNRECOGNISED, type ParseContext, type ParseResult } from './types.js';
import { parseEnvelope, StampParser } from './syslog.js';

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

/** `HOST[ADDR]` or `HOST[ADDR]:PORT` starting at `from`: name, address if it is an IP, and the index after it. */
export function parseClient(s: string, from: number): { name: string; ip?: string; end: number } | undefined {
  const open = s.indexOf('[', from);
  if (open < 0) return undefined;
  const close = s.indexOf(']', open + 1);
  if (close < 0) return undefined;
  const addr = s.slice(open + 1, close);
  let end = close + 1;
  if (s.charCodeAt(end) === 58) {
    let j = end + 1;
    while (j < s.length && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) j++;
    if (j > end + 1) end = j;
  }
  const ip = normaliseIp(addr);
  return ip ? { name: s.slice(from, open), ip, end } : { name: s.slice(from, open), end };
}

/** Accepts IPv4, IPv6 and Postfix's `ipv6:` prefix; drops `unknown` and anything that is not an address. */
export function normaliseIp(addr: string): string | undefined {
  const a = addr.startsWith('IPv6:') || addr.startsWith('ipv6:') ? addr.slice(5) : addr;
  return isIP(a) ? a.toLowerCase() : undefined;
}

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

const DELIVERY_AGENTS = new Set(['smtp', 'lmtp', 'local', 'virtual', 'pipe', 'error', 'discard', 'retry']);

export function parseSmtpdMessage(b: Base & { pid: string; service: string }, s: string, m: number): Result {
  const q = queueIdLength(s, m);
  if (q > 0) {
    const qid = s.slice(m, m + q);
    const body = m + q + 2;
    // After a first accepted recipient, later recipients' rejects carry the queue id instead of NOQUEUE.
    if (s.startsWith('reject', body)) return parseReject(b, s, body);
    if (!s.startsWith('client=', body)) return IGNORED;
    const c = parseClient(s, body + 7);
    if (!c) return UNRECOGNISED;
    // sasl fields come after the client and before any XFORWARD `orig_` fields.
    const method = fieldValue(s, ', sasl_method=', c.end);
    let login = fieldValue(s, ', sasl_username=', c.end);
    if (login !== undefined && login === '') login = undefined;
    return event({
      type: 'client', ...b, qid, clientHost: c.name,
      ...(c.ip ? { clientIp: c.ip } : {}),
      ...(login !== undefined ? { login } : {}),
      ...(method !== undefined ? { method } : {}),
    });
  }
  if (s.startsWith('connect from ', m)) {
    const c = parseClient(s, m + 13);
    return event({ type: 'connect', ...b, ...(c?.ip ? { clientIp: c.ip } : {}) });
  }
  if (s.startsWith('disconnect from ', m)) {
    const c = parseClient(s, m + 16);
    const auth = s.indexOf(' auth=', m);
    let authOk = 0;
    let authAttempts = 0;
    if (auth >= 0) {
      const v = s.slice(auth + 6, s.indexOf(' ', auth + 6) >>> 0);
      const slash = v.indexOf('/');
      authOk = Number(slash < 0 ? v : v.slice(0, slash));
      authAttempts = slash < 0 ? authOk : Number(v.slice(slash + 1));
      if (!Number.isFinite(authOk) || !Number.isFinite(authAttempts)) return UNRECOGNISED;
    }
    return event({ type: 'disconnect', ...b, ...(c?.ip ? { clientIp: c.ip } : {}), authOk, authAttempts });
  }
  if (s.startsWith('warning: ', m)) return parseSmtpdWarning(b, s, m + 9);
  if (s.startsWith('NOQUEUE: reject', m)) return parseReject(b, s, m + 9);
  return IGNORED;
}

const SASL_FAILURE = 'SASL authentication failure: ';

/** `warning: HOST[IP](:PORT)?: SASL MECH authentication failed: REASON(, sasl_username=USER)?` */
function parseSmtpdWarning(b: Base & { pid: string; service: string }, s: string, m: number): Result {
  // Cyrus, IP-less, just before the attempt's own line: the password was never checked.
  if (s.startsWith(`${SASL_FAILURE}cannot connect to saslauthd server`, m)) {
    return event({ type: 'auth-unavailable', ...b, reason: s.slice(m + SASL_FAILURE.length), attempt: false });
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
  const userAt = s.indexOf(', sasl_username=', reasonStart);
  const reason = s.slice(reasonStart, userAt < 0 ? s.length : userAt);
  const ip = c.ip ? { clientIp: c.ip } : {};
  // Server-side trouble is not an attack on the account.
  if (reason.startsWith('Connection lost to authentication server')) {
    return event({ type: 'auth-unavailable', ...b, ...ip, reason, attempt: true });
  }
  // Postfix >= 3.9 writes `sasl_username=(unavailable)` when the backend did not say who it was.
  let login = userAt < 0 ? undefined : s.slice(userAt + 16);
  if (login === '(unavailable)') login = undefined;
  return event({
    type: 'auth-failed', ...b, ...ip, mechanism: s.slice(mechStart, mechEnd).toUpperCase(),
    ...(login ? { login } : {}), reason,
  });
}

const NOT_OWNED = '>: Sender address rejected: not owned by user ';

/**
 * `(NOQUEUE|QID): reject(_warning)?: (RCPT|MAIL) from H[IP]: CODE X.Y.Z <S>: Sender address rejected:
 * not owned by user U; from=<S>( to=<R>)? proto=P helo=<H>`, from `reject` at `r`.
 * S, R and H are the client's text and may contain anything, the marker included (an
 * unauthenticated client can echo it into a relay reject). So the marker must appear once,
 * directly after the first `<...>` behind the reply code, and S must be repeated in `from=<S>`
 * right after the login; a line where that is not so cannot be read safely and is unrecognised.
 */
function parseReject(b: Base & { pid: string; service: string }, s: string, r: number): Result {
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
  return event({ type: 'sender-rejected', ...b, ...(c.ip ? { clientIp: c.ip } : {}), login, from, to, warnOnly });
}

export function parseQueueMessage(daemon: string, b: Base, s: string, m: number): Result {
  const q = queueIdLength(s, m);
  if (q === 0) return IGNORED;
  const qid = s.slice(m, m + q);
  const body = m + q + 2;
  if (daemon === 'qmgr') {
    if (s.startsWith('removed', body)) return event({ type: 'removed', ...b, qid });
    if (!s.startsWith('from=', body)) return IGNORED;
    // The sender is attacker-written: the real ` size=, nrcpt=` tail is the last one.
    const tail = s.lastIndexOf(', size=');
    if (tail < 0) return IGNORED;
    const nr = s.indexOf(', nrcpt=', tail);
    if (nr < 0) return IGNORED;
    let from = s.slice(body + 5, tail);
    if (from.charCodeAt(0) === 60 && from.charCodeAt(from.length - 1) === 62) from = from.slice(1, -1);
    const size = Number(s.slice(tail + 7, nr));
    let j = nr + 8;
    while (j < s.length && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) j++;
    // The real tail ends the line; one inside the sender (e.g. of a `status=expired` line) does not.
    if (j < s.length && s.slice(j) !== ' (queue active)') return IGNORED;
    const nrcpt = Number(s.slice(nr + 8, j));
    if (!Number.isFinite(size) || !Number.isFinite(nrcpt) || j === nr + 8) return UNRECOGNISED;
    return event({ type: 'queued', ...b, qid, from, size, nrcpt });
  }
  if (daemon === 'cleanup') {
    if (s.startsWith('message-id=', body)) {
      let id = s.slice(body + 11);
      if (id.charCodeAt(0) === 60 && id.charCodeAt(id.length - 1) === 62) id = id.slice(1, -1);
      return event({ type: 'message-id', ...b, qid, messageId: id });
    }
    if (s.startsWith('info: header From: ', body) || s.startsWith('warning: header From: ', body)) {
      const valStart = s.indexOf('From: ', body) + 6;
      // Postfix appends ` from HOST[IP]; from=<...> ...`: cut at the last such tail.
      const tail = s.lastIndexOf('; from=<');
      const cut = tail < 0 ? s.length : s.lastIndexOf(' from ', tail);
      return event({ type: 'header-from', ...b, qid, headerFrom: s.slice(valStart, cut < valStart ? s.length : cut) });
    }
    return IGNORED;
  }
  if (DELIVERY_AGENTS.has(daemon)) {
    if (!s.startsWith('to=', body)) return IGNORED;
    // `to=<R>(, orig_to=<O>)?, relay=...` R and O are the sender's text, the reply after
    // `status=` is the remote's, and only what lies between is Postfix's own. A second
    // `, relay=` means someone wrote one into an address or reply: such a line cannot be
    // split safely (R could carry a fake relay, status and `queued as`), so it is not read.
    const relayAt = s.indexOf(', relay=', body);
    if (relayAt < 0) return UNRECOGNISED;
    if (s.indexOf(', relay=', relayAt + 8) >= 0) return UNRECOGNISED;
    const orig = s.indexOf(', orig_to=', body);
    const to = stripAngles(s.slice(body + 3, orig >= 0 && orig < relayAt ? orig : relayAt));
    const relayEnd = s.indexOf(', ', relayAt + 8);
    const relay = s.slice(relayAt + 8, relayEnd < 0 ? s.length : relayEnd);
    const st = s.indexOf(', status=', relayAt);
    if (st < 0) return UNRECOGNISED;
    let k = st + 9;
    while (k < s.length && s.charCodeAt(k) !== 32 && s.charCodeAt(k) !== 44) k++;
    const status = s.slice(st + 9, k);
    const qa = s.lastIndexOf('queued as ');
    let queuedAs: string | undefined;
    if (qa > k) {
      let e = qa + 10;
      while (e < s.length && isQidChar(s.charCodeAt(e))) e++;
      if (e - (qa + 10) >= 5) queuedAs = s.slice(qa + 10, e);
    }
    return event({ type: 'delivery', ...b, qid, to, status, relay, ...(queuedAs ? { queuedAs } : {}) });
  }
  return IGNORED;
}

export function createPostfixLineParser(ctx: ParseContext): (line: LogLine) => Result {
  const stamps = new StampParser(ctx.timezone, ctx.referenceTime);
  return (line) => {
    const s = line.text;
    const env = parseEnvelope(s, stamps);
    if (!env) return UNRECOGNISED;
    const tag = splitTag(env.tag);
    // Other programs share the file (amavis, dovecot, opendkim): understood, not ours.
    if (!tag) return IGNORED;
    const b = { at: env.at, host: env.host };
    if (tag.daemon === 'smtpd') return parseSmtpdMessage({ ...b, pid: env.pid, service: tag.service }, s, env.msgStart);
    return parseQueueMessage(tag.daemon, b, s, env.msgStart);
  };
}

/** Share of sample lines that are syslog lines from a postfix program. */
export function detectPostfix(sample: readonly string[]): number {
  // Detection only looks at the envelope's shape: the reference time does not matter.
  const stamps = new StampParser('UTC', 0);
  let lines = 0;
  let syslog = 0;
  let ours = 0;
  for (const text of sample) {
    if (text === '' || text.startsWith('#')) continue;
    lines++;
    const env = parseEnvelope(text, stamps);
    if (!env) continue;
    syslog++;
    if (splitTag(env.tag)) ours++;
  }
  if (ours === 0 || lines === 0) return 0;
  // Mixed syslog files are normal; a single postfix line among syslog lines is a good sign.
  return Math.min(1, 0.5 + 0.5 * (ours / lines) + 0.2 * (syslog / lines));
}

export const postfix = defineParser<PostfixEvent>({
  name: 'postfix',
  description: 'Postfix via syslog (RFC 3164 or RFC 3339 stamps), several hosts and instances per file',
  detect: detectPostfix,
  createLineParser: createPostfixLineParser,
  createCorrelator: createPostfixCorrelator,
});
