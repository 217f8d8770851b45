import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ms } from '../../../src/common/time.js';
import { numbered, seqOf } from '../../sim/toy-endpoints.js';
import { A, addr, B, oneWay } from './fixtures.js';

const seqs = (o: ReturnType<typeof oneWay>): number[] => o.sink.received.map((r) => seqOf(r.data));
const times = (o: ReturnType<typeof oneWay>): number[] => o.sink.received.map((r) => r.time);

describe('Link: delay and rate', () => {
  it('delivers after the propagation delay', () => {
    const o = oneWay(1, { delay: ms(10) }, { count: 3, size: 100, interval: ms(1) });
    o.sim.runUntilIdle();
    assert.deepEqual(o.sender.sentAt, [0, 1000, 2000]);
    assert.deepEqual(times(o), [10_000, 11_000, 12_000]);
    assert.deepEqual(seqs(o), [0, 1, 2]);
    assert.equal(o.sink.received[0]!.path.local.address, B);
    assert.equal(o.sink.received[0]!.path.remote.port, 1000);
  });

  it('serializes back-to-back datagrams at rateBps', () => {
    // 8 Mbit/s = 1 octet/µs: 1000 octets take 1 ms on the wire.
    const o = oneWay(1, { delay: ms(10), rateBps: 8_000_000 }, { count: 5, size: 1000, interval: 0 });
    o.sim.runUntilIdle();
    assert.deepEqual(times(o), [11_000, 12_000, 13_000, 14_000, 15_000]);
  });

  it('does not queue when datagrams are spaced wider than their serialization time', () => {
    const o = oneWay(1, { delay: ms(10), rateBps: 8_000_000 }, { count: 4, size: 1000, interval: ms(3) });
    o.sim.runUntilIdle();
    assert.deepEqual(times(o), [11_000, 14_000, 17_000, 20_000]);
  });

  it('handles rates that give fractional serialization times', () => {
    // 1200 octets at 3 Mbit/s = 3200 µs; 100 octets at 3 Mbit/s = 266.67 µs (rounded up on delivery).
    const o = oneWay(1, { rateBps: 3_000_000 }, { count: 3, size: 100, interval: 0 });
    o.sim.runUntilIdle();
    assert.deepEqual(times(o), [267, 534, 800]);
  });

  it('drops at the tail when the queue is full, and accepts again once it drains', () => {
    const o = oneWay(1, { rateBps: 8_000_000, queueBytes: 5000 }, { count: 10, size: 1000, interval: 0 });
    const link = o.sim.link(A, B);
    // At t=2.5 ms datagrams 2–4 (3000 octets) are still queued: room for 2 of 3 more.
    let queuedThen = -1;
    o.sim.at(2500, () => {
      queuedThen = link.queuedBytes;
      for (let i = 0; i < 3; i++) o.sender.send(addr(A, 1000), addr(B, 2000), numbered(10 + i, 1000));
      o.sim.hosts[0]!.wake();
    });
    o.sim.runUntilIdle();
    assert.equal(queuedThen, 3000);
    assert.deepEqual(seqs(o), [0, 1, 2, 3, 4, 10, 11]);
    assert.deepEqual(times(o), [1000, 2000, 3000, 4000, 5000, 6000, 7000]);
    assert.equal(link.stats.dropped.queue, 6);
    assert.equal(link.stats.sent, 13);
    assert.equal(link.stats.delivered, 7);
    assert.equal(link.stats.deliveredBytes, 7000);
    const drops = o.trace.filter((e) => e.kind === 'drop');
    assert.deepEqual(
      drops.map((e) => [e.cause, e.time]),
      [...Array.from({ length: 5 }, () => ['queue', 0]), ['queue', 2500]],
    );
  });

  it('applies update() from the moment it is called', () => {
    const o = oneWay(1, { delay: ms(10) }, { count: 4, size: 100, interval: ms(10) });
    o.sim.at(ms(15), () => o.sim.link(A, B).update({ delay: ms(50) }));
    o.sim.runUntilIdle();
    assert.deepEqual(times(o), [10_000, 20_000, 70_000, 80_000]);
    assert.equal(o.sim.link(A, B).config.delay, ms(50));
    assert.throws(() => o.sim.link(A, B).update({ loss: 1.5 }), RangeError);
  });
});

