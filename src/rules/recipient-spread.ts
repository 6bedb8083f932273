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
  capMap, describeMinutes, fold16, hash32, packSet16, percent, severityOfRank, unpackSet16,
} from './rule-support.js';
import { LazyAccounts, savedRows, type SavedRow } from '../core/lazy-accounts.js';
import { isFiniteNumber, sectionOf } from '../core/saved-json.js';

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
 * Version 2, read still so that an upgraded site keeps what it learned. Per account:
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

function restoreV2(saved: unknown, o: Opts, accounts: LazyAccounts<AccountSpread>): void {
  const r = SnapshotSchema.safeParse(saved);
  if (!r.success || r.data.window !== o.windowMinutes) return;
  for (const [k, [first, gen, now, level], known, r1, d1, subs] of r.data.accounts) {
    const [rc, rp, dc, dp] = known.map((x) => new Set(unpackSet16(x)));
    const subjects = new Map<number, Subject>();
    for (const [h, lv, m, rs] of subs) subjects.set(h, subjectOf(rs, m, lv, now));
    accounts.set(k, accountOf(first, gen, now, level, [rc, rp, dc, dp], unpackWindow(r1, now), unpackWindow(d1, now), subjects));
  }
}

function accountOf(
  first: number, gen: number, now: number, level: number, known: readonly (Set<number> | undefined)[],
  winR: Window, winD: Window, subjects: Map<number, Subject>,
): AccountSpread {
  const [rc, rp, dc, dp] = known;
  const newOf = (w: Window): number => [...w.codes.values()].filter((c) => c & NEW).length;
  return {
    first, gen, now, level,
    rcpt: { cur: rc ?? new Set(), prev: rp ?? NONE }, dom: { cur: dc ?? new Set(), prev: dp ?? NONE },
    winR, winD, newR: newOf(winR), newD: newOf(winD), subjects,
  };
}

/** A saved subject: `rs` flat `[recipient hash, seconds before now, ...]`, `m` seconds before now. */
function subjectOf(rs: readonly number[], m: readonly number[], level: number, now: number): Subject {
  const rmap = new Map<number, number>();
  for (let i = 0; i + 1 < rs.length; i += 2) rmap.set(rs[i] ?? 0, now - (rs[i + 1] ?? 0));
  return newSubject(rmap, m.map((x) => now - x), level);
}

// ---------------------------------------------------------------------------
// Rows (version 3)

/**
 * Version 3: `{ v: 3, window, latest, accounts }`, `accounts` LazyAccounts rows
 * `[account, now, text]`, all of them settled (see `settle`) to `latest`, or owing
 * only what `catchUp` does. `text` is space-separated, without a `"` to escape:
 * `first gen level rc rp dc dp winR winD subject...`, first and gen counted back from
 * now, rc...dp the packSet16 strings of version 2, a window `hash,code,...` as in
 * version 2, a subject `hash:level:second,...:recipient,second,...` (seconds before now).
 */
interface SavedV3 { readonly latest: number; readonly rows: SavedRow[] }

function savedV3(saved: unknown, windowMinutes: number): SavedV3 | undefined {
  const { v, window, latest, accounts } = sectionOf(saved);
  if (v !== 3 || window !== windowMinutes || !isFiniteNumber(latest)) return undefined;
  const rows = savedRows(accounts);
  return rows && { latest, rows };
}

function encodeAccount(a: AccountSpread): string {
  const parts = [
    String(a.now - a.first), String(a.now - a.gen), String(a.level),
    packSet16(a.rcpt.cur), packSet16(a.rcpt.prev), packSet16(a.dom.cur), packSet16(a.dom.prev),
    packWindow(a.winR, a.now).join(','), packWindow(a.winD, a.now).join(','),
  ];
  for (const [h, s] of a.subjects) {
    // As version 2: a subject whose messages all left the window is not saved.
    if (s.m.length === 0) continue;
    parts.push(`${h}:${s.level}:${s.m.map((x) => a.now - x).join(',')}:${[...s.r].flatMap(([rh, t]) => [rh, a.now - t]).join(',')}`);
  }
  return parts.join(' ');
}

