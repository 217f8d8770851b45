// Address validation tokens (RFC 9000 §8.1.1–§8.1.4), sealed with AES-128-GCM under a server
// key so that validation is stateless.
//
// token = kind (1) || nonce (12) || AES-128-GCM(key, nonce, plaintext, aad) || tag (16)
//   aad       = kind || client IP octets [|| client port (2), Retry only]
//   plaintext = issued-at ms (8) [|| ODCID len (1) || ODCID || Retry SCID len (1) || Retry SCID]
// The kind octet is readable (RFC 9000 §8.1.3 allows this) but authenticated, so the two kinds
// cannot be confused (§8.1.1).
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { ipToBytes, type SocketAddress } from '../common/addr.js';
import { cryptoRandom, type Random } from '../common/random.js';

export const TokenKind = { Retry: 0x52, NewToken: 0x4e } as const;
export type TokenKind = (typeof TokenKind)[keyof typeof TokenKind];

const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;
const TIME_LENGTH = 8;
const OVERHEAD = 1 + NONCE_LENGTH + TAG_LENGTH;
const MAX_CID_LENGTH = 20;
const encoder = new TextEncoder();

export interface AddressTokenOptions {
  /** Lifetime of Retry tokens (RFC 9000 §8.1.4: short), default 10 s. */
  readonly retryLifetimeMs?: number;
  /** Lifetime of NEW_TOKEN tokens, default 24 h. */
  readonly newTokenLifetimeMs?: number;
  /** Tolerated clock difference between instances sharing the key, default 5 s. */
  readonly maxClockSkewMs?: number;
  /** Nonce source, default node:crypto. */
  readonly random?: Random;
}

export type TokenValidation =
  | {
      readonly kind: 'retry';
      readonly originalDcid: Uint8Array;
      readonly retryScid: Uint8Array;
      readonly issuedAt: number;
    }
  | { readonly kind: 'new-token'; readonly issuedAt: number }
  | { readonly kind: 'invalid'; readonly reason: string };

export interface RetryTokenParams {
  readonly clientAddress: SocketAddress;
  readonly originalDcid: Uint8Array;
  readonly retryScid: Uint8Array;
  /** Wall-clock milliseconds. */
  readonly now: number;
}

export interface NewTokenParams {
  readonly clientAddress: SocketAddress;
  /** Wall-clock milliseconds. */
  readonly now: number;
}

export class AddressTokens {
  readonly retryLifetimeMs: number;
  readonly newTokenLifetimeMs: number;
  readonly maxClockSkewMs: number;
  readonly #key: KeyObject;
  readonly #random: Random;

  /** `key`: 16 secret octets (AES-128-GCM), shared by every instance that validates tokens. */
  constructor(key: Uint8Array, options: AddressTokenOptions = {}) {
    if (key.length !== 16) throw new RangeError('address token key must be 16 octets');
    this.#key = createSecretKey(key);
    this.#random = options.random ?? cryptoRandom;
    this.retryLifetimeMs = options.retryLifetimeMs ?? 10_000;
    this.newTokenLifetimeMs = options.newTokenLifetimeMs ?? 24 * 3600_000;
    this.maxClockSkewMs = options.maxClockSkewMs ?? 5_000;
  }

  /**
   * Token for a Retry packet (RFC 9000 §8.1.2). Binds client IP and port (§8.1.4 SHOULD) and
   * carries the original DCID and the Retry SCID, which the server needs for its transport
   * parameters (§7.3).
   */
  issueRetryToken(p: RetryTokenParams): Uint8Array {
    if (p.originalDcid.length > MAX_CID_LENGTH || p.retryScid.length > MAX_CID_LENGTH) {
      throw new RangeError('connection ID longer than 20 octets');
    }
    const plain = new Uint8Array(TIME_LENGTH + 2 + p.originalDcid.length + p.retryScid.length);
    writeTime(plain, p.now);
    let o = TIME_LENGTH;
    plain[o++] = p.originalDcid.length;
    plain.set(p.originalDcid, o);
    o += p.originalDcid.length;
    plain[o++] = p.retryScid.length;
    plain.set(p.retryScid, o);
    return this.#seal(TokenKind.Retry, plain, p.clientAddress);
  }

  /**
   * Token for a NEW_TOKEN frame (RFC 9000 §8.1.3). Binds the client IP only (the port changes
   * between connections, §8.1.3) and nothing that links it to this connection in clear; the
   * random nonce makes every token unique.
   */
  issueNewToken(p: NewTokenParams): Uint8Array {
    const plain = new Uint8Array(TIME_LENGTH);
    writeTime(plain, p.now);
    return this.#seal(TokenKind.NewToken, plain, p.clientAddress);
  }

