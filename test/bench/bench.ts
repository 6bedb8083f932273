/**
 * Throughput and memory benchmark (`npm run bench`, after a build).
 *
 *   node dist/test/bench/bench.js [--quick | --size 1G] [--workload postfix,kerio,mta-1,mta-4] [--runs 3] [--seed 1] [--out PATH]
 *
 * 1. Generates (or reuses) one synthetic log per workload (generate.ts): Postfix 1 GiB,
 *    Kerio mail.log and MTA LOG_FORMAT 1 and 4 512 MiB each (`--quick`: 50 and 25 MiB;
 *    `--size` sets every workload's size), each with a config beside it whose
 *    trustedNetworks cover the accounts' home networks.
 * 2. Times, as separate processes, each `--runs` times:
 *      raw reader     dist/test/bench/read-lines.js FILE (openInput + readLineBatches only)
 *      parse          dist/test/bench/parse-lines.js FORMAT FILE (reader, line parser and
 *                     correlator: the parsing layer without rules or output)
 *      sendwatch scan node dist/src/cli/main.js scan --config CONFIG --format F --output ndjson FILE > out.ndjson
 *                     (all rules on), and checks both hijacked accounts are reported
 *                     at warning or above
 *      awk            counting each account's submissions: the floor any log
 *                     scanner is compared with
 * 3. Prints median wall time, lines/s, MB/s and peak RSS against the targets: 2 M
 *    lines/s for Postfix (about 300 MB/s), the same MB/s for the other formats, whose
 *    lines are longer; peak RSS at most 200 MB.
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
import { DEFAULT_SEED, WORKLOADS, ensureLog, findWorkload, parseSize, type BenchLog, type Workload } from './generate.js';

/** The issue's target: 2 M Postfix lines/s, whose lines average 151 bytes: about 300 MB/s for every format. */
const TARGET_POSTFIX_LINES_PER_S = 2_000_000;
const POSTFIX_LINE_BYTES = 151;
const TARGET_BYTES_PER_S = TARGET_POSTFIX_LINES_PER_S * POSTFIX_LINE_BYTES;
const TARGET_PEAK_RSS_BYTES = 200 * 1e6;
const READ_LINES = fileURLToPath(new URL('./read-lines.js', import.meta.url));
const PARSE_LINES = fileURLToPath(new URL('./parse-lines.js', import.meta.url));
const GNU_TIME = '/usr/bin/time';
const COUNT_KEYS = 'END{for(k in c)n++; print n}';
/** Per workload: count each account's submissions, the least a scanner for hijacks must do. */
const AWK_PROGRAMS: Readonly<Record<string, string>> = {
  'postfix': `/sasl_username=/{sub(/.*sasl_username=/,"");c[$0]++} ${COUNT_KEYS}`,
  'kerio': `/ User: /{sub(/.* User: /,"");sub(/,.*/,"");c[$0]++} ${COUNT_KEYS}`,
  'mta-1': `/ EEA /{if(match($0,/ [*][^ ]+/))c[substr($0,RSTART+2,RLENGTH-2)]++} ${COUNT_KEYS}`,
  'mta-4': `/ us="[*]/{if(match($0,/ us="[*][^"]+/))c[substr($0,RSTART+6,RLENGTH-6)]++} ${COUNT_KEYS}`,
};

interface Options {
  readonly workloads: readonly Workload[];
  /** Every workload's size, or undefined for each one's default. */
  readonly size: number | undefined;
  readonly quick: boolean;
  readonly seed: number;
  readonly runs: number;
  readonly out: string | undefined;
}

interface Run {
  readonly wallS: number;
  readonly peakRssBytes: number | undefined;
  /** User + system CPU seconds (GNU time): steadier than wall time on a shared machine. */
  readonly cpuS: number | undefined;
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
  /** For a scan: whether it reported every hijacked account at warning or above. */
  readonly ok?: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      size: { type: 'string' },
      quick: { type: 'boolean', default: false },
      workload: { type: 'string', default: WORKLOADS.map((w) => w.name).join(',') },
      runs: { type: 'string', default: '3' },
      seed: { type: 'string', default: String(DEFAULT_SEED) },
      out: { type: 'string' },
    },
  });
  const size = values.size !== undefined ? parseSize(values.size) : undefined;
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
  const workloads = values.workload.split(',').filter((w) => w !== '').map(findWorkload);
  if (values.out !== undefined && workloads.length !== 1) throw new Error('--out needs exactly one --workload');
  return { workloads, size, quick: values.quick, seed: Number(values.seed), runs, out: values.out };
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
  const [cmd, argv] = useGnuTime ? [GNU_TIME, ['-f', '%M %U %S', '-o', rssFile, command, ...args]] : [command, [...args]];
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
  const figures = useGnuTime ? parseGnuTime(rssFile) : undefined;
  const peakRssBytes = useGnuTime ? figures?.peakRssBytes : polled;
  return { wallS, peakRssBytes, cpuS: figures?.cpuS, rssIsLowerBound: !useGnuTime, exitCode, stdout, stderr };
}

