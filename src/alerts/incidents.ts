/**
 * One verdict per account: findings for the same account close together in log time
 * are one incident, scored from its signals.
 *
 * Signals are grouped into families that express the same underlying fact (a new
 * place: foreign, new and many sender hosts, countries); a family counts with its
 * strongest signal only, so a traveller's hotel network, seen by four location rules,
 * is still one weak signal. Independent families multiply: each family beyond the first
 * adds half again to the score, so a new country plus volume above baseline plus 2 a.m.
 * is critical while any one of them alone is not.
 *
 *   family score = max over its signals of weight(rule) x points(severity)
 *   score        = sum of family scores x (1 + 0.5 x (families - 1))
 *   severity     = critical at >= levels.critical, warning at >= levels.warning, else info
 */
import { z } from 'zod';
import { MinHeap } from '../core/min-heap.js';
import { SEVERITY_RANK, type Evidence, type Finding, type Severity } from '../core/types.js';
import { LazyAccounts, lineTuples, linesOfTuples, savedRows, TextPacker, type SavedRow } from '../core/lazy-accounts.js';
import { evidenceOf, isFiniteNumber, isPlainObject, isStringList, listOf } from '../core/saved-json.js';

/** Which facts each rule speaks about; rules not listed are a family of their own. */
export const RULE_FAMILIES: Readonly<Record<string, string>> = {
  'sends-per-account': 'volume',
  'volume-baseline': 'volume',
  'metermaid-quota': 'volume',
  'recipient-spread': 'recipients',
  bounces: 'recipients',
  'from-user-mismatch': 'identity',
  'odd-hours': 'time',
  'foreign-sender-host': 'location',
  'new-sender-host': 'location',
  countries: 'location',
  'many-sender-hosts': 'location',
  'auth-failures': 'authentication',
};

export const DEFAULT_WEIGHTS: Readonly<Record<string, number>> = {
  'sends-per-account': 1,
  // Its warnings already need 3x the account's own usual hour and 20 messages, or a day at
  // 2x its usual total and 15 over it: as specific as sends-per-account's fixed limit, and
  // a slow drip is nothing else than that warning, so it must be a warning incident alone.
  'volume-baseline': 1,
  'metermaid-quota': 1,
  'recipient-spread': 0.7,
  bounces: 0.8,
  'from-user-mismatch': 1,
  'odd-hours': 0.5,
  // A lone foreign address is what every traveller and home worker looks like: weak.
  'foreign-sender-host': 0.45,
  'new-sender-host': 0.5,
  countries: 1,
  'many-sender-hosts': 1,
  'auth-failures': 1,
};

export const IncidentOptionsSchema = z.strictObject({
  /** Findings of one account less than this apart (log time) are one incident. */
  gapMinutes: z.number().int().positive().default(360),
  /** Per-rule weight of a signal (default 1 for rules not listed); 0 ignores a rule in the verdict. */
  weights: z.record(z.string(), z.number().min(0).max(10)).default({}),
  /** Points of a signal by its own severity, before its weight. */
  points: z.strictObject({
    info: z.number().min(0).default(1),
    warning: z.number().min(0).default(3),
    critical: z.number().min(0).default(6),
  }).prefault({}),
  /** Score at which an incident is a warning, and critical. */
  levels: z.strictObject({
    warning: z.number().positive().default(3),
    critical: z.number().positive().default(6),
  }).prefault({}),
  /** Each independent family of signals beyond the first adds this share to the score. */
  familyBonus: z.number().min(0).max(5).default(0.5),
});
export type IncidentOptions = z.output<typeof IncidentOptionsSchema>;

/** Signals kept per incident; beyond this only the strongest per rule stay. */
const MAX_SIGNALS = 30;
const EVIDENCE_PER_SIGNAL = 5;

export interface Incident {
  readonly account: string;
  firstSeen: number;
  lastSeen: number;
  signals: Finding[];
  score: number;
  severity: Severity;
  /** Findings merged into this incident, including those not kept as signals. */
  findings: number;
}

export function weightOf(rule: string, o: IncidentOptions): number {
  return o.weights[rule] ?? DEFAULT_WEIGHTS[rule] ?? 1;
}

export const familyOf = (rule: string): string => RULE_FAMILIES[rule] ?? rule;

