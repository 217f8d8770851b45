// QUIC frames (RFC 9000 §19, DATAGRAM RFC 9221 §4): decoding from a BufferReader over a decrypted
// payload, encoding into a BufferWriter, and allocation-free fast paths for the per-packet frames.
// Byte fields of decoded frames are views into the payload (no copies).
import { TransportError, TransportErrorCode } from '../common/errors.js';
import type { BufferReader } from './reader.js';
import { varintLength } from './varint.js';
import { varintBigAt, varintLengthOf } from './varint-big.js';
import type { BufferWriter } from './writer.js';

export const FrameType = {
  PADDING: 0x00,
  PING: 0x01,
  ACK: 0x02,
  ACK_ECN: 0x03,
  RESET_STREAM: 0x04,
  STOP_SENDING: 0x05,
  CRYPTO: 0x06,
  NEW_TOKEN: 0x07,
  /** 0x08..0x0f: OFF (0x04), LEN (0x02), FIN (0x01) bits. */
  STREAM: 0x08,
  MAX_DATA: 0x10,
  MAX_STREAM_DATA: 0x11,
  MAX_STREAMS_BIDI: 0x12,
  MAX_STREAMS_UNI: 0x13,
  DATA_BLOCKED: 0x14,
  STREAM_DATA_BLOCKED: 0x15,
  STREAMS_BLOCKED_BIDI: 0x16,
  STREAMS_BLOCKED_UNI: 0x17,
  NEW_CONNECTION_ID: 0x18,
  RETIRE_CONNECTION_ID: 0x19,
  PATH_CHALLENGE: 0x1a,
  PATH_RESPONSE: 0x1b,
  CONNECTION_CLOSE: 0x1c,
  CONNECTION_CLOSE_APP: 0x1d,
  HANDSHAKE_DONE: 0x1e,
  DATAGRAM: 0x30,
  DATAGRAM_LEN: 0x31,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const STREAM_FLAG_OFF = 0x04;
export const STREAM_FLAG_LEN = 0x02;
export const STREAM_FLAG_FIN = 0x01;

export interface EcnCounts {
  ect0: number;
  ect1: number;
  ce: number;
}

export type Frame =
  /** A run of PADDING octets collapsed into one frame. */
  | { type: 'padding'; length: number }
  | { type: 'ping' }
  | {
      type: 'ack';
      largest: number;
      /** Raw ACK Delay field (not scaled by the ack_delay_exponent). */
      ackDelay: number;
      /** Flattened inclusive ranges [hi0, lo0, hi1, lo1, ...], descending, hi0 === largest. */
      ranges: number[];
      ecn: EcnCounts | undefined;
    }
  | { type: 'reset_stream'; streamId: number; errorCode: number; finalSize: number }
  | { type: 'stop_sending'; streamId: number; errorCode: number }
  | { type: 'crypto'; offset: number; data: Uint8Array }
  | { type: 'new_token'; token: Uint8Array }
  | { type: 'stream'; streamId: number; offset: number; data: Uint8Array; fin: boolean }
  | { type: 'max_data'; maximum: number }
  | { type: 'max_stream_data'; streamId: number; maximum: number }
  | { type: 'max_streams'; bidi: boolean; maximum: number }
  | { type: 'data_blocked'; limit: number }
  | { type: 'stream_data_blocked'; streamId: number; limit: number }
  | { type: 'streams_blocked'; bidi: boolean; limit: number }
  | {
      type: 'new_connection_id';
      sequence: number;
      retirePriorTo: number;
      connectionId: Uint8Array;
      resetToken: Uint8Array;
    }
  | { type: 'retire_connection_id'; sequence: number }
  | { type: 'path_challenge'; data: Uint8Array }
  | { type: 'path_response'; data: Uint8Array }
  | {
      type: 'connection_close';
      application: boolean;
      errorCode: number;
      /** 0 when application (type 0x1d carries no Frame Type field). */
      frameType: number;
      reason: string;
    }
  | { type: 'handshake_done' }
  | { type: 'datagram'; data: Uint8Array };

export type FrameName = Frame['type'];

/** Whether `type` is a frame type this stack understands (RFC 9000 §12.4, RFC 9221 §4). */
export function isKnownFrameType(type: number): boolean {
  return (type >= 0 && type <= 0x1e) || type === 0x30 || type === 0x31;
}

const FRAME_TYPE_NAMES: Record<number, string> = {};
for (const [k, v] of Object.entries(FrameType)) FRAME_TYPE_NAMES[v] = k;
for (let t = 0x09; t <= 0x0f; t++) FRAME_TYPE_NAMES[t] = 'STREAM';
FRAME_TYPE_NAMES[0x31] = 'DATAGRAM';

/** Registry name of a wire frame type, e.g. `STREAM`, or hex for unknown types (for logs). */
export function frameTypeName(type: number): string {
  return FRAME_TYPE_NAMES[type] ?? `0x${type.toString(16)}`;
}

// ---------------------------------------------------------------------------------------------
// Decoding

const { FRAME_ENCODING_ERROR, PROTOCOL_VIOLATION } = TransportErrorCode;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** Above this (as doubles), offset + length is re-checked exactly against 2^62-1. */
const OFFSET_EXACT_THRESHOLD = 2 ** 62 - 2 ** 20;
const MAX_VARINT_BIG = (1n << 62n) - 1n;
const MAX_STREAMS_BIG = 1n << 60n;
// ignoreBOM keeps a leading U+FEFF in the reason (it is content, not a byte-order mark).
const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

function encodingError(reason: string, type: number): never {
  throw new TransportError(FRAME_ENCODING_ERROR, reason, type);
}

/**
 * Reads a frame type (RFC 9000 §12.4). Unknown type → FRAME_ENCODING_ERROR; a known type not
 * minimally encoded → PROTOCOL_VIOLATION; both carry the type as frameType.
 */
export function readFrameType(r: BufferReader): number {
  const o = r.offset;
  if (o >= r.end) throw new TransportError(FRAME_ENCODING_ERROR, 'missing frame type');
  const first = r.buf[o]!;
  if (first < 0x40) {
    // RFC 9000 §12.4: an unknown frame type MUST be a FRAME_ENCODING_ERROR.
    if (!isKnownFrameType(first)) encodingError('unknown frame type', first);
    r.offset = o + 1;
    return first;
  }
  if (o + (1 << (first >> 6)) > r.end) throw new TransportError(FRAME_ENCODING_ERROR, 'truncated frame type');
  const type = r.varint();
  if (!isKnownFrameType(type)) encodingError('unknown frame type', type);
  // RFC 9000 §12.4: every known type fits one octet, so a longer encoding is not minimal.
  throw new TransportError(PROTOCOL_VIOLATION, 'frame type not minimally encoded', type);
}

/** The next frame type without consuming it (same errors as readFrameType). */
export function peekFrameType(r: BufferReader): number {
  const o = r.offset;
  const type = readFrameType(r);
  r.offset = o;
  return type;
}

/** Reads one frame; the reader moves past it. Throws only TransportError (frameType set). */
export function decodeFrame(r: BufferReader): Frame {
  return decodeFrameBody(r, readFrameType(r));
}

/** Decodes the fields of a frame whose type was already read with readFrameType. */
export function decodeFrameBody(r: BufferReader, type: number): Frame {
  try {
    return decodeBody(r, type);
  } catch (e) {
    // Reader underflow carries no frame type: report FRAME_ENCODING_ERROR on this frame.
    if (e instanceof TransportError && e.frameType === 0 && type !== 0) {
      throw new TransportError(FRAME_ENCODING_ERROR, e.reason, type);
    }
    throw e;
  }
}

function decodeBody(r: BufferReader, type: number): Frame {
  switch (type) {
    case 0x00: {
      // Collapse the run of PADDING octets.
      const b = r.buf;
      let o = r.offset;
      const end = r.end;
      while (o < end && b[o] === 0) o++;
      const length = 1 + o - r.offset;
      r.offset = o;
      return { type: 'padding', length };
    }
    case 0x01:
      return { type: 'ping' };
    case 0x02:
    case 0x03:
      return decodeAck(r, type);
    case 0x04:
      return { type: 'reset_stream', streamId: r.varint(), errorCode: r.varint(), finalSize: r.varint() };
    case 0x05:
      return { type: 'stop_sending', streamId: r.varint(), errorCode: r.varint() };
    case 0x06: {
      const offsetPos = r.offset;
      const offset = r.varint();
      const length = r.varint();
      const data = r.bytes(length);
      // RFC 9000 §19.6: offset + length beyond 2^62-1 MUST be an error.
      checkEnd(r.buf, offsetPos, offset, length, type);
      return { type: 'crypto', offset, data };
    }
    case 0x07: {
      const length = r.varint();
      // RFC 9000 §19.7: an empty token MUST be a FRAME_ENCODING_ERROR.
      if (length === 0) encodingError('empty NEW_TOKEN', type);
      return { type: 'new_token', token: r.bytes(length) };
    }
    case 0x08:
    case 0x09:
    case 0x0a:
    case 0x0b:
    case 0x0c:
    case 0x0d:
    case 0x0e:
    case 0x0f: {
      const streamId = r.varint();
      const offsetPos = r.offset;
      const offset = type & STREAM_FLAG_OFF ? r.varint() : 0;
      const length = type & STREAM_FLAG_LEN ? r.varint() : r.remaining;
      const data = r.bytes(length);
      // RFC 9000 §19.8: offset + length beyond 2^62-1 MUST be an error.
      if (offset !== 0) checkEnd(r.buf, offsetPos, offset, length, type);
      return { type: 'stream', streamId, offset, data, fin: (type & STREAM_FLAG_FIN) !== 0 };
    }
    case 0x10:
      return { type: 'max_data', maximum: r.varint() };
    case 0x11:
      return { type: 'max_stream_data', streamId: r.varint(), maximum: r.varint() };
    case 0x12:
    case 0x13:
      // RFC 9000 §19.11: more than 2^60 streams MUST be a FRAME_ENCODING_ERROR.
      return { type: 'max_streams', bidi: type === 0x12, maximum: readStreamCount(r, type) };
    case 0x14:
      return { type: 'data_blocked', limit: r.varint() };
    case 0x15:
      return { type: 'stream_data_blocked', streamId: r.varint(), limit: r.varint() };
    case 0x16:
    case 0x17:
      // RFC 9000 §19.14: more than 2^60 streams MUST be an error (FRAME_ENCODING_ERROR here).
      return { type: 'streams_blocked', bidi: type === 0x16, limit: readStreamCount(r, type) };
    case 0x18:
      return decodeNewConnectionId(r, type);
    case 0x19:
      return { type: 'retire_connection_id', sequence: r.varint() };
    case 0x1a:
      return { type: 'path_challenge', data: r.bytes(8) };
    case 0x1b:
      return { type: 'path_response', data: r.bytes(8) };
    case 0x1c:
    case 0x1d: {
      const application = type === 0x1d;
      const errorCode = r.varint();
      const frameType = application ? 0 : r.varint();
      const length = r.varint();
      // RFC 9000 §19.19: the reason SHOULD be UTF-8; decode with replacement, never fail.
      const reason = length === 0 ? '' : utf8.decode(r.bytes(length));
      return { type: 'connection_close', application, errorCode, frameType, reason };
    }
    case 0x1e:
      return { type: 'handshake_done' };
    case 0x30:
      return { type: 'datagram', data: r.rest() };
    case 0x31:
      return { type: 'datagram', data: r.bytes(r.varint()) };
    default:
      return encodingError('unknown frame type', type);
  }
}

function checkEnd(b: Uint8Array, offsetPos: number, offset: number, length: number, type: number): void {
  if (offset + length < OFFSET_EXACT_THRESHOLD) return;
  if (varintBigAt(b, offsetPos) + BigInt(length) > MAX_VARINT_BIG)
    encodingError('offset exceeds 2^62-1', type);
}

function readStreamCount(r: BufferReader, type: number): number {
  const pos = r.offset;
  const v = r.varint();
  if (v >= 2 ** 60 && varintBigAt(r.buf, pos) > MAX_STREAMS_BIG)
    encodingError('stream count exceeds 2^60', type);
  return v;
}

function decodeAck(r: BufferReader, type: number): Frame {
  const start = r.offset;
  const largest = r.varint();
  const ackDelay = r.varint();
  const count = r.varint();
  const first = r.varint();
  // Each further range takes at least 2 octets: refuse counts the payload cannot hold before
  // allocating.
  if (count > r.remaining / 2) encodingError('truncated ACK ranges', type);
  let lo = largest - first;
  // RFC 9000 §19.3.1: a negative packet number MUST be a FRAME_ENCODING_ERROR.
  if (lo < 0) encodingError('ACK range below 0', type);
  const ranges = [largest, lo];
  for (let i = 0; i < count; i++) {
    const gap = r.varint();
    const len = r.varint();
    const hi = lo - gap - 2;
    if (hi < 0) encodingError('ACK range below 0', type);
    lo = hi - len;
    if (lo < 0) encodingError('ACK range below 0', type);
    ranges.push(hi, lo);
  }
  let ecn: EcnCounts | undefined;
  if (type === 0x03) ecn = { ect0: r.varint(), ect1: r.varint(), ce: r.varint() };
  // Above 2^53 doubles are inexact: redo the range arithmetic exactly.
  if (largest > MAX_SAFE) checkAckExact(r.buf, start, type);
  return { type: 'ack', largest, ackDelay, ranges, ecn };
}

function checkAckExact(b: Uint8Array, start: number, type: number): void {
  let o = start;
  const next = (): bigint => {
    const v = varintBigAt(b, o);
    o += varintLengthOf(b[o]!);
    return v;
  };
  const largest = next();
  next(); // ACK Delay
  const count = Number(next());
  let lo = largest - next();
  if (lo < 0n) encodingError('ACK range below 0', type);
  for (let i = 0; i < count; i++) {
    const hi = lo - next() - 2n;
    if (hi < 0n) encodingError('ACK range below 0', type);
    lo = hi - next();
    if (lo < 0n) encodingError('ACK range below 0', type);
  }
}

function decodeNewConnectionId(r: BufferReader, type: number): Frame {
  const seqPos = r.offset;
  const sequence = r.varint();
  const rptPos = r.offset;
  const retirePriorTo = r.varint();
  const length = r.u8();
  // RFC 9000 §19.15: lengths below 1 or above 20 MUST be a FRAME_ENCODING_ERROR.
  if (length < 1 || length > 20) encodingError('invalid connection ID length', type);
  const connectionId = r.bytes(length);
  const resetToken = r.bytes(16);
  // RFC 9000 §19.15: Retire Prior To above Sequence Number MUST be a FRAME_ENCODING_ERROR.
  if (
    retirePriorTo > sequence ||
    (retirePriorTo === sequence &&
      sequence > MAX_SAFE &&
      varintBigAt(r.buf, rptPos) > varintBigAt(r.buf, seqPos))
  ) {
    encodingError('retire_prior_to exceeds sequence number', type);
  }
  return { type: 'new_connection_id', sequence, retirePriorTo, connectionId, resetToken };
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Writes a STREAM frame header; the caller writes `length` octets of data after it. */
export function writeStreamFrameHeader(
  w: BufferWriter,
  streamId: number,
  offset: number,
  length: number,
  fin: boolean,
  explicitLength: boolean,
): void {
  w.u8(
    FrameType.STREAM |
      (offset !== 0 ? STREAM_FLAG_OFF : 0) |
      (explicitLength ? STREAM_FLAG_LEN : 0) |
      (fin ? STREAM_FLAG_FIN : 0),
  );
  w.varint(streamId);
  if (offset !== 0) w.varint(offset);
  if (explicitLength) w.varint(length);
}

/** Octets taken by writeStreamFrameHeader with the same arguments. */
export function streamFrameHeaderLength(
  streamId: number,
  offset: number,
  length: number,
  explicitLength: boolean,
): number {
  return (
    1 +
    varintLength(streamId) +
    (offset !== 0 ? varintLength(offset) : 0) +
    (explicitLength ? varintLength(length) : 0)
  );
}

/** Writes a CRYPTO frame header; the caller writes `length` octets of data after it. */
export function writeCryptoFrameHeader(w: BufferWriter, offset: number, length: number): void {
  w.u8(FrameType.CRYPTO).varint(offset).varint(length);
}

export function cryptoFrameHeaderLength(offset: number, length: number): number {
  return 1 + varintLength(offset) + varintLength(length);
}

function checkAckRanges(ranges: readonly number[]): void {
  const n = ranges.length;
  if (n < 2 || n % 2 !== 0) throw new RangeError('ACK ranges must be [hi, lo] pairs');
  for (let i = 0; i < n; i += 2) {
    const hi = ranges[i]!;
    const lo = ranges[i + 1]!;
    if (lo < 0 || hi < lo || (i > 0 && hi > ranges[i - 1]! - 2)) throw new RangeError('invalid ACK ranges');
  }
}

/**
 * Writes an ACK frame (RFC 9000 §19.3) from flattened descending ranges [hi0, lo0, hi1, lo1, ...];
 * type 0x03 with ECN counts when `ecn` is given. `ackDelay` is the already scaled field value.
 */
export function writeAckFrame(
  w: BufferWriter,
  ranges: readonly number[],
  ackDelay: number,
  ecn: EcnCounts | undefined,
): void {
  checkAckRanges(ranges);
  const n = ranges.length;
  const largest = ranges[0]!;
  let prevLo = ranges[1]!;
  w.u8(ecn ? FrameType.ACK_ECN : FrameType.ACK);
  w.varint(largest)
    .varint(ackDelay)
    .varint(n / 2 - 1)
    .varint(largest - prevLo);
  for (let i = 2; i < n; i += 2) {
    const hi = ranges[i]!;
    const lo = ranges[i + 1]!;
    w.varint(prevLo - hi - 2).varint(hi - lo);
    prevLo = lo;
  }
  if (ecn) w.varint(ecn.ect0).varint(ecn.ect1).varint(ecn.ce);
}

/** Octets taken by writeAckFrame with the same arguments. */
export function ackFrameLength(
  ranges: readonly number[],
  ackDelay: number,
  ecn: EcnCounts | undefined,
): number {
  const n = ranges.length;
  const largest = ranges[0]!;
  let prevLo = ranges[1]!;
  let len =
    1 +
    varintLength(largest) +
    varintLength(ackDelay) +
    varintLength(n / 2 - 1) +
    varintLength(largest - prevLo);
  for (let i = 2; i < n; i += 2) {
    const hi = ranges[i]!;
    const lo = ranges[i + 1]!;
    len += varintLength(prevLo - hi - 2) + varintLength(hi - lo);
    prevLo = lo;
  }
  if (ecn) len += varintLength(ecn.ect0) + varintLength(ecn.ect1) + varintLength(ecn.ce);
  return len;
}

/**
 * Encodes any frame. STREAM and DATAGRAM frames carry an explicit Length unless `lastInPacket`
 * (then their data runs to the end of the packet). A STREAM frame at offset 0 omits the Offset.
 */
export function encodeFrame(w: BufferWriter, f: Frame, lastInPacket = false): void {
  switch (f.type) {
    case 'padding':
      w.zeros(f.length);
      return;
    case 'ping':
      w.u8(FrameType.PING);
      return;
    case 'ack':
      writeAckFrame(w, f.ranges, f.ackDelay, f.ecn);
      return;
    case 'reset_stream':
      w.u8(FrameType.RESET_STREAM).varint(f.streamId).varint(f.errorCode).varint(f.finalSize);
      return;
    case 'stop_sending':
      w.u8(FrameType.STOP_SENDING).varint(f.streamId).varint(f.errorCode);
      return;
    case 'crypto':
      writeCryptoFrameHeader(w, f.offset, f.data.length);
      w.bytes(f.data);
      return;
    case 'new_token':
      w.u8(FrameType.NEW_TOKEN).varint(f.token.length).bytes(f.token);
      return;
    case 'stream':
      writeStreamFrameHeader(w, f.streamId, f.offset, f.data.length, f.fin, !lastInPacket);
      w.bytes(f.data);
      return;
    case 'max_data':
      w.u8(FrameType.MAX_DATA).varint(f.maximum);
      return;
    case 'max_stream_data':
      w.u8(FrameType.MAX_STREAM_DATA).varint(f.streamId).varint(f.maximum);
      return;
    case 'max_streams':
      w.u8(f.bidi ? FrameType.MAX_STREAMS_BIDI : FrameType.MAX_STREAMS_UNI).varint(f.maximum);
      return;
    case 'data_blocked':
      w.u8(FrameType.DATA_BLOCKED).varint(f.limit);
      return;
    case 'stream_data_blocked':
      w.u8(FrameType.STREAM_DATA_BLOCKED).varint(f.streamId).varint(f.limit);
      return;
    case 'streams_blocked':
      w.u8(f.bidi ? FrameType.STREAMS_BLOCKED_BIDI : FrameType.STREAMS_BLOCKED_UNI).varint(f.limit);
      return;
    case 'new_connection_id':
      if (f.connectionId.length < 1 || f.connectionId.length > 20 || f.resetToken.length !== 16) {
        throw new RangeError('invalid NEW_CONNECTION_ID fields');
      }
      w.u8(FrameType.NEW_CONNECTION_ID).varint(f.sequence).varint(f.retirePriorTo);
      w.u8(f.connectionId.length).bytes(f.connectionId).bytes(f.resetToken);
      return;
    case 'retire_connection_id':
      w.u8(FrameType.RETIRE_CONNECTION_ID).varint(f.sequence);
      return;
    case 'path_challenge':
    case 'path_response':
      if (f.data.length !== 8) throw new RangeError('PATH_CHALLENGE/PATH_RESPONSE data must be 8 octets');
      w.u8(f.type === 'path_challenge' ? FrameType.PATH_CHALLENGE : FrameType.PATH_RESPONSE).bytes(f.data);
      return;
    case 'connection_close': {
      const reason = utf8Encoder.encode(f.reason);
      w.u8(f.application ? FrameType.CONNECTION_CLOSE_APP : FrameType.CONNECTION_CLOSE).varint(f.errorCode);
      if (!f.application) w.varint(f.frameType);
      w.varint(reason.length).bytes(reason);
      return;
    }
    case 'handshake_done':
      w.u8(FrameType.HANDSHAKE_DONE);
      return;
    case 'datagram':
      if (lastInPacket) w.u8(FrameType.DATAGRAM);
      else w.u8(FrameType.DATAGRAM_LEN).varint(f.data.length);
      w.bytes(f.data);
      return;
  }
}

/** Octets encodeFrame(w, f, lastInPacket) writes. */
export function frameEncodedLength(f: Frame, lastInPacket = false): number {
  switch (f.type) {
    case 'padding':
      return f.length;
    case 'ping':
    case 'handshake_done':
      return 1;
    case 'ack':
      return ackFrameLength(f.ranges, f.ackDelay, f.ecn);
    case 'reset_stream':
      return 1 + varintLength(f.streamId) + varintLength(f.errorCode) + varintLength(f.finalSize);
    case 'stop_sending':
      return 1 + varintLength(f.streamId) + varintLength(f.errorCode);
    case 'crypto':
      return cryptoFrameHeaderLength(f.offset, f.data.length) + f.data.length;
    case 'new_token':
      return 1 + varintLength(f.token.length) + f.token.length;
    case 'stream':
      return streamFrameHeaderLength(f.streamId, f.offset, f.data.length, !lastInPacket) + f.data.length;
    case 'max_data':
      return 1 + varintLength(f.maximum);
    case 'max_stream_data':
      return 1 + varintLength(f.streamId) + varintLength(f.maximum);
    case 'max_streams':
      return 1 + varintLength(f.maximum);
    case 'data_blocked':
      return 1 + varintLength(f.limit);
    case 'stream_data_blocked':
      return 1 + varintLength(f.streamId) + varintLength(f.limit);
    case 'streams_blocked':
      return 1 + varintLength(f.limit);
    case 'new_connection_id':
      return 1 + varintLength(f.sequence) + varintLength(f.retirePriorTo) + 1 + f.connectionId.length + 16;
    case 'retire_connection_id':
      return 1 + varintLength(f.sequence);
    case 'path_challenge':
    case 'path_response':
      return 9;
    case 'connection_close': {
      const n = Buffer.byteLength(f.reason, 'utf8');
      return (
        1 + varintLength(f.errorCode) + (f.application ? 0 : varintLength(f.frameType)) + varintLength(n) + n
      );
    }
    case 'datagram':
      return (lastInPacket ? 1 : 1 + varintLength(f.data.length)) + f.data.length;
  }
}
