/**
 * The `alerts` section of the config: who gets the digest and how it leaves the host.
 * Secrets never live in the config file (it is often world-readable, or in a git
 * repository of /etc): an SMTP password comes from an environment variable or a file
 * of its own, and a `password` key is refused with a pointer to those.
 */
import { hostname } from 'node:os';
import { z } from 'zod';

export const SeverityLevel = z.enum(['info', 'warning', 'critical']);

/**
 * `user@example.edu`, or a bare local name (`root`) that the local sendmail delivers.
 * No display names, spaces, commas or angle brackets: each entry is exactly one
 * address, and a leading `-` could be read as an option by sendmail.
 */
export const MailAddress = z.string().regex(
  /^(?!-)[^\s<>()[\],;:"\\@\u0000-\u001f\u007f-\u009f]+(?:@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)?$/,
  'expected one plain address such as admin@example.edu (or a local name such as root), without a display name',
);

const Seconds = z.number().int().min(1).max(600);

export const SendmailTransportSchema = z.strictObject({
  type: z.literal('sendmail'),
  /** The sendmail-compatible program (Postfix, Exim, Sendmail, msmtp, nullmailer). */
  path: z.string().min(1).default('/usr/sbin/sendmail'),
  /**
   * Options instead of the default `-t -i` (recipients from the To: header, a lone dot
   * is not the end). Without `-t` the recipients are appended after `--`.
   */
  args: z.array(z.string().min(1)).optional(),
  /** The program is killed and the delivery fails after this many seconds. */
  timeoutSeconds: Seconds.default(30),
});

export const SmtpTransportSchema = z.strictObject({
  type: z.literal('smtp'),
  /** Relay host name or address. */
  host: z.string().min(1),
  /** 587 for submission with STARTTLS, 465 for implicit TLS, 25 for a local relay. */
  port: z.number().int().min(1).max(65535).default(587),
  /**
   * `starttls`: plain connect, then STARTTLS, which must be offered (no silent downgrade);
   * `tls`: TLS from the first byte (port 465); `none`: never TLS (a relay on localhost only).
   */
  security: z.enum(['starttls', 'tls', 'none']).default('starttls'),
  /** Login name for SMTP AUTH; needs `passwordEnv` or `passwordFile`. */
  user: z.string().min(1).optional(),
  /** Name of the environment variable holding the SMTP password. */
  passwordEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name').optional(),
  /** File holding the SMTP password (mode 0600; surrounding whitespace is ignored). */
  passwordFile: z.string().min(1).optional(),
  /** Check the server's certificate. Switch off only for a relay with a self-signed certificate you trust. */
  rejectUnauthorized: z.boolean().default(true),
  /** Bound on connecting, on each wait for the server, and on the whole delivery. */
  timeoutSeconds: Seconds.default(30),
}).superRefine((t, ctx) => {
  if (t.user !== undefined && t.passwordEnv === undefined && t.passwordFile === undefined) {
    ctx.addIssue({ code: 'custom', path: ['user'], message: 'a user needs passwordEnv or passwordFile for the password' });
  }
  if (t.passwordEnv !== undefined && t.passwordFile !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['passwordFile'], message: 'set passwordEnv or passwordFile, not both' });
  }
  if (t.user === undefined && (t.passwordEnv !== undefined || t.passwordFile !== undefined)) {
    ctx.addIssue({ code: 'custom', path: ['user'], message: 'a password source without a user: set user as well' });
  }
});

export const TransportSchema = z.discriminatedUnion('type', [SendmailTransportSchema, SmtpTransportSchema]);

/**
 * A `password` key gets its own message: the config loader reports other unknown keys
 * as "unknown key", which would not tell the admin where the password should go.
 */
const TransportWithPasswordCheck = z.preprocess((raw, ctx) => {
  if (raw !== null && typeof raw === 'object' && 'password' in raw) {
    ctx.addIssue({
      code: 'custom', path: ['password'], input: raw,
      message: 'passwords are not kept in the config: use passwordEnv (an environment variable) or passwordFile (a file readable only by sendwatch)',
    });
  }
  return raw;
}, TransportSchema);

export const AlertsSchema = z.strictObject({
  /** Who receives the digest: one or more plain addresses. */
  to: z.array(MailAddress).min(1),
  /** Sender address of the digest. Default: `sendwatch@` and this host's name, worked out when sending. */
  from: MailAddress.optional(),
  /** Name of this mail server in the subject (`... on mx1`). Default: the host name. */
  hostname: z.string().min(1).max(64).default(() => hostname()),
  /** Alerts below this severity are not mailed (they still show in `scan`). */
  minSeverity: SeverityLevel.default('warning'),
  /** The same alert is mailed again only after this many hours (unless it gets worse). */
  cooldownHours: z.number().min(0).default(24),
  /** How the digest leaves the host: the local sendmail (default) or an SMTP relay. */
  transport: TransportWithPasswordCheck.prefault({ type: 'sendmail' }),
});

export type AlertsConfig = z.output<typeof AlertsSchema>;
export type TransportConfig = z.output<typeof TransportSchema>;
export type SmtpTransportConfig = Extract<TransportConfig, { type: 'smtp' }>;
export type SendmailTransportConfig = Extract<TransportConfig, { type: 'sendmail' }>;

/** The sender address: the configured one, or `sendwatch@<this host>` (resolved at send time, so a renamed host is picked up). */
export function senderAddress(config: Pick<AlertsConfig, 'from'>, host: string = hostname()): string {
  return config.from ?? `sendwatch@${host}`;
}
