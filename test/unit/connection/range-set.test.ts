import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from '../../../src/common/random.js';
import { RangeSet } from '../../../src/connection/range-set.js';

function ranges(s: RangeSet): [number, number][] {
  return [...s.descending()];
}

describe('RangeSet', () => {
  it('merges consecutive inserts into one range and reports duplicates', () => {
    const s = new RangeSet();
    assert.equal(s.isEmpty, true);
    assert.equal(s.min, undefined);
    assert.equal(s.max, undefined);
    for (let i = 0; i < 100; i++) assert.equal(s.insert(i), true);
    assert.equal(s.rangeCount, 1);
    assert.deepEqual(ranges(s), [[0, 99]]);
    assert.equal(s.insert(50), false);
    assert.equal(s.insert(99), false);
    assert.equal(s.min, 0);
    assert.equal(s.max, 99);
  });

  it('keeps gaps as separate ranges, fills them and merges neighbours', () => {
    const s = new RangeSet();
    for (const n of [1, 2, 5, 6, 9]) s.insert(n);
    assert.deepEqual(ranges(s), [
      [9, 9],
      [5, 6],
      [1, 2],
    ]);
    assert.equal(s.has(0), false);
    assert.equal(s.has(2), true);
    assert.equal(s.has(3), false);
    assert.equal(s.has(9), true);
    assert.equal(s.has(10), false);
    assert.equal(s.insert(3), true);
    assert.equal(s.insert(4), true); // bridges [1,3] and [5,6]
    assert.deepEqual(ranges(s), [
      [9, 9],
      [1, 6],
    ]);
    assert.equal(s.insert(0), true);
    assert.equal(s.insert(8), true);
    assert.deepEqual(ranges(s), [
      [8, 9],
      [0, 6],
    ]);
    assert.equal(s.hiAt(0), 9);
    assert.equal(s.loAt(0), 8);
    assert.equal(s.hiAt(1), 6);
    assert.equal(s.loAt(1), 0);
  });

  it('add() merges a span covering several ranges', () => {
    const s = new RangeSet();
    s.add(10, 12);
    s.add(20, 22);
    s.add(30, 32);
    s.add(0, 1);
    s.add(11, 25); // overlaps two ranges
    assert.deepEqual(ranges(s), [
      [30, 32],
      [10, 25],
      [0, 1],
    ]);
    s.add(26, 29); // adjacent on both sides
    assert.deepEqual(ranges(s), [
      [10, 32],
      [0, 1],
    ]);
    s.add(5, 4); // empty span
    assert.equal(s.rangeCount, 2);
    s.add(3, 3); // isolated, between
    assert.deepEqual(ranges(s), [
      [10, 32],
      [3, 3],
      [0, 1],
    ]);
  });

  it('removeBelow trims ranges and raises the floor', () => {
    const s = new RangeSet();
    s.add(0, 4);
    s.add(10, 14);
    s.add(20, 24);
    s.removeBelow(12);
    assert.equal(s.floor, 12);
    assert.deepEqual(ranges(s), [
      [20, 24],
      [12, 14],
    ]);
    assert.equal(s.insert(5), false, 'below the floor');
    assert.equal(s.has(5), false);
    s.add(0, 13);
    assert.deepEqual(ranges(s), [
      [20, 24],
      [12, 14],
    ]);
    s.removeBelow(5); // lower than the floor: no effect
    assert.equal(s.floor, 12);
    s.removeBelow(100);
    assert.equal(s.isEmpty, true);
    assert.equal(s.insert(100), true);
    assert.deepEqual(ranges(s), [[100, 100]]);
  });

  it('forgets the lowest ranges beyond the cap and raises the floor past them', () => {
    const s = new RangeSet(3);
    for (let i = 0; i < 10; i++) s.insert(i * 10);
    assert.equal(s.rangeCount, 3);
    assert.deepEqual(ranges(s), [
      [90, 90],
      [80, 80],
      [70, 70],
    ]);
    assert.equal(s.floor, 61);
    assert.equal(s.insert(60), false);
    // A value in the gap above the floor is new; it becomes the lowest range and is forgotten.
    assert.equal(s.insert(65), true);
    assert.equal(s.rangeCount, 3);
    assert.equal(s.floor, 66);
    // Filling a gap between kept ranges merges and stays within the cap.
    s.add(71, 79);
    assert.deepEqual(ranges(s), [
      [90, 90],
      [70, 80],
    ]);
  });

  it('toAckRanges flattens the highest ranges in descending order', () => {
    const s = new RangeSet();
    for (const n of [0, 1, 2, 4, 5, 8, 11, 12]) s.insert(n);
    assert.deepEqual(s.toAckRanges(10), [12, 11, 8, 8, 5, 4, 2, 0]);
    assert.deepEqual(s.toAckRanges(2), [12, 11, 8, 8]);
    const out = [7, 7, 7];
    assert.equal(s.toAckRanges(1, out), out);
    assert.deepEqual(out, [12, 11]);
    assert.deepEqual(new RangeSet().toAckRanges(4), []);
  });

  it('handles packet numbers far beyond 2^32', () => {
    const s = new RangeSet();
    const base = 2 ** 52;
    s.insert(base);
    s.insert(base + 1);
    s.insert(base + 3);
    assert.deepEqual(ranges(s), [
      [base + 3, base + 3],
      [base, base + 1],
    ]);
    assert.equal(s.has(base + 2), false);
  });

  it('matches a reference set under random operations (seeded)', () => {
    const rng = new SeededRandom(Number(process.env.PROPERTY_SEED ?? 0x5eed) >>> 0);
    for (let round = 0; round < 300; round++) {
      const cap = rng.next() < 0.5 ? Number.POSITIVE_INFINITY : 1 + rng.int(6);
      const s = new RangeSet(cap);
      const ref = new Set<number>();
      let floor = 0;
      for (let step = 0; step < 200; step++) {
        const op = rng.int(10);
        if (op < 6) {
          const n = rng.int(120);
          const fresh = n >= floor && !ref.has(n);
          assert.equal(s.insert(n), fresh, `round ${round} step ${step} insert ${n}`);
          if (fresh) ref.add(n);
        } else if (op < 8) {
          const lo = rng.int(120);
          const hi = lo + rng.int(10);
          s.add(lo, hi);
          for (let v = Math.max(lo, floor); v <= hi; v++) ref.add(v);
        } else if (op === 8) {
          const n = rng.int(60);
          s.removeBelow(n);
          if (n > floor) floor = n;
          for (const v of ref) if (v < n) ref.delete(v);
        }
        // Apply the cap to the reference: keep values at or above the set's floor.
        if (s.floor > floor) {
          floor = s.floor;
          for (const v of ref) if (v < floor) ref.delete(v);
        }
        assert.ok(s.rangeCount <= cap);
        const sorted = [...ref].sort((a, b) => a - b);
        const expected: [number, number][] = [];
        for (const v of sorted) {
          const last = expected[expected.length - 1];
          if (last && last[1] === v - 1) last[1] = v;
          else expected.push([v, v]);
        }
        assert.deepEqual(ranges(s), expected.reverse(), `round ${round} step ${step}`);
        assert.equal(s.min, sorted[0]);
        assert.equal(s.max, sorted[sorted.length - 1]);
        for (let k = 0; k < 5; k++) {
          const v = rng.int(130);
          assert.equal(s.has(v), ref.has(v));
        }
      }
    }
  });
});
