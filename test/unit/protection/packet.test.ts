import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hex } from '../../../src/common/bytes.js';
import { SeededRandom } from '../../../src/common/random.js';
import { CIPHER_SUITES, type CipherSuite } from '../../../src/protection/cipher-suites.js';
import { type KeyPhaseSelector, protectPacket, unprotectPacket } from '../../../src/protection/packet.js';
import {
  deriveNextPacketKeys,
  derivePacketKeys,
  type PacketKeys,
} from '../../../src/protection/packet-keys.js';
import { QUIC_V1, QUIC_V2 } from '../../../src/wire/versions.js';
import { checkDecoder } from '../../support/property.js';

const SUITES: CipherSuite[] = [0x1301, 0x1302, 0x1303];

function bytes(rng: SeededRandom, n: number): Uint8Array {
  const b = new Uint8Array(n);
  rng.fill(b);
  return b;
}

function keysFor(suite: CipherSuite, seed: number, version = QUIC_V1): PacketKeys {
  const secret = bytes(new SeededRandom(seed), CIPHER_SUITES[suite].hashLength);
  return derivePacketKeys(suite, secret, version);
}

interface Built {
  buf: Uint8Array;
  pnOffset: number;
  payloadEnd: number;
  plaintext: Uint8Array;
}

/** An unprotected packet: long (Handshake-like) or short header, then the payload and tag room. */
function buildPacket(
  rng: SeededRandom,
  long: boolean,
  firstBits: number,
  payloadLen: number,
  pnLength: number,
): Built {
  const header: number[] = [];
  if (long) {
    header.push(0xc0 | 0x20 | firstBits, 0, 0, 0, 1);
    const dcid = bytes(rng, rng.int(21));
    const scid = bytes(rng, rng.int(21));
    header.push(dcid.length, ...dcid, scid.length, ...scid);
    const len = pnLength + payloadLen + 16;
    header.push(0x40 | (len >> 8), len & 0xff); // Length (2-octet varint)
  } else {
    header.push(0x40 | firstBits, ...bytes(rng, 8));
  }
  const pnOffset = header.length;
  const plaintext = bytes(rng, payloadLen);
  const buf = new Uint8Array(pnOffset + pnLength + payloadLen + 16);
  buf.set(header);
  buf.set(plaintext, pnOffset + pnLength);
  return { buf, pnOffset, payloadEnd: pnOffset + pnLength + payloadLen, plaintext };
}

/** RFC 9000 §17.1 / A.2: enough octets to cover twice the distance to the peer's largest. */
function pnLengthFor(pn: number, largestRx: number): number {
  const range = Math.abs(pn - largestRx) * 2 + 1;
  if (range < 2 ** 8) return 1;
  if (range < 2 ** 16) return 2;
  if (range < 2 ** 24) return 3;
  return 4;
}

