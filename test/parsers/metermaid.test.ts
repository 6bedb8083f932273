 
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { metermaid, parseClientAddress, parseCounterBody, stampToEpoch, detectMeterMaid } from '../../src/parsers/metermaid.js';
import type { MeterMaidEvent } from '../../src/parsers/metermaid.js';
import { DETECT_THRESHOLD, findParser } from '../../src/parsers/index.js';
import type { LineStatus } from '../../src/parsers/types.js';
import type { MailRecord } from '../../src/core/types.js';

const PCTX = { source: 'test.log', timezone: 'UTC', referenceTime: Date.parse('2026-11-22T00:00:00Z') };

/** Runs lines through the whole plugin (line parser + correlator) as the pipeline does. */
function run(lines: readonly string[], defaultDomain?: string): { records: MailRecord[]; statuses: LineStatus[] } {
  const records: MailRecord[] = [];
  const session = metermaid.open(PCTX, { defaultDomain, openTtlMs: 60_000 }, (r) => records.push(r));
  const statuses = lines.map((text, i) => session.push({ source: 'test.log', lineNo: i + 1, text }));
  session.flush();
  return { records, statuses };
}

function parseOne(text: string, timezone = 'UTC'): MeterMaidEvent | undefined {
  const r = metermaid.createLineParser({ ...PCTX, timezone })({ source: 't', lineNo: 1, text });
  return r.kind === 'event' ? (r.event as MeterMaidEvent) : undefined;
}

const COUNTER = '[06/Mar/2012:14:05:01 -0800] mail1 metermaid[2141]: General Notice: Current status for "JDoe@Example.EDU" in sendlim: 90 / 100';
const IP_COUNTER = '[06/Mar/2012:14:05:02 -0800] mail1 metermaid[2141]: General Notice: Current status for "192.0.2.17" in conn: 25 / 20';
const BADLOGIN = '[29/May/2019:08:39:42 +0200] store1 imapd[17849]: Account Notice: badlogin: [198.51.100.6:45711] plaintext User1 Authentication failed';
const LOGIN = '[30/Aug/2004:16:53:13 -0700] store2 popd[13027]: Account Information: login [192.0.2.64:40718] user1 plaintext';

describe('metermaid: records', () => {
  it('turns a counter keyed by an address into a Counter with a normalised account', () => {
    const { records } = run([COUNTER], 'example.org');
    assert.deepEqual(records, [{
      kind: 'counter', at: Date.parse('2012-03-06T22:05:01Z'), host: 'mail1',
      key: 'JDoe@Example.EDU', account: 'jdoe@example.edu', table: 'sendlim', count: 90, quota: 100,
      evidence: [{ source: 'test.log', lineNo: 1, text: COUNTER }],
    }]);
  });

  it('keeps an IP key as the key and names no account', () => {
    const [r] = run([IP_COUNTER], 'example.org').records;
    assert.equal(r?.kind, 'counter');
    if (r?.kind !== 'counter') return;
    assert.equal(r.key, '192.0.2.17');
    assert.equal(r.count, 25);
    assert.equal(r.quota, 20);
    assert.ok(!('account' in r), 'an IP key must not become an account');
  });

  it('gives a bare-word key no account, even with a default domain', () => {
    const line = COUNTER.replace('"JDoe@Example.EDU"', '"jdoe"');
    const [r] = run([line], 'example.org').records;
    assert.ok(r && !('account' in r));
  });

  it('strips the angle brackets a FROM_ACCESS mapping may pass from the account, not the key', () => {
    const line = COUNTER.replace('"JDoe@Example.EDU"', '"<Bulk@Example.net>"');
    const [r] = run([line]).records;
    assert.ok(r?.kind === 'counter');
    assert.equal(r.key, '<Bulk@Example.net>');
    assert.equal(r.account, 'bulk@example.net');
  });

  it('turns badlogin into an AuthFailure with service, mechanism, reason and client IP', () => {
    const { records } = run([BADLOGIN], 'example.fr');
    assert.deepEqual(records, [{
      kind: 'auth-failure', at: Date.parse('2019-05-29T06:39:42Z'), host: 'store1', service: 'imapd',
      account: 'user1@example.fr', login: 'User1', clientIp: '198.51.100.6', mechanism: 'plaintext',
      reason: 'Authentication failed', evidence: [{ source: 'test.log', lineNo: 1, text: BADLOGIN }],
    }]);
  });

  it('turns login into an AuthSuccess; without a default domain the bare login is the account', () => {
    const { records } = run([LOGIN]);
    assert.deepEqual(records, [{
      kind: 'auth-success', at: Date.parse('2004-08-30T23:53:13Z'), host: 'store2', service: 'popd',
      account: 'user1', login: 'user1', clientIp: '192.0.2.64',
      evidence: [{ source: 'test.log', lineNo: 1, text: LOGIN }],
    }]);
  });

  it('leaves clientIp out when the brackets hold no IP', () => {
    const line = BADLOGIN.replace('[198.51.100.6:45711]', '[client.example.net:4000]');
    const [r] = run([line]).records;
    assert.ok(r?.kind === 'auth-failure');
    assert.ok(!('clientIp' in r));
    assert.equal(r.login, 'User1');
  });

  it('reports each line status and sends nothing for ignored or unrecognised lines', () => {
    const { records, statuses } = run([
      COUNTER,
      '[06/Mar/2012:14:05:01 -0800] mail1 imapd[1]: General Notice: Log created (1)',
      '[03/Jul/2013 09:43:41] Recv: Queue-ID: 1, Service: SMTP',
      '',
      BADLOGIN,
    ]);
    assert.deepEqual(statuses, ['event', 'ignored', 'unrecognised', 'ignored', 'event']);
    assert.deepEqual(records.map((r) => r.kind), ['counter', 'auth-failure']);
  });

  it('has a stateless correlator: snapshot is null and any saved state is ignored', () => {
    const records: MailRecord[] = [];
    const session = metermaid.open(PCTX, { openTtlMs: 1 }, (r) => records.push(r), { junk: [1, 2, 3] });
    assert.equal(session.snapshot(), null);
    session.push({ source: 's', lineNo: 1, text: COUNTER });
    assert.equal(records.length, 1, 'a record is emitted at once, not on flush');
    session.flush();
    assert.equal(records.length, 1);
    assert.equal(session.snapshot(), null);
    assert.deepEqual(session.diagnostics(), []);
  });

  it('is registered under its file name', () => {
    assert.equal(findParser('metermaid'), metermaid);
  });
});

