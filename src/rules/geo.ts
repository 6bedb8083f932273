/**
 * Country of a client address from an MMDB file, opened lazily and read synchronously.
 *
 * Rules see records one at a time through a synchronous `onRecord`, so the lookup
 * cannot await. The database is therefore read whole with readFileSync and handed to
 * mmdb-lib's synchronous `Reader` on the first lookup of a public address: a run whose
 * clients are all private (a LAN-only site, a test) never loads the reader module nor
 * reads the 8 MB file. `createRequire` keeps `mmdb-lib` (CommonJS) out of the static
 * import graph, so it is not even parsed before it is needed.
 *
 * mmdb-lib is the reader inside the `maxmind` package (whose `Reader` is mmdb-lib's,
 * re-exported). Requiring maxmind also loaded its file watcher, cache and assertions:
 * 10 ms of a cron run, against 3 ms for mmdb-lib alone.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Reader as ReaderType, Response } from 'mmdb-lib';
import { RuntimeError } from '../core/errors.js';
import { canonicalAddress, isSpecialUse } from './client-address.js';
import { countsHeld } from './rule-support.js';
import { detached } from '../core/detached.js';
import { RecentMap } from '../core/recent-map.js';
import { MAX_CACHED_CHARS } from '../core/net.js';

const require = createRequire(import.meta.url);

/** The database shipped with the package: ip-location-db's geo-whois-asn-country (IPv4 and IPv6 in one file). */
export const SHIPPED_DATABASE = '@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb';

/** What a record of either supported shape may hold: ip-location-db's flat one, or GeoIP2/GeoLite2's nested one. */
interface CountryRecord {
  readonly country_code?: unknown;
  readonly country?: { readonly iso_code?: unknown };
  readonly registered_country?: { readonly iso_code?: unknown };
}

let opens = 0;

/** How many databases this process has opened (read and parsed): the lazy-load test watches it. */
export function databaseOpenCount(): number {
  return opens;
}

/** The ISO 3166 alpha-2 code in a record of either shape; GeoLite2's registered country when it has no located one. */
export function countryOf(rec: unknown): string | undefined {
  if (!rec || typeof rec !== 'object') return undefined;
  const r = rec as CountryRecord;
  const code = r.country_code ?? r.country?.iso_code ?? r.registered_country?.iso_code;
  return typeof code === 'string' && /^[A-Za-z]{2}$/.test(code) ? code.toUpperCase() : undefined;
}

function openDatabase(path: string): ReaderType<Response> {
  const file = path === SHIPPED_DATABASE ? require.resolve(SHIPPED_DATABASE) : path;
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new RuntimeError(`country database ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const mmdb = require('mmdb-lib') as typeof import('mmdb-lib');
  opens++;
  try {
    return new mmdb.Reader<Response>(bytes);
  } catch (e) {
    throw new RuntimeError(`country database ${path}: not an MMDB file (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** Any client address as logged (`::ffff:` spellings too); a non-address has no country. */
export type CountryLookup = (ip: string) => string | undefined;

/**
 * Lookups are cached per address in two generations of this many: a busy client is
 * looked up once, and an address not asked for again within two generations is
 * forgotten. The cache used to be cleared at 50,000, which a long scan's one-off
 * addresses (bots, roaming phones) filled: 7 MB on a 1 GB log, for hits the busy
 * clients' few thousand addresses make.
 */
const CACHE_GENERATION = 8192;

/**
 * A lookup over the database at `path` (default: the shipped one), opened on the first
 * public address. Special-use addresses have no country and never open it.
 */
export function countryLookup(path: string = SHIPPED_DATABASE): CountryLookup {
  let reader: ReaderType<Response> | undefined;
  const cache = new RecentMap<string | null>(CACHE_GENERATION);
  /** One string per country: the reader makes a new one for every lookup, and learning rules keep them. */
  const codes = new Map<string, string>();
  return countsHeld((ip: string): string | undefined => {
    // Hostile text of 64 kB each would add up in the cache: answered, not kept.
    const cacheable = ip.length <= MAX_CACHED_CHARS;
    const hit = cacheable ? cache.get(ip) : undefined;
    if (hit !== undefined) return hit ?? undefined;
    let cc: string | undefined;
    const canonical = canonicalAddress(ip);
    if (canonical !== undefined && !isSpecialUse(canonical)) {
      reader ??= openDatabase(path);
      cc = countryOf(reader.get(canonical));
      if (cc !== undefined) {
        const known = codes.get(cc);
        if (known === undefined) codes.set(cc, cc);
        else cc = known;
      }
    }
    // The address is a slice of its log line: the cache keeps a copy of its own.
    if (cacheable) cache.set(detached(ip), cc ?? null);
    return cc;
  }, () => ({ cached: cache.size }));
}
