// Version Negotiation packets (RFC 9000 §17.2.1, RFC 8999 §6).
import { TransportError, TransportErrorCode } from '../common/errors.js';
import { type Random, randomInt } from '../common/random.js';
import { greaseVersion, VERSION_NEGOTIATION } from './versions.js';

export interface VersionNegotiation {
  dcid: Uint8Array;
  scid: Uint8Array;
  versions: number[];
}

/**
 * Builds a Version Negotiation packet in reply to a packet with an unsupported version. `dcid` is
 * the received Source Connection ID and `scid` the received Destination Connection ID (RFC 9000
 * §17.2.1: both MUST be echoed; up to 255 octets each, RFC 8999 §6). A reserved version is mixed
 * into the list at a random position.
 */
export function encodeVersionNegotiation(
  dcid: Uint8Array,
  scid: Uint8Array,
  versions: readonly number[],
  random: Random,
): Uint8Array {
  if (dcid.length > 255 || scid.length > 255) throw new RangeError('connection ID longer than 255 octets');
  const n = versions.length + 1;
  const out = new Uint8Array(7 + dcid.length + scid.length + 4 * n);
  random.fill(out.subarray(0, 1));
  // RFC 9000 §17.2.1: Unused bits arbitrary; the header form bit set; 0x40 SHOULD be set.
  out[0] = 0x80 | 0x40 | (out[0]! & 0x3f);
  // Version field stays 0 (RFC 9000 §17.2.1: MUST be 0x00000000).
  let o = 5;
  out[o++] = dcid.length;
  out.set(dcid, o);
  o += dcid.length;
  out[o++] = scid.length;
  out.set(scid, o);
  o += scid.length;
  const greaseAt = randomInt(random, n);
  const grease = greaseVersion(random);
  for (let i = 0, j = 0; i < n; i++) {
    const v = i === greaseAt ? grease : versions[j++]!;
    out[o++] = v >>> 24;
    out[o++] = v >>> 16;
    out[o++] = v >>> 8;
    out[o++] = v;
  }
  return out;
}

function malformed(reason: string): never {
  throw new TransportError(TransportErrorCode.PROTOCOL_VIOLATION, reason);
}

/**
 * Decodes a Version Negotiation packet (a whole datagram). Throws TransportError
 * (PROTOCOL_VIOLATION) when the datagram is not one or is malformed; the caller ignores it.
 */
export function decodeVersionNegotiation(datagram: Uint8Array): VersionNegotiation {
  const end = datagram.length;
  if (end < 7 || (datagram[0]! & 0x80) === 0) malformed('not a long header');
  const version = ((datagram[1]! << 24) | (datagram[2]! << 16) | (datagram[3]! << 8) | datagram[4]!) >>> 0;
  if (version !== VERSION_NEGOTIATION) malformed('not a Version Negotiation packet');
  let o = 5;
  const dcidLen = datagram[o++]!;
  if (o + dcidLen + 1 > end) malformed('truncated connection ID');
  const dcid = datagram.subarray(o, o + dcidLen);
  o += dcidLen;
  const scidLen = datagram[o++]!;
  if (o + scidLen > end) malformed('truncated connection ID');
  const scid = datagram.subarray(o, o + scidLen);
  o += scidLen;
  // RFC 8999 §6: a packet with no Supported Version, or a truncated one, MUST be ignored.
  const rest = end - o;
  if (rest === 0 || rest % 4 !== 0) malformed('malformed version list');
  const versions: number[] = [];
  for (; o < end; o += 4) {
    versions.push(
      ((datagram[o]! << 24) | (datagram[o + 1]! << 16) | (datagram[o + 2]! << 8) | datagram[o + 3]!) >>> 0,
    );
  }
  return { dcid, scid, versions };
}
