/**
 * The shapes that flow through the pipeline:
 *   LogLine -> (parser) event -> (correlator) MailRecord -> (rule) Finding.
 * Times are epoch milliseconds (UTC) everywhere inside: numbers are cheap to
 * compare in the hot path and serialise to state files without ceremony.
 */

/** One line of one input, with where it came from (for evidence). */
export interface LogLine {
  /** Display name of the input (path as given, or `-` for stdin). */
  readonly source: string;
  /** 1-based line number within the input. */
  readonly lineNo: number;
  readonly text: string;
}

/** A log line quoted as evidence in a finding. Same fields as LogLine, kept by value. */
export type Evidence = LogLine;

export type Severity = 'info' | 'warning' | 'critical';

export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { info: 0, warning: 1, critical: 2 };

/** What a message's delivery attempt came to, normalised across families. */
export type DeliveryStatus = 'sent' | 'bounced' | 'deferred' | 'failed' | 'expired';

/** A message submitted by an authenticated account: counted once however many lines it has. */
export interface Submission {
  readonly kind: 'submission';
  readonly at: number;
  /** Normalised account: lower-case, with the default domain added to a bare login. */
  readonly account: string;
  /** The login exactly as the server logged it. */
  readonly login: string;
  readonly envelopeFrom?: string;
  readonly headerFrom?: string;
  readonly recipients: readonly string[];
  readonly recipientCount: number;
  readonly clientIp?: string;
  readonly service?: string;
  readonly host?: string;
  readonly messageId?: string;
  readonly subject?: string;
  readonly size?: number;
  readonly evidence: readonly Evidence[];
}

/** A failed SMTP/IMAP/webmail login. The account may be unknown (postfix logs no user on old versions). */
export interface AuthFailure {
  readonly kind: 'auth-failure';
  readonly at: number;
  readonly account?: string;
  readonly login?: string;
  readonly clientIp?: string;
  readonly mechanism?: string;
  readonly service?: string;
  readonly reason?: string;
  /** false when the server said the account does not exist (password spraying, not a compromise). */
  readonly accountExists?: boolean;
  readonly host?: string;
  readonly evidence: readonly Evidence[];
}

/** A successful login that is not itself a message (Messaging Server `U` records, IMAP logins). */
export interface AuthSuccess {
  readonly kind: 'auth-success';
  readonly at: number;
  readonly account: string;
  readonly login: string;
  readonly clientIp?: string;
  readonly service?: string;
  readonly host?: string;
  readonly evidence: readonly Evidence[];
}

/** One recipient's delivery result, attributed to the submitting account where known. */
export interface Delivery {
  readonly kind: 'delivery';
  readonly at: number;
  readonly account?: string;
  readonly recipient: string;
  readonly status: DeliveryStatus;
  readonly host?: string;
  readonly evidence: readonly Evidence[];
}

/** The server itself refused a sender address for the logged-in user (postfix reject_sender_login_mismatch). */
export interface SenderRejected {
  readonly kind: 'sender-rejected';
  readonly at: number;
  readonly account: string;
  readonly login: string;
  readonly envelopeFrom: string;
  readonly clientIp?: string;
  readonly host?: string;
  readonly evidence: readonly Evidence[];
}

/** A rate counter reported by the server itself (MeterMaid `Current status for`). */
export interface Counter {
  readonly kind: 'counter';
  readonly at: number;
  /** The table's key: an address (then also `account`) or an IP. */
  readonly key: string;
  readonly account?: string;
  readonly table: string;
  readonly count: number;
  readonly quota: number;
  readonly host?: string;
  readonly evidence: readonly Evidence[];
}

export type MailRecord = Submission | AuthFailure | AuthSuccess | Delivery | SenderRejected | Counter;
export type RecordKind = MailRecord['kind'];

/** Numbers behind a finding: flat, so TSV and e-mail can print them without nesting. */
export type FindingData = Readonly<Record<string, string | number>>;

export interface Finding {
  readonly rule: string;
  readonly account: string;
  readonly severity: Severity;
  /** Event time (from the log) at which the condition became true. */
  readonly at: number;
  /** One line a human understands. */
  readonly message: string;
  readonly data: FindingData;
  readonly evidence: readonly Evidence[];
}
