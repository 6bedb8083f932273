/**
 * One simulated site-week, independent of any log format: who the users are, where
 * they send from, every message, every inbound message and every failed login, and
 * which accounts were hijacked (or merely look odd) and how. The writers in
 * `writers.ts` turn it into Postfix, Kerio Connect or Messaging Server MTA lines.
 *
 * Deterministic: the same seed gives the same week, line for line. The week is fixed
 * (Monday 9 to Sunday 15 November 2026, Europe/Berlin, UTC+1 throughout: no DST
 * change inside it), so findings can be quoted by date.
 *
 * What "realistic" means here:
 * - ~300 accounts; per-user volume is skewed: most send 2-15 messages a working day,
 *   about one in sixteen 30-60. Each working day varies around the user's own rate.
 * - Working hours with a lunch dip, a thin evening tail, quiet weekends.
 * - Clients: the office LAN (10.20.0.0/16, trusted), webmail (Kerio logs 0.0.0.0; the
 *   others see the webmail front end on the LAN), and 1-3 public addresses per user
 *   (home DSL/cable, mobile, a partner's flat) that stay the same all week and are in
 *   no trusted list: a rule has to learn them. Some days a user works from home.
 * - Recipients are mostly the user's repeated contacts (Zipf-weighted), some new.
 * - Inbound mail from the internet, bounces and deferrals at small rates, internet
 *   scanners guessing logins that do not exist, and now and then a user's mistyped
 *   password followed by a successful login.
 * - Labelled accounts, exactly one of each kind (see `Label`), injected on given days.
 *
 * The labels (all times local):
 *   night-burst        Wed 02:00-03:30: ~220 messages of 3-10 recipients from one hosting
 *                      address abroad, ten per connection (a spam tool on port 25)
 *   forged-moderate    Tue and Wed: 20-40 a day with forged envelope senders, from the
 *                      user's own home address, during the day
 *   slow-drip          Thu 09:00-16:00 from the user's office PC: 3.5x the account's own
 *                      (steady, ~12 a day) normal for those hours; nothing else unusual
 *   brute-then-send    Tue 12:55-14:05: 350 failed logins from one address abroad, then a
 *                      success and 50 messages from there until ~16:20
 *   botnet-credential  Fri 06:00-23:00: the login used from 45 addresses in many countries,
 *                      2-4 messages each
 *   bulk-allowlisted   newsletter@: 640 (Tue) and 610 (Thu) messages from the list server,
 *                      exempt from the volume rules in the config
 *   alias-user         sends 60 % of its mail as office@ (a configured alias)
 *   traveller          Wed and Thu from a hotel network in Spain, normal volume and hours
 *   steady-heavy       ~50 messages every working day
 */
import { mulberry32, type Random } from '../helpers/random.js';

// ---------------------------------------------------------------------------
// Time

/** Europe/Berlin is UTC+1 the whole simulated week. */
export const ZONE = 'Europe/Berlin';
export const OFFSET_MS = 3_600_000;
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
/** Monday 9 November 2026, 00:00 in Berlin. */
export const WEEK_START = Date.UTC(2026, 10, 9) - OFFSET_MS;
export const WEEK_END = WEEK_START + 7 * DAY;

/** Epoch ms of local wall time `h:m` on day `d` (0 = Monday) of the week. */
export const at = (d: number, h: number, m = 0, s = 0): number => WEEK_START + d * DAY + ((h * 60 + m) * 60 + s) * 1000;

// ---------------------------------------------------------------------------
// Seeded randomness

export { mulberry32, type Random };

export const int = (r: Random, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
export const chance = (r: Random, p: number): boolean => r() < p;

export function pick<T>(r: Random, items: readonly T[]): T {
  const x = items[Math.floor(r() * items.length)];
  if (x === undefined) throw new Error('pick from an empty list');
  return x;
}

/** Poisson variate (Knuth; lambda stays small here). */
export function poisson(r: Random, lambda: number): number {
  if (lambda <= 0) return 0;
  if (lambda > 40) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * gauss(r)));
  const l = Math.exp(-lambda);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= r();
  } while (p > l);
  return k - 1;
}

