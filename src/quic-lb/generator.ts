// QUIC-LB connection ID generators for the endpoint (draft-ietf-quic-load-balancers §3, §5.4):
// routable CIDs carrying this server's ID, and unroutable CIDs for a server with no config.
//
// Nonces (§9.6): with a key, a counter that starts at a random value and is never reused; when
// it comes back to its start the nonce space is exhausted and generate() throws
// QuicLbNonceExhaustedError. The draft then requires switching to a new configuration (or to
// unroutable CIDs, see unroutableGenerator); `noncesRemaining` lets operators act before that.
// Without a key, nonces are random (§5.4 MUST: no observable relationship), so repeats are only
// probabilistic: about one per 2^(4 * nonceLength) CIDs (§9.6); size the nonce accordingly.
import { equalBytes } from '../common/bytes.js';
import { cryptoRandom, type Random } from '../common/random.js';
import type { Duration } from '../common/time.js';
import { type ConnectionIdGenerator, MAX_CID_LENGTH } from '../endpoint/cid-generator.js';
import { QuicLbCipher } from './cipher.js';
import { QuicLbAlgorithm, type QuicLbConfig, UNROUTABLE_CONFIG_ROTATION } from './config.js';

/** Position of a keyed generator's nonce counter, to resume it after a restart. */
export interface QuicLbNonceState {
  /** The counter's first value; reaching it again means every nonce was used. */
  readonly start: Uint8Array;
  /** The next nonce to use. */
  readonly next: Uint8Array;
  readonly exhausted: boolean;
}

export interface QuicLbGeneratorOptions {
  /** Source of the nonce counter's start (keyed) or of the nonces (plaintext). */
  readonly random?: Random;
  /** Passed to the endpoint: connections replace their CIDs after this long. */
  readonly lifetime?: Duration;
  /** Resumes a counter saved with `nonceState()` (keyed configs only; lengths must match). */
  readonly nonceState?: QuicLbNonceState;
}

/** Thrown by generate() once a keyed generator has used every nonce (§9.6). */
export class QuicLbNonceExhaustedError extends Error {
  readonly code = 'ERR_QUIC_LB_NONCE_EXHAUSTED';

  constructor(configRotation: number) {
    super(
      `QUIC-LB nonce space of config ${configRotation} exhausted: switch to a new configuration ` +
        '(or to unroutable CIDs) before issuing more CIDs (draft-ietf-quic-load-balancers §9.6)',
    );
    this.name = 'QuicLbNonceExhaustedError';
  }
}

export class QuicLbConnectionIdGenerator implements ConnectionIdGenerator {
  /** 1 + serverIdLength + nonceLength + serverUseLength. */
  readonly length: number;
  declare readonly lifetime?: Duration;
  readonly config: QuicLbConfig;
  readonly serverId: Uint8Array;
  /**
   * False for plaintext configs: §9 says such servers SHOULD only use the CID of the server's
   * Initial and SHOULD NOT send NEW_CONNECTION_ID (except one on config rotation).
   */
  readonly sendNewConnectionIds: boolean;
  /** Routable CIDs survive migration; only unroutable ones call for disable_active_migration. */
  readonly disableActiveMigration = false;
  readonly #random: Random;
  readonly #cipher: QuicLbCipher;
  readonly #keyed: boolean;
  readonly #needsRandom: boolean;
  /** server ID ‖ nonce scratch for the encoder. */
  readonly #plaintext: Uint8Array;
  readonly #nonceStart: Uint8Array;
  readonly #nonce: Uint8Array;
  readonly #sid: Uint8Array;
  #exhausted = false;

