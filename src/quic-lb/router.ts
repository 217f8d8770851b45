// Stateless QUIC-LB load balancer decision (draft-ietf-quic-load-balancers §4, §5.5, §8): find
// the DCID with the version-invariant header rules (RFC 8999), decode the server ID with the
// config named by the config rotation bits and pick that server; anything unroutable goes to the
// baseline fallback, a function of the 4-tuple only (§4.3.1). No per-connection table: the
// optional tables of §4.2 steps 2-4 and §6 are left to the caller. route() never throws (except
// what the caller's fallback throws).
import { fromHex } from '../common/bytes.js';
import { QuicLbCipher } from './cipher.js';
import { type QuicLbConfig, UNROUTABLE_CONFIG_ROTATION } from './config.js';

/** The UDP 4-tuple of a datagram arriving at the load balancer. */
export interface FourTuple {
  readonly srcAddr: string;
  readonly srcPort: number;
  readonly dstAddr: string;
  readonly dstPort: number;
}

export type RouteReason = 'cid' | 'fallback';

export interface RouteDecision<T> {
  readonly target: T;
  readonly reason: RouteReason;
}

interface Slot {
  readonly cipher: QuicLbCipher;
  readonly selfEncodeLength: boolean;
  /** Octets of DCID the decoder needs: first octet + server ID + nonce. */
  readonly need: number;
  /** Scratch for the decoded server ID. */
  readonly sid: Uint8Array;
}

export class QuicLbRouter<T> {
  /** Indexed by config rotation codepoint; index 7 (unroutable) stays empty. */
  readonly #slots: (Slot | undefined)[] = new Array<Slot | undefined>(8).fill(undefined);
  /** Server ID (see serverIdKey) → the prebuilt decision for that server. */
  readonly #servers = new Map<number | string, RouteDecision<T>>();
  readonly #fallback: (fourTuple: FourTuple, datagram: Uint8Array) => T;

  /**
   * `configs`: at most one per config rotation codepoint. `servers`: server ID in hex (one
   * allocation shared by every config with that server ID length, §5.1) → target.
   * `fallback`: the baseline fallback (§4.3.1), e.g. rendezvousFallback(servers, seed).
   */
  constructor(
    configs: readonly QuicLbConfig[],
    servers: ReadonlyMap<string, T>,
    fallback: (fourTuple: FourTuple, datagram: Uint8Array) => T,
  ) {
    for (const config of configs) {
      const cr = config.configRotation;
      if (this.#slots[cr] !== undefined) {
        throw new RangeError(`QUIC-LB router: two configs for config rotation ${cr}`);
      }
      this.#slots[cr] = {
        cipher: new QuicLbCipher(config),
        selfEncodeLength: config.selfEncodeLength,
        need: 1 + config.plaintextLength,
        sid: new Uint8Array(config.serverIdLength),
      };
    }
    for (const [hexId, target] of servers) {
      const sid = parseServerId(hexId);
      const key = serverIdKey(sid);
      if (this.#servers.has(key)) throw new RangeError(`QUIC-LB router: duplicate server ID ${hexId}`);
      this.#servers.set(key, Object.freeze({ target, reason: 'cid' as const }));
    }
    this.#fallback = fallback;
  }

  /** Where one datagram goes: the server its DCID names, or the 4-tuple fallback. */
  route(datagram: Uint8Array, fourTuple: FourTuple): RouteDecision<T> {
    return this.#routeByCid(datagram) ?? { target: this.#fallback(fourTuple, datagram), reason: 'fallback' };
  }

  #routeByCid(d: Uint8Array): RouteDecision<T> | undefined {
    const n = d.length;
    if (n === 0) return undefined;
    let off: number;
    let avail: number;
    const long = (d[0]! & 0x80) !== 0;
    if (long) {
      // RFC 8999 §5.1: first octet, version (4), DCID length (1), DCID.
      if (n < 6) return undefined;
      avail = d[5]!;
      off = 6;
      if (off + avail > n) return undefined;
    } else {
      // RFC 8999 §5.2: the DCID follows the first octet; its length is known to the receiver.
      off = 1;
      avail = n - 1;
    }
    if (avail === 0) return undefined;
    const first = d[off]!;
    const cr = first >> 5;
    // §4.1: 0b111 is always unroutable; so is a codepoint with no active config.
    if (cr === UNROUTABLE_CONFIG_ROTATION) return undefined;
    const slot = this.#slots[cr];
    if (slot === undefined) return undefined;
    // §4.1: a DCID too short for the decoder is unroutable.
    if (avail < slot.need) return undefined;
    if (slot.selfEncodeLength) {
      // §4.1 optional checks when every server self-encodes the length: large enough for the
      // decoder, within the packet, and in a long header one less than the header's length.
      const self = (first & 0x1f) + 1;
      if (self < slot.need || self > avail || (long && self !== avail)) return undefined;
    }
    slot.cipher.decryptServerId(d, off + 1, slot.sid); // §5.5
    // §4.1: a server ID that is not an active server is unroutable.
    return this.#servers.get(serverIdKey(slot.sid));
  }
}

