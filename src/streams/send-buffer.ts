// Outgoing bytes of one stream (or one CRYPTO level). Keeps references to the application's
// chunks (no copy on write; the app must not mutate them afterwards), sends lost ranges before
// new data (RFC 9000 §13.3), and frees memory from the front as soon as a prefix is acknowledged.
import { RangeList } from './range-list.js';

export interface SendPiece {
  offset: number;
  data: Uint8Array;
  fin: boolean;
}

const EMPTY: Uint8Array = new Uint8Array(0);

export class SendBuffer {
  /** Live chunks from index `#head`; `#starts[i]` is the stream offset of `#chunks[i]`. */
  #chunks: Uint8Array[] = [];
  #starts: number[] = [];
  #head = 0;
  /** Total octets written (the offset after the last written octet). */
  #end = 0;
  #nextUnsent = 0;
  /** Every octet below this offset is acknowledged and released. */
  #ackedPrefix = 0;
  /** Acknowledged ranges above the prefix. */
  #acked = new RangeList();
  /** Ranges declared lost and not yet resent (never overlaps `#acked`). */
  #lost = new RangeList();
  #finWritten = false;
  #finSent = false;
  #finAcked = false;
  #finLost = false;
  #released = false;

  // The piece chosen by the last successful `nextPiece` call.
  pieceOffset = 0;
  pieceLength = 0;
  pieceFin = false;
  #pieceIsRetransmit = false;

  /** Offset after the last written octet (the final size once `finWritten`). */
  get writtenOffset(): number {
    return this.#end;
  }

  /** Highest offset sent so far (new data only; what flow control has been charged for). */
  get sentOffset(): number {
    return this.#nextUnsent;
  }

  get ackedOffset(): number {
    return this.#ackedPrefix;
  }

  get finWritten(): boolean {
    return this.#finWritten;
  }

  get finSent(): boolean {
    return this.#finSent;
  }

  /** Octets held in memory (written and not yet released by acknowledgement). */
  get bufferedBytes(): number {
    return this.#released ? 0 : this.#end - this.#ackedPrefix;
  }

  /** Octets written but never sent. */
  get unsentBytes(): number {
    return this.#released ? 0 : this.#end - this.#nextUnsent;
  }

  /** All data and the FIN are acknowledged. */
  get allAcked(): boolean {
    return this.#finAcked && this.#ackedPrefix === this.#end;
  }

  get hasRetransmit(): boolean {
    return !this.#released && (!this.#lost.isEmpty || this.#finRetransmitPending());
  }

