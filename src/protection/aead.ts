// Packet payload protection (RFC 9001 §5.3). One node:crypto cipher per packet; the key is a
// KeyObject made once and the nonce buffer is reused (node:crypto copies it).
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { type CipherSuite, type CipherSuiteInfo, cipherSuiteInfo } from './cipher-suites.js';

export const AEAD_TAG_LENGTH = 16;

const TAG_OPTIONS = { authTagLength: AEAD_TAG_LENGTH } as const;
const TWO_POW_32 = 0x100000000;

export class PacketAead {
  readonly suite: CipherSuite;
  readonly info: CipherSuiteInfo;
  /** Packets sealed with this key (RFC 9001 §6.6 confidentiality limit). */
  sealed = 0;
  /** Packets that failed authentication with this key (RFC 9001 §6.6 integrity limit). */
  openFailures = 0;
  readonly #algorithm: 'aes-128-gcm';
  readonly #key: KeyObject;
  readonly #iv: Uint8Array;
  readonly #nonce: Buffer;

  constructor(suite: CipherSuite, key: Uint8Array, iv: Uint8Array) {
    const info = cipherSuiteInfo(suite);
    if (key.length !== info.keyLength) throw new RangeError(`AEAD key must be ${info.keyLength} octets`);
    if (iv.length !== info.ivLength) throw new RangeError(`AEAD IV must be ${info.ivLength} octets`);
    this.suite = suite;
    this.info = info;
    // The three AEADs share the GCM-style API; the cast only picks one typing overload.
    this.#algorithm = info.aead as 'aes-128-gcm';
    this.#key = createSecretKey(key);
    this.#iv = iv.slice();
    this.#nonce = Buffer.alloc(iv.length);
  }

  /** Whether sealing another packet would exceed the confidentiality limit (RFC 9001 §6.6). */
  get confidentialityLimitReached(): boolean {
    return this.sealed >= this.info.confidentialityLimit;
  }

  /**
   * Encrypts `out[headerEnd, payloadEnd)` in place with AAD `out[headerStart, headerEnd)` and
   * writes the tag at `payloadEnd`; returns `payloadEnd + 16`. Indices are the caller's (RangeError
   * if they do not fit: a programming error, never input-driven).
   */
  seal(out: Uint8Array, headerStart: number, headerEnd: number, payloadEnd: number, pn: number): number {
    if (!(0 <= headerStart && headerStart <= headerEnd && headerEnd <= payloadEnd)) {
      throw new RangeError('invalid packet bounds');
    }
    if (payloadEnd + AEAD_TAG_LENGTH > out.length) throw new RangeError('no room for the AEAD tag');
    const cipher = createCipheriv(this.#algorithm, this.#key, this.#makeNonce(pn), TAG_OPTIONS);
    // RFC 9001 §5.3: A = the header up to and including the unprotected packet number.
    cipher.setAAD(out.subarray(headerStart, headerEnd));
    const ciphertext = cipher.update(out.subarray(headerEnd, payloadEnd));
    out.set(ciphertext, headerEnd);
    cipher.final();
    out.set(cipher.getAuthTag(), payloadEnd);
    this.sealed++;
    return payloadEnd + AEAD_TAG_LENGTH;
  }

  /**
   * Decrypts `buf[headerEnd, packetEnd)` (ciphertext then tag) with AAD `buf[headerStart,
   * headerEnd)`. Returns the plaintext (a fresh buffer) or null if authentication fails or the
   * bounds are impossible. Never throws; `buf` is not modified.
   */
  open(
    buf: Uint8Array,
    headerStart: number,
    headerEnd: number,
    packetEnd: number,
    pn: number,
  ): Uint8Array | null {
    if (
      !(0 <= headerStart && headerStart <= headerEnd && headerEnd + AEAD_TAG_LENGTH <= packetEnd) ||
      packetEnd > buf.length ||
      !(pn >= 0)
    ) {
      this.openFailures++;
      return null;
    }
    try {
      const decipher = createDecipheriv(this.#algorithm, this.#key, this.#makeNonce(pn), TAG_OPTIONS);
      decipher.setAAD(buf.subarray(headerStart, headerEnd));
      decipher.setAuthTag(buf.subarray(packetEnd - AEAD_TAG_LENGTH, packetEnd));
      const plaintext = decipher.update(buf.subarray(headerEnd, packetEnd - AEAD_TAG_LENGTH));
      decipher.final();
      return plaintext;
    } catch {
      this.openFailures++;
      return null;
    }
  }

  /** RFC 9001 §5.3: nonce = IV XOR the packet number left-padded to the IV length. */
  #makeNonce(pn: number): Buffer {
    const n = this.#nonce;
    const iv = this.#iv;
    const len = iv.length;
    n.set(iv);
    const hi = Math.floor(pn / TWO_POW_32);
    const lo = pn >>> 0;
    n[len - 1]! ^= lo;
    n[len - 2]! ^= lo >>> 8;
    n[len - 3]! ^= lo >>> 16;
    n[len - 4]! ^= lo >>> 24;
    n[len - 5]! ^= hi;
    n[len - 6]! ^= hi >>> 8;
    n[len - 7]! ^= hi >>> 16;
    n[len - 8]! ^= hi >>> 24;
    return n;
  }
}
