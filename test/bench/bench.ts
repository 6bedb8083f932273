/**
 * Throughput, memory, cron-mode and start-up benchmark (`npm run bench`, after a build).
 *
 *   node dist/test/bench/bench.js [--quick | --size 1G] [--workload postfix,kerio,mta-1,mta-4] [--runs 3] [--seed 1] [--out PATH]
 *                                 [--only throughput,cron,state,help]
 *
 * 1. Generates (or reuses) one synthetic log per workload (generate.ts): Postfix 1 GiB,
 *    Kerio mail.log and MTA LOG_FORMAT 1 and 4 512 MiB each (`--quick`: 50 and 25 MiB;
 *    `--size` sets every workload's size), each with a config beside it whose
 *    trustedNetworks cover the accounts' home networks.
 * 2. Times, as separate processes, each `--runs` times (`throughput`):
 *      raw reader     dist/test/bench/read-lines.js FILE (openInput + readLineBatches only)
 *      parse          dist/test/bench/parse-lines.js FORMAT FILE (reader, line parser and
 *                     correlator: the parsing layer without rules or output)
 *      sendwatch scan node dist/bin/cli/main.js scan --config CONFIG --format F --output ndjson FILE > out.ndjson
 *                     (all rules on), and checks both hijacked accounts are reported
 *                     at warning or above
 *      awk            counting each account's submissions: the floor any log
 *                     scanner is compared with
 * 3. Cron mode (`cron`), on a private copy of each workload's log (the cached log is
 *    never written to) with the clock pinned to the log's modification time: the
 *    state-less first run (it reads the last window), a run with nothing new, and a
 *    run after the 10,000 lines the generator writes after the log's last are
 *    appended (each from the same state and file length), median of at least five.
 * 4. The state target (`state`): a Postfix site of 12,000 accounts (STATE_WORKLOAD,
 *    over 10,000 of them sending) read whole with `--from-start`, then the same three
 *    cron situations on its state, and where that state's bytes and load/save time
 *    go, per section and per rule (state-costs.ts).
 * 5. `sendwatch --help` (`help`), median of at least five.
 * 6. Prints median wall time, lines/s, MB/s and peak RSS against the targets: 2 M
 *    lines/s for Postfix (about 300 MB/s), the same MB/s for the other formats, whose
 *    lines are longer; peak RSS at most 200 MB; then the short commands against theirs:
 *    a cron run that finds 10,000 new lines under 0.5 s, one with nothing new under
 *    0.3 s, `--help` under 150 ms, the state under 10 MB for 10,000 active accounts
 *    (scaled to the accounts that sent mail in the state workload, as the other
 *    formats' targets are scaled to their line sizes).
 *
 * Peak RSS comes from GNU time (`%M`, the kernel's maximum resident set) when
 * /usr/bin/time exists, otherwise from polling VmHWM in /proc/<pid>/status (a lower
 * bound: the last poll may miss the final growth; such values are marked `>=`).
 * Wall time includes node's start-up (~40 ms), as a user would see it; on a shared
 * machine CPU seconds (GNU time's user + system) are the steadier figure.
 */
import { spawn } from 'node:child_process';
import {
  accessSync, appendFileSync, createReadStream, closeSync, constants, copyFileSync, existsSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync,
  statSync, truncateSync, utimesSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openInput, readLineBatches } from '../../src/sources/lines.js';
import { CLI } from '../helpers/paths.js';
import {
  DEFAULT_SEED, LOG_MTIME_MS, STATE_WORKLOAD, WORKLOADS, benchConfig, continuation, ensureLog, findWorkload, parseSize, type BenchLog, type Workload,
} from './generate.js';

