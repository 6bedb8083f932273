/**
 * Writers of state formats sendwatch no longer writes but still reads, so tests can
 * hand an upgraded site what an older version left.
 */
import { deflateRawSync } from 'node:zlib';
import type { Evidence } from '../../src/core/types.js';
import type { PackedLines } from '../../src/rules/rule-support.js';

/** Lines as sends-per-account's state version 2 packed them (read by unpackLines). */
export function packLines(lines: readonly Evidence[]): PackedLines {
  if (lines.length === 0) return { sources: [], lines: '' };
  const sources = new Map<string, number>();
  const rows = lines.map((e) => {
    let i = sources.get(e.source);
    if (i === undefined) {
      i = sources.size;
      sources.set(e.source, i);
    }
    return [i, e.lineNo, e.text];
  });
  return { sources: [...sources.keys()], lines: deflateRawSync(JSON.stringify(rows)).toString('base64') };
}
