/**
 * auth-failures: failed SMTP/IMAP/webmail logins, and the strongest sign of a stolen
 * password there is: a success from an address that was just guessing.
 *
 * Three signals, windows in log time (an episode ends when its count is back below half
 * its level, so a count hovering at a level is reported once):
 *  - per account: failed logins for an account that exists (brute force, or a device
 *    with an old password); warning and critical levels per window, as an episode.
 *  - per client address: many failures for many accounts from one address (password
 *    spraying). Not a compromised account, so it is reported under a pseudo-account,
 *    `(spraying from <address>)`, at `spraying` severity (info by default) or not at
 *    all. Failures for accounts that do not exist (the server said so, or the domain
 *    is not in `validDomains`) only ever count here.
 *  - success after failures (critical): a login or a message for an account from an
 *    address that failed `successAfterFailures` times for that account, or that is a
 *    spraying address, within `successWindowMinutes`. Checked whichever comes first in
 *    the input: Kerio and Messaging Server write failures and sending to different
 *    files, read one after the other.
 *
 * Trusted networks (global and the account's) never make a spraying address nor a
 * success-after-failures finding: behind an office NAT many people mistype, and a
 * user who fixes a typo from the LAN is the normal case. Their failures still count
 * for the account.
 *
 * An IPv6 client is its /64 (rule-support.ts: clientKey).
 */
import { z } from 'zod';
import { SEVERITY_RANK, type AuthFailure, type AuthSuccess, type Evidence, type Submission } from '../core/types.js';
import { commonRuleOptions } from '../config/schema.js';
import { PatternSet } from '../core/glob.js';
import { splitAddress } from '../core/address.js';
import { defineRule, type Emit } from './types.js';
import {
  capMap, clientKey, countsHeld, describeMinutes, evidenceForState, hash32, latestOf, parseClient, pushRecent, severityOfRank, trustedFor,
} from './rule-support.js';
import { evidenceOf, isFiniteNumber, isNumberList, isPlainObject, listOf } from '../core/saved-json.js';

const Options = z.strictObject({
  ...commonRuleOptions,
  /** Window, in minutes of log time, for counting failures per account and per address. */
  windowMinutes: z.number().int().positive().max(7 * 24 * 60).default(60),
  /** Failed logins for one existing account in the window that raise a warning (a device with an old password reaches this too). */
  warningFailures: z.number().int().positive().default(10),
  /** Failed logins for one account in the window that make it critical (a brute force). */
  criticalFailures: z.number().int().positive().default(50),
  /** Failures from one address in the window that, across `sprayingAccounts` accounts, are password spraying. */
  sprayingFailures: z.number().int().positive().default(20),
  /** Different accounts tried from one address that make its failures spraying. */
  sprayingAccounts: z.number().int().positive().default(5),
  /** Severity of a spraying address, reported under the pseudo-account `(spraying from <address>)`; `off` reports none. */
  spraying: z.enum(['off', 'info', 'warning']).default('info'),
  /** Failures for an account from one address that make a later success from there critical (0: only spraying addresses do). */
  successAfterFailures: z.number().int().min(0).default(5),
  /** How soon after the last failure a success from the same address still counts, in minutes. */
  successWindowMinutes: z.number().int().positive().max(7 * 24 * 60).default(60),
  /** Domains (or `*` patterns) that have accounts; a login in another domain does not exist. Default: every domain. */
  validDomains: z.array(z.string().min(1)).default([]),
}).refine((o) => o.criticalFailures >= o.warningFailures, { message: 'must be at least warningFailures', path: ['criticalFailures'] });

type Opts = z.output<typeof Options>;

