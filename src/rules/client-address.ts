/**
 * Client addresses as the learning rules see them: one spelling per address (so an
 * IPv4 client logged as `::ffff:1.2.3.4` by a dual-stack listener is the same client),
 * the network it belongs to, and whether it can have a place in the world at all.
 */
import { isIP } from 'node:net';
import { NetMatcher } from '../core/net.js';

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

const specialUse = new NetMatcher(SPECIAL_USE_NETWORKS);

/** The IPv4 ranges as [base, mask] pairs: checked by arithmetic, which is far cheaper than a BlockList per new address. */
const SPECIAL_V4: readonly (readonly [number, number])[] = SPECIAL_USE_NETWORKS.filter((n) => n.includes('.')).map((n) => {
  const [addr = '', len = '32'] = n.split('/');
  const mask = Number(len) === 0 ? 0 : (~0 << (32 - Number(len))) >>> 0;
  return [(ipv4Number(addr) & mask) >>> 0, mask] as const;
});

function ipv4Number(ip: string): number {
  let n = 0;
  for (const part of ip.split('.')) n = n * 256 + Number(part);
  return n;
}

/** The eight 16-bit groups of an IPv6 address (with `::` and a dotted tail), or undefined. */
export function ipv6Groups(ip: string): number[] | undefined {
  if (isIP(ip) !== 6) return undefined;
  let text = ip;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    // A dotted IPv4 tail is two groups: rewrite it as such and parse one shape only.
    const [a = 0, b = 0, c = 0, d = 0] = text.slice(lastColon + 1).split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((h) => parseInt(h, 16)));
  const halves = text.split('::');
  const left = parse(halves[0] ?? '');
  if (halves.length === 1) return left.length === 8 ? left : undefined;
  const right = parse(halves[1] ?? '');
  const fill = 8 - left.length - right.length;
  return fill >= 1 ? [...left, ...new Array<number>(fill).fill(0), ...right] : undefined;
}

/**
 * The address in one spelling: lower case, and an IPv4-mapped IPv6 address
 * (`::ffff:198.51.100.7`, `::ffff:c633:6407`) as plain IPv4. Undefined for a missing
 * address, a non-address, and the unspecified addresses (Kerio webmail's `0.0.0.0`).
 */
export function canonicalAddress(ip: string | undefined): string | undefined {
  if (ip === undefined) return undefined;
  const v = isIP(ip);
  if (v === 4) return ip === '0.0.0.0' ? undefined : ip;
  if (v !== 6) return undefined;
  const g = ipv6Groups(ip);
  if (!g) return undefined;
  if (g.every((x) => x === 0)) return undefined;
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    const hi = g[6] ?? 0;
    const lo = g[7] ?? 0;
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return ip.toLowerCase();
}

/** The /24 (IPv4) or /48 (IPv6) a canonical address belongs to: one site, one ISP pool. */
export function networkOf(ip: string): string {
  if (isIP(ip) === 4) return `${ip.slice(0, ip.lastIndexOf('.'))}.0/24`;
  const g = ipv6Groups(ip) ?? [];
  return `${g.slice(0, 3).map((x) => x.toString(16)).join(':')}::/48`;
}

/** True when the address lies in a range that has no place in the world (see SPECIAL_USE_NETWORKS). */
export function isSpecialUse(ip: string): boolean {
  if (isIP(ip) !== 4) return specialUse.contains(ip);
  const n = ipv4Number(ip);
  return SPECIAL_V4.some(([base, mask]) => ((n & mask) >>> 0) === base);
}
