/**
 * many-sender-hosts: one credential used from many places. Counts, per account in a
 * sliding window of log time, the distinct client addresses it sent from and the
 * distinct networks they lie in, trusted networks (global and the account's) left
 * out. A hijacked account driven by a botnet or a proxy list shows dozens of
 * addresses in as many networks; a person shows a handful.
 *
 * One client is an IPv4 address or an IPv6 /64 (privacy addresses change daily inside
 * it). Networks are /24 (IPv4) and /48 (IPv6), the blocks a site or a customer line
 * gets; wide networks are /16 and /32, roughly one provider each, so a phone hopping
 * through its carrier's pool adds addresses and /24s but hardly any wide networks.
 *
 * Warning above `maxAddresses` or `maxNetworks` (or `maxWideNetworks` when set),
 * critical above `criticalFactor` times any of them. Within an episode a finding is
 * raised only when the level rises; the episode ends when a new address finds every
 * count back at half its limit or below.
 */
import { z } from 'zod';
import { SEVERITY_RANK, type Evidence } from '../core/types.js';
import { commonRuleOptions } from '../config/schema.js';
import { defineRule } from './types.js';
import { detached } from '../core/detached.js';
import {
  capMap, clientKey, countsHeld, describeMinutes, evidenceForState, EvidenceSchema, latestOf, networkOf, parseClient, pushRecent, severityOfRank,
  trustedFor, type ClientAddress,
} from './rule-support.js';
import { LazyAccounts, lineTuples, linesOfJson, savedRows } from '../core/lazy-accounts.js';
import { isFiniteNumber, sectionOf } from '../core/saved-json.js';

const Options = z.strictObject({
  ...commonRuleOptions,
  /** Window in minutes of log time. */
  windowMinutes: z.number().int().positive().max(30 * 24 * 60).default(1440),
  /** More distinct client addresses (IPv6: /64s) than this in the window raise a warning. */
  maxAddresses: z.number().int().positive().default(10),
  /** More distinct networks (IPv4 /24, IPv6 /48) than this raise a warning. */
  maxNetworks: z.number().int().positive().default(5),
  /** More distinct wide networks (IPv4 /16, IPv6 /32) than this raise a warning; 0: not checked. */
  maxWideNetworks: z.number().int().min(0).default(0),
  /** Counts above this multiple of a limit make it critical. */
  criticalFactor: z.number().min(1).default(3),
  /** Also count successful logins that are not messages (IMAP, MTA `U` records), not only sending. */
  includeLogins: z.boolean().default(false),
});

type Opts = z.output<typeof Options>;

const EVIDENCE_KEPT = 3;
/** Addresses remembered per account: far above any critical level, so counts are exact where it matters. */
const MAX_HOSTS = 300;

interface Host {
  /** Last use, epoch seconds. */
  t: number;
  net: string;
  wide: string;
}

interface AccountHosts {
  hosts: Map<string, Host>;
  /** Latest use of any address, epoch seconds. */
  now: number;
  level: number;
  recent: Evidence[];
}

/** Version 1, read once when a site upgrades: per account `[account, level, [[client, second last used], ...], evidence]`. */
const SnapshotV1Schema = z.object({
  v: z.literal(1),
  accounts: z.array(z.tuple([z.string(), z.number(), z.array(z.tuple([z.string(), z.number()])), z.array(EvidenceSchema)])),
});

/** The address a client key stands for (an IPv6 /64 key parses as its first address). */
function clientOfKey(key: string): ClientAddress | undefined {
  return parseClient(key.endsWith('/64') ? key.slice(0, -3) : key);
}

function hostOf(c: ClientAddress, t: number): Host {
  return { t, net: networkOf(c, c.family === 4 ? 24 : 48), wide: networkOf(c, c.family === 4 ? 16 : 32) };
}

interface Counts { addresses: number; networks: number; wide: number }

function countsOf(hosts: ReadonlyMap<string, Host>): Counts {
  const nets = new Set<string>();
  const wides = new Set<string>();
  for (const h of hosts.values()) {
    nets.add(h.net);
    wides.add(h.wide);
  }
  return { addresses: hosts.size, networks: nets.size, wide: wides.size };
}

/** SEVERITY_RANK reached by the counts, or -1; with the limit that decided it. */
export function rankOf(c: Counts, o: Opts): { rank: number; why: string } {
  const checks: [number, number, string][] = [
    [c.addresses, o.maxAddresses, 'addresses'],
    [c.networks, o.maxNetworks, 'networks'],
    ...(o.maxWideNetworks > 0 ? [[c.wide, o.maxWideNetworks, 'wide networks'] as [number, number, string]] : []),
  ];
  for (const [n, max, what] of checks) if (n > max * o.criticalFactor) return { rank: SEVERITY_RANK.critical, why: `more than ${Math.floor(max * o.criticalFactor)} ${what}` };
  for (const [n, max, what] of checks) if (n > max) return { rank: SEVERITY_RANK.warning, why: `more than ${max} ${what}` };
  return { rank: -1, why: '' };
}

