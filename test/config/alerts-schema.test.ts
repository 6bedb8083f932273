import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { AlertsSchema, senderAddress } from '../../src/config/alerts-schema.js';

/** The first issue's path and message, as the config loader would report it. */
function firstIssue(raw: unknown): string {
  const r = AlertsSchema.safeParse(raw);
  assert.equal(r.success, false, 'expected the config to be refused');
  const i = r.error?.issues[0];
  return `${(i?.path ?? []).map(String).join('.')}: ${i?.message ?? ''}`;
}

describe('alerts config', () => {
  it('defaults: sendmail -t -i at /usr/sbin/sendmail, warning and above, 24 h cooldown, host name', () => {
    const c = AlertsSchema.parse({ to: ['admin@example.edu'] });
    assert.deepEqual(c, {
      to: ['admin@example.edu'],
      hostname: hostname(),
      minSeverity: 'warning',
      cooldownHours: 24,
      transport: { type: 'sendmail', path: '/usr/sbin/sendmail', timeoutSeconds: 30 },
    });
    assert.equal(c.from, undefined);
    assert.equal(senderAddress(c, 'mx1.example.edu'), 'sendwatch@mx1.example.edu');
    assert.equal(senderAddress({ from: 'alerts@example.edu' }), 'alerts@example.edu');
  });

  it('sendmail with its own path and options', () => {
    const c = AlertsSchema.parse({ to: ['root'], transport: { type: 'sendmail', path: '/usr/bin/msmtp', args: ['-a', 'default'] } });
    assert.deepEqual(c.transport, { type: 'sendmail', path: '/usr/bin/msmtp', args: ['-a', 'default'], timeoutSeconds: 30 });
  });

  it('smtp: defaults port 587, STARTTLS, certificate checked, 30 s', () => {
    const c = AlertsSchema.parse({ to: ['a@example.edu'], transport: { type: 'smtp', host: 'relay.example.edu' } });
    assert.deepEqual(c.transport, {
      type: 'smtp', host: 'relay.example.edu', port: 587, security: 'starttls', rejectUnauthorized: true, timeoutSeconds: 30,
    });
  });

  it('smtp with a login: password from an environment variable or a file', () => {
    const env = AlertsSchema.parse({ to: ['a@x.example'], transport: { type: 'smtp', host: 'h', port: 465, security: 'tls', user: 'sw', passwordEnv: 'SENDWATCH_SMTP_PASSWORD' } });
    assert.equal(env.transport.type === 'smtp' && env.transport.passwordEnv, 'SENDWATCH_SMTP_PASSWORD');
    const file = AlertsSchema.parse({ to: ['a@x.example'], transport: { type: 'smtp', host: 'h', user: 'sw', passwordFile: '/etc/sendwatch/smtp.pw' } });
    assert.equal(file.transport.type === 'smtp' && file.transport.passwordFile, '/etc/sendwatch/smtp.pw');
  });

  const bad: [string, unknown, RegExp][] = [
    ['a password in the config', { to: ['a@x'], transport: { type: 'smtp', host: 'h', user: 'u', password: 'hunter2' } }, /^transport\.password: .*use passwordEnv .* or passwordFile/],
    ['a password even with a password source', { to: ['a@x'], transport: { type: 'smtp', host: 'h', user: 'u', passwordEnv: 'P', password: 'x' } }, /^transport\.password: .*passwordEnv/],
    ['a password on the sendmail transport', { to: ['a@x'], transport: { type: 'sendmail', password: 'x' } }, /^transport\.password: .*passwordFile/],
    ['a user without a password source', { to: ['a@x'], transport: { type: 'smtp', host: 'h', user: 'u' } }, /^transport\.user: a user needs passwordEnv or passwordFile/],
    ['both password sources', { to: ['a@x'], transport: { type: 'smtp', host: 'h', user: 'u', passwordEnv: 'P', passwordFile: '/f' } }, /^transport\.passwordFile: .*not both/],
    ['a password source without a user', { to: ['a@x'], transport: { type: 'smtp', host: 'h', passwordEnv: 'P' } }, /^transport\.user: /],
    ['no recipients', { to: [] }, /^to: /],
    ['recipients missing', {}, /^to: /],
    ['a display name', { to: ['Admin <admin@example.edu>'] }, /^to\.0: expected one plain address/],
    ['two addresses in one entry', { to: ['a@x, b@y'] }, /^to\.0: /],
    ['a header injection in from', { to: ['a@x'], from: 'a@x\r\nBcc: b@y' }, /^from: /],
    ['an address that sendmail would read as an option', { to: ['-oQ/tmp@x'] }, /^to\.0: /],
    ['unknown transport type', { to: ['a@x'], transport: { type: 'pigeon' } }, /^transport\.type: /],
    ['smtp without a host', { to: ['a@x'], transport: { type: 'smtp' } }, /^transport\.host: /],
    ['a bad security', { to: ['a@x'], transport: { type: 'smtp', host: 'h', security: 'ssl' } }, /^transport\.security: /],
    ['a bad port', { to: ['a@x'], transport: { type: 'smtp', host: 'h', port: 70000 } }, /^transport\.port: /],
    ['a misspelt key', { to: ['a@x'], transport: { type: 'smtp', host: 'h', prot: 25 } }, /prot/],
    ['a bad severity', { to: ['a@x'], minSeverity: 'high' }, /^minSeverity: /],
    ['a negative cooldown', { to: ['a@x'], cooldownHours: -1 }, /^cooldownHours: /],
    ['an unknown top-level key', { to: ['a@x'], recipients: ['b@y'] }, /recipients/],
  ];
  for (const [name, raw, expected] of bad) {
    it(`refuses ${name}`, () => {
      assert.match(firstIssue(raw), expected);
    });
  }
});
