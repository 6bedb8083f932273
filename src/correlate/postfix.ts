/**
 * Joins Postfix's per-line events into one Submission per authenticated message.
 *
 * A message is known by host + queue id. Only queue ids that began with an
 * authenticated `client=` line (or that a content filter re-queued from one) are
 * tracked at all, so the inbound majority of a busy server costs one map miss.
 * The Submission is emitted once the first delivery round is done (every recipient
 * has a delivery line), at `removed`, or `emitAfterMs` after qmgr took it, so the
 * recipients are known without holding the record back for a retry schedule.
 * A content filter's re-injection (`queued as X` from a loopback relay) is followed:
 * the child is never a new submission, and its deliveries belong to the parent's account.
 */
import { normaliseAccount } from '../core/address.js';
import type { AuthFailure, Delivery, DeliveryStatus, Evidence, LogLine, Submission } from '../core/types.js';
import type { PostfixEvent } from '../parsers/postfix.js';
import type { CorrelateContext, Correlator, RecordSink } from '../parsers/types.js';

const MAX_EVIDENCE = 20;
const MAX_RECIPIENTS = 1000;
const MAX_TRACKED = 200_000;
const MAX_SESSIONS = 50_000;
/** Postfix's smtpd allows a few AUTH attempts per session; more in one line is not a real count. */
const MAX_SILENT_PER_SESSION = 100;
/** Presence-filter slots (see HostKeyedMap): open messages are usually a few thousand, sessions fewer. */
const MESSAGE_FILTER_SLOTS = 1 << 16;
const SESSION_FILTER_SLOTS = 1 << 14;

interface OpenMessage {
  account: string;
  login: string;
  at: number;
  host: string;
  service: string;
  clientIp?: string;
  messageId?: string;
  headerFrom?: string;
  envelopeFrom?: string;
  size?: number;
  nrcpt?: number;
  queuedAt?: number;
  recipients: string[];
  delivered: number;
  evidence: Evidence[];
  emitted: boolean;
  /** true for a content filter's re-injected copy: deliveries only. */
  child: boolean;
  lastAt: number;
}

interface Session {
  /** AUTH attempts this session that a warning line already accounted for. */
  warned: number;
  rejected: string[];
  /** saslauthd was unreachable: the next `authentication failed` line is the server's trouble. */
  backendDown?: boolean;
}

interface Snapshot {
  v: 1;
  messages: [string, OpenMessage][];
  sessions: [string, Session][];
  now: number;
  /** When the last sweep ran, so a resumed run sweeps at the same moments as one pass would. */
  lastSweep?: number;
}

/**
 * A record being built field by field in the order it is serialised, optional fields only
 * when set: object spreads of optional fields cost a runtime call each.
 */
type Building<T> = { -readonly [K in keyof T]?: T[K] };

const FINAL_STATUS: Readonly<Record<string, DeliveryStatus>> = {
  sent: 'sent', bounced: 'bounced', deferred: 'deferred', expired: 'expired', undeliverable: 'bounced',
};

function isLoopbackRelay(relay: string): boolean {
  const open = relay.indexOf('[');
  const addr = open < 0 ? relay : relay.slice(open + 1, relay.indexOf(']', open));
  return addr.startsWith('127.') || addr === '::1' || addr === 'localhost' || relay.startsWith('localhost');
}