/** Score and severity of a set of signals. Pure. */
export function scoreSignals(signals: readonly Finding[], o: IncidentOptions): { score: number; severity: Severity; families: string[] } {
  const fam = new Map<string, number>();
  for (const s of signals) {
    const v = weightOf(s.rule, o) * o.points[s.severity];
    const f = familyOf(s.rule);
    if (v > (fam.get(f) ?? -1)) fam.set(f, v);
  }
  const counted = [...fam.entries()].filter(([, v]) => v > 0);
  const sum = counted.reduce((a, [, v]) => a + v, 0);
  const score = Math.round(sum * (1 + o.familyBonus * Math.max(0, counted.length - 1)) * 100) / 100;
  const severity: Severity = score >= o.levels.critical ? 'critical' : score >= o.levels.warning ? 'warning' : 'info';
  return { score, severity, families: counted.sort((a, b) => b[1] - a[1]).map(([f]) => f) };
}

/**
 * Keeps the incident's signals bounded: the strongest per rule first, then the earliest.
 * In place, since an incident collects thousands of findings on a busy account.
 */
function trimSignals(signals: Finding[]): boolean {
  if (signals.length <= MAX_SIGNALS) return false;
  const best = new Map<string, Finding>();
  for (const s of signals) {
    const b = best.get(s.rule);
    if (!b || SEVERITY_RANK[s.severity] > SEVERITY_RANK[b.severity]) best.set(s.rule, s);
  }
  const keep = new Set(best.values());
  for (const s of signals) {
    if (keep.size >= MAX_SIGNALS) break;
    keep.add(s);
  }
  let n = 0;
  for (const s of signals) if (keep.has(s)) signals[n++] = s;
  signals.length = n;
  return true;
}

/*
 * The open incidents of a cron state are thousands of findings with their evidence lines
 * (5.6 MB for a 1 GB Postfix log): checked by hand in one pass, since zod's generic walk
 * took 80-110 ms of a run's budget. Anything out of shape drops the whole snapshot, as a
 * failed schema check did; unknown keys are left behind.
 */
const SEVERITIES: ReadonlySet<unknown> = new Set(['info', 'warning', 'critical']);

function signalFrom(v: unknown): Finding | undefined {
  if (!isPlainObject(v) || typeof v.rule !== 'string' || typeof v.account !== 'string' || !SEVERITIES.has(v.severity)
    || !isFiniteNumber(v.at) || typeof v.message !== 'string') return undefined;
  const data = dataFrom(v.data);
  const evidence = listOf(v.evidence, evidenceOf);
  if (!data || !evidence) return undefined;
  return { rule: v.rule, account: v.account, severity: v.severity as Severity, at: v.at, message: v.message, data, evidence };
}

function incidentFrom(v: unknown): Incident | undefined {
  if (!isPlainObject(v) || typeof v.account !== 'string' || !isFiniteNumber(v.firstSeen) || !isFiniteNumber(v.lastSeen) || !isFiniteNumber(v.score)
    || !SEVERITIES.has(v.severity) || !isFiniteNumber(v.findings)) return undefined;
  const signals = listOf(v.signals, signalFrom);
  if (!signals) return undefined;
  return { account: v.account, firstSeen: v.firstSeen, lastSeen: v.lastSeen, signals, score: v.score, severity: v.severity as Severity, findings: v.findings };
}

/** A v1 tracker's open incidents (read eagerly), or undefined when the snapshot is not one. */
export function restoreOpenIncidents(saved: unknown): Incident[] | undefined {
  if (!isPlainObject(saved) || saved.v !== 1) return undefined;
  return listOf(saved.open, incidentFrom);
}

/*
 * Since v2 each open incident is a row [account, lastSeen, text] kept undecoded until a
 * finding or an alert asks for its account: a cron run touches a few hundred of some
 * 3,500 open incidents, and decoding and re-encoding all of them (5.8 MB of findings and
 * evidence lines) was most of what the tracker cost a run. The text is packed on its own
 * (TextPacker; `dict` names its dictionary), as evidence lines are most of it.
 *
 * text = [firstSeen, score, severity, findings, sources, signals], a signal being
 * [rule, severity, at, message, data, evidence, account?] and its evidence
 * [[source index, lineNo, text], ...]: the input path is named once, not per line.
 */
type SignalTuple = [string, Severity, number, string, Record<string, string | number>, [number, number, string][], string?];

