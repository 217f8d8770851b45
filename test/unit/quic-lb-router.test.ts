// QUIC-LB router: CID routing for short and long headers, unroutable cases, the baseline
// fallback (draft-ietf-quic-load-balancers §4, §5.5, §8).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromHex } from '../../src/common/bytes.js';
import { SeededRandom } from '../../src/common/random.js';
import {
  type FourTuple,
  firstFlightFallback,
  fourTupleHash,
  QuicLbConfig,
  QuicLbConnectionIdGenerator,
  QuicLbRouter,
  rendezvousFallback,
  unroutableGenerator,
} from '../../src/quic-lb/index.js';

const rng = new SeededRandom(0x1b);
const KEY0 = fromHex('8f95f09245765f80256934e50c66207f');
const KEY1 = fromHex('fdf726a9893ec05c0632d3956680baf0');

const configs = [
  new QuicLbConfig({ configRotation: 0, serverIdLength: 2, nonceLength: 6, key: KEY0 }), // four-pass, even
  new QuicLbConfig({ configRotation: 1, serverIdLength: 4, nonceLength: 12, key: KEY1 }), // single-pass
  new QuicLbConfig({ configRotation: 2, serverIdLength: 3, nonceLength: 8, serverUseLength: 2 }), // plaintext
  new QuicLbConfig({ configRotation: 4, serverIdLength: 9, nonceLength: 8, key: KEY1 }), // four-pass, odd, 4 calls
];
const servers = new Map<string, string>([
  ['a1b2', 'A'],
  ['c3d4', 'B'],
  ['0a0b0c0d', 'C'],
  ['1a1b1c1d', 'D'],
  ['e0e1e2', 'E'],
  ['010203040506070809', 'F'],
]);
const allowedLengths = new Map([
  [0, 2],
  [1, 4],
  [2, 3],
  [4, 9],
]);
const fallback = rendezvousFallback(servers, 0x5eed);
const router = new QuicLbRouter(configs, servers, fallback);
const tuple: FourTuple = { srcAddr: '203.0.113.7', srcPort: 51_000, dstAddr: '198.51.100.1', dstPort: 443 };

function bytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  rng.fill(b);
  return b;
}

function shortHeader(dcid: Uint8Array): Uint8Array {
  return new Uint8Array([0x40 | (rng.u32() & 0x3f), ...dcid, ...bytes(24)]);
}

function longHeader(dcid: Uint8Array, version = 0x00000001, dcidLen = dcid.length): Uint8Array {
  const scid = bytes(8);
  return new Uint8Array([
    0xc0 | (rng.u32() & 0x3f),
    version >>> 24,
    (version >>> 16) & 0xff,
    (version >>> 8) & 0xff,
    version & 0xff,
    dcidLen,
    ...dcid,
    scid.length,
    ...scid,
    ...bytes(30),
  ]);
}

function generatorFor(sidHex: string): QuicLbConnectionIdGenerator {
  const sid = fromHex(sidHex);
  for (const c of configs) {
    if (allowedLengths.get(c.configRotation) === sid.length) {
      return new QuicLbConnectionIdGenerator(c, sid, { random: rng.fork() });
    }
  }
  throw new Error(`no config for ${sidHex}`);
}

