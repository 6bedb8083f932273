/**
 * A deterministic synthetic Postfix maillog for benchmarks: the same seed always gives
 * the same lines.
 *
 * What is in it, and why: the line mix of a real multi-host setup, because the
 * scanner's cost is dominated by the lines it must recognise and throw away, not by
 * the few it keeps. Four hosts (two MX with postscreen, two submission servers, one
 * of them writing RFC 3339 stamps with long queue ids and an amavis re-queue), about
 * 4,000 accounts with skewed activity, transactions interleaved as concurrent
 * connections interleave them, night-time lulls, and the background noise of the
 * internet: postscreen and DNSBL hits, relay attempts, SASL password guessing,
 * anvil, tlsproxy, dovecot logins. Two accounts get hijacked part-way through and
 * send spam bursts from foreign addresses, so the rules have something to find.
 */
import {
  ACCOUNT_COUNT, CONCURRENCY, EXTERNAL_DOMAINS, FIRST, LOCAL_DOMAINS, MEAN_LINE_GAP_MS, SPAM_TARGET_DOMAINS, START_MS,
  activeAccount, chance, reportedAccount, externalAddress, hex, int, internetIp, makeAccounts, mulberry32, pick, standardHijacks,
  type Account, type Hijack, type LogSource, type Random,
} from './world.js';

/** Postfix long queue ids use this alphabet (no vowels). */
const LONG_ID_ALPHABET = '0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz';

function queueId(rnd: Random, long: boolean): string {
  if (!long) return hex(rnd, int(rnd, 10, 11));
  let s = '4';
  for (let i = 0; i < 14; i++) s += LONG_ID_ALPHABET.charAt(Math.floor(rnd() * LONG_ID_ALPHABET.length));
  return s;
}

// ---------------------------------------------------------------------------
// The world: hosts, accounts, outside parties

interface Host {
  readonly name: string;
  readonly role: 'mx' | 'submission';
  readonly rfc3339: boolean;
  readonly longQueueIds: boolean;
  /** Passes mail through amavis on 127.0.0.1:10024, which re-queues it under a new id. */
  readonly amavis: boolean;
  readonly ip: string;
  readonly qmgrPid: number;
}

const HOSTS: readonly Host[] = [
  { name: 'mx1', role: 'mx', rfc3339: false, longQueueIds: false, amavis: false, ip: '192.0.2.25', qmgrPid: 1187 },
  { name: 'mx2', role: 'mx', rfc3339: false, longQueueIds: false, amavis: false, ip: '192.0.2.26', qmgrPid: 1202 },
  { name: 'smtp1', role: 'submission', rfc3339: true, longQueueIds: true, amavis: true, ip: '192.0.2.30', qmgrPid: 3163066 },
  { name: 'smtp2', role: 'submission', rfc3339: false, longQueueIds: false, amavis: false, ip: '192.0.2.31', qmgrPid: 2241 },
];

const HOSTS_BY_ROLE: Readonly<Record<Host['role'], readonly Host[]>> = {
  mx: HOSTS.filter((h) => h.role === 'mx'),
  submission: HOSTS.filter((h) => h.role === 'submission'),
};

const DNSBLS = ['zen.spamhaus.org', 'bl.spamcop.net', 'b.barracudacentral.org'] as const;
const CIPHER = 'TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256';

// ---------------------------------------------------------------------------
// Time stamps

export const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

export function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `Mar  4 08:00:01`: the classic syslog stamp, without a year. */
export function rfc3164(ms: number): string {
  const d = new Date(ms);
  const day = d.getUTCDate();
  return `${MONTHS[d.getUTCMonth()] ?? 'Jan'} ${day < 10 ? ` ${day}` : day} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
}

/** `2024-03-04T08:00:01.123456+00:00`: rsyslog's high-precision format. */
export function rfc3339(ms: number, micros: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}.${String(micros).padStart(6, '0')}+00:00`;
}

/** Both stamps for the current second, formatted once per second rather than per line. */
class StampCache {
  private second = -1;
  private classic = '';
  private iso = '';

