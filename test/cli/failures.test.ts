/**
 * Cron mode when things go wrong around it: logs that are missing, unreadable, a
 * directory or a FIFO; state files that are damaged, foreign, links, or cannot be
 * written (permissions, a full disk); a hundred runs at once. The built binary, real
 * files, real permissions (as the unprivileged user `nobody` where root would bypass them).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliResult } from '../helpers/cli.js';
import { CLI, repoPath } from '../helpers/paths.js';

const LOG = readFileSync(repoPath('fixtures', 'scenarios', 'postfix-compromised', 'input.log'), 'utf8');
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

interface Site { dir: string; logs: string[]; config: string; state: string }

function site(logNames: string[] = ['maillog'], stateDir?: string): Site {
  const dir = mkdtempSync(join(tmpdir(), 'sendwatch-fail-'));
  chmodSync(dir, 0o755);
  const logs = logNames.map((n) => join(dir, n));
  for (const l of logs) writeFileSync(l, LOG);
  const state = join(stateDir ?? join(dir, 'state'), 'state.json');
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({
    timezone: 'Europe/Berlin', defaultDomain: 'example.edu',
    sources: logs.map((path) => ({ path, format: 'postfix' })), state: { path: state },
  }));
  chmodSync(config, 0o644);
  return { dir, logs, config, state };
}

const run = (s: Site, ...args: string[]): Promise<CliResult> => runCli(['run', '--config', s.config, '--output', 'tsv', ...args]);

/** Runs the CLI as `nobody`, so file permissions apply as they would to a service account. */
function runAsNobody(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, CLI, ...args], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function sources(s: Site): Record<string, unknown> {
  return (JSON.parse(readFileSync(s.state, 'utf8')) as { sources: Record<string, unknown> }).sources;
}

describe('failing logs: one clear line, the others still processed, exit 3, cursor kept', () => {
  it('a missing log', async () => {
    const s = site(['maillog', 'gone.log']);
    execFileSync('rm', [s.logs[1] ?? '']);
    const r = await run(s, '--from-start');
    assert.equal(r.code, 3);
    assert.match(r.stderr, /^sendwatch: cannot read .*gone\.log: no such file.*; it will be read again from the same place next run$/m);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1);
    assert.match(r.stdout, /frank@example\.edu/, 'the other log was processed');
    assert.ok(sources(s)[s.logs[0] ?? ''] && !sources(s)[s.logs[1] ?? '']);
  });

  it('a directory, and a FIFO (which must not block the run)', async () => {
    const s = site(['maillog', 'adir', 'afifo']);
    execFileSync('rm', [s.logs[1] ?? '', s.logs[2] ?? '']);
    mkdirSync(s.logs[1] ?? '');
    execFileSync('mkfifo', [s.logs[2] ?? '']);
    const r = await run(s, '--from-start');
    assert.equal(r.code, 3);
    assert.match(r.stderr, /adir: is a directory/);
    assert.match(r.stderr, /afifo: not a regular file/);
    assert.match(r.stdout, /frank@example\.edu/);
  });

  it('an unreadable log (permission denied), as an unprivileged user', { skip: !isRoot && 'needs root to switch to nobody' }, () => {
    const s = site(['maillog', 'secret.log']);
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, s.dir]);
    chownSync(s.logs[1] ?? '', 0, 0);
    chmodSync(s.logs[1] ?? '', 0o600);
    const r = runAsNobody(['run', '--config', s.config, '--output', 'tsv', '--from-start']);
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /secret\.log: permission denied/);
    assert.match(r.stdout, /frank@example\.edu/);
    assert.ok(!sources(s)[s.logs[1] ?? '']);
  });

  it('a log that vanishes between runs is not an error once the state knows it; a re-created one is read', async () => {
    const s = site();
    assert.ok([0, 1].includes((await run(s, '--from-start')).code ?? -1));
    appendFileSync(s.logs[0] ?? '', `${LOG.split('\n')[0] ?? ''}\n`);
    const r = await run(s);
    assert.ok([0, 1].includes(r.code ?? -1), r.stderr);
  });
});

