/**
 * Client addresses as the learning rules see them: one spelling per address (so an
 * IPv4 client logged as `::ffff:1.2.3.4` by a dual-stack listener is the same client),
 * the network it belongs to, and whether it can have a place in the world at all.
 */
import { ipv4Number, ipv6Groups, NetMatcher } from '../core/net.js';

/**
 * Special-purpose ranges (IANA IPv4/IPv6 special-purpose registries) that locate
 * nothing: private, shared (CGNAT), loopback, link-local, documentation, benchmarking,
 * multicast, reserved, and the IPv6 transition prefixes that embed an IPv4 address.
 * Country databases do give some of them a country (the documentation ranges come out
 * as AU and JP in the shipped one): a hit there is noise, so they are never looked up.
 */
export const SPECIAL_USE_NETWORKS: readonly string[] = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12',
  '192.0.0.0/24', '192.0.2.0/24', '192.88.99.0/24', '192.168.0.0/16', '198.18.0.0/15',
  '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/4', '240.0.0.0/4',
  '::/127', '64:ff9b::/96', '64:ff9b:1::/48', '100::/64', '2001::/23', '2001:db8::/32', '2002::/16',
  '3fff::/20', '5f00::/16', 'fc00::/7', 'fe80::/10', 'ff00::/8',
];

/** Built on the first address asked about: a run with nothing new never needs it (5 ms of start-up). */
let specialUse: NetMatcher | undefined;

export { ipv6Groups };

/** A client address in one spelling, or undefined when there is none to count. */
export interface ClientAddress {
  /** IPv4 dotted quad, or the IPv6 address in lower-case groups, short form (formatIpv6). */
  readonly ip: string;
  /** IPv4 dotted quad, or the IPv6 address as logged, in lower case: what canonicalAddress gives. */
  readonly canonical: string;
  readonly family: 4 | 6;
  /** The IPv6 groups; undefined for IPv4 (made for every record, so no octets array: see ipv4Number). */
  readonly groups: readonly number[] | undefined;
  /** What counts as one client: the IPv4 address, or the IPv6 /64 (see clientKey in rule-support). */
  readonly key: string;
}

/** IPv6 groups in the usual short form (RFC 5952): the longest run of two or more zero groups as `::`. */
export function formatIpv6(groups: readonly number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

function ipv4Client(ip: string): ClientAddress {
  return { ip, canonical: ip, family: 4, groups: undefined, key: ip };
}

function parseAddress(ip: string): ClientAddress | undefined {
  const n = ipv4Number(ip);
  // The unspecified address (Kerio webmail's `0.0.0.0`) names no client.
  if (n >= 0) return n === 0 ? undefined : ipv4Client(ip);
  const g = ipv6Groups(ip);
  if (!g || g.every((x) => x === 0)) return undefined;
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    const hi = g[6] ?? 0;
    const lo = g[7] ?? 0;
    return ipv4Client(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
  }
  const short = formatIpv6(g);
  return { ip: short, canonical: ip.toLowerCase(), family: 6, groups: g, key: `${formatIpv6([g[0] ?? 0, g[1] ?? 0, g[2] ?? 0, g[3] ?? 0, 0, 0, 0, 0])}/64` };
}

/**
 * The engine hands one record to every rule in turn, and several of them look at its
 * client address: the last one parsed is kept, so a record's address is parsed once.
 */
let lastText: string | undefined;
let lastClient: ClientAddress | undefined;

/**
 * Parses a logged client address. An IPv4-mapped IPv6 address (`::ffff:198.51.100.7`,
 * from a dual-stack listener) is the IPv4 client it maps. Missing, unparsable and
 * unspecified addresses (Kerio webmail's `0.0.0.0`, `::`) give undefined: they name
 * no client and must not count as one. The result is shared: never change it.
 */
export function parseClient(ip: string | undefined): ClientAddress | undefined {
  if (ip === undefined) return undefined;
  if (ip !== lastText) {
    lastClient = parseAddress(ip);
    lastText = ip;
  }
  return lastClient;
}

/**
 * The address in one spelling: lower case, and an IPv4-mapped IPv6 address
 * (`::ffff:198.51.100.7`, `::ffff:c633:6407`) as plain IPv4. Undefined for a missing
 * address, a non-address, and the unspecified addresses (Kerio webmail's `0.0.0.0`).
 */
export function canonicalAddress(ip: string | undefined): string | undefined {
  return parseClient(ip)?.canonical;
}

let lastNetworkOf: string | undefined;
let lastNetwork = '';

/** The /24 (IPv4) or /48 (IPv6) a canonical address belongs to: one site, one ISP pool. */
export function networkOf(ip: string): string {
  if (ip === lastNetworkOf) return lastNetwork;
  let net: string;
  if (ipv4Number(ip) >= 0) {
    net = `${ip.slice(0, ip.lastIndexOf('.'))}.0/24`;
  } else {
    const g = ipv6Groups(ip) ?? [];
    net = `${g.slice(0, 3).map((x) => x.toString(16)).join(':')}::/48`;
  }
  lastNetworkOf = ip;
  lastNetwork = net;
  return net;
}

/** True when the address lies in a range that has no place in the world (see SPECIAL_USE_NETWORKS). */
export function isSpecialUse(ip: string): boolean {
  specialUse ??= new NetMatcher(SPECIAL_USE_NETWORKS);
  return specialUse.contains(ip);
}
