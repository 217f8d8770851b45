import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromHex, hex } from '../../../src/common/bytes.js';
import { TransportError, TransportErrorCode } from '../../../src/common/errors.js';
import {
  type LongHeader,
  longPacketType,
  longPacketTypeBits,
  type PacketHeader,
  parseHeader,
  patchLength,
  type ShortHeader,
  type VersionNegotiationHeader,
  writeLongHeader,
  writeShortHeader,
} from '../../../src/wire/header.js';
import { writePacketNumber } from '../../../src/wire/packet-number.js';
import { QUIC_V1, QUIC_V2 } from '../../../src/wire/versions.js';
import { BufferWriter } from '../../../src/wire/writer.js';

const PV = TransportErrorCode.PROTOCOL_VIOLATION;

function rejects(fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => e instanceof TransportError && e.code === PV);
}

function asLong(h: PacketHeader): LongHeader {
  assert.equal(h.form, 'long');
  return h as LongHeader;
}

/** `header` followed by zeros up to `total` octets. */
function padded(header: string, total: number): Uint8Array {
  const out = new Uint8Array(total);
  out.set(fromHex(header));
  return out;
}

describe('parseHeader', () => {
  it('parses the RFC 9001 A.2 client Initial header', () => {
    // Length 0x449e = 1182 octets after the 18-octet header: a 1200-octet datagram.
    const dgram = padded('c300000001088394c8f03e5157080000449e00000002', 1200);
    const h = asLong(parseHeader(dgram, 0, 8));
    assert.equal(h.start, 0);
    assert.equal(h.firstByte, 0xc3);
    assert.equal(h.version, QUIC_V1);
    assert.equal(h.type, 'initial');
    assert.equal(hex(h.dcid), '8394c8f03e515708');
    assert.equal(h.scid.length, 0);
    assert.equal(h.token.length, 0);
    assert.equal(h.pnOffset, 18);
    assert.equal(h.packetEnd, 1200);
    assert.equal(h.tagOffset, -1);
    // Views, not copies.
    assert.equal(h.dcid.buffer, dgram.buffer);
  });

  it('parses the RFC 9001 A.2 protected Initial (first octet masked to c0)', () => {
    const dgram = padded('c000000001088394c8f03e5157080000449e7b9aec34', 1200);
    const h = asLong(parseHeader(dgram, 0, 8));
    assert.equal(h.type, 'initial');
    assert.equal(h.pnOffset, 18);
  });

  it('parses the RFC 9369 A.2 v2 Initial header (type bits 0b01)', () => {
    const dgram = padded('d36b3343cf088394c8f03e5157080000449e00000002', 1200);
    const h = asLong(parseHeader(dgram, 0, 8));
    assert.equal(h.version, QUIC_V2);
    assert.equal(h.type, 'initial');
    assert.equal(hex(h.dcid), '8394c8f03e515708');
    assert.equal(h.pnOffset, 18);
    assert.equal(h.packetEnd, 1200);
  });

  it('parses the RFC 9001 A.4 and RFC 9369 A.4 Retry packets', () => {
    const v1 = fromHex('ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba');
    const h1 = asLong(parseHeader(v1, 0, 8));
    assert.equal(h1.type, 'retry');
    assert.equal(h1.version, QUIC_V1);
    assert.equal(h1.dcid.length, 0);
    assert.equal(hex(h1.scid), 'f067a5502a4262b5');
    assert.equal(Buffer.from(h1.token).toString(), 'token');
    assert.equal(h1.tagOffset, v1.length - 16);
    assert.equal(hex(v1.subarray(h1.tagOffset)), '04a265ba2eff4d829058fb3f0f2496ba');
    assert.equal(h1.pnOffset, -1);
    assert.equal(h1.packetEnd, v1.length);

    const v2 = fromHex('cf6b3343cf0008f067a5502a4262b5746f6b656ec8646ce8bfe33952d955543665dcc7b6');
    const h2 = asLong(parseHeader(v2, 0, 8));
    assert.equal(h2.type, 'retry');
    assert.equal(h2.version, QUIC_V2);
    assert.equal(Buffer.from(h2.token).toString(), 'token');
  });

  it('rejects a Retry without a token (RFC 9000 §17.2.5.2)', () => {
    rejects(() =>
      parseHeader(fromHex('ff000000010008f067a5502a4262b504a265ba2eff4d829058fb3f0f2496ba'), 0, 8),
    );
  });

  it('parses the RFC 9001 A.5 minimal short header packet', () => {
    const dgram = fromHex('4cfe4189655e5cd55c41f69080575d7999c25a5bfb');
    const h = parseHeader(dgram, 0, 0) as ShortHeader;
    assert.equal(h.form, 'short');
    assert.equal(h.firstByte, 0x4c);
    assert.equal(h.dcid.length, 0);
    assert.equal(h.pnOffset, 1);
    assert.equal(h.packetEnd, 21);
    // One octet less cannot hold the header protection sample (RFC 9001 §5.4.2).
    rejects(() => parseHeader(dgram.subarray(0, 20), 0, 0));
  });

  it('maps the long packet type bits per version', () => {
    const v1 = [0xc0, 0xd0, 0xe0, 0xf0].map((b) => longPacketType(b, QUIC_V1));
    const v2 = [0xc0, 0xd0, 0xe0, 0xf0].map((b) => longPacketType(b, QUIC_V2));
    assert.deepEqual(v1, ['initial', '0rtt', 'handshake', 'retry']);
    assert.deepEqual(v2, ['retry', 'initial', '0rtt', 'handshake']);
    assert.equal(longPacketType(0xc0, 0x1a2a3a4a), undefined);
    assert.equal(longPacketTypeBits('handshake', QUIC_V1), 0x20);
    assert.equal(longPacketTypeBits('handshake', QUIC_V2), 0x30);
    assert.throws(() => longPacketTypeBits('initial', 0x1a2a3a4a), RangeError);
  });

  it('returns the invariant fields of unknown versions, with long connection IDs', () => {
    const dcid = new Uint8Array(200).fill(0xaa);
    const scid = new Uint8Array(255).fill(0xbb);
    const w = new BufferWriter(1000);
    w.u8(0x80)
      .u32(0x1a2a3a4a)
      .u8(dcid.length)
      .bytes(dcid)
      .u8(scid.length)
      .bytes(scid)
      .bytes(new Uint8Array(30));
    const dgram = w.finish();
    const h = asLong(parseHeader(dgram, 0, 8));
    assert.equal(h.type, undefined);
    assert.equal(h.version, 0x1a2a3a4a);
    assert.equal(h.dcid.length, 200);
    assert.equal(h.scid.length, 255);
    assert.equal(h.pnOffset, -1);
    assert.equal(h.packetEnd, dgram.length);
  });

  it('recognises Version Negotiation packets', () => {
    const dgram = fromHex('c000000000' + '04a1a2a3a4' + '02b1b2' + '00000001' + '6b3343cf');
    const h = parseHeader(dgram, 0, 8) as VersionNegotiationHeader;
    assert.equal(h.form, 'version-negotiation');
    assert.equal(hex(h.dcid), 'a1a2a3a4');
    assert.equal(hex(h.scid), 'b1b2');
    assert.equal(h.versionsOffset, 13);
    // No versions, or a truncated one (RFC 8999 §6).
    rejects(() => parseHeader(dgram.subarray(0, 13), 0, 8));
    rejects(() => parseHeader(dgram.subarray(0, 19), 0, 8));
  });

  it('rejects connection IDs over 20 octets in v1/v2 (RFC 9000 §17.2)', () => {
    const w = new BufferWriter(100);
    w.u8(0xc0).u32(QUIC_V1).u8(21).bytes(new Uint8Array(21)).u8(0).u8(0).varint(30).bytes(new Uint8Array(30));
    rejects(() => parseHeader(w.finish(), 0, 8));
    const w2 = new BufferWriter(100);
    w2.u8(0xe0).u32(QUIC_V2).u8(0).u8(21).bytes(new Uint8Array(21)).varint(30).bytes(new Uint8Array(30));
    rejects(() => parseHeader(w2.finish(), 0, 8));
  });

  it('requires the fixed bit unless grease_quic_bit was advertised (RFC 9287)', () => {
    const long = padded('8300000001088394c8f03e5157080000449e00000002', 1200);
    rejects(() => parseHeader(long, 0, 8));
    assert.equal(asLong(parseHeader(long, 0, 8, true)).type, 'initial');
    const short = new Uint8Array(40);
    short[0] = 0x01;
    rejects(() => parseHeader(short, 0, 8));
    assert.equal(parseHeader(short, 0, 8, true).form, 'short');
  });

  it('rejects a Length beyond the datagram or too short for the sample', () => {
    rejects(() => parseHeader(padded('c300000001088394c8f03e5157080000449e00000002', 1199), 0, 8));
    // Length 19: pn + payload shorter than 4 + 16.
    rejects(() => parseHeader(padded('e300000001088394c8f03e51570800' + '13', 100), 0, 8));
    assert.equal(
      asLong(parseHeader(padded('e300000001088394c8f03e51570800' + '14', 100), 0, 8)).packetEnd,
      36,
    );
  });

  it('rejects every truncation of a long header', () => {
    const dgram = padded('c300000001088394c8f03e5157080005aabbccddee449e00000002', 1205);
    assert.equal(hex(asLong(parseHeader(dgram, 0, 8)).token), 'aabbccddee');
    for (let n = 0; n < 25; n++) rejects(() => parseHeader(dgram.subarray(0, n), 0, 8));
  });
});

