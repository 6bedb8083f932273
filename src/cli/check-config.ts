/**
 * `sendwatch check-config`: everything a run would trip over, found before cron does:
 * the config itself (mistakes exit 2 from loading), the logs, the state directory, the
 * SMTP password file's permissions, and whether the mail transport answers.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadConfig, type Config } from '../config/load.js';
import { EXIT } from '../core/errors.js';
import { createEngine } from '../rules/engine.js';
import { resolveContext } from '../config/load.js';
import type { Io } from './io.js';

/** A password file others can read is a leak waiting to happen: say so (a warning, not an error). */
export function passwordFileWarning(config: Config): string | undefined {
  const t = config.alerts?.transport;
  if (!t || t.type !== 'smtp' || !t.passwordFile) return undefined;
  try {
    const mode = statSync(t.passwordFile).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      return `warning: the SMTP password file ${t.passwordFile} is readable by other users (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 it`;
    }
  } catch {
    return `warning: the SMTP password file ${t.passwordFile} cannot be read`;
  }
  return undefined;
}

function checkPath(path: string, mode: number): string | undefined {
  try {
    accessSync(path, mode);
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
  }
}

export async function runCheckConfig(path: string, io: Io, opts: { skipTransport: boolean }): Promise<number> {
  const config = loadConfig(path);
  const engine = createEngine(config, resolveContext(config), () => undefined);
  const lines: string[] = [`${path}: valid; rules on: ${engine.active.join(', ')}`];
  let problems = 0;
  for (const src of config.sources) {
    const why = checkPath(src.path, constants.R_OK);
    if (why) {
      problems++;
      io.err(`log ${src.path}: ${why}`);
    } else {
      lines.push(`log ${src.path}: readable (${src.format})`);
    }
  }
  const stateDir = dirname(config.state.path);
  const dirWhy = checkPath(stateDir, constants.W_OK | constants.X_OK);
  if (dirWhy && dirWhy !== 'does not exist') {
    problems++;
    io.err(`state directory ${stateDir}: ${dirWhy}`);
  } else {
    lines.push(`state ${config.state.path}: ${dirWhy ? 'directory will be created' : 'directory writable'}`);
  }
  const pw = passwordFileWarning(config);
  if (pw) io.err(pw);
  if (config.alerts) {
    const { describeTransport, verifyTransport } = await import('../sinks/mail.js');
    const via = describeTransport(config.alerts.transport);
    if (opts.skipTransport) {
      lines.push(`alerts to ${config.alerts.to.join(', ')} via ${via} (not contacted)`);
    } else {
      try {
        await verifyTransport(config.alerts.transport);
        lines.push(`alerts to ${config.alerts.to.join(', ')} via ${via}: reachable`);
      } catch (e) {
        problems++;
        io.err(`alerts via ${via}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  } else {
    lines.push('no "alerts" section: sendwatch run prints new alerts on stdout (cron mails them)');
  }
  await io.out(`${lines.join('\n')}\n`);
  return problems > 0 ? EXIT.RUNTIME : EXIT.OK;
}