/** FNV-1a step over s[start, end) from `h`; callers mask the result. */
function hashOf(h0: number, s: string, start: number, end: number): number {
  let h = h0;
  for (let i = start; i < end; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

const FNV_BASIS = 0x811c9dc5;
const SPACE = 32;

/**
 * A map keyed `HOST REST` (REST a queue id or a pid) that can tell, without building a
 * key, that a line's host and REST are no key: the common answer for a busy server's
 * lines. A count per hash slot of the keys held answers that with one array read; the
 * key last put in a slot is compared in place, so a hit hands out the key string held
 * (its hash already computed), not a new one.
 */
class HostKeyedMap<V> extends Map<string, V> {
  private readonly filter: Int32Array;
  private readonly slotKeys: (string | undefined)[];
  private readonly mask: number;

  /** `slots`: a power of two; more slots than keys keeps most misses a single read. */
  constructor(slots: number) {
    super();
    this.filter = new Int32Array(slots);
    this.slotKeys = new Array<string | undefined>(slots).fill(undefined);
    this.mask = slots - 1;
  }

  override set(key: string, value: V): this {
    if (!super.has(key)) {
      const slot = this.slotOf(key);
      this.filter[slot] = (this.filter[slot] ?? 0) + 1;
      this.slotKeys[slot] = key;
    }
    return super.set(key, value);
  }

  override delete(key: string): boolean {
    const had = super.delete(key);
    if (had) {
      const slot = this.slotOf(key);
      this.filter[slot] = (this.filter[slot] ?? 0) - 1;
      if (this.slotKeys[slot] === key) this.slotKeys[slot] = undefined;
    }
    return had;
  }

  override clear(): void {
    super.clear();
    this.filter.fill(0);
    this.slotKeys.fill(undefined);
  }

  /** The key `${text[hostStart, hostEnd)} ${text[start, end)}` if it is held; it is only built when two keys share a slot. */
  keyAt(text: string, hostStart: number, hostEnd: number, start: number, end: number): string | undefined {
    // Sessions are mostly none at all: then not even the hash.
    if (this.size === 0) return undefined;
    const slot = hashOf(Math.imul(hashOf(FNV_BASIS, text, hostStart, hostEnd) ^ SPACE, 0x01000193), text, start, end) & this.mask;
    if (this.filter[slot] === 0) return undefined;
    const known = this.slotKeys[slot];
    if (known !== undefined && isKeyAt(known, text, hostStart, hostEnd, start, end)) return known;
    const key = `${text.slice(hostStart, hostEnd)} ${text.slice(start, end)}`;
    return super.has(key) ? key : undefined;
  }

  private slotOf(key: string): number {
    return hashOf(FNV_BASIS, key, 0, key.length) & this.mask;
  }
}

/** Whether `key` is `${text[hostStart, hostEnd)} ${text[start, end)}`. */
function isKeyAt(key: string, text: string, hostStart: number, hostEnd: number, start: number, end: number): boolean {
  const hostLength = hostEnd - hostStart;
  if (key.length !== hostLength + 1 + end - start || key.charCodeAt(hostLength) !== SPACE) return false;
  for (let i = 0; i < hostLength; i++) if (key.charCodeAt(i) !== text.charCodeAt(hostStart + i)) return false;
  for (let i = hostLength + 1, j = start; j < end; i++, j++) if (key.charCodeAt(i) !== text.charCodeAt(j)) return false;
  return true;
}

function isSnapshot(x: unknown): x is Snapshot {
  return typeof x === 'object' && x !== null && (x as { v?: unknown }).v === 1;
}

/**
 * What the correlator tells the line parser in a scan, so that lines it would not act
 * on are not cut into events: see PostfixLineParser.
 */
export interface PostfixInterest {
  /**
   * Whether events of the queue id `text[start, end)` of host `text[hostStart, hostEnd)` would
   * change anything, that is it names an open message: then that message's key, for `push`.
   */
  message(text: string, hostStart: number, hostEnd: number, start: number, end: number): string | undefined;
  /** Whether the smtpd process of pid `text[start, end)` on that host has session state (AUTH warnings, rejects) to end. */
  session(text: string, hostStart: number, hostEnd: number, start: number, end: number): boolean;
  /** A line whose event was not wanted: time moves on all the same. */
  advance(at: number): void;
}

/** The correlator of a scan: `push` also takes the key its `message` answer gave for the line. */
export interface PostfixCorrelator extends Correlator<PostfixEvent>, PostfixInterest {
  push(event: PostfixEvent, line: LogLine, found?: string): void;
}

export interface PostfixCorrelatorOptions {
  /** How long after qmgr a message waits for its first delivery round before it is counted anyway. */
  readonly emitAfterMs?: number;
}

export function createPostfixCorrelator(
  ctx: CorrelateContext, sink: RecordSink, saved?: unknown, opts: PostfixCorrelatorOptions = {},
): PostfixCorrelator {
  const emitAfterMs = opts.emitAfterMs ?? 10 * 60_000;
  const messages = new HostKeyedMap<OpenMessage>(MESSAGE_FILTER_SLOTS);
  const sessions = new HostKeyedMap<Session>(SESSION_FILTER_SLOTS);
  let now = 0;
  let lastSweep = 0;
  if (isSnapshot(saved)) {
    for (const [k, m] of saved.messages) messages.set(k, m);
    for (const [k, s] of saved.sessions) sessions.set(k, s);
    now = saved.now;
    lastSweep = saved.lastSweep ?? 0;
  }


  const addEvidence = (m: OpenMessage, line: LogLine): void => {
    if (m.evidence.length < MAX_EVIDENCE) m.evidence.push({ source: line.source, lineNo: line.lineNo, text: line.text });
  };

  const emit = (m: OpenMessage): void => {
    if (m.emitted || m.child || m.queuedAt === undefined) return;
    m.emitted = true;
    const r: Building<Submission> = { kind: 'submission', at: m.at, account: m.account, login: m.login };
    if (m.envelopeFrom !== undefined) r.envelopeFrom = m.envelopeFrom;
    if (m.headerFrom !== undefined) r.headerFrom = m.headerFrom;
    r.recipients = m.recipients.slice();
    r.recipientCount = Math.max(m.nrcpt ?? 0, m.recipients.length);
    if (m.clientIp !== undefined) r.clientIp = m.clientIp;
    r.service = m.service;
    r.host = m.host;
    if (m.messageId !== undefined) r.messageId = m.messageId;
    if (m.size !== undefined) r.size = m.size;
    r.evidence = m.evidence.slice();
    sink(r as Submission);
  };

  /** Time moves on: count messages whose delivery round is overdue, forget stale ones. */
  const sweep = (): void => {
    for (const [key, m] of messages) {
      if (!m.emitted && m.queuedAt !== undefined && now - m.queuedAt >= emitAfterMs) emit(m);
      if (now - m.lastAt > ctx.openTtlMs) messages.delete(key);
    }
    while (messages.size > MAX_TRACKED) {
      const first = messages.keys().next();
      if (first.done) break;
      const m = messages.get(first.value);
      if (m) emit(m);
      messages.delete(first.value);
    }
  };

  /** A queue id seen again belongs to a new message: count the old one if it was queued, then forget it. */
  const forget = (key: string): void => {
    const old = messages.get(key);
    if (old === undefined) return;
    emit(old);
    messages.delete(key);
  };

  const session = (key: string): Session => {
    let s = sessions.get(key);
    if (!s) {
      if (sessions.size >= MAX_SESSIONS) {
        const first = sessions.keys().next();
        if (!first.done) sessions.delete(first.value);
      }
      s = { warned: 0, rejected: [] };
      sessions.set(key, s);
    }
    return s;
  };

  const onDelivery = (e: Extract<PostfixEvent, { type: 'delivery' }>, m: OpenMessage, line: LogLine): void => {
    addEvidence(m, line);
    const childKey = e.queuedAs && isLoopbackRelay(e.relay) ? `${e.host} ${e.queuedAs}` : undefined;
    const existing = childKey === undefined ? undefined : messages.get(childKey);
    // `queued as` sits in the remote's reply text: never let it take over another account's open message.
    const requeued = childKey !== undefined && (existing === undefined || existing.child);
    if (requeued) {
      // The copy a content filter queued again: same message, same account.
      const child: OpenMessage = existing ?? {
        account: m.account, login: m.login, at: m.at, host: m.host, service: m.service,
        recipients: [], delivered: 0, evidence: [], emitted: true, child: true, lastAt: e.at,
      };
      child.child = true;
      child.account = m.account;
      child.login = m.login;
      messages.set(childKey, child);
    }
    if (!m.child && !m.recipients.includes(e.to) && m.recipients.length < MAX_RECIPIENTS) {
      m.recipients.push(e.to);
      m.delivered++;
    }
    // The submission (earlier in time) goes out before the delivery that completed it.
    if (!m.emitted && m.nrcpt !== undefined && m.delivered >= m.nrcpt) emit(m);
    // A hand-over to the content filter is no delivery: the copy's own lines will say where it went.
    const status = requeued ? undefined : FINAL_STATUS[e.status];
    if (status) {
      const d: Delivery = {
        kind: 'delivery', at: e.at, account: m.account, recipient: e.to, status, host: e.host,
        evidence: [{ source: line.source, lineNo: line.lineNo, text: line.text }],
      };
      sink(d);
    }
  };

  const advance = (at: number): void => {
    if (at > now) now = at;
    if (now - lastSweep >= 60_000) {
      lastSweep = now;
      sweep();
    }
  };

  /** `found`: the key `message` gave for this event's line, so it is not built and hashed again. */
  const push = (e: PostfixEvent, line: LogLine, found?: string): void => {
    advance(e.at);
    switch (e.type) {
      case 'client': {
        const key = found ?? `${e.host} ${e.qid}`;
        // Queue ids are reused: a new `client=` starts a new message, except for the content
        // filter's re-injected copy that its parent's `queued as` already announced.
        if (e.login === undefined) {
          if (messages.get(key)?.child === false) forget(key);
          return;
        }
        forget(key);
        const m: OpenMessage = {
          account: normaliseAccount(e.login, ctx.defaultDomain), login: e.login, at: e.at, host: e.host,
          service: e.service, recipients: [], delivered: 0, evidence: [], emitted: false, child: false, lastAt: e.at,
        };
        if (e.clientIp !== undefined) m.clientIp = e.clientIp;
        addEvidence(m, line);
        messages.set(key, m);
        return;
      }
      case 'connect':
        // A new session on this pid: whatever the last one left is stale. Sessions are only
        // created when there is something to remember, so state stays small.
        sessions.delete(`${e.host} ${e.pid}`);
        return;
      case 'auth-unavailable': {
        const s = session(`${e.host} ${e.pid}`);
        if (e.attempt) s.warned++;
        else s.backendDown = true;
        return;
      }
      case 'auth-failed': {
        const s = session(`${e.host} ${e.pid}`);
        s.warned++;
        if (s.backendDown) {
          delete s.backendDown;
          return;
        }
        const r: Building<AuthFailure> = {
          kind: 'auth-failure', at: e.at, mechanism: e.mechanism, service: e.service, reason: e.reason, host: e.host,
        };
        if (e.login !== undefined) {
          r.login = e.login;
          r.account = normaliseAccount(e.login, ctx.defaultDomain);
        }
        if (e.clientIp !== undefined) r.clientIp = e.clientIp;
        r.evidence = [{ source: line.source, lineNo: line.lineNo, text: line.text }];
        sink(r as AuthFailure);
        return;
      }
      case 'disconnect': {
        const key = `${e.host} ${e.pid}`;
        const s = sessions.get(key);
        sessions.delete(key);
        // AUTH refused before TLS, or abandoned: Postfix logs no warning, only these counters.
        // Bounded: one line never turns into more than a handful of records.
        const silent = Math.min(MAX_SILENT_PER_SESSION, e.authAttempts - e.authOk - (s?.warned ?? 0));
        for (let i = 0; i < silent; i++) {
          sink({
            kind: 'auth-failure', at: e.at, service: e.service, host: e.host,
            reason: `AUTH failed without a logged reason (auth=${e.authOk}/${e.authAttempts})`,
            ...(e.clientIp !== undefined ? { clientIp: e.clientIp } : {}),
            evidence: [{ source: line.source, lineNo: line.lineNo, text: line.text }],
          });
        }
        return;
      }
      case 'sender-rejected': {
        // One reject line per recipient: one record per sender per session.
        const s = session(`${e.host} ${e.pid}`);
        if (s.rejected.includes(e.from)) return;
        if (s.rejected.length < 100) s.rejected.push(e.from);
        sink({
          kind: 'sender-rejected', at: e.at, account: normaliseAccount(e.login, ctx.defaultDomain), login: e.login,
          envelopeFrom: e.from, host: e.host, ...(e.clientIp !== undefined ? { clientIp: e.clientIp } : {}),
          evidence: [{ source: line.source, lineNo: line.lineNo, text: line.text }],
        });
        return;
      }
      default:
        break;
    }
    const key = found ?? `${e.host} ${e.qid}`;
    const m = messages.get(key);
    if (!m) return;
    m.lastAt = e.at;
    switch (e.type) {
      case 'message-id':
        if (e.messageId !== '') m.messageId ??= e.messageId;
        if (!m.child) addEvidence(m, line);
        return;
      case 'header-from':
        m.headerFrom ??= e.headerFrom;
        addEvidence(m, line);
        return;
      case 'queued':
        if (m.child || m.queuedAt !== undefined) return;
        m.queuedAt = e.at;
        m.envelopeFrom = e.from;
        m.size = e.size;
        m.nrcpt = e.nrcpt;
        addEvidence(m, line);
        return;
      case 'delivery':
        onDelivery(e, m, line);
        return;
      case 'removed':
        emit(m);
        messages.delete(key);
        return;
    }
  };

  return {
    push,
    advance,
    message: (text, hostStart, hostEnd, start, end) => messages.keyAt(text, hostStart, hostEnd, start, end),
    session: (text, hostStart, hostEnd, start, end) => sessions.keyAt(text, hostStart, hostEnd, start, end) !== undefined,
    flush() {
      for (const m of messages.values()) emit(m);
      messages.clear();
      sessions.clear();
    },
    snapshot(): Snapshot {
      return { v: 1, messages: [...messages], sessions: [...sessions], now, lastSweep };
    },
  };
}
