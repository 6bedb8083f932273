/**
 * Address networks for trusted-network checks. node:net's BlockList does the
 * matching of IPv6 (and IPv4-mapped IPv6) addresses; an IPv4 address, nearly every
 * client, is compared as a 32-bit number, which costs less than the BlockList's
 * SocketAddress or a cache lookup.
 */
import { BlockList, isIP } from 'node:net';
import { detached } from './detached.js';
import { RecentMap } from './recent-map.js';

/** What the address caches keep at most: an IPv6 address with a zone is under 64 characters. */
export const MAX_CACHED_CHARS = 64;

export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** `10.0.0.0/8`, `2001:db8::/32`, or a single address (full-length prefix). Undefined if invalid. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const v = isIP(address);
  if (v === 0) return undefined;
  const max = v === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return undefined;
    prefix = Number(p);
    if (prefix > max) return undefined;
  }
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

export const PRIVATE_NETWORKS: readonly string[] = [
  '127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '::1/128', 'fc00::/7', 'fe80::/10',
];

/**
 * An IPv4 dotted quad as an unsigned 32-bit number, or -1 when `ip` is not one in
 * exactly the spelling node:net's isIP accepts (four decimal octets up to 255, no
 * leading zeros, nothing around them).
 */
export function ipv4Number(ip: string): number {
  const len = ip.length;
  if (len < 7 || len > 15) return -1;
  let n = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < len; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      n = n * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      // A leading zero is refused: `01` is not an octet to isIP.
      if (digits === 3 || (digits === 1 && octet === 0)) return -1;
      octet = octet * 10 + (c - 48);
      if (octet > 255) return -1;
      digits++;
    } else {
      return -1;
    }
  }
  if (digits === 0 || dots !== 3) return -1;
  return n * 256 + octet;
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

const maskOf = (bits: number): number => (bits <= 0 ? 0 : (~0 << (32 - Math.min(32, bits))) >>> 0);

/**
 * The IPv4 addresses an IPv6 network holds, as `[base, mask]`: BlockList matches an
 * IPv4 address against IPv6 networks as `::ffff:a.b.c.d`, so `::/0`, `::ffff:0:0/96`
 * and `::ffff:198.51.100.0/120` hold IPv4 addresses; any other IPv6 network holds none.
 */
function ipv4Within(c: Cidr): readonly [number, number] | undefined {
  const g = ipv6Groups(c.address);
  if (!g) return undefined;
  const mapped = [0, 0, 0, 0, 0, 0xffff];
  // The network's leading bits must be those of ::ffff:0:0/96 as far as both go.
  for (let i = 0; i < 6 && i * 16 < c.prefix; i++) {
    const bits = Math.min(16, c.prefix - i * 16);
    const m = (0xffff << (16 - bits)) & 0xffff;
    if (((g[i] ?? 0) & m) !== ((mapped[i] ?? 0) & m)) return undefined;
  }
  const mask = maskOf(c.prefix - 96);
  return [((((g[6] ?? 0) << 16) | (g[7] ?? 0)) & mask) >>> 0, mask];
}

export class NetMatcher {
  private readonly list = new BlockList();
  /** IPv6 answers by address as logged (a copy of its own: a slice would keep its log line). */
  private readonly cache = new RecentMap<boolean>(16_384);
  /** Every network that holds IPv4 addresses, as flat `base, mask` pairs. */
  private readonly v4: number[] = [];

  constructor(readonly networks: readonly string[]) {
    for (const n of networks) {
      const c = parseCidr(n);
      if (!c) throw new Error(`invalid network: ${n}`);
      this.list.addSubnet(c.address, c.prefix, c.family);
      const range = c.family === 'ipv4' ? [(ipv4Number(c.address) & maskOf(c.prefix)) >>> 0, maskOf(c.prefix)] as const : ipv4Within(c);
      if (range) this.v4.push(range[0], range[1]);
    }
  }

  /** True when `ip` lies in one of the networks. Non-addresses are never inside. */
  contains(ip: string): boolean {
    const n = ipv4Number(ip);
    if (n >= 0) {
      const v4 = this.v4;
      for (let i = 0; i < v4.length; i += 2) if (((n & (v4[i + 1] ?? 0)) >>> 0) === v4[i]) return true;
      return false;
    }
    const answer = (): boolean => isIP(ip) === 6 && this.list.check(ip, 'ipv6');
    // Longer than an address with any usual zone: hostile text, answered but not worth a place in the cache.
    if (ip.length > MAX_CACHED_CHARS) return answer();
    let hit = this.cache.get(ip);
    if (hit === undefined) {
      hit = answer();
      this.cache.set(detached(ip), hit);
    }
    return hit;
  }
}

/**
 * A logged client address in one spelling: IPv4, or IPv6 in lower case, with the
 * `IPv6:` address-literal prefix (Postfix, the MTA) removed. Anything else
 * (`unknown`, a host name) is not an address: undefined.
 */
export function normaliseIp(addr: string): string | undefined {
  const a = addr.length > 5 && addr.charCodeAt(4) === 58 && addr.slice(0, 4).toLowerCase() === 'ipv6' ? addr.slice(5) : addr;
  return isIP(a) ? a.toLowerCase() : undefined;
}
