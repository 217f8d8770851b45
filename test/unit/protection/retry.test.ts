import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { describe, it } from 'node:test';
import { fromHex, hex } from '../../../src/common/bytes.js';
import { SeededRandom } from '../../../src/common/random.js';
import { hkdfExpandLabel } from '../../../src/protection/hkdf.js';
import { decodeRetryPacket, encodeRetryPacket, verifyRetryIntegrity } from '../../../src/protection/retry.js';
import { QUIC_V1, QUIC_V2 } from '../../../src/wire/versions.js';
import { checkDecoder } from '../../support/property.js';
import { V1_RETRY, V2_RETRY } from './rfc-vectors.js';

const ODCID = fromHex('8394c8f03e515708');
const SCID = fromHex('f067a5502a4262b5');
const TOKEN = new TextEncoder().encode('token');

const CASES = [
  { name: 'v1 (RFC 9001 A.4)', version: QUIC_V1, packet: V1_RETRY },
  { name: 'v2 (RFC 9369 A.4)', version: QUIC_V2, packet: V2_RETRY },
] as const;

describe('Retry packets', () => {
  for (const c of CASES) {
    it(`${c.name}: encodes the sample Retry with its integrity tag`, () => {
      const p = encodeRetryPacket({
        version: c.version,
        dcid: new Uint8Array(0),
        scid: SCID,
        originalDcid: ODCID,
        token: TOKEN,
        unusedBits: 0x0f,
      });
      assert.equal(hex(p), c.packet);
    });

    it(`${c.name}: verifies the tag only with the original DCID and version`, () => {
      const p = fromHex(c.packet);
      assert.equal(verifyRetryIntegrity(p, ODCID, c.version), true);
      assert.equal(verifyRetryIntegrity(p, fromHex('8394c8f03e515709'), c.version), false);
      assert.equal(verifyRetryIntegrity(p, ODCID.subarray(1), c.version), false);
      assert.equal(verifyRetryIntegrity(p, ODCID, c.version === QUIC_V1 ? QUIC_V2 : QUIC_V1), false);
      assert.equal(verifyRetryIntegrity(p, ODCID, 0xff00001d), false);
      for (let i = 0; i < p.length; i++) {
        const t = p.slice();
        t[i]! ^= 0x20;
        assert.equal(verifyRetryIntegrity(t, ODCID, c.version), false, `octet ${i}`);
      }
      assert.equal(verifyRetryIntegrity(p.subarray(0, 22), ODCID, c.version), false);
    });

    it(`${c.name}: decodes the fields`, () => {
      const r = decodeRetryPacket(fromHex(c.packet));
      assert.ok(r);
      assert.equal(r.version, c.version);
      assert.equal(r.dcid.length, 0);
      assert.equal(hex(r.scid), hex(SCID));
      assert.equal(hex(r.token), hex(TOKEN));
      assert.equal(hex(r.tag), c.packet.slice(-32));
    });
  }

  it('the fixed Retry keys derive from the RFC secrets (RFC 9001 §5.8, RFC 9369 §3.3.3)', () => {
    const v1 = fromHex('d9c9943e6101fd200021506bcc02814c73030f25c79d71ce876eca876e6fca8e');
    const v2 = fromHex('c4dd2484d681aefa4ff4d69c2c20299984a765a5d3c31982f38fc74162155e9f');
    const e = new Uint8Array(0);
    assert.equal(hex(hkdfExpandLabel('sha256', v1, 'quic key', e, 16)), 'be0c690b9f66575a1d766b54e368c84e');
    assert.equal(hex(hkdfExpandLabel('sha256', v1, 'quic iv', e, 12)), '461599d35d632bf2239825bb');
    assert.equal(hex(hkdfExpandLabel('sha256', v2, 'quicv2 key', e, 16)), '8fb4b01b56ac48e260fbcbcead7ccc92');
    assert.equal(hex(hkdfExpandLabel('sha256', v2, 'quicv2 iv', e, 12)), 'd86969bc2d7c6d9990efb04a');
    // And the v1 sample tag is AES-128-GCM over the pseudo-packet with those values.
    const packet = fromHex(V1_RETRY);
    const pseudo = new Uint8Array([ODCID.length, ...ODCID, ...packet.subarray(0, packet.length - 16)]);
    const cipher = createCipheriv(
      'aes-128-gcm',
      fromHex('be0c690b9f66575a1d766b54e368c84e'),
      fromHex('461599d35d632bf2239825bb'),
    );
    cipher.setAAD(pseudo);
    cipher.final();
    assert.equal(hex(cipher.getAuthTag()), hex(packet.subarray(packet.length - 16)));
  });

  it('round trips random Retry packets; unused bits come from the random source', () => {
    const rng = new SeededRandom(9);
    const seenUnused = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const version = i % 2 ? QUIC_V1 : QUIC_V2;
      const cid = (n: number) => {
        const b = new Uint8Array(n);
        rng.fill(b);
        return b;
      };
      const dcid = cid(rng.int(21));
      const scid = cid(1 + rng.int(20));
      const originalDcid = cid(8 + rng.int(13));
      const token = cid(1 + rng.int(100));
      const p = encodeRetryPacket({ version, dcid, scid, originalDcid, token, random: rng });
      seenUnused.add(p[0]! & 0x0f);
      assert.equal(p[0]! & 0xf0, version === QUIC_V1 ? 0xf0 : 0xc0);
      const r = decodeRetryPacket(p);
      assert.ok(r);
      assert.equal(r.version, version);
      assert.equal(hex(r.dcid), hex(dcid));
      assert.equal(hex(r.scid), hex(scid));
      assert.equal(hex(r.token), hex(token));
      assert.equal(verifyRetryIntegrity(p, originalDcid, version), true);
    }
    assert.ok(seenUnused.size > 8);
  });

  it('refuses to encode invalid Retry packets', () => {
    const base = { version: QUIC_V1, dcid: SCID, scid: SCID, originalDcid: ODCID, token: TOKEN };
    assert.throws(() => encodeRetryPacket({ ...base, token: new Uint8Array(0) }), RangeError);
    assert.throws(() => encodeRetryPacket({ ...base, scid: ODCID }), RangeError); // RFC 9000 §17.2.5.1
    assert.throws(() => encodeRetryPacket({ ...base, scid: new Uint8Array(21) }), RangeError);
    assert.throws(() => encodeRetryPacket({ ...base, version: 0x1a2a3a4a }), RangeError);
  });

  it('decodes only well-formed v1/v2 Retry packets', () => {
    const v1 = fromHex(V1_RETRY);
    const v2 = fromHex(V2_RETRY);
    const mod = (b: Uint8Array, i: number, v: number) => {
      const c = b.slice();
      c[i] = v;
      return c;
    };
    assert.equal(decodeRetryPacket(mod(v1, 0, 0x7f)), undefined); // short header
    assert.equal(decodeRetryPacket(mod(v1, 0, 0xcf)), undefined); // v1 Initial type
    assert.equal(decodeRetryPacket(mod(v2, 0, 0xff)), undefined); // v2 Handshake type
    assert.equal(decodeRetryPacket(mod(v1, 4, 0x02)), undefined); // unknown version
    assert.equal(decodeRetryPacket(mod(v1, 5, 21)), undefined); // DCID too long
    assert.equal(decodeRetryPacket(mod(v1, 6, 21)), undefined); // SCID too long
    assert.equal(decodeRetryPacket(v1.subarray(0, 22)), undefined); // too short
    // Header and tag only: empty token (RFC 9000 §17.2.5.2).
    const noToken = new Uint8Array([...v1.subarray(0, 15), ...v1.subarray(v1.length - 16)]);
    assert.equal(decodeRetryPacket(noToken), undefined);
    // The Fixed Bit may be greased (RFC 9287): still a Retry.
    assert.equal(decodeRetryPacket(mod(v1, 0, 0xbf))?.version, QUIC_V1);
  });

  it('decodeRetryPacket never throws on hostile input (property)', () => {
    const corpus = [fromHex(V1_RETRY), fromHex(V2_RETRY)];
    let accepted = 0;
    const decoded = checkDecoder('decodeRetryPacket', (input) => decodeRetryPacket(input), {
      corpus,
      onDecoded: (input, value) => {
        if (value === undefined) return;
        accepted++;
        const r = value as NonNullable<ReturnType<typeof decodeRetryPacket>>;
        assert.ok(r.dcid.length <= 20 && r.scid.length <= 20);
        assert.ok(r.token.length > 0);
        assert.equal(r.tag.length, 16);
        assert.equal(7 + r.dcid.length + r.scid.length + r.token.length + 16, input.length);
        // Integrity verification never throws either.
        assert.equal(typeof verifyRetryIntegrity(input, ODCID, r.version), 'boolean');
      },
    });
    assert.equal(decoded, 100_000);
    assert.ok(accepted > 1000);
  });
});
