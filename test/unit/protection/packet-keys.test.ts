import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromHex, hex } from '../../../src/common/bytes.js';
import { SeededRandom } from '../../../src/common/random.js';
import { CIPHER_SUITES, type CipherSuite } from '../../../src/protection/cipher-suites.js';
import { hkdfExpandLabel } from '../../../src/protection/hkdf.js';
import {
  deriveNextPacketKeys,
  deriveNextSecret,
  derivePacketKeyMaterial,
  derivePacketKeys,
  protectionLabels,
} from '../../../src/protection/packet-keys.js';
import { QUIC_V1, QUIC_V2 } from '../../../src/wire/versions.js';

const SUITES: CipherSuite[] = [0x1301, 0x1302, 0x1303];
const A5_SECRET = fromHex('9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b');

function sealSample(keys: ReturnType<typeof derivePacketKeys>, pn: number): string {
  const buf = new Uint8Array(5 + 20 + 16);
  buf.fill(0x5a);
  keys.aead.seal(buf, 0, 5, 25, pn);
  return hex(buf);
}

describe('packet keys and key update', () => {
  it('derives "quic ku" (RFC 9001 A.5) and "quicv2 ku" (RFC 9369 A.5)', () => {
    assert.equal(
      hex(deriveNextSecret(0x1303, A5_SECRET, QUIC_V1)),
      '1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9',
    );
    assert.equal(
      hex(deriveNextSecret(0x1303, A5_SECRET, QUIC_V2)),
      'c69374c49e3d2a9466fa689e49d476db5d0dfbc87d32ceeaa6343fd0ae4c7d88',
    );
  });

  it('uses the v1 and v2 label sets', () => {
    assert.deepEqual(protectionLabels(QUIC_V1), {
      key: 'quic key',
      iv: 'quic iv',
      hp: 'quic hp',
      ku: 'quic ku',
    });
    assert.deepEqual(protectionLabels(QUIC_V2), {
      key: 'quicv2 key',
      iv: 'quicv2 iv',
      hp: 'quicv2 hp',
      ku: 'quicv2 ku',
    });
    assert.throws(() => protectionLabels(0xff00001d), RangeError);
    assert.throws(() => derivePacketKeys(0x1301, new Uint8Array(32), 7), RangeError);
  });

  for (const suite of SUITES) {
    const info = CIPHER_SUITES[suite];
    for (const version of [QUIC_V1, QUIC_V2]) {
      it(`0x${suite.toString(16)} v${version === QUIC_V1 ? 1 : 2}: next keys = keys of the next secret, same HP`, () => {
        const rng = new SeededRandom(suite ^ version);
        const secret = new Uint8Array(info.hashLength);
        rng.fill(secret);
        const current = derivePacketKeys(suite, secret, version);
        assert.equal(hex(current.secret), hex(secret));
        const m = derivePacketKeyMaterial(suite, secret, version);
        assert.equal(m.key.length, info.keyLength);
        assert.equal(m.iv.length, 12);
        assert.equal(m.hp.length, info.hpKeyLength);

        const next = deriveNextPacketKeys(current, version);
        const expectedSecret = hkdfExpandLabel(
          info.hash,
          secret,
          version === QUIC_V1 ? 'quic ku' : 'quicv2 ku',
          new Uint8Array(0),
          info.hashLength,
        );
        assert.equal(hex(next.secret), hex(expectedSecret));
        assert.equal(hex(next.secret), hex(deriveNextSecret(suite, secret, version)));
        // RFC 9001 §6.1: the header protection key is not updated.
        assert.equal(next.hp, current.hp);
        assert.equal(next.suite, suite);
        // The next AEAD is exactly the one derived from the next secret, and differs from the current.
        const fresh = derivePacketKeys(suite, next.secret, version);
        assert.equal(sealSample(next, 3), sealSample(fresh, 3));
        assert.notEqual(sealSample(next, 3), sealSample(current, 3));
        // A second update chains.
        const next2 = deriveNextPacketKeys(next, version);
        assert.equal(hex(next2.secret), hex(deriveNextSecret(suite, next.secret, version)));
        assert.equal(next2.hp, current.hp);
      });
    }
  }

  it('v1 and v2 keys of the same secret differ', () => {
    const a = derivePacketKeyMaterial(0x1301, A5_SECRET, QUIC_V1);
    const b = derivePacketKeyMaterial(0x1301, A5_SECRET, QUIC_V2);
    assert.notEqual(hex(a.key), hex(b.key));
    assert.notEqual(hex(a.hp), hex(b.hp));
  });
});
