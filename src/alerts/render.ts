/**
 * A digest as a plain-text e-mail (what mailx would send): one subject, one body,
 * grouped by account. Pure: no clock, no environment, so a digest re-sent from the
 * outbox reads exactly as it would have the first time.
 *
 * Everything that came from a log (account, message, data, evidence) is hostile. The
 * subject is built only from numbers, the severity and the sanitised host name; in the
 * body every log-derived string goes through `sanitize`, so a CR/LF, an escape sequence
 * or a bidi override shows up as a visible escape and cannot fake lines or reorder text.
 */
import { sanitize, sanitizeHeader } from '../core/sanitize.js';
import { formatLocal } from '../core/time.js';
import { SEVERITY_RANK, type Severity } from '../core/types.js';
import type { Alert, Digest, Verdict } from './types.js';

/** Evidence lines shown per alert: enough to act on, few enough to read on a phone. */
export const EVIDENCE_PER_ALERT = 10;
/** Longest evidence line shown (after sanitising), in characters. */
export const EVIDENCE_WIDTH = 300;

const MESSAGE_WIDTH = 500;
const ACCOUNT_WIDTH = 200;
const VALUE_WIDTH = 120;
const HOST_WIDTH = 64;
const PROSE_WIDTH = 72;

/** What the admin should look at first, per rule. */
export const CHECKS: Readonly<Record<string, string>> = {
  'sends-per-account':
    'Look at the mail queue (postqueue -p, or mailq) for messages from this account, and stop its sending (hold or delete the queued spam, lock the login) until the owner confirms the messages are theirs.',
  'from-user-mismatch':
    'The account sends as addresses that are not its own: reset its password, end its open sessions, and check the sender addresses shown above.',
  'foreign-sender-host':
    'The account logs in from outside the trusted networks: end its sessions, and check where the client address is (whois, geolocation) and whether the owner is really there.',
  'odd-hours':
    'The account sends outside its office hours: ask the owner whether these messages are theirs before anything else.',
};

export const GENERIC_CHECK =
  'Read the evidence lines above and ask the owner whether this activity is theirs; if not, reset the password and end the account\'s sessions.';

const REASON_TEXT: Readonly<Record<Alert['reason'], string>> = {
  new: 'new',
  escalated: 'escalated',
  reminder: 'reminder: still active',
};

/** Times in the digest read as in the CLI's text output. */
export const formatZoned = formatLocal;

/**
 * Cuts a sanitised string to `max` characters and says how much was cut, so the reader
 * knows the line goes on (an ellipsis could be part of the log text itself).
 */
export function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = max;
  // Never split a surrogate pair: half a character would be a replacement glyph.
  const before = s.charCodeAt(cut - 1);
  if (before >= 0xd800 && before <= 0xdbff) cut -= 1;
  return `${s.slice(0, cut)} [+${s.length - cut} chars]`;
}

const safe = (s: string, max: number): string => clip(sanitize(s), max);

function worstOf(alerts: readonly Alert[]): Severity {
  let w: Severity = 'info';
  for (const a of alerts) if (SEVERITY_RANK[a.severity] > SEVERITY_RANK[w]) w = a.severity;
  return w;
}

interface AccountGroup {
  readonly account: string;
  readonly worst: Severity;
  readonly alerts: readonly Alert[];
}

/** Worst accounts first; within a severity the one that started earliest; then by name for a stable order. */
export function groupByAccount(alerts: readonly Alert[], verdicts?: Readonly<Record<string, Verdict>>): AccountGroup[] {
  const by = new Map<string, Alert[]>();
  for (const a of alerts) {
    const list = by.get(a.account);
    if (list) list.push(a);
    else by.set(a.account, [a]);
  }
  const groups = [...by].map(([account, list]) => ({
    account,
    worst: verdicts?.[account]?.severity ?? worstOf(list),
    first: Math.min(...list.map((a) => a.firstSeen)),
    alerts: list.sort((a, b) =>
      SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || a.firstSeen - b.firstSeen || a.rule.localeCompare(b.rule)),
  }));
  groups.sort((a, b) => SEVERITY_RANK[b.worst] - SEVERITY_RANK[a.worst] || a.first - b.first || a.account.localeCompare(b.account));
  return groups.map(({ account, worst, alerts: list }) => ({ account, worst, alerts: list }));
}

const VERB: Readonly<Record<Severity, readonly [one: string, many: string]>> = {
  critical: ['looks compromised', 'look compromised'],
  warning: ['may be compromised', 'may be compromised'],
  info: ['shows unusual sending', 'show unusual sending'],
};

/**
 * `[sendwatch] CRITICAL: 2 accounts look compromised on mx1`. Only counts, a severity
 * from a fixed set and the host name go in, and the result is sanitised once more, so
 * no log text can reach the header.
 */
export function renderSubject(d: Digest): string {
  const host = sanitizeHeader(d.host, HOST_WIDTH);
  if (d.alerts.length === 0) return `[sendwatch] no new alerts on ${host}`;
  const accounts = new Set(d.alerts.map((a) => a.account)).size;
  const worst = groupByAccount(d.alerts, d.verdicts)[0]?.worst ?? worstOf(d.alerts);
  const [one, many] = VERB[worst];
  const reminder = d.alerts.every((a) => a.reason === 'reminder') ? ' (reminder)' : '';
  const text = `[sendwatch] ${worst.toUpperCase()}: ${accounts} ${accounts === 1 ? `account ${one}` : `accounts ${many}`} on ${host}${reminder}`;
  return sanitizeHeader(text);
}

