/**
 * The inputs the equivalence test runs through the whole parser plugin (reader, line
 * parser, correlator), and how: every scenario under fixtures/scenarios, every log in
 * the shared corpus (../shared/corpus/<family>/), and the start of each generated
 * benchmark workload, which exercises the hot paths at volume and across read chunks.
 * What comes out (records, line counts, diagnostics) is compared with goldens that
 * make-equivalence.ts recorded from the code before it was optimised.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DETECT_SAMPLE_LINES } from '../../src/core/pipeline.js';
import type { LogLine, MailRecord } from '../../src/core/types.js';
import { detectParser, findParser } from '../../src/parsers/index.js';
import type { LineStatus, Parser, ParserSession } from '../../src/parsers/types.js';
import { openInput, readLineBatches } from '../../src/sources/lines.js';
import { WORKLOADS, generateLines } from '../bench/generate.js';
import { corpusDir, repoPath } from '../helpers/paths.js';

/** Anchors year-less stamps: fixed, so a checkout's file times do not matter. */
const REFERENCE_TIME = Date.parse('2026-11-22T00:00:00Z');
const CORPUS_DOMAIN = 'example.org';
/** As `sendwatch scan` (cli/scan.ts OPEN_TTL_MS). */
const OPEN_TTL_MS = 5 * 24 * 3600 * 1000;
/** Generated lines per workload: several read chunks, both hijacks, hundreds of messages; about 1.5 MB of goldens. */
const GENERATED_LINES = 15_000;
const GENERATED_SEED = 7;

export const GOLDEN_DIR = repoPath('fixtures', 'equivalence');

export interface EquivalenceCase {
  /** `scenario/NAME`, `corpus/FAMILY/FILE`, `generated/WORKLOAD`: also the golden's file name. */
  readonly id: string;
  /** The input file, made on demand for generated ones; undefined when absent (a corpus not laid beside the repository). */
  path(): string | undefined;
  /** A parser name, or `auto` to detect it as the scan does. */
  readonly format: string;
  readonly timezone: string;
  readonly defaultDomain?: string;
}

export interface Outcome {
  readonly format: string;
  readonly counts: Record<LineStatus, number>;
  readonly diagnostics: readonly string[];
  /** One JSON.stringify(record) per record, in the order the correlator emitted them. */
  readonly records: readonly string[];
}

export interface Golden extends Omit<Outcome, 'records'> {
  readonly id: string;
  /** sha256 of the input the golden was recorded from: a changed input has no golden. */
  readonly inputSha256: string;
  readonly recordCount: number;
}

interface ScenarioConfig {
  timezone?: string;
  defaultDomain?: string;
}

function scenarioCases(): EquivalenceCase[] {
  const dir = repoPath('fixtures', 'scenarios');
  return readdirSync(dir).filter((d) => existsSync(join(dir, d, 'input.log'))).sort().map((d): EquivalenceCase => {
    const config = JSON.parse(readFileSync(join(dir, d, 'config.json'), 'utf8')) as ScenarioConfig;
    return {
      id: `scenario/${d}`, path: () => join(dir, d, 'input.log'), format: 'auto', timezone: config.timezone ?? 'UTC',
      ...(config.defaultDomain !== undefined ? { defaultDomain: config.defaultDomain } : {}),
    };
  });
}

const FAMILIES = ['kerio', 'metermaid', 'mta-transaction', 'postfix'] as const;

/** Corpus files are listed from the goldens too, so one that has gone missing is reported as skipped. */
function corpusCases(): EquivalenceCase[] {
  const ids = new Set<string>();
  for (const family of FAMILIES) {
    const dir = corpusDir(family);
    if (dir !== undefined) for (const f of readdirSync(dir).filter((x) => x.endsWith('.log'))) ids.add(`corpus/${family}/${f}`);
  }
  for (const g of readGoldenIndex()) if (g.id.startsWith('corpus/')) ids.add(g.id);
  return [...ids].sort().map((id): EquivalenceCase => {
    const [, family = '', file = ''] = id.split('/');
    return {
      id, format: family, timezone: 'UTC', defaultDomain: CORPUS_DOMAIN,
      path: () => {
        const dir = corpusDir(family);
        return dir !== undefined && existsSync(join(dir, file)) ? join(dir, file) : undefined;
      },
    };
  });
}

function generatedCases(): EquivalenceCase[] {
  return WORKLOADS.map((w): EquivalenceCase => ({
    id: `generated/${w.name}`, format: w.format, timezone: 'UTC',
    path: () => {
      const dir = join(tmpdir(), 'sendwatch-equivalence');
      mkdirSync(dir, { recursive: true });
      const path = join(dir, `${w.name}-v${w.version}-seed${GENERATED_SEED}-${GENERATED_LINES}.log`);
      if (!existsSync(path)) writeFileSync(path, `${generateLines(w, GENERATED_SEED, GENERATED_LINES).join('\n')}\n`);
      return path;
    },
  }));
}

export function equivalenceCases(): EquivalenceCase[] {
  return [...scenarioCases(), ...corpusCases(), ...generatedCases()];
}

function sampleOf(lines: readonly LogLine[]): string[] {
  return lines.filter((l) => l.text.trim() !== '').slice(0, DETECT_SAMPLE_LINES).map((l) => l.text);
}

/** The case's input through reader, line parser and correlator, as `sendwatch scan` runs it. */
export async function runCase(c: EquivalenceCase, path: string): Promise<Outcome> {
  const records: string[] = [];
  const counts: Record<LineStatus, number> = { event: 0, ignored: 0, unrecognised: 0 };
  const input = await openInput(path);
  let parser: Parser | undefined = c.format === 'auto' ? undefined : findParser(c.format);
  let session: ParserSession | undefined;
  try {
    for await (const batch of readLineBatches(input)) {
      if (session === undefined) {
        parser ??= detectParser(sampleOf(batch.lines))?.parser;
        if (parser === undefined) throw new Error(`${c.id}: format not detected`);
        session = parser.open(
          { source: c.id, timezone: c.timezone, referenceTime: REFERENCE_TIME },
          { defaultDomain: c.defaultDomain, openTtlMs: OPEN_TTL_MS },
          (r: MailRecord) => records.push(JSON.stringify(r)),
        );
      }
      for (const line of batch.lines) counts[session.push(line)]++;
    }
    session?.flush();
  } finally {
    await input.close();
  }
  return { format: parser?.name ?? 'unknown', counts, diagnostics: session?.diagnostics() ?? [], records };
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

const fileOf = (id: string): string => join(GOLDEN_DIR, `${id.replace(/\//g, '__')}.ndjson.gz`);
const INDEX = join(GOLDEN_DIR, 'index.json');

export function readGoldenIndex(): Golden[] {
  return existsSync(INDEX) ? (JSON.parse(readFileSync(INDEX, 'utf8')) as Golden[]) : [];
}

export function writeGoldens(entries: readonly { golden: Golden; records: readonly string[] }[]): void {
  mkdirSync(GOLDEN_DIR, { recursive: true });
  for (const { golden, records } of entries) {
    // gzip with a fixed mtime (none is written by zlib's gzipSync): the same records give the same bytes.
    writeFileSync(fileOf(golden.id), gzipSync(records.map((r) => `${r}\n`).join(''), { level: 9 }));
  }
  writeFileSync(INDEX, `${JSON.stringify(entries.map((e) => e.golden), null, 1)}\n`);
}

export function readGoldenRecords(id: string): string[] {
  return gunzipSync(readFileSync(fileOf(id))).toString('utf8').split('\n').filter((l) => l !== '');
}
