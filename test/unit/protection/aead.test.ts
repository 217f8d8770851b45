import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { describe, it } from 'node:test';
import { hex } from '../../../src/common/bytes.js';
import { SeededRandom } from '../../../src/common/random.js';
import { PacketAead } from '../../../src/protection/aead.js';
import { CIPHER_SUITES, type CipherSuite } from '../../../src/protection/cipher-suites.js';

const SUITES: CipherSuite[] = [0x1301, 0x1302, 0x1303];

function bytes(rng: SeededRandom, n: number): Uint8Array {
  const b = new Uint8Array(n);
  rng.fill(b);
  return b;
}

/** Independent reference: nonce from BigInt arithmetic, one-shot node:crypto seal. */
function referenceSeal(
  suite: CipherSuite,
  key: Uint8Array,
  iv: Uint8Array,
  aad: Uint8Array,
  pt: Uint8Array,
  pn: number,
) {
  const ivInt = BigInt(`0x${hex(iv)}`) ^ BigInt(pn);
  const nonce = Buffer.from(ivInt.toString(16).padStart(24, '0'), 'hex');
  const c = createCipheriv(CIPHER_SUITES[suite].aead as 'aes-128-gcm', key, nonce, { authTagLength: 16 });
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
  return hex(ct);
}

describe('PacketAead', () => {
  for (const suite of SUITES) {
    const info = CIPHER_SUITES[suite];
    it(`0x${suite.toString(16)}: seals in place like a reference AEAD with nonce = iv XOR pn`, () => {
      const rng = new SeededRandom(suite);
      const key = bytes(rng, info.keyLength);
      const iv = bytes(rng, 12);
      const aead = new PacketAead(suite, key, iv);
      const pns = [0, 1, 255, 0x1234567, 0xffffffff, 0x100000000, 2 ** 40 + 7, 2 ** 53 - 1];
      for (let i = 0; i < 50; i++) pns.push(rng.int(2 ** 31) * 2 ** 21 + rng.int(2 ** 21));
      for (const pn of pns) {
        const headerLen = 1 + rng.int(40);
        const payloadLen = rng.int(1400);
        const buf = new Uint8Array(3 + headerLen + payloadLen + 16 + 5);
        const start = 3;
        buf.set(bytes(rng, headerLen + payloadLen), start);
        const aad = buf.slice(start, start + headerLen);
        const pt = buf.slice(start + headerLen, start + headerLen + payloadLen);
        const end = aead.seal(buf, start, start + headerLen, start + headerLen + payloadLen, pn);
        assert.equal(end, start + headerLen + payloadLen + 16);
        assert.equal(hex(buf.subarray(start, start + headerLen)), hex(aad), 'header untouched');
        assert.equal(
          hex(buf.subarray(start + headerLen, end)),
          referenceSeal(suite, key, iv, aad, pt, pn),
          `pn ${pn}`,
        );
        const opened = aead.open(buf, start, start + headerLen, end, pn);
        assert.ok(opened);
        assert.equal(hex(opened), hex(pt));
      }
      assert.equal(aead.sealed, pns.length);
      assert.equal(aead.openFailures, 0);
    });

    it(`0x${suite.toString(16)}: rejects tampering, wrong pn and wrong key, counting failures`, () => {
      const rng = new SeededRandom(100 + suite);
      const key = bytes(rng, info.keyLength);
      const iv = bytes(rng, 12);
      const aead = new PacketAead(suite, key, iv);
      const buf = new Uint8Array(10 + 30 + 16);
      buf.set(bytes(rng, 40));
      const end = aead.seal(buf, 0, 10, 40, 77);
      let failures = 0;
      for (let i = 0; i < end; i++) {
        const copy = buf.slice();
        copy[i]! ^= 0x01;
        assert.equal(aead.open(copy, 0, 10, end, 77), null, `octet ${i}`);
        failures++;
      }
      assert.equal(aead.open(buf, 0, 10, end, 78), null);
      assert.equal(aead.open(buf, 0, 9, end, 77), null);
      const other = new PacketAead(suite, bytes(rng, info.keyLength), iv);
      assert.equal(other.open(buf, 0, 10, end, 77), null);
      assert.equal(aead.openFailures, failures + 2);
      assert.ok(aead.open(buf, 0, 10, end, 77));
    });
  }

  it('never throws on impossible bounds when opening', () => {
    const aead = new PacketAead(0x1301, new Uint8Array(16), new Uint8Array(12));
    const buf = new Uint8Array(40);
    assert.equal(aead.open(buf, 0, 30, 40, 0), null); // no room for the tag
    assert.equal(aead.open(buf, 5, 4, 40, 0), null);
    assert.equal(aead.open(buf, 0, 4, 41, 0), null);
    assert.equal(aead.open(buf, -1, 4, 40, 0), null);
    assert.equal(aead.open(buf, 0, 4, 40, -1), null);
    assert.equal(aead.open(buf, 0, 4, 40, Number.NaN), null);
    assert.equal(aead.openFailures, 6);
  });

  it('seals an empty payload to a bare tag', () => {
    const aead = new PacketAead(0x1303, new Uint8Array(32).fill(1), new Uint8Array(12).fill(2));
    const buf = new Uint8Array(4 + 16);
    const end = aead.seal(buf, 0, 4, 4, 9);
    assert.equal(end, 20);
    const pt = aead.open(buf, 0, 4, 20, 9);
    assert.ok(pt);
    assert.equal(pt.length, 0);
  });

  it('reports the confidentiality limit', () => {
    const gcm = new PacketAead(0x1301, new Uint8Array(16), new Uint8Array(12));
    assert.equal(gcm.confidentialityLimitReached, false);
    gcm.sealed = 2 ** 23;
    assert.equal(gcm.confidentialityLimitReached, true);
    const chacha = new PacketAead(0x1303, new Uint8Array(32), new Uint8Array(12));
    chacha.sealed = 2 ** 62;
    assert.equal(chacha.confidentialityLimitReached, false);
  });

  it('validates key and IV lengths and the seal bounds', () => {
    assert.throws(() => new PacketAead(0x1301, new Uint8Array(32), new Uint8Array(12)), RangeError);
    assert.throws(() => new PacketAead(0x1302, new Uint8Array(16), new Uint8Array(12)), RangeError);
    assert.throws(() => new PacketAead(0x1303, new Uint8Array(32), new Uint8Array(8)), RangeError);
    const aead = new PacketAead(0x1301, new Uint8Array(16), new Uint8Array(12));
    assert.throws(() => aead.seal(new Uint8Array(30), 0, 4, 20, 0), RangeError);
    assert.throws(() => aead.seal(new Uint8Array(60), 0, 10, 5, 0), RangeError);
    assert.equal(aead.sealed, 0);
  });
});
