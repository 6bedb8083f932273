/**
 * new-sender-host: sending or logging in from a network (/24 IPv4, /48 IPv6) the account
 * has not used in the last `days` days, outside the trusted networks. Learned per
 * account in log time, so an ad-hoc scan learns from the earlier part of its input and
 * cron mode across runs.
 *
 * A new network alone is weak evidence (people travel, ISPs renumber): info. Its value
 * is as context for everything else the account does from there, so `data` carries
 * `client_ip` and `network` for the layer that weighs findings per account.
 *
 * Networks rather than addresses: a home line or a mobile carrier hands out another
 * address in the same pool every day, and that is not news. During the warm-up
 * (`warmupDays` since the account was first seen) every network is new and is only
 * learned. Records without an address, or from trusted networks, count as history.
 */
import { z } from 'zod';
import type { AuthSuccess, Submission } from '../core/types.js';
import { commonRuleOptions, SeveritySchema } from '../config/schema.js';
import { canonicalAddress, networkOf } from './client-address.js';
import { defineRule } from './types.js';
import { trustedFor } from './rule-support.js';
import { LazyAccounts, savedRows } from '../core/lazy-accounts.js';
import { isFiniteNumber } from '../core/saved-json.js';

const DAY = 86_400_000;

/** An account not seen for this long is forgotten (and warms up again if it comes back). */
const IDLE_DAYS_KEPT = 365;

const Options = z.strictObject({
  ...commonRuleOptions,
  /** Severity of a new network. */
  severity: SeveritySchema.default('info'),
  /** A network not used by the account for this many days is new again. */
  days: z.number().int().positive().max(3650).default(30),
  /** Days an account must have been seen before a network can be new to it (everything is new at first). */
  warmupDays: z.number().min(0).default(7),
  /** Networks remembered per account; beyond it the least recently used is forgotten (bounds the state of roaming users). */
  maxNetworks: z.number().int().positive().max(1000).default(32),
});

interface Profile {
  /** Day (UTC, days since epoch) first seen: the warm-up runs from here. */
  since: number;
  last: number;
  /** Network -> last day used. */
  nets: Map<string, number>;
}

/** The snapshot before accounts were saved as rows: still read, so an upgraded site keeps what it learned. */
const SnapshotV1Schema = z.object({
  v: z.literal(1),
  /** [account, since, last, [[network without its prefix length, days before last], ...]]: small numbers, short keys. */
  accounts: z.array(z.tuple([z.string(), z.number(), z.number(), z.array(z.tuple([z.string(), z.number()]))])),
});

/**
 * Rows `[account, last, text]` (see encodeProfile). `latest` is the day the last
 * snapshot pruned networks by: a row decoded later is pruned by it too.
 */
const SnapshotSchema = z.object({
  v: z.literal(2),
  latest: z.number(),
  accounts: z.unknown(),
});

/** `198.51.100.0/24` -> `198.51.100`, `2001:db8:1::/48` -> `2001:db8:1`: the prefix length follows from the family. */
const shortNetwork = (n: string): string => n.slice(0, n.lastIndexOf(n.includes(':') ? '::' : '.'));
const fullNetwork = (s: string): string => (s.includes(':') ? `${s}::/48` : `${s}.0/24`);
type SavedAccount = z.output<typeof SnapshotV1Schema>['accounts'][number];
/** A saved account without its name. */
type SavedProfile = SavedAccount extends readonly [string, ...infer Rest] ? Rest : never;

/** A row's text: `since` counted back from `last`, then each network as `short/days before last`, space-separated (no `"`). */
function encodeProfile([since, last, nets]: SavedProfile): string {
  return [last - since, ...nets.map(([n, ago]) => `${n}/${ago}`)].join(' ');
}

/** Empty too: `::/48` (of an address like `::2`) shortens to nothing, and v1 read that back as it was. */
const SHORT_NETWORK = /^[0-9A-Fa-f.:]*$/;

/** The SavedProfile encodeProfile wrote (`last` is the row's stamp), or undefined for a damaged row. */
export function decodeProfile(text: string, last: number): SavedProfile | undefined {
  const [sinceBack = '', ...entries] = text.split(' ');
  const since = last - Number(sinceBack);
  if (sinceBack === '' || !isFiniteNumber(since)) return undefined;
  const nets: [string, number][] = [];
  for (const e of entries) {
    const slash = e.lastIndexOf('/');
    const n = e.slice(0, slash);
    const ago = Number(e.slice(slash + 1));
    if (slash < 0 || !SHORT_NETWORK.test(n) || slash === e.length - 1 || !isFiniteNumber(ago)) return undefined;
    nets.push([n, ago]);
  }
  return [since, last, nets];
}

