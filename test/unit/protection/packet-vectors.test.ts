// RFC 9001 Appendix A.2, A.3, A.5 and RFC 9369 Appendix A.2, A.3, A.5, bit for bit.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromHex, hex } from '../../../src/common/bytes.js';
import { deriveInitialKeys } from '../../../src/protection/initial.js';
import { protectPacket, unprotectPacket } from '../../../src/protection/packet.js';
import {
  deriveNextSecret,
  derivePacketKeyMaterial,
  derivePacketKeys,
} from '../../../src/protection/packet-keys.js';
import { QUIC_V1, QUIC_V2 } from '../../../src/wire/versions.js';
import * as V from './rfc-vectors.js';

const DCID = fromHex('8394c8f03e515708');

/** Unprotected header + plaintext, with 16 octets of room for the tag. */
function plainPacket(header: string, payload: Uint8Array): Uint8Array {
  const h = fromHex(header);
  const buf = new Uint8Array(h.length + payload.length + 16);
  buf.set(h);
  buf.set(payload, h.length);
  return buf;
}

function clientPayload(crypto: string): Uint8Array {
  const p = new Uint8Array(1162); // CRYPTO frame then PADDING (zeros)
  p.set(fromHex(crypto));
  return p;
}

const CASES = [
  {
    name: 'v1 (RFC 9001)',
    version: QUIC_V1,
    clientHeader: 'c300000001088394c8f03e5157080000449e00000002',
    clientSample: 'd1b1c98dd7689fb8ec11d242b123dc9b',
    clientMask: '437b9aec36',
    clientCrypto: V.V1_CLIENT_CRYPTO,
    clientPacket: V.V1_CLIENT_PACKET,
    serverHeader: 'c1000000010008f067a5502a4262b50040750001',
    serverSample: '2cd0991cd25b0aac406a5816b6394100',
    serverMask: '2ec0d8356a',
    serverPayload: V.V1_SERVER_PAYLOAD,
    serverPacket: V.V1_SERVER_PACKET,
    chacha: {
      key: 'c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8',
      iv: 'e0459b3474bdd0e44a41c144',
      hp: '25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4',
      ku: '1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9',
      sample: '5e5cd55c41f69080575d7999c25a5bfb',
      mask: 'aefefe7d03',
      packet: '4cfe4189655e5cd55c41f69080575d7999c25a5bfb',
    },
  },
  {
    name: 'v2 (RFC 9369)',
    version: QUIC_V2,
    clientHeader: 'd36b3343cf088394c8f03e5157080000449e00000002',
    clientSample: 'ffe67b6abcdb4298b485dd04de806071',
    clientMask: '94a0c95e80',
    clientCrypto: V.V2_CLIENT_CRYPTO,
    clientPacket: V.V2_CLIENT_PACKET,
    serverHeader: 'd16b3343cf0008f067a5502a4262b50040750001',
    serverSample: '6f05d8a4398c47089698baeea26b91eb',
    serverMask: '4dd92e91ea',
    serverPayload: V.V2_SERVER_PAYLOAD,
    serverPacket: V.V2_SERVER_PACKET,
    chacha: {
      key: '3bfcddd72bcf02541d7fa0dd1f5f9eeea817e09a6963a0e6c7df0f9a1bab90f2',
      iv: 'a6b5bc6ab7dafce30ffff5dd',
      hp: 'd659760d2ba434a226fd37b35c69e2da8211d10c4f12538787d65645d5d1b8e2',
      ku: 'c69374c49e3d2a9466fa689e49d476db5d0dfbc87d32ceeaa6343fd0ae4c7d88',
      sample: 'e7b6b932bc27d786f4bc2bb20f2162ba',
      mask: '97580e32bf',
      packet: '5558b1c60ae7b6b932bc27d786f4bc2bb20f2162ba',
    },
  },
] as const;

const CHACHA_SECRET = fromHex('9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b');

for (const c of CASES) {
  describe(`sample packet protection ${c.name}`, () => {
    const keys = deriveInitialKeys(c.version, DCID);

    it('A.2: protects the client Initial to the exact 1200 octets', () => {
      const buf = plainPacket(c.clientHeader, clientPayload(c.clientCrypto));
      assert.equal(hex(keys.client.hp.mask(fromHex(c.clientSample)).subarray(0, 5)), c.clientMask);
      const end = protectPacket(buf, 0, 18, 4, 22 + 1162, 2, keys.client);
      assert.equal(end, 1200);
      assert.equal(hex(buf), c.clientPacket);
    });

    it('A.2: the server unprotects the client Initial', () => {
      const buf = fromHex(c.clientPacket);
      const r = unprotectPacket(buf, 0, 18, buf.length, keys.client, -1);
      assert.ok(r);
      assert.equal(r.pn, 2);
      assert.equal(r.pnLength, 4);
      assert.equal(r.headerEnd, 22);
      assert.equal(r.reservedBits, 0);
      assert.equal(r.keyPhase, 0);
      assert.equal(hex(buf.subarray(0, 22)), c.clientHeader);
      assert.equal(hex(r.payload), hex(clientPayload(c.clientCrypto)));
    });

    it('A.3: protects the server Initial', () => {
      const buf = plainPacket(c.serverHeader, fromHex(c.serverPayload));
      assert.equal(hex(keys.server.hp.mask(fromHex(c.serverSample)).subarray(0, 5)), c.serverMask);
      const end = protectPacket(buf, 0, 18, 2, 20 + c.serverPayload.length / 2, 1, keys.server);
      assert.equal(end, buf.length);
      assert.equal(hex(buf), c.serverPacket);
    });

    it('A.3: the client unprotects the server Initial', () => {
      const buf = fromHex(c.serverPacket);
      const r = unprotectPacket(buf, 0, 18, buf.length, keys.server, 2);
      assert.ok(r);
      assert.equal(r.pn, 1);
      assert.equal(r.pnLength, 2);
      assert.equal(hex(buf.subarray(0, 20)), c.serverHeader);
      assert.equal(hex(r.payload), c.serverPayload);
    });

    it('A.5: derives ChaCha20-Poly1305 key, iv, hp and ku', () => {
      const m = derivePacketKeyMaterial(0x1303, CHACHA_SECRET, c.version);
      assert.equal(hex(m.key), c.chacha.key);
      assert.equal(hex(m.iv), c.chacha.iv);
      assert.equal(hex(m.hp), c.chacha.hp);
      assert.equal(hex(deriveNextSecret(0x1303, CHACHA_SECRET, c.version)), c.chacha.ku);
    });

    it('A.5: protects and unprotects the ChaCha20-Poly1305 short header packet', () => {
      const k = derivePacketKeys(0x1303, CHACHA_SECRET, c.version);
      assert.equal(hex(k.hp.mask(fromHex(c.chacha.sample)).subarray(0, 5)), c.chacha.mask);
      const buf = plainPacket('4200bff4', fromHex('01'));
      const end = protectPacket(buf, 0, 1, 3, 5, 654360564, k);
      assert.equal(end, 21);
      assert.equal(hex(buf), c.chacha.packet);
      const rx = derivePacketKeys(0x1303, CHACHA_SECRET, c.version);
      const r = unprotectPacket(buf, 0, 1, 21, rx, 654360563);
      assert.ok(r);
      assert.equal(r.pn, 654360564);
      assert.equal(r.pnLength, 3);
      assert.equal(r.keyPhase, 0);
      assert.equal(r.firstByte, 0x42);
      assert.equal(hex(r.payload), '01');
    });
  });
}
