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

/** One account as a state file holds it. */
export type SavedRow = readonly [account: string, stamp: number, text: string];

/** A restored row not yet asked for. A class, so it is told from a rule's entries (plain objects) by `instanceof`. */
class Packed {
  constructor(readonly stamp: number, readonly text: string) {}
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
    for (const [account, stamp, text] of rows) this.m.set(account, new Packed(stamp, text));
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
    const e = this.decode(v.text, account, v.stamp);
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

  /** The latest stamp of all accounts, decoded or not (0 for none): where "now" is for pruning. */
  latest(stampOf: (e: E) => number): number {
    let latest = 0;
    for (const v of this.m.values()) {
      const t = v instanceof Packed ? v.stamp : stampOf(v);
      if (t > latest) latest = t;
    }
    return latest;
  }

  /** Every account's entry, decoding the rest: for the rare pass that needs them all. */
  *entries(): IterableIterator<[string, E]> {
    for (const account of [...this.m.keys()]) {
      const e = this.get(account);
      if (e !== undefined) yield [account, e];
    }
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
        if (keep(v.stamp)) out.push([account, v.stamp, v.text]);
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
const MAX_UNPACKED_CHARS = 4 * 1024 * 1024;
/** zlib uses at most the last 32 KiB; 8 KiB of sample rows measured within 2 % of that at a sixth of the cost. */
const DICTIONARY_BYTES = 8 * 1024;

/**
 * Deflates each account's text (log lines, mostly) on its own, against a preset
 * dictionary of the site's own rows, so a run re-packs only the accounts it touched.
 * Packed one by one without a dictionary, 11,000 accounts' evidence took 7.5 MB; with
 * an 8 KiB dictionary 4.9 MB, against 4.2 MB as one block that every run had to
 * inflate and deflate whole (240 ms).
 *
 * The dictionary is saved with the rows and never changes while they live: a row packed
 * against one dictionary only inflates against it.
 */
export class TextPacker {
  private constructor(private readonly dictionary: Buffer) {}

  /** A dictionary from the first texts a site writes (their ends: zlib matches the last bytes best). */
  static fromSamples(samples: Iterable<string>): TextPacker {
    const parts: string[] = [];
    let size = 0;
    for (const s of samples) {
      parts.push(s);
      size += s.length;
      if (size >= DICTIONARY_BYTES) break;
    }
    const joined = Buffer.from(parts.join('\n'), 'utf8');
    return new TextPacker(joined.subarray(Math.max(0, joined.length - DICTIONARY_BYTES)));
  }

  /** The saved dictionary (base64), or undefined when it is not one. */
  static fromSaved(v: unknown): TextPacker | undefined {
    if (typeof v !== 'string' || v.length > DICTIONARY_BYTES * 2) return undefined;
    return new TextPacker(Buffer.from(v, 'base64'));
  }

  /** For the state file. */
  saved(): string {
    return this.dictionary.toString('base64');
  }

  pack(text: string): string {
    return deflateRawSync(text, { dictionary: this.dictionary }).toString('base64');
  }

  /** The text `pack` was given, or undefined for a damaged row. */
  unpack(packed: string): string | undefined {
    try {
      return inflateRawSync(Buffer.from(packed, 'base64'), { dictionary: this.dictionary, maxOutputLength: MAX_UNPACKED_CHARS * 3 }).toString('utf8');
    } catch {
      return undefined;
    }
  }
}
