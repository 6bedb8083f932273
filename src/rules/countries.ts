/**
 * countries: where in the world an account is used from, by the country of each public
 * client address (an MMDB country database shipped with the package, or the site's own).
 *
 * Two conditions, one finding per record at most:
 * - impossible travel: more than one country within `windowHours` (warning; critical
 *   at `criticalCountries`). An episode lasts while the window holds more than one
 *   country, and only a rise is reported again.
 * - a new country: one the account has not used in `learnDays` (learned, after a
 *   warm-up of `warmupDays` since the account was first seen): info when the site's
 *   users are usually there, warning when the site does not know the country either.
 *
 * Private and special-use addresses have no country and are passed over; so are
 * records without an address. The database is opened on the first public address.
 */
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { UsageError } from '../core/errors.js';
import type { AuthSuccess, Submission } from '../core/types.js';
import { commonRuleOptions } from '../config/schema.js';
import { canonicalAddress } from './client-address.js';
import { countryLookup, SHIPPED_DATABASE } from './geo.js';
import { defineRule } from './types.js';
import { LazyAccounts, savedRows } from '../core/lazy-accounts.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

const CountryCode = z.string().regex(/^[A-Za-z]{2}$/, 'expected an ISO 3166 alpha-2 country code, e.g. DE');

const Options = z.strictObject({
  ...commonRuleOptions,
  /**
   * An MMDB country database to use instead of the shipped one (ip-location-db
   * geo-whois-asn-country): e.g. MaxMind's GeoLite2-Country.mmdb. Records may be flat
   * (`country_code`) or GeoIP2-shaped (`country.iso_code`, else `registered_country.iso_code`).
   */
  database: z.string().min(1).optional(),
  /** Uses from different countries closer together than this are impossible travel. */
  windowHours: z.number().positive().max(72).default(4),
  /** This many countries within `windowHours` make it critical (two make a warning). */
  criticalCountries: z.number().int().min(2).default(3),
  /** Days an account must have been seen before a country can be new to it (everything is new at first). */
  warmupDays: z.number().min(0).default(7),
  /** A country the account has not used for this many days is forgotten, and new again. */
  learnDays: z.number().int().positive().max(3650).default(90),
  /** Countries the site's users are usually in, on top of those learned from the accounts (`["DE", "AT"]`). */
  siteCountries: z.array(CountryCode).default([]),
  /** A country is usual for the site when at least this many accounts use it ... */
  siteMinAccounts: z.number().int().positive().default(3),
  /** ... and at least this share of the accounts seen with a country. */
  siteShare: z.number().min(0).max(1).default(0.01),
});

interface Profile {
  /** Day (UTC, days since epoch) the account was first seen, with or without a country: the warm-up runs from here. */
  since: number;
  /** Last day the account was seen at all. */
  last: number;
  /** Country -> last day used. */
  known: Map<string, number>;
  /** Country -> last use (ms), only within the travel window. */
  recent: Map<string, number>;
  /** Severity rank reported in the current travel episode (-1: none), so only a rise is news. */
  level: number;
}

/** The snapshot before accounts were saved as rows: still read, so an upgraded site keeps what it learned. */
const SnapshotV1Schema = z.object({
  v: z.literal(1),
  accounts: z.array(z.tuple([
    z.string(), z.number(), z.number(),
    z.array(z.tuple([z.string(), z.number()])), z.array(z.tuple([z.string(), z.number()])), z.number(),
  ])),
});
type SavedAccount = z.output<typeof SnapshotV1Schema>['accounts'][number];
/** A saved account without its name. */
type SavedProfile = SavedAccount extends readonly [string, ...infer Rest] ? Rest : never;

/** Day -> how many: what the site-wide counts are made of, so a snapshot can age them without reading every account. */
type DayCounts = Map<number, number>;

/**
 * Rows `[account, last, text]` (see encodeProfile). The site-wide counts a restore used
 * to add up from every account are saved by the day that ages them out: `site`, per
 * country, the accounts by the day they last used it; `active`, the accounts with a
 * country by the last day they used any. `latest` and `latestMs` are what the last
 * snapshot pruned by: a row decoded later is pruned by them too.
 */