describe('protectPacket / unprotectPacket', () => {
  for (const suite of SUITES) {
    for (const version of [QUIC_V1, QUIC_V2]) {
      it(`0x${suite.toString(16)} v${version === QUIC_V1 ? 1 : 2}: round trips at random packet numbers`, () => {
        const rng = new SeededRandom(suite * 31 + version);
        const tx = keysFor(suite, suite, version);
        const rx = keysFor(suite, suite, version);
        for (let i = 0; i < 300; i++) {
          const long = rng.next() < 0.5;
          const largestRx = rng.next() < 0.1 ? -1 : rng.int(2 ** 36);
          const pn = largestRx < 0 ? rng.int(100) : Math.max(0, largestRx + rng.int(1000) - 100);
          const pnLength = Math.max(pnLengthFor(pn, largestRx), 1 + rng.int(4));
          const payloadLen = Math.max(4 - pnLength, 0) + rng.int(1300);
          const b = buildPacket(
            rng,
            long,
            long ? 0 : (rng.int(2) << 5) | (rng.int(2) << 2),
            payloadLen,
            pnLength,
          );
          const plainHeader = b.buf.slice(0, b.pnOffset);
          const end = protectPacket(b.buf, 0, b.pnOffset, pnLength, b.payloadEnd, pn, tx);
          assert.equal(end, b.buf.length);
          const r = unprotectPacket(b.buf, 0, b.pnOffset, end, rx, largestRx);
          assert.ok(r, `packet ${i}`);
          assert.equal(r.pn, pn);
          assert.equal(r.pnLength, pnLength);
          assert.equal(r.headerEnd, b.pnOffset + pnLength);
          assert.equal(r.reservedBits, 0);
          assert.equal(r.keyPhase, long ? 0 : (plainHeader[0]! >> 2) & 1);
          assert.equal(r.firstByte, (plainHeader[0]! & 0xfc) | (pnLength - 1));
          assert.equal(r.keys, rx);
          assert.equal(hex(r.payload), hex(b.plaintext));
          assert.equal(hex(b.buf.subarray(1, b.pnOffset)), hex(plainHeader.subarray(1)));
        }
        assert.equal(tx.aead.sealed, 300);
        assert.equal(rx.aead.openFailures, 0);
      });
    }

    it(`0x${suite.toString(16)}: tampering any octet makes unprotect fail and leaves the buffer as it was`, () => {
      const rng = new SeededRandom(50 + suite);
      const tx = keysFor(suite, 9);
      const rx = keysFor(suite, 9);
      for (const long of [false, true]) {
        const b = buildPacket(rng, long, 0, 24, 2);
        const end = protectPacket(b.buf, 0, b.pnOffset, 2, b.payloadEnd, 1234, tx);
        const sealed = b.buf.slice(0, end);
        for (let i = 0; i < end; i++) {
          for (const flip of [0x01, 0x80, 0x10]) {
            const copy = sealed.slice();
            copy[i]! ^= flip;
            const before = copy.slice();
            assert.equal(unprotectPacket(copy, 0, b.pnOffset, end, rx, 1200), null, `octet ${i} ^ ${flip}`);
            assert.equal(hex(copy), hex(before), 'restored');
          }
        }
        const ok = unprotectPacket(sealed.slice(), 0, b.pnOffset, end, rx, 1200);
        assert.ok(ok);
        assert.equal(ok.pn, 1234);
        // Wrong keys and a misplaced end also fail.
        assert.equal(unprotectPacket(sealed.slice(), 0, b.pnOffset, end, keysFor(suite, 10), 1200), null);
        assert.equal(unprotectPacket(sealed.slice(), 0, b.pnOffset, end - 1, rx, 1200), null);
      }
    });
  }

  it('rejects packets too short to sample without calling the keys', () => {
    const k = keysFor(0x1301, 1);
    let calls = 0;
    const selector: KeyPhaseSelector = {
      hp: k.hp,
      keysFor() {
        calls++;
        return k;
      },
    };
    const buf = new Uint8Array(9 + 4 + 15).fill(0x41);
    assert.equal(unprotectPacket(buf, 0, 9, buf.length, selector, 0), null);
    assert.equal(unprotectPacket(buf, 0, 9, buf.length + 1, selector, 0), null);
    assert.equal(unprotectPacket(buf, 9, 9, buf.length, selector, 0), null);
    assert.equal(calls, 0);
  });

  it('selects keys by key phase and packet number, and reports reserved bits', () => {
    const rng = new SeededRandom(77);
    const current = keysFor(0x1303, 77);
    const next = deriveNextPacketKeys(current, QUIC_V1);
    const rxCurrent = keysFor(0x1303, 77);
    const rxNext = deriveNextPacketKeys(rxCurrent, QUIC_V1);
    const seen: Array<[number, number]> = [];
    const selector: KeyPhaseSelector = {
      hp: rxCurrent.hp,
      keysFor(keyPhase, pn) {
        seen.push([keyPhase, pn]);
        return keyPhase === 0 ? rxCurrent : rxNext;
      },
    };
    const a = buildPacket(rng, false, 0, 30, 2);
    protectPacket(a.buf, 0, a.pnOffset, 2, a.payloadEnd, 10, current);
    const ra = unprotectPacket(a.buf, 0, a.pnOffset, a.buf.length, selector, 9);
    assert.equal(ra?.keyPhase, 0);
    assert.equal(ra?.keys, rxCurrent);

    const b = buildPacket(rng, false, 0x04 | 0x18, 30, 2); // key phase 1, reserved bits set
    protectPacket(b.buf, 0, b.pnOffset, 2, b.payloadEnd, 11, next);
    const rb = unprotectPacket(b.buf, 0, b.pnOffset, b.buf.length, selector, 10);
    assert.ok(rb);
    assert.equal(rb.keyPhase, 1);
    assert.equal(rb.keys, rxNext);
    assert.equal(rb.reservedBits, 3);
    assert.equal(hex(rb.payload), hex(b.plaintext));

    // Key phase 1 but sealed with the current keys: fails, buffer untouched.
    const c = buildPacket(rng, false, 0x04, 30, 2);
    protectPacket(c.buf, 0, c.pnOffset, 2, c.payloadEnd, 12, current);
    const copy = c.buf.slice();
    assert.equal(unprotectPacket(c.buf, 0, c.pnOffset, c.buf.length, selector, 11), null);
    assert.equal(hex(c.buf), hex(copy));
    assert.deepEqual(seen, [
      [0, 10],
      [1, 11],
      [1, 12],
    ]);

    // No keys for the phase: null.
    const none: KeyPhaseSelector = { hp: rxCurrent.hp, keysFor: () => undefined };
    const d = buildPacket(rng, false, 0, 30, 2);
    protectPacket(d.buf, 0, d.pnOffset, 2, d.payloadEnd, 13, current);
    assert.equal(unprotectPacket(d.buf, 0, d.pnOffset, d.buf.length, none, 12), null);

    // Long header reserved bits (0x0c).
    const e = buildPacket(rng, true, 0x0c, 30, 1);
    protectPacket(e.buf, 0, e.pnOffset, 1, e.payloadEnd, 5, current);
    const re = unprotectPacket(e.buf, 0, e.pnOffset, e.buf.length, rxCurrent, 4);
    assert.equal(re?.reservedBits, 3);
  });

  it('works at a non-zero header start (coalesced packets)', () => {
    const rng = new SeededRandom(5);
    const k = keysFor(0x1302, 5);
    const b = buildPacket(rng, true, 0, 50, 4);
    const dgram = new Uint8Array(100 + b.buf.length + 30);
    dgram.set(b.buf, 100);
    const end = protectPacket(dgram, 100, 100 + b.pnOffset, 4, 100 + b.payloadEnd, 0x01020304, k);
    assert.equal(end, 100 + b.buf.length);
    const r = unprotectPacket(dgram, 100, 100 + b.pnOffset, end, keysFor(0x1302, 5), 0x01020300);
    assert.equal(r?.pn, 0x01020304);
    assert.equal(hex(r?.payload ?? new Uint8Array(0)), hex(b.plaintext));
  });

  it('protectPacket rejects payloads too short to sample and bad pn lengths', () => {
    const k = keysFor(0x1301, 2);
    const buf = new Uint8Array(9 + 1 + 2 + 16);
    buf[0] = 0x40;
    assert.throws(() => protectPacket(buf, 0, 9, 1, 12, 0, k), RangeError); // 1 + 2 < 4
    assert.throws(() => protectPacket(buf, 0, 9, 5, 20, 0, k), RangeError);
    assert.equal(protectPacket(new Uint8Array(9 + 4 + 16), 0, 9, 1, 13, 0, k), 29);
  });

  it('never throws on hostile input (property)', () => {
    const rng = new SeededRandom(1234);
    const tx = keysFor(0x1301, 42);
    const rx = keysFor(0x1301, 42);
    const corpus: Uint8Array[] = [];
    const plaintexts = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const pnLength = 1 + rng.int(4);
      const b = buildPacket(rng, false, rng.int(8) << 2, 3 + rng.int(40), pnLength);
      const end = protectPacket(b.buf, 0, 9, pnLength, b.payloadEnd, 1000 + i, tx);
      corpus.push(b.buf.slice(0, end));
      plaintexts.add(hex(b.plaintext));
    }
    let successes = 0;
    const decoded = checkDecoder(
      'unprotectPacket',
      (input) => unprotectPacket(input, 0, 9, input.length, rx, 1000),
      {
        corpus,
        onDecoded: (_input, value) => {
          if (value === null) return;
          successes++;
          assert.ok(plaintexts.has(hex((value as { payload: Uint8Array }).payload)));
        },
      },
    );
    assert.equal(decoded, 100_000);
    assert.ok(successes > 0, 'some unmodified corpus entries decode');
  });
});
