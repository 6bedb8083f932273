/**
 * Mail addresses and logins as they appear in logs. Everything here is attacker-written
 * input, so no regex that could backtrack: plain index scanning.
 */

/** Lower-cases a login and gives a bare one the default domain (`jdent` -> `jdent@example.edu`). */
export function normaliseAccount(login: string, defaultDomain?: string): string {
  const l = login.trim().toLowerCase();
  if (l.includes('@') || !defaultDomain) return l;
  return `${l}@${defaultDomain.toLowerCase()}`;
}

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
