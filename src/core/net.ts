/**
 * Address networks for trusted-network checks. node:net's BlockList does the
 * matching (IPv4, IPv6, and IPv4-mapped IPv6) without a hand-rolled bit parser.
 */
import { BlockList, isIP } from 'node:net';

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

export class NetMatcher {
  private readonly list = new BlockList();
  private readonly cache = new Map<string, boolean>();

  constructor(readonly networks: readonly string[]) {
    for (const n of networks) {
      const c = parseCidr(n);
      if (!c) throw new Error(`invalid network: ${n}`);
      this.list.addSubnet(c.address, c.prefix, c.family);
    }
  }

  /** True when `ip` lies in one of the networks. Non-addresses are never inside. */
  contains(ip: string): boolean {
    let hit = this.cache.get(ip);
    if (hit === undefined) {
      const v = isIP(ip);
      hit = v !== 0 && this.list.check(ip, v === 4 ? 'ipv4' : 'ipv6');
      if (this.cache.size > 50_000) this.cache.clear();
      this.cache.set(ip, hit);
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
