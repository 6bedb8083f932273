/**
 * `sendwatch scan`: an ad-hoc run over log files (or stdin). Reads every input to the
 * end, evaluates the rules in log time, then prints the findings at or above
 * `--min-severity`. Exit: 0 nothing found, 1 findings, 2 usage/config, 3 an input failed.
 */
import { Chalk, supportsColor } from 'chalk';
import { resolveContext } from '../config/load.js';
import { EXIT } from '../core/errors.js';
import type { InputSummary } from '../core/pipeline.js';
import { SEVERITY_RANK, type Finding, type Severity } from '../core/types.js';
import { createEngine } from '../rules/engine.js';
import { InputError } from '../sources/lines.js';
import { incidentsToText, incidentToNdjsonLine, incidentToTsvLine, OUTPUT_FORMATS, toNdjsonLine, toText, toTsvLine } from './output.js';
import { IncidentTracker, type Incident } from '../alerts/incidents.js';
import { adhocSetup, checkChoice, OPEN_TTL_MS } from './adhoc.js';
import { Progress, progressWanted, trackedInput } from './progress.js';
import { colourLevel, type Io } from './io.js';
import { sanitize } from '../core/sanitize.js';
import { boundHeapGrowth } from '../core/heap.js';

export interface ScanOptions {
  config?: string;
  format: string;
  output: string;
  since?: string;
  until?: string;
  color: boolean;
  quiet: boolean;
  verbose: boolean;
  minSeverity: string;
  /** Print each rule's findings instead of one incident per account and period. */
  findings: boolean;
  timezone?: string;
  defaultDomain?: string;
  /** `--progress` / `--no-progress`; undefined: a bar only when stderr is a terminal. */
  progress?: boolean | undefined;
}

const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical'];

function describeInput(s: InputSummary): string {
  const total = s.counts.event + s.counts.ignored + s.counts.unrecognised;
  const how = s.detectedBy === 'auto' ? `detected, confidence ${s.confidence.toFixed(2)}` : 'forced';
  return `${s.name}: ${s.format} (${how}), ${total} lines: ${s.counts.event} events, ${s.counts.ignored} ignored, ${s.counts.unrecognised} not understood; ${s.records} records`;
}

function reportInput(io: Io, s: InputSummary, o: ScanOptions): void {
  if (o.verbose) {
    io.err(describeInput(s));
    for (const l of s.unrecognisedSamples) io.err(`  not understood: ${sanitize(s.name)}:${l.lineNo}: ${sanitize(l.text.slice(0, 300))}`);
    const more = s.counts.unrecognised - s.unrecognisedSamples.length;
    if (more > 0) io.err(`  (${more} more not understood)`);
  } else if (!o.quiet && s.counts.unrecognised > 0) {
    const total = s.counts.event + s.counts.ignored + s.counts.unrecognised;
    io.err(`${s.name}: ${s.counts.unrecognised} of ${total} lines not understood as ${s.format} (--verbose lists them)`);
  }
  if (!o.quiet && s.read && s.read.oversizedLines > 0) io.err(`${s.name}: ${s.read.oversizedLines} over-long lines were cut`);
  if (!o.quiet) for (const d of s.diagnostics) io.err(`${s.name}: ${d}`);
}

export async function runScan(files: readonly string[], o: ScanOptions, io: Io): Promise<number> {
  boundHeapGrowth();
  const format = checkChoice('--output', o.output, OUTPUT_FORMATS);
  const minSeverity = checkChoice('--min-severity', o.minSeverity, SEVERITIES);
  const { config, timezone: tz, since, until, inputs } = adhocSetup(files, o, io);

  // NDJSON and TSV stream each verdict as it is reached, so memory does not grow with
  // their number; text is grouped and so has to hold them.
  const heldFindings: Finding[] = [];
  const heldIncidents: Incident[] = [];
  let shown = 0;
  const minRank = SEVERITY_RANK[minSeverity];
  const onIncident = (inc: Incident): void => {
    if (SEVERITY_RANK[inc.severity] < minRank) return;
    shown++;
    if (format === 'ndjson') io.write(`${incidentToNdjsonLine(inc)}\n`);
    else if (format === 'tsv') io.write(`${incidentToTsvLine(inc)}\n`);
    else heldIncidents.push(inc);
  };
  const tracker = new IncidentTracker(config.incidents, onIncident);
  const onFinding = (f: Finding): void => {
    if (!o.findings) {
      tracker.add(f);
      return;
    }
    if (SEVERITY_RANK[f.severity] < minRank) return;
    shown++;
    if (format === 'ndjson') io.write(`${toNdjsonLine(f)}\n`);
    else if (format === 'tsv') io.write(`${toTsvLine(f)}\n`);
    else heldFindings.push(f);
  };
  const engine = createEngine(config, { ...resolveContext(config), severalInputs: inputs.length > 1 }, onFinding, { since, until });
  let latest = 0;
  let failed = false;
  // Progress hook: a bar on stderr while the inputs are read (see progress.ts).
  const progress = new Progress(inputs, progressWanted(o.progress), o.progress === true);
  for (const [index, path] of inputs.entries()) {
    try {
      const summary = await trackedInput(path, {
        format: o.format, timezone: tz, defaultDomain: o.defaultDomain ?? config.defaultDomain, openTtlMs: OPEN_TTL_MS,
        keepUnrecognised: o.verbose ? 100 : 0,
        onRecord: (r) => {
          if (r.at > latest) latest = r.at;
          engine.onRecord(r);
        },
        afterBatch: () => {
          // Incidents of accounts that went quiet are final: write them out now.
          tracker.closeIdle(latest);
          return io.drain();
        },
      }, progress, index);
      reportInput(io, summary, o);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      io.err(e.message);
      failed = true;
    }
  }
  progress.done();
  tracker.flush();
  if (format === 'text') {
    const chalk = new Chalk({ level: colourLevel(o.color, io.stdoutIsTty, supportsColor) });
    const text = { chalk, timezone: tz, evidenceLines: o.verbose ? 20 : 3, width: 240 };
    await io.out(o.findings ? (heldFindings.length ? toText(heldFindings, text) : '') : incidentsToText(heldIncidents, text));
  } else {
    await io.out('');
  }
  if (failed) return EXIT.RUNTIME;
  return shown > 0 ? EXIT.FINDINGS : EXIT.OK;
}
