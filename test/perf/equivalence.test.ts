/**
 * The optimised paths give exactly the results of the code before optimisation: every
 * scenario, every corpus log and the start of every generated benchmark workload,
 * through reader, line parser and correlator, yield the same records (as serialised,
 * in the same order), the same line verdicts and the same diagnostics as the goldens
 * recorded beforehand (make-equivalence.ts). Not timed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { equivalenceCases, readGoldenIndex, readGoldenRecords, runCase, sha256 } from './equivalence-cases.js';

const goldens = new Map(readGoldenIndex().map((g) => [g.id, g]));

/**
 * Evidence names the input by its absolute path, which differs between checkouts (the
 * goldens were recorded in another one): compare from the repository's own folders on.
 */
const portable = (record: string): string => record.replace(/"source":"[^"]*?\/(fixtures|corpus)\//g, '"source":"$1/');

describe('equivalence with the pre-optimisation goldens', () => {
  it('has goldens', () => assert.ok(goldens.size > 0, 'fixtures/equivalence/index.json is missing'));

  for (const c of equivalenceCases()) {
    const golden = goldens.get(c.id);
    const path = c.path();
    const skip = path === undefined ? 'input absent'
      : golden === undefined ? 'no golden for this input (added after the goldens were recorded)'
        : golden.inputSha256 !== sha256(readFileSync(path)) ? 'input changed since its golden was recorded'
          : false;
    it(c.id, { skip }, async () => {
      if (path === undefined || golden === undefined) return;
      const out = await runCase(c, path);
      assert.equal(out.format, golden.format, 'format');
      assert.deepEqual(out.counts, golden.counts, 'line verdicts (event / ignored / unrecognised)');
      assert.deepEqual(out.diagnostics, golden.diagnostics, 'diagnostics');
      const want = readGoldenRecords(c.id);
      assert.equal(out.records.length, want.length, 'number of records');
      for (let i = 0; i < want.length; i++) {
        const got = portable(out.records[i] ?? '');
        const expected = portable(want[i] ?? '');
        if (got !== expected) assert.equal(got, expected, `record ${i + 1} of ${want.length}`);
      }
    });
  }
});