  stamp(ms: number, host: Host): string {
    const second = Math.floor(ms / 1000);
    if (second !== this.second) {
      this.second = second;
      this.classic = rfc3164(ms);
      this.iso = rfc3339(ms, 0).slice(0, 19);
    }
    return host.rfc3339 ? `${this.iso}.${String(Math.floor((ms % 1000) * 1000)).padStart(6, '0')}+00:00` : this.classic;
  }
}

// ---------------------------------------------------------------------------
// Transactions: each is the list of lines one connection writes, minus the header

/** One line without its stamp and host: `program[pid]: message`. */
type Step = string;

interface Transaction {
  readonly host: Host;
  readonly steps: readonly Step[];
  next: number;
}

/** Postfix prints delays as short decimals: 0.52, 5.4, 0. */
function seconds(x: number): string {
  if (x < 0.005) return '0';
  return x < 10 ? String(Math.round(x * 100) / 100) : String(Math.round(x * 10) / 10);
}

function delayFields(rnd: Random, slow: boolean): string {
  const parts = [rnd() * 0.1, rnd() * 0.02, rnd() * 0.1, slow ? rnd() * 30 : rnd() * 1.5];
  const total = parts.reduce((a, b) => a + b, 0);
  return `delay=${seconds(total)}, delays=${parts.map(seconds).join('/')}`;
}

type Outcome = 'sent' | 'deferred' | 'bounced';

function outcome(rnd: Random, spam: boolean): Outcome {
  const r = rnd();
  if (r < (spam ? 0.2 : 0.03)) return 'bounced';
  if (r < (spam ? 0.4 : 0.07)) return 'deferred';
  return 'sent';
}

function deliveryStep(rnd: Random, qid: string, to: string, spam: boolean): Step {
  const domain = to.slice(to.indexOf('@') + 1);
  if ((LOCAL_DOMAINS as readonly string[]).includes(domain)) {
    return `postfix/lmtp[${int(rnd, 2000, 99999)}]: ${qid}: to=<${to}>, relay=imap.example.org[private/dovecot-lmtp], ${delayFields(rnd, false)}, dsn=2.0.0, status=sent (250 2.0.0 <${to}> ${hex(rnd, 8).toLowerCase()} Saved)`;
  }
  const pid = int(rnd, 2000, 99999);
  const mx = `mx${int(rnd, 0, 3)}.${domain}`;
  const mxIp = internetIp(rnd);
  switch (outcome(rnd, spam)) {
    case 'sent':
      return `postfix/smtp[${pid}]: ${qid}: to=<${to}>, relay=${mx}[${mxIp}]:25, ${delayFields(rnd, false)}, dsn=2.0.0, status=sent (250 2.0.0 OK ${int(rnd, 1e9, 2e9)} ${hex(rnd, 6).toLowerCase()} - gsmtp)`;
    case 'deferred':
      return `postfix/smtp[${pid}]: ${qid}: to=<${to}>, relay=none, ${delayFields(rnd, true)}, dsn=4.4.1, status=deferred (connect to ${mx}[${mxIp}]:25: Connection timed out)`;
    case 'bounced':
      return `postfix/smtp[${pid}]: ${qid}: to=<${to}>, relay=${mx}[${mxIp}]:25, ${delayFields(rnd, false)}, dsn=5.1.1, status=bounced (host ${mx}[${mxIp}] said: 550 5.1.1 <${to}>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command))`;
  }
}

interface SubmissionSpec {
  readonly account: Account;
  readonly clientIp: string;
  readonly clientName: string;
  readonly envelopeFrom: string;
  readonly recipients: readonly string[];
  readonly spam: boolean;
}

