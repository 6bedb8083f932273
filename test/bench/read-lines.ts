/**
 * The raw line reader alone, as a process of its own so the benchmark can time it and
 * take its peak RSS the same way as the CLI's:
 *
 *   node dist/test/bench/read-lines.js FILE
 *   → {"lines":…,"bytes":…,"oversizedLines":…,"textChars":…,"readS":…}
 *
 * `readS` is the time from opening the file to the last line, without node's start-up.
 * Every line's text is touched (its length summed) so no part of the work can be
 * skipped; nothing else is done with it.
 */
import { openInput, readLineBatches } from '../../src/sources/lines.js';

async function main(path: string): Promise<void> {
  const started = process.hrtime.bigint();
  const input = await openInput(path);
  try {
    const reader = readLineBatches(input);
    let textChars = 0;
    for await (const batch of reader) {
      for (const line of batch.lines) textChars += line.text.length;
    }
    const readS = Number(process.hrtime.bigint() - started) / 1e9;
    const { lines, bytes, oversizedLines } = reader.stats;
    console.log(JSON.stringify({ lines, bytes, oversizedLines, textChars, readS }));
  } finally {
    await input.close();
  }
}

const path = process.argv[2];
if (path === undefined) {
  console.error('usage: read-lines FILE');
  process.exitCode = 2;
} else {
  main(path).catch((err: unknown) => {
    console.error(`read-lines: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 3;
  });
}
