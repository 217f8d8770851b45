// Retry packets (RFC 9000 §17.2.5) and their integrity tag (RFC 9001 §5.8, RFC 9369 §3.3.3).
import { createCipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { constantTimeEqual, fromHex } from '../common/bytes.js';
import { cryptoRandom, type Random } from '../common/random.js';
import { QUIC_V1, QUIC_V2 } from '../wire/versions.js';

export const RETRY_TAG_LENGTH = 16;
const MAX_CID_LENGTH = 20; // RFC 9000 §17.2

interface RetryKey {
  readonly key: KeyObject;
  readonly nonce: Uint8Array;
  /** Long Packet Type of Retry: 0b11 in v1 (RFC 9000 §17.2.5), 0b00 in v2 (RFC 9369 §3.2). */
  readonly type: number;
}

// RFC 9001 §5.8: fixed key and nonce.
const V1: RetryKey = {
  key: createSecretKey(fromHex('be0c690b9f66575a1d766b54e368c84e')),
  nonce: fromHex('461599d35d632bf2239825bb'),
  type: 3,
};
// RFC 9369 §3.3.3.
const V2: RetryKey = {
  key: createSecretKey(fromHex('8fb4b01b56ac48e260fbcbcead7ccc92')),
  nonce: fromHex('d86969bc2d7c6d9990efb04a'),
  type: 0,
};

function retryKey(version: number): RetryKey | undefined {
  return version === QUIC_V1 ? V1 : version === QUIC_V2 ? V2 : undefined;
}

/**
 * RFC 9001 §5.8: AEAD_AES_128_GCM over an empty plaintext with the Retry Pseudo-Packet
 * (ODCID Length, ODCID, then the Retry packet without its tag) as associated data.
 */
function integrityTag(rk: RetryKey, originalDcid: Uint8Array, retryWithoutTag: Uint8Array): Uint8Array {
  const pseudo = new Uint8Array(1 + originalDcid.length + retryWithoutTag.length);
  pseudo[0] = originalDcid.length;
  pseudo.set(originalDcid, 1);
  pseudo.set(retryWithoutTag, 1 + originalDcid.length);
  const cipher = createCipheriv('aes-128-gcm', rk.key, rk.nonce);
  cipher.setAAD(pseudo);
  cipher.final();
  return cipher.getAuthTag();
}

export interface RetryPacketParams {
  readonly version: number;
  /** The client's Source Connection ID (RFC 9000 §17.2.5.1). */
  readonly dcid: Uint8Array;
  /** The server's new connection ID; must differ from originalDcid (RFC 9000 §17.2.5.1). */
  readonly scid: Uint8Array;
  /** The Destination Connection ID of the client's Initial. */
  readonly originalDcid: Uint8Array;
  readonly token: Uint8Array;
  /** Source of the 4 Unused bits (RFC 9000 §17.2.5: arbitrary); default node:crypto. */
  readonly random?: Random;
  /** Explicit Unused bits (0..15), e.g. to reproduce test vectors. */
  readonly unusedBits?: number;
}

/** A complete Retry packet with its integrity tag. RangeError on invalid parameters. */
export function encodeRetryPacket(p: RetryPacketParams): Uint8Array {
  const rk = retryKey(p.version);
  if (!rk) throw new RangeError(`unsupported QUIC version 0x${p.version.toString(16)}`);
  if (
    p.dcid.length > MAX_CID_LENGTH ||
    p.scid.length > MAX_CID_LENGTH ||
    p.originalDcid.length > MAX_CID_LENGTH
  ) {
    throw new RangeError('connection ID longer than 20 octets');
  }
  // RFC 9000 §17.2.5.2: a client discards a Retry with an empty token.
  if (p.token.length === 0) throw new RangeError('Retry token must not be empty');
  // RFC 9000 §17.2.5.1: the SCID MUST NOT equal the DCID of the client's Initial.
  if (p.scid.length === p.originalDcid.length && p.scid.every((b, i) => b === p.originalDcid[i])) {
    throw new RangeError('Retry SCID must differ from the original DCID');
  }
  let unused = p.unusedBits;
  if (unused === undefined) {
    const r = new Uint8Array(1);
    (p.random ?? cryptoRandom).fill(r);
    unused = r[0]!;
  }
  const len = 1 + 4 + 1 + p.dcid.length + 1 + p.scid.length + p.token.length;
  const out = new Uint8Array(len + RETRY_TAG_LENGTH);
  let o = 0;
  out[o++] = 0xc0 | (rk.type << 4) | (unused & 0x0f); // RFC 9000 §17.2.5: form 1, fixed bit 1
  out[o++] = p.version >>> 24;
  out[o++] = p.version >>> 16;
  out[o++] = p.version >>> 8;
  out[o++] = p.version;
  out[o++] = p.dcid.length;
  out.set(p.dcid, o);
  o += p.dcid.length;
  out[o++] = p.scid.length;
  out.set(p.scid, o);
  o += p.scid.length;
  out.set(p.token, o);
  out.set(integrityTag(rk, p.originalDcid, out.subarray(0, len)), len);
  return out;
}

/**
 * Whether a Retry packet's integrity tag matches the client's original DCID (RFC 9001 §5.8;
 * RFC 9000 §17.2.5.2: clients MUST discard Retry packets that fail). Never throws.
 */
export function verifyRetryIntegrity(packet: Uint8Array, originalDcid: Uint8Array, version: number): boolean {
  const rk = retryKey(version);
  if (!rk || packet.length < 7 + RETRY_TAG_LENGTH || originalDcid.length > 255) return false;
  const len = packet.length - RETRY_TAG_LENGTH;
  return constantTimeEqual(integrityTag(rk, originalDcid, packet.subarray(0, len)), packet.subarray(len));
}

export interface RetryPacket {
  readonly version: number;
  readonly dcid: Uint8Array;
  readonly scid: Uint8Array;
  readonly token: Uint8Array;
  readonly tag: Uint8Array;
}

/**
 * Parses a datagram holding a Retry packet (it has no Length field, so it fills the datagram).
 * Returns undefined if it is not a well-formed v1/v2 Retry or its token is empty (RFC 9000
 * §17.2.5.2). The Fixed Bit is not checked (RFC 9287 may clear it); the integrity tag is
 * checked separately by verifyRetryIntegrity. Values are copies. Never throws.
 */
export function decodeRetryPacket(datagram: Uint8Array): RetryPacket | undefined {
  const n = datagram.length;
  if (n < 7 + RETRY_TAG_LENGTH) return undefined;
  const first = datagram[0]!;
  if ((first & 0x80) === 0) return undefined;
  const version = ((datagram[1]! << 24) | (datagram[2]! << 16) | (datagram[3]! << 8) | datagram[4]!) >>> 0;
  const rk = retryKey(version);
  if (!rk || ((first >> 4) & 0x03) !== rk.type) return undefined;
  let o = 5;
  const dcidLen = datagram[o++]!;
  if (dcidLen > MAX_CID_LENGTH || o + dcidLen + 1 > n) return undefined; // RFC 9000 §17.2
  const dcid = datagram.slice(o, o + dcidLen);
  o += dcidLen;
  const scidLen = datagram[o++]!;
  if (scidLen > MAX_CID_LENGTH || o + scidLen > n) return undefined; // RFC 9000 §17.2
  const scid = datagram.slice(o, o + scidLen);
  o += scidLen;
  const tokenEnd = n - RETRY_TAG_LENGTH;
  if (tokenEnd <= o) return undefined; // RFC 9000 §17.2.5.2: empty token
  return { version, dcid, scid, token: datagram.slice(o, tokenEnd), tag: datagram.slice(tokenEnd) };
}
