import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromHex, hex } from '../../../src/common/bytes.js';
import { H3Error } from '../../../src/h3/errors.js';
import { INCOMPLETE, QpackReader, writeInt, writeString } from '../../../src/h3/qpack/primitives.js';
import { STATIC_TABLE, staticIndexOf, staticNameIndexOf } from '../../../src/h3/qpack/static-table.js';
import { BufferWriter } from '../../../src/wire/writer.js';

const CODE = 0x200;

function enc(flags: number, prefix: number, v: number): string {
  const w = new BufferWriter(16);
  writeInt(w, flags, prefix, v);
  return hex(w.view());
}

function dec(bytes: string, prefix: number): number {
  const b = fromHex(bytes);
  const r = new QpackReader(b, 0, b.length, CODE);
  const v = r.int(prefix);
  assert.equal(r.pos, b.length);
  return v;
}

describe('QPACK prefixed integers (RFC 7541 §5.1)', () => {
  it('matches the RFC 7541 C.1 examples', () => {
    // C.1.1: 10 with a 5-bit prefix; C.1.2: 1337 with a 5-bit prefix; C.1.3: 42 at an octet boundary.
    assert.equal(enc(0, 5, 10), '0a');
    assert.equal(enc(0, 5, 1337), '1f9a0a');
    assert.equal(enc(0, 8, 42), '2a');
    assert.equal(dec('0a', 5), 10);
    assert.equal(dec('1f9a0a', 5), 1337);
    assert.equal(dec('2a', 8), 42);
  });

  it('keeps the flag bits and ignores them when decoding', () => {
    assert.equal(enc(0xe0, 5, 10), 'ea');
    assert.equal(dec('ea', 5), 10);
    assert.equal(enc(0x80, 7, 127), 'ff00');
    assert.equal(dec('ff00', 7), 127);
  });

  it('round-trips values up to 62 bits for every prefix size (RFC 9204 §4.1.1)', () => {
    const values = [
      0,
      1,
      2,
      6,
      7,
      30,
      31,
      62,
      63,
      126,
      127,
      128,
      254,
      255,
      256,
      16383,
      2 ** 21,
      2 ** 32 + 5,
      2 ** 53 - 1,
      2 ** 62 - 1,
    ];
    for (let prefix = 1; prefix <= 8; prefix++) {
      for (const v of values) assert.equal(dec(enc(0, prefix, v), prefix), v, `${v}/${prefix}`);
    }
  });

  it('rejects overlong encodings and values beyond 62 bits', () => {
    // 10 continuation octets.
    assert.throws(
      () => dec('ff80808080808080808000', 8),
      (e: unknown) => e instanceof H3Error && e.code === CODE,
    );
    // 2^63 (beyond 62 bits).
    const w = new BufferWriter(16);
    writeInt(w, 0, 8, 2 ** 63);
    assert.throws(() => dec(hex(w.view()), 8), H3Error);
  });

  it('throws H3Error on truncation, or INCOMPLETE when streaming', () => {
    const b = fromHex('1f9a');
    assert.throws(
      () => new QpackReader(b, 0, 2, CODE).int(5),
      (e: unknown) => e instanceof H3Error && e.code === CODE,
    );
    const r = new QpackReader(b, 0, 2, CODE, true);
    assert.throws(
      () => r.int(5),
      (e: unknown) => e === INCOMPLETE,
    );
    assert.equal(r.needEnd, 3);
  });
});

describe('QPACK string literals (RFC 9204 §4.1.2)', () => {
  it('encodes the RFC 7541 C.4.1 literal with Huffman (8-bit prefix)', () => {
    const w = new BufferWriter(32);
    writeString(w, 0, 8, 'www.example.com', 'auto');
    assert.equal(hex(w.view()), '8cf1e3c2e5f23a6ba0ab90f4ff');
    const r = new QpackReader(w.view(), 0, w.offset, CODE);
    assert.equal(r.string(8, 100), 'www.example.com');
  });

  it('encodes raw when Huffman is off, and for N-bit prefixes', () => {
    const w = new BufferWriter(32);
    writeString(w, 0, 8, '/index.html', false);
    assert.equal(hex(w.view()), '0b2f696e6465782e68746d6c'); // RFC 9204 B.1
    for (let n = 2; n <= 8; n++) {
      for (const mode of [true, false, 'auto'] as const) {
        const flags = (0xff << n) & 0xff;
        const ww = new BufferWriter(8);
        writeString(ww, flags, n, 'custom-key', mode);
        assert.equal(ww.view()[0]! & flags, flags);
        const r = new QpackReader(ww.view(), 0, ww.offset, CODE);
        assert.equal(r.string(n, 100), 'custom-key');
        assert.equal(r.pos, ww.offset);
      }
    }
  });

  it('round-trips every octet value as latin1', () => {
    let s = '';
    for (let i = 0; i < 256; i++) s += String.fromCharCode(i);
    for (const mode of [true, false] as const) {
      const w = new BufferWriter(8);
      writeString(w, 0, 8, s, mode);
      assert.equal(new QpackReader(w.view(), 0, w.offset, CODE).string(8, 1000), s);
    }
  });

  it('rejects too-long strings, bad Huffman and truncation with the reader code', () => {
    const w = new BufferWriter(8);
    writeString(w, 0, 8, 'abcdef', false);
    assert.throws(
      () => new QpackReader(w.view(), 0, w.offset, CODE).string(8, 5),
      (e: unknown) => e instanceof H3Error && e.code === CODE,
    );
    assert.throws(
      () => new QpackReader(fromHex('81ff'), 0, 2, 0x201).string(8, 5),
      (e: unknown) => e instanceof H3Error && e.code === 0x201,
    );
    assert.throws(() => new QpackReader(fromHex('0561'), 0, 2, CODE).string(8, 100), H3Error);
  });
});

describe('QPACK static table (RFC 9204 Appendix A)', () => {
  it('has 99 entries with the RFC values', () => {
    assert.equal(STATIC_TABLE.length, 99);
    assert.deepEqual(STATIC_TABLE[0], [':authority', '']);
    assert.deepEqual(STATIC_TABLE[17], [':method', 'GET']);
    assert.deepEqual(STATIC_TABLE[25], [':status', '200']);
    assert.deepEqual(STATIC_TABLE[31], ['accept-encoding', 'gzip, deflate, br']);
    assert.deepEqual(STATIC_TABLE[52], ['content-type', 'text/html; charset=utf-8']);
    assert.deepEqual(STATIC_TABLE[54], ['content-type', 'text/plain;charset=utf-8']);
    assert.deepEqual(STATIC_TABLE[58], [
      'strict-transport-security',
      'max-age=31536000; includesubdomains; preload',
    ]);
    assert.deepEqual(STATIC_TABLE[85], [
      'content-security-policy',
      "script-src 'none'; object-src 'none'; base-uri 'none'",
    ]);
    assert.deepEqual(STATIC_TABLE[98], ['x-frame-options', 'sameorigin']);
  });

  it('finds exact entries and names', () => {
    assert.equal(staticIndexOf(':path', '/'), 1);
    assert.equal(staticIndexOf(':status', '404'), 27);
    assert.equal(staticIndexOf(':status', '418'), -1);
    assert.equal(staticNameIndexOf(':status'), 24);
    assert.equal(staticNameIndexOf('x-custom'), -1);
  });
});
