// Receive-side reassembly of one stream (or CRYPTO level): out-of-order, overlapping and
// duplicated chunks become an in-order byte stream. Only unread, non-duplicate octets are kept,
// so memory never exceeds (highest accepted offset − read offset) octets of payload. Small
// chunks are copied so they cannot pin whole datagram buffers (retention amplification).
import { TransportError, TransportErrorCode } from '../common/errors.js';

/** RFC 9000 §19.8: the largest offset of a stream is 2^62-1. */
const MAX_STREAM_OFFSET = 2 ** 62 - 1;

export interface ReassemblerOptions {
  /**
   * Data ending beyond `readOffset + maxBufferedAhead` throws `bufferedAheadErrorCode`
   * (CRYPTO_BUFFER_EXCEEDED for CRYPTO streams, RFC 9000 §7.5).
   */
  maxBufferedAhead?: number;
  bufferedAheadErrorCode?: number;
  /** Chunks shorter than this are always copied (default 256). */
  copyThreshold?: number;
  /** Frame type reported in errors (0x08 STREAM by default, 0x06 for CRYPTO). */
  frameType?: number;
}

interface Segment {
  offset: number;
  data: Uint8Array;
  /** Octets of memory this segment keeps alive (its backing buffer when a view). */
  cost: number;
}

export class Reassembler {
  /** Sorted by offset, disjoint, all at or above `#readOffset`. */
  #segs: Segment[] = [];
  #readOffset = 0;
  #finalSize: number | undefined;
  #highest = 0;
  #buffered = 0;
  #retained = 0;
  #discarding = false;
  readonly #maxAhead: number;
  readonly #aheadCode: number;
  readonly #copyThreshold: number;
  readonly #frameType: number;

  constructor(opts: ReassemblerOptions = {}) {
    this.#maxAhead = opts.maxBufferedAhead ?? Number.POSITIVE_INFINITY;
    this.#aheadCode = opts.bufferedAheadErrorCode ?? TransportErrorCode.FLOW_CONTROL_ERROR;
    this.#copyThreshold = opts.copyThreshold ?? 256;
    this.#frameType = opts.frameType ?? 0x08;
  }

  /** Offset of the next octet the application will read. */
  get readOffset(): number {
    return this.#readOffset;
  }

  /** The final size once known (FIN or RESET_STREAM), else undefined. */
  get finalSize(): number | undefined {
    return this.#finalSize;
  }

  /** Largest offset + length received so far. */
  get highestOffset(): number {
    return this.#highest;
  }

  /** Unread payload octets held. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Octets of memory kept alive by buffered chunks (copies plus backing buffers of views). */
  get retainedBytes(): number {
    return this.#retained;
  }

  /** In-order data is available to read. */
  get readable(): boolean {
    const s = this.#segs[0];
    return s !== undefined && s.offset === this.#readOffset;
  }

  /** All data up to the final size has been received (RFC 9000 §3.2 "Data Recvd"). */
  get isComplete(): boolean {
    return this.#finalSize !== undefined && this.#readOffset + this.#buffered === this.#finalSize;
  }

  /** Everything up to the final size has been read. */
  get isFinished(): boolean {
    return this.#finalSize === this.#readOffset;
  }

