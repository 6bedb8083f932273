/**
 * bounces: recipients of an account's mail that the world refused. A spam run from a
 * stolen account goes to bought or guessed lists, and a large part bounces; a person
 * writes to addresses that exist.
 *
 * Per account, in a sliding window of log time: the distinct recipients whose final
 * result was a bounce (`bounced`, Kerio's and the MTA's `failed`, and `expired`:
 * given up and returned to the sender), and the delivered results. `deferred` is not a
 * final result and never counts. A bounced recipient counts once per window however
 * often it is reported (a repeated report, a second message to the same dead address:
 * the number that matters is how many addresses were bad). Deliveries carry no message
 * id, so "once per message and recipient" can only be "once per recipient".
 *
 * Levels: an absolute number of bounced recipients, and a share of bounced recipients
 * among delivered + bounced once at least `minRecipients` results are in. Within an
 * episode a finding is raised only when the level rises; it ends when both are back
 * below half their warning levels (a share hovering at 30 % is one episode). Submissions only supply the client address for the finding.
 * Deliveries without an account (the correlator could not tie them to a login) are not
 * counted.
 */
import { z } from 'zod';
import { SEVERITY_RANK, type Delivery, type Evidence, type Submission } from '../core/types.js';
import { commonRuleOptions } from '../config/schema.js';
import { defineRule, type Emit } from './types.js';
import {
  capMap, countsHeld, describeMinutes, dropFront, evidenceForState, EvidenceSchema, hash32Lower, percent, pushRecent, severityOfRank,
} from './rule-support.js';
import { LazyAccounts, savedRows } from '../core/lazy-accounts.js';
import { isNumberList, listOf, sectionOf } from '../core/saved-json.js';

const Share = z.number().positive().max(1);

const Options = z.strictObject({
  ...commonRuleOptions,
  /** Window in minutes of log time. */
  windowMinutes: z.number().int().positive().max(7 * 24 * 60).default(60),
  /** Distinct bounced recipients in the window that raise a warning. */
  warningBounces: z.number().int().positive().default(100),
  /** Distinct bounced recipients that make it critical. */
  criticalBounces: z.number().int().positive().default(300),
  /** Delivered + bounced recipients in the window before a share is judged. */
  minRecipients: z.number().int().positive().default(20),
  /** Share of bounced among delivered + bounced that raises a warning (0.3 = 30 %). */
  warningShare: Share.default(0.3),
  /** Share that makes it critical. */
  criticalShare: Share.default(0.6),
})
  .refine((o) => o.criticalBounces >= o.warningBounces, { message: 'must be at least warningBounces', path: ['criticalBounces'] })
  .refine((o) => o.criticalShare >= o.warningShare, { message: 'must be at least warningShare', path: ['criticalShare'] });

type Opts = z.output<typeof Options>;

const EVIDENCE_KEPT = 3;
/** Bounced recipients remembered per account: far above the critical level. */
const MAX_BOUNCED = 5_000;
const BOUNCE: ReadonlySet<Delivery['status']> = new Set(['bounced', 'failed', 'expired']);

interface AccountBounces {
  /** Delivered results per minute as flat pairs `minute, count, minute, count...`, oldest first (no array per minute). */
  sent: number[];
  /** Hashed bounced recipient -> epoch second of its latest bounce; re-inserted on update, so oldest first. */
  bounced: Map<number, number>;
  /** Latest delivery result or submission, epoch seconds. */
  now: number;
  level: number;
  /** Client address of the account's latest submission. */
  client?: string;
  /** Latest bounce lines with the hashed recipient: quoted only while that bounce is in the window. */
  recent: [number, Evidence][];
}

/**
 * Compact, since every account that mailed in the last window is in it: `sent` is
 * `[first minute, count per minute from there...]`, `bounced` is flat
 * `[hash, seconds before now, ...]` in insertion order.
 */
const SavedRecentSchema = z.array(z.tuple([z.number(), EvidenceSchema]));
/**
 * Versions 1 and 2, still read when a site upgrades. Version 2 wrote an account as
 * `[account, now, level, sent, bounced, recent, client or null]`: version 1's object
 * spelled its six names out for every account.
 */
const SnapshotSchema = z.discriminatedUnion('v', [
  z.object({
    v: z.literal(1),
    window: z.number(),
    accounts: z.array(z.tuple([z.string(), z.object({
      sent: z.array(z.number()), bounced: z.array(z.number()),
      now: z.number(), level: z.number(), client: z.string().optional(), recent: SavedRecentSchema,
    })])),
  }),
  z.object({
    v: z.literal(2),
    window: z.number(),
    accounts: z.array(z.tuple([z.string(), z.number(), z.number(), z.array(z.number()), z.array(z.number()), SavedRecentSchema, z.string().nullable()])),
  }),
]);
type SavedAccount = Extract<z.output<typeof SnapshotSchema>, { v: 2 }>['accounts'][number];

