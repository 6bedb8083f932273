/**
 * Joins Messaging Server transaction-log records into MailRecords.
 *
 * The MTA writes one `E` record per recipient (and per destination channel), so a
 * message is the run of `E` records with the same login, envelope From, process id
 * and message id; without a logged message id, records of one message are the ones
 * written within a second of each other. A message is complete once the log has moved
 * on 30 s past its last `E` record (or at flush), then it becomes one Submission.
 * Dequeue records become Deliveries at once, attributed through the message id or
 * queue file of the enqueue that named the account. `U` connection records are the
 * SMTP AUTH attempts. Only authenticated enqueues are tracked at all, so the inbound
 * majority of a busy server costs a few counters.
 */
import { normaliseAccount } from '../core/address.js';
import type { AuthFailure, AuthSuccess, Delivery, DeliveryStatus, Evidence, LogLine, Submission } from '../core/types.js';
import { replyCode, type MtaConnection, type MtaEvent, type MtaHeader, type MtaMessage } from '../parsers/mta-fields.js';
import type { CorrelateContext, Correlator, RecordSink } from '../parsers/types.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A message is complete when the log is this far past its last enqueue record. */
export const QUIET_MS = 30_000;
/** Open messages beyond this are completed oldest first (bounded memory under a flood). */
export const MAX_OPEN = 10_000;
const MAX_EVIDENCE = 20;
const MAX_RECIPIENTS = 1000;
const MAX_KNOWN = 100_000;
const MAX_SESSIONS = 20_000;
/** With no message id logged, enqueue records this close together belong to one message. */
const SAME_MESSAGE_MS = 1000;
/** An SMTP session outlives none of its records by more than this. */
const SESSION_TTL_MS = 3_600_000;
/** Open messages are checked for completion at most this often (event time): one map walk a second. */
const SWEEP_EVERY_MS = 1000;

interface OpenMessage {
  key: string;
  at: number;
  lastAt: number;
  login: string;
  account: string;
  envelopeFrom: string;
  headerFrom?: string;
  subject?: string;
  /** `origTo\0to` of its records: the same pair again is the next message, not this one. */
  pairs: string[];
  /** `dstChannel\0file`: one message has one queue file per destination channel. */
  files: string[];
  recipients: string[];
  recipientCount: number;
  clientIp?: string;
  service: string;
  host?: string;
  messageId?: string;
  size?: number;
  evidence: Evidence[];
}

/** Which account a message id or queue file belongs to, for the dequeue records that follow. */
interface Known {
  account: string;
  at: number;
}

/** Namespaces of the known index, by the prefix their keys carry in a snapshot. */
const MESSAGE_ID = 0;
const FILE = 1;
/** A snapshot key with neither prefix (no version writes one): kept whole, as it always was. */
const OTHER = 2;
const PREFIXES = ['m:', 'f:', ''] as const;

/**
 * Message ids and queue files to accounts. One map per namespace keyed by the value as
 * logged, so no `m:`/`f:` key is built per record; a log of the keys in the order they
 * were first remembered keeps the one order a single prefixed map had, which trimming
 * and snapshots follow. Every key in a map is in the log once: only trimming deletes,
 * and it takes the log's oldest.
 */
class KnownIndex {
  private readonly maps: readonly Map<string, Known>[] = [new Map(), new Map(), new Map()];
  private logNs: number[] = [];
  private logKeys: string[] = [];
  private head = 0;

  constructor(private readonly cap: number) {}

  get(ns: number, key: string): Known | undefined {
    return this.maps[ns]?.get(key);
  }

  set(ns: number, key: string, account: string, at: number): void {
    this.put(ns, key, { account, at });
    this.trim();
  }

  /** Remembers a snapshot's key, prefix and all; a snapshot is taken in whole, trimmed only by the next set. */
  restore(key: string, known: Known): void {
    const ns = key.startsWith('m:') ? MESSAGE_ID : key.startsWith('f:') ? FILE : OTHER;
    this.put(ns, ns === OTHER ? key : key.slice(2), known);
  }