/** GNU time writes "Command exited with non-zero status N" before the figures on failure. */
function parseGnuTime(path: string): { peakRssBytes: number; cpuS: number } | undefined {
  const last = readFileSync(path, 'utf8').trim().split('\n').pop() ?? '';
  const m = /^(\d+) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)$/.exec(last);
  return m ? { peakRssBytes: Number(m[1]) * 1024, cpuS: Number(m[2]) + Number(m[3]) } : undefined;
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

async function parseRow(log: BenchLog, o: Options, workDir: string): Promise<Row> {
  const name = 'parse (no rules)';
  const runs = await repeat(o.runs, name, () => measure(process.execPath, [PARSE_LINES, log.workload.format, log.path], workDir));
  const failed = runs.find((r) => r.exitCode !== 0);
  if (failed !== undefined) return { name, runs: [], note: `failed: ${firstLine(failed.stderr)}` };
  const reports = runs.map((r) => JSON.parse(r.stdout) as { lines: number; records: number; parseS: number });
  const parseS = median(reports.map((r) => r.parseS));
  return {
    name,
    runs,
    note: `reader + line parser + correlator, ${reports[0]?.records ?? 0} records; inside the process: ${formatRate(log.lines / parseS)} lines/s, ${(log.bytes / 1e6 / parseS).toFixed(0)} MB/s`,
  };
}

async function cliRow(log: BenchLog, o: Options, workDir: string): Promise<Row> {
  const name = 'sendwatch scan';
  if (!existsSync(CLI)) return { name, runs: [], note: `not measured: ${CLI} does not exist yet (build the CLI, then rerun)` };
  const outPath = join(workDir, 'out.ndjson');
  const args = [CLI, 'scan', '--config', log.configPath, '--format', log.workload.format, '--output', 'ndjson', log.path];
  const runs = await repeat(o.runs, name, () => measure(process.execPath, args, workDir, outPath));
  // 0 = nothing found, 1 = findings; anything else is a failure.
  const failed = runs.find((r) => r.exitCode !== 0 && r.exitCode !== 1);
  if (failed !== undefined) return { name, runs: [], note: `failed (exit ${String(failed.exitCode)}): ${firstLine(failed.stderr)}` };
  const findings = readFileSync(outPath, 'utf8').split('\n').filter((l) => l !== '').map(summaryOf);
  const flagged = new Set(findings.map((f) => f.account));
  const serious = new Set(findings.filter((f) => f.severity === 'warning' || f.severity === 'critical').map((f) => f.account));
  const hijacked = log.workload.create(o.seed).hijackedAccounts;
  const found = hijacked.filter((a) => serious.has(a));
  const bySeverity = new Map<string, number>();
  for (const f of findings) bySeverity.set(f.severity, (bySeverity.get(f.severity) ?? 0) + 1);
  const severities = ['critical', 'warning', 'info'].map((v) => `${bySeverity.get(v) ?? 0} ${v}`).join(', ');
  return {
    name,
    runs,
    ok: found.length === hijacked.length,
    note: `${findings.length} findings on ${flagged.size} accounts (${severities}); hijacked accounts at warning or above ${found.length}/${hijacked.length} (${hijacked.join(', ')})${found.length === hijacked.length ? '' : ' MISSED'}`,
  };
}

interface FindingSummary {
  readonly account: string;
  readonly severity: string;
}

function summaryOf(ndjsonLine: string): FindingSummary {
  const str = (o: object, k: string): string => {
    const v: unknown = (o as Record<string, unknown>)[k];
    return typeof v === 'string' ? v : '';
  };
  try {
    const parsed: unknown = JSON.parse(ndjsonLine);
    if (typeof parsed !== 'object' || parsed === null) return { account: '', severity: '' };
    return { account: str(parsed, 'account'), severity: str(parsed, 'severity') };
  } catch {
    return { account: '', severity: '' };
  }
}