const SnapshotSchema = z.object({
  v: z.literal(2),
  latest: z.number(),
  latestMs: z.number(),
  site: z.array(z.tuple([z.string(), z.array(z.number())])),
  active: z.array(z.number()),
  accounts: z.unknown(),
});

const NUM = String.raw`-?\d+(?:\.\d+)?(?:e[+-]?\d+)?`;
const PROFILE = new RegExp(`^(${NUM});((?:[A-Z]{2}${NUM})*);((?:[A-Z]{2}${NUM})*);(${NUM})$`);
const ENTRY = new RegExp(`([A-Z]{2})(${NUM})`, 'g');

/**
 * A row's text, `since;known;recent;level` without one `"`: `since` counted back from
 * `last`, each known country's day back from `last` (`DE0US12`), each recent one's time
 * from the start of `last`'s day (`DE43200000`).
 */
function encodeProfile([since, last, known, recent, level]: SavedProfile): string {
  const k = known.map(([cc, d]) => `${cc}${last - d}`).join('');
  const r = recent.map(([cc, t]) => `${cc}${t - last * DAY}`).join('');
  return `${last - since};${k};${r};${level}`;
}

const entries = (text: string, toValue: (n: number) => number): [string, number][] =>
  [...text.matchAll(ENTRY)].map(([, cc, n]) => [cc ?? '', toValue(Number(n))]);

/** The SavedProfile encodeProfile wrote (`last` is the row's stamp), or undefined for a damaged row. */
export function decodeProfile(text: string, last: number): SavedProfile | undefined {
  const m = PROFILE.exec(text);
  if (!m) return undefined;
  const [, since, known, recent, level] = m;
  return [
    last - Number(since), last,
    entries(known ?? '', (n) => last - n), entries(recent ?? '', (n) => n + last * DAY),
    Number(level),
  ];
}

function addTo(counts: DayCounts, day: number, n: number): void {
  const now = (counts.get(day) ?? 0) + n;
  if (now === 0) counts.delete(day);
  else counts.set(day, now);
}

/** `[day, n, ...]` of the days from `from` on. */
function flatCounts(counts: DayCounts, from: number): number[] {
  const out: number[] = [];
  for (const [d, n] of [...counts].sort((a, b) => a[0] - b[0])) if (d >= from && n !== 0) out.push(d, n);
  return out;
}

function countsOf(flat: readonly number[]): DayCounts {
  const counts: DayCounts = new Map();
  for (let i = 0; i + 1 < flat.length; i += 2) addTo(counts, flat[i] ?? 0, flat[i + 1] ?? 0);
  return counts;
}

const total = (counts: DayCounts): number => {
  let n = 0;
  for (const v of counts.values()) n += v;
  return n;
};

function lastKnown(p: Profile): number | undefined {
  let last: number | undefined;
  for (const d of p.known.values()) if (last === undefined || d > last) last = d;
  return last;
}

const travelRank = (countries: number, critical: number): number => (countries >= critical ? 2 : countries >= 2 ? 1 : -1);

/** How many countries countriesNear lists, without listing them. */
function countNear(recent: ReadonlyMap<string, number>, at: number, windowMs: number): number {
  let n = 0;
  for (const t of recent.values()) if (Math.abs(t - at) <= windowMs) n++;
  return n;
}

/** Countries used within `windowMs` of `at` (either side: records may come slightly out of order), oldest first. */
function countriesNear(recent: ReadonlyMap<string, number>, at: number, windowMs: number): string[] {
  return [...recent].filter(([, t]) => Math.abs(t - at) <= windowMs).sort((a, b) => a[1] - b[1]).map(([cc]) => cc);
}

