// QUIC-LB server ID encodings (draft-ietf-quic-load-balancers §5.4, §5.5): plaintext, single-pass
// AES-128-ECB (sid + nonce = 16) and the four-pass Feistel network (5 <= sid + nonce <= 19, != 16).
// One cipher (and, for single-pass, one decipher) per config, reused for every block; fixed
// scratch buffers, so the only per-call allocation is the block node:crypto returns.
import { type Cipher, createCipheriv, createDecipheriv, type Decipher } from 'node:crypto';
import { QuicLbAlgorithm, type QuicLbConfig } from './config.js';

/**
 * expand(length, pass, input) of §5.4.2.2: input's octets, zero padding up to octet 14, then
 * `length` and `pass`. Writes 16 octets into `out` (default: a new array) and returns it.
 */
export function expand(
  length: number,
  pass: number,
  input: Uint8Array,
  out: Uint8Array = new Uint8Array(16),
): Uint8Array {
  out.set(input, 0);
  out.fill(0, input.length, 14);
  out[14] = length;
  out[15] = pass;
  return out;
}

/** truncate(input, n) of §5.4.2.2: the first n octets (a view). */
export function truncate(input: Uint8Array, n: number): Uint8Array {
  return input.subarray(0, n);
}

/** Intermediate values of one four-pass encryption (§5.4.2.4), filled when passed to `encrypt`. */
export interface FourPassTrace {
  left0?: Uint8Array;
  right0?: Uint8Array;
  right1?: Uint8Array;
  left1?: Uint8Array;
  right2?: Uint8Array;
  left2?: Uint8Array;
  /** AES inputs and outputs of passes 1..4, in order. */
  aesInputs: Uint8Array[];
  aesOutputs: Uint8Array[];
}

export class QuicLbCipher {
  readonly config: QuicLbConfig;
  /** Number of AES block operations performed so far (for tests and accounting). */
  aesCalls = 0;
  readonly #len: number;
  readonly #half: number;
  readonly #odd: boolean;
  readonly #cipher: Cipher | undefined;
  readonly #decipher: Decipher | undefined;
  readonly #block = Buffer.alloc(16);
  readonly #left: Uint8Array;
  readonly #right: Uint8Array;
  #trace: FourPassTrace | undefined;

  constructor(config: QuicLbConfig) {
    this.config = config;
    this.#len = config.plaintextLength;
    this.#half = (this.#len + 1) >> 1; // §5.4.2.2: half_len = plaintext_len / 2, rounded up
    this.#odd = (this.#len & 1) === 1;
    this.#left = new Uint8Array(this.#half);
    this.#right = new Uint8Array(this.#half);
    if (config.key !== undefined) {
      // §5.4: AES-128-ECB, one block at a time, no padding.
      const c = createCipheriv('aes-128-ecb', config.key, null);
      c.setAutoPadding(false);
      this.#cipher = c;
      if (config.algorithm === QuicLbAlgorithm.SinglePass) {
        const d = createDecipheriv('aes-128-ecb', config.key, null);
        d.setAutoPadding(false);
        this.#decipher = d;
      }
    }
  }

  /**
   * Encodes the plaintext block (server ID ‖ nonce, `plaintextLength` octets) into
   * out[offset, offset + plaintextLength). `trace` (four-pass only) receives copies of every step.
   */
  encrypt(plaintext: Uint8Array, out: Uint8Array, offset: number, trace?: FourPassTrace): void {
    const len = this.#len;
    if (plaintext.length !== len) throw new RangeError(`QUIC-LB plaintext must be ${len} octets`);
    if (offset + len > out.length) throw new RangeError('QUIC-LB output too short');
    const cipher = this.#cipher;
    if (cipher === undefined) {
      out.set(plaintext, offset); // §5.4: no key, the CID is complete
      return;
    }
    if (this.#decipher !== undefined) {
      // §5.4.1: sid + nonce = 16 MUST use single-pass encryption.
      this.aesCalls++;
      out.set(cipher.update(plaintext), offset);
      return;
    }
    // §5.4.2.3
    const half = this.#half;
    const left = this.#left;
    const right = this.#right;
    this.#trace = trace;
    left.set(plaintext.subarray(0, half)); // step 2
    right.set(plaintext.subarray(len - half));
    if (this.#odd) {
      left[half - 1]! &= 0xf0;
      right[0]! &= 0x0f;
    }
    if (trace) {
      trace.left0 = left.slice();
      trace.right0 = right.slice();
    }
    this.#pass(1, left, right); // steps 3-5
    if (trace) trace.right1 = right.slice();
    this.#pass(2, right, left); // steps 6-7
    if (trace) trace.left1 = left.slice();
    this.#pass(3, left, right); // steps 8-9
    if (trace) trace.right2 = right.slice();
    this.#pass(4, right, left); // steps 10-11
    if (trace) trace.left2 = left.slice();
    this.#trace = undefined;
    // Step 12: left_2 ‖ right_2, the zero nibbles of an odd length stripped.
    if (this.#odd) {
      out.set(left.subarray(0, half - 1), offset);
      out[offset + half - 1] = left[half - 1]! | right[0]!;
      out.set(right.subarray(1), offset + half);
    } else {
      out.set(left, offset);
      out.set(right, offset + half);
    }
  }

