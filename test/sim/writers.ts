/**
 * Turn a simulated site-week into the lines each mail server would have logged:
 * Postfix (rsyslog RFC 3339 stamps), Kerio Connect (mail.log and security.log lines in
 * one file: both share the `[DD/Mon/YYYY HH:MM:SS]` prefix) and the Messaging Server
 * MTA transaction log (LOG_FORMAT=1 or 4 with LOG_PROCESS, LOG_FILENAME,
 * LOG_MESSAGE_ID, LOG_USERNAME and LOG_CONNECTION=35: `[ip]` source systems, O/C/U
 * connection records with the TCP transport). Line shapes follow
 * test/scenarios/make-fixtures.ts and the grammars in shared/reference/log-formats.md.
 *
 * Each writer returns the lines with their log time, sorted by it (stable, so the lines
 * of one instant keep the order they were written in).
 */
import { type MtaEntry, sourceText, xmlAttr } from '../helpers/mta-entries.js';
import { DAY, DOMAIN, MAIL_HOST, OFFSET_MS, SERVER_IP, WEEK_START, hexId, int, mulberry32, pick, chance, type AuthFail, type Client, type InMsg, type OutMsg, type Rcpt, type SiteWeek } from './site.js';

export interface TimedLine {
  readonly at: number;
  readonly text: string;
}

