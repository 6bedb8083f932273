/**
 * Writes the scenario logs under fixtures/scenarios/ (run: `npm run fixtures`).
 * Deterministic: a seeded generator, fixed dates. The committed files are the
 * fixtures; this script documents how they were made and remakes them on purpose
 * (then review the diff of every expected.ndjson by eye before committing).
 *
 * Each scenario is a week-day of a small site with ordinary users and, where named,
 * one compromised account: a night spam run from an address abroad with forged
 * senders, after a few failed logins.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type MtaEntry, sourceText, xmlAttr } from '../helpers/mta-entries.js';
import { repoPath } from '../helpers/paths.js';
import { mulberry32 as rng } from '../helpers/random.js';

interface Msg {
  at: number;
  login?: string;
  from: string;
  to: string[];
  ip: string;
  clientName?: string;
  service?: string;
  subject?: string;
  kerioService?: string;
  refused?: boolean;
}

interface AuthFail {
  at: number;
  ip: string;
  user?: string;
}

const BERLIN_WINTER = 60 * 60_000;

/** Wall-clock 2026-11-17 (a Tuesday) in Europe/Berlin (UTC+1 in November) -> epoch. */
const local = (h: number, m: number, s = 0): number => Date.UTC(2026, 10, 17, h, m, s) - BERLIN_WINTER;

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

