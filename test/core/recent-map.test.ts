/** RecentMap: bounded whatever streams through it; what is asked for again stays. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RecentMap } from '../../src/core/recent-map.js';

describe('RecentMap', () => {
  it('holds at most two generations, and keeps an entry asked for in every generation', () => {
    const m = new RecentMap<number>(100);
    m.set('busy', -1);
    for (let i = 0; i < 10_000; i++) {
      m.set(`once${i}`, i);
      assert.ok(m.size <= 200 + 1, `${m.size} held`);
      if (i % 50 === 0) assert.equal(m.get('busy'), -1, `asked for at ${i}`);
    }
    assert.equal(m.get('once9999'), 9999);
    assert.equal(m.get('once0'), undefined, 'asked for once, long ago: forgotten');
  });

  it('an entry moved up from the older generation is the same value (one object per key)', () => {
    const m = new RecentMap<{ v: string }>(2);
    const value = { v: 'a' };
    m.set('a', value);
    m.set('b', { v: 'b' });
    m.set('c', { v: 'c' });
    assert.equal(m.get('a'), value);
    m.set('d', { v: 'd' });
    m.set('e', { v: 'e' });
    assert.equal(m.get('a'), value);
  });
});
