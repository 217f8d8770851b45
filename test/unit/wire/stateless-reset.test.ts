import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromHex, hex } from '../../../src/common/bytes.js';
import { SeededRandom } from '../../../src/common/random.js';
import { parseHeader } from '../../../src/wire/header.js';
import {
  encodeStatelessReset,
  MAX_STATELESS_RESET_LENGTH,
  MIN_STATELESS_RESET_LENGTH,
  statelessResetLengthFor,
  statelessResetTokenOf,
} from '../../../src/wire/stateless-reset.js';

const TOKEN = fromHex('00112233445566778899aabbccddeeff');

describe('Stateless Reset (RFC 9000 §10.3)', () => {
  it('looks like a short header packet ending in the token', () => {
    const rng = new SeededRandom(3);
    const firstBytes = new Set<number>();
    for (const length of [21, 22, 43, 100, 1200]) {
      const p = encodeStatelessReset(TOKEN, length, rng);
      assert.equal(p.length, length);
      assert.equal(p[0]! & 0xc0, 0x40);
      firstBytes.add(p[0]!);
      assert.equal(hex(p.subarray(length - 16)), hex(TOKEN));
      assert.equal(hex(statelessResetTokenOf(p)!), hex(TOKEN));
      // It parses as a short header packet.
      assert.equal(parseHeader(p, 0, 0).form, 'short');
    }
    assert.ok(firstBytes.size > 1);
    const a = encodeStatelessReset(TOKEN, 40, new SeededRandom(1));
    const b = encodeStatelessReset(TOKEN, 40, new SeededRandom(2));
    assert.notEqual(hex(a.subarray(0, 24)), hex(b.subarray(0, 24)));
  });

  it('refuses lengths below 21 and bad tokens', () => {
    assert.equal(MIN_STATELESS_RESET_LENGTH, 21);
    assert.throws(() => encodeStatelessReset(TOKEN, 20, new SeededRandom(1)), RangeError);
    assert.throws(() => encodeStatelessReset(TOKEN.subarray(1), 30, new SeededRandom(1)), RangeError);
  });

  it('chooses a length strictly smaller than the trigger (§10.3.3), or 0', () => {
    assert.equal(statelessResetLengthFor(0), 0);
    assert.equal(statelessResetLengthFor(21), 0);
    assert.equal(statelessResetLengthFor(22), 21);
    assert.equal(statelessResetLengthFor(43), 42);
    assert.equal(statelessResetLengthFor(1500), MAX_STATELESS_RESET_LENGTH);
    for (let t = 22; t < 2000; t++) {
      const n = statelessResetLengthFor(t);
      assert.ok(n < t && n >= MIN_STATELESS_RESET_LENGTH);
    }
  });

  it('reads the candidate token of a datagram', () => {
    assert.equal(statelessResetTokenOf(new Uint8Array(20)), undefined);
    const d = new Uint8Array(21);
    d.set(TOKEN, 5);
    assert.equal(hex(statelessResetTokenOf(d)!), hex(TOKEN));
  });
});
