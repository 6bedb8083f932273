/**
 * What every synthetic benchmark log shares: seeded randomness, the organisation's
 * accounts (each with a home address it normally sends from) and the outside world.
 * Deterministic: the same seed always gives the same accounts in the same order.
 */
import { mulberry32, type Random } from '../helpers/random.js';

/** Start of every generated log: Monday 4 March 2024, 00:00 UTC. */
export const START_MS = Date.UTC(2024, 2, 4, 0, 0, 0);
export const ACCOUNT_COUNT = 4000;
/** Connections open at once; their lines interleave. */
export const CONCURRENCY = 12;
/** Mean gap between two log lines in daytime; night is four times quieter. */
export const MEAN_LINE_GAP_MS = 50;

/**
 * The networks accounts' home addresses are drawn from (an office range and a dial-up
 * provider's): a site would list these as trusted, so the benchmark's config does.
 */
export const HOME_NETWORKS: readonly string[] = ['198.51.100.0/24', '77.0.0.0/8', '78.0.0.0/7', '80.0.0.0/4'];

// ---------------------------------------------------------------------------
// Seeded randomness

export { mulberry32, type Random };

export function int(rnd: Random, lo: number, hi: number): number {
  return lo + Math.floor(rnd() * (hi - lo + 1));
}

export function pick<T>(rnd: Random, items: readonly T[]): T {
  const item = items[Math.floor(rnd() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

export function chance(rnd: Random, p: number): boolean {
  return rnd() < p;
}

export function hex(rnd: Random, digits: number): string {
  let s = '';
  for (let i = 0; i < digits; i++) s += '0123456789ABCDEF'.charAt(Math.floor(rnd() * 16));
  return s;
}

// ---------------------------------------------------------------------------
// People and places

export const LOCAL_DOMAINS = ['example.org', 'example.net', 'mail.example.com'] as const;
export const FIRST = ['anna', 'ben', 'carla', 'david', 'eva', 'frank', 'greta', 'hans', 'ida', 'jonas', 'karin', 'lukas', 'maria', 'nils', 'olga', 'paul', 'quinn', 'rosa', 'sven', 'tina', 'uwe', 'vera', 'walter', 'xenia', 'yusuf', 'zoe', 'amir', 'bea', 'chen', 'dora', 'emil', 'fatma', 'gil', 'hanna', 'igor', 'jana', 'kofi', 'lena', 'mika', 'noor'] as const;
export const LAST = ['mueller', 'schmidt', 'schneider', 'fischer', 'weber', 'meyer', 'wagner', 'becker', 'schulz', 'hoffmann', 'koch', 'richter', 'klein', 'wolf', 'neumann', 'schwarz', 'braun', 'zimmermann', 'krueger', 'hartmann', 'lange', 'werner', 'krause', 'lehmann', 'koehler', 'maier', 'huber', 'kaiser', 'fuchs', 'peters', 'lang', 'scholz', 'moeller', 'weiss', 'jung', 'hahn', 'vogel', 'friedrich', 'keller', 'guenther'] as const;
export const EXTERNAL_DOMAINS = ['gmail.com', 'outlook.com', 'yahoo.com', 'gmx.de', 'web.de', 'icloud.com', 'partner-firm.de', 'supplier.example', 'university.edu', 't-online.de', 'mailbox.org', 'proton.me'] as const;
export const SPAM_TARGET_DOMAINS = ['hotmail.com', 'aol.com', 'yahoo.co.jp', 'mail.ru', 'qq.com', 'comcast.net', 'orange.fr', 'libero.it'] as const;

export interface Account {
  readonly address: string;
  /** As typed into the mail client: some servers log bare local parts. */
  readonly login: string;
  readonly domain: string;
  /** Where this user normally sends from: in HOME_NETWORKS. */
  readonly homeIp: string;
  readonly homeName: string;
  readonly contacts: readonly string[];
}

export function makeAccounts(rnd: Random, count: number): Account[] {
  const seen = new Set<string>();
  const accounts: Account[] = [];
  while (accounts.length < count) {
    const domain = pick(rnd, LOCAL_DOMAINS);
    const base = `${pick(rnd, FIRST)}.${pick(rnd, LAST)}`;
    let local = base;
    for (let n = 2; seen.has(`${local}@${domain}`); n++) local = `${base}${n}`;
    const address = `${local}@${domain}`;
    seen.add(address);
    const ip = chance(rnd, 0.6) ? `198.51.100.${int(rnd, 2, 254)}` : `${int(rnd, 77, 95)}.${int(rnd, 0, 255)}.${int(rnd, 0, 255)}.${int(rnd, 1, 254)}`;
    const homeName = ip.startsWith('198.51.100.') ? `office-gw.${domain}` : `p${ip.split('.').map((x) => x.padStart(3, '0')).join('')}.dip0.t-ipconnect.de`;
    const contacts = Array.from({ length: int(rnd, 3, 12) }, () => externalAddress(rnd));
    accounts.push({ address, login: chance(rnd, 0.1) ? local : address, domain, homeIp: ip, homeName, contacts });
  }
  return accounts;
}

export function externalAddress(rnd: Random): string {
  return `${pick(rnd, FIRST)}${chance(rnd, 0.5) ? `.${pick(rnd, LAST)}` : int(rnd, 1, 99)}@${pick(rnd, EXTERNAL_DOMAINS)}`;
}

export function internetIp(rnd: Random): string {
  return `${int(rnd, 1, 223)}.${int(rnd, 0, 255)}.${int(rnd, 0, 255)}.${int(rnd, 1, 254)}`;
}

/**
 * The account a scan names for this one: its login as logged, lower-cased (the bench
 * config sets no defaultDomain, as the accounts live in several domains).
 */
export function reportedAccount(a: Account): string {
  return a.login.toLowerCase();
}

/** A hijacked account: between `from` and `to` (fractions of the file) it sends spam. */
export interface Hijack {
  readonly account: Account;
  readonly from: number;
  readonly to: number;
  /** Where the attacker connects from. */
  readonly ipPrefix: string;
  /** Envelope sender the spammer uses; the account itself when undefined. */
  readonly envelopeFrom?: string;
  /** Password guessing against the account before the hijack. */
  readonly guessingFrom?: number;
}

/** The two hijacks every workload stages, on the same accounts. */
export function standardHijacks(accounts: readonly Account[]): Hijack[] {
  const at = (i: number): Account => {
    const a = accounts[i];
    if (a === undefined) throw new Error(`no account ${i}`);
    return a;
  };
  return [
    { account: at(1234), from: 0.4, to: 0.41, ipPrefix: '45.148.10' },
    { account: at(2345), from: 0.75, to: 0.76, ipPrefix: '185.220.101', envelopeFrom: 'billing@paypa1-secure.example', guessingFrom: 0.7 },
  ];
}

/** Busy users send most mail: an index skewed towards the start of the list. */
export function activeAccount(rnd: Random, accounts: readonly Account[]): Account {
  const r = rnd();
  const a = accounts[Math.floor(r * r * accounts.length)];
  if (a === undefined) throw new Error('no accounts');
  return a;
}

// ---------------------------------------------------------------------------
// Interleaved connections

/** A generated log: one line at a time, `progress` (0..1) placing the hijacks in the file. */
export interface LogSource {
  next(progress: number): string;
  /** The accounts that send spam bursts: what a scan of this log must report. */
  readonly hijackedAccounts: readonly string[];
}

/** What one connection writes at one moment: whole lines, stamps included. */
export type Step = (now: number) => readonly string[];

/**
 * Interleaves the steps of CONCURRENCY open connections, as a busy server does, on a
 * clock with exponential gaps (four times slower between 00:00 and 06:00 UTC).
 */
export class Interleaver {
  private readonly open: { readonly steps: readonly Step[]; next: number }[] = [];
  private readonly pending: string[] = [];
  private pendingNext = 0;
  now = START_MS;

  constructor(private readonly rnd: Random, private readonly start: (progress: number) => readonly Step[]) {}

  next(progress: number): string {
    while (this.pendingNext >= this.pending.length) {
      this.pending.length = 0;
      this.pendingNext = 0;
      while (this.open.length < CONCURRENCY) this.open.push({ steps: this.start(progress), next: 0 });
      const index = Math.floor(this.rnd() * this.open.length);
      const t = this.open[index];
      if (t === undefined) throw new Error('no open connection');
      const step = t.steps[t.next++];
      if (t.next >= t.steps.length) this.open.splice(index, 1);
      const hour = new Date(this.now).getUTCHours();
      this.now += -Math.log(1 - this.rnd()) * (hour < 6 ? MEAN_LINE_GAP_MS * 4 : MEAN_LINE_GAP_MS);
      if (step !== undefined) this.pending.push(...step(this.now));
    }
    return this.pending[this.pendingNext++] ?? '';
  }
}
