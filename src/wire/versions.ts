// QUIC version numbers (RFC 9000 §15, RFC 9369 §3.1).
import type { Random } from '../common/random.js';

export const QUIC_V1 = 0x00000001;
export const QUIC_V2 = 0x6b3343cf;
/** Version 0 marks a Version Negotiation packet (RFC 9000 §17.2.1). */
export const VERSION_NEGOTIATION = 0x00000000;

/** Versions this stack speaks, in order of preference. */
export const SUPPORTED_VERSIONS: readonly number[] = [QUIC_V1, QUIC_V2];

export function isSupportedVersion(version: number): boolean {
  return version === QUIC_V1 || version === QUIC_V2;
}

/** RFC 9000 §15: versions 0x?a?a?a?a are reserved to exercise version negotiation. */
export function isReservedVersion(version: number): boolean {
  return (version & 0x0f0f0f0f) >>> 0 === 0x0a0a0a0a;
}

/** A random reserved version (0x?a?a?a?a), for greasing (RFC 9000 §15, §6.3). */
export function greaseVersion(random: Random): number {
  const b = new Uint8Array(4);
  random.fill(b);
  const v = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  return ((v & 0xf0f0f0f0) | 0x0a0a0a0a) >>> 0;
}