describe('QuicLbRouter', () => {
  it('routes short-header packets by CID to the server that generated it', () => {
    for (const [sidHex, target] of servers) {
      const gen = generatorFor(sidHex);
      for (let i = 0; i < 200; i++) {
        assert.deepEqual(router.route(shortHeader(gen.generate()), tuple), { target, reason: 'cid' });
      }
    }
  });

  it('routes long-header packets by DCID, whatever the version (§8, RFC 8999)', () => {
    for (const [sidHex, target] of servers) {
      const gen = generatorFor(sidHex);
      for (const version of [0x00000001, 0x6b3343cf, 0x1a2a3a4a, 0]) {
        assert.deepEqual(router.route(longHeader(gen.generate(), version), tuple), { target, reason: 'cid' });
      }
    }
  });

  it('falls back for an unknown server ID', () => {
    const stranger = new QuicLbConnectionIdGenerator(configs[0]!, fromHex('ffff'), { random: rng.fork() });
    for (let i = 0; i < 50; i++) {
      const d = router.route(shortHeader(stranger.generate()), tuple);
      assert.equal(d.reason, 'fallback');
      assert.equal(d.target, fallback(tuple));
    }
  });

  it('falls back for CR 0b111 and for a codepoint without config', () => {
    const unroutable = unroutableGenerator(20, rng.fork());
    const noConfig = new QuicLbConnectionIdGenerator(
      new QuicLbConfig({ configRotation: 3, serverIdLength: 2, nonceLength: 6, key: KEY0 }),
      fromHex('a1b2'),
      { random: rng.fork() },
    );
    for (let i = 0; i < 50; i++) {
      assert.equal(router.route(shortHeader(unroutable.generate()), tuple).reason, 'fallback');
      assert.equal(router.route(longHeader(unroutable.generate()), tuple).reason, 'fallback');
      assert.equal(router.route(shortHeader(noConfig.generate()), tuple).reason, 'fallback');
    }
  });

  it('falls back for client-chosen Initial DCIDs too short to decode (§4.1)', () => {
    for (let i = 0; i < 200; i++) {
      const d = router.route(longHeader(bytes(8)), tuple);
      assert.deepEqual(d, { target: fallback(tuple), reason: 'fallback' });
    }
  });

  it('falls back for truncated and empty datagrams', () => {
    const gen = generatorFor('a1b2');
    const cid = gen.generate();
    const short = shortHeader(cid);
    const long = longHeader(cid);
    assert.equal(router.route(short, tuple).reason, 'cid');
    assert.equal(router.route(long, tuple).reason, 'cid');
    // Short header: the DCID needs 1 + 2 + 6 octets after the first octet.
    for (let n = 0; n <= cid.length; n++) {
      assert.equal(router.route(short.subarray(0, n), tuple).reason, 'fallback', `short ${n}`);
    }
    // Long header: cut anywhere inside the version, the length octet or the DCID.
    for (let n = 0; n < 6 + cid.length; n++) {
      assert.equal(router.route(long.subarray(0, n), tuple).reason, 'fallback', `long ${n}`);
    }
    assert.equal(router.route(long.subarray(0, 6 + cid.length), tuple).reason, 'cid');
  });

  it('falls back when the long header DCID length disagrees with the self-encoded length (§4.1)', () => {
    const cid = generatorFor('c3d4').generate();
    assert.equal(router.route(longHeader(new Uint8Array([...cid, 0x00])), tuple).reason, 'fallback');
    assert.equal(router.route(longHeader(cid.subarray(0, 8)), tuple).reason, 'fallback');
    const bad = cid.slice();
    bad[0] = (bad[0]! & 0xe0) | 4; // claims 5 octets: too short for the decoder
    assert.equal(router.route(shortHeader(bad), tuple).reason, 'fallback');
  });

  it('uses the config length for short headers when lengths are not self-encoded', () => {
    const config = new QuicLbConfig({
      configRotation: 6,
      serverIdLength: 2,
      nonceLength: 5,
      key: KEY0,
      selfEncodeLength: false,
    });
    const r = new QuicLbRouter([config], new Map([['7777', 'X']]), () => 'fb');
    const gen = new QuicLbConnectionIdGenerator(config, fromHex('7777'), { random: rng.fork() });
    for (let i = 0; i < 100; i++) {
      assert.deepEqual(r.route(shortHeader(gen.generate()), tuple), { target: 'X', reason: 'cid' });
      assert.deepEqual(r.route(longHeader(gen.generate()), tuple), { target: 'X', reason: 'cid' });
    }
  });

  it('rejects bad construction arguments', () => {
    assert.throws(() => new QuicLbRouter([configs[0]!, configs[0]!], servers, fallback), RangeError);
    assert.throws(() => new QuicLbRouter(configs, new Map([['xyz', 'A']]), fallback), RangeError);
    assert.throws(() => new QuicLbRouter(configs, new Map([['', 'A']]), fallback), RangeError);
    assert.throws(
      () =>
        new QuicLbRouter(
          configs,
          new Map([
            ['ABCD', 'A'],
            ['abcd', 'B'],
          ]),
          fallback,
        ),
      RangeError,
    );
    assert.throws(() => rendezvousFallback(new Map(), 1), RangeError);
  });
});

