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
import type { AuthFailure, Delivery, DeliveryStatus, Evidence, LogLine, Submission } from '../core/types.js';
import { replyCode, type MtaConnection, type MtaEvent, type MtaHeader, type MtaMessage } from '../parsers/mta-fields.js';
import type { CorrelateContext, Correlator, RecordSink } from '../parsers/types.js';

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
  const known = new Map<string, Known>();
  const sessions = new Map<string, Session>();
  let now = 0;
  let swept = 0;
  let pending: PendingHeaders | undefined;
  let last: { key: string; stamp: string } | undefined;
  if (isSnapshot(saved)) {
    for (const m of saved.open) open.set(m.key, m);
    for (const [k, v] of saved.known) known.set(k, v);
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
    const s: Submission = {
      kind: 'submission', at: m.at, account: m.account, login: m.login,
      ...(m.envelopeFrom !== '' ? { envelopeFrom: m.envelopeFrom } : {}),
      ...(m.headerFrom !== undefined ? { headerFrom: m.headerFrom } : {}),
      recipients: m.recipients.slice(), recipientCount: m.recipientCount,
      ...(m.clientIp !== undefined ? { clientIp: m.clientIp } : {}),
      service: m.service,
      ...(m.host !== undefined ? { host: m.host } : {}),
      ...(m.messageId !== undefined ? { messageId: m.messageId } : {}),
      ...(m.subject !== undefined ? { subject: m.subject } : {}),
      ...(m.size !== undefined ? { size: m.size } : {}),
      evidence: m.evidence.slice(),
    };
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

  const remember = (key: string, account: string, at: number): void => {
    known.set(key, { account, at });
    trim(known, MAX_KNOWN);
  };

  /** Age is checked on lookup, so pruning never changes an answer (a split log gives the same records). */
  const accountFor = (key: string): string | undefined => {
    const k = known.get(key);
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

  const sameMessage = (m: OpenMessage, e: MtaMessage): boolean => {
    if (m.pairs.includes(`${e.origTo}\0${e.to}`)) return false;
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
    let m = open.get(key);
    // Sweeps run once a second: a message already due is complete whether swept or not.
    if (m !== undefined && (e.at - m.lastAt > QUIET_MS || !sameMessage(m, e))) {
      complete(m);
      m = undefined;
    }
    if (m === undefined) {
      m = {
        key, at: e.at, lastAt: e.at, login, account, envelopeFrom: e.from, pairs: [], files: [], recipients: [],
        recipientCount: 0, service: e.srcChannel, evidence: [],
        ...(e.node !== undefined ? { host: e.node } : {}),
        ...(e.messageId !== undefined ? { messageId: e.messageId } : {}),
      };
    }
    open.delete(key);
    open.set(key, m);
    m.lastAt = Math.max(m.lastAt, e.at);
    if (m.pairs.length < MAX_RECIPIENTS) m.pairs.push(`${e.origTo}\0${e.to}`);
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
    if (e.messageId !== undefined) remember(`m:${e.messageId}`, account, e.at);
    if (e.filename !== undefined) remember(`f:${e.filename}`, account, e.at);
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
    if (e.messageId !== undefined) account = accountFor(`m:${e.messageId}`);
    if (account === undefined && e.filename !== undefined) account = accountFor(`f:${e.filename}`);
    if (account === undefined && e.action === 'J') {
      // A refused enqueue is the submitter's own record; a dequeue's username is the MTA's.
      const login = loginFor(e);
      if (login !== undefined) account = normaliseAccount(login, ctx.defaultDomain);
    }
    const recipient = recipientOf(e);
    const d: Delivery = {
      kind: 'delivery', at: e.at, recipient, status,
      ...(account !== undefined ? { account } : {}),
      ...(e.node !== undefined ? { host: e.node } : {}),
      evidence: [evidenceOf(line)],
    };
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
    const s: Session = sessions.get(c.process) ?? { at: c.at };
    s.at = c.at;
    if (c.remoteIp !== undefined) s.ip ??= c.remoteIp;
    if (c.action === 'U' && c.auth === 'success' && c.login !== undefined) s.login = c.login;
    sessions.set(c.process, s);
    trim(sessions, MAX_SESSIONS);
  };

  const onConnection = (c: MtaConnection, line: LogLine): void => {
    stats.connections++;
    trackSession(c);
    if (c.action !== 'U' || c.auth === undefined) return;
    const base = {
      at: c.at, service: c.channel, evidence: [evidenceOf(line)],
      ...(c.remoteIp !== undefined ? { clientIp: c.remoteIp } : {}),
      ...(c.node !== undefined ? { host: c.node } : {}),
    };
    if (c.auth === 'success') {
      if (c.login === undefined) return;
      sink({ kind: 'auth-success', ...base, login: c.login, account: normaliseAccount(c.login, ctx.defaultDomain) });
      return;
    }
    const mechanism = mechanismOf(c.diagnostic);
    const reason = c.message ?? c.diagnostic;
    const f: AuthFailure = {
      kind: 'auth-failure', ...base,
      ...(c.login !== undefined ? { login: c.login, account: normaliseAccount(c.login, ctx.defaultDomain) } : {}),
      ...(mechanism !== undefined ? { mechanism } : {}),
      ...(reason !== undefined ? { reason } : {}),
    };
    sink(f);
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
        v: 1, now, swept, open: [...open.values()], known: [...known], sessions: [...sessions],
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
