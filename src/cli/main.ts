#!/usr/bin/env node
/**
 * The `sendwatch` command. Only argument handling and exit codes live here; each
 * command's work is in its own module, loaded when that command runs.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Argument, Command, CommanderError, Option } from 'commander';
import { EXIT, RuntimeError, UsageError } from '../core/errors.js';
import { processIo, type Io } from './io.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const SCAN_EXAMPLES = `
Examples:
  sendwatch scan /var/log/mail.log                 findings as text, grouped by account
  sendwatch scan mail.log.1 mail.log               oldest first, as the server wrote them
  sendwatch scan /opt/kerio/mailserver/store/logs/mail.log --config /etc/sendwatch/config.json
  zcat maillog-20261122.gz | sendwatch scan -      read standard input
  sendwatch scan maillog.gz --output ndjson | jq -r 'select(.severity=="critical") | .account'
  sendwatch scan maillog --since 2026-11-21 --until 2026-11-22 --output tsv | cut -f4 | sort | uniq -c

Exit status:
  0  nothing found      1  findings printed
  2  usage or config error      3  an input could not be read (others are still scanned)
`;

const RUN_EXAMPLES = `
Examples:
  */10 * * * * sendwatch run --config /etc/sendwatch/config.json     crontab line
  sendwatch run -c /etc/sendwatch/config.json --from-start            first run over whole logs
  sendwatch run -c config.json --output ndjson | logger -t sendwatch  alerts to another tool

Exit status:
  0  nothing new      1  new alerts      2  usage or config error
  3  a log could not be read or the e-mail could not be sent (kept in the outbox; retried next run)
  4  another run holds the lock: nothing was done
`;

const REPORT_EXAMPLES = `
Examples:
  sendwatch report /var/log/mail.log                 the 20 busiest accounts, with hourly sparklines
  sendwatch report --top 0 maillog.1 maillog         every account, rotated file first
  sendwatch report --output html maillog > report.html     one self-contained file for a ticket
  sendwatch report --output ndjson maillog | jq -r 'select(.type=="account" and .external > 500) | .account'
  sendwatch report --output tsv maillog | sort -t$'\\t' -k5 -nr | head     most external recipients
  sendwatch report --since 2026-11-21 --until 2026-11-22 --internal-domain example.org maillog

Exit status:
  0  report printed      2  usage or config error      3  an input could not be read
`;

const PARSE_EXAMPLES = `
Examples:
  sendwatch parse /var/log/mail.log                  format, counts per pattern, year and zone used
  sendwatch parse --unrecognised /var/log/mail.log   the lines sendwatch does not understand
  sendwatch parse --records maillog | jq -c 'select(.kind=="submission")'
  sendwatch parse --format kerio --timezone Europe/Prague mail.log
  sendwatch parse --year 2025 maillog.old            stamps without a year are in 2025

Exit status:
  0  every line recognised or ignored      1  some lines not understood
  2  usage or config error      3  an input could not be read or its format not told
`;

const INIT_EXAMPLES = `
Examples:
  sendwatch init                                     looks for /var/log/mail.log, /var/log/maillog, ...
  sendwatch init /opt/kerio/mailserver/store/logs/mail.log --default-domain example.com
  sendwatch init -o - /var/log/mail.log | less       read it before writing it anywhere
  sudo install -D -m 0644 sendwatch.json /etc/sendwatch/config.json
`;

const COMPLETION_EXAMPLES = `
Examples:
  sendwatch completion bash > /etc/bash_completion.d/sendwatch
  source <(sendwatch completion bash)                this shell only
  sendwatch completion zsh > "\${fpath[1]}/_sendwatch"    then: autoload -U compinit && compinit
