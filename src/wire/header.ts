// Packet headers: the partial decode done before header protection is removed (RFC 9000 §17,
// RFC 8999 for unknown versions, RFC 9369 §3.2 for v2 packet types) and the header writers.
// Parsing runs per packet: no reader object, only the result object and its views.
import { TransportError, TransportErrorCode } from '../common/errors.js';
import type { PacketNumberLength } from './packet-number.js';
import { writeVarintFixed } from './varint.js';
import { QUIC_V1, QUIC_V2, VERSION_NEGOTIATION } from './versions.js';
import type { BufferWriter } from './writer.js';

export type LongPacketType = 'initial' | '0rtt' | 'handshake' | 'retry';
/** Packet types that carry frames (RFC 9000 §12.4 Table 3 "Pkts" column). */
export type PacketType = 'initial' | '0rtt' | 'handshake' | '1rtt';

/** RFC 9000 §17.2: connection IDs of v1 (and v2) long headers are at most 20 octets. */
export const MAX_CONNECTION_ID_LENGTH = 20;
/** RFC 9001 §5.4.2: the sample starts 4 octets after the Packet Number field and is 16 long. */
export const MIN_PROTECTED_LENGTH_AFTER_PN_OFFSET = 4 + 16;
/** The Length field written by writeLongHeader is a 2-octet varint. */
export const MAX_LONG_PACKET_LENGTH = 0x3fff;

export const HEADER_FORM_BIT = 0x80;
export const FIXED_BIT = 0x40;
export const SPIN_BIT = 0x20;
export const KEY_PHASE_BIT = 0x04;

/** Long header of a v1/v2 packet, or of an unknown version (then `type` is undefined). */
export interface LongHeader {
  readonly form: 'long';
  /** Offset of the packet's first octet in the datagram. */
  start: number;
  /** First octet as received (pn length and reserved bits are still protected). */
  firstByte: number;
  version: number;
  /** Undefined for versions this stack does not know: only the RFC 8999 invariant fields are set. */
  type: LongPacketType | undefined;
  dcid: Uint8Array;
  scid: Uint8Array;
  /** Initial: the Token field; Retry: the Retry Token; otherwise empty. */
  token: Uint8Array;
  /** Offset of the Packet Number field; -1 for Retry and unknown versions. */
  pnOffset: number;
  /** Offset just after this packet (RFC 9000 §12.2); the datagram end for Retry/unknown versions. */
  packetEnd: number;
  /** Retry: offset of the 16-octet Retry Integrity Tag; otherwise -1. */
  tagOffset: number;
}

export interface ShortHeader {
  readonly form: 'short';
  start: number;
  /** First octet as received: spin, reserved, key phase and pn length are protected. */
  firstByte: number;
  dcid: Uint8Array;
  pnOffset: number;
  /** Short-header packets extend to the end of the datagram (RFC 9000 §12.2). */
  packetEnd: number;
}

export interface VersionNegotiationHeader {
  readonly form: 'version-negotiation';
  start: number;
  firstByte: number;
  dcid: Uint8Array;
  scid: Uint8Array;
  /** Offset of the first Supported Version field. */
  versionsOffset: number;
  packetEnd: number;
}

export type PacketHeader = LongHeader | ShortHeader | VersionNegotiationHeader;

const EMPTY: Uint8Array = new Uint8Array(0);
// 2-bit Long Packet Type → type, per version (RFC 9000 §17.2 Table 5, RFC 9369 §3.2).
const V1_TYPES: readonly LongPacketType[] = ['initial', '0rtt', 'handshake', 'retry'];
const V2_TYPES: readonly LongPacketType[] = ['retry', 'initial', '0rtt', 'handshake'];

/** Long packet type of a v1/v2 first octet; undefined for other versions. */
export function longPacketType(firstByte: number, version: number): LongPacketType | undefined {
  const bits = (firstByte >> 4) & 0x03;
  if (version === QUIC_V1) return V1_TYPES[bits];
  if (version === QUIC_V2) return V2_TYPES[bits];
  return undefined;
}

/** The 2 type bits (already shifted to 0x30) of a long packet type for a version. */
export function longPacketTypeBits(type: LongPacketType, version: number): number {
  const table = version === QUIC_V1 ? V1_TYPES : version === QUIC_V2 ? V2_TYPES : undefined;
  if (!table) throw new RangeError(`no long packet types for version 0x${version.toString(16)}`);
  return table.indexOf(type) << 4;
}

function malformed(reason: string): never {
  throw new TransportError(TransportErrorCode.PROTOCOL_VIOLATION, reason);
}

