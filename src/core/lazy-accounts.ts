/**
 * Per-account rule state that a cron run decodes only for the accounts its records touch.
 *
 * A cron run reads some 10,000 new lines, and they name a few hundred of a site's
 * thousands of accounts. Decoding every account's windows and history into objects, and
 * encoding them all again, cost the run several times what reading its lines costs, and
 * fill the heap with objects no record asks for. So a rule saves each account as a row
 * `[account, stamp, text]`: `stamp` is the time the rule prunes the account by, `text`
 * the rule's own encoding of it. A restored row stays text until a record asks for its
 * account; a row no record asked for is written back as it was read.
 *
 * The accounts keep the order of one map, so a rule iterates and caps them in the order
 * an eagerly restored map would have: restoring lazily never changes a finding.
 */

import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Evidence } from './types.js';
import { isFiniteNumber } from './saved-json.js';
import { decodeBase85, encodeBase85 } from './base85.js';

/** One account as a state file holds it. */
export type SavedRow = readonly [account: string, stamp: number, text: string];

/**
 * Evidence lines as a row holds them, `[input, line number, text]`; the input is whatever
 * `sourceKey` makes of its name (the name, or its place in a list of names).
 */
export function lineTuples<K>(lines: readonly Evidence[], sourceKey: (source: string) => K): [K, number, string][] {
  return lines.map((e) => [sourceKey(e.source), e.lineNo, e.text]);
}

/** The lines lineTuples wrote (`sourceOf` turns the key back into a name), or undefined when any is damaged. */
export function linesOfTuples(v: unknown, sourceOf: (key: unknown) => string | undefined): Evidence[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: Evidence[] = [];
  for (const t of v as unknown[]) {
    if (!Array.isArray(t) || t.length !== 3) return undefined;
    const [key, lineNo, text] = t as unknown[];
    const source = sourceOf(key);
    if (source === undefined || !isFiniteNumber(lineNo) || typeof text !== 'string') return undefined;
    out.push({ source, lineNo, text });
  }
  return out;
}

/** The lines of a row's JSON text of lineTuples, or undefined when it is not JSON or any line is damaged. */
export function linesOfJson(text: string, sourceOf: (key: unknown) => string | undefined): Evidence[] | undefined {
  try {
    return linesOfTuples(JSON.parse(text), sourceOf);
  } catch {
    return undefined;
  }
}

/** A restored row not yet asked for. A class, so it is told from a rule's entries (plain objects) by `instanceof`. */
class Packed {
  /** The row as read: saved again as the same array, so an untouched account costs no allocation. */
  constructor(readonly row: SavedRow) {}
}

/**
 * The rows of a saved section, checked by hand (a schema library walking 10,000 rows
 * costs more than the run's lines); undefined if any row is not a row.
 */
export function savedRows(v: unknown): SavedRow[] | undefined {
  if (!Array.isArray(v)) return undefined;
  for (const row of v as unknown[]) {
    if (!Array.isArray(row) || row.length !== 3) return undefined;
    const [account, stamp, text] = row as unknown[];
    if (typeof account !== 'string' || typeof stamp !== 'number' || !Number.isFinite(stamp) || typeof text !== 'string') return undefined;
  }
  return v as SavedRow[];
}

export class LazyAccounts<E extends object> {
  private readonly m = new Map<string, E | Packed>();

  /**
   * `decode` turns a row's text back into an entry; undefined drops the account, as an
   * unusable saved entry would have been dropped when restored eagerly.
   */
  constructor(private readonly decode: (text: string, account: string, stamp: number) => E | undefined, rows: readonly SavedRow[] = []) {
    for (const row of rows) this.m.set(row[0], new Packed(row));
  }

  get size(): number {
    return this.m.size;
  }

  has(account: string): boolean {
    return this.m.has(account);
  }

  /** The account's entry, decoded now if it is still a saved row. */
  get(account: string): E | undefined {
    const v = this.m.get(account);
    if (!(v instanceof Packed)) return v;
    const e = this.decode(v.row[2], account, v.row[1]);
    // Set on a present key keeps its place in the order.
    if (e === undefined) this.m.delete(account);
    else this.m.set(account, e);
    return e;
  }

  /** Adds or replaces an entry; a new account goes last, as in a map. */
  set(account: string, e: E): void {
    this.m.set(account, e);
  }

  delete(account: string): boolean {
    return this.m.delete(account);
  }

  /** The account's stamp without decoding it (undefined when absent). */
  stamp(account: string, stampOf: (e: E) => number): number | undefined {
    const v = this.m.get(account);
    if (v === undefined) return undefined;
    return v instanceof Packed ? v.row[1] : stampOf(v);
  }

