/**
 * Joins Kerio's per-recipient `Recv:` lines into one Submission per authenticated
 * message, and attributes `Sent:` lines to the account that submitted the message.
 *
 * Kerio writes the Recv lines of a message as it queues it, within a second (no public
 * multi-recipient sample shows it; the Queue-ID time always matches), so a message is
 * complete once any later event is more than 30 s (`quietMs`) past its last Recv line. Its Sent lines seen before then are held and emitted after the
 * Submission, so records leave in cause-and-effect order. After completion the
 * Queue-ID -> account link is kept for a while (bounded in time and count):
 * deferred retries and bounces arrive minutes or days later.
 *
 * Only authenticated messages are tracked; inbound mail costs one branch.
 */
import { z } from 'zod';
import { normaliseAccount } from '../core/address.js';
import type { AuthFailure, Delivery, DeliveryStatus, LogLine, Submission } from '../core/types.js';
import type { KerioAuthFailure, KerioEvent, KerioRecv, KerioResult, KerioSent } from '../parsers/kerio.js';
import type { CorrelateContext, Correlator, RecordSink } from '../parsers/types.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export interface KerioLimits {
  /** A message is complete when an event is this much later than its last Recv line. */
  readonly quietMs: number;
  /** Open messages kept at most; beyond, the oldest is completed early. */
  readonly maxOpen: number;
  /** Completed Queue-IDs remembered for attributing later Sent lines. */
  readonly maxRemembered: number;
  /** Remembered at least this long after their last Recv line: deferred mail is retried, and bounces, days later. */
  readonly minRememberMs: number;
  readonly maxEvidence: number;
}

export const KERIO_LIMITS: KerioLimits = {
  quietMs: 30_000,
  maxOpen: 10_000,
  maxRemembered: 20_000,
  minRememberMs: 7 * 24 * 3600_000,
  maxEvidence: 20,
};

const STATUS: Readonly<Record<KerioResult, DeliveryStatus>> = {
  delivered: 'sent', relayed: 'sent', deferred: 'deferred', failed: 'failed',
};

interface OpenMessage {
  readonly queueId: string;
  readonly at: number;
  lastAt: number;
  readonly login: string;
  readonly account: string;
  readonly service: string;
  readonly from: string;
  readonly recipients: string[];
  /** `recipients` as a set once they are too many to search; not part of the snapshot. */
  seen: Set<string> | undefined;
  readonly clientIp: string | null;
  readonly messageId: string | null;
  readonly subject: string;
  readonly size: number;
  readonly evidence: LogLine[];
  /** Delivery records of this message waiting for its Submission to go first. */
  readonly held: Delivery[];
}

interface Remembered {
  readonly queueId: string;
  readonly account: string;
  /** Last Recv line of the message: the memory runs from there. */
  readonly lastAt: number;
}

// The snapshot is read back from a state file another version may have written: validate it.
const lineSchema = z.object({ source: z.string(), lineNo: z.number(), text: z.string() });
const deliverySchema = z.object({
  kind: z.literal('delivery'),
  at: z.number(),
  account: z.string().optional(),
  recipient: z.string(),
  status: z.enum(['sent', 'bounced', 'deferred', 'failed', 'expired']),
  host: z.string().optional(),
  evidence: z.array(lineSchema),
});
const openSchema = z.object({
  queueId: z.string(),
  at: z.number(),
  lastAt: z.number(),
  login: z.string(),
  account: z.string(),
  service: z.string(),
  from: z.string(),
  recipients: z.array(z.string()),
  clientIp: z.string().nullable(),
  messageId: z.string().nullable(),
  subject: z.string(),
  size: z.number(),
  evidence: z.array(lineSchema),
  held: z.array(deliverySchema),
});
const snapshotSchema = z.object({
  v: z.literal(1),
  open: z.array(openSchema),
  remembered: z.array(z.tuple([z.string(), z.string(), z.number()])),
});

export type KerioSnapshot = z.infer<typeof snapshotSchema>;

/** `Service: DSN` messages are the server's own bounce notices, never an account's sending. */
function isServerGenerated(service: string): boolean {
  return service === 'DSN';
}

/**
 * What the correlator tells the line parser in a scan, so that lines it would not act
 * on are not cut into events: see KerioLineParser.
 */
export interface KerioInterest {
  /** Whether a Recv line with this service and login (null: unauthenticated) is tracked. */
  recv(service: string, user: string | null): boolean;
  /**
   * Whether a Sent line of this Queue-ID at `at` is attributed: an open or remembered
   * message. Time moves on to `at` first, as pushing the line would do.
   */
  sent(queueId: string, at: number): boolean;
  /** A line whose event was not wanted: time moves on all the same. */
  advance(at: number): void;
}

function copyLine(line: LogLine): LogLine {
  return { source: line.source, lineNo: line.lineNo, text: line.text };
}

