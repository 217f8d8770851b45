// Unreliable datagrams (RFC 9221): bounded outgoing and incoming queues and the
// max_datagram_frame_size rules. DATAGRAM frames are never retransmitted (§5.2).
import { TransportError, TransportErrorCode } from '../common/errors.js';
import { FrameType } from '../wire/frames.js';
import { varintLength } from '../wire/varint.js';
import type { BufferWriter } from '../wire/writer.js';
import { StreamUsageError, StreamUsageErrorCode } from './errors.js';

export interface DatagramConfig {
  /** Our max_datagram_frame_size transport parameter (0 = not supported, RFC 9221 §3). */
  maxFrameSize: number;
  /** Outgoing queue bound in payload octets; the oldest datagrams are dropped beyond it. */
  sendQueueBytes: number;
  /** Incoming queue bound in payload octets; the oldest datagrams are dropped beyond it. */
  recvQueueBytes: number;
}

export interface DatagramStats {
  sent: number;
  received: number;
  /** Outgoing datagrams dropped because the queue was full. */
  droppedOutgoing: number;
  /** Incoming datagrams dropped because the application did not read them in time. */
  droppedIncoming: number;
  queuedOutgoing: number;
  queuedIncoming: number;
}

/** A FIFO of octet arrays bounded by total payload size (drops the oldest). */
class BoundedQueue {
  #items: Uint8Array[] = [];
  #head = 0;
  bytes = 0;
  dropped = 0;
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  peek(): Uint8Array | undefined {
    return this.#items[this.#head];
  }

  push(d: Uint8Array): void {
    this.#items.push(d);
    this.bytes += d.length;
    while (this.bytes > this.#limit && this.length > 0) {
      this.shift();
      this.dropped++;
    }
  }

  shift(): Uint8Array | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const d = this.#items[this.#head]!;
    this.#items[this.#head++] = EMPTY;
    this.bytes -= d.length;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 64 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return d;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
    this.bytes = 0;
  }
}

const EMPTY: Uint8Array = new Uint8Array(0);

/** Size of a DATAGRAM frame with a Length field (RFC 9221 §4). */
export function datagramFrameSize(payload: number): number {
  return 1 + varintLength(payload) + payload;
}

export class Datagrams {
  readonly #maxFrameSize: number;
  #peerMaxFrameSize = 0;
  #pathMaxFrameSize = Number.POSITIVE_INFINITY;
  readonly #out: BoundedQueue;
  readonly #in: BoundedQueue;
  #sent = 0;
  #received = 0;

  constructor(config: DatagramConfig) {
    this.#maxFrameSize = config.maxFrameSize;
    this.#out = new BoundedQueue(config.sendQueueBytes);
    this.#in = new BoundedQueue(config.recvQueueBytes);
  }

  /** The peer's max_datagram_frame_size (0 when absent). */
  setPeerMaxFrameSize(n: number): void {
    this.#peerMaxFrameSize = n;
  }

  /** Largest frame that fits a packet on the current path (set by the connection). */
  setPathMaxFrameSize(n: number): void {
    this.#pathMaxFrameSize = n;
  }

  /** The peer accepts DATAGRAM frames (RFC 9221 §3). */
  get supported(): boolean {
    return this.#peerMaxFrameSize > 0;
  }

  /** Largest payload send() accepts now (0 when unsupported). */
  get maxPayload(): number {
    const frame = Math.min(this.#peerMaxFrameSize, this.#pathMaxFrameSize);
    if (frame < 2) return 0;
    let p = frame - 2;
    while (p > 0 && datagramFrameSize(p) > frame) p--;
    return p;
  }

  /**
   * Queues a datagram (kept by reference). Throws StreamUsageError when the peer does not
   * support datagrams or it is larger than allowed (RFC 9221 §3: never send a frame larger
   * than the peer's max_datagram_frame_size). The oldest queued datagrams are dropped when
   * the queue bound is exceeded.
   */
  send(data: Uint8Array): void {
    // RFC 9221 §3: not before the peer advertised a non-zero max_datagram_frame_size.
    if (this.#peerMaxFrameSize === 0) {
      throw new StreamUsageError(
        StreamUsageErrorCode.DATAGRAMS_UNSUPPORTED,
        'peer does not support DATAGRAM frames',
      );
    }
    const size = datagramFrameSize(data.length);
    if (size > this.#peerMaxFrameSize) {
      throw new StreamUsageError(
        StreamUsageErrorCode.DATAGRAM_TOO_LARGE,
        `datagram frame of ${size} octets exceeds the peer's max_datagram_frame_size ${this.#peerMaxFrameSize}`,
      );
    }
    if (size > this.#pathMaxFrameSize) {
      throw new StreamUsageError(
        StreamUsageErrorCode.DATAGRAM_TOO_LARGE,
        `datagram frame of ${size} octets does not fit a packet on this path (${this.#pathMaxFrameSize})`,
      );
    }
    this.#out.push(data);
  }

  /**
   * A DATAGRAM frame from the peer. `frameSize` is its encoded size when known (type, length
   * and payload); otherwise the smallest possible encoding is assumed.
   */
  onFrame(data: Uint8Array, frameSize = 1 + data.length): void {
    // RFC 9221 §3: DATAGRAM without our support, or larger than we advertised.
    if (this.#maxFrameSize === 0) {
      throw new TransportError(
        TransportErrorCode.PROTOCOL_VIOLATION,
        'DATAGRAM not negotiated',
        FrameType.DATAGRAM,
      );
    }
    if (frameSize > this.#maxFrameSize) {
      throw new TransportError(
        TransportErrorCode.PROTOCOL_VIOLATION,
        'DATAGRAM larger than max_datagram_frame_size',
        FrameType.DATAGRAM,
      );
    }
    this.#received++;
    // A copy: the payload is a view into the packet.
    this.#in.push(data.slice());
  }

  /** Next received datagram, oldest first. */
  recv(): Uint8Array | undefined {
    return this.#in.shift();
  }

  get hasIncoming(): boolean {
    return this.#in.length > 0;
  }

  hasPendingFrames(): boolean {
    return this.#out.length > 0;
  }

  /**
   * Writes queued datagrams that fit in `w` (each with a Length field, or without one when
   * `lastInPacket` and it is the final frame). Returns how many were written.
   */
  writeFrames(w: BufferWriter, lastInPacket = false): number {
    let n = 0;
    for (let d = this.#out.peek(); d !== undefined; d = this.#out.peek()) {
      const size = datagramFrameSize(d.length);
      if (size > this.#pathMaxFrameSize) {
        // The path shrank since it was queued: it can never be sent.
        this.#out.shift();
        this.#out.dropped++;
        continue;
      }
      if (size <= w.remaining) {
        w.u8(FrameType.DATAGRAM_LEN).varint(d.length).bytes(d);
      } else if (lastInPacket && 1 + d.length <= w.remaining) {
        w.u8(FrameType.DATAGRAM).bytes(d);
        this.#out.shift();
        this.#sent++;
        return n + 1;
      } else {
        break;
      }
      this.#out.shift();
      this.#sent++;
      n++;
    }
    return n;
  }

  stats(): DatagramStats {
    return {
      sent: this.#sent,
      received: this.#received,
      droppedOutgoing: this.#out.dropped,
      droppedIncoming: this.#in.dropped,
      queuedOutgoing: this.#out.length,
      queuedIncoming: this.#in.length,
    };
  }

  /** Connection closed: drop everything. */
  abandon(): void {
    this.#out.clear();
    this.#in.clear();
  }
}