`;

/** An "Examples:" block for --help: [command, what it does] pairs. */
function examples(...items: readonly (readonly [string, string])[]): string {
  const w = Math.max(...items.map(([c]) => c.length)) + 3;
  return `\nExamples:\n${items.map(([c, what]) => `  ${what ? c.padEnd(w) + what : c}`).join('\n')}\n`;
}

/** Collects a repeatable option's values. */
const collect = (value: string, previous: string[]): string[] => [...previous, value];

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** `--progress` true, `--no-progress` false, neither undefined (a bar only on a terminal). */
function progressFlag(opts: Record<string, unknown>): boolean | undefined {
  return typeof opts.progress === 'boolean' ? opts.progress : undefined;
}

/**
 * Runs the command line. With `inspect`, only builds the program and hands it over
 * (the man page and completion generators read commands, options and help from it).
 */
export async function main(argv: readonly string[], io: Io, inspect?: (program: Command) => void): Promise<number> {
  const program = new Command();
  program
    .name('sendwatch')
    .description('Find hijacked mail accounts (stolen passwords sending spam) in Postfix, Kerio Connect and Messaging Server logs.')
    .version(pkg.version, '-V, --version')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  let code: number = EXIT.OK;
  program
    .command('scan')
    .description('scan log files (or - for stdin) and report accounts that look compromised')
    .argument('[files...]', 'log files: plain or .gz; - for standard input')
    .option('-c, --config <file>', 'JSON config file (default: built-in defaults)')
    .option('-f, --format <name>', 'log format: auto, or a parser name (see "sendwatch formats")', 'auto')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'ndjson', 'tsv']).default('text'))
    .option('--since <time>', 'ignore records before this time (ISO 8601, or 2h / 7d back from now)')
    .option('--until <time>', 'ignore records from this time on')
    .addOption(new Option('--min-severity <level>', 'report findings at or above this level').choices(['info', 'warning', 'critical']).default('info'))
    .option('--timezone <zone>', 'IANA zone of log stamps without one (default: config, then the host)')
    .option('--default-domain <domain>', 'domain for bare logins (default: config)')
    .option('--findings', "print each rule's findings instead of one verdict (incident) per account and period", false)
    .option('--no-color', 'no colour even on a terminal (NO_COLOR is honoured too)')
    .option('-q, --quiet', 'no notes on stderr, only errors', false)
    .option('-v, --verbose', 'per-input statistics and the lines not understood, on stderr', false)
    .option('--progress', 'show a progress bar on stderr even when it is not a terminal')
    .option('--no-progress', 'no progress bar, even on a terminal')
    .addHelpText('after', SCAN_EXAMPLES)
    .action(async (files: string[], opts: Record<string, unknown>) => {
      const { runScan } = await import('./scan.js');
      code = await runScan(files, {
        format: String(opts.format), output: String(opts.output), color: opts.color !== false,
        quiet: opts.quiet === true, verbose: opts.verbose === true, minSeverity: String(opts.minSeverity), findings: opts.findings === true,
        ...(typeof opts.config === 'string' ? { config: opts.config } : {}),
        ...(typeof opts.since === 'string' ? { since: opts.since } : {}),
        ...(typeof opts.until === 'string' ? { until: opts.until } : {}),
        ...(typeof opts.timezone === 'string' ? { timezone: opts.timezone } : {}),
        ...(typeof opts.defaultDomain === 'string' ? { defaultDomain: opts.defaultDomain } : {}),
        progress: progressFlag(opts),
      }, io);
    });

  program
    .command('run')
    .description('cron mode: read what the configured logs gained since the last run, alert once by e-mail')
    .requiredOption('-c, --config <file>', 'JSON config with "sources", "state" and "alerts"', '/etc/sendwatch/config.json')
    .option('--from-start', 'first run: read the logs from the beginning, not just the last window', false)
    .addOption(new Option('-o, --output <format>', 'also print the new alerts on stdout').choices(['text', 'ndjson', 'tsv']))
    .option('-q, --quiet', 'no notes on stderr, only errors', false)
    .option('-v, --verbose', 'per-log statistics on stderr', false)
    .addHelpText('after', RUN_EXAMPLES)
    .action(async (opts: Record<string, unknown>) => {
      const { runCron } = await import('./run.js');
      code = await runCron({
        config: String(opts.config), fromStart: opts.fromStart === true, quiet: opts.quiet === true, verbose: opts.verbose === true,
        output: opts.output === 'text' || opts.output === 'ndjson' || opts.output === 'tsv' ? opts.output : undefined,
      }, io);
    });

  const state = program.command('state').description("look at or reset cron mode's state file");
  state
    .command('show')
    .description('cursors, open messages, accounts tracked, alerts remembered, outbox')
    .option('-c, --config <file>', 'JSON config', '/etc/sendwatch/config.json')
    .addHelpText('after', examples(['sendwatch state show', 'the state of /etc/sendwatch/config.json\'s state file'], ['sendwatch state show -c ./config.json', '']))
    .action(async (opts: Record<string, unknown>) => {
      const { runStateShow } = await import('./state-cmd.js');
      code = await runStateShow(String(opts.config), io);
    });
  state
    .command('reset')
    .description('start over: the state file is moved aside (never deleted)')
    .option('-c, --config <file>', 'JSON config', '/etc/sendwatch/config.json')
    .addHelpText('after', examples(['sendwatch state reset', 'the next run starts like a first run (see run --from-start)']))
    .action(async (opts: Record<string, unknown>) => {
      const { runStateReset } = await import('./state-cmd.js');
      code = runStateReset(String(opts.config), io);
    });

  program
    .command('test-email')
    .description('send a test message through the configured alert transport')
    .option('-c, --config <file>', 'JSON config with an "alerts" section', '/etc/sendwatch/config.json')
    .addHelpText('after', examples(['sendwatch test-email', 'through the transport in /etc/sendwatch/config.json'], ['sendwatch test-email -c ./config.json', '']))
    .action(async (opts: Record<string, unknown>) => {
      const [{ loadConfig }, { runTestEmail }] = await Promise.all([import('../config/load.js'), import('./test-email.js')]);
      const config = loadConfig(String(opts.config));
      if (!config.alerts) throw new UsageError(`${String(opts.config)}: no "alerts" section: nothing to test`);
      code = await runTestEmail(config.alerts, io);
    });

  program
    .command('check-config')
    .description('check a config without running: the logs, the state directory, the password file, the mail transport')
    .option('-c, --config <file>', 'JSON config', '/etc/sendwatch/config.json')
    .option('--no-transport', 'do not contact the mail server')
    .addHelpText('after', examples(['sendwatch check-config', 'exit 0 all well, 2 config mistake, 3 something a run would trip over'], ['sendwatch check-config -c ./config.json --no-transport', '']))
    .action(async (opts: Record<string, unknown>) => {
      const { runCheckConfig } = await import('./check-config.js');
      code = await runCheckConfig(String(opts.config), io, { skipTransport: opts.transport === false });
    });

  program
    .command('formats')
    .description('list the log formats sendwatch understands')
    .addHelpText('after', examples(['sendwatch formats', ''], ['sendwatch parse /var/log/mail.log', 'which one a log is, and how well it is understood']))
    .action(async () => {
      const { parsers } = await import('../parsers/index.js');
      await io.out(parsers.map((p) => `${p.name.padEnd(16)} ${p.description}`).join('\n') + '\n');
    });

  program
    .command('rules')
    .description('list the detection rules and what they look for')
    .addHelpText('after', examples(['sendwatch rules', ''], ['sendwatch init /var/log/mail.log', 'a starting config with every rule\'s options']))
    .action(async () => {
      const { rules } = await import('../rules/index.js');
      await io.out(rules.map((r) => `${r.name.padEnd(20)} ${r.description}`).join('\n') + '\n');
    });

  program
    .command('report')
    .description('per authenticated account: messages, recipients, client addresses, bounces, busiest hour, hourly activity')
    .argument('[files...]', 'log files: plain or .gz; - for standard input')
    .option('-c, --config <file>', 'JSON config file (default: built-in defaults)')
    .option('-f, --format <name>', 'log format: auto, or a parser name (see "sendwatch formats")', 'auto')
    .addOption(new Option('-o, --output <format>', 'output format; html is one self-contained file').choices(['text', 'ndjson', 'tsv', 'html']).default('text'))
    .option('-n, --top <n>', 'show the N busiest accounts (0: all)', '20')
    .option('--since <time>', 'ignore records before this time (ISO 8601, or 2h / 7d back from now)')
    .option('--until <time>', 'ignore records from this time on')
    .option('--timezone <zone>', 'IANA zone of log stamps without one, and of the hours shown (default: config, then the host)')
    .option('--default-domain <domain>', 'domain for bare logins (default: config)')
    .option('--internal-domain <domain>', 'recipients in this domain are internal (repeatable; the accounts\' own domains always are)', collect, [])
    .option('--no-color', 'no colour even on a terminal (NO_COLOR is honoured too)')
    .option('--progress', 'show a progress bar on stderr even when it is not a terminal')
    .option('--no-progress', 'no progress bar, even on a terminal')
    .option('-q, --quiet', 'no notes on stderr, only errors', false)
    .addHelpText('after', REPORT_EXAMPLES)
    .action(async (files: string[], opts: Record<string, unknown>) => {
      const { runReport } = await import('./report.js');
      code = await runReport(files, {
        config: str(opts.config), format: String(opts.format), output: String(opts.output), top: String(opts.top),
        since: str(opts.since), until: str(opts.until), timezone: str(opts.timezone), defaultDomain: str(opts.defaultDomain),
        internalDomains: Array.isArray(opts.internalDomain) ? opts.internalDomain.map(String) : [],
        color: opts.color !== false, quiet: opts.quiet === true, progress: progressFlag(opts),
      }, io);
    });

  program
    .command('parse')
    .description('check that logs are understood: format detected, lines recognised/ignored/not understood per pattern, time decisions')
    .argument('[files...]', 'log files: plain or .gz; - for standard input')
    .option('-c, --config <file>', 'JSON config file (for timezone and defaultDomain)')
    .option('-f, --format <name>', 'log format: auto, or a parser name (see "sendwatch formats")', 'auto')
    .option('--timezone <zone>', 'IANA zone of log stamps without one (default: config, then the host)')
    .option('--year <year>', 'year of stamps written without one (default: the one closest to the file\'s modification time)')
    .option('--default-domain <domain>', 'domain for bare logins (default: config)')
    .option('--records', 'print the normalised records as NDJSON on stdout (the summary goes to stderr)', false)
    .option('--unrecognised', 'print the lines not understood on stdout (the summary goes to stderr)', false)
    .option('--progress', 'show a progress bar on stderr even when it is not a terminal')
    .option('--no-progress', 'no progress bar, even on a terminal')
    .addHelpText('after', PARSE_EXAMPLES)
    .action(async (files: string[], opts: Record<string, unknown>) => {
      const { runParse } = await import('./parse.js');
      code = await runParse(files, {
        config: str(opts.config), format: String(opts.format), timezone: str(opts.timezone), year: str(opts.year),
        defaultDomain: str(opts.defaultDomain), records: opts.records === true, unrecognised: opts.unrecognised === true,
        progress: progressFlag(opts),
      }, io);
    });

  program
    .command('init')
    .description('write a commented starting config for the log format found, and say where to put it')
    .argument('[logs...]', 'your mail logs (default: the usual places for Postfix, Kerio and Messaging Server)')
    .option('-o, --output <file>', 'where to write it; - for standard output', 'sendwatch.json')
    .option('--force', 'overwrite an existing file', false)
    .option('--timezone <zone>', 'IANA zone of the logs (default: the host\'s)')
    .option('--default-domain <domain>', 'domain for bare logins (default: guessed from the logs)')
    .addHelpText('after', INIT_EXAMPLES)
    .action(async (logs: string[], opts: Record<string, unknown>) => {
      const { runInit } = await import('./init.js');
      code = await runInit(logs, {
        output: String(opts.output), force: opts.force === true, timezone: str(opts.timezone), defaultDomain: str(opts.defaultDomain),
      }, io);
    });

  program
    .command('completion')
    .description('print a shell completion script (bash or zsh)')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh']))
    .addHelpText('after', COMPLETION_EXAMPLES)
    .action(async (shell: string) => {
      const { completionScript } = await import('./completion.js');
      await io.out(completionScript(shell === 'zsh' ? 'zsh' : 'bash', program));
    });

  program.addHelpText('after', `
Examples:
  sendwatch scan /var/log/mail.log
  sendwatch scan --output ndjson --config /etc/sendwatch/config.json maillog.1 maillog
  */10 * * * * sendwatch run --config /etc/sendwatch/config.json   (crontab)
  sendwatch report --output html maillog > report.html
  sendwatch parse --unrecognised /var/log/mail.log
  sendwatch init /var/log/mail.log
  sendwatch scan --help`);

  if (inspect) {
    inspect(program);
    return EXIT.OK;
  }

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.OK;
      return EXIT.USAGE;
    }
    throw e;
  }
  return code;
}

/** Whether this module is the program being run (and not imported by a generator or a test). */
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const io = processIo();
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      if (e instanceof UsageError) {
        io.err(e.message);
        process.exitCode = EXIT.USAGE;
      } else if (e instanceof RuntimeError) {
        io.err(e.message);
        process.exitCode = EXIT.RUNTIME;
      } else {
        io.err(`internal error: ${e instanceof Error ? e.message : String(e)}`);
        if (process.env.SENDWATCH_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
        process.exitCode = EXIT.RUNTIME;
      }
    },
  );
}
