/**
 * A minimal MaxMind DB (MMDB v2) writer for tests: an IPv6 tree (IPv4 networks under
 * ::/96, where readers look for them) with 24-bit records, and a data section of maps,
 * strings and unsigned integers. Enough to give the countries rule a database whose
 * answers a test decides, in either record shape (ip-location-db's or GeoLite2's).
 */
import { isIP } from 'node:net';
import { ipv6Groups } from '../../src/rules/client-address.js';

export type MmdbValue = string | number | { readonly [k: string]: MmdbValue };

function control(type: number, size: number): Buffer {
  const head = (t: number, s: number): number[] => (t <= 7 ? [(t << 5) | s] : [s, t - 7]);
  if (size < 29) return Buffer.from(head(type, size));
  if (size < 29 + 256) return Buffer.from([...head(type, 29), size - 29]);
  const n = size - 285;
  return Buffer.from([...head(type, 30), n >> 8, n & 255]);
}

function encode(v: MmdbValue): Buffer {
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([control(2, b.length), b]);
  }
  if (typeof v === 'number') {
    const bytes: number[] = [];
    for (let x = v; x > 0; x = Math.floor(x / 256)) bytes.unshift(x % 256);
    return Buffer.concat([control(6, bytes.length), Buffer.from(bytes)]);
  }
  const entries = Object.entries(v);
  return Buffer.concat([control(7, entries.length), ...entries.flatMap(([k, x]) => [encode(k), encode(x)])]);
}

/** 128 bits of a network's address, as 0/1, and its prefix length in the IPv6 tree. */
function bitsOf(cidr: string): number[] {
  const [addr = '', len = ''] = cidr.split('/');
  const v4 = isIP(addr) === 4;
  const groups = v4 ? [0, 0, 0, 0, 0, 0, ...addr.split('.').map(Number).reduce<number[]>((g, o, i) => (i % 2 ? [...g.slice(0, -1), ((g.at(-1) ?? 0) << 8) | o] : [...g, o]), [])] : ipv6Groups(addr);
  if (!groups) throw new Error(`bad network ${cidr}`);
  const prefix = Number(len || (v4 ? 32 : 128)) + (v4 ? 96 : 0);
  const bits: number[] = [];
  for (const g of groups) for (let i = 15; i >= 0; i--) bits.push((g >> i) & 1);
  return bits.slice(0, prefix);
}

interface Node { children: [Node | number | undefined, Node | number | undefined] }

/** An MMDB file mapping each network to its record; addresses elsewhere have none. */
export function buildMmdb(networks: Readonly<Record<string, MmdbValue>>, databaseType = 'test-country'): Buffer {
  const root: Node = { children: [undefined, undefined] };
  const data: Buffer[] = [];
  let dataSize = 0;
  for (const [cidr, value] of Object.entries(networks)) {
    const bits = bitsOf(cidr);
    const offset = dataSize;
    const enc = encode(value);
    data.push(enc);
    dataSize += enc.length;
    let node = root;
    bits.forEach((bit, i) => {
      const b = bit as 0 | 1;
      if (i === bits.length - 1) {
        node.children[b] = -1 - offset;
        return;
      }
      let next = node.children[b];
      if (typeof next !== 'object') {
        next = { children: [undefined, undefined] };
        node.children[b] = next;
      }
      node = next;
    });
  }
  // Number the nodes breadth first; a leaf is a data offset (stored negative above).
  const order: Node[] = [root];
  for (let i = 0; i < order.length; i++) for (const c of order[i]?.children ?? []) if (typeof c === 'object') order.push(c);
  const index = new Map(order.map((n, i) => [n, i]));
  const count = order.length;
  const tree = Buffer.alloc(count * 6);
  order.forEach((n, i) => {
    n.children.forEach((c, side) => {
      const rec = c === undefined ? count : typeof c === 'object' ? (index.get(c) ?? count) : count + 16 + (-1 - c);
      tree.writeUIntBE(rec, i * 6 + side * 3, 3);
    });
  });
  const meta = Buffer.concat([
    control(7, 7),
    encode('node_count'), encode(count),
    encode('record_size'), Buffer.concat([control(5, 1), Buffer.from([24])]),
    encode('ip_version'), Buffer.concat([control(5, 1), Buffer.from([6])]),
    encode('database_type'), encode(databaseType),
    encode('binary_format_major_version'), Buffer.concat([control(5, 1), Buffer.from([2])]),
    encode('binary_format_minor_version'), control(5, 0),
    encode('build_epoch'), Buffer.concat([control(9, 4), Buffer.from([0x69, 0, 0, 0])]),
  ]);
  return Buffer.concat([tree, Buffer.alloc(16), ...data, Buffer.from([0xab, 0xcd, 0xef]), Buffer.from('MaxMind.com'), meta]);
}