/** Forgets the least recently used networks beyond `max`. */
function capNetworks(nets: Map<string, number>, max: number): void {
  if (nets.size <= max) return;
  const drop = [...nets].sort((a, b) => a[1] - b[1]).slice(0, nets.size - max);
  for (const [n] of drop) nets.delete(n);
}

export const newSenderHost = defineRule({
  name: 'new-sender-host',
  description: 'Sending or login from a network (/24, /48) the account has not used in the last 30 days (learned), outside the trusted networks.',
  options: Options,
  consumes: ['submission', 'auth-success'],
  create(opts, ctx, saved) {
    const profileOf = ([since, last, nets]: SavedProfile): Profile =>
      ({ since, last, nets: new Map(nets.map(([n, ago]) => [fullNetwork(n), last - ago])) });
    /** The day the restored snapshot pruned networks by. */
    let prunedDay = 0;
    const decode = (text: string, _account: string, stamp: number): Profile | undefined => {
      const saved = decodeProfile(text, stamp);
      if (!saved) return undefined;
      const p = profileOf(saved);
      // As each snapshot since it was written would have pruned it.
      for (const [n, d] of p.nets) if (prunedDay - d > opts.days) p.nets.delete(n);
      return p;
    };
    let accounts = new LazyAccounts(decode);
    const restored = SnapshotSchema.safeParse(saved);
    const rows = restored.success ? savedRows(restored.data.accounts) : undefined;
    if (restored.success && rows) {
      prunedDay = restored.data.latest;
      accounts = new LazyAccounts(decode, rows);
    }
    const restoredV1 = restored.success ? undefined : SnapshotV1Schema.safeParse(saved);
    if (restoredV1?.success) for (const [account, ...rest] of restoredV1.data.accounts) accounts.set(account, profileOf(rest));
    return {
      onRecord(record, emit) {
        const r = record as Submission | AuthSuccess;
        const day = Math.floor(r.at / DAY);
        let p = accounts.get(r.account);
        // With nothing seen before, nothing can be new (even without a warm-up).
        const firstSight = !p;
        if (!p) {
          p = { since: day, last: day, nets: new Map() };
          accounts.set(r.account, p);
        }
        p.since = Math.min(p.since, day);
        p.last = Math.max(p.last, day);
        const ip = canonicalAddress(r.clientIp);
        if (ip === undefined || trustedFor(ctx, r.account, ip)) return;

        const network = networkOf(ip);
        const lastUsed = p.nets.get(network);
        const known = lastUsed !== undefined && day - lastUsed <= opts.days;
        const warm = !firstSight && day - p.since >= opts.warmupDays;
        p.nets.set(network, Math.max(lastUsed ?? day, day));
        capNetworks(p.nets, opts.maxNetworks);
        if (known || !warm) return;

        const others = [...p.nets].filter(([n, d]) => n !== network && day - d <= opts.days).length;
        emit({
          rule: 'new-sender-host', account: r.account, at: r.at, severity: opts.severity,
          message: `${r.kind === 'submission' ? 'sent' : 'logged in'} from ${ip} in ${network}, a network not used by this account in ${opts.days} days`
            + (others > 0 ? ` (${others} other${others === 1 ? '' : 's'} known)` : ''),
          data: {
            client_ip: ip, network, known_networks: others, history_days: day - p.since,
            ...(lastUsed !== undefined ? { last_used_days_ago: day - lastUsed } : {}),
            ...(r.service ? { service: r.service } : {}),
          },
          evidence: r.evidence.slice(0, 3),
        });
      },
      snapshot() {
        const latest = accounts.latest((p) => p.last);
        const text = (p: Profile): string => encodeProfile([
          p.since, p.last, [...p.nets].filter(([, d]) => latest - d <= opts.days).map(([n, d]): [string, number] => [shortNetwork(n), p.last - d]),
        ]);
        return { v: 2, latest, accounts: accounts.rows((p) => p.last, (last) => latest - last <= IDLE_DAYS_KEPT, text) };
      },
    };
  },
});
