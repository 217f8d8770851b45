// QUIC-LB round trip: for every allowed (server ID length, nonce length) pair, with and without
// a key, encode → decode returns the server ID (and the whole plaintext), and a router built from
// the config routes the generated CIDs to their server. Seeded (PROPERTY_SEED replays).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hex } from '../../src/common/bytes.js';
import { SeededRandom } from '../../src/common/random.js';
import {
  QuicLbAlgorithm,
  QuicLbCipher,
  QuicLbConfig,
  QuicLbConnectionIdGenerator,
  QuicLbRouter,
} from '../../src/quic-lb/index.js';

const seed = Number(process.env.PROPERTY_SEED ?? 0x1b1b) >>> 0;
const CASES_PER_CONFIG = 50;
const tuple = { srcAddr: '192.0.2.9', srcPort: 9, dstAddr: '192.0.2.10', dstPort: 443 };

describe('QUIC-LB encode/decode round trip', () => {
  it('returns the server ID for every length combination, keyed and plaintext', () => {
    const rng = new SeededRandom(seed);
    let cases = 0;
    const byAlgorithm = new Map<string, number>();
    for (let sidLen = 1; sidLen <= 15; sidLen++) {
      for (let nonceLen = 4; sidLen + nonceLen <= 19; nonceLen++) {
        for (const keyed of [true, false]) {
          const key = new Uint8Array(16);
          rng.fill(key);
          const config = new QuicLbConfig({
            configRotation: rng.int(7),
            serverIdLength: sidLen,
            nonceLength: nonceLen,
            ...(keyed ? { key } : {}),
            serverUseLength: rng.int(20 - 1 - sidLen - nonceLen + 1),
          });
          const L = sidLen + nonceLen;
          const kind =
            config.algorithm === QuicLbAlgorithm.FourPass
              ? `four-pass-${L % 2 ? 'odd' : 'even'}`
              : config.algorithm;
          const cipher = new QuicLbCipher(config);
          const pt = new Uint8Array(L);
          const ct = new Uint8Array(L + 3);
          const back = new Uint8Array(L);
          const sid = new Uint8Array(sidLen);
          for (let i = 0; i < CASES_PER_CONFIG; i++) {
            rng.fill(pt);
            cipher.encrypt(pt, ct, 3);
            cipher.aesCalls = 0;
            assert.equal(cipher.decryptServerId(ct, 3, sid), true);
            assert.equal(
              hex(sid),
              hex(pt.subarray(0, sidLen)),
              `sid ${sidLen} nonce ${nonceLen} keyed ${keyed}`,
            );
            if (config.algorithm === QuicLbAlgorithm.FourPass) {
              // §5.5.2: 3 passes when the server ID fits in left_0, else 4.
              assert.equal(cipher.aesCalls, sidLen <= L >> 1 ? 3 : 4);
            }
            assert.equal(cipher.decrypt(ct, 3, back), true);
            assert.equal(hex(back), hex(pt));
            if (keyed) assert.notEqual(hex(ct.subarray(3)), hex(pt)); // (2^-8L chance of equality)
            cases++;
            byAlgorithm.set(kind, (byAlgorithm.get(kind) ?? 0) + 1);
          }
          // Through the generator and a router.
          const serverId = pt.slice(0, sidLen);
          const gen = new QuicLbConnectionIdGenerator(config, serverId, { random: rng.fork() });
          const router = new QuicLbRouter([config], new Map([[hex(serverId), 'S']]), () => 'F');
          for (let i = 0; i < 5; i++) {
            const cid = gen.generate();
            assert.equal(cid.length, 1 + L + config.serverUseLength);
            assert.equal(gen.validate(cid), true);
            const packet = new Uint8Array(1 + cid.length + 4);
            packet[0] = 0x41;
            packet.set(cid, 1);
            assert.deepEqual(router.route(packet, tuple), { target: 'S', reason: 'cid' });
          }
        }
      }
    }
    assert.ok(cases >= 10_000, `${cases} cases`);
    assert.deepEqual([...byAlgorithm.keys()].sort(), [
      'four-pass-even',
      'four-pass-odd',
      'plaintext',
      'single-pass',
    ]);
  });
});
