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
import { detached } from '../core/detached.js';
import { LazyAccounts, savedRows } from '../core/lazy-accounts.js';
import { isFiniteNumber, sectionOf } from '../core/saved-json.js';

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

/** Version 1, read once when a site upgrades. */
const SnapshotV1Schema = z.object({
  v: z.literal(1),
  seen: z.array(z.tuple([z.string(), z.object({ hosts: z.array(z.tuple([z.string(), z.number()])), level: z.number() })])),
});

/** The latest time any address was first reported (0 for none): the stamp an account is saved and dropped by. */
function lastReport(s: Seen): number {
  let latest = 0;
  for (const t of s.hosts.values()) if (t > latest) latest = t;
  return latest;
}

/** An address a row can hold as a word; any other makes the row JSON. */
const plainWord = (ip: string): boolean => ip !== '' && !/\s/u.test(ip);

/**
 * Row text: `level address age address age ...`, ages in ms before the row's stamp, in
 * map order; or JSON `[level, [[address, age], ...]]` for an address that is no word.
 */
function encodeRow(level: number, hosts: readonly [string, number][], stamp: number): string {
  if (hosts.every(([ip]) => plainWord(ip))) return [String(level), ...hosts.flatMap(([ip, t]) => [ip, String(stamp - t)])].join(' ');
  return JSON.stringify([level, hosts.map(([ip, t]) => [ip, stamp - t])]);
}

function pairsOfRow(text: string): { level: unknown; pairs: unknown[] } | undefined {
  if (!text.startsWith('[')) {
    const words = text.split(' ');
    if (words.length % 2 !== 1) return undefined;
    const pairs: unknown[] = [];
    for (let i = 1; i < words.length; i += 2) {
      const [ip = '', age = ''] = [words[i], words[i + 1]];
      if (!plainWord(ip) || !/^\d+$/u.test(age)) return undefined;
      pairs.push([ip, Number(age)]);
    }
    return { level: Number(words[0]), pairs };
  }
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) && v.length === 2 && Array.isArray(v[1]) ? { level: v[0], pairs: v[1] as unknown[] } : undefined;
  } catch {
    return undefined;
  }
}

/** Which addresses a snapshot keeps: those reported within `repeatMs` before `now`. */
interface Cut { now: number; repeatMs: number }

const kept = (t: number, c: Cut): boolean => c.now - t <= c.repeatMs;

/** An account as an eager restore after every snapshot since its row was written would have it: pruned by the last snapshot's cut. */
function decodeRow(text: string, stamp: number, cut: Cut): Seen | undefined {
  const row = pairsOfRow(text);
  if (!row || typeof row.level !== 'number' || !Number.isInteger(row.level)) return undefined;
  const hosts = new Map<string, number>();
  for (const p of row.pairs) {
    if (!Array.isArray(p) || p.length !== 2) return undefined;
    const [ip, age] = p as unknown[];
    if (typeof ip !== 'string' || typeof age !== 'number' || !Number.isInteger(age) || age < 0) return undefined;
    const t = stamp - age;
    if (kept(t, cut)) hosts.set(ip, t);
  }
  return hosts.size === 0 ? undefined : { hosts, level: row.level };
}

/** The saved accounts, and the last snapshot's cut their rows are still to be pruned by (none when every entry is decoded). */
function restore(saved: unknown): { seen: LazyAccounts<Seen>; cut: Cut | undefined } {
  const s = sectionOf(saved);
  const rows = s.v === 2 ? savedRows(s.rows) : undefined;
  const [now, repeatMs] = [s.now, s.repeatMs];
  if (rows && isFiniteNumber(now) && isFiniteNumber(repeatMs)) {
    const cut = { now, repeatMs };
    return { seen: new LazyAccounts((text, _account, stamp) => decodeRow(text, stamp, cut), rows), cut };
  }
  const seen = new LazyAccounts<Seen>(() => undefined);
  const r = SnapshotV1Schema.safeParse(saved);
  if (r.success) for (const [k, v] of r.data.seen) seen.set(k, { hosts: new Map(v.hosts), level: v.level });
  return { seen, cut: undefined };
}

export const foreignSenderHost = defineRule({
  name: 'foreign-sender-host',
  description: 'Authenticated sending from a client address outside the trusted networks (IPv4/IPv6 CIDRs, per account too).',
  options: Options,
  consumes: ['submission', 'auth-success'],
  create(opts, ctx, saved) {
    const repeatMs = opts.repeatAfterHours * 3_600_000;
    const { seen, cut: savedCut } = restore(saved);
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
        // Its own copy: the record's address is a slice of its log line, which the key kept alive.
        s.hosts.set(detached(ip), r.at);
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
        const cut = { now: seen.latest(lastReport), repeatMs };
        // "Now" never goes back (the newest address is never dropped), but a longer repeat period
        // keeps more than the last cut did: rows still to be pruned by that one are pruned now.
        if (savedCut && (cut.now < savedCut.now || repeatMs > savedCut.repeatMs)) seen.decodeAll();
        const rows = seen.rows(lastReport, (stamp) => kept(stamp, cut), (s) => {
          const hosts = [...s.hosts].filter(([, t]) => kept(t, cut));
          return hosts.length === 0 ? undefined : encodeRow(s.level, hosts, lastReport(s));
        });
        return { v: 2, now: cut.now, repeatMs, rows };
      },
    };
  },
});
