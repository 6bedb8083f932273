/**
 * recipient-spread: an account suddenly writing to people it never wrote to. Each
 * account learns whom it mails (recipients and their domains) over `historyDays`; in a
 * sliding window of log time the share of distinct recipients, and of their domains,
 * that are not in that history is measured. A person mostly writes to the same people;
 * a spam run from a stolen account writes to a list, nearly all of it new, spread over
 * many domains.
 *
 * Bounded state: history is kept as 16-bit hashes (Rice-coded in the state file, about
 * 10 bits an address; at most `maxKnownRecipients` and `maxKnownDomains` per account)
 * in two generations; an address not mailed again is forgotten after one to two
 * `historyDays`. What the window holds is learned only when it leaves the window, so
 * "new" means "not mailed before this window", and recipients of a run that reached
 * warning are never learned (a spam run must not teach the account its list).
 *
 * Warm-up: an account first seen less than `warmupHours` ago has no history worth the
 * name, and is judged on nothing but its subjects.
 *
 * Subjects (Kerio and the MTA log them): the same subject to many distinct recipients
 * in several messages within the window is a campaign: warning at `subjectRecipients`,
 * critical at `subjectCriticalRecipients`. One message to a long list is the business
 * of sends-per-account, hence `subjectMinMessages`.
 */
import { z } from 'zod';
import { SEVERITY_RANK, type Submission } from '../core/types.js';
import { commonRuleOptions } from '../config/schema.js';
import { splitAddress } from '../core/address.js';
import { defineRule, type Emit } from './types.js';
import {
  capMap, describeMinutes, fold16, hash32, latestOf, packSet16, percent, severityOfRank, unpackSet16,
} from './rule-support.js';

const Share = z.number().positive().max(1);

const Options = z.strictObject({
  ...commonRuleOptions,
  /** Window in minutes of log time in which new recipients are counted. */
  windowMinutes: z.number().int().positive().max(7 * 24 * 60).default(60),
  /** Days a recipient is remembered after it was last mailed (at least; at most twice as long). */
  historyDays: z.number().positive().max(365).default(30),
  /** An account first seen less than this many hours ago has no history yet: only its subjects are judged. */
  warmupHours: z.number().min(0).default(24),
  /** Recipients remembered per account at most. */
  maxKnownRecipients: z.number().int().min(2).max(20_000).default(2000),
  /** Recipient domains remembered per account at most. */
  maxKnownDomains: z.number().int().min(2).max(5000).default(500),
  /** Distinct recipients in the window before a share is judged; reaching `newShare` at this volume is info. */
  minRecipients: z.number().int().positive().default(20),
  /** Distinct recipients in the window for a warning (with `newShare` and `newDomainShare`). */
  warningRecipients: z.number().int().positive().default(50),
  /** Distinct recipients in the window for critical (with `criticalNewShare` and `newDomainShare`). */
  criticalRecipients: z.number().int().positive().default(200),
  /** Share of recipients never mailed before (0.8 = 80 %) for info and warning. */
  newShare: Share.default(0.8),
  /** Share of recipients never mailed before for critical. */
  criticalNewShare: Share.default(0.9),
  /** Share of recipient domains never mailed before that warning and critical also need. */
  newDomainShare: Share.default(0.5),
  /** Distinct recipients of one subject in the window for a warning; 0: subjects are not checked. */
  subjectRecipients: z.number().int().min(0).default(50),
  /** Distinct recipients of one subject for critical; 0: never critical. */
  subjectCriticalRecipients: z.number().int().min(0).default(200),
  /** Messages with that subject in the window before it counts (one message to a list is not a campaign). */
  subjectMinMessages: z.number().int().positive().default(3),
});

type Opts = z.output<typeof Options>;

/** Recipients and domains in one account's window at most; beyond, the oldest leave early (and are learned). */
const MAX_WINDOW = 2000;
/** Subjects followed per account, and recipients per subject. */
const MAX_SUBJECTS = 20;
const MAX_SUBJECT_RECIPIENTS = 2000;
/** Characters of the subject quoted in a finding. */
const SUBJECT_CHARS = 100;

/**
 * What an account has mailed, as 16-bit hashes in two generations: known = in either.
 * A generation ends after `historyDays` or when it holds half the allowance.
 */
