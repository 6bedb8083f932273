/**
 * Inputs through the pipeline: lines -> parser (detected or forced) -> correlator ->
 * records handed to `onRecord`. Knows nothing of rules or output, so the ad-hoc scan,
 * cron runs and `parse` share it.
 *
 * A `SourceRun` is one log source in one run. It may be fed several files in turn (a
 * rotated file's remainder, then the new file) through one parser session, so a
 * message whose lines straddle the rotation is still joined.
 */
import type { LogLine, MailRecord } from './types.js';
import { UsageError } from './errors.js';
import { detectParser, findParser, parserNames } from '../parsers/index.js';
import type { LineStatus, Parser, ParserSession } from '../parsers/types.js';
import { InputError, openInput, readLineBatches, type ReadOptions, type ReadStats } from '../sources/lines.js';

/** First non-empty lines looked at to tell the format. */
export const DETECT_SAMPLE_LINES = 50;

export interface SourceOptions {
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
  /** The correlator's open messages from the last run (cron mode). */
  readonly savedParserState?: unknown;
}

/** Kept for the scan command's name of the same thing. */
export type InputOptions = SourceOptions;

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

export class SourceRun {
  readonly summary: InputSummary;
  private parser: Parser | undefined;
  private session: ParserSession | undefined;

  constructor(name: string, private readonly opts: SourceOptions) {
    this.parser = resolveFormat(opts.format);
    this.summary = {
      name, format: this.parser?.name ?? 'unknown', detectedBy: this.parser ? 'forced' : 'auto', confidence: this.parser ? 1 : 0,
      counts: { event: 0, ignored: 0, unrecognised: 0 }, records: 0, unrecognisedSamples: [], diagnostics: [],
      read: undefined, firstAt: undefined, lastAt: undefined,
    };
  }

  /** The family in use, once known. */
  get format(): string | undefined {
    return this.parser?.name;
  }

  private readonly onRecord = (r: MailRecord): void => {
    const s = this.summary;
    s.records++;
    if (s.firstAt === undefined || r.at < s.firstAt) s.firstAt = r.at;
    if (s.lastAt === undefined || r.at > s.lastAt) s.lastAt = r.at;
    this.opts.onRecord(r);
  };

  private open(parser: Parser, name: string, referenceTime: number): ParserSession {
    return parser.open(
      { source: name, timezone: this.opts.timezone, referenceTime: this.opts.referenceTime ?? referenceTime },
      { defaultDomain: this.opts.defaultDomain, openTtlMs: this.opts.openTtlMs },
      this.onRecord,
      this.opts.savedParserState,
    );
  }

  /** Reads one file (or stdin) from `read.startOffset` to its end. Throws InputError. */
  async feed(path: string, read: ReadOptions = {}): Promise<ReadStats> {
    const input = await openInput(path);
    const reader = readLineBatches(input, { ...(this.opts.maxLineBytes ? { maxLineBytes: this.opts.maxLineBytes } : {}), ...read });
    try {
      for await (const batch of reader) {
        let session = this.session;
        if (!session) {
          let parser = this.parser;
          if (!parser) {
            const found = detectParser(sampleOf(batch.lines));
            if (!found) {
              throw new InputError(input.name, `cannot tell the log format from its first lines (use --format ${parserNames().join('|')})`);
            }
            parser = found.parser;
            this.parser = parser;
            this.summary.format = parser.name;
            this.summary.confidence = found.confidence;
          }
          session = this.open(parser, input.name, input.mtimeMs);
          this.session = session;
        }
        const counts = this.summary.counts;
        const samples = this.summary.unrecognisedSamples;
        for (const line of batch.lines) {
          const status = session.push(line);
          counts[status]++;
          if (status === 'unrecognised' && samples.length < this.opts.keepUnrecognised) samples.push(line);
        }
        if (this.opts.afterBatch) await this.opts.afterBatch();
      }
      const stats = reader.stats;
      this.summary.read = this.summary.read
        ? { lines: this.summary.read.lines + stats.lines, bytes: this.summary.read.bytes + stats.bytes, oversizedLines: this.summary.read.oversizedLines + stats.oversizedLines, endOffset: stats.endOffset }
        : stats;
      return stats;
    } finally {
      await input.close();
    }
  }

  /** End of input for an ad-hoc scan: complete open messages. */
  flush(): void {
    this.session?.flush();
  }

  /** Open messages for the state file (cron mode); undefined before any line was read. */
  snapshot(): unknown {
    return this.session ? this.session.snapshot() : this.opts.savedParserState;
  }

  /** Blind spots the parser noticed, for stderr. */
  finish(): InputSummary {
    if (this.session) this.summary.diagnostics = this.session.diagnostics();
    return this.summary;
  }
}

/** Reads one input to the end and completes its open messages (the ad-hoc scan). */
export async function processInput(path: string, opts: SourceOptions): Promise<InputSummary> {
  const run = new SourceRun(path === '-' ? '-' : path, opts);
  await run.feed(path);
  run.flush();
  return run.finish();
}
