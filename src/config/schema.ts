/**
 * The configuration file, validated with zod. Every object is strict: a misspelt key
 * is an error naming its path, never silently ignored. Rule options come from each
 * rule's own schema (src/rules), so a new rule documents and validates itself.
 */
import { z } from 'zod';

// zod compiles an object's checks with `new Function` the first time it parses one, which
// pays off for many parses of one schema. sendwatch parses each schema (config, a rule's
// options, a saved section) once or twice a run: compiling cost 3-4 ms of every run's start.
z.config({ jitless: true });
import { parseCidr, PRIVATE_NETWORKS } from '../core/net.js';
import { isValidTimezone } from '../core/time.js';
import { AlertsSchema } from './alerts-schema.js';
import { IncidentOptionsSchema } from '../alerts/incidents.js';

export const Cidr = z.string().refine((s) => parseCidr(s) !== undefined, {
  message: 'not an IPv4/IPv6 address or network in CIDR form (e.g. 10.0.0.0/8, 2001:db8::/32)',
});

export const TimeZone = z.string().refine(isValidTimezone, { message: 'not an IANA time zone (e.g. Europe/Berlin, UTC)' });

export const SeveritySchema = z.enum(['info', 'warning', 'critical']);

const HHMM = z.string().regex(/^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'expected HH:MM (24-hour), e.g. 07:00');

export const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

export const OfficeHoursSchema = z.strictObject({
  /** Days on which sending is expected (for a night shift: the days a shift starts). */
  days: z.array(z.enum(DAYS)).default(['mon', 'tue', 'wed', 'thu', 'fri']),
  /** Local start of office hours, HH:MM. */
  start: HHMM.default('07:00'),
  /** Local end of office hours, HH:MM (exclusive). */
  end: HHMM.default('19:00'),
  /** IANA zone the hours are in; default: the global `officeHours.timezone`, then the top-level `timezone`. */
  timezone: TimeZone.optional(),
});
export type OfficeHours = z.output<typeof OfficeHoursSchema>;

export const AccountSchema = z.strictObject({
  /** Addresses this account may send as: exact (`dean@example.edu`) or patterns (`*@dept.example.edu`). */
  aliases: z.array(z.string().min(1)).default([]),
  /** Groups whose settings apply (office hours, trusted networks). */
  groups: z.array(z.string().min(1)).default([]),
  /** Office hours for this account alone. */
  officeHours: OfficeHoursSchema.optional(),
  /** Extra networks this account sends from legitimately (home office, a partner site). */
  trustedNetworks: z.array(Cidr).default([]),
});

export const GroupSchema = z.strictObject({
  /** Office hours for members (e.g. a night shift). */
  officeHours: OfficeHoursSchema.optional(),
  /** Extra networks members send from legitimately. */
  trustedNetworks: z.array(Cidr).default([]),
  /** Addresses every member may send as (a shared mailbox). */
  aliases: z.array(z.string().min(1)).default([]),
});

/** Options every rule has, whatever else it takes. */
export const commonRuleOptions = {
  /** Set false to switch the rule off. */
  enabled: z.boolean().default(true),
  /** Accounts (exact or `*` patterns) this rule never reports: a newsletter sender, a ticket system. */
  exempt: z.array(z.string().min(1)).default([]),
};

export const CommonRuleOptionsSchema = z.object(commonRuleOptions);

/** Where cron mode keeps its state; not a world-writable directory. */
export const DEFAULT_STATE_PATH = '/var/lib/sendwatch/state.json';

/** The config schema, built around the rule registry's option schemas and the parser names. */
export function buildConfigSchema(ruleOptions: ReadonlyMap<string, z.ZodType>, formats: readonly string[]) {
  const SourceSchema = z.strictObject({
    /** The live log file (rotated siblings next to it are found by sendwatch). */
    path: z.string().min(1),
    /** `auto` (detected from the first lines) or a parser name. */
    format: z.string().refine((f) => f === 'auto' || formats.includes(f), {
      message: `not a log format (known: auto, ${formats.join(', ')})`,
    }).default('auto'),
    /** Zone of this log's stamps when they have none; default: the top-level `timezone`. */
    timezone: TimeZone.optional(),
  });
  const rules: Record<string, z.ZodOptional<z.ZodType>> = {};
  for (const [name, schema] of ruleOptions) rules[name] = schema.optional();
  return z.strictObject({
    /** Editor hint; ignored by sendwatch. */
    $schema: z.string().optional(),
    /**
     * Free text for whoever edits the file (JSON has no comments), ignored by sendwatch:
     * one string or a list of lines. Allowed at the top level only, so a misspelt key
     * anywhere else is still an error.
     */
    $comment: z.union([z.string(), z.array(z.string())]).optional(),
    /** Zone of log stamps written without one (syslog, Kerio, MTA) and of office hours. Default: the host's. */
    timezone: TimeZone.optional(),
    /** Domain added to a bare login (`jdent` -> `jdent@example.edu`) before accounts are compared. */
    defaultDomain: z.string().min(1).optional(),
    /** Client networks that are "ours": sending from elsewhere is foreign. Default: private and loopback ranges. */
    trustedNetworks: z.array(Cidr).default([...PRIVATE_NETWORKS]),
    /** When sending is normal, for odd-hours. */
    officeHours: OfficeHoursSchema.prefault({}),
    /** Per-account settings, keyed by account address (lower case). */
    accounts: z.record(z.string(), AccountSchema).default({}),
    /** Named groups of settings that accounts join with `groups`. */
    groups: z.record(z.string(), GroupSchema).default({}),
    /** Accounts never counted by any rule: service accounts, sendwatch's own alert sender. */
    ignoreAccounts: z.array(z.string().min(1)).default([]),
    /** Options per rule, keyed by rule name. */
    rules: z.strictObject(rules).prefault({}),
    /** How findings of one account combine into one verdict (score, severity). */
    incidents: IncidentOptionsSchema.prefault({}),
    /** The logs `sendwatch run` watches (cron mode). */
    sources: z.array(SourceSchema).default([]),
    /** Cron mode's memory between runs. */
    state: z.strictObject({
      /** The state file (created 0600; its directory 0700 if sendwatch creates it). */
      path: z.string().min(1).default(DEFAULT_STATE_PATH),
      /** Hours an unfinished message is kept open across runs before it is completed or dropped. */
      openMessageHours: z.number().positive().max(24 * 30).default(120),
    }).prefault({}),
    /** E-mail alerts of `sendwatch run`; without this section new alerts go to stdout (cron mails them). */
    alerts: AlertsSchema.optional(),
  });
}
