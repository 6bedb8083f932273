/**
 * What a cron run's state costs, part by part, as a process of its own:
 *
 *   node dist/test/bench/state-costs.js CONFIG STATE
 *   → {"bytes":…,"parseMs":…,"loadMs":…,"saveMs":…,"sections":{…},"rules":{"countries":{"bytes":…,"restoreMs":…,"snapshotMs":…},…}}
 *
 * A run's wall time says how long the whole load and save took; this says which part
 * of the state (and which rule's restore or snapshot) it went to, so the owner of that
 * part can be told. Each step is timed once cold, as a cron run does it (one process,
 * one restore per rule), and each rule's restore and snapshot again warm (median of
 * five), which tells JIT warm-up apart from the work itself.
 */
import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IncidentTracker } from '../../src/alerts/incidents.js';
import { loadConfig, resolveContext } from '../../src/config/load.js';
import { rules } from '../../src/rules/index.js';
import { loadState, saveState } from '../../src/state/store.js';

interface RuleCost {
  readonly bytes: number;
  /** First restore (instantiate with the saved snapshot), cold. */
  readonly restoreMs: number;
  readonly snapshotMs: number;
  readonly restoreWarmMs: number;
  readonly snapshotWarmMs: number;
}

function timed<T>(f: () => T): [T, number] {
  const t = process.hrtime.bigint();
  const v = f();
  return [v, Number(process.hrtime.bigint() - t) / 1e6];
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function jsonBytes(v: unknown): number {
  return v === undefined ? 0 : Buffer.byteLength(JSON.stringify(v));
}

function main(configPath: string, statePath: string): void {
  const text = readFileSync(statePath, 'utf8');
  const [raw, parseMs] = timed(() => JSON.parse(text) as Record<string, unknown>);
  const [loaded, loadMs] = timed(() => loadState(statePath, Date.now()));
  if (loaded.warning !== undefined) throw new Error(loaded.warning);
  const state = loaded.state;
  const dir = mkdtempSync(join(tmpdir(), 'sendwatch-state-costs-'));
  let saveMs: number;
  try {
    [, saveMs] = timed(() => saveState(join(dir, 'state.json'), state));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const sections: Record<string, number> = {};
  for (const [k, v] of Object.entries(raw)) sections[k] = jsonBytes(v);
  const parserBytes = Object.values(state.sources).reduce((n, s) => n + jsonBytes(s.parser), 0);

  const config = loadConfig(configPath);
  const ctx = resolveContext(config);
  const options = config.rules as Record<string, unknown>;
  const costs: Record<string, RuleCost> = {};
  for (const rule of rules) {
    const saved = state.rules[rule.name];
    if (saved === undefined) continue;
    const opts = options[rule.name] ?? {};
    const [instance, restoreMs] = timed(() => rule.instantiate(opts, ctx, saved));
    const [, snapshotMs] = timed(() => instance.snapshot?.());
    const warmRestore: number[] = [];
    const warmSnapshot: number[] = [];
    for (let i = 0; i < 5; i++) {
      const [again, r] = timed(() => rule.instantiate(opts, ctx, saved));
      warmRestore.push(r);
      warmSnapshot.push(timed(() => again.snapshot?.())[1]);
    }
    costs[rule.name] = { bytes: jsonBytes(saved), restoreMs, snapshotMs, restoreWarmMs: median(warmRestore), snapshotWarmMs: median(warmSnapshot) };
  }
  const [tracker, incidentsRestoreMs] = timed(() => new IncidentTracker(config.incidents, () => undefined, state.incidents));
  const [, incidentsSnapshotMs] = timed(() => tracker.snapshot());
  console.log(JSON.stringify({
    bytes: Buffer.byteLength(text), parseMs, loadMs, saveMs, sections, parserBytes,
    incidents: { restoreMs: incidentsRestoreMs, snapshotMs: incidentsSnapshotMs }, rules: costs,
  }));
}

const [configPath, statePath] = process.argv.slice(2);
if (configPath === undefined || statePath === undefined) {
  console.error('usage: state-costs CONFIG STATE');
  process.exitCode = 2;
} else {
  try {
    main(configPath, statePath);
  } catch (err: unknown) {
    console.error(`state-costs: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 3;
  }
}
