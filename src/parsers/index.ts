/**
 * The parser registry: one plugin per log family, file name = key, kept sorted so
 * `--help`, `--format` errors and auto-detection ties are stable.
 */
import type { Parser } from './types.js';
import { kerio } from './kerio.js';
import { metermaid } from './metermaid.js';
import { mtaTransaction } from './mta-transaction.js';
import { postfix } from './postfix.js';
import { compareCodePoints } from '../core/compare.js';

const all: Parser[] = [
  kerio,
  metermaid,
  mtaTransaction,
  postfix,
];

export const parsers: readonly Parser[] = all.sort((a, b) => compareCodePoints(a.name, b.name));

export function findParser(name: string): Parser | undefined {
  return parsers.find((p) => p.name === name);
}

export const parserNames = (): string[] => parsers.map((p) => p.name);

/** Below this, auto-detection says it does not know rather than guess. */
export const DETECT_THRESHOLD = 0.3;

/** The family whose detector is most confident about these first lines, if any is confident enough. */
export function detectParser(sample: readonly string[]): { parser: Parser; confidence: number } | undefined {
  let best: { parser: Parser; confidence: number } | undefined;
  for (const parser of parsers) {
    const confidence = parser.detect(sample);
    if (confidence >= DETECT_THRESHOLD && (!best || confidence > best.confidence)) best = { parser, confidence };
  }
  return best;
}