function openMessage(e: KerioRecv, login: string, line: LogLine, defaultDomain: string | undefined): OpenMessage {
  return {
    queueId: e.queueId, at: e.at, lastAt: e.at, login, account: normaliseAccount(login, defaultDomain),
    service: e.service, from: e.from, recipients: [e.to], seen: undefined, clientIp: e.clientIp,
    messageId: e.messageId, subject: e.subject, size: e.size, evidence: [copyLine(line)], held: [],
  };
}

/** Recipients searched in their list up to this many; a message with more gets a set. */
const MAX_SCANNED_RECIPIENTS = 16;

/** Adds `to` to the message's recipients unless it is there already. */
function addRecipient(m: OpenMessage, to: string): void {
  if (m.seen === undefined) {
    if (m.recipients.includes(to)) return;
    m.recipients.push(to);
    if (m.recipients.length > MAX_SCANNED_RECIPIENTS) m.seen = new Set(m.recipients);
  } else if (!m.seen.has(to)) {
    m.seen.add(to);
    m.recipients.push(to);
  }
}

/**
 * The record of a completed message, built by assignment in the key order records have
 * always had (they are compared as serialised): cheaper than spreading optional keys.
 * The message's arrays are handed over, since a completed message is never changed again.
 */
function submissionOf(m: OpenMessage): Submission {
  // Filled in below, before anyone sees it.
  const s = { kind: 'submission', at: m.at, account: m.account, login: m.login } as Mutable<Submission>;
  if (m.from !== '') s.envelopeFrom = m.from;
  s.recipients = m.recipients;
  s.recipientCount = m.recipients.length;
  if (m.clientIp !== null) s.clientIp = m.clientIp;
  s.service = m.service;
  if (m.messageId !== null) s.messageId = m.messageId;
  s.subject = m.subject;
  s.size = m.size;
  s.evidence = m.evidence;
  return s;
}

function deliveryOf(e: KerioSent, line: LogLine, account: string): Delivery {
  return { kind: 'delivery', at: e.at, account, recipient: e.recipient, status: STATUS[e.result], evidence: [copyLine(line)] };
}

/** A host name (reverse DNS) is no address for IP rules, but the reason keeps it visible. */
function authFailureOf(e: KerioAuthFailure, line: LogLine, defaultDomain: string | undefined): AuthFailure {
  const reason = e.clientIp === null ? [e.reason, `client ${e.remote}`].filter((x) => x !== null).join('; ') : e.reason;
  return {
    kind: 'auth-failure',
    at: e.at,
    ...(e.login !== null ? { account: normaliseAccount(e.login, defaultDomain), login: e.login } : {}),
    ...(e.clientIp !== null ? { clientIp: e.clientIp } : {}),
    ...(e.mechanism !== null ? { mechanism: e.mechanism } : {}),
    ...(e.service !== null ? { service: e.service } : {}),
    ...(reason !== null ? { reason } : {}),
    ...(e.accountExists !== null ? { accountExists: e.accountExists } : {}),
    evidence: [copyLine(line)],
  };
}

function toJson(m: OpenMessage): KerioSnapshot['open'][number] {
  return {
    queueId: m.queueId, at: m.at, lastAt: m.lastAt, login: m.login, account: m.account, service: m.service,
    from: m.from, recipients: m.recipients.slice(), clientIp: m.clientIp, messageId: m.messageId,
    subject: m.subject, size: m.size, evidence: m.evidence.slice(),
    held: m.held.map((d) => ({ ...d, evidence: d.evidence.slice() })),
  };
}

function fromJson(j: KerioSnapshot['open'][number]): OpenMessage {
  const held = j.held.map((d): Delivery => ({
    kind: 'delivery', at: d.at, recipient: d.recipient, status: d.status, evidence: d.evidence,
    ...(d.account !== undefined ? { account: d.account } : {}),
    ...(d.host !== undefined ? { host: d.host } : {}),
  }));
  const recipients = j.recipients.slice();
  const seen = recipients.length > MAX_SCANNED_RECIPIENTS ? new Set(recipients) : undefined;
  return { ...j, recipients, seen, evidence: j.evidence.slice(), held };
}

/** Parses a saved snapshot; undefined/null means a first run. Throws on anything else that is not one. */
function readKerioSnapshot(saved: unknown): KerioSnapshot | undefined {
  if (saved === undefined || saved === null) return undefined;
  const r = snapshotSchema.safeParse(saved);
  if (!r.success) throw new Error(`kerio: saved correlator state is not valid: ${r.error.message}`);
  return r.data;
}

/**
 * First-in first-out with an O(1) front. A Map would do as a queue, but iterating one
 * from its front after many deletions walks their holes on every call.
 */
class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    const item = this.items[this.head];
    if (item === undefined) return undefined;
    this.items[this.head++] = undefined;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  toArray(): T[] {
    return this.items.slice(this.head) as T[];
  }
}

