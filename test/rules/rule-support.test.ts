/**
 * The helpers the windowed rules share: client addresses and their networks, and the
 * compact forms their state is saved in.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clientKey, formatIpv6, networkOf, packSet16, parseClient, unpackLines, unpackSet16 } from '../../src/rules/rule-support.js';
import { packLines } from '../helpers/old-state.js';

describe('rule-support: client addresses', () => {
  const cases: [string | undefined, string | undefined][] = [
    ['198.51.100.7', '198.51.100.7'],
    ['::ffff:198.51.100.7', '198.51.100.7'],
    ['::ffff:c633:6407', '198.51.100.7'],
    ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0000:0001::5', '2001:db8:0:1::5'],
    ['0.0.0.0', undefined],
    ['::', undefined],
    ['mail.example.org', undefined],
    ['300.1.1.1', undefined],
    [undefined, undefined],
  ];
  for (const [input, ip] of cases) {
    it(`parseClient(${String(input)}) is ${String(ip)}`, () => assert.equal(parseClient(input)?.ip, ip));
  }

  it('networks: /24 and /16 for IPv4, /48, /32 and /64 for IPv6, in the short form', () => {
    const v4 = parseClient('198.51.100.7');
    const v6 = parseClient('2001:db8:1:2:3:4:5:6');
    assert.ok(v4 && v6);
    assert.deepEqual([networkOf(v4, 24), networkOf(v4, 16), networkOf(v4, 32), clientKey(v4)], ['198.51.100.0/24', '198.51.0.0/16', '198.51.100.7', '198.51.100.7']);
    assert.deepEqual([networkOf(v6, 48), networkOf(v6, 32), clientKey(v6)], ['2001:db8:1::/48', '2001:db8::/32', '2001:db8:1:2::/64']);
  });

  it('formatIpv6 shortens the longest run of zero groups, a single zero group stays', () => {
    assert.equal(formatIpv6([0x2001, 0xdb8, 0, 0, 1, 0, 0, 0]), '2001:db8:0:0:1::');
    assert.equal(formatIpv6([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1]), '2001:db8:0:1:1:1:1:1');
    assert.equal(formatIpv6([0, 0, 0, 0, 0, 0, 0, 1]), '::1');
  });
});

describe('rule-support: packSet16', () => {
  it('gives back the same set for every size, in about log2(65536 / n) + 1.5 bits a value', () => {
    for (const n of [0, 1, 2, 3, 10, 150, 2000, 20_000, 65_536]) {
      // An odd multiplier permutes 0..65535: n distinct values, spread like hashes.
      const values = new Set(Array.from({ length: n }, (_, i) => (Math.imul(i, 40_503) + 17) & 0xffff));
      const packed = packSet16(values);
      assert.deepEqual(unpackSet16(packed), [...values].sort((a, b) => a - b), `n = ${n}`);
      if (n >= 150) assert.ok((packed.length * 6) / n < Math.log2(65_536 / n) + 3, `n = ${n}: ${packed.length} chars`);
    }
  });

  it('a damaged string gives what can be read, never a value out of range', () => {
    for (const text of ['', '!!!', 'AA==', '/////////w==', Buffer.from([40, 255, 255]).toString('base64')]) {
      for (const v of unpackSet16(text)) assert.ok(Number.isInteger(v) && v >= 0 && v <= 0xffff, text);
    }
  });
});

describe('rule-support: packLines', () => {
  it('gives back the same lines, and nothing (no exception) for a damaged block', () => {
    const lines = Array.from({ length: 50 }, (_, i) => ({ source: '/var/log/mail.log', lineNo: i + 1, text: `Mar  4 00:00:${String(i).padStart(2, '0')} smtp2 postfix/smtpd[1]: héllo ${i} "quoted" \\ back` }));
    const packed = packLines(lines);
    assert.deepEqual(unpackLines(packed), lines);
    assert.deepEqual(packed.sources, ['/var/log/mail.log']);
    assert.ok(packed.lines.length < JSON.stringify(lines).length / 4, `${packed.lines.length} chars`);
    assert.deepEqual(packLines([]), { sources: [], lines: '' });
    assert.deepEqual(unpackLines({ sources: [], lines: '' }), []);
    assert.deepEqual(unpackLines({ sources: [], lines: packed.lines }), [], 'an input missing from the names');
    for (const bad of ['!!!', 'AAAA', packed.lines.slice(0, packed.lines.length >> 1), Buffer.from('[1,2]').toString('base64')]) {
      assert.deepEqual(unpackLines({ sources: packed.sources, lines: bad }), [], bad);
    }
  });
});
