/**
 * Throughput and memory benchmark (`npm run bench`, after a build).
 *
 *   node dist/test/bench/bench.js [--size 1G | --quick] [--runs 3] [--seed 1] [--out PATH]
 *
 * 1. Generates (or reuses) a synthetic Postfix log of the given size (generate.ts).
 * 2. Times, as separate processes, each `--runs` times:
 *      raw reader     dist/test/bench/read-lines.js FILE (openInput + readLineBatches only)
 *      sendwatch scan node dist/src/cli/main.js scan --output ndjson FILE > out.ndjson
 *      awk            counting distinct sasl_username values: the floor any log
 *                     scanner is compared with
 * 3. Prints median wall time, lines/s, MB/s and peak RSS against the targets.
 *
 * Peak RSS comes from GNU time (`%M`, the kernel's maximum resident set) when
 * /usr/bin/time exists, otherwise from polling VmHWM in /proc/<pid>/status (a lower
 * bound: the last poll may miss the final growth; such values are marked `>=`).
 * Wall time includes node's start-up (~40 ms), as a user would see it.
 */
import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CLI } from '../helpers/paths.js';
import { DEFAULT_SEED, DEFAULT_SIZE, PostfixLogGenerator, ensureLog, parseSize, type BenchLog } from './generate.js';

const TARGET_LINES_PER_S = 2_000_000;
const TARGET_PEAK_RSS_BYTES = 200 * 1e6;
const QUICK_SIZE = 50 * 1024 ** 2;
const READ_LINES = fileURLToPath(new URL('./read-lines.js', import.meta.url));
const GNU_TIME = '/usr/bin/time';
const AWK_PROGRAM = '/sasl_username=/{sub(/.*sasl_username=/,"");c[$0]++} END{for(k in c)n++; print n}';

interface Options {
  readonly size: number;
  readonly seed: number;
  readonly runs: number;
  readonly out: string | undefined;
}

interface Run {
  readonly wallS: number;
  readonly peakRssBytes: number | undefined;
  /** true when the RSS is a polled lower bound rather than the kernel's figure. */
  readonly rssIsLowerBound: boolean;
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface Row {
  readonly name: string;
  readonly runs: readonly Run[];
  readonly note: string;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      size: { type: 'string' },
      quick: { type: 'boolean', default: false },
      runs: { type: 'string', default: '3' },
      seed: { type: 'string', default: String(DEFAULT_SEED) },
      out: { type: 'string' },
    },
  });
  const size = values.size !== undefined ? parseSize(values.size) : values.quick ? QUICK_SIZE : DEFAULT_SIZE;
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
  return { size, seed: Number(values.seed), runs, out: values.out };
}

/** An executable on PATH, or undefined. */
function findExecutable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

/** VmHWM (peak RSS) of a live process, in bytes. */
function readVmHwm(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] !== undefined ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs one command to completion; its stdout goes to `stdoutPath` (like `> out.ndjson`)
 * or is captured when small.
 */
async function measure(command: string, args: readonly string[], workDir: string, stdoutPath?: string): Promise<Run> {
  const useGnuTime = existsSync(GNU_TIME);
  const rssFile = join(workDir, 'rss.txt');
  const [cmd, argv] = useGnuTime ? [GNU_TIME, ['-f', '%M', '-o', rssFile, command, ...args]] : [command, [...args]];
  const outFd = stdoutPath !== undefined ? openSync(stdoutPath, 'w') : undefined;
  const started = process.hrtime.bigint();
  const child = spawn(cmd, argv, { stdio: ['ignore', outFd ?? 'pipe', 'pipe'] });
  let polled: number | undefined;
  const poll = useGnuTime ? undefined : setInterval(() => {
    const hwm = child.pid !== undefined ? readVmHwm(child.pid) : undefined;
    if (hwm !== undefined) polled = Math.max(polled ?? 0, hwm);
  }, 10);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  if (poll !== undefined) clearInterval(poll);
  if (outFd !== undefined) closeSync(outFd);
  const peakRssBytes = useGnuTime ? parseGnuTimeKb(rssFile) : polled;
  return { wallS, peakRssBytes, rssIsLowerBound: !useGnuTime, exitCode, stdout, stderr };
}

/** GNU time writes "Command exited with non-zero status N" before the figure on failure. */
function parseGnuTimeKb(path: string): number | undefined {
  const last = readFileSync(path, 'utf8').trim().split('\n').pop() ?? '';
  return /^\d+$/.test(last) ? Number(last) * 1024 : undefined;
}

