// A QUIC stream as a pair of web streams. Reading pulls from the core only while the readable's
// queue has room, so an application that stops reading stops consuming flow-control credit and
// the peer is pushed back (RFC 9000 §4). Writes go to the core's send buffer; when it is full the
// write waits for the core's stream-writable event. Chunks are copied before they reach the core,
// which keeps references until they are acknowledged.
import { Duplex } from 'node:stream';
import type { Connection } from '../connection/connection.js';
import {
  fromCoreError,
  type QuicError,
  QuicInvalidArgumentError,
  QuicStreamResetError,
  QuicStreamUsageError,
} from './errors.js';
import { type Deferred, deferred, noop } from './util.js';

/** Bytes the readable side buffers before it stops pulling from the core. */
const READ_HIGH_WATER = 256 * 1024;
const WRITE_HIGH_WATER = 64 * 1024;
const EMPTY = new Uint8Array(0);
const byteLength = (c: Uint8Array): number => c.byteLength;

/** What a stream needs from its connection. */
export interface StreamHost {
  readonly core: Connection;
  /** Called once both directions of the stream are finished. */
  forgetStream(id: number): void;
}

/** Application error code carried by an abort/cancel reason (number, or an error with `errorCode`). */
export function errorCodeOf(reason: unknown): number {
  if (typeof reason === 'number' && Number.isSafeInteger(reason) && reason >= 0) return reason;
  if (typeof reason === 'bigint' && reason >= 0n) return Number(reason);
  if (typeof reason === 'object' && reason !== null) {
    const c = (reason as { errorCode?: unknown }).errorCode;
    if (typeof c === 'number' && Number.isSafeInteger(c) && c >= 0) return c;
  }
  return 0;
}

export class QuicStream {
  readonly id: number;
  readonly bidirectional: boolean;
  /** True when we opened the stream. */
  readonly local: boolean;
  /** Octets handed to the core / read from it. */
  bytesWritten = 0;
  bytesRead = 0;
  readonly #host: StreamHost;
  readonly #closed = deferred<void>();
  #readable: ReadableStream<Uint8Array> | undefined;
  #rc: ReadableStreamDefaultController<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;
  #wc: WritableStreamDefaultController | undefined;
  #readDone: boolean;
  #writeDone: boolean;
  /** What the readable / writable report (local aborts included). */
  #readError: QuicError | undefined;
  #writeError: QuicError | undefined;
  /** The first error from the peer or the connection: `closed` rejects with it. */
  #closeError: QuicError | undefined;
  #writeWait: Deferred<void> | undefined;
  #settled = false;

  /** @internal Created by QuicConnection. */
  constructor(host: StreamHost, id: number, local: boolean) {
    this.#host = host;
    this.id = id;
    this.local = local;
    this.bidirectional = (id & 2) === 0;
    // RFC 9000 §2.1: a unidirectional stream only carries data from its initiator.
    this.#readDone = !this.bidirectional && local;
    this.#writeDone = !this.bidirectional && !local;
    this.#closed.promise.catch(noop);
  }