/** Greedy word wrap for the prose we write ourselves (log text is never wrapped: it is evidence). */
function wrap(text: string, width: number, indent: string, firstIndent = indent): string[] {
  const out: string[] = [];
  let line = firstIndent;
  let lineHasWord = false;
  for (const word of text.split(' ')) {
    if (lineHasWord && line.length + 1 + word.length > width) {
      out.push(line);
      line = indent + word;
    } else {
      line += (lineHasWord ? ' ' : '') + word;
    }
    lineHasWord = true;
  }
  out.push(line);
  return out;
}

function renderData(a: Alert): string | undefined {
  const parts = Object.entries(a.data).map(([k, v]) =>
    `${safe(k, 40)}=${typeof v === 'number' ? String(v) : safe(v, VALUE_WIDTH)}`);
  return parts.length ? parts.join(', ') : undefined;
}

function renderAlert(a: Alert, tz: string): string[] {
  const out: string[] = [];
  out.push(`  ${a.severity.toUpperCase()}  ${safe(a.rule, 60)}  (${REASON_TEXT[a.reason]})`);
  out.push(`  ${safe(a.message, MESSAGE_WIDTH)}`);
  out.push(`    First seen: ${formatZoned(a.firstSeen, tz)}`);
  out.push(`    Last seen:  ${formatZoned(a.lastSeen, tz)}`);
  const data = renderData(a);
  if (data) out.push(`    Numbers:    ${data}`);
  if (a.evidence.length === 0) {
    out.push('    Evidence:   none kept');
  } else {
    const shown = a.evidence.slice(0, EVIDENCE_PER_ALERT);
    out.push(`    Evidence (${shown.length === a.evidence.length ? `${shown.length} line${shown.length === 1 ? '' : 's'}` : `${shown.length} of ${a.evidence.length} lines`}):`);
    for (const e of shown) out.push(`      ${clip(`${sanitize(e.source)}:${e.lineNo}: ${sanitize(e.text)}`, EVIDENCE_WIDTH)}`);
  }
  return out;
}

/** The incident's one-paragraph verdict: score, kinds of signal, since when, from where. */
function renderVerdict(v: Verdict, tz: string): string[] {
  const where = v.addresses.length
    ? ` from ${v.addresses.slice(0, 8).map((a) => safe(a, 45)).join(', ')}${v.addresses.length > 8 ? ` and ${v.addresses.length - 8} more` : ''}${v.countries.length ? ` (${v.countries.map((c) => safe(c, 8)).join(', ')})` : ''}`
    : '';
  const text = `Verdict: ${v.severity.toUpperCase()}, score ${v.score} from ${v.families.map((f) => safe(f, 20)).join(', ')} signals; active ${formatZoned(v.firstSeen, tz)} to ${formatZoned(v.lastSeen, tz)}${where}.`;
  return ['', ...wrap(text, PROSE_WIDTH, '  ', '  ')];
}

/** The checks for an account's rules, once each, in the order its alerts are listed. */
function checksFor(alerts: readonly Alert[]): string[] {
  const seen = new Set<string>();
  for (const a of alerts) seen.add(CHECKS[a.rule] ?? GENERIC_CHECK);
  return [...seen];
}

export interface RenderOptions {
  /** IANA zone for every time shown; the offset is printed too, so a reader elsewhere is not misled. */
  readonly timezone: string;
}

export function renderDigest(d: Digest, opts: RenderOptions): { subject: string; text: string } {
  const tz = opts.timezone;
  const groups = groupByAccount(d.alerts, d.verdicts);
  const host = sanitizeHeader(d.host, HOST_WIDTH);
  const lines: string[] = [];

  const bySeverity = (['critical', 'warning', 'info'] as const)
    .map((s) => [s, groups.filter((g) => g.worst === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`);
  if (groups.length === 0) {
    lines.push(`sendwatch on ${host} has no new alerts.`);
  } else {
    const alertsWord = d.alerts.length === 1 ? '1 alert' : `${d.alerts.length} alerts`;
    const accountsWord = groups.length === 1 ? '1 account' : `${groups.length} accounts`;
    lines.push(...wrap(`sendwatch on ${host} raised ${alertsWord} for ${accountsWord} (${bySeverity.join(', ')}).`, PROSE_WIDTH, ''));
  }
  lines.push(`Times are shown in ${sanitize(tz)}.`);

  groups.forEach((g, i) => {
    lines.push('');
    const title = `${i + 1}. ${safe(g.account, ACCOUNT_WIDTH)}  [${g.worst.toUpperCase()}]`;
    lines.push(title, '='.repeat(Math.min(title.length, PROSE_WIDTH)));
    const v = d.verdicts?.[g.account];
    if (v) lines.push(...renderVerdict(v, tz));
    for (const a of g.alerts) {
      lines.push('');
      lines.push(...renderAlert(a, tz));
    }
    lines.push('', '  What to check:');
    for (const c of [...(v?.advice ?? []), ...checksFor(g.alerts)]) lines.push(...wrap(c, PROSE_WIDTH, '    ', '  - '));
  });

  lines.push('', '-- ');
  lines.push(`sendwatch digest ${safe(d.id, 80)}, built ${formatZoned(d.createdAt, tz)}.`);
  lines.push(...wrap('An alert is repeated only when it gets worse or is still active after the cooldown.', PROSE_WIDTH, ''));
  return { subject: renderSubject(d), text: lines.join('\n') + '\n' };
}
