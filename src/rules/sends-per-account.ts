/**
 * sends-per-account: messages and recipients per authenticated account in sliding
 * windows of log time. Counts live in per-second buckets per account, so the memory
 * an account costs is bounded by the seconds it was active in the longest window,
 * not by how many messages it sent.
 *
 * An account's episode starts when any window crosses a warning level and ends when
 * every window is back below all warning levels; within an episode a finding is
 * emitted only when the level rises (warning, then critical), so a spam run gives two
 * findings, not one per message.
 */
import { z } from 'zod';
import { SEVERITY_RANK, type Evidence, type Severity, type Submission } from '../core/types.js';
import { commonRuleOptions } from '../config/schema.js';
import { PatternSet } from '../core/glob.js';
import { defineRule } from './types.js';
import { dropFront, evidenceForState, EvidenceSchema, PackedLinesSchema, pushRecent, unpackLines } from './rule-support.js';
import { LazyAccounts, lineTuples, linesOfJson, savedRows, TextPacker, type SavedRow } from '../core/lazy-accounts.js';
import { isNumberList, isStringList, sectionOf } from '../core/saved-json.js';

const Levels = z.strictObject({
  /** Count at which a warning is raised. */
  warning: z.number().int().positive().optional(),
  /** Count at which the finding is critical. */
  critical: z.number().int().positive().optional(),
});

const WindowSchema = z.strictObject({
  /** Window length in minutes of log time. */
  minutes: z.number().int().positive().max(7 * 24 * 60),
  /** Levels for messages (each message counted once, however many recipients). */
  messages: Levels.optional(),
  /** Levels for recipients (the sum of every message's recipients). */
  recipients: Levels.optional(),
});

export const DEFAULT_WINDOWS = [
  { minutes: 10, messages: { warning: 30, critical: 60 }, recipients: { warning: 150, critical: 400 } },
  { minutes: 60, messages: { warning: 70, critical: 90 }, recipients: { warning: 300, critical: 1000 } },
  { minutes: 1440, messages: { warning: 500, critical: 1000 }, recipients: { warning: 1500, critical: 4000 } },
];

const Options = z.strictObject({
  ...commonRuleOptions,
  /** Windows and their levels. Defaults follow the admin scripts this replaces (70/90 messages an hour). */
  windows: z.array(WindowSchema).min(1).default(DEFAULT_WINDOWS),
  /** Accounts (exact or patterns) whose levels are multiplied: a known heavy sender gets `factor: 5`. */
  overrides: z.array(z.strictObject({
    accounts: z.array(z.string().min(1)).min(1),
    factor: z.number().positive(),
  })).default([]),
});

type Window = z.output<typeof WindowSchema>;
type Metric = 'messages' | 'recipients';

const EVIDENCE_KEPT = 10;

interface AccountCounts {
  /** Parallel arrays of second buckets, oldest first, from `head`. */
  secs: number[];
  msgs: number[];
  rcpts: number[];
  /** Per window: first bucket index still inside, and running sums. */
  heads: number[];
  sumMsgs: number[];
  sumRcpts: number[];
  now: number;
  level: number;
  /** What the last finding of this episode reported, so a doubling is reported again. */
  reportedWindow: number;
  reportedMetric: Metric;
  reportedCount: number;
  recent: Evidence[];
}

const CountsSchema = z.object({
  secs: z.array(z.number()), msgs: z.array(z.number()), rcpts: z.array(z.number()),
  heads: z.array(z.number()), sumMsgs: z.array(z.number()), sumRcpts: z.array(z.number()),
  now: z.number(), level: z.number(), reportedWindow: z.number(), reportedMetric: z.enum(['messages', 'recipients']),
  reportedCount: z.number(),
});
/**
 * Version 2, for a state that holds every account of the last day: the accounts' recent
 * lines, nine tenths of it as plain JSON, were packed in one block as `evidence`, and an account is
 * `[account, now, level, reportedWindow, reportedMetric (0 messages, 1 recipients),
 * reportedCount, secs, msgs, rcpts, heads, sumMsgs, sumRcpts, lines]`: seconds counted
 * back from `now`, and the account's lines are the next `lines` of them. Version 1
 * (an object per account, lines inline) is still read.
 */
