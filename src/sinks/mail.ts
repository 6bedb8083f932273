/**
 * The e-mail sink: one plain-text message through the local sendmail (the default, as
 * mailx does it) or an SMTP relay. nodemailer builds the MIME message and speaks SMTP;
 * it is imported only when a message is actually sent, so a cron run with nothing to
 * report never loads it.
 *
 * Every failure becomes one RuntimeError line naming the transport
 * (`smtp 127.0.0.1:2525: connection refused`), which the caller prints before keeping
 * the digest in its outbox and exiting 3. Every wait is bounded by `timeoutSeconds`.
 */
import { spawn } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import type { SendMailOptions } from 'nodemailer';
import { RuntimeError } from '../core/errors.js';
import { sanitize, sanitizeHeader } from '../core/sanitize.js';
import type { SendmailTransportConfig, SmtpTransportConfig, TransportConfig } from '../config/alerts-schema.js';

export interface OutgoingMessage {
  readonly from: string;
  readonly to: readonly string[];
  readonly subject: string;
  readonly text: string;
  /** Extra headers; `Message-ID` and `Date` are honoured as the message's own. */
  readonly headers: Readonly<Record<string, string>>;
}

/** How long stderr of a failing sendmail is kept for the error line. */
const STDERR_KEPT = 4096;
/** After SIGTERM, a sendmail that does not go gets SIGKILL this much later. */
const KILL_GRACE_MS = 2000;
/** After the program exited, wait at most this long for its pipes to close (a daemon child may hold them). */
const CLOSE_GRACE_MS = 1000;
const REASON_WIDTH = 300;

/** `smtp mail.example.edu:587` or `sendmail /usr/sbin/sendmail`: the prefix of every error line. */
export function describeTransport(t: TransportConfig): string {
  return t.type === 'smtp' ? `smtp ${t.host}:${t.port}` : `sendmail ${t.path}`;
}

/** One line, no control characters, bounded: safe for stderr, a log and the outbox. */
function oneLine(s: string): string {
  const flat = s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  return sanitizeHeader(flat, REASON_WIDTH);
}

/** `smtp h:p: connection refused`; with `sep: ' '` a sentence: `sendmail /usr/sbin/sendmail exited with status 75: …`. */
function fail(t: TransportConfig, reason: string, sep = ': '): RuntimeError {
  return new RuntimeError(`${describeTransport(t)}${sep}${oneLine(reason)}`);
}