// Offset after the last varint read by readVarintAt (avoids returning a pair per call).
let varintEnd = 0;

function readVarintAt(b: Uint8Array, o: number, end: number): number {
  if (o >= end) malformed('truncated header');
  const first = b[o]!;
  const len = 1 << (first >> 6);
  if (o + len > end) malformed('truncated header');
  let v = first & 0x3f;
  for (let i = 1; i < len; i++) v = v * 256 + b[o + i]!;
  varintEnd = o + len;
  return v;
}

/**
 * Partial decode of the packet starting at `offset` (before header protection is removed).
 * `shortDcidLength` is the length of this endpoint's connection IDs (short headers carry none).
 * `greaseQuicBit`: the fixed bit may be 0 because this endpoint advertised grease_quic_bit
 * (RFC 9287 §3). Throws TransportError(PROTOCOL_VIOLATION) on malformed input: the caller drops the
 * rest of the datagram.
 */
export function parseHeader(
  datagram: Uint8Array,
  offset: number,
  shortDcidLength: number,
  greaseQuicBit = false,
): PacketHeader {
  const end = datagram.length;
  if (offset >= end) malformed('empty packet');
  const first = datagram[offset]!;

  if ((first & HEADER_FORM_BIT) === 0) {
    // RFC 9000 §17.3.1: packets with the fixed bit 0 MUST be discarded (unless greased, RFC 9287 §3).
    if ((first & FIXED_BIT) === 0 && !greaseQuicBit) malformed('fixed bit is 0');
    const pnOffset = offset + 1 + shortDcidLength;
    // RFC 9001 §5.4.2: packets too short for the header protection sample MUST be discarded.
    if (end - pnOffset < MIN_PROTECTED_LENGTH_AFTER_PN_OFFSET) malformed('short packet too small');
    return {
      form: 'short',
      start: offset,
      firstByte: first,
      dcid: datagram.subarray(offset + 1, pnOffset),
      pnOffset,
      packetEnd: end,
    };
  }

  // RFC 8999 §5.1: invariant long header fields.
  if (offset + 7 > end) malformed('truncated long header');
  const version =
    ((datagram[offset + 1]! << 24) |
      (datagram[offset + 2]! << 16) |
      (datagram[offset + 3]! << 8) |
      datagram[offset + 4]!) >>>
    0;
  let o = offset + 5;
  const dcidLen = datagram[o++]!;
  if (o + dcidLen + 1 > end) malformed('truncated connection ID');
  const dcid = datagram.subarray(o, o + dcidLen);
  o += dcidLen;
  const scidLen = datagram[o++]!;
  if (o + scidLen > end) malformed('truncated connection ID');
  const scid = datagram.subarray(o, o + scidLen);
  o += scidLen;

  if (version === VERSION_NEGOTIATION) {
    // RFC 8999 §6: ignore a Version Negotiation packet with no or a truncated Supported Version.
    const n = end - o;
    if (n === 0 || n % 4 !== 0) malformed('malformed version list');
    return {
      form: 'version-negotiation',
      start: offset,
      firstByte: first,
      dcid,
      scid,
      versionsOffset: o,
      packetEnd: end,
    };
  }

  const type = longPacketType(first, version);
  if (type === undefined) {
    // Unknown version: invariant fields only, connection IDs up to 255 octets (RFC 8999 §5.1) so a
    // Version Negotiation packet can echo them.
    return {
      form: 'long',
      start: offset,
      firstByte: first,
      version,
      type: undefined,
      dcid,
      scid,
      token: EMPTY,
      pnOffset: -1,
      packetEnd: end,
      tagOffset: -1,
    };
  }

  // RFC 9000 §17.2: v1 long headers with connection IDs over 20 octets MUST be dropped.
  if (dcidLen > MAX_CONNECTION_ID_LENGTH || scidLen > MAX_CONNECTION_ID_LENGTH) {
    malformed('connection ID too long');
  }
  // RFC 9000 §17.2: packets with the fixed bit 0 MUST be discarded (unless greased, RFC 9287 §3).
  if ((first & FIXED_BIT) === 0 && !greaseQuicBit) malformed('fixed bit is 0');

  if (type === 'retry') {
    // RFC 9000 §17.2.5: Retry Token, then the 16-octet Retry Integrity Tag.
    const tagOffset = end - 16;
    // RFC 9000 §17.2.5.2: a client MUST discard a Retry packet with a zero-length Retry Token.
    if (tagOffset <= o) malformed('retry packet without token');
    return {
      form: 'long',
      start: offset,
      firstByte: first,
      version,
      type,
      dcid,
      scid,
      token: datagram.subarray(o, tagOffset),
      pnOffset: -1,
      packetEnd: end,
      tagOffset,
    };
  }

  let token = EMPTY;
  if (type === 'initial') {
    // RFC 9000 §17.2.2: Token Length (i), Token.
    const tokenLen = readVarintAt(datagram, o, end);
    o = varintEnd;
    if (tokenLen > end - o) malformed('truncated token');
    token = datagram.subarray(o, o + tokenLen);
    o += tokenLen;
  }
  // RFC 9000 §17.2: Length covers the Packet Number and Payload fields.
  const length = readVarintAt(datagram, o, end);
  const pnOffset = varintEnd;
  if (length > end - pnOffset) malformed('length exceeds datagram');
  // RFC 9001 §5.4.2: packets too short for the header protection sample MUST be discarded.
  if (length < MIN_PROTECTED_LENGTH_AFTER_PN_OFFSET) malformed('packet too small for sample');
  return {
    form: 'long',
    start: offset,
    firstByte: first,
    version,
    type,
    dcid,
    scid,
    token,
    pnOffset,
    packetEnd: pnOffset + length,
    tagOffset: -1,
  };
}

