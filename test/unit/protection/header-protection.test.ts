import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { describe, it } from 'node:test';
import { fromHex, hex } from '../../../src/common/bytes.js';
import { SeededRandom } from '../../../src/common/random.js';
import { CIPHER_SUITES, type CipherSuite } from '../../../src/protection/cipher-suites.js';
import { HeaderProtection, HeaderProtectionBatch } from '../../../src/protection/header-protection.js';

const SUITES: CipherSuite[] = [0x1301, 0x1302, 0x1303];

function bytes(rng: SeededRandom, n: number): Uint8Array {
  const b = new Uint8Array(n);
  rng.fill(b);
  return b;
}

describe('HeaderProtection', () => {
  it('computes the AES-ECB mask of RFC 9001 A.2 and the ChaCha20 mask of A.5', () => {
    const aes = new HeaderProtection(0x1301, fromHex('9f50449e04a0e810283a1e9933adedd2'));
    assert.equal(hex(aes.mask(fromHex('d1b1c98dd7689fb8ec11d242b123dc9b')).subarray(0, 5)), '437b9aec36');
    const chacha = new HeaderProtection(
      0x1303,
      fromHex('25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4'),
    );
    assert.equal(hex(chacha.mask(fromHex('5e5cd55c41f69080575d7999c25a5bfb')).subarray(0, 5)), 'aefefe7d03');
  });

  it('AES-256 header protection is AES-256-ECB of the sample (RFC 9001 §5.4.3)', () => {
    const rng = new SeededRandom(7);
    const key = bytes(rng, 32);
    const hp = new HeaderProtection(0x1302, key);
    for (let i = 0; i < 20; i++) {
      const sample = bytes(rng, 16);
      const ref = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false).update(sample);
      assert.equal(hex(hp.mask(sample)), hex(ref));
    }
  });

  for (const suite of SUITES) {
    const len = CIPHER_SUITES[suite].hpKeyLength;
    it(`0x${suite.toString(16)}: maskMany equals one mask per sample, reusing state safely`, () => {
      const rng = new SeededRandom(suite);
      const hp = new HeaderProtection(suite, bytes(rng, len));
      for (const n of [0, 1, 2, 7, 32]) {
        const samples = bytes(rng, n * 16 + 3); // trailing octets are ignored
        const many = hp.maskMany(samples, n);
        assert.equal(many.length, n * 16);
        for (let i = 0; i < n; i++) {
          const one = hp.mask(samples.subarray(i * 16, i * 16 + 16));
          assert.equal(hex(many.subarray(i * 16, i * 16 + 5)), hex(one.subarray(0, 5)), `n=${n} i=${i}`);
        }
      }
      assert.throws(() => hp.maskMany(new Uint8Array(31), 2), RangeError);
    });

    it(`0x${suite.toString(16)}: apply then remove restores long and short headers`, () => {
      const rng = new SeededRandom(10 + suite);
      const hp = new HeaderProtection(suite, bytes(rng, len));
      for (let i = 0; i < 200; i++) {
        const longHeader = rng.next() < 0.5;
        const pnOffset = 1 + rng.int(30);
        const buf = bytes(rng, pnOffset + 4 + 16 + rng.int(40));
        buf[0] = longHeader ? 0xc0 | rng.int(64) : 0x40 | rng.int(64);
        const plain = buf.slice();
        const pnLength = (plain[0]! & 3) + 1;
        hp.apply(buf, 0, pnOffset, longHeader);
        // Bits outside the protected ones never change.
        const keep = longHeader ? 0xf0 : 0xe0;
        assert.equal(buf[0]! & keep, plain[0]! & keep);
        assert.equal(hex(buf.subarray(1, pnOffset)), hex(plain.subarray(1, pnOffset)));
        assert.equal(hex(buf.subarray(pnOffset + pnLength)), hex(plain.subarray(pnOffset + pnLength)));
        assert.equal(hp.remove(buf, 0, pnOffset, longHeader), pnLength);
        assert.equal(hex(buf), hex(plain));
      }
    });

    it(`0x${suite.toString(16)}: remove refuses packets too short for a sample (RFC 9001 §5.4.2)`, () => {
      const rng = new SeededRandom(20 + suite);
      const hp = new HeaderProtection(suite, bytes(rng, len));
      const buf = bytes(rng, 1 + 4 + 15);
      const copy = buf.slice();
      assert.equal(hp.remove(buf, 0, 1, false), 0);
      assert.equal(hp.remove(bytes(rng, 64), 0, 1, false, 20), 0);
      assert.equal(hp.remove(buf, 1, 1, false), 0);
      assert.equal(hp.remove(buf, -1, 1, false), 0);
      assert.equal(hex(buf), hex(copy));
      assert.throws(() => hp.apply(buf, 0, 1, false), RangeError);
      // Still consistent afterwards (no partial block left in the reused cipher).
      const s = bytes(rng, 16);
      assert.equal(hex(hp.mask(s)), hex(hp.mask(s)));
    });
  }

  it('a batch applies exactly what apply() would, across keys, headers and sizes', () => {
    const rng = new SeededRandom(99);
    const hps = SUITES.map(
      (suite) => new HeaderProtection(suite, bytes(rng, CIPHER_SUITES[suite].hpKeyLength)),
    );
    const batch = new HeaderProtectionBatch();
    for (const n of [1, 3, 16, 40]) {
      const direct: Uint8Array[] = [];
      const queued: Uint8Array[] = [];
      for (let i = 0; i < n; i++) {
        const hp = hps[i % 5 === 4 ? rng.int(hps.length) : 0]!;
        const longHeader = rng.next() < 0.3;
        const start = rng.int(20);
        const pnOffset = start + 1 + rng.int(30);
        const buf = bytes(rng, pnOffset + 4 + 16 + rng.int(40));
        buf[start] = longHeader ? 0xc0 | rng.int(64) : 0x40 | rng.int(64);
        const copy = buf.slice();
        hp.apply(copy, start, pnOffset, longHeader);
        direct.push(copy);
        batch.add(hp, buf, start, pnOffset);
        queued.push(buf);
      }
      assert.equal(batch.size, n);
      batch.apply();
      assert.equal(batch.size, 0);
      for (let i = 0; i < n; i++) assert.equal(hex(queued[i]!), hex(direct[i]!), `n=${n} packet ${i}`);
    }
    batch.apply(); // empty: nothing to do
    assert.throws(() => batch.add(hps[0]!, new Uint8Array(20), 0, 1), RangeError);
    assert.equal(batch.size, 0);
  });

  it('rejects wrong key and sample lengths', () => {
    assert.throws(() => new HeaderProtection(0x1301, new Uint8Array(32)), RangeError);
    assert.throws(() => new HeaderProtection(0x1303, new Uint8Array(16)), RangeError);
    const hp = new HeaderProtection(0x1301, new Uint8Array(16));
    assert.throws(() => hp.mask(new Uint8Array(15)), RangeError);
  });
});