describe('metermaid: time zones', () => {
  it('reads the same instant from stamps east, west and at UTC', () => {
    const at = (stamp: string): number | undefined =>
      parseOne(`[${stamp}] h metermaid[1]: General Notice: Current status for "a@b.c" in t: 1 / 2`)?.at;
    const want = Date.parse('2019-05-29T06:39:42Z');
    assert.equal(at('29/May/2019:08:39:42 +0200'), want);
    assert.equal(at('29/May/2019:01:39:42 -0500'), want);
    assert.equal(at('29/May/2019:06:39:42 +0000'), want);
    assert.equal(at('29/May/2019:12:09:42 +0530'), want);
    assert.equal(at('28/May/2019:20:39:42 -1000'), want);
  });

  it('ignores the source timezone: the stamp carries its own offset', () => {
    const a = parseOne(COUNTER, 'UTC')?.at;
    assert.equal(parseOne(COUNTER, 'Asia/Tokyo')?.at, a);
    assert.equal(parseOne(COUNTER, 'America/Los_Angeles')?.at, a);
  });

  it('gives each line its own time when stamps alternate (the one-entry cache is per stamp)', () => {
    const parse = metermaid.createLineParser(PCTX);
    const line = (s: string): string => `[${s}] h imapd[1]: Account Information: login [192.0.2.1:1] u plaintext`;
    const times = ['01/Jan/2020:00:00:00 +0000', '01/Jan/2020:00:00:00 +0100', '01/Jan/2020:00:00:00 +0000']
      .map((s) => parse({ source: 's', lineNo: 1, text: line(s) }))
      .map((r) => (r.kind === 'event' ? (r.event as MeterMaidEvent).at : NaN));
    assert.deepEqual(times, [Date.parse('2020-01-01T00:00:00Z'), Date.parse('2019-12-31T23:00:00Z'), Date.parse('2020-01-01T00:00:00Z')]);
  });

  it('rejects impossible stamps instead of rolling them over', () => {
    for (const s of ['31/Apr/2020:00:00:00 +0000', '29/Feb/2019:00:00:00 +0000', '01/Jan/2020:24:00:00 +0000',
      '01/Jan/2020:00:60:00 +0000', '01/Jan/2020:00:00:00 +0060', '01/Foo/2020:00:00:00 +0000', '01/Jan/0099:00:00:00 +0000']) {
      assert.ok(Number.isNaN(stampToEpoch(s)), s);
    }
    assert.equal(stampToEpoch('29/Feb/2020:23:59:60 +0000'), Date.parse('2020-03-01T00:00:00Z'), 'a leap second reads as the next second');
  });
});

