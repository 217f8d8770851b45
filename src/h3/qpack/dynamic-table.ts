// The QPACK dynamic table (RFC 9204 §3.2): FIFO of field lines addressed by absolute index.

/** RFC 9204 §3.2.1: entry size = name length + value length + 32 (lengths unencoded). */
export const ENTRY_OVERHEAD = 32;

export function entrySize(name: string, value: string): number {
  return name.length + value.length + ENTRY_OVERHEAD;
}

export class DynamicTable {
  /** Current capacity (RFC 9204 §3.2.2); starts at zero. */
  capacity = 0;
  /** Sum of entry sizes (RFC 9204 §3.2.1). */
  size = 0;
  /** Number of insertions so far = absolute index of the next entry (RFC 9204 §3.2.4). */
  insertCount = 0;
  #names: string[] = [];
  #values: string[] = [];
  #head = 0;

  /** Number of entries in the table. */
  get length(): number {
    return this.#names.length - this.#head;
  }

  /** Absolute index of the oldest entry (the count of dropped entries). */
  get dropped(): number {
    return this.insertCount - this.length;
  }

  has(abs: number): boolean {
    return abs >= this.dropped && abs < this.insertCount;
  }

  /** Name of the entry with absolute index `abs` (caller checks `has`). */
  name(abs: number): string {
    return this.#names[this.#head + abs - this.dropped]!;
  }

  value(abs: number): string {
    return this.#values[this.#head + abs - this.dropped]!;
  }

  sizeOf(abs: number): number {
    return entrySize(this.name(abs), this.value(abs));
  }

  /**
   * Evicts then inserts (RFC 9204 §3.2.2). The caller has checked that the entry fits the
   * capacity (and, on the encoder side, that the evicted entries are evictable).
   */
  insert(name: string, value: string): number {
    const size = entrySize(name, value);
    this.#evictTo(this.capacity - size);
    this.#names.push(name);
    this.#values.push(value);
    this.size += size;
    return this.insertCount++;
  }

  /** Sets the capacity, evicting from the end as needed (RFC 9204 §3.2.2). */
  setCapacity(capacity: number): void {
    this.capacity = capacity;
    this.#evictTo(capacity);
  }

  #evictTo(limit: number): void {
    while (this.size > limit && this.length > 0) {
      this.size -= entrySize(this.#names[this.#head]!, this.#values[this.#head]!);
      this.#head++;
    }
    if (this.#head > 32 && this.#head * 2 > this.#names.length) {
      this.#names = this.#names.slice(this.#head);
      this.#values = this.#values.slice(this.#head);
      this.#head = 0;
    }
  }
}
