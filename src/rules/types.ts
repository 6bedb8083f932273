import type { z } from 'zod';
import type { Finding, MailRecord, RecordKind } from '../core/types.js';
import type { NetMatcher } from '../core/net.js';
import type { PatternSet } from '../core/glob.js';
import type { OfficeHours } from '../config/schema.js';

/** What every rule may ask about the site, resolved once from the config. */
export interface RuleContext {
  readonly trusted: NetMatcher;
  /** Addresses and patterns the account may send as (besides itself and sub-addresses). */
  aliasesOf(account: string): PatternSet | undefined;
  /** Office hours in force for the account (account > first group > global). */
  officeHoursOf(account: string): ResolvedOfficeHours;
  /** Networks the account may also use (account and group settings, on top of `trusted`). */
  trustedFor(account: string): NetMatcher | undefined;
  readonly defaultDomain?: string | undefined;
  /**
   * The run reads several inputs one after the other (a scan of a failures log and a mail
   * log, a cron run catching up on two logs), so records may go back in time to what an
   * earlier input left: a rule must then keep, until its snapshot, what it would otherwise
   * forget while it runs once its windows are past.
   */
  readonly severalInputs?: boolean;
}

export interface ResolvedOfficeHours extends OfficeHours {
  readonly timezone: string;
}

export type Emit = (finding: Finding) => void;

export interface RuleInstance {
  onRecord(record: MailRecord, emit: Emit): void;
  /**
   * JSON-serialisable windows and episodes, pruned of what can no longer matter, so a
   * cron run continues where the last one stopped (every rule in the registry has one;
   * a test checks). `create` gets it back as `saved`.
   */
  snapshot?(): unknown;
}

/** One signal. File name = registry key = `name` (a kebab-case condition). */
export interface RuleDefinition<O extends z.ZodType> {
  readonly name: string;
  /** One sentence for `--help` and the README. */
  readonly description: string;
  /** Options with defaults; `enabled` and `exempt` are added for every rule by the config. */
  readonly options: O;
  /** Record kinds the engine should hand this rule; others never reach it. */
  readonly consumes: readonly RecordKind[];
  /** `saved` is a previous instance's snapshot (cron mode), or undefined; an unusable one is ignored. */
  create(options: z.output<O>, ctx: RuleContext, saved?: unknown): RuleInstance;
}

/** A rule with its option type hidden, so the registry holds every rule in one list. */
export interface Rule {
  readonly name: string;
  readonly description: string;
  readonly options: z.ZodType;
  readonly consumes: readonly RecordKind[];
  instantiate(options: unknown, ctx: RuleContext, saved?: unknown): RuleInstance;
}

export function defineRule<O extends z.ZodType>(def: RuleDefinition<O>): Rule {
  return {
    name: def.name,
    description: def.description,
    options: def.options,
    consumes: def.consumes,
    // Options reach here already validated by the config schema built from `def.options`.
    instantiate: (options, ctx, saved) => def.create(def.options.parse(options), ctx, saved),
  };
}
