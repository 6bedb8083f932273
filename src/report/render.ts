/**
 * The per-account report as text (a terminal table with sparklines), NDJSON and TSV.
 * Pure functions. Account names come from the log: sanitised before a terminal or a
 * TSV column sees them.
 */
import type { ChalkInstance } from 'chalk';
import { sanitize, sanitizeTsv } from '../core/sanitize.js';
import { zoneOffset } from '../core/time.js';
import type { AccountRow, Report } from './aggregate.js';

export const REPORT_FORMATS = ['text', 'ndjson', 'tsv', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** TSV columns, in order (documented in the README; only ever added at the end). */
export const REPORT_TSV_COLUMNS = [
  'account', 'messages', 'recipients', 'internal', 'external', 'clients', 'countries', 'bounces', 'auth_failures',
  'busiest_hour', 'busiest_hour_messages', 'hourly', 'first', 'last',
] as const;

const BARS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const;

/** One character per hour: blank for none, ▁ to █ scaled to the busiest hour. */
export function sparkline(counts: readonly number[]): string {
  return sparkChars(counts).join('');
}

function sparkChars(counts: readonly number[]): string[] {
  const max = Math.max(0, ...counts);
  return counts.map((n) => (n <= 0 || max === 0 ? ' ' : BARS[Math.min(7, Math.floor((n / max) * 8 - 1e-9))] ?? '█'));
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** `2026-11-17 03:00` in the report's zone. */
export function localHour(at: number, tz: string): string {
  const d = new Date(at + zoneOffset(tz, at));
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:00`;
}

/** `2026-11-17 03:12` in the report's zone. */
export function localMinute(at: number, tz: string): string {
  const d = new Date(at + zoneOffset(tz, at));
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
}

function zoneLabel(at: number, tz: string): string {
  const off = zoneOffset(tz, at) / 60_000;
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  return `${tz}, UTC${sign}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`;
}

export function countriesText(r: AccountRow): string {
  return r.countries?.length ? r.countries.join(',') : '-';
}

export function clientsText(r: AccountRow): string {
  return r.clientsCapped ? `${r.clients}+` : String(r.clients);
}

export interface ReportTextOptions {
  readonly chalk: ChalkInstance;
  /** Local hours [start, end) that are office hours; bars outside are highlighted on a terminal. */
  readonly officeHours?: { readonly start: number; readonly end: number } | undefined;
  readonly inputs: number;
  readonly accountWidth?: number;
}

function isOffHours(hour: number, oh: { start: number; end: number }): boolean {
  return oh.start <= oh.end ? hour < oh.start || hour >= oh.end : hour < oh.start && hour >= oh.end;
}

function paintSpark(counts: readonly number[], c: ChalkInstance, oh: { start: number; end: number } | undefined): string {
  const s = sparkChars(counts);
  if (!oh || c.level === 0) return s.join('');
  // Runs of hours outside office hours in red, one escape sequence per run.
  let out = '';
  let run = '';
  s.forEach((ch, h) => {
    if (isOffHours(h, oh)) {
      run += ch;
      return;
    }
    if (run) out += run.trim() ? c.red(run) : run;
    run = '';
    out += ch;
  });
  return out + (run.trim() ? c.red(run) : run);
}

function cut(s: string, width: number): string {
  return s.length > width ? `${s.slice(0, width - 1)}…` : s;
}

/** The pflogsumm-style table: one row per account, busiest first, a totals line, hourly sparklines. */
export function reportToText(rep: Report, o: ReportTextOptions): string {
  const c = o.chalk;
  const tz = rep.timezone;
  const t = rep.totals;
  const out: string[] = [];
  if (t.firstAt === undefined || t.lastAt === undefined) {
    return 'No authenticated sending in the input.\n';
  }
  const shown = rep.rows.length < t.accounts ? `top ${rep.rows.length} of ${t.accounts} accounts` : `${t.accounts} account${t.accounts === 1 ? '' : 's'}`;
  out.push(c.bold(`Authenticated sending per account, ${localMinute(t.firstAt, tz)} to ${localMinute(t.lastAt, tz)} (${zoneLabel(t.firstAt, tz)}): ${shown}, by messages`));
  out.push('');
  const accountWidth = Math.min(o.accountWidth ?? 40, Math.max(7, 'total (N accounts)'.length, ...rep.rows.map((r) => sanitize(r.account).length)));
  const cols: { h: string; w: number; get: (r: AccountRow) => string }[] = [
    { h: 'msgs', w: 6, get: (r) => String(r.messages) },
    { h: 'rcpts', w: 7, get: (r) => String(r.recipients) },
    { h: 'int', w: 6, get: (r) => String(r.internal) },
    { h: 'ext', w: 6, get: (r) => String(r.external) },
    { h: 'clients', w: 7, get: clientsText },
    { h: 'countries', w: 9, get: (r) => cut(countriesText(r), 9) },
    { h: 'bounces', w: 7, get: (r) => String(r.bounces) },
    { h: 'authfail', w: 8, get: (r) => String(r.authFailures) },
    { h: 'busiest hour', w: 24, get: (r) => `${localHour(r.busiestHour, tz)} (${r.busiestHourMessages})` },
  ];
  for (const col of cols) for (const r of rep.rows) col.w = Math.max(col.w, col.get(r).length);
  const line = (account: string, cells: readonly string[], spark: string): string =>
    [account.padEnd(accountWidth), ...cells.map((v, i) => (i === 8 ? v.padEnd(cols[i]?.w ?? 0) : v.padStart(cols[i]?.w ?? 0))), spark].join('  ');
  out.push(c.bold(line('account', cols.map((col) => col.h), '0     6     12    18   ')));
  for (const r of rep.rows) {
    out.push(line(cut(sanitize(r.account), accountWidth), cols.map((col) => col.get(r)), paintSpark(r.hourly, c, o.officeHours)));
  }
  out.push(c.dim('-'.repeat(accountWidth + cols.reduce((s, col) => s + col.w + 2, 0) + 2 + 24)));
  const totalRow = [String(t.messages), String(t.recipients), String(t.internal), String(t.external), String(t.clients), '', String(t.bounces), String(t.authFailures), ''];
  out.push(line(`total (${t.accounts} account${t.accounts === 1 ? '' : 's'})`, totalRow, paintSpark(t.hourly, c, o.officeHours)));
  out.push('');
  const notes: string[] = [];
  notes.push(`int/ext: recipients in ${rep.internalDomains.length ? rep.internalDomains.map(sanitize).join(', ') : '(no domain known)'} are internal.`);
  if (!rep.countriesKnown) notes.push('countries: no country database configured (-).');
  notes.push(`The hour columns are hours of the day in ${tz}${o.officeHours && c.level > 0 ? '; red: outside office hours' : ''}.`);
  for (const n of notes) out.push(c.dim(n));
  return `${out.join('\n')}\n`;
}

export function rowToJson(r: AccountRow, tz: string): Record<string, unknown> {
  return {
    type: 'account',
    account: r.account,
    messages: r.messages,
    recipients: r.recipients,
    internal: r.internal,
    external: r.external,
    clients: r.clients,
    clientsCapped: r.clientsCapped,
    topClients: r.topClients,
    countries: r.countries ?? null,
    bounces: r.bounces,
    authFailures: r.authFailures,
    first: new Date(r.firstAt).toISOString(),
    last: new Date(r.lastAt).toISOString(),
    busiestHour: new Date(r.busiestHour).toISOString(),
    busiestHourMessages: r.busiestHourMessages,
    timezone: tz,
    hourly: r.hourly,
  };
}

/** One line per account, then one `{"type":"total"}` line. */
export function reportToNdjson(rep: Report): string {
  const lines = rep.rows.map((r) => JSON.stringify(rowToJson(r, rep.timezone)));
  const t = rep.totals;
  lines.push(JSON.stringify({
    type: 'total', accounts: t.accounts, shown: rep.rows.length, messages: t.messages, recipients: t.recipients,
    internal: t.internal, external: t.external, clients: t.clients, bounces: t.bounces, authFailures: t.authFailures,
    first: t.firstAt !== undefined ? new Date(t.firstAt).toISOString() : null,
    last: t.lastAt !== undefined ? new Date(t.lastAt).toISOString() : null,
    timezone: rep.timezone, hourly: t.hourly, internalDomains: rep.internalDomains,
  }));
  return `${lines.join('\n')}\n`;
}

/** One line per account, the columns of REPORT_TSV_COLUMNS, no header and no totals (awk sums). */
export function reportToTsv(rep: Report): string {
  const tz = rep.timezone;
  const lines = rep.rows.map((r) => [
    r.account, r.messages, r.recipients, r.internal, r.external, clientsText(r), countriesText(r), r.bounces, r.authFailures,
    localHour(r.busiestHour, tz), r.busiestHourMessages, r.hourly.join(','), new Date(r.firstAt).toISOString(), new Date(r.lastAt).toISOString(),
  ].map((v) => sanitizeTsv(String(v))).join('\t'));
  return lines.length ? `${lines.join('\n')}\n` : '';
}
