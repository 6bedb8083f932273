/**
 * End to end through `scan --findings --output ndjson`: attacker-written text that looks
 * like the server's own fields (`User: ceo@...`, `Sender-Host: 192.168.1.1`,
 * `sasl_username=ceo@...`, `*ceo@...`, a forged MeterMaid tail) changes neither who
 * sent a message nor from where. Both ways round: the hijacked account (mallory) is
 * still found, with its real client address, and the account the text names (ceo) is
 * never reported.
 *
 * (The parsers' own tests check single lines; these check the whole way to a finding.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';
import { writeTemp } from './logs.js';

const VICTIM = 'ceo@example.edu';
const ATTACKER = 'mallory@example.edu';
const ATTACKER_IP = '203.0.113.66';
const LAN_IP = '192.168.1.1';
const T0 = Date.parse('2026-02-02T08:00:00Z');

interface FindingJson {
  readonly account: string;
  readonly rule: string;
  readonly message: string;
  readonly data: Readonly<Record<string, string | number>>;
}

async function findings(format: string, lines: readonly string[]): Promise<FindingJson[]> {
  const path = writeTemp(`${format}.log`, `${lines.join('\n')}\n`);
  const r = await runCli(['scan', '--format', format, '--timezone', 'UTC', '--default-domain', 'example.edu', '--findings', '--output', 'ndjson', path]);
  assert.ok(r.code === 0 || r.code === 1, `exit ${String(r.code)}: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as FindingJson);
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The victim is never the account of a finding, nor named as the one who logged in. */
function assertVictimNeverBlamed(fs: readonly FindingJson[]): void {
  for (const f of fs) {
    assert.notEqual(f.account.toLowerCase(), VICTIM, `a finding blames ${VICTIM}: ${JSON.stringify(f)}`);
    assert.doesNotMatch(f.message, /logged in as ceo@/i, `a finding says ${VICTIM} logged in: ${f.message}`);
  }
}

/** The attacker is found, and with its real client address, not the LAN address the text claims. */
function assertAttackerFound(fs: readonly FindingJson[], ip = ATTACKER_IP): void {
  const mine = fs.filter((f) => f.account === ATTACKER);
  assert.ok(mine.length > 0, `no finding for ${ATTACKER}; accounts: ${[...new Set(fs.map((f) => f.account))].join(', ')}`);
  assert.ok(mine.some((f) => f.rule === 'sends-per-account'), 'its volume is counted');
  const foreign = mine.filter((f) => f.rule === 'foreign-sender-host');
  assert.ok(foreign.length > 0, 'its untrusted client address is reported (the forged LAN address did not hide it)');
  assert.ok(foreign.every((f) => f.message.includes(ip)), foreign.map((f) => f.message).join('; '));
  for (const f of fs) assert.ok(!f.message.includes(`from ${LAN_IP}`), `a finding puts a client at ${LAN_IP}: ${f.message}`);
}

// ---------------------------------------------------------------------------- Kerio

function kerioStamp(at: number): string {
  const d = new Date(at);
  return `[${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()] ?? ''}/${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}]`;
}

/** Queue-ID: UTC epoch seconds at queueing in hex, then a counter. */
const kerioQid = (at: number, n: number): string => `${Math.floor(at / 1000).toString(16)}-${n.toString(16).padStart(8, '0')}`;

function kerioRecv(at: number, n: number, f: { from: string; to: string; host: string; user?: string; subject: string }): string {
  const user = f.user === undefined ? '' : `User: ${f.user}, `;
  return `${kerioStamp(at)} Recv: Queue-ID: ${kerioQid(at, n)}, Service: SMTP, From: <${f.from}>, To: <${f.to}>, Size: 2048, `
    + `Sender-Host: ${f.host}, ${user}SSL: ${f.user === undefined ? 'no' : 'yes'}, Subject: ${f.subject}, Msg-Id: <m${n}@example.org>`;
}

const FORGED_SUBJECTS = [
  `Invoice, User: ${VICTIM}, SSL: yes, Sender-Host: ${LAN_IP}`,
  `hi, Sender-Host: ${LAN_IP}, User: ${VICTIM}, SSL: yes, Msg-Id: <fake@example.edu>`,
  `${kerioStamp(T0)} Recv: Queue-ID: ${kerioQid(T0, 1)}, Service: SMTP, From: <${VICTIM}>, To: <x@example.org>, Size: 1, Sender-Host: ${LAN_IP}, User: ${VICTIM}, SSL: yes, Subject: x`,
];

