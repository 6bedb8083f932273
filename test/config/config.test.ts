import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { configKeyPaths, loadConfig, parseConfig, resolveContext } from '../../src/config/load.js';
import { UsageError } from '../../src/core/errors.js';
import { repoPath } from '../helpers/paths.js';

/** Values at a key path in a JSON value; `*` and `[]` fan out. */
function valuesAt(value: unknown, path: string): unknown[] {
  let cur: unknown[] = [value];
  for (const part of path.replace(/\[\]/g, '.[]').split('.')) {
    const next: unknown[] = [];
    for (const v of cur) {
      if (part === '[]' && Array.isArray(v)) next.push(...(v as readonly unknown[]));
      else if (part === '*' && v && typeof v === 'object') next.push(...Object.values(v as Record<string, unknown>));
      else if (v && typeof v === 'object' && part in v) next.push((v as Record<string, unknown>)[part]);
    }
    cur = next;
  }
  return cur;
}

describe('config', () => {
  it('works with no config at all: private networks trusted, office hours 07-19 Mon-Fri', () => {
    const c = parseConfig({});
    assert.deepEqual(c.officeHours, { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '07:00', end: '19:00' });
    const ctx = resolveContext(c);
    for (const ip of ['10.1.2.3', '192.168.0.9', '172.20.1.1', '127.0.0.1', '::1', 'fd00::5']) assert.ok(ctx.trusted.contains(ip), ip);
    for (const ip of ['185.220.101.34', '2a02:8109::1', '172.32.0.1']) assert.ok(!ctx.trusted.contains(ip), ip);
  });

  it('config.example.json is valid and shows every key the schema has', () => {
    const path = repoPath('config.example.json');
    loadConfig(path);
    const example: unknown = JSON.parse(readFileSync(path, 'utf8'));
    const missing = configKeyPaths(false).filter((p) => p !== '$schema' && valuesAt(example, p).length === 0);
    assert.deepEqual(missing, []);
  });

  it('the README documents every key', () => {
    const readme = readFileSync(repoPath('README.md'), 'utf8');
    const missing = configKeyPaths().filter((p) => !readme.includes(`\`${p}\``));
    assert.deepEqual(missing, []);
  });

  const bad: [string, unknown, RegExp][] = [
    ['unknown top-level key, with a suggestion', { timezon: 'UTC' }, /unknown key "timezon" \(did you mean "timezone"\?\)/],
    ['unknown rule', { rules: { 'odd-hour': {} } }, /unknown key "rules\.odd-hour" \(did you mean "odd-hours"\?\)/],
    ['unknown rule option', { rules: { 'odd-hours': { severty: 'info' } } }, /unknown key "rules\.odd-hours\.severty" \(did you mean "severity"\?\)/],
    ['wrong type', { trustedNetworks: '10.0.0.0/8' }, /trustedNetworks: .*expected array/],
    ['invalid CIDR', { trustedNetworks: ['10.0.0.0/8', '300.1.1.1/8'] }, /trustedNetworks\[1\]: not an IPv4\/IPv6 address or network/],
    ['invalid IPv6 prefix', { trustedNetworks: ['2001:db8::/129'] }, /trustedNetworks\[0\]/],
    ['unknown time zone', { officeHours: { timezone: 'Europe/Berln' } }, /officeHours\.timezone: not an IANA time zone/],
    ['bad HH:MM', { officeHours: { start: '7am' } }, /officeHours\.start: expected HH:MM/],
    ['bad day', { officeHours: { days: ['monday'] } }, /officeHours\.days\[0\]/],
    ['bad severity', { rules: { 'from-user-mismatch': { severity: 'high' } } }, /rules\.from-user-mismatch\.severity/],
    ['negative window', { rules: { 'sends-per-account': { windows: [{ minutes: -5 }] } } }, /windows\[0\]\.minutes/],
    ['undefined group', { accounts: { 'a@x': { groups: ['staf'] } }, groups: { staff: {} } }, /accounts\.a@x\.groups\[0\]: no group "staf" \(did you mean "staff"\?\)/],
  ];
  for (const [name, raw, re] of bad) {
    it(`one clear line for: ${name}`, () => {
      assert.throws(() => parseConfig(raw, 'site.json'), (e: unknown) => {
        assert.ok(e instanceof UsageError);
        assert.match(e.message, /^site\.json: /);
        assert.match(e.message, re);
        assert.ok(!e.message.includes('\n'), 'one line');
        return true;
      });
    });
  }
});