const EVIDENCE_KEPT = 5;
/** Accounts and addresses tracked at most; beyond, the least recently active go (a spraying run invents accounts). */
const MAX_ACCOUNTS = 10_000;
const MAX_ADDRESSES = 10_000;
/** Addresses remembered per account, accounts per address: more than any level needs. */
const MAX_IPS_PER_ACCOUNT = 50;
const MAX_ACCOUNTS_PER_ADDRESS = 100;
const MINUTE_MS = 60_000;
/**
 * How much log time passes between two prunes during a run. A cron run is restored from
 * a pruned snapshot every 10 minutes, so pruning as often keeps one long scan in the state
 * a cron run would be in (a snapshot at any cut gives the findings of one run; the tests
 * check it), and memory follows the last `keep` + 10 minutes instead of the whole input.
 * A prune is one pass over what is held, which is then that much activity: spread over
 * the records of 10 minutes it costs next to nothing, so no size threshold is needed
 * (and none makes the state depend on how much is held).
 *
 * Not when the run reads several inputs (ctx.severalInputs): Kerio and Messaging Server
 * log failures and sending to different files, and a scan of a week of each reads the
 * failures whole before the first success; what the failures' end would prune is what the
 * successes, back at their start, must be matched with. Such a run keeps its entries until
 * the caps, as before.
 */
const PRUNE_EVERY_MS = 10 * MINUTE_MS;

/** Per-minute buckets `[minute, ...counts]`, oldest first. */
type Bucket = number[];

/** Failures of one account from one address, while none is more than the success window after the last. */
interface Tries { n: number; first: number; last: number }

interface AccountState {
  b: Bucket[];
  now: number;
  level: number;
  ips: Map<string, Tries>;
  recent: Evidence[];
}

interface AddressState {
  /** `[minute, failures, failures naming no account, failures for accounts that do not exist]`. */
  b: Bucket[];
  now: number;
  /** Spraying reported in this episode. */
  told: boolean;
  /** Hashed account -> minute last tried. */
  accts: Map<number, number> | undefined;
  recent: Evidence[];
}

/** `line`: the success's first log line, quoted after the failures. */
interface Success { at: number; told: boolean; line: Evidence | undefined }

/**
 * The saved state (v1): `accounts` `[account, {b, now, level, ips: [[client, {n, first,
 * last}]], recent}]`, `addresses` `[client, {b, now, told, accts: [[hash, minute]],
 * recent}]`, `successes` `[client, [[account, at, told (0/1), evidence], ...]]` (one per
 * account sending from outside, so terse). Checked by hand: zod's walk over the buckets
 * took 24 ms of a cron run on a 12,000-account site. Anything out of shape restores
 * nothing, as the schema check did.
 */
interface Saved {
  readonly window: number;
  readonly accounts: [string, AccountState][];
  readonly addresses: [string, AddressState][];
  readonly successes: [string, Map<string, Success>][];
}

const bucketsOf = (v: unknown): Bucket[] | undefined => listOf(v, (b) => (isNumberList(b) ? b : undefined));

/** `[key, value]` with a string key, the value through `of`. */
function keyed<T>(v: unknown, of: (value: unknown) => T | undefined): [string, T] | undefined {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string') return undefined;
  const value = of(v[1]);
  return value === undefined ? undefined : [v[0], value];
}

function triesOf(v: unknown): Tries | undefined {
  if (!isPlainObject(v) || !isFiniteNumber(v.n) || !isFiniteNumber(v.first) || !isFiniteNumber(v.last)) return undefined;
  return { n: v.n, first: v.first, last: v.last };
}

function accountOf(v: unknown): AccountState | undefined {
  if (!isPlainObject(v) || !isFiniteNumber(v.now) || !isFiniteNumber(v.level)) return undefined;
  const b = bucketsOf(v.b);
  const ips = listOf(v.ips, (t) => keyed(t, triesOf));
  const recent = listOf(v.recent, evidenceOf);
  return b && ips && recent ? { b, now: v.now, level: v.level, ips: new Map(ips), recent } : undefined;
}

