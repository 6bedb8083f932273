/**
 * The e-mail sink against real counterparts: an SMTP server on loopback (the
 * `smtp-server` package, on a free port) that checks logins and records what arrives,
 * and a `sendmail` shell script that records its argv and stdin.
 *
 * TLS uses the pre-generated, test-only key and self-signed certificate in
 * fixtures/tls/ (see its README): Node can verify certificates but not make them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { digestMessage } from '../../src/alerts/message.js';
import type { Alert } from '../../src/alerts/types.js';
import { runTestEmail } from '../../src/cli/test-email.js';
import { AlertsSchema, type TransportConfig } from '../../src/config/alerts-schema.js';
import { sendMail, verifyTransport, type OutgoingMessage } from '../../src/sinks/mail.js';
import { repoPath } from '../helpers/paths.js';

const KEY = readFileSync(repoPath('fixtures/tls/localhost.key'));
const CERT = readFileSync(repoPath('fixtures/tls/localhost.crt'));

interface Received {
  mailFrom: string | undefined;
  rcptTo: string[];
  user: string | undefined;
  secure: boolean;
  raw: string;
}

interface TestServer {
  port: number;
  received: Received[];
  close(): Promise<void>;
}

async function startServer(options: SMTPServerOptions = {}): Promise<TestServer> {
  const received: Received[] = [];
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    closeTimeout: 500,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          user: typeof session.user === 'string' ? session.user : undefined,
          secure: session.secure,
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback(null, 'queued as TEST1');
      });
    },
    ...options,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return { port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A port that nothing listens on: bound once by us, then released. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function smtp(port: number, over: Record<string, unknown> = {}): TransportConfig {
  return AlertsSchema.parse({ to: ['x@example.edu'], transport: { type: 'smtp', host: '127.0.0.1', port, security: 'none', timeoutSeconds: 5, ...over } }).transport;
}

interface Parsed {
  headers: Map<string, string[]>;
  body: string;
}

/** Just enough of RFC 5322 and MIME for the assertions: unfolded headers, and the text body decoded. */
function parse(raw: string): Parsed {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers = new Map<string, string[]>();
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  let body = raw.slice(split + 4);
  const cte = headers.get('content-transfer-encoding')?.[0]?.toLowerCase();
  if (cte === 'quoted-printable') {
    const bytes = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    body = Buffer.from(bytes, 'latin1').toString('utf8');
  } else if (cte === 'base64') {
    body = Buffer.from(body, 'base64').toString('utf8');
  }
  return { headers, body: body.replace(/\r\n/g, '\n') };
}

const header = (p: Parsed, name: string): string | undefined => p.headers.get(name.toLowerCase())?.[0];

const T0 = Date.parse('2026-03-06T20:01:12Z');
const EVIL = 'jdent@example.edu\r\nBcc: victim@example.com\r\n\u001b[31m\u202eevil';

function hostileAlert(): Alert {
  return {
    fingerprint: 'fp', rule: 'sends-per-account', account: EVIL, severity: 'critical', reason: 'new',
    firstSeen: T0, lastSeen: T0 + 60_000, message: `sent 95 messages ${EVIL}`, data: { messages: 95, sender: EVIL },
    evidence: [{ source: '/var/log/mail.log', lineNo: 42, text: `postfix/smtpd: sasl_username=${EVIL}` }],
  };
}

function message(over: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    from: 'sendwatch@mx1.example.edu', to: ['admin@example.edu'], subject: '[sendwatch] test', text: 'hello\n',
    headers: { 'Auto-Submitted': 'auto-generated' }, ...over,
  };
}

/** Asserts a one-line rejection and returns its message. */
async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof Error);
    assert.ok(!/[\r\n]/.test(e.message), `one line: ${JSON.stringify(e.message)}`);
    return e.message;
  }
  assert.fail('expected a rejection');
}

