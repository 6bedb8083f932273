/**
 * metermaid-quota: Messaging Server's own throttle counters (MeterMaid `Current status
 * for "KEY" in TABLE: COUNT / QUOTA`) reaching a fraction of their quota, per account
 * and table. Defaults follow the cron scripts this replaces: a warning at 70 % and
 * critical at 90 % of the quota.
 *
 * MeterMaid keeps a weighted, decaying average rather than an exact count over
 * `quota_time`, so COUNT is approximate; the finding says so. Episodes work as in the
 * other rules: within one (key, table) a finding is raised only when the level rises,
 * and the episode ends once the count is back below the warning fraction (or the key
 * has not been seen in that table for a day: MeterMaid may have restarted and lost its
 * counts), so the next climb is reported again.
 *
 * Keys that are not addresses (IP-keyed tables such as a PORT_ACCESS connection
 * throttle) name no account; they are read but only reported with `includeIpKeys`, and
 * then the finding's account is the key as logged.
 */
import { z } from 'zod';
import { SEVERITY_RANK, type Counter, type Evidence, type Severity } from '../core/types.js';
import { commonRuleOptions } from '../config/schema.js';
import { PatternSet } from '../core/glob.js';
import { defineRule } from './types.js';

const Fraction = z.number().positive().max(10);

const Options = z.strictObject({
  ...commonRuleOptions,
  /** Fraction of a table's quota at which a warning is raised (0.7 = 70 %). */
  warningFraction: Fraction.default(0.7),
  /** Fraction of a table's quota that makes it critical (0.9 = 90 %); at least `warningFraction`. */
  criticalFraction: Fraction.default(0.9),
  /** MeterMaid tables to watch, exact names or `*` patterns, case-insensitive. Default: every table. */
  tables: z.array(z.string().min(1)).min(1).default(['*']),
  /** Also report keys that are not addresses (IP-keyed tables); the finding's account is then the key. */
  includeIpKeys: z.boolean().default(false),
}).refine((o) => o.criticalFraction >= o.warningFraction, {
  message: 'must be at least warningFraction',
  path: ['criticalFraction'],
});

/** Counter lines kept per (key, table) as evidence: the climb that led to the finding. */
const EVIDENCE_KEPT = 5;

/**
 * Relative slack when comparing COUNT with fraction x QUOTA: 0.7 * 100 is
 * 70.00000000000001 in binary floating point, and 70 / 100 must still reach 70 %.
 */
const EPSILON = 1e-9;

/** A (key, table) not logged for this long starts afresh: its decaying count is long gone. */
const QUIET_END_MS = 24 * 3_600_000;

/** Keys tracked at most; beyond it, keys not in an episode are forgotten (IP-keyed tables can be large). */
const MAX_KEYS = 100_000;

interface Episode {
  /** -1 below the warning fraction, else the SEVERITY_RANK reported in this episode. */
  level: number;
  /** Latest status line seen (event time). */
  last: number;
  recent: Evidence[];
}

const EvidenceSchema = z.object({ source: z.string(), lineNo: z.number(), text: z.string() });
const SnapshotSchema = z.object({
  v: z.literal(1),
  episodes: z.array(z.tuple([z.string(), z.object({ level: z.number(), last: z.number(), recent: z.array(EvidenceSchema) })])),
});

/** `count` is at least `fraction` of `quota`, up to floating-point noise. */
export function reaches(count: number, quota: number, fraction: number): boolean {
  return count >= fraction * quota * (1 - EPSILON);
}

/** A number as a person writes it: at most 3 decimals, no trailing zeros. */
function tidy(n: number): number {
  return Math.round(n * 1000) / 1000;
}

export const metermaidQuota = defineRule({
  name: 'metermaid-quota',
  description: "MeterMaid throttle counters (Messaging Server) at a fraction of their quota, per account and table (MeterMaid's counts are decaying averages).",
  options: Options,
  consumes: ['counter'],
  create(opts, _ctx, saved) {
    const episodes = new Map<string, Episode>();
    const restored = SnapshotSchema.safeParse(saved);
    if (restored.success) for (const [k, v] of restored.data.episodes) episodes.set(k, { ...v, recent: v.recent.slice(-EVIDENCE_KEPT) });
    const tables = new PatternSet(opts.tables);
    // The engine applies `exempt` to accounts; a key reported in an account's place gets the same.
    const exemptKeys = new PatternSet(opts.exempt);
    const tableCache = new Map<string, boolean>();
    const watched = (table: string): boolean => {
      let v = tableCache.get(table);
      if (v === undefined) {
        v = tables.has(table);
        if (tableCache.size > 10_000) tableCache.clear();
        tableCache.set(table, v);
      }
      return v;
    };

    return {
      onRecord(r, emit) {
        const c = r as Counter;
        // A quota of 0 (or a damaged line) gives no fraction to compare.
        if (!(c.quota > 0) || !Number.isFinite(c.count)) return;
        const who = c.account ?? (opts.includeIpKeys ? c.key.toLowerCase() : undefined);
        if (who === undefined || !watched(c.table)) return;
        if (c.account === undefined && exemptKeys.size > 0 && exemptKeys.has(who)) return;
        const id = `${who}\0${c.table.toLowerCase()}`;
        let ep = episodes.get(id);
        if (!ep) {
          if (episodes.size >= MAX_KEYS) {
            for (const [k, e] of episodes) if (e.level < 0) episodes.delete(k);
          }
          ep = { level: -1, last: c.at, recent: [] };
          episodes.set(id, ep);
        } else if (c.at - ep.last > QUIET_END_MS) {
          ep.level = -1;
        }
        ep.last = Math.max(ep.last, c.at);
        ep.recent.push(...c.evidence.slice(0, 1));
        if (ep.recent.length > EVIDENCE_KEPT) ep.recent.splice(0, ep.recent.length - EVIDENCE_KEPT);

        const level = reaches(c.count, c.quota, opts.criticalFraction) ? SEVERITY_RANK.critical
          : reaches(c.count, c.quota, opts.warningFraction) ? SEVERITY_RANK.warning : -1;
        if (level < 0) {
          // Back below the warning fraction: the episode is over, the next climb is news.
          ep.level = -1;
          return;
        }
        if (level <= ep.level) return;
        ep.level = level;
        const severity: Severity = level === SEVERITY_RANK.critical ? 'critical' : 'warning';
        const fraction = severity === 'critical' ? opts.criticalFraction : opts.warningFraction;
        const percent = tidy((c.count / c.quota) * 100);
        emit({
          rule: 'metermaid-quota', account: who, severity, at: c.at,
          message: `${c.count} / ${c.quota} in table ${c.table} (MeterMaid's decaying count; ${percent}% of quota)`,
          data: {
            table: c.table, key: c.key, count: c.count, quota: c.quota, percent_of_quota: percent,
            threshold: tidy(fraction * c.quota),
            ...(c.host !== undefined ? { host: c.host } : {}),
          },
          evidence: ep.recent.slice(),
        });
      },
      snapshot() {
        // Only open episodes change a later answer; keys below the warning level start afresh.
        let latest = 0;
        for (const ep of episodes.values()) if (ep.last > latest) latest = ep.last;
        return { v: 1, episodes: [...episodes].filter(([, ep]) => ep.level >= 0 && latest - ep.last <= QUIET_END_MS) };
      },
    };
  },
});