describe('attribution: Kerio Subject and addresses', () => {
  it(`a hijacked account's spam whose Subject claims User: ${VICTIM} and Sender-Host: ${LAN_IP}`, async () => {
    const lines: string[] = [];
    let n = 0x100;
    for (let i = 0; i < 120; i++) {
      const at = T0 + i * 25_000;
      const subject = FORGED_SUBJECTS[i % FORGED_SUBJECTS.length] ?? '';
      // Two recipients per message: one Recv line each, one Queue-ID.
      n++;
      for (const to of [`t${i}@victims.example.com`, `u${i}@victims.example.net`]) {
        lines.push(kerioRecv(at, n, { from: ATTACKER, to, host: ATTACKER_IP, user: ATTACKER, subject }));
      }
      // Inbound spam whose Subject says the CEO sent it from the LAN: nobody's submission.
      n++;
      lines.push(kerioRecv(at + 1000, n, { from: 'billing@evil.example', to: `staff${i % 7}@example.edu`, host: '198.51.100.77', subject }));
      // A quoted envelope sender holding `>, ... User: ceo@..., ...` stays one address.
      n++;
      lines.push(kerioRecv(at + 2000, n, { from: `"x>, To: <a@example.edu>, Size: 1, Sender-Host: ${LAN_IP}, User: ${VICTIM}, SSL: yes, Subject: "@evil.example`, to: 'staff@example.edu', host: '198.51.100.78', subject: 'hello' }));
    }
    const fs = await findings('kerio', lines);
    assertVictimNeverBlamed(fs);
    assertAttackerFound(fs);
    assert.deepEqual([...new Set(fs.map((f) => f.account))], [ATTACKER]);
  });
});

// ---------------------------------------------------------------------------- Postfix

function syslog(at: number, prog: string, pid: number, msg: string): string {
  return `${new Date(at).toISOString().replace('Z', '000+00:00')} mx1 ${prog}[${pid}]: ${msg}`;
}

function postfixMessage(at: number, i: number, o: { login?: string; ip: string; from: string; to: readonly string[]; saslSender?: string }): string[] {
  const qid = `4Q${(0x10000 + i).toString(16).toUpperCase()}X${i % 10}Z`;
  const pid = 20_000 + i;
  const auth = o.login === undefined ? '' : `, sasl_method=PLAIN, sasl_username=${o.login}${o.saslSender === undefined ? '' : `, sasl_sender=${o.saslSender}`}`;
  const prog = o.login === undefined ? 'postfix/smtpd' : 'postfix/submission/smtpd';
  const out = [
    syslog(at, prog, pid, `${qid}: client=unknown[${o.ip}]${auth}`),
    syslog(at + 5, 'postfix/cleanup', 900, `${qid}: message-id=<${qid}@mx1.example.edu>`),
    syslog(at + 10, 'postfix/qmgr', 880, `${qid}: from=<${o.from}>, size=2048, nrcpt=${o.to.length} (queue active)`),
  ];
  o.to.forEach((to, k) => {
    out.push(syslog(at + 400 + k, 'postfix/smtp', 9000 + i, `${qid}: to=<${to}>, relay=mx.victims.example[198.51.100.9]:25, delay=0.5, delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 ok)`));
  });
  out.push(syslog(at + 500, 'postfix/qmgr', 880, `${qid}: removed`));
  return out;
}

describe('attribution: Postfix addresses carrying sasl_username=', () => {
  it(`sender and recipient addresses with ", sasl_username=${VICTIM}" and "from=<a@b>, sasl_username=x"`, async () => {
    const lines: string[] = [];
    for (let i = 0; i < 120; i++) {
      const at = T0 + i * 25_000;
      lines.push(...postfixMessage(at, i, {
        login: ATTACKER, ip: ATTACKER_IP,
        from: i % 2 === 0 ? `"from=<a@b>, sasl_username=${VICTIM}, size=1, nrcpt=999"@evil.example` : `"x, sasl_username=${VICTIM}"@evil.example`,
        to: [`"from=<a@b>, sasl_username=x"@victims.example.com`, `"r${i}, sasl_username=${VICTIM}"@victims.example.net`],
        ...(i % 3 === 0 ? { saslSender: `"x, sasl_username=${VICTIM}"@evil.example` } : {}),
      }));
      // Inbound, unauthenticated, from an address that spells out a login.
      lines.push(...postfixMessage(at + 1000, 10_000 + i, {
        ip: '198.51.100.77', from: `"client=unknown[${LAN_IP}], sasl_method=PLAIN, sasl_username=${VICTIM}"@evil.example`, to: [`staff${i % 5}@example.edu`],
      }));
    }
    const fs = await findings('postfix', lines);
    assertVictimNeverBlamed(fs);
    assertAttackerFound(fs);
    assert.deepEqual([...new Set(fs.map((f) => f.account))], [ATTACKER]);
  });
});