describe('sendMail over SMTP', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.close();
  });

  it('a digest arrives with its headers and body; hostile log text stays out of the headers', async () => {
    const config = AlertsSchema.parse({ to: ['admin@example.edu', 'noc@example.edu'], from: 'sendwatch@mx1.example.edu', hostname: 'mx1' });
    const digest = { id: 'd-1', createdAt: T0, host: 'mx1', alerts: [hostileAlert()] };
    const m = digestMessage(digest, config, { timezone: 'UTC', sentAt: T0 + 120_000 });
    const id = await sendMail(smtp(server.port), m);
    assert.equal(id, '<sendwatch.digest.d-1@mx1.example.edu>');

    const got = server.received.at(-1);
    assert.ok(got);
    assert.equal(got.mailFrom, 'sendwatch@mx1.example.edu');
    assert.deepEqual(got.rcptTo, ['admin@example.edu', 'noc@example.edu']);
    const p = parse(got.raw);
    assert.equal(header(p, 'Subject'), '[sendwatch] CRITICAL: 1 account looks compromised on mx1');
    assert.equal(header(p, 'From'), 'sendwatch@mx1.example.edu');
    assert.equal(header(p, 'To'), 'admin@example.edu, noc@example.edu');
    assert.equal(header(p, 'Auto-Submitted'), 'auto-generated');
    assert.equal(header(p, 'X-Auto-Response-Suppress'), 'All');
    assert.equal(header(p, 'Message-ID'), '<sendwatch.digest.d-1@mx1.example.edu>');
    assert.equal(header(p, 'Date'), 'Fri, 06 Mar 2026 20:03:12 +0000');
    assert.match(header(p, 'Content-Type') ?? '', /^text\/plain/);
    assert.equal(p.headers.get('bcc'), undefined);
    assert.ok(!got.rcptTo.includes('victim@example.com'));
    // The body is the rendered digest, hostile text escaped.
    assert.equal(p.body, m.text);
    assert.ok(p.body.includes('1. jdent@example.edu\\r\\nBcc: victim@example.com\\r\\n\\x1b[31m\\u202eevil'));
    assert.ok(!/[\u001b\u202e\r]/.test(p.body));
  });

  it('CR/LF in a subject or header value handed to sendMail cannot add headers', async () => {
    await sendMail(smtp(server.port), message({
      subject: 'alert\r\nBcc: victim@example.com',
      headers: { 'X-Note': 'a\r\nBcc: victim2@example.com\nX-Injected: 1' },
    }));
    const got = server.received.at(-1);
    assert.ok(got);
    const p = parse(got.raw);
    assert.equal(header(p, 'Subject'), 'alert\\r\\nBcc: victim@example.com');
    assert.equal(header(p, 'X-Note'), 'a\\r\\nBcc: victim2@example.com\\nX-Injected: 1');
    assert.equal(p.headers.get('bcc'), undefined);
    assert.equal(p.headers.get('x-injected'), undefined);
    assert.deepEqual(got.rcptTo, ['admin@example.edu']);
  });

  it('refuses addressing through headers, bad header names and non-plain addresses before connecting', async () => {
    const t = smtp(server.port);
    const prefix = `smtp 127.0.0.1:${server.port}: `;
    assert.equal(await rejection(sendMail(t, message({ headers: { Bcc: 'a@b' } }))), `${prefix}header Bcc must not be set through headers`);
    assert.match(await rejection(sendMail(t, message({ headers: { 'X-Bad\r\nBcc': 'a@b' } }))), /not a header name/);
    assert.match(await rejection(sendMail(t, message({ to: ['a@b\r\nRCPT TO:<c@d>'] }))), /not a plain e-mail address/);
    assert.match(await rejection(sendMail(t, message({ to: ['a@b, c@d'] }))), /not a plain e-mail address/);
    assert.match(await rejection(sendMail(t, message({ to: [] }))), /no recipients/);
  });

  it('verifyTransport succeeds against a running server and sends nothing', async () => {
    const before = server.received.length;
    await verifyTransport(smtp(server.port));
    assert.equal(server.received.length, before);
  });
});