  /**
   * Resolves when both directions finished normally (FIN read, our FIN acknowledged, or abandoned
   * by us); rejects with QuicStreamResetError when the peer reset or stopped it, or with the
   * connection's error when the connection ended first.
   */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  get readable(): ReadableStream<Uint8Array> {
    if (this.#readable) return this.#readable;
    if (!this.bidirectional && this.local) {
      this.#readable = new ReadableStream<Uint8Array>({ start: (c) => c.close() });
      return this.#readable;
    }
    this.#readable = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.#rc = c;
          if (this.#readError) c.error(this.#readError);
        },
        pull: () => this.#fill(),
        cancel: (reason) => this.#stopReading(errorCodeOf(reason), false),
      },
      { highWaterMark: READ_HIGH_WATER, size: byteLength },
    );
    return this.#readable;
  }

  get writable(): WritableStream<Uint8Array> {
    if (this.#writable) return this.#writable;
    if (!this.bidirectional && !this.local) {
      const err = new QuicStreamUsageError('ERR_QUIC_STREAM_DIRECTION', `stream ${this.id} is receive-only`);
      this.#writable = new WritableStream<Uint8Array>({ start: (c) => c.error(err) });
      return this.#writable;
    }
    this.#writable = new WritableStream<Uint8Array>(
      {
        start: (c) => {
          this.#wc = c;
          if (this.#writeError) c.error(this.#writeError);
        },
        write: (chunk) => this.#write(chunk),
        close: () => this.#end(),
        abort: (reason) => this.#resetWriting(errorCodeOf(reason), false),
      },
      { highWaterMark: WRITE_HIGH_WATER, size: byteLength },
    );
    return this.#writable;
  }

  /** Abandons sending: RESET_STREAM with `code` (RFC 9000 §3.1). */
  reset(code = 0): void {
    this.#resetWriting(code, true);
  }

  /** Abandons reading: STOP_SENDING with `code` (RFC 9000 §3.5). */
  stopSending(code = 0): void {
    this.#stopReading(code, true);
  }

  /** A node:stream Duplex over the two web streams. */
  toNodeStream(): Duplex {
    return Duplex.fromWeb({ readable: this.readable, writable: this.writable });
  }

  // ------------------------------------------------------------------ reading

  #fill(): void {
    const c = this.#rc;
    if (!c || this.#readDone) return;
    const core = this.#host.core;
    while ((c.desiredSize ?? 0) > 0) {
      let r: { data: Uint8Array; fin: boolean } | undefined;
      try {
        r = core.readStream(this.id);
      } catch (e) {
        this.#failRead(fromCoreError(e) as QuicError);
        return;
      }
      if (r === undefined) return;
      if (r.data.length > 0) {
        this.bytesRead += r.data.length;
        c.enqueue(r.data);
      }
      if (r.fin) {
        this.#readDone = true;
        c.close();
        this.#settle();
        return;
      }
    }
  }

  #stopReading(code: number, errorReadable: boolean): void {
    if (this.#readDone) return;
    this.#readDone = true;
    try {
      this.#host.core.stopSending(this.id, code);
    } catch {
      // Connection already closed: nothing to tell the peer.
    }
    if (errorReadable) {
      this.#readError = new QuicStreamResetError(this.id, code, 'stop-sending', false);
      this.#rc?.error(this.#readError);
    }
    this.#settle();
  }

  #failRead(err: QuicError): void {
    if (this.#readDone) return;
    this.#readDone = true;
    this.#readError = err;
    this.#closeError ??= err;
    this.#rc?.error(err);
    this.#settle();
  }

  // ------------------------------------------------------------------ writing

  #write(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#writeError) throw this.#writeError;
    if (!(chunk instanceof Uint8Array))
      throw new QuicInvalidArgumentError('stream chunks must be Uint8Array');
    if (chunk.length === 0) return undefined;
    // The core keeps a reference until the data is acknowledged: never share the caller's buffer.
    return this.#writeData(new Uint8Array(chunk));
  }

  #writeData(data: Uint8Array): Promise<void> | undefined {
    const n = this.#coreWrite(data, false);
    if (n === data.length) return undefined;
    return this.#writeSlow(data.subarray(n));
  }

  async #writeSlow(rest: Uint8Array): Promise<void> {
    while (rest.length > 0) {
      await this.#waitWritable();
      const n = this.#coreWrite(rest, false);
      rest = rest.subarray(n);
    }
  }

  #coreWrite(data: Uint8Array, fin: boolean): number {
    let n: number;
    try {
      n = this.#host.core.writeStream(this.id, data, fin);
    } catch (e) {
      throw this.#writeError ?? fromCoreError(e);
    }
    this.bytesWritten += n;
    return n;
  }

  #waitWritable(): Promise<void> {
    if (this.#writeError) return Promise.reject(this.#writeError);
    this.#writeWait ??= deferred<void>();
    return this.#writeWait.promise;
  }

  #end(): void {
    if (this.#writeError) throw this.#writeError;
    // RFC 9000 §3.1: FIN; the sending part is done once the peer acknowledged everything.
    this.#coreWrite(EMPTY, true);
  }

  #resetWriting(code: number, errorWritable: boolean): void {
    if (this.#writeDone) return;
    this.#writeDone = true;
    try {
      this.#host.core.resetStream(this.id, code);
    } catch {
      // Connection already closed.
    }
    const err = new QuicStreamResetError(this.id, code, 'reset', false);
    if (errorWritable) {
      this.#writeError = err;
      this.#wc?.error(err);
    }
    this.#rejectWriteWait(err);
    this.#settle();
  }

  #rejectWriteWait(err: QuicError): void {
    const w = this.#writeWait;
    this.#writeWait = undefined;
    w?.reject(err);
  }

  // ------------------------------------------------------------------ core events

  /** @internal */
  _onReadable(): void {
    if (this.#rc) this.#fill();
  }

  /** @internal */
  _onWritable(): void {
    const w = this.#writeWait;
    this.#writeWait = undefined;
    w?.resolve();
  }

  /** @internal RESET_STREAM from the peer. */
  _onReset(code: number): void {
    this.#failRead(new QuicStreamResetError(this.id, code, 'reset', true));
  }

  /** @internal STOP_SENDING from the peer (the core has reset our sending part). */
  _onStopSending(code: number): void {
    this.#failWrite(new QuicStreamResetError(this.id, code, 'stop-sending', true));
  }

  /** @internal Our data and FIN were acknowledged. */
  _onFinished(): void {
    if (this.#writeDone) return;
    this.#writeDone = true;
    this.#settle();
  }

  /** @internal The connection ended. */
  _onConnectionClosed(err: QuicError): void {
    this.#failRead(err);
    this.#failWrite(err);
  }

  #failWrite(err: QuicError): void {
    if (this.#writeDone) return;
    this.#writeDone = true;
    this.#writeError = err;
    this.#closeError ??= err;
    this.#wc?.error(err);
    this.#rejectWriteWait(err);
    this.#settle();
  }

  #settle(): void {
    if (this.#settled || !this.#readDone || !this.#writeDone) return;
    this.#settled = true;
    const err = this.#closeError;
    if (err) this.#closed.reject(err);
    else this.#closed.resolve();
    this.#host.forgetStream(this.id);
  }
}
