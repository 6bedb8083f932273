/** The rule registry: one plugin per signal, file name = key, sorted for stable output. */
import type { Rule } from './types.js';
import { authFailures } from './auth-failures.js';
import { bounces } from './bounces.js';
import { countries } from './countries.js';
import { foreignSenderHost } from './foreign-sender-host.js';
import { fromUserMismatch } from './from-user-mismatch.js';
import { manySenderHosts } from './many-sender-hosts.js';
import { metermaidQuota } from './metermaid-quota.js';
import { newSenderHost } from './new-sender-host.js';
import { oddHours } from './odd-hours.js';
import { recipientSpread } from './recipient-spread.js';
import { sendsPerAccount } from './sends-per-account.js';
import { volumeBaseline } from './volume-baseline.js';
import { compareCodePoints } from '../core/compare.js';

const all: Rule[] = [
  authFailures, bounces, countries, foreignSenderHost, fromUserMismatch, manySenderHosts, metermaidQuota, newSenderHost,
  oddHours, recipientSpread, sendsPerAccount, volumeBaseline,
];

export const rules: readonly Rule[] = all.sort((a, b) => compareCodePoints(a.name, b.name));

export const ruleOptionSchemas = (): ReadonlyMap<string, Rule['options']> => new Map(rules.map((r) => [r.name, r.options]));