interface History {
  cur: Set<number>;
  /** Never added to: a generation only becomes the previous one whole. */
  prev: ReadonlySet<number>;
}

/** Window entry: `second * 4 + (new ? 1 : 0) + (sent at warning or above ? 2 : 0)`. */
type Code = number;

/**
 * Hashed recipient (or domain) -> Code, re-inserted on update, so oldest first. `front`
 * is the second of the first entry (Infinity when empty): a window that nothing leaves
 * is not iterated, and most messages leave nothing.
 */
interface Window {
  readonly codes: Map<number, Code>;
  front: number;
}

function windowOf(codes: Map<number, Code>): Window {
  let front = Infinity;
  for (const code of codes.values()) {
    front = Math.floor(code / 4);
    break;
  }
  return { codes, front };
}
const NEW = 1;
const SUSPECT = 2;

interface Subject {
  /** Hashed recipient -> second last mailed with this subject; re-inserted on update. */
  r: Map<number, number>;
  /**
   * No second in `r` is below `rLow`, and while `rSorted` (no late record since `r` was
   * last empty) `r` is in time order and `rLast` is at least its last second: then a
   * prune whose edge is below `rLow` has nothing to do, which is the usual case.
   */
  rLow: number;
  rLast: number;
  rSorted: boolean;
  /** Seconds of the messages, ascending. */
  m: number[];
  level: number;
}

function newSubject(r: Map<number, number>, m: number[], level: number): Subject {
  const s: Subject = { r: new Map(), rLow: Infinity, rLast: -Infinity, rSorted: true, m, level };
  for (const [h, t] of r) mention(s, h, t);
  return s;
}

/** Puts recipient `h` at the end of the subject's recipients, mailed at `sec`. */
function mention(s: Subject, h: number, sec: number): void {
  if (s.r.size === 0) {
    s.rSorted = true;
    s.rLow = sec;
  } else {
    if (sec < s.rLast) s.rSorted = false;
    s.rLow = Math.min(s.rLow, sec);
  }
  s.rLast = Math.max(s.rLast, sec);
  s.r.delete(h);
  s.r.set(h, sec);
}

interface AccountSpread {
  /** First submission seen (epoch seconds): the warm-up runs from here. */
  first: number;
  /** Start of the current history generation. */
  gen: number;
  /** Latest submission. */
  now: number;
  level: number;
  rcpt: History;
  dom: History;
  /** Hashed recipient / domain -> Code; re-inserted on update, so oldest first. */
  winR: Window;
  winD: Window;
  newR: number;
  newD: number;
  subjects: Map<number, Subject>;
}

/**
 * Every account of the last two history periods is in it, so it is terse. Per account:
 * `[account, [first, gen, now, level], known, window recipients, window domains, subjects]`
 * where `known` is four packSet16 strings (recipients current and previous generation,
 * domains the same), a window is flat `[hash, code relative to now, ...]` (the code's
 * second counted back from `now`, so small), and a subject is
 * `[hash, level, [message seconds before now...], [recipient hash, seconds before now, ...]]`.
 */
const SnapshotSchema = z.object({
  v: z.literal(2),
  window: z.number(),
  accounts: z.array(z.tuple([
    z.string(),
    z.tuple([z.number(), z.number(), z.number(), z.number()]),
    z.tuple([z.string(), z.string(), z.string(), z.string()]),
    z.array(z.number()),
    z.array(z.number()),
    z.array(z.tuple([z.number(), z.number(), z.array(z.number()), z.array(z.number())])),
  ])),
});

/** A window in snapshot form: codes counted back from `now`. */
function packWindow(win: Window, now: number): number[] {
  const out: number[] = [];
  for (const [h, code] of win.codes) out.push(h, (now - Math.floor(code / 4)) * 4 + (code & 3));
  return out;
}

function unpackWindow(flat: readonly number[], now: number): Window {
  const codes = new Map<number, Code>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const rel = flat[i + 1] ?? 0;
    codes.set(flat[i] ?? 0, (now - Math.floor(rel / 4)) * 4 + (rel & 3));
  }
  return windowOf(codes);
}

// ---------------------------------------------------------------------------
// History

