/**
 * `sendwatch init [LOG...]`: a starting config for the log format found. JSON has no
 * comments, so the explanations go in the top-level `$comment` lines (the one place
 * the schema allows free text) and `$schema` points at the installed
 * config.schema.json, so an editor completes and checks every key. The file is
 * checked against the schema before it is written; an existing file is never
 * overwritten without `--force`.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../config/load.js';
import { DEFAULT_STATE_PATH } from '../config/schema.js';
import { EXIT, UsageError } from '../core/errors.js';
import { PRIVATE_NETWORKS } from '../core/net.js';
import { sanitize } from '../core/sanitize.js';
import { hostTimezone } from '../core/time.js';
import { checkTimezoneFlag } from './time-args.js';
import type { MailRecord } from '../core/types.js';
import { DETECT_SAMPLE_LINES } from '../core/pipeline.js';
import { detectParser } from '../parsers/index.js';
import { rules } from '../rules/index.js';
import { InputError, openInput, readLineBatches } from '../sources/lines.js';
import type { Io } from './io.js';

export interface InitOptions {
  output: string;
  force: boolean;
  timezone?: string | undefined;
  defaultDomain?: string | undefined;
}

/** Where each server usually writes the log sendwatch reads, looked at when no log is named. */
export const USUAL_LOGS: readonly string[] = [
  '/var/log/mail.log',
  '/var/log/maillog',
  '/opt/kerio/mailserver/store/logs/mail.log',
  '/var/opt/SUNWmsgsr/log/mail.log_current',
  '/opt/sun/comms/messaging64/log/mail.log_current',
];

/** The config cron mode reads by default. */
export const CONFIG_PATH = '/etc/sendwatch/config.json';

/** Lines read from each log to tell its format and guess the mail domain. */
const SAMPLE_LINES = 20_000;

export interface LogFacts {
  readonly path: string;
  readonly format: string | undefined;
  /** Domains of the authenticated accounts seen, most frequent first. */
  readonly domains: readonly string[];
  /** Accounts seen that were bare logins (no domain). */
  readonly bareLogins: number;
}

/** Tells a log's format from its first lines and looks at the accounts in the first SAMPLE_LINES. */
export async function inspectLog(path: string, timezone: string): Promise<LogFacts> {
  const input = await openInput(path);
  const domains = new Map<string, number>();
  let bare = 0;
  let format: string | undefined;
  try {
    const reader = readLineBatches(input);
    let session: ReturnType<NonNullable<ReturnType<typeof detectParser>>['parser']['open']> | undefined;
    let seen = 0;
    const onRecord = (r: MailRecord): void => {
      if (r.kind !== 'submission' && r.kind !== 'auth-success') return;
      const at = r.login.lastIndexOf('@');
      if (at < 0) bare++;
      else {
        const d = r.login.slice(at + 1).toLowerCase();
        domains.set(d, (domains.get(d) ?? 0) + 1);
      }
    };
    for await (const batch of reader) {
      if (!session) {
        const sample = batch.lines.map((l) => l.text).filter((t) => t.trim() !== '').slice(0, DETECT_SAMPLE_LINES);
        const found = detectParser(sample);
        if (!found) break;
        format = found.parser.name;
        session = found.parser.open({ source: input.name, timezone, referenceTime: input.mtimeMs }, { openTtlMs: 3600_000 }, onRecord);
      }
      for (const line of batch.lines) session.push(line);
      seen += batch.lines.length;
      if (seen >= SAMPLE_LINES) break;
    }
    session?.flush();
  } finally {
    await input.close();
  }
  return { path, format, domains: [...domains.entries()].sort((a, b) => b[1] - a[1]).map(([d]) => d), bareLogins: bare };
}

/** The installed config.schema.json, as a file URL an editor can open. */
export function schemaUrl(): string {
  const path = fileURLToPath(new URL('../../../config.schema.json', import.meta.url));
  return `file://${path}`;
}