const INT = /^-?\d{1,16}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function intOf(s: string | undefined): number | undefined {
  if (s === undefined || !INT.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

function intsOf(s: string | undefined, pairs = false): number[] | undefined {
  if (s === '') return [];
  if (s === undefined) return undefined;
  const out: number[] = [];
  for (const x of s.split(',')) {
    const n = intOf(x);
    if (n === undefined) return undefined;
    out.push(n);
  }
  return pairs && out.length % 2 !== 0 ? undefined : out;
}

/** The account a row's text holds, as its writer left it; undefined for a damaged row. */
function decodeAccount(text: string, now: number): AccountSpread | undefined {
  const f = text.split(' ');
  const [backFirst, backGen, level] = [intOf(f[0]), intOf(f[1]), intOf(f[2])];
  const known = f.slice(3, 7);
  const [r1, d1] = [intsOf(f[7], true), intsOf(f[8], true)];
  if (backFirst === undefined || backGen === undefined || level === undefined || r1 === undefined || d1 === undefined) return undefined;
  if (known.length !== 4 || !known.every((k) => BASE64.test(k))) return undefined;
  const subjects = new Map<number, Subject>();
  for (const field of f.slice(9)) {
    const [hs, ls, ms, rs, more] = field.split(':');
    const [h, lv, m, r] = [intOf(hs), intOf(ls), intsOf(ms), intsOf(rs, true)];
    if (h === undefined || lv === undefined || m === undefined || r === undefined || more !== undefined) return undefined;
    subjects.set(h, subjectOf(r, m, lv, now));
  }
  return accountOf(now - backFirst, now - backGen, now, level, known.map((k) => new Set(unpackSet16(k))), unpackWindow(r1, now), unpackWindow(d1, now), subjects);
}

/**
 * What a snapshot does to each account it saves, for `latest` (the latest account's
 * last message): learn what has left the window by then (the account's next message
 * would do it, with the same result) and forget subjects' old messages.
 */
function settle(a: AccountSpread, latest: number, windowSec: number, historySec: number, o: Opts): void {
  if (a.now < latest) {
    const own = a.now;
    a.now = latest;
    prune(a, windowSec, historySec, o);
    a.now = own;
  }
  for (const s of a.subjects.values()) pruneSubject(s, latest - windowSec);
}

/**
 * An untouched row is saved as read, not settled by the snapshots since; settling it
 * once to the last one's `latest` drops what they all would have (edges only rose).
 * They learned what left the window unless it was beyond the history by then, which
 * cannot be while snapshots are less than `historySec - windowSec` apart, so all is
 * learned here; a longer jump settles the rows that hold a window at once (snapshot).
 * Subjects are built again, as a restore builds them.
 */
function catchUp(a: AccountSpread, latest: number, windowSec: number, o: Opts): AccountSpread {
  settle(a, latest, windowSec, Infinity, o);
  const subjects = new Map<number, Subject>();
  for (const [h, s] of a.subjects) if (s.m.length > 0) subjects.set(h, newSubject(s.r, s.m, s.level));
  a.subjects = subjects;
  return a;
}

/** Accounts of rows that may hold a window entry not yet older than `edge`, all entries being at or before the account's now. */
function recentOf(rows: readonly SavedRow[], edge: number): string[] {
  return rows.filter((r) => r[1] > edge).map((r) => r[0]);
}

export const recipientSpread = defineRule({
  name: 'recipient-spread',
  description: 'Share of recipients and recipient domains an account never mailed before (learned history, warm-up), and one subject sent to many recipients.',
  options: Options,
  consumes: ['submission'],
  create(opts, _ctx, saved) {
    const windowSec = opts.windowMinutes * 60;
    const historySec = opts.historyDays * 86_400;
    const warmupSec = opts.warmupHours * 3600;
    const v3 = savedV3(saved, opts.windowMinutes);
    /** The latest the saved rows are settled to, and the accounts among them that may still hold a window. */
    let settled = v3?.latest ?? 0;
    let recent = v3 ? recentOf(v3.rows, settled - windowSec) : [];
    const accounts = new LazyAccounts<AccountSpread>((text, _account, now) => {
      const a = decodeAccount(text, now);
      return a && catchUp(a, settled, windowSec, opts);
    }, v3?.rows);
    if (!v3) restoreV2(saved, opts, accounts);

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
        const latest = accounts.latest((a) => a.now);
        // Beyond what catchUp can tell: settle now, as every snapshot did, the rows whose window this one empties.
        if (latest - settled >= historySec - windowSec) for (const k of recent) accounts.get(k);
        const rows = accounts.rows(
          (a) => a.now,
          // Idle for two history periods: everything it knew has aged out.
          (now) => latest - now < 2 * historySec,
          (a) => {
            settle(a, latest, windowSec, historySec, opts);
            return encodeAccount(a);
          },
        );
        settled = Math.max(settled, latest);
        recent = recentOf(rows, settled - windowSec);
        return { v: 3, window: opts.windowMinutes, latest: settled, accounts: rows };
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