export interface LongHeaderFields {
  type: LongPacketType;
  version: number;
  dcid: Uint8Array;
  scid: Uint8Array;
  /** Initial: Token field (omitted = empty). Retry: the Retry Token. Ignored otherwise. */
  token?: Uint8Array | undefined;
  /** Ignored for Retry. */
  pnLength: PacketNumberLength;
  /** Clear the fixed bit (only once the peer sent grease_quic_bit, RFC 9287 §3.1). */
  clearFixedBit?: boolean;
}

export interface LongHeaderOffsets {
  /** Offset of the 2-octet Length field (patch with patchLength); -1 for Retry. */
  lengthOffset: number;
  /** Offset where the caller writes the packet number; -1 for Retry. */
  pnOffset: number;
}

/**
 * Writes a long header up to the Packet Number field. The first octet carries the unprotected pn
 * length; reserved bits are 0 (RFC 9000 §17.2). The Length field is reserved as a 2-octet varint.
 * For Retry the header ends after the token; the caller appends the integrity tag.
 */
export function writeLongHeader(w: BufferWriter, h: LongHeaderFields): LongHeaderOffsets {
  if (h.dcid.length > MAX_CONNECTION_ID_LENGTH || h.scid.length > MAX_CONNECTION_ID_LENGTH) {
    throw new RangeError('connection ID too long');
  }
  const fixed = h.clearFixedBit ? 0 : FIXED_BIT;
  const typeBits = longPacketTypeBits(h.type, h.version);
  if (h.type === 'retry') {
    w.u8(HEADER_FORM_BIT | fixed | typeBits);
  } else {
    w.u8(HEADER_FORM_BIT | fixed | typeBits | (h.pnLength - 1));
  }
  w.u32(h.version);
  w.u8(h.dcid.length).bytes(h.dcid);
  w.u8(h.scid.length).bytes(h.scid);
  if (h.type === 'retry') {
    if (h.token) w.bytes(h.token);
    return { lengthOffset: -1, pnOffset: -1 };
  }
  if (h.type === 'initial') {
    const token = h.token ?? EMPTY;
    w.varint(token.length).bytes(token);
  }
  const lengthOffset = w.reserve(2);
  return { lengthOffset, pnOffset: w.offset };
}

/** Patches the 2-octet Length field: `length` = pn length + payload + AEAD tag. */
export function patchLength(buf: Uint8Array, lengthOffset: number, length: number): void {
  if (length < 0 || length > MAX_LONG_PACKET_LENGTH) throw new RangeError(`long packet length ${length}`);
  writeVarintFixed(buf, lengthOffset, length, 2);
}

export interface ShortHeaderFields {
  dcid: Uint8Array;
  pnLength: PacketNumberLength;
  keyPhase: boolean | 0 | 1;
  spin: boolean | 0 | 1;
  /** Clear the fixed bit (only once the peer sent grease_quic_bit, RFC 9287 §3.1). */
  clearFixedBit?: boolean;
}

/** Writes a 1-RTT short header (RFC 9000 §17.3.1) up to the Packet Number; returns its offset. */
export function writeShortHeader(w: BufferWriter, h: ShortHeaderFields): number {
  w.u8(
    (h.clearFixedBit ? 0 : FIXED_BIT) |
      (h.spin ? SPIN_BIT : 0) |
      (h.keyPhase ? KEY_PHASE_BIT : 0) |
      (h.pnLength - 1),
  );
  w.bytes(h.dcid);
  return w.offset;
}
