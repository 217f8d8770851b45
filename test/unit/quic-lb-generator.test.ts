// QUIC-LB connection ID generators: uniqueness, validate(), first octet, nonce counter and its
// exhaustion, unroutable CIDs (draft-ietf-quic-load-balancers §3, §5.4, §9.6).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromHex, hex } from '../../src/common/bytes.js';
import { SeededRandom } from '../../src/common/random.js';
import {
  QuicLbCipher,
  QuicLbConfig,
  QuicLbConnectionIdGenerator,
  QuicLbNonceExhaustedError,
  UnroutableConnectionIdGenerator,
  unroutableGenerator,
} from '../../src/quic-lb/index.js';

const KEY = fromHex('000102030405060708090a0b0c0d0e0f');

function distinct(gen: { generate(): Uint8Array }, n: number): number {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add(hex(gen.generate()));
  return seen.size;
}

describe('QuicLbConnectionIdGenerator', () => {
  it('makes 100k distinct CIDs with a key (four-pass, nonce counter)', () => {
    const config = new QuicLbConfig({ configRotation: 1, serverIdLength: 2, nonceLength: 4, key: KEY });
    const gen = new QuicLbConnectionIdGenerator(config, fromHex('abcd'), { random: new SeededRandom(1) });
    assert.equal(distinct(gen, 100_000), 100_000);
  });

  it('makes 100k distinct CIDs with a key (single-pass)', () => {
    const config = new QuicLbConfig({ configRotation: 2, serverIdLength: 4, nonceLength: 12, key: KEY });
    const gen = new QuicLbConnectionIdGenerator(config, fromHex('01020304'), { random: new SeededRandom(2) });
    assert.equal(distinct(gen, 100_000), 100_000);
  });

  it('makes 100k distinct plaintext CIDs with an 8-octet random nonce', () => {
    const config = new QuicLbConfig({ configRotation: 0, serverIdLength: 3, nonceLength: 8 });
    const gen = new QuicLbConnectionIdGenerator(config, fromHex('a1b2c3'), { random: new SeededRandom(3) });
    assert.equal(distinct(gen, 100_000), 100_000);
    assert.equal(gen.sendNewConnectionIds, false); // §9: plaintext, Initial SCID only
    assert.equal(gen.noncesRemaining, Number.POSITIVE_INFINITY);
  });

  it('writes config rotation bits and the self-encoded length (§3.1, §3.3)', () => {
    for (let cr = 0; cr <= 6; cr++) {
      const config = new QuicLbConfig({
        configRotation: cr,
        serverIdLength: 3,
        nonceLength: 5,
        serverUseLength: 2,
        key: KEY,
      });
      const gen = new QuicLbConnectionIdGenerator(config, fromHex('0a0b0c'), {
        random: new SeededRandom(cr),
      });
      assert.equal(gen.length, 11);
      for (let i = 0; i < 20; i++) {
        const cid = gen.generate();
        assert.equal(cid.length, 11);
        assert.equal(cid[0], (cr << 5) | 10);
      }
    }
  });

  it('randomises the low 5 bits when the length is not self-encoded (§3.3)', () => {
    const config = new QuicLbConfig({
      configRotation: 5,
      serverIdLength: 2,
      nonceLength: 6,
      key: KEY,
      selfEncodeLength: false,
    });
    const gen = new QuicLbConnectionIdGenerator(config, fromHex('0102'), { random: new SeededRandom(9) });
    const low = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const cid = gen.generate();
      assert.equal(cid[0]! >> 5, 5);
      low.add(cid[0]! & 0x1f);
      assert.equal(gen.validate(cid), true);
    }
    assert.equal(low.size, 32);
  });

  it('appends random server-use octets that decoding ignores (§5.4)', () => {
    const config = new QuicLbConfig({
      configRotation: 0,
      serverIdLength: 2,
      nonceLength: 5,
      serverUseLength: 3,
      key: KEY,
    });
    const gen = new QuicLbConnectionIdGenerator(config, fromHex('beef'), { random: new SeededRandom(4) });
    const tails = new Set<string>();
    const cipher = new QuicLbCipher(config);
    const sid = new Uint8Array(2);
    for (let i = 0; i < 200; i++) {
      const cid = gen.generate();
      tails.add(hex(cid.subarray(8)));
      assert.equal(cipher.decryptServerId(cid, 1, sid), true);
      assert.equal(hex(sid), 'beef');
    }
    assert.ok(tails.size > 190, `server-use octets repeat: ${tails.size}`);
  });

  it('validate: true only for our config rotation and server ID', () => {
    const opts = { serverIdLength: 2, nonceLength: 6, key: KEY };
    const ours = new QuicLbConfig({ configRotation: 1, ...opts });
    const theirs = new QuicLbConfig({ configRotation: 2, ...opts });
    const gen = new QuicLbConnectionIdGenerator(ours, fromHex('1111'), { random: new SeededRandom(5) });
    const peer = new QuicLbConnectionIdGenerator(ours, fromHex('2222'), { random: new SeededRandom(6) });
    const otherCr = new QuicLbConnectionIdGenerator(theirs, fromHex('1111'), { random: new SeededRandom(7) });
    for (let i = 0; i < 100; i++) {
      const cid = gen.generate();
      assert.equal(gen.validate(cid), true);
      assert.equal(peer.validate(cid), false);
      assert.equal(gen.validate(peer.generate()), false);
      assert.equal(gen.validate(otherCr.generate()), false);
      assert.equal(gen.validate(cid.subarray(0, 8)), false);
      assert.equal(gen.validate(new Uint8Array([...cid, 0])), false);
      const badLength = cid.slice();
      badLength[0] = (1 << 5) | 7; // self-encoded length disagrees
      assert.equal(gen.validate(badLength), false);
      const cr7 = cid.slice();
      cr7[0] = 0xe0 | 8;
      assert.equal(gen.validate(cr7), false);
    }
    assert.equal(gen.validate(new Uint8Array(0)), false);
  });

  it('validate on plaintext CIDs checks the clear server ID', () => {
    const config = new QuicLbConfig({ configRotation: 3, serverIdLength: 2, nonceLength: 4 });
    const gen = new QuicLbConnectionIdGenerator(config, fromHex('c0de'), { random: new SeededRandom(8) });
    const cid = gen.generate();
    assert.equal(hex(cid.subarray(0, 3)), '66c0de'); // (3 << 5) | 6
    assert.equal(gen.validate(cid), true);
    cid[2]! ^= 1;
    assert.equal(gen.validate(cid), false);
  });

  it('uses the nonce as a counter from a random start (§9.6)', () => {
    const config = new QuicLbConfig({ configRotation: 0, serverIdLength: 3, nonceLength: 5, key: KEY });
    const gen = new QuicLbConnectionIdGenerator(config, fromHex('010203'), { random: new SeededRandom(10) });
    const start = gen.nonceState().start;
    const cipher = new QuicLbCipher(config);
    const pt = new Uint8Array(8);
    let expected = BigInt(`0x${hex(start)}`);
    assert.notEqual(expected, 0n);
    for (let i = 0; i < 300; i++) {
      cipher.decrypt(gen.generate(), 1, pt);
      assert.equal(hex(pt.subarray(0, 3)), '010203');
      assert.equal(BigInt(`0x${hex(pt.subarray(3))}`), expected);
      expected = (expected + 1n) % 2n ** 40n;
    }
    assert.equal(gen.noncesRemaining, 2 ** 40 - 300);
  });

  it('detects nonce exhaustion when the counter wraps back to its start', () => {
    const config = new QuicLbConfig({ configRotation: 0, serverIdLength: 2, nonceLength: 4, key: KEY });
    const gen = new QuicLbConnectionIdGenerator(config, fromHex('0a0b'), {
      nonceState: { start: fromHex('00000001'), next: fromHex('fffffffe'), exhausted: false },
    });
    const cipher = new QuicLbCipher(config);
    const pt = new Uint8Array(6);
    assert.equal(gen.noncesRemaining, 3);
    const nonces: string[] = [];
    for (let i = 0; i < 3; i++) {
      cipher.decrypt(gen.generate(), 1, pt);
      nonces.push(hex(pt.subarray(2)));
    }
    assert.deepEqual(nonces, ['fffffffe', 'ffffffff', '00000000']);
    assert.equal(gen.exhausted, true);
    assert.equal(gen.noncesRemaining, 0);
    assert.throws(
      () => gen.generate(),
      (e: unknown) => e instanceof QuicLbNonceExhaustedError && e.code === 'ERR_QUIC_LB_NONCE_EXHAUSTED',
    );
    assert.deepEqual(gen.nonceState(), {
      start: fromHex('00000001'),
      next: fromHex('00000001'),
      exhausted: true,
    });
    // A restored exhausted state stays exhausted.
    const resumed = new QuicLbConnectionIdGenerator(config, fromHex('0a0b'), {
      nonceState: gen.nonceState(),
    });
    assert.throws(() => resumed.generate(), QuicLbNonceExhaustedError);
  });

  it('a fresh counter has the whole nonce space', () => {
    const config = new QuicLbConfig({ configRotation: 0, serverIdLength: 2, nonceLength: 4, key: KEY });
    const gen = new QuicLbConnectionIdGenerator(config, fromHex('0a0b'), { random: new SeededRandom(11) });
    assert.equal(gen.noncesRemaining, 2 ** 32);
    gen.generate();
    assert.equal(gen.noncesRemaining, 2 ** 32 - 1);
    assert.equal(gen.sendNewConnectionIds, true);
    assert.equal(gen.disableActiveMigration, false);
  });

  it('rejects a server ID of the wrong length and misuse of nonceState', () => {
    const keyed = new QuicLbConfig({ configRotation: 0, serverIdLength: 2, nonceLength: 4, key: KEY });
    const plain = new QuicLbConfig({ configRotation: 0, serverIdLength: 2, nonceLength: 4 });
    assert.throws(() => new QuicLbConnectionIdGenerator(keyed, fromHex('0a0b0c')), RangeError);
    const state = { start: new Uint8Array(4), next: new Uint8Array(4), exhausted: false };
    assert.throws(
      () => new QuicLbConnectionIdGenerator(plain, fromHex('0a0b'), { nonceState: state }),
      RangeError,
    );
    assert.throws(
      () =>
        new QuicLbConnectionIdGenerator(keyed, fromHex('0a0b'), {
          nonceState: { ...state, next: new Uint8Array(5) },
        }),
      RangeError,
    );
  });

  it('passes lifetime through only when given', () => {
    const config = new QuicLbConfig({ configRotation: 0, serverIdLength: 2, nonceLength: 4, key: KEY });
    assert.equal(new QuicLbConnectionIdGenerator(config, fromHex('0a0b'), { lifetime: 5e6 }).lifetime, 5e6);
    assert.equal('lifetime' in new QuicLbConnectionIdGenerator(config, fromHex('0a0b')), false);
  });
});