const SavedAccountSchema = z.tuple([
  z.string(), z.number(), z.number(), z.number(), z.number(), z.number(),
  z.array(z.number()), z.array(z.number()), z.array(z.number()), z.array(z.number()), z.array(z.number()), z.array(z.number()), z.number(),
]);
const SnapshotSchema = z.discriminatedUnion('v', [
  z.object({ v: z.literal(1), windows: z.array(z.number()), accounts: z.array(z.tuple([z.string(), CountsSchema.extend({ recent: z.array(EvidenceSchema) })])) }),
  z.object({ v: z.literal(2), windows: z.array(z.number()), evidence: PackedLinesSchema, accounts: z.array(SavedAccountSchema) }),
]);

/**
 * Version 3, for a cron run that touches a few hundred of thousands of accounts: each
 * account is a row `[account, now, text]` (see LazyAccounts), decoded only when a record
 * names it. The text is `counts|lines`: the counts `[level, reportedWindow,
 * reportedMetric (0 messages, 1 recipients), reportedCount, secs, msgs, rcpts, heads,
 * sumMsgs, sumRcpts]` with seconds counted back from `now` and msgs possibly ONE_EACH,
 * and the account's recent lines `[input, line number, text]` packed on their own
 * (TextPacker; `dict` names its dictionary), the input named by its place in `sources`.
 */
interface SavedV3 {
  readonly rows: SavedRow[];
  readonly sources: string[];
  readonly packer: TextPacker;
}

/**
 * Saved instead of the messages per second when each second holds one, as it does for
 * nearly every account that is not flooding: a tenth of a megabyte on a 12,000-account site.
 */
const ONE_EACH = 1;

/** Inputs named by more rows than this are renumbered: rotated file names would otherwise pile up. */
const MAX_SOURCES = 32;

function readV3(saved: unknown): SavedV3 | undefined {
  const o = sectionOf(saved);
  const rows = savedRows(o.accounts);
  const packer = TextPacker.fromSaved(o.dict);
  const sources = o.sources;
  if (o.v !== 3 || rows === undefined || packer === undefined || !isStringList(sources)) return undefined;
  return { rows, sources, packer };
}

/** Writes and reads the accounts' rows; owns the input names and the dictionary they share. */
class RowCodec {
  private readonly index = new Map<string, number>();

  constructor(private sources: string[], private readonly packer: TextPacker) {
    sources.forEach((s, i) => this.index.set(s, i));
  }

  decode(text: string, now: number): AccountCounts | undefined {
    const bar = text.indexOf('|');
    if (bar < 0) return undefined;
    let counts: unknown;
    try {
      counts = JSON.parse(text.slice(0, bar));
    } catch {
      return undefined;
    }
    if (!Array.isArray(counts) || counts.length !== 10) return undefined;
    const [level, reportedWindow, metric, reportedCount, ago, savedMsgs, rcpts, heads, sumMsgs, sumRcpts] = counts as unknown[];
    if (!isNumberList(ago)) return undefined;
    const msgs = savedMsgs === ONE_EACH ? ago.map(() => 1) : savedMsgs;
    if (typeof level !== 'number' || typeof reportedWindow !== 'number' || typeof metric !== 'number' || typeof reportedCount !== 'number'
      || !isNumberList(msgs) || !isNumberList(rcpts) || !isNumberList(heads) || !isNumberList(sumMsgs) || !isNumberList(sumRcpts)) return undefined;
    const recent = this.decodeLines(text.slice(bar + 1));
    if (recent === undefined) return undefined;
    return {
      secs: ago.map((a) => now - a), msgs, rcpts, heads, sumMsgs, sumRcpts, now, level,
      reportedWindow, reportedMetric: metric === 1 ? 'recipients' : 'messages', reportedCount, recent,
    };
  }

  private decodeLines(packed: string): Evidence[] | undefined {
    if (packed === '') return [];
    const json = this.packer.unpack(packed);
    return json === undefined ? undefined : linesOfJson(json, (i) => (typeof i === 'number' ? this.sources[i] : undefined));
  }

  encode(c: AccountCounts): string {
    const counts = JSON.stringify([
      c.level, c.reportedWindow, c.reportedMetric === 'recipients' ? 1 : 0, c.reportedCount,
      c.secs.map((t) => c.now - t), c.msgs.every((n) => n === 1) ? ONE_EACH : c.msgs, c.rcpts, c.heads, c.sumMsgs, c.sumRcpts,
    ]);
    return `${counts}|${c.recent.length === 0 ? '' : this.packer.pack(this.linesJson(c.recent))}`;
  }