function addressOf(v: unknown): AddressState | undefined {
  if (!isPlainObject(v) || !isFiniteNumber(v.now) || typeof v.told !== 'boolean') return undefined;
  const b = bucketsOf(v.b);
  const accts = listOf(v.accts, (t) => (isNumberList(t) && t.length === 2 ? [t[0], t[1]] as [number, number] : undefined));
  const recent = listOf(v.recent, evidenceOf);
  return b && accts && recent ? { b, now: v.now, told: v.told, accts: new Map(accts), recent } : undefined;
}

function successOf(v: unknown): [string, Success] | undefined {
  if (!Array.isArray(v) || v.length !== 4) return undefined;
  const [account, at, told, evidence] = v as unknown[];
  const lines = listOf(evidence, evidenceOf);
  if (typeof account !== 'string' || !isFiniteNumber(at) || !isFiniteNumber(told) || !lines) return undefined;
  return [account, { at, told: told === 1, line: lines[0] }];
}

function readSaved(saved: unknown): Saved | undefined {
  if (!isPlainObject(saved) || saved.v !== 1 || !isFiniteNumber(saved.window)) return undefined;
  const accounts = listOf(saved.accounts, (e) => keyed(e, accountOf));
  const addresses = listOf(saved.addresses, (e) => keyed(e, addressOf));
  const successes = listOf(saved.successes, (e) => keyed(e, (list) => {
    const each = listOf(list, successOf);
    return each && new Map(each);
  }));
  return accounts && addresses && successes ? { window: saved.window, accounts, addresses, successes } : undefined;
}

// ---------------------------------------------------------------------------
// Buckets

/** The bucket of `minute` with `counts` counts, put in its place (counts zero) when there is none yet. */
function bucketAt(b: Bucket[], minute: number, counts: number): Bucket {
  let i = b.length - 1;
  while (i >= 0 && (b[i]?.[0] ?? 0) > minute) i--;
  const hit = i >= 0 ? b[i] : undefined;
  if (hit && hit[0] === minute) return hit;
  const fresh: Bucket = [minute];
  for (let k = 0; k < counts; k++) fresh.push(0);
  if (i + 1 === b.length) b.push(fresh);
  else b.splice(i + 1, 0, fresh);
  return fresh;
}

/** Adds `n` to count `k` of a bucket. */
function bump(bucket: Bucket, k: number, n: number): void {
  bucket[k] = (bucket[k] ?? 0) + n;
}

/** Sum of count `k` over buckets in the window of `minutes` ending at minute `end` (inclusive). */
function sumWindow(b: readonly Bucket[], end: number, minutes: number, k = 1): number {
  let s = 0;
  for (const x of b) if ((x[0] ?? 0) > end - minutes && (x[0] ?? 0) <= end) s += x[k] ?? 0;
  return s;
}

function dropOld(b: Bucket[], end: number, minutes: number): void {
  let n = 0;
  while (n < b.length && (b[n]?.[0] ?? 0) <= end - minutes) n++;
  if (n > 0) b.splice(0, n);
}

const minuteOf = (at: number): number => Math.floor(at / MINUTE_MS);

/**
 * Moves a timeline to `at`. A time before the whole window means the input went back
 * (another file, another host): the timeline starts again there, as a new episode.
 * Returns false when the caller must reset its episode.
 */
function advance(state: { b: Bucket[]; now: number }, at: number, minutes: number): boolean {
  if (state.b.length > 0 && minuteOf(at) <= minuteOf(state.now) - minutes) {
    state.b = [];
    state.now = at;
    return false;
  }
  if (at > state.now) state.now = at;
  dropOld(state.b, minuteOf(state.now), minutes);
  return true;
}

// ---------------------------------------------------------------------------

/** True when the login names an account the site has: the server did not deny it, and its domain is one of ours. */
function accountExists(f: AuthFailure, domains: PatternSet): boolean {
  if (f.accountExists === false || f.account === undefined) return false;
  if (domains.size === 0) return true;
  const { domain } = splitAddress(f.account);
  return domain === '' || domains.has(domain);
}

