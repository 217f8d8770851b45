// Property tests of the wire decoders: random and mutated inputs must decode or throw a
// TransportError, nothing else; valid frames re-encode to the same octets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hex } from '../../src/common/bytes.js';
import type { Role } from '../../src/common/levels.js';
import { SeededRandom } from '../../src/common/random.js';
import { decodeFrame, encodeFrame, type Frame } from '../../src/wire/frames.js';
import {
  type LongPacketType,
  MAX_CONNECTION_ID_LENGTH,
  type PacketHeader,
  parseHeader,
  patchLength,
  writeLongHeader,
  writeShortHeader,
} from '../../src/wire/header.js';
import { writePacketNumber } from '../../src/wire/packet-number.js';
import { BufferReader } from '../../src/wire/reader.js';
import {
  decodeTransportParameters,
  defaultTransportParameters,
  encodeTransportParameters,
  type TransportParameters,
} from '../../src/wire/transport-params.js';
import { decodeVersionNegotiation, encodeVersionNegotiation } from '../../src/wire/version-negotiation.js';
import { QUIC_V1, QUIC_V2 } from '../../src/wire/versions.js';
import { BufferWriter } from '../../src/wire/writer.js';
import { checkDecoder } from '../support/property.js';
import { randomBytes, randomFrame, randomVarint } from '../unit/wire/frame-gen.js';

const CASES = 100_000;

function encodePayload(frames: Frame[]): Uint8Array {
  const w = new BufferWriter(64);
  frames.forEach((f, i) => {
    encodeFrame(w, f, i === frames.length - 1);
  });
  return w.finish();
}

function decodePayload(input: Uint8Array): Frame[] {
  const r = new BufferReader(input);
  const out: Frame[] = [];
  while (!r.done) out.push(decodeFrame(r));
  return out;
}

function randomPayload(rng: SeededRandom): Uint8Array {
  const frames: Frame[] = [];
  const n = 1 + rng.int(4);
  for (let i = 0; i < n; i++) frames.push(randomFrame(rng));
  return encodePayload(frames);
}

/** Largest number in decoded frames: above 2^53 values are inexact doubles, not re-encodable. */
function maxNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (Array.isArray(v)) return v.reduce((m: number, x) => Math.max(m, maxNumber(x)), 0);
  if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
    return Object.values(v).reduce((m: number, x) => Math.max(m, maxNumber(x)), 0);
  }
  return 0;
}

/** A frame with byte views turned into arrays (views of different buffers compare by content). */
function plain(f: Frame): unknown {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f)) out[k] = v instanceof Uint8Array ? Array.from(v) : v;
  return out;
}

function randomCid(rng: SeededRandom, max = MAX_CONNECTION_ID_LENGTH): Uint8Array {
  return randomBytes(rng, rng.int(max + 1));
}

function randomDatagram(rng: SeededRandom): Uint8Array {
  const w = new BufferWriter(new Uint8Array(1500));
  const version = rng.next() < 0.5 ? QUIC_V1 : QUIC_V2;
  const dcid = randomBytes(rng, 8);
  const scid = randomCid(rng);
  const kind = rng.int(10);
  if (kind === 0) {
    const token = randomBytes(rng, 1 + rng.int(40));
    writeLongHeader(w, { type: 'retry', version, dcid, scid, token, pnLength: 1 });
    w.bytes(randomBytes(rng, 16));
    return w.finish();
  }
  if (kind === 1)
    return encodeVersionNegotiation(randomCid(rng, 255), randomCid(rng, 255), [QUIC_V1, QUIC_V2], rng);
  if (kind === 2) {
    // Unknown version: invariant header only.
    w.u8(0x80 | rng.int(0x80))
      .u32(0x1a2a3a4a)
      .u8(dcid.length)
      .bytes(dcid)
      .u8(scid.length)
      .bytes(scid);
    w.bytes(randomBytes(rng, rng.int(60)));
    return w.finish();
  }
  const types: LongPacketType[] = ['initial', '0rtt', 'handshake'];
  const packets = 1 + rng.int(3);
  for (let i = 0; i < packets; i++) {
    const pnLength = (1 + rng.int(4)) as 1 | 2 | 3 | 4;
    const type = types[rng.int(3)]!;
    const token = type === 'initial' && rng.next() < 0.5 ? randomBytes(rng, 1 + rng.int(30)) : undefined;
    const { lengthOffset, pnOffset } = writeLongHeader(w, { type, version, dcid, scid, token, pnLength });
    w.offset = writePacketNumber(w.buf, w.offset, rng.int(2 ** 32), pnLength);
    w.bytes(randomBytes(rng, 20 + rng.int(60)));
    patchLength(w.buf, lengthOffset, w.offset - pnOffset);
  }
  if (rng.next() < 0.5) {
    writeShortHeader(w, { dcid, pnLength: 2, keyPhase: rng.next() < 0.5, spin: rng.next() < 0.5 });
    w.bytes(randomBytes(rng, 20 + rng.int(40)));
  }
  return w.finish();
}

function parseDatagram(input: Uint8Array): PacketHeader[] {
  const greased = (input.length & 1) === 1;
  const out: PacketHeader[] = [];
  let offset = 0;
  while (offset < input.length) {
    const h = parseHeader(input, offset, 8, greased);
    out.push(h);
    if (h.form !== 'long' || h.type === undefined || h.type === 'retry') break;
    offset = h.packetEnd;
  }
  return out;
}

