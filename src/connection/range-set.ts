// A sorted set of disjoint inclusive integer ranges (packet numbers, sequence numbers).
// Values are JS numbers, exact up to 2^53 (packet numbers never get near that in practice).
//
// Ranges are kept ascending in one flat array [lo0, hi0, lo1, hi1, …] that starts at `#start`,
// so appending at the top (the common case for packet numbers) and forgetting the lowest range
// are O(1) amortized. Values below `floor` have been forgotten (removeBelow or the range cap).

export class RangeSet {
  #r: number[] = [];
  /** Index in #r of the lowest range's lo. */
  #start = 0;
  #floor = 0;
  readonly maxRanges: number;

  /** `maxRanges`: beyond this many ranges the lowest one is forgotten (floor raised past it). */
  constructor(maxRanges = Number.POSITIVE_INFINITY) {
    if (!(maxRanges >= 1)) throw new RangeError('maxRanges must be at least 1');
    this.maxRanges = maxRanges;
  }

  get rangeCount(): number {
    return (this.#r.length - this.#start) >> 1;
  }

  get isEmpty(): boolean {
    return this.#r.length === this.#start;
  }

  /** Smallest member, or undefined when empty. */
  get min(): number | undefined {
    return this.isEmpty ? undefined : this.#r[this.#start];
  }

  /** Largest member, or undefined when empty. */
  get max(): number | undefined {
    return this.isEmpty ? undefined : this.#r[this.#r.length - 1];
  }

  /** Everything below this value has been forgotten (by removeBelow or the range cap). */
  get floor(): number {
    return this.#floor;
  }

  /** Highest value of the i-th range counted from the top (i = 0 is the highest range). */
  hiAt(i: number): number {
    return this.#r[this.#r.length - 1 - 2 * i]!;
  }

  /** Lowest value of the i-th range counted from the top. */
  loAt(i: number): number {
    return this.#r[this.#r.length - 2 - 2 * i]!;
  }

  /** Ranges from the highest down, as [lo, hi] pairs. */
  *descending(): IterableIterator<[number, number]> {
    for (let i = this.#r.length - 2; i >= this.#start; i -= 2) yield [this.#r[i]!, this.#r[i + 1]!];
  }

  has(n: number): boolean {
    const i = this.#find(n);
    return i < this.#r.length && this.#r[i]! <= n;
  }

  /** Adds `n`; false if it was already present or lies below the floor. */
  insert(n: number): boolean {
    if (n < this.#floor) return false;
    const r = this.#r;
    const len = r.length;
    if (len > this.#start) {
      const hi = r[len - 1]!;
      if (n === hi + 1) {
        r[len - 1] = n;
        return true;
      }
      if (n > hi) {
        r.push(n, n);
        this.#enforceCap();
        return true;
      }
      if (n >= r[len - 2]!) return false;
    } else {
      r.push(n, n);
      return true;
    }
    if (this.has(n)) return false;
    this.add(n, n);
    return true;
  }

  /** Adds every integer in [lo, hi] (the part at or above the floor). */
  add(lo: number, hi: number): void {
    if (lo < this.#floor) lo = this.#floor;
    if (hi < lo) return;
    const r = this.#r;
    const len = r.length;
    // Fast path: at or above the top range.
    if (len === this.#start || lo > r[len - 1]! + 1) {
      r.push(lo, hi);
      this.#enforceCap();
      return;
    }
    // First range whose hi >= lo - 1 (may merge) and first range whose lo > hi + 1 (may not).
    const i = this.#find(lo - 1);
    let j = i;
    while (j < len && r[j]! <= hi + 1) j += 2;
    if (i === j) {
      r.splice(i, 0, lo, hi);
      this.#enforceCap();
      return;
    }
    const newLo = Math.min(lo, r[i]!);
    const newHi = Math.max(hi, r[j - 1]!);
    r.splice(i, j - i, newLo, newHi);
  }

  /** Forgets every value below `n` and raises the floor to `n`. */
  removeBelow(n: number): void {
    if (n <= this.#floor) return;
    this.#floor = n;
    const r = this.#r;
    let s = this.#start;
    while (s < r.length && r[s + 1]! < n) s += 2;
    if (s < r.length && r[s]! < n) r[s] = n;
    this.#setStart(s);
  }

  clear(): void {
    this.#r.length = 0;
    this.#start = 0;
  }

  /**
   * The highest `maxRanges` ranges flattened descending: [hi0, lo0, hi1, lo1, …] (the shape the
   * ACK frame codec takes). Fills `out` when given.
   */
  toAckRanges(maxRanges: number, out: number[] = []): number[] {
    out.length = 0;
    const r = this.#r;
    for (let i = r.length - 2, k = 0; i >= this.#start && k < maxRanges; i -= 2, k++)
      out.push(r[i + 1]!, r[i]!);
    return out;
  }

  /** Index (in #r) of the first range whose hi >= n; #r.length if none. */
  #find(n: number): number {
    const r = this.#r;
    let lo = this.#start >> 1;
    let hi = r.length >> 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (r[2 * mid + 1]! < n) lo = mid + 1;
      else hi = mid;
    }
    return 2 * lo;
  }

  #enforceCap(): void {
    while (this.rangeCount > this.maxRanges) {
      // Forget the lowest range (RFC 9000 §13.2.3: the floor rises past what is discarded).
      this.#floor = this.#r[this.#start + 1]! + 1;
      this.#setStart(this.#start + 2);
    }
  }

  #setStart(s: number): void {
    const r = this.#r;
    if (s >= r.length) {
      r.length = 0;
      this.#start = 0;
    } else if (s > 32 && s * 2 > r.length) {
      r.splice(0, s);
      this.#start = 0;
    } else {
      this.#start = s;
    }
  }
}
