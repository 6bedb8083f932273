/**
 * from-user-mismatch. The site config below gives dean two aliases (one a pattern),
 * the helpdesk group a shared address, and carol membership of that group.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { authSuccess, checkFindings, MINUTE, ruleTester, runRule, senderRejected, submission, T0 } from '../helpers/records.js';
import { headerAddress } from '../../src/rules/from-user-mismatch.js';

const RULE = 'from-user-mismatch';

const SITE = {
  defaultDomain: 'example.edu',
  accounts: {
    'dean@example.edu': { aliases: ['Dean.Office@example.edu', '*@dept.example.edu'] },
    'Carol@Example.edu': { groups: ['helpdesk'] },
  },
  groups: { helpdesk: { aliases: ['help@example.edu'] } },
};
const site = (options: Record<string, unknown> = {}): Record<string, unknown> => ({ ...SITE, rules: { [RULE]: options } });

const DEAN = 'dean@example.edu';
const CAROL = 'carol@example.edu';

/** A mismatch finding for alice with the given sender. */
const forged = (sender: string, severity: 'info' | 'warning' | 'critical' = 'warning', more: Record<string, string | number> = {}) => ({
  severity, data: { sender, distinct_senders: 1, mismatches: 1, refused_by_server: 0, ...more },
});

