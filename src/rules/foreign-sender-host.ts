/**
 * foreign-sender-host: authenticated sending (or login) from a client address outside
 * the trusted networks (global, group and account). Each foreign address is reported
 * once per account per `repeatAfterHours`; `criticalDistinctHosts` different foreign
 * addresses within that time make it critical (one credential used from many places).
 * Records without a client address (webmail's 0.0.0.0, local pickup) are never foreign.
 */
import { z } from 'zod';
import { commonRuleOptions, SeveritySchema } from '../config/schema.js';
import { defineRule } from './types.js';
import { trustedFor } from './rule-support.js';

const Options = z.strictObject({
  ...commonRuleOptions,
  /** Severity of a foreign address. */
  severity: SeveritySchema.default('warning'),
  /** Hours before the same foreign address is reported again for the account. */
  repeatAfterHours: z.number().positive().default(24),
  /** This many different foreign addresses within `repeatAfterHours` make it critical (0: never). */
  criticalDistinctHosts: z.number().int().min(0).default(5),
  /** Also check successful logins that are not messages (IMAP, MTA `U` records). */
  includeLogins: z.boolean().default(false),
});

interface Seen {
  hosts: Map<string, number>;
  level: number;
}

const SnapshotSchema = z.object({
  v: z.literal(1),
  seen: z.array(z.tuple([z.string(), z.object({ hosts: z.array(z.tuple([z.string(), z.number()])), level: z.number() })])),
});

export const foreignSenderHost = defineRule({
  name: 'foreign-sender-host',
  description: 'Authenticated sending from a client address outside the trusted networks (IPv4/IPv6 CIDRs, per account too).',
  options: Options,
  consumes: ['submission', 'auth-success'],
  create(opts, ctx, saved) {
    const seen = new Map<string, Seen>();
    const repeatMs = opts.repeatAfterHours * 3_600_000;
    const restored = SnapshotSchema.safeParse(saved);
    if (restored.success) for (const [k, v] of restored.data.seen) seen.set(k, { hosts: new Map(v.hosts), level: v.level });
    const base = opts.severity === 'critical' ? 2 : opts.severity === 'warning' ? 1 : 0;
    return {
      onRecord(r, emit) {
        if (r.kind !== 'submission' && !(r.kind === 'auth-success' && opts.includeLogins)) return;
        if (r.kind !== 'submission' && r.kind !== 'auth-success') return;
        const ip = r.clientIp;
        if (ip === undefined || ip === '0.0.0.0' || ip === '::') return;
        if (trustedFor(ctx, r.account, ip)) return;
        let s = seen.get(r.account);
        if (!s) {
          s = { hosts: new Map(), level: -1 };
          seen.set(r.account, s);
        }
        for (const [h, t] of s.hosts) if (r.at - t > repeatMs) s.hosts.delete(h);
        if (s.hosts.size === 0) s.level = -1;
        const isNew = !s.hosts.has(ip);
        if (!isNew) return;
        s.hosts.set(ip, r.at);
        const many = opts.criticalDistinctHosts > 0 && s.hosts.size >= opts.criticalDistinctHosts;
        const level = many ? 2 : base;
        if (level < s.level || (level === s.level && level === 2)) return;
        s.level = Math.max(s.level, level);
        emit({
          rule: 'foreign-sender-host', account: r.account, at: r.at,
          severity: level === 2 ? 'critical' : level === 1 ? 'warning' : 'info',
          message: many
            ? `${s.hosts.size} different untrusted client addresses within ${opts.repeatAfterHours} h, latest ${ip}`
            : `${r.kind === 'submission' ? 'sent' : 'logged in'} from ${ip}, outside the trusted networks`,
          data: { client_ip: ip, distinct_foreign_hosts: s.hosts.size, ...(r.service ? { service: r.service } : {}) },
          evidence: r.evidence.slice(0, 3),
        });
      },
      snapshot() {
        let latest = 0;
        for (const s of seen.values()) for (const t of s.hosts.values()) if (t > latest) latest = t;
        const out: [string, { hosts: [string, number][]; level: number }][] = [];
        for (const [k, s] of seen) {
          const hosts = [...s.hosts].filter(([, t]) => latest - t <= repeatMs);
          if (hosts.length > 0) out.push([k, { hosts, level: s.level }]);
        }
        return { v: 1, seen: out };
      },
    };
  },
});