  /** Validates a token from a client Initial at wall-clock `now` (ms). Never throws. */
  validate(token: Uint8Array, clientAddress: SocketAddress, now: number): TokenValidation {
    if (token.length < OVERHEAD + TIME_LENGTH) return invalid('too short');
    const kind = token[0]!;
    if (kind !== TokenKind.Retry && kind !== TokenKind.NewToken) return invalid('unknown kind');
    const plain = this.#open(kind, token, clientAddress);
    if (!plain) return invalid('authentication failed');
    const issuedAt = readTime(plain);
    if (issuedAt > now + this.maxClockSkewMs) return invalid('issued in the future');
    // RFC 9000 §8.1.4: Retry tokens are accepted only for a short time.
    const lifetime = kind === TokenKind.Retry ? this.retryLifetimeMs : this.newTokenLifetimeMs;
    if (now - issuedAt > lifetime) return invalid('expired');
    if (kind === TokenKind.NewToken) {
      return plain.length === TIME_LENGTH ? { kind: 'new-token', issuedAt } : invalid('malformed');
    }
    let o = TIME_LENGTH;
    const odcidLen = plain[o++]!;
    if (odcidLen > MAX_CID_LENGTH || o + odcidLen + 1 > plain.length) return invalid('malformed');
    const originalDcid = plain.slice(o, o + odcidLen);
    o += odcidLen;
    const scidLen = plain[o++]!;
    if (scidLen > MAX_CID_LENGTH || o + scidLen !== plain.length) return invalid('malformed');
    return { kind: 'retry', originalDcid, retryScid: plain.slice(o, o + scidLen), issuedAt };
  }

  #seal(kind: TokenKind, plain: Uint8Array, address: SocketAddress): Uint8Array {
    const out = new Uint8Array(OVERHEAD + plain.length);
    out[0] = kind;
    const nonce = out.subarray(1, 1 + NONCE_LENGTH);
    this.#random.fill(nonce);
    const cipher = createCipheriv('aes-128-gcm', this.#key, nonce);
    cipher.setAAD(aad(kind, address));
    out.set(cipher.update(plain), 1 + NONCE_LENGTH);
    cipher.final();
    out.set(cipher.getAuthTag(), 1 + NONCE_LENGTH + plain.length);
    return out;
  }

  #open(kind: TokenKind, token: Uint8Array, address: SocketAddress): Uint8Array | undefined {
    try {
      const decipher = createDecipheriv('aes-128-gcm', this.#key, token.subarray(1, 1 + NONCE_LENGTH));
      decipher.setAAD(aad(kind, address));
      decipher.setAuthTag(token.subarray(token.length - TAG_LENGTH));
      const plain = decipher.update(token.subarray(1 + NONCE_LENGTH, token.length - TAG_LENGTH));
      decipher.final();
      return plain;
    } catch {
      return undefined;
    }
  }
}

function invalid(reason: string): TokenValidation {
  return { kind: 'invalid', reason };
}

/** RFC 9000 §8.1.4: Retry tokens bind IP and port, NEW_TOKEN tokens the IP only. */
function aad(kind: TokenKind, address: SocketAddress): Uint8Array {
  const ip = ipToBytes(address.address) ?? encoder.encode(address.address);
  const withPort = kind === TokenKind.Retry;
  const out = new Uint8Array(1 + ip.length + (withPort ? 2 : 0));
  out[0] = kind;
  out.set(ip, 1);
  if (withPort) {
    out[1 + ip.length] = address.port >>> 8;
    out[2 + ip.length] = address.port;
  }
  return out;
}

function writeTime(buf: Uint8Array, ms: number): void {
  const t = Math.max(0, Math.floor(ms));
  const hi = Math.floor(t / 0x100000000);
  const lo = t >>> 0;
  buf[0] = hi >>> 24;
  buf[1] = hi >>> 16;
  buf[2] = hi >>> 8;
  buf[3] = hi;
  buf[4] = lo >>> 24;
  buf[5] = lo >>> 16;
  buf[6] = lo >>> 8;
  buf[7] = lo;
}

function readTime(buf: Uint8Array): number {
  const hi = ((buf[0]! << 24) | (buf[1]! << 16) | (buf[2]! << 8) | buf[3]!) >>> 0;
  const lo = ((buf[4]! << 24) | (buf[5]! << 16) | (buf[6]! << 8) | buf[7]!) >>> 0;
  return hi * 0x100000000 + lo;
}