async function repeat(runs: number, label: string, once: () => Promise<Run>): Promise<Run[]> {
  process.stderr.write(`  ${label}: ${runs} run(s)\n`);
  const results: Run[] = [];
  for (let i = 0; i < runs; i++) results.push(await once());
  return results;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

// ---------------------------------------------------------------------------
// Rows

async function rawReaderRow(log: BenchLog, o: Options, workDir: string): Promise<Row> {
  const name = 'raw reader';
  const runs = await repeat(o.runs, name, () => measure(process.execPath, [READ_LINES, log.path], workDir));
  const failed = runs.find((r) => r.exitCode !== 0);
  if (failed !== undefined) return { name, runs: [], note: `failed: ${firstLine(failed.stderr)}` };
  const reports = runs.map((r) => JSON.parse(r.stdout) as { lines: number; readS: number });
  const wrong = reports.find((r) => r.lines !== log.lines);
  if (wrong !== undefined) return { name, runs, note: `read ${wrong.lines} lines, expected ${log.lines}` };
  const readS = median(reports.map((r) => r.readS));
  return {
    name,
    runs,
    note: `openInput + readLineBatches; inside the process, without node start-up: ${formatRate(log.lines / readS)} lines/s, ${(log.bytes / 1e6 / readS).toFixed(0)} MB/s`,
  };
}

async function cliRow(log: BenchLog, o: Options, workDir: string): Promise<Row> {
  const name = 'sendwatch scan';
  if (!existsSync(CLI)) return { name, runs: [], note: `not measured: ${CLI} does not exist yet (build the CLI, then rerun)` };
  const outPath = join(workDir, 'out.ndjson');
  const runs = await repeat(o.runs, name, () => measure(process.execPath, [CLI, 'scan', '--output', 'ndjson', log.path], workDir, outPath));
  // 0 = nothing found, 1 = findings; anything else is a failure.
  const failed = runs.find((r) => r.exitCode !== 0 && r.exitCode !== 1);
  if (failed !== undefined) return { name, runs: [], note: `failed (exit ${String(failed.exitCode)}): ${firstLine(failed.stderr)}` };
  const findings = readFileSync(outPath, 'utf8').split('\n').filter((l) => l !== '');
  const flagged = new Set(findings.map(accountOf));
  const hijacked = new PostfixLogGenerator(o.seed).hijackedAccounts;
  const found = hijacked.filter((a) => flagged.has(a));
  return {
    name,
    runs,
    note: `--output ndjson > out.ndjson: ${findings.length} findings on ${flagged.size} accounts; hijacked accounts found ${found.length}/${hijacked.length} (${hijacked.join(', ')})`,
  };
}

function accountOf(ndjsonLine: string): string {
  try {
    const parsed: unknown = JSON.parse(ndjsonLine);
    return typeof parsed === 'object' && parsed !== null && 'account' in parsed && typeof parsed.account === 'string' ? parsed.account : '';
  } catch {
    return '';
  }
}

async function awkRow(log: BenchLog, o: Options, workDir: string): Promise<Row | undefined> {
  const awk = findExecutable('awk');
  if (awk === undefined) return undefined;
  const runs = await repeat(o.runs, 'awk', () => measure(awk, [AWK_PROGRAM, log.path], workDir));
  return { name: 'awk baseline', runs, note: `${firstLine(runs[0]?.stdout ?? '')} distinct sasl_username (${realpathSync(awk)})` };
}

// ---------------------------------------------------------------------------
// Report

function formatRate(perS: number): string {
  return perS >= 1e6 ? `${(perS / 1e6).toFixed(2)} M` : `${(perS / 1e3).toFixed(0)} k`;
}

function formatRss(runs: readonly Run[]): string {
  const values = runs.map((r) => r.peakRssBytes).filter((v): v is number => v !== undefined);
  if (values.length === 0) return '?';
  return `${runs.some((r) => r.rssIsLowerBound) ? '>=' : ''}${(Math.max(...values) / 1e6).toFixed(0)} MB`;
}

function verdict(ok: boolean): string {
  return ok ? 'ok' : 'MISS';
}

function table(rows: readonly Row[], log: BenchLog): string {
  const awkWall = rows.find((r) => r.name === 'awk baseline');
  const awkMedian = awkWall !== undefined ? median(awkWall.runs.map((r) => r.wallS)) : undefined;
  const header = ['', 'wall s (median)', 'lines/s', 'MB/s', 'peak RSS', 'x awk', 'lines/s >= 2 M', 'RSS <= 200 MB'];
  const body = rows.filter((r) => r.runs.length > 0).map((r) => {
    const wall = median(r.runs.map((x) => x.wallS));
    const peak = Math.max(...r.runs.map((x) => x.peakRssBytes ?? 0));
    const isAwk = r.name === 'awk baseline';
    return [
      r.name,
      wall.toFixed(2),
      formatRate(log.lines / wall),
      (log.bytes / 1e6 / wall).toFixed(0),
      formatRss(r.runs),
      awkMedian !== undefined && !isAwk ? (wall / awkMedian).toFixed(2) : '',
      isAwk ? '' : verdict(log.lines / wall >= TARGET_LINES_PER_S),
      isAwk ? '' : verdict(peak > 0 && peak <= TARGET_PEAK_RSS_BYTES),
    ];
  });
  const all = [header, ...body];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  const render = (row: readonly string[]): string => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  return [render(header), ...body.map(render)].join('\n');
}

async function main(argv: readonly string[]): Promise<void> {
  const o = parseOptions(argv);
  process.stderr.write(`log: ${(o.size / 1e6).toFixed(0)} MB target, seed ${o.seed}\n`);
  const log = await ensureLog(o.seed, o.size, o.out, (b) => process.stderr.write(`  generating: ${(b / 1e6).toFixed(0)} MB\n`));
  const workDir = mkdtempSync(join(tmpdir(), 'sendwatch-bench-'));
  try {
    const rows: Row[] = [await rawReaderRow(log, o, workDir), await cliRow(log, o, workDir)];
    const awk = await awkRow(log, o, workDir);
    if (awk !== undefined) rows.push(awk);

    console.log(`${log.reused ? 'reused' : 'generated'} ${log.path}`);
    console.log(`${(log.bytes / 1e6).toFixed(1)} MB, ${log.lines} lines; ${o.runs} run(s) each, node ${process.version}; MB = 10^6 bytes`);
    console.log('');
    console.log(table(rows, log));
    console.log('');
    for (const r of rows) console.log(`${r.name}: ${r.note}`);
    if (awk === undefined) console.log('awk baseline: not measured (no awk on PATH)');
    console.log(`peak RSS: ${existsSync(GNU_TIME) ? `${GNU_TIME} -f %M (maximum resident set)` : 'VmHWM polled every 10 ms (lower bound)'}`);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 2;
});