/** Minute buckets as one dense run of counts (zeros for quiet minutes). */
function packSent(sent: readonly number[]): number[] {
  const first = sent[0];
  if (first === undefined) return [];
  const counts: number[] = [];
  for (let k = 0; k + 1 < sent.length; k += 2) {
    const i = (sent[k] ?? 0) - first;
    while (counts.length <= i) counts.push(0);
    counts[i] = (counts[i] ?? 0) + (sent[k + 1] ?? 0);
  }
  return [first, ...counts];
}

function unpackSent(packed: readonly number[]): number[] {
  const first = packed[0];
  if (first === undefined) return [];
  const out: number[] = [];
  packed.slice(1).forEach((c, i) => { if (c > 0) out.push(first + i, c); });
  return out;
}

/** Forgets what the window (ending at `a.now`) no longer holds; true when a bounce left. */
function prune(a: AccountBounces, windowSec: number): boolean {
  const edge = a.now - windowSec;
  const edgeMin = Math.floor(edge / 60);
  let n = 0;
  while (n < a.sent.length && (a.sent[n] ?? 0) <= edgeMin) n += 2;
  if (n > 0) dropFront(a.sent, n);
  if (a.bounced.size === 0) return false;
  const before = a.bounced.size;
  // Insertion order is time order except for late records, which stay a little longer.
  for (const [h, t] of a.bounced) {
    if (t > edge) break;
    a.bounced.delete(h);
  }
  return a.bounced.size < before;
}

function addSent(a: AccountBounces, minute: number): void {
  let i = a.sent.length - 2;
  while (i >= 0 && (a.sent[i] ?? 0) > minute) i -= 2;
  if (i >= 0 && a.sent[i] === minute) a.sent[i + 1] = (a.sent[i + 1] ?? 0) + 1;
  else if (i + 2 === a.sent.length) a.sent.push(minute, 1);
  else a.sent.splice(i + 2, 0, minute, 1);
}

interface Counts { bounced: number; delivered: number; total: number; share: number }

function countsOf(a: AccountBounces, windowSec: number): Counts {
  const from = Math.floor((a.now - windowSec) / 60);
  let delivered = 0;
  for (let k = 0; k + 1 < a.sent.length; k += 2) if ((a.sent[k] ?? 0) > from) delivered += a.sent[k + 1] ?? 0;
  const bounced = a.bounced.size;
  const total = delivered + bounced;
  return { bounced, delivered, total, share: total > 0 ? bounced / total : 0 };
}

function rankOf(c: Counts, o: Opts): { rank: number; by: 'count' | 'share' } {
  const byShare = c.total < o.minRecipients ? -1
    : c.share >= o.criticalShare ? SEVERITY_RANK.critical : c.share >= o.warningShare ? SEVERITY_RANK.warning : -1;
  const byCount = c.bounced >= o.criticalBounces ? SEVERITY_RANK.critical : c.bounced >= o.warningBounces ? SEVERITY_RANK.warning : -1;
  return byCount >= byShare ? { rank: byCount, by: 'count' } : { rank: byShare, by: 'share' };
}

/** Back below half of every warning level: the episode is over. In between, a share hovering at 30 % is one episode. */
function calm(c: Counts, o: Opts): boolean {
  return c.bounced * 2 < o.warningBounces && (c.total < o.minRecipients || c.share * 2 < o.warningShare);
}

function accountOf(now: number, level: number, sent: readonly number[], flatBounced: readonly number[], recent: [number, Evidence][], client: string | null): AccountBounces {
  const bounced = new Map<number, number>();
  for (let i = 0; i + 1 < flatBounced.length; i += 2) bounced.set(flatBounced[i] ?? 0, now - (flatBounced[i + 1] ?? 0));
  return { sent: unpackSent(sent), bounced, now, level, recent, ...(client !== null ? { client } : {}) };
}

/**
 * Row text (stamp: `now`): the client address and a newline when there is one, then JSON
 * `[level, sent, bounced]` as version 2 packed them, with `[[hash, source, lineNo, text], ...]`
 * appended for lines that could still be quoted. JSON holds no raw newline, so the last
 * one ends the address whatever it holds.
 */
function encodeRow(a: AccountBounces, recent: readonly [number, Evidence][]): string {
  const parts: unknown[] = [a.level, packSent(a.sent), [...a.bounced].flatMap(([h, t]) => [h, a.now - t])];
  if (recent.length > 0) parts.push(recent.map(([h, e]) => [h, e.source, e.lineNo, e.text]));
  return `${a.client !== undefined ? `${a.client}\n` : ''}${JSON.stringify(parts)}`;
}

