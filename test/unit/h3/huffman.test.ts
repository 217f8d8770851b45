import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromHex, hex } from '../../../src/common/bytes.js';
import { SeededRandom } from '../../../src/common/random.js';
import {
  decodeHuffman,
  decodeHuffmanString,
  encodeHuffman,
  huffmanEncodedLength,
} from '../../../src/h3/qpack/huffman.js';
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from '../../../src/h3/qpack/huffman-table.js';

const latin1 = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

// Every Huffman-coded literal of RFC 7541 Appendix C.4 (requests) and C.6 (responses).
const VECTORS: [string, string][] = [
  // C.4.1
  ['www.example.com', 'f1e3c2e5f23a6ba0ab90f4ff'],
  // C.4.2
  ['no-cache', 'a8eb10649cbf'],
  // C.4.3
  ['custom-key', '25a849e95ba97d7f'],
  ['custom-value', '25a849e95bb8e8b4bf'],
  // C.6.1
  ['302', '6402'],
  ['private', 'aec3771a4b'],
  ['Mon, 21 Oct 2013 20:13:21 GMT', 'd07abe941054d444a8200595040b8166e082a62d1bff'],
  ['https://www.example.com', '9d29ad171863c78f0b97c8e9ae82ae43d3'],
  // C.6.2
  ['307', '640eff'],
  // C.6.3
  ['Mon, 21 Oct 2013 20:13:22 GMT', 'd07abe941054d444a8200595040b8166e084a62d1bff'],
  ['gzip', '9bd9ab'],
  [
    'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1',
    '94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007',
  ],
];

describe('Huffman (RFC 7541 Appendix B)', () => {
  it('encodes and decodes the RFC 7541 C.4 and C.6 literals byte-exactly', () => {
    for (const [text, encoded] of VECTORS) {
      assert.equal(hex(encodeHuffman(text)), encoded, text);
      assert.equal(huffmanEncodedLength(text), encoded.length / 2, text);
      const bytes = fromHex(encoded);
      assert.equal(decodeHuffmanString(bytes, 0, bytes.length), text);
      assert.equal(latin1(decodeHuffman(bytes)!), text);
    }
  });

  it('encodes each single octet with its table code padded by ones', () => {
    for (let sym = 0; sym < 256; sym++) {
      const enc = encodeHuffman(new Uint8Array([sym]));
      const len = HUFFMAN_LENGTHS[sym]!;
      assert.equal(enc.length, Math.ceil(len / 8));
      // Reassemble the bit string and compare with the table entry.
      let bits = '';
      for (const b of enc) bits += b.toString(2).padStart(8, '0');
      assert.equal(bits.slice(0, len), HUFFMAN_CODES[sym]!.toString(2).padStart(len, '0'));
      assert.match(bits.slice(len), /^1*$/);
      assert.deepEqual([...decodeHuffman(enc)!], [sym]);
    }
  });

  it('round-trips random byte strings (seeded)', () => {
    const rng = new SeededRandom(7541);
    for (let i = 0; i < 3000; i++) {
      const data = new Uint8Array(rng.int(200));
      if (rng.next() < 0.5) rng.fill(data);
      else for (let k = 0; k < data.length; k++) data[k] = 0x20 + rng.int(95); // printable ASCII
      const enc = encodeHuffman(data);
      assert.equal(enc.length, huffmanEncodedLength(latin1(data)));
      assert.deepEqual(decodeHuffman(enc), data);
    }
  });

  it('accepts an empty string', () => {
    assert.equal(decodeHuffman(new Uint8Array(0))!.length, 0);
    assert.equal(encodeHuffman('').length, 0);
  });

  it('rejects padding longer than 7 bits (RFC 7541 §5.2)', () => {
    // 'a' is 00011 (5 bits); a whole extra 0xff octet makes 11 bits of padding.
    assert.equal(hex(encodeHuffman('a')), '1f');
    assert.equal(decodeHuffman(fromHex('1fff')), undefined);
    // A lone 0xff octet is 8 bits of padding.
    assert.equal(decodeHuffman(fromHex('ff')), undefined);
    // Long runs of ones (a prefix of EOS longer than 7 bits).
    assert.equal(decodeHuffman(fromHex('ffff')), undefined);
    assert.equal(decodeHuffman(fromHex('ffffff')), undefined);
  });

  it('rejects padding that is not a prefix of EOS (RFC 7541 §5.2)', () => {
    // 'a' then three zero bits: 00011 000.
    assert.equal(decodeHuffman(fromHex('18')), undefined);
    // 'a' then 110: 00011 110.
    assert.equal(decodeHuffman(fromHex('1e')), undefined);
  });

  it('rejects a string containing the EOS symbol (RFC 7541 §5.2)', () => {
    // EOS = 30 ones, then two padding ones: four 0xff octets.
    assert.equal(decodeHuffman(fromHex('ffffffff')), undefined);
    // 'a' (00011) followed by EOS (30 ones) and padding: 00011111 1111...
    const bits = `00011${'1'.repeat(30)}`;
    const padded = bits.padEnd(Math.ceil(bits.length / 8) * 8, '1');
    const bytes = new Uint8Array(padded.length / 8);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(padded.slice(i * 8, i * 8 + 8), 2);
    assert.equal(decodeHuffman(bytes), undefined);
  });

  it('decodes 1 MB in well under a second (table-driven)', () => {
    const rng = new SeededRandom(1);
    const data = new Uint8Array(1 << 20);
    for (let k = 0; k < data.length; k++) data[k] = 0x20 + rng.int(95);
    const enc = encodeHuffman(data);
    const t0 = performance.now();
    const dec = decodeHuffman(enc);
    const ms = performance.now() - t0;
    assert.deepEqual(dec, data);
    assert.ok(ms < 1000, `took ${ms} ms`);
  });
});