class Lines {
  private readonly items: TimedLine[] = [];
  add(at: number, text: string): void {
    this.items.push({ at, text });
  }
  sorted(): TimedLine[] {
    return this.items.sort((a, b) => a.at - b.at);
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;
const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** Local (Berlin, UTC+1 all week) wall-clock parts of `at`. */
function parts(at: number): { y: number; mo: number; d: number; h: number; mi: number; s: number; ms: number } {
  const x = new Date(at + OFFSET_MS);
  return { y: x.getUTCFullYear(), mo: x.getUTCMonth(), d: x.getUTCDate(), h: x.getUTCHours(), mi: x.getUTCMinutes(), s: x.getUTCSeconds(), ms: x.getUTCMilliseconds() };
}

/** Stamps are formatted once per second, not per line. */
function stampCache(format: (at: number) => string): (at: number) => string {
  let sec = NaN;
  let text = '';
  return (at) => {
    const s = Math.floor(at / 1000);
    if (s !== sec) {
      sec = s;
      text = format(s * 1000);
    }
    return text;
  };
}

const groupBy = <T, K>(items: readonly T[], key: (x: T) => K): Map<K, T[]> => {
  const m = new Map<K, T[]>();
  for (const x of items) {
    const k = key(x);
    const list = m.get(k);
    if (list) list.push(x);
    else m.set(k, [x]);
  }
  return m;
};

const domainOf = (addr: string): string => addr.slice(addr.indexOf('@') + 1);

/** A remote MX for a domain: stable name, an address in a documentation range. */
function mxOf(domain: string): { name: string; ip: string } {
  let h = 0;
  for (const c of domain) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return { name: `mx${h % 3}.${domain}`, ip: `198.51.100.${1 + (h % 250)}` };
}

// ---------------------------------------------------------------------------
// Postfix

/**
 * Postfix on one host, `mail`: submission on 587 (`postfix/submission/smtpd`), SMTP AUTH
 * on port 25 for some spam tools (`postfix/smtpd`), inbound mail through postscreen,
 * cleanup, qmgr, smtp and lmtp (dovecot) deliveries, bounces with their non-delivery
 * notifications, `removed`, SASL failures with the `disconnect ... auth=0/N` counters,
 * and postscreen/DNSBL noise and relay attempts from the internet.
 */
export function postfixLines(w: SiteWeek, seed = 1): TimedLine[] {
  const r = mulberry32(seed);
  const out = new Lines();
  const stamp = stampCache((at) => {
    const p = parts(at);
    return `${p.y}-${pad(p.mo + 1)}-${pad(p.d)}T${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}`;
  });
  const host = 'mail';
  const line = (at: number, prog: string, text: string): void => {
    out.add(at, `${stamp(at)}.${pad(Math.floor(at % 1000), 3)}${pad(int(r, 0, 999), 3)}+01:00 ${host} postfix/${prog}: ${text}`);
  };
  let pid = 20_000;
  const nextPid = (): number => (pid = pid >= 99_000 ? 20_000 : pid + int(r, 1, 7));
  const qids = new Set<string>();
  const qid = (): string => {
    for (;;) {
      const q = hexId(r, int(r, 10, 11));
      if (!qids.has(q)) {
        qids.add(q);
        return q;
      }
    }
  };
  const QMGR = 'qmgr[1187]';
  // Long-lived daemons: a new process now and then.
  const daemon = (name: string, at: number): string => `${name}[${3000 + (Math.floor(at / (3 * 3_600_000)) % 900) * 7 + name.length}]`;
  const clientText = (c: Client): string => `${c.rdns ?? 'unknown'}[${c.ip}]`;
  const delays = (slow: boolean): string => {
    const a = [r() * 0.1, r() * 0.02, r() * 0.1, slow ? 2 + r() * 10 : r() * 1.5].map((x) => Math.round(x * 100) / 100);
    return `delay=${Math.round(a.reduce((x, y) => x + y, 0) * 100) / 100}, delays=${a.join('/')}`;
  };

  /** The delivery lines of one queued message; returns when the last one was written. */
  const deliver = (q: string, t0: number, sender: string, rcpts: readonly Rcpt[], bounceable: boolean): number => {
    let last = t0;
    for (const [i, rc] of rcpts.entries()) {
      const t = t0 + 300 + i * 40 + int(r, 0, 2500);
      if (rc.local) {
        line(t, `lmtp[${nextPid()}]`, `${q}: to=<${rc.addr}>, relay=${MAIL_HOST}[private/dovecot-lmtp], ${delays(false)}, dsn=2.0.0, status=sent (250 2.0.0 <${rc.addr}> ${hexId(r, 8).toLowerCase()} Saved)`);
        last = Math.max(last, t);
        continue;
      }
      const mx = mxOf(domainOf(rc.addr));
      const relay = `relay=${mx.name}[${mx.ip}]:25`;
      if (rc.outcome === 'sent') {
        line(t, `smtp[${nextPid()}]`, `${q}: to=<${rc.addr}>, ${relay}, ${delays(false)}, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as ${hexId(r, 10)})`);
        last = Math.max(last, t);
      } else if (rc.outcome === 'deferred') {
        line(t, `smtp[${nextPid()}]`, `${q}: to=<${rc.addr}>, ${relay}, ${delays(true)}, dsn=4.7.1, status=deferred (host ${mx.name}[${mx.ip}] said: 450 4.7.1 <${rc.addr}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/${domainOf(rc.addr)}.html (in reply to RCPT TO command))`);
        const t2 = t + int(r, 5, 30) * 60_000;
        line(t2, `smtp[${nextPid()}]`, `${q}: to=<${rc.addr}>, ${relay}, ${delays(false)}, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as ${hexId(r, 10)})`);
        last = Math.max(last, t2);
      } else {
        line(t, `smtp[${nextPid()}]`, `${q}: to=<${rc.addr}>, ${relay}, ${delays(false)}, dsn=5.1.1, status=bounced (host ${mx.name}[${mx.ip}] said: 550 5.1.1 <${rc.addr}>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command))`);
        last = Math.max(last, t);
        if (bounceable && sender !== '') {
          // The non-delivery notification goes back to the envelope sender, forged or not.
          const n = qid();
          const tb = t + 20;
          line(tb, daemon('bounce', tb), `${q}: sender non-delivery notification: ${n}`);
          line(tb + 2, daemon('cleanup', tb), `${n}: message-id=<${n}.${Math.floor(tb / 1000)}@${MAIL_HOST}>`);
          line(tb + 5, QMGR, `${n}: from=<>, size=${int(r, 3000, 9000)}, nrcpt=1 (queue active)`);
          const senderLocal = sender.endsWith(`@${DOMAIN}`);
          const end = deliver(n, tb + 5, '', [{ addr: sender, local: senderLocal, outcome: senderLocal ? 'sent' : chance(r, 0.5) ? 'sent' : 'bounced' }], false);
          line(end + 3, QMGR, `${n}: removed`);
        }
      }
    }
    return last;
  };

  // Authenticated sessions.
  for (const session of groupBy(w.out, (m) => m.session).values()) {
    const first = session[0] as OutMsg;
    const last = session[session.length - 1] as OutMsg;
    const p = nextPid();
    const svc = first.client.kind === 'attacker' && first.client.helo === 'ylmf-pc' ? 'smtpd' : first.client.kind === 'mobile' ? 'smtps/smtpd' : 'submission/smtpd';
    const prog = `${svc}[${p}]`;
    const client = clientText(first.client);
    line(first.at - int(r, 300, 1500), prog, `connect from ${client}`);
    let rcpts = 0;
    for (const m of session) {
      const q = qid();
      rcpts += m.rcpts.length;
      line(m.at, prog, `${q}: client=${client}, sasl_method=${first.webmail ? 'PLAIN' : 'LOGIN'}, sasl_username=${m.account}`);
      line(m.at + 40, daemon('cleanup', m.at), `${q}: message-id=<${m.msgId}>`);
      line(m.at + 200 + m.rcpts.length * 20, QMGR, `${q}: from=<${m.from}>, size=${m.size}, nrcpt=${m.rcpts.length} (queue active)`);
      const end = deliver(q, m.at + 200 + m.rcpts.length * 20, m.from, m.rcpts, true);
      line(end + 4, QMGR, `${q}: removed`);
    }
    const n = session.length;
    line(last.at + 150 + last.rcpts.length * 20, prog, `disconnect from ${client} ehlo=2 starttls=1 auth=1 mail=${n} rcpt=${rcpts} data=${n} quit=1 commands=${5 + 2 * n + rcpts}`);
  }

  // Failed logins, a connection each group.
  for (const session of groupBy(w.fails, (f) => f.session).values()) {
    const first = session[0] as AuthFail;
    const last = session[session.length - 1] as AuthFail;
    const p = nextPid();
    const svc = first.exists && first.client.kind !== 'attacker' ? 'submission/smtpd' : 'smtpd';
    const prog = `${svc}[${p}]`;
    const client = clientText(first.client);
    line(first.at - int(r, 200, 900), prog, `connect from ${client}`);
    for (const f of session) {
      const login = f.exists ? (f.client.kind === 'attacker' ? f.login : `${f.login}@${DOMAIN}`) : f.login;
      line(f.at, prog, `warning: ${client}: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=${login}`);
    }
    const n = session.length;
    if (first.client.kind === 'attacker') {
      line(last.at + 300, prog, `lost connection after AUTH from ${client}`);
      line(last.at + 301, prog, `disconnect from ${client} ehlo=1 auth=0/${n} commands=1/${n + 1}`);
    } else {
      line(last.at + 300, prog, `disconnect from ${client} ehlo=2 starttls=1 auth=0/${n} quit=1 commands=3/${n + 3}`);
    }
  }

  // Inbound mail through postscreen.
  for (const m of w.inbound) writeInbound(m);
  function writeInbound(m: InMsg): void {
    const port = int(r, 30_000, 65_000);
    const t0 = m.at - int(r, 800, 3000);
    line(t0, daemon('postscreen', t0), `CONNECT from [${m.client.ip}]:${port} to [${SERVER_IP}]:25`);
    line(t0 + 5, daemon('postscreen', t0), `PASS OLD [${m.client.ip}]:${port}`);
    const p = `smtpd[${nextPid()}]`;
    const client = clientText(m.client);
    line(t0 + 10, p, `connect from ${client}`);
    const q = qid();
    line(m.at, p, `${q}: client=${client}`);
    line(m.at + 30, daemon('cleanup', m.at), `${q}: message-id=<${m.msgId}>`);
    line(m.at + 250, QMGR, `${q}: from=<${m.from}>, size=${m.size}, nrcpt=${m.rcpts.length} (queue active)`);
    line(m.at + 260, p, `disconnect from ${client} ehlo=1 mail=1 rcpt=${m.rcpts.length} data=1 quit=1 commands=${4 + m.rcpts.length}`);
    const end = deliver(q, m.at + 250, m.from, m.rcpts, false);
    line(end + 3, QMGR, `${q}: removed`);
  }

  // The internet's noise: blocklisted clients dropped by postscreen, relay attempts.
  for (let d = 0; d < 7; d++) {
    for (let k = 0; k < 60; k++) {
      const t = WEEK_START + Math.floor((d + r()) * DAY);
      const ip = `${pick(r, [185, 45, 194, 80, 103, 5])}.${int(r, 0, 255)}.${int(r, 0, 255)}.${int(r, 1, 254)}`;
      const port = int(r, 30_000, 65_000);
      line(t, daemon('postscreen', t), `CONNECT from [${ip}]:${port} to [${SERVER_IP}]:25`);
      if (k % 4 === 0) {
        const p = `smtpd[${nextPid()}]`;
        line(t + 5, daemon('postscreen', t), `PASS NEW [${ip}]:${port}`);
        line(t + 10, p, `connect from unknown[${ip}]`);
        line(t + 900, p, `NOQUEUE: reject: RCPT from unknown[${ip}]: 454 4.7.1 <spam${k}@${pick(r, ['mail.ru', 'qq.com', 'example.com'])}>: Relay access denied; from=<info@${ip.replace(/\./g, '-')}.example> to=<spam${k}@mail.ru> proto=ESMTP helo=<[${ip}]>`);
        line(t + 1200, p, `disconnect from unknown[${ip}] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4`);
      } else {
        line(t + 3, `dnsblog[${nextPid()}]`, `addr ${ip} listed by domain zen.spamhaus.org as 127.0.0.${pick(r, [2, 3, 4, 11])}`);
        line(t + 6, daemon('postscreen', t), `DNSBL rank ${int(r, 2, 6)} for [${ip}]:${port}`);
        line(t + 8, daemon('postscreen', t), `NOQUEUE: reject: RCPT from [${ip}]:${port}: 550 5.7.1 Service unavailable; client [${ip}] blocked using zen.spamhaus.org; from=<x@${ip}.example>, to=<${pick(r, w.people).address}>, proto=ESMTP, helo=<[${ip}]>`);
        line(t + 9, daemon('postscreen', t), `DISCONNECT [${ip}]:${port}`);
      }
    }
  }
  return out.sorted();
}

// ---------------------------------------------------------------------------
// Kerio Connect

/**
 * Kerio Connect: mail.log `Recv:` (one per recipient, with `User:` for authenticated
 * submissions; webmail as `Service: Kerio Connect Client` from `0.0.0.0`), `Sent:` per
 * delivery attempt, DSNs for bounces, and security.log failed logins (unknown users,
 * wrong passwords, AntiHammering blocks) in the same file. Queue-IDs start with the UTC
 * epoch second of queueing, as Kerio writes them.
 */
export function kerioLines(w: SiteWeek, seed = 2): TimedLine[] {
  const r = mulberry32(seed);
  const out = new Lines();
  const stamp = stampCache((at) => {
    const p = parts(at);
    return `[${pad(p.d)}/${MONTHS[p.mo] ?? 'Jan'}/${p.y} ${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}]`;
  });
  const line = (at: number, text: string): void => out.add(at, `${stamp(at)} ${text}`);
  let counter = 0x2a00;
  const queueId = (at: number): string => `${Math.floor(at / 1000).toString(16)}-${(++counter).toString(16).padStart(8, '0')}`;

  const deliver = (q: string, t0: number, msgId: string, sender: string, rcpts: readonly Rcpt[], bounceable: boolean): void => {
    for (const [i, rc] of rcpts.entries()) {
      const t = t0 + 600 + i * 150 + int(r, 0, 2000);
      if (rc.local) {
        line(t, `Sent: Queue-ID: ${q}, Recipient: <${rc.addr}>, Result: delivered, Status: 2.0.0 , Remote-Host: 127.0.0.1, Msg-Id: <${msgId}>`);
        continue;
      }
      const mx = mxOf(domainOf(rc.addr));
      if (rc.outcome === 'deferred') {
        line(t, `Sent: Queue-ID: ${q}, Recipient: <${rc.addr}>, Result: deferred, Status: 4.7.1 , Remote-Host: ${mx.ip}, Msg-Id: <${msgId}>`);
        line(t + int(r, 5, 30) * 60_000, `Sent: Queue-ID: ${q}, Recipient: <${rc.addr}>, Result: relayed, Status: 2.0.0 , Remote-Host: ${mx.ip}, Msg-Id: <${msgId}>`);
      } else if (rc.outcome === 'sent') {
        line(t, `Sent: Queue-ID: ${q}, Recipient: <${rc.addr}>, Result: relayed, Status: 2.0.0 , Remote-Host: ${mx.ip}, Msg-Id: <${msgId}>`);
      } else {
        line(t, `Sent: Queue-ID: ${q}, Recipient: <${rc.addr}>, Result: failed, Status: 5.1.1 , Remote-Host: ${mx.ip}, Msg-Id: <${msgId}>`);
        if (bounceable && sender !== '') {
          const tb = t + 1000;
          const dq = queueId(tb);
          const dsnId = `dsn-${dq}@${MAIL_HOST}`;
          const local = sender.endsWith(`@${DOMAIN}`);
          line(tb, `Recv: Queue-ID: ${dq}, Service: DSN, From: <>, To: <${sender}>, Size: ${int(r, 3000, 9000)}, Sender-Host: 127.0.0.1, SSL: no, Subject: Undelivered mail returned to sender, Msg-Id: <${dsnId}>`);
          deliver(dq, tb, dsnId, '', [{ addr: sender, local, outcome: 'sent' }], false);
        }
      }
    }
  };

  for (const m of w.out) {
    const q = queueId(m.at);
    const service = m.webmail ? 'Kerio Connect Client' : 'SMTP';
    const host = m.webmail ? '0.0.0.0' : m.client.ip;
    for (const rc of m.rcpts) {
      line(m.at, `Recv: Queue-ID: ${q}, Service: ${service}, From: <${m.from}>, To: <${rc.addr}>, Size: ${m.size}, Sender-Host: ${host}, User: ${m.account}, SSL: yes, Subject: ${m.subject}, Msg-Id: <${m.msgId}>`);
    }
    deliver(q, m.at, m.msgId, m.from, m.rcpts, true);
  }
  for (const m of w.inbound) {
    const q = queueId(m.at);
    const ssl = m.client.rdns?.includes('supplier') === true ? 'no' : 'yes';
    for (const rc of m.rcpts) {
      line(m.at, `Recv: Queue-ID: ${q}, Service: SMTP, From: <${m.from}>, To: <${rc.addr}>, Size: ${m.size}, Sender-Host: ${m.client.ip}, SSL: ${ssl}, Subject: ${m.subject}, Msg-Id: <${m.msgId}>`);
    }
    deliver(q, m.at, m.msgId, m.from, m.rcpts, false);
  }
  // security.log: failed logins. Kerio says whether the user exists.
  const failuresByIp = new Map<string, number>();
  for (const f of w.fails) {
    const ip = f.client.ip;
    const login = f.login.includes('@') ? f.login : `${f.login}@${DOMAIN}`;
    if (!f.exists) {
      if (chance(r, 0.3)) line(f.at, `Failed SMTP login from ${ip} with SASL method LOGIN.`);
      else line(f.at, `SMTP: User ${f.login} doesn't exist. Attempt from IP address ${ip}.`);
    } else {
      line(f.at, `SMTP: Invalid password for user ${login}. Attempt from IP address ${ip}.`);
    }
    const n = (failuresByIp.get(ip) ?? 0) + 1;
    failuresByIp.set(ip, n);
    if (n % 50 === 0) {
      line(f.at + 1, `SMTP: AntiHammering - IP address ${ip} will be blocked for 5 minutes, too many failed logins from this IP address.`);
      line(f.at + 2500, `SMTP: AntiHammering: connection from IP address ${ip} is blocked`);
    }
  }
  // Other security.log notices: relay attempts and blocklisted senders.
  for (let k = 0; k < 7 * 40; k++) {
    const t = WEEK_START + Math.floor(r() * 7 * DAY);
    const ip = `${pick(r, [185, 45, 194, 80, 103, 5])}.${int(r, 0, 255)}.${int(r, 0, 255)}.${int(r, 1, 254)}`;
    if (k % 3 === 0) line(t, `Relay attempt from IP address ${ip}, mail from <info@${ip.replace(/\./g, '-')}.example> to <spam${k}@mail.ru> rejected`);
    else line(t, `IP address ${ip} found in DNS blacklist SpamCop, mail from <x${k}@spam.example> to <${pick(r, w.people).address}> rejected`);
  }
  return out.sorted();
}

// ---------------------------------------------------------------------------
// Messaging Server MTA transaction log

const QUEUE = '/opt/sun/comms/messaging64/data/queue';

export type MtaFormat = 1 | 4;

/**
 * Messaging Server MTA transaction log, LOG_FORMAT 1 or 4. Logins are bare uids (`*anna.mueller`,
 * with `defaultDomain` set in the config). Authenticated sessions: O, U (success), one E record
 * per recipient (to `tcp_local` or the store, `ims-ms`), C; then D/DE, Q (deferred, later DE)
 * and R (bounced) dequeues. Spam tools on port 25 switch to `tcp_auth`. Failed logins are U
 * records with `535 5.7.8`. Inbound mail arrives on `tcp_local` for the MTA's own account.
 */
export function mtaLines(w: SiteWeek, format: MtaFormat = 1, seed = 3): TimedLine[] {
  const r = mulberry32(seed);
  const entries: MtaEntry[] = [];
  let n = 0;
  const proc = (base: number): string => `${base.toString(16)}.${(1 + (n % 7)).toString(16)}.${(++n).toString(16)}`;
  const transport = (ip: string, port: number): string => `TCP|${SERVER_IP}|${port}|${ip}|${int(r, 30_000, 65_000)}`;
  const file = (dst: string): string => `${QUEUE}/${dst}/${pad(int(r, 0, 999), 3)}/ZZ0${hexId(r, 13, '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz')}.00`;
  const blocks = (bytes: number): number => Math.max(1, Math.ceil(bytes / 1024));
  const store = (addr: string): string => `${addr.slice(0, addr.indexOf('@'))}@ims-ms-daemon`;

  const dequeue = (t0: number, m: { from: string; msgId: string; size: number }, rcpts: readonly Rcpt[], files: Map<string, string>, bounceable: boolean): void => {
    for (const [i, rc] of rcpts.entries()) {
      const t = t0 + 800 + i * 120 + int(r, 0, 2000);
      const size = blocks(m.size);
      if (rc.local) {
        entries.push({ type: 'en', at: t, process: proc(0x3b10), src: 'ims-ms', entry: 'D', size, from: m.from, origTo: rc.addr, to: store(rc.addr), file: files.get('ims-ms') ?? '', msgId: m.msgId, user: 'mailsrv' });
        continue;
      }
      const mx = mxOf(domainOf(rc.addr));
      const base = { type: 'en' as const, process: proc(0x3b11), src: 'tcp_local', size, from: m.from, origTo: rc.addr, to: rc.addr, file: files.get('tcp_local') ?? '', msgId: m.msgId, user: 'mailsrv' };
      const remote = { host: mx.name, transport: `TCP|${SERVER_IP}|${int(r, 30_000, 65_000)}|${mx.ip}|25` };
      if (rc.outcome === 'sent') {
        entries.push({ ...base, at: t, entry: 'DE', remote, diag: `smtp;250 2.0.0 Ok: queued as ${hexId(r, 10)}` });
      } else if (rc.outcome === 'deferred') {
        entries.push({ ...base, at: t, entry: 'Q', remote, diag: `smtp;450 4.7.1 <${rc.addr}>: Recipient address rejected: Greylisted` });
        entries.push({ ...base, at: t + int(r, 5, 30) * 60_000, entry: 'DE', remote, diag: `smtp;250 2.0.0 Ok: queued as ${hexId(r, 10)}` });
      } else {
        entries.push({ ...base, at: t, entry: 'R', remote, diag: `smtp;550 5.1.1 <${rc.addr}>: Recipient address rejected: User unknown` });
        if (bounceable && m.from !== '') {
          // The non-delivery notification, from the MTA itself (empty envelope From).
          const local = m.from.endsWith(`@${DOMAIN}`);
          const dst = local ? 'ims-ms' : 'tcp_local';
          const f = file(dst);
          const nId = `0${hexId(r, 6)}.${hexId(r, 8)}@${MAIL_HOST}`;
          const tb = t + 50;
          entries.push({ type: 'en', at: tb, process: proc(0x3b11), src: 'tcp_local', dst, entry: 'E', size: 3, from: '', origTo: m.from, to: local ? store(m.from) : m.from, file: f, msgId: nId, user: 'mailsrv' });
          dequeue(tb, { from: '', msgId: nId, size: 3000 }, [{ addr: m.from, local, outcome: 'sent' }], new Map([[dst, f]]), false);
        }
      }
    }
  };

  for (const session of groupBy(w.out, (m) => m.session).values()) {
    const first = session[0] as OutMsg;
    const last = session[session.length - 1] as OutMsg;
    const p = proc(0x2e2d);
    const port25 = first.client.kind === 'attacker' && first.client.helo === 'ylmf-pc';
    const channel = port25 ? 'tcp_auth' : 'tcp_submit';
    const tr = transport(first.client.ip, port25 ? 25 : 587);
    const app = port25 ? 'SMTP' : 'SMTP/TLS-256-AES';
    entries.push({ type: 'co', at: first.at - 2500, process: p, channel: port25 ? 'tcp_local' : 'tcp_submit', entry: 'O', transport: tr, app: 'SMTP' });
    entries.push({
      type: 'co', at: first.at - 1200, process: p, channel: port25 ? 'tcp_local' : 'tcp_submit', entry: 'U', transport: tr, app,
      summary: `Authentication successful - switched to channel ${channel}`, login: first.uid, diag: `235 2.7.0 ${first.webmail ? 'PLAIN' : 'LOGIN'} authentication successful.`,
    });
    for (const m of session) {
      const files = new Map<string, string>();
      for (const [i, rc] of m.rcpts.entries()) {
        const dst = rc.local ? 'ims-ms' : 'tcp_local';
        let f = files.get(dst);
        if (f === undefined) {
          f = file(dst);
          files.set(dst, f);
        }
        entries.push({
          type: 'en', at: m.at + i * 10, process: p, src: channel, dst, entry: port25 ? 'EEA' : 'EESA', size: blocks(m.size),
          from: m.from, origTo: rc.addr, to: rc.local ? store(rc.addr) : rc.addr, file: f, msgId: m.msgId, user: `*${m.uid}`, source: m.client,
        });
      }
      dequeue(m.at + m.rcpts.length * 10, m, m.rcpts, files, true);
    }
    entries.push({ type: 'co', at: last.at + 1500 + last.rcpts.length * 10, process: p, channel, entry: 'C', transport: tr, app: 'SMTP' });
  }

  for (const session of groupBy(w.fails, (f) => f.session).values()) {
    const first = session[0] as AuthFail;
    const last = session[session.length - 1] as AuthFail;
    const p = proc(0x2e2d);
    const port = first.client.kind === 'attacker' ? 25 : 587;
    const channel = port === 25 ? 'tcp_local' : 'tcp_submit';
    const tr = transport(first.client.ip, port);
    entries.push({ type: 'co', at: first.at - 800, process: p, channel, entry: 'O', transport: tr, app: 'SMTP' });
    for (const f of session) {
      entries.push({ type: 'co', at: f.at, process: p, channel, entry: 'U', transport: tr, app: 'SMTP', summary: 'Bad password', login: f.login, diag: '535 5.7.8 Bad username or password (Authentication failed).' });
    }
    entries.push({ type: 'co', at: last.at + 900, process: p, channel, entry: 'C', transport: tr, app: 'SMTP' });
  }

  for (const m of w.inbound) {
    const p = proc(0x2e2d);
    const tr = transport(m.client.ip, 25);
    const files = new Map<string, string>([['ims-ms', file('ims-ms')]]);
    entries.push({ type: 'co', at: m.at - 900, process: p, channel: 'tcp_local', entry: 'O', transport: tr, app: 'SMTP' });
    for (const [i, rc] of m.rcpts.entries()) {
      entries.push({ type: 'en', at: m.at + i * 10, process: p, src: 'tcp_local', dst: 'ims-ms', entry: 'EES', size: blocks(m.size), from: m.from, origTo: rc.addr, to: store(rc.addr), file: files.get('ims-ms') ?? '', msgId: m.msgId, user: 'mailsrv', source: m.client });
    }
    entries.push({ type: 'co', at: m.at + 400, process: p, channel: 'tcp_local', entry: 'C', transport: tr, app: 'SMTP' });
    dequeue(m.at, m, m.rcpts, files, false);
  }

  const out = new Lines();
  const stamp1 = stampCache((at) => {
    const p = parts(at);
    return `${pad(p.d)}-${MONTHS[p.mo] ?? 'Jan'}-${p.y} ${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}`;
  });
  const stamp4 = stampCache((at) => {
    const p = parts(at);
    return `${p.y}-${pad(p.mo + 1)}-${pad(p.d)}T${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}`;
  });
  const cs = (at: number): string => pad(Math.floor((at % 1000) / 10));
  for (const e of entries) out.add(e.at, format === 4 ? xmlLine(e, `${stamp4(e.at)}.${cs(e.at)}`) : classicLine(e, `${stamp1(e.at)}.${cs(e.at)}`));
  return out.sorted();
}

/** LOG_FORMAT=1: padded columns; an empty envelope From leaves an empty column. */
function classicLine(e: MtaEntry, stamp: string): string {
  const col = (s: string): string => s.padEnd(12);
  if (e.type === 'co') {
    const rest = [e.transport, e.app];
    if (e.summary !== undefined) rest.push(e.summary);
    if (e.login !== undefined) rest.push(e.login);
    if (e.diag !== undefined) rest.push(e.diag);
    return `${stamp} ${e.process} ${col(e.channel)} ${col('+')} ${e.entry} ${rest.join(' ')}`;
  }
  const f: string[] = [String(e.size), e.from, `rfc822;${e.origTo}`, e.to, e.file, `<${e.msgId}>`, e.user];
  if (e.source) f.push(sourceText(e.source));
  if (e.remote) f.push(e.remote.host, `dns;${e.remote.host}`, `(${e.remote.transport})`);
  if (e.diag !== undefined) f.push(e.diag);
  return `${stamp} ${e.process} ${col(e.src)} ${col(e.dst ?? '')} ${e.entry} ${f.join(' ')}`;
}

/** LOG_FORMAT=4: one XML element per line, attributes by name. */
function xmlLine(e: MtaEntry, ts: string): string {
  const a: [string, string][] = [['ts', ts], ['no', 'mail'], ['pi', e.process]];
  if (e.type === 'co') {
    a.push(['sc', e.channel], ['dr', '+'], ['ac', e.entry], ['tr', e.transport], ['ap', e.app]);
    if (e.summary !== undefined) a.push(['mi', e.summary]);
    if (e.login !== undefined) a.push(['us', e.login]);
    if (e.diag !== undefined) a.push(['di', e.diag]);
    return `<co ${a.map(([k, x]) => `${k}="${xmlAttr(x)}"`).join(' ')}/>`;
  }
  a.push(['sc', e.src]);
  if (e.dst !== undefined) a.push(['dc', e.dst]);
  a.push(['ac', e.entry], ['sz', String(e.size)], ['so', e.from], ['od', `rfc822;${e.origTo}`], ['de', e.to], ['rf', '22'], ['fi', e.file], ['mi', `<${e.msgId}>`], ['us', e.user]);
  if (e.source) a.push(['ss', sourceText(e.source)]);
  if (e.remote) a.push(['rm', e.remote.host]);
  a.push(['pr', '3']);
  if (e.diag !== undefined) a.push(['di', e.diag]);
  return `<en ${a.map(([k, x]) => `${k}="${xmlAttr(x)}"`).join(' ')}/>`;
}