  private linesJson(recent: readonly Evidence[]): string {
    return JSON.stringify(lineTuples(recent, (source) => {
      let i = this.index.get(source);
      if (i === undefined) {
        i = this.sources.length;
        this.sources.push(source);
        this.index.set(source, i);
      }
      return i;
    }));
  }

  /** Before a snapshot: a fresh list of inputs if too many piled up (every account decoded once, on the rare run that does this). */
  prepare(accounts: LazyAccounts<AccountCounts>): void {
    if (this.sources.length <= MAX_SOURCES) return;
    // Decoded entries are encoded again at the snapshot, against the new list.
    accounts.decodeAll();
    this.sources = [];
    this.index.clear();
  }

  saved(): { sources: string[]; dict: number } {
    return { sources: this.sources, dict: this.packer.saved() };
  }
}

/** A saved snapshot of any version as accounts; versions 1 and 2 are restored whole (once, on upgrade). */
function restoreAccounts(saved: unknown, windowsKey: string): { accounts: LazyAccounts<AccountCounts>; lines: RowCodec } {
  const v3 = readV3(saved);
  // Saved windows only fit if the configured windows are the same ones.
  const sameWindows = (w: unknown): boolean => Array.isArray(w) && w.join() === windowsKey;
  if (v3 !== undefined && sameWindows((saved as { windows?: unknown }).windows)) {
    const lines = new RowCodec(v3.sources, v3.packer);
    return { accounts: new LazyAccounts((text, _account, now) => lines.decode(text, now), v3.rows), lines };
  }
  const lines = new RowCodec([], TextPacker.current());
  const accounts = new LazyAccounts<AccountCounts>((text, _account, now) => lines.decode(text, now));
  const restored = SnapshotSchema.safeParse(saved);
  if (!restored.success || !sameWindows(restored.data.windows)) return { accounts, lines };
  const old = restored.data;
  if (old.v === 1) {
    for (const [k, v] of old.accounts) accounts.set(k, v);
    return { accounts, lines };
  }
  const evidence = unpackLines(old.evidence);
  let next = 0;
  for (const [k, now, level, reportedWindow, metric, reportedCount, secs, msgs, rcpts, heads, sumMsgs, sumRcpts, n] of old.accounts) {
    accounts.set(k, {
      secs: secs.map((ago) => now - ago), msgs, rcpts, heads, sumMsgs, sumRcpts, now, level,
      reportedWindow, reportedMetric: metric === 1 ? 'recipients' : 'messages', reportedCount, recent: evidence.slice(next, next + n),
    });
    next += n;
  }
  return { accounts, lines };
}

function levelOf(count: number, levels: { warning?: number | undefined; critical?: number | undefined } | undefined, factor: number): number {
  if (!levels) return -1;
  if (levels.critical !== undefined && count >= levels.critical * factor) return SEVERITY_RANK.critical;
  if (levels.warning !== undefined && count >= levels.warning * factor) return SEVERITY_RANK.warning;
  return -1;
}

function describeWindow(minutes: number): string {
  if (minutes % 1440 === 0) return minutes === 1440 ? '24 h' : `${minutes / 1440} days`;
  if (minutes % 60 === 0) return `${minutes / 60} h`;
  return `${minutes} min`;
}

/** Buckets out of every window that an account drops at once (see addMessage). */
const COMPACT_AT = 16;

function newCounts(windows: number): AccountCounts {
  return {
    secs: [], msgs: [], rcpts: [], heads: new Array<number>(windows).fill(0),
    sumMsgs: new Array<number>(windows).fill(0), sumRcpts: new Array<number>(windows).fill(0),
    now: 0, level: -1, reportedWindow: -1, reportedMetric: 'messages', reportedCount: 0, recent: [],
  };
}

function resetCounts(c: AccountCounts): void {
  c.secs = [];
  c.msgs = [];
  c.rcpts = [];
  c.heads.fill(0);
  c.sumMsgs.fill(0);
  c.sumRcpts.fill(0);
  c.level = -1;
  c.reportedCount = 0;
  c.recent = [];
}