describe('metermaid: counter body', () => {
  const cases: readonly [string, ReturnType<typeof parseCounterBody>][] = [
    [' "a@b.c" in sendlim: 90 / 100', { key: 'a@b.c', table: 'sendlim', count: 90, quota: 100 }],
    ['  "a@b.c"   in   sendlim  :  0/1  ', { key: 'a@b.c', table: 'sendlim', count: 0, quota: 1 }],
    [' "2001:db8::1" in conn: 3 / 20', { key: '2001:db8::1', table: 'conn', count: 3, quota: 20 }],
    // A forged tail inside the key moves nothing: the server's tail is the last one.
    [' "v@x.y" in t: 1 / 100" in t: 99 / 100', { key: 'v@x.y" in t: 1 / 100', table: 't', count: 99, quota: 100 }],
    [' "a/b@x.y" in t: 1 / 2', { key: 'a/b@x.y', table: 't', count: 1, quota: 2 }],
    [' "a@b.c" in t: 1 / 2\r', { key: 'a@b.c', table: 't', count: 1, quota: 2 }],
    [' "a@b.c" in t: -1 / 2', undefined],
    [' "a@b.c" in t: 1 / 1e3', undefined],
    [' "a@b.c" in "t": 1 / 2', undefined],
    [' "a@b.c"in t: 1 / 2', undefined],
    [' "a@b.c" within t: 1 / 2', undefined],
    [' "   " in t: 1 / 2', undefined],
    [' " in t: 1 / 2', undefined],
    ['', undefined],
  ];
  for (const [body, want] of cases) {
    it(JSON.stringify(body), () => assert.deepEqual(parseCounterBody(body), want));
  }
});