  #fail(code: number, reason: string, frameType = this.#frameType): never {
    throw new TransportError(code, reason, frameType);
  }

  /** Checks and records a final size (FIN or RESET_STREAM). RFC 9000 §4.5. */
  setFinalSize(size: number, frameType = this.#frameType): void {
    if (this.#finalSize !== undefined) {
      // RFC 9000 §4.5: once known, the final size cannot change.
      if (size !== this.#finalSize)
        this.#fail(TransportErrorCode.FINAL_SIZE_ERROR, 'final size changed', frameType);
      return;
    }
    // RFC 9000 §4.5: data was already received beyond this final size.
    if (size < this.#highest) {
      this.#fail(TransportErrorCode.FINAL_SIZE_ERROR, 'final size below received data', frameType);
    }
    this.#finalSize = size;
    if (size > this.#highest) this.#highest = size;
  }

  /**
   * Checks the limits for data ending at `end` (with FIN or not) without storing anything.
   * Throws FINAL_SIZE_ERROR, FRAME_ENCODING_ERROR or the buffered-ahead code.
   */
  check(end: number, fin: boolean): void {
    // RFC 9000 §19.8: offset + length cannot exceed 2^62-1.
    if (end > MAX_STREAM_OFFSET) this.#fail(TransportErrorCode.FRAME_ENCODING_ERROR, 'offset beyond 2^62-1');
    if (this.#finalSize !== undefined) {
      // RFC 9000 §4.5
      if (fin && end !== this.#finalSize)
        this.#fail(TransportErrorCode.FINAL_SIZE_ERROR, 'final size changed');
      if (end > this.#finalSize) this.#fail(TransportErrorCode.FINAL_SIZE_ERROR, 'data beyond final size');
    } else if (fin && end < this.#highest) {
      this.#fail(TransportErrorCode.FINAL_SIZE_ERROR, 'final size below received data');
    }
    if (end > this.#readOffset + this.#maxAhead) this.#fail(this.#aheadCode, 'too much data buffered ahead');
  }

  /**
   * Adds a chunk. Returns true when new in-order data (or the end of the stream) became
   * readable. `data` may be a view into a datagram: large chunks are kept as views, so the
   * caller must not reuse that memory.
   */
  insert(offset: number, data: Uint8Array, fin: boolean): boolean {
    const end = offset + data.length;
    this.check(end, fin);
    if (fin) this.#finalSize = end;
    if (end > this.#highest) this.#highest = end;
    if (this.#discarding || end <= this.#readOffset) return fin && this.isFinished;
    if (offset < this.#readOffset) {
      data = data.subarray(this.#readOffset - offset);
      offset = this.#readOffset;
    }
    const segs = this.#segs;
    const n = segs.length;
    const last = segs[n - 1];
    // Fast path: appending after everything buffered.
    if (last === undefined || last.offset + last.data.length <= offset) {
      segs.push(this.#segment(offset, data));
      return offset === this.#readOffset;
    }
    // First segment ending after `offset`.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const s = segs[mid]!;
      if (s.offset + s.data.length <= offset) lo = mid + 1;
      else hi = mid;
    }
    let i = lo;
    let cur = offset;
    const wasReadable = this.readable;
    while (cur < end) {
      const s = segs[i];
      if (s !== undefined && s.offset <= cur) {
        cur = s.offset + s.data.length;
        i++;
        continue;
      }
      const gapEnd = s === undefined ? end : Math.min(end, s.offset);
      segs.splice(i, 0, this.#segment(cur, data.subarray(cur - offset, gapEnd - offset)));
      i++;
      cur = gapEnd;
    }
    return !wasReadable && this.readable;
  }

  #segment(offset: number, data: Uint8Array): Segment {
    const len = data.length;
    this.#buffered += len;
    const backing = data.buffer.byteLength;
    // Copy small chunks and chunks that would pin a much larger buffer.
    if (len < this.#copyThreshold || backing > 2 * len) {
      this.#retained += len;
      return { offset, data: data.slice(), cost: len };
    }
    this.#retained += backing;
    return { offset, data, cost: backing };
  }

  /** Up to `max` in-order octets (a view), or undefined when nothing is readable. */
  read(max: number): Uint8Array | undefined {
    const s = this.#segs[0];
    if (s === undefined || s.offset !== this.#readOffset || max <= 0) return undefined;
    const len = s.data.length;
    let out: Uint8Array;
    if (max >= len) {
      out = s.data;
      this.#segs.shift();
      this.#retained -= s.cost;
    } else {
      out = s.data.subarray(0, max);
      s.data = s.data.subarray(max);
      s.offset += max;
    }
    this.#readOffset += out.length;
    this.#buffered -= out.length;
    return out;
  }

  /**
   * Drops buffered data and ignores future data (reset or STOP_SENDING); size checks go on.
   */
  discard(): void {
    this.#discarding = true;
    this.#segs = [];
    this.#buffered = 0;
    this.#retained = 0;
  }

  get discarding(): boolean {
    return this.#discarding;
  }
}
