/**
 * A deterministic synthetic Messaging Server MTA transaction log (`mail.log_current`),
 * LOG_FORMAT 1 (padded columns) or 4 (XML), with LOG_PROCESS, LOG_FILENAME,
 * LOG_MESSAGE_ID, LOG_USERNAME and LOG_CONNECTION=3: connection records (open,
 * SMTP AUTH, close), one `E` record per recipient, then dequeue records (`D` to the
 * store or a remote MX, `Q` deferred, `R` bounced). The mix: authenticated
 * submissions on tcp_submit, inbound mail on tcp_local, password guessing; two
 * accounts get hijacked and send spam bursts from foreign addresses. Stamps are UTC.
 */
import {
  ACCOUNT_COUNT, EXTERNAL_DOMAINS, FIRST, Interleaver, LOCAL_DOMAINS, SPAM_TARGET_DOMAINS,
  activeAccount, chance, externalAddress, hex, int, internetIp, makeAccounts, mulberry32, pick, reportedAccount, standardHijacks,
  type Account, type Hijack, type LogSource, type Random, type Step,
} from './world.js';
import { xmlAttr } from '../helpers/mta-entries.js';
import { MONTHS, pad2 } from './postfix-log.js';

export type MtaFormat = 1 | 4;

const SERVER_IP = '192.0.2.1';
const QUEUE_DIR = '/opt/sun/comms/messaging64/data/queue';

interface Connection {
  readonly channel: string;
  readonly process: string;
  readonly action: 'O' | 'U' | 'C';
  /** `TCP|local|port|remote|port`. */
  readonly transport: string;
  readonly application: string;
  readonly message?: string;
  readonly login?: string;
  readonly diagnostic?: string;
}

interface MessageRecord {
  readonly process: string;
  readonly srcChannel: string;
  /** '' for dequeue records: the destination column is blank. */
  readonly dstChannel: string;
  readonly entry: string;
  readonly size: number;
  readonly from: string;
  readonly origTo: string;
  readonly to: string;
  readonly file: string;
  readonly messageId: string;
  /** `*login` after SMTP AUTH, else the MTA's own account. */
  readonly username: string;
  /** `helo (rdns [ip])` of an enqueue. */
  readonly source?: string;
  /** Dequeue to a remote MX: remote host, transport and reply. */
  readonly remote?: { readonly host: string; readonly transport: string; readonly reply: string };
}

function classicStamp(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getUTCDate())}-${MONTHS[d.getUTCMonth()] ?? 'Jan'}-${d.getUTCFullYear()} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}.${pad2(Math.floor((ms % 1000) / 10))}`;
}

function isoStamp(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}.${pad2(Math.floor((ms % 1000) / 10))}`;
}

const col = (s: string): string => s.padEnd(12);

function renderConnection(format: MtaFormat, at: number, c: Connection): string {
  if (format === 4) {
    const attrs: [string, string | undefined][] = [
      ['ts', isoStamp(at)], ['no', 'mta1'], ['pi', c.process], ['sc', c.channel], ['dr', '+'], ['ac', c.action], ['tr', c.transport],
      ['ap', c.application], ['mi', c.message], ['us', c.login], ['di', c.diagnostic],
    ];
    return `<co ${attrs.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}="${xmlAttr(v ?? '')}"`).join(' ')}/>`;
  }
  const tail = [c.message, c.login, c.diagnostic].filter((x) => x !== undefined).join(' ');
  return `${classicStamp(at)} ${c.process} ${col(c.channel)} ${col('+')} ${c.action} ${c.transport} ${c.application}${tail ? ` ${tail}` : ''}`;
}

function renderMessage(format: MtaFormat, at: number, m: MessageRecord): string {
  if (format === 4) {
    const attrs: [string, string | undefined][] = [
      ['ts', isoStamp(at)], ['no', 'mta1'], ['pi', m.process], ['sc', m.srcChannel], ['dc', m.dstChannel || undefined], ['ac', m.entry],
      ['sz', String(m.size)], ['so', m.from], ['od', `rfc822;${m.origTo}`], ['de', m.to], ['fi', m.file], ['mi', `<${m.messageId}>`],
      ['us', m.username], ['ss', m.source],
      ['tr', m.remote?.transport], ['di', m.remote?.reply],
    ];
    return `<en ${attrs.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}="${xmlAttr(v ?? '')}"`).join(' ')}/>`;
  }
  const head = `${classicStamp(at)} ${m.process} ${col(m.srcChannel)} ${col(m.dstChannel)} ${m.entry} ${m.size} ${m.from} rfc822;${m.origTo} ${m.to} ${m.file} <${m.messageId}> ${m.username}`;
  if (m.source !== undefined) return `${head} ${m.source}`;
  if (m.remote !== undefined) return `${head} ${m.remote.host} dns;${m.remote.host} (${m.remote.transport}) (${m.remote.host} ESMTP) smtp;${m.remote.reply}`;
  return head;
}