/**
 * A baseline fallback (§4.3.1): rendezvous (highest random weight) hashing of the 4-tuple over
 * the servers' IDs, seeded. Stable for one 4-tuple; removing a server only moves the flows that
 * hashed to it. Every load balancer of a pool must use the same seed to agree.
 */
export function rendezvousFallback<T>(servers: ReadonlyMap<string, T>, seed: number): (t: FourTuple) => T {
  const { targets, weights } = rendezvousWeights(servers, (seed ^ 0x5bd1e995) >>> 0);
  const s = seed >>> 0;
  return (t: FourTuple): T => targets[highestWeight(fourTupleHash(t, s), weights)]!;
}

/** Each server's target and its rendezvous weight (a salted hash of its ID). */
function rendezvousWeights<T>(
  servers: ReadonlyMap<string, T>,
  salt: number,
): { targets: T[]; weights: number[] } {
  const targets: T[] = [];
  const weights: number[] = [];
  for (const [hexId, target] of servers) {
    targets.push(target);
    weights.push(mix32(hashString(salt, hexId.toLowerCase())));
  }
  if (targets.length === 0) throw new RangeError('QUIC-LB fallback needs at least one server');
  return { targets, weights };
}

/** Rendezvous hashing: the index whose weight mixed with `h` scores highest. */
function highestWeight(h: number, weights: readonly number[]): number {
  let best = 0;
  let bestScore = -1;
  for (let i = 0; i < weights.length; i++) {
    const score = mix32(h ^ weights[i]!);
    if (score > bestScore) {
      bestScore = score;
      best = i;
    }
  }
  return best;
}

/** QUIC versions whose long headers this module parses beyond RFC 8999 (v1, v2). */
const KNOWN_VERSIONS = new Set([0x00000001, 0x6b3343cf]);

/**
 * An advanced fallback (§4.3.2) that needs no table: a long header of a known version (v1, v2)
 * with an unroutable DCID is a client's first flight (Initial, 0-RTT) — every packet of it,
 * retransmissions and 0-RTT included, carries the DCID the client chose, so a seeded hash of that
 * DCID sends them all to one server whatever their 4-tuple. That also sends a replay of them from
 * a spoofed address to the server that already saw them, whose 0-RTT anti-replay then rejects
 * it (RFC 9001 §9.2). Anything else — unknown versions (§4.3.2 MUST), short headers — takes
 * `baseline`, a function of the 4-tuple only (§4.3.1).
 */
export function firstFlightFallback<T>(
  servers: ReadonlyMap<string, T>,
  seed: number,
  baseline: (t: FourTuple) => T = rendezvousFallback(servers, seed),
): (t: FourTuple, datagram: Uint8Array) => T {
  const { targets, weights } = rendezvousWeights(servers, (seed ^ 0x2545f491) >>> 0);
  const s = (seed ^ 0x9e3779b9) >>> 0;
  return (t: FourTuple, d: Uint8Array): T => {
    const n = d.length;
    if (n < 6 || (d[0]! & 0x80) === 0) return baseline(t);
    const version = ((d[1]! << 24) | (d[2]! << 16) | (d[3]! << 8) | d[4]!) >>> 0;
    const len = d[5]!;
    if (!KNOWN_VERSIONS.has(version) || len === 0 || 6 + len > n) return baseline(t);
    let h = (0x811c9dc5 ^ s) >>> 0;
    for (let i = 6; i < 6 + len; i++) h = Math.imul(h ^ d[i]!, 0x01000193);
    // Rendezvous over the servers, like the baseline: removing one moves only its flows.
    return targets[highestWeight(mix32(Math.imul(h ^ len, 0x01000193)), weights)]!;
  };
}

/** Seeded 32-bit hash of a 4-tuple (FNV-1a over its fields, murmur3 finalizer). Not secret. */
export function fourTupleHash(t: FourTuple, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  h = hashString(h, t.srcAddr);
  h = Math.imul(h ^ (t.srcPort & 0xffff), 0x01000193);
  h = hashString(h, t.dstAddr);
  h = Math.imul(h ^ (t.dstPort & 0xffff), 0x01000193);
  return mix32(h);
}

function hashString(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  // Length terminator, so ("1.2.3.4", port) and ("1.2.3.4x", …) cannot line up.
  return Math.imul(h ^ s.length, 0x01000193);
}

function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function parseServerId(hexId: string): Uint8Array {
  let sid: Uint8Array;
  try {
    sid = fromHex(hexId);
  } catch {
    throw new RangeError(`QUIC-LB router: server ID must be hex, got ${JSON.stringify(hexId)}`);
  }
  if (sid.length < 1 || sid.length > 15) {
    throw new RangeError(`QUIC-LB router: server ID must be 1..15 octets, got ${hexId}`);
  }
  return sid;
}

/**
 * Map key of a server ID: up to 6 octets a number (value × 16 + length, exact below 2^53, no
 * allocation per packet); longer IDs a latin1 string of their octets.
 */
function serverIdKey(sid: Uint8Array): number | string {
  const len = sid.length;
  if (len <= 6) {
    let v = 0;
    for (let i = 0; i < len; i++) v = v * 256 + sid[i]!;
    return v * 16 + len;
  }
  let s = '';
  for (let i = 0; i < len; i++) s += String.fromCharCode(sid[i]!);
  return s;
}
