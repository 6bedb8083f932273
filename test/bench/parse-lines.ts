/**
 * Reader, line parser and correlator alone (no rules, no output), as a process of its
 * own so the benchmark can time it like the CLI: what the parsing layer costs.
 *
 *   node dist/test/bench/parse-lines.js FORMAT FILE
 *   → {"lines":…,"records":…,"counts":{…},"parseS":…}
 *
 * `parseS` is the time from opening the file to the flush, without node's start-up.
 */
import { findParser } from '../../src/parsers/index.js';
import type { LineStatus } from '../../src/parsers/types.js';
import { openInput, readLineBatches } from '../../src/sources/lines.js';

async function main(format: string, path: string): Promise<void> {
  const parser = findParser(format);
  if (parser === undefined) throw new Error(`unknown format ${format}`);
  const started = process.hrtime.bigint();
  const input = await openInput(path);
  try {
    let records = 0;
    const counts: Record<LineStatus, number> = { event: 0, ignored: 0, unrecognised: 0 };
    const session = parser.open(
      { source: path, timezone: 'UTC', referenceTime: input.mtimeMs },
      { openTtlMs: 5 * 24 * 3600 * 1000 },
      () => records++,
    );
    const reader = readLineBatches(input);
    for await (const batch of reader) {
      for (const line of batch.lines) counts[session.push(line)]++;
    }
    session.flush();
    const parseS = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(JSON.stringify({ lines: reader.stats.lines, records, counts, parseS }));
  } finally {
    await input.close();
  }
}

const [format, path] = process.argv.slice(2);
if (format === undefined || path === undefined) {
  console.error('usage: parse-lines FORMAT FILE');
  process.exitCode = 2;
} else {
  main(format, path).catch((err: unknown) => {
    console.error(`parse-lines: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 3;
  });
}
