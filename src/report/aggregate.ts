/**
 * `sendwatch report`: per authenticated account over the scanned period, what it sent.
 * Pure: records in, rows out. Memory grows with accounts, their distinct client
 * addresses and recipient domains, and the hours of the period, never with messages;
 * each per-account set is capped (see the LIMIT constants) so a spam run to a million
 * domains cannot exhaust it.
 */
import { zoneOffset } from '../core/time.js';
import type { MailRecord } from '../core/types.js';

/** Distinct client addresses kept per account; beyond it they are counted as `clientsCapped`. */
export const CLIENT_LIMIT = 10_000;
/** Distinct recipient domains kept per account; recipients of further domains count as external. */
export const DOMAIN_LIMIT = 20_000;

/** Non-delivery results counted as bounces (a deferral is not one: it may still be delivered). */
const BOUNCE_STATUSES: ReadonlySet<string> = new Set(['bounced', 'failed', 'expired']);

export interface AccountRow {
  readonly account: string;
  readonly messages: number;
  readonly recipients: number;
  /** Recipients in an internal domain. internal + external may be less than recipients: some logs give only a count. */
  readonly internal: number;
  readonly external: number;
  readonly clients: number;
  /** true when more distinct client addresses were seen than CLIENT_LIMIT. */
  readonly clientsCapped: boolean;
  /** The client addresses, most messages first (at most 20). */
  readonly topClients: readonly string[];
  /** ISO country codes of the clients, when a country database told them; undefined: not known. */
  readonly countries: readonly string[] | undefined;
  readonly bounces: number;
  readonly authFailures: number;
  readonly firstAt: number;
  readonly lastAt: number;
  /** Start (epoch ms) of the clock hour with the most messages, and how many. */
  readonly busiestHour: number;
  readonly busiestHourMessages: number;
  /** Messages per hour of the day (0-23) in the report's zone. */
  readonly hourly: readonly number[];
}

export interface ReportTotals {
  readonly accounts: number;
  readonly messages: number;
  readonly recipients: number;
  readonly internal: number;
  readonly external: number;
  readonly clients: number;
  readonly bounces: number;
  readonly authFailures: number;
  readonly hourly: readonly number[];
  readonly firstAt: number | undefined;
  readonly lastAt: number | undefined;
}

export interface Report {
  readonly timezone: string;
  /** Rows sorted by messages, then recipients, then account; cut to `top`. */
  readonly rows: readonly AccountRow[];
  /** Over every account, not only the rows shown. */
  readonly totals: ReportTotals;
  readonly internalDomains: readonly string[];
  /** Whether a country database was available (else the countries column is `-`). */
  readonly countriesKnown: boolean;
}

export interface AggregateOptions {
  readonly timezone: string;
  /** Domains whose recipients are internal (besides the accounts' own domains). */
  readonly internalDomains: readonly string[];
  /** Only records in [since, until). */
  readonly since?: number | undefined;
  readonly until?: number | undefined;
  /** A country database, when one is configured: client address -> ISO code. */
  readonly countryOf?: ((ip: string) => string | undefined) | undefined;
}

interface Acc {
  messages: number;
  recipients: number;
  listed: Map<string, number>;
  unlistedExternal: number;
  clients: Map<string, number>;
  clientsCapped: boolean;
  bounces: number;
  authFailures: number;
  firstAt: number;
  lastAt: number;
  hours: Map<number, number>;
  hourly: number[];
}

const HOUR = 3_600_000;

function domainOf(addr: string): string {
  const at = addr.lastIndexOf('@');
  return at < 0 ? '' : addr.slice(at + 1).toLowerCase().replace(/>$/, '');
}

export class ReportAggregator {
  /** Every account seen; one that only failed to log in or only bounced makes no row. */
  private readonly accounts = new Map<string, Acc>();
  /** Internal domains: the configured ones and those of every account that sent. */
  private readonly domains = new Set<string>();

  constructor(private readonly o: AggregateOptions) {
    for (const d of o.internalDomains) this.domains.add(d.toLowerCase());
  }

  private acc(account: string): Acc {
    let a = this.accounts.get(account);
    if (!a) {
      a = {
        messages: 0, recipients: 0, listed: new Map(), unlistedExternal: 0, clients: new Map(), clientsCapped: false,
        bounces: 0, authFailures: 0, firstAt: Infinity, lastAt: -Infinity, hours: new Map(), hourly: new Array<number>(24).fill(0),
      };
      this.accounts.set(account, a);
    }
    return a;
  }

