/**
 * Heap sizing for the commands that stream a whole log (scan, report, and a cron run that
 * reads much).
 *
 * Their live heap is small and bounded (rule windows, open messages: tens of MB), but they
 * allocate a short-lived string or object per line at hundreds of MB/s. V8 answers a high
 * allocation rate by letting the old generation grow to up to four times the live heap
 * before it collects, so peak RSS followed the allocation rate, not what was kept: about
 * 320 MB for a 256 MB Postfix log whose live heap was 70 MB. Growing the heap by a quarter
 * at each step instead keeps the peak near the live heap at a few percent more GC time.
 */
import { setFlagsFromString } from 'node:v8';

/** Old-generation growth per step, in percent of the live heap. */
export const HEAP_GROWING_PERCENT = 25;

/** Read by V8 each time it sets the next collection limit, so it applies from here on. */
export function boundHeapGrowth(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
