import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenBucket } from '../../../src/endpoint/rate-limit.js';

const SEC = 1_000_000;

describe('TokenBucket', () => {
  it('starts full and allows a burst, then refuses', () => {
    const b = new TokenBucket(10, 5);
    for (let i = 0; i < 5; i++) assert.equal(b.take(0), true);
    assert.equal(b.take(0), false);
    assert.equal(b.take(50_000), false); // 0.5 token after 50 ms
  });

  it('refills at the configured rate up to the burst', () => {
    const b = new TokenBucket(10, 5);
    assert.equal(b.take(0, 5), true);
    assert.equal(b.take(100_000), true); // 1 token after 100 ms
    assert.equal(b.take(100_000), false);
    assert.equal(b.available(100 * SEC), 5); // capped at burst
    assert.equal(b.take(100 * SEC, 6), false); // more than the burst never fits
    assert.equal(b.take(100 * SEC, 5), true);
  });

  it('admits about rate × time over a long run', () => {
    const b = new TokenBucket(100, 10);
    let admitted = 0;
    for (let t = 0; t <= 10 * SEC; t += 1000) if (b.take(t)) admitted++;
    assert.ok(admitted >= 1000 && admitted <= 1011, `admitted ${admitted}`);
  });

  it('ignores time going backwards and takes nothing on refusal', () => {
    const b = new TokenBucket(1, 2);
    assert.equal(b.take(10 * SEC, 2), true);
    assert.equal(b.take(5 * SEC), false);
    assert.equal(b.available(10 * SEC), 0);
    assert.equal(b.take(11 * SEC, 2), false);
    assert.equal(b.available(11 * SEC), 1);
  });

  it('a zero rate never refills and a zero burst refuses everything', () => {
    const z = new TokenBucket(0, 1);
    assert.equal(z.take(0), true);
    assert.equal(z.take(1000 * SEC), false);
    assert.equal(new TokenBucket(100, 0).take(0), false);
    assert.throws(() => new TokenBucket(-1, 1), RangeError);
    assert.throws(() => new TokenBucket(1, Number.NaN), RangeError);
  });
});
