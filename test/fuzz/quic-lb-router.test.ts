// The QUIC-LB router never throws and always answers with a known target, on random octets and
// on mutations of valid short and long header packets (seeded; PROPERTY_SEED replays).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromHex } from '../../src/common/bytes.js';
import { SeededRandom } from '../../src/common/random.js';
import {
  type FourTuple,
  QuicLbConfig,
  QuicLbConnectionIdGenerator,
  QuicLbRouter,
  type RouteDecision,
  rendezvousFallback,
  unroutableGenerator,
} from '../../src/quic-lb/index.js';
import { checkDecoder } from '../support/property.js';

describe('QuicLbRouter fuzz', () => {
  it('routes 200k random and mutated datagrams without throwing', () => {
    const rng = new SeededRandom(0xf022);
    const key = new Uint8Array(16);
    rng.fill(key);
    const configs = [
      new QuicLbConfig({ configRotation: 0, serverIdLength: 2, nonceLength: 4, key }),
      new QuicLbConfig({ configRotation: 1, serverIdLength: 5, nonceLength: 11, key }),
      new QuicLbConfig({ configRotation: 2, serverIdLength: 1, nonceLength: 4 }),
      new QuicLbConfig({
        configRotation: 3,
        serverIdLength: 10,
        nonceLength: 5,
        key,
        selfEncodeLength: false,
      }),
    ];
    const servers = new Map<string, string>([
      ['0102', 'A'],
      ['0304', 'B'],
      ['0506070809', 'C'],
      ['0a', 'D'],
      ['0b0c0d0e0f1011121314', 'E'],
    ]);
    const router = new QuicLbRouter(configs, servers, rendezvousFallback(servers, 1));
    const targets = new Set(servers.values());

    const corpus: Uint8Array[] = [];
    const pairs: [QuicLbConfig, string][] = [
      [configs[0]!, '0102'],
      [configs[0]!, '0304'],
      [configs[1]!, '0506070809'],
      [configs[2]!, '0a'],
      [configs[3]!, '0b0c0d0e0f1011121314'],
    ];
    for (const [config, sid] of pairs) {
      const gen = new QuicLbConnectionIdGenerator(config, fromHex(sid), { random: rng.fork() });
      for (let i = 0; i < 4; i++) {
        const cid = gen.generate();
        corpus.push(new Uint8Array([0x43, ...cid, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02]));
        corpus.push(
          new Uint8Array([0xc3, 0, 0, 0, 1, cid.length, ...cid, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0x41, 0x00]),
        );
      }
    }
    const unroutable = unroutableGenerator(8, rng.fork());
    corpus.push(new Uint8Array([0x40, ...unroutable.generate(), 1, 2, 3]));

    const tuples: FourTuple[] = [];
    for (let i = 0; i < 64; i++) {
      tuples.push({
        srcAddr: `2001:db8::${i.toString(16)}`,
        srcPort: 1000 + i,
        dstAddr: '2001:db8::1',
        dstPort: 443,
      });
    }
    let byCid = 0;
    let n = 0;
    const check = (_input: Uint8Array, value: unknown) => {
      const d = value as RouteDecision<string>;
      assert.ok(targets.has(d.target), `unknown target ${String(d.target)}`);
      assert.ok(d.reason === 'cid' || d.reason === 'fallback');
      if (d.reason === 'cid') byCid++;
    };
    const route = (input: Uint8Array) => router.route(input, tuples[n++ & 63]!);
    const mutated = checkDecoder('QuicLbRouter.route (mutations)', route, {
      corpus,
      onDecoded: check,
      seed: 0x1b01,
    });
    const random = checkDecoder('QuicLbRouter.route (random)', route, {
      maxLength: 80,
      onDecoded: check,
      seed: 0x1b02,
    });
    // Nothing throws, so every case "decodes"; the mutated corpus keeps many routable CIDs.
    assert.equal(mutated + random, 200_000);
    assert.ok(byCid > 10_000, `only ${byCid} routed by CID`);
  });
});