  /** All keys with their prefixes, oldest first. */
  entries(): [string, Known][] {
    const out: [string, Known][] = [];
    for (let i = this.head; i < this.logKeys.length; i++) {
      const ns = this.logNs[i] ?? OTHER;
      const key = this.logKeys[i] ?? '';
      const k = this.maps[ns]?.get(key);
      if (k !== undefined) out.push([`${PREFIXES[ns] ?? ''}${key}`, k]);
    }
    return out;
  }

  /** A key seen again keeps its place, as Map#set leaves it; a new one goes to the end of the log. */
  private put(ns: number, key: string, known: Known): void {
    const map = this.maps[ns];
    if (map === undefined) return;
    const size = map.size;
    map.set(key, known);
    if (map.size !== size) {
      this.logNs.push(ns);
      this.logKeys.push(key);
    }
  }

  /** Drops the oldest tenth of the keys once past the cap: one walk, not one per insert. */
  private trim(): void {
    const size = this.logKeys.length - this.head;
    if (size <= this.cap) return;
    for (let drop = size - Math.floor(this.cap * 0.9); drop > 0; drop--) {
      this.maps[this.logNs[this.head] ?? OTHER]?.delete(this.logKeys[this.head] ?? '');
      this.head++;
    }
    this.logNs = this.logNs.slice(this.head);
    this.logKeys = this.logKeys.slice(this.head);
    this.head = 0;
  }
}

/** What the connection records said about one SMTP session (LOG_PROCESS id). */
interface Session {
  at: number;
  ip?: string;
  login?: string;
}

interface PendingHeaders {
  stamp: string;
  from?: string;
  subject?: string;
}

interface Snapshot {
  v: 1;
  now: number;
  swept: number;
  open: OpenMessage[];
  known: [string, Known][];
  sessions: [string, Session][];
  pending?: PendingHeaders;
  last?: { key: string; stamp: string };
}

interface Stats {
  enqueues: number;
  withUsername: number;
  withIp: number;
  withId: number;
  authNoUser: number;
  connections: number;
  submissions: number;
  submissionsNoIp: number;
}

function isSnapshot(x: unknown): x is Snapshot {
  if (typeof x !== 'object' || x === null) return false;
  const s = x as Partial<Snapshot>;
  return s.v === 1 && typeof s.now === 'number' && typeof s.swept === 'number' && Array.isArray(s.open) && Array.isArray(s.known) && Array.isArray(s.sessions);
}

const evidenceOf = (line: LogLine): Evidence => ({ source: line.source, lineNo: line.lineNo, text: line.text });

/** The recipient the sender addressed: the original envelope To, else the current one. */
const recipientOf = (e: MtaMessage): string => e.origTo || e.to;

const MECHANISMS = ['PLAIN', 'LOGIN', 'CRAM-MD5', 'DIGEST-MD5', 'GSSAPI', 'XOAUTH2', 'OAUTHBEARER', 'SCRAM-SHA-1', 'SCRAM-SHA-256'];

/** `235 2.7.0 LOGIN authentication successful.` -> `LOGIN`. */
function mechanismOf(diag: string | undefined): string | undefined {
  const word = diag?.split(' ', 3)[2];
  return word !== undefined && MECHANISMS.includes(word.toUpperCase()) ? word.toUpperCase() : undefined;
}

/** What a non-enqueue message record says about its recipient; undefined = nothing a rule counts. */
export function deliveryStatus(e: MtaMessage): DeliveryStatus | undefined {
  const permanent = replyCode(e.diagnostic).startsWith('5');
  switch (e.action) {
    case 'D':
    case 'Z':
      return permanent ? 'bounced' : 'sent';
    case 'R':
      return 'bounced';
    case 'K': {
      // K: returned without a bounce: timed out with NOTIFY=NEVER, or deleted by hand.
      const text = `${e.reason ?? ''} ${e.diagnostic ?? ''}`.toLowerCase();
      return text.includes('timed out') || text.includes('expired') ? 'expired' : 'failed';
    }
    case 'Q':
      return 'deferred';
    case 'J':
      return 'failed';
    default:
      return undefined;
  }
}