ruleTester(RULE, {
  valid: [
    { name: 'envelope sender is the account', config: site(), records: [submission()] },
    { name: 'case differences', config: site(), records: [submission({ envelopeFrom: 'Alice@Example.EDU' })] },
    { name: 'envelope in angle brackets', config: site(), records: [submission({ envelopeFrom: '<alice@example.edu>' })] },
    { name: 'plus-addressing', config: site(), records: [submission({ envelopeFrom: 'alice+lists@example.edu' })] },
    { name: 'plus-addressing with case and brackets', config: site(), records: [submission({ envelopeFrom: '<Alice+Orders@EXAMPLE.edu>' })] },
    { name: 'empty sender <> (bounce, vacation reply)', config: site(), records: [submission({ envelopeFrom: '<>' })] },
    { name: 'empty sender as an empty string', config: site(), records: [submission({ envelopeFrom: '' })] },
    { name: 'no sender logged at all', config: site(), records: [submission({ envelopeFrom: undefined })] },
    { name: 'exact alias (configured with other case)', config: site(), records: [submission({ account: DEAN, envelopeFrom: 'dean.office@example.edu' })] },
    { name: 'exact alias with +tag', config: site(), records: [submission({ account: DEAN, envelopeFrom: 'dean.office+x@example.edu' })] },
    { name: 'glob alias *@dept.example.edu', config: site(), records: [submission({ account: DEAN, envelopeFrom: 'secretary@dept.example.edu' })] },
    { name: 'glob alias, other case', config: site(), records: [submission({ account: DEAN, envelopeFrom: '<Chair@DEPT.Example.EDU>' })] },
    { name: 'group alias for a member (account key written with capitals)', config: site(), records: [submission({ account: CAROL, envelopeFrom: 'help@example.edu' })] },
    {
      name: 'bare login matched against the default domain (correlator made jdent -> jdent@example.edu)',
      config: site(),
      records: [submission({ account: 'jdent@example.edu', login: 'jdent', envelopeFrom: 'JDent@example.edu' })],
    },
    {
      name: 'bare login with no default domain: the local part is compared',
      config: {},
      records: [submission({ account: 'jdent', login: 'jdent', envelopeFrom: 'jdent@mail.example.edu' })],
    },
    { name: 'login written with capitals', config: site(), records: [submission({ login: 'ALICE' })] },
    { name: 'header From with quoted display name', config: site(), records: [submission({ headerFrom: '"Alice Liddell" <alice@example.edu>' })] },
    { name: 'header From Name <a@b> with case difference', config: site(), records: [submission({ headerFrom: 'Alice <ALICE@example.edu>' })] },
    { name: 'header From bare address', config: site(), records: [submission({ headerFrom: 'alice@example.edu' })] },
    { name: 'header From old form a@b (Name)', config: site(), records: [submission({ headerFrom: 'alice@example.edu (Alice Liddell)' })] },
    { name: 'header From with an encoded-word display name', config: site(), records: [submission({ headerFrom: '=?UTF-8?B?QWxpY2Ug8J+Qhw==?= <alice@example.edu>' })] },
    { name: 'header From with a display name containing <, > and @', config: site(), records: [submission({ headerFrom: '"ceo@example.edu <boss>" <alice@example.edu>' })] },
    { name: 'header From +tag', config: site(), records: [submission({ headerFrom: 'Alice <alice+news@example.edu>' })] },
    { name: 'header From <> (empty)', config: site(), records: [submission({ headerFrom: '<>' })] },
    { name: 'header From is an alias', config: site(), records: [submission({ account: DEAN, headerFrom: 'Dean\'s Office <dean.office@example.edu>' })] },
    {
      name: 'header From mismatch ignored with checkHeaderFrom: false',
      config: site({ checkHeaderFrom: false }),
      records: [submission({ headerFrom: 'PayPal <service@paypal.com>' })],
    },
    {
      name: '- as a sub-address delimiter when configured',
      config: site({ subaddressDelimiters: '+-' }),
      records: [submission({ envelopeFrom: 'alice-lists@example.edu' })],
    },
    {
      name: 'severity info: noted, never raised',
      config: site({ severity: 'info', criticalDistinctSenders: 100 }),
      records: [submission({ envelopeFrom: 'ceo@example.edu' }), submission({ envelopeFrom: 'cfo@example.edu' })],
      allowInfo: true,
    },
    { name: 'a login (AuthSuccess) is no evidence', config: site(), records: [authSuccess({ account: 'ceo@example.edu', login: 'alice' })] },
  ],
  invalid: [
    {
      name: 'another local address',
      config: site(),
      records: [submission({ envelopeFrom: 'ceo@example.edu' })],
      findings: [{ ...forged('ceo@example.edu'), at: T0, message: 'sent as ceo@example.edu while logged in as alice@example.edu' }],
    },
    {
      name: 'same local part, other domain',
      config: site(),
      records: [submission({ envelopeFrom: 'alice@example.com' })],
      findings: [forged('alice@example.com')],
    },
    {
      name: 'the account as a prefix of a foreign domain',
      config: site(),
      records: [submission({ envelopeFrom: '<alice@example.edu.attacker.test>' })],
      findings: [forged('alice@example.edu.attacker.test')],
    },
    {
      name: 'sender reported lower-cased, without angle brackets',
      config: site(),
      records: [submission({ envelopeFrom: '<Billing@Bank.Example>' })],
      findings: [forged('billing@bank.example')],
    },
    {
      name: 'someone else\'s +tag address',
      config: site(),
      records: [submission({ envelopeFrom: 'bob+x@example.edu' })],
      findings: [forged('bob+x@example.edu')],
    },
    {
      name: '- is not a sub-address delimiter by default',
      config: site(),
      records: [submission({ envelopeFrom: 'alice-lists@example.edu' })],
      findings: [forged('alice-lists@example.edu')],
    },
    {
      name: 'glob alias does not cover a sub-domain',
      config: site(),
      records: [submission({ account: DEAN, envelopeFrom: 'x@sub.dept.example.edu' })],
      findings: [{ ...forged('x@sub.dept.example.edu'), account: DEAN }],
    },
    {
      name: 'dean\'s aliases are not alice\'s',
      config: site(),
      records: [submission({ envelopeFrom: 'dean.office@example.edu' }), submission({ at: T0 + 2 * 3_600_000, envelopeFrom: 'x@dept.example.edu' })],
      findings: [forged('dean.office@example.edu'), forged('x@dept.example.edu')],
    },
    {
      name: 'a group alias is not a non-member\'s',
      config: site(),
      records: [submission({ envelopeFrom: 'help@example.edu' })],
      findings: [forged('help@example.edu')],
    },
    {
      name: 'bare login with no default domain: another local part',
      config: {},
      records: [submission({ account: 'jdent', login: 'jdent', envelopeFrom: 'ceo@example.edu' })],
      findings: [{ ...forged('ceo@example.edu'), account: 'jdent' }],
    },
    {
      name: 'header From with a display name that pretends to be the account',
      config: site(),
      records: [submission({ headerFrom: '"alice@example.edu" <it-support@attacker.test>' })],
      findings: [forged('it-support@attacker.test')],
    },
    {
      name: 'header From Name <A@B> forged, reported lower-case; envelope fine',
      config: site(),
      records: [submission({ headerFrom: 'PayPal <Service@PayPal.COM>' })],
      findings: [forged('service@paypal.com')],
    },
    {
      name: 'header From forged under an empty envelope sender',
      config: site(),
      records: [submission({ envelopeFrom: '<>', headerFrom: 'ceo@example.edu (The CEO)' })],
      findings: [forged('ceo@example.edu')],
    },
    {
      name: 'envelope and header both forged: the envelope is reported',
      config: site(),
      records: [submission({ envelopeFrom: 'a@attacker.test', headerFrom: 'b@attacker.test' })],
      findings: [forged('a@attacker.test')],
    },
    {
      name: 'Postfix "not owned by user" rejection counts, marked as refused by the server',
      config: site(),
      records: [senderRejected({ envelopeFrom: 'CEO@example.edu' })],
      findings: [{ ...forged('ceo@example.edu', 'warning', { refused_by_server: 1 }), message: 'the server refused sending as ceo@example.edu' }],
    },
    {
      name: 'three different forged senders in one episode: warning, then critical',
      config: site(),
      records: [
        submission({ envelopeFrom: 'a@attacker.test' }),
        senderRejected({ at: T0 + MINUTE, envelopeFrom: 'b@attacker.test' }),
        submission({ at: T0 + 2 * MINUTE, envelopeFrom: 'a@attacker.test' }),
        submission({ at: T0 + 3 * MINUTE, envelopeFrom: 'c@attacker.test' }),
        submission({ at: T0 + 4 * MINUTE, envelopeFrom: 'd@attacker.test' }),
      ],
      findings: [
        forged('a@attacker.test'),
        { severity: 'critical', at: T0 + 3 * MINUTE, data: { sender: 'c@attacker.test', distinct_senders: 3, mismatches: 4, refused_by_server: 0 } },
      ],
    },
    {
      name: 'one forged sender 50 times: one warning, no critical',
      config: site(),
      records: Array.from({ length: 50 }, (_, i) => submission({ at: T0 + i * MINUTE, envelopeFrom: 'ceo@example.edu' })),
      findings: [forged('ceo@example.edu')],
    },
    {
      name: 'mismatches more than 60 minutes apart are two episodes',
      config: site(),
      records: [submission({ envelopeFrom: 'ceo@example.edu' }), submission({ at: T0 + 61 * MINUTE, envelopeFrom: 'ceo@example.edu' })],
      findings: [forged('ceo@example.edu'), { ...forged('ceo@example.edu'), at: T0 + 61 * MINUTE }],
    },
    {
      name: 'mismatches each under 60 minutes apart chain into one episode',
      config: site(),
      records: [0, 50, 100, 150].map((m) => submission({ at: T0 + m * MINUTE, envelopeFrom: `x${m}@attacker.test` })),
      findings: [forged('x0@attacker.test'), { severity: 'critical', data: { sender: 'x100@attacker.test', distinct_senders: 3, mismatches: 3 } }],
    },
    {
      name: 'a record a few minutes out of order stays in the episode',
      config: site(),
      records: [
        submission({ at: T0 + 5 * MINUTE, envelopeFrom: 'a@attacker.test' }),
        submission({ at: T0 + 2 * MINUTE, envelopeFrom: 'b@attacker.test' }),
        submission({ at: T0 + 6 * MINUTE, envelopeFrom: 'c@attacker.test' }),
      ],
      findings: [forged('a@attacker.test'), { severity: 'critical', data: { distinct_senders: 3, mismatches: 3 } }],
    },
    {
      name: 'each account has its own episode',
      config: site(),
      records: [
        submission({ envelopeFrom: 'a@attacker.test' }),
        submission({ account: 'bob@example.edu', envelopeFrom: 'b@attacker.test' }),
        submission({ account: 'bob@example.edu', envelopeFrom: 'c@attacker.test' }),
        submission({ envelopeFrom: 'd@attacker.test' }),
      ],
      findings: [
        forged('a@attacker.test'),
        { ...forged('b@attacker.test'), account: 'bob@example.edu' },
      ],
    },
    {
      name: 'severity critical from the first mismatch, not repeated',
      config: site({ severity: 'critical' }),
      records: ['a', 'b', 'c', 'd'].map((x) => submission({ envelopeFrom: `${x}@attacker.test` })),
      findings: [forged('a@attacker.test', 'critical')],
    },
    {
      name: 'criticalDistinctSenders: 2 and windowMinutes: 5',
      config: site({ criticalDistinctSenders: 2, windowMinutes: 5 }),
      records: [
        submission({ envelopeFrom: 'a@attacker.test' }),
        submission({ at: T0 + 6 * MINUTE, envelopeFrom: 'b@attacker.test' }),
        submission({ at: T0 + 8 * MINUTE, envelopeFrom: 'c@attacker.test' }),
      ],
      findings: [forged('a@attacker.test'), forged('b@attacker.test'), { severity: 'critical', data: { sender: 'c@attacker.test', distinct_senders: 2, mismatches: 2 } }],
    },
    {
      name: 'severity info escalates to critical on distinct senders',
      config: site({ severity: 'info' }),
      records: ['a', 'b', 'c'].map((x) => submission({ envelopeFrom: `${x}@attacker.test` })),
      findings: [forged('a@attacker.test', 'info'), { severity: 'critical', data: { distinct_senders: 3 } }],
    },
  ],
});

