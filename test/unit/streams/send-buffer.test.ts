import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from '../../../src/common/random.js';
import { RangeList } from '../../../src/streams/range-list.js';
import { SendBuffer } from '../../../src/streams/send-buffer.js';

function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  new SeededRandom(seed).fill(b);
  return b;
}

describe('RangeList', () => {
  it('merges, splits and covers', () => {
    const r = new RangeList();
    r.add(10, 20);
    r.add(30, 40);
    r.add(20, 30); // touching: one range
    assert.equal(r.count, 1);
    assert.deepEqual([r.start(0), r.end(0)], [10, 40]);
    r.remove(15, 25);
    assert.equal(r.count, 2);
    assert.deepEqual([r.start(0), r.end(0), r.start(1), r.end(1)], [10, 15, 25, 40]);
    assert.ok(r.covers(26, 40));
    assert.ok(!r.covers(14, 26));
    r.removeBelow(30);
    assert.deepEqual([r.start(0), r.end(0)], [30, 40]);
    assert.equal(r.total(), 10);
  });

  it('matches a bitmap model under random operations', () => {
    const rng = new SeededRandom(7);
    const r = new RangeList();
    const model = new Uint8Array(200);
    for (let i = 0; i < 5000; i++) {
      const s = rng.int(200);
      const e = Math.min(200, s + rng.int(30));
      if (rng.next() < 0.6) {
        r.add(s, e);
        model.fill(1, s, e);
      } else {
        r.remove(s, e);
        model.fill(0, s, e);
      }
      const got = new Uint8Array(200);
      for (let k = 0; k < r.count; k++) {
        assert.ok(r.start(k) < r.end(k));
        if (k > 0) assert.ok(r.start(k) > r.end(k - 1), 'ranges stay disjoint and merged');
        got.fill(1, r.start(k), r.end(k));
      }
      assert.deepEqual(got, model);
    }
  });
});

