/**
 * The long fuzz run: the properties of the bounded suite (properties.ts) with many more
 * runs and a seed of your choice.
 *
 *   npm run fuzz                                  # 10,000 runs per property, a random seed
 *   npm run fuzz -- --runs 100000 --seed 42       # as `node dist/test/fuzz/fuzz.js --runs 100000 --seed 42`
 *   npm run fuzz -- --parser kerio --property mutated
 *   npm run fuzz -- --with-known                  # also the lines of KNOWN_BUGS (properties.ts)
 *
 * Each parser runs in a worker thread watched from here: a line parser that loops
 * forever cannot be interrupted in its own thread, so the worker writes every line into
 * shared memory before parsing it, and a worker that makes no progress for --hang-ms is
 * stopped and the line it was on is printed. A failing property prints fast-check's
 * report: the shrunk (minimal) counterexample and the seed and path that replay it.
 * Exit 0 when every property held, 1 otherwise, 2 for a bad option.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { parsers } from '../../src/parsers/index.js';
import type { Parser } from '../../src/parsers/types.js';
import { checkEveryForgery, checkEveryTruncation, KNOWN_BUGS, propertiesOf, setProbe } from './properties.js';

interface Options {
  readonly runs: number;
  readonly seed: number;
  readonly parser: string | undefined;
  readonly property: string | undefined;
  readonly hangMs: number;
  readonly withKnown: boolean;
}

interface Job extends Options {
  readonly name: string;
  /** [0] lines started, [1] byte length of the current line; bytes from offset 8 on. */
  readonly shared: SharedArrayBuffer;
}

type Report =
  | { readonly type: 'start'; readonly property: string }
  | { readonly type: 'done'; readonly property: string; readonly ok: boolean; readonly runs: number; readonly ms: number; readonly report: string };

const SHARED_BYTES = 1 << 20;
const USAGE = 'usage: fuzz.js [--runs N] [--seed S] [--parser NAME] [--property TEXT] [--hang-ms MS] [--with-known]';