describe(`${RULE}: details`, () => {
  it('extracts the address from header From forms', () => {
    const cases: [string, string][] = [
      ['"Alice Liddell" <Alice@Example.EDU>', 'alice@example.edu'],
      ['Alice <alice@example.edu>', 'alice@example.edu'],
      ['<alice@example.edu>', 'alice@example.edu'],
      ['alice@example.edu', 'alice@example.edu'],
      ['  alice@example.edu  ', 'alice@example.edu'],
      ['alice@example.edu (Alice)', 'alice@example.edu'],
      ['alice@example.edu, bob@example.edu', 'alice@example.edu'],
      ['"x <y@z>" <alice@example.edu>', 'alice@example.edu'],
      ['<>', ''],
    ];
    for (const [value, want] of cases) assert.equal(headerAddress(value), want, value);
  });

  it('quotes the record\'s evidence', () => {
    const r = submission({ envelopeFrom: 'ceo@example.edu' });
    const [f] = runRule(RULE, site(), [r]);
    assert.deepEqual(f?.evidence, r.evidence);
  });

  it('mentions the number of senders once there are several', () => {
    const findings = runRule(RULE, site(), ['a', 'b', 'c'].map((x) => submission({ envelopeFrom: `${x}@attacker.test` })));
    checkFindings(findings, [forged('a@attacker.test'), { severity: 'critical', message: '3 different senders in this episode' }], RULE);
  });
});