function checkHeaders(input: Uint8Array, value: unknown): void {
  for (const h of value as PacketHeader[]) {
    assert.ok(h.packetEnd <= input.length);
    if (h.form === 'long' && h.type !== undefined) {
      assert.ok(h.dcid.length <= 20 && h.scid.length <= 20);
      if (h.type !== 'retry') assert.ok(h.pnOffset + 20 <= h.packetEnd && h.pnOffset > h.start);
      else assert.ok(h.tagOffset + 16 === input.length && h.token.length > 0);
    }
    if (h.form === 'short') assert.ok(h.pnOffset + 20 <= h.packetEnd);
    if (h.form === 'version-negotiation') assert.ok((input.length - h.versionsOffset) % 4 === 0);
  }
}

function randomTransportParameters(rng: SeededRandom): TransportParameters {
  const tp = defaultTransportParameters();
  const maybe = (): boolean => rng.next() < 0.5;
  if (maybe()) tp.originalDestinationConnectionId = randomCid(rng);
  if (maybe()) tp.maxIdleTimeout = randomVarint(rng);
  if (maybe()) tp.statelessResetToken = randomBytes(rng, 16);
  if (maybe()) tp.maxUdpPayloadSize = 1200 + rng.int(70000);
  if (maybe()) tp.initialMaxData = randomVarint(rng);
  if (maybe()) tp.initialMaxStreamDataBidiLocal = randomVarint(rng);
  if (maybe()) tp.initialMaxStreamDataBidiRemote = randomVarint(rng);
  if (maybe()) tp.initialMaxStreamDataUni = randomVarint(rng);
  if (maybe()) tp.initialMaxStreamsBidi = randomVarint(rng);
  if (maybe()) tp.initialMaxStreamsUni = randomVarint(rng);
  if (maybe()) tp.ackDelayExponent = rng.int(21);
  if (maybe()) tp.maxAckDelay = rng.int(2 ** 14);
  tp.disableActiveMigration = maybe();
  if (maybe()) {
    tp.preferredAddress = {
      ipv4: maybe() ? { address: '203.0.113.9', port: rng.int(65536) } : undefined,
      ipv6: maybe() ? { address: '2001:db8::1:2', port: rng.int(65536) } : undefined,
      connectionId: randomBytes(rng, 1 + rng.int(20)),
      statelessResetToken: randomBytes(rng, 16),
    };
  }
  if (maybe()) tp.activeConnectionIdLimit = 2 + rng.int(10);
  if (maybe()) tp.initialSourceConnectionId = randomCid(rng);
  if (maybe()) tp.retrySourceConnectionId = randomCid(rng);
  if (maybe()) tp.maxDatagramFrameSize = randomVarint(rng);
  if (maybe())
    tp.versionInformation = { chosen: QUIC_V1, available: maybe() ? [QUIC_V1, QUIC_V2] : [QUIC_V1] };
  tp.greaseQuicBit = maybe();
  return tp;
}

describe('wire decoders only throw TransportError', () => {
  it('frames (whole payloads)', () => {
    const rng = new SeededRandom(1);
    const corpus = Array.from({ length: 300 }, () => randomPayload(rng));
    let stable = 0;
    const decoded = checkDecoder('frames', decodePayload, {
      cases: CASES,
      corpus,
      onDecoded(_input, value) {
        // decode(encode(decode(x))) === decode(x) for whatever decodes.
        const frames = value as Frame[];
        if (maxNumber(frames) > Number.MAX_SAFE_INTEGER) return;
        const again = decodePayload(encodePayload(frames));
        assert.deepEqual(again.map(plain), frames.map(plain));
        stable++;
      },
    });
    assert.ok(decoded > CASES / 20, `only ${decoded} inputs decoded`);
    assert.ok(stable > 0);
  });

  it('packet headers (coalesced datagrams)', () => {
    const rng = new SeededRandom(2);
    const corpus = Array.from({ length: 300 }, () => randomDatagram(rng));
    for (const d of corpus) checkHeaders(d, parseDatagram(d));
    const decoded = checkDecoder('headers', parseDatagram, {
      cases: CASES,
      corpus,
      maxLength: 80,
      onDecoded: checkHeaders,
    });
    assert.ok(decoded > CASES / 20, `only ${decoded} inputs decoded`);
  });

  for (const role of ['client', 'server'] as Role[]) {
    it(`transport parameters sent by a ${role}`, () => {
      const rng = new SeededRandom(role === 'client' ? 3 : 4);
      const corpus = Array.from({ length: 200 }, () =>
        encodeTransportParameters(randomTransportParameters(rng), { role, greaseRandom: rng }),
      );
      for (const c of corpus) decodeTransportParameters(c, role);
      const decoded = checkDecoder(
        `transport parameters (${role})`,
        (b) => decodeTransportParameters(b, role),
        {
          cases: CASES,
          corpus,
        },
      );
      assert.ok(decoded > CASES / 50, `only ${decoded} inputs decoded`);
    });
  }

  it('version negotiation', () => {
    const rng = new SeededRandom(5);
    const corpus = Array.from({ length: 100 }, () =>
      encodeVersionNegotiation(
        randomCid(rng, 40),
        randomCid(rng, 40),
        [QUIC_V1, QUIC_V2, rng.u32()].slice(0, 1 + rng.int(3)),
        rng,
      ),
    );
    const decoded = checkDecoder('version negotiation', decodeVersionNegotiation, { cases: CASES, corpus });
    assert.ok(decoded > CASES / 20, `only ${decoded} inputs decoded`);
  });
});

describe('valid frames re-encode to the same octets', () => {
  it('random payloads', () => {
    const rng = new SeededRandom(6);
    for (let i = 0; i < 30_000; i++) {
      const payload = randomPayload(rng);
      const again = encodePayload(decodePayload(payload));
      if (hex(again) !== hex(payload)) assert.fail(`payload ${hex(payload)} re-encoded as ${hex(again)}`);
    }
  });
});
