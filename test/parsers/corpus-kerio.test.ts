/**
 * The kerio plugin over the real Kerio lines in ../shared/corpus/kerio (read in place,
 * never copied: several have no licence). The expected counts were verified by reading
 * each file line by line.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { kerio } from '../../src/parsers/kerio.js';
import type { AuthFailure, Delivery, MailRecord, Submission } from '../../src/core/types.js';
import type { LineStatus } from '../../src/parsers/types.js';
import { corpusDir } from '../helpers/paths.js';

interface Counts {
  /** Log lines fed (fail2ban's `# failJSON` annotations and the blank lines between them are not log lines). */
  readonly lines: number;
  readonly submissions: number;
  readonly deliveries: number;
  readonly authFailures: number;
  readonly ignored: number;
  readonly unrecognised: number;
}

const EXPECTED: Readonly<Record<string, Counts>> = {
  // SPF x3, header filter, DNSBL, spam attack x2, antivirus update: all notices, no logins.
  'crowdsec-hub-issue437-kerio-security.log': { lines: 8, submissions: 0, deliveries: 0, authFailures: 0, ignored: 8, unrecognised: 0 },
  // `SMTP: User printer@verinion.com doesn't exist` and `Failed SMTP login ... CRAM-MD5`; the rest are rejections.
  'fail2ban-kerio.log': { lines: 15, submissions: 0, deliveries: 0, authFailures: 2, ignored: 13, unrecognised: 0 },
  // One webmail send and its local delivery.
  'ngocnd02-thuctap-kerio-mail.log': { lines: 2, submissions: 1, deliveries: 1, authFailures: 0, ignored: 0, unrecognised: 0 },
  // A webmail send; an inbound SMTP message (no User:) and its delivery; a webmail login failure; a virus notice.
  'unidentified-vn-howto-kerio-mail-security.log': { lines: 5, submissions: 1, deliveries: 0, authFailures: 1, ignored: 1, unrecognised: 0 },
};

interface Result {
  readonly records: MailRecord[];
  readonly statuses: LineStatus[];
}

function runFile(path: string, name: string): Result {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  const records: MailRecord[] = [];
  const session = kerio.open(
    { source: name, timezone: 'UTC', referenceTime: Date.parse('2026-01-01T00:00:00Z') },
    { defaultDomain: undefined, openTtlMs: 600_000 },
    (r) => records.push(r),
  );
  const statuses = lines.map((text, i) => session.push({ source: name, lineNo: i + 1, text }));
  session.flush();
  return { records, statuses };
}

function countsOf({ records, statuses }: Result): Counts {
  const kinds = (k: MailRecord['kind']): number => records.filter((r) => r.kind === k).length;
  const status = (s: LineStatus): number => statuses.filter((x) => x === s).length;
  return {
    lines: statuses.length, submissions: kinds('submission'), deliveries: kinds('delivery'),
    authFailures: kinds('auth-failure'), ignored: status('ignored'), unrecognised: status('unrecognised'),
  };
}

const dir = corpusDir('kerio');
const skip = dir ? false : 'no ../shared/corpus/kerio beside the repository: the real-log corpus is not installed here';

describe('kerio over the shared corpus', { skip }, () => {
  const files = dir ? readdirSync(dir).filter((f) => f.endsWith('.log')).sort() : [];
  const results = new Map<string, Result>();
  const result = (name: string): Result => {
    let r = results.get(name);
    if (!r && dir) {
      r = runFile(join(dir, name), name);
      results.set(name, r);
    }
    assert.ok(r, `${name} not run`);
    return r;
  };

  it('finds the corpus files', () => {
    assert.ok(files.length > 0);
  });

  for (const name of files) {
    it(`${name}: parses without error, with the verified counts`, () => {
      const expected = EXPECTED[name];
      assert.ok(expected, `${name} is new in the corpus: read it and add its verified counts to EXPECTED`);
      assert.deepEqual(countsOf(result(name)), expected);
    });
  }

  it('ngocnd02: the webmail send, its time from the Queue-ID, no client address', () => {
    if (!files.includes('ngocnd02-thuctap-kerio-mail.log')) return;
    const { records } = result('ngocnd02-thuctap-kerio-mail.log');
    const [s, d] = records as [Submission, Delivery];
    assert.equal(s.kind, 'submission');
    assert.equal(s.account, 'ngocnd@nguyenducngoc.com');
    assert.equal(s.service, 'Kerio Connect Client');
    assert.equal(s.at, Date.parse('2024-03-11T04:40:39Z'), '11:40:39 local at UTC+7');
    assert.equal(s.clientIp, undefined);
    assert.deepEqual(s.recipients, ['trang@nguyenducngoc.com']);
    assert.equal(s.messageId, '735055329-3299@mail.nguyenducngoc.com');
    assert.equal(d.kind, 'delivery');
    assert.deepEqual([d.account, d.recipient, d.status], ['ngocnd@nguyenducngoc.com', 'trang@nguyenducngoc.com', 'sent']);
  });

  it('unidentified-vn: only the webmail send is a submission; the webmail login failure keeps its address', () => {
    if (!files.includes('unidentified-vn-howto-kerio-mail-security.log')) return;
    const { records } = result('unidentified-vn-howto-kerio-mail-security.log');
    const subs = records.filter((r): r is Submission => r.kind === 'submission');
    assert.deepEqual(subs.map((s) => [s.account, s.service, s.at]), [
      ['shaikerio@tubui.xyz', 'Kerio Connect Client', Date.parse('2022-08-24T09:28:11Z')],
    ]);
    const [f] = records.filter((r): r is AuthFailure => r.kind === 'auth-failure');
    assert.equal(f?.account, 'shaikerio@tubui.xyz');
    assert.equal(f?.clientIp, '117.4.255.125');
    assert.equal(f?.service, 'HTTP/WebMail');
    assert.equal(f?.accountExists, true);
  });

  it('fail2ban: the unknown-user attempt and the SASL failure', () => {
    if (!files.includes('fail2ban-kerio.log')) return;
    const fails = result('fail2ban-kerio.log').records.filter((r): r is AuthFailure => r.kind === 'auth-failure');
    assert.deepEqual(fails.map((f) => [f.login, f.clientIp, f.accountExists, f.mechanism]), [
      ['printer@verinion.com', '185.140.108.26', false, undefined],
      [undefined, '212.92.127.112', undefined, 'CRAM-MD5'],
    ]);
  });
});