function parseArgs(argv: readonly string[]): Options {
  let runs = 10_000;
  let seed = Math.floor(Math.random() * 0x7fffffff);
  let parser: string | undefined;
  let property: string | undefined;
  let hangMs = 10_000;
  let withKnown = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    if (flag === '--with-known') {
      withKnown = true;
      continue;
    }
    if (value === undefined) throw new Error(`${flag ?? ''} needs a value`);
    i++;
    const int = (): number => {
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${flag}: not a whole number: ${value}`);
      return n;
    };
    if (flag === '--runs') runs = Math.max(1, int());
    else if (flag === '--seed') seed = int();
    else if (flag === '--hang-ms') hangMs = Math.max(100, int());
    else if (flag === '--parser') parser = value;
    else if (flag === '--property') property = value;
    else throw new Error(`unknown option ${flag}`);
  }
  if (parser !== undefined && !parsers.some((p) => p.name === parser)) {
    throw new Error(`--parser: no parser ${parser} (known: ${parsers.map((p) => p.name).join(', ')})`);
  }
  return { runs, seed, parser, property, hangMs, withKnown };
}

// ----------------------------------------------------------------------------- worker

function work(job: Job): void {
  const port = parentPort;
  if (!port) return;
  const parser = parsers.find((p) => p.name === job.name);
  if (!parser) throw new Error(`no parser ${job.name}`);
  const head = new Int32Array(job.shared, 0, 2);
  const bytes = new Uint8Array(job.shared, 8);
  const encoder = new TextEncoder();
  setProbe((text) => {
    const { written } = encoder.encodeInto(text.length > bytes.length / 3 ? text.slice(0, Math.floor(bytes.length / 3)) : text, bytes);
    Atomics.store(head, 1, written);
    Atomics.add(head, 0, 1);
  });
  const post = (r: Report): void => port.postMessage(r);
  const wanted = (name: string): boolean => job.property === undefined || name.includes(job.property);

  const sweeps: readonly [string, (p: Parser) => number][] = [
    ['every fixture line cut at every position', checkEveryTruncation],
    ['every forged field in every attacker-written value of every fixture event line', checkEveryForgery],
  ];
  for (const [sweep, run] of sweeps) {
    if (!wanted(sweep)) continue;
    post({ type: 'start', property: sweep });
    const t0 = performance.now();
    let report = '';
    let runs = 0;
    try {
      runs = run(parser);
    } catch (e) {
      report = e instanceof Error ? e.message : String(e);
    }
    post({ type: 'done', property: sweep, ok: report === '', runs, ms: performance.now() - t0, report });
  }
  for (const p of propertiesOf(parser, { withKnown: job.withKnown })) {
    if (!wanted(p.name)) continue;
    post({ type: 'start', property: p.name });
    const t0 = performance.now();
    // Properties that feed a whole stream per run get a tenth of the runs.
    const runs = p.stream ? Math.max(1, Math.round(job.runs / 10)) : job.runs;
    const details = fc.check(p.property, { seed: job.seed, numRuns: runs, includeErrorInReport: true });
    post({
      type: 'done', property: p.name, ok: !details.failed, runs: details.numRuns, ms: performance.now() - t0,
      report: details.failed ? (fc.defaultReportMessage(details) ?? 'failed') : '',
    });
  }
}

// ----------------------------------------------------------------------------- main

function runParser(o: Options, name: string): Promise<boolean> {
  const shared = new SharedArrayBuffer(8 + SHARED_BYTES);
  const head = new Int32Array(shared, 0, 2);
  const job: Job = { ...o, name, shared };
  const worker = new Worker(new URL(import.meta.url), { workerData: job });
  return new Promise((resolve) => {
    let ok = true;
    let current = '(starting)';
    let lastCount = -1;
    let lastChange = performance.now();
    let settled = false;
    const finish = (result: boolean): void => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      resolve(result);
    };
    const watchdog = setInterval(() => {
      const count = Atomics.load(head, 0);
      const now = performance.now();
      if (count !== lastCount) {
        lastCount = count;
        lastChange = now;
        return;
      }
      if (now - lastChange < o.hangMs) return;
      const len = Atomics.load(head, 1);
      const line = Buffer.from(new Uint8Array(shared, 8, len)).toString('utf8');
      console.log(`  FAIL ${name}: ${current}: no progress for ${((now - lastChange) / 1000).toFixed(1)} s (a hang) on the line`);
      console.log(`    ${JSON.stringify(line)}`);
      void worker.terminate();
      finish(false);
    }, 250);
    worker.on('message', (r: Report) => {
      if (r.type === 'start') {
        current = r.property;
        return;
      }
      const rate = r.ms > 0 ? ` (${Math.round((r.runs / r.ms) * 1000)}/s)` : '';
      console.log(`  ${r.ok ? 'ok  ' : 'FAIL'} ${name}: ${r.property}: ${r.runs} runs in ${(r.ms / 1000).toFixed(1)} s${rate}`);
      if (!r.ok) {
        ok = false;
        console.log(r.report.replace(/^/gm, '    '));
      }
    });
    worker.on('error', (e) => {
      console.log(`  FAIL ${name}: ${current}: the worker died: ${e.stack ?? e.message}`);
      finish(false);
    });
    worker.on('exit', () => finish(ok));
  });
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`fuzz: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }
  console.log(`fuzz: seed ${o.seed}, ${o.runs} runs per property (a tenth for the stream properties); replay with --seed ${o.seed}`);
  if (!o.withKnown && KNOWN_BUGS.length > 0) {
    console.log(`fuzz: lines that hit ${KNOWN_BUGS.length} known bug(s) are left out (--with-known keeps them):`);
    for (const b of KNOWN_BUGS) console.log(`  ${b.parser}: ${b.what}`);
  }
  const t0 = performance.now();
  let ok = true;
  for (const p of parsers) {
    if (o.parser !== undefined && p.name !== o.parser) continue;
    if (!(await runParser(o, p.name))) ok = false;
  }
  console.log(`fuzz: ${ok ? 'every property held' : 'FAILED'} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  return ok ? 0 : 1;
}

if (isMainThread) {
  process.exitCode = await main();
} else {
  work(workerData as Job);
}