/** Drops buckets no window reaches any more, so a saved account holds only what counts. */
function compact(c: AccountCounts): void {
  const minHead = Math.min(...c.heads);
  if (minHead <= 0) return;
  dropFront(c.secs, minHead);
  dropFront(c.msgs, minHead);
  dropFront(c.rcpts, minHead);
  c.heads = c.heads.map((h) => h - minHead);
}

/**
 * Adds one message at second `sec` and slides every window.
 *
 * A late record (correlators finish messages out of order; a second input may be
 * older) goes into its own second and counts only in the windows that still reach
 * back to it: clamping it to "now" would pile a whole older file onto one second.
 * A record older than every window means the input went back in time (another file
 * or host): the account's timeline starts again there, as a new episode.
 */
export function addMessage(c: AccountCounts, windows: readonly Window[], sec: number, recipients: number): void {
  if (sec < c.now && c.secs.length > 0) {
    const longest = Math.max(...windows.map((w) => w.minutes * 60));
    if (c.now - sec < longest) {
      insertLate(c, windows, sec, recipients);
      return;
    }
    resetCounts(c);
  }
  const t = sec;
  c.now = t;
  const last = c.secs.length - 1;
  if (last >= 0 && c.secs[last] === t) {
    c.msgs[last] = (c.msgs[last] ?? 0) + 1;
    c.rcpts[last] = (c.rcpts[last] ?? 0) + recipients;
  } else {
    c.secs.push(t);
    c.msgs.push(1);
    c.rcpts.push(recipients);
  }
  let minHead = c.secs.length;
  for (let i = 0; i < windows.length; i++) {
    let sumMsgs = (c.sumMsgs[i] ?? 0) + 1;
    let sumRcpts = (c.sumRcpts[i] ?? 0) + recipients;
    let h = c.heads[i] ?? 0;
    const edge = t - (windows[i]?.minutes ?? 0) * 60;
    while (h < c.secs.length && (c.secs[h] ?? 0) <= edge) {
      sumMsgs -= c.msgs[h] ?? 0;
      sumRcpts -= c.rcpts[h] ?? 0;
      h++;
    }
    c.sumMsgs[i] = sumMsgs;
    c.sumRcpts[i] = sumRcpts;
    c.heads[i] = h;
    if (h < minHead) minHead = h;
  }
  // Drop buckets no window needs any more, in batches so the arrays are not shifted per
  // message: once they are at least half the arrays (amortised O(1) per message). The batch
  // is small because most accounts send a few hundred messages a day: with 1,024 it was
  // never reached, and a scan kept every account's every message second (20 MB on 1 GB).
  if (minHead >= COMPACT_AT && minHead * 2 > c.secs.length) compact(c);
}

/** A record before `c.now` but inside the longest window: into its own second, counted where it falls. */
function insertLate(c: AccountCounts, windows: readonly Window[], sec: number, recipients: number): void {
  let i = c.secs.length - 1;
  while (i >= 0 && (c.secs[i] ?? 0) > sec) i--;
  const merged = i >= 0 && c.secs[i] === sec;
  if (merged) {
    c.msgs[i] = (c.msgs[i] ?? 0) + 1;
    c.rcpts[i] = (c.rcpts[i] ?? 0) + recipients;
  } else {
    c.secs.splice(i + 1, 0, sec);
    c.msgs.splice(i + 1, 0, 1);
    c.rcpts.splice(i + 1, 0, recipients);
  }
  windows.forEach((w, k) => {
    if (sec > c.now - w.minutes * 60) {
      c.sumMsgs[k] = (c.sumMsgs[k] ?? 0) + 1;
      c.sumRcpts[k] = (c.sumRcpts[k] ?? 0) + recipients;
    } else if (!merged) {
      // The new bucket sits before this window's first bucket: keep the head on that bucket.
      c.heads[k] = (c.heads[k] ?? 0) + 1;
    }
  });
}