/** One incident's text before packing, without the account and lastSeen its row holds. */
function incidentText(inc: Incident): string {
  const sources: string[] = [];
  const sourceIndex = (source: string): number => {
    const k = sources.indexOf(source);
    return k >= 0 ? k : sources.push(source) - 1;
  };
  const signals = inc.signals.map((s): SignalTuple => {
    const t: SignalTuple = [s.rule, s.severity, s.at, s.message, s.data, lineTuples(s.evidence, sourceIndex)];
    // Every signal is the incident's own account unless an older snapshot said otherwise.
    if (s.account !== inc.account) t.push(s.account);
    return t;
  });
  return JSON.stringify([inc.firstSeen, inc.score, inc.severity, inc.findings, sources, signals]);
}

function dataFrom(v: unknown): Record<string, string | number> | undefined {
  if (!isPlainObject(v)) return undefined;
  const data: Record<string, string | number> = {};
  for (const [k, d] of Object.entries(v)) {
    if (typeof d !== 'string' && !isFiniteNumber(d)) return undefined;
    data[k] = d;
  }
  return data;
}

function signalTupleFrom(v: unknown, account: string, sources: readonly string[]): Finding | undefined {
  if (!Array.isArray(v) || v.length < 6 || v.length > 7) return undefined;
  const [rule, severity, at, message, rawData, rawEvidence, own] = v as unknown[];
  const data = dataFrom(rawData);
  const evidence = linesOfTuples(rawEvidence, (k) => (typeof k === 'number' ? sources[k] : undefined));
  if (typeof rule !== 'string' || !SEVERITIES.has(severity) || !isFiniteNumber(at) || typeof message !== 'string' || !data
    || !evidence || (own !== undefined && typeof own !== 'string')) return undefined;
  return { rule, account: own ?? account, severity: severity as Severity, at, message, data, evidence };
}

/** An incident from its row's unpacked text, or undefined for a damaged row (never throws). */
export function incidentFromText(text: string, account: string, lastSeen: number): Incident | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || v.length !== 6) return undefined;
  const [firstSeen, score, severity, findings, sources, rawSignals] = v as unknown[];
  if (!isFiniteNumber(firstSeen) || !isFiniteNumber(score) || !SEVERITIES.has(severity) || !isFiniteNumber(findings)
    || !isStringList(sources)) return undefined;
  const signals = listOf(rawSignals, (x) => signalTupleFrom(x, account, sources));
  if (!signals) return undefined;
  return { account, firstSeen, lastSeen, signals, score, severity: severity as Severity, findings };
}

interface Restored {
  readonly rows: readonly SavedRow[];
  readonly packer: TextPacker;
  readonly eager: readonly Incident[];
}

/** A saved section in either version; an unusable one restores nothing, as before. */
function restoreSection(saved: unknown): Restored {
  if (isPlainObject(saved) && saved.v === 2) {
    const rows = savedRows(saved.rows);
    const packer = TextPacker.fromSaved(saved.dict);
    // Rows without their dictionary cannot be read.
    if (!rows || !packer) return { rows: [], packer: TextPacker.current(), eager: [] };
    return { rows, eager: [], packer };
  }
  return { rows: [], packer: TextPacker.current(), eager: restoreOpenIncidents(saved) ?? [] };
}

const lastSeenOf = (i: Incident): number => i.lastSeen;

/**
 * The open incidents that have gone idle, found without walking them all.
 *
 * closeIdle runs after every batch of a scan's lines, and thousands of open incidents
 * whose last findings are spread over the log put one of them at the edge of idleness
 * at nearly every batch: walking them all each time was 5% of a scan. So each open
 * incident has one entry on a min-heap, keyed by a lastSeen it had, never a later one
 * than its own; closeIdle pops only entries old enough to be due. An incident found to
 * have moved on since is pushed again at its current lastSeen: that is at most once per
 * gap of its activity, where pushing at every finding would be once per finding.
 *
 * Incidents must close in the order of `open` (a map: a new account goes last), as a
 * scan writes them out as they close; so each account gets a number, growing, as it
 * enters `open`, and the due accounts are sorted by it. Its entry carries that number:
 * once the account has closed, or closed and opened again, the entry is stale and is
 * dropped when popped (finding it in the heap to remove it would cost more).
 */
class IdleQueue {
  private readonly heap = new MinHeap();
  /** Each open account's place in `open`'s order. */
  private readonly order = new Map<string, number>();
  private next = 0;

  constructor(private readonly open: LazyAccounts<Incident>, private readonly gapMs: number) {
    this.rebuild();
  }