describe('header writers', () => {
  const dcid = fromHex('0102030405060708');
  const scid = fromHex('a1a2a3a4');

  it('writes an Initial with token and patched Length, and parses it back', () => {
    const w = new BufferWriter(new Uint8Array(1200));
    const token = fromHex('cafe');
    const { lengthOffset, pnOffset } = writeLongHeader(w, {
      type: 'initial',
      version: QUIC_V1,
      dcid,
      scid,
      token,
      pnLength: 2,
    });
    assert.equal(pnOffset, w.offset);
    w.offset = writePacketNumber(w.buf, w.offset, 0x1234, 2);
    w.zeros(100);
    patchLength(w.buf, lengthOffset, w.offset - pnOffset);
    const packet = w.view();
    assert.equal(
      hex(packet.subarray(0, pnOffset + 2)),
      'c100000001080102030405060708' + '04a1a2a3a4' + '02cafe' + '4066' + '1234',
    );
    const h = asLong(parseHeader(packet, 0, 8));
    assert.equal(h.type, 'initial');
    assert.equal(hex(h.dcid), hex(dcid));
    assert.equal(hex(h.scid), hex(scid));
    assert.equal(hex(h.token), 'cafe');
    assert.equal(h.pnOffset, pnOffset);
    assert.equal(h.packetEnd, packet.length);
  });

  it('writes v2 Handshake and 0-RTT type bits, coalesced with a short header packet', () => {
    const w = new BufferWriter(new Uint8Array(1500));
    const offs: number[] = [];
    for (const type of ['handshake', '0rtt'] as const) {
      const start = w.offset;
      offs.push(start);
      const { lengthOffset, pnOffset } = writeLongHeader(w, {
        type,
        version: QUIC_V2,
        dcid,
        scid,
        pnLength: 4,
      });
      w.offset = writePacketNumber(w.buf, w.offset, 7, 4);
      w.zeros(40);
      patchLength(w.buf, lengthOffset, w.offset - pnOffset);
    }
    const shortStart = w.offset;
    const pnOffset = writeShortHeader(w, { dcid, pnLength: 1, keyPhase: true, spin: 1 });
    assert.equal(w.buf[shortStart], 0x40 | 0x20 | 0x04 | 0x00);
    assert.equal(pnOffset, shortStart + 9);
    w.zeros(30);
    const dgram = w.view();
    assert.equal(w.buf[offs[0]!]! & 0x30, 0x30); // v2 Handshake = 0b11
    assert.equal(w.buf[offs[1]!]! & 0x30, 0x20); // v2 0-RTT = 0b10
    const h1 = asLong(parseHeader(dgram, 0, 8));
    assert.equal(h1.type, 'handshake');
    const h2 = asLong(parseHeader(dgram, h1.packetEnd, 8));
    assert.equal(h2.type, '0rtt');
    assert.equal(h2.start, offs[1]);
    const h3 = parseHeader(dgram, h2.packetEnd, 8) as ShortHeader;
    assert.equal(h3.form, 'short');
    assert.equal(h3.start, shortStart);
    assert.equal(hex(h3.dcid), hex(dcid));
    assert.equal(h3.pnOffset, pnOffset);
    assert.equal(h3.packetEnd, dgram.length);
  });

  it('writes a Retry header without Length and a cleared fixed bit on request', () => {
    const w = new BufferWriter(100);
    const r = writeLongHeader(w, {
      type: 'retry',
      version: QUIC_V1,
      dcid,
      scid,
      token: fromHex('746f6b656e'),
      pnLength: 1,
    });
    assert.deepEqual(r, { lengthOffset: -1, pnOffset: -1 });
    assert.equal(hex(w.view()), 'f000000001080102030405060708' + '04a1a2a3a4' + '746f6b656e');
    const w2 = new BufferWriter(100);
    writeShortHeader(w2, { dcid, pnLength: 4, keyPhase: false, spin: false, clearFixedBit: true });
    assert.equal(w2.buf[0], 0x03);
  });

  it('refuses Lengths that do not fit 2 octets and over-long connection IDs', () => {
    assert.throws(() => patchLength(new Uint8Array(2), 0, 0x4000), RangeError);
    assert.throws(
      () =>
        writeLongHeader(new BufferWriter(100), {
          type: 'handshake',
          version: QUIC_V1,
          dcid: new Uint8Array(21),
          scid,
          pnLength: 1,
        }),
      RangeError,
    );
  });
});