export function createMtaCorrelator(ctx: CorrelateContext, sink: RecordSink, saved?: unknown): Correlator<MtaEvent> {
  const open = new Map<string, OpenMessage>();
  const known = new KnownIndex(MAX_KNOWN);
  const sessions = new Map<string, Session>();
  let now = 0;
  let swept = 0;
  let pending: PendingHeaders | undefined;
  let last: { key: string; stamp: string } | undefined;
  if (isSnapshot(saved)) {
    for (const m of saved.open) open.set(m.key, m);
    for (const [k, v] of saved.known) known.restore(k, v);
    for (const [k, v] of saved.sessions) sessions.set(k, v);
    now = saved.now;
    swept = saved.swept;
    pending = saved.pending;
    last = saved.last;
  }
  const stats: Stats = {
    enqueues: 0, withUsername: 0, withIp: 0, withId: 0, authNoUser: 0, connections: 0, submissions: 0, submissionsNoIp: 0,
  };

  const complete = (m: OpenMessage): void => {
    open.delete(m.key);
    stats.submissions++;
    if (m.clientIp === undefined) stats.submissionsNoIp++;
    // Built by assignment in the key order records have always had (they are compared
    // as serialised); the arrays are handed over, as a completed message is not touched again.
    const s = { kind: 'submission', at: m.at, account: m.account, login: m.login } as Mutable<Submission>;
    if (m.envelopeFrom !== '') s.envelopeFrom = m.envelopeFrom;
    if (m.headerFrom !== undefined) s.headerFrom = m.headerFrom;
    s.recipients = m.recipients;
    s.recipientCount = m.recipientCount;
    if (m.clientIp !== undefined) s.clientIp = m.clientIp;
    s.service = m.service;
    if (m.host !== undefined) s.host = m.host;
    if (m.messageId !== undefined) s.messageId = m.messageId;
    if (m.subject !== undefined) s.subject = m.subject;
    if (m.size !== undefined) s.size = m.size;
    s.evidence = m.evidence;
    sink(s);
  };

  /** Completes messages the log has moved 30 s past; the map is kept in last-touched order. */
  const expire = (): void => {
    if (now - swept < SWEEP_EVERY_MS) return;
    swept = now;
    for (const m of open.values()) {
      if (now - m.lastAt <= QUIET_MS) break;
      complete(m);
    }
  };

  /** Drops the oldest tenth of a map grown past its cap: one walk, not one per insert. */
  const trim = <V>(map: Map<string, V>, cap: number): void => {
    if (map.size <= cap) return;
    let drop = map.size - Math.floor(cap * 0.9);
    for (const k of map.keys()) {
      if (drop-- <= 0) break;
      map.delete(k);
    }
  };

  /** Age is checked on lookup, so pruning never changes an answer (a split log gives the same records). */
  const accountFor = (ns: number, key: string): string | undefined => {
    const k = known.get(ns, key);
    return k !== undefined && now - k.at <= ctx.openTtlMs ? k.account : undefined;
  };

  const sessionFor = (process: string | undefined): Session | undefined => {
    if (process === undefined) return undefined;
    const s = sessions.get(process);
    return s !== undefined && now - s.at <= SESSION_TTL_MS ? s : undefined;
  };

  /** A `*login` on the record, else the login its SMTP session authenticated as (same LOG_PROCESS id). */
  const loginFor = (e: MtaMessage): string | undefined =>
    e.login ?? (e.modifiers.includes('A') ? sessionFor(e.process)?.login : undefined);

  /** Whether `e`, whose `origTo\0to` is `pair`, continues `m` rather than starting the next message. */
  const sameMessage = (m: OpenMessage, e: MtaMessage, pair: string): boolean => {
    if (m.pairs.includes(pair)) return false;
    if (e.filename !== undefined && e.dstChannel !== undefined) {
      const prefix = `${e.dstChannel}\0`;
      const file = m.files.find((f) => f.startsWith(prefix));
      if (file !== undefined && file !== prefix + e.filename) return false;
    }
    return e.messageId !== undefined || e.at - m.lastAt <= SAME_MESSAGE_MS;
  };

  const applyHeader = (m: OpenMessage, name: string, value: string): void => {
    if (name === 'from') m.headerFrom ??= value;
    else if (name === 'subject') m.subject ??= value;
  };

  const onEnqueue = (e: MtaMessage, line: LogLine): void => {
    stats.enqueues++;
    if (e.username !== undefined) stats.withUsername++;
    if (e.clientIp !== undefined) stats.withIp++;
    if (e.messageId !== undefined || e.filename !== undefined) stats.withId++;
    const login = loginFor(e);
    if (login === undefined) {
      if (e.modifiers.includes('A')) stats.authNoUser++;
      return;
    }
    const account = normaliseAccount(login, ctx.defaultDomain);
    const key = `${login}\0${e.from}\0${e.process ?? ''}\0${e.messageId ?? ''}`;
    const pair = `${e.origTo}\0${e.to}`;
    let m = open.get(key);
    // Sweeps run once a second: a message already due is complete whether swept or not.
    if (m !== undefined && (e.at - m.lastAt > QUIET_MS || !sameMessage(m, e, pair))) {
      complete(m);
      m = undefined;
    }
    if (m === undefined) {
      m = {
        key, at: e.at, lastAt: e.at, login, account, envelopeFrom: e.from, pairs: [], files: [], recipients: [],
        recipientCount: 0, service: e.srcChannel, evidence: [],
      };
      if (e.node !== undefined) m.host = e.node;
      if (e.messageId !== undefined) m.messageId = e.messageId;
    } else open.delete(key);
    // Re-inserted: the map is kept in last-touched order.
    open.set(key, m);
    m.lastAt = Math.max(m.lastAt, e.at);
    if (m.pairs.length < MAX_RECIPIENTS) m.pairs.push(pair);
    if (e.filename !== undefined && e.dstChannel !== undefined && m.files.length < MAX_RECIPIENTS) {
      const f = `${e.dstChannel}\0${e.filename}`;
      if (!m.files.includes(f)) m.files.push(f);
    }
    const rcpt = recipientOf(e);
    if (rcpt !== '' && !m.recipients.includes(rcpt)) {
      m.recipientCount++;
      if (m.recipients.length < MAX_RECIPIENTS) m.recipients.push(rcpt);
    }
    const ip = e.clientIp ?? sessionFor(e.process)?.ip;
    if (m.clientIp === undefined && ip !== undefined) m.clientIp = ip;
    if (e.size !== undefined && (m.size === undefined || e.size > m.size)) m.size = e.size;
    if (m.evidence.length < MAX_EVIDENCE) m.evidence.push(evidenceOf(line));
    if (e.messageId !== undefined) known.set(MESSAGE_ID, e.messageId, account, e.at);
    if (e.filename !== undefined) known.set(FILE, e.filename, account, e.at);
    if (pending?.stamp === e.stamp) {
      if (pending.from !== undefined) applyHeader(m, 'from', pending.from);
      if (pending.subject !== undefined) applyHeader(m, 'subject', pending.subject);
    }
    pending = undefined;
    last = { key, stamp: e.stamp };
    while (open.size > MAX_OPEN) {
      const oldest = open.values().next();
      if (oldest.done) break;
      complete(oldest.value);
    }
  };

  const onOtherMessage = (e: MtaMessage, line: LogLine): void => {
    const status = deliveryStatus(e);
    if (status === undefined) return;
    let account: string | undefined;
    if (e.messageId !== undefined) account = accountFor(MESSAGE_ID, e.messageId);
    if (account === undefined && e.filename !== undefined) account = accountFor(FILE, e.filename);
    if (account === undefined && e.action === 'J') {
      // A refused enqueue is the submitter's own record; a dequeue's username is the MTA's.
      const login = loginFor(e);
      if (login !== undefined) account = normaliseAccount(login, ctx.defaultDomain);
    }
    const d = { kind: 'delivery', at: e.at, recipient: recipientOf(e), status } as Mutable<Delivery>;
    if (account !== undefined) d.account = account;
    if (e.node !== undefined) d.host = e.node;
    d.evidence = [evidenceOf(line)];
    sink(d);
  };

  /** LOG_HEADER lines carry only a stamp: they belong to the enqueue written at the same instant. */
  const onHeader = (h: MtaHeader): void => {
    const m = last?.stamp === h.stamp ? open.get(last.key) : undefined;
    if (m !== undefined) {
      applyHeader(m, h.name, h.value);
      return;
    }
    if (pending?.stamp !== h.stamp) pending = { stamp: h.stamp };
    if (h.name === 'from') pending.from ??= h.value;
    else if (h.name === 'subject') pending.subject ??= h.value;
  };

  const trackSession = (c: MtaConnection): void => {
    if (c.process === undefined || c.direction !== '+') return;
    if (c.action === 'C') {
      sessions.delete(c.process);
      return;
    }
    let s = sessions.get(c.process);
    if (s === undefined) {
      s = { at: c.at };
      sessions.set(c.process, s);
    }
    s.at = c.at;
    if (c.remoteIp !== undefined) s.ip ??= c.remoteIp;
    if (c.action === 'U' && c.auth === 'success' && c.login !== undefined) s.login = c.login;
    trim(sessions, MAX_SESSIONS);
  };

  const onConnection = (c: MtaConnection, line: LogLine): void => {
    stats.connections++;
    trackSession(c);
    if (c.action !== 'U' || c.auth === undefined) return;
    if (c.auth === 'success' && c.login === undefined) return;
    // Keys in the order records have always had: kind, at, service, evidence, clientIp, host, then the rest.
    const r = { kind: c.auth === 'success' ? 'auth-success' : 'auth-failure', at: c.at, service: c.channel, evidence: [evidenceOf(line)] } as
      Mutable<AuthSuccess> | Mutable<AuthFailure>;
    if (c.remoteIp !== undefined) r.clientIp = c.remoteIp;
    if (c.node !== undefined) r.host = c.node;
    if (c.login !== undefined) {
      r.login = c.login;
      r.account = normaliseAccount(c.login, ctx.defaultDomain);
    }
    if (r.kind === 'auth-failure') {
      const mechanism = mechanismOf(c.diagnostic);
      const reason = c.message ?? c.diagnostic;
      if (mechanism !== undefined) r.mechanism = mechanism;
      if (reason !== undefined) r.reason = reason;
    }
    sink(r);
  };

  return {
    push(e, line) {
      if (e.at > now) now = e.at;
      expire();
      if (e.type === 'header') onHeader(e);
      else if (e.type === 'connection') onConnection(e, line);
      else if (e.action === 'E') onEnqueue(e, line);
      else onOtherMessage(e, line);
    },
    flush() {
      for (const m of [...open.values()]) complete(m);
      pending = undefined;
      last = undefined;
    },
    snapshot(): Snapshot {
      return {
        v: 1, now, swept, open: [...open.values()], known: known.entries(), sessions: [...sessions],
        ...(pending !== undefined ? { pending } : {}),
        ...(last !== undefined ? { last } : {}),
      };
    },
    diagnostics() {
      return diagnose(stats);
    },
  };
}

