// Packet number truncation and recovery (RFC 9000 §17.1, Appendix A.2/A.3). Packet numbers are
// JS numbers: exact up to 2^53, far beyond what a connection can send.

export type PacketNumberLength = 1 | 2 | 3 | 4;

/**
 * Octets needed to encode `pn` (RFC 9000 §17.1, A.2): enough bits to represent more than twice
 * the range of unacknowledged packet numbers. `largestAcked` is undefined before any ACK, when the
 * full range from 0 counts (RFC 9000 §17.1: the full packet number MUST be included).
 */
export function packetNumberLength(pn: number, largestAcked: number | undefined): PacketNumberLength {
  const unacked = largestAcked === undefined ? pn + 1 : pn - largestAcked;
  // min_bits = log2(unacked) + 1 <=> 2 * unacked <= 2^(8 * bytes)
  const range = unacked * 2;
  if (range <= 0x100) return 1;
  if (range <= 0x10000) return 2;
  if (range <= 0x1000000) return 3;
  return 4;
}

/** Writes the `len` least significant octets of `pn` at `off`; returns the offset after them. */
export function writePacketNumber(buf: Uint8Array, off: number, pn: number, len: PacketNumberLength): number {
  let v = pn % 0x100000000;
  for (let i = len - 1; i >= 0; i--) {
    buf[off + i] = v & 0xff;
    v = Math.floor(v / 256);
  }
  return off + len;
}

/** Reads a `len`-octet truncated packet number at `off` (after header protection is removed). */
export function readTruncatedPacketNumber(buf: Uint8Array, off: number, len: PacketNumberLength): number {
  let v = 0;
  for (let i = 0; i < len; i++) v = v * 256 + buf[off + i]!;
  return v;
}

const PN_LIMIT = 2 ** 62;

/**
 * Recovers the full packet number (RFC 9000 §17.1, Appendix A.3). `largestPn` is the largest
 * packet number successfully processed in the space (-1 if none), `nbits` is 8, 16, 24 or 32.
 */
export function decodePacketNumber(largestPn: number, truncated: number, nbits: number): number {
  const expected = largestPn + 1;
  const win = 2 ** nbits;
  const hwin = win / 2;
  // (expected_pn & ~pn_mask) | truncated_pn, without 32-bit bitwise operators.
  const candidate = expected - (expected % win) + truncated;
  if (candidate <= expected - hwin && candidate < PN_LIMIT - win) return candidate + win;
  if (candidate > expected + hwin && candidate >= win) return candidate - win;
  return candidate;
}
