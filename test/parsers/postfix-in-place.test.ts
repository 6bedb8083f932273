/**
 * The postfix line parser reads tags, stamps, counters and addresses in place (char codes,
 * no cut-out strings, no regexes) for speed. These tests hold each such reading to its plain
 * definition, over many shapes at once: splitTag for program tags, normaliseIp for client
 * addresses, Date.UTC for stamps, the `^\d{1,6}$` counters for `auth=`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseIp } from '../../src/core/net.js';
import { parseOffset } from '../../src/core/time.js';
import { postfix, splitTag, type PostfixEvent } from '../../src/parsers/postfix.js';
import type { ParseContext, ParseResult } from '../../src/parsers/types.js';

const PCTX: ParseContext = { source: 't', timezone: 'UTC', referenceTime: Date.parse('2026-11-22T00:00:00Z') };

function parseOne(text: string): ParseResult<unknown> {
  return postfix.createLineParser(PCTX)({ source: 't', lineNo: 1, text });
}

function eventOf(text: string): PostfixEvent | undefined {
  const r = parseOne(text);
  return r.kind === 'event' ? (r.event as PostfixEvent) : undefined;
}

const DELIVERY_AGENTS = ['smtp', 'lmtp', 'local', 'virtual', 'pipe', 'error', 'discard', 'retry'];

describe('postfix in place: program tags read as splitTag reads them', () => {
  const prefixes = ['postfix', 'postfix-out', 'postfixes', 'postfi', 'Postfix', 'xpostfix', 'post/fix', ''];
  const services = ['', 'submission/', 'a/b/', '/', '10025/', 'sübmission/'];
  const daemons = [
    ...DELIVERY_AGENTS, 'smtpd', 'qmgr', 'cleanup', 'postscreen', 'anvil', '', 'q', 'smtpdx', 'smtpD', 'Smtpd',
    'cleanupp', 'cleanu', 'qmgrr', 'lmtpd', 'locals', 'virtua', 'disc', 'retr', 'errors', 'pip', 'smt',
  ];
  const tags: string[] = [];
  for (const p of prefixes) for (const s of services) for (const d of daemons) tags.push(`${p}/${s}${d}`, `${p}${s}${d}`);

  const line = (tag: string, msg: string): string => `Jun  1 10:00:00 mx1 ${tag}[4242]: ${msg}`;

  it('gives each tag the daemon and service of splitTag', () => {
    let checked = 0;
    for (const tag of new Set(tags)) {
      if (tag === '' || tag.includes(' ')) continue;
      const daemon = splitTag(tag)?.daemon;
      const where = `tag ${JSON.stringify(tag)}`;
      const connect = eventOf(line(tag, 'connect from unknown[192.0.2.1]'));
      if (daemon === 'smtpd') {
        assert.equal(connect?.type, 'connect', where);
        assert.equal(connect?.type === 'connect' ? connect.service : undefined, splitTag(tag)?.service, where);
      } else {
        assert.equal(connect, undefined, where);
      }
      assert.equal(eventOf(line(tag, '1B2C3D4E5F: removed'))?.type, daemon === 'qmgr' ? 'removed' : undefined, where);
      assert.equal(eventOf(line(tag, '1B2C3D4E5F: message-id=<m@x>'))?.type, daemon === 'cleanup' ? 'message-id' : undefined, where);
      const delivery = eventOf(line(tag, '1B2C3D4E5F: to=<a@example.net>, relay=none, delay=1, status=sent (ok)'));
      assert.equal(delivery?.type, daemon !== undefined && DELIVERY_AGENTS.includes(daemon) ? 'delivery' : undefined, where);
      checked++;
    }
    assert.ok(checked > 1000);
  });

  it('takes the pid from the last [ of the tag, and none without a closing ]', () => {
    const e = eventOf('Jun  1 10:00:00 mx1 postfix/sub[x/smtpd[77]: connect from unknown[192.0.2.1]');
    assert.deepEqual(e?.type === 'connect' ? [e.pid, e.service] : undefined, ['77', 'sub[x']);
    const bare = eventOf('Jun  1 10:00:00 mx1 postfix/smtpd: connect from unknown[192.0.2.1]');
    assert.equal(bare?.type === 'connect' ? bare.pid : undefined, '');
    assert.equal(parseOne('Jun  1 10:00:00 mx1 [77]: connect from unknown[192.0.2.1]').kind, 'ignored');
  });
});

describe('postfix in place: client addresses read as normaliseIp reads them', () => {
  const octets = ['0', '1', '9', '10', '01', '00', '99', '100', '199', '200', '249', '250', '255', '256', '300', '999', '1000', '', 'a'];
  const addresses = new Set<string>();
  for (const a of octets) for (const b of ['0', '255', '256', '01']) addresses.add(`${a}.${b}.2.3`);
  for (const d of octets) addresses.add(`192.0.2.${d}`);
  for (const x of ['1.2.3', '1.2.3.4.5', '1..2.3', '.1.2.3', '1.2.3.', '1.2.3.4 ', ' 1.2.3.4', 'unknown', '2001:db8::1', 'IPv6:2001:DB8::1',
    '::ffff:192.0.2.1', 'ipv6:::1', '1.2.3.４', '１.2.3.4', '127.0.0.1', 'localhost']) addresses.add(x);

  it('gives a client= line the address normaliseIp gives', () => {
    for (const addr of addresses) {
      const e = eventOf(`Jun  1 10:00:00 mx1 postfix/smtpd[1]: 1B2C3D4E5F: client=host.example[${addr}], sasl_method=PLAIN, sasl_username=u@x`);
      assert.equal(e?.type, 'client', addr);
      assert.equal(e?.type === 'client' ? e.clientIp : 'none', normaliseIp(addr), JSON.stringify(addr));
    }
  });

  it('gives connect and disconnect lines the address normaliseIp gives', () => {
    for (const addr of addresses) {
      const c = eventOf(`Jun  1 10:00:00 mx1 postfix/smtpd[1]: connect from host.example[${addr}]`);
      assert.equal(c?.type === 'connect' ? c.clientIp : 'none', normaliseIp(addr), JSON.stringify(addr));
      const d = eventOf(`Jun  1 10:00:00 mx1 postfix/smtpd[1]: disconnect from host.example[${addr}] ehlo=1 quit=1 commands=2`);
      assert.equal(d?.type === 'disconnect' ? d.clientIp : 'none', normaliseIp(addr), JSON.stringify(addr));
    }
  });
});

describe('postfix in place: disconnect counters', () => {
  const cases: [string, [number, number] | 'unrecognised'][] = [
    ['auth=1', [1, 1]], ['auth=0/1', [0, 1]], ['auth=2/3', [2, 3]], ['auth=000001/000002', [1, 2]], ['auth=999999', [999999, 999999]],
    ['auth=1234567', 'unrecognised'], ['auth=1/1234567', 'unrecognised'], ['auth=', 'unrecognised'], ['auth=/1', 'unrecognised'],
    ['auth=1/', 'unrecognised'], ['auth=1/2/3', 'unrecognised'], ['auth=1e9', 'unrecognised'], ['auth=0x10', 'unrecognised'],
    ['auth=1a', 'unrecognised'], ['auth=-1', 'unrecognised'], ['auth=１', 'unrecognised'], ['auth=1/2x', 'unrecognised'],
  ];
  for (const [field, want] of cases) {
    for (const where of ['middle', 'end']) {
      it(`${field} (${where} of the line)`, () => {
        const tail = where === 'end' ? `ehlo=1 ${field}` : `ehlo=1 ${field} quit=1 commands=2`;
        const r = parseOne(`Jun  1 10:00:00 mx1 postfix/smtpd[1]: disconnect from unknown[192.0.2.1] ${tail}`);
        if (want === 'unrecognised') {
          assert.equal(r.kind, 'unrecognised');
          return;
        }
        const e = r.kind === 'event' ? (r.event as PostfixEvent) : undefined;
        assert.deepEqual(e?.type === 'disconnect' ? [e.authOk, e.authAttempts] : r.kind, want);
      });
    }
  }
});

describe('postfix in place: stamps', () => {
  const at = (text: string): number | string => {
    const e = eventOf(`${text} mx1 postfix/qmgr[1]: 1B2C3D4E5F: removed`);
    return e === undefined ? parseOne(`${text} mx1 postfix/qmgr[1]: 1B2C3D4E5F: removed`).kind : e.at;
  };

  it('reads RFC 3339 fractions of any length up to twelve digits to the millisecond below', () => {
    const base = Date.UTC(2026, 2, 4, 0, 0, 1);
    for (let n = 1; n <= 12; n++) {
      for (const digits of ['6694339999999', '9999999999999', '0009999999999', '1000000000000']) {
        const frac = digits.slice(0, n);
        const ms = Number(frac.padEnd(3, '0').slice(0, 3));
        assert.equal(at(`2026-03-04T00:00:01.${frac}Z`), base + ms, frac);
      }
    }
    // A thirteenth digit is not read as fraction, so the zone is not where it must be.
    assert.equal(at('2026-03-04T00:00:01.1234567890123Z'), 'unrecognised');
  });

  it('reads RFC 3339 zones as parseOffset does', () => {
    const zones = ['Z', 'z', '+00:00', '-00:00', '+01:00', '+0100', '-0730', '-07:30', '+23:59', '+24:00', '+12:60', '+1:00', '+01:0', '+0a:00',
      '01:00', '+01-00', '*01:00'];
    for (const zone of zones) {
      const off = parseOffset(zone);
      const want = Number.isNaN(off) ? 'unrecognised' : Date.UTC(2026, 2, 4, 10, 20, 30) - off;
      assert.equal(at(`2026-03-04T10:20:30${zone}`), want, zone);
      // The same second again with another zone is converted again, not taken from the last line.
      assert.equal(at(`2026-03-04T10:20:30${zone}`), want, `${zone} again`);
    }
  });

  it('rejects RFC 3339 stamps with digits out of range or missing', () => {
    for (const bad of ['2026-13-04T10:20:30Z', '2026-00-04T10:20:30Z', '2026-03-32T10:20:30Z', '2026-03-04T24:20:30Z', '2026-03-04T10:60:30Z',
      '2026-03-04T10:20:61Z', '20a6-03-04T10:20:30Z', '2026-3-04T10:20:30Z', '2026-03-04X10:20:30Z']) {
      assert.equal(at(bad), 'unrecognised', bad);
    }
    assert.equal(at('2026-03-04 10:20:60Z'), Date.UTC(2026, 2, 4, 10, 21, 0));
  });

  it('reads RFC 3164 days space-padded, zero-padded and bare, and rejects the rest', () => {
    const want = Date.UTC(2026, 5, 1, 10, 0, 0);
    for (const ok of ['Jun  1 10:00:00', 'Jun 01 10:00:00', 'Jun 1 10:00:00']) assert.equal(at(ok), want, ok);
    for (const bad of ['Jun 001 10:00:00', 'Jun  x 10:00:00', 'Jun 32 10:00:00', 'Jun  0 10:00:00', 'Jun  1 24:00:00', 'Jun  1 10:0:00',
      'Jux  1 10:00:00', 'Jun  1 10:00:0a']) {
      assert.equal(at(bad), 'unrecognised', bad);
    }
    // The same time in another month is another second.
    assert.equal(at('Jul  1 10:00:00'), Date.UTC(2026, 6, 1, 10, 0, 0));
  });
});