describe('SMTP failures: one-line rejections in bounded time', () => {
  it('server down: connection refused', async () => {
    const port = await deadPort();
    const started = Date.now();
    assert.equal(await rejection(sendMail(smtp(port), message())), `smtp 127.0.0.1:${port}: connection refused`);
    assert.ok(Date.now() - started < 5000);
    assert.equal(await rejection(verifyTransport(smtp(port))), `smtp 127.0.0.1:${port}: connection refused`);
  });

  it('a server that accepts but never greets: timed out after timeoutSeconds', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      const started = Date.now();
      const msg = await rejection(sendMail(smtp(port, { timeoutSeconds: 1 }), message()));
      assert.equal(msg, `smtp 127.0.0.1:${port}: no answer within 1s (timed out)`);
      assert.ok(Date.now() - started < 4000, `took ${Date.now() - started} ms`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('5xx for the recipient: refused, with the server\'s answer', async () => {
    const s = await startServer({
      onRcptTo(_address, _session, callback) {
        callback(Object.assign(new Error('5.1.1 no such user here'), { responseCode: 550 }));
      },
    });
    try {
      const msg = await rejection(sendMail(smtp(s.port), message()));
      assert.match(msg, new RegExp(`^smtp 127\\.0\\.0\\.1:${s.port}: sender or recipients refused: .*550 5\\.1\\.1 no such user here`));
    } finally {
      await s.close();
    }
  });

  it('4xx for the message (greylisting, full queue): refused, with the server\'s answer', async () => {
    const s = await startServer({
      onData(stream, _session, callback) {
        stream.resume();
        stream.on('end', () => callback(Object.assign(new Error('4.3.1 insufficient system storage'), { responseCode: 451 })));
      },
    });
    try {
      const msg = await rejection(sendMail(smtp(s.port), message()));
      assert.match(msg, new RegExp(`^smtp 127\\.0\\.0\\.1:${s.port}: message refused: 451 4\\.3\\.1 insufficient system storage$`));
    } finally {
      await s.close();
    }
  });

  it('one of two recipients refused: sent, and the result says who was not reached', async () => {
    const s = await startServer({
      onRcptTo(address, _session, callback) {
        callback(address.address.startsWith('gone') ? Object.assign(new Error('no such user'), { responseCode: 550 }) : null);
      },
    });
    try {
      const id = await sendMail(smtp(s.port), message({ to: ['admin@example.edu', 'gone@example.edu'] }));
      assert.match(id, /\(not accepted for gone@example\.edu\)$/);
      assert.deepEqual(s.received[0]?.rcptTo, ['admin@example.edu']);
    } finally {
      await s.close();
    }
  });
});

describe('SMTP TLS', () => {
  it('STARTTLS with a self-signed certificate, checking switched off: sent over TLS', async () => {
    const s = await startServer({ key: KEY, cert: CERT });
    try {
      await sendMail(smtp(s.port, { security: 'starttls', rejectUnauthorized: false }), message());
      assert.equal(s.received.length, 1);
      assert.equal(s.received[0]?.secure, true);
    } finally {
      await s.close();
    }
  });

  it('STARTTLS with the certificate checked (the default): a self-signed certificate is refused', async () => {
    const s = await startServer({ key: KEY, cert: CERT });
    try {
      const msg = await rejection(sendMail(smtp(s.port, { security: 'starttls' }), message()));
      assert.match(msg, new RegExp(`^smtp 127\\.0\\.0\\.1:${s.port}: TLS failed: .*self[- ]signed certificate`));
      assert.equal(s.received.length, 0);
    } finally {
      await s.close();
    }
  });

  it('STARTTLS required: a server that does not offer it gets nothing (no silent downgrade)', async () => {
    const s = await startServer({ disabledCommands: ['STARTTLS'] });
    try {
      const msg = await rejection(sendMail(smtp(s.port, { security: 'starttls', rejectUnauthorized: false }), message()));
      assert.equal(msg, `smtp 127.0.0.1:${s.port}: the server refused STARTTLS, which security "starttls" requires: 500 Error: command not recognized`);
      assert.equal(s.received.length, 0);
      // And implicit TLS against a plain port says so instead of quoting OpenSSL.
      assert.match(await rejection(sendMail(smtp(s.port, { security: 'tls' }), message())), /does not speak TLS on this port/);
    } finally {
      await s.close();
    }
  });

  it('implicit TLS (port 465 style)', async () => {
    const s = await startServer({ secure: true, key: KEY, cert: CERT });
    try {
      await sendMail(smtp(s.port, { security: 'tls', rejectUnauthorized: false }), message());
      assert.equal(s.received[0]?.secure, true);
    } finally {
      await s.close();
    }
  });
});

describe('SMTP AUTH', () => {
  const ENV = 'SENDWATCH_TEST_SMTP_PASSWORD';
  let server: TestServer;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sendwatch-auth-'));
    server = await startServer({
      authOptional: false,
      allowInsecureAuth: true,
      onAuth(auth, _session, callback) {
        if (auth.username === 'sendwatch' && auth.password === 'c0rrect horse') callback(null, { user: auth.username });
        else callback(Object.assign(new Error('5.7.8 authentication credentials invalid'), { responseCode: 535 }));
      },
    });
  });
  after(async () => {
    Reflect.deleteProperty(process.env, ENV);
    rmSync(dir, { recursive: true, force: true });
    await server.close();
  });

  it('password from an environment variable', async () => {
    process.env[ENV] = 'c0rrect horse';
    await sendMail(smtp(server.port, { user: 'sendwatch', passwordEnv: ENV }), message());
    assert.equal(server.received.at(-1)?.user, 'sendwatch');
  });

  it('password from a file, trailing newline ignored', async () => {
    const file = join(dir, 'smtp.pw');
    writeFileSync(file, 'c0rrect horse\n', { mode: 0o600 });
    const before = server.received.length;
    await sendMail(smtp(server.port, { user: 'sendwatch', passwordFile: file }), message());
    assert.equal(server.received.length, before + 1);
    assert.equal(server.received.at(-1)?.user, 'sendwatch');
  });

  it('a wrong password: the login is refused, with the server\'s answer', async () => {
    process.env[ENV] = 'wrong';
    const msg = await rejection(sendMail(smtp(server.port, { user: 'sendwatch', passwordEnv: ENV }), message()));
    assert.match(msg, new RegExp(`^smtp 127\\.0\\.0\\.1:${server.port}: login as sendwatch refused: 535 5\\.7\\.8 authentication credentials invalid$`));
  });

  it('a missing password: a clear error, before connecting', async () => {
    Reflect.deleteProperty(process.env, ENV);
    assert.equal(await rejection(sendMail(smtp(server.port, { user: 'sendwatch', passwordEnv: ENV }), message())),
      `smtp 127.0.0.1:${server.port}: password: environment variable ${ENV} (passwordEnv) is not set`);
    const missing = join(dir, 'nope');
    assert.equal(await rejection(sendMail(smtp(server.port, { user: 'sendwatch', passwordFile: missing }), message())),
      `smtp 127.0.0.1:${server.port}: password file ${missing}: no such file`);
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    assert.match(await rejection(sendMail(smtp(server.port, { user: 'sendwatch', passwordFile: empty }), message())), /password file .*empty is empty$/);
  });

  it('no login configured for a server that requires one', async () => {
    const msg = await rejection(sendMail(smtp(server.port), message()));
    assert.match(msg, new RegExp(`^smtp 127\\.0\\.0\\.1:${server.port}: .*530 .*authentication required`, 'i'));
  });
});