/** The previous generation of an account that has none (most accounts, most of the time). */
const NONE: ReadonlySet<number> = new Set();

const isKnown = (h: History, v: number): boolean => h.cur.has(v) || h.prev.has(v);

function learn(h: History, v: number, max: number): void {
  if (h.cur.has(v)) return;
  if (h.cur.size >= Math.floor(max / 2)) {
    h.prev = h.cur;
    h.cur = new Set();
  }
  h.cur.add(v);
}

/** Starts a new generation when the current one is `historyDays` old; after two, nothing is left. */
function age(a: AccountSpread, sec: number, historySec: number): void {
  if (sec - a.gen < historySec) return;
  for (const h of [a.rcpt, a.dom]) {
    h.prev = sec - a.gen >= 2 * historySec ? NONE : h.cur;
    h.cur = new Set();
  }
  a.gen = sec;
}

// ---------------------------------------------------------------------------
// Window

/**
 * Forgets what left the window (ending at `a.now`), learning it unless it was sent during
 * an alarm or so long ago that the history would already have forgotten it (an account
 * idle for months comes back to an empty history, not to its window of then).
 */
function prune(a: AccountSpread, windowSec: number, historySec: number, o: Opts, max = MAX_WINDOW): void {
  const edge = a.now - windowSec;
  const horizon = a.now - historySec;
  a.newR -= leave(a.winR, edge, max, horizon, a.rcpt, o.maxKnownRecipients);
  a.newD -= leave(a.winD, edge, max, horizon, a.dom, o.maxKnownDomains);
}

/**
 * Removes entries at or before `edge` from the front (and beyond `max`), learning them
 * into `history` as prune says; returns how many of them were new.
 */
function leave(win: Window, edge: number, max: number, horizon: number, history: History, maxKnown: number): number {
  const codes = win.codes;
  if (win.front > edge && codes.size <= max) return 0;
  let gone = 0;
  win.front = Infinity;
  for (const [h, code] of codes) {
    const t = Math.floor(code / 4);
    if (t > edge && codes.size <= max) {
      win.front = t;
      break;
    }
    codes.delete(h);
    if (code & NEW) gone++;
    if (!(code & SUSPECT) && t > horizon) learn(history, fold16(h), maxKnown);
  }
  return gone;
}

/**
 * Adds one recipient (or domain) to the window at `sec`; returns 1 if it is a new entry
 * that the history lacks. An entry keeps the time it entered: mailing someone every
 * half hour must not keep them in the window, never learned, for ever.
 */
function enter(win: Window, h: number, sec: number, known: boolean, suspect: boolean): number {
  const codes = win.codes;
  const old = codes.get(h);
  if (old !== undefined) {
    if (suspect && !(old & SUSPECT)) codes.set(h, old + SUSPECT);
    return 0;
  }
  if (codes.size === 0) win.front = sec;
  codes.set(h, sec * 4 + (known ? 0 : NEW) + (suspect ? SUSPECT : 0));
  return known ? 0 : 1;
}

interface Spread { recipients: number; newRecipients: number; domains: number; newDomains: number }

export function rankOf(s: Spread, o: Opts): number {
  if (s.recipients === 0) return -1;
  const share = s.newRecipients / s.recipients;
  const domainShare = s.domains > 0 ? s.newDomains / s.domains : 0;
  if (s.recipients >= o.criticalRecipients && share >= o.criticalNewShare && domainShare >= o.newDomainShare) return SEVERITY_RANK.critical;
  if (s.recipients >= o.warningRecipients && share >= o.newShare && domainShare >= o.newDomainShare) return SEVERITY_RANK.warning;
  if (s.recipients >= o.minRecipients && share >= o.newShare) return SEVERITY_RANK.info;
  return -1;
}

/** Lower case, runs of white space as one space: how a campaign's subject repeats. */
function normaliseSubject(subject: string): string {
  return subject.toLowerCase().replace(/\s+/g, ' ').trim();
}

/**
 * hash32 of the normalised subject, -1 when that is empty. An ASCII subject is hashed
 * as it is read, without the three copies normalising makes.
 */