/** The issue's target: 2 M Postfix lines/s, whose lines average 151 bytes: about 300 MB/s for every format. */
const TARGET_POSTFIX_LINES_PER_S = 2_000_000;
const POSTFIX_LINE_BYTES = 151;
const TARGET_BYTES_PER_S = TARGET_POSTFIX_LINES_PER_S * POSTFIX_LINE_BYTES;
const TARGET_PEAK_RSS_BYTES = 200 * 1e6;
/** Cron mode and start-up targets of the issue (wall time, node's start-up included). */
const TARGET_CRON_APPEND_S = 0.5;
const TARGET_CRON_NOTHING_NEW_S = 0.3;
const TARGET_HELP_S = 0.15;
const TARGET_STATE_BYTES = 10 * 1e6;
/** What a cron run finds appended: the issue's 10,000 new lines. */
const APPENDED_LINES = 10_000;
/** Runs of the cheap measurements (help, cron runs): a few more than `--runs`, as noise weighs more on them. */
const MIN_SHORT_RUNS = 5;
const READ_LINES = fileURLToPath(new URL('./read-lines.js', import.meta.url));
const STATE_COSTS = fileURLToPath(new URL('./state-costs.js', import.meta.url));
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
  readonly parts: ReadonlySet<Part>;
}

const PARTS = ['throughput', 'cron', 'state', 'help'] as const;
type Part = (typeof PARTS)[number];

function isPart(p: string): p is Part {
  return (PARTS as readonly string[]).includes(p);
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
      only: { type: 'string', default: PARTS.join(',') },
    },
  });
  const size = values.size !== undefined ? parseSize(values.size) : undefined;
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
  const workloads = values.workload.split(',').filter((w) => w !== '').map(findWorkload);
  if (values.out !== undefined && workloads.length !== 1) throw new Error('--out needs exactly one --workload');
  const parts = new Set<Part>();
  for (const p of values.only.split(',').filter((x) => x !== '')) {
    if (!isPart(p)) throw new Error(`--only takes ${PARTS.join(', ')}; got ${p}`);
    parts.add(p);
  }
  return { workloads, size, quick: values.quick, seed: Number(values.seed), runs, out: values.out, parts };
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
async function measure(command: string, args: readonly string[], workDir: string, stdoutPath?: string, env?: NodeJS.ProcessEnv): Promise<Run> {
  const useGnuTime = existsSync(GNU_TIME);
  const rssFile = join(workDir, 'rss.txt');
  const [cmd, argv] = useGnuTime ? [GNU_TIME, ['-f', '%M %U %S', '-o', rssFile, command, ...args]] : [command, [...args]];
  const outFd = stdoutPath !== undefined ? openSync(stdoutPath, 'w') : undefined;
  const started = process.hrtime.bigint();
  const child = spawn(cmd, argv, { stdio: ['ignore', outFd ?? 'pipe', 'pipe'], ...(env !== undefined ? { env } : {}) });
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
  const findings = await findingsIn(outPath);
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

/** Streamed: the findings of a 4 GB scan outgrow V8's longest string. */
async function findingsIn(path: string): Promise<FindingSummary[]> {
  const found: FindingSummary[] = [];
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const line of lines) if (line !== '') found.push(summaryOf(line));
  return found;
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
// Cron mode and start-up: single runs as a user sees them, against the issue's targets

/** A short command timed as a whole, against a wall-time target and, for cron runs, the state it leaves. */
interface TimedRow {
  readonly name: string;
  readonly runs: readonly Run[];
  readonly targetS?: number;
  readonly stateBytes?: number;
  readonly targetStateBytes?: number;
  readonly note: string;
}

async function helpRow(o: Options, workDir: string): Promise<TimedRow> {
  const name = 'sendwatch --help';
  if (!existsSync(CLI)) return { name, runs: [], note: `not measured: ${CLI} does not exist yet` };
  const runs = await repeat(shortRuns(o), name, () => measure(process.execPath, [CLI, '--help'], workDir));
  const failed = runs.find((r) => r.exitCode !== 0);
  if (failed !== undefined) return { name, runs: [], note: `failed (exit ${String(failed.exitCode)}): ${firstLine(failed.stderr)}` };
  return { name, runs, targetS: TARGET_HELP_S, note: 'node start-up, commander and the help text' };
}

function shortRuns(o: Options): number {
  return Math.max(o.runs, MIN_SHORT_RUNS);
}

/** A private copy of a workload log with a cron config and state beside it: appending never touches the cached log. */
interface CronSite {
  readonly dir: string;
  readonly logPath: string;
  readonly configPath: string;
  readonly statePath: string;
  /** The clock pinned to the log's modification time, as if cron ran just after its last line was written. */
  readonly env: NodeJS.ProcessEnv;
}

function cronSite(log: BenchLog, workDir: string): CronSite {
  const dir = join(workDir, `cron-${log.workload.name}`);
  mkdirSync(join(dir, 'state'), { recursive: true, mode: 0o700 });
  const logPath = join(dir, 'mail.log');
  // A reflink where the file system has them; a plain copy otherwise.
  copyFileSync(log.path, logPath, constants.COPYFILE_FICLONE);
  onDisk(logPath);
  setLogTime(logPath);
  const statePath = join(dir, 'state', 'state.json');
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, `${JSON.stringify({ ...benchConfig(), sources: [{ path: logPath, format: log.workload.format }], state: { path: statePath } }, null, 2)}\n`);
  return { dir, logPath, configPath, statePath, env: { ...process.env, SENDWATCH_NOW: new Date(LOG_MTIME_MS).toISOString() } };
}