describe('metermaid: client address', () => {
  const cases: readonly [string, string | undefined][] = [
    ['192.0.2.1:45711', '192.0.2.1'],
    ['192.0.2.1', '192.0.2.1'],
    ['2001:db8::1:45711', '2001:db8::1'],
    // Ambiguous with a 4-digit port: the server always appends one, so it is split off.
    ['2001:db8::1:4571', '2001:db8::1'],
    ['[2001:db8::1]:45711', '2001:db8::1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['::1', '::1'],
    ['::ffff:192.0.2.7:50111', '::ffff:192.0.2.7'],
    // node:net accepts a scoped link-local address (zone ids of word characters only).
    ['fe80::1%eth0:993', 'fe80::1%eth0'],
    ['fe80::1%e t:993', undefined],
    ['unauthenticated', undefined],
    ['host.example.net:143', undefined],
    ['192.0.2.1:999999', undefined],
    ['', undefined],
  ];
  for (const [input, want] of cases) {
    it(JSON.stringify(input), () => assert.equal(parseClientAddress(input), want));
  }
});

describe('metermaid: detection', () => {
  const service = [
    '[29/May/2019:10:44:56 +0200] store1 imapd[17849]: General Information: Log created (1559119496)',
    BADLOGIN,
    LOGIN,
    '[11/Jun/2019:23:01:19 +0200] store1 imexpire[24489]: General Notice: Expire finished',
  ];
  const others: Record<string, readonly string[]> = {
    kerio: [
      '[03/Jul/2013 09:43:41] Recv: Queue-ID: 51d3d7bd-00000001, Service: SMTP, From: <a@example.com>, To: <b@example.com>, Size: 1024, Sender-Host: 192.0.2.1, SSL: no, Subject: hi, Msg-Id: <x@example.com>',
      '[03/Jul/2013 09:43:42] Sent: Queue-ID: 51d3d7bd-00000001, Recipient: <b@example.com>, Result: delivered, Status: 2.0.0 , Remote-Host: 192.0.2.2, Msg-Id: <x@example.com>',
      '[03/Jul/2013 09:43:43] Failed SMTP login from 192.0.2.1 with SASL method LOGIN.',
    ],
    postfix: [
      'Mar  6 14:05:01 mail1 postfix/smtpd[2141]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: UGFzc3dvcmQ6',
      '2024-03-22T08:00:01.000+00:00 mail1 postfix/submission/smtpd[1]: 4ABC: client=unknown[192.0.2.1], sasl_method=PLAIN, sasl_username=a@example.com',
    ],
    'mta-transaction': [
      '29-May-2019 08:39:42.12 tcp_local tcp_intranet EE 1 a@example.com rfc822;b@example.com b@example.com',
      '<co ts="2014-03-06T17:08:39.39" pi="0e47.0140.000c" sc="tcp_submit" dr="+" ac="U" tr="TCP|192.0.2.3|587|198.51.100.1|1234" ap="SMTP" mi="Bad password" us="x"/>',
    ],
    apache: ['192.0.2.1 - - [06/Mar/2012:14:05:01 -0800] "GET / HTTP/1.1" 200 512'],
  };

  it('is highly confident about service-log lines', () => {
    assert.ok(metermaid.detect(service) >= 0.9, String(metermaid.detect(service)));
  });

  it('is fully confident once a MeterMaid counter appears', () => {
    assert.equal(metermaid.detect([...service, COUNTER]), 1);
  });

  it('skips blank lines and says 0 for an empty sample', () => {
    assert.ok(metermaid.detect(['', ...service, '  ']) >= 0.9);
    assert.equal(metermaid.detect([]), 0);
    assert.equal(metermaid.detect(['', '']), 0);
  });

  for (const [family, lines] of Object.entries(others)) {
    it(`does not claim ${family} lines`, () => assert.equal(metermaid.detect(lines), 0));
  }

  it('stays below the detection threshold when only a stray line of a mostly foreign file matches', () => {
    const mixed = [...others.postfix ?? [], ...others.postfix ?? [], ...others.kerio ?? [], LOGIN];
    assert.ok(detectMeterMaid(mixed) < DETECT_THRESHOLD);
  });
});

describe('metermaid: hostile input', () => {
  const parse = metermaid.createLineParser(PCTX);
  const head = '[06/Mar/2012:14:05:01 -0800] mail1 metermaid[2141]: General Notice: ';

  function timed(text: string): { kind: string; ms: number } {
    const t0 = performance.now();
    const r = parse({ source: 's', lineNo: 1, text });
    return { kind: r.kind, ms: performance.now() - t0 };
  }

  it('handles megabyte lines of pathological shapes in linear time', () => {
    const n = 1_000_000;
    const shapes = [
      head + 'Current status for "' + '" in '.repeat(n / 5) + 'x: 1 / 2',
      head + 'Current status for "' + 'a'.repeat(n) + '" in t: 1 / 2',
      head + 'Current status for ' + '"'.repeat(n),
      head + 'Current status for "a" in t' + ':'.repeat(n) + '1 / 2',
      head + 'badlogin: [' + '1:'.repeat(n / 2),
      head + 'login [' + ']'.repeat(n),
      '[06/Mar/2012:14:05:01 -0800] ' + 'h'.repeat(n) + ' imapd[1]: x',
      '[06/Mar/2012:14:05:01 -0800] h ' + 'p'.repeat(n),
      '['.repeat(n),
      head + 'a'.repeat(n) + ':',
      head + 'a '.repeat(n / 2),
    ];
    for (const s of shapes) {
      const { ms } = timed(s);
      assert.ok(ms < 500, `${ms.toFixed(0)} ms for ${s.slice(0, 80)}...`);
    }
    assert.equal(timed(shapes[1] ?? '').kind, 'event', 'a long key is still a key');
    assert.equal(timed(shapes[6] ?? '').kind, 'unrecognised', 'a header beyond the window is not this format');
  });

  it('never throws on random fragments of real shapes', () => {
    const parts = ['[', ']', '06/Mar/2012:14:05:01', ' -0800', ' +0200', ' ', '  ', '\t', 'h', 'metermaid', 'imapd', '[1]', ':',
      'General', 'Notice', 'Current status for', '"', 'a@b.c', ' in ', 't', '1', '/', '.', 'badlogin:', 'login', '[::1:5]',
      '192.0.2.1:5', 'plaintext', 'user', '\u0000', '\u00e9', '\ud800', '\r'];
    let seed = 42;
    const rnd = (k: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % k;
    };
    for (let i = 0; i < 20_000; i++) {
      let text = rnd(2) === 0 ? head : '';
      for (let j = rnd(30); j > 0; j--) text += parts[rnd(parts.length)] ?? '';
      assert.doesNotThrow(() => parse({ source: 's', lineNo: i, text }), text);
    }
  });

  it('keeps control characters in a key verbatim (sinks strip them before output)', () => {
    const ev = parseOne(head + 'Current status for "a\u0007\u001b[31m@b.c" in t: 1 / 2');
    assert.equal(ev?.type === 'counter' ? ev.key : undefined, 'a\u0007\u001b[31m@b.c');
  });
});