describe('state files that cannot be trusted or written', () => {
  it('wrong version: moved aside and reported, the run goes on', async () => {
    const s = site();
    mkdirSync(join(s.dir, 'state'), { mode: 0o700 });
    writeFileSync(s.state, JSON.stringify({ version: 99, whatever: true }), { mode: 0o600 });
    const r = await run(s, '--from-start');
    assert.match(r.stderr, /state .* was version 99, this sendwatch reads version 1: moved aside to .*corrupt-/);
    assert.ok([0, 1].includes(r.code ?? -1));
  });

  it('a symbolic link planted as the state file is refused, and its target untouched', async () => {
    const s = site();
    mkdirSync(join(s.dir, 'state'), { mode: 0o700 });
    const victim = join(s.dir, 'victim');
    writeFileSync(victim, 'precious\n');
    symlinkSync(victim, s.state);
    const r = await run(s, '--from-start');
    assert.equal(r.code, 3);
    assert.match(r.stderr, /state .* is a symbolic link: refusing to follow it/);
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  });

  it('a lock file planted as a symbolic link is never written through', async () => {
    const s = site();
    mkdirSync(join(s.dir, 'state'), { mode: 0o700 });
    const victim = join(s.dir, 'victim');
    writeFileSync(victim, 'precious\n');
    symlinkSync(victim, `${s.state}.lock`);
    const r = await run(s, '--from-start');
    assert.ok([0, 1].includes(r.code ?? -1), r.stderr);
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  });

  it('a state file owned by another user is refused', { skip: !isRoot && 'needs root to chown' }, async () => {
    const s = site();
    mkdirSync(join(s.dir, 'state'), { mode: 0o700 });
    writeFileSync(s.state, '{}', { mode: 0o600 });
    chownSync(s.state, NOBODY, NOBODY);
    const r = await run(s);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /state .* is owned by uid 65534, not by this user \(uid 0\): refusing to use it/);
  });

  it('a state directory that is not writable: exit 3, the previous state intact', { skip: !isRoot && 'needs root to switch to nobody' }, () => {
    const s = site();
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, s.dir]);
    const first = runAsNobody(['run', '--config', s.config, '--output', 'tsv', '--from-start']);
    assert.ok([0, 1].includes(first.status ?? -1), first.stderr);
    const before = readFileSync(s.state, 'utf8');
    chmodSync(join(s.dir, 'state'), 0o500);
    appendFileSync(s.logs[0] ?? '', LOG.split('\n').slice(0, 50).join('\n') + '\n');
    const r = runAsNobody(['run', '--config', s.config, '--output', 'tsv']);
    assert.equal(r.status, 3);
    assert.match(r.stderr, /cannot (create lock|write state) .*: permission denied/);
    assert.equal(readFileSync(s.state, 'utf8'), before);
  });

  it('a full disk: exit 3 with the reason, the previous state intact', { skip: !isRoot && 'needs root to mount a small tmpfs' }, async (t) => {
    const mnt = mkdtempSync(join(tmpdir(), 'sendwatch-full-'));
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt]);
    if (m.status !== 0) {
      t.skip('cannot mount a tmpfs here');
      return;
    }
    try {
      const s = site(['maillog'], join(mnt, 'state'));
      const first = await run(s, '--from-start');
      assert.ok([0, 1].includes(first.code ?? -1), first.stderr);
      const before = readFileSync(s.state, 'utf8');
      // Fill the file system but for one block: the lock still fits, the new state does not.
      const avail = Number(spawnSync('df', ['--output=avail', '-B4096', mnt], { encoding: 'utf8' }).stdout.trim().split('\n').pop());
      spawnSync('dd', ['if=/dev/zero', `of=${join(mnt, 'fill')}`, 'bs=4k', `count=${Math.max(0, avail - 1)}`]);
      appendFileSync(s.logs[0] ?? '', LOG.split('\n').slice(0, 50).join('\n') + '\n');
      const r = await run(s);
      assert.equal(r.code, 3);
      assert.match(r.stderr, /cannot write state .*: no space left on device/);
      assert.equal(readFileSync(s.state, 'utf8'), before);
      assert.deepEqual(readdirSync(join(mnt, 'state')).filter((f) => f.includes('.tmp-')), [], 'no temp file left behind');
    } finally {
      spawnSync('umount', [mnt]);
    }
  });
});

describe('load', () => {
  it('100 runs started at once: one works at a time, the rest exit 4, the state is valid at the end', async () => {
    const s = site();
    writeFileSync(s.logs[0] ?? '', LOG.split('\n').slice(0, 400).join('\n') + '\n');
    await run(s, '--from-start');
    appendFileSync(s.logs[0] ?? '', LOG.split('\n').slice(400).join('\n'));
    const codes = await Promise.all(Array.from({ length: 100 }, () => new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'run', '--config', s.config, '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TZ: 'UTC' } });
      child.stderr.resume();
      child.on('close', (code) => resolve(code));
    })));
    const counts = new Map<number | null, number>();
    for (const c of codes) counts.set(c, (counts.get(c) ?? 0) + 1);
    for (const c of counts.keys()) assert.ok(c === 0 || c === 1 || c === 4, `unexpected exit ${String(c)}: ${JSON.stringify([...counts])}`);
    assert.ok((counts.get(0) ?? 0) + (counts.get(1) ?? 0) >= 1, 'at least one run did the work');
    const state = JSON.parse(readFileSync(s.state, 'utf8')) as { version: number; sources: Record<string, { cursor: { offset: number } }> };
    assert.equal(state.version, 1);
    assert.equal(state.sources[s.logs[0] ?? '']?.cursor.offset, Buffer.byteLength(readFileSync(s.logs[0] ?? '')));
    assert.equal(existsSync(`${s.state}.lock`), false);
  });
});
