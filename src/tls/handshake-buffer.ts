// Reassembles handshake messages from the in-order CRYPTO stream of one encryption level.
// Messages may be split or coalesced arbitrarily (RFC 9001 §4.1.3); buffering is bounded.
import { TransportError, TransportErrorCode } from '../common/errors.js';

/** Most octets buffered per level (an incomplete message plus what follows it). */
export const MAX_HANDSHAKE_BUFFER = 64 * 1024;

export interface RawMessage {
  readonly type: number;
  /** The whole message including its 4-octet header (for the transcript). */
  readonly message: Uint8Array;
  /** The body (a view into `message`). */
  readonly body: Uint8Array;
}

export class HandshakeBuffer {
  #buf: Uint8Array = new Uint8Array(0);
  #start = 0;
  #end = 0;
  readonly limit: number;

  constructor(limit = MAX_HANDSHAKE_BUFFER) {
    this.limit = limit;
  }

  /** Octets received but not yet consumed as complete messages. */
  get pending(): number {
    return this.#end - this.#start;
  }

  push(data: Uint8Array): void {
    if (data.length === 0) return;
    const pending = this.#end - this.#start;
    if (pending + data.length > this.limit) {
      throw new TransportError(TransportErrorCode.CRYPTO_BUFFER_EXCEEDED, 'too much buffered handshake data');
    }
    if (this.#end + data.length > this.#buf.length) {
      const cap = Math.max(pending + data.length, Math.min(this.limit, this.#buf.length * 2), 1024);
      const next = new Uint8Array(cap);
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
      this.#start = 0;
      this.#end = pending;
    }
    this.#buf.set(data, this.#end);
    this.#end += data.length;
  }

  /** The next complete message (copied out), or undefined. */
  next(): RawMessage | undefined {
    const avail = this.#end - this.#start;
    if (avail < 4) return undefined;
    const b = this.#buf;
    const s = this.#start;
    const len = (b[s + 1]! << 16) | (b[s + 2]! << 8) | b[s + 3]!;
    if (len + 4 > this.limit) {
      throw new TransportError(TransportErrorCode.CRYPTO_BUFFER_EXCEEDED, 'handshake message too large');
    }
    if (avail < len + 4) return undefined;
    const message = b.slice(s, s + 4 + len);
    this.#start += 4 + len;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return { type: message[0]!, message, body: message.subarray(4) };
  }
}
