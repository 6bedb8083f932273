/**
 * sendwatch.1, generated from the commander program itself: the same commands,
 * arguments, options, defaults, choices and examples that `--help` prints, so the man
 * page cannot drift from the help.
 */
import { readFileSync } from 'node:fs';
import type { Command, Option } from 'commander';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/io.js';
import { repoPath } from '../helpers/paths.js';

/** Escapes text for roff: backslashes, hyphens in options, and a leading dot or quote. */
export function roff(s: string): string {
  return s.replace(/\\/g, '\\e').replace(/-/g, '\\-').replace(/^([.'])/gm, '\\&$1');
}

/** Text for a no-fill block: backslashes and leading dots/quotes only. */
function verbatim(s: string): string {
  return s.replace(/\\/g, '\\e').replace(/^([.'])/gm, '\\&$1');
}

const silentIo: Io = {
  out: () => Promise.resolve(),
  write: () => undefined,
  drain: () => Promise.resolve(),
  err: () => undefined,
  stdoutIsTty: false,
  stdinIsTty: false,
};

export async function loadProgram(): Promise<Command> {
  let program: Command | undefined;
  await main([], silentIo, (p) => {
    program = p;
  });
  if (!program) throw new Error('the program was not built');
  return program;
}

/** What `addHelpText('after', ...)` added to a command's help (the examples), captured from outputHelp. */
function afterHelp(cmd: Command): string {
  let text = '';
  const saved = cmd.configureOutput();
  cmd.configureOutput({ ...saved, writeOut: (s: string) => (text += s), getOutHelpWidth: () => 200 });
  cmd.outputHelp();
  cmd.configureOutput(saved);
  const i = text.indexOf('\nExamples:\n');
  return i < 0 ? '' : text.slice(i + 1).trimEnd();
}

/** Help strings are phrases; in the man page they are sentences. */
function sentence(s: string): string {
  const t = s.trim();
  if (!t) return t;
  return `${t[0]?.toUpperCase() ?? ''}${t.slice(1)}${/[.!?]$/.test(t) ? '' : '.'}`;
}

function optionItem(o: Option): string[] {
  const flags = o.flags.split(/,\s*/).map((f) => {
    const m = /^(\S+)(?: (.+))?$/.exec(f.trim());
    return m?.[2] ? `\\fB${roff(m[1] ?? '')}\\fR \\fI${roff(m[2].replace(/[<>[\]]/g, ''))}\\fR` : `\\fB${roff(f.trim())}\\fR`;
  });
  let desc = sentence(o.description);
  if (o.argChoices) desc += ` One of: ${o.argChoices.join(', ')}.`;
  if (o.defaultValue !== undefined && o.defaultValue !== false && !(Array.isArray(o.defaultValue) && o.defaultValue.length === 0) && !o.negate) {
    desc += ` Default: ${Array.isArray(o.defaultValue) ? o.defaultValue.join(', ') : String(o.defaultValue)}.`;
  }
  return ['.TP', flags.join(', '), roff(desc)];
}

function commandSection(cmd: Command, path: readonly string[]): string[] {
  const out: string[] = [];
  const name = ['sendwatch', ...path].join(' ');
  const args = cmd.registeredArguments.map((a) => (a.required ? `<${a.name()}${a.variadic ? '...' : ''}>` : `[${a.name()}${a.variadic ? '...' : ''}]`));
  if (cmd.commands.length === 0) {
    out.push(`.SS "${roff(name)}${cmd.options.length ? ' [options]' : ''}${args.length ? ` ${roff(args.join(' '))}` : ''}"`);
    out.push(roff(sentence(cmd.description())));
    for (const a of cmd.registeredArguments) {
      if (!a.description) continue;
      out.push('.TP', `\\fI${roff(a.name())}\\fR`, roff(sentence(a.description) + (a.argChoices ? ` One of: ${a.argChoices.join(', ')}.` : '')));
    }
    for (const o of cmd.options) if (!o.hidden) out.push(...optionItem(o));
    out.push('.TP', '\\fB\\-h\\fR, \\fB\\-\\-help\\fR', 'Show this command\'s help, with examples.');
    const after = afterHelp(cmd);
    if (after) out.push('.PP', '.nf', verbatim(after), '.fi');
  } else {
    for (const sub of cmd.commands) out.push(...commandSection(sub, [...path, sub.name()]));
  }
  return out;
}

export async function renderManPage(): Promise<string> {
  const program = await loadProgram();
  const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string; description: string };
  const lines: string[] = [
    '.\\" Generated from the sendwatch command definitions (npm run generate); do not edit.',
    `.TH SENDWATCH 1 "" "sendwatch ${pkg.version}" "User Commands"`,
    '.SH NAME',
    `sendwatch \\- ${roff(pkg.description.replace(/^Find/, 'find'))}`,
    '.SH SYNOPSIS',
    ...program.commands.map((c) => {
      const rest = [
        ...(c.commands.length ? [c.commands.map((x) => roff(x.name())).join('|')] : []),
        ...(c.options.length ? ['[\\fIoptions\\fR]'] : []),
        ...c.registeredArguments.map((a) => `${a.required ? '' : '['}\\fI${roff(a.name())}\\fR${a.variadic ? '...' : ''}${a.required ? '' : ']'}`),
      ].join(' ');
      return `.B sendwatch ${roff(c.name())}${rest ? `\n${rest}` : ''}\n.br`;
    }),
    '.SH DESCRIPTION',
    roff(program.description()),
    '.PP',
    roff('Data goes to standard output, diagnostics to standard error. Colour is used only when standard output is a terminal, and never when NO_COLOR is set. A progress bar is shown on standard error only when it is a terminal. Log text is treated as hostile: control characters are shown escaped.'),
    '.SH COMMANDS',
    ...program.commands.flatMap((c) => commandSection(c, [c.name()])),
    '.SH OPTIONS',
    '.TP', '\\fB\\-V\\fR, \\fB\\-\\-version\\fR', 'Print the version.',
    '.TP', '\\fB\\-h\\fR, \\fB\\-\\-help\\fR', 'Print the commands; with a command, its options and examples.',
    '.SH EXIT STATUS',
    '.TP', '0', roff('Nothing found (scan, run), the report or config was written, every line understood (parse).'),
    '.TP', '1', roff('Findings printed (scan), new alerts (run), some lines not understood (parse).'),
    '.TP', '2', roff('Usage or configuration error: one line on standard error naming the option or key path.'),
    '.TP', '3', roff('Runtime error: an input could not be read or its format not told, or an alert could not be sent.'),
    '.TP', '4', roff('run: another run holds the lock.'),
    '.SH ENVIRONMENT',
    '.TP', '.B NO_COLOR', roff('When set and not empty, no colour.'),
    '.TP', '.B TZ', roff('The host zone: the default zone of log stamps written without one.'),
    '.TP', '.B SENDWATCH_NOW', roff('Pins the clock (ISO 8601) for relative --since/--until and year-less stamps read from standard input.'),
    '.SH FILES',
    '.TP', '.I /etc/sendwatch/config.json', roff('The configuration that run, state and test-email read by default. sendwatch init writes a starting one; config.schema.json in the package lets an editor complete and check it.'),
    '.TP', '.I /var/lib/sendwatch/state.json', roff('Cron mode\'s state (cursors, open messages, windows, alerts sent, outbox), mode 0600.'),
    '.SH SEE ALSO',
    roff('The README in the package (configuration keys, rules and their options, log formats, the NDJSON and TSV fields); config.example.json shows every key.'),
    '',
  ];
  return lines.join('\n');
}
