/**
 * `sendwatch parse FILE...`, like fail2ban-regex: how well sendwatch understands a log
 * before its silence is trusted. Per input: the format detected (and how sure), the
 * lines recognised, ignored and not understood, per pattern (event type) or program;
 * the time decisions (stamp style, zone or offsets, year chosen for year-less stamps
 * and any Dec -> Jan rollover); the records made. `--records` prints the normalised
 * records as NDJSON, `--unrecognised` the lines not understood.
 * Exit: 0 every line recognised or ignored, 1 some not understood, 2 usage, 3 an input failed.
 */
import { loadConfig } from '../config/load.js';
import { EXIT, UsageError } from '../core/errors.js';
import { sanitize } from '../core/sanitize.js';
import { hostTimezone, parseOffset, zonedToEpoch, zoneOffset } from '../core/time.js';
import type { LogLine, MailRecord } from '../core/types.js';
import { DETECT_SAMPLE_LINES, resolveFormat } from '../core/pipeline.js';
import { DETECT_THRESHOLD, parsers } from '../parsers/index.js';
import type { LineStatus, Parser, ParserSession, ParseResult } from '../parsers/types.js';
import { InputError, openInput, readLineBatches } from '../sources/lines.js';
import type { Io } from './io.js';
import { formatLocal } from './output.js';
import { Progress, progressWanted } from './progress.js';
import { inputsOf, OPEN_TTL_MS } from './adhoc.js';
import { checkTimezoneFlag } from './time-args.js';

export interface ParseOptions {
  config?: string | undefined;
  format: string;
  timezone?: string | undefined;
  year?: string | undefined;
  defaultDomain?: string | undefined;
  records: boolean;
  unrecognised: boolean;
  progress?: boolean | undefined;
}

/** Distinct pattern and program names kept per input; the rest are counted as `(other)`. */
const KEY_LIMIT = 200;
/** First lines kept as examples per program of lines not understood. */
const EXAMPLES = 1;

// ---------------------------------------------------------------------------
// Stamps: what each line's time was written as, to explain what was made of it.

export type StampStyle = 'RFC 3164' | 'RFC 3339' | 'ISO 8601 local' | 'Kerio' | 'service log' | 'MTA';

export interface StampText {
  readonly style: StampStyle;
  /** The wall-clock time as if it were UTC; NaN without a year. */
  readonly wall: number;
  /** The zone designator written, if any (`+01:00`, `+0100`, `Z`). */
  readonly zone: string | undefined;
}

const MONTHS: Readonly<Record<string, number>> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

