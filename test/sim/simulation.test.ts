/**
 * Detection depth: sendwatch over a simulated site-week per log family (test/sim/site.ts),
 * with labelled hijacked and legitimate-but-unusual accounts.
 *
 * For each family the week is generated into a temp dir and fed to the built binary as
 * cron would see it: 24 appended chunks of 7 hours of log time, `sendwatch run` after
 * each (the first with --from-start; alerts at info, no cooldown, --output ndjson so
 * every finding is printed). Then `sendwatch scan` reads the whole file twice: as an
 * admin would (one verdict, an incident, per account and period) and with --findings
 * (each rule's findings, which is what cron mode prints). Asserted:
 * - every compromised label is reported (its worst verdict) at warning or above;
 * - no legitimate label, and no ordinary account, is reported at warning or above;
 * - the cron runs together print exactly the scan's findings (`reason` aside).
 * A table per family (label, verdict, rules with their worst finding) goes out as test
 * diagnostics, so the numbers can be quoted.
 *
 * Where the rules cannot meet the requirement yet, the assertion is marked `todo` with
 * the rule it needs (TODO below): it still runs and reports, but does not fail the suite.
 */
import { before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { rules } from '../../src/rules/index.js';
import { COMPROMISED_LABELS, DAY, LEGITIMATE_LABELS, WEEK_START, type Label } from './site.js';
import { FAMILIES, LOG_NAME, simulate, writeSimulation, type Family } from './simulate.js';

const registered = new Set(rules.map((r) => r.name));
/** A todo reason while `rule` is not in the registry; a real assertion once it is. */
const unless = (rule: string, why: string): string | undefined => (registered.has(rule) ? undefined : `needs ${rule}: ${why}`);

/**
 * Assertions the rules cannot meet yet, with what they need (the same in every family
 * today). Remove an entry once its assertion passes.
 */
const TODO: Readonly<Partial<Record<Label | 'ordinary' | 'equivalence', string>>> = (() => {
  const t: Partial<Record<Label | 'ordinary' | 'equivalence', string>> = {};
  const drip = unless('volume-baseline', 'only a per-account baseline tells 3-4x the account\'s own normal from a busy day');
  if (drip !== undefined) t['slow-drip'] = drip;
  const brute = unless('auth-failures', 'a foreign client address alone is a weak location signal (an info verdict); the hundreds of failed logins before the success are the evidence');
  if (brute !== undefined) t['brute-then-send'] = brute;
  return t;
})();

const CHUNKS = 24;
const SEVERITIES = ['info', 'warning', 'critical'] as const;
type Sev = (typeof SEVERITIES)[number];
const rank = (s: string): number => SEVERITIES.indexOf(s as Sev);

interface NdFinding {
  readonly time: string;
  readonly account: string;
  readonly rule: string;
  readonly severity: string;
  readonly reason?: string;
  readonly [k: string]: unknown;
}

interface AccountVerdict {
  worst: number;
  /** Rule name -> worst severity rank of a finding naming it (an incident may name several rules). */
  readonly rules: Map<string, number>;
}

interface FamilyResult {
  readonly family: Family;
  readonly labels: Readonly<Record<string, { readonly label: Label; readonly compromised: boolean }>>;
  readonly lines: number;
  readonly messages: number;
  readonly accounts: number;
  /** `scan`: one incident per account and period. */
  readonly incidents: readonly NdFinding[];
  /** `scan --findings`: every rule's findings. */
  readonly scan: readonly NdFinding[];
  readonly cron: readonly NdFinding[];
  /** Worst incident per account, with the rules of its incidents. */
  readonly verdicts: ReadonlyMap<string, AccountVerdict>;
  /** Worst finding per account and rule. */
  readonly findings: ReadonlyMap<string, AccountVerdict>;
  /** MTA only: the scan's incidents over the same week written in LOG_FORMAT=4. */
  readonly format4?: readonly NdFinding[];
  readonly ms: { readonly generate: number; readonly cron: number; readonly runs: readonly number[]; readonly scan: number };
}

function parseNdjson(stdout: string): NdFinding[] {
  return stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as NdFinding);
}