/** New addresses needed, at the least, before the level rises above `level` (each adds at most one to every count). */
function toNextLevel(c: Counts, o: Opts, level: number): number {
  const factor = level >= SEVERITY_RANK.warning ? o.criticalFactor : 1;
  const gaps = [[c.addresses, o.maxAddresses], [c.networks, o.maxNetworks], ...(o.maxWideNetworks > 0 ? [[c.wide, o.maxWideNetworks]] : [])]
    .map(([n = 0, max = 0]) => Math.floor(max * factor) + 1 - n);
  return Math.max(0, Math.min(...gaps));
}

/** Every count at most half its limit: the episode is over (steady churn at a limit is one episode). */
function calm(c: Counts, o: Opts): boolean {
  return c.addresses * 2 <= o.maxAddresses && c.networks * 2 <= o.maxNetworks && (o.maxWideNetworks === 0 || c.wide * 2 <= o.maxWideNetworks);
}

function entryOf(level: number, list: readonly (readonly [string, number])[], recent: Evidence[]): AccountHosts {
  const hosts = new Map<string, Host>();
  for (const [key, t] of list) {
    const c = clientOfKey(key);
    if (c) hosts.set(key, hostOf(c, t));
  }
  return { hosts, now: latestOf(list.map(([, t]) => t)), level, recent };
}

/** The latest use of any address (0 for none): the stamp an account is saved and dropped by. */
function lastUse(a: AccountHosts): number {
  return latestOf([...a.hosts.values()].map((h) => h.t));
}

/** Its lines are saved only where they could still be quoted, i.e. fewer new addresses than are quoted would raise a level. */
function near(live: ReadonlyMap<string, Host>, level: number, o: Opts): boolean {
  return level >= SEVERITY_RANK.critical || toNextLevel(countsOf(live), o, level) < EVIDENCE_KEPT;
}

/**
 * Row text: `level client age client age ...` (age: seconds before the row's stamp, in map
 * order), then the evidence as JSON `[[source, lineNo, text], ...]` on a second line when
 * there is any. Few accounts are near a level, so a site's rows are mostly addresses:
 * too little text for a dictionary to pay for itself.
 */
function encodeRow(a: AccountHosts, live: readonly [string, Host][], stamp: number, o: Opts): string {
  const head = [String(a.level), ...live.flatMap(([key, h]) => [key, String(stamp - h.t)])].join(' ');
  if (!near(new Map(live), a.level, o) || a.recent.length === 0) return head;
  return `${head}\n${JSON.stringify(lineTuples(a.recent.map(evidenceForState), (source) => source))}`;
}

/**
 * An account as an eager restore after every snapshot since its row was written would
 * have it: addresses used at or before `cut` (the last snapshot's) dropped, and its lines
 * with them once they can no longer be quoted.
 */
function decodeRow(text: string, stamp: number, cut: number, o: Opts): AccountHosts | undefined {
  const nl = text.indexOf('\n');
  const words = (nl < 0 ? text : text.slice(0, nl)).split(' ');
  const level = Number(words[0]);
  if (!Number.isInteger(level) || words.length % 2 !== 1) return undefined;
  const list: [string, number][] = [];
  for (let i = 1; i < words.length; i += 2) {
    const [key = '', age = ''] = [words[i], words[i + 1]];
    if (key === '' || !/^\d+$/u.test(age)) return undefined;
    const t = stamp - Number(age);
    if (t > cut) list.push([key, t]);
  }
  if (list.length === 0) return undefined;
  const recent = nl < 0 ? [] : linesOfJson(text.slice(nl + 1), (source) => (typeof source === 'string' ? source : undefined));
  if (recent === undefined) return undefined;
  const a = entryOf(level, list, recent);
  if (!near(a.hosts, level, o)) a.recent = [];
  return a;
}

