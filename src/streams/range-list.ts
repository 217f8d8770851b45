// Sorted, disjoint, half-open byte ranges [start, end) in one flat array. Used by the send
// buffer for acked and lost ranges; the number of ranges stays small in practice.

export class RangeList {
  /** Flattened [s0, e0, s1, e1, ...], ascending, never touching (merged). */
  #r: number[] = [];

  get count(): number {
    return this.#r.length >> 1;
  }

  get isEmpty(): boolean {
    return this.#r.length === 0;
  }

  start(i: number): number {
    return this.#r[i * 2]!;
  }

  end(i: number): number {
    return this.#r[i * 2 + 1]!;
  }

  /** Sum of the lengths of all ranges. */
  total(): number {
    let n = 0;
    const r = this.#r;
    for (let i = 0; i < r.length; i += 2) n += r[i + 1]! - r[i]!;
    return n;
  }

  clear(): void {
    this.#r.length = 0;
  }

  /** Index (in ranges) of the first range whose end is >= x. */
  #firstEndingAtOrAfter(x: number): number {
    const r = this.#r;
    let lo = 0;
    let hi = r.length >> 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (r[mid * 2 + 1]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Adds [start, end), merging with touching or overlapping ranges. */
  add(start: number, end: number): void {
    if (end <= start) return;
    const r = this.#r;
    const n = r.length >> 1;
    if (n === 0 || r[r.length - 1]! < start) {
      r.push(start, end);
      return;
    }
    const i = this.#firstEndingAtOrAfter(start);
    let j = i;
    let s = start;
    let e = end;
    while (j < n && r[j * 2]! <= end) {
      if (r[j * 2]! < s) s = r[j * 2]!;
      if (r[j * 2 + 1]! > e) e = r[j * 2 + 1]!;
      j++;
    }
    r.splice(i * 2, (j - i) * 2, s, e);
  }

  /** Removes [start, end) from the set, splitting ranges as needed. */
  remove(start: number, end: number): void {
    if (end <= start) return;
    const r = this.#r;
    const n = r.length >> 1;
    let i = this.#firstEndingAtOrAfter(start + 1);
    if (i >= n) return;
    const out: number[] = [];
    const first = i;
    for (; i < n && r[i * 2]! < end; i++) {
      const s = r[i * 2]!;
      const e = r[i * 2 + 1]!;
      if (s < start) out.push(s, start);
      if (e > end) out.push(end, e);
    }
    if (i === first) return;
    r.splice(first * 2, (i - first) * 2, ...out);
  }

  /** Removes everything below `x`. */
  removeBelow(x: number): void {
    const r = this.#r;
    if (r.length === 0 || r[0]! >= x) return;
    this.remove(r[0]!, x);
  }

  /** Whether [start, end) is entirely covered. */
  covers(start: number, end: number): boolean {
    if (end <= start) return true;
    const i = this.#firstEndingAtOrAfter(end);
    return i < this.#r.length >> 1 && this.#r[i * 2]! <= start;
  }
}