export function createKerioCorrelator(
  ctx: CorrelateContext, sink: RecordSink, saved?: unknown, limits: KerioLimits = KERIO_LIMITS,
): Correlator<KerioEvent> & KerioInterest {
  const rememberMs = Math.max(ctx.openTtlMs, limits.minRememberMs);
  // Both queues are in order of arrival, and only their fronts are ever completed or
  // forgotten. A message whose Recv lines trickle in can hold up the completion of
  // later ones a little; it never changes what they contain.
  const open = new Map<string, OpenMessage>();
  const openOrder = new Fifo<OpenMessage>();
  const remembered = new Map<string, Remembered>();
  const rememberedOrder = new Fifo<Remembered>();
  let withoutClientIp = 0;
  /**
   * What `sent` last found, so the Sent line's event that follows is attributed without
   * looking its Queue-ID up twice; dropped whenever a message is opened, completed or forgotten.
   */
  let lookedUp: string | undefined;
  let foundOpen: OpenMessage | undefined;
  let foundRemembered: Remembered | undefined;

  function forgetLookup(): void {
    lookedUp = undefined;
    foundOpen = undefined;
    foundRemembered = undefined;
  }

  function remember(r: Remembered): void {
    if (rememberedOrder.size >= limits.maxRemembered) forgetOldest();
    remembered.set(r.queueId, r);
    rememberedOrder.push(r);
  }

  function forgetOldest(): void {
    forgetLookup();
    const r = rememberedOrder.shift();
    // A Queue-ID completed twice is remembered by its newer entry only.
    if (r && remembered.get(r.queueId) === r) remembered.delete(r.queueId);
  }

  function completeOldest(): void {
    const m = openOrder.shift();
    if (!m) return;
    forgetLookup();
    open.delete(m.queueId);
    if (m.clientIp === null) withoutClientIp++;
    sink(submissionOf(m));
    for (const d of m.held) sink(d);
    remember({ queueId: m.queueId, account: m.account, lastAt: m.lastAt });
  }

  function expire(now: number): void {
    for (let m = openOrder.peek(); m && m.lastAt + limits.quietMs < now; m = openOrder.peek()) completeOldest();
    for (let r = rememberedOrder.peek(); r && r.lastAt + rememberMs < now; r = rememberedOrder.peek()) forgetOldest();
  }

  function onRecv(e: KerioRecv, line: LogLine): void {
    if (e.user === null || isServerGenerated(e.service)) return;
    const m = open.get(e.queueId);
    if (!m) {
      if (openOrder.size >= limits.maxOpen) completeOldest();
      const fresh = openMessage(e, e.user, line, ctx.defaultDomain);
      forgetLookup();
      open.set(e.queueId, fresh);
      openOrder.push(fresh);
      return;
    }
    addRecipient(m, e.to);
    if (m.evidence.length < limits.maxEvidence) m.evidence.push(copyLine(line));
    if (e.at > m.lastAt) m.lastAt = e.at;
  }

  function lookUp(queueId: string): void {
    lookedUp = queueId;
    foundOpen = open.get(queueId);
    foundRemembered = foundOpen === undefined ? remembered.get(queueId) : undefined;
  }

  function onSent(e: KerioSent, line: LogLine): void {
    if (e.queueId !== lookedUp) lookUp(e.queueId);
    const m = foundOpen;
    if (m) m.held.push(deliveryOf(e, line, m.account));
    else {
      const r = foundRemembered;
      // Neither: inbound mail, or a message submitted before this log began.
      if (r) sink(deliveryOf(e, line, r.account));
    }
  }

  const restored = readKerioSnapshot(saved);
  if (restored) {
    for (const j of restored.open) {
      const m = fromJson(j);
      open.set(m.queueId, m);
      openOrder.push(m);
    }
    for (const [queueId, account, lastAt] of restored.remembered) remember({ queueId, account, lastAt });
  }

  return {
    recv: (service, user) => user !== null && !isServerGenerated(service),
    sent(queueId, at) {
      expire(at);
      lookUp(queueId);
      return foundOpen !== undefined || foundRemembered !== undefined;
    },
    advance: expire,
    push(event, line) {
      expire(event.at);
      switch (event.type) {
        case 'recv': onRecv(event, line); break;
        case 'sent': onSent(event, line); break;
        case 'auth-failure': sink(authFailureOf(event, line, ctx.defaultDomain)); break;
      }
    },
    flush() {
      while (openOrder.size > 0) completeOldest();
    },
    snapshot(): KerioSnapshot {
      return {
        v: 1,
        open: openOrder.toArray().map(toJson),
        remembered: rememberedOrder.toArray()
          .filter((r) => remembered.get(r.queueId) === r)
          .map((r) => [r.queueId, r.account, r.lastAt]),
      };
    },
    diagnostics() {
      if (withoutClientIp === 0) return [];
      return [
        `kerio: ${withoutClientIp} submission(s) logged no client address (Sender-Host: 0.0.0.0, as webmail does); `
        + 'address-based checks cannot judge them, and Kerio records the webmail client address only in its HTTP/audit logs',
      ];
    },
  };
}
