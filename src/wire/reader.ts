// Bounds-checked reader over untrusted octets. Every underflow throws a TransportError whose
// code is chosen by the caller (FRAME_ENCODING_ERROR for frames, TRANSPORT_PARAMETER_ERROR for
// transport parameters, CRYPTO_ERROR+decode_error for TLS), so decoders never throw anything else.
import { TransportError, TransportErrorCode } from '../common/errors.js';

export class BufferReader {
  readonly buf: Uint8Array;
  offset: number;
  /** Exclusive end of the readable region. */
  readonly end: number;
  readonly errorCode: number;

  constructor(
    buf: Uint8Array,
    offset = 0,
    end = buf.length,
    errorCode: number = TransportErrorCode.FRAME_ENCODING_ERROR,
  ) {
    this.buf = buf;
    this.offset = offset;
    this.end = Math.min(end, buf.length);
    this.errorCode = errorCode;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  get done(): boolean {
    return this.offset >= this.end;
  }

  /** Throws the reader's error (for callers' own semantic checks). */
  fail(reason: string): never {
    throw new TransportError(this.errorCode, reason);
  }

  #need(n: number): void {
    if (this.offset + n > this.end) throw new TransportError(this.errorCode, 'truncated input');
  }

  u8(): number {
    this.#need(1);
    return this.buf[this.offset++]!;
  }

  u16(): number {
    this.#need(2);
    const b = this.buf;
    const o = this.offset;
    this.offset = o + 2;
    return (b[o]! << 8) | b[o + 1]!;
  }

  u24(): number {
    this.#need(3);
    const b = this.buf;
    const o = this.offset;
    this.offset = o + 3;
    return (b[o]! << 16) | (b[o + 1]! << 8) | b[o + 2]!;
  }

  u32(): number {
    this.#need(4);
    const b = this.buf;
    const o = this.offset;
    this.offset = o + 4;
    return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }

  /** RFC 9000 §16 variable-length integer. */
  varint(): number {
    this.#need(1);
    const b = this.buf;
    const o = this.offset;
    const first = b[o]!;
    const prefix = first >> 6;
    if (prefix === 0) {
      this.offset = o + 1;
      return first;
    }
    if (prefix === 1) {
      this.#need(2);
      this.offset = o + 2;
      return ((first & 0x3f) << 8) | b[o + 1]!;
    }
    if (prefix === 2) {
      this.#need(4);
      this.offset = o + 4;
      return (((first & 0x3f) << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
    }
    this.#need(8);
    this.offset = o + 8;
    const hi = (((first & 0x3f) << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
    const lo = ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0;
    return hi * 0x100000000 + lo;
  }

  /** A view (no copy) of the next `n` octets. */
  bytes(n: number): Uint8Array {
    if (n < 0) this.fail('negative length');
    this.#need(n);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  /** A copy of the next `n` octets (for values kept beyond the datagram's lifetime). */
  copy(n: number): Uint8Array {
    // new Uint8Array(view) always copies (Buffer#slice would return a view).
    return new Uint8Array(this.bytes(n));
  }

  skip(n: number): void {
    this.#need(n);
    this.offset += n;
  }

  /** A sub-reader over the next `n` octets (same error code); advances past them. */
  sub(n: number): BufferReader {
    this.#need(n);
    const r = new BufferReader(this.buf, this.offset, this.offset + n, this.errorCode);
    this.offset += n;
    return r;
  }

  /** Rest of the input as a view. */
  rest(): Uint8Array {
    const v = this.buf.subarray(this.offset, this.end);
    this.offset = this.end;
    return v;
  }
}
