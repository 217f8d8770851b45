// The H3Transport of src/h3 over a runtime QuicConnection. It takes over the connection's
// stream events (no QuicStream objects): readable streams are read from the core and handed to
// the sans-IO HTTP/3 (or hq-interop) connection; writes go to the core, and what the core's
// send buffer cannot take yet waits in a per-stream queue flushed on stream-writable. Reading a
// request stream can be paused (body backpressure) so flow control pushes back on the peer.
import type { CloseInfo } from '../connection/events.js';
import type { H3Transport } from '../h3/transport.js';
import type { QuicConnection, StreamEvent, StreamEventSink } from './connection.js';
import {
  closeInfoToOperationError,
  QuicConnectionClosedError,
  type QuicError,
  QuicStreamUsageError,
} from './errors.js';
import { type Deferred, deferred } from './util.js';

/** What the transport feeds: H3Connection or HqInteropConnection plus the runtime glue. */
export interface StreamConsumer {
  handleStreamData(streamId: number, data: Uint8Array, fin: boolean): void;
  handleStreamReset(streamId: number, errorCode: number): void;
  handleStopSending(streamId: number, errorCode: number): void;
  handleConnectionClose(errorCode: number, reason: string): void;
  /** Called after every batch of input: poll the sans-IO connection's events. */
  afterInput(): void;
}

interface SendQueue {
  chunks: Uint8Array[];
  bytes: number;
  fin: boolean;
  drained: Deferred<void>[];
}

/** Thrown by openStream() when the peer's stream limit is reached (wait with streamCredit()). */
export class StreamLimitError extends Error {
  constructor() {
    super("the peer's stream limit is reached");
    this.name = 'StreamLimitError';
  }
}

const EMPTY = new Uint8Array(0);
/** Most octets of one stream handed to the consumer at once. */
const MAX_DELIVERY = 65536;

