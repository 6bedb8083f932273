/**
 * Property-based fuzzing of every registered parser (see properties.ts for the inputs
 * and the properties), with a fixed seed and a bounded number of runs so `npm test` is
 * repeatable and quick. `npm run fuzz -- --runs N --seed S` runs the same properties
 * longer.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parsers } from '../../src/parsers/index.js';
import { checkEveryForgery, checkEveryTruncation, DEFAULT_SEED, KNOWN_BUGS, propertiesOf } from './properties.js';

/**
 * Properties that fail today because of a parser bug, with what is wrong: they still run
 * (node:test `todo`) so the suite stays green until the parser is fixed. Key: `parser: property`.
 * (Bugs that single lines trigger are in KNOWN_BUGS instead: left out of the generated
 * inputs and checked by a regression test of their own, below.)
 */
const KNOWN: Readonly<Record<string, string>> = {};

describe('fuzz: every parser on hostile input', () => {
  it('the registry has parsers to fuzz', () => assert.ok(parsers.length >= 4));

  for (const parser of parsers) {
    describe(parser.name, () => {
      const truncTodo = KNOWN[`${parser.name}: every truncation`];
      it('every fixture line cut at every position', truncTodo === undefined ? {} : { todo: truncTodo }, () => {
        assert.ok(checkEveryTruncation(parser) > 0);
      });
      it('every forged field in every attacker-written value of every fixture event line', () => {
        assert.ok(checkEveryForgery(parser) > 0);
      });
      for (const p of propertiesOf(parser)) {
        const todo = KNOWN[`${parser.name}: ${p.name}`];
        it(`${p.name} (${p.runs} runs)`, todo === undefined ? {} : { todo }, () => {
          fc.assert(p.property, { seed: DEFAULT_SEED, numRuns: p.runs, includeErrorInReport: true });
        });
      }
      for (const bug of KNOWN_BUGS.filter((b) => b.parser === parser.name)) {
        it(`found by fuzzing: ${bug.what.slice(0, 60)}…`, { todo: bug.what }, () => {
          bug.check();
        });
      }
    });
  }
});