export const authFailures = defineRule({
  name: 'auth-failures',
  description: 'Failed logins per account and per client address (brute force, password spraying), and a success from an address that was just failing (critical).',
  options: Options,
  consumes: ['auth-failure', 'auth-success', 'submission'],
  create(opts, ctx, saved) {
    const accounts = new Map<string, AccountState>();
    const addresses = new Map<string, AddressState>();
    /** Client key -> account -> latest success from there (untrusted clients only). */
    const successes = new Map<string, Map<string, Success>>();
    restore(saved, opts, accounts, addresses, successes);
    const domains = new PatternSet(opts.validDomains);
    const W = opts.windowMinutes;
    const successMs = opts.successWindowMinutes * MINUTE_MS;
    /** How long anything is worth keeping: the longer of the two windows. */
    const keepMs = Math.max(W * MINUTE_MS, successMs);
    const sprayRank = opts.spraying === 'warning' ? SEVERITY_RANK.warning : SEVERITY_RANK.info;

    const distinctAccounts = (a: AddressState, end: number): number => {
      let n = 0;
      for (const m of a.accts?.values() ?? []) if (m > end - W) n++;
      return n;
    };
    /** Start of the address's failures still in the window. */
    const windowStart = (a: AddressState): number => ((a.b[0]?.[0] ?? minuteOf(a.now)) * MINUTE_MS);
    const isSpraying = (a: AddressState): boolean => {
      const end = minuteOf(a.now);
      const failures = sumWindow(a.b, end, W, 1);
      if (failures < opts.sprayingFailures) return false;
      // Postfix logs no login name with a failed AUTH: then the count is all there is.
      return distinctAccounts(a, end) >= opts.sprayingAccounts || sumWindow(a.b, end, W, 2) >= opts.sprayingFailures;
    };

    /** The critical finding, when `account`'s success from `key` at `s.at` followed failures from there. */
    const checkSuccess = (account: string, key: string, s: Success, emit: Emit): void => {
      if (s.told) return;
      const tries = accounts.get(account)?.ips.get(key);
      const ownFailures = tries && opts.successAfterFailures > 0 && tries.n >= opts.successAfterFailures
        && s.at >= tries.first && s.at - tries.last <= successMs ? tries : undefined;
      const addr = addresses.get(key);
      const sprayed = addr && isSpraying(addr) && s.at >= windowStart(addr) && s.at - addr.now <= successMs ? addr : undefined;
      if (!ownFailures && !sprayed) return;
      s.told = true;
      const failures = ownFailures?.n ?? 0;
      const spread = sprayed ? distinctAccounts(sprayed, minuteOf(sprayed.now)) : 0;
      const before = [...(accounts.get(account)?.recent ?? []), ...(sprayed?.recent ?? [])].slice(-3);
      if (s.line) before.push(s.line);
      emit({
        rule: 'auth-failures', account, severity: 'critical', at: s.at,
        message: ownFailures
          ? `success from ${key} after ${failures} failed logins for this account from there`
          : `success from ${key}, an address that failed logins for ${spread} accounts in ${describeMinutes(W)} (password spraying)`,
        data: {
          signal: 'success-after-failures', client: key, failures_from_client: failures,
          ...(sprayed ? { client_failures: sumWindow(sprayed.b, minuteOf(sprayed.now), W, 1), client_accounts: spread } : {}),
        },
        evidence: before,
      });
    };

    /**
     * Whether an account's lines could still be quoted. A distributed run leaves
     * thousands of accounts with one failure each; their lines are not worth memory nor
     * state, and dropping them changes nothing when so many new failures must come before
     * any finding that those alone fill the quoted lines (the account finding quotes 5, a
     * success after failures 3; a success from a spraying address quotes the address's
     * lines, of which it has at least 3 when spraying takes 3 failures).
     */
    const accountLinesMatter = (a: AccountState, count: number): boolean => {
      if (a.level >= 0 || count + EVIDENCE_KEPT > opts.warningFailures || opts.sprayingFailures < 3) return true;
      if (opts.successAfterFailures === 0) return false;
      let most = 0;
      for (const t of a.ips.values()) most = Math.max(most, t.n);
      return most + 3 > opts.successAfterFailures;
    };

    /** The same for an address: only a spraying finding, or a success from a spraying address, quotes its lines. */
    const addressLinesMatter = (a: AddressState, failures: number): boolean => a.told || failures + EVIDENCE_KEPT > opts.sprayingFailures;

    const onFailure = (f: AuthFailure, emit: Emit): void => {
      const client = parseClient(f.clientIp);
      const key = client ? clientKey(client) : undefined;
      const exists = accountExists(f, domains);
      if (exists && f.account !== undefined) countForAccount(f.account, f, key, emit);
      if (client && key !== undefined && !ctx.trusted.contains(client.ip)) countForAddress(key, f, exists, emit);
    };

    const countForAccount = (account: string, f: AuthFailure, key: string | undefined, emit: Emit): void => {
      let a = accounts.get(account);
      if (a) accounts.delete(account);
      else a = { b: [], now: f.at, level: -1, ips: new Map(), recent: [] };
      accounts.set(account, a);
      capMap(accounts, MAX_ACCOUNTS, (x) => x.level >= 0);
      if (!advance(a, f.at, W)) a.level = -1;
      bump(bucketAt(a.b, minuteOf(f.at), 1), 1, 1);
      pushRecent(a.recent, f.evidence[0], EVIDENCE_KEPT);
      if (key !== undefined) {
        let t = a.ips.get(key);
        if (!t || f.at - t.last > successMs || t.first - f.at > successMs) t = { n: 0, first: f.at, last: f.at };
        a.ips.delete(key);
        a.ips.set(key, t);
        t.n++;
        t.first = Math.min(t.first, f.at);
        t.last = Math.max(t.last, f.at);
        capMap(a.ips, MAX_IPS_PER_ACCOUNT);
        const s = successes.get(key)?.get(account);
        if (s) checkSuccess(account, key, s, emit);
      }
      for (const [k, t] of a.ips) if (a.now - t.last > keepMs) a.ips.delete(k);
      const count = sumWindow(a.b, minuteOf(a.now), W);
      if (!accountLinesMatter(a, count)) a.recent.length = 0;
      const rank = count >= opts.criticalFailures ? SEVERITY_RANK.critical : count >= opts.warningFailures ? SEVERITY_RANK.warning : -1;
      if (rank < 0) {
        // Below half the warning level the episode is over; in between, a steady trickle
        // (a phone retrying an old password) hovers at the level and must not report each time.
        if (count * 2 < opts.warningFailures) a.level = -1;
        return;
      }
      if (rank <= a.level) return;
      a.level = rank;
      const threshold = rank === SEVERITY_RANK.critical ? opts.criticalFailures : opts.warningFailures;
      let clients = 0;
      for (const t of a.ips.values()) if (a.now - t.last < W * MINUTE_MS) clients++;
      emit({
        rule: 'auth-failures', account, severity: severityOfRank(rank), at: f.at,
        message: `${count} failed logins in ${describeMinutes(W)} from ${clients} ${clients === 1 ? 'address' : 'addresses'} (${severityOfRank(rank)} at ${threshold})`,
        data: { signal: 'account-failures', failures: count, window_minutes: W, threshold, distinct_clients: clients, ...(key !== undefined ? { client: key } : {}) },
        evidence: a.recent.slice(),
      });
    };

    const countForAddress = (key: string, f: AuthFailure, exists: boolean, emit: Emit): void => {
      let a = addresses.get(key);
      if (a) addresses.delete(key);
      else a = { b: [], now: f.at, told: false, accts: undefined, recent: [] };
      addresses.set(key, a);
      capMap(addresses, MAX_ADDRESSES, (x) => x.told);
      if (!advance(a, f.at, W)) a.told = false;
      const named = f.account !== undefined;
      const bucket = bucketAt(a.b, minuteOf(f.at), 3);
      bump(bucket, 1, 1);
      bump(bucket, 2, named ? 0 : 1);
      bump(bucket, 3, named && !exists ? 1 : 0);
      if (f.account !== undefined) {
        const h = hash32(f.account);
        // Made at the first failure that names an account: older Postfix names none, and most addresses fail unnamed or once.
        a.accts ??= new Map();
        a.accts.delete(h);
        a.accts.set(h, minuteOf(f.at));
        capMap(a.accts, MAX_ACCOUNTS_PER_ADDRESS);
      }
      pushRecent(a.recent, f.evidence[0], EVIDENCE_KEPT);
      const end = minuteOf(a.now);
      if (a.accts) for (const [h, m] of a.accts) if (m <= end - W) a.accts.delete(h);
      if (!isSpraying(a)) {
        const failures = sumWindow(a.b, end, W, 1);
        if (failures * 2 < opts.sprayingFailures) a.told = false;
        if (!addressLinesMatter(a, failures)) a.recent.length = 0;
        return;
      }
      // A success recorded before these failures were read (another file) is checked now.
      for (const [account, s] of successes.get(key) ?? []) checkSuccess(account, key, s, emit);
      if (a.told) return;
      a.told = true;
      if (opts.spraying === 'off') return;
      const failures = sumWindow(a.b, end, W, 1);
      const spread = distinctAccounts(a, end);
      const unnamed = sumWindow(a.b, end, W, 2);
      const unknown = sumWindow(a.b, end, W, 3);
      emit({
        rule: 'auth-failures', account: `(spraying from ${key})`, severity: severityOfRank(sprayRank), at: f.at,
        message: spread >= opts.sprayingAccounts
          ? `password spraying: ${failures} failed logins for ${spread} accounts in ${describeMinutes(W)} from ${key}${unknown > 0 ? `, ${unknown} for accounts that do not exist` : ''}`
          : `password guessing: ${failures} failed logins in ${describeMinutes(W)} from ${key} (the log names no account)`,
        data: { signal: 'spraying', client: key, failures, accounts: spread, unnamed_failures: unnamed, unknown_account_failures: unknown, window_minutes: W, threshold: opts.sprayingFailures },
        evidence: a.recent.slice(),
      });
    };

    const onSuccess = (r: AuthSuccess | Submission, emit: Emit): void => {
      const client = parseClient(r.clientIp);
      if (!client || trustedFor(ctx, r.account, client.ip)) return;
      const key = clientKey(client);
      let byAccount = successes.get(key);
      if (byAccount) successes.delete(key);
      else byAccount = new Map();
      successes.set(key, byAccount);
      capMap(successes, MAX_ADDRESSES);
      let s = byAccount.get(r.account);
      if (s && r.at < s.at) return;
      if (!s || r.at - s.at > successMs) s = { at: r.at, told: false, line: undefined };
      s.at = r.at;
      s.line = r.evidence[0];
      byAccount.delete(r.account);
      byAccount.set(r.account, s);
      capMap(byAccount, MAX_ACCOUNTS_PER_ADDRESS);
      checkSuccess(r.account, key, s, emit);
    };

    /** The newest time held: what a snapshot prunes by. */
    const latestHeld = (): number => Math.max(
      latestOf([...accounts.values()].map((a) => a.now)),
      latestOf([...addresses.values()].map((a) => a.now)),
      latestOf([...successes.values()].flatMap((m) => [...m.values()].map((s) => s.at))),
    );

    /**
     * Brings an account to what a snapshot at `latest` keeps of it; false when nothing is
     * left. Whether its lines matter is judged before the level and tries are trimmed, as
     * the snapshot always judged it.
     */
    const pruneAccount = (a: AccountState, latest: number): boolean => {
      const end = minuteOf(latest);
      dropOld(a.b, end, W);
      if (!accountLinesMatter(a, sumWindow(a.b, end, W))) a.recent.length = 0;
      for (const [k, t] of a.ips) if (latest - t.last > keepMs) a.ips.delete(k);
      if (a.b.length === 0) a.level = -1;
      return a.b.length > 0 || a.ips.size > 0;
    };

    /** The same for an address: it goes once its last failure is older than anything kept. */
    const pruneAddress = (a: AddressState, latest: number): boolean => {
      if (latest - a.now > keepMs) return false;
      const end = minuteOf(latest);
      dropOld(a.b, end, W);
      if (!addressLinesMatter(a, sumWindow(a.b, end, W, 1))) a.recent.length = 0;
      if (a.accts) for (const [h, m] of a.accts) if (m <= end - W) a.accts.delete(h);
      return true;
    };

    /** The same for a client's successes: each goes once older than anything kept. */
    const pruneSuccesses = (m: Map<string, Success>, latest: number): boolean => {
      for (const [acct, s] of m) if (latest - s.at > keepMs) m.delete(acct);
      return m.size > 0;
    };

    /**
     * Leaves what a snapshot at `latest` saves, as a cron run restoring it would hold it:
     * once the input is past an entry's windows, nothing in it can count again.
     */
    const prune = (latest: number): void => {
      for (const [k, a] of accounts) if (!pruneAccount(a, latest)) accounts.delete(k);
      for (const [k, a] of addresses) if (!pruneAddress(a, latest)) addresses.delete(k);
      for (const [k, m] of successes) if (!pruneSuccesses(m, latest)) successes.delete(k);
    };

    /** Newest record time seen, and where the last prune was. */
    let newest = latestHeld();
    let prunedAt = newest;

    return countsHeld({
      onRecord(r, emit) {
        if (r.kind === 'auth-failure') onFailure(r, emit);
        else if (r.kind === 'auth-success' || r.kind === 'submission') onSuccess(r, emit);
        if (ctx.severalInputs === true) return;
        if (r.at > newest) newest = r.at;
        if (newest - prunedAt < PRUNE_EVERY_MS) return;
        prunedAt = newest;
        prune(latestHeld());
      },
      snapshot() {
        prune(latestHeld());
        return {
          v: 1, window: W,
          accounts: [...accounts].map(([k, a]) => [k, { b: a.b, now: a.now, level: a.level, ips: [...a.ips], recent: a.recent.map(evidenceForState) }]),
          addresses: [...addresses].map(([k, a]) => [k, { b: a.b, now: a.now, told: a.told, accts: [...a.accts ?? []], recent: a.recent.map(evidenceForState) }]),
          // A success's line is kept even where nothing failed yet: failures read in a later run
          // (another file, written late) must quote the success as one long run would.
          successes: [...successes].map(([k, m]) => [k, [...m].map(([acct, s]) => [acct, s.at, s.told ? 1 : 0, s.line ? [evidenceForState(s.line)] : []])]),
        };
      },
    }, () => ({
      // Accounts, addresses, and accounts with a success per client.
      entries: accounts.size + addresses.size + [...successes.values()].reduce((n, m) => n + m.size, 0),
    }));
  },
});

function restore(saved: unknown, opts: Opts, accounts: Map<string, AccountState>, addresses: Map<string, AddressState>, successes: Map<string, Map<string, Success>>): void {
  const r = readSaved(saved);
  // Saved buckets only fit the window they were counted for.
  if (!r || r.window !== opts.windowMinutes) return;
  for (const [k, a] of r.accounts) accounts.set(k, a);
  for (const [k, a] of r.addresses) addresses.set(k, a);
  for (const [k, m] of r.successes) successes.set(k, m);
}