/** `parts` (`total` octets) copied into one fresh buffer. */
function joinParts(parts: readonly Uint8Array[], total: number): Uint8Array {
  // Not zero-filled: every octet is written below.
  const b = Buffer.allocUnsafeSlow(total);
  const out = new Uint8Array(b.buffer, b.byteOffset, total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const FRESH_CHUNKS: unique symbol = Symbol('feather-quic.freshChunks');

/** Marks a body whose chunks are fresh buffers nobody else holds: they are sent without a copy. */
export function markFreshChunks<T extends object>(body: T): T {
  (body as { [FRESH_CHUNKS]?: boolean })[FRESH_CHUNKS] = true;
  return body;
}

export function hasFreshChunks(body: unknown): boolean {
  return (
    typeof body === 'object' && body !== null && (body as { [FRESH_CHUNKS]?: boolean })[FRESH_CHUNKS] === true
  );
}

export class QuicStreamTransport implements H3Transport, StreamEventSink {
  readonly role: 'client' | 'server';
  readonly connection: QuicConnection;
  #consumer: StreamConsumer | undefined;
  readonly #queues = new Map<number, SendQueue>();
  readonly #paused = new Set<number>();
  /** Paused streams that became readable meanwhile. */
  readonly #pendingRead = new Set<number>();
  readonly #creditWaiters: [Deferred<void>[], Deferred<void>[]] = [[], []];
  #error: QuicError | undefined;
  #closed = false;
  /** Scratch list of the pieces joined into one delivery. */
  readonly #parts: Uint8Array[] = [];

  constructor(connection: QuicConnection) {
    this.connection = connection;
    this.role = connection.role;
  }

  /** Starts routing the connection's stream events to `consumer`. */
  attach(consumer: StreamConsumer): void {
    this.#consumer = consumer;
    this.connection._takeStreams(this);
  }

  get closed(): boolean {
    return this.#closed;
  }

  // ------------------------------------------------------------------ H3Transport

  openStream(bidi: boolean): number {
    if (this.#closed) throw this.#error ?? new QuicConnectionClosedError();
    const id = this.connection.core.openStream(bidi);
    if (id === undefined) throw new StreamLimitError();
    return id;
  }

  write(streamId: number, data: Uint8Array, fin: boolean): void {
    if (this.#closed) return;
    let q = this.#queues.get(streamId);
    if (q === undefined) {
      const n = this.#coreWrite(streamId, data, fin);
      if (n < 0 || n === data.length) return;
      q = { chunks: [], bytes: 0, fin: false, drained: [] };
      this.#queues.set(streamId, q);
      data = data.subarray(n);
    }
    if (data.length > 0) {
      q.chunks.push(data);
      q.bytes += data.length;
    }
    if (fin) q.fin = true;
  }

  resetStream(streamId: number, errorCode: number): void {
    this.#dropQueue(streamId);
    try {
      this.connection.core.resetStream(streamId, errorCode);
    } catch {
      // Closed connection or finished stream.
    }
  }

  stopSending(streamId: number, errorCode: number): void {
    this.#paused.delete(streamId);
    this.#pendingRead.delete(streamId);
    try {
      this.connection.core.stopSending(streamId, errorCode);
    } catch {
      // Closed connection or finished stream.
    }
  }

  close(errorCode: number, reason: string): void {
    void this.connection.close(errorCode, reason);
  }

  // ------------------------------------------------------------------ flow control helpers

  /** Octets waiting in our queue (beyond what the core's send buffer took) for `streamId`. */
  queued(streamId: number): number {
    return this.#queues.get(streamId)?.bytes ?? 0;
  }

  /** Resolves when our queue for `streamId` is empty; rejects when the stream or connection is gone. */
  drained(streamId: number): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    const q = this.#queues.get(streamId);
    if (!q) return Promise.resolve();
    const d = deferred<void>();
    q.drained.push(d);
    return d.promise;
  }

  /** Resolves when the peer may have granted more streams (retry openStream()). */
  streamCredit(bidi: boolean): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    const d = deferred<void>();
    this.#creditWaiters[bidi ? 0 : 1].push(d);
    return d.promise;
  }

  /** Stops reading `streamId` from the core (the consumer's buffer is full). */
  pause(streamId: number): void {
    this.#paused.add(streamId);
  }

  /** Resumes reading `streamId`, delivering what arrived meanwhile. */
  resume(streamId: number): void {
    if (!this.#paused.delete(streamId)) return;
    if (this.#pendingRead.delete(streamId)) {
      this.#read(streamId);
      this.#consumer?.afterInput();
    }
  }

  // ------------------------------------------------------------------ StreamEventSink

  onStreamEvent(e: StreamEvent): void {
    const c = this.#consumer;
    if (!c) return;
    switch (e.type) {
      case 'stream-opened':
        return;
      case 'stream-readable':
        if (this.#paused.has(e.id)) this.#pendingRead.add(e.id);
        else this.#read(e.id);
        break;
      case 'stream-writable':
        this.#flush(e.id);
        return;
      case 'stream-reset':
        this.#paused.delete(e.id);
        this.#pendingRead.delete(e.id);
        c.handleStreamReset(e.id, e.errorCode);
        break;
      case 'stream-stop-sending':
        this.#dropQueue(e.id);
        c.handleStopSending(e.id, e.errorCode);
        break;
      case 'stream-finished':
        return;
      case 'streams-available': {
        const list = this.#creditWaiters[e.bidi ? 0 : 1];
        this.#creditWaiters[e.bidi ? 0 : 1] = [];
        for (const d of list) d.resolve();
        return;
      }
    }
    c.afterInput();
  }

  onClose(info: CloseInfo, error: QuicError | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    const err = error ?? closeInfoToOperationError(info);
    this.#error = err;
    for (const id of [...this.#queues.keys()]) this.#dropQueue(id, err);
    for (const list of this.#creditWaiters) for (const d of list.splice(0)) d.reject(err);
    const c = this.#consumer;
    if (c) {
      c.handleConnectionClose(info.code, info.reason);
      c.afterInput();
    }
  }

  // ------------------------------------------------------------------ internals

  #read(id: number): void {
    const c = this.#consumer!;
    for (;;) {
      const first = this.#readCore(id, MAX_DELIVERY);
      if (first === undefined) return;
      let data = first.data;
      let fin = first.fin;
      if (!fin && data.length < MAX_DELIVERY) {
        // What else is readable now goes in the same delivery (one copy instead of one trip
        // through HTTP/3 and the body stream per packet).
        const parts = this.#parts;
        let total = data.length;
        parts.push(data);
        while (total < MAX_DELIVERY) {
          const more = this.#readCore(id, MAX_DELIVERY - total);
          if (more === undefined) break;
          parts.push(more.data);
          total += more.data.length;
          if (more.fin) {
            fin = true;
            break;
          }
        }
        if (parts.length > 1) data = joinParts(parts, total);
        parts.length = 0;
      }
      c.handleStreamData(id, data, fin);
      if (fin) return;
      if (this.#paused.has(id)) {
        // More may be buffered in the core: read it on resume().
        this.#pendingRead.add(id);
        return;
      }
    }
  }

  /** Up to `max` readable octets from the core; undefined when none or the stream is gone. */
  #readCore(id: number, max: number): { data: Uint8Array; fin: boolean } | undefined {
    try {
      return this.connection.core.readStream(id, max);
    } catch {
      return undefined;
    }
  }

  /** Core write; -1 when the stream can no longer be written. */
  #coreWrite(id: number, data: Uint8Array, fin: boolean): number {
    try {
      return this.connection.core.writeStream(id, data, fin);
    } catch {
      this.#dropQueue(id);
      return -1;
    }
  }

  #flush(id: number): void {
    const q = this.#queues.get(id);
    if (!q) return;
    let finSent = false;
    while (q.chunks.length > 0) {
      const chunk = q.chunks[0]!;
      const withFin = q.chunks.length === 1 && q.fin;
      const n = this.#coreWrite(id, chunk, withFin);
      if (n < 0) return;
      q.bytes -= n;
      if (n < chunk.length) {
        q.chunks[0] = chunk.subarray(n);
        return;
      }
      q.chunks.shift();
      finSent = withFin;
    }
    if (q.fin && !finSent && this.#coreWrite(id, EMPTY, true) < 0) return;
    this.#queues.delete(id);
    for (const d of q.drained) d.resolve();
  }

  #dropQueue(id: number, err?: QuicError): void {
    const q = this.#queues.get(id);
    if (!q) return;
    this.#queues.delete(id);
    const e =
      err ?? new QuicStreamUsageError('ERR_QUIC_STREAM_RESET', `stream ${id} can no longer be written`);
    for (const d of q.drained) d.reject(e);
  }
}
