import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CIPHER_SUITES,
  CipherSuite,
  cipherSuiteInfo,
  isCipherSuite,
} from '../../../src/protection/cipher-suites.js';

describe('cipher suites', () => {
  it('maps the three TLS 1.3 codes to their algorithms and lengths', () => {
    const a = cipherSuiteInfo(CipherSuite.TLS_AES_128_GCM_SHA256);
    assert.deepEqual(
      [a.code, a.hash, a.hashLength, a.aead, a.keyLength, a.ivLength, a.hp, a.hpKeyLength],
      [0x1301, 'sha256', 32, 'aes-128-gcm', 16, 12, 'aes-128-ecb', 16],
    );
    const b = cipherSuiteInfo(CipherSuite.TLS_AES_256_GCM_SHA384);
    assert.deepEqual(
      [b.code, b.hash, b.hashLength, b.aead, b.keyLength, b.ivLength, b.hp, b.hpKeyLength],
      [0x1302, 'sha384', 48, 'aes-256-gcm', 32, 12, 'aes-256-ecb', 32],
    );
    const c = cipherSuiteInfo(CipherSuite.TLS_CHACHA20_POLY1305_SHA256);
    assert.deepEqual(
      [c.code, c.hash, c.hashLength, c.aead, c.keyLength, c.ivLength, c.hp, c.hpKeyLength],
      [0x1303, 'sha256', 32, 'chacha20-poly1305', 32, 12, 'chacha20', 32],
    );
    for (const s of Object.values(CIPHER_SUITES)) {
      assert.equal(s.tagLength, 16);
      assert.equal(s.sampleLength, 16);
      assert.equal(CipherSuite[s.name], s.code);
    }
  });

  it('carries the AEAD limits of RFC 9001 §6.6', () => {
    assert.equal(CIPHER_SUITES[0x1301].confidentialityLimit, 8_388_608); // 2^23
    assert.equal(CIPHER_SUITES[0x1302].confidentialityLimit, 8_388_608);
    assert.equal(CIPHER_SUITES[0x1301].integrityLimit, 4_503_599_627_370_496); // 2^52
    assert.equal(CIPHER_SUITES[0x1302].integrityLimit, 4_503_599_627_370_496);
    assert.equal(CIPHER_SUITES[0x1303].confidentialityLimit, Number.POSITIVE_INFINITY);
    assert.ok(CIPHER_SUITES[0x1303].confidentialityLimit > 2 ** 62);
    assert.equal(CIPHER_SUITES[0x1303].integrityLimit, 68_719_476_736); // 2^36
  });

  it('rejects suites QUIC cannot use (CCM_8 has no header protection, RFC 9001 §5.3)', () => {
    assert.equal(isCipherSuite(0x1304), false);
    assert.equal(isCipherSuite(0x1305), false);
    assert.equal(isCipherSuite(0x1303), true);
    assert.throws(() => cipherSuiteInfo(0x1305), RangeError);
    assert.throws(() => cipherSuiteInfo(0), RangeError);
  });
});