describe('Link: loss', () => {
  it('loses close to the configured rate', () => {
    const n = 20_000;
    const o = oneWay(7, { loss: 0.1 }, { count: n, size: 20, interval: 10 });
    o.sim.runUntilIdle();
    const lost = n - o.sink.received.length;
    // 4.5 standard deviations of Binomial(20000, 0.1) ≈ 191.
    assert.ok(Math.abs(lost - 2000) < 191, `lost ${lost}`);
    assert.equal(o.sim.link(A, B).stats.dropped.loss, lost);
    assert.equal(o.trace.filter((e) => e.cause === 'loss').length, lost);
  });

  it('loses in bursts with Gilbert–Elliott', () => {
    const n = 50_000;
    const o = oneWay(
      3,
      { lossBurst: { pGoodToBad: 0.01, pBadToGood: 0.2, lossInBad: 1 } },
      { count: n, size: 20, interval: 10 },
    );
    o.sim.runUntilIdle();
    const got = new Set(seqs(o));
    const runs: number[] = [];
    let run = 0;
    for (let i = 0; i < n; i++) {
      if (!got.has(i)) run++;
      else if (run > 0) {
        runs.push(run);
        run = 0;
      }
    }
    const lost = n - got.size;
    // Stationary bad share 0.01 / 0.21 ≈ 4.76 %; mean burst 1 / 0.2 = 5.
    assert.ok(lost > 0.035 * n && lost < 0.06 * n, `lost ${lost}`);
    const mean = runs.reduce((a, b) => a + b, 0) / runs.length;
    assert.ok(mean > 4 && mean < 6, `mean burst ${mean}`);
    assert.equal(o.sim.link(A, B).stats.dropped.burstLoss, lost);

    // The same average loss drawn independently has bursts of ~1.05.
    const u = oneWay(3, { loss: lost / n }, { count: n, size: 20, interval: 10 });
    u.sim.runUntilIdle();
    const gotU = new Set(seqs(u));
    let lossesU = 0;
    let startsU = 0;
    for (let i = 0; i < n; i++) {
      if (!gotU.has(i)) {
        lossesU++;
        if (i === 0 || gotU.has(i - 1)) startsU++;
      }
    }
    assert.ok(lossesU / startsU < 1.2, `independent mean burst ${lossesU / startsU}`);
  });
});

describe('Link: duplication, reordering, corruption', () => {
  it('duplicates datagrams with identical content', () => {
    const n = 4000;
    const o = oneWay(5, { duplicate: 0.25, delay: ms(1) }, { count: n, size: 50, interval: 100 });
    o.sim.runUntilIdle();
    const extra = o.sink.received.length - n;
    // 4.5 σ of Binomial(4000, 0.25) ≈ 123.
    assert.ok(Math.abs(extra - 1000) < 123, `duplicates ${extra}`);
    assert.equal(o.sim.link(A, B).stats.duplicated, extra);
    assert.deepEqual(new Set(seqs(o)).size, n);
    const s = seqs(o);
    for (let i = 1; i < s.length; i++)
      assert.ok(s[i]! >= s[i - 1]!, 'duplicates arrive next to their original');
    // Each copy is a distinct buffer.
    const ids = o.trace.filter((e) => e.kind === 'deliver').map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length);
  });

  it('never reorders through jitter alone', () => {
    const o = oneWay(9, { delay: ms(20), jitter: ms(15) }, { count: 500, size: 50, interval: ms(5) });
    o.sim.runUntilIdle();
    assert.deepEqual(
      seqs(o),
      Array.from({ length: 500 }, (_, i) => i),
    );
    const t = times(o);
    // Jitter really varies the delays.
    const delays = t.map((x, i) => x - o.sender.sentAt[i]!);
    assert.ok(Math.max(...delays) - Math.min(...delays) > ms(10));
    assert.ok(Math.min(...delays) >= ms(20));
  });

  it('reorders when reorder is set', () => {
    const n = 2000;
    const o = oneWay(
      9,
      { delay: ms(20), jitter: ms(2), reorder: { probability: 0.1, extraDelay: ms(3) } },
      { count: n, size: 50, interval: 100 },
    );
    o.sim.runUntilIdle();
    const s = seqs(o);
    assert.equal(s.length, n);
    let inversions = 0;
    for (let i = 1; i < n; i++) if (s[i]! < s[i - 1]!) inversions++;
    const reordered = o.sim.link(A, B).stats.reordered;
    assert.ok(Math.abs(reordered - 200) < 60, `reordered ${reordered}`);
    assert.ok(inversions > 100, `inversions ${inversions}`);
  });

  it('corrupts by flipping 1 to 3 bits', () => {
    const n = 2000;
    const o = oneWay(13, { corrupt: 0.3 }, { count: n, size: 64, interval: 100 });
    o.sim.runUntilIdle();
    let corrupted = 0;
    assert.equal(o.sink.received.length, n);
    o.sink.received.forEach((r, index) => {
      // Datagram i was numbered(i, 64): u32 i then zeros.
      const want = new Uint8Array(64);
      new DataView(want.buffer).setUint32(0, index);
      let bits = 0;
      for (let k = 0; k < 64; k++) {
        let x = want[k]! ^ r.data[k]!;
        while (x) {
          bits += x & 1;
          x >>= 1;
        }
      }
      assert.ok(bits <= 3, `datagram ${index}: ${bits} bits flipped`);
      if (bits > 0) corrupted++;
    });
    assert.equal(o.sim.link(A, B).stats.corrupted, corrupted);
    assert.ok(Math.abs(corrupted - 600) < 92, `corrupted ${corrupted}`);
  });

  it('leaves content intact without corruption', () => {
    const o = oneWay(13, {}, { count: 100, size: 64, interval: 100 });
    o.sim.runUntilIdle();
    o.sink.received.forEach((r, i) => {
      assert.equal(seqOf(r.data), i);
      assert.ok(r.data.subarray(4).every((b) => b === 0));
    });
  });
});

