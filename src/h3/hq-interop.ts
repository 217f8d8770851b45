// HTTP/0.9 over QUIC as the QUIC interop runner uses it (ALPN "hq-interop"), sans-IO over an
// H3Transport. A client sends `GET /path\r\n` on a new bidirectional stream and closes it; the
// server answers with the raw file bytes and closes its side. No headers, no status.
//
// Events from poll():
//   request      { streamId, path }                   server: a complete request line
//   data         { streamId, data, endStream }        client: response bytes (views of the input)
//   reset        { streamId, errorCode, local }       peer reset, or we rejected a bad request (local)
//   stop-sending { streamId, errorCode }              the peer no longer reads; we reset our side
//   closed       { errorCode, reason, remote }
// Error codes reuse the HTTP/3 values (H3_GENERAL_PROTOCOL_ERROR for a malformed request line,
// H3_REQUEST_CANCELLED for cancel()), as hq-interop defines none.
import { concatBytes } from '../common/bytes.js';
import { H3ErrorCode } from './errors.js';
import type { H3Transport } from './transport.js';
import { isClientInitiated, isUniStream } from './transport.js';

export type HqEvent =
  | { type: 'request'; streamId: number; path: string }
  | { type: 'data'; streamId: number; data: Uint8Array; endStream: boolean }
  | { type: 'reset'; streamId: number; errorCode: number; local: boolean }
  | { type: 'stop-sending'; streamId: number; errorCode: number }
  | { type: 'closed'; errorCode: number; reason: string; remote: boolean };

export interface HqInteropOptions {
  /** Longest request line accepted by a server (default 8192 octets). */
  maxRequestLine?: number;
}

/** Bytes of `GET <path>\r\n`. */
export function encodeHqRequest(path: string): Uint8Array {
  return new TextEncoder().encode(`GET ${path}\r\n`);
}

/**
 * Parses an HTTP/0.9 request line (`GET <path>` with optional CR LF); returns the path or
 * undefined when malformed.
 */
export function parseHqRequest(line: string): string | undefined {
  const m = /^GET (\/[^\s]*)\r?\n?$/.exec(line);
  return m ? m[1] : undefined;
}

interface HqStream {
  readonly id: number;
  /** Server: request line octets collected so far (undefined once parsed). */
  line: Uint8Array[] | undefined;
  lineLength: number;
  /** Receiving finished (FIN, reset or rejected). */
  recvDone: boolean;
  /** Sending finished (FIN or reset). */
  sendDone: boolean;
}

export class HqInteropConnection {
  readonly transport: H3Transport;
  readonly role: 'client' | 'server';
  readonly #maxRequestLine: number;
  readonly #streams = new Map<number, HqStream>();
  readonly #events: HqEvent[] = [];
  #eventHead = 0;
  #closed = false;
  /** Server: every request stream ID below this was seen; `#seenAbove` holds the others seen. */
  #seenFloor = 0;
  readonly #seenAbove = new Set<number>();

  constructor(transport: H3Transport, opts: HqInteropOptions = {}) {
    this.transport = transport;
    this.role = transport.role;
    this.#maxRequestLine = opts.maxRequestLine ?? 8192;
  }

  get closed(): boolean {
    return this.#closed;
  }

