/**
 * A binary min-heap of (key, name, tag) entries, smallest key on top; the tag is the
 * caller's own number, carried along.
 *
 * The entries live in parallel arrays rather than as one object each: the incident
 * tracker holds one per open incident, thousands on a busy site, and pushes again each
 * time one comes to the top still active. Entries with equal keys come out in no
 * particular order; a caller that needs one sorts what it pops.
 */
export class MinHeap {
  private readonly keys: number[] = [];
  private readonly names: string[] = [];
  private readonly tags: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  /** The smallest key, or Infinity when empty. */
  get minKey(): number {
    return this.keys[0] ?? Infinity;
  }

  /** The tag of the entry with the smallest key, or NaN when empty. */
  get minTag(): number {
    return this.tags[0] ?? NaN;
  }

  /** NaN has no place in an order: the caller must not push it. */
  push(key: number, name: string, tag: number): void {
    const { keys, names, tags } = this;
    let i = keys.length;
    keys.push(key);
    names.push(name);
    tags.push(tag);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pk = keys[parent] ?? -Infinity;
      if (pk <= key) break;
      keys[i] = pk;
      names[i] = names[parent] ?? '';
      tags[i] = tags[parent] ?? NaN;
      i = parent;
    }
    keys[i] = key;
    names[i] = name;
    tags[i] = tag;
  }

  /** Removes the entry with the smallest key and returns its name (undefined when empty). */
  pop(): string | undefined {
    const { keys, names, tags } = this;
    const top = names[0];
    const key = keys.pop();
    const name = names.pop();
    const tag = tags.pop();
    const n = keys.length;
    if (n === 0 || key === undefined || name === undefined || tag === undefined) return top;
    // Sift the former last entry down from the root.
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
      tags[i] = tags[child] ?? NaN;
      i = child;
    }
    keys[i] = key;
    names[i] = name;
    tags[i] = tag;
    return top;
  }

  clear(): void {
    this.keys.length = 0;
    this.names.length = 0;
    this.tags.length = 0;
  }
}