export function subjectKey(subject: string): number {
  let h = 0x811c9dc5;
  let space = false;
  let any = false;
  for (let i = 0; i < subject.length; i++) {
    let c = subject.charCodeAt(i);
    if (c >= 128) {
      const text = normaliseSubject(subject);
      return text === '' ? -1 : hash32(text);
    }
    // \s among ASCII: tab, line feed, vertical tab, form feed, carriage return, space.
    if (c === 32 || (c >= 9 && c <= 13)) {
      space = any;
      continue;
    }
    if (space) {
      h = Math.imul(h ^ 32, 0x01000193);
      space = false;
    }
    if (c >= 65 && c <= 90) c += 32;
    h = Math.imul(h ^ c, 0x01000193);
    any = true;
  }
  return any ? h >>> 0 : -1;
}

function newAccount(sec: number): AccountSpread {
  return {
    first: sec, gen: sec, now: sec, level: -1,
    rcpt: { cur: new Set(), prev: NONE }, dom: { cur: new Set(), prev: NONE },
    winR: windowOf(new Map()), winD: windowOf(new Map()), newR: 0, newD: 0, subjects: new Map(),
  };
}

function restore(saved: unknown, o: Opts, accounts: Map<string, AccountSpread>): void {
  const r = SnapshotSchema.safeParse(saved);
  if (!r.success || r.data.window !== o.windowMinutes) return;
  for (const [k, [first, gen, now, level], known, r1, d1, subs] of r.data.accounts) {
    const [rc, rp, dc, dp] = known.map((x) => new Set(unpackSet16(x)));
    const winR = unpackWindow(r1, now);
    const winD = unpackWindow(d1, now);
    const newOf = (w: Window): number => [...w.codes.values()].filter((c) => c & NEW).length;
    const subjects = new Map<number, Subject>();
    for (const [h, lv, m, rs] of subs) {
      const rmap = new Map<number, number>();
      for (let i = 0; i + 1 < rs.length; i += 2) rmap.set(rs[i] ?? 0, now - (rs[i + 1] ?? 0));
      subjects.set(h, newSubject(rmap, m.map((x) => now - x), lv));
    }
    accounts.set(k, {
      first, gen, now, level,
      rcpt: { cur: rc ?? new Set(), prev: rp ?? NONE }, dom: { cur: dc ?? new Set(), prev: dp ?? NONE },
      winR, winD, newR: newOf(winR), newD: newOf(winD), subjects,
    });
  }
}