  /** Entries held, stale ones included; read by the tests to see that it stays bounded. */
  get size(): number {
    return this.heap.size;
  }

  /** A new account was set last in `open`. */
  entered(account: string, lastSeen: number): void {
    const place = this.next++;
    this.order.set(account, place);
    // Never idle (now - NaN > gap is false), and it would break the heap's order.
    if (Number.isNaN(lastSeen)) return;
    this.heap.push(lastSeen, account, place);
    // Entries of incidents closed by a new finding pile up until popped: start again from
    // the open incidents once they are most of the heap (O(1) per entry, amortised).
    if (this.heap.size > 2 * this.open.size + 64) this.rebuild();
  }

  /** The account is no longer in `open`. */
  left(account: string): void {
    this.order.delete(account);
  }

  clear(): void {
    this.heap.clear();
    this.order.clear();
  }

  /** Accounts in `open` with now - lastSeen > gap, in `open`'s order; they stay open. */
  due(now: number): string[] {
    const due: [number, string][] = [];
    // now - lastSeen falls as lastSeen grows, and no entry is keyed later than its
    // incident's lastSeen: every due incident's entry is among the heap's due top ones.
    while (this.heap.size > 0 && now - this.heap.minKey > this.gapMs) {
      const place = this.heap.minTag;
      const account = this.heap.pop();
      if (account === undefined) break;
      if (this.order.get(account) !== place) continue;
      const seen = this.open.stamp(account, lastSeenOf);
      if (seen === undefined) continue;
      if (now - seen > this.gapMs) due.push([place, account]);
      else this.heap.push(seen, account, place);
    }
    return due.sort((a, b) => a[0] - b[0]).map(([, account]) => account);
  }

  /** One entry per open account, numbered in `open`'s order: nothing stale is left. */
  private rebuild(): void {
    this.clear();
    this.next = 0;
    for (const [account, lastSeen] of this.open.stamps(lastSeenOf)) {
      const place = this.next++;
      this.order.set(account, place);
      if (!Number.isNaN(lastSeen)) this.heap.push(lastSeen, account, place);
    }
  }
}

/**
 * Open incidents per account. `add` folds a finding in (closing the account's previous
 * incident first if it went quiet for longer than the gap); closed incidents go to the
 * sink. Deterministic in log time, so cron runs and one scan agree.
 */
export class IncidentTracker {
  /** Stamped with lastSeen: idle incidents are found (and, without a sink, closed) without decoding them. */
  private readonly open: LazyAccounts<Incident>;
  private readonly packer: TextPacker;
  private readonly gapMs: number;
  private readonly idle: IdleQueue;
  private readonly pointsRise: boolean;

  /** `onClose` null: the caller has no use for closed incidents (a cron run), so they are dropped undecoded. */
  constructor(private readonly o: IncidentOptions, private readonly onClose: ((i: Incident) => void) | null, saved?: unknown) {
    this.gapMs = o.gapMinutes * 60_000;
    this.pointsRise = o.points.info <= o.points.warning && o.points.warning <= o.points.critical;
    const r = restoreSection(saved);
    this.packer = r.packer;
    this.open = new LazyAccounts((text, account, stamp) => {
      const plain = this.packer.unpack(text);
      return plain === undefined ? undefined : incidentFromText(plain, account, stamp);
    }, r.rows);
    for (const i of r.eager) this.open.set(i.account, i);
    this.idle = new IdleQueue(this.open, this.gapMs);
  }

  /** Entries held by the idle queue, stale ones included: for the tests, to see that it stays bounded. */
  get idleQueueSize(): number {
    return this.idle.size;
  }

  add(f: Finding): Incident {
    const seen = this.open.stamp(f.account, lastSeenOf);
    let inc: Incident | undefined;
    if (seen !== undefined && f.at - seen > this.gapMs) this.close(f.account);
    else inc = this.get(f.account);
    if (!inc) {
      inc = { account: f.account, firstSeen: f.at, lastSeen: f.at, signals: [], score: 0, severity: 'info', findings: 0 };
      this.open.set(f.account, inc);
      this.idle.entered(f.account, inc.lastSeen);
    }
    if (f.at < inc.firstSeen) inc.firstSeen = f.at;
    if (f.at > inc.lastSeen) inc.lastSeen = f.at;
    inc.findings++;
    // Trimming keeps each rule's strongest signal, so with points rising with severity no
    // family's best value ever falls: the score changes only when this signal beats the
    // best of its family so far.
    const raises = this.raisesFamily(inc, f);
    // Without a sink (a cron run) an incident is only ever shown as a verdict: score,
    // families, addresses, countries. Its signals' lines were a third of a site's state.
    inc.signals.push({ ...f, evidence: this.onClose ? f.evidence.slice(0, EVIDENCE_PER_SIGNAL) : [] });
    const trimmed = trimSignals(inc.signals);
    if (raises || (trimmed && !this.pointsRise)) {
      const s = scoreSignals(inc.signals, this.o);
      inc.score = s.score;
      inc.severity = s.severity;
    }
    return inc;
  }

