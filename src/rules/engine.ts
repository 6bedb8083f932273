/**
 * Hands each record to the rules that consume its kind, after the global and
 * per-rule account allowlists. Findings go to the sink as they are raised.
 */
import { PatternSet } from '../core/glob.js';
import type { Finding, MailRecord, RecordKind } from '../core/types.js';
import { CommonRuleOptionsSchema } from '../config/schema.js';
import { selfAccounts, type Config } from '../config/load.js';
import { rules as registry } from './index.js';
import type { Rule, RuleContext, RuleInstance } from './types.js';

interface Active {
  readonly name: string;
  readonly instance: RuleInstance;
  readonly exempt: PatternSet;
}

export interface Engine {
  onRecord(record: MailRecord): void;
  /** Every active rule's state, by rule name, for the state file. */
  snapshot(): Record<string, unknown>;
  /** Rules that are switched on, by name. */
  readonly active: readonly string[];
}

export interface EngineOptions {
  readonly since?: number | undefined;
  readonly until?: number | undefined;
  readonly rules?: readonly Rule[];
  /** Rule states from the last cron run, by rule name. */
  readonly saved?: Readonly<Record<string, unknown>>;
}

export function createEngine(config: Config, ctx: RuleContext, sink: (f: Finding) => void, opts: EngineOptions = {}): Engine {
  const byKind = new Map<RecordKind, Active[]>();
  const active: string[] = [];
  const instances: Active[] = [];
  const ruleOptions = config.rules as Record<string, unknown>;
  for (const rule of opts.rules ?? registry) {
    const raw = ruleOptions[rule.name] ?? {};
    const common = CommonRuleOptionsSchema.parse(raw);
    if (!common.enabled) continue;
    active.push(rule.name);
    const a: Active = { name: rule.name, instance: rule.instantiate(raw, ctx, opts.saved?.[rule.name]), exempt: new PatternSet(common.exempt) };
    instances.push(a);
    for (const kind of rule.consumes) {
      const list = byKind.get(kind) ?? [];
      list.push(a);
      byKind.set(kind, list);
    }
  }
  const ignore = new PatternSet([...config.ignoreAccounts, ...selfAccounts(config)]);
  const ignoredCache = new Map<string, boolean>();
  const isIgnored = (account: string): boolean => {
    let v = ignoredCache.get(account);
    if (v === undefined) {
      v = ignore.has(account);
      if (ignoredCache.size > 100_000) ignoredCache.clear();
      ignoredCache.set(account, v);
    }
    return v;
  };
  const { since, until } = opts;
  return {
    active,
    snapshot() {
      const out: Record<string, unknown> = {};
      for (const a of instances) if (a.instance.snapshot) out[a.name] = a.instance.snapshot();
      return out;
    },
    onRecord(r) {
      if ((since !== undefined && r.at < since) || (until !== undefined && r.at >= until)) return;
      const account = r.account;
      if (account !== undefined && ignore.size > 0 && isIgnored(account)) return;
      const list = byKind.get(r.kind);
      if (!list) return;
      for (const a of list) {
        if (account !== undefined && a.exempt.size > 0 && a.exempt.has(account)) continue;
        a.instance.onRecord(r, sink);
      }
    },
  };
}