  /**
   * Decodes the whole plaintext block (server ID ‖ nonce) from cid[offset, offset +
   * plaintextLength) into `out`. Returns false (writing nothing) when the input is too short.
   */
  decrypt(cid: Uint8Array, offset: number, out: Uint8Array): boolean {
    const len = this.#len;
    if (offset < 0 || offset + len > cid.length || out.length < len) return false;
    const cipher = this.#cipher;
    if (cipher === undefined) {
      out.set(cid.subarray(offset, offset + len));
      return true;
    }
    if (this.#decipher !== undefined) {
      this.aesCalls++;
      out.set(this.#decipher.update(cid.subarray(offset, offset + len))); // §5.5.1
      return true;
    }
    this.#unwind(cid, offset, true);
    this.#join(out);
    return true;
  }

  /**
   * Decodes only the server ID (§5.5) from cid[offset, …) into out[0, serverIdLength). Four-pass
   * configs stop after 3 AES calls when the server ID lies within left_0 (§5.5.2). Returns false
   * (writing nothing) when the input is too short.
   */
  decryptServerId(cid: Uint8Array, offset: number, out: Uint8Array): boolean {
    const len = this.#len;
    const sidLen = this.config.serverIdLength;
    if (offset < 0 || offset + len > cid.length || out.length < sidLen) return false;
    const cipher = this.#cipher;
    if (cipher === undefined) {
      out.set(cid.subarray(offset, offset + sidLen)); // §5.5: octets after the first
      return true;
    }
    if (this.#decipher !== undefined) {
      this.aesCalls++;
      // §5.5.1: the server ID is the most significant octets of the decrypted block.
      out.set(this.#decipher.update(cid.subarray(offset, offset + len)).subarray(0, sidLen));
      return true;
    }
    // §5.5.2: 3 passes suffice when the server ID is entirely within left_0.
    const full = sidLen > len >> 1;
    this.#unwind(cid, offset, full);
    if (full) {
      const half = this.#half;
      if (this.#odd) {
        // sid spans the shared middle octet: left_0's high nibble | right_0's low nibble.
        out.set(this.#left.subarray(0, Math.min(sidLen, half - 1)));
        out[half - 1] = this.#left[half - 1]! | this.#right[0]!;
        out.set(this.#right.subarray(1, 1 + sidLen - half), half);
      } else {
        out.set(this.#left);
        out.set(this.#right.subarray(0, sidLen - half), half);
      }
    } else {
      out.set(this.#left.subarray(0, sidLen));
    }
    return true;
  }

  /** Runs the four-pass network backwards from cid[offset…] to left_0 (and right_0 if `full`). */
  #unwind(cid: Uint8Array, offset: number, full: boolean): void {
    const len = this.#len;
    const half = this.#half;
    const left = this.#left;
    const right = this.#right;
    // §5.5.2: split the ciphertext into left_2 and right_2 (the middle octet in both halves).
    left.set(cid.subarray(offset, offset + half));
    right.set(cid.subarray(offset + len - half, offset + len));
    if (this.#odd) {
      left[half - 1]! &= 0xf0;
      right[0]! &= 0x0f;
    }
    this.#pass(4, right, left); // left_1
    this.#pass(3, left, right); // right_1 (the draft's pseudo-code clears left_1 here: erratum)
    this.#pass(2, right, left); // left_0
    if (full) this.#pass(1, left, right); // right_0
  }

  /** left_0 ‖ right_0 (odd length: merged middle octet) into out. */
  #join(out: Uint8Array): void {
    const half = this.#half;
    if (this.#odd) {
      out.set(this.#left.subarray(0, half - 1));
      out[half - 1] = this.#left[half - 1]! | this.#right[0]!;
      out.set(this.#right.subarray(1), half);
    } else {
      out.set(this.#left);
      out.set(this.#right, half);
    }
  }

  /**
   * One Feistel pass: dst ^= truncate(AES(expand(len, pass, src)), half_len), then the nibble
   * of an odd length cleared (§5.4.2.3 steps 3-11): the high nibble of a right half, the low
   * nibble of a left half.
   */
  #pass(pass: number, src: Uint8Array, dst: Uint8Array): void {
    const block = expand(this.#len, pass, src, this.#block);
    this.aesCalls++;
    const result = this.#cipher!.update(block);
    const trace = this.#trace;
    if (trace) {
      trace.aesInputs.push(new Uint8Array(block));
      trace.aesOutputs.push(new Uint8Array(result));
    }
    const half = this.#half;
    for (let i = 0; i < half; i++) dst[i]! ^= result[i]!;
    if (this.#odd) {
      if (dst === this.#right) dst[0]! &= 0x0f;
      else dst[half - 1]! &= 0xf0;
    }
  }
}
