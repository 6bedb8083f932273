/**
 * The real Messaging Server service-log lines in ../shared/corpus/metermaid. Counts were
 * verified by reading each file line by line; a new file in the corpus fails here until
 * someone reads it and adds its counts.
 */
 
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { metermaid } from '../../src/parsers/metermaid.js';
import type { LineStatus } from '../../src/parsers/types.js';
import type { MailRecord, RecordKind } from '../../src/core/types.js';
import { corpusDir } from '../helpers/paths.js';

interface Expected {
  readonly lines: number;
  readonly event: number;
  readonly ignored: number;
  readonly unrecognised: number;
  readonly records: Partial<Record<RecordKind, number>>;
}

const EXPECTED: Readonly<Record<string, Expected>> = {
  // 30 lines, every one with the service-log header. Events: two `badlogin:` lines (one
  // `-0700` documentation line with reason "account disabled (hold)", one `+0200` line
  // with user@domain) and one `login` line. Everything else (close, startup, store,
  // purge, probe, httpd, proxy, AService) is ignored. No MeterMaid counter exists publicly.
  'unidentified-grok-comments-ims-servicelog.log': {
    lines: 30, event: 3, ignored: 27, unrecognised: 0,
    records: { 'auth-failure': 2, 'auth-success': 1, counter: 0 },
  },
};

const dir = corpusDir('metermaid');

describe('metermaid: real corpus', { skip: dir ? false : 'no ../shared/corpus/metermaid beside the repository' }, () => {
  const files = dir ? readdirSync(dir).filter((f) => !f.startsWith('.')).sort() : [];

  it('has an expectation for every corpus file', () => {
    assert.deepEqual(files, Object.keys(EXPECTED).sort());
  });

  for (const file of files) {
    it(file, () => {
      const want = EXPECTED[file];
      assert.ok(want, `no expected counts for ${file}: read it and add them`);
      const text = readFileSync(join(dir ?? '', file), 'utf8');
      const lines = text.split('\n');
      if (lines.at(-1) === '') lines.pop();

      const records: MailRecord[] = [];
      const session = metermaid.open(
        { source: file, timezone: 'UTC', referenceTime: Date.parse('2026-11-22T00:00:00Z') },
        { openTtlMs: 60_000, defaultDomain: 'example.org' },
        (r) => records.push(r),
      );
      const counts: Record<LineStatus, number> = { event: 0, ignored: 0, unrecognised: 0 };
      lines.forEach((t, i) => {
        counts[session.push({ source: file, lineNo: i + 1, text: t })] += 1;
      });
      session.flush();

      assert.equal(lines.length, want.lines, 'line count');
      assert.deepEqual(counts, { event: want.event, ignored: want.ignored, unrecognised: want.unrecognised });
      const byKind: Partial<Record<RecordKind, number>> = {};
      for (const r of records) byKind[r.kind] = (byKind[r.kind] ?? 0) + 1;
      for (const [kind, n] of Object.entries(want.records)) {
        assert.equal(byKind[kind as RecordKind] ?? 0, n, `${kind} records`);
      }
      assert.equal(records.length, want.event, 'one record per event');
      for (const r of records) {
        assert.ok(Number.isFinite(r.at) && r.at > Date.parse('1990-01-01'), `time of line ${r.evidence[0]?.lineNo ?? '?'}`);
        if (r.kind === 'auth-failure' || r.kind === 'auth-success') {
          assert.ok(r.clientIp, `client IP of line ${r.evidence[0]?.lineNo ?? '?'}`);
          assert.equal(r.service, 'imapd');
        }
      }
      assert.ok(metermaid.detect(lines.slice(0, 20)) >= 0.9, 'detected as this family');
    });
  }
});