/** An authenticated client hands over one message: the transaction the scanner counts. */
function submission(rnd: Random, host: Host, s: SubmissionSpec): Step[] {
  const smtpd = `postfix/submission/smtpd[${int(rnd, 1000, 4000000)}]`;
  const cleanup = `postfix/cleanup[${int(rnd, 1000, 4000000)}]`;
  const qmgr = `postfix/qmgr[${host.qmgrPid}]`;
  const client = `${s.clientName}[${s.clientIp}]`;
  const qid = queueId(rnd, host.longQueueIds);
  const messageId = `${hex(rnd, 14)}.${hex(rnd, 6)}@${s.spam ? 'localhost' : s.account.domain}`;
  const size = s.spam ? int(rnd, 2000, 9000) : int(rnd, 900, 250000);
  const n = s.recipients.length;
  const steps: Step[] = [
    `${smtpd}: connect from ${client}`,
    `${smtpd}: Anonymous TLS connection established from ${client}: ${CIPHER}`,
    `${smtpd}: ${qid}: client=${client}, sasl_method=${chance(rnd, 0.8) ? 'PLAIN' : 'LOGIN'}, sasl_username=${s.account.login}`,
    `${cleanup}: ${qid}: message-id=<${messageId}>`,
  ];
  if (chance(rnd, 0.3)) steps.push(`opendkim[${int(rnd, 500, 900)}]: ${qid}: DKIM-Signature field added (s=mail, d=${s.account.domain})`);
  steps.push(
    `${qmgr}: ${qid}: from=<${s.envelopeFrom}>, size=${size}, nrcpt=${n} (queue active)`,
    `${smtpd}: disconnect from ${client} ehlo=2 starttls=1 auth=1 mail=1 rcpt=${n} data=1 quit=1 commands=${7 + n}`,
  );
  if (!host.amavis) {
    for (const to of s.recipients) steps.push(deliveryStep(rnd, qid, to, s.spam));
    steps.push(`${qmgr}: ${qid}: removed`);
    return steps;
  }
  // Content filter: the message comes back from amavis under a second queue id.
  const requeued = queueId(rnd, true);
  const amavisPid = int(rnd, 200000, 300000);
  steps.push(
    `amavis[${amavisPid}]: (${amavisPid}-${int(rnd, 1, 99)}) Passed CLEAN {RelayedOutbound}, ORIGINATING LOCAL [${s.clientIp}]:${int(rnd, 1024, 65535)} [${s.clientIp}] <${s.envelopeFrom}> -> ${s.recipients.map((r) => `<${r}>`).join(',')}, Queue-ID: ${qid}, Message-ID: <${messageId}>, mail_id: ${hex(rnd, 12)}, Hits: ${(rnd() * 4 - 2).toFixed(3)}, size: ${size}, queued_as: ${requeued}, ${int(rnd, 100, 6000)} ms`,
  );
  const relayPid = int(rnd, 1000, 4000000);
  for (const to of s.recipients) {
    steps.push(`postfix/amavis/smtp[${relayPid}]: ${qid}: to=<${to}>, relay=127.0.0.1[127.0.0.1]:10024, ${delayFields(rnd, false)}, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as ${requeued})`);
  }
  const reinject = `postfix/10025/smtpd[${int(rnd, 1000, 4000000)}]`;
  steps.push(
    `${reinject}: connect from localhost[127.0.0.1]`,
    `${reinject}: ${requeued}: client=localhost[127.0.0.1]`,
    `${cleanup}: ${requeued}: message-id=<${messageId}>`,
    `${qmgr}: ${requeued}: from=<${s.envelopeFrom}>, size=${size + int(rnd, 600, 1500)}, nrcpt=${n} (queue active)`,
    `${reinject}: disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=${n} data=1 quit=1 commands=${4 + n}`,
    `${qmgr}: ${qid}: removed`,
  );
  for (const to of s.recipients) steps.push(deliveryStep(rnd, requeued, to, s.spam));
  steps.push(`${qmgr}: ${requeued}: removed`);
  return steps;
}