export const countries = defineRule({
  name: 'countries',
  description: 'Country of each public client address (offline database): impossible travel between countries within hours, and a country new to the account (learned).',
  options: Options,
  consumes: ['submission', 'auth-success'],
  create(opts, _ctx, saved) {
    // A wrong path is a config error now, not a crash at the first public address; the file is still only read then.
    if (opts.database !== undefined && !existsSync(opts.database)) throw new UsageError(`rules.countries.database: no such file: ${opts.database}`);
    const lookup = countryLookup(opts.database ?? SHIPPED_DATABASE);
    const windowMs = opts.windowHours * HOUR;
    const siteCountries = new Set(opts.siteCountries.map((c) => c.toUpperCase()));
    /** Country -> how many accounts know it: the site's usual countries, learned without extra state. */
    const siteCount = new Map<string, number>();
    let withCountry = 0;
    /** The same counts by the day they age out (see SnapshotSchema). */
    const siteDays = new Map<string, DayCounts>();
    const activeDays: DayCounts = new Map();
    const countSite = (cc: string, day: number, n: number): void => {
      let counts = siteDays.get(cc);
      if (!counts) {
        counts = new Map();
        siteDays.set(cc, counts);
      }
      addTo(counts, day, n);
    };
    /** Moves the account from the active day it had to the one it has. */
    const countActive = (before: number | undefined, after: number | undefined): void => {
      if (before === after) return;
      if (before !== undefined) addTo(activeDays, before, -1);
      if (after !== undefined) addTo(activeDays, after, 1);
    };

    const learn = (p: Profile, cc: string, day: number): void => {
      const had = p.known.get(cc);
      const before = lastKnown(p);
      if (had === undefined) {
        if (p.known.size === 0) withCountry++;
        siteCount.set(cc, (siteCount.get(cc) ?? 0) + 1);
      } else {
        countSite(cc, had, -1);
      }
      const now = Math.max(had ?? day, day);
      p.known.set(cc, now);
      countSite(cc, now, 1);
      countActive(before, lastKnown(p));
    };
    const forget = (p: Profile, cc: string): void => {
      const had = p.known.get(cc);
      if (had === undefined) return;
      const before = lastKnown(p);
      p.known.delete(cc);
      countSite(cc, had, -1);
      countActive(before, lastKnown(p));
      siteCount.set(cc, (siteCount.get(cc) ?? 1) - 1);
      if (p.known.size === 0) withCountry--;
    };
    const forgetOld = (p: Profile, day: number): void => {
      for (const [cc, d] of p.known) if (day - d > opts.learnDays) forget(p, cc);
    };
    const siteUsual = (cc: string): boolean =>
      siteCountries.has(cc) || (siteCount.get(cc) ?? 0) >= Math.max(opts.siteMinAccounts, Math.ceil(opts.siteShare * withCountry));

    /** What the restored snapshot pruned by (see SnapshotSchema). */
    let prunedDay = 0;
    let prunedMs = 0;
    /** The newest use with a country: where the travel window of the snapshot ends. */
    let latestMs = 0;
    const decode = (text: string, _account: string, stamp: number): Profile | undefined => {
      const saved = decodeProfile(text, stamp);
      if (!saved) return undefined;
      const [since, last, known, recent, level] = saved;
      // As each snapshot since it was written would have pruned it; the site counts already are.
      const kept = recent.filter(([, t]) => t >= prunedMs - windowMs);
      return {
        since, last, known: new Map(known.filter(([, d]) => prunedDay - d <= opts.learnDays)),
        recent: new Map(kept), level: kept.length > 0 ? level : -1,
      };
    };
    let accounts = new LazyAccounts(decode);

    const restored = SnapshotSchema.safeParse(saved);
    const rows = restored.success ? savedRows(restored.data.accounts) : undefined;
    if (restored.success && rows) {
      const { latest, latestMs: ms, site, active } = restored.data;
      prunedDay = latest;
      prunedMs = ms;
      latestMs = ms;
      accounts = new LazyAccounts(decode, rows);
      for (const [cc, flat] of site) {
        const counts = countsOf(flat);
        siteDays.set(cc, counts);
        siteCount.set(cc, total(counts));
      }
      for (const [d, n] of countsOf(active)) activeDays.set(d, n);
      withCountry = total(activeDays);
    }
    const restoredV1 = restored.success ? undefined : SnapshotV1Schema.safeParse(saved);
    if (restoredV1?.success) {
      for (const [account, since, last, known, recent, level] of restoredV1.data.accounts) {
        const p: Profile = { since, last, known: new Map(), recent: new Map(recent), level };
        for (const [cc, d] of known) learn(p, cc, d);
        for (const t of p.recent.values()) latestMs = Math.max(latestMs, t);
        accounts.set(account, p);
      }
    }

    return {
      onRecord(record, emit) {
        const r = record as Submission | AuthSuccess;
        const day = Math.floor(r.at / DAY);
        let p = accounts.get(r.account);
        // With nothing seen before, nothing can be new (even without a warm-up).
        const firstSight = !p;
        if (!p) {
          p = { since: day, last: day, known: new Map(), recent: new Map(), level: -1 };
          accounts.set(r.account, p);
        }
        p.since = Math.min(p.since, day);
        p.last = Math.max(p.last, day);
        const ip = canonicalAddress(r.clientIp);
        const cc = ip === undefined ? undefined : lookup(ip);
        if (ip === undefined || cc === undefined) return;

        forgetOld(p, day);
        const isNew = !firstSight && day - p.since >= opts.warmupDays && !p.known.has(cc);
        const usual = siteUsual(cc);
        learn(p, cc, day);

        let newest = r.at;
        for (const t of p.recent.values()) if (t > newest) newest = t;
        p.recent.set(cc, Math.max(p.recent.get(cc) ?? r.at, r.at));
        // An account's newest use is never the one pruned below, so the newest of all is this.
        latestMs = Math.max(latestMs, r.at);
        for (const [c, t] of p.recent) if (t < newest - windowMs) p.recent.delete(c);
        const nearCount = countNear(p.recent, r.at, windowMs);
        // Only the newest record may end an episode: a late one from a quiet moment must not.
        if (nearCount <= 1 && r.at >= newest) p.level = -1;
        const rankNow = travelRank(nearCount, opts.criticalCountries);
        const travel = rankNow > p.level ? rankNow : -1;
        if (travel >= 0) p.level = travel;
        const fresh = isNew ? (usual ? 0 : 1) : -1;
        const rank = Math.max(travel, fresh);
        if (rank < 0) return;

        const near = countriesNear(p.recent, r.at, windowMs);
        const verb = r.kind === 'submission' ? 'sent' : 'logged in';
        const parts: string[] = [];
        if (fresh >= 0) {
          parts.push(`${verb} from ${cc} (${ip}), a country not used by this account in ${opts.learnDays} days${usual ? '' : ' and not usual for the site'}`);
        }
        if (travel >= 0) parts.push(`${near.length} countries within ${opts.windowHours} h: ${near.join(', ')}${fresh >= 0 ? '' : ` (latest ${cc}, ${ip})`}`);
        emit({
          rule: 'countries', account: r.account, at: r.at,
          severity: rank === 2 ? 'critical' : rank === 1 ? 'warning' : 'info',
          message: parts.join('; '),
          data: {
            client_ip: ip, country: cc, countries: near.join(','), country_count: near.length,
            new_country: isNew ? 'yes' : 'no', site_usual: usual ? 'yes' : 'no',
            ...(r.service ? { service: r.service } : {}),
          },
          evidence: r.evidence.slice(0, 3),
        });
      },
      snapshot() {
        const latest = accounts.latest((p) => p.last);
        const from = latest - opts.learnDays;
        const text = (p: Profile): string => {
          // What the next run's records (no older than the newest seen) can still travel from.
          const recent = [...p.recent].filter(([, t]) => t >= latestMs - windowMs);
          const known = [...p.known].filter(([, d]) => d >= from);
          return encodeProfile([p.since, p.last, known, recent, recent.length > 0 ? p.level : -1]);
        };
        // An account silent for longer than a country is remembered has nothing left to compare with.
        const rows = accounts.rows((p) => p.last, (last) => last >= from, text);
        const site: [string, number[]][] = [];
        for (const [cc, counts] of siteDays) {
          const flat = flatCounts(counts, from);
          if (flat.length > 0) site.push([cc, flat]);
        }
        return { v: 2, latest, latestMs, site, active: flatCounts(activeDays, from), accounts: rows };
      },
    };
  },
});
