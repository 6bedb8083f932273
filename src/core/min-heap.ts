/**
 * A binary min-heap of (key, name) pairs, smallest key on top.
 *
 * The pairs live in two parallel arrays rather than as one object each: the incident
 * tracker pushes a pair for nearly every finding of a scan, and an object per push would
 * be garbage the moment its incident moves on. Pairs with equal keys come out in no
 * particular order; a caller that needs one sorts what it pops.
 */
export class MinHeap {
  private readonly keys: number[] = [];
  private readonly names: string[] = [];

  get size(): number {
    return this.keys.length;
  }

  /** The smallest key, or Infinity when empty. */
  get minKey(): number {
    return this.keys[0] ?? Infinity;
  }

  /** NaN has no place in an order: the caller must not push it. */
  push(key: number, name: string): void {
    const keys = this.keys;
    const names = this.names;
    let i = keys.length;
    keys.push(key);
    names.push(name);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pk = keys[parent] ?? -Infinity;
      if (pk <= key) break;
      keys[i] = pk;
      names[i] = names[parent] ?? '';
      i = parent;
    }
    keys[i] = key;
    names[i] = name;
  }

  /** Removes the pair with the smallest key and returns its name (undefined when empty). */
  pop(): string | undefined {
    const keys = this.keys;
    const names = this.names;
    const top = names[0];
    const key = keys.pop();
    const name = names.pop();
    const n = keys.length;
    if (n === 0 || key === undefined || name === undefined) return top;
    // Sift the former last pair down from the root.
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const lk = keys[left] ?? Infinity;
      const rk = right < n ? keys[right] ?? Infinity : Infinity;
      const child = rk < lk ? right : left;
      const ck = rk < lk ? rk : lk;
      if (key <= ck) break;
      keys[i] = ck;
      names[i] = names[child] ?? '';
      i = child;
    }
    keys[i] = key;
    names[i] = name;
    return top;
  }

  clear(): void {
    this.keys.length = 0;
    this.names.length = 0;
  }
}
