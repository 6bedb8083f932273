/**
 * A digest (or the test message) as the message handed to the mail sink: addresses from
 * the config, subject and body from the renderer, and the headers that mark it as
 * machine-sent so vacation responders and Exchange auto-replies stay quiet (RFC 3834
 * `Auto-Submitted`, Microsoft's `X-Auto-Response-Suppress`).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { senderAddress, type AlertsConfig } from '../config/alerts-schema.js';
import { sanitizeHeader } from '../core/sanitize.js';
import type { OutgoingMessage } from '../sinks/mail.js';
import { renderDigest, type RenderOptions } from './render.js';
import type { Digest } from './types.js';

/** The domain for Message-IDs: the sender's, else this host's name. */
export function messageIdDomain(from: string): string {
  const at = from.lastIndexOf('@');
  const domain = at >= 0 ? from.slice(at + 1) : hostname();
  return /^[A-Za-z0-9.-]+$/.test(domain) ? domain : 'localhost';
}

/** Only characters that are always safe in a Message-ID's left-hand side. */
function idPart(s: string): string {
  const clean = s.replace(/[^A-Za-z0-9._-]/g, '');
  return clean === '' ? randomBytes(8).toString('hex') : clean.slice(0, 64);
}

/** Headers every sendwatch message carries. `id` makes the Message-ID stable for a given digest. */
export function alertHeaders(o: { kind: 'digest' | 'test'; id: string; from: string; date: number }): Record<string, string> {
  return {
    'Message-ID': `<sendwatch.${o.kind}.${idPart(o.id)}@${messageIdDomain(o.from)}>`,
    Date: new Date(o.date).toUTCString().replace(/GMT$/, '+0000'),
    'Auto-Submitted': 'auto-generated',
    'X-Auto-Response-Suppress': 'All',
  };
}

/**
 * The digest as a ready-to-send message. `sentAt` is the Date header (the moment of this
 * attempt); the Message-ID comes from the digest id, so a resend from the outbox after a
 * failed or uncertain attempt is recognisable as the same message.
 */
export function digestMessage(d: Digest, config: Pick<AlertsConfig, 'to' | 'from'>, opts: RenderOptions & { sentAt: number }): OutgoingMessage {
  const from = senderAddress(config);
  const { subject, text } = renderDigest(d, opts);
  return { from, to: config.to, subject, text, headers: alertHeaders({ kind: 'digest', id: d.id, from, date: opts.sentAt }) };
}

/** A short message that proves the way from this host to the admins' mailbox works. */
export function testMessage(config: AlertsConfig, sentAt: number, transportText: string): OutgoingMessage {
  const from = senderAddress(config);
  const host = sanitizeHeader(config.hostname, 64);
  const text = [
    `This is a test message from sendwatch on ${host}.`,
    '',
    'If you can read it, alert digests from this host reach you. They are',
    'sent with the same sender, recipients and headers as this one.',
    '',
    `  From:       ${from}`,
    `  To:         ${config.to.join(', ')}`,
    `  Transport:  ${sanitizeHeader(transportText)}`,
    `  Alerts at:  ${config.minSeverity} and above, repeated after ${config.cooldownHours} h`,
    '',
  ].join('\n');
  return {
    from,
    to: config.to,
    subject: `[sendwatch] test message from ${host}`,
    text,
    headers: alertHeaders({ kind: 'test', id: `${sentAt.toString(36)}.${randomBytes(4).toString('hex')}`, from, date: sentAt }),
  };
}
