/**
 * Reading and resolving the config. Every mistake becomes one UsageError line naming
 * the file and the key path, so `sendwatch` exits 2 with something a person can act on.
 */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { normaliseAccount } from '../core/address.js';
import { PatternSet } from '../core/glob.js';
import { NetMatcher } from '../core/net.js';
import { hostTimezone } from '../core/time.js';
import { nearest, UsageError } from '../core/errors.js';
import { ruleOptionSchemas } from '../rules/index.js';
import { parserNames } from '../parsers/index.js';
import type { ResolvedOfficeHours, RuleContext } from '../rules/types.js';
import { buildConfigSchema } from './schema.js';

export const configSchema = buildConfigSchema(ruleOptionSchemas(), parserNames());
export type Config = z.output<typeof configSchema>;

function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(top level)';
}

interface SchemaDef {
  type?: string;
  options?: unknown[];
  out?: unknown;
  shape?: Record<string, unknown>;
  innerType?: unknown;
  element?: unknown;
  valueType?: unknown;
}
const defOf = (s: unknown): SchemaDef | undefined => (s as { def?: SchemaDef } | undefined)?.def;

function unwrap(s: unknown): unknown {
  let d = defOf(s);
  while (d && (d.type === 'optional' || d.type === 'default' || d.type === 'prefault' || d.type === 'pipe')) {
    s = d.type === 'pipe' ? d.out : d.innerType;
    d = defOf(s);
  }
  return s;
}

/** Allowed keys at a path of the schema, for "did you mean" on unknown keys. */
function keysAt(schema: unknown, path: readonly PropertyKey[]): string[] {
  let s = unwrap(schema);
  for (const p of path) {
    const d = defOf(s);
    if (d?.type === 'object' && d.shape) s = unwrap(d.shape[String(p)]);
    else if (d?.type === 'array') s = unwrap(d.element);
    else if (d?.type === 'record') s = unwrap(d.valueType);
    else return [];
  }
  const d = defOf(s);
  return d?.type === 'object' && d.shape ? Object.keys(d.shape) : [];
}

export function formatConfigIssue(file: string, issue: z.core.$ZodIssue): string {
  const where = pathText(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const full = pathText([...issue.path, key]);
    const hint = nearest(key, keysAt(configSchema, issue.path));
    return `${file}: unknown key "${full}"${hint ? ` (did you mean "${hint}"?)` : ''}`;
  }
  return `${file}: ${where}: ${issue.message}`;
}

export function parseConfig(raw: unknown, file = 'config'): Config {
  const r = configSchema.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new UsageError(first ? formatConfigIssue(file, first) : `${file}: invalid configuration`);
  }
  checkReferences(r.data, file);
  return r.data;
}

export function loadConfig(path: string | undefined): Config {
  if (path === undefined) return parseConfig({});
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
    throw new UsageError(`cannot read config ${path}: ${why}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path}: not valid JSON: ${jsonErrorWhere(text, (e as Error).message)}`);
  }
  return parseConfig(raw, path);
}

/** Adds line and column to V8's "at position N" JSON messages. */
export function jsonErrorWhere(text: string, message: string): string {
  const m = /at position (\d+)/.exec(message);
  if (!m || message.includes('line')) return message;
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const col = pos - before.lastIndexOf('\n');
  return `${message} (line ${line} column ${col})`;
}

/** The rule context: config facts resolved once, per-account lookups cached. */
export function resolveContext(config: Config): RuleContext {
  const tz = config.timezone ?? hostTimezone();
  const trusted = new NetMatcher(config.trustedNetworks);
  // Keys are compared as accounts are: lower case, bare logins with the default domain.
  const accounts = new Map(Object.entries(config.accounts).map(([k, v]) => [normaliseAccount(k, config.defaultDomain), v]));
  const aliasCache = new Map<string, PatternSet | undefined>();
  const trustCache = new Map<string, NetMatcher | undefined>();
  const ohCache = new Map<string, ResolvedOfficeHours>();
  const global: ResolvedOfficeHours = { ...config.officeHours, timezone: config.officeHours.timezone ?? tz };
  const groupsOf = (account: string) => (accounts.get(account)?.groups ?? []).map((g) => config.groups[g]).filter((g) => g !== undefined);

  return {
    trusted,
    defaultDomain: config.defaultDomain,
    aliasesOf(account) {
      if (!aliasCache.has(account)) {
        const list = [...(accounts.get(account)?.aliases ?? []), ...groupsOf(account).flatMap((g) => g.aliases)];
        aliasCache.set(account, list.length ? new PatternSet(list) : undefined);
      }
      return aliasCache.get(account);
    },
    trustedFor(account) {
      if (!trustCache.has(account)) {
        const list = [...(accounts.get(account)?.trustedNetworks ?? []), ...groupsOf(account).flatMap((g) => g.trustedNetworks)];
        trustCache.set(account, list.length ? new NetMatcher(list) : undefined);
      }
      return trustCache.get(account);
    },
    officeHoursOf(account) {
      let oh = ohCache.get(account);
      if (!oh) {
        const own = accounts.get(account)?.officeHours ?? groupsOf(account).find((g) => g.officeHours)?.officeHours;
        oh = own ? { ...own, timezone: own.timezone ?? global.timezone } : global;
        if (ohCache.size > 100_000) ohCache.clear();
        ohCache.set(account, oh);
      }
      return oh;
    },
  };
}

/** Groups named by accounts must exist: a typo there would silently drop settings. */
export function checkReferences(config: Config, file = 'config'): void {
  for (const [acct, a] of Object.entries(config.accounts)) {
    a.groups.forEach((g, i) => {
      if (!(g in config.groups)) {
        const hint = nearest(g, Object.keys(config.groups));
        throw new UsageError(`${file}: accounts.${acct}.groups[${i}]: no group "${g}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
      }
    });
  }
}

/**
 * Every key path of the config schema (`accounts.*.aliases`, `rules.odd-hours.severity`,
 * `rules.sends-per-account.windows[].minutes`), for docs that must not drift from it.
 * Without alternatives, the keys inside a union (one of several transport kinds) are left
 * out: an example can only show one kind at a time.
 */
export function configKeyPaths(withAlternatives = true): string[] {
  const out: string[] = [];
  const walk = (schema: unknown, prefix: string): void => {
    const s = unwrap(schema);
    const d = defOf(s);
    if (d?.type === 'object' && d.shape) {
      for (const [k, v] of Object.entries(d.shape)) {
        const p = prefix ? `${prefix}.${k}` : k;
        out.push(p);
        walk(v, p);
      }
    } else if (d?.type === 'array') walk(d.element, `${prefix}[]`);
    else if (d?.type === 'record') walk(d.valueType, `${prefix}.*`);
    else if (d?.type === 'union' && d.options && withAlternatives) for (const o of d.options) walk(o, prefix);
  };
  walk(configSchema, '');
  return [...new Set(out)];
}

/**
 * Accounts that are sendwatch itself: its alert sender and its SMTP login. Its own
 * digests must never count as an account's sending.
 */
export function selfAccounts(config: Config): string[] {
  const a = config.alerts;
  if (!a) return [];
  const out: string[] = [];
  if (a.from) out.push(a.from.toLowerCase());
  if (a.transport.type === 'smtp' && a.transport.user) out.push(normaliseAccount(a.transport.user, config.defaultDomain));
  return out;
}
