/**
 * What the alert policy hands to the e-mail sink. An Alert is a Finding that survived
 * fingerprinting and cooldown; a Digest is everything one run has to say, sent as one
 * message so a spam run wakes the admin once, not once per account.
 */
import type { Evidence, FindingData, Severity } from '../core/types.js';

export interface Alert {
  /** Stable key of the condition (rule + account + …), for cooldown and escalation. */
  readonly fingerprint: string;
  readonly rule: string;
  readonly account: string;
  readonly severity: Severity;
  /** Why it is in this digest: first sighting, a higher severity than last time, or still going on after the cooldown. */
  readonly reason: 'new' | 'escalated' | 'reminder';
  /** Epoch ms (log time) of the first finding behind this alert. */
  readonly firstSeen: number;
  /** Epoch ms (log time) of the latest finding behind this alert. */
  readonly lastSeen: number;
  /** One line a human understands; log text, so hostile. */
  readonly message: string;
  readonly data: FindingData;
  readonly evidence: readonly Evidence[];
}

export interface Digest {
  /** Unique per digest; also the stable part of the e-mail's Message-ID, so a resend from the outbox is recognisable as the same message. */
  readonly id: string;
  /** Epoch ms (wall clock) when the run built the digest. */
  readonly createdAt: number;
  /** Name of the mail server the alerts are about, as shown in the subject. */
  readonly host: string;
  readonly alerts: readonly Alert[];
  /** Per account, its incident's verdict (cron mode fills it in). */
  readonly verdicts?: Readonly<Record<string, Verdict>> | undefined;
}

/** The account's incident at the time of the digest: one verdict over all its signals. */
export interface Verdict {
  readonly severity: Severity;
  readonly score: number;
  /** Families of signals that count, strongest first (volume, identity, location, ...). */
  readonly families: readonly string[];
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly addresses: readonly string[];
  readonly countries: readonly string[];
  readonly advice: readonly string[];
}
