/**
 * Which findings become alerts. An alert's fingerprint is rule + account + severity.
 * While a condition goes on it is not sent again before the cooldown has passed
 * (log time); it is sent at once when it escalates: a higher severity, the same one
 * with its count at least doubled, or a rule that had not fired for the account.
 * Pure: findings and memory in, alerts and new memory out.
 */
import { SEVERITY_RANK, type Finding, type Severity } from '../core/types.js';
import { fingerprintOf, type AlertMemory } from '../state/schema.js';
import type { Alert } from './types.js';

export interface PolicyOptions {
  readonly minSeverity: Severity;
  readonly cooldownMs: number;
  /** Log time of the newest record this run saw: ages the memory even when nothing fired. */
  readonly now?: number;
  /**
   * Whether a finding may be mailed at all; by default its own severity against
   * `minSeverity`. Cron mode asks its account's incident instead (one verdict per account).
   */
  readonly accept?: (f: Finding) => boolean;
}

/** How big the condition is, for "the count doubled": the rule's main number. */
export function magnitudeOf(f: Finding): number {
  for (const key of ['count', 'messages', 'mismatches', 'distinct_foreign_hosts', 'distinct_senders']) {
    const v = f.data[key];
    if (typeof v === 'number' && v > 0) return v;
  }
  return 1;
}

export { fingerprintOf };

/** Memory older than this (and the cooldown) is forgotten: the state file stays bounded. */
const FORGET_AFTER_MS = 7 * 24 * 3_600_000;

export function decideAlerts(
  findings: readonly Finding[], memory: Readonly<Record<string, AlertMemory>>, opts: PolicyOptions,
): { alerts: Alert[]; memory: Record<string, AlertMemory> } {
  // A map: copying and filtering an object of thousands of fingerprints cost 6-12 ms a run.
  const mem = new Map(Object.entries(memory));
  const alerts: Alert[] = [];
  const minRank = SEVERITY_RANK[opts.minSeverity];
  const ordered = [...findings].sort((a, b) => a.at - b.at);
  let latest = opts.now ?? 0;
  for (const f of ordered) {
    if (f.at > latest) latest = f.at;
    if (opts.accept ? !opts.accept(f) : SEVERITY_RANK[f.severity] < minRank) continue;
    const fp = fingerprintOf(f);
    const size = magnitudeOf(f);
    const known = mem.get(fp);
    // A higher level of the same rule sent recently already says more than this one.
    const higher = (['critical', 'warning'] as const).filter((s) => SEVERITY_RANK[s] > SEVERITY_RANK[f.severity])
      .map((s) => mem.get(fingerprintOf({ ...f, severity: s })))
      .find((m) => m !== undefined && f.at - m.lastSent < opts.cooldownMs);
    if (higher) continue;
    let reason: Alert['reason'];
    if (known && f.at - known.lastSent < opts.cooldownMs) {
      if (size < 2 * known.magnitude) {
        mem.set(fp, { ...known, lastSeen: Math.max(known.lastSeen, f.at) });
        continue;
      }
      reason = 'escalated';
    } else if (known) {
      reason = f.at - known.lastSeen > opts.cooldownMs ? 'new' : 'reminder';
    } else {
      const lower = (['info', 'warning'] as const).some((s) => SEVERITY_RANK[s] < SEVERITY_RANK[f.severity] && mem.has(fingerprintOf({ ...f, severity: s })));
      reason = lower ? 'escalated' : 'new';
    }
    alerts.push({
      fingerprint: fp, rule: f.rule, account: f.account, severity: f.severity, reason,
      firstSeen: known && reason === 'reminder' ? known.firstSeen : f.at, lastSeen: f.at,
      message: f.message, data: f.data, evidence: f.evidence,
    });
    mem.set(fp, {
      rule: f.rule, account: f.account, severity: f.severity,
      firstSeen: known && reason !== 'new' ? known.firstSeen : f.at,
      lastSeen: f.at, lastSent: f.at, magnitude: size, sent: (known?.sent ?? 0) + 1,
    });
  }
  const forgetMs = Math.max(opts.cooldownMs, FORGET_AFTER_MS);
  const kept: Record<string, AlertMemory> = {};
  for (const [fp, m] of mem) if (latest - m.lastSeen <= forgetMs) kept[fp] = m;
  return { alerts, memory: kept };
}
