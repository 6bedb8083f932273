import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parsers } from '../../src/parsers/index.js';
import { readAnnotated, pickComparable } from '../helpers/annotated.js';
import { repoPath } from '../helpers/paths.js';

for (const parser of parsers) {
  describe(`parser ${parser.name}: annotated samples`, () => {
    const dir = repoPath('fixtures', 'parsers', parser.name);
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.log')).sort() : [];

    it('has annotated samples', () => {
      assert.ok(files.length > 0, `no fixtures/parsers/${parser.name}/*.log: a parser without samples is untested`);
    });

    for (const file of files) {
      it(file, () => {
        const path = join(dir, file);
        const { timezone, reference, cases } = readAnnotated(path);
        assert.ok(cases.length > 0, `${file} has no cases`);
        const parse = parser.createLineParser({ source: file, timezone, referenceTime: reference });
        for (const c of cases) {
          const r = parse({ source: file, lineNo: c.lineNo, text: c.text });
          const where = `${file}:${c.lineNo}: ${c.text.slice(0, 120)}`;
          if (c.expect.kind !== 'event') {
            assert.equal(r.kind, c.expect.kind, where);
            continue;
          }
          assert.equal(r.kind, 'event', where);
          if (r.kind === 'event') assert.deepEqual(pickComparable(r.event, c.expect.fields), c.expect.fields, where);
        }
      });
    }
  });
}