/** Mail from the internet to a local user, past postscreen. */
function inbound(rnd: Random, host: Host, to: Account): Step[] {
  const ip = internetIp(rnd);
  const port = int(rnd, 1024, 65535);
  const postscreen = `postfix/postscreen[${int(rnd, 1000, 99999)}]`;
  const smtpd = `postfix/smtpd[${int(rnd, 1000, 4000000)}]`;
  const name = chance(rnd, 0.7) ? `mail-${hex(rnd, 4).toLowerCase()}.${pick(rnd, EXTERNAL_DOMAINS)}` : 'unknown';
  const client = `${name}[${ip}]`;
  const qid = queueId(rnd, host.longQueueIds);
  const steps: Step[] = [
    `${postscreen}: CONNECT from [${ip}]:${port} to [${host.ip}]:25`,
    `${postscreen}: PASS ${chance(rnd, 0.8) ? 'OLD' : 'NEW'} [${ip}]:${port}`,
    `${smtpd}: connect from ${client}`,
  ];
  if (chance(rnd, 0.6)) steps.push(`${smtpd}: Anonymous TLS connection established from ${client}: ${CIPHER}`);
  steps.push(
    `${smtpd}: ${qid}: client=${client}`,
    `postfix/cleanup[${int(rnd, 1000, 99999)}]: ${qid}: message-id=<${hex(rnd, 16).toLowerCase()}@${name === 'unknown' ? 'mail.example' : name}>`,
    `postfix/qmgr[${host.qmgrPid}]: ${qid}: from=<${externalAddress(rnd)}>, size=${int(rnd, 1500, 400000)}, nrcpt=1 (queue active)`,
    `${smtpd}: disconnect from ${client} ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7`,
    deliveryStep(rnd, qid, to.address, false),
    `postfix/qmgr[${host.qmgrPid}]: ${qid}: removed`,
  );
  return steps;
}

/** A listed bot turned away by postscreen. */
function postscreenReject(rnd: Random, host: Host): Step[] {
  const ip = internetIp(rnd);
  const port = int(rnd, 1024, 65535);
  const ps = `postfix/postscreen[${int(rnd, 1000, 99999)}]`;
  const list = pick(rnd, DNSBLS);
  return [
    `${ps}: CONNECT from [${ip}]:${port} to [${host.ip}]:25`,
    `postfix/dnsblog[${int(rnd, 1000, 99999)}]: addr ${ip} listed by domain ${list} as 127.0.0.${int(rnd, 2, 11)}`,
    `${ps}: DNSBL rank ${int(rnd, 2, 6)} for [${ip}]:${port}`,
    chance(rnd, 0.5)
      ? `${ps}: NOQUEUE: reject: RCPT from [${ip}]:${port}: 550 5.7.1 Service unavailable; client [${ip}] blocked using ${list}; from=<${externalAddress(rnd)}>, to=<${pick(rnd, FIRST)}@${pick(rnd, LOCAL_DOMAINS)}>, proto=ESMTP, helo=<${hex(rnd, 8).toLowerCase()}.com>`
      : `${ps}: PREGREET 11 after 0.${int(rnd, 10, 99)} from [${ip}]:${port}: EHLO User\\r\\n`,
    `${ps}: DISCONNECT [${ip}]:${port}`,
  ];
}

/** An open-relay probe. */
function relayReject(rnd: Random): Step[] {
  const ip = internetIp(rnd);
  const smtpd = `postfix/smtpd[${int(rnd, 1000, 4000000)}]`;
  const victim = `${pick(rnd, FIRST)}@${pick(rnd, SPAM_TARGET_DOMAINS)}`;
  return [
    `${smtpd}: connect from unknown[${ip}]`,
    `${smtpd}: NOQUEUE: reject: RCPT from unknown[${ip}]: 454 4.7.1 <${victim}>: Relay access denied; from=<spameri@tiscali.it> to=<${victim}> proto=ESMTP helo=<WIN-${hex(rnd, 11)}>`,
    `${smtpd}: disconnect from unknown[${ip}] ehlo=1 mail=1 rcpt=0/1 rset=1 quit=1 commands=4/5`,
  ];
}