/** The starting config: every rule with its defaults, the logs found as sources, and `$comment` lines. */
export function startingConfig(logs: readonly LogFacts[], timezone: string, defaultDomain: string | undefined, now: Date): Record<string, unknown> {
  const found = logs.filter((l) => l.format !== undefined);
  const what = found.length ? found.map((l) => `${l.format ?? 'auto'} (${l.path})`).join(', ') : 'no log found; set sources[].path';
  const ruleOptions: Record<string, unknown> = {};
  for (const r of rules) ruleOptions[r.name] = r.options.parse({});
  const comment = [
    `Written by "sendwatch init" on ${now.toISOString().slice(0, 10)} for ${what}.`,
    'Every key is explained in the README and "man sendwatch"; $schema lets an editor complete and check them. Unknown keys are errors.',
    'timezone: zone of log stamps written without one, and of office hours.',
    `defaultDomain: added to logins without a domain (jdent -> jdent@${defaultDomain ?? 'example.edu'}).`,
    'trustedNetworks: your own client networks (offices, VPN); authenticated sending from elsewhere is "foreign". Add yours.',
    'officeHours: when people send mail; odd-hours reports sending outside them. accounts.* and groups.* override per person.',
    'ignoreAccounts: accounts no rule counts (service accounts, the alert sender).',
    'rules: every rule with its default options; "enabled": false switches one off, "exempt" lists accounts it never reports.',
    'sources: the logs "sendwatch run" (cron mode) follows; rotated files beside them are found by themselves.',
    'state: where cron mode remembers what it read and alerted. Add an "alerts" section to get e-mail (see the README); without it, cron mails stdout.',
  ];
  const cfg: Record<string, unknown> = {
    $schema: schemaUrl(),
    $comment: comment,
    timezone,
    ...(defaultDomain ? { defaultDomain } : {}),
    trustedNetworks: [...PRIVATE_NETWORKS],
    officeHours: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '07:00', end: '19:00' },
    ignoreAccounts: [],
    rules: ruleOptions,
    sources: (found.length ? found : [{ path: '/var/log/mail.log', format: undefined }]).map((l) => ({ path: resolve(l.path), format: l.format ?? 'auto' })),
    state: { path: DEFAULT_STATE_PATH },
  };
  return cfg;
}

export async function runInit(logs: readonly string[], o: InitOptions, io: Io): Promise<number> {
  checkTimezoneFlag(o.timezone);
  const tz = o.timezone ?? hostTimezone();
  const toStdout = o.output === '-';
  if (!toStdout && existsSync(o.output) && !o.force) throw new UsageError(`${o.output} exists: not overwritten (use --force, or -o another file)`);
  const candidates = logs.length ? logs : USUAL_LOGS.filter((p) => existsSync(p));
  const facts: LogFacts[] = [];
  let failed = false;
  for (const path of candidates) {
    try {
      const f = await inspectLog(path, tz);
      if (!f.format) io.err(`${path}: cannot tell the log format from its first lines ("sendwatch formats" lists those known)`);
      facts.push(f);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      io.err(e.message);
      failed = true;
    }
  }
  if (!logs.length && !candidates.length) io.err(`no mail log at the usual places (${USUAL_LOGS.join(', ')}): name yours, e.g. "sendwatch init /path/to/mail.log"`);
  const domainGuess = o.defaultDomain ?? facts.flatMap((f) => f.domains)[0];
  const cfg = startingConfig(facts, tz, domainGuess, new Date());
  parseConfig(cfg, 'the starting config');
  const json = `${JSON.stringify(cfg, null, 2)}\n`;

  const found = facts.filter((f) => f.format);
  const logArgs = found.map((f) => f.path).join(' ') || '/var/log/mail.log';
  const file = toStdout ? 'the config' : o.output;
  const next = [
    toStdout ? 'A starting config is on standard output.' : `Wrote ${sanitize(o.output)}: a starting config for ${found.length ? found.map((f) => `${f.format ?? ''} (${sanitize(f.path)})`).join(', ') : 'a log to be named in sources[].path'}.`,
    ...(o.defaultDomain === undefined && domainGuess ? [`defaultDomain "${sanitize(domainGuess)}" was guessed from the accounts in the log; check it.`] : []),
    ...(found.some((f) => f.bareLogins > 0) && !domainGuess ? ['The log has logins without a domain: set defaultDomain.'] : []),
    'Next:',
    `  1. Read ${file}; add your own networks to trustedNetworks and set officeHours.`,
    `  2. Check that the log is understood:   sendwatch parse ${logArgs}`,
    `  3. Try it on the log:                  sendwatch scan --config ${toStdout ? 'FILE' : o.output} ${logArgs}`,
    `  4. Put it where cron mode looks:       sudo install -D -m 0644 ${toStdout ? 'FILE' : o.output} ${CONFIG_PATH}`,
    `  5. Crontab (crontab -e as root):       */10 * * * * sendwatch run --config ${CONFIG_PATH}`,
  ].join('\n');

  if (toStdout) {
    await io.out(json);
    process.stderr.write(`${next}\n`);
  } else {
    try {
      writeFileSync(o.output, json, { mode: 0o644, flag: o.force ? 'w' : 'wx' });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new UsageError(`cannot write ${o.output}: ${code === 'EEXIST' ? 'it exists (use --force)' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
    }
    await io.out(`${next}\n`);
  }
  return failed ? EXIT.RUNTIME : EXIT.OK;
}
