/**
 * Mail addresses and logins as they appear in logs. Everything here is attacker-written
 * input, so no regex that could backtrack: plain index scanning.
 */
import { detached } from './detached.js';
import { RecentMap } from './recent-map.js';

/**
 * Lower-cases a login and gives a bare one the default domain (`jdent` -> `jdent@example.edu`).
 *
 * The same login always gives the same string object, a copy of its own. Each rule keys
 * its accounts by this string: with one object per account, V8 hashes it once and finds it
 * in every rule's map by identity, where each record's own slice of its line was hashed
 * and compared character by character in every map (7% of a scan's CPU). And a slice
 * keeps its whole log line alive for as long as a map keeps the account.
 */
export function normaliseAccount(login: string, defaultDomain?: string): string {
  // A login longer than any address is attacker-typed: kept, 32,768 of them would be a memory bomb.
  if (login.length > MAX_INTERNED) return normalForm(login, defaultDomain);
  if (defaultDomain !== accounts.domain) accounts = new AccountInterner(defaultDomain);
  return accounts.get(login);
}

function normalForm(login: string, defaultDomain: string | undefined): string {
  const l = login.trim().toLowerCase();
  return l.includes('@') || !defaultDomain ? l : `${l}@${defaultDomain.toLowerCase()}`;
}

/** Normalised accounts by login as logged (sprayed logins are endless: the generations bound what is kept). */
class AccountInterner {
  private readonly kept = new RecentMap<string>(ACCOUNTS_KEPT);

  constructor(readonly domain: string | undefined) {}

  get(login: string): string {
    const hit = this.kept.get(login);
    if (hit !== undefined) return hit;
    const account = detached(normalForm(login, this.domain));
    // Usually the login is the account already: one copy serves as key and value.
    this.kept.set(account === login ? account : detached(login), account);
    return account;
  }
}

const ACCOUNTS_KEPT = 16_384;
/** Longer than an address can be (RFC 5321: 254 characters) with room to spare. */
const MAX_INTERNED = 320;
let accounts = new AccountInterner(undefined);

/** `<a@b>` -> `a@b`; `<>` -> ''; anything else is returned trimmed. */
export function stripAngles(s: string): string {
  const t = s.trim();
  if (t.length >= 2 && t.charCodeAt(0) === 60 && t.charCodeAt(t.length - 1) === 62) return t.slice(1, -1);
  return t;
}

/** Local part and domain of an address; domain is '' for a bare name. */
export function splitAddress(addr: string): { local: string; domain: string } {
  const at = addr.lastIndexOf('@');
  if (at < 0) return { local: addr, domain: '' };
  return { local: addr.slice(0, at), domain: addr.slice(at + 1) };
}

/** Removes a `+tag` (or `-tag` where configured) sub-address from the local part. */
export function stripSubaddress(addr: string, delimiters = '+'): string {
  const { local, domain } = splitAddress(addr);
  let cut = local.length;
  for (const d of delimiters) {
    const i = local.indexOf(d);
    if (i > 0 && i < cut) cut = i;
  }
  const base = local.slice(0, cut);
  return domain ? `${base}@${domain}` : base;
}