/** One line per blind spot, naming the option that cures it. */
export function diagnose(s: Stats): string[] {
  const notes: string[] = [];
  if (s.authNoUser > 0) {
    notes.push(`${s.authNoUser} authenticated enqueue record(s) (A modifier) without a username: their messages count for no account; set LOG_USERNAME=1`);
  } else if (s.enqueues > 0 && s.withUsername === 0) {
    notes.push(`none of ${s.enqueues} enqueue records has a username field: no message can be tied to an account; set LOG_USERNAME=1`);
  }
  if (s.enqueues > 0 && s.withIp === 0) {
    notes.push(`none of ${s.enqueues} enqueue records names the client ([ip] source system): foreign-sender-host is blind; set LOG_CONNECTION=1 (or any value with bit 0)`);
  } else if (s.submissionsNoIp > 0) {
    notes.push(`${s.submissionsNoIp} of ${s.submissions} submissions have no client IP: foreign-sender-host cannot judge them; set LOG_CONNECTION bit 0`);
  }
  if (s.enqueues > 0 && s.withId === 0) {
    notes.push('enqueue records carry no message id or queue file name: recipients are grouped by sender and time, so messages sent within a second may count as one; set LOG_MESSAGE_ID=1');
  }
  if (s.enqueues > 0 && s.connections === 0) {
    notes.push('no connection records (O/C/U): SMTP AUTH failures and successes are invisible; enable connection and authentication entries with LOG_CONNECTION (and scan connection.log* too when SEPARATE_CONNECTION_LOG=1)');
  }
  return notes;
}
