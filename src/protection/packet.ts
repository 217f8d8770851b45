// Whole-packet protection used by the connection: seal + header protection on the way out,
// header protection removal + packet number recovery + open on the way in (RFC 9001 §5).

import {
  decodePacketNumber,
  type PacketNumberLength,
  readTruncatedPacketNumber,
  writePacketNumber,
} from '../wire/packet-number.js';
import type { HeaderProtection, HeaderProtectionBatch } from './header-protection.js';
import { SAMPLE_LENGTH, SAMPLE_OFFSET } from './header-protection.js';
import type { PacketKeys } from './packet-keys.js';

/**
 * Receive keys of a space with key phases (1-RTT). The header protection key is the same for
 * every phase (RFC 9001 §6.1), so it is known before the Key Phase bit is; the keys are picked
 * once the bit and the packet number are recovered (RFC 9001 §6.3, §6.5). Implementations must
 * answer without timing differences that reveal the bit (RFC 9001 §6.3, §9.5), e.g. by keeping
 * next keys (or random ones) ready.
 */
export interface KeyPhaseSelector {
  readonly hp: HeaderProtection;
  keysFor(keyPhase: 0 | 1, pn: number): PacketKeys | undefined;
}

/** Keys for one received packet: fixed keys (Initial, 0-RTT, Handshake) or a key-phase selector. */
export type ReceiveKeys = PacketKeys | KeyPhaseSelector;

export interface UnprotectedPacket {
  /** Full packet number (RFC 9000 §17.1, Appendix A.3). */
  readonly pn: number;
  readonly pnLength: number;
  /** Offset of the first payload octet (end of the AAD). */
  readonly headerEnd: number;
  /** Decrypted payload (frames). */
  readonly payload: Uint8Array;
  /** Key Phase bit of a short header (0 for long headers). */
  readonly keyPhase: 0 | 1;
  /** First octet with header protection removed. */
  readonly firstByte: number;
  /**
   * Reserved bits (0x0c long, 0x18 short) after removing protection. Non-zero is a connection
   * error of type PROTOCOL_VIOLATION (RFC 9000 §17.2, §17.3.1); the caller raises it.
   */
  readonly reservedBits: number;
  /** The keys that authenticated the packet (tells the caller which key phase succeeded). */
  readonly keys: PacketKeys;
}

/**
 * Protects a packet whose header (apart from the packet number) and plaintext payload are in
 * `buf`: writes the truncated packet number and its length bits, seals the payload (RFC 9001
 * §5.3), applies header protection (§5.4.1) and returns the packet end (payloadEnd + 16). A
 * long header's Length field must already count the packet number, payload and 16-octet tag.
 * RangeError when the payload is too short to sample (the builder pads, RFC 9001 §5.4.2).
 * With `hpBatch`, header protection is queued there instead: apply the batch before sending.
 */
export function protectPacket(
  buf: Uint8Array,
  headerStart: number,
  pnOffset: number,
  pnLength: number,
  payloadEnd: number,
  pn: number,
  keys: PacketKeys,
  hpBatch?: HeaderProtectionBatch,
): number {
  if (!(pnLength >= 1 && pnLength <= 4)) throw new RangeError('packet number length must be 1..4');
  const headerEnd = pnOffset + pnLength;
  // RFC 9001 §5.4.2: the sample (16 octets at pnOffset + 4) must fit in the sealed packet.
  if (payloadEnd - pnOffset < SAMPLE_OFFSET) throw new RangeError('payload too short for header protection');
  if (!(headerStart >= 0 && pnOffset > headerStart && headerEnd <= payloadEnd)) {
    throw new RangeError('invalid packet bounds');
  }
  // RFC 9000 §17.1: the packet number is encoded in pnLength octets, its low bits truncated.
  writePacketNumber(buf, pnOffset, pn, pnLength as PacketNumberLength);
  const first = buf[headerStart]!;
  buf[headerStart] = (first & 0xfc) | (pnLength - 1);
  const end = keys.aead.seal(buf, headerStart, headerEnd, payloadEnd, pn); // RFC 9001 §5.3
  // RFC 9001 §5.4.1: after the AEAD, on the sealed packet.
  if (hpBatch !== undefined) hpBatch.add(keys.hp, buf, headerStart, pnOffset);
  else keys.hp.apply(buf, headerStart, pnOffset, (first & 0x80) !== 0);
  return end;
}

/**
 * Removes header protection in place, recovers the packet number from `largestPn` (largest
 * received in the space, -1 if none) and decrypts. Returns null when the packet cannot be
 * authenticated (too short to sample, no keys, AEAD failure); `buf` is then left exactly as it
 * was, so the caller can try other keys. Never throws.
 */
export function unprotectPacket(
  buf: Uint8Array,
  headerStart: number,
  pnOffset: number,
  packetEnd: number,
  keys: ReceiveKeys,
  largestPn: number,
): UnprotectedPacket | null {
  // RFC 9001 §5.4.2: discard packets too short to contain a complete sample.
  if (
    !(headerStart >= 0 && pnOffset > headerStart && packetEnd <= buf.length) ||
    pnOffset + SAMPLE_OFFSET + SAMPLE_LENGTH > packetEnd
  ) {
    return null;
  }
  const protectedFirst = buf[headerStart]!;
  const p0 = buf[pnOffset]!;
  const p1 = buf[pnOffset + 1]!;
  const p2 = buf[pnOffset + 2]!;
  const p3 = buf[pnOffset + 3]!;
  const longHeader = (protectedFirst & 0x80) !== 0;
  const pnLength = keys.hp.remove(buf, headerStart, pnOffset, longHeader, packetEnd);
  if (pnLength === 0) return null;
  // RFC 9000 §17.1, Appendix A.3.
  const truncated = readTruncatedPacketNumber(buf, pnOffset, pnLength as PacketNumberLength);
  const pn = decodePacketNumber(largestPn, truncated, pnLength * 8);
  const first = buf[headerStart]!;
  const keyPhase: 0 | 1 = longHeader ? 0 : (((first >> 2) & 1) as 0 | 1);
  const selected = 'aead' in keys ? keys : keys.keysFor(keyPhase, pn);
  const headerEnd = pnOffset + pnLength;
  // The sample check above guarantees room for the 16-octet tag after the packet number.
  const payload = selected ? selected.aead.open(buf, headerStart, headerEnd, packetEnd, pn) : null;
  if (!selected || !payload) {
    buf[headerStart] = protectedFirst;
    buf[pnOffset] = p0;
    buf[pnOffset + 1] = p1;
    buf[pnOffset + 2] = p2;
    buf[pnOffset + 3] = p3;
    return null;
  }
  return {
    pn,
    pnLength,
    headerEnd,
    payload,
    keyPhase,
    firstByte: first,
    // RFC 9000 §17.2 (0x0c) and §17.3.1 (0x18): checked after removing both protections.
    reservedBits: longHeader ? (first & 0x0c) >> 2 : (first & 0x18) >> 3,
    keys: selected,
  };
}