describe('sendMail through sendmail', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sendwatch-sendmail-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** A sendmail that records argv (one per line) and stdin, then runs `tail`. */
  function fakeSendmail(name: string, tail: string): string {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\nprintf '%s\\n' "$@" > '${path}.argv'\ncat > '${path}.stdin'\n${tail}\n`);
    chmodSync(path, 0o755);
    return path;
  }
  const sendmail = (path: string, over: Record<string, unknown> = {}): TransportConfig =>
    AlertsSchema.parse({ to: ['x@y'], transport: { type: 'sendmail', path, ...over } }).transport;

  it('default: sendmail -t -i, the whole message on stdin', async () => {
    const path = fakeSendmail('ok', 'exit 0');
    const m = digestMessage({ id: 'd-2', createdAt: T0, host: 'mx1', alerts: [hostileAlert()] },
      AlertsSchema.parse({ to: ['admin@example.edu', 'root'], from: 'sendwatch@mx1.example.edu' }), { timezone: 'UTC', sentAt: T0 });
    const id = await sendMail(sendmail(path), m);
    assert.equal(id, '<sendwatch.digest.d-2@mx1.example.edu>');
    assert.equal(readFileSync(`${path}.argv`, 'utf8'), '-t\n-i\n');
    const stdin = readFileSync(`${path}.stdin`, 'utf8');
    assert.ok(!stdin.includes('\r\n'), 'unix line ends for a local program');
    const p = parse(stdin.replace(/\n/g, '\r\n'));
    assert.equal(header(p, 'To'), 'admin@example.edu, <root>');
    assert.equal(header(p, 'From'), 'sendwatch@mx1.example.edu');
    assert.equal(header(p, 'Subject'), '[sendwatch] CRITICAL: 1 account looks compromised on mx1');
    assert.equal(header(p, 'Auto-Submitted'), 'auto-generated');
    assert.equal(header(p, 'X-Auto-Response-Suppress'), 'All');
    assert.equal(p.headers.get('bcc'), undefined);
    assert.equal(p.body, m.text);
  });

  it('own options without -t: recipients follow "--"', async () => {
    const path = fakeSendmail('args', 'exit 0');
    await sendMail(sendmail(path, { args: ['-i', '-f', 'bounces@example.edu'] }), message({ to: ['a@example.edu', 'b@example.edu'] }));
    assert.equal(readFileSync(`${path}.argv`, 'utf8'), '-i\n-f\nbounces@example.edu\n--\na@example.edu\nb@example.edu\n');
  });

  it('exit status 75 (temporary failure): rejected with the status and what it said', async () => {
    const path = fakeSendmail('tempfail', "echo 'postdrop: warning: unable to look up public/pickup: No such file or directory' >&2\necho 'second line' >&2\nexit 75");
    assert.equal(await rejection(sendMail(sendmail(path), message())),
      `sendmail ${path} exited with status 75: postdrop: warning: unable to look up public/pickup: No such file or directory second line`);
  });

  it('a missing program', async () => {
    const path = join(dir, 'does-not-exist');
    assert.equal(await rejection(sendMail(sendmail(path), message())), `sendmail ${path}: no such file`);
    assert.equal(await rejection(verifyTransport(sendmail(path))), `sendmail ${path}: no such file`);
  });

  it('a program that hangs is killed after timeoutSeconds', async () => {
    const path = join(dir, 'hang');
    writeFileSync(path, '#!/bin/sh\nexec sleep 30\n');
    chmodSync(path, 0o755);
    const started = Date.now();
    assert.equal(await rejection(sendMail(sendmail(path, { timeoutSeconds: 1 }), message())), `sendmail ${path} did not finish within 1s (killed)`);
    assert.ok(Date.now() - started < 4000);
  });

  it('a program that exits 0 without reading the message is not taken as success', async () => {
    const path = join(dir, 'noread');
    writeFileSync(path, '#!/bin/sh\nexit 0\n');
    chmodSync(path, 0o755);
    // Node's stdin to a child is a socket pair whose kernel buffer (~200 KB) takes a small
    // message whole; only a bigger one shows that nobody read it.
    const msg = await rejection(sendMail(sendmail(path), message({ text: 'x'.repeat(2_000_000) })));
    assert.match(msg, /exited before reading the whole message/);
  });

  it('verifyTransport: executable or not', async () => {
    await verifyTransport(sendmail(fakeSendmail('v', 'exit 0')));
    const plain = join(dir, 'not-executable');
    writeFileSync(plain, 'x');
    chmodSync(plain, 0o644);
    // No execute bit at all: refused even for root.
    assert.match(await rejection(verifyTransport(sendmail(plain))), /permission denied/);
  });
});

describe('runTestEmail', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sendwatch-test-email-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** Records what runTestEmail says on each stream. */
  function recorder(): { lines: string[]; out: string[]; io: { err(line: string): void; out(text: string): Promise<void> } } {
    const lines: string[] = [];
    const out: string[] = [];
    return {
      lines, out,
      io: { err: (l) => void lines.push(l), out: (t) => Promise.resolve(void out.push(t)) },
    };
  }

  it('sends a short message with the digest headers; exit 0', async () => {
    const s = await startServer();
    try {
      const config = AlertsSchema.parse({ to: ['admin@example.edu'], hostname: 'mx1', from: 'sendwatch@mx1.example.edu', transport: { type: 'smtp', host: '127.0.0.1', port: s.port, security: 'none' } });
      const rec = recorder();
      const code = await runTestEmail(config, rec.io);
      assert.equal(code, 0);
      assert.deepEqual(rec.lines, []);
      assert.match(rec.out.join(''), new RegExp(`^test message sent to admin@example\\.edu via smtp 127\\.0\\.0\\.1:${s.port}: <sendwatch\\.test\\.`));
      const p = parse(s.received[0]?.raw ?? '');
      assert.equal(header(p, 'Subject'), '[sendwatch] test message from mx1');
      assert.equal(header(p, 'Auto-Submitted'), 'auto-generated');
      assert.equal(header(p, 'X-Auto-Response-Suppress'), 'All');
      assert.match(header(p, 'Message-ID') ?? '', /^<sendwatch\.test\..+@mx1\.example\.edu>$/);
      assert.ok(header(p, 'Date'));
      assert.ok(p.body.includes('This is a test message from sendwatch on mx1.'));
    } finally {
      await s.close();
    }
  });

  it('a failing sendmail: exit 3 and one line saying why', async () => {
    const path = join(dir, 'fail');
    writeFileSync(path, '#!/bin/sh\ncat >/dev/null\necho "queue file write error" >&2\nexit 75\n');
    chmodSync(path, 0o755);
    const config = AlertsSchema.parse({ to: ['root'], transport: { type: 'sendmail', path } });
    const rec = recorder();
    assert.equal(await runTestEmail(config, rec.io), 3);
    assert.deepEqual(rec.lines, [`test e-mail not sent: sendmail ${path} exited with status 75: queue file write error`]);
    assert.deepEqual(rec.out, []);
  });
});

describe('lazy loading', () => {
  it('importing the alert and mail modules does not load nodemailer', () => {
    // A resolve hook that fails any attempt to load nodemailer, then the modules a cron run imports.
    const hook = 'export async function resolve(s, c, next) { if (s === "nodemailer" || s.startsWith("nodemailer/")) throw new Error("nodemailer was loaded"); return next(s, c); }';
    const modules = ['src/alerts/render.js', 'src/alerts/message.js', 'src/sinks/mail.js', 'src/cli/test-email.js', 'src/config/alerts-schema.js']
      .map((m) => pathToFileURL(repoPath('dist', m)).href);
    const script = `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));
for (const m of ${JSON.stringify(modules)}) await import(m);
console.log('ok');`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.stderr, '');
    assert.equal(r.stdout.trim(), 'ok');
    // And the hook really works: loading nodemailer through it fails.
    const check = spawnSync(process.execPath, ['--input-type=module', '-e', `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));
await import('nodemailer');`], { encoding: 'utf8', cwd: repoPath() });
    assert.notEqual(check.status, 0);
    assert.match(check.stderr, /nodemailer was loaded/);
  });
});