interface SubmissionSpec {
  readonly account: Account;
  readonly from: string;
  readonly recipients: readonly string[];
  readonly clientIp: string;
  readonly helo: string;
  readonly spam: boolean;
}

export class MtaLogGenerator implements LogSource {
  private readonly rnd: Random;
  private readonly accounts: readonly Account[];
  private readonly hijacks: readonly Hijack[];
  private readonly lines: Interleaver;
  private pidSeq = 1;

  constructor(seed: number, private readonly format: MtaFormat) {
    this.rnd = mulberry32(seed);
    this.accounts = makeAccounts(this.rnd, ACCOUNT_COUNT);
    this.hijacks = standardHijacks(this.accounts);
    this.lines = new Interleaver(this.rnd, (progress) => this.startSession(progress));
  }

  get hijackedAccounts(): string[] {
    return this.hijacks.map((h) => reportedAccount(h.account));
  }

  next(progress: number): string {
    return this.lines.next(progress);
  }

  private startSession(progress: number): Step[] {
    const rnd = this.rnd;
    const hijack = this.hijacks.find((h) => progress >= h.from && progress < h.to);
    if (hijack !== undefined && chance(rnd, 0.4)) return this.spam(hijack);
    const guessed = this.hijacks.find((h) => h.guessingFrom !== undefined && progress >= h.guessingFrom && progress < h.from);
    if (guessed !== undefined && chance(rnd, 0.05)) return this.guessing(`${guessed.ipPrefix}.${int(rnd, 2, 254)}`, guessed.account.address);
    const r = rnd();
    if (r < 0.35) return this.normalSubmission();
    if (r < 0.9) return this.inbound();
    return this.guessing(internetIp(rnd), chance(rnd, 0.3) ? pick(rnd, this.accounts).address : `${pick(rnd, FIRST)}@${pick(rnd, LOCAL_DOMAINS)}`);
  }

  private process(): string {
    return `${int(this.rnd, 0x1000, 0xffff).toString(16)}.${(this.pidSeq++ & 0xfff).toString(16)}.${int(this.rnd, 1, 0xfff).toString(16)}`;
  }

  private file(channel: string): string {
    return `${QUEUE_DIR}/${channel}/${String(int(this.rnd, 0, 999)).padStart(3, '0')}/ZZ${hex(this.rnd, 12)}.00`;
  }

  private normalSubmission(): Step[] {
    const rnd = this.rnd;
    const account = activeAccount(rnd, this.accounts);
    const n = chance(rnd, 0.8) ? 1 : int(rnd, 2, 5);
    const recipients = Array.from({ length: n }, () => (chance(rnd, 0.2) ? activeAccount(rnd, this.accounts).address : pick(rnd, account.contacts)));
    const roaming = chance(rnd, 0.1);
    const clientIp = roaming ? internetIp(rnd) : account.homeIp;
    return this.submission({ account, from: account.address, recipients, clientIp, helo: roaming ? 'laptop' : account.homeName, spam: false });
  }

  private spam(h: Hijack): Step[] {
    const rnd = this.rnd;
    const recipients = Array.from({ length: int(rnd, 20, 60) }, () => `${pick(rnd, FIRST)}${int(rnd, 1, 9999)}@${pick(rnd, SPAM_TARGET_DOMAINS)}`);
    return this.submission({ account: h.account, from: h.envelopeFrom ?? h.account.address, recipients, clientIp: `${h.ipPrefix}.${int(rnd, 2, 254)}`, helo: 'User', spam: true });
  }

  /** SMTP AUTH on tcp_submit, one E record per recipient, then the dequeues. */
  private submission(s: SubmissionSpec): Step[] {
    const rnd = this.rnd;
    const f = this.format;
    const pid = this.process();
    const transport = `TCP|${SERVER_IP}|587|${s.clientIp}|${int(rnd, 1024, 65535)}`;
    const conn = (c: Omit<Connection, 'channel' | 'process' | 'transport'>): Step => (at) => [renderConnection(f, at, { channel: 'tcp_submit', process: pid, transport, ...c })];
    const size = s.spam ? int(rnd, 2, 9) : int(rnd, 1, 250);
    const messageId = `${hex(rnd, 14)}.${hex(rnd, 6)}@${s.spam ? 'localhost' : s.account.domain}`;
    const steps: Step[] = [
      conn({ action: 'O', application: 'SMTP' }),
      conn({
        action: 'U', application: 'SMTP/TLS-256-AES', message: 'Authentication successful - switched to channel tcp_submit',
        login: s.account.login, diagnostic: '235 2.7.0 LOGIN authentication successful.',
      }),
    ];
    const enqueues: MessageRecord[] = [];
    for (const to of s.recipients) {
      const local = (LOCAL_DOMAINS as readonly string[]).includes(to.slice(to.indexOf('@') + 1));
      const dst = local ? 'ims-ms' : 'tcp_local';
      enqueues.push({
        process: pid, srcChannel: 'tcp_submit', dstChannel: dst, entry: 'EEA', size, from: s.from, origTo: to,
        to: local ? `${to.slice(0, to.indexOf('@'))}@ims-ms-daemon` : to, file: this.file(dst), messageId,
        username: `*${s.account.login}`, source: `${s.helo} (${s.helo === 'User' ? '' : `${s.helo} `}[${s.clientIp}])`,
      });
    }
    // The E records of one message are written together, within the same second.
    steps.push((at) => enqueues.map((e, i) => renderMessage(f, at + i * 10, e)));
    steps.push(conn({ action: 'C', application: 'SMTP' }));
    for (const e of enqueues) steps.push(...this.dequeue(e, s.spam));
    return steps;
  }

