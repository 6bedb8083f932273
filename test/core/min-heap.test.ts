import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MinHeap } from '../../src/core/min-heap.js';
import { mulberry32 } from '../helpers/random.js';

describe('MinHeap', () => {
  it('pops the smallest key first, through pushes and pops interleaved, ties and infinities included', () => {
    const rnd = mulberry32(5);
    const heap = new MinHeap();
    const want: [number, string][] = [];
    for (let k = 0; k < 20_000; k++) {
      if (rnd() < 0.55) {
        const r = rnd();
        const key = r < 0.01 ? -Infinity : r < 0.02 ? Infinity : Math.floor(rnd() * 500);
        heap.push(key, `n${k}`, k);
        want.push([key, `n${k}`]);
        continue;
      }
      want.sort((a, b) => a[0] - b[0] || 0);
      const least = want[0]?.[0];
      assert.equal(heap.size, want.length);
      assert.equal(heap.minKey, least ?? Infinity);
      const tag = heap.minTag;
      const name = heap.pop();
      if (least === undefined) {
        assert.equal(name, undefined);
        assert.ok(Number.isNaN(tag));
        continue;
      }
      assert.equal(name, `n${tag}`, 'the tag pushed with it');
      // Ties come out in any order: the popped name is one of those with the least key.
      const at = want.findIndex(([key, n]) => key === least && n === name);
      assert.ok(at >= 0, `${name} has the least key ${least}`);
      want.splice(at, 1);
    }
    heap.clear();
    assert.equal(heap.size, 0);
    assert.equal(heap.pop(), undefined);
  });
});