function recentLineOf(e: unknown): [number, Evidence] | undefined {
  if (!Array.isArray(e) || e.length !== 4) return undefined;
  const [h, source, lineNo, text] = e as unknown[];
  if (typeof h !== 'number' || typeof source !== 'string' || typeof lineNo !== 'number' || typeof text !== 'string') return undefined;
  return [h, { source, lineNo, text }];
}

function decodeRow(text: string, now: number): AccountBounces | undefined {
  const nl = text.lastIndexOf('\n');
  let v: unknown;
  try {
    v = JSON.parse(text.slice(nl + 1));
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || v.length < 3 || v.length > 4) return undefined;
  const [level, sent, bounced, saved = []] = v as unknown[];
  const recent = listOf(saved, recentLineOf);
  if (typeof level !== 'number' || !Number.isInteger(level) || !isNumberList(sent) || !isNumberList(bounced) || !recent) return undefined;
  return accountOf(now, level, sent, bounced, recent, nl < 0 ? null : text.slice(0, nl));
}

function restore(saved: unknown, opts: Opts): LazyAccounts<AccountBounces> {
  const s = sectionOf(saved);
  const rows = s.v === 3 && s.window === opts.windowMinutes ? savedRows(s.accounts) : undefined;
  if (rows) return new LazyAccounts((text, _account, now) => decodeRow(text, now), rows);
  const accounts = new LazyAccounts<AccountBounces>(() => undefined);
  const r = SnapshotSchema.safeParse(saved);
  if (!r.success || r.data.window !== opts.windowMinutes) return accounts;
  const list: readonly SavedAccount[] = r.data.v === 2 ? r.data.accounts
    : r.data.accounts.map(([k, a]) => [k, a.now, a.level, a.sent, a.bounced, a.recent, a.client ?? null]);
  for (const [k, now, level, sent, flatBounced, recent, client] of list) accounts.set(k, accountOf(now, level, sent, flatBounced, recent, client));
  return accounts;
}

