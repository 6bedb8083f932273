/**
 * `sendwatch report FILE...`: per authenticated account over the scanned period,
 * messages, recipients (internal and external), client addresses, bounces, failed
 * logins, the busiest hour and an hourly sparkline; busiest accounts first.
 * Exit: 0 report printed, 2 usage/config, 3 an input could not be read.
 */
import { readFileSync } from 'node:fs';
import { Chalk, supportsColor } from 'chalk';
import type { Config } from '../config/load.js';
import { EXIT, UsageError } from '../core/errors.js';
import { ReportAggregator } from '../report/aggregate.js';
import { reportToHtml } from '../report/html.js';
import { REPORT_FORMATS, reportToNdjson, reportToText, reportToTsv } from '../report/render.js';
import { InputError } from '../sources/lines.js';
import { colourLevel, type Io } from './io.js';
import { Progress, progressWanted, trackedInput } from './progress.js';
import { adhocSetup, checkChoice, OPEN_TTL_MS } from './adhoc.js';
import { boundHeapGrowth } from '../core/heap.js';

export interface ReportOptions {
  config?: string | undefined;
  format: string;
  output: string;
  top: string;
  since?: string | undefined;
  until?: string | undefined;
  timezone?: string | undefined;
  defaultDomain?: string | undefined;
  internalDomains: readonly string[];
  color: boolean;
  quiet: boolean;
  progress?: boolean | undefined;
}

function hourOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) + ((m ?? 0) >= 30 ? 1 : 0);
}

/**
 * The offline country database of the `countries` rule (src/rules/geo.ts), imported when
 * a report needs it (a literal specifier, so the bundler keeps it as a chunk of its own).
 * A database that cannot be read leaves `-` in the countries column.
 * `rules.countries.database` picks another MMDB file; `rules.countries.enabled: false`
 * leaves the column out too.
 */
async function countryLookupFor(config: Config, io: Io, quiet: boolean): Promise<((ip: string) => string | undefined) | undefined> {
  const opts = (config.rules as Record<string, unknown>).countries;
  const o = opts !== null && typeof opts === 'object' ? (opts as { enabled?: unknown; database?: unknown }) : {};
  if (o.enabled === false) return undefined;
  let make: unknown;
  try {
    make = (await import('../rules/geo.js')).countryLookup;
  } catch {
    return undefined;
  }
  if (typeof make !== 'function') return undefined;
  const args: unknown[] = typeof o.database === 'string' ? [o.database] : [];
  let lookup: ((ip: string) => unknown) | undefined;
  try {
    lookup = (make as (...a: unknown[]) => (ip: string) => unknown)(...args);
  } catch {
    return undefined;
  }
  let failed = false;
  return (ip) => {
    if (failed || !lookup) return undefined;
    try {
      const cc = lookup(ip);
      return typeof cc === 'string' ? cc : undefined;
    } catch (e) {
      failed = true;
      if (!quiet) io.err(`countries: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
  };
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function runReport(files: readonly string[], o: ReportOptions, io: Io): Promise<number> {
  boundHeapGrowth();
  const format = checkChoice('--output', o.output, REPORT_FORMATS);
  if (!/^\d+$/.test(o.top)) throw new UsageError(`--top: "${o.top}" is not a whole number (0 for every account)`);
  const top = Number(o.top);
  const { config, timezone: tz, since, until, inputs } = adhocSetup(files, o, io);
  const defaultDomain = o.defaultDomain ?? config.defaultDomain;

  const internal = [...o.internalDomains.flatMap((d) => d.split(',')).map((d) => d.trim().toLowerCase()).filter((d) => d !== '')];
  if (defaultDomain) internal.push(defaultDomain.toLowerCase());
  for (const key of Object.keys(config.accounts)) if (key.includes('@')) internal.push(key.slice(key.lastIndexOf('@') + 1).toLowerCase());
  const countryOf = await countryLookupFor(config, io, o.quiet);
  const agg = new ReportAggregator({ timezone: tz, internalDomains: internal, since, until, countryOf });

  let failed = false;
  const progress = new Progress(inputs, progressWanted(o.progress), o.progress === true);
  for (const [index, path] of inputs.entries()) {
    try {
      const s = await trackedInput(path, {
        format: o.format, timezone: tz, defaultDomain, openTtlMs: OPEN_TTL_MS, keepUnrecognised: 0, onRecord: agg.onRecord,
      }, progress, index);
      if (!o.quiet && s.counts.unrecognised > 0) {
        const total = s.counts.event + s.counts.ignored + s.counts.unrecognised;
        io.err(`${s.name}: ${s.counts.unrecognised} of ${total} lines not understood as ${s.format} ("sendwatch parse --unrecognised" lists them)`);
      }
      if (!o.quiet) for (const d of s.diagnostics) io.err(`${s.name}: ${d}`);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      io.err(e.message);
      failed = true;
    }
  }
  progress.done();

  const rep = agg.finish(top);
  const oh = { start: hourOf(config.officeHours.start), end: hourOf(config.officeHours.end) };
  let text: string;
  if (format === 'ndjson') text = reportToNdjson(rep);
  else if (format === 'tsv') text = reportToTsv(rep);
  else if (format === 'html') text = reportToHtml(rep, { generator: `sendwatch ${version()}`, inputs, officeHours: oh });
  else text = reportToText(rep, { chalk: new Chalk({ level: colourLevel(o.color, io.stdoutIsTty, supportsColor) }), officeHours: oh, inputs: inputs.length });
  await io.out(text);
  return failed ? EXIT.RUNTIME : EXIT.OK;
}