/** The saved accounts, and the cut (last snapshot's "now" less its window) their rows are still to be pruned by. */
function restore(saved: unknown, o: Opts): { accounts: LazyAccounts<AccountHosts>; cut: number } {
  const s = sectionOf(saved);
  const cut = s.cut;
  const rows = s.v === 2 ? savedRows(s.rows) : undefined;
  if (rows && isFiniteNumber(cut)) {
    return { accounts: new LazyAccounts((text, _account, stamp) => decodeRow(text, stamp, cut, o), rows), cut };
  }
  const accounts = new LazyAccounts<AccountHosts>(() => undefined);
  const r = SnapshotV1Schema.safeParse(saved);
  if (r.success) for (const [k, level, list, recent] of r.data.accounts) accounts.set(k, entryOf(level, list, recent));
  return { accounts, cut: -Infinity };
}

export const manySenderHosts = defineRule({
  name: 'many-sender-hosts',
  description: 'Distinct untrusted client addresses and networks per account in a window (one credential used from many places).',
  options: Options,
  consumes: ['submission', 'auth-success'],
  create(opts, ctx, saved) {
    const { accounts, cut: savedCut } = restore(saved, opts);
    const windowSec = opts.windowMinutes * 60;
    return countsHeld({
      onRecord(r, emit) {
        if (r.kind !== 'submission' && !(r.kind === 'auth-success' && opts.includeLogins)) return;
        if (r.kind !== 'submission' && r.kind !== 'auth-success') return;
        const c = parseClient(r.clientIp);
        if (!c || trustedFor(ctx, r.account, c.ip)) return;
        const sec = Math.floor(r.at / 1000);
        let a = accounts.get(r.account);
        if (!a) {
          a = { hosts: new Map(), now: sec, level: -1, recent: [] };
          accounts.set(r.account, a);
        }
        // Older than the window: it can no longer count (nor end an episode).
        if (sec <= a.now - windowSec) return;
        if (sec > a.now) a.now = sec;
        const key = clientKey(c);
        const known = a.hosts.get(key);
        if (known) {
          if (sec > known.t) {
            known.t = sec;
            a.hosts.delete(key);
            a.hosts.set(key, known);
          }
          return;
        }
        // Only a new address can raise a count: the rest of the work is done here alone.
        for (const [k, h] of a.hosts) if (h.t <= a.now - windowSec) a.hosts.delete(k);
        // The record's address is a slice of its log line: a key of its own does not keep the line alive.
        a.hosts.set(detached(key), hostOf(c, sec));
        capMap(a.hosts, MAX_HOSTS);
        pushRecent(a.recent, r.evidence[0], EVIDENCE_KEPT);
        const counts = countsOf(a.hosts);
        const { rank, why } = rankOf(counts, opts);
        if (rank < 0) {
          if (calm(counts, opts)) a.level = -1;
          // Far from any level, these lines can never be quoted nor saved: each new address
          // adds at most one to every count and pushes a line (only new ones count), so a
          // finding quotes lines that all come after these, and a snapshot saves lines only
          // when near (fewer than EVIDENCE_KEPT to go), which takes more than
          // EVIDENCE_KEPT - 1 new addresses from here: these are pushed out by then. The
          // snapshot never saved them; now they go as soon as they can, or every account
          // that ever sent from an untrusted address kept its last lines to the end of a scan.
          if (a.level < SEVERITY_RANK.critical && toNextLevel(counts, opts, -1) >= 2 * EVIDENCE_KEPT - 1) a.recent.length = 0;
          return;
        }
        if (rank <= a.level) return;
        a.level = rank;
        emit({
          rule: 'many-sender-hosts', account: r.account, severity: severityOfRank(rank), at: r.at,
          message: `${counts.addresses} untrusted client addresses in ${counts.networks} networks in ${describeMinutes(opts.windowMinutes)}, latest ${key} (${why})`,
          data: {
            addresses: counts.addresses, networks: counts.networks, wide_networks: counts.wide, window_minutes: opts.windowMinutes,
            client: key, max_addresses: opts.maxAddresses, max_networks: opts.maxNetworks,
          },
          evidence: a.recent.slice(),
        });
      },
      snapshot() {
        const cut = accounts.latest((a) => a.now) - windowSec;
        // The cut went back (a longer window, or an account's newest address fell to the cap):
        // rows still to be pruned by the last one are pruned by it now, as eager restores had them.
        if (cut < savedCut) accounts.decodeAll();
        const rows = accounts.rows(lastUse, (stamp) => stamp > cut, (a) => {
          const live = [...a.hosts].filter(([, h]) => h.t > cut);
          return live.length === 0 ? undefined : encodeRow(a, live, latestOf(live.map(([, h]) => h.t)), opts);
        });
        return { v: 2, cut, rows };
      },
    }, () => {
      let lines = 0;
      let hosts = 0;
      for (const [, a] of accounts.entries()) {
        lines += a.recent.length;
        hosts += a.hosts.size;
      }
      return { accounts: accounts.size, hosts, lines };
    });
  },
});