  readonly onRecord = (r: MailRecord): void => {
    if (this.o.since !== undefined && r.at < this.o.since) return;
    if (this.o.until !== undefined && r.at >= this.o.until) return;
    if (r.kind === 'submission') {
      const a = this.acc(r.account);
      const dom = domainOf(r.account);
      if (dom) this.domains.add(dom);
      a.messages++;
      a.recipients += Math.max(r.recipientCount, r.recipients.length);
      for (const rcpt of r.recipients) {
        const d = domainOf(rcpt);
        const n = a.listed.get(d);
        if (n !== undefined) a.listed.set(d, n + 1);
        else if (a.listed.size < DOMAIN_LIMIT) a.listed.set(d, 1);
        else a.unlistedExternal++;
      }
      if (r.clientIp !== undefined) {
        const n = a.clients.get(r.clientIp);
        if (n !== undefined) a.clients.set(r.clientIp, n + 1);
        else if (a.clients.size < CLIENT_LIMIT) a.clients.set(r.clientIp, 1);
        else a.clientsCapped = true;
      }
      if (r.at < a.firstAt) a.firstAt = r.at;
      if (r.at > a.lastAt) a.lastAt = r.at;
      const local = r.at + zoneOffset(this.o.timezone, r.at);
      const hourIndex = Math.floor(local / HOUR);
      a.hours.set(hourIndex, (a.hours.get(hourIndex) ?? 0) + 1);
      const hod = ((hourIndex % 24) + 24) % 24;
      a.hourly[hod] = (a.hourly[hod] ?? 0) + 1;
    } else if (r.kind === 'delivery') {
      if (r.account !== undefined && BOUNCE_STATUSES.has(r.status)) this.acc(r.account).bounces++;
    } else if (r.kind === 'auth-failure') {
      if (r.account !== undefined) this.acc(r.account).authFailures++;
    }
  };

  /** The report; `top` 0 means every account. */
  finish(top: number): Report {
    const internal = this.domains;
    const rows: AccountRow[] = [];
    for (const [account, a] of this.accounts) {
      if (a.messages === 0) continue;
      let inCount = 0;
      let exCount = a.unlistedExternal;
      for (const [d, n] of a.listed) {
        if (internal.has(d)) inCount += n;
        else exCount += n;
      }
      let busiest = 0;
      let busiestN = 0;
      for (const [h, n] of a.hours) {
        if (n > busiestN || (n === busiestN && h < busiest)) {
          busiest = h;
          busiestN = n;
        }
      }
      // The hour index is in local time: back to the instant that hour starts.
      const localStart = busiest * HOUR;
      const busiestAt = localStart - zoneOffset(this.o.timezone, localStart - zoneOffset(this.o.timezone, localStart));
      const clients = [...a.clients.entries()].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]));
      let countries: string[] | undefined;
      if (this.o.countryOf) {
        const set = new Set<string>();
        for (const [ip] of clients) {
          const c = this.o.countryOf(ip);
          if (c) set.add(c);
        }
        countries = [...set].sort();
      }
      rows.push({
        account, messages: a.messages, recipients: a.recipients, internal: inCount, external: exCount,
        clients: a.clients.size, clientsCapped: a.clientsCapped, topClients: clients.slice(0, 20).map(([ip]) => ip), countries,
        bounces: a.bounces, authFailures: a.authFailures, firstAt: a.firstAt, lastAt: a.lastAt,
        busiestHour: busiestAt, busiestHourMessages: busiestN, hourly: a.hourly,
      });
    }
    rows.sort((x, y) => y.messages - x.messages || y.recipients - x.recipients || x.account.localeCompare(y.account));
    const hourly = new Array<number>(24).fill(0);
    let firstAt: number | undefined;
    let lastAt: number | undefined;
    const sum = (k: 'messages' | 'recipients' | 'internal' | 'external' | 'clients' | 'bounces' | 'authFailures'): number => rows.reduce((s, r) => s + r[k], 0);
    for (const r of rows) {
      r.hourly.forEach((n, i) => (hourly[i] = (hourly[i] ?? 0) + n));
      if (firstAt === undefined || r.firstAt < firstAt) firstAt = r.firstAt;
      if (lastAt === undefined || r.lastAt > lastAt) lastAt = r.lastAt;
    }
    const distinctClients = new Set<string>();
    for (const a of this.accounts.values()) for (const ip of a.clients.keys()) distinctClients.add(ip);
    return {
      timezone: this.o.timezone,
      rows: top > 0 ? rows.slice(0, top) : rows,
      totals: {
        accounts: rows.length, messages: sum('messages'), recipients: sum('recipients'), internal: sum('internal'),
        external: sum('external'), clients: distinctClients.size, bounces: sum('bounces'), authFailures: sum('authFailures'),
        hourly, firstAt, lastAt,
      },
      internalDomains: [...internal].sort(),
      countriesKnown: this.o.countryOf !== undefined,
    };
  }
}
