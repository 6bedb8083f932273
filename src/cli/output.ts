/**
 * Findings to text for stdout. Pure functions: string in, string out.
 *
 * NDJSON and TSV are contracts for other tools (documented in the README): fields
 * and columns are only ever added at the end, never renamed or reordered.
 */
import type { ChalkInstance } from 'chalk';
import { escapeJsonText, sanitize, sanitizeTsv } from '../core/sanitize.js';
import { formatLocal } from '../core/time.js';
import { SEVERITY_RANK, type Finding, type FindingData, type Severity } from '../core/types.js';
import { familyOf, incidentAddresses, incidentAdvice, incidentCountries, incidentEvidence, type Incident } from '../alerts/incidents.js';
import { compareCodePoints } from '../core/compare.js';

export const OUTPUT_FORMATS = ['text', 'ndjson', 'tsv'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const TSV_COLUMNS = ['time', 'severity', 'rule', 'account', 'message', 'evidence'] as const;

/** Stable order: by time, then account, rule, severity. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) =>
    a.at - b.at || a.account.localeCompare(b.account) || a.rule.localeCompare(b.rule) || SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity]);
}

export function toNdjsonLine(f: Finding): string {
  return escapeJsonText(JSON.stringify({
    time: new Date(f.at).toISOString(),
    account: f.account,
    rule: f.rule,
    severity: f.severity,
    message: f.message,
    data: f.data,
    evidence: f.evidence.map((e) => ({ source: e.source, line: e.lineNo, text: e.text })),
  }));
}

export function toTsvLine(f: Finding): string {
  const evidence = f.evidence.map((e) => `${e.source}:${e.lineNo}`).join(',');
  return [new Date(f.at).toISOString(), f.severity, f.rule, f.account, f.message, evidence].map(sanitizeTsv).join('\t');
}

export { formatLocal };

const worst = (fs: readonly Finding[]): Severity =>
  fs.reduce<Severity>((w, f) => (SEVERITY_RANK[f.severity] > SEVERITY_RANK[w] ? f.severity : w), 'info');

export interface TextOptions {
  readonly chalk: ChalkInstance;
  readonly timezone: string;
  /** Evidence lines shown per finding. */
  readonly evidenceLines: number;
  /** Longest evidence line shown, in characters. */
  readonly width: number;
}

function paint(c: ChalkInstance, s: Severity, text: string): string {
  return s === 'critical' ? c.red.bold(text) : s === 'warning' ? c.yellow(text) : c.cyan(text);
}

/** One finding as text: its time, severity, rule and message, then its first evidence lines. */
function findingLines(f: Finding, o: TextOptions): string[] {
  const c = o.chalk;
  const out = [`  ${c.dim(formatLocal(f.at, o.timezone))}  ${paint(c, f.severity, f.severity.padEnd(8))} ${f.rule}: ${sanitize(f.message)}`];
  for (const e of f.evidence.slice(0, o.evidenceLines)) {
    const text = sanitize(e.text);
    const cut = text.length > o.width ? `${text.slice(0, o.width - 1)}…` : text;
    out.push(c.dim(`      ${sanitize(e.source)}:${e.lineNo}: ${cut}`));
  }
  if (f.evidence.length > o.evidenceLines) out.push(c.dim(`      (${f.evidence.length - o.evidenceLines} more evidence lines; --output ndjson shows all)`));
  return out;
}

/** Grouped by account, worst accounts first; log text sanitised before it reaches a terminal. */
export function toText(findings: readonly Finding[], o: TextOptions): string {
  const byAccount = new Map<string, Finding[]>();
  for (const f of sortFindings(findings)) {
    const list = byAccount.get(f.account) ?? [];
    list.push(f);
    byAccount.set(f.account, list);
  }
  const groups = [...byAccount.entries()].sort((a, b) =>
    SEVERITY_RANK[worst(b[1])] - SEVERITY_RANK[worst(a[1])] || (a[1][0]?.at ?? 0) - (b[1][0]?.at ?? 0) || a[0].localeCompare(b[0]));
  const c = o.chalk;
  const out: string[] = [];
  for (const [account, list] of groups) {
    const w = worst(list);
    const rules = [...new Set(list.map((f) => f.rule))].join(', ');
    out.push(`${c.bold(sanitize(account))}  ${paint(c, w, w.toUpperCase())}  ${c.dim(`${list.length} finding${list.length === 1 ? '' : 's'}: ${rules}`)}`);
    for (const f of list) out.push(...findingLines(f, o));
    out.push('');
  }
  return out.join('\n');
}

// ---------------------------------------------------------------------------
// Incidents: one verdict per account and period (the default output).

