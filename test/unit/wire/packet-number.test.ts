import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hex } from '../../../src/common/bytes.js';
import { SeededRandom } from '../../../src/common/random.js';
import {
  decodePacketNumber,
  packetNumberLength,
  readTruncatedPacketNumber,
  writePacketNumber,
} from '../../../src/wire/packet-number.js';

describe('packet numbers (RFC 9000 §17.1)', () => {
  it('picks lengths as in the A.2 examples', () => {
    // 29,519 unacknowledged: twice the range needs 16 bits.
    assert.equal(packetNumberLength(0xac5c02, 0xabe8b3), 2);
    // 65,611 unacknowledged: twice the range needs 18 bits -> 24-bit encoding.
    assert.equal(packetNumberLength(0xace8fe, 0xabe8b3), 3);
  });

  it('includes the whole range from 0 before any acknowledgment', () => {
    assert.equal(packetNumberLength(0, undefined), 1);
    assert.equal(packetNumberLength(127, undefined), 1);
    assert.equal(packetNumberLength(128, undefined), 2);
    assert.equal(packetNumberLength(2 ** 31, undefined), 4);
    assert.equal(packetNumberLength(10, 9), 1);
    assert.equal(packetNumberLength(137, 9), 1);
    assert.equal(packetNumberLength(138, 9), 2);
  });

  it('decodes the A.3 example', () => {
    assert.equal(decodePacketNumber(0xa82f30ea, 0x9b32, 16), 0xa82f9b32);
  });

  it('handles the window edges of A.3', () => {
    assert.equal(decodePacketNumber(-1, 0, 8), 0);
    assert.equal(decodePacketNumber(-1, 5, 32), 5);
    // Candidate too low: wraps up.
    assert.equal(decodePacketNumber(0xff, 0x01, 8), 0x101);
    // Candidate too high: wraps down.
    assert.equal(decodePacketNumber(0x100, 0xff, 8), 0xff);
    // No underflow below 0.
    assert.equal(decodePacketNumber(0, 0xff, 8), 0xff);
    // Large numbers (beyond 32 bits) keep their high part.
    assert.equal(decodePacketNumber(2 ** 40 + 0xfffe, 0x0001, 16), 2 ** 40 + 0x10001);
  });

  it('writes the low octets and round-trips through truncation', () => {
    const b = new Uint8Array(6);
    assert.equal(writePacketNumber(b, 1, 0xa82f9b32, 2), 3);
    assert.equal(hex(b), '009b32000000');
    writePacketNumber(b, 0, 0x1_0000_0002, 4);
    assert.equal(hex(b.subarray(0, 4)), '00000002');

    const rng = new SeededRandom(42);
    for (let i = 0; i < 20_000; i++) {
      const largestAcked = rng.int(2 ** 40);
      const pn = largestAcked + 1 + rng.int(2 ** rng.int(30));
      const len = packetNumberLength(pn, largestAcked);
      writePacketNumber(b, 0, pn, len);
      const truncated = readTruncatedPacketNumber(b, 0, len);
      // The receiver has seen at least everything acknowledged.
      const largestReceived = largestAcked + rng.int(pn - largestAcked);
      assert.equal(decodePacketNumber(largestReceived, truncated, len * 8), pn);
    }
  });
});
