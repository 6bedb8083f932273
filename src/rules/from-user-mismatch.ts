/**
 * from-user-mismatch: the envelope sender (and the header From where the log has
 * it) is not the authenticated account, one of its aliases, or a sub-address of it.
 * Postfix's own "not owned by user" rejections count as the same evidence.
 *
 * Per account, mismatches close together (less than `windowMinutes` apart) form one
 * episode: its first mismatch gives a finding at `severity`, and reaching
 * `criticalDistinctSenders` different forged senders makes it critical.
 */
import { z } from 'zod';
import { splitAddress, stripAngles, stripSubaddress } from '../core/address.js';
import type { Evidence, MailRecord } from '../core/types.js';
import { commonRuleOptions, SeveritySchema } from '../config/schema.js';
import { defineRule, type RuleContext } from './types.js';

const Options = z.strictObject({
  ...commonRuleOptions,
  /** Severity of the first mismatch in an episode. */
  severity: SeveritySchema.default('warning'),
  /** This many different forged senders in one episode make it critical. */
  criticalDistinctSenders: z.number().int().positive().default(3),
  /** Mismatches less than this far apart (log time) belong to one episode. */
  windowMinutes: z.number().int().positive().default(60),
  /** Sub-address delimiters (`alice+news@` is alice). Empty string: none. */
  subaddressDelimiters: z.string().default('+'),
  /** Also compare the header From when the log has it (Postfix header_checks, MTA LOG_HEADER). */
  checkHeaderFrom: z.boolean().default(true),
});
type Opts = z.output<typeof Options>;

/** The address inside a header From (`"Name" <a@b>` -> `a@b`, `a@b (Name)` -> `a@b`), lower-cased. */
export function headerAddress(value: string): string {
  const close = value.lastIndexOf('>');
  const open = close < 0 ? -1 : value.lastIndexOf('<', close);
  if (open >= 0) return value.slice(open + 1, close).trim().toLowerCase();
  // No angle brackets: the address is the first word (RFC 822 `a@b (Name)`, or a list `a@b, c@d`).
  const t = value.trim();
  let end = 0;
  while (end < t.length && t[end] !== ' ' && t[end] !== '(' && t[end] !== ',') end++;
  return t.slice(0, end).toLowerCase();
}

/** True when `from` is a sender the account may legitimately use. */
export function senderAllowed(
  from: string, account: string, login: string, ctx: Pick<RuleContext, 'aliasesOf'>, delimiters: string,
): boolean {
  const f = stripAngles(from).toLowerCase();
  if (f === '' || f === account) return true;
  const base = delimiters ? stripSubaddress(f, delimiters) : f;
  if (base === account || (delimiters && base === stripSubaddress(account, delimiters))) return true;
  if (!login.includes('@') && !account.includes('@')) {
    // A bare login and no default domain: the local part is all we can compare.
    if (splitAddress(base).local === login.toLowerCase()) return true;
  }
  const aliases = ctx.aliasesOf(account);
  return aliases !== undefined && (aliases.has(f) || aliases.has(base));
}

interface Episode {
  last: number;
  senders: Set<string>;
  level: number;
  count: number;
}

const SnapshotSchema = z.object({
  v: z.literal(1),
  episodes: z.array(z.tuple([z.string(), z.object({ last: z.number(), senders: z.array(z.string()), level: z.number(), count: z.number() })])),
});

export function mismatchOf(r: MailRecord, opts: Opts, ctx: RuleContext): { from: string; refused: boolean } | undefined {
  if (r.kind === 'sender-rejected') return { from: stripAngles(r.envelopeFrom).toLowerCase(), refused: true };
  if (r.kind !== 'submission') return undefined;
  if (r.envelopeFrom !== undefined && !senderAllowed(r.envelopeFrom, r.account, r.login, ctx, opts.subaddressDelimiters)) {
    return { from: stripAngles(r.envelopeFrom).toLowerCase(), refused: false };
  }
  if (opts.checkHeaderFrom && r.headerFrom !== undefined) {
    const h = headerAddress(r.headerFrom);
    if (h !== '' && !senderAllowed(h, r.account, r.login, ctx, opts.subaddressDelimiters)) return { from: h, refused: false };
  }
  return undefined;
}

export const fromUserMismatch = defineRule({
  name: 'from-user-mismatch',
  description: 'Envelope or header sender differs from the authenticated account (aliases, sub-addresses and case allowed); includes Postfix "not owned by user" rejections.',
  options: Options,
  consumes: ['submission', 'sender-rejected'],
  create(opts, ctx, saved) {
    const episodes = new Map<string, Episode>();
    const windowMs = opts.windowMinutes * 60_000;
    const restored = SnapshotSchema.safeParse(saved);
    if (restored.success) {
      for (const [k, e] of restored.data.episodes) episodes.set(k, { ...e, senders: new Set(e.senders) });
    }
    const baseLevel = opts.severity === 'critical' ? 2 : opts.severity === 'warning' ? 1 : 0;
    return {
      onRecord(r, emit) {
        const mm = mismatchOf(r, opts, ctx);
        if (!mm || r.kind === 'counter' || r.kind === 'delivery' || r.account === undefined) return;
        const account = r.account;
        let ep = episodes.get(account);
        if (!ep || r.at - ep.last > windowMs) {
          ep = { last: r.at, senders: new Set(), level: -1, count: 0 };
          episodes.set(account, ep);
        }
        ep.last = Math.max(ep.last, r.at);
        ep.count++;
        if (ep.senders.size < 1000) ep.senders.add(mm.from);
        const level = ep.senders.size >= opts.criticalDistinctSenders ? 2 : baseLevel;
        if (level <= ep.level) return;
        ep.level = level;
        const evidence: Evidence[] = r.evidence.slice(0, 5);
        const what = mm.refused
          ? `the server refused sending as ${mm.from} (not owned by user ${r.kind === 'sender-rejected' ? r.login : account})`
          : `sent as ${mm.from} while logged in as ${account}`;
        emit({
          rule: 'from-user-mismatch', account, at: r.at,
          severity: level === 2 ? 'critical' : level === 1 ? 'warning' : 'info',
          message: ep.senders.size > 1 ? `${what}; ${ep.senders.size} different senders in this episode` : what,
          data: { sender: mm.from, distinct_senders: ep.senders.size, mismatches: ep.count, refused_by_server: mm.refused ? 1 : 0 },
          evidence,
        });
      },
      snapshot() {
        let latest = 0;
        for (const e of episodes.values()) if (e.last > latest) latest = e.last;
        const kept = [...episodes].filter(([, e]) => latest - e.last <= windowMs);
        return { v: 1, episodes: kept.map(([k, e]) => [k, { ...e, senders: [...e.senders] }]) };
      },
    };
  },
});