export function gauss(r: Random): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** Index drawn with the given cumulative weights. */
function weighted(r: Random, cumulative: readonly number[]): number {
  const total = cumulative[cumulative.length - 1] ?? 0;
  const x = r() * total;
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((cumulative[mid] ?? 0) > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

const cumulate = (ws: readonly number[]): number[] => {
  let s = 0;
  return ws.map((w) => (s += w));
};

export function hexId(r: Random, n: number, alphabet = '0123456789ABCDEF'): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet.charAt(Math.floor(r() * alphabet.length));
  return s;
}

// ---------------------------------------------------------------------------
// Places

export const DOMAIN = 'example.edu';
export const MAIL_HOST = 'mail.example.edu';
/** The mail server's own public address (documentation range). */
export const SERVER_IP = '192.0.2.25';
export const LAN = '10.20.0.0/16';
/** Webmail front end (Roundcube for Postfix, Convergence for Messaging Server); Kerio logs webmail as 0.0.0.0. */
export const WEBMAIL_IP = '10.20.0.5';
export const LISTS_IP = '10.20.0.30';

export type ClientKind = 'lan' | 'home' | 'mobile' | 'webmail' | 'hotel' | 'attacker' | 'relay';

/** Where a connection comes from, as the server sees it. */
export interface Client {
  readonly ip: string;
  /** Reverse DNS; undefined: `unknown`. */
  readonly rdns?: string;
  /** What the client says in HELO/EHLO. */
  readonly helo: string;
  readonly kind: ClientKind;
}

/** A network the simulation draws addresses from, with its country (`various`: a pool spanning several). */
export interface Network {
  readonly cidr: string;
  readonly country: string;
  readonly use: string;
}

/** Residential and mobile ranges of German providers: where users live. */
const HOME_NETS: readonly { readonly base: readonly [number, number]; readonly rdns: (ip: readonly number[]) => string; readonly cidr: string; readonly use: string }[] = [
  { base: [79, 192], cidr: '79.192.0.0/10', use: 'home DSL (Telekom)', rdns: (o) => `p${o.map((x) => x.toString(16).toUpperCase().padStart(2, '0')).join('')}.dip0.t-ipconnect.de` },
  { base: [93, 192], cidr: '93.192.0.0/10', use: 'home DSL (Telekom)', rdns: (o) => `p${o.map((x) => x.toString(16).toUpperCase().padStart(2, '0')).join('')}.dip0.t-ipconnect.de` },
  { base: [95, 88], cidr: '95.88.0.0/14', use: 'home cable (Vodafone)', rdns: (o) => `ip-${o.join('-')}.hsi08.unitymediagroup.de` },
  { base: [91, 0], cidr: '91.0.0.0/10', use: 'home DSL (Telekom)', rdns: (o) => `p${o.map((x) => x.toString(16).toUpperCase().padStart(2, '0')).join('')}.dip0.t-ipconnect.de` },
];
const MOBILE_NET = { cidr: '80.187.0.0/16', use: 'mobile (Telekom)' };
/** The traveller's hotel in Spain. */
const HOTEL_NET = { cidr: '88.12.34.0/24', use: 'hotel network (Telefonica, Spain)' };

/** Ranges far from the site where hijackers' and scanners' addresses come from. */
const FOREIGN_NETS: readonly { readonly prefix: readonly [number, number?]; readonly cidr: string; readonly country: string }[] = [
  { prefix: [113, 160], cidr: '113.160.0.0/11', country: 'VN' },
  { prefix: [177], cidr: '177.0.0.0/8', country: 'various (LACNIC, mostly BR)' },
  { prefix: [186], cidr: '186.0.0.0/8', country: 'various (LACNIC)' },
  { prefix: [41], cidr: '41.0.0.0/8', country: 'various (AFRINIC)' },
  { prefix: [103], cidr: '103.0.0.0/8', country: 'various (APNIC)' },
  { prefix: [117], cidr: '117.0.0.0/8', country: 'various (APNIC)' },
  { prefix: [190], cidr: '190.0.0.0/8', country: 'various (LACNIC)' },
  { prefix: [197], cidr: '197.0.0.0/8', country: 'various (AFRINIC)' },
  { prefix: [14], cidr: '14.0.0.0/8', country: 'various (APNIC)' },
  { prefix: [182], cidr: '182.0.0.0/8', country: 'various (APNIC)' },
];
/** Where the brute force comes from (one address in a hosting range abroad). */
const BRUTE_NET = { cidr: '141.98.10.0/24', country: 'LT' };
/** The night burst's address. */
const BURST_NET = { cidr: '45.95.147.0/24', country: 'NL' };

/** Big senders' outbound relays: inbound mail comes from these. */
const INBOUND_SOURCES: readonly { readonly domain: string; readonly relay: (r: Random) => Client }[] = [
  { domain: 'gmail.com', relay: (r) => { const o = int(r, 1, 254); return { ip: `209.85.220.${o}`, rdns: `mail-sor-f${o}.google.com`, helo: `mail-sor-f${o}.google.com`, kind: 'relay' }; } },
  { domain: 'outlook.com', relay: (r) => { const o = int(r, 1, 254); return { ip: `40.92.66.${o}`, rdns: `mail-am6eur05on20${o}.outbound.protection.outlook.com`, helo: `EUR05-AM6-obe.outbound.protection.outlook.com`, kind: 'relay' }; } },
  { domain: 'gmx.de', relay: (r) => { const o = int(r, 10, 30); return { ip: `212.227.17.${o}`, rdns: `mout.gmx.net`, helo: 'mout.gmx.net', kind: 'relay' }; } },
  { domain: 'web.de', relay: (r) => { const o = int(r, 10, 30); return { ip: `217.72.192.${o}`, rdns: `mout.web.de`, helo: 'mout.web.de', kind: 'relay' }; } },
  { domain: 'uni-partner.de', relay: () => ({ ip: '141.30.4.25', rdns: 'mx.uni-partner.de', helo: 'mx.uni-partner.de', kind: 'relay' }) },
  { domain: 'supplier.example', relay: () => ({ ip: '198.51.100.44', rdns: 'smtp.supplier.example', helo: 'smtp.supplier.example', kind: 'relay' }) },
  { domain: 'shop.example.net', relay: (r) => ({ ip: `198.51.100.${int(r, 100, 110)}`, rdns: 'bounce.shop.example.net', helo: 'bounce.shop.example.net', kind: 'relay' }) },
];

// ---------------------------------------------------------------------------
// People

const FIRST = ['anna', 'ben', 'carla', 'david', 'eva', 'felix', 'greta', 'hans', 'ida', 'jonas', 'karin', 'lukas', 'maria', 'nils', 'olga', 'paul', 'rosa', 'sven', 'tina', 'uwe', 'vera', 'walter', 'xenia', 'yusuf', 'zoe', 'amir', 'bea', 'chen', 'dora', 'emil', 'fatma', 'gil', 'hanna', 'igor', 'jana', 'kofi', 'lena', 'mika', 'noor', 'otto'] as const;
const LAST = ['mueller', 'schmidt', 'schneider', 'fischer', 'weber', 'meyer', 'wagner', 'becker', 'schulz', 'hoffmann', 'koch', 'richter', 'klein', 'wolf', 'neumann', 'schwarz', 'braun', 'zimmermann', 'krueger', 'hartmann', 'lange', 'werner', 'krause', 'lehmann', 'koehler', 'maier', 'huber', 'kaiser', 'fuchs', 'peters'] as const;
const EXTERNAL_DOMAINS = ['gmail.com', 'outlook.com', 'gmx.de', 'web.de', 't-online.de', 'uni-partner.de', 'supplier.example', 'mailbox.org', 'ministry.example', 'research-lab.example.org'] as const;
const SPAM_DOMAINS = ['hotmail.com', 'aol.com', 'yahoo.co.jp', 'mail.ru', 'qq.com', 'comcast.net', 'orange.fr', 'libero.it'] as const;
export const SUBJECTS = ['Re: Meeting on Thursday', 'Minutes of Monday', 'Fwd: travel plans', 'Quarterly report', 'Lunch?', 'Re: Re: contract draft v3', 'Room booking', 'AW: Angebot', 'Holiday schedule', 'Re: exam dates', 'Slides', 'Invoice 2026-114'] as const;
export const SPAM_SUBJECTS = ['Urgent: verify your account', 'Invoice overdue - payment required', 'You have (1) new voicemail', 'Your parcel could not be delivered'] as const;

export interface Person {
  readonly address: string;
  /** Login as the server logs it: Postfix and Kerio the address, the MTA the bare uid. */
  readonly uid: string;
  /** Mean messages per working day. */
  readonly rate: number;
  /** Low day-to-day variance (the slow-drip victim, the steady heavy sender). */
  readonly steady: boolean;
  readonly pc: Client;
  /** 1-3 public addresses used all week: home, mobile, a partner's flat. */
  readonly homes: readonly Client[];
  readonly webmailShare: number;
  /** Chance of working from home on a given weekday. */
  readonly homeOfficeP: number;
  readonly contacts: readonly string[];
  readonly contactWeights: readonly number[];
  readonly newRecipientShare: number;
}

export type Label =
  | 'night-burst' | 'forged-moderate' | 'slow-drip' | 'brute-then-send' | 'botnet-credential'
  | 'bulk-allowlisted' | 'alias-user' | 'traveller' | 'steady-heavy';

export const COMPROMISED_LABELS: readonly Label[] = ['night-burst', 'forged-moderate', 'slow-drip', 'brute-then-send', 'botnet-credential'];
export const LEGITIMATE_LABELS: readonly Label[] = ['bulk-allowlisted', 'alias-user', 'traveller', 'steady-heavy'];

export interface LabelInfo {
  readonly label: Label;
  readonly compromised: boolean;
}

// ---------------------------------------------------------------------------
// Traffic

export type Outcome = 'sent' | 'bounced' | 'deferred';

export interface Rcpt {
  readonly addr: string;
  readonly local: boolean;
  readonly outcome: Outcome;
}

/** An authenticated submission. Messages with the same `session` share one SMTP connection. */
export interface OutMsg {
  readonly at: number;
  readonly account: string;
  readonly uid: string;
  readonly from: string;
  readonly rcpts: readonly Rcpt[];
  readonly client: Client;
  readonly webmail: boolean;
  readonly session: number;
  readonly size: number;
  readonly subject: string;
  readonly msgId: string;
}

/** Mail from the internet to local users. */
export interface InMsg {
  readonly at: number;
  readonly from: string;
  readonly rcpts: readonly Rcpt[];
  readonly client: Client;
  readonly size: number;
  readonly subject: string;
  readonly msgId: string;
}

/** A failed SMTP AUTH. `exists`: the login names a real account. Failures with the same `session` share a connection. */
export interface AuthFail {
  readonly at: number;
  readonly client: Client;
  readonly login: string;
  readonly exists: boolean;
  readonly session: number;
}

export interface SiteWeek {
  readonly people: readonly Person[];
  readonly out: readonly OutMsg[];
  readonly inbound: readonly InMsg[];
  readonly fails: readonly AuthFail[];
  readonly labels: Readonly<Record<string, LabelInfo>>;
  readonly aliases: Readonly<Record<string, readonly string[]>>;
  readonly bulkSender: string;
  readonly networks: readonly Network[];
}

/** Relative weight of each local hour for a working day: lunch dip at 12, thin evening tail. */
const HOUR_WEIGHTS = [0.02, 0.01, 0.01, 0.01, 0.01, 0.03, 0.1, 0.4, 1.0, 1.3, 1.3, 1.2, 0.6, 0.9, 1.2, 1.2, 1.0, 0.7, 0.4, 0.25, 0.2, 0.15, 0.1, 0.05];
const HOUR_CUM = cumulate(HOUR_WEIGHTS);
const HOUR_TOTAL = HOUR_CUM[HOUR_CUM.length - 1] ?? 1;
/** Weekend sending: late morning to evening, from home. */
const WEEKEND_CUM = cumulate([0, 0, 0, 0, 0, 0, 0, 0, 0.2, 0.5, 0.8, 1, 0.8, 0.6, 0.7, 0.8, 0.8, 0.7, 0.6, 0.7, 0.8, 0.6, 0.3, 0.1]);

const isOfficeHour = (h: number): boolean => h >= 7 && h < 19;

/** Options of one simulation. */
export interface SiteOptions {
  readonly seed?: number;
  /** Ordinary users besides the labelled ones and the newsletter account. */
  readonly people?: number;
}

export function buildSiteWeek(opts: SiteOptions = {}): SiteWeek {
  const seed = opts.seed ?? 20261109;
  const r = mulberry32(seed);
  const networks: Network[] = [
    { cidr: LAN, country: 'DE', use: 'office LAN (trusted)' },
    ...HOME_NETS.map((n) => ({ cidr: n.cidr, country: 'DE', use: n.use })),
    { cidr: MOBILE_NET.cidr, country: 'DE', use: MOBILE_NET.use },
    { cidr: HOTEL_NET.cidr, country: 'ES', use: HOTEL_NET.use },
    { cidr: BRUTE_NET.cidr, country: BRUTE_NET.country, use: 'hosting (brute force)' },
    { cidr: BURST_NET.cidr, country: BURST_NET.country, use: 'hosting (night burst)' },
    ...FOREIGN_NETS.map((n) => ({ cidr: n.cidr, country: n.country, use: 'botnet, scanners' })),
    { cidr: '209.85.220.0/24', country: 'US', use: 'inbound: gmail.com' },
    { cidr: '40.92.66.0/24', country: 'US', use: 'inbound: outlook.com' },
    { cidr: '212.227.17.0/24', country: 'DE', use: 'inbound: gmx.de' },
    { cidr: '217.72.192.0/24', country: 'DE', use: 'inbound: web.de' },
  ];

  // --- people
  const people: Person[] = [];
  const taken = new Set<string>();
  const count = opts.people ?? 299;
  const usedIps = new Set<string>();
  const homeClient = (): Client => {
    for (;;) {
      const net = pick(r, HOME_NETS);
      const o = [net.base[0], net.base[1] + int(r, 0, 3), int(r, 0, 255), int(r, 1, 254)] as const;
      const ip = o.join('.');
      if (usedIps.has(ip)) continue;
      usedIps.add(ip);
      // Thunderbird and Outlook at home say HELO with the NATed LAN address.
      const helo = chance(r, 0.5) ? `[192.168.178.${int(r, 20, 60)}]` : `DESKTOP-${hexId(r, 7)}`;
      return { ip, rdns: net.rdns(o), helo, kind: 'home' };
    }
  };
  const mobileClient = (): Client => {
    for (;;) {
      const o = [80, 187, int(r, 64, 127), int(r, 1, 254)] as const;
      const ip = o.join('.');
      if (usedIps.has(ip)) continue;
      usedIps.add(ip);
      return { ip, rdns: `tmo-${o[0]}-${o[1]}-${o[2]}-${o[3]}.customer.t-mobile.de`, helo: `[10.${int(r, 0, 255)}.${int(r, 0, 255)}.${int(r, 1, 254)}]`, kind: 'mobile' };
    }
  };
  for (let i = 0; i < count; i++) {
    let local = '';
    do {
      local = `${pick(r, FIRST)}.${pick(r, LAST)}`;
      if (taken.has(local)) local = `${local}${int(r, 2, 9)}`;
    } while (taken.has(local));
    taken.add(local);
    // One in sixteen is a heavy sender (30-60 a day); the rest are log-normal around 4, clipped to 2-15.
    const heavy = i % 16 === 7;
    const rate = heavy ? int(r, 30, 60) : Math.min(15, Math.max(2, Math.exp(Math.log(4) + 0.55 * gauss(r))));
    const homes: Client[] = [homeClient()];
    if (chance(r, 0.55)) homes.push(mobileClient());
    if (chance(r, 0.25)) homes.push(homeClient());
    const pcOctet = 10 + (i % 240);
    const pc: Client = { ip: `10.20.${1 + Math.floor(i / 240)}.${pcOctet}`, rdns: `pc${String(i).padStart(4, '0')}.lan.${DOMAIN}`, helo: `PC${String(i).padStart(4, '0')}`, kind: 'lan' };
    people.push({
      address: `${local}@${DOMAIN}`, uid: local, rate, steady: false, pc, homes,
      webmailShare: chance(r, 0.2) ? 0.5 + r() * 0.4 : r() * 0.15,
      homeOfficeP: chance(r, 0.3) ? 0.3 : 0.05,
      contacts: [], contactWeights: [], newRecipientShare: 0.1 + r() * 0.15,
    });
  }
  // Contacts: colleagues and outside people, more for heavy senders.
  for (const [i, p] of people.entries()) {
    const n = p.rate >= 30 ? int(r, 80, 200) : int(r, 10, 40);
    const contacts: string[] = [];
    for (let k = 0; k < n; k++) {
      contacts.push(chance(r, 0.45) ? (pick(r, people).address) : externalAddress(r));
    }
    const weights = cumulate(contacts.map((_, k) => 1 / (k + 1)));
    people[i] = { ...p, contacts, contactWeights: weights };
  }

  // --- labelled accounts: ordinary people with a fitting normal volume
  const labels: Record<string, LabelInfo> = {};
  const chosen = new Set<number>();
  const choose = (label: Label, lo: number, hi: number): number => {
    const idx = people.findIndex((p, k) => !chosen.has(k) && p.rate >= lo && p.rate <= hi);
    if (idx < 0) throw new Error(`no account for ${label}`);
    chosen.add(idx);
    const p = people[idx];
    if (!p) throw new Error('unreachable');
    labels[p.address] = { label, compromised: COMPROMISED_LABELS.includes(label) };
    return idx;
  };
  const iBurst = choose('night-burst', 3, 12);
  const iForged = choose('forged-moderate', 3, 12);
  const iDrip = choose('slow-drip', 8, 15);
  const iBrute = choose('brute-then-send', 3, 12);
  const iBotnet = choose('botnet-credential', 3, 12);
  const iAlias = choose('alias-user', 4, 12);
  const iTraveller = choose('traveller', 5, 12);
  const iHeavy = choose('steady-heavy', 2, 60);
  // The drip victim's normal is stable and in the office, so a baseline has something to learn.
  const setPerson = (i: number, change: Partial<Person>): Person => {
    const p = { ...(people[i] as Person), ...change };
    people[i] = p;
    return p;
  };
  const drip = setPerson(iDrip, { rate: 12, steady: true, homeOfficeP: 0, webmailShare: 0.05 });
  const heavy = setPerson(iHeavy, { rate: 50, steady: true, homeOfficeP: 0.05, webmailShare: 0.05, contacts: Array.from({ length: 250 }, () => externalAddress(r)), newRecipientShare: 0.3 });
  setPerson(iHeavy, { contactWeights: cumulate(heavy.contacts.map((_, k) => 1 / Math.sqrt(k + 1))) });
  const traveller = setPerson(iTraveller, { webmailShare: 0.05 });
  const aliasUser = people[iAlias] as Person;
  const ALIAS = `office@${DOMAIN}`;
  const aliases: Record<string, readonly string[]> = { [aliasUser.address]: [ALIAS] };

  // --- ordinary traffic, day by day
  let session = 0;
  const out: OutMsg[] = [];
  const msgId = (t: number, p?: string): string => `${t.toString(36).toUpperCase()}.${hexId(r, 8)}@${p ?? DOMAIN}`;
  const outcomeFor = (addr: string, isNew: boolean, spam: boolean): Outcome => {
    if (addr.endsWith(`@${DOMAIN}`)) return 'sent';
    const x = r();
    if (x < (spam ? 0.1 : isNew ? 0.04 : 0.004)) return 'bounced';
    if (x < (spam ? 0.25 : 0.03)) return 'deferred';
    return 'sent';
  };
  const recipientsOf = (p: Person): Rcpt[] => {
    const x = r();
    const n = x < 0.6 ? 1 : x < 0.85 ? 2 : x < 0.97 ? int(r, 3, 5) : int(r, 6, 10);
    const rcpts: Rcpt[] = [];
    for (let k = 0; k < n; k++) {
      const isNew = chance(r, p.newRecipientShare);
      const addr = isNew ? externalAddress(r) : (p.contacts[weighted(r, p.contactWeights)] ?? externalAddress(r));
      if (addr === p.address || rcpts.some((x2) => x2.addr === addr)) continue;
      rcpts.push({ addr, local: addr.endsWith(`@${DOMAIN}`), outcome: outcomeFor(addr, isNew, false) });
    }
    if (rcpts.length === 0) rcpts.push({ addr: externalAddress(r), local: false, outcome: 'sent' });
    return rcpts;
  };
  const webmailClient: Client = { ip: WEBMAIL_IP, rdns: `webmail.${DOMAIN}`, helo: `webmail.${DOMAIN}`, kind: 'webmail' };
  const send = (p: Person, t: number, client: Client, extra: Partial<OutMsg> = {}): void => {
    out.push({
      at: t, account: p.address, uid: p.uid, from: p.address, rcpts: recipientsOf(p), client, webmail: client.kind === 'webmail',
      session: ++session, size: int(r, 1200, chance(r, 0.15) ? 900_000 : 40_000), subject: pick(r, SUBJECTS), msgId: msgId(t), ...extra,
    });
  };
  /** Where a person sends from at local hour h on this day. */
  const clientFor = (p: Person, h: number, homeOffice: boolean, away: Client | undefined): Client => {
    if (away) return away;
    if (chance(r, p.webmailShare)) return webmailClient;
    if (!isOfficeHour(h) || homeOffice) return (p.homes[chance(r, 0.8) ? 0 : int(r, 0, p.homes.length - 1)] ?? p.pc);
    if (chance(r, 0.05)) return pick(r, p.homes);
    return p.pc;
  };
  const hotel: Client[] = [
    { ip: '88.12.34.17', rdns: 'static-88-12-34-17.hotel-sol.telefonica.es', helo: '[192.168.10.112]', kind: 'hotel' },
    { ip: '88.12.34.18', rdns: 'static-88-12-34-18.hotel-sol.telefonica.es', helo: '[192.168.10.112]', kind: 'hotel' },
  ];
  for (let d = 0; d < 7; d++) {
    const weekend = d >= 5;
    for (const p of people) {
      const homeOffice = !weekend && chance(r, p.homeOfficeP);
      const away = p === traveller && (d === 2 || d === 3) ? pick(r, hotel) : undefined;
      const n = weekend ? poisson(r, p.rate * 0.05) : p.steady ? Math.round(p.rate * (0.92 + r() * 0.16)) : poisson(r, p.rate * (0.6 + r() * 0.8));
      for (let k = 0; k < n; k++) {
        const h = weighted(r, weekend ? WEEKEND_CUM : HOUR_CUM);
        const t = at(d, h, int(r, 0, 59), int(r, 0, 59)) + int(r, 0, 999);
        const client = weekend && !away ? (chance(r, p.webmailShare) ? webmailClient : (p.homes[0] ?? p.pc)) : clientFor(p, h, homeOffice, away);
        // The drip victim is in the office on the drip day.
        const c = p === drip && d === 3 && client.kind !== 'webmail' ? p.pc : client;
        send(p, t, c, p === aliasUser && chance(r, 0.6) ? { from: ALIAS } : {});
      }
    }
  }

  // --- the newsletter: 500+ messages on Tuesday and Thursday mornings, from the list server
  const bulkSender = `newsletter@${DOMAIN}`;
  labels[bulkSender] = { label: 'bulk-allowlisted', compromised: false };
  const subscribers = Array.from({ length: 900 }, () => externalAddress(r));
  const listServer: Client = { ip: LISTS_IP, rdns: `lists.${DOMAIN}`, helo: `lists.${DOMAIN}`, kind: 'lan' };
  for (const [d, n] of [[1, 640], [3, 610]] as const) {
    let s = 0;
    for (let k = 0; k < n; k++) {
      if (k % 50 === 0) s = ++session;
      const t = at(d, 10, 0) + k * 7_000 + int(r, 0, 3000);
      const addr = subscribers[k % subscribers.length] ?? 'x@example.org';
      out.push({
        at: t, account: bulkSender, uid: 'newsletter', from: bulkSender, rcpts: [{ addr, local: false, outcome: outcomeFor(addr, true, false) }],
        client: listServer, webmail: false, session: s, size: int(r, 30_000, 60_000), subject: 'Campus newsletter, November', msgId: msgId(t),
      });
    }
  }

  // --- compromised accounts
  const spamRcpts = (n: number): Rcpt[] => Array.from({ length: n }, () => {
    const addr = `${pick(r, FIRST)}${int(r, 1, 9999)}@${pick(r, SPAM_DOMAINS)}`;
    return { addr, local: false, outcome: outcomeFor(addr, true, true) };
  });
  const spamFrom = (p: Person, t: number, client: Client, s: number, rcpts: Rcpt[], from = p.address): OutMsg => ({
    at: t, account: p.address, uid: p.uid, from, rcpts, client, webmail: false, session: s,
    size: int(r, 2000, 9000), subject: pick(r, SPAM_SUBJECTS), msgId: msgId(t, pick(r, SPAM_DOMAINS)),
  });
  const foreign = (net?: typeof FOREIGN_NETS[number]): Client => {
    for (;;) {
      const n = net ?? pick(r, FOREIGN_NETS);
      const ip = n.prefix.length === 2 ? `${n.prefix[0]}.${(n.prefix[1] ?? 0) + int(r, 0, 31)}.${int(r, 0, 255)}.${int(r, 1, 254)}` : `${n.prefix[0]}.${int(r, 0, 255)}.${int(r, 0, 255)}.${int(r, 1, 254)}`;
      if (usedIps.has(ip)) continue;
      usedIps.add(ip);
      return { ip, helo: chance(r, 0.5) ? 'ylmf-pc' : `[${ip}]`, kind: 'attacker' };
    }
  };

  // night-burst: Wednesday 02:00-03:30, ~220 messages of 3-10 recipients, ten per connection.
  {
    const p = people[iBurst] as Person;
    const c: Client = { ip: '45.95.147.231', helo: 'ylmf-pc', kind: 'attacker' };
    const n = 220;
    let s = 0;
    for (let k = 0; k < n; k++) {
      if (k % 10 === 0) s = ++session;
      out.push(spamFrom(p, at(2, 2, 0) + Math.floor((k * 90 * 60_000) / n) + int(r, 0, 9000), c, s, spamRcpts(int(r, 3, 10))));
    }
  }
  // forged-moderate: Tuesday and Wednesday, 20-40 a day, forged envelope senders, from the user's own home address.
  {
    const p = people[iForged] as Person;
    const forged = ['service@paypal-security.example.net', 'billing@amazon-payments.example.com', `president@${DOMAIN}`, 'no-reply@dhl-tracking.example.org', 'support@microsoft365-verify.example.com', `it-helpdesk@${DOMAIN}`];
    const home = p.homes[0] ?? p.pc;
    for (const d of [1, 2]) {
      const n = int(r, 20, 40);
      for (let k = 0; k < n; k++) {
        const t = at(d, 9, 0) + Math.floor(r() * 11 * HOUR);
        out.push(spamFrom(p, t, home, ++session, spamRcpts(int(r, 1, 3)), pick(r, forged)));
      }
    }
  }
  // slow-drip: Thursday 09:00-16:00, 2.5x the account's own expected count for those hours on top of it (3.5x in all).
  {
    const p = drip;
    const share = HOUR_WEIGHTS.slice(9, 16).reduce((a, b) => a + b, 0) / HOUR_TOTAL;
    const n = Math.round(2.5 * p.rate * share);
    for (let k = 0; k < n; k++) {
      const t = at(3, 9, 0) + Math.floor(((k + r()) * 7 * HOUR) / n);
      send(p, t, p.pc);
    }
  }
  // brute-then-send: Tuesday 12:55-14:05, ~350 failed logins from one address abroad (three per connection),
  // then a success and 50 messages from there over two hours.
  const fails: AuthFail[] = [];
  {
    const p = people[iBrute] as Person;
    const c: Client = { ip: '141.98.10.63', helo: 'User', kind: 'attacker' };
    const n = 350;
    let s = 0;
    for (let k = 0; k < n; k++) {
      if (k % 3 === 0) s = ++session;
      fails.push({ at: at(1, 12, 55) + k * 12_000 + int(r, 0, 4000), client: c, login: p.uid, exists: true, session: s });
    }
    const start = at(1, 14, 8);
    for (let k = 0; k < 50; k++) {
      out.push(spamFrom(p, start + Math.floor((k * 130 * 60_000) / 50) + int(r, 0, 60_000), c, ++session, spamRcpts(int(r, 1, 5))));
    }
  }
  // botnet-credential: Friday, 45 addresses in many countries, 2-4 messages each, 06:00-23:00.
  {
    const p = people[iBotnet] as Person;
    for (let k = 0; k < 45; k++) {
      const c = foreign();
      const t0 = at(4, 6, 0) + Math.floor(((k + r()) * 17 * HOUR) / 45);
      const m = int(r, 2, 4);
      for (let j = 0; j < m; j++) out.push(spamFrom(p, t0 + j * int(r, 20_000, 90_000), c, ++session, spamRcpts(int(r, 1, 3))));
    }
  }

  // --- failed logins: scanners guessing logins that do not exist, and users' typos
  const GUESSES = ['admin', 'info', 'test', 'office', 'sales', 'support', 'webmaster', 'postmaster', 'user', 'contact', 'mail', 'scanner', 'backup', 'noreply'];
  for (let d = 0; d < 7; d++) {
    const scanners = int(r, 15, 25);
    for (let k = 0; k < scanners; k++) {
      const c = foreign();
      const t0 = at(d, 0, 0) + Math.floor(r() * DAY);
      const attempts = int(r, 2, 12);
      let s = 0;
      for (let j = 0; j < attempts; j++) {
        if (j % 3 === 0) s = ++session;
        const guess = pick(r, GUESSES);
        // `office` is an alias, not an account: a login by that name does not exist either.
        fails.push({ at: t0 + j * int(r, 5_000, 40_000), client: c, login: chance(r, 0.5) ? `${guess}@${DOMAIN}` : guess, exists: false, session: s });
      }
    }
  }
  // Now and then a user mistypes the password once (about one user-day in sixty), then
  // sends: the failure comes from their own client just before the message.
  const typoDays = new Map<string, OutMsg>();
  for (const m of out) {
    if (m.webmail || m.client.kind === 'attacker' || m.account === bulkSender || labels[m.account]?.compromised === true) continue;
    const key = `${m.account} ${Math.floor((m.at - WEEK_START) / DAY)}`;
    if (!typoDays.has(key)) typoDays.set(key, m);
  }
  for (const m of typoDays.values()) {
    if (chance(r, 1 / 60)) fails.push({ at: m.at - int(r, 8_000, 40_000), client: m.client, login: m.uid, exists: true, session: ++session });
  }

  // --- inbound mail
  const inbound: InMsg[] = [];
  for (let d = 0; d < 7; d++) {
    const n = Math.round(people.length * (d >= 5 ? 0.6 : 1.6));
    for (let k = 0; k < n; k++) {
      const src = pick(r, INBOUND_SOURCES);
      const h = d >= 5 || chance(r, 0.2) ? int(r, 0, 23) : weighted(r, HOUR_CUM);
      const t = at(d, h, int(r, 0, 59), int(r, 0, 59)) + int(r, 0, 999);
      const k2 = chance(r, 0.85) ? 1 : int(r, 2, 4);
      const rcpts: Rcpt[] = [];
      for (let j = 0; j < k2; j++) {
        const to = pick(r, people).address;
        if (!rcpts.some((x) => x.addr === to)) rcpts.push({ addr: to, local: true, outcome: 'sent' });
      }
      const from = src.domain === 'shop.example.net' ? `news@${src.domain}` : `${pick(r, FIRST)}.${pick(r, LAST)}@${src.domain}`;
      inbound.push({ at: t, from, rcpts, client: src.relay(r), size: int(r, 2000, 200_000), subject: pick(r, SUBJECTS), msgId: msgId(t, src.domain) });
    }
  }

  out.sort((a, b) => a.at - b.at);
  inbound.sort((a, b) => a.at - b.at);
  fails.sort((a, b) => a.at - b.at);
  return { people, out, inbound, fails, labels, aliases, bulkSender, networks };

  function externalAddress(rr: Random): string {
    const d = pick(rr, EXTERNAL_DOMAINS);
    return chance(rr, 0.7) ? `${pick(rr, FIRST)}.${pick(rr, LAST)}@${d}` : `${pick(rr, FIRST)}${int(rr, 1, 99)}@${d}`;
  }
}
