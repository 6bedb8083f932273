/**
 * Small pure helpers shared by the windowed rules (auth-failures, many-sender-hosts,
 * bounces, recipient-spread): client address keys and networks, short hashes for
 * compact state, severities by rank, and evidence cut to size for the state file.
 * Not a rule: it has no registry entry.
 */
import { inflateRawSync } from 'node:zlib';
import { z } from 'zod';
import { SEVERITY_RANK, type Evidence, type Severity } from '../core/types.js';
import { ipv4Number } from '../core/net.js';
import { formatIpv6, parseClient, type ClientAddress } from './client-address.js';
import { linesOfJson } from '../core/lazy-accounts.js';
import type { ResolvedOfficeHours, RuleContext } from './types.js';

export { formatIpv6, parseClient, type ClientAddress };

/** Severity of a SEVERITY_RANK value (0 info, 1 warning, 2 critical). */
export function severityOfRank(rank: number): Severity {
  return rank >= SEVERITY_RANK.critical ? 'critical' : rank >= SEVERITY_RANK.warning ? 'warning' : 'info';
}

/** `60` -> `1 h`, `1440` -> `24 h`, `90` -> `90 min`: windows as people say them. */
export function describeMinutes(minutes: number): string {
  if (minutes % 60 === 0) return `${minutes / 60} h`;
  return `${minutes} min`;
}

/** A share as a whole percentage for messages (0.337 -> 34). */
export function percent(share: number): number {
  return Math.round(share * 100);
}

// ---------------------------------------------------------------------------
// Client addresses

/**
 * The network of `prefix` bits around the address, as `a.b.c.0/24` or `2001:db8:0:0::/48`.
 * Prefixes are whole octets (IPv4) or whole 16-bit groups (IPv6), which covers
 * /8, /16, /24 and /32, /48, /64: the sizes providers hand out.
 */
export function networkOf(c: ClientAddress, prefix: number): string {
  if (c.family === 4) {
    const keep = Math.max(0, Math.min(4, Math.floor(prefix / 8)));
    if (keep === 4) return c.ip;
    const n = ipv4Number(c.ip);
    const parts = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].map((p, i) => (i < keep ? p : 0));
    return `${parts.join('.')}/${keep * 8}`;
  }
  const keep = Math.max(0, Math.min(8, Math.floor(prefix / 16)));
  if (keep === 8) return c.ip;
  return `${formatIpv6((c.groups ?? []).map((x, i) => (i < keep ? x : 0)))}/${keep * 16}`;
}

/**
 * The engine hands one record to every rule in turn, and four of them ask whether its
 * address is trusted for its account: the last answer is kept for the next rule.
 */
let lastCtx: RuleContext | undefined;
let lastAccount = '';
let lastIp = '';
let lastTrusted = false;

/** True when `ip` lies in the trusted networks, global or the account's own (account and group settings). */
export function trustedFor(ctx: RuleContext, account: string, ip: string): boolean {
  if (ip === lastIp && account === lastAccount && ctx === lastCtx) return lastTrusted;
  lastTrusted = ctx.trusted.contains(ip) || (ctx.trustedFor(account)?.contains(ip) ?? false);
  lastCtx = ctx;
  lastAccount = account;
  lastIp = ip;
  return lastTrusted;
}

let hoursCtx: RuleContext | undefined;
let hoursAccount = '';
let hours: ResolvedOfficeHours | undefined;

/** ctx.officeHoursOf, asked once per record for the two rules that want it. */
export function officeHoursOf(ctx: RuleContext, account: string): ResolvedOfficeHours {
  if (hours === undefined || account !== hoursAccount || ctx !== hoursCtx) {
    hours = ctx.officeHoursOf(account);
    hoursCtx = ctx;
    hoursAccount = account;
  }
  return hours;
}

/**
 * What counts as one client: an IPv4 address, or an IPv6 /64. A single IPv6 host
 * changes its address within its /64 every day (privacy extensions), and an attacker
 * holding a /64 can use a fresh address for every attempt: either way the /64 is the
 * client.
 */
export function clientKey(c: ClientAddress): string {
  return c.key;
}

// ---------------------------------------------------------------------------
// Short hashes for state

/** 32-bit FNV-1a of the string's UTF-16 code units: fast, stable across runs and versions. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** hash32 of `s.toLowerCase()`, without making the copy when `s` is ASCII. */
export function hash32Lower(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    // toLowerCase is not per character beyond ASCII (a final sigma looks at its neighbours).
    if (c >= 128) return hash32(s.toLowerCase());
    if (c >= 65 && c <= 90) c += 32;
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h >>> 0;
}

/**
 * 16 bits of a 32-bit hash. Two bytes per remembered address keep a long history
 * small; with 2,000 known addresses a new one is taken for known about 3 % of the
 * time, which only makes a share of new recipients a little lower.
 */
export function fold16(h32: number): number {
  return ((h32 >>> 16) ^ h32) & 0xffff;
}

/**
 * A set of 16-bit values as base64 of a Rice code of the sorted gaps: about
 * log2(65536 / n) + 1.5 bits a value instead of 16 (10 bits each for 150 values, 6.5
 * for 2,000). The first byte is the Rice parameter. Lossless: the same set comes back.
 */