  /** Appends data (kept by reference) and optionally ends the stream. */
  write(data: Uint8Array, fin = false): void {
    if (this.#finWritten) throw new RangeError('write after FIN');
    if (this.#released) throw new RangeError('write after release');
    if (data.length > 0) {
      this.#chunks.push(data);
      this.#starts.push(this.#end);
      this.#end += data.length;
    }
    if (fin) this.#finWritten = true;
  }

  #finRetransmitPending(): boolean {
    return this.#finLost && !this.#finAcked && this.#nextUnsent === this.#end;
  }

  /** Whether something can be sent with new data limited to offsets below `maxOffset`. */
  hasPending(maxOffset = Number.POSITIVE_INFINITY): boolean {
    if (this.#released) return false;
    if (!this.#lost.isEmpty || this.#finRetransmitPending()) return true;
    if (this.#nextUnsent < this.#end) return this.#nextUnsent < maxOffset;
    return this.#finWritten && !this.#finSent;
  }

  /**
   * Chooses the next piece (retransmissions first) of at most `maxLength` octets, new data
   * below `maxOffset`; sets `pieceOffset/pieceLength/pieceFin`. Returns false if nothing fits.
   * Nothing changes until `commitPiece()`.
   */
  nextPiece(maxLength: number, maxOffset = Number.POSITIVE_INFINITY): boolean {
    if (this.#released) return false;
    if (!this.#lost.isEmpty) {
      const s = this.#lost.start(0);
      const len = Math.min(this.#lost.end(0) - s, maxLength);
      if (len <= 0) return false;
      this.pieceOffset = s;
      this.pieceLength = len;
      this.pieceFin = this.#finWritten && !this.#finAcked && s + len === this.#end;
      this.#pieceIsRetransmit = true;
      return true;
    }
    if (this.#nextUnsent === this.#end) {
      if (!this.#finWritten || this.#finAcked || (this.#finSent && !this.#finLost)) return false;
      this.pieceOffset = this.#end;
      this.pieceLength = 0;
      this.pieceFin = true;
      this.#pieceIsRetransmit = this.#finSent;
      return true;
    }
    const len = Math.min(Math.min(this.#end, maxOffset) - this.#nextUnsent, maxLength);
    if (len <= 0) return false;
    this.pieceOffset = this.#nextUnsent;
    this.pieceLength = len;
    this.pieceFin = this.#finWritten && this.#nextUnsent + len === this.#end;
    this.#pieceIsRetransmit = false;
    return true;
  }

  /** Marks the piece chosen by `nextPiece` as sent. Returns the octets of new data it carried. */
  commitPiece(): number {
    const end = this.pieceOffset + this.pieceLength;
    if (this.pieceFin) {
      this.#finSent = true;
      this.#finLost = false;
    }
    if (this.#pieceIsRetransmit) {
      this.#lost.remove(this.pieceOffset, end);
      return 0;
    }
    const fresh = end - this.#nextUnsent;
    if (fresh > 0) this.#nextUnsent = end;
    return Math.max(fresh, 0);
  }

  /** Copies `length` octets starting at stream `offset` into `dst[at..]`. */
  copyOut(dst: Uint8Array, at: number, offset: number, length: number): void {
    let i = this.#chunkIndex(offset);
    let skip = offset - this.#starts[i]!;
    while (length > 0) {
      const c = this.#chunks[i]!;
      const n = Math.min(c.length - skip, length);
      dst.set(skip === 0 && n === c.length ? c : c.subarray(skip, skip + n), at);
      at += n;
      length -= n;
      skip = 0;
      i++;
    }
  }

  /** Index of the chunk holding `offset` (which must be buffered). */
  #chunkIndex(offset: number): number {
    const s = this.#starts;
    let lo = this.#head;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (s[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Next piece as an object (a view when it lies in one chunk, else a copy). Marks it sent. */
  emit(maxLength: number, maxOffset = Number.POSITIVE_INFINITY): SendPiece | undefined {
    if (!this.nextPiece(maxLength, maxOffset)) return undefined;
    const offset = this.pieceOffset;
    const length = this.pieceLength;
    const fin = this.pieceFin;
    let data: Uint8Array = EMPTY;
    if (length > 0) {
      const i = this.#chunkIndex(offset);
      const c = this.#chunks[i]!;
      const skip = offset - this.#starts[i]!;
      if (skip + length <= c.length) data = c.subarray(skip, skip + length);
      else {
        data = new Uint8Array(length);
        this.copyOut(data, 0, offset, length);
      }
    }
    this.commitPiece();
    return { offset, data, fin };
  }

  onAcked(offset: number, length: number, fin: boolean): void {
    if (fin) {
      this.#finAcked = true;
      this.#finLost = false;
    }
    if (length <= 0 || this.#released) return;
    const end = offset + length;
    if (end <= this.#ackedPrefix) return;
    if (offset <= this.#ackedPrefix && this.#acked.isEmpty) {
      // In-order acknowledgement (the usual case): the prefix just grows.
      if (!this.#lost.isEmpty) this.#lost.remove(offset, end);
      this.#ackedPrefix = end;
      this.#release();
      return;
    }
    this.#lost.remove(offset, end);
    this.#acked.add(offset, end);
    if (this.#acked.start(0) <= this.#ackedPrefix) {
      this.#ackedPrefix = this.#acked.end(0);
      this.#acked.removeBelow(this.#ackedPrefix);
      this.#release();
    }
  }

  onLost(offset: number, length: number, fin: boolean): void {
    if (this.#released) return;
    if (fin && this.#finSent && !this.#finAcked) this.#finLost = true;
    // Only what was sent and is not acknowledged needs resending.
    const s = Math.max(offset, this.#ackedPrefix);
    const e = Math.min(offset + length, this.#nextUnsent);
    if (e <= s) return;
    if (this.#acked.isEmpty) {
      this.#lost.add(s, e);
      return;
    }
    let cur = s;
    for (let i = 0; i < this.#acked.count && cur < e; i++) {
      const as = this.#acked.start(i);
      const ae = this.#acked.end(i);
      if (ae <= cur) continue;
      if (as >= e) break;
      if (as > cur) this.#lost.add(cur, as);
      cur = ae;
    }
    if (cur < e) this.#lost.add(cur, e);
  }

  /** Treats everything not acknowledged as never sent (0-RTT rejected, RFC 9001 §4.6.2). */
  requeueAll(): void {
    this.#nextUnsent = this.#ackedPrefix;
    this.#lost.clear();
    this.#acked.clear();
    this.#finSent = false;
    this.#finLost = false;
  }

  /** Drops all buffered data (stream reset); offsets stay readable. */
  release(): void {
    this.#released = true;
    this.#chunks = [];
    this.#starts = [];
    this.#head = 0;
    this.#lost.clear();
    this.#acked.clear();
  }

  /** Frees chunks entirely below the acknowledged prefix. */
  #release(): void {
    const chunks = this.#chunks;
    const starts = this.#starts;
    let h = this.#head;
    while (h < chunks.length && starts[h]! + chunks[h]!.length <= this.#ackedPrefix) {
      chunks[h] = EMPTY;
      h++;
    }
    if (h === chunks.length) {
      chunks.length = 0;
      starts.length = 0;
      h = 0;
    } else if (h > 32 && h * 2 > chunks.length) {
      chunks.splice(0, h);
      starts.splice(0, h);
      h = 0;
    }
    this.#head = h;
  }
}
