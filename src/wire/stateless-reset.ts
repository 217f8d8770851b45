// Stateless Reset (RFC 9000 §10.3).
import type { Random } from '../common/random.js';

export const STATELESS_RESET_TOKEN_LENGTH = 16;
/** RFC 9000 §10.3: 5 octets (2 fixed + 38 unpredictable bits) plus the 16-octet token. */
export const MIN_STATELESS_RESET_LENGTH = 21;
/** Upper bound of the lengths statelessResetLengthFor picks. */
export const MAX_STATELESS_RESET_LENGTH = 1200;

/**
 * A Stateless Reset of `length` octets: first octet 0b01xxxxxx, unpredictable bits, then the token
 * (RFC 9000 §10.3). The caller keeps it smaller than the triggering packet (statelessResetLengthFor).
 */
export function encodeStatelessReset(token: Uint8Array, length: number, random: Random): Uint8Array {
  if (token.length !== STATELESS_RESET_TOKEN_LENGTH)
    throw new RangeError('stateless reset token must be 16 octets');
  if (!Number.isInteger(length) || length < MIN_STATELESS_RESET_LENGTH) {
    throw new RangeError(`stateless reset shorter than ${MIN_STATELESS_RESET_LENGTH} octets`);
  }
  const out = new Uint8Array(length);
  random.fill(out.subarray(0, length - STATELESS_RESET_TOKEN_LENGTH));
  // RFC 9000 §10.3: formatted as a short header packet: header form 0, fixed bit 1.
  out[0] = 0x40 | (out[0]! & 0x3f);
  out.set(token, length - STATELESS_RESET_TOKEN_LENGTH);
  return out;
}

/**
 * Length of a Stateless Reset sent in reply to a packet of `triggerLength` octets: strictly
 * smaller (RFC 9000 §10.3.3, against looping), one octet shorter for short triggers (§10.3), and
 * capped at MAX_STATELESS_RESET_LENGTH. Returns 0 when no reset may be sent (trigger too small).
 */
export function statelessResetLengthFor(triggerLength: number): number {
  if (triggerLength <= MIN_STATELESS_RESET_LENGTH) return 0;
  return Math.min(triggerLength - 1, MAX_STATELESS_RESET_LENGTH);
}

/** The candidate token of a datagram (its last 16 octets, a view), or undefined if under 21 octets. */
export function statelessResetTokenOf(datagram: Uint8Array): Uint8Array | undefined {
  if (datagram.length < MIN_STATELESS_RESET_LENGTH) return undefined;
  return datagram.subarray(datagram.length - STATELESS_RESET_TOKEN_LENGTH);
}
