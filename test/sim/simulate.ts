/**
 * The traffic simulator: one realistic site-week per log family, with labelled accounts.
 *
 *   npm run simulate -- --family postfix|kerio|mta [--mta-format 1|4] [--seed N] --out DIR
 *
 * writes into DIR (without --family: every family, each in DIR/<family>/):
 *   maillog | mail.log | mail.log_current   the week's log (Postfix | Kerio | MTA)
 *   labels.json   {account: {label, compromised}} for the labelled accounts
 *   config.json   the sendwatch config of the site (zone, default domain, trusted LAN,
 *                 the alias, the bulk sender's exemptions)
 *   world.json    the week, the networks addresses were drawn from (with countries),
 *                 and counts
 *
 * The week itself is described in site.ts, the line formats in writers.ts. Nothing is
 * committed: test/sim/simulation.test.ts generates the week into a temp dir.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { rules as registeredRules } from '../../src/rules/index.js';
import { buildSiteWeek, DOMAIN, LAN, WEEK_END, WEEK_START, ZONE, type LabelInfo, type SiteOptions, type SiteWeek } from './site.js';
import { kerioLines, mtaLines, postfixLines, type MtaFormat, type TimedLine } from './writers.js';

export const FAMILIES = ['postfix', 'kerio', 'mta'] as const;
export type Family = (typeof FAMILIES)[number];

export const LOG_NAME: Readonly<Record<Family, string>> = { postfix: 'maillog', kerio: 'mail.log', mta: 'mail.log_current' };

/**
 * Rules a newsletter account is exempt from, where the registry has them: it sends a lot,
 * to many addresses, and some of its subscribers' mailboxes are gone.
 */
const BULK_EXEMPT_RULES = ['sends-per-account', 'volume-baseline', 'recipient-spread', 'bounces'] as const;

export interface SimConfig {
  readonly timezone: string;
  readonly defaultDomain: string;
  readonly trustedNetworks: readonly string[];
  readonly accounts: Readonly<Record<string, { readonly aliases: readonly string[] }>>;
  readonly rules: Readonly<Record<string, { readonly exempt: readonly string[] }>>;
}

/** The site's sendwatch config: what its admin would write, nothing tuned to the week's incidents. */
export function siteConfig(w: SiteWeek): SimConfig {
  const known = new Set(registeredRules.map((r) => r.name));
  return {
    timezone: ZONE,
    defaultDomain: DOMAIN,
    // Only the office: users' home and mobile addresses are deliberately not listed.
    trustedNetworks: ['127.0.0.0/8', '::1/128', LAN],
    accounts: Object.fromEntries(Object.entries(w.aliases).map(([a, list]) => [a, { aliases: [...list] }])),
    rules: Object.fromEntries(BULK_EXEMPT_RULES.filter((n) => known.has(n)).map((n) => [n, { exempt: [w.bulkSender] }])),
  };
}

export interface Simulation {
  readonly family: Family;
  readonly week: SiteWeek;
  readonly lines: readonly TimedLine[];
  readonly labels: Readonly<Record<string, LabelInfo>>;
  readonly config: SimConfig;
}

export interface SimulateOptions extends SiteOptions {
  readonly mtaFormat?: MtaFormat;
}

/** The same seed gives the same week: build it once per process. */
const weeks = new Map<string, SiteWeek>();

export function simulate(family: Family, opts: SimulateOptions = {}): Simulation {
  const key = `${opts.seed ?? ''}/${opts.people ?? ''}`;
  let week = weeks.get(key);
  if (!week) {
    week = buildSiteWeek(opts);
    weeks.set(key, week);
  }
  const lines = family === 'postfix' ? postfixLines(week) : family === 'kerio' ? kerioLines(week) : mtaLines(week, opts.mtaFormat ?? 1);
  return { family, week, lines, labels: week.labels, config: siteConfig(week) };
}

export interface Written {
  readonly log: string;
  readonly labels: string;
  readonly config: string;
  readonly lines: number;
}

/** Writes the log, labels.json, config.json and world.json of one family into `dir`. */
export function writeSimulation(sim: Simulation, dir: string): Written {
  mkdirSync(dir, { recursive: true });
  const log = join(dir, LOG_NAME[sim.family]);
  writeFileSync(log, sim.lines.map((l) => l.text).join('\n') + '\n');
  const labels = join(dir, 'labels.json');
  writeFileSync(labels, `${JSON.stringify(sim.labels, null, 2)}\n`);
  const config = join(dir, 'config.json');
  writeFileSync(config, `${JSON.stringify(sim.config, null, 2)}\n`);
  const w = sim.week;
  const world = {
    family: sim.family,
    week: { start: new Date(WEEK_START).toISOString(), end: new Date(WEEK_END).toISOString(), timezone: ZONE },
    accounts: w.people.length + 1,
    authenticatedMessages: w.out.length,
    inboundMessages: w.inbound.length,
    failedLogins: w.fails.length,
    lines: sim.lines.length,
    networks: w.networks,
  };
  writeFileSync(join(dir, 'world.json'), `${JSON.stringify(world, null, 2)}\n`);
  return { log, labels, config, lines: sim.lines.length };
}

function usage(msg?: string): never {
  if (msg) process.stderr.write(`simulate: ${msg}\n`);
  process.stderr.write('usage: npm run simulate -- [--family postfix|kerio|mta] [--mta-format 1|4] [--seed N] --out DIR\n');
  process.exit(2);
}

function main(argv: readonly string[]): void {
  let out: string | undefined;
  let families: Family[] = [...FAMILIES];
  let mtaFormat: MtaFormat = 1;
  let seed: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--out' && v !== undefined) out = v;
    else if (a === '--family' && v !== undefined) {
      if (!(FAMILIES as readonly string[]).includes(v)) usage(`unknown family ${v}`);
      families = [v as Family];
    } else if (a === '--mta-format' && (v === '1' || v === '4')) mtaFormat = v === '1' ? 1 : 4;
    else if (a === '--seed' && v !== undefined && /^\d+$/.test(v)) seed = Number(v);
    else usage(`bad argument ${a ?? ''}`);
    i++;
  }
  if (out === undefined) usage('--out DIR is required');
  for (const f of families) {
    const started = Date.now();
    const sim = simulate(f, { mtaFormat, ...(seed !== undefined ? { seed } : {}) });
    const dir = families.length === 1 ? resolve(out) : resolve(out, f);
    const w = writeSimulation(sim, dir);
    process.stdout.write(`${f}: ${w.lines} lines, ${sim.week.out.length} authenticated messages, ${sim.week.people.length + 1} accounts, ${Object.keys(sim.labels).length} labelled -> ${w.log} (${Date.now() - started} ms)\n`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main(process.argv.slice(2));