/** Password guessing on the submission port. */
function saslFailure(rnd: Random, ip: string, login: string | undefined): Step[] {
  const smtpd = `postfix/submission/smtpd[${int(rnd, 1000, 4000000)}]`;
  const attempts = int(rnd, 1, 3);
  const steps: Step[] = [`${smtpd}: connect from unknown[${ip}]`];
  for (let i = 0; i < attempts; i++) {
    steps.push(
      login === undefined
        ? `${smtpd}: warning: unknown[${ip}]: SASL LOGIN authentication failed: UGFzc3dvcmQ6`
        : `${smtpd}: warning: unknown[${ip}]: SASL PLAIN authentication failed: authentication failure, sasl_username=${login}`,
    );
  }
  steps.push(
    `${smtpd}: lost connection after AUTH from unknown[${ip}]`,
    `${smtpd}: disconnect from unknown[${ip}] ehlo=1 auth=0/${attempts} commands=1/${attempts + 1}`,
  );
  return steps;
}

function dovecotLogin(rnd: Random, account: Account): Step[] {
  const service = chance(rnd, 0.85) ? 'imap' : 'pop3';
  return [
    `dovecot[${int(rnd, 800, 1200)}]: ${service}-login: Login: user=<${account.address}>, method=PLAIN, rip=${account.homeIp}, lip=192.0.2.40, mpid=${int(rnd, 10000, 99999)}, TLS, session=<${hex(rnd, 16).toLowerCase()}>`,
  ];
}

function miscNoise(rnd: Random, host: Host, stamp: string): Step[] {
  const ip = internetIp(rnd);
  const pid = int(rnd, 1000, 4000000);
  switch (int(rnd, 0, 5)) {
    case 0:
      return [`postfix/anvil[${int(rnd, 1000, 99999)}]: statistics: max connection rate ${int(rnd, 1, 9)}/60s for (smtp:${ip}) at ${stamp}`];
    case 1:
      return [`postfix/anvil[${int(rnd, 1000, 99999)}]: statistics: max cache size ${int(rnd, 1, 40)} at ${stamp}`];
    case 2: {
      const port = int(rnd, 1024, 65535);
      return [`postfix/tlsproxy[${pid}]: CONNECT from [${ip}]:${port}`, `postfix/tlsproxy[${pid}]: DISCONNECT [${ip}]:${port}`];
    }
    case 3:
      return [
        `postfix/smtpd[${pid}]: warning: hostname ${hex(rnd, 6).toLowerCase()}.example.invalid does not resolve to address ${ip}: Name or service not known`,
        `postfix/smtpd[${pid}]: connect from unknown[${ip}]`,
        `postfix/smtpd[${pid}]: lost connection after CONNECT from unknown[${ip}]`,
        `postfix/smtpd[${pid}]: disconnect from unknown[${ip}] commands=0/0`,
      ];
    case 4:
      return [`postfix/smtpd[${pid}]: warning: non-SMTP command from unknown[${ip}]: GET / HTTP/1.1`];
    default:
      return [`postfix/${host.role === 'mx' ? 'smtpd' : 'submission/smtpd'}[${pid}]: warning: TLS library problem: error:0A000126:SSL routines::unexpected eof while reading:../ssl/record/rec_layer_s3.c:${int(rnd, 300, 700)}:`];
  }
}

// ---------------------------------------------------------------------------
// The stream of lines

/** An endless, deterministic maillog. `progress` (0..1) places the hijacks in the file. */
export class PostfixLogGenerator implements LogSource {
  private readonly rnd: Random;
  private readonly accounts: readonly Account[];
  private readonly hijacks: readonly Hijack[];
  private readonly stamps = new StampCache();
  private readonly open: Transaction[] = [];
  private now = START_MS;

  constructor(seed: number, accountCount = ACCOUNT_COUNT) {
    this.rnd = mulberry32(seed);
    this.accounts = makeAccounts(this.rnd, accountCount);
    this.hijacks = standardHijacks(this.accounts);
  }

  get hijackedAccounts(): string[] {
    return this.hijacks.map((h) => reportedAccount(h.account));
  }

