/**
 * Records the equivalence goldens (fixtures/equivalence/) from the code as it is:
 *
 *   npm run build && node dist/test/perf/make-equivalence.js
 *
 * Run it only with the code whose results are the reference, i.e. before an
 * optimisation, never to make a failing equivalence test pass.
 */
import { readFileSync } from 'node:fs';
import { equivalenceCases, runCase, sha256, writeGoldens, type Golden } from './equivalence-cases.js';

async function main(): Promise<void> {
  const entries: { golden: Golden; records: readonly string[] }[] = [];
  for (const c of equivalenceCases()) {
    const path = c.path();
    if (path === undefined) {
      console.log(`skipped ${c.id}: input absent`);
      continue;
    }
    const out = await runCase(c, path);
    entries.push({
      golden: {
        id: c.id, inputSha256: sha256(readFileSync(path)), format: out.format, counts: out.counts,
        diagnostics: out.diagnostics, recordCount: out.records.length,
      },
      records: out.records,
    });
    console.log(`${c.id}: ${out.format}, ${out.records.length} records, ${JSON.stringify(out.counts)}`);
  }
  writeGoldens(entries);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