describe('baseline fallback (§4.3.1)', () => {
  function randomTuple(r: SeededRandom): FourTuple {
    return {
      srcAddr: `10.${r.int(256)}.${r.int(256)}.${r.int(256)}`,
      srcPort: 1024 + r.int(64_000),
      dstAddr: '198.51.100.1',
      dstPort: 443,
    };
  }

  it('is stable for one 4-tuple whatever the datagram', () => {
    const t = randomTuple(new SeededRandom(1));
    const first = router.route(longHeader(bytes(8)), t).target;
    for (let i = 0; i < 500; i++) {
      const d = router.route(i % 2 ? longHeader(bytes(8)) : bytes(rng.int(40)), t);
      if (d.reason === 'fallback') assert.equal(d.target, first);
    }
    // A fresh fallback with the same seed agrees (another load balancer of the pool).
    assert.equal(rendezvousFallback(servers, 0x5eed)(t), first);
    assert.equal(fourTupleHash(t, 7), fourTupleHash({ ...t }, 7));
  });

  it('spreads 4-tuples evenly over the servers', () => {
    const r = new SeededRandom(2);
    const counts = new Map<string, number>();
    const n = 12_000;
    for (let i = 0; i < n; i++) {
      const target = router.route(longHeader(bytes(8)), randomTuple(r)).target;
      counts.set(target, (counts.get(target) ?? 0) + 1);
    }
    assert.equal(counts.size, servers.size);
    for (const [target, c] of counts) {
      assert.ok(Math.abs(c - n / servers.size) < 0.1 * (n / servers.size), `${target}: ${c}`);
    }
  });

  it('moves only the removed server’s flows when the pool shrinks (rendezvous hashing)', () => {
    const smaller = new Map(servers);
    smaller.delete('c3d4');
    const before = rendezvousFallback(servers, 0x5eed);
    const after = rendezvousFallback(smaller, 0x5eed);
    const r = new SeededRandom(3);
    let moved = 0;
    for (let i = 0; i < 5000; i++) {
      const t = randomTuple(r);
      const b = before(t);
      if (b === 'B') moved++;
      else assert.equal(after(t), b);
      assert.notEqual(after(t), 'B');
    }
    assert.ok(moved > 500, `moved ${moved}`);
  });

  it('depends on every field of the 4-tuple and on the seed', () => {
    const t: FourTuple = { srcAddr: '192.0.2.1', srcPort: 1000, dstAddr: '192.0.2.2', dstPort: 443 };
    const h = fourTupleHash(t, 1);
    assert.notEqual(fourTupleHash({ ...t, srcAddr: '192.0.2.3' }, 1), h);
    assert.notEqual(fourTupleHash({ ...t, srcPort: 1001 }, 1), h);
    assert.notEqual(fourTupleHash({ ...t, dstAddr: '192.0.2.4' }, 1), h);
    assert.notEqual(fourTupleHash({ ...t, dstPort: 444 }, 1), h);
    assert.notEqual(fourTupleHash(t, 2), h);
  });
});

describe('first-flight fallback (§4.3.2, no table)', () => {
  const pool = new Map([
    ['01', 'A'],
    ['02', 'B'],
    ['03', 'C'],
    ['04', 'D'],
  ]);
  const longHeader = (version: number, dcid: Uint8Array, type = 0xc0): Uint8Array => {
    const d = new Uint8Array(7 + dcid.length + 40);
    d[0] = type;
    new DataView(d.buffer).setUint32(1, version);
    d[5] = dcid.length;
    d.set(dcid, 6);
    return d;
  };
  const tuple = (port: number): FourTuple => ({
    srcAddr: '192.0.2.7',
    srcPort: port,
    dstAddr: '203.0.113.1',
    dstPort: 443,
  });

  it('sends every v1/v2 long header with the same client DCID to one server, from any 4-tuple', () => {
    const fb = firstFlightFallback(pool, 11);
    const r = new SeededRandom(5);
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const dcid = new Uint8Array(8);
      r.fill(dcid);
      for (const version of [0x00000001, 0x6b3343cf]) {
        const initial = fb(tuple(1000 + i), longHeader(version, dcid, 0xc0));
        const zeroRtt = fb(tuple(40_000 + i), longHeader(version, dcid, 0xd0)); // a replay from elsewhere
        assert.equal(zeroRtt, initial);
        seen.add(initial);
      }
    }
    assert.equal(seen.size, 4, 'client DCIDs spread over every server');
  });

  it('uses the 4-tuple baseline for unknown versions and short headers (§4.3.2 MUST)', () => {
    const baseline = rendezvousFallback(pool, 11);
    const fb = firstFlightFallback(pool, 11, baseline);
    const dcid = fromHex('0102030405060708');
    for (let port = 1; port < 200; port++) {
      assert.equal(fb(tuple(port), longHeader(0x1a2a3a4a, dcid)), baseline(tuple(port)));
      assert.equal(fb(tuple(port), Uint8Array.of(0x40, 1, 2, 3)), baseline(tuple(port)));
      assert.equal(fb(tuple(port), new Uint8Array(0)), baseline(tuple(port)));
    }
  });

  it('removing a server moves only the client DCIDs that hashed to it', () => {
    const fb = firstFlightFallback(pool, 3);
    const smaller = new Map([...pool].filter(([id]) => id !== '02'));
    const fb2 = firstFlightFallback(smaller, 3);
    const r = new SeededRandom(9);
    for (let i = 0; i < 500; i++) {
      const dcid = new Uint8Array(8);
      r.fill(dcid);
      const d = longHeader(1, dcid);
      const before = fb(tuple(1), d);
      if (before !== 'B') assert.equal(fb2(tuple(1), d), before);
    }
  });
});
