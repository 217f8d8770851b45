import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from '../../../src/common/random.js';
import { VirtualClock } from '../../sim/clock.js';
import { Scheduler } from '../../sim/scheduler.js';

describe('VirtualClock', () => {
  it('only moves forward', () => {
    const c = new VirtualClock(5);
    assert.equal(c.now, 5);
    c.advanceTo(5);
    c.advanceTo(9);
    assert.equal(c.now, 9);
    assert.throws(() => c.advanceTo(8), RangeError);
    assert.throws(() => c.advanceTo(Number.NaN), RangeError);
  });
});

describe('Scheduler', () => {
  it('runs events by time, then by scheduling order, advancing the clock', () => {
    const s = new Scheduler();
    const log: string[] = [];
    const fn = (tag: string): void => {
      log.push(`${s.now}:${tag}`);
    };
    s.schedule(30, fn, 'c');
    s.schedule(10, fn, 'a1');
    s.schedule(20, fn, 'b');
    s.schedule(10, fn, 'a2');
    s.schedule(10, fn, 'a3');
    while (s.step()) {}
    assert.deepEqual(log, ['10:a1', '10:a2', '10:a3', '20:b', '30:c']);
    assert.equal(s.processed, 5);
    assert.equal(s.step(), false);
  });

  it('lets an event schedule more events, including at the same instant', () => {
    const s = new Scheduler();
    const log: number[] = [];
    const fn = (n: number): void => {
      log.push(n);
      if (n < 3) s.schedule(s.now, fn, n + 1);
    };
    s.schedule(7, fn, 0);
    s.schedule(7, (x: number) => log.push(x), 100);
    while (s.step()) {}
    assert.deepEqual(log, [0, 100, 1, 2, 3]);
    assert.equal(s.now, 7);
  });

  it('advances the clock only over idle time', () => {
    const s = new Scheduler();
    s.schedule(50, () => {}, undefined);
    s.advanceTo(50);
    assert.equal(s.now, 50);
    assert.throws(() => s.advanceTo(51), /an event is due at 50/);
    s.step();
    s.advanceTo(60);
    assert.equal(s.now, 60);
  });

  it('refuses events in the past', () => {
    const s = new Scheduler(new VirtualClock(100));
    assert.throws(() => s.schedule(99, () => {}, undefined), RangeError);
  });

  it('skips cancelled events', () => {
    const s = new Scheduler();
    const log: number[] = [];
    const fn = (n: number): void => {
      log.push(n);
    };
    const a = s.schedule(1, fn, 1);
    s.schedule(2, fn, 2);
    const c = s.schedule(3, fn, 3);
    s.cancel(a);
    s.cancel(c);
    assert.equal(s.peekTime(), 2);
    while (s.step()) {}
    assert.deepEqual(log, [2]);
    assert.equal(s.processed, 1);
    assert.equal(s.peekTime(), Number.POSITIVE_INFINITY);
  });

  it('matches a stable sort by time on 20k random events', () => {
    const rng = new SeededRandom(11);
    const s = new Scheduler();
    const want: { at: number; i: number }[] = [];
    const got: number[] = [];
    const fn = (i: number): void => {
      got.push(i);
    };
    for (let i = 0; i < 20_000; i++) {
      const at = rng.int(500); // many ties
      want.push({ at, i });
      s.schedule(at, fn, i);
    }
    // Interleave: pop half, then add more in the future.
    for (let k = 0; k < 10_000; k++) s.step();
    const t = s.now;
    for (let i = 20_000; i < 25_000; i++) {
      const at = t + rng.int(500);
      want.push({ at, i });
      s.schedule(at, fn, i);
    }
    while (s.step()) {}
    want.sort((x, y) => x.at - y.at || x.i - y.i);
    assert.deepEqual(
      got,
      want.map((w) => w.i),
    );
  });
});