  /** The next line, without its newline. */
  next(progress: number): string {
    while (this.open.length < CONCURRENCY) this.open.push(this.startTransaction(progress));
    const index = Math.floor(this.rnd() * this.open.length);
    const t = this.open[index];
    if (t === undefined) throw new Error('no open transaction');
    const step = t.steps[t.next++];
    if (t.next >= t.steps.length) this.open.splice(index, 1);
    this.advanceClock();
    return `${this.stamps.stamp(this.now, t.host)} ${t.host.name} ${step ?? ''}`;
  }

  /** Exponential gaps, slower between 00:00 and 06:00. */
  private advanceClock(): void {
    const hour = new Date(this.now).getUTCHours();
    const mean = hour < 6 ? MEAN_LINE_GAP_MS * 4 : MEAN_LINE_GAP_MS;
    this.now += -Math.log(1 - this.rnd()) * mean;
  }

  private activeAccount(): Account {
    return activeAccount(this.rnd, this.accounts);
  }

  private startTransaction(progress: number): Transaction {
    const rnd = this.rnd;
    const hijack = this.hijacks.find((h) => progress >= h.from && progress < h.to);
    if (hijack !== undefined && chance(rnd, 0.4)) return this.spam(hijack);
    const guessed = this.hijacks.find((h) => h.guessingFrom !== undefined && progress >= h.guessingFrom && progress < h.from);
    if (guessed !== undefined && chance(rnd, 0.05)) {
      return this.on('submission', saslFailure(rnd, `${guessed.ipPrefix}.${int(rnd, 2, 254)}`, guessed.account.address));
    }
    const r = rnd();
    if (r < 0.3) return this.normalSubmission();
    if (r < 0.6) return this.on('mx', (host) => inbound(rnd, host, this.activeAccount()));
    if (r < 0.72) return this.on('mx', (host) => postscreenReject(rnd, host));
    if (r < 0.78) return this.on('mx', relayReject(rnd));
    if (r < 0.86) return this.on('submission', saslFailure(rnd, internetIp(rnd), chance(rnd, 0.3) ? pick(rnd, this.accounts).address : undefined));
    if (r < 0.94) return this.on('submission', dovecotLogin(rnd, this.activeAccount()));
    return this.on(chance(rnd, 0.5) ? 'mx' : 'submission', (host) => miscNoise(rnd, host, rfc3164(this.now)));
  }

  private normalSubmission(): Transaction {
    const rnd = this.rnd;
    const account = this.activeAccount();
    const n = chance(rnd, 0.8) ? 1 : int(rnd, 2, 5);
    const recipients = Array.from({ length: n }, () => (chance(rnd, 0.2) ? this.activeAccount().address : pick(rnd, account.contacts)));
    const roaming = chance(rnd, 0.1);
    return this.on('submission', (host) =>
      submission(rnd, host, {
        account,
        clientIp: roaming ? internetIp(rnd) : account.homeIp,
        clientName: roaming ? 'unknown' : account.homeName,
        envelopeFrom: account.address,
        recipients,
        spam: false,
      }),
    );
  }

  private spam(h: Hijack): Transaction {
    const rnd = this.rnd;
    const recipients = Array.from({ length: int(rnd, 20, 60) }, () => `${pick(rnd, FIRST)}${int(rnd, 1, 9999)}@${pick(rnd, SPAM_TARGET_DOMAINS)}`);
    return this.on('submission', (host) =>
      submission(rnd, host, {
        account: h.account,
        clientIp: `${h.ipPrefix}.${int(rnd, 2, 254)}`,
        clientName: 'unknown',
        envelopeFrom: h.envelopeFrom ?? h.account.address,
        recipients,
        spam: true,
      }),
    );
  }

  private on(role: Host['role'], steps: Step[] | ((host: Host) => Step[])): Transaction {
    const host = pick(this.rnd, HOSTS_BY_ROLE[role]);
    return { host, steps: typeof steps === 'function' ? steps(host) : steps, next: 0 };
  }
}

