/**
 * A deterministic synthetic Kerio Connect `mail.log`: one `Recv:` line per recipient
 * as a message is queued (all within its second), then a `Sent:` line per delivery
 * attempt. Server local time is Europe/Berlin (UTC+1 in March, no DST in the range), and
 * Queue-IDs carry the UTC queueing time, as Kerio writes them. The mix: authenticated
 * submissions from mail clients (home address) and webmail (Sender-Host 0.0.0.0),
 * inbound mail for local users, the server's DSNs, deferred and failed deliveries;
 * two accounts get hijacked and send spam bursts from foreign addresses.
 */
import {
  ACCOUNT_COUNT, FIRST, Interleaver, LOCAL_DOMAINS, SPAM_TARGET_DOMAINS,
  activeAccount, chance, externalAddress, hex, int, internetIp, makeAccounts, mulberry32, pick, reportedAccount, standardHijacks,
  type Account, type Hijack, type LogSource, type Random, type Step,
} from './world.js';
import { MONTHS, pad2 } from './postfix-log.js';

const OFFSET_MS = 3600_000;
const SUBJECTS = [
  'Re: invoice 2024-03', 'Minutes of Monday', 'Fwd: travel plans, hotel, flights', 'Quarterly report', 'Lunch?',
  'Re: Re: contract draft v3', 'Meeting moved to 14:00', 'Your order, payment and delivery', 'AW: Angebot', 'Holiday schedule',
] as const;
const SPAM_SUBJECTS = ['Urgent: verify your account', 'Invoice overdue - payment required', 'You have (1) new voicemail'] as const;

/** `[04/Mar/2024 09:00:05]` in server local time. */
function kerioStamp(utcMs: number): string {
  const d = new Date(utcMs + OFFSET_MS);
  return `[${pad2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()] ?? 'Jan'}/${d.getUTCFullYear()} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}]`;
}

/** The per-message facts a Recv step fixes and later Sent steps repeat. */
interface Queued {
  queueId: string;
}

type Result = 'delivered' | 'relayed' | 'deferred' | 'failed';

interface MessageSpec {
  readonly service: string;
  readonly from: string;
  readonly recipients: readonly string[];
  readonly senderHost: string;
  readonly user: string | undefined;
  readonly subject: string;
  readonly spam: boolean;
}

export class KerioLogGenerator implements LogSource {
  private readonly rnd: Random;
  private readonly accounts: readonly Account[];
  private readonly hijacks: readonly Hijack[];
  private readonly lines: Interleaver;
  private counter = 0x1000;

  constructor(seed: number) {
    this.rnd = mulberry32(seed);
    this.accounts = makeAccounts(this.rnd, ACCOUNT_COUNT);
    this.hijacks = standardHijacks(this.accounts);
    this.lines = new Interleaver(this.rnd, (progress) => this.startMessage(progress));
  }

  get hijackedAccounts(): string[] {
    return this.hijacks.map((h) => reportedAccount(h.account));
  }

  next(progress: number): string {
    return this.lines.next(progress);
  }

  private startMessage(progress: number): Step[] {
    const rnd = this.rnd;
    const hijack = this.hijacks.find((h) => progress >= h.from && progress < h.to);
    if (hijack !== undefined && chance(rnd, 0.4)) return this.spam(hijack);
    const r = rnd();
    if (r < 0.4) return this.submission();
    if (r < 0.93) return this.inbound();
    return this.dsn();
  }

  private submission(): Step[] {
    const rnd = this.rnd;
    const account = activeAccount(rnd, this.accounts);
    const n = chance(rnd, 0.8) ? 1 : int(rnd, 2, 5);
    const recipients = Array.from({ length: n }, () => (chance(rnd, 0.2) ? activeAccount(rnd, this.accounts).address : pick(rnd, account.contacts)));
    const webmail = chance(rnd, 0.25);
    const roaming = !webmail && chance(rnd, 0.1);
    return this.message({
      service: webmail ? 'Kerio Connect Client' : 'SMTP', from: account.address, recipients,
      senderHost: webmail ? '0.0.0.0' : roaming ? internetIp(rnd) : account.homeIp, user: account.login,
      subject: pick(rnd, SUBJECTS), spam: false,
    });
  }

