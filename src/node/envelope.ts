// The envelope of a QUIC datagram relayed between trusted feather-quic processes (a load
// balancer and its backends, the workers of one server): the client's address and the public
// address the datagram arrived at (or leaves from) travel with it, so the receiving process sees
// the true path and connection migration keeps working behind the relay.
//
//   0      2      3      4           6           8
//   +------+------+------+-----------+-----------+---------------+---------------+---------
//   | 'FQ' | ver  | lens | peer port | local port| peer address  | local address | payload
//   +------+------+------+-----------+-----------+---------------+---------------+---------
//   lens: high nibble = peer address length, low nibble = local address length (4 or 16 → 1/2)
//
// Addresses are binary IPv4 (4 octets) or IPv6 (16 octets, RFC 5952 text when decoded; IPv6
// zone indexes are not carried). Decoding never throws: a malformed envelope is reported as
// undefined and dropped by the caller.
import { isIPv4, isIPv6 } from 'node:net';
import type { SocketAddress } from '../common/addr.js';

export const ENVELOPE_MAGIC_0 = 0x46; // 'F'
export const ENVELOPE_MAGIC_1 = 0x51; // 'Q'
export const ENVELOPE_VERSION = 1;
/** Largest envelope header (two IPv6 addresses). */
export const MAX_ENVELOPE_HEADER = 8 + 16 + 16;

export interface Envelope {
  /** The QUIC peer (the client's address as the relay saw it). */
  readonly peer: SocketAddress;
  /** The public address the datagram arrived at, or must be sent from. */
  readonly local: SocketAddress;
  /** The QUIC datagram (a view into the envelope). */
  readonly payload: Uint8Array;
}

/** Octets of an address: 4 (IPv4), 16 (IPv6); 0 if `ip` is not an IP literal. */
function addressLength(ip: string): number {
  if (isIPv4(ip)) return 4;
  if (isIPv6(ip)) return 16;
  return 0;
}

function writeIPv4(out: Uint8Array, at: number, ip: string): void {
  let part = 0;
  let value = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 0x2e) {
      out[at + part++] = value;
      value = 0;
    } else value = value * 10 + (c - 0x30);
  }
  out[at + part] = value;
}

function writeIPv6(out: Uint8Array, at: number, ip: string): void {
  const zone = ip.indexOf('%');
  const text = zone >= 0 ? ip.slice(0, zone) : ip;
  // An IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  let groups: string[];
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = new Uint8Array(4);
    writeIPv4(v4, 0, tail);
    const head = text.slice(0, lastColon + 1);
    groups = expandIPv6(
      `${head}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`,
    );
  } else {
    groups = expandIPv6(text);
  }
  for (let i = 0; i < 8; i++) {
    const g = Number.parseInt(groups[i]!, 16);
    out[at + 2 * i] = g >> 8;
    out[at + 2 * i + 1] = g & 0xff;
  }
}

function expandIPv6(text: string): string[] {
  const double = text.indexOf('::');
  if (double < 0) return text.split(':');
  const head = text
    .slice(0, double)
    .split(':')
    .filter((g) => g !== '');
  const tail = text
    .slice(double + 2)
    .split(':')
    .filter((g) => g !== '');
  return [...head, ...new Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
}

function readAddress(buf: Uint8Array, at: number, len: number): string {
  if (len === 4) return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
  // IPv4-mapped (::ffff:a.b.c.d) in the form node:dgram reports it.
  let mapped = buf[at + 10] === 0xff && buf[at + 11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (buf[at + i] !== 0) mapped = false;
  if (mapped) return `::ffff:${buf[at + 12]}.${buf[at + 13]}.${buf[at + 14]}.${buf[at + 15]}`;
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(((buf[at + 2 * i]! << 8) | buf[at + 2 * i + 1]!).toString(16));
  return compressIPv6(groups);
}

/** RFC 5952 text form: the longest run (≥ 2) of zero groups becomes '::'. */
function compressIPv6(groups: string[]): string {
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestAt < 0) return groups.join(':');
  return `${groups.slice(0, bestAt).join(':')}::${groups.slice(bestAt + bestLen).join(':')}`;
}

/** Header length for these two addresses; RangeError if one is not an IP literal. */
export function envelopeHeaderLength(peer: SocketAddress, local: SocketAddress): number {
  const p = addressLength(peer.address);
  const l = addressLength(local.address);
  if (p === 0 || l === 0) throw new RangeError('envelope addresses must be IP literals');
  return 8 + p + l;
}

/**
 * Writes the envelope header for `peer`/`local` at `out[0..)` and returns its length; the
 * payload goes right after it. RangeError for non-IP addresses, bad ports or a short buffer.
 */
export function writeEnvelopeHeader(out: Uint8Array, peer: SocketAddress, local: SocketAddress): number {
  const p = addressLength(peer.address);
  const l = addressLength(local.address);
  if (p === 0 || l === 0) throw new RangeError('envelope addresses must be IP literals');
  for (const port of [peer.port, local.port]) {
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError('bad port');
  }
  const n = 8 + p + l;
  if (out.length < n) throw new RangeError('buffer too small for the envelope header');
  out[0] = ENVELOPE_MAGIC_0;
  out[1] = ENVELOPE_MAGIC_1;
  out[2] = ENVELOPE_VERSION;
  out[3] = ((p === 4 ? 1 : 2) << 4) | (l === 4 ? 1 : 2);
  out[4] = peer.port >> 8;
  out[5] = peer.port & 0xff;
  out[6] = local.port >> 8;
  out[7] = local.port & 0xff;
  if (p === 4) writeIPv4(out, 8, peer.address);
  else writeIPv6(out, 8, peer.address);
  if (l === 4) writeIPv4(out, 8 + p, local.address);
  else writeIPv6(out, 8 + p, local.address);
  return n;
}

/** A new buffer: envelope header + `payload`. */
export function encodeEnvelope(peer: SocketAddress, local: SocketAddress, payload: Uint8Array): Uint8Array {
  const n = envelopeHeaderLength(peer, local);
  const out = new Uint8Array(n + payload.length);
  writeEnvelopeHeader(out, peer, local);
  out.set(payload, n);
  return out;
}

/** The envelope in `buf`, or undefined when it is not a well-formed version 1 envelope. */
export function decodeEnvelope(buf: Uint8Array): Envelope | undefined {
  if (buf.length < 8 || buf[0] !== ENVELOPE_MAGIC_0 || buf[1] !== ENVELOPE_MAGIC_1) return undefined;
  if (buf[2] !== ENVELOPE_VERSION) return undefined;
  const lens = buf[3]!;
  const pCode = lens >> 4;
  const lCode = lens & 0x0f;
  if ((pCode !== 1 && pCode !== 2) || (lCode !== 1 && lCode !== 2)) return undefined;
  const p = pCode === 1 ? 4 : 16;
  const l = lCode === 1 ? 4 : 16;
  const n = 8 + p + l;
  if (buf.length < n) return undefined;
  return {
    peer: { address: readAddress(buf, 8, p), port: (buf[4]! << 8) | buf[5]! },
    local: { address: readAddress(buf, 8 + p, l), port: (buf[6]! << 8) | buf[7]! },
    payload: buf.subarray(n),
  };
}