  poll(): HqEvent | undefined {
    if (this.#eventHead >= this.#events.length) return undefined;
    const e = this.#events[this.#eventHead++]!;
    if (this.#eventHead === this.#events.length) {
      this.#events.length = 0;
      this.#eventHead = 0;
    }
    return e;
  }

  /** Client: requests `path` on a new stream (request line then FIN); returns the stream ID. */
  request(path: string): number {
    if (this.role !== 'client') throw new Error('request() is for clients');
    if (this.#closed) throw new Error('connection is closed');
    if (parseHqRequest(`GET ${path}`) === undefined) throw new TypeError(`invalid hq-interop path: ${path}`);
    const id = this.transport.openStream(true);
    this.#streams.set(id, { id, line: undefined, lineLength: 0, recvDone: false, sendDone: true });
    this.transport.write(id, encodeHqRequest(path), true);
    return id;
  }

  /** Server: sends response bytes; `fin` ends the response. False if the stream is gone. */
  sendData(streamId: number, data: Uint8Array, fin = false): boolean {
    if (this.#closed) return false;
    const s = this.#streams.get(streamId);
    if (!s || s.sendDone) return false;
    if (this.role !== 'server' || s.line !== undefined)
      throw new Error('no request to answer on this stream');
    this.transport.write(streamId, data, fin);
    if (fin) {
      s.sendDone = true;
      this.#maybeForget(s);
    }
    return true;
  }

  /** Abandons a stream in both directions. */
  cancel(streamId: number, errorCode: number = H3ErrorCode.H3_REQUEST_CANCELLED): void {
    const s = this.#streams.get(streamId);
    if (s && !this.#closed) this.#abort(s, errorCode);
  }

  close(errorCode = 0, reason = ''): void {
    if (this.#closed) return;
    this.#closed = true;
    this.transport.close(errorCode, reason);
    this.#events.push({ type: 'closed', errorCode, reason, remote: false });
  }

  handleStreamData(streamId: number, data: Uint8Array, fin: boolean): void {
    if (this.#closed) return;
    if (isUniStream(streamId)) {
      // hq-interop uses no unidirectional streams.
      if (isClientInitiated(streamId) !== (this.role === 'client')) {
        this.transport.stopSending(streamId, H3ErrorCode.H3_STREAM_CREATION_ERROR);
      }
      return;
    }
    let s = this.#streams.get(streamId);
    if (!s) {
      if (this.role === 'client' || !isClientInitiated(streamId)) {
        if (this.role === 'client' && !isClientInitiated(streamId)) {
          this.transport.stopSending(streamId, H3ErrorCode.H3_STREAM_CREATION_ERROR);
        }
        return;
      }
      if (this.#seen(streamId)) return; // finished and forgotten
      s = { id: streamId, line: [], lineLength: 0, recvDone: false, sendDone: false };
      this.#streams.set(streamId, s);
    }
    if (s.recvDone) return;
    if (this.role === 'client') {
      if (data.length > 0 || fin) this.#events.push({ type: 'data', streamId, data, endStream: fin });
      if (fin) {
        s.recvDone = true;
        this.#maybeForget(s);
      }
      return;
    }
    this.#onRequestBytes(s, data, fin);
  }

  #onRequestBytes(s: HqStream, data: Uint8Array, fin: boolean): void {
    const parts = s.line;
    if (parts === undefined) {
      // Request already parsed: anything after the line is ignored.
      if (fin) {
        s.recvDone = true;
        this.#maybeForget(s);
      }
      return;
    }
    if (fin) s.recvDone = true;
    const nl = data.indexOf(0x0a);
    const take = nl >= 0 ? data.subarray(0, nl + 1) : data;
    parts.push(take);
    s.lineLength += take.length;
    if (s.lineLength > this.#maxRequestLine) {
      this.#reject(s);
      return;
    }
    if (nl < 0 && !fin) return;
    const bytes = parts.length === 1 ? parts[0]! : concatBytes(...parts);
    const line = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
    s.line = undefined;
    const path = parseHqRequest(line);
    if (path === undefined) {
      this.#reject(s);
      return;
    }
    this.#events.push({ type: 'request', streamId: s.id, path });
  }

  #reject(s: HqStream): void {
    s.line = undefined;
    this.#abort(s, H3ErrorCode.H3_GENERAL_PROTOCOL_ERROR);
    this.#events.push({
      type: 'reset',
      streamId: s.id,
      errorCode: H3ErrorCode.H3_GENERAL_PROTOCOL_ERROR,
      local: true,
    });
  }

  handleStreamReset(streamId: number, errorCode: number): void {
    if (this.#closed) return;
    const s = this.#streams.get(streamId);
    if (!s || s.recvDone) return;
    s.recvDone = true;
    s.line = undefined;
    this.#events.push({ type: 'reset', streamId, errorCode, local: false });
    this.#maybeForget(s);
  }

  handleStopSending(streamId: number, errorCode: number): void {
    if (this.#closed) return;
    const s = this.#streams.get(streamId);
    if (!s || s.sendDone) return;
    s.sendDone = true;
    // RFC 9000 §3.5: answer STOP_SENDING with RESET_STREAM.
    this.transport.resetStream(streamId, errorCode);
    this.#events.push({ type: 'stop-sending', streamId, errorCode });
    this.#maybeForget(s);
  }

  handleConnectionClose(errorCode: number, reason = ''): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#events.push({ type: 'closed', errorCode, reason, remote: true });
  }

  /** Records a client stream ID; true if it was seen before (streams arrive in any order). */
  #seen(id: number): boolean {
    if (id < this.#seenFloor || this.#seenAbove.has(id)) return true;
    if (id === this.#seenFloor) {
      this.#seenFloor += 4;
      while (this.#seenAbove.delete(this.#seenFloor)) this.#seenFloor += 4;
    } else {
      this.#seenAbove.add(id);
    }
    return false;
  }

  #abort(s: HqStream, code: number): void {
    if (!s.recvDone) {
      this.transport.stopSending(s.id, code);
      s.recvDone = true;
    }
    if (!s.sendDone) {
      this.transport.resetStream(s.id, code);
      s.sendDone = true;
    }
    this.#maybeForget(s);
  }

  #maybeForget(s: HqStream): void {
    if (s.recvDone && s.sendDone) this.#streams.delete(s.id);
  }
}