  private raisesFamily(inc: Incident, f: Finding): boolean {
    const v = weightOf(f.rule, this.o) * this.o.points[f.severity];
    if (v <= 0) return inc.signals.length === 0;
    const fam = familyOf(f.rule);
    for (const s of inc.signals) {
      if (familyOf(s.rule) === fam && weightOf(s.rule, this.o) * this.o.points[s.severity] >= v) return false;
    }
    return true;
  }

  /** Closes the account's incident; it is decoded only for a sink. */
  private close(account: string): void {
    const inc = this.onClose ? this.open.get(account) : undefined;
    this.open.delete(account);
    this.idle.left(account);
    if (inc) this.onClose?.(inc);
  }

  /** The account's open incident; a damaged row is gone from `open` once asked for. */
  get(account: string): Incident | undefined {
    const inc = this.open.get(account);
    if (inc === undefined) this.idle.left(account);
    return inc;
  }

  /** Closes incidents quiet for longer than the gap as of log time `now`, in `open`'s order. */
  closeIdle(now: number): void {
    for (const account of this.idle.due(now)) this.close(account);
  }

  /** End of an ad-hoc scan: every open incident is closed. */
  flush(): void {
    const all = this.onClose ? [...this.open.entries()].map(([, i]) => i).sort((a, b) => a.firstSeen - b.firstSeen) : [];
    this.open.clear();
    this.idle.clear();
    for (const inc of all) this.onClose?.(inc);
  }

  snapshot(): unknown {
    const rows = this.open.rows(lastSeenOf, () => true, (i) => this.packer.pack(incidentText(i)));
    return { v: 2, dict: this.packer.saved(), rows };
  }
}

/** Client addresses named by an incident's signals (for the verdict's "from where"). */
export function incidentAddresses(inc: Pick<Incident, 'signals'>): string[] {
  const out = new Set<string>();
  for (const s of inc.signals) {
    const ip = s.data.client_ip;
    if (typeof ip === 'string') out.add(ip);
  }
  return [...out];
}

/** Countries named by an incident's signals, where a rule looked them up. */
export function incidentCountries(inc: Pick<Incident, 'signals'>): string[] {
  const out = new Set<string>();
  for (const s of inc.signals) {
    for (const key of ['country', 'countries']) {
      const v = s.data[key];
      if (typeof v === 'string') for (const c of v.split(',')) if (c.trim()) out.add(c.trim());
    }
  }
  return [...out];
}

/** Evidence of an incident: each signal's lines, without repeats, bounded. */
export function incidentEvidence(inc: Pick<Incident, 'signals'>, max = 20): Evidence[] {
  const seen = new Set<string>();
  const out: Evidence[] = [];
  for (const s of inc.signals) {
    for (const e of s.evidence) {
      const k = `${e.source}:${e.lineNo}`;
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(e);
      if (out.length >= max) return out;
    }
  }
  return out;
}

/** What to do, by the families involved. */
export function incidentAdvice(inc: Pick<Incident, 'signals' | 'severity'>): string[] {
  const fams = new Set(inc.signals.map((s) => familyOf(s.rule)));
  const out: string[] = [];
  if (inc.severity !== 'info') out.push('reset the password and end the account\'s sessions (IMAP, webmail, SMTP)');
  if (fams.has('volume') || fams.has('recipients')) out.push('check the queue for its messages (postqueue -p / mailq) and hold or delete the spam');
  if (fams.has('identity')) out.push('look at the forged senders: bounces and complaints will go to them');
  if (fams.has('location')) out.push('check where the client addresses are and whether the user was there');
  if (fams.has('authentication')) out.push('block the guessing addresses at the firewall and check for other accounts they tried');
  if (fams.has('time') && out.length === 0) out.push('ask the user whether they sent these messages');
  return out;
}
