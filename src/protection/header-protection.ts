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
  /** The sample being masked (a copy: no view allocated per packet). */
  readonly #sample = new Uint8Array(SAMPLE_LENGTH);

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
    copySample(buf, sampleAt, this.#sample, 0);
    const mask = this.mask(this.#sample);
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
    copySample(buf, sampleAt, this.#sample, 0);
    const mask = this.mask(this.#sample);
    const first = buf[headerStart]! ^ (mask[0]! & (longHeader ? 0x0f : 0x1f));
    buf[headerStart] = first;
    const pnLength = (first & 0x03) + 1;
    for (let i = 0; i < pnLength; i++) buf[pnOffset + i]! ^= mask[1 + i]!;
    return pnLength;
  }
}

/**
 * Header protection owed by sealed packets, applied for all of them at once (RFC 9001 §5.4.1:
 * the mask only depends on the ciphertext sample, so it can be computed later, as long as it is
 * applied before the datagram leaves). One AES-ECB call per key instead of one per packet.
 */
export class HeaderProtectionBatch {
  #n = 0;
  #hps: (HeaderProtection | undefined)[] = [];
  #bufs: (Uint8Array | undefined)[] = [];
  #starts: number[] = [];
  #pnOffsets: number[] = [];
  #samples = new Uint8Array(32 * SAMPLE_LENGTH);

  /** Packets waiting for header protection. */
  get size(): number {
    return this.#n;
  }

  /** Queues `hp.apply(buf, headerStart, pnOffset, …)`; same checks (RangeError) as apply(). */
  add(hp: HeaderProtection, buf: Uint8Array, headerStart: number, pnOffset: number): void {
    const sampleAt = pnOffset + SAMPLE_OFFSET;
    if (headerStart < 0 || pnOffset <= headerStart || sampleAt + SAMPLE_LENGTH > buf.length) {
      throw new RangeError('packet too short for the header protection sample');
    }
    const i = this.#n++;
    this.#hps[i] = hp;
    this.#bufs[i] = buf;
    this.#starts[i] = headerStart;
    this.#pnOffsets[i] = pnOffset;
  }

  /** Applies header protection to every queued packet and empties the batch. */
  apply(): void {
    const n = this.#n;
    if (n === 0) return;
    if (this.#samples.length < n * SAMPLE_LENGTH) this.#samples = new Uint8Array(n * 2 * SAMPLE_LENGTH);
    const samples = this.#samples;
    const hps = this.#hps;
    const bufs = this.#bufs;
    // Usually one key; packets of other levels (handshake) form their own groups.
    for (let first = 0; first < n; first++) {
      const hp = hps[first];
      if (hp === undefined) continue;
      let count = 0;
      for (let i = first; i < n; i++) {
        if (hps[i] !== hp) continue;
        copySample(bufs[i]!, this.#pnOffsets[i]! + SAMPLE_OFFSET, samples, count * SAMPLE_LENGTH);
        count++;
      }
      const masks = hp.maskMany(samples, count);
      let k = 0;
      for (let i = first; i < n; i++) {
        if (hps[i] !== hp) continue;
        applyMask(bufs[i]!, this.#starts[i]!, this.#pnOffsets[i]!, masks, k * SAMPLE_LENGTH);
        hps[i] = undefined;
        bufs[i] = undefined;
        k++;
      }
    }
    this.#n = 0;
  }
}

/** RFC 9001 §5.4.1: masks the first octet's low bits and the packet number with mask[at..at+5). */
function applyMask(
  buf: Uint8Array,
  headerStart: number,
  pnOffset: number,
  mask: Uint8Array,
  at: number,
): void {
  const first = buf[headerStart]!;
  const pnLength = (first & 0x03) + 1;
  buf[headerStart] = first ^ (mask[at]! & ((first & 0x80) !== 0 ? 0x0f : 0x1f));
  for (let i = 0; i < pnLength; i++) buf[pnOffset + i]! ^= mask[at + 1 + i]!;
}

function copySample(from: Uint8Array, at: number, to: Uint8Array, to0: number): void {
  for (let i = 0; i < SAMPLE_LENGTH; i++) to[to0 + i] = from[at + i]!;
}