describe('unroutableGenerator (§3.2, §4.1)', () => {
  it('issues CR 0b111 CIDs with a self-encoded length and random octets', () => {
    const gen = unroutableGenerator(8, new SeededRandom(12));
    assert.ok(gen instanceof UnroutableConnectionIdGenerator);
    assert.equal(gen.length, 8);
    assert.equal(gen.sendNewConnectionIds, false);
    assert.equal(gen.disableActiveMigration, true);
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const cid = gen.generate();
      assert.equal(cid[0], 0xe7);
      assert.equal(gen.validate(cid), true);
      seen.add(hex(cid));
    }
    assert.equal(seen.size, 10_000);
    const g20 = unroutableGenerator(20, new SeededRandom(13), 1e6);
    assert.equal(g20.generate()[0], 0xe0 | 19);
    assert.equal(g20.lifetime, 1e6);
  });

  it('validate rejects other lengths and first octets', () => {
    const gen = unroutableGenerator(10, new SeededRandom(14));
    const cid = gen.generate();
    assert.equal(gen.validate(cid.subarray(0, 9)), false);
    const other = cid.slice();
    other[0] = 0xc9;
    assert.equal(gen.validate(other), false);
  });

  it('rejects lengths outside 8..20', () => {
    for (const n of [0, 7, 21, 8.5]) assert.throws(() => unroutableGenerator(n), RangeError);
  });
});
