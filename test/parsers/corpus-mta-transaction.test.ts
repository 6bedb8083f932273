/**
 * Real Messaging Server transaction-log lines from public projects (../shared/corpus,
 * see its SOURCES.md): every file must parse without an exception, and the counts below
 * were checked line by line against the files. A new corpus file needs its own row.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MailRecord } from '../../src/core/types.js';
import { mtaTransaction } from '../../src/parsers/mta-transaction.js';
import { corpusDir } from '../helpers/paths.js';

interface Expected {
  /** Lines starting with `#` are the file's own annotations (fail2ban's failJSON, comments). */
  readonly skipHashLines: boolean;
  readonly event: number;
  readonly ignored: number;
  readonly unrecognised: number;
  readonly submission: number;
  readonly authFailure: number;
  readonly authSuccess: number;
  readonly delivery: number;
}

const EXPECTED: Readonly<Record<string, Expected>> = {
  // 15 comment/failJSON lines; 4 LOG_FORMAT=4 `co` U records: three `Bad password`, one success.
  'fail2ban-oracleims-xml.log': {
    skipHashLines: true, event: 4, ignored: 0, unrecognised: 0, submission: 0, authFailure: 3, authSuccess: 1, delivery: 0,
  },
  // 14 lines: 4 E (none authenticated: username `mailsrv`), 3 D (sent), 1 Q (deferred), Y and C
  // connection records, and 4 LOG_HEADER lines (Received x3, Message-id) that no rule reads.
  'unidentified-grok-comments-ims-mta.log': {
    skipHashLines: false, event: 10, ignored: 4, unrecognised: 0, submission: 0, authFailure: 0, authSuccess: 0, delivery: 4,
  },
};

interface Outcome {
  readonly counts: Record<string, number>;
  readonly records: MailRecord[];
  readonly diagnostics: readonly string[];
  readonly lines: { lineNo: number; text: string }[];
}

function scan(path: string, file: string, skipHash: boolean, timezone: string): Outcome {
  const records: MailRecord[] = [];
  const session = mtaTransaction.open(
    { source: file, timezone, referenceTime: 0 }, { openTtlMs: 7 * 86_400_000 }, (r) => records.push(r),
  );
  const counts: Record<string, number> = { event: 0, ignored: 0, unrecognised: 0 };
  const lines = readFileSync(path, 'utf8').split('\n')
    .map((text, i) => ({ lineNo: i + 1, text }))
    .filter((l) => l.text !== '' && !(skipHash && l.text.startsWith('#')));
  for (const l of lines) {
    const kind = session.push({ source: file, ...l });
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  session.flush();
  return { counts, records, diagnostics: session.diagnostics(), lines };
}

const dir = corpusDir('mta-transaction');

describe('mta-transaction: public corpus', { skip: dir === undefined ? 'no ../shared/corpus/mta-transaction beside the repository' : false }, () => {
  const files = dir === undefined ? [] : readdirSync(dir).filter((f) => !f.startsWith('.')).sort();

  it('has expected counts for every corpus file', () => {
    assert.deepEqual(files, Object.keys(EXPECTED).sort(), 'add a row to EXPECTED after checking the new file by hand');
  });

  for (const file of files) {
    it(file, () => {
      const exp = EXPECTED[file];
      const path = join(dir ?? '', file);
      const out = scan(path, file, exp?.skipHashLines ?? true, 'UTC');
      if (!exp) return;
      const kinds = (k: MailRecord['kind']): number => out.records.filter((r) => r.kind === k).length;
      assert.deepEqual(
        { ...out.counts, submission: kinds('submission'), authFailure: kinds('auth-failure'), authSuccess: kinds('auth-success'), delivery: kinds('delivery') },
        {
          event: exp.event, ignored: exp.ignored, unrecognised: exp.unrecognised, submission: exp.submission,
          authFailure: exp.authFailure, authSuccess: exp.authSuccess, delivery: exp.delivery,
        },
      );
    });
  }

  it('agrees with fail2ban\'s own annotations (failJSON: time and host of each failure)', (t) => {
    const file = 'fail2ban-oracleims-xml.log';
    if (!files.includes(file)) {
      t.skip(`${file} absent`);
      return;
    }
    const path = join(dir ?? '', file);
    const all = readFileSync(path, 'utf8').split('\n');
    const out = scan(path, file, true, 'UTC');
    for (const l of out.lines) {
      const note = all[l.lineNo - 2] ?? '';
      const json = note.slice(note.indexOf('{'));
      const want = JSON.parse(json) as { time: string; match: boolean; host: string };
      const rec = out.records.find((r) => r.evidence[0]?.lineNo === l.lineNo);
      assert.ok(rec, `line ${l.lineNo}`);
      assert.equal(rec.kind, want.match ? 'auth-failure' : 'auth-success', `line ${l.lineNo}`);
      assert.equal('clientIp' in rec ? rec.clientIp : undefined, want.host);
      // fail2ban reads `ts` as local time; in UTC the second must match.
      assert.equal(new Date(rec.at).toISOString().slice(0, 19), want.time);
    }
    assert.deepEqual(out.diagnostics, []);
  });

  it('reads the classic-format lines field by field', (t) => {
    const file = 'unidentified-grok-comments-ims-mta.log';
    if (!files.includes(file)) {
      t.skip(`${file} absent`);
      return;
    }
    const path = join(dir ?? '', file);
    const parse = mtaTransaction.createLineParser({ source: file, timezone: 'Europe/Paris', referenceTime: 0 });
    const events = readFileSync(path, 'utf8').split('\n').filter((x) => x !== '').map((text, i) => parse({ source: file, lineNo: i + 1, text }));
    const ev = (i: number): Record<string, unknown> => {
      const r = events[i];
      assert.ok(r?.kind === 'event', `line ${i + 1}`);
      return r.event as Record<string, unknown>;
    };
    // `EEQ 5  rfc822;…`: the empty envelope From does not shift the recipients.
    assert.deepEqual(
      [ev(1).action, ev(1).modifiers, ev(1).from, ev(1).origTo, ev(1).to, ev(1).username, ev(1).clientIp, ev(1).at],
      ['E', 'EQ', '', 'pengouin.carl@my-domain.fr', 'sdubois2@ims-ms-daemon', 'mailsrv', '195.221.67.130', Date.parse('2019-06-11T07:07:57.620Z')],
    );
    assert.equal(ev(1).login, undefined, 'mailsrv is the MTA, not a mail account');
    assert.deepEqual([ev(4).action, ev(4).diagnostic], ['D', 'smtp;250 2.1.5 Ok']);
    assert.deepEqual([ev(5).action, ev(5).from, ev(5).to], ['Q', '', '@hostmtadmz.my-domain.fr:adminmtadmz@my-domain.fr']);
    assert.deepEqual([ev(7).type, ev(7).node, ev(7).process, ev(7).remoteIp], ['connection', 'host.domain.com', '1f627.3.3', '123.45.6.7']);
    assert.deepEqual([ev(9).node, ev(9).process, ev(9).envelopeId, ev(9).messageId], ['hosta', '2e2d.5.1', '01IWFVYLGTS499EC9W@innosoft.com', '01IWFVYLGTS499EC9Y@innosoft.com']);
  });
});