export const bounces = defineRule({
  name: 'bounces',
  description: 'Bounced recipients per account in a window: a number of dead addresses, or a share of what was sent (minimum volume).',
  options: Options,
  consumes: ['delivery', 'submission'],
  create(opts, ctx, saved) {
    const accounts = restore(saved, opts);
    const windowSec = opts.windowMinutes * 60;
    /** The fewest bounced recipients any finding can have: a share needs `warningShare` of at least `minRecipients`. */
    const fewestBounces = Math.min(opts.warningBounces, Math.ceil(opts.warningShare * opts.minRecipients - 1e-9));
    /**
     * Lines whose bounce has left `bounced` are dropped as soon as it leaves, so an account
     * keeps the lines of its bounces in the window, not the last lines it ever had. Nothing
     * quoted or saved changes once at least EVIDENCE_KEPT recipients are in the map: each
     * pushed its latest line after every dropped one (it entered the map after it, or it
     * would not have left first), so the last EVIDENCE_KEPT lines are theirs either way,
     * even when a recipient bounces again. A finding needs `fewestBounces` of them, and a
     * snapshot saves lines outside an episode only with `fewestBounces - EVIDENCE_KEPT + 1`,
     * hence at least 2 x EVIDENCE_KEPT - 1 (the defaults: 6). In an episode (level 0 or
     * more) nothing is dropped: the lines go on from the finding that began it, as they were.
     */
    const dropLeft = fewestBounces >= 2 * EVIDENCE_KEPT - 1;
    const forgetLeft = (a: AccountBounces): void => {
      if (dropLeft && a.level < 0 && a.recent.length > 0) a.recent = a.recent.filter(([h]) => a.bounced.has(h));
    };
    /** Accounts holding lines: the sweep looks at them only. */
    const withLines = new Set<AccountBounces>();
    /** The latest account's `now` (the snapshot's `latest`), and where the last sweep was. */
    let latest = 0;
    let swept = 0;
    /**
     * Drops the lines of accounts idle for a whole window, which the snapshot drops with the
     * account. While records come in time order, such an account's next delivery is at
     * `latest` or later and prunes every bounce it holds first, so these lines could no
     * longer be quoted (dropLeft). A delivery more than a window older than the newest
     * record (not in a log read in order) finds the account without them, as a cron run
     * restoring the snapshot would. Without this, every account that ever bounced kept
     * its last lines to the end of a scan (2 MB of a 1 GB log). Once per window of log
     * time, over the accounts holding lines only: amortised O(1) a record.
     */
    const sweep = (): void => {
      swept = latest;
      for (const a of withLines) {
        if (a.now <= latest - windowSec) a.recent = [];
        if (a.recent.length === 0) withLines.delete(a);
      }
    };
    const stateOf = (account: string, sec: number): AccountBounces => {
      let a = accounts.get(account);
      if (!a) {
        a = { sent: [], bounced: new Map(), now: sec, level: -1, recent: [] };
        accounts.set(account, a);
      } else if (a.recent.length > 0 && dropLeft) {
        // A restored account's lines too.
        withLines.add(a);
      }
      return a;
    };
    /** Follows `a.now`, which only rises; sweeps once per window. */
    const touched = (a: AccountBounces): void => {
      if (a.now <= latest) return;
      latest = a.now;
      // Several inputs may go back in time (ctx.severalInputs): their accounts keep their lines.
      if (dropLeft && ctx.severalInputs !== true && latest - swept >= windowSec) sweep();
    };

    const onSubmission = (s: Submission): void => {
      if (s.clientIp === undefined) return;
      const sec = Math.floor(s.at / 1000);
      const a = stateOf(s.account, sec);
      if (sec < a.now) return;
      a.now = sec;
      a.client = s.clientIp;
      touched(a);
    };

    const onDelivery = (d: Delivery, emit: Emit): void => {
      const bounce = BOUNCE.has(d.status);
      if (d.account === undefined || (!bounce && d.status !== 'sent')) return;
      const sec = Math.floor(d.at / 1000);
      const a = stateOf(d.account, sec);
      if (sec <= a.now - windowSec) return;
      if (sec > a.now) a.now = sec;
      touched(a);
      if (prune(a, windowSec)) forgetLeft(a);
      if (!bounce) {
        addSent(a, Math.floor(sec / 60));
      } else {
        const h = hash32Lower(d.recipient);
        const t = a.bounced.get(h);
        if (t !== undefined && t >= sec) return;
        a.bounced.delete(h);
        a.bounced.set(h, sec);
        if (a.bounced.size > MAX_BOUNCED) {
          capMap(a.bounced, MAX_BOUNCED);
          forgetLeft(a);
        }
        const line = d.evidence[0];
        pushRecent(a.recent, line && [h, line], EVIDENCE_KEPT);
        if (dropLeft && a.recent.length > 0) withLines.add(a);
        // A repeated report of the same address adds nothing.
        if (t !== undefined) return;
      }
      // Without a bounce in the window no level is reached, and the episode is over (rankOf, calm).
      if (a.bounced.size === 0) {
        a.level = -1;
        return;
      }
      const c = countsOf(a, windowSec);
      const { rank, by } = rankOf(c, opts);
      if (rank < 0) {
        if (calm(c, opts)) a.level = -1;
        return;
      }
      if (rank <= a.level) return;
      // Only lines of bounces still in the window are quoted, and a finding needs one.
      const evidence = a.recent.filter(([h]) => a.bounced.has(h)).map(([, e]) => e);
      if (evidence.length === 0) return;
      a.level = rank;
      const critical = rank === SEVERITY_RANK.critical;
      const why = by === 'count'
        ? `${severityOfRank(rank)} at ${critical ? opts.criticalBounces : opts.warningBounces} bounced`
        : `${severityOfRank(rank)} at ${percent(critical ? opts.criticalShare : opts.warningShare)}% of at least ${opts.minRecipients}`;
      emit({
        rule: 'bounces', account: d.account, severity: severityOfRank(rank), at: d.at,
        message: `${c.bounced} bounced recipients of ${c.total} (${percent(c.share)}%) in ${describeMinutes(opts.windowMinutes)} (${why})`,
        data: {
          bounced: c.bounced, delivered: c.delivered, percent_bounced: percent(c.share), window_minutes: opts.windowMinutes, by,
          ...(a.client !== undefined ? { client_ip: a.client } : {}),
        },
        evidence,
      });
    };

    return countsHeld({
      onRecord(r, emit) {
        if (r.kind === 'delivery') onDelivery(r, emit);
        else if (r.kind === 'submission') onSubmission(r);
      },
      snapshot() {
        const latest = accounts.latest((a) => a.now);
        // Pruning goes by the account's own now: a row no record touched is already pruned.
        const rows = accounts.rows((a) => a.now, (now) => now > latest - windowSec, (a) => {
          prune(a, windowSec);
          if (a.sent.length === 0 && a.bounced.size === 0 && a.client === undefined) return undefined;
          // Lines are saved only where they could still be quoted: an account with a bounce or
          // two (every account's lot) needs so many more before any finding that those fill the quote.
          const quotable = a.level >= 0 || a.bounced.size + EVIDENCE_KEPT > fewestBounces;
          return encodeRow(a, quotable ? a.recent.filter(([h]) => a.bounced.has(h)).map(([h, e]): [number, Evidence] => [h, evidenceForState(e)]) : []);
        });
        return { v: 3, window: opts.windowMinutes, accounts: rows };
      },
    }, () => {
      let lines = 0;
      for (const [, a] of accounts.entries()) lines += a.recent.length;
      return { lines };
    });
  },
});
