/**
 * The hand-written address parsing the rules' hot path relies on, held against
 * node:net: ipv4Number accepts exactly what isIP calls IPv4, and NetMatcher answers
 * as a plain BlockList does (IPv4 against IPv6 networks too, which BlockList matches
 * as `::ffff:a.b.c.d`). The one-entry memo of parseClient must never hand one
 * address's parse to another.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BlockList, isIP } from 'node:net';
import fc from 'fast-check';
import { ipv4Number, NetMatcher, parseCidr } from '../../src/core/net.js';
import { canonicalAddress, networkOf, parseClient } from '../../src/rules/client-address.js';

const octet = fc.oneof(fc.integer({ min: 0, max: 255 }).map(String), fc.constantFrom('00', '01', '256', '999', '', '-1', '1a', ' 1', '0x1'));
const dotted = fc.array(octet, { minLength: 1, maxLength: 6 }).map((parts) => parts.join('.'));
const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const hex = fc.integer({ min: 0, max: 0xffff }).map((x) => x.toString(16));
const v6 = fc.oneof(
  fc.array(hex, { minLength: 8, maxLength: 8 }).map((g) => g.join(':')),
  fc.tuple(fc.array(hex, { maxLength: 3 }), fc.array(hex, { maxLength: 3 })).map(([a, b]) => `${a.join(':')}::${b.join(':')}`),
  v4.map((a) => `::ffff:${a}`),
  v4.map((a) => `::${a}`),
);

function reference(networks: readonly string[]): (ip: string) => boolean {
  const list = new BlockList();
  for (const n of networks) {
    const c = parseCidr(n);
    if (c) list.addSubnet(c.address, c.prefix, c.family);
  }
  return (ip) => {
    const v = isIP(ip);
    return v !== 0 && list.check(ip, v === 4 ? 'ipv4' : 'ipv6');
  };
}

describe('client-address: IPv4 parsing', () => {
  it('ipv4Number accepts exactly what isIP calls IPv4, and gives its value', () => {
    fc.assert(fc.property(fc.oneof(dotted, v4, fc.string({ maxLength: 16 })), (s) => {
      const n = ipv4Number(s);
      assert.equal(n >= 0, isIP(s) === 4, s);
      if (n >= 0) assert.equal(n, s.split('.').reduce((acc, p) => acc * 256 + Number(p), 0), s);
    }), { numRuns: 5000 });
  });
});

describe('client-address: NetMatcher against BlockList', () => {
  const cidr = fc.oneof(
    fc.tuple(v4, fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}/${p}`),
    fc.tuple(v6, fc.integer({ min: 0, max: 128 })).map(([a, p]) => `${a}/${p}`),
    fc.tuple(v4, fc.integer({ min: 96, max: 128 })).map(([a, p]) => `::ffff:${a}/${p}`),
    fc.constantFrom('::/0', '::ffff:0:0/96', '::/96', 'fc00::/7', '0.0.0.0/0', '198.51.100.7'),
  ).filter((n) => parseCidr(n) !== undefined);

  it('answers as a plain BlockList for IPv4, IPv6, mapped and non-addresses', () => {
    fc.assert(fc.property(fc.array(cidr, { maxLength: 6 }), fc.array(fc.oneof(v4, v6, dotted, fc.constant('unknown')), { minLength: 1, maxLength: 20 }), (nets, ips) => {
      const m = new NetMatcher(nets);
      const ref = reference(nets);
      for (const ip of ips) assert.equal(m.contains(ip), ref(ip), `${ip} in ${nets.join(' ')}`);
    }), { numRuns: 2000 });
  });

  it('an IPv4 address is inside an IPv6 network that holds its mapped form', () => {
    const m = new NetMatcher(['::ffff:198.51.100.0/120', '2001:db8::/32']);
    assert.equal(m.contains('198.51.100.9'), true);
    assert.equal(m.contains('198.51.101.9'), false);
    assert.equal(m.contains('::ffff:198.51.100.9'), true);
  });
});

describe('client-address: the parse memo', () => {
  it('alternating addresses each get their own answer', () => {
    const inputs = ['198.51.100.7', '::ffff:198.51.100.8', '2001:DB8::1', '0.0.0.0', '::ffff:0.0.0.0', 'unknown', '198.51.100.7'];
    const fresh = inputs.map((ip) => JSON.stringify(parseClient(ip)));
    for (let round = 0; round < 3; round++) {
      inputs.forEach((ip, i) => {
        assert.equal(JSON.stringify(parseClient(ip)), fresh[i], ip);
        assert.equal(JSON.stringify(parseClient(ip)), fresh[i], `${ip} again`);
      });
    }
    assert.equal(parseClient('::ffff:0.0.0.0')?.ip, '0.0.0.0');
    assert.equal(canonicalAddress('2001:DB8:0:0::1'), '2001:db8:0:0::1');
    assert.equal(parseClient('2001:DB8:0:0::1')?.ip, '2001:db8::1');
    assert.equal(parseClient('2001:DB8:0:0::1')?.key, '2001:db8::/64');
    assert.equal(networkOf('2001:db8:0:0::1'), '2001:db8:0::/48');
    assert.equal(networkOf('198.51.100.7'), '198.51.100.0/24');
  });
});