  constructor(config: QuicLbConfig, serverId: Uint8Array, options: QuicLbGeneratorOptions = {}) {
    if (serverId.length !== config.serverIdLength) {
      throw new RangeError(
        `QUIC-LB server ID must be ${config.serverIdLength} octets, got ${serverId.length}`,
      );
    }
    this.config = config;
    this.serverId = serverId.slice();
    this.length = config.cidLength;
    if (options.lifetime !== undefined) this.lifetime = options.lifetime;
    this.#random = options.random ?? cryptoRandom;
    this.#cipher = new QuicLbCipher(config);
    this.#keyed = config.algorithm !== QuicLbAlgorithm.Plaintext;
    this.sendNewConnectionIds = this.#keyed;
    this.#needsRandom = !this.#keyed || !config.selfEncodeLength || config.serverUseLength > 0;
    this.#plaintext = new Uint8Array(config.plaintextLength);
    this.#plaintext.set(this.serverId);
    this.#sid = new Uint8Array(config.serverIdLength);
    const n = config.nonceLength;
    const state = options.nonceState;
    if (state !== undefined) {
      if (!this.#keyed) throw new RangeError('QUIC-LB nonceState only applies to keyed configs');
      if (state.start.length !== n || state.next.length !== n) {
        throw new RangeError(`QUIC-LB nonceState must hold ${n}-octet nonces`);
      }
      this.#nonceStart = state.start.slice();
      this.#nonce = state.next.slice();
      this.#exhausted = state.exhausted;
    } else {
      this.#nonce = new Uint8Array(n);
      // §9.6: servers SHOULD start the counter at a random value.
      if (this.#keyed) this.#random.fill(this.#nonce);
      this.#nonceStart = this.#nonce.slice();
    }
  }

  /** A fresh CID. Throws QuicLbNonceExhaustedError when a keyed config has no nonce left. */
  generate(): Uint8Array {
    const cfg = this.config;
    // §9.6: the server MUST NOT reuse a nonce until it switches to a configuration with new keys.
    if (this.#exhausted) throw new QuicLbNonceExhaustedError(cfg.configRotation);
    const cid = new Uint8Array(this.length);
    // Random everywhere first, when anything needs it: the first octet's spare bits (§3.3
    // SHOULD: no relation to earlier CIDs), a plaintext nonce (§5.4 MUST) and the server-use
    // octets (§5.4 SHOULD).
    if (this.#needsRandom) this.#random.fill(cid);
    // §3.1 MUST: config rotation in the first three bits; §3.3: length of what follows.
    cid[0] = (cfg.configRotation << 5) | (cfg.selfEncodeLength ? this.length - 1 : cid[0]! & 0x1f);
    if (!this.#keyed) {
      cid.set(this.serverId, 1); // §5.4: server ID in the clear, random nonce after it
      return cid;
    }
    const nonce = this.#nonce;
    this.#plaintext.set(nonce, cfg.serverIdLength);
    this.#cipher.encrypt(this.#plaintext, cid, 1);
    // Advance the big-endian counter, wrapping; back at its start means exhausted.
    for (let i = nonce.length - 1; i >= 0; i--) {
      nonce[i] = (nonce[i]! + 1) & 0xff;
      if (nonce[i] !== 0) break;
    }
    if (equalBytes(nonce, this.#nonceStart)) this.#exhausted = true;
    return cid;
  }

  /** True only for a CID of our length, our config rotation codepoint and our server ID. */
  validate(cid: Uint8Array): boolean {
    const cfg = this.config;
    if (cid.length !== this.length) return false;
    const first = cid[0]!;
    if (first >> 5 !== cfg.configRotation) return false;
    if (cfg.selfEncodeLength && (first & 0x1f) !== this.length - 1) return false;
    const sid = this.#sid;
    return this.#cipher.decryptServerId(cid, 1, sid) && equalBytes(sid, this.serverId);
  }

  /** Whether every nonce has been used (keyed configs); always false for plaintext. */
  get exhausted(): boolean {
    return this.#exhausted;
  }

  /**
   * Nonces left before exhaustion (keyed configs; exact up to 6-octet nonces, approximate
   * beyond). Infinity for plaintext configs, whose nonces are random.
   */
  get noncesRemaining(): number {
    if (!this.#keyed) return Number.POSITIVE_INFINITY;
    if (this.#exhausted) return 0;
    const n = this.#nonce.length;
    let diff = 0;
    for (let i = 0; i < n; i++) diff = diff * 256 + (this.#nonceStart[i]! - this.#nonce[i]!);
    const space = 256 ** n;
    return diff <= 0 ? diff + space : diff;
  }

  /** The counter's position, to persist and pass back as `nonceState` after a restart. */
  nonceState(): QuicLbNonceState {
    return { start: this.#nonceStart.slice(), next: this.#nonce.slice(), exhausted: this.#exhausted };
  }
}

/**
 * CIDs for a server with no active QUIC-LB configuration (§3.2): config rotation 0b111 and a
 * self-encoded length (both MUST), random otherwise. Such a server SHOULD give the client one
 * CID only (no NEW_CONNECTION_ID) and SHOULD send disable_active_migration: see the flags.
 */
export class UnroutableConnectionIdGenerator implements ConnectionIdGenerator {
  readonly length: number;
  declare readonly lifetime?: Duration;
  readonly sendNewConnectionIds = false;
  readonly disableActiveMigration = true;
  readonly #random: Random;
  readonly #first: number;

  constructor(length = 8, random: Random = cryptoRandom, lifetime?: Duration) {
    // §3.2: SHOULD be at least 8 octets (7 random octets after the first).
    if (!Number.isInteger(length) || length < 8 || length > MAX_CID_LENGTH) {
      throw new RangeError(`unroutable QUIC-LB CID length must be an integer 8..${MAX_CID_LENGTH}`);
    }
    this.length = length;
    this.#random = random;
    if (lifetime !== undefined) this.lifetime = lifetime;
    this.#first = (UNROUTABLE_CONFIG_ROTATION << 5) | (length - 1);
  }

  generate(): Uint8Array {
    const cid = new Uint8Array(this.length);
    this.#random.fill(cid);
    cid[0] = this.#first; // §3.2 MUST: 0b111 and self-encoded length (§3.3)
    return cid;
  }

  validate(cid: Uint8Array): boolean {
    return cid.length === this.length && cid[0] === this.#first;
  }
}

/** §3.2/§4.1: the generator for a server with no QUIC-LB configuration (CR = 0b111). */
export function unroutableGenerator(
  length = 8,
  random: Random = cryptoRandom,
  lifetime?: Duration,
): UnroutableConnectionIdGenerator {
  return new UnroutableConnectionIdGenerator(length, random, lifetime);
}