  /** Each account with its stamp, in order, without decoding; deleting the current account as it goes is safe. */
  *stamps(stampOf: (e: E) => number): IterableIterator<[string, number]> {
    for (const [account, v] of this.m) yield [account, v instanceof Packed ? v.row[1] : stampOf(v)];
  }

  /** The latest stamp of all accounts, decoded or not (0 for none): where "now" is for pruning. */
  latest(stampOf: (e: E) => number): number {
    let latest = 0;
    for (const [, t] of this.stamps(stampOf)) if (t > latest) latest = t;
    return latest;
  }

  /** Every account's entry, decoding the rest: for the rare pass that needs them all. */
  *entries(): IterableIterator<[string, E]> {
    for (const account of [...this.m.keys()]) {
      const e = this.get(account);
      if (e !== undefined) yield [account, e];
    }
  }

  clear(): void {
    this.m.clear();
  }

  /** Decodes every saved row: before a pass that re-encodes them all. */
  decodeAll(): void {
    for (const account of [...this.m.keys()]) this.get(account);
  }

  /** Accounts in order, without decoding. */
  keys(): IterableIterator<string> {
    return this.m.keys();
  }

  /**
   * The rows to save, in order: an account is dropped when `keep(stamp)` says so (before
   * it is encoded); a decoded entry is encoded again (`encode` returning undefined drops
   * it too); a row never asked for is saved as it was read.
   */
  rows(stampOf: (e: E) => number, keep: (stamp: number) => boolean, encode: (e: E, account: string) => string | undefined): SavedRow[] {
    const out: SavedRow[] = [];
    for (const [account, v] of this.m) {
      if (v instanceof Packed) {
        if (keep(v.row[1])) out.push(v.row);
        continue;
      }
      const stamp = stampOf(v);
      if (!keep(stamp)) continue;
      const text = encode(v, account);
      if (text !== undefined) out.push([account, stamp, text]);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------
// Text packed one account at a time

/** More than one account's text inflates to: a damaged or hostile row is refused, not inflated without end. */
const MAX_UNPACKED_BYTES = 16 * 1024 * 1024;

/**
 * What the rows of every site look like: one line of each kind a rule quotes, in each log
 * family, and a finding as the incidents keep it. zlib finds the repeated structure of a
 * single account's few lines here instead of paying for it in every row. Version 1: a row
 * packed against it only inflates against it, so it never changes; a better one is
 * version 2, with version 1 kept to read old rows.
 */
const DICTIONARY_V1 = [
  '{"account":"user@example.com","firstSeen":1709511440861,"lastSeen":1709620628000,"signals":[{"rule":"odd-hours","account":"user@example.com","at":1709511440861,"severity":"info","message":"sent at 00:17 UTC, outside office hours (mon,tue,wed,thu,fri 07:00-19:00 UTC)","data":{"local_time":"00:17","timezone":"UTC","messages":1},"evidence":[{"source":"/var/log/mail.log","lineNo":5227,"text":""}]},',
  '{"rule":"countries","severity":"warning","message":"2 countries within 4 h: FR, CN (latest CN, 192.0.2.1)","data":{"client_ip":"192.0.2.1","country":"CN","countries":"FR,CN","country_count":2,"new_country":"no","site_usual":"yes","service":"submission"}},',
  '{"rule":"foreign-sender-host","message":"sent from 192.0.2.1, outside the trusted networks","data":{"client_ip":"192.0.2.1","distinct_foreign_hosts":1}},{"rule":"new-sender-host"},{"rule":"many-sender-hosts"},{"rule":"sends-per-account","message":"75 messages in 1 h (warning at 70)","data":{"window_minutes":60,"metric":"messages","count":75,"messages":75,"recipients":80,"threshold":70}},{"rule":"volume-baseline"},{"rule":"recipient-spread"},{"rule":"bounces"},{"rule":"auth-failures"},{"rule":"from-user-mismatch"}],"score":3,"severity":"critical","findings":4}',
  '[[0,1001,"Mar  4 02:26:49 mail postfix/submission/smtpd[12345]: 2A13A4D3624: client=unknown[192.0.2.1], sasl_method=PLAIN, sasl_username=user@example.com"],',
  '[0,1002,"Mar  4 02:26:56 mail postfix/cleanup[34727]: 2A13A4D3624: message-id=<AF355F2866FE13.122B6D@example.com>"],',
  '[0,1003,"Mar  4 02:27:02 mail postfix/qmgr[2241]: 2A13A4D3624: from=<user@example.com>, size=120126, nrcpt=2 (queue active)"],',
  '[0,1004,"Mar  4 02:27:03 mail postfix/smtp[1234]: 2A13A4D3624: to=<someone@example.org>, relay=mx.example.org[198.51.100.2]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=5.1.1, status=bounced (host said: 550 5.1.1 user unknown)"],',
  '[0,1005,"Mar  4 02:27:03 mail postfix/smtpd[1234]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=user@example.com"],',
  '[0,1006,"14-Mar-2024 03:12:45.10 2e2d.5.1 tcp_submit   tcp_local    EEA 3 user@example.com rfc822;a@example.org a@example.org /opt/sun/comms/messaging64/data/queue/tcp_local/004/ZZ0SA3Bq7cC1cY.00 <20240314031244.ABC123@example.com> *user@example.com host.example.net (dsl-17.example.net [198.51.100.17])"],',
  '[0,1007,"<en ts=\\"2024-07-01T09:30:00.25\\" no=\\"mta1\\" pi=\\"72aa.17f0.25622\\" sc=\\"tcp_submit\\" dc=\\"tcp_local\\" ac=\\"EEA\\" sz=\\"5\\" so=\\"user@example.com\\" od=\\"rfc822;a@example.org\\" de=\\"a@example.org\\" mi=\\"&lt;20240701093000.Q1@example.com&gt;\\" us=\\"*user@example.com\\" ss=\\"host.example.net ([198.51.100.17])\\"/>"],',
  '[0,1008,"[29/Mar/2026 01:59:55] Sent: Queue-ID: 69c87986-00000201, Recipient: <a@example.org>, Result: relayed, Status: 2.0.0 , Remote-Host: 198.51.100.1, Msg-Id: <s1@example.com>"],',
  '[0,1009,"[29/Mar/2026 01:59:50] Recv: Queue-ID: 69c87986-00000201, Service: SMTP, From: <user@example.com>, To: <a@example.org>, Size: 1000, Sender-Host: 192.0.2.20, User: user@example.com, SSL: yes, Subject: Re: , Msg-Id: <s1@example.com>"],',
  '[0,1010,"2024-03-04T00:17:20.861521+00:00 mail postfix/submission/smtpd[304647]: 4BvB306rdk1MVDv: client=host.example.net[192.0.2.1], sasl_method=PLAIN, sasl_username=user@example.com"],',
  '[0,1011,"2024-03-04T00:17:23.244822+00:00 mail postfix/cleanup[2998151]: 4BvB306rdk1MVDv: message-id=<278F0A6515BE33.226205@example.com>"],',
  '[0,1012,"2024-03-04T00:17:27.034933+00:00 mail postfix/qmgr[3163066]: 4BvB306rdk1MVDv: from=<user@example.com>, size=28744, nrcpt=1 (queue active)"]]',
].join('\n');

/**
 * Deflates each account's text (log lines, mostly) on its own, against a preset
 * dictionary, so a run re-packs only the accounts it touched. On a 12,000-account site,
 * 11,000 accounts' last lines took 7.5 MB packed one by one, 5.4 MB with this
 * dictionary, and 4.9 MB with one made of the site's own lines; that last one would
 * make the state depend on which run wrote it first, and a crashed run followed by a
 * good one would no longer leave exactly the state one good run leaves.
 *
 * A section's `dict` names the packer: 1 wrote the deflated bytes as base64, 2 (the
 * same dictionary) as base85, 5.1 MB instead of 5.4 on that site.
 */
export class TextPacker {
  private static readonly v1 = new TextPacker(1, Buffer.from(DICTIONARY_V1, 'utf8'));
  private static readonly v2 = new TextPacker(2, TextPacker.v1.dictionary);

  private constructor(private readonly version: 1 | 2, private readonly dictionary: Buffer) {}

  /** The packer new rows are written with. */
  static current(): TextPacker {
    return TextPacker.v2;
  }

  /** The packer a section saved as `dict` was written with, or undefined when unknown. */
  static fromSaved(v: unknown): TextPacker | undefined {
    return v === 2 ? TextPacker.v2 : v === 1 ? TextPacker.v1 : undefined;
  }

  /** What a section saves as `dict`. */
  saved(): number {
    return this.version;
  }

  pack(text: string): string {
    const bytes = deflateRawSync(text, { dictionary: this.dictionary });
    return this.version === 1 ? bytes.toString('base64') : encodeBase85(bytes);
  }

  /** The text `pack` was given, or undefined for a damaged row. */
  unpack(packed: string): string | undefined {
    const bytes = this.version === 1 ? Buffer.from(packed, 'base64') : decodeBase85(packed);
    if (bytes === undefined) return undefined;
    try {
      return inflateRawSync(bytes, { dictionary: this.dictionary, maxOutputLength: MAX_UNPACKED_BYTES }).toString('utf8');
    } catch {
      return undefined;
    }
  }
}
