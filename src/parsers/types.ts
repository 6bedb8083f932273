import type { LogLine, MailRecord } from '../core/types.js';

/**
 * What a line parser says about one line.
 * `ignored` = the line belongs to this family but carries nothing any rule needs;
 * `unrecognised` = the line does not have a shape this parser knows (counted, reported).
 */
export type ParseResult<E> =
  | { readonly kind: 'event'; readonly event: E }
  | { readonly kind: 'ignored' }
  | { readonly kind: 'unrecognised' };

export const IGNORED: ParseResult<never> = Object.freeze({ kind: 'ignored' });
export const UNRECOGNISED: ParseResult<never> = Object.freeze({ kind: 'unrecognised' });

/** Per-input facts a line parser needs. */
export interface ParseContext {
  readonly source: string;
  /** IANA zone for timestamps written without an offset. */
  readonly timezone: string;
  /** Epoch ms the input was last written (file mtime, or now for stdin): anchors year-less stamps. */
  readonly referenceTime: number;
}

export interface CorrelateContext {
  /** Added to a bare login (`jdent` -> `jdent@example.edu`). */
  readonly defaultDomain?: string | undefined;
  /** How long (event time, ms) an unfinished message stays open before it is completed or dropped. */
  readonly openTtlMs: number;
}

/** Joins the events of one input into records; owns the per-input open-message state. */
export interface Correlator<E> {
  /** Takes one event and hands finished records to the sink given at creation. */
  push(event: E, line: LogLine): void;
  /** End of input for an ad-hoc scan: complete what can be completed. */
  flush(): void;
  /** JSON-serialisable open state, so a cron run can resume a message the next run finishes. */
  snapshot(): unknown;
  /**
   * One-line notes for stderr about what this input could not tell (e.g. "no username
   * field: set LOG_USERNAME=1"), so a blind spot is never silent. Called once at the end.
   */
  diagnostics?(): readonly string[];
}

export type RecordSink = (record: MailRecord) => void;

/** One log family. File name = registry key = `name`. */
export interface ParserDefinition<E> {
  readonly name: string;
  readonly description: string;
  /** Confidence 0..1 that these first lines of an input belong to this family. */
  detect(sample: readonly string[]): number;
  /** A fresh line parser for one input; may keep per-input state (year rollover, zone offset). */
  createLineParser(ctx: ParseContext): (line: LogLine) => ParseResult<E>;
  createCorrelator(ctx: CorrelateContext, sink: RecordSink, saved?: unknown): Correlator<E>;
}

export type LineStatus = ParseResult<unknown>['kind'];

/** A parser with its event type hidden, so the registry can hold every family in one list. */
export interface Parser {
  readonly name: string;
  readonly description: string;
  detect(sample: readonly string[]): number;
  /** For tests and `sendwatch parse`: the raw per-line events. */
  createLineParser(ctx: ParseContext): (line: LogLine) => ParseResult<unknown>;
  open(pctx: ParseContext, cctx: CorrelateContext, sink: RecordSink, saved?: unknown): ParserSession;
}

export interface ParserSession {
  push(line: LogLine): LineStatus;
  flush(): void;
  snapshot(): unknown;
  diagnostics(): readonly string[];
}

/** Closes over the family's event type so line parser and correlator stay paired. */
export function defineParser<E>(def: ParserDefinition<E>): Parser {
  return {
    name: def.name,
    description: def.description,
    detect: (sample) => def.detect(sample),
    createLineParser: (ctx) => def.createLineParser(ctx),
    open(pctx, cctx, sink, saved) {
      const parse = def.createLineParser(pctx);
      const correlator = def.createCorrelator(cctx, sink, saved);
      return {
        push(line) {
          const r = parse(line);
          if (r.kind === 'event') correlator.push(r.event, line);
          return r.kind;
        },
        flush: () => correlator.flush(),
        snapshot: () => correlator.snapshot(),
        diagnostics: () => correlator.diagnostics?.() ?? [],
      };
    },
  };
}