function rfc3339(at: number): string {
  const d = new Date(at + BERLIN_WINTER);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(at % 1000, 3)}123+01:00`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function kerioStamp(at: number): string {
  const d = new Date(at + BERLIN_WINTER);
  return `[${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()] ?? 'Jan'}/${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}]`;
}

function qid(r: () => number): string {
  const alphabet = '0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz';
  let s = '4Q';
  for (let i = 0; i < 8; i++) s += alphabet[Math.floor(r() * alphabet.length)] ?? 'x';
  s += 'z';
  for (let i = 0; i < 4; i++) s += alphabet[Math.floor(r() * alphabet.length)] ?? 'x';
  return s;
}

/** Postfix lines for one site: authenticated submissions, inbound mail, noise, auth failures. */
function postfixLog(msgs: Msg[], fails: AuthFail[], inbound: number, seed: number): string {
  const r = rng(seed);
  const lines: [number, string][] = [];
  let pid = 20000;
  const host = 'mx1';
  for (const m of msgs) {
    const p = ++pid;
    const id = qid(r);
    const svc = m.service ?? 'submission';
    const client = `${m.clientName ?? 'unknown'}[${m.ip}]`;
    lines.push([m.at - 300, `${rfc3339(m.at - 300)} ${host} postfix/${svc}/smtpd[${p}]: connect from ${client}`]);
    if (m.refused) {
      lines.push([m.at, `${rfc3339(m.at)} ${host} postfix/${svc}/smtpd[${p}]: NOQUEUE: reject: RCPT from ${client}: 553 5.7.1 <${m.from}>: Sender address rejected: not owned by user ${m.login ?? ''}; from=<${m.from}> to=<${m.to[0] ?? ''}> proto=ESMTP helo=<laptop>`]);
      lines.push([m.at + 20, `${rfc3339(m.at + 20)} ${host} postfix/${svc}/smtpd[${p}]: disconnect from ${client} ehlo=2 starttls=1 auth=1 mail=1 rcpt=0/1 quit=1 commands=6/7`]);
      continue;
    }
    lines.push([m.at, `${rfc3339(m.at)} ${host} postfix/${svc}/smtpd[${p}]: ${id}: client=${client}, sasl_method=PLAIN, sasl_username=${m.login ?? ''}`]);
    lines.push([m.at + 8, `${rfc3339(m.at + 8)} ${host} postfix/cleanup[${p + 5}]: ${id}: message-id=<${id}.${seed}@${m.from.split('@')[1] ?? 'x'}>`]);
    lines.push([m.at + 12, `${rfc3339(m.at + 12)} ${host} postfix/qmgr[1200]: ${id}: from=<${m.from}>, size=${1000 + Math.floor(r() * 9000)}, nrcpt=${m.to.length} (queue active)`]);
    lines.push([m.at + 20, `${rfc3339(m.at + 20)} ${host} postfix/${svc}/smtpd[${p}]: disconnect from ${client} ehlo=2 starttls=1 auth=1 mail=1 rcpt=${m.to.length} data=1 quit=1 commands=${6 + m.to.length}`]);
    m.to.forEach((to, i) => {
      const t = m.at + 400 + i * 3;
      const bounced = to.startsWith('nobody');
      lines.push([t, `${rfc3339(t)} ${host} postfix/smtp[${p + 9}]: ${id}: to=<${to}>, relay=mx.${to.split('@')[1] ?? 'x'}[198.51.100.${(i % 200) + 1}]:25, delay=0.5, delays=0.1/0/0.2/0.2, dsn=${bounced ? '5.1.1' : '2.0.0'}, status=${bounced ? 'bounced (host said: 550 5.1.1 no such user)' : 'sent (250 2.0.0 Ok: queued as 7A1B2C3D4E)'}`]);
    });
    const end = m.at + 400 + m.to.length * 3 + 5;
    lines.push([end, `${rfc3339(end)} ${host} postfix/qmgr[1200]: ${id}: removed`]);
  }
  for (let i = 0; i < inbound; i++) {
    const at = local(6, 0) + Math.floor(r() * 14 * 3600_000);
    const id = qid(r);
    const p = ++pid;
    lines.push([at, `${rfc3339(at)} ${host} postfix/postscreen[900]: CONNECT from [209.85.220.${i % 250}]:4${pad(i % 1000, 4)} to [192.0.2.25]:25`]);
    lines.push([at + 1, `${rfc3339(at + 1)} ${host} postfix/postscreen[900]: PASS OLD [209.85.220.${i % 250}]:4${pad(i % 1000, 4)}`]);
    lines.push([at + 2, `${rfc3339(at + 2)} ${host} postfix/smtpd[${p}]: ${id}: client=mail-sor-f${i}.google.com[209.85.220.${i % 250}]`]);
    lines.push([at + 5, `${rfc3339(at + 5)} ${host} postfix/qmgr[1200]: ${id}: from=<friend${i}@gmail.com>, size=4211, nrcpt=1 (queue active)`]);
    lines.push([at + 9, `${rfc3339(at + 9)} ${host} postfix/lmtp[${p + 3}]: ${id}: to=<alice@example.edu>, relay=mail.example.edu[private/dovecot-lmtp], delay=0.2, delays=0.1/0/0/0.1, dsn=2.0.0, status=sent (250 2.0.0 <alice@example.edu> Saved)`]);
    lines.push([at + 10, `${rfc3339(at + 10)} ${host} postfix/qmgr[1200]: ${id}: removed`]);
  }
  for (const f of fails) {
    const p = ++pid;
    lines.push([f.at, `${rfc3339(f.at)} ${host} postfix/submission/smtpd[${p}]: warning: unknown[${f.ip}]: SASL LOGIN authentication failed: UGFzc3dvcmQ6${f.user ? `, sasl_username=${f.user}` : ''}`]);
  }
  lines.sort((a, b) => a[0] - b[0]);
  return lines.map((l) => l[1]).join('\n') + '\n';
}

/** Kerio Connect mail.log: one Recv line per recipient, Sent lines per recipient. */
function kerioLog(msgs: Msg[], inbound: number, seed: number): string {
  const r = rng(seed);
  const lines: [number, string][] = [];
  let counter = 0;
  for (const m of msgs) {
    const id = `${Math.floor(m.at / 1000).toString(16)}-${pad(++counter, 8)}`;
    const msgId = `<${id}.${seed}@${m.from.split('@')[1] ?? 'x'}>`;
    const svc = m.kerioService ?? 'SMTP';
    const size = 900 + Math.floor(r() * 5000);
    for (const to of m.to) {
      lines.push([m.at, `${kerioStamp(m.at)} Recv: Queue-ID: ${id}, Service: ${svc}, From: <${m.from}>, To: <${to}>, Size: ${size}, Sender-Host: ${m.ip}, User: ${m.login ?? ''}, SSL: yes, Subject: ${m.subject ?? 'Meeting notes'}, Msg-Id: ${msgId}`]);
    }
    m.to.forEach((to, i) => {
      const t = m.at + 2000 + i * 500;
      const result = to.startsWith('nobody') ? 'failed, Status: 5.1.1' : to.endsWith('@example.com') ? 'delivered, Status: 2.0.0' : 'relayed, Status: 2.0.0';
      lines.push([t, `${kerioStamp(t)} Sent: Queue-ID: ${id}, Recipient: <${to}>, Result: ${result} , Remote-Host: ${to.endsWith('@example.com') ? '127.0.0.1' : '198.51.100.7'}, Msg-Id: ${msgId}`]);
    });
  }
  for (let i = 0; i < inbound; i++) {
    const at = local(6, 0) + Math.floor(r() * 14 * 3600_000);
    const id = `${Math.floor(at / 1000).toString(16)}-${pad(++counter, 8)}`;
    lines.push([at, `${kerioStamp(at)} Recv: Queue-ID: ${id}, Service: SMTP, From: <news${i}@shop.example.net>, To: <bob@example.com>, Size: 5211, Sender-Host: 209.85.208.${i % 250}, SSL: yes, Subject: Your order ${i}, Msg-Id: <o${i}@shop.example.net>`]);
    lines.push([at + 1000, `${kerioStamp(at + 1000)} Sent: Queue-ID: ${id}, Recipient: <bob@example.com>, Result: delivered, Status: 2.0.0 , Remote-Host: 127.0.0.1, Msg-Id: <o${i}@shop.example.net>`]);
  }
  lines.sort((a, b) => a[0] - b[0]);
  return lines.map((l) => l[1]).join('\n') + '\n';
}

/** Ordinary office traffic: each user a few messages between 08:00 and 18:00 from the LAN. */
function officeDay(users: readonly string[], domain: string, lan: string, seed: number, perUser: number): Msg[] {
  const r = rng(seed);
  const out: Msg[] = [];
  users.forEach((u, ui) => {
    for (let i = 0; i < perUser; i++) {
      const at = local(8, 0) + Math.floor(r() * 10 * 3600_000);
      const n = 1 + Math.floor(r() * 3);
      out.push({
        at, login: `${u}@${domain}`, from: i % 4 === 3 ? `${u}+lists@${domain}` : `${u}@${domain}`,
        to: Array.from({ length: n }, (_, k) => `contact${(ui * 7 + i + k) % 40}@partner${k}.example.org`),
        ip: `${lan}.${10 + ui}`, clientName: `pc${ui}.${domain}`,
      });
    }
  });
  return out;
}

/** The hijacked account: a night run from abroad with forged senders, after guessing the password. */
function spamRun(login: string, startH: number, startM: number, count: number, recipients: number, ip: string, seed: number): { msgs: Msg[]; fails: AuthFail[] } {
  const r = rng(seed);
  const msgs: Msg[] = [];
  const start = local(startH, startM);
  for (let i = 0; i < count; i++) {
    const forged = ['service@paypa1-secure.example.net', 'billing@bank-alert.example.net', 'no-reply@parcel-track.example.net', login][i % 4] ?? login;
    msgs.push({
      at: start + i * 20_000 + Math.floor(r() * 5000), login, from: forged,
      to: Array.from({ length: recipients }, (_, k) => (k === 0 && i % 10 === 0 ? `nobody${i}@victims${k}.example.com` : `target${i * recipients + k}@victims${k % 7}.example.com`)),
      ip, clientName: 'unknown', subject: 'Urgent: verify your account, User: ceo@example.com, Sender-Host: 10.0.0.1',
    });
  }
  // The server refuses a few forged senders outright (Postfix reject_sender_login_mismatch).
  msgs.push({ at: start + 7_000, login, from: 'ceo@example.edu', to: ['cfo@example.edu'], ip, refused: true });
  const fails = Array.from({ length: 6 }, (_, i) => ({ at: start - 600_000 + i * 30_000, ip, user: login }));
  return { msgs, fails };
}

function write(name: string, files: Record<string, string>): void {
  const dir = repoPath('fixtures', 'scenarios', name);
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
}

const config = (extra: Record<string, unknown>): string => `${JSON.stringify({ timezone: 'Europe/Berlin', defaultDomain: 'example.edu', ...extra }, null, 2)}\n`;

// Postfix, one hijacked account among ordinary ones.
{
  const users = ['alice', 'bob', 'carol', 'dave', 'erin'];
  const office = officeDay(users, 'example.edu', '10.1.2', 11, 6);
  const spam = spamRun('frank@example.edu', 2, 10, 120, 8, '185.220.101.34', 12);
  const frankNormal = officeDay(['frank'], 'example.edu', '10.1.3', 13, 4);
  write('postfix-compromised', {
    'input.log': postfixLog([...office, ...frankNormal, ...spam.msgs], spam.fails, 60, 14),
    'config.json': config({}),
  });
}

// Postfix, only legitimate unusual users.
{
  const users = ['alice', 'bob', 'carol'];
  const office = officeDay(users, 'example.edu', '10.1.2', 21, 6);
  // A newsletter sender: 400 messages in one hour, exempt from the volume rule.
  const bulk: Msg[] = Array.from({ length: 400 }, (_, i) => ({
    at: local(10, 0) + i * 9000, login: 'newsletter@example.edu', from: 'newsletter@example.edu',
    to: [`subscriber${i}@lists.example.org`], ip: '10.1.9.5', clientName: 'lists.example.edu',
  }));
  // The dean's office sends as the department's address (a configured alias pattern).
  const alias: Msg[] = Array.from({ length: 12 }, (_, i) => ({
    at: local(9, 0) + i * 1800_000, login: 'dean@example.edu', from: i % 2 ? 'office@dept.example.edu' : 'Dean.Office@Dept.Example.Edu',
    to: [`faculty${i}@example.edu`], ip: '10.1.4.40', clientName: 'deanpc.example.edu',
  }));
  // A steady heavy sender: 25 messages an hour all day, under every level.
  const heavy: Msg[] = Array.from({ length: 225 }, (_, i) => ({
    at: local(8, 0) + i * 144_000, login: 'sales@example.edu', from: 'sales@example.edu',
    to: [`customer${i}@clients.example.org`, `cc${i}@clients.example.org`], ip: '10.1.5.7', clientName: 'crm.example.edu',
  }));
  // One late message: a weak signal only (info), never a warning.
  const late: Msg[] = [{ at: local(20, 40), login: 'carol@example.edu', from: 'carol@example.edu', to: ['mum@family.example.org'], ip: '192.168.178.20' }];
  write('postfix-legit', {
    'input.log': postfixLog([...office, ...bulk, ...alias, ...heavy, ...late], [], 40, 24),
    'config.json': config({
      accounts: { 'dean@example.edu': { aliases: ['*@dept.example.edu'] } },
      rules: { 'sends-per-account': { exempt: ['newsletter@example.edu'] } },
    }),
  });
}

// Kerio Connect, one hijacked account among ordinary ones (webmail and SMTP users).
{
  const users = ['anna', 'ben', 'chris', 'dora'];
  const office = officeDay(users, 'example.com', '192.168.24', 31, 5).map((m, i) => (i % 3 === 0 ? { ...m, ip: '0.0.0.0', kerioService: 'Kerio Connect Client' } : m));
  const spam = spamRun('eve@example.com', 3, 5, 90, 6, '203.0.113.50', 32);
  // Anna also writes as her alias, as the admin-script post describes.
  const alias: Msg[] = [{ at: local(11, 7, 8), login: 'anna@example.com', from: 'sales@example.com', to: ['client@partner.example.org'], ip: '192.168.24.38' }];
  write('kerio-compromised', {
    'input.log': kerioLog([...office, ...alias, ...spam.msgs], 50, 33),
    'config.json': `${JSON.stringify({ timezone: 'Europe/Berlin', accounts: { 'anna@example.com': { aliases: ['sales@example.com'] } } }, null, 2)}\n`,
  });
}

// ---------------------------------------------------------------------------
// Oracle Communications (Sun) Messaging Server: the MTA transaction log in each
// LOG_FORMAT, and the MeterMaid log.

const MONTHS_CAP = MONTHS;
const MTA_IP = '192.0.2.25';
const QUEUE = '/opt/sun/comms/messaging64/data/queue';
const SITE = 'example.edu';

/** Berlin wall clock of `at` as [Y, M, D, h, m, s, centiseconds]. */
function berlinParts(at: number): [number, number, number, number, number, number, number] {
  const d = new Date(at + BERLIN_WINTER);
  return [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), Math.floor(d.getUTCMilliseconds() / 10)];
}

/** `17-Nov-2026 02:10:05.37`: local, centiseconds, no zone (LOG_FORMAT 1-3). */
function mtaStamp(at: number): string {
  const [y, mo, d, h, mi, s, cs] = berlinParts(at);
  return `${pad(d)}-${MONTHS_CAP[mo] ?? 'Jan'}-${y} ${pad(h)}:${pad(mi)}:${pad(s)}.${pad(cs)}`;
}

/** `2026-11-17T02:10:05.37`: the XML `ts`, local, no zone (LOG_FORMAT 4). */
function mtaIso(at: number): string {
  const [y, mo, d, h, mi, s, cs] = berlinParts(at);
  return `${y}-${pad(mo + 1)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(s)}.${pad(cs)}`;
}

/** Which optional LOG_* fields the site turned on, per format (sites differ; so do these). */
interface MtaLayout {
  readonly format: 1 | 2 | 3 | 4;
  readonly node?: string;
  readonly process: boolean;
  readonly filename: boolean;
}

function randomId(r: () => number, n: number): string {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)] ?? 'x';
  return s;
}

/**
 * A site day as transaction-log entries: each authenticated session is O, U (success),
 * one E record per recipient of each of its messages, C; every recipient is then
 * dequeued (ims-ms for the site's own users, tcp_local to the world; unknown users
 * bounce). Inbound mail arrives on tcp_local for the MTA's own account (`mailsrv`).
 * `sessions` are the authenticated sessions, each a list of messages from one client.
 */
function mtaSiteDay(sessions: readonly Msg[][], fails: readonly AuthFail[], inbound: number, seed: number): MtaEntry[] {
  const r = rng(seed);
  const out: MtaEntry[] = [];
  let n = 0;
  const proc = (base: number): string => `${base.toString(16)}.${(1 + (n % 7)).toString(16)}.${(++n).toString(16)}`;
  const transport = (ip: string, port: number): string => `TCP|${MTA_IP}|${port}|${ip}|${40000 + Math.floor(r() * 20000)}`;
  const local = (addr: string): boolean => addr.endsWith(`@${SITE}`);

  for (const session of sessions) {
    const first = session[0];
    const last = session[session.length - 1];
    if (!first || !last) continue;
    const p = proc(0x2e2d);
    const tr = transport(first.ip, 587);
    // Bare uids, as Messaging Server users log in; one user types the whole address.
    const login = (first.login ?? '').startsWith('carol@') ? first.login ?? '' : (first.login ?? '').split('@')[0] ?? '';
    const spam = first.clientName === 'unknown';
    out.push({ type: 'co', at: first.at - 2500, process: p, channel: 'tcp_submit', entry: 'O', transport: tr, app: 'SMTP' });
    out.push({
      type: 'co', at: first.at - 1200, process: p, channel: 'tcp_submit', entry: 'U', transport: tr, app: spam ? 'SMTP' : 'SMTP/TLS-256-AES',
      summary: 'Authentication successful - switched to channel tcp_submit', login, diag: `235 2.7.0 ${spam ? 'LOGIN' : 'PLAIN'} authentication successful.`,
    });
    const source = spam
      ? { helo: 'ylmf-pc', ip: first.ip }
      : { helo: (first.clientName ?? 'pc').split('.')[0]?.toUpperCase() ?? 'PC', ...(first.ip.endsWith('1') ? { rdns: first.clientName ?? 'pc' } : {}), ip: first.ip };
    for (const m of session) {
      const msgId = spam ? `${randomId(r, 12)}@${m.from.split('@')[1] ?? 'x'}` : `${mtaIso(m.at).replace(/\D/g, '')}.${randomId(r, 6)}@${SITE}`;
      const size = 1 + Math.floor(r() * 9);
      const files = new Map<string, string>();
      const fileFor = (dst: string): string => {
        let f = files.get(dst);
        if (f === undefined) {
          f = `${QUEUE}/${dst}/${pad(Math.floor(r() * 1000), 3)}/ZZ0${randomId(r, 13)}.00`;
          files.set(dst, f);
        }
        return f;
      };
      m.to.forEach((to, i) => {
        const dst = local(to) ? 'ims-ms' : 'tcp_local';
        const cur = local(to) ? `${to.split('@')[0] ?? ''}@ims-ms-daemon` : to;
        const file = fileFor(dst);
        out.push({
          type: 'en', at: m.at + i * 10, process: p, src: 'tcp_submit', dst, entry: spam ? 'EEA' : 'EESA', size,
          from: m.from, origTo: to, to: cur, file, msgId, user: `*${login}`, source,
        });
        const t = m.at + 1500 + i * 230;
        const dq = proc(0x3b10);
        if (dst === 'ims-ms') {
          out.push({ type: 'en', at: t, process: dq, src: 'ims-ms', entry: 'D', size, from: m.from, origTo: to, to: cur, file, msgId, user: 'mailsrv' });
          return;
        }
        const host = `mx.${to.split('@')[1] ?? 'x'}`;
        const bounced = to.startsWith('nobody');
        out.push({
          type: 'en', at: t, process: dq, src: 'tcp_local', entry: bounced ? 'R' : 'DE', size, from: m.from, origTo: to, to, file, msgId, user: 'mailsrv',
          remote: { host, transport: `TCP|${MTA_IP}|${40000 + Math.floor(r() * 20000)}|198.51.100.${(i % 200) + 1}|25` },
          diag: bounced ? `smtp;550 5.1.1 <${to}>... User unknown` : `smtp;250 2.0.0 Ok: queued as ${randomId(r, 10)}`,
        });
      });
    }
    out.push({ type: 'co', at: last.at + 2000, process: p, channel: 'tcp_submit', entry: 'C', transport: tr, app: 'SMTP' });
  }

  // SMTP AUTH failures: password guessing on the account before the run, one session each.
  for (const f of fails) {
    const p = proc(0x2e2d);
    const tr = transport(f.ip, 587);
    const login = (f.user ?? '').split('@')[0] ?? '';
    out.push({ type: 'co', at: f.at - 800, process: p, channel: 'tcp_submit', entry: 'O', transport: tr, app: 'SMTP' });
    out.push({
      type: 'co', at: f.at, process: p, channel: 'tcp_submit', entry: 'U', transport: tr, app: 'SMTP', summary: 'Bad password', login,
      diag: '535 5.7.8 Bad username or password (Authentication failed).',
    });
    out.push({ type: 'co', at: f.at + 900, process: p, channel: 'tcp_submit', entry: 'C', transport: tr, app: 'SMTP' });
  }

  // Inbound mail for the site's users: tcp_local to ims-ms, written for the MTA's own account.
  const users = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
  for (let i = 0; i < inbound; i++) {
    const at = local6() + Math.floor(r() * 14 * 3600_000);
    const p = proc(0x2e2d);
    const ip = `209.85.220.${(i % 250) + 1}`;
    const tr = transport(ip, 25);
    const user = users[i % users.length] ?? 'alice';
    // Every tenth is a bounce (null envelope sender): empty in format 1, `<>` in 2, `0:` in 3.
    const from = i % 10 === 9 ? '' : `friend${i}@gmail.com`;
    const to = `${user}@${SITE}`;
    const cur = `${user}@ims-ms-daemon`;
    const file = `${QUEUE}/ims-ms/${pad(i % 1000, 3)}/ZZ0${randomId(r, 13)}.00`;
    const msgId = `CA+${randomId(r, 20)}@mail.gmail.com`;
    const size = 3 + Math.floor(r() * 40);
    const helo = `mail-sor-f${i}.google.com`;
    out.push({ type: 'co', at: at - 900, process: p, channel: 'tcp_local', entry: 'O', transport: tr, app: 'SMTP' });
    out.push({ type: 'en', at, process: p, src: 'tcp_local', dst: 'ims-ms', entry: 'EES', size, from, origTo: to, to: cur, file, msgId, user: 'mailsrv', source: { helo, rdns: helo, ip } });
    out.push({ type: 'co', at: at + 400, process: p, channel: 'tcp_local', entry: 'C', transport: tr, app: 'SMTP' });
    out.push({ type: 'en', at: at + 700, process: proc(0x3b10), src: 'ims-ms', entry: 'D', size, from, origTo: to, to: cur, file, msgId, user: 'mailsrv' });
  }
  return out.sort((a, b) => a.at - b.at);
}

/** 06:00 on the scenario day. */
function local6(): number {
  return local(6, 0);
}

/** One entry in LOG_FORMAT 1 (padded columns), 2 (`<>` for empty addresses) or 3 (`N:` counted fields). */
function classicLine(e: MtaEntry, l: MtaLayout): string {
  const counted = l.format === 3;
  const v = (s: string): string => (counted ? `${s.length}:${s}` : s);
  const addr = (s: string): string => (l.format === 2 && s === '' ? '<>' : s);
  const col = (s: string): string => s.padEnd(12);
  const head = `${mtaStamp(e.at)} ${l.node !== undefined ? `${l.node} ` : ''}${l.process ? `${e.process} ` : ''}`;
  if (e.type === 'co') {
    const rest = [v(e.transport), v(e.app)];
    if (e.summary !== undefined) rest.push(v(e.summary));
    if (e.login !== undefined) rest.push(v(e.login));
    if (e.diag !== undefined) rest.push(v(e.diag));
    return `${head}${col(e.channel)} ${col('+')} ${e.entry} ${rest.join(' ')}`;
  }
  const f: string[] = [String(e.size), v(addr(e.from)), v(`rfc822;${addr(e.origTo)}`), v(addr(e.to))];
  if (l.filename) f.push(v(e.file));
  f.push(v(`<${e.msgId}>`), v(e.user));
  if (e.source) f.push(v(sourceText(e.source)));
  if (e.remote) f.push(v(e.remote.host), v(`dns;${e.remote.host}`), counted ? v(e.remote.transport) : `(${e.remote.transport})`);
  if (e.diag !== undefined) f.push(v(e.diag));
  return `${head}${col(e.src)} ${col(e.dst ?? '')} ${e.entry} ${f.join(' ')}`;
}

/** One entry in LOG_FORMAT 4: an `en` or `co` element, attributes by name. */
function xmlLine(e: MtaEntry, l: MtaLayout): string {
  const a: [string, string][] = [['ts', mtaIso(e.at)]];
  if (l.node !== undefined) a.push(['no', l.node]);
  if (l.process) a.push(['pi', e.process]);
  if (e.type === 'co') {
    a.push(['sc', e.channel], ['dr', '+'], ['ac', e.entry], ['tr', e.transport], ['ap', e.app]);
    if (e.summary !== undefined) a.push(['mi', e.summary]);
    if (e.login !== undefined) a.push(['us', e.login]);
    if (e.diag !== undefined) a.push(['di', e.diag]);
    return `<co ${a.map(([k, x]) => `${k}="${xmlAttr(x)}"`).join(' ')}/>`;
  }
  a.push(['sc', e.src]);
  if (e.dst !== undefined) a.push(['dc', e.dst]);
  a.push(['ac', e.entry], ['sz', String(e.size)], ['so', e.from], ['od', `rfc822;${e.origTo}`], ['de', e.to], ['rf', '22']);
  if (l.filename) a.push(['fi', e.file]);
  a.push(['mi', `<${e.msgId}>`], ['us', e.user]);
  if (e.source) a.push(['ss', sourceText(e.source)]);
  a.push(['pr', '3']);
  if (e.diag !== undefined) a.push(['di', e.diag]);
  return `<en ${a.map(([k, x]) => `${k}="${xmlAttr(x)}"`).join(' ')}/>`;
}

function mtaLog(entries: readonly MtaEntry[], l: MtaLayout): string {
  return entries.map((e) => (l.format === 4 ? xmlLine(e, l) : classicLine(e, l))).join('\n') + '\n';
}

// The Messaging Server site has the day of postfix-compromised: the same users, messages
// and spam run (same seeds), so its findings can be compared with Postfix's one for one.
// Some office messages copy a colleague (delivered to the store, ims-ms); Postfix's
// refusal of one forged sender (reject_sender_login_mismatch) has no transaction-log
// counterpart here and is left out.
{
  const users = ['alice', 'bob', 'carol', 'dave', 'erin'];
  const office = officeDay(users, SITE, '10.1.2', 11, 6);
  const spam = spamRun(`frank@${SITE}`, 2, 10, 120, 8, '185.220.101.34', 12);
  const frankNormal = officeDay(['frank'], SITE, '10.1.3', 13, 4);
  const run = spam.msgs.filter((m) => m.refused !== true).sort((a, b) => a.at - b.at);
  // A spam tool sends ten messages per connection; people one.
  // Every third office message also goes to a colleague: E records to ims-ms beside tcp_local.
  const colleague = (m: Msg): string => `${users[(users.indexOf((m.login ?? '').split('@')[0] ?? '') + 1) % users.length] ?? 'bob'}@${SITE}`;
  const withCc = [...office, ...frankNormal].map((m, i) => (i % 3 === 1 ? { ...m, to: [...m.to, colleague(m)] } : m));
  const sessions: Msg[][] = withCc.map((m) => [m]);
  for (let i = 0; i < run.length; i += 10) sessions.push(run.slice(i, i + 10));
  const entries = mtaSiteDay(sessions, spam.fails, 60, 41);
  const layouts: MtaLayout[] = [
    // Format 1, the default: LOG_PROCESS, LOG_FILENAME, LOG_MESSAGE_ID, LOG_USERNAME, LOG_CONNECTION.
    { format: 1, process: true, filename: true },
    // Format 2: a smaller site without LOG_PROCESS and LOG_FILENAME.
    { format: 2, process: false, filename: false },
    // Format 3 (counted fields), without LOG_FILENAME.
    { format: 3, process: true, filename: false },
    // Format 4 (XML) turns on node, process and file name by default.
    { format: 4, node: 'mail1', process: true, filename: true },
  ];
  for (const l of layouts) {
    write(`mta-format${l.format}-compromised`, { 'input.log': mtaLog(entries, l), 'config.json': config({}) });
  }
}

/** `[17/Nov/2026:02:10:05 +0100]`: the service-log stamp, with the server's zone (east of UTC). */
function serviceStamp(at: number): string {
  const [y, mo, d, h, mi, s] = berlinParts(at);
  return `[${pad(d)}/${MONTHS_CAP[mo] ?? 'Jan'}/${y}:${pad(h)}:${pad(mi)}:${pad(s)} +0100]`;
}

/**
 * MeterMaid's count for one key: a weighted, decaying average. Modelled as exponential
 * decay with time constant `quotaTime` plus one per check, which at a steady rate
 * settles at the number of checks per `quotaTime`, as an exact window count would.
 */
function decayingCounter(quotaTime: number): (at: number) => number {
  let c = 0;
  let last = -Infinity;
  return (at) => {
    c = c * Math.exp(-(at - last) / 1000 / quotaTime) + 1;
    last = at;
    return Math.round(c);
  };
}

// MeterMaid, one hijacked account: the site throttles authenticated senders (table
// `sendlim`, quota 100 an hour, called from FROM_ACCESS with the authenticated address)
// and external connections (`ext_conn_throttle`, keyed by IP, 20 per 10 minutes, from
// PORT_ACCESS). The spam run is longer here (150 messages): MeterMaid's decaying count
// reaches 90 % of the quota only after some 130 messages at this pace.
{
  const users = ['alice', 'bob', 'carol', 'dave', 'erin'];
  const office = officeDay(users, SITE, '10.1.2', 51, 6);
  const spam = spamRun(`frank@${SITE}`, 2, 10, 150, 5, '185.220.101.34', 52).msgs.filter((m) => m.refused !== true);
  const frankNormal = officeDay(['frank'], SITE, '10.1.3', 53, 4);
  // A list owner sends 100 announcements in an hour: 64 / 100 at the peak, under the warning level.
  const bulk: Msg[] = Array.from({ length: 100 }, (_, i) => ({
    at: local(10, 0) + i * 36_000, login: `lists@${SITE}`, from: `lists@${SITE}`, to: [`member${i}@lists.example.org`], ip: '10.1.9.5',
  }));
  const r = rng(54);
  const lines: [number, string][] = [];
  const host = 'mail1';
  const say = (at: number, text: string): void => {
    lines.push([at, `${serviceStamp(at)} ${host} metermaid[2141]: ${text}`]);
  };
  // Only the `Current status for` wording is known (from admins' scripts); these notices
  // stand for whatever else MeterMaid logs, which sendwatch recognises and ignores.
  say(local(0, 0, 3), 'General Notice: MeterMaid starting up, listening on port 63837');
  say(local(0, 0, 4), 'General Information: table sendlim: quota 100, quota_time 3600');
  say(local(0, 0, 4), 'General Information: table ext_conn_throttle: quota 20, quota_time 600');
  const sendlim = new Map<string, (at: number) => number>();
  for (const m of [...office, ...frankNormal, ...bulk, ...spam].sort((a, b) => a.at - b.at)) {
    // Carol's mail client sends her address capitalised; accounts compare in lower case.
    const key = (m.login ?? '').startsWith('carol@') ? 'Carol@Example.EDU' : m.login ?? '';
    let c = sendlim.get(key.toLowerCase());
    if (!c) {
      c = decayingCounter(3600);
      sendlim.set(key.toLowerCase(), c);
    }
    say(m.at, `General Notice: Current status for "${key}" in sendlim: ${c(m.at)} / 100`);
  }
  // External connections: the spam tool reconnects for every message; inbound relays
  // connect now and then; a partner's IPv6 relay too.
  const conns: [number, string][] = [
    ...spam.map((m): [number, string] => [m.at - 2500, m.ip]),
    ...Array.from({ length: 6 }, (_, i): [number, string] => [local(2, 0) + i * 30_000, '185.220.101.34']),
    ...Array.from({ length: 50 }, (_, i): [number, string] => [local(6, 0) + Math.floor(r() * 14 * 3600_000), `209.85.220.${(i % 25) + 1}`]),
    ...Array.from({ length: 8 }, (_, i): [number, string] => [local(9, 0) + i * 40 * 60_000, '2001:db8:4::25']),
  ];
  const ext = new Map<string, (at: number) => number>();
  for (const [at, ip] of conns.sort((a, b) => a[0] - b[0])) {
    let c = ext.get(ip);
    if (!c) {
      c = decayingCounter(600);
      ext.set(ip, c);
    }
    say(at, `General Notice: Current status for "${ip}" in ext_conn_throttle: ${c(at)} / 20`);
  }
  lines.sort((a, b) => a[0] - b[0]);
  write('metermaid-compromised', {
    'input.log': lines.map((l) => l[1]).join('\n') + '\n',
    'config.json': config({}),
  });
}
