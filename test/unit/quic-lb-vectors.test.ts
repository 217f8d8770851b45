// QUIC-LB test vectors (draft-ietf-quic-load-balancers §5.4.2.2, §5.4.2.4, Appendix B), with
// the errata noted in /work/shared/research/quic-lb-test-vectors.md, and config validation.
import assert from 'node:assert/strict';
import { createSecretKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { fromHex, hex } from '../../src/common/bytes.js';
import type { Random } from '../../src/common/random.js';
import {
  expand,
  type FourPassTrace,
  QuicLbAlgorithm,
  QuicLbCipher,
  QuicLbConfig,
  QuicLbConnectionIdGenerator,
  QuicLbRouter,
  truncate,
} from '../../src/quic-lb/index.js';

/** Random whose fill() hands out the given octets in order (zeros once exhausted). */
class ScriptedRandom implements Random {
  readonly #queue: Uint8Array[];
  constructor(...chunks: string[]) {
    this.#queue = chunks.map(fromHex);
  }
  fill(buf: Uint8Array): void {
    const next = this.#queue.shift();
    buf.fill(0);
    if (next) buf.set(next.subarray(0, buf.length));
  }
  next(): number {
    return 0;
  }
}

const B2_KEY = '8f95f09245765f80256934e50c66207f';
const tuple = { srcAddr: '192.0.2.1', srcPort: 4000, dstAddr: '198.51.100.1', dstPort: 443 };

describe('QUIC-LB helper functions (§5.4.2.2)', () => {
  it('expand(0x06, 0x02, aaba3c)', () => {
    assert.equal(hex(expand(0x06, 0x02, fromHex('aaba3c'))), 'aaba3c00000000000000000000000602');
  });

  it('expand overwrites a reused output block', () => {
    const out = new Uint8Array(16).fill(0xff);
    assert.equal(
      hex(expand(19, 4, fromHex('01020304050607080910'), out)),
      '01020304050607080910000000001304',
    );
    assert.equal(hex(expand(6, 1, fromHex('aabbcc'), out)), 'aabbcc00000000000000000000000601');
  });

  it('truncate(2094842ca49256198c2deaa0ba53caa0, 4)', () => {
    assert.equal(hex(truncate(fromHex('2094842ca49256198c2deaa0ba53caa0'), 4)), '2094842c');
  });
});

describe('QUIC-LB four-pass worked example (§5.4.2.4)', () => {
  const config = new QuicLbConfig({
    configRotation: 0,
    serverIdLength: 3,
    nonceLength: 4,
    key: fromHex('fdf726a9893ec05c0632d3956680baf0'),
  });

  it('reproduces every step', () => {
    const cipher = new QuicLbCipher(config);
    const trace: FourPassTrace = { aesInputs: [], aesOutputs: [] };
    const out = new Uint8Array(7);
    cipher.encrypt(fromHex('31441a9c69c275'), out, 0, trace);
    assert.equal(hex(trace.left0!), '31441a90');
    assert.equal(hex(trace.right0!), '0c69c275');
    assert.deepEqual(trace.aesInputs.map(hex), [
      '31441a90000000000000000000000701',
      '0e3c1ff9000000000000000000000702',
      'd4a04850000000000000000000000703',
      '09be054a000000000000000000000704',
    ]);
    assert.deepEqual(trace.aesOutputs.map(hex), [
      'a255dd8cdacf01948d3a848c3c7fee23',
      'e5e452cb9e1bedb0b2bf830506bf4c4e',
      'b7821ab3024fed0913b6a04d18e3216f',
      'b334357cfdf81e3fafe180154eaf7378',
    ]);
    const xor4 = (a: Uint8Array, b: Uint8Array) => hex(a.map((x, i) => x ^ b[i]!));
    // Step 4 before clearing the high nibble, and after (step 5).
    assert.equal(xor4(trace.right0!, trace.aesOutputs[0]!), 'ae3c1ff9');
    assert.equal(hex(trace.right1!), '0e3c1ff9');
    assert.equal(xor4(fromHex('31441a90'), trace.aesOutputs[1]!), 'd4a0485b'); // step 6
    assert.equal(hex(trace.left1!), 'd4a04850'); // step 7
    assert.equal(xor4(trace.right1!, trace.aesOutputs[2]!), 'b9be054a'); // step 8
    assert.equal(hex(trace.right2!), '09be054a'); // step 9
    // Step 10: erratum, the draft prints the operand as b3e4357c; the AES output is b334357c.
    assert.equal(xor4(trace.left1!, trace.aesOutputs[3]!), '67947d2c');
    assert.equal(hex(trace.left2!), '67947d20'); // step 11
    assert.equal(hex(out), '67947d29be054a'); // step 12 without the first octet
  });

  it('the generator emits 0767947d29be054a and the decoder gets 31441a back in 3 AES calls', () => {
    const gen = new QuicLbConnectionIdGenerator(config, fromHex('31441a'), {
      random: new ScriptedRandom('9c69c275'),
    });
    const cid = gen.generate();
    assert.equal(hex(cid), '0767947d29be054a');
    const cipher = new QuicLbCipher(config);
    const sid = new Uint8Array(3);
    assert.equal(cipher.decryptServerId(cid, 1, sid), true);
    assert.equal(hex(sid), '31441a');
    assert.equal(cipher.aesCalls, 3); // §5.5.2: server ID within left_0
    const pt = new Uint8Array(7);
    assert.equal(cipher.decrypt(cid, 1, pt), true);
    assert.equal(hex(pt), '31441a9c69c275');
    assert.equal(cipher.aesCalls, 3 + 4);
  });
});

describe('QUIC-LB Appendix B.1 (unencrypted)', () => {
  it('row 1: cr 0, sid c4605e, nonce 4504cc4f → 07c4605e4504cc4f', () => {
    const config = new QuicLbConfig({ configRotation: 0, serverIdLength: 3, nonceLength: 4 });
    assert.equal(config.algorithm, QuicLbAlgorithm.Plaintext);
    // The generator fills the whole CID at random, then writes the first octet and server ID.
    const gen = new QuicLbConnectionIdGenerator(config, fromHex('c4605e'), {
      random: new ScriptedRandom('000000004504cc4f'),
    });
    const cid = gen.generate();
    assert.equal(hex(cid), '07c4605e4504cc4f');
    const router = new QuicLbRouter([config], new Map([['c4605e', 'server-a']]), () => 'fallback');
    const packet = new Uint8Array([0x41, ...cid, 1, 2, 3, 4]);
    assert.deepEqual(router.route(packet, tuple), { target: 'server-a', reason: 'cid' });
  });
});

describe('QUIC-LB Appendix B.2 (encrypted)', () => {
  const rows = [
    // cr, sid, nonce, cid, algorithm, AES calls to decode the server ID
    [0, 'ed793a', 'ee080dbf', '0720b1d07b359d3c', QuicLbAlgorithm.FourPass, 3],
    [
      1,
      'ed793a51d49b8f5fab65',
      'ee080dbf48',
      '2fcc381bc74cb4fbad2823a3d1f8fed2',
      QuicLbAlgorithm.FourPass,
      4,
    ],
    [
      2,
      'ed793a51d49b8f5f',
      'ee080dbf48c0d1e5',
      '504dd2d05a7b0de9b2b9907afb5ecf8cc3',
      QuicLbAlgorithm.SinglePass,
      1,
    ],
  ] as const;

  for (const [cr, sidHex, nonceHex, cidHex, algorithm, calls] of rows) {
    it(`row cr=${cr}: encode gives ${cidHex}, decode gives ${sidHex}`, () => {
      const config = new QuicLbConfig({
        configRotation: cr,
        serverIdLength: sidHex.length / 2,
        nonceLength: nonceHex.length / 2,
        key: fromHex(B2_KEY),
      });
      assert.equal(config.algorithm, algorithm);
      const gen = new QuicLbConnectionIdGenerator(config, fromHex(sidHex), {
        random: new ScriptedRandom(nonceHex),
      });
      const cid = gen.generate();
      assert.equal(hex(cid), cidHex);
      assert.equal(gen.validate(cid), true);

      const cipher = new QuicLbCipher(config);
      const sid = new Uint8Array(config.serverIdLength);
      assert.equal(cipher.decryptServerId(fromHex(cidHex), 1, sid), true);
      assert.equal(hex(sid), sidHex);
      assert.equal(cipher.aesCalls, calls);
      const pt = new Uint8Array(config.plaintextLength);
      cipher.decrypt(fromHex(cidHex), 1, pt);
      assert.equal(hex(pt), sidHex + nonceHex);

      const router = new QuicLbRouter([config], new Map([[sidHex, 'server']]), () => 'fallback');
      const packet = new Uint8Array([0x40, ...fromHex(cidHex), 0xaa, 0xbb]);
      assert.deepEqual(router.route(packet, tuple), { target: 'server', reason: 'cid' });
    });
  }

  it('row cr=3 (four-pass, L = 18): octets 1..18 as printed; first octet 72 (printed 12: erratum)', () => {
    const config = new QuicLbConfig({
      configRotation: 3,
      serverIdLength: 9,
      nonceLength: 9,
      key: createSecretKey(Buffer.from(B2_KEY, 'hex')),
    });
    const printed = '125779c9cc86beb3a3a4a3ca96fce4bfe0cdbc';
    const gen = new QuicLbConnectionIdGenerator(config, fromHex('ed793a51d49b8f5fab'), {
      random: new ScriptedRandom('ee080dbf48c0d1e55d'),
    });
    const cid = gen.generate();
    assert.equal(cid[0], (3 << 5) | 18);
    assert.equal(hex(cid.subarray(1)), printed.slice(2));

    const cipher = new QuicLbCipher(config);
    const sid = new Uint8Array(9);
    assert.equal(cipher.decryptServerId(fromHex(printed), 1, sid), true);
    assert.equal(hex(sid), 'ed793a51d49b8f5fab');
    assert.equal(cipher.aesCalls, 3); // sid 9 <= floor(18 / 2)
  });
});

describe('QuicLbConfig validation', () => {
  const base = { configRotation: 0, serverIdLength: 2, nonceLength: 4 };

  it('derives lengths and the algorithm', () => {
    const c = new QuicLbConfig({ ...base, serverUseLength: 3 });
    assert.equal(c.plaintextLength, 6);
    assert.equal(c.cidLength, 10);
    assert.equal(c.selfEncodeLength, true);
    assert.equal(c.key, undefined);
    assert.equal(new QuicLbConfig({ ...base, key: new Uint8Array(16) }).algorithm, QuicLbAlgorithm.FourPass);
    assert.equal(
      new QuicLbConfig({ ...base, nonceLength: 14, key: new Uint8Array(16) }).algorithm,
      QuicLbAlgorithm.SinglePass,
    );
    assert.equal(new QuicLbConfig({ ...base, selfEncodeLength: false }).selfEncodeLength, false);
  });

  it('rejects out-of-range parameters with RangeError', () => {
    const bad = [
      { ...base, configRotation: 7 },
      { ...base, configRotation: -1 },
      { ...base, configRotation: 1.5 },
      { ...base, serverIdLength: 0 },
      { ...base, serverIdLength: 16, nonceLength: 4 },
      { ...base, nonceLength: 3 },
      { ...base, nonceLength: 19 },
      { ...base, serverIdLength: 2, nonceLength: 18 },
      { ...base, serverIdLength: 10, nonceLength: 10 },
      { ...base, serverUseLength: -1 },
      { ...base, serverIdLength: 5, nonceLength: 10, serverUseLength: 5 },
      { ...base, key: new Uint8Array(15) },
      { ...base, key: createSecretKey(Buffer.alloc(32)) },
    ];
    for (const options of bad) assert.throws(() => new QuicLbConfig(options), RangeError);
    // The largest CID that fits QUIC v1: 1 + 19 or 1 + 15 + 4 server-use octets... within 20.
    assert.equal(
      new QuicLbConfig({ ...base, serverIdLength: 5, nonceLength: 10, serverUseLength: 4 }).cidLength,
      20,
    );
  });

  it('copies key bytes once at construction', () => {
    const key = fromHex(B2_KEY);
    const config = new QuicLbConfig({ configRotation: 0, serverIdLength: 3, nonceLength: 4, key });
    key.fill(0);
    const out = new Uint8Array(7);
    new QuicLbCipher(config).encrypt(fromHex('ed793aee080dbf'), out, 0);
    assert.equal(hex(out), '20b1d07b359d3c');
  });
});
