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
    this.#resize(i * 2, (j - i) * 2, 2);
    r[i * 2] = s;
    r[i * 2 + 1] = e;
  }

  /** Removes [start, end) from the set, splitting ranges as needed. */
  remove(start: number, end: number): void {
    if (end <= start) return;
    const r = this.#r;
    const n = r.length >> 1;
    const first = this.#firstEndingAtOrAfter(start + 1);
    if (first >= n || r[first * 2]! >= end) return;
    let last = first;
    while (last + 1 < n && r[(last + 1) * 2]! < end) last++;
    // Only the first range can stick out on the left, only the last one on the right.
    const s0 = r[first * 2]!;
    const e1 = r[last * 2 + 1]!;
    const keepLeft = s0 < start;
    const keepRight = e1 > end;
    let at = first * 2;
    this.#resize(at, (last - first + 1) * 2, (keepLeft ? 2 : 0) + (keepRight ? 2 : 0));
    if (keepLeft) {
      r[at++] = s0;
      r[at++] = start;
    }
    if (keepRight) {
      r[at++] = end;
      r[at] = e1;
    }
  }

  /** Makes room: `del` slots at `at` become `ins` slots (contents to be written), no allocation. */
  #resize(at: number, del: number, ins: number): void {
    if (del === ins) return;
    const r = this.#r;
    const len = r.length;
    if (ins < del) {
      for (let k = at + del; k < len; k++) r[k - del + ins] = r[k]!;
      r.length = len - del + ins;
    } else {
      const grow = ins - del;
      for (let g = 0; g < grow; g++) r.push(0); // grow without holes
      for (let k = len - 1; k >= at + del; k--) r[k + grow] = r[k]!;
    }
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
