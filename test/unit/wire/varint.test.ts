import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromHex, hex } from '../../../src/common/bytes.js';
import { TransportError } from '../../../src/common/errors.js';
import { BufferReader } from '../../../src/wire/reader.js';
import { varintLength, writeVarint } from '../../../src/wire/varint.js';
import { varintBigAt, varintLengthOf } from '../../../src/wire/varint-big.js';

function encode(v: number): string {
  const b = new Uint8Array(8);
  return hex(b.subarray(0, writeVarint(b, 0, v)));
}

describe('varint (RFC 9000 §16, Appendix A.1)', () => {
  it('decodes the A.1 examples', () => {
    assert.equal(new BufferReader(fromHex('9d7f3e7d')).varint(), 494_878_333);
    assert.equal(new BufferReader(fromHex('7bbd')).varint(), 15_293);
    assert.equal(new BufferReader(fromHex('25')).varint(), 37);
    assert.equal(new BufferReader(fromHex('4025')).varint(), 37);
    // Above 2^53 the double is the nearest one; the exact value is available as a BigInt.
    const eight = fromHex('c2197c5eff14e88c');
    assert.equal(new BufferReader(eight).varint(), Number(151_288_809_941_952_652n));
    assert.equal(varintBigAt(eight, 0), 151_288_809_941_952_652n);
    assert.equal(varintLengthOf(eight[0]!), 8);
  });

  it('encodes the A.1 examples minimally', () => {
    assert.equal(encode(494_878_333), '9d7f3e7d');
    assert.equal(encode(15_293), '7bbd');
    assert.equal(encode(37), '25');
    assert.equal(encode(2 ** 53 - 1), 'c01fffffffffffff');
    assert.deepEqual([63, 64, 16383, 16384, 2 ** 30 - 1, 2 ** 30].map(varintLength), [1, 2, 2, 4, 4, 8]);
  });

  it('throws the reader error code on truncation', () => {
    const r = new BufferReader(fromHex('9d7f3e'), 0, 3, 0x08);
    assert.throws(
      () => r.varint(),
      (e: unknown) => e instanceof TransportError && e.code === 0x08,
    );
  });
});