/**
 * Writes what the bench itself wrote to a file out to the disk before a timed run. A run
 * fsyncs its state, and on ext4 (data=ordered) that commit first writes out the data of
 * every file in the same journal transaction: a copied 1 GB log still in the page cache
 * made the first cron runs pay for the bench's own copy (append runs 0.55 s against
 * 0.46 s on a log written out long before). On a mail server the state was written by
 * the last run and the log's unwritten part is what was logged since the last flush.
 */
function onDisk(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Year-less stamps are dated from the file's modification time: keep it where the generated log has it. */
function setLogTime(path: string): void {
  utimesSync(path, LOG_MTIME_MS / 1000, LOG_MTIME_MS / 1000);
}

async function cronRun(site: CronSite, workDir: string, extra: readonly string[] = []): Promise<Run> {
  const args = [CLI, 'run', '--config', site.configPath, '--quiet', '--output', 'ndjson', ...extra];
  return measure(process.execPath, args, workDir, join(site.dir, 'alerts.ndjson'), site.env);
}

/** 0 = nothing new, 1 = new alerts; anything else is a failure. */
function cronFailure(runs: readonly Run[]): string | undefined {
  const failed = runs.find((r) => r.exitCode !== 0 && r.exitCode !== 1);
  return failed === undefined ? undefined : `failed (exit ${String(failed.exitCode)}): ${firstLine(failed.stderr)}`;
}

function fileSize(path: string): number {
  return statSync(path).size;
}

/** Where the state says the next run starts reading the site's log. */
function cursorOffset(site: CronSite): number | undefined {
  const state = JSON.parse(readFileSync(site.statePath, 'utf8')) as { sources?: Record<string, { cursor?: { offset?: number } }> };
  return state.sources?.[site.logPath]?.cursor?.offset;
}

interface CronOptions {
  readonly label: string;
  /** Extra arguments of the state-less first run (`--from-start`). */
  readonly firstRunArgs: readonly string[];
  readonly firstRunNote: string;
  /** Accounts that sent mail in the log, when the state-size target applies (10 MB per 10,000 of them). */
  readonly activeAccounts?: number;
}

/**
 * Three cron situations on a copy of the log: the state-less first run, a run with
 * nothing new, and a run that finds 10,000 lines appended (the lines the generator
 * writes after the log's last one, so the windows go on in time). Each append run
 * starts from the same state and the same file length.
 */
async function cronRows(log: BenchLog, o: Options, workDir: string, c: CronOptions): Promise<TimedRow[]> {
  const label = (what: string): string => `${c.label}${what}`;
  if (!existsSync(CLI)) return [{ name: label('cron'), runs: [], note: `not measured: ${CLI} does not exist yet` }];
  const site = cronSite(log, workDir);
  const rows: TimedRow[] = [];
  const stateTarget = c.activeAccounts !== undefined ? { targetStateBytes: TARGET_STATE_BYTES * Math.max(1, c.activeAccounts / 10_000) } : {};

  const first = await repeat(o.runs, label('cron first run'), () => {
    rmSync(site.statePath, { force: true });
    return cronRun(site, workDir, c.firstRunArgs);
  });
  const firstFailed = cronFailure(first);
  if (firstFailed !== undefined) return [{ name: label('cron first run'), runs: [], note: firstFailed }];
  const firstState = fileSize(site.statePath);
  rows.push({ name: label('cron first run'), runs: first, stateBytes: firstState, ...stateTarget, note: c.firstRunNote });

  const idle = await repeat(shortRuns(o), label('cron, nothing new'), () => cronRun(site, workDir));
  const idleFailed = cronFailure(idle);
  const idleState = fileSize(site.statePath);
  rows.push({
    name: label('cron, nothing new'), runs: idleFailed === undefined ? idle : [], targetS: TARGET_CRON_NOTHING_NEW_S, stateBytes: idleState, ...stateTarget,
    note: idleFailed ?? 'the log as the last run left it',
  });

  const saved = readFileSync(site.statePath);
  const length = fileSize(site.logPath);
  const next = continuation(log, o.seed, APPENDED_LINES);
  const appended = readFileSync(next.path);
  let misread: string | undefined;
  const append = await repeat(shortRuns(o), label(`cron, ${APPENDED_LINES} lines appended`), async () => {
    writeFileSync(site.statePath, saved, { mode: 0o600 });
    truncateSync(site.logPath, length);
    appendFileSync(site.logPath, appended);
    for (const path of [site.statePath, site.logPath]) onDisk(path);
    setLogTime(site.logPath);
    const run = await cronRun(site, workDir);
    const offset = cursorOffset(site);
    if (offset !== length + appended.length) misread ??= `the cursor ended at ${String(offset)}, not at the end of the appended lines (${length + appended.length})`;
    return run;
  });
  const appendFailed = cronFailure(append) ?? misread;
  // The issue's 0.5 s is for 10,000 Postfix lines; other formats' longer lines scale it, as for throughput.
  const scale = Math.max(1, appended.length / (APPENDED_LINES * POSTFIX_LINE_BYTES));
  rows.push({
    name: label(`cron, ${APPENDED_LINES} lines appended`), runs: appendFailed === undefined ? append : [], targetS: TARGET_CRON_APPEND_S * scale,
    stateBytes: fileSize(site.statePath), ...stateTarget,
    note: appendFailed ?? `${(appended.length / 1e6).toFixed(2)} MB read from offset ${(length / 1e6).toFixed(0)} MB; the windows restored, run on and saved${
      scale > 1 ? `; target ${TARGET_CRON_APPEND_S} s scaled by ${scale.toFixed(2)}, these lines' bytes against 10,000 Postfix lines` : ''}`,
  });
  if (c.activeAccounts !== undefined) rows.push(await stateCostsRow(site, workDir, c.label));
  rmSync(site.dir, { recursive: true, force: true });
  return rows;
}

interface StateCosts {
  readonly bytes: number;
  readonly parseMs: number;
  readonly loadMs: number;
  readonly saveMs: number;
  readonly sections: Readonly<Record<string, number>>;
  readonly parserBytes: number;
  readonly incidents: { readonly restoreMs: number; readonly snapshotMs: number };
  readonly rules: Readonly<Record<string, { bytes: number; restoreMs: number; snapshotMs: number; restoreWarmMs: number; snapshotWarmMs: number }>>;
}

/** Where the state's bytes and its load/save time go: per section, and per rule's restore and snapshot. */
async function stateCostsRow(site: CronSite, workDir: string, label: string): Promise<TimedRow> {
  const name = `${label}state, part by part`;
  const run = await measure(process.execPath, [STATE_COSTS, site.configPath, site.statePath], workDir);
  if (run.exitCode !== 0) return { name, runs: [], note: `failed: ${firstLine(run.stderr)}` };
  const c = JSON.parse(run.stdout) as StateCosts;
  const mb = (b: number): string => `${(b / 1e6).toFixed(2)} MB`;
  const ms = (x: number): string => `${x.toFixed(0)} ms`;
  const sections = Object.entries(c.sections).sort((a, b) => b[1] - a[1]).map(([k, b]) => `${k} ${mb(b)}`).join(', ');
  const rules = Object.entries(c.rules).sort((a, b) => b[1].bytes - a[1].bytes)
    .map(([k, r]) => `${k} ${mb(r.bytes)} restore ${ms(r.restoreMs)} (warm ${ms(r.restoreWarmMs)}) snapshot ${ms(r.snapshotMs)} (warm ${ms(r.snapshotWarmMs)})`);
  return {
    name, runs: [], stateBytes: c.bytes,
    note: [
      `${mb(c.bytes)}: JSON.parse ${ms(c.parseMs)}, loadState ${ms(c.loadMs)}, saveState ${ms(c.saveMs)}; sections: ${sections}; open messages ${mb(c.parserBytes)}; incidents restore ${ms(c.incidents.restoreMs)} snapshot ${ms(c.incidents.snapshotMs)}`,
      ...rules.map((r) => `  ${r}`),
    ].join('\n'),
  };
}

/** Distinct accounts that submitted mail (logged in and queued a message) in a Postfix log. */
async function postfixSenders(path: string): Promise<number> {
  const input = await openInput(path);
  const seen = new Set<string>();
  try {
    for await (const batch of readLineBatches(input)) {
      for (const { text } of batch.lines) {
        const at = text.indexOf(', sasl_username=');
        if (at !== -1 && text.includes('sasl_method=')) seen.add(text.slice(at + 16));
      }
    }
  } finally {
    await input.close();
  }
  return seen.size;
}

/** The state-size target: a site with more than 10,000 active accounts, read whole so the learning rules hold all of it. */
async function stateWorkloadRows(o: Options, workDir: string): Promise<{ log: BenchLog; rows: TimedRow[]; senders: number }> {
  process.stderr.write(`${STATE_WORKLOAD.name}: ${(STATE_WORKLOAD.defaultSize / 1e6).toFixed(0)} MB, seed ${o.seed}\n`);
  const log = await ensureLog(STATE_WORKLOAD, o.seed, STATE_WORKLOAD.defaultSize, undefined, (b) => process.stderr.write(`  generating: ${(b / 1e6).toFixed(0)} MB\n`));
  const senders = await postfixSenders(log.path);
  const rows = await cronRows(log, o, workDir, {
    label: `${STATE_WORKLOAD.name}: `, firstRunArgs: ['--from-start'], activeAccounts: senders,
    firstRunNote: `--from-start over the whole log: ${senders} accounts submitted mail in it; state target 10 MB per 10,000 of them`,
  });
  return { log, rows, senders };
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
  readonly cron: readonly TimedRow[];
}

async function measureWorkload(workload: Workload, o: Options, workDir: string): Promise<Section> {
  const size = o.size ?? (o.quick ? workload.quickSize : workload.defaultSize);
  process.stderr.write(`${workload.name}: ${(size / 1e6).toFixed(0)} MB target, seed ${o.seed}\n`);
  const log = await ensureLog(workload, o.seed, size, o.out, (b) => process.stderr.write(`  generating: ${(b / 1e6).toFixed(0)} MB\n`));
  const rows: Row[] = [];
  if (o.parts.has('throughput')) {
    rows.push(await rawReaderRow(log, o, workDir), await parseRow(log, o, workDir), await cliRow(log, o, workDir));
    const awk = await awkRow(log, o, workDir);
    if (awk !== undefined) rows.push(awk);
  }
  const cron = o.parts.has('cron')
    ? await cronRows(log, o, workDir, { label: `${workload.name}: `, firstRunArgs: [], firstRunNote: 'state-less: reads the last window (24 h of log time) before the end' })
    : [];
  return { log, rows, cron };
}

function formatBytes(b: number): string {
  return b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e3).toFixed(0)} kB`;
}

/** Cron runs and start-up: whole commands against their wall-time and state-size targets. */
function timedTable(rows: readonly TimedRow[]): string {
  const header = ['', 'runs', 'wall s (median)', 'min', 'max', 'cpu s (median)', 'peak RSS', 'wall target', 'time', 'state', 'state target', 'size'];
  const body = rows.filter((r) => r.runs.length > 0 || r.stateBytes !== undefined).map((r) => {
    const walls = r.runs.map((x) => x.wallS);
    const wall = walls.length > 0 ? median(walls) : undefined;
    const cpu = r.runs.length > 0 && r.runs.every((x) => x.cpuS !== undefined) ? median(r.runs.map((x) => x.cpuS ?? 0)).toFixed(2) : '';
    return [
      r.name,
      walls.length > 0 ? String(walls.length) : '',
      wall?.toFixed(3) ?? '',
      walls.length > 0 ? Math.min(...walls).toFixed(3) : '',
      walls.length > 0 ? Math.max(...walls).toFixed(3) : '',
      cpu,
      r.runs.length > 0 ? formatRss(r.runs) : '',
      r.targetS !== undefined ? `< ${Number(r.targetS.toFixed(2))} s` : '',
      r.targetS !== undefined && wall !== undefined ? verdict(wall < r.targetS) : '',
      r.stateBytes !== undefined ? formatBytes(r.stateBytes) : '',
      r.targetStateBytes !== undefined ? `< ${formatBytes(r.targetStateBytes)}` : '',
      r.targetStateBytes !== undefined && r.stateBytes !== undefined ? verdict(r.stateBytes < r.targetStateBytes) : '',
    ];
  });
  const all = [header, ...body];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  const render = (row: readonly string[]): string => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  return [render(header), ...body.map(render)].join('\n');
}

async function main(argv: readonly string[]): Promise<void> {
  const o = parseOptions(argv);
  const workDir = mkdtempSync(join(tmpdir(), 'sendwatch-bench-'));
  try {
    const timed: TimedRow[] = [];
    if (o.parts.has('help')) timed.push(await helpRow(o, workDir));
    const sections: Section[] = [];
    if (o.parts.has('throughput') || o.parts.has('cron')) for (const w of o.workloads) sections.push(await measureWorkload(w, o, workDir));
    for (const s of sections) timed.push(...s.cron);
    const state = o.parts.has('state') ? await stateWorkloadRows(o, workDir) : undefined;
    if (state !== undefined) timed.push(...state.rows);

    console.log(`${o.runs} run(s) each (${shortRuns(o)} of the short commands), node ${process.version}; MB = 10^6 bytes; speed target ${(TARGET_BYTES_PER_S / 1e6).toFixed(0)} MB/s (2 M lines/s of Postfix)`);
    for (const log of [...sections.map((x) => x.log), ...(state !== undefined ? [state.log] : [])]) {
      console.log(`${log.workload.name}: ${log.reused ? 'reused' : 'generated'} ${log.path}: ${(log.bytes / 1e6).toFixed(1)} MB, ${log.lines} lines, ${(log.bytes / log.lines).toFixed(0)} bytes/line`);
    }
    if (sections.some((x) => x.rows.length > 0)) {
      console.log('');
      console.log(table(sections));
    }
    if (timed.length > 0) {
      console.log('');
      console.log(timedTable(timed));
    }
    console.log('');
    for (const { log, rows } of sections) for (const r of rows) console.log(`${log.workload.name}: ${r.name}: ${r.note}`);
    for (const r of timed) console.log(`${r.name}: ${r.note}`);
    if (o.parts.has('throughput') && findExecutable('awk') === undefined) console.log('awk baseline: not measured (no awk on PATH)');
    console.log(`peak RSS: ${existsSync(GNU_TIME) ? `${GNU_TIME} -f %M (maximum resident set)` : 'VmHWM polled every 10 ms (lower bound)'}`);
    console.log(`cron runs: on a copy of each log in ${tmpdir()}, the clock pinned to the log's modification time (SENDWATCH_NOW); ${APPENDED_LINES} appended lines are the ones the generator writes after the log's last`);
    if (sections.some(({ rows }) => rows.some((r) => r.ok === false))) process.exitCode = 1;
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 2;
});
