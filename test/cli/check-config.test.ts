import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';

function setup(transport: Record<string, unknown>): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sendwatch-check-'));
  const log = join(dir, 'maillog');
  writeFileSync(log, '');
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({
    sources: [{ path: log }, { path: join(dir, 'missing.log') }], state: { path: join(dir, 'state', 'state.json') },
    alerts: { to: ['postmaster@example.edu'], transport },
  }));
  return { dir, config };
}

describe('sendwatch check-config', () => {
  it('lists what a run needs; a missing log and an unreachable transport are exit 3, each one line', async () => {
    const { config } = setup({ type: 'smtp', host: '127.0.0.1', port: 9, security: 'none', timeoutSeconds: 2 });
    const r = await runCli(['check-config', '--config', config]);
    assert.equal(r.code, 3);
    assert.match(r.stdout, /: valid; rules on: .*sends-per-account/);
    assert.match(r.stdout, /maillog: readable/);
    assert.match(r.stderr, /^sendwatch: log .*missing\.log: does not exist$/m);
    assert.match(r.stderr, /^sendwatch: alerts via smtp 127\.0\.0\.1:9: .*refused/m);
  });

  it('a config mistake is exit 2; --no-transport skips the mail server', async () => {
    const { dir, config } = setup({ type: 'sendmail', path: '/bin/true' });
    const ok = await runCli(['check-config', '--config', config, '--no-transport']);
    assert.match(ok.stdout, /via sendmail \/bin\/true \(not contacted\)/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ sources: [{ path: 'x', format: 'exim' }] }));
    const r = await runCli(['check-config', '--config', bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /sources\[0\]\.format: not a log format \(known: auto, /);
  });

  it('warns when the SMTP password file is readable by others', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sendwatch-pw-'));
    const pw = join(dir, 'pw');
    writeFileSync(pw, 'secret\n');
    chmodSync(pw, 0o644);
    const { config } = setup({ type: 'smtp', host: '127.0.0.1', port: 9, security: 'none', user: 'sendwatch', passwordFile: pw });
    const r = await runCli(['check-config', '--config', config, '--no-transport']);
    assert.match(r.stderr, /warning: the SMTP password file .*pw is readable by other users \(mode 0644\): chmod 600 it/);
  });
});
