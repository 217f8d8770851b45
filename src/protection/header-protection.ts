// Header protection (RFC 9001 §5.4). AES suites reuse one AES-ECB cipher object for the key's
// lifetime (one update() per sample, or one per batch); ChaCha20 needs one cipher per sample
// because the sample is its counter and nonce.
import { type Cipher, createCipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { type CipherSuite, cipherSuiteInfo } from './cipher-suites.js';

/** RFC 9001 §5.4.2: the sample starts 4 octets after the start of the Packet Number field. */
export const SAMPLE_OFFSET = 4;
export const SAMPLE_LENGTH = 16;

const CHACHA_ZEROS = new Uint8Array(5);

export class HeaderProtection {
  readonly suite: CipherSuite;
  readonly #ecb: Cipher | undefined;
  readonly #key: KeyObject;

  constructor(suite: CipherSuite, hpKey: Uint8Array) {
    const info = cipherSuiteInfo(suite);
    if (hpKey.length !== info.hpKeyLength) throw new RangeError(`HP key must be ${info.hpKeyLength} octets`);
    this.suite = suite;
    this.#key = createSecretKey(hpKey);
    if (info.hp === 'chacha20') {
      this.#ecb = undefined;
    } else {
      const ecb = createCipheriv(info.hp, this.#key, null);
      // Only whole 16-octet blocks are ever fed in, so nothing stays buffered between calls.
      ecb.setAutoPadding(false);
      this.#ecb = ecb;
    }
  }

  /**
   * The mask for a 16-octet sample: AES-ECB(hp, sample) (§5.4.3) or ChaCha20 with the sample as
   * counter || nonce over five zero octets (§5.4.4). Only the first 5 octets are meaningful; the
   * result may be a fresh or reused buffer, read it before the next call.
   */
  mask(sample: Uint8Array): Uint8Array {
    if (sample.length !== SAMPLE_LENGTH) throw new RangeError('header protection sample must be 16 octets');
    if (this.#ecb) return this.#ecb.update(sample);
    // RFC 9001 §5.4.4: sample[0..3] is the little-endian block counter, sample[4..15] the nonce;
    // OpenSSL's chacha20 takes exactly that 16-octet IV.
    return createCipheriv('chacha20', this.#key, sample).update(CHACHA_ZEROS);
  }

  /**
   * Masks for `n` samples laid out back to back in `samples` (n × 16 octets). Returns n × 16
   * octets; mask i is at [16i, 16i + 5). AES does the whole batch in one cipher call.
   */
  maskMany(samples: Uint8Array, n: number): Uint8Array {
    const len = n * SAMPLE_LENGTH;
    if (!Number.isInteger(n) || n < 0 || samples.length < len) throw new RangeError('not enough samples');
    if (this.#ecb) return this.#ecb.update(samples.subarray(0, len));
    const out = new Uint8Array(len);
    for (let i = 0; i < n; i++) {
      const at = i * SAMPLE_LENGTH;
      out.set(this.mask(samples.subarray(at, at + SAMPLE_LENGTH)), at);
    }
    return out;
  }

  /**
   * Protects the header of a packet whose payload is already sealed (RFC 9001 §5.4.1): masks the
   * low 4 (long) or 5 (short) bits of the first octet and the Packet Number field, whose length
   * is read from the still-unprotected first octet. RangeError if the sample does not fit.
   */
  apply(buf: Uint8Array, headerStart: number, pnOffset: number, longHeader: boolean): void {
    const sampleAt = pnOffset + SAMPLE_OFFSET;
    if (headerStart < 0 || pnOffset <= headerStart || sampleAt + SAMPLE_LENGTH > buf.length) {
      throw new RangeError('packet too short for the header protection sample');
    }
    const first = buf[headerStart]!;
    const pnLength = (first & 0x03) + 1;
    const mask = this.mask(buf.subarray(sampleAt, sampleAt + SAMPLE_LENGTH));
    buf[headerStart] = first ^ (mask[0]! & (longHeader ? 0x0f : 0x1f));
    for (let i = 0; i < pnLength; i++) buf[pnOffset + i]! ^= mask[1 + i]!;
  }

  /**
   * Removes header protection in place and returns the Packet Number length (1..4), or 0 if the
   * packet (ending at `end`) is too short to contain the sample: RFC 9001 §5.4.2 says to discard
   * it. Never throws.
   */
  remove(
    buf: Uint8Array,
    headerStart: number,
    pnOffset: number,
    longHeader: boolean,
    end = buf.length,
  ): number {
    const sampleAt = pnOffset + SAMPLE_OFFSET;
    if (
      !(headerStart >= 0 && pnOffset > headerStart && sampleAt + SAMPLE_LENGTH <= Math.min(end, buf.length))
    ) {
      return 0; // RFC 9001 §5.4.2
    }
    const mask = this.mask(buf.subarray(sampleAt, sampleAt + SAMPLE_LENGTH));
    const first = buf[headerStart]! ^ (mask[0]! & (longHeader ? 0x0f : 0x1f));
    buf[headerStart] = first;
    const pnLength = (first & 0x03) + 1;
    for (let i = 0; i < pnLength; i++) buf[pnOffset + i]! ^= mask[1 + i]!;
    return pnLength;
  }
}