  private spam(h: Hijack): Step[] {
    const rnd = this.rnd;
    const recipients = Array.from({ length: int(rnd, 20, 60) }, () => `${pick(rnd, FIRST)}${int(rnd, 1, 9999)}@${pick(rnd, SPAM_TARGET_DOMAINS)}`);
    return this.message({
      service: 'SMTP', from: h.envelopeFrom ?? h.account.address, recipients, senderHost: `${h.ipPrefix}.${int(rnd, 2, 254)}`,
      user: h.account.login, subject: pick(rnd, SPAM_SUBJECTS), spam: true,
    });
  }

  private inbound(): Step[] {
    const rnd = this.rnd;
    return this.message({
      service: 'SMTP', from: externalAddress(rnd), recipients: [activeAccount(rnd, this.accounts).address],
      senderHost: internetIp(rnd), user: undefined, subject: pick(rnd, SUBJECTS), spam: false,
    });
  }

  private dsn(): Step[] {
    const rnd = this.rnd;
    return this.message({
      service: 'DSN', from: '', recipients: [activeAccount(rnd, this.accounts).address], senderHost: '127.0.0.1',
      user: undefined, subject: 'Undelivered mail returned to sender', spam: false,
    });
  }

  /** The Recv lines at once, then one Sent step per recipient (some deferred, then retried). */
  private message(m: MessageSpec): Step[] {
    const rnd = this.rnd;
    const q: Queued = { queueId: '' };
    const size = m.spam ? int(rnd, 2000, 9000) : int(rnd, 900, 250000);
    const domain = m.from.slice(m.from.indexOf('@') + 1) || 'mail.example.org';
    const msgId = `${hex(rnd, 12).toLowerCase()}-${int(rnd, 1000, 9999)}@${m.spam ? 'localhost' : domain}`;
    const ssl = m.user !== undefined || chance(rnd, 0.7) ? 'yes' : 'no';
    const serial = this.counter++;
    const recv: Step = (now) => {
      q.queueId = `${Math.floor(now / 1000).toString(16)}-${serial.toString(16).padStart(8, '0')}`;
      const stamp = kerioStamp(now);
      return m.recipients.map((to) =>
        `${stamp} Recv: Queue-ID: ${q.queueId}, Service: ${m.service}, From: <${m.from}>, To: <${to}>, Size: ${size}, Sender-Host: ${m.senderHost}, ${m.user !== undefined ? `User: ${m.user}, ` : ''}SSL: ${ssl}, Subject: ${m.subject}, Msg-Id: <${msgId}>`);
    };
    const steps: Step[] = [recv];
    for (const to of m.recipients) {
      const local = (LOCAL_DOMAINS as readonly string[]).includes(to.slice(to.indexOf('@') + 1));
      const remote = local ? '127.0.0.1' : `mx${int(rnd, 0, 3)}.${to.slice(to.indexOf('@') + 1)}`;
      const r = rnd();
      const results: [Result, string][] = local ? [['delivered', '2.0.0']]
        : r < (m.spam ? 0.2 : 0.03) ? [['failed', '5.1.1']]
          : r < (m.spam ? 0.4 : 0.07) ? [['deferred', '4.4.1'], ['relayed', '2.0.0']]
            : [['relayed', '2.0.0']];
      for (const [result, status] of results) {
        steps.push((now) => [`${kerioStamp(now)} Sent: Queue-ID: ${q.queueId}, Recipient: <${to}>, Result: ${result}, Status: ${status} , Remote-Host: ${remote}, Msg-Id: <${msgId}>`]);
      }
    }
    return steps;
  }
}