/** Rules of an incident, strongest first: the `rule` field of its NDJSON/TSV line. */
export function incidentRules(inc: Incident): string {
  const best = new Map<string, number>();
  for (const s of inc.signals) best.set(s.rule, Math.max(best.get(s.rule) ?? -1, SEVERITY_RANK[s.severity]));
  return [...best.entries()].sort((a, b) => b[1] - a[1] || compareCodePoints(a[0], b[0])).map(([r]) => r).join(',');
}

const VERDICT: Readonly<Record<Severity, string>> = { critical: 'looks compromised', warning: 'may be compromised', info: 'unusual' };

/** One line: the verdict and each rule's strongest signal. */
export function incidentMessage(inc: Incident): string {
  const best = new Map<string, Finding>();
  for (const s of inc.signals) {
    const b = best.get(s.rule);
    if (!b || SEVERITY_RANK[s.severity] > SEVERITY_RANK[b.severity]) best.set(s.rule, s);
  }
  const parts = [...best.values()].sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity]).map((s) => s.message);
  const text = `${VERDICT[inc.severity]}: ${parts.join('; ')}`;
  return text.length > 400 ? `${text.slice(0, 399)}…` : text;
}

export function incidentData(inc: Incident): FindingData {
  const addrs = incidentAddresses(inc);
  const countries = incidentCountries(inc);
  return {
    score: inc.score,
    signals: inc.findings,
    families: [...new Set(inc.signals.map((s) => familyOf(s.rule)))].join(','),
    first_seen: new Date(inc.firstSeen).toISOString(),
    last_seen: new Date(inc.lastSeen).toISOString(),
    ...(addrs.length ? { client_ips: addrs.slice(0, 20).join(',') } : {}),
    ...(countries.length ? { countries: countries.join(',') } : {}),
  };
}

export function incidentToNdjsonLine(inc: Incident): string {
  return escapeJsonText(JSON.stringify({
    time: new Date(inc.firstSeen).toISOString(),
    account: inc.account,
    rule: incidentRules(inc),
    severity: inc.severity,
    message: incidentMessage(inc),
    data: incidentData(inc),
    evidence: incidentEvidence(inc).map((e) => ({ source: e.source, line: e.lineNo, text: e.text })),
    signals: inc.signals.map((s) => ({
      time: new Date(s.at).toISOString(), rule: s.rule, severity: s.severity, message: s.message, data: s.data,
      evidence: s.evidence.map((e) => ({ source: e.source, line: e.lineNo, text: e.text })),
    })),
    advice: incidentAdvice(inc),
  }));
}

export function incidentToTsvLine(inc: Incident): string {
  const evidence = incidentEvidence(inc).map((e) => `${e.source}:${e.lineNo}`).join(',');
  return [new Date(inc.firstSeen).toISOString(), inc.severity, incidentRules(inc), inc.account, incidentMessage(inc), evidence].map(sanitizeTsv).join('\t');
}

/** Incidents as text: worst first, each with its signals, evidence and what to do. */
export function incidentsToText(incidents: readonly Incident[], o: TextOptions): string {
  const c = o.chalk;
  const out: string[] = [];
  const sorted = [...incidents].sort((a, b) =>
    SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || b.score - a.score || a.firstSeen - b.firstSeen || a.account.localeCompare(b.account));
  for (const inc of sorted) {
    const span = inc.firstSeen === inc.lastSeen ? formatLocal(inc.firstSeen, o.timezone) : `${formatLocal(inc.firstSeen, o.timezone)} .. ${formatLocal(inc.lastSeen, o.timezone).slice(11)}`;
    out.push(`${c.bold(sanitize(inc.account))}  ${paint(c, inc.severity, inc.severity.toUpperCase())}  ${c.dim(`score ${inc.score}, ${inc.findings} signal${inc.findings === 1 ? '' : 's'}, ${span}`)}`);
    const addrs = incidentAddresses(inc);
    const countries = incidentCountries(inc);
    if (addrs.length) out.push(c.dim(`  from ${sanitize(addrs.slice(0, 8).join(', '))}${addrs.length > 8 ? ` and ${addrs.length - 8} more` : ''}${countries.length ? ` (${sanitize(countries.join(', '))})` : ''}`));
    for (const f of inc.signals) out.push(...findingLines(f, o));
    if (inc.findings > inc.signals.length) out.push(c.dim(`  (${inc.findings - inc.signals.length} more signals of the same kinds)`));
    const advice = incidentAdvice(inc);
    if (advice.length) out.push(`  ${c.bold('what to do:')} ${advice.join('; ')}`);
    out.push('');
  }
  return out.join('\n');
}
