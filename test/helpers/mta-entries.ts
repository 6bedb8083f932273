/**
 * Messaging Server MTA transaction-log entries as the test-side generators build them
 * (the scenario fixtures and the simulator), before each writes them in a LOG_FORMAT.
 */

/** LOG_CONNECTION source system of an enqueue. */
export interface MtaSource {
  readonly helo: string;
  readonly rdns?: string;
  readonly ip: string;
}

/** One message-transaction entry (E, D, R …). */
export interface MtaEn {
  readonly type: 'en';
  readonly at: number;
  readonly process: string;
  readonly src: string;
  readonly dst?: string;
  readonly entry: string;
  readonly size: number;
  readonly from: string;
  readonly origTo: string;
  readonly to: string;
  readonly file: string;
  readonly msgId: string;
  /** `*login` after SMTP AUTH, else the MTA's own account. */
  readonly user: string;
  readonly source?: MtaSource;
  /** Dequeue to a remote MTA: its name and the TCP transport. */
  readonly remote?: { readonly host: string; readonly transport: string };
  readonly diag?: string;
}

/** One connection entry (O, U, C). */
export interface MtaCo {
  readonly type: 'co';
  readonly at: number;
  readonly process: string;
  readonly channel: string;
  readonly entry: string;
  readonly transport: string;
  readonly app: string;
  readonly summary?: string;
  readonly login?: string;
  readonly diag?: string;
}

export type MtaEntry = MtaEn | MtaCo;

/** `helo (rdns [ip])` or `helo ([ip])`. */
export function sourceText(s: MtaSource): string {
  return `${s.helo} (${s.rdns !== undefined ? `${s.rdns} ` : ''}[${s.ip}])`;
}

/** Escapes an XML attribute value. */
export function xmlAttr(v: string): string {
  return v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