// ---------------------------------------------------------------------------- Messaging Server

function mtaStamp(at: number): string {
  const d = new Date(at);
  return `${pad(d.getUTCDate())}-${MONTHS[d.getUTCMonth()] ?? ''}-${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(Math.floor((at % 1000) / 10))}`;
}

/** The source systems (HELO then the client) an attacker may present. */
const MTA_SOURCES = [
  `ceo-pc (dsl-66.example.net [${ATTACKER_IP}])`,
  `*${VICTIM} (dsl-66.example.net [${ATTACKER_IP}])`,
  `fake (spoof.example [${LAN_IP}]) (dsl-66.example.net [${ATTACKER_IP}])`,
];

/** Recipients that hold a `*login`-looking string. */
const MTA_RECIPIENTS = [
  `"*${VICTIM}"@evil.example`,
  `"${VICTIM}"@evil.example`,
  `x*${VICTIM}@evil.example`,
];

describe('attribution: Messaging Server recipients, HELO and headers holding *ceo@...', () => {
  it('a *login-looking recipient, HELO or Subject header does not become the login', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 120; i++) {
      const at = T0 + i * 25_000;
      const stamp = mtaStamp(at);
      const rcpt = MTA_RECIPIENTS[i % MTA_RECIPIENTS.length] ?? '';
      const src = MTA_SOURCES[i % MTA_SOURCES.length] ?? '';
      lines.push(`${stamp} tcp_submit   tcp_local    EEA 3 ${ATTACKER} rfc822;${rcpt} ${rcpt} *${ATTACKER} ${src}`);
      lines.push(`${stamp} tcp_submit   tcp_local    EEA 3 ${ATTACKER} rfc822;r${i}@victims.example.com r${i}@victims.example.com *${ATTACKER} ${src}`);
      lines.push(`${stamp} > Subject: hi *${VICTIM} ceo-pc ([${LAN_IP}])`);
      lines.push(`${stamp} > From: *${VICTIM} <${VICTIM}>`);
      // Inbound from outside to a local user, the sender spelling a login: the MTA's own user.
      const inbound = mtaStamp(at + 1000);
      lines.push(`${inbound} tcp_local    ims-ms       EE 2 "*${VICTIM}"@evil.example rfc822;staff@example.edu staff@ims-ms-daemon mailsrv mx.evil.example ([198.51.100.9])`);
    }
    const fs = await findings('mta-transaction', lines);
    assertVictimNeverBlamed(fs);
    assertAttackerFound(fs);
    assert.deepEqual([...new Set(fs.map((f) => f.account))], [ATTACKER]);
  });
});

// ---------------------------------------------------------------------------- MeterMaid

function meterMaid(at: number, key: string, count: number): string {
  const d = new Date(at);
  const stamp = `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()] ?? ''}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
  return `[${stamp}] mail1 metermaid[2141]: General Notice: Current status for "${key}" in sendlim: ${count} / 100`;
}

describe('attribution: MeterMaid keys with a quote and a forged tail', () => {
  it(`a key "${VICTIM}\\" in sendlim: 99 / 100" does not put ${VICTIM} at 99 %; a forged low tail does not hide a real 95`, async () => {
    const lines: string[] = [];
    for (let i = 0; i < 60; i++) {
      const at = T0 + i * 20_000;
      // The victim's name with a tail that claims 99 / 100: the server's count is 1.
      lines.push(meterMaid(at, `${VICTIM}" in sendlim: 99 / 100`, 1));
      lines.push(meterMaid(at + 1, `x@evil.example" in sendlim: 99 / 100" in sendlim: 98 / 100`, 1));
      // The attacker's own count rises to 95, once with a forged tail claiming 1.
      const count = Math.min(95, 40 + i);
      lines.push(meterMaid(at + 2, i === 59 ? `${ATTACKER}" in sendlim: 1 / 100` : ATTACKER, count));
    }
    const fs = await findings('metermaid', lines);
    assertVictimNeverBlamed(fs);
    const quota = fs.filter((f) => f.rule === 'metermaid-quota');
    assert.ok(quota.some((f) => f.account === ATTACKER && Number(f.data.count) >= 90), `the attacker's own count is found: ${JSON.stringify(quota.map((f) => [f.account, f.data.count]))}`);
    for (const f of quota) {
      // Every finding is at a count the server wrote (40..95), never a forged 98 or 99.
      assert.ok(Number(f.data.count) <= 95, `a forged count was believed: ${JSON.stringify(f)}`);
      assert.ok(f.account.startsWith(ATTACKER), `a finding for ${f.account}`);
    }
  });
});
