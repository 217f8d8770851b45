import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TransportError, TransportErrorCode } from '../../../src/common/errors.js';
import { SeededRandom } from '../../../src/common/random.js';
import { Reassembler } from '../../../src/streams/reassembler.js';

function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  new SeededRandom(seed).fill(b);
  return b;
}

function readAll(r: Reassembler): Uint8Array {
  const parts: Uint8Array[] = [];
  let n = 0;
  for (let d = r.read(1 << 30); d; d = r.read(1 << 30)) {
    parts.push(d);
    n += d.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function throwsCode(fn: () => void, code: number): void {
  assert.throws(fn, (e: unknown) => e instanceof TransportError && e.code === code);
}

describe('Reassembler', () => {
  it('delivers in-order data and reports the end', () => {
    const r = new Reassembler();
    assert.equal(r.insert(0, Uint8Array.of(1, 2, 3), false), true);
    assert.equal(r.insert(3, Uint8Array.of(4), true), false, 'already readable');
    assert.equal(r.isComplete, true);
    assert.deepEqual([...readAll(r)], [1, 2, 3, 4]);
    assert.equal(r.isFinished, true);
    assert.equal(r.readOffset, 4);
  });

  it('holds out-of-order data until the gap is filled', () => {
    const r = new Reassembler();
    assert.equal(r.insert(5, Uint8Array.of(6, 7), false), false);
    assert.equal(r.read(10), undefined);
    assert.equal(r.insert(0, Uint8Array.of(1, 2, 3, 4, 5), false), true);
    assert.deepEqual([...readAll(r)], [1, 2, 3, 4, 5, 6, 7]);
  });

  it('read(max) returns at most max octets', () => {
    const r = new Reassembler();
    r.insert(0, bytes(1000), false);
    assert.equal(r.read(300)!.length, 300);
    assert.equal(r.readOffset, 300);
    assert.equal(r.bufferedBytes, 700);
  });

  it('reconstructs exact bytes from random chunking, overlap, duplication and reordering', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rng = new SeededRandom(seed);
      const data = bytes(1 + rng.int(30_000), seed);
      const chunks: [number, number][] = [];
      for (let o = 0; o < data.length; ) {
        const n = 1 + rng.int(1200);
        // Overlapping copies shifted back and forth.
        const s = Math.max(0, o - rng.int(200));
        chunks.push([s, Math.min(data.length, o + n)]);
        o += n;
      }
      for (let i = chunks.length; i > 1; i--) {
        const j = rng.int(i);
        [chunks[i - 1], chunks[j]] = [chunks[j]!, chunks[i - 1]!];
      }
      for (let i = 0; i < chunks.length / 3; i++) chunks.push(chunks[rng.int(chunks.length)]!); // duplicates
      const r = new Reassembler();
      const out = new Uint8Array(data.length);
      let got = 0;
      for (const [s, e] of chunks) {
        r.insert(s, data.subarray(s, e), e === data.length);
        assert.ok(r.bufferedBytes <= r.highestOffset - r.readOffset, 'only unread, unique octets are held');
        // Interleave reads.
        if (rng.next() < 0.3) {
          for (let d = r.read(1 + rng.int(5000)); d; d = r.read(1 + rng.int(5000))) {
            out.set(d, got);
            got += d.length;
          }
        }
      }
      for (let d = r.read(1 << 30); d; d = r.read(1 << 30)) {
        out.set(d, got);
        got += d.length;
      }
      assert.equal(got, data.length, `seed ${seed}`);
      assert.deepEqual(out, data, `seed ${seed}`);
      assert.equal(r.isFinished, true);
      assert.equal(r.bufferedBytes, 0);
      assert.equal(r.retainedBytes, 0);
    }
  });

  it('copies tiny chunks instead of pinning their datagram buffers', () => {
    const r = new Reassembler({ copyThreshold: 256 });
    // 1000 out-of-order 10-octet chunks, each a view into its own 1500-octet "datagram".
    for (let i = 1; i <= 1000; i++) {
      const datagram = new Uint8Array(1500);
      r.insert(i * 10, datagram.subarray(100, 110), false);
    }
    assert.equal(r.bufferedBytes, 10_000);
    assert.equal(r.retainedBytes, 10_000, 'copies: no datagram buffer is retained');
  });

  it('keeps views of large chunks and counts their backing buffers', () => {
    const r = new Reassembler();
    const datagram = new Uint8Array(1500);
    const view = datagram.subarray(40, 1440);
    r.insert(5000, view, false);
    assert.equal(r.bufferedBytes, 1400);
    assert.equal(r.retainedBytes, 1500);
    // A large chunk in a much larger buffer is copied (retention bounded by 2x payload).
    const pool = new Uint8Array(64 * 1024);
    r.insert(10_000, pool.subarray(0, 1000), false);
    assert.equal(r.retainedBytes, 2500);
    r.insert(0, bytes(5000), false);
    for (let d = r.read(1 << 30); d; d = r.read(1 << 30));
    assert.equal(r.readOffset, 6400);
  });

  it('retention stays within 2x the window under random small-chunk floods', () => {
    const rng = new SeededRandom(9);
    const r = new Reassembler();
    const window = 64 * 1024;
    for (let i = 0; i < 20_000; i++) {
      const len = 1 + rng.int(1400);
      const off = 1 + rng.int(window - len);
      const buf = new Uint8Array(1500 + rng.int(60_000));
      r.insert(off, buf.subarray(0, len), false);
      assert.ok(r.bufferedBytes <= window);
      assert.ok(r.retainedBytes <= 2 * window, `retained ${r.retainedBytes}`);
    }
  });

  it('enforces maxBufferedAhead with the configured code (CRYPTO_BUFFER_EXCEEDED)', () => {
    const r = new Reassembler({
      maxBufferedAhead: 1000,
      bufferedAheadErrorCode: TransportErrorCode.CRYPTO_BUFFER_EXCEEDED,
      frameType: 0x06,
    });
    r.insert(0, bytes(500), false);
    r.insert(900, bytes(100), false); // ends exactly at the limit
    assert.throws(
      () => r.insert(950, bytes(100), false),
      (e: unknown) =>
        e instanceof TransportError &&
        e.code === TransportErrorCode.CRYPTO_BUFFER_EXCEEDED &&
        e.frameType === 6,
    );
    r.read(500);
    r.insert(950, bytes(100), false); // the window moved with the read offset
    assert.equal(r.highestOffset, 1050);
  });

  describe('final size (RFC 9000 §4.5)', () => {
    it('a different final size is FINAL_SIZE_ERROR', () => {
      const r = new Reassembler();
      r.insert(0, bytes(10), true);
      r.insert(0, bytes(10), true); // same final size: fine
      throwsCode(() => r.insert(0, bytes(11), true), TransportErrorCode.FINAL_SIZE_ERROR);
      throwsCode(() => r.insert(0, bytes(9), true), TransportErrorCode.FINAL_SIZE_ERROR);
    });

    it('data beyond the final size is FINAL_SIZE_ERROR', () => {
      const r = new Reassembler();
      r.insert(5, new Uint8Array(0), true);
      throwsCode(() => r.insert(3, bytes(3), false), TransportErrorCode.FINAL_SIZE_ERROR);
      r.insert(0, bytes(5), false);
    });

    it('a final size below data already received is FINAL_SIZE_ERROR', () => {
      const r = new Reassembler();
      r.insert(100, bytes(50), false);
      throwsCode(() => r.insert(0, bytes(20), true), TransportErrorCode.FINAL_SIZE_ERROR);
      throwsCode(() => r.setFinalSize(149), TransportErrorCode.FINAL_SIZE_ERROR);
      r.setFinalSize(150);
      throwsCode(() => r.setFinalSize(151), TransportErrorCode.FINAL_SIZE_ERROR);
    });

    it('offsets beyond 2^62-1 are FRAME_ENCODING_ERROR', () => {
      // Doubles are exact only to 2^53; the frame decoder checks the exact boundary.
      const r = new Reassembler();
      throwsCode(() => r.insert(2 ** 62, bytes(2048), false), TransportErrorCode.FRAME_ENCODING_ERROR);
    });

    it('after discard() sizes are still checked and nothing is stored', () => {
      const r = new Reassembler();
      r.insert(0, bytes(100), false);
      r.discard();
      assert.equal(r.bufferedBytes, 0);
      r.insert(100, bytes(100), true);
      assert.equal(r.bufferedBytes, 0);
      assert.equal(r.read(10), undefined);
      throwsCode(() => r.insert(150, bytes(100), false), TransportErrorCode.FINAL_SIZE_ERROR);
    });
  });
});