const RE_3339 = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.\d{1,12})?(Z|z|[+-]\d\d:?\d\d)?[ "]/;
const RE_XML = /^<[a-z]{2} [^>]{0,40}?ts="(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d{1,6})?(Z|[+-]\d\d:?\d\d)?"/;
const RE_3164 = /^[A-Z][a-z]{2} {1,2}\d{1,2} \d\d:\d\d:\d\d/;
const RE_BRACKET = /^\[(\d{1,2})\/([A-Z][a-z]{2})\/(\d{4})[ :](\d\d):(\d\d):(\d\d)(?: +([+-]\d{4}))?\]/;
const RE_MTA = /^(\d{1,2})-([A-Z][a-z]{2})-(\d{4}) (\d\d):(\d\d):(\d\d)/;

const n = (s: string | undefined): number => Number(s ?? 0);

/** Reads the stamp a line starts with, for the report only (the parsers have their own, faster readers). */
export function readStamp(text: string): StampText | undefined {
  let m = RE_3339.exec(text) ?? RE_XML.exec(text);
  if (m) {
    const wall = Date.UTC(n(m[1]), n(m[2]) - 1, n(m[3]), n(m[4]), n(m[5]), n(m[6]));
    const zone = m[7];
    const style: StampStyle = text.startsWith('<') ? 'MTA' : zone !== undefined ? 'RFC 3339' : 'ISO 8601 local';
    return { style, wall, zone };
  }
  if (RE_3164.test(text)) return { style: 'RFC 3164', wall: NaN, zone: undefined };
  m = RE_BRACKET.exec(text);
  if (m) {
    const wall = Date.UTC(n(m[3]), MONTHS[m[2] ?? ''] ?? 0, n(m[1]), n(m[4]), n(m[5]), n(m[6]));
    return { style: m[7] !== undefined ? 'service log' : 'Kerio', wall, zone: m[7] };
  }
  m = RE_MTA.exec(text);
  if (m) return { style: 'MTA', wall: Date.UTC(n(m[3]), MONTHS[m[2] ?? ''] ?? 0, n(m[1]), n(m[4]), n(m[5]), n(m[6])), zone: undefined };
  return undefined;
}

const RE_SYSLOG_TAG = /^(?:[A-Z][a-z]{2} {1,2}\d{1,2} \d\d:\d\d:\d\d(?:\.\d+)?|\d{4}-\d\d-\d\d[T ]\S+) +\S+ +([^\s[:]{1,64})/;
const RE_BRACKET_TAG = /^\[[^\]]{1,40}\] +(?:\S+ +([^\s[:]{1,64})(?:\[\d+\])?:|([A-Za-z][\w-]{0,30}):)/;
const RE_XML_TAG = /^<([a-z]{1,10})[ >]/;

/** Which program or kind of line this is, for grouping the lines that made no event. */
export function lineShape(text: string): string {
  let m = RE_SYSLOG_TAG.exec(text);
  if (m?.[1] !== undefined) return m[1];
  m = RE_BRACKET_TAG.exec(text);
  if (m) return m[2] ?? m[1] ?? '(other)';
  m = RE_XML_TAG.exec(text);
  if (m?.[1] !== undefined) return `<${m[1]}>`;
  if (RE_MTA.test(text)) return 'MTA record';
  return text.trim() === '' ? '(blank)' : '(other)';
}

// ---------------------------------------------------------------------------

class Counter {
  readonly counts = new Map<string, number>();
  readonly examples = new Map<string, LogLine[]>();

  add(key: string, line?: LogLine): void {
    const k = this.counts.has(key) || this.counts.size < KEY_LIMIT ? key : '(other)';
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
    if (line) {
      const list = this.examples.get(k) ?? [];
      if (list.length < EXAMPLES) {
        list.push(line);
        this.examples.set(k, list);
      }
    }
  }

  sorted(): [string, number][] {
    return [...this.counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  }
}

const fmt = (x: number): string => x.toLocaleString('en-US');

function offsetText(ms: number): string {
  const m = Math.round(ms / 60_000);
  const sign = m < 0 ? '-' : '+';
  const a = Math.abs(m);
  return `${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

interface TimeFacts {
  styles: Counter;
  /** Offsets written in the stamps. */
  written: Counter;
  /** Offsets sendwatch applied to stamps without one: `+01:00` -> lines; `*` marks those not the zone's. */
  applied: Counter;
  years: Counter;
  /** Line where each year after the first began (rollover). */
  yearStarts: { year: number; lineNo: number }[];
  lastYear: number | undefined;
}

interface InputReport {
  name: string;
  parser: Parser;
  detectedBy: 'auto' | 'forced';
  confidences: { name: string; confidence: number }[];
  statuses: Record<LineStatus, number>;
  events: Counter;
  ignored: Counter;
  unrecognised: Counter;
  time: TimeFacts;
  records: Counter;
  firstAt: number | undefined;
  lastAt: number | undefined;
  diagnostics: readonly string[];
  mtimeMs: number;
  oversized: number;
}

/** A record as one JSON line: `kind` and `time` first, evidence as `{source, line, text}`. */
export function recordToJson(r: MailRecord): string {
  const { kind, at, evidence, ...rest } = r;
  return JSON.stringify({ kind, time: new Date(at).toISOString(), ...rest, evidence: evidence.map((e) => ({ source: e.source, line: e.lineNo, text: e.text })) });
}

function eventInfo(r: ParseResult<unknown>): { type: string; at: number | undefined } {
  if (r.kind !== 'event') return { type: r.kind, at: undefined };
  const e = r.event as { type?: unknown; at?: unknown } | null;
  const type = e && typeof e.type === 'string' ? e.type : 'event';
  const at = e && typeof e.at === 'number' && e.at > 0 ? e.at : undefined;
  return { type, at };
}

const QUARTER_HOUR = 15 * 60_000;

function noteTime(t: TimeFacts, text: string, at: number, tz: string, lineNo: number): void {
  const st = readStamp(text);
  if (!st) return;
  if (st.zone !== undefined) {
    t.styles.add(`${st.style}, with its own offset`);
    const off = parseOffset(st.zone);
    t.written.add(Number.isNaN(off) ? st.zone : offsetText(off));
    return;
  }
  const zoneOff = zoneOffset(tz, at);
  if (Number.isNaN(st.wall)) {
    // Year-less (RFC 3164): the parser chose the year and read the time in the zone.
    t.styles.add(`${st.style}, no year, no zone`);
    const year = new Date(at + zoneOff).getUTCFullYear();
    t.years.add(String(year));
    if (t.lastYear !== undefined && year > t.lastYear) t.yearStarts.push({ year, lineNo });
    if (t.lastYear === undefined || year > t.lastYear) t.lastYear = year;
    t.applied.add(offsetText(zoneOff));
    return;
  }
  t.styles.add(`${st.style}, no zone`);
  const applied = Math.round((st.wall - at) / QUARTER_HOUR) * QUARTER_HOUR;
  t.applied.add(applied === zoneOff ? offsetText(applied) : `${offsetText(applied)}*`);
}

async function parseInput(path: string, o: ParseOptions, ctx: { tz: string; defaultDomain: string | undefined; referenceTime: number | undefined },
  io: Io, progress: Progress, index: number): Promise<InputReport> {
  const forced = resolveFormat(o.format);
  const input = await openInput(path);
  progress.beginInput(index);
  const reader = readLineBatches(input);
  const rep: InputReport = {
    name: input.name, parser: forced ?? (parsers[0] as Parser), detectedBy: forced ? 'forced' : 'auto', confidences: [],
    statuses: { event: 0, ignored: 0, unrecognised: 0 }, events: new Counter(), ignored: new Counter(), unrecognised: new Counter(),
    time: { styles: new Counter(), written: new Counter(), applied: new Counter(), years: new Counter(), yearStarts: [], lastYear: undefined },
    records: new Counter(), firstAt: undefined, lastAt: undefined, diagnostics: [], mtimeMs: input.mtimeMs, oversized: 0,
  };
  const onRecord = (r: MailRecord): void => {
    rep.records.add(r.kind);
    if (rep.firstAt === undefined || r.at < rep.firstAt) rep.firstAt = r.at;
    if (rep.lastAt === undefined || r.at > rep.lastAt) rep.lastAt = r.at;
    if (o.records) io.write(`${recordToJson(r)}\n`);
  };
  let session: ParserSession | undefined;
  let lineParser: ((l: LogLine) => ParseResult<unknown>) | undefined;
  let lines = 0;
  try {
    for await (const batch of reader) {
      if (!session || !lineParser) {
        const sample: string[] = [];
        for (const l of batch.lines) {
          if (l.text.trim() === '') continue;
          sample.push(l.text);
          if (sample.length >= DETECT_SAMPLE_LINES) break;
        }
        rep.confidences = parsers.map((p) => ({ name: p.name, confidence: p.detect(sample) })).sort((a, b) => b.confidence - a.confidence || a.name.localeCompare(b.name));
        if (!forced) {
          const best = rep.confidences[0];
          const parser = best && best.confidence >= DETECT_THRESHOLD ? parsers.find((p) => p.name === best.name) : undefined;
          if (!parser) throw new InputError(input.name, `cannot tell the log format from its first lines (use --format ${parsers.map((p) => p.name).join('|')})`);
          rep.parser = parser;
        }
        const pctx = { source: input.name, timezone: ctx.tz, referenceTime: ctx.referenceTime ?? input.mtimeMs };
        session = rep.parser.open(pctx, { defaultDomain: ctx.defaultDomain, openTtlMs: OPEN_TTL_MS }, onRecord);
        lineParser = rep.parser.createLineParser(pctx);
      }
      for (const line of batch.lines) {
        const r = lineParser(line);
        session.push(line);
        rep.statuses[r.kind]++;
        if (r.kind === 'event') {
          const { type, at } = eventInfo(r);
          rep.events.add(type);
          if (at !== undefined) noteTime(rep.time, line.text, at, ctx.tz, line.lineNo);
        } else if (r.kind === 'ignored') {
          rep.ignored.add(lineShape(line.text));
        } else {
          rep.unrecognised.add(lineShape(line.text), line);
          if (o.unrecognised) {
            io.write(o.records
              ? `${JSON.stringify({ kind: 'unrecognised', source: line.source, line: line.lineNo, text: line.text })}\n`
              : `${sanitize(line.source)}:${line.lineNo}: ${sanitize(line.text)}\n`);
          }
        }
      }
      lines += batch.lines.length;
      progress.update(reader.stats.bytes, lines);
      await io.drain();
    }
    session?.flush();
    rep.diagnostics = session?.diagnostics() ?? [];
    rep.oversized = reader.stats.oversizedLines;
  } finally {
    progress.endInput(reader.stats.bytes, lines);
    progress.clear();
    await input.close();
  }
  return rep;
}

function section(title: string, c: Counter, total: number, withExamples: boolean): string[] {
  const rows = c.sorted();
  if (!rows.length) return [];
  const w = Math.max(...rows.map(([k]) => sanitize(k).length), 8);
  const nw = Math.max(...rows.map(([, v]) => fmt(v).length));
  const out = [`  ${title}`];
  for (const [k, v] of rows) {
    const pct = total > 0 ? ` ${((v / total) * 100).toFixed(1).padStart(5)} %` : '';
    let line = `    ${sanitize(k).padEnd(w)}  ${fmt(v).padStart(nw)}${pct}`;
    const ex = withExamples ? c.examples.get(k)?.[0] : undefined;
    if (ex) {
      const text = sanitize(ex.text);
      line += `   e.g. line ${ex.lineNo}: ${text.length > 100 ? `${text.slice(0, 99)}…` : text}`;
    }
    out.push(line);
  }
  return out;
}

function describeTime(rep: InputReport, o: ParseOptions, tz: string, tzFrom: string): string[] {
  const t = rep.time;
  const out: string[] = ['  time'];
  const styles = t.styles.sorted();
  if (!styles.length) {
    out.push('    no stamp was read (no event lines)');
    return out;
  }
  out.push(`    stamps    ${styles.map(([k, v]) => `${k} (${fmt(v)})`).join('; ')}`);
  const written = t.written.sorted();
  if (written.length) out.push(`    offsets   written in the stamps: ${written.map(([k, v]) => `${k} (${fmt(v)})`).join(', ')}`);
  const applied = t.applied.sorted();
  if (applied.length) {
    const own = applied.filter(([k]) => !k.endsWith('*'));
    const inferred = applied.filter(([k]) => k.endsWith('*'));
    if (own.length) out.push(`    zone      stamps without an offset read in ${tz} (${tzFrom}): ${own.map(([k, v]) => `${k} (${fmt(v)})`).join(', ')}`);
    if (inferred.length) {
      out.push(`    offset    ${inferred.map(([k, v]) => `${k.slice(0, -1)} (${fmt(v)})`).join(', ')}: inferred by the ${rep.parser.name} parser from the log itself, not ${tz}`);
    }
  }
  const years = t.years.sorted().sort((a, b) => a[0].localeCompare(b[0]));
  if (years.length) {
    const first = years[0]?.[0] ?? '';
    const why = o.year !== undefined
      ? `--year ${o.year}`
      : `the year that puts the first stamp no later than a day after the file was last written (${formatLocal(rep.mtimeMs, tz)}); --year overrides`;
    out.push(`    year      ${first} for the first stamp: ${why}`);
    for (const s of t.yearStarts) out.push(`              ${s.year} from line ${s.lineNo} on (Dec -> Jan rollover)`);
  }
  return out;
}

function renderReport(rep: InputReport, o: ParseOptions, tz: string, tzFrom: string): string {
  const total = rep.statuses.event + rep.statuses.ignored + rep.statuses.unrecognised;
  const out: string[] = [sanitize(rep.name)];
  const others = rep.confidences.filter((c) => c.name !== rep.parser.name).map((c) => `${c.name} ${c.confidence.toFixed(2)}`).join(', ');
  const mine = rep.confidences.find((c) => c.name === rep.parser.name)?.confidence ?? 0;
  out.push(rep.detectedBy === 'auto'
    ? `  format    ${rep.parser.name}: detected from the first ${DETECT_SAMPLE_LINES} lines, confidence ${mine.toFixed(2)} (others: ${others || 'none'})`
    : `  format    ${rep.parser.name}: forced with --format (detection would say: ${rep.confidences.map((c) => `${c.name} ${c.confidence.toFixed(2)}`).join(', ')})`);
  const pct = (x: number): string => (total > 0 ? ` (${((x / total) * 100).toFixed(1)} %)` : '');
  out.push(`  lines     ${fmt(total)}: ${fmt(rep.statuses.event)} recognised${pct(rep.statuses.event)}, ${fmt(rep.statuses.ignored)} ignored${pct(rep.statuses.ignored)}, ${fmt(rep.statuses.unrecognised)} not understood${pct(rep.statuses.unrecognised)}`);
  if (rep.oversized > 0) out.push(`  cut       ${fmt(rep.oversized)} over-long lines were cut`);
  out.push(...section('recognised, per pattern', rep.events, total, false));
  out.push(...section('ignored (known, carries nothing the rules need), per program', rep.ignored, total, false));
  out.push(...section('not understood, per program', rep.unrecognised, total, true));
  out.push(...describeTime(rep, o, tz, tzFrom));
  const recs = rep.records.sorted();
  if (recs.length && rep.firstAt !== undefined && rep.lastAt !== undefined) {
    out.push(`  records   ${recs.map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}; ${formatLocal(rep.firstAt, tz)} to ${formatLocal(rep.lastAt, tz)}`);
  } else {
    out.push('  records   none');
  }
  for (const d of rep.diagnostics) out.push(`  note      ${sanitize(d)}`);
  if (rep.statuses.unrecognised > 0 && !o.unrecognised) out.push('  (--unrecognised lists the lines not understood)');
  return `${out.join('\n')}\n`;
}

export async function runParse(files: readonly string[], o: ParseOptions, io: Io): Promise<number> {
  checkTimezoneFlag(o.timezone);
  resolveFormat(o.format);
  const config = loadConfig(o.config);
  const tz = o.timezone ?? config.timezone ?? hostTimezone();
  const tzFrom = o.timezone !== undefined ? '--timezone' : config.timezone !== undefined ? 'the config\'s timezone' : 'the host\'s zone';
  let referenceTime: number | undefined;
  if (o.year !== undefined) {
    if (!/^\d{4}$/.test(o.year) || Number(o.year) < 1970) throw new UsageError(`--year: "${o.year}" is not a year (e.g. 2025)`);
    // Late on the last day of the year: every month of it is "before the file was written".
    referenceTime = zonedToEpoch(tz, Number(o.year), 11, 30, 12, 0, 0);
  }
  const inputs = inputsOf(files, io);
  // Data on stdout: the records or the lines asked for; the summary then goes to stderr.
  const summaryToStderr = o.records || o.unrecognised;
  const progress = new Progress(inputs, progressWanted(o.progress), o.progress === true);
  let failed = false;
  let notUnderstood = 0;
  for (const [index, path] of inputs.entries()) {
    try {
      const rep = await parseInput(path, o, { tz, defaultDomain: o.defaultDomain ?? config.defaultDomain, referenceTime }, io, progress, index);
      notUnderstood += rep.statuses.unrecognised;
      const text = renderReport(rep, o, tz, tzFrom);
      if (summaryToStderr) {
        await io.out('');
        process.stderr.write(text);
      } else {
        await io.out(index > 0 ? `\n${text}` : text);
      }
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      io.err(e.message);
      failed = true;
    }
  }
  progress.done();
  await io.out('');
  if (failed) return EXIT.RUNTIME;
  return notUnderstood > 0 ? EXIT.FINDINGS : EXIT.OK;
}