export const recipientSpread = defineRule({
  name: 'recipient-spread',
  description: 'Share of recipients and recipient domains an account never mailed before (learned history, warm-up), and one subject sent to many recipients.',
  options: Options,
  consumes: ['submission'],
  create(opts, _ctx, saved) {
    const accounts = new Map<string, AccountSpread>();
    restore(saved, opts, accounts);
    const windowSec = opts.windowMinutes * 60;
    const historySec = opts.historyDays * 86_400;
    const warmupSec = opts.warmupHours * 3600;

    const onSpread = (s: Submission, a: AccountSpread, hashes: readonly number[], count: number, sec: number, idle: boolean, emit: Emit): void => {
      // The window emptied since the last message: whatever episode there was is over.
      if (idle) a.level = -1;
      // What left the window is learned first, so someone mailed an hour ago is known now.
      prune(a, windowSec, historySec, opts);
      const suspect = a.level >= SEVERITY_RANK.warning;
      // A recipient named twice in one message finds itself in the window the second time, and adds nothing.
      for (let i = 0; i < count; i += 2) {
        const h = hashes[i] ?? 0;
        a.newR += enter(a.winR, h, sec, isKnown(a.rcpt, fold16(h)), suspect);
        const d = hashes[i + 1] ?? -1;
        if (d < 0) continue;
        a.newD += enter(a.winD, d, sec, isKnown(a.dom, fold16(d)), suspect);
      }
      // Only the oldest leave when the window is full.
      prune(a, windowSec, historySec, opts);
      if (sec - a.first < warmupSec) return;
      const spread: Spread = { recipients: a.winR.codes.size, newRecipients: a.newR, domains: a.winD.codes.size, newDomains: a.newD };
      const rank = rankOf(spread, opts);
      if (rank < 0) {
        // Over only once clearly normal again: a share hovering at a level is one episode.
        if (spread.recipients * 2 < opts.minRecipients || spread.newRecipients * 2 < opts.newShare * spread.recipients) a.level = -1;
        return;
      }
      if (rank <= a.level) return;
      // The run that got here is in the window: none of it may be learned.
      if (rank >= SEVERITY_RANK.warning && a.level < SEVERITY_RANK.warning) markSuspect(a);
      a.level = rank;
      const share = percent(spread.newRecipients / spread.recipients);
      const domainShare = spread.domains > 0 ? percent(spread.newDomains / spread.domains) : 0;
      emit({
        rule: 'recipient-spread', account: s.account, severity: severityOfRank(rank), at: s.at,
        message: `${spread.newRecipients} of ${spread.recipients} recipients (${share}%) and ${spread.newDomains} of ${spread.domains} domains (${domainShare}%) in ${describeMinutes(opts.windowMinutes)} never mailed before`,
        data: {
          signal: 'new-recipients', recipients: spread.recipients, new_recipients: spread.newRecipients, percent_new: share,
          domains: spread.domains, new_domains: spread.newDomains, percent_new_domains: domainShare, window_minutes: opts.windowMinutes,
        },
        evidence: s.evidence.slice(0, 3),
      });
    };

    const onSubject = (s: Submission, a: AccountSpread, hashes: readonly number[], count: number, sec: number, emit: Emit): void => {
      if (opts.subjectRecipients === 0 || s.subject === undefined) return;
      const key = subjectKey(s.subject);
      if (key < 0) return;
      for (const [k, subj] of a.subjects) {
        pruneSubject(subj, sec - windowSec);
        if (subj.m.length === 0 && k !== key) a.subjects.delete(k);
      }
      let subj = a.subjects.get(key);
      if (subj) a.subjects.delete(key);
      else subj = newSubject(new Map(), [], -1);
      a.subjects.set(key, subj);
      capMap(a.subjects, MAX_SUBJECTS, (x) => x.level >= 0);
      let i = subj.m.length;
      while (i > 0 && (subj.m[i - 1] ?? 0) > sec) i--;
      subj.m.splice(i, 0, sec);
      for (let i = 0; i < count; i += 2) {
        const h = hashes[i] ?? 0;
        const t = subj.r.get(h);
        if (t !== undefined && t >= sec) continue;
        mention(subj, h, sec);
      }
      capMap(subj.r, MAX_SUBJECT_RECIPIENTS);
      const recipients = subj.r.size;
      const messages = subj.m.length;
      const rank = messages < opts.subjectMinMessages ? -1
        : opts.subjectCriticalRecipients > 0 && recipients >= opts.subjectCriticalRecipients ? SEVERITY_RANK.critical
          : recipients >= opts.subjectRecipients ? SEVERITY_RANK.warning : -1;
      if (rank < 0) {
        if (recipients * 2 < opts.subjectRecipients) subj.level = -1;
        return;
      }
      if (rank <= subj.level) return;
      subj.level = rank;
      const threshold = rank === SEVERITY_RANK.critical ? opts.subjectCriticalRecipients : opts.subjectRecipients;
      emit({
        rule: 'recipient-spread', account: s.account, severity: severityOfRank(rank), at: s.at,
        message: `one subject to ${recipients} recipients in ${messages} messages in ${describeMinutes(opts.windowMinutes)} (${severityOfRank(rank)} at ${threshold})`,
        data: {
          signal: 'same-subject', recipients, messages, subject: s.subject.slice(0, SUBJECT_CHARS), window_minutes: opts.windowMinutes, threshold,
        },
        evidence: s.evidence.slice(0, 3),
      });
    };

    return {
      onRecord(r, emit) {
        const s = r as Submission;
        const sec = Math.floor(s.at / 1000);
        let a = accounts.get(s.account);
        if (!a) {
          a = newAccount(sec);
          accounts.set(s.account, a);
        }
        if (sec < a.first) a.first = sec;
        age(a, sec, historySec);
        const idle = sec - a.now >= windowSec;
        if (sec > a.now) a.now = sec;
        const count = hashRecipients(s.recipients, HASHES);
        if (sec <= a.now - windowSec) {
          // Older than the window: nothing to judge, but it is history all the same.
          for (let i = 0; i < count; i += 2) {
            learn(a.rcpt, fold16(HASHES[i] ?? 0), opts.maxKnownRecipients);
            const d = HASHES[i + 1] ?? -1;
            if (d >= 0) learn(a.dom, fold16(d), opts.maxKnownDomains);
          }
          return;
        }
        onSpread(s, a, HASHES, count, sec, idle, emit);
        onSubject(s, a, HASHES, count, sec, emit);
      },
      snapshot() {
        const latest = latestOf([...accounts.values()].map((a) => a.now));
        const out: unknown[] = [];
        for (const [k, a] of accounts) {
          // Idle for two history periods: everything it knew has aged out.
          if (latest - a.now >= 2 * historySec) continue;
          // Learn what has left the window by now (the account's next message would do it, with the same result).
          if (a.now < latest) {
            const own = a.now;
            a.now = latest;
            prune(a, windowSec, historySec, opts);
            a.now = own;
          }
          const subjects: [number, number, number[], number[]][] = [];
          for (const [h, s] of a.subjects) {
            pruneSubject(s, latest - windowSec);
            if (s.m.length === 0) continue;
            subjects.push([h, s.level, s.m.map((x) => a.now - x), [...s.r].flatMap(([rh, t]) => [rh, a.now - t])]);
          }
          out.push([
            k, [a.first, a.gen, a.now, a.level],
            [packSet16(a.rcpt.cur), packSet16(a.rcpt.prev), packSet16(a.dom.cur), packSet16(a.dom.prev)],
            packWindow(a.winR, a.now), packWindow(a.winD, a.now), subjects,
          ]);
        }
        return { v: 2, window: opts.windowMinutes, accounts: out };
      },
    };
  },
});

