/** Our own names are ordered by code point: the order localeCompare gives them, without loading ICU's collator. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compareCodePoints } from '../../src/core/compare.js';
import { rules } from '../../src/rules/index.js';
import { parsers } from '../../src/parsers/index.js';

describe('compareCodePoints', () => {
  it('orders the rule and parser names as localeCompare does, and the registries are in that order', () => {
    for (const names of [rules.map((r) => r.name), parsers.map((p) => p.name)]) {
      for (const a of names) assert.match(a, /^[a-z0-9]+(-[a-z0-9]+)*$/, 'a name of our own is lower-case ASCII in kebab case');
      for (const a of names) for (const b of names) assert.equal(compareCodePoints(a, b), Math.sign(a.localeCompare(b)), `${a} / ${b}`);
      assert.deepEqual(names, [...names].sort((a, b) => a.localeCompare(b)));
    }
  });
});
