/**
 * A copy of `s` that shares no memory with the string it was cut from. A record's fields
 * (account, address) are V8 slices of their log line (any substring of 13 characters or
 * more), so keeping one for long (a map key, a cache entry) keeps the whole line alive
 * with it: a copy costs the string's bytes, the slice a line's. JSON keeps every
 * character as it is, lone surrogates too (a UTF-8 round trip would replace them).
 */
export function detached(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}