describe('SendBuffer', () => {
  it('keeps references to the written chunks (no copy)', () => {
    const b = new SendBuffer();
    const chunk = bytes(100);
    b.write(chunk);
    const p = b.emit(1000)!;
    assert.equal(p.data.buffer, chunk.buffer, 'a view of the application chunk');
    assert.equal(p.offset, 0);
    assert.equal(p.data.length, 100);
    assert.equal(p.fin, false);
  });

  it('emits pieces spanning chunks as one contiguous copy', () => {
    const b = new SendBuffer();
    b.write(Uint8Array.of(1, 2, 3));
    b.write(Uint8Array.of(4, 5));
    b.write(Uint8Array.of(6), true);
    const p = b.emit(100)!;
    assert.deepEqual([...p.data], [1, 2, 3, 4, 5, 6]);
    assert.equal(p.fin, true);
    assert.equal(b.emit(100), undefined);
  });

  it('retransmits lost ranges before new data, in offset order', () => {
    const b = new SendBuffer();
    const data = bytes(1000);
    b.write(data);
    const sent = [b.emit(100)!, b.emit(100)!, b.emit(100)!, b.emit(100)!];
    assert.deepEqual(
      sent.map((p) => p.offset),
      [0, 100, 200, 300],
    );
    b.onLost(200, 100, false);
    b.onLost(0, 100, false);
    const r1 = b.emit(60)!;
    const r2 = b.emit(100)!;
    const r3 = b.emit(100)!;
    const fresh = b.emit(100)!;
    assert.deepEqual(
      [r1.offset, r1.data.length, r2.offset, r2.data.length, r3.offset, r3.data.length],
      [0, 60, 60, 40, 200, 100],
    );
    assert.equal(fresh.offset, 400, 'new data only after every lost range');
    assert.deepEqual(r2.data, data.subarray(60, 100));
  });

  it('does not resend acknowledged parts of a lost range', () => {
    const b = new SendBuffer();
    b.write(bytes(300));
    b.emit(300);
    b.onAcked(100, 50, false); // a later retransmission/duplicate got acked
    b.onLost(0, 300, false);
    const pieces: [number, number][] = [];
    for (let p = b.emit(1000); p; p = b.emit(1000)) pieces.push([p.offset, p.data.length]);
    assert.deepEqual(pieces, [
      [0, 100],
      [150, 150],
    ]);
  });

  it('frees memory from the front as soon as a prefix is acknowledged', () => {
    const b = new SendBuffer();
    for (let i = 0; i < 10; i++) b.write(bytes(100, i));
    assert.equal(b.bufferedBytes, 1000);
    for (let i = 0; i < 10; i++) b.emit(100);
    b.onAcked(200, 100, false); // out of order: nothing freed yet
    assert.equal(b.bufferedBytes, 1000);
    b.onAcked(0, 100, false);
    assert.equal(b.bufferedBytes, 900);
    b.onAcked(100, 100, false); // fills the gap: prefix jumps to 300
    assert.equal(b.bufferedBytes, 700);
    assert.equal(b.ackedOffset, 300);
    b.onAcked(300, 700, false);
    assert.equal(b.bufferedBytes, 0);
    assert.equal(b.allAcked, false, 'FIN not written yet');
  });

  it('tracks the FIN: sent with the last octets, resent alone when lost, allAcked at the end', () => {
    const b = new SendBuffer();
    b.write(bytes(50), true);
    const p = b.emit(100)!;
    assert.equal(p.fin, true);
    b.onAcked(0, 50, false); // data acked via another packet; the FIN-bearing one lost
    b.onLost(0, 50, true);
    const again = b.emit(100)!;
    assert.deepEqual([again.offset, again.data.length, again.fin], [50, 0, true]);
    assert.equal(b.allAcked, false);
    b.onAcked(50, 0, true);
    assert.equal(b.allAcked, true);
    assert.equal(b.hasPending(), false);
  });

  it('sends an empty FIN when the stream is finished without data', () => {
    const b = new SendBuffer();
    b.write(new Uint8Array(0), true);
    const p = b.emit(10)!;
    assert.deepEqual([p.offset, p.data.length, p.fin], [0, 0, true]);
    assert.equal(b.emit(10), undefined);
  });

  it('limits new data by maxOffset (flow control) but not retransmissions', () => {
    const b = new SendBuffer();
    b.write(bytes(500));
    const p = b.emit(1000, 200)!;
    assert.equal(p.data.length, 200);
    assert.equal(b.emit(1000, 200), undefined);
    assert.equal(b.hasPending(200), false);
    b.onLost(0, 200, false);
    assert.equal(b.hasPending(200), true);
    assert.equal(b.emit(1000, 200)!.data.length, 200);
  });

  it('requeueAll makes everything unacknowledged unsent again', () => {
    const b = new SendBuffer();
    const data = bytes(300);
    b.write(data, true);
    b.emit(300);
    assert.equal(b.sentOffset, 300);
    b.requeueAll();
    assert.equal(b.sentOffset, 0);
    const p = b.emit(1000)!;
    assert.deepEqual(p.data, data);
    assert.equal(p.fin, true);
    b.onLost(0, 300, true); // stale loss of the discarded packet after the resend: resent again
    assert.equal(b.emit(1000)!.data.length, 300);
  });

  it('reconstructs the stream under random loss and acks (seeded)', () => {
    const rng = new SeededRandom(42);
    const b = new SendBuffer();
    const data = bytes(20_000, 3);
    for (let o = 0; o < data.length; ) {
      const n = 1 + rng.int(700);
      b.write(data.subarray(o, o + n), o + n >= data.length);
      o += n;
    }
    const received = new Uint8Array(data.length);
    let finSeen = false;
    let guard = 0;
    while (!b.allAcked) {
      assert.ok(guard++ < 100_000);
      const p = b.emit(1 + rng.int(1500));
      if (!p) throw new Error('stalled with data not acknowledged');
      if (rng.next() < 0.3) {
        b.onLost(p.offset, p.data.length, p.fin);
      } else {
        received.set(p.data, p.offset);
        if (p.fin) finSeen = true;
        b.onAcked(p.offset, p.data.length, p.fin);
      }
    }
    assert.ok(finSeen);
    assert.deepEqual(received, data);
    assert.equal(b.bufferedBytes, 0);
  });

  it('an in-order acknowledgement of data declared lost cancels its retransmission', () => {
    const b = new SendBuffer();
    b.write(bytes(300));
    const p = b.emit(300)!;
    b.onLost(p.offset, 300, false); // spuriously
    b.onAcked(0, 120, false); // the late ACK of the first part
    assert.equal(b.ackedOffset, 120);
    assert.equal(b.bufferedBytes, 180);
    const again = b.emit(1000)!;
    assert.deepEqual([again.offset, again.data.length], [120, 180], 'only the unacknowledged rest');
    b.onAcked(120, 180, false);
    assert.equal(b.bufferedBytes, 0);
    assert.equal(b.emit(1000), undefined);
  });

  it('release drops everything', () => {
    const b = new SendBuffer();
    b.write(bytes(100));
    b.emit(50);
    b.release();
    assert.equal(b.bufferedBytes, 0);
    assert.equal(b.hasPending(), false);
    assert.equal(b.emit(100), undefined);
    assert.equal(b.sentOffset, 50);
  });
});
