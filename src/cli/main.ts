#!/usr/bin/env node
/**
 * The `sendwatch` command. Only argument handling and exit codes live here; each
 * command's work is in its own module, loaded when that command runs.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
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

async function main(argv: readonly string[], io: Io): Promise<number> {
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
    .action(async (opts: Record<string, unknown>) => {
      const { runStateShow } = await import('./state-cmd.js');
      code = await runStateShow(String(opts.config), io);
    });
  state
    .command('reset')
    .description('start over: the state file is moved aside (never deleted)')
    .option('-c, --config <file>', 'JSON config', '/etc/sendwatch/config.json')
    .action(async (opts: Record<string, unknown>) => {
      const { runStateReset } = await import('./state-cmd.js');
      code = runStateReset(String(opts.config), io);
    });

  program
    .command('test-email')
    .description('send a test message through the configured alert transport')
    .option('-c, --config <file>', 'JSON config with an "alerts" section', '/etc/sendwatch/config.json')
    .action(async (opts: Record<string, unknown>) => {
      const [{ loadConfig }, { runTestEmail }] = await Promise.all([import('../config/load.js'), import('./test-email.js')]);
      const config = loadConfig(String(opts.config));
      if (!config.alerts) throw new UsageError(`${String(opts.config)}: no "alerts" section: nothing to test`);
      code = await runTestEmail(config.alerts, io);
    });

  program
    .command('formats')
    .description('list the log formats sendwatch understands')
    .action(async () => {
      const { parsers } = await import('../parsers/index.js');
      await io.out(parsers.map((p) => `${p.name.padEnd(16)} ${p.description}`).join('\n') + '\n');
    });

  program
    .command('rules')
    .description('list the detection rules and what they look for')
    .action(async () => {
      const { rules } = await import('../rules/index.js');
      await io.out(rules.map((r) => `${r.name.padEnd(20)} ${r.description}`).join('\n') + '\n');
    });

  program.addHelpText('after', `
Examples:
  sendwatch scan /var/log/mail.log
  sendwatch scan --output ndjson --config /etc/sendwatch/config.json maillog.1 maillog
  */10 * * * * sendwatch run --config /etc/sendwatch/config.json   (crontab)
  sendwatch scan --help`);

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
