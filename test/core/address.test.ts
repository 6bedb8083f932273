/** Accounts as the rules key them: one normal form per login, whatever line it was cut from. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseAccount } from '../../src/core/address.js';
import { aliveWith, slicedFromLine } from '../rules/harness.js';

describe('normaliseAccount', () => {
  it('lower-cases, trims and gives a bare login the default domain', () => {
    assert.equal(normaliseAccount(' JDent ', 'Example.EDU'), 'jdent@example.edu');
    assert.equal(normaliseAccount('Ann@Example.org', 'example.edu'), 'ann@example.org');
    assert.equal(normaliseAccount('jdent'), 'jdent');
    // Another default domain is another normal form, even for a login seen before.
    assert.equal(normaliseAccount('jdent', 'example.net'), 'jdent@example.net');
    assert.equal(normaliseAccount('jdent', 'example.edu'), 'jdent@example.edu');
  });

  it('gives the same answer for every login however many come and go (the remembered ones are bounded)', () => {
    const want = (i: number): string => `user${i}@example.edu`;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 40_000; i += round + 1) assert.equal(normaliseAccount(`User${i}`, 'example.edu'), want(i));
    }
    // Cut from lines, as a parser does.
    const line = 'Mar  4 02:26:49 mail postfix/submission/smtpd[1]: 2A13A4D3624: client=unknown[192.0.2.1], sasl_method=PLAIN, sasl_username=USER17';
    assert.equal(normaliseAccount(line.slice(line.indexOf('sasl_username=') + 14), 'example.edu'), want(17));
  });

  it('normalises a login longer than any address too (without keeping it)', () => {
    const long = 'X'.repeat(10_000);
    assert.equal(normaliseAccount(long, 'Example.EDU'), `${'x'.repeat(10_000)}@example.edu`);
    assert.equal(normaliseAccount(`${long}@Y`, 'example.edu'), `${'x'.repeat(10_000)}@y`);
  });

  it('keeps characters JSON would escape as they are', () => {
    for (const login of ['a"b\\c@x', 'tab\there@x', 'lone\ud800@x', 'émile@x']) assert.equal(normaliseAccount(login, 'x'), login.toLowerCase().trim());
  });

  it('keeps no log line alive through the accounts it gives (a parser cuts them out of their lines)', async () => {
    const marker = `M${Date.now().toString(36)}K`;
    const kept = Array.from({ length: 20 }, (_, i) => normaliseAccount(slicedFromLine(`${marker}${i}`, `someone.${i}@example.edu`), 'example.edu'));
    assert.equal(await aliveWith(marker), 0);
    assert.equal(kept[3], 'someone.3@example.edu');
  });
});