export function packSet16(values: Iterable<number>): string {
  const sorted = [...new Set([...values].map((v) => v & 0xffff))].sort((a, b) => a - b);
  if (sorted.length === 0) return '';
  const k = Math.max(0, Math.floor(Math.log2((65536 / sorted.length) * Math.LN2)));
  const bytes: number[] = [k];
  let acc = 0;
  let bits = 0;
  const put = (bit: number): void => {
    acc = (acc << 1) | bit;
    if (++bits === 8) {
      bytes.push(acc);
      acc = 0;
      bits = 0;
    }
  };
  let prev = -1;
  for (const v of sorted) {
    const gap = v - prev - 1;
    prev = v;
    for (let q = gap >> k; q > 0; q--) put(1);
    put(0);
    for (let i = k - 1; i >= 0; i--) put((gap >> i) & 1);
  }
  // Padding with ones reads as an unfinished quotient, never as a value.
  while (bits !== 0) put(1);
  return Buffer.from(bytes).toString('base64');
}

/** The values `packSet16` wrote, ascending; a damaged string gives what can be read. */
export function unpackSet16(text: string): number[] {
  const buf = Buffer.from(text, 'base64');
  const k = buf[0];
  if (k === undefined || k > 16) return [];
  const out: number[] = [];
  let pos = 8;
  const total = buf.length * 8;
  const get = (): number => {
    const bit = ((buf[pos >> 3] ?? 0) >> (7 - (pos & 7))) & 1;
    pos++;
    return bit;
  };
  let prev = -1;
  while (pos < total) {
    let q = 0;
    let ended = false;
    while (pos < total) {
      if (get() === 0) {
        ended = true;
        break;
      }
      q++;
    }
    if (!ended || pos + k > total) break;
    let r = 0;
    for (let i = 0; i < k; i++) r = (r << 1) | get();
    const v = prev + 1 + (q << k) + r;
    if (v > 0xffff) break;
    out.push(v);
    prev = v;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Evidence in state

export const EvidenceSchema = z.object({ source: z.string(), lineNo: z.number(), text: z.string() });

/** Evidence text kept in state is cut: the state file stays small whatever the log holds. */
const STATE_EVIDENCE_CHARS = 1000;

/** Evidence as it goes into the state file (findings in the same run quote the whole line). */
export function evidenceForState(e: Evidence): Evidence {
  return e.text.length > STATE_EVIDENCE_CHARS ? { ...e, text: e.text.slice(0, STATE_EVIDENCE_CHARS) } : e;
}

/** More than any state's lines inflate to: a damaged or hostile block is refused, not inflated without end. */
const MAX_PACKED_LINES_BYTES = 256 * 1024 * 1024;

/**
 * Lines as sends-per-account's state version 2 held them (still read on upgrade): the
 * inputs' names once, and the lines as one deflated block (base64) of `[input, line
 * number, text]`.
 */
export interface PackedLines {
  readonly sources: readonly string[];
  readonly lines: string;
}

export const PackedLinesSchema = z.object({ sources: z.array(z.string()), lines: z.string() });

/** The lines of a version 2 block; a damaged block gives none. */
export function unpackLines(packed: PackedLines): Evidence[] {
  if (packed.lines === '') return [];
  try {
    const text = inflateRawSync(Buffer.from(packed.lines, 'base64'), { maxOutputLength: MAX_PACKED_LINES_BYTES }).toString('utf8');
    return linesOfJson(text, (i) => (typeof i === 'number' ? packed.sources[i] : undefined)) ?? [];
  } catch {
    return [];
  }
}

/** Appends one line (if there is one) to a bounded list of recent evidence, the oldest dropped first. */
export function pushRecent<E>(list: E[], add: E | undefined, max: number): void {
  if (add === undefined) return;
  list.push(add);
  // shift, not splice: splice makes an array of what it removes.
  while (list.length > max) list.shift();
}

/** Removes the first `n` elements in place (splice would make an array of them). */
export function dropFront(a: unknown[], n: number): void {
  a.copyWithin(0, n);
  a.length -= n;
}

/** The latest of many times (0 for none): where "now" is for pruning a snapshot. */
export function latestOf(times: Iterable<number>): number {
  let latest = 0;
  for (const t of times) if (t > latest) latest = t;
  return latest;
}

/**
 * Drops the least recently updated entries of an insertion-ordered map (updates
 * re-insert) beyond `max`, sparing those `keep` names (open episodes) while it can.
 */
export function capMap<K, V>(m: Map<K, V>, max: number, keep?: (v: V) => boolean): void {
  if (m.size <= max) return;
  for (const [k, v] of m) {
    if (m.size <= max) return;
    if (!keep?.(v)) m.delete(k);
  }
  for (const k of m.keys()) {
    if (m.size <= max) return;
    m.delete(k);
  }
}

// ---------------------------------------------------------------------------
// What an instance holds

const held = new WeakMap<object, () => Record<string, number>>();

/**
 * Registers how `instance` counts what it holds (evidence lines, accounts...) and returns
 * it. Only tests ask (heldBy): a long run must keep those counts bounded by what its
 * windows reach, which no finding and no snapshot shows.
 */
export function countsHeld<T extends object>(instance: T, count: () => Record<string, number>): T {
  held.set(instance, count);
  return instance;
}

/** What a rule instance holds, by its own counts; undefined for one that registered none. */
export function heldBy(instance: object): Record<string, number> | undefined {
  return held.get(instance)?.();
}
