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
import { repoPath } from '../helpers/paths.js';

/** Mulberry32: small, seeded, good enough for shuffling test traffic. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