export const sendsPerAccount = defineRule({
  name: 'sends-per-account',
  description: 'Messages and recipients per authenticated account per sliding window (warning and critical levels per window).',
  options: Options,
  consumes: ['submission'],
  create(opts, _ctx, saved) {
    const longestSec = Math.max(...opts.windows.map((w) => w.minutes * 60));
    const windowsKey = opts.windows.map((w) => w.minutes).join();
    const { accounts, lines } = restoreAccounts(saved, windowsKey);
    const overrides = opts.overrides.map((o) => ({ accounts: new PatternSet(o.accounts), factor: o.factor }));
    const factorCache = new Map<string, number>();
    const factorOf = (account: string): number => {
      let f = factorCache.get(account);
      if (f === undefined) {
        f = overrides.find((o) => o.accounts.has(account))?.factor ?? 1;
        factorCache.set(account, f);
      }
      return f;
    };

    return {
      onRecord(r, emit) {
        const s = r as Submission;
        let c = accounts.get(s.account);
        if (!c) {
          c = newCounts(opts.windows.length);
          accounts.set(s.account, c);
        }
        addMessage(c, opts.windows, Math.floor(s.at / 1000), s.recipientCount);
        for (let i = 0; i < s.evidence.length && i < 3; i++) pushRecent(c.recent, s.evidence[i], EVIDENCE_KEPT);

        const factor = overrides.length === 0 ? 1 : factorOf(s.account);
        // The highest level any window's count reaches, and the first window and metric that reach it.
        let best = -1;
        let bestWindow = 0;
        let bestMetric: Metric = 'messages';
        for (let i = 0; i < opts.windows.length; i++) {
          const w = opts.windows[i];
          if (!w) continue;
          const lm = levelOf(c.sumMsgs[i] ?? 0, w.messages, factor);
          if (lm > best) {
            best = lm;
            bestWindow = i;
            bestMetric = 'messages';
          }
          const lr = levelOf(c.sumRcpts[i] ?? 0, w.recipients, factor);
          if (lr > best) {
            best = lr;
            bestWindow = i;
            bestMetric = 'recipients';
          }
        }
        if (best < 0) {
          c.level = -1;
          c.reportedCount = 0;
          return;
        }
        const bestW = opts.windows[bestWindow];
        if (!bestW) return;
        let why: { w: Window; metric: Metric; count: number } = {
          w: bestW, metric: bestMetric, count: bestMetric === 'messages' ? (c.sumMsgs[bestWindow] ?? 0) : (c.sumRcpts[bestWindow] ?? 0),
        };
        // Already critical, and what was reported has since doubled: that is news too
        // (below critical, the next news is reaching critical).
        const reportedNow = c.reportedWindow < 0 ? 0
          : c.reportedMetric === 'messages' ? (c.sumMsgs[c.reportedWindow] ?? 0) : (c.sumRcpts[c.reportedWindow] ?? 0);
        const doubled = best === SEVERITY_RANK.critical && best === c.level && c.reportedCount > 0 && reportedNow >= 2 * c.reportedCount;
        if (best <= c.level && !doubled) return;
        if (doubled) {
          const w = opts.windows[c.reportedWindow];
          if (w) why = { w, metric: c.reportedMetric, count: reportedNow };
        }
        c.level = best;
        const severity: Severity = best === SEVERITY_RANK.critical ? 'critical' : 'warning';
        const { w, metric, count } = why;
        const lv = w[metric];
        const idx = opts.windows.indexOf(w);
        const threshold = Math.ceil((severity === 'critical' ? lv?.critical ?? 0 : lv?.warning ?? 0) * factor);
        const previous = c.reportedCount;
        c.reportedWindow = idx;
        c.reportedMetric = metric;
        c.reportedCount = count;
        emit({
          rule: 'sends-per-account', account: s.account, severity, at: s.at,
          message: doubled
            ? `${count} ${metric} in ${describeWindow(w.minutes)}, doubled since ${previous} was reported (${severity} at ${threshold})`
            : `${count} ${metric} in ${describeWindow(w.minutes)} (${severity} at ${threshold})`,
          data: {
            window_minutes: w.minutes, metric, count,
            messages: c.sumMsgs[idx] ?? 0, recipients: c.sumRcpts[idx] ?? 0,
            threshold,
          },
          evidence: c.recent.slice(),
        });
      },
      snapshot() {
        lines.prepare(accounts);
        const latest = accounts.latest((c) => c.now);
        const rows = accounts.rows((c) => c.now, (now) => latest - now < longestSec, (c) => {
          compact(c);
          c.recent = c.recent.map(evidenceForState);
          return lines.encode(c);
        });
        return { v: 3, accounts: rows, windows: opts.windows.map((w) => w.minutes), ...lines.saved() };
      },
    };
  },
});
