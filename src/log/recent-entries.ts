import type { LogEntry, StoredEntry } from '../core/entries';

/**
 * The newest entries of a leader's log, contiguous by offset, in a bounded ring. A read is
 * answered only when it starts inside the ring (undefined otherwise: read the store).
 */
export class RecentEntries {
  private readonly ring: Array<StoredEntry | undefined>;
  private start = 0;
  private end = 0;

  constructor(private readonly capacity: number) {
    this.ring = new Array<StoredEntry | undefined>(capacity);
  }

  /** Appends entries starting at `firstOffset`; a gap (not contiguous with the end) starts over. */
  add(firstOffset: number, epoch: number, entries: readonly LogEntry[]): void {
    for (let i = 0; i < entries.length; i++) this.push({ offset: firstOffset + i, epoch, entry: entries[i]! });
  }

  /** Appends stored entries (a follower's, which may skip offsets the leader compacted). */
  addStored(entries: readonly StoredEntry[]): void {
    for (const stored of entries) this.push(stored);
  }

  private push(stored: StoredEntry): void {
    if (stored.offset !== this.end) {
      this.start = stored.offset;
      this.end = stored.offset;
    }
    this.ring[this.end % this.capacity] = stored;
    this.end++;
    if (this.end - this.start > this.capacity) this.start = this.end - this.capacity;
  }

  read(fromOffset: number, maxEntries: number): StoredEntry[] | undefined {
    if (fromOffset < this.start || fromOffset > this.end || this.start === this.end) return undefined;
    const until = Math.min(this.end, fromOffset + maxEntries);
    const out: StoredEntry[] = [];
    for (let offset = fromOffset; offset < until; offset++) out.push(this.ring[offset % this.capacity]!);
    return out;
  }
}