async function awkRow(log: BenchLog, o: Options, workDir: string): Promise<Row | undefined> {
  const awk = findExecutable('awk');
  const program = AWK_PROGRAMS[log.workload.name];
  if (awk === undefined || program === undefined) return undefined;
  const runs = await repeat(o.runs, 'awk', () => measure(awk, [program, log.path], workDir));
  return { name: 'awk baseline', runs, note: `${firstLine(runs[0]?.stdout ?? '')} distinct sending accounts (${realpathSync(awk)})` };
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

/** The lines/s that make TARGET_BYTES_PER_S at this log's mean line length. */
function targetLinesPerS(log: BenchLog): number {
  return TARGET_BYTES_PER_S / (log.bytes / log.lines);
}

function table(sections: readonly Section[]): string {
  const header = ['', 'wall s (median)', 'lines/s', 'MB/s', 'cpu s (median)', 'peak RSS', 'x awk', 'lines/s target', 'speed', 'RSS <= 200 MB', 'findings'];
  const body: string[][] = [];
  for (const { log, rows } of sections) {
    const awkWall = rows.find((r) => r.name === 'awk baseline');
    const awkMedian = awkWall !== undefined ? median(awkWall.runs.map((r) => r.wallS)) : undefined;
    const target = targetLinesPerS(log);
    for (const r of rows.filter((x) => x.runs.length > 0)) {
      const wall = median(r.runs.map((x) => x.wallS));
      const peak = Math.max(...r.runs.map((x) => x.peakRssBytes ?? 0));
      const isAwk = r.name === 'awk baseline';
      body.push([
        `${log.workload.name}: ${r.name}`,
        wall.toFixed(2),
        formatRate(log.lines / wall),
        (log.bytes / 1e6 / wall).toFixed(0),
        r.runs.every((x) => x.cpuS !== undefined) ? median(r.runs.map((x) => x.cpuS ?? 0)).toFixed(2) : '?',
        formatRss(r.runs),
        awkMedian !== undefined && !isAwk ? (wall / awkMedian).toFixed(2) : '',
        isAwk ? '' : formatRate(target),
        isAwk ? '' : verdict(log.lines / wall >= target),
        isAwk ? '' : verdict(peak > 0 && peak <= TARGET_PEAK_RSS_BYTES),
        r.ok === undefined ? '' : verdict(r.ok),
      ]);
    }
  }
  const all = [header, ...body];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  const render = (row: readonly string[]): string => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  return [render(header), ...body.map(render)].join('\n');
}

interface Section {
  readonly log: BenchLog;
  readonly rows: readonly Row[];
}

async function measureWorkload(workload: Workload, o: Options, workDir: string): Promise<Section> {
  const size = o.size ?? (o.quick ? workload.quickSize : workload.defaultSize);
  process.stderr.write(`${workload.name}: ${(size / 1e6).toFixed(0)} MB target, seed ${o.seed}\n`);
  const log = await ensureLog(workload, o.seed, size, o.out, (b) => process.stderr.write(`  generating: ${(b / 1e6).toFixed(0)} MB\n`));
  const rows: Row[] = [await rawReaderRow(log, o, workDir), await parseRow(log, o, workDir), await cliRow(log, o, workDir)];
  const awk = await awkRow(log, o, workDir);
  if (awk !== undefined) rows.push(awk);
  return { log, rows };
}

async function main(argv: readonly string[]): Promise<void> {
  const o = parseOptions(argv);
  const workDir = mkdtempSync(join(tmpdir(), 'sendwatch-bench-'));
  try {
    const sections: Section[] = [];
    for (const w of o.workloads) sections.push(await measureWorkload(w, o, workDir));
    console.log(`${o.runs} run(s) each, node ${process.version}; MB = 10^6 bytes; speed target ${(TARGET_BYTES_PER_S / 1e6).toFixed(0)} MB/s (2 M lines/s of Postfix)`);
    for (const { log } of sections) {
      console.log(`${log.workload.name}: ${log.reused ? 'reused' : 'generated'} ${log.path}: ${(log.bytes / 1e6).toFixed(1)} MB, ${log.lines} lines, ${(log.bytes / log.lines).toFixed(0)} bytes/line`);
    }
    console.log('');
    console.log(table(sections));
    console.log('');
    for (const { log, rows } of sections) for (const r of rows) console.log(`${log.workload.name}: ${r.name}: ${r.note}`);
    if (findExecutable('awk') === undefined) console.log('awk baseline: not measured (no awk on PATH)');
    console.log(`peak RSS: ${existsSync(GNU_TIME) ? `${GNU_TIME} -f %M (maximum resident set)` : 'VmHWM polled every 10 ms (lower bound)'}`);
    if (sections.some(({ rows }) => rows.some((r) => r.ok === false))) process.exitCode = 1;
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 2;
});