function markSuspect(a: AccountSpread): void {
  for (const win of [a.winR.codes, a.winD.codes]) for (const [h, code] of win) if (!(code & SUSPECT)) win.set(h, code + SUSPECT);
}

/**
 * Writes two numbers per recipient into `out` from its start and returns how many it
 * wrote: hash32 of the address in lower case, and of its domain (after the last `@`,
 * as splitAddress) or -1 when it has none. An ASCII address is hashed in one pass,
 * without the lower-case copy and the split. `out` is reused from message to message
 * (never shortened, so it is not reallocated either).
 */
export function hashRecipients(recipients: readonly string[], out: number[]): number {
  let n = 0;
  for (const raw of recipients) {
    let h = 0x811c9dc5;
    let d = 0x811c9dc5;
    let at = false;
    let ascii = true;
    for (let i = 0; i < raw.length; i++) {
      let c = raw.charCodeAt(i);
      if (c >= 128) {
        ascii = false;
        break;
      }
      if (c >= 65 && c <= 90) c += 32;
      h = Math.imul(h ^ c, 0x01000193);
      if (c === 64) {
        at = true;
        d = 0x811c9dc5;
      } else {
        d = Math.imul(d ^ c, 0x01000193);
      }
    }
    if (ascii) {
      out[n++] = h >>> 0;
      out[n++] = !at || raw.charCodeAt(raw.length - 1) === 64 ? -1 : d >>> 0;
    } else {
      const addr = raw.toLowerCase();
      const { domain } = splitAddress(addr);
      out[n++] = hash32(addr);
      out[n++] = domain === '' ? -1 : hash32(domain);
    }
  }
  return n;
}

/** hashRecipients' `out` for the rule: one message is done with before the next is hashed. */
const HASHES: number[] = [];

/** Drops a subject's messages and recipients at or before `edge`. */
function pruneSubject(s: Subject, edge: number): void {
  let n = 0;
  while (n < s.m.length && (s.m[n] ?? 0) <= edge) n++;
  if (n > 0) s.m.splice(0, n);
  if (s.rLow <= edge) {
    let front = Infinity;
    for (const [h, t] of s.r) {
      if (t > edge) {
        front = t;
        break;
      }
      s.r.delete(h);
    }
    // In time order the first second left is the lowest; out of order only a full look could tell.
    if (s.rSorted || s.r.size === 0) s.rLow = front;
  }
  if (s.m.length === 0) s.level = -1;
}
