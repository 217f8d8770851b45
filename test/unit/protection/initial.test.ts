import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromHex, hex } from '../../../src/common/bytes.js';
import { hkdfExpandLabel, hkdfExtract } from '../../../src/protection/hkdf.js';
import { deriveInitialKeys, deriveInitialSecrets, initialSalt } from '../../../src/protection/initial.js';
import { derivePacketKeyMaterial } from '../../../src/protection/packet-keys.js';
import { QUIC_V1, QUIC_V2 } from '../../../src/wire/versions.js';

const DCID = fromHex('8394c8f03e515708');

interface Expected {
  initial: string;
  client: { secret: string; key: string; iv: string; hp: string };
  server: { secret: string; key: string; iv: string; hp: string };
}

// RFC 9001 Appendix A.1.
const V1: Expected = {
  initial: '7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44',
  client: {
    secret: 'c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea',
    key: '1f369613dd76d5467730efcbe3b1a22d',
    iv: 'fa044b2f42a3fd3b46fb255c',
    hp: '9f50449e04a0e810283a1e9933adedd2',
  },
  server: {
    secret: '3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b',
    key: 'cf3a5331653c364c88f0f379b6067e37',
    iv: '0ac1493ca1905853b0bba03e',
    hp: 'c206b8d9b9f0f37644430b490eeaa314',
  },
};

// RFC 9369 Appendix A.1.
const V2: Expected = {
  initial: '2062e8b3cd8d52092614b8071d0aa1fb7c2e3ac193f78b280e72d8f5751f6aba',
  client: {
    secret: '14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b',
    key: '8b1a0bc121284290a29e0971b5cd045d',
    iv: '91f73e2351d8fa91660e909f',
    hp: '45b95e15235d6f45a6b19cbcb0294ba9',
  },
  server: {
    secret: '0263db1782731bf4588e7e4d93b7463907cb8cd8200b5da55a8bd488eafc37c1',
    key: '82db637861d55e1d011f19ea71d5d2a7',
    iv: 'dd13c276499c0249d3310652',
    hp: 'edf6d05c83121201b436e16877593c3a',
  },
};

for (const [name, version, exp] of [
  ['v1 (RFC 9001 A.1)', QUIC_V1, V1],
  ['v2 (RFC 9369 A.1)', QUIC_V2, V2],
] as const) {
  describe(`Initial secrets ${name}`, () => {
    it('extracts the common initial secret from the salt and DCID', () => {
      assert.equal(hex(hkdfExtract('sha256', initialSalt(version), DCID)), exp.initial);
    });

    it('derives client and server initial secrets', () => {
      const s = deriveInitialSecrets(version, DCID);
      assert.equal(hex(s.client), exp.client.secret);
      assert.equal(hex(s.server), exp.server.secret);
    });

    it('derives key, iv and hp for both directions', () => {
      for (const side of ['client', 'server'] as const) {
        const m = derivePacketKeyMaterial(0x1301, fromHex(exp[side].secret), version);
        assert.equal(hex(m.key), exp[side].key, `${side} key`);
        assert.equal(hex(m.iv), exp[side].iv, `${side} iv`);
        assert.equal(hex(m.hp), exp[side].hp, `${side} hp`);
      }
    });

    it('builds PacketKeys for AES-128-GCM carrying the secrets', () => {
      const k = deriveInitialKeys(version, DCID);
      assert.equal(k.client.suite, 0x1301);
      assert.equal(k.server.suite, 0x1301);
      assert.equal(hex(k.client.secret), exp.client.secret);
      assert.equal(hex(k.server.secret), exp.server.secret);
    });
  });
}

describe('Initial secrets, other inputs', () => {
  it('uses the HkdfLabel encodings of RFC 9001 A.1 (checked via a one-block expand)', () => {
    // HKDF-Expand-Label of 32 octets is HMAC(secret, HkdfLabel || 0x01).
    const prk = hkdfExtract('sha256', initialSalt(QUIC_V1), DCID);
    const label = fromHex('00200f746c73313320636c69656e7420696e00');
    const direct = hkdfExpandLabel('sha256', prk, 'client in', new Uint8Array(0), 32);
    const viaLabel = hkdfExtract('sha256', prk, new Uint8Array([...label, 1]));
    assert.equal(hex(direct), hex(viaLabel));
  });

  it('derives different keys for v1 and v2 and for a zero-length DCID', () => {
    const a = deriveInitialSecrets(QUIC_V1, DCID).client;
    const b = deriveInitialSecrets(QUIC_V2, DCID).client;
    const c = deriveInitialSecrets(QUIC_V1, new Uint8Array(0)).client;
    assert.notEqual(hex(a), hex(b));
    assert.notEqual(hex(a), hex(c));
    assert.equal(c.length, 32);
  });

  it('rejects versions it has no salt for', () => {
    assert.throws(() => deriveInitialSecrets(0xff00001d, DCID), RangeError);
    assert.throws(() => deriveInitialKeys(0x0a0a0a0a, DCID), RangeError);
  });
});