/** The caller's contract is one line naming the transport, whatever went wrong (a bug, a missing module). */
function asFailure(t: TransportConfig, e: unknown): RuntimeError {
  if (e instanceof RuntimeError && e.message.startsWith(describeTransport(t))) return e;
  return fail(t, e instanceof Error ? e.message : String(e));
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const HEADER_NAME = /^[!-9;-~]+$/;

/**
 * The last line of defence for headers: addresses must be plain (the config schema
 * already says so; this also covers callers that build a message by hand), header names
 * must be RFC 5322 field names, and every value is sanitised to one line.
 */
function toMailOptions(m: OutgoingMessage): SendMailOptions {
  for (const a of [m.from, ...m.to]) {
    if (a === '' || CONTROL.test(a) || /[\s,;<>]/.test(a) || a.startsWith('-')) {
      throw new RuntimeError(`not a plain e-mail address: ${JSON.stringify(sanitize(a))}`);
    }
  }
  if (m.to.length === 0) throw new RuntimeError('no recipients');
  const headers: Record<string, string> = {};
  let messageId: string | undefined;
  let date: Date | undefined;
  for (const [name, value] of Object.entries(m.headers)) {
    if (!HEADER_NAME.test(name)) throw new RuntimeError(`not a header name: ${JSON.stringify(sanitize(name))}`);
    const v = sanitizeHeader(value, 998 - name.length - 2);
    const lower = name.toLowerCase();
    if (lower === 'message-id') messageId = v;
    else if (lower === 'date') {
      const t = Date.parse(v);
      if (!Number.isNaN(t)) date = new Date(t);
    } else if (['from', 'to', 'cc', 'bcc', 'subject', 'sender', 'reply-to'].includes(lower)) {
      // Addressing comes only from the validated fields above, never from free-form headers.
      throw new RuntimeError(`header ${name} must not be set through headers`);
    } else headers[name] = v;
  }
  return {
    // Address objects, not strings: nodemailer would read a bare local name such as
    // `root` as a display name and silently drop that recipient.
    from: { name: '', address: m.from },
    to: m.to.map((address) => ({ name: '', address })),
    envelope: { from: m.from, to: [...m.to] },
    subject: sanitizeHeader(m.subject),
    text: m.text,
    headers,
    ...(messageId !== undefined ? { messageId } : {}),
    ...(date !== undefined ? { date } : {}),
  };
}

/** Sends one message; resolves to its Message-ID (plus a note if the relay refused some recipients). */
export async function sendMail(transport: TransportConfig, message: OutgoingMessage): Promise<string> {
  try {
    const mail = toMailOptions(message);
    return await (transport.type === 'smtp' ? sendSmtp(transport, mail) : sendSendmail(transport, mail, message.to));
  } catch (e) {
    throw asFailure(transport, e);
  }
}

/**
 * Checks that a message could leave: the sendmail program is executable, or the relay
 * answers, TLS works and the login is accepted. Sends nothing.
 */
export async function verifyTransport(transport: TransportConfig): Promise<void> {
  if (transport.type === 'sendmail') {
    try {
      await access(transport.path, fsConstants.X_OK);
    } catch (e) {
      throw fail(transport, errnoText(e, true));
    }
    return;
  }
  let transporter;
  try {
    transporter = await smtpTransporter(transport);
  } catch (e) {
    throw asFailure(transport, e);
  }
  try {
    await withDeadline(transporter.verify(), transport);
  } catch (e) {
    throw fail(transport, smtpReason(e, transport));
  } finally {
    transporter.close();
  }
}

// ---------------------------------------------------------------------------- SMTP

async function readPassword(t: SmtpTransportConfig): Promise<string | undefined> {
  if (t.user === undefined) return undefined;
  if (t.passwordEnv !== undefined) {
    const v = process.env[t.passwordEnv];
    if (v === undefined || v === '') throw fail(t, `password: environment variable ${t.passwordEnv} (passwordEnv) is not set`);
    return v;
  }
  if (t.passwordFile !== undefined) {
    let text: string;
    try {
      text = await readFile(t.passwordFile, 'utf8');
    } catch (e) {
      throw fail(t, `password file ${t.passwordFile}: ${errnoText(e)}`);
    }
    // Editors and `echo` leave a trailing newline that is not part of the password.
    const pass = text.trim();
    if (pass === '') throw fail(t, `password file ${t.passwordFile} is empty`);
    return pass;
  }
  // The schema refuses a user without a password source; a hand-built config gets a clear line too.
  throw fail(t, `user ${t.user} has no passwordEnv or passwordFile`);
}

async function smtpTransporter(t: SmtpTransportConfig) {
  const pass = await readPassword(t);
  const nodemailer = await import('nodemailer');
  const ms = t.timeoutSeconds * 1000;
  return nodemailer.createTransport({
    host: t.host,
    port: t.port,
    secure: t.security === 'tls',
    // STARTTLS must succeed when asked for: an attacker stripping it must not get the password or the alert in clear.
    requireTLS: t.security === 'starttls',
    ignoreTLS: t.security === 'none',
    ...(t.user !== undefined && pass !== undefined ? { auth: { user: t.user, pass } } : {}),
    tls: { rejectUnauthorized: t.rejectUnauthorized },
    connectionTimeout: ms,
    greetingTimeout: ms,
    socketTimeout: ms,
    dnsTimeout: ms,
    logger: false,
    debug: false,
  });
}

/** For calls that take no AbortSignal (verify): the caller gets its answer in time even if the socket lingers until its own timeout. */
async function withDeadline<T>(p: Promise<T>, t: SmtpTransportConfig): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('deadline'), { code: 'ETIMEDOUT' })), t.timeoutSeconds * 1000);
    timer.unref();
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function sendSmtp(t: SmtpTransportConfig, mail: SendMailOptions): Promise<string> {
  const transporter = await smtpTransporter(t);
  try {
    // The per-step timeouts bound each wait; this bounds the whole conversation against a server that drips.
    const info = await transporter.sendMail({ ...mail, signal: AbortSignal.timeout(t.timeoutSeconds * 1000) });
    const refused = info.rejected.map(String);
    return refused.length ? `${info.messageId} (not accepted for ${oneLine(refused.join(', '))})` : info.messageId;
  } catch (e) {
    throw fail(t, smtpReason(e, t));
  } finally {
    transporter.close();
  }
}

interface MailError {
  message?: unknown;
  code?: unknown;
  originalCode?: unknown;
  response?: unknown;
  cause?: unknown;
  name?: unknown;
  command?: unknown;
}

const SYSTEM_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by the server',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed (temporary)',
  EPIPE: 'connection closed by the server',
};

