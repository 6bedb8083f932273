/**
 * One input through the pipeline: lines -> parser (detected or forced) -> correlator ->
 * records handed to `onRecord`. Knows nothing of rules or output, so the ad-hoc scan,
 * cron runs and `parse` share it.
 */
import type { LogLine, MailRecord } from './types.js';
import { UsageError } from './errors.js';
import { detectParser, findParser, parserNames } from '../parsers/index.js';
import type { LineStatus, Parser, ParserSession } from '../parsers/types.js';
import { InputError, openInput, readLineBatches, type Input, type ReadStats } from '../sources/lines.js';

/** First non-empty lines looked at to tell the format. */
export const DETECT_SAMPLE_LINES = 50;

export interface InputOptions {
  /** `auto` or a parser name. */
  readonly format: string;
  readonly timezone: string;
  readonly defaultDomain?: string | undefined;
  /** How long an unfinished message stays open, in log time. */
  readonly openTtlMs: number;
  /** How many unrecognised lines to keep for `--verbose`. */
  readonly keepUnrecognised: number;
  readonly maxLineBytes?: number | undefined;
  /** Overrides the file's mtime as the anchor for year-less stamps (`--year`). */
  readonly referenceTime?: number | undefined;
  readonly onRecord: (record: MailRecord) => void;
  /** Awaited after every batch: lets output drain before more is read (backpressure). */
  readonly afterBatch?: () => Promise<void>;
}

export interface InputSummary {
  readonly name: string;
  format: string;
  detectedBy: 'auto' | 'forced';
  confidence: number;
  counts: Record<LineStatus, number>;
  records: number;
  unrecognisedSamples: LogLine[];
  diagnostics: readonly string[];
  read: ReadStats | undefined;
  firstAt: number | undefined;
  lastAt: number | undefined;
}

export function resolveFormat(format: string): Parser | undefined {
  if (format === 'auto') return undefined;
  const p = findParser(format);
  if (!p) throw new UsageError(`unknown format "${format}" (known: auto, ${parserNames().join(', ')})`);
  return p;
}

function sampleOf(lines: readonly LogLine[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    if (l.text.trim() === '') continue;
    out.push(l.text);
    if (out.length >= DETECT_SAMPLE_LINES) break;
  }
  return out;
}

/** Reads one input to the end. Throws InputError when it cannot be read or its format is unknown. */
export async function processInput(path: string, opts: InputOptions): Promise<InputSummary> {
  const forced = resolveFormat(opts.format);
  const input: Input = await openInput(path);
  const summary: InputSummary = {
    name: input.name, format: forced?.name ?? 'unknown', detectedBy: forced ? 'forced' : 'auto', confidence: forced ? 1 : 0,
    counts: { event: 0, ignored: 0, unrecognised: 0 }, records: 0, unrecognisedSamples: [], diagnostics: [],
    read: undefined, firstAt: undefined, lastAt: undefined,
  };
  const onRecord = (r: MailRecord): void => {
    summary.records++;
    if (summary.firstAt === undefined || r.at < summary.firstAt) summary.firstAt = r.at;
    if (summary.lastAt === undefined || r.at > summary.lastAt) summary.lastAt = r.at;
    opts.onRecord(r);
  };
  let session: ParserSession | undefined;
  const open = (p: Parser): ParserSession => p.open(
    { source: input.name, timezone: opts.timezone, referenceTime: opts.referenceTime ?? input.mtimeMs },
    { defaultDomain: opts.defaultDomain, openTtlMs: opts.openTtlMs },
    onRecord,
  );
  const reader = readLineBatches(input, opts.maxLineBytes ? { maxLineBytes: opts.maxLineBytes } : {});
  try {
    for await (const batch of reader) {
      if (!session) {
        let parser = forced;
        if (!parser) {
          const found = detectParser(sampleOf(batch.lines));
          if (!found) {
            throw new InputError(input.name, `cannot tell the log format from its first lines (use --format ${parserNames().join('|')})`);
          }
          parser = found.parser;
          summary.format = parser.name;
          summary.confidence = found.confidence;
        }
        session = open(parser);
      }
      const counts = summary.counts;
      for (const line of batch.lines) {
        const status = session.push(line);
        counts[status]++;
        if (status === 'unrecognised' && summary.unrecognisedSamples.length < opts.keepUnrecognised) {
          summary.unrecognisedSamples.push(line);
        }
      }
      if (opts.afterBatch) await opts.afterBatch();
    }
    if (session) {
      session.flush();
      summary.diagnostics = session.diagnostics();
    }
    summary.read = reader.stats;
  } finally {
    await input.close();
  }
  return summary;
}