function verdicts(findings: readonly NdFinding[]): Map<string, AccountVerdict> {
  const out = new Map<string, AccountVerdict>();
  for (const f of findings) {
    let v = out.get(f.account);
    if (!v) {
      v = { worst: -1, rules: new Map() };
      out.set(f.account, v);
    }
    const r = rank(f.severity);
    v.worst = Math.max(v.worst, r);
    for (const rule of f.rule.split(',')) v.rules.set(rule, Math.max(v.rules.get(rule) ?? -1, r));
  }
  return out;
}

/** A `sendmail -t -i` that accepts every digest and drops it (the alerts are read from --output ndjson). */
function fakeSendmail(dir: string): string {
  const path = join(dir, 'sendmail');
  writeFileSync(path, '#!/bin/sh\ncat > /dev/null\n');
  chmodSync(path, 0o755);
  return path;
}

async function runFamily(family: Family): Promise<FamilyResult> {
  const dir = mkdtempSync(join(tmpdir(), `sendwatch-sim-${family}-`));
  try {
    return await runFamilyIn(family, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runFamilyIn(family: Family, dir: string): Promise<FamilyResult> {
  const t0 = Date.now();
  const sim = simulate(family);
  const written = writeSimulation(sim, join(dir, 'generated'));
  const tGen = Date.now();

  // Cron mode: the log grows by 7 hours of log time per run.
  const log = join(dir, LOG_NAME[family]);
  writeFileSync(log, '');
  const cronConfig = join(dir, 'cron-config.json');
  writeFileSync(cronConfig, JSON.stringify({
    ...sim.config,
    sources: [{ path: log }],
    state: { path: join(dir, 'state', 'state.json') },
    alerts: { to: ['postmaster@example.edu'], from: 'sendwatch@mail.example.edu', hostname: 'mail', minSeverity: 'info', cooldownHours: 0, transport: { type: 'sendmail', path: fakeSendmail(dir) } },
  }, null, 2));
  const cron: NdFinding[] = [];
  const runs: number[] = [];
  let from = 0;
  for (let i = 0; i < CHUNKS; i++) {
    const until = WEEK_START + ((i + 1) * 7 * DAY) / CHUNKS;
    let to = from;
    while (to < sim.lines.length && (sim.lines[to]?.at ?? Infinity) < until) to++;
    if (i === CHUNKS - 1) to = sim.lines.length;
    appendFileSync(log, sim.lines.slice(from, to).map((l) => `${l.text}\n`).join(''));
    from = to;
    const started = Date.now();
    const r = await runCli(['run', '--config', cronConfig, '--output', 'ndjson', ...(i === 0 ? ['--from-start'] : [])]);
    runs.push(Date.now() - started);
    assert.ok(r.code === 0 || r.code === 1, `${family} cron run ${i + 1}: exit ${String(r.code)}: ${r.stderr}`);
    cron.push(...parseNdjson(r.stdout));
  }
  const tCron = Date.now();

  // Ad hoc: scans of the same file, with the site's config as the simulator wrote it.
  const xml = family === 'mta' ? writeSimulation(simulate('mta', { mtaFormat: 4 }), join(dir, 'format4')) : undefined;
  const [incidentRun, findingRun, xmlRun] = await Promise.all([
    runCli(['scan', '--config', written.config, '--output', 'ndjson', log]),
    runCli(['scan', '--config', written.config, '--output', 'ndjson', '--findings', log]),
    ...(xml ? [runCli(['scan', '--config', xml.config, '--output', 'ndjson', xml.log])] : []),
  ]);
  for (const x of [incidentRun, findingRun, ...(xmlRun ? [xmlRun] : [])]) assert.ok(x.code === 0 || x.code === 1, `${family} scan: exit ${String(x.code)}: ${x.stderr}`);
  const incidents = parseNdjson(incidentRun.stdout);
  const scan = parseNdjson(findingRun.stdout);
  const tScan = Date.now();
  return {
    family, labels: sim.labels, lines: sim.lines.length, messages: sim.week.out.length, accounts: sim.week.people.length + 1,
    incidents, scan, cron, verdicts: verdicts(incidents), findings: verdicts(scan), ...(xmlRun ? { format4: parseNdjson(xmlRun.stdout) } : {}),
    ms: { generate: tGen - t0, cron: tCron - tGen, runs, scan: tScan - tCron },
  };
}

/** A finding as both modes must print it: everything but the cron-only `reason`. */
const comparable = (f: NdFinding): string => JSON.stringify(Object.fromEntries(Object.entries(f).filter(([k]) => k !== 'reason')));

const sevName = (r: number): string => (r < 0 ? '-' : SEVERITIES[r] ?? '?');
const rulesText = (v: AccountVerdict | undefined): string =>
  v ? [...v.rules].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([rule, r]) => `${rule}:${sevName(r)}`).join(' ') : '';

function table(res: FamilyResult): string[] {
  const rows: string[] = [];
  const runs = [...res.ms.runs].sort((a, b) => a - b);
  rows.push(`${res.family}: ${res.lines} lines, ${res.accounts} accounts, ${res.messages} authenticated messages; generate ${res.ms.generate} ms, ${CHUNKS} cron runs ${res.ms.cron} ms (median ${runs[runs.length >> 1] ?? 0}, max ${runs[runs.length - 1] ?? 0}), 2 scans ${res.ms.scan} ms; ${res.incidents.length} incidents, ${res.scan.length} scan findings, ${res.cron.length} cron findings`);
  rows.push(`${'label'.padEnd(18)} ${'kind'.padEnd(11)} ${'account'.padEnd(28)} ${'verdict'.padEnd(8)} rules (worst finding each)`);
  const labelled = Object.entries(res.labels).sort((a, b) => Number(b[1].compromised) - Number(a[1].compromised));
  for (const [account, l] of labelled) {
    const v = res.verdicts.get(account);
    rows.push(`${l.label.padEnd(18)} ${(l.compromised ? 'compromised' : 'legitimate').padEnd(11)} ${account.padEnd(28)} ${sevName(v?.worst ?? -1).padEnd(8)} ${rulesText(res.findings.get(account))}`);
  }
  const ordinary = [...res.verdicts].filter(([a]) => res.labels[a] === undefined);
  const flagged = ordinary.filter(([, v]) => v.worst >= 1);
  const rules = new Map<string, number>();
  for (const [, v] of flagged) for (const [rule, r] of v.rules) if (r >= 1) rules.set(rule, (rules.get(rule) ?? 0) + 1);
  const caught = labelled.filter(([a, l]) => l.compromised && (res.verdicts.get(a)?.worst ?? -1) >= 1);
  const bySev = (s: number): number => caught.filter(([a]) => res.verdicts.get(a)?.worst === s).length;
  const legitFlagged = labelled.filter(([a, l]) => !l.compromised && (res.verdicts.get(a)?.worst ?? -1) >= 1).length;
  rows.push(`ordinary accounts: ${ordinary.length} with incidents, ${flagged.length} at warning or above (${flagged.filter(([, v]) => v.worst === 2).length} critical)${rules.size > 0 ? `; rules: ${[...rules].map(([r, n]) => `${r} ${n}`).join(', ')}` : ''}`);
  rows.push(`${res.family}: compromised caught ${caught.length}/${COMPROMISED_LABELS.length} (critical ${bySev(2)}, warning ${bySev(1)}); legitimate labels flagged ${legitFlagged}/${LEGITIMATE_LABELS.length}; ordinary accounts flagged ${flagged.length}`);
  return rows;
}

// All three weeks run at once (the cron runs are sequential within a family).
const results = new Map<Family, Promise<FamilyResult>>();
const resultOf = (f: Family): Promise<FamilyResult> => {
  let p = results.get(f);
  if (!p) {
    p = runFamily(f);
    p.catch(() => undefined);
    results.set(f, p);
  }
  return p;
};

const todo = (reason: string | undefined): { todo?: string } => (reason === undefined ? {} : { todo: reason });

for (const family of FAMILIES) {
  describe(`simulated site-week: ${family}`, () => {
    let res: FamilyResult;
    before(async () => {
      for (const f of FAMILIES) void resultOf(f);
      res = await resultOf(family);
    });
    const accountOf = (label: Label): string => {
      const a = Object.entries(res.labels).find(([, l]) => l.label === label)?.[0];
      assert.ok(a !== undefined, `no account labelled ${label}`);
      return a;
    };

    for (const label of COMPROMISED_LABELS) {
      it(`compromised ${label} is reported at warning or above`, todo(TODO[label]), () => {
        const account = accountOf(label);
        const v = res.verdicts.get(account);
        assert.ok((v?.worst ?? -1) >= 1, `${account} (${label}): verdict ${sevName(v?.worst ?? -1)}; findings ${rulesText(res.findings.get(account))}`);
      });
    }

    for (const label of LEGITIMATE_LABELS) {
      it(`legitimate ${label} is not reported at warning or above`, todo(TODO[label]), () => {
        const account = accountOf(label);
        const v = res.verdicts.get(account);
        assert.ok((v?.worst ?? -1) < 1, `${account} (${label}): verdict ${sevName(v?.worst ?? -1)}; findings ${rulesText(res.findings.get(account))}`);
      });
    }

    it('no ordinary account is reported at warning or above', todo(TODO.ordinary), () => {
      const flagged = [...res.verdicts].filter(([a, v]) => res.labels[a] === undefined && v.worst >= 1);
      assert.deepEqual(flagged.slice(0, 10).map(([a, v]) => `${a}: ${sevName(v.worst)}; findings ${rulesText(res.findings.get(a))}`), [], `${flagged.length} ordinary accounts at warning or above`);
    });

    it(`the ad-hoc scan equals the ${CHUNKS} cron runs over the same week`, todo(TODO.equivalence), () => {
      const scan = res.scan.map(comparable).sort();
      const cron = res.cron.map(comparable).sort();
      const count = (xs: readonly string[]): Map<string, number> => {
        const m = new Map<string, number>();
        for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
        return m;
      };
      const s = count(scan);
      const c = count(cron);
      const onlyScan = scan.filter((x) => (c.get(x) ?? 0) < (s.get(x) ?? 0));
      const onlyCron = cron.filter((x) => (s.get(x) ?? 0) < (c.get(x) ?? 0));
      const brief = (x: string): string => {
        const f = JSON.parse(x) as NdFinding;
        return `${f.time} ${f.account} ${f.rule} ${f.severity}`;
      };
      assert.ok(scan.length > 0, 'the scan found nothing at all');
      assert.deepEqual(
        { onlyInScan: [...new Set(onlyScan)].slice(0, 8).map(brief), onlyInCron: [...new Set(onlyCron)].slice(0, 8).map(brief) },
        { onlyInScan: [], onlyInCron: [] },
        `scan ${scan.length} findings, cron ${cron.length}; ${onlyScan.length} only in the scan, ${onlyCron.length} only in the cron runs`,
      );
    });

    if (family === 'mta') {
      it('the same week in LOG_FORMAT=4 (XML) gives the same incidents as LOG_FORMAT=1', () => {
        const key = (f: NdFinding): string => `${f.time} ${f.account} ${f.rule} ${f.severity} ${String(f.message)}`;
        assert.ok(res.format4 !== undefined);
        assert.deepEqual(res.format4.map(key).sort(), res.incidents.map(key).sort());
      });
    }

    it('summary: per label, the verdict and the rules that fired', (t: TestContext) => {
      for (const row of table(res)) t.diagnostic(row);
    });
  });
}
