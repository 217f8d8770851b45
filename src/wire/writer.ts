// Writer into an octet buffer. Fixed-capacity writers (packet building) throw RangeError on
// overflow, a programming error; growable writers (TLS messages) reallocate.
import { varintLength, writeVarint, writeVarintFixed } from './varint.js';

export class BufferWriter {
  buf: Uint8Array;
  offset: number;
  /** Exclusive limit for fixed writers; grows with the buffer for growable ones. */
  limit: number;
  readonly growable: boolean;

  constructor(bufOrCapacity: Uint8Array | number = 256, offset = 0, limit?: number) {
    if (typeof bufOrCapacity === 'number') {
      this.buf = new Uint8Array(bufOrCapacity);
      this.growable = true;
    } else {
      this.buf = bufOrCapacity;
      this.growable = false;
    }
    this.offset = offset;
    this.limit = limit ?? this.buf.length;
  }

  /** Octets that still fit (fixed writers). */
  get remaining(): number {
    return this.limit - this.offset;
  }

  #ensure(n: number): void {
    if (this.offset + n <= this.limit) return;
    if (!this.growable) throw new RangeError('BufferWriter overflow');
    let cap = this.buf.length * 2;
    while (cap < this.offset + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.offset));
    this.buf = next;
    this.limit = cap;
  }

  u8(v: number): this {
    this.#ensure(1);
    this.buf[this.offset++] = v;
    return this;
  }

  u16(v: number): this {
    this.#ensure(2);
    const b = this.buf;
    b[this.offset++] = v >>> 8;
    b[this.offset++] = v;
    return this;
  }

  u24(v: number): this {
    this.#ensure(3);
    const b = this.buf;
    b[this.offset++] = v >>> 16;
    b[this.offset++] = v >>> 8;
    b[this.offset++] = v;
    return this;
  }

  u32(v: number): this {
    this.#ensure(4);
    const b = this.buf;
    b[this.offset++] = v >>> 24;
    b[this.offset++] = v >>> 16;
    b[this.offset++] = v >>> 8;
    b[this.offset++] = v;
    return this;
  }

  varint(v: number): this {
    this.#ensure(varintLength(v));
    this.offset = writeVarint(this.buf, this.offset, v);
    return this;
  }

  /** Varint in exactly `len` octets. */
  varintFixed(v: number, len: 1 | 2 | 4 | 8): this {
    this.#ensure(len);
    this.offset = writeVarintFixed(this.buf, this.offset, v, len);
    return this;
  }

  bytes(b: Uint8Array): this {
    this.#ensure(b.length);
    this.buf.set(b, this.offset);
    this.offset += b.length;
    return this;
  }

  /** Zero octets (PADDING frames are zeros). */
  zeros(n: number): this {
    this.#ensure(n);
    this.buf.fill(0, this.offset, this.offset + n);
    this.offset += n;
    return this;
  }

  /** Reserves `n` octets and returns their offset (to patch a length later). */
  reserve(n: number): number {
    this.#ensure(n);
    const at = this.offset;
    this.offset += n;
    return at;
  }

  /**
   * Writes a length-prefixed block: `lenBytes` (1, 2 or 3) big-endian length octets, then
   * whatever `body` writes. Used by TLS vectors.
   */
  block(lenBytes: 1 | 2 | 3, body: (w: this) => void): this {
    const at = this.reserve(lenBytes);
    body(this);
    const n = this.offset - at - lenBytes;
    if (n >= 2 ** (8 * lenBytes)) throw new RangeError('block too long');
    for (let i = lenBytes - 1, v = n; i >= 0; i--, v = Math.floor(v / 256)) this.buf[at + i] = v & 0xff;
    return this;
  }

  /** A view of what was written from `start` (default 0). */
  view(start = 0): Uint8Array {
    return this.buf.subarray(start, this.offset);
  }

  /** A copy of what was written. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.offset);
  }
}

export { varintLength };