describe('Link: MTU, blackhole, ECN', () => {
  it('drops datagrams larger than the MTU', () => {
    const o = oneWay(1, { mtu: 1200 }, { count: 1, size: 1200, interval: 0 });
    const big = oneWay(1, { mtu: 1200 }, { count: 1, size: 1201, interval: 0 });
    o.sim.runUntilIdle();
    big.sim.runUntilIdle();
    assert.equal(o.sink.received.length, 1);
    assert.equal(big.sink.received.length, 0);
    assert.equal(big.sim.link(A, B).stats.dropped.mtu, 1);
    assert.deepEqual(
      big.trace.map((e) => [e.kind, e.cause]),
      [
        ['send', undefined],
        ['drop', 'mtu'],
      ],
    );
  });

  it('blackholes while set, datagrams in flight still arrive', () => {
    const o = oneWay(1, { delay: ms(5) }, { count: 10, size: 100, interval: ms(1) });
    o.sim.at(ms(3.5), () => o.sim.link(A, B).update({ blackhole: true }));
    o.sim.at(ms(7.5), () => o.sim.link(A, B).update({ blackhole: false }));
    o.sim.runUntilIdle();
    assert.deepEqual(seqs(o), [0, 1, 2, 3, 8, 9]);
    assert.equal(o.sim.link(A, B).stats.dropped.blackhole, 4);
  });

  it('marks ECT datagrams CE above the queue threshold', () => {
    const o = oneWay(
      1,
      { rateBps: 8_000_000, ecnCeOnQueue: 2000 },
      { count: 6, size: 1000, interval: 0, ecn: 2 },
    );
    o.sim.runUntilIdle();
    assert.deepEqual(
      o.sink.received.map((r) => r.ecn),
      [2, 2, 2, 3, 3, 3],
    );
    assert.equal(o.sim.link(A, B).stats.ceMarked, 3);
    const notEct = oneWay(
      1,
      { rateBps: 8_000_000, ecnCeOnQueue: 2000 },
      { count: 6, size: 1000, interval: 0 },
    );
    notEct.sim.runUntilIdle();
    assert.ok(notEct.sink.received.every((r) => r.ecn === 0));
  });

  it('carries ECN codepoints unchanged, or bleaches them', () => {
    const o = oneWay(1, {}, { count: 2, size: 10, interval: 0, ecn: 1 });
    o.sim.runUntilIdle();
    assert.deepEqual(
      o.sink.received.map((r) => r.ecn),
      [1, 1],
    );
    const b = oneWay(1, { ecnBleach: true }, { count: 2, size: 10, interval: 0, ecn: 1 });
    b.sim.runUntilIdle();
    assert.deepEqual(
      b.sink.received.map((r) => r.ecn),
      [0, 0],
    );
  });
});
