/**
 * One odd line must not stop sendwatch: not this run (a line that makes it loop) and not
 * the later cron runs (a line that leaves state the next run cannot read). Both found by
 * the session property of test/fuzz; anyone who can write to the log (for syslog files,
 * any local user, with logger(1)) can write such a line.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { CLI, ROOT } from '../helpers/paths.js';
import { writeTemp } from './logs.js';

/** `scan` on one file, killed after `ms`: the exit code, or 'killed'. */
function scanWithin(path: string, format: string, ms: number): Promise<number | 'killed'> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'scan', '--format', format, path], { cwd: ROOT, env: { ...process.env, TZ: 'UTC' }, stdio: 'ignore' });
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, ms);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(killed ? 'killed' : code ?? -1);
    });
  });
}

describe('one odd line', () => {
  it('a Postfix disconnect line claiming 10^26 AUTH attempts does not keep scan busy', async () => {
    const path = writeTemp('postfix.log', 'Feb 10 13:26:37 mx1 postfix/smtpd[126]: disconnect from unknown[192.0.2.3] ehlo=1 auth=0/99999999999999999999999999\n');
    const result = await scanWithin(path, 'postfix', 8000);
    assert.ok(result === 0 || result === 1, `scan of one line: ${String(result)}`);
  });

  it('a Kerio Recv line with a 400-digit Size, still open when the run ends, does not break the next runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sendwatch-hostile-state-'));
    const log = join(dir, 'mail.log');
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ timezone: 'UTC', defaultDomain: 'example.edu', sources: [{ path: log, format: 'kerio' }], state: { path: join(dir, 'state', 'state.json') } }));
    writeFileSync(log, '[02/Feb/2026 08:00:00] Recv: Queue-ID: 69804b70-00000101, Service: SMTP, From: <jdent@example.edu>, To: <a@example.org>, '
      + `Size: ${'9'.repeat(400)}, Sender-Host: 192.0.2.20, User: jdent@example.edu, SSL: yes, Subject: hi, Msg-Id: <s1@example.edu>\n`);
    const first = await runCli(['run', '--config', config, '--from-start']);
    assert.equal(first.code, 0, first.stderr);
    for (let i = 0; i < 2; i++) {
      appendFileSync(log, `[02/Feb/2026 08:0${i + 1}:00] Failed SMTP login from 192.0.2.9 with SASL method PLAIN.\n`);
      const next = await runCli(['run', '--config', config]);
      assert.doesNotMatch(next.stderr, /internal error/);
      assert.ok(next.code === 0 || next.code === 1, `run ${i + 2}: exit ${String(next.code)}: ${next.stderr}`);
    }
  });
});