  private dequeue(e: MessageRecord, spam: boolean): Step[] {
    const rnd = this.rnd;
    const f = this.format;
    const pid = this.process();
    const base = {
      process: pid, srcChannel: e.dstChannel, dstChannel: '', size: e.size, from: e.from, origTo: e.origTo, to: e.to,
      file: e.file, messageId: e.messageId, username: 'mailsrv',
    };
    if (e.dstChannel === 'ims-ms') return [(at) => [renderMessage(f, at, { ...base, entry: 'D' })]];
    const domain = e.to.slice(e.to.indexOf('@') + 1);
    const host = `mx${int(rnd, 0, 3)}.${domain}`;
    const transport = `TCP|${SERVER_IP}|${int(rnd, 30000, 60000)}|${internetIp(rnd)}|25`;
    const r = rnd();
    const sent: Step = (at) => [renderMessage(f, at, { ...base, entry: 'DE', remote: { host, transport, reply: `250 2.1.5 <${e.to}>... Recipient ok` } })];
    if (r < (spam ? 0.2 : 0.03)) {
      return [(at) => [renderMessage(f, at, { ...base, entry: 'R', remote: { host, transport, reply: `550 5.1.1 <${e.to}>... User unknown` } })]];
    }
    if (r < (spam ? 0.4 : 0.07)) {
      return [(at) => [renderMessage(f, at, { ...base, entry: 'Q', remote: { host, transport, reply: '451 4.7.1 Greylisted, try again later' } })], sent];
    }
    return [sent];
  }

  /** Mail from the internet for a local user, on tcp_local. */
  private inbound(): Step[] {
    const rnd = this.rnd;
    const f = this.format;
    const pid = this.process();
    const ip = internetIp(rnd);
    const transport = `TCP|${SERVER_IP}|25|${ip}|${int(rnd, 1024, 65535)}`;
    const to = activeAccount(rnd, this.accounts).address;
    const helo = `mail-${hex(rnd, 4).toLowerCase()}.${pick(rnd, EXTERNAL_DOMAINS)}`;
    const e: MessageRecord = {
      process: pid, srcChannel: 'tcp_local', dstChannel: 'ims-ms', entry: 'EE', size: int(rnd, 2, 400), from: externalAddress(rnd),
      origTo: to, to: `${to.slice(0, to.indexOf('@'))}@ims-ms-daemon`, file: this.file('ims-ms'),
      messageId: `${hex(rnd, 16).toLowerCase()}@${helo}`, username: 'mailsrv', source: `${helo} ([${ip}])`,
    };
    const conn = (action: 'O' | 'C'): Step => (at) => [renderConnection(f, at, { channel: 'tcp_local', process: pid, action, transport, application: 'SMTP' })];
    return [conn('O'), (at) => [renderMessage(f, at, e)], conn('C'), ...this.dequeue(e, false)];
  }

  /** Password guessing: failed SMTP AUTH attempts on one connection. */
  private guessing(ip: string, login: string): Step[] {
    const rnd = this.rnd;
    const f = this.format;
    const pid = this.process();
    const transport = `TCP|${SERVER_IP}|587|${ip}|${int(rnd, 1024, 65535)}`;
    const conn = (c: Omit<Connection, 'channel' | 'process' | 'transport'>): Step => (at) => [renderConnection(f, at, { channel: 'tcp_submit', process: pid, transport, ...c })];
    const steps: Step[] = [conn({ action: 'O', application: 'SMTP' })];
    for (let i = int(rnd, 1, 3); i > 0; i--) {
      steps.push(conn({ action: 'U', application: 'SMTP', message: 'Bad password', login, diagnostic: '535 5.7.8 Bad username or password (Authentication failed).' }));
    }
    steps.push(conn({ action: 'C', application: 'SMTP' }));
    return steps;
  }
}