/** nodemailer's errors carry a code, maybe the system error's code and the server's reply; say what happened in words. */
export function smtpReason(e: unknown, t: SmtpTransportConfig): string {
  const err = (e ?? {}) as MailError;
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const code = str(err.code);
  const system = str(err.originalCode) ?? code;
  const response = str(err.response);
  const message = str(err.message) ?? String(e);
  const causeName = (err.cause as MailError | undefined)?.name;
  if (system !== undefined && Object.hasOwn(SYSTEM_ERRORS, system)) return SYSTEM_ERRORS[system] ?? message;
  if (code === 'ETIMEDOUT' || (code === 'EABORT' && causeName === 'TimeoutError')) return `no answer within ${t.timeoutSeconds}s (timed out)`;
  if (code === 'EDNS') return `host name lookup failed: ${message}`;
  if (code === 'EAUTH') return `login as ${t.user ?? '(none)'} refused${response ? `: ${response}` : ''}`;
  if (code === 'ENOAUTH') return 'the server wants a login: set user and passwordEnv or passwordFile';
  if (code === 'EENVELOPE') return `sender or recipients refused${response ? `: ${response}` : `: ${message}`}`;
  if (code === 'EMESSAGE') return `message refused${response ? `: ${response}` : `: ${message}`}`;
  if (/wrong version number/i.test(message)) return 'TLS failed: the server does not speak TLS on this port (security "starttls" or "none"?)';
  if (code === 'ETLS' && err.command === 'STARTTLS' && response) return `the server refused STARTTLS, which security "starttls" requires: ${response}`;
  if (code === 'ETLS' || /certificate|ssl|tls/i.test(message)) return `TLS failed: ${message}`;
  if (response) return `server said: ${response}`;
  return message;
}

// ------------------------------------------------------------------------ sendmail

function errnoText(e: unknown, program = false): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return program ? 'permission denied (not executable?)' : 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return e instanceof Error ? e.message : String(e);
}

/**
 * nodemailer composes the message; the program is run here rather than by nodemailer's
 * sendmail transport so that its stderr ends up in the error line and a hung program
 * is killed after `timeoutSeconds`.
 */
async function sendSendmail(t: SendmailTransportConfig, mail: SendMailOptions, to: readonly string[]): Promise<string> {
  const nodemailer = await import('nodemailer');
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  const info = await composer.sendMail(mail);
  const raw = info.message;
  if (!Buffer.isBuffer(raw)) throw fail(t, 'message could not be composed');
  // `-t` takes the recipients from To:; with classic Sendmail, recipients also given as
  // arguments would then be *excluded*, so they are only added when `-t` is not used.
  const options = t.args ?? ['-t', '-i'];
  const args = options.includes('-t') ? options : [...options, '--', ...to];
  await runProgram(t, args, raw);
  return info.messageId;
}

function runProgram(t: SendmailTransportConfig, args: readonly string[], input: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let stderr = '';
    let stdinFinished = false;
    let stdinClosed = false;
    let childClosed = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const timers: NodeJS.Timeout[] = [];
    const settle = (err?: RuntimeError): void => {
      if (settled) return;
      settled = true;
      for (const tm of timers) clearTimeout(tm);
      if (err) reject(err);
      else resolve();
    };
    const verdict = (): RuntimeError | undefined => {
      if (!exit) return fail(t, 'ended without an exit status');
      const said = stderr.trim() ? `: ${stderr.trim()}` : '';
      if (exit.code === 0) return stdinFinished ? undefined : fail(t, `exited before reading the whole message${said}`, ' ');
      if (exit.code !== null) return fail(t, `exited with status ${exit.code}${said}`, ' ');
      return fail(t, `was killed by ${exit.signal ?? 'a signal'}${said}`, ' ');
    };
    // Only when the program has exited, its output is read and its stdin has either taken
    // the whole message or failed do we know whether the message was handed over.
    const maybeSettle = (): void => {
      if (exit && childClosed && stdinClosed) settle(verdict());
    };

    const child = spawn(t.path, [...args], { stdio: ['pipe', 'ignore', 'pipe'] });
    child.on('error', (e) => settle(fail(t, errnoText(e, true))));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < STDERR_KEPT) stderr += chunk.slice(0, STDERR_KEPT - stderr.length);
    });
    // A program that stops reading (EPIPE) usually exits with a status that says why, so
    // the error itself is not the verdict. Node discards unwritten input when the program
    // exits, without an error: only 'finish' proves the whole message was handed over (to
    // the kernel's buffer: a program that exits without reading a small message goes unseen).
    child.stdin.on('error', () => undefined);
    child.stdin.on('finish', () => {
      stdinFinished = true;
    });
    child.stdin.on('close', () => {
      stdinClosed = true;
      maybeSettle();
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      // A daemon the program started may hold its stderr open: do not wait for that.
      timers.push(setTimeout(() => settle(verdict()), CLOSE_GRACE_MS));
      maybeSettle();
    });
    child.on('close', () => {
      childClosed = true;
      maybeSettle();
    });

    timers.push(setTimeout(() => {
      if (exit) return settle(verdict());
      child.kill('SIGTERM');
      // Not in `timers`: it must still fire after we have given up waiting.
      setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }, KILL_GRACE_MS).unref();
      settle(fail(t, `did not finish within ${t.timeoutSeconds}s (killed)`, ' '));
    }, t.timeoutSeconds * 1000));

    child.stdin.end(input);
  });
}
