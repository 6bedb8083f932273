/**
 * A cache that forgets what is not asked for again: two generations of `generation`
 * entries each; when the recent one is full it becomes the older one and the older one
 * is dropped. A hit in the older generation moves to the recent one. Memory is bounded
 * whatever streams through it (sprayed logins, one-off client addresses), and what is
 * asked for often stays.
 */
export class RecentMap<V> {
  private recent = new Map<string, Kept<V>>();
  private older = new Map<string, Kept<V>>();

  constructor(private readonly generation: number) {}

  /** Entries held in both generations (one moved up counts twice). */
  get size(): number {
    return this.recent.size + this.older.size;
  }

  get(key: string): V | undefined {
    const hit = this.recent.get(key);
    if (hit) return hit.value;
    const old = this.older.get(key);
    if (!old) return undefined;
    this.keep(old);
    return old.value;
  }

  /**
   * `key` must be a string of its own (see core/detached.ts), not a slice of a log line:
   * it is kept, and a slice would keep the whole line alive with it.
   */
  set(key: string, value: V): void {
    this.keep({ key, value });
  }

  private keep(k: Kept<V>): void {
    if (this.recent.size >= this.generation) {
      this.older = this.recent;
      this.recent = new Map();
    }
    this.recent.set(k.key, k);
  }
}

/** An entry with the key it was stored under, so moving it up keeps that string, not the caller's. */
interface Kept<V> {
  readonly key: string;
  readonly value: V;
}
