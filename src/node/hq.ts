// hq-interop (HTTP/0.9 over QUIC, as used by the QUIC interop runner) on the runtime: HqClient
// fetches paths, HqServer serves a folder (or a handler). Bodies stream with backpressure.
import { H3ErrorCode } from '../h3/errors.js';
import { HqInteropConnection } from '../h3/hq-interop.js';
import { resolveStaticFile } from '../h3/static-files.js';
import type { QuicConnection } from './connection.js';
import type { QuicConnectOptions, QuicEndpoint } from './endpoint.js';
import {
  QuicConnectionClosedError,
  type QuicError,
  QuicHttpError,
  QuicInvalidArgumentError,
  QuicStreamResetError,
} from './errors.js';
import {
  hasFreshChunks,
  markFreshChunks,
  QuicStreamTransport,
  type StreamConsumer,
  StreamLimitError,
} from './h3-transport.js';
import { type AddressInput, deferred, noop } from './util.js';

const BODY_HIGH_WATER = 256 * 1024;
const byteLength = (c: Uint8Array): number => c.byteLength;

function closedError(conn: QuicConnection, errorCode: number, reason: string): QuicError {
  if (conn.closeError) return conn.closeError;
  return errorCode === 0 || errorCode === H3ErrorCode.H3_NO_ERROR
    ? new QuicConnectionClosedError(`connection closed${reason ? `: ${reason}` : ''}`)
    : new QuicHttpError(errorCode, `connection closed with code ${errorCode}${reason ? `: ${reason}` : ''}`);
}

abstract class HqGlue implements StreamConsumer {
  readonly connection: QuicConnection;
  readonly hq: HqInteropConnection;
  protected readonly transport: QuicStreamTransport;

  constructor(conn: QuicConnection) {
    this.connection = conn;
    this.transport = new QuicStreamTransport(conn);
    this.hq = new HqInteropConnection(this.transport);
  }

  /** Subclasses call this last in their constructor: input may be delivered at once. */
  protected start(): void {
    this.transport.attach(this);
  }

  handleStreamData(streamId: number, data: Uint8Array, fin: boolean): void {
    this.hq.handleStreamData(streamId, data, fin);
    this.afterInput();
  }

  handleStreamReset(streamId: number, errorCode: number): void {
    this.hq.handleStreamReset(streamId, errorCode);
  }

  handleStopSending(streamId: number, errorCode: number): void {
    this.hq.handleStopSending(streamId, errorCode);
  }

  handleConnectionClose(errorCode: number, reason: string): void {
    this.hq.handleConnectionClose(errorCode, reason);
  }

  abstract afterInput(): void;
}

interface HqDownload {
  controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  done: boolean;
}

/** hq-interop client: `get(path)` returns the body as a web stream. */
export class HqClient extends HqGlue {
  readonly #downloads = new Map<number, HqDownload>();
  #closeError: QuicError | undefined;

  constructor(conn: QuicConnection) {
    super(conn);
    this.start();
  }

  static async connect(
    endpoint: QuicEndpoint,
    remote: AddressInput,
    options: Omit<QuicConnectOptions, 'alpn'>,
  ): Promise<HqClient> {
    return new HqClient(await endpoint.connect(remote, { ...options, alpn: 'hq-interop' }));
  }

  /** Requests `path` (`GET /path`); the stream errors if the server resets it. */
  async get(path: string): Promise<ReadableStream<Uint8Array>> {
    let id: number;
    for (;;) {
      if (this.#closeError) throw this.#closeError;
      try {
        id = this.hq.request(path);
        break;
      } catch (e) {
        if (e instanceof TypeError) throw new QuicInvalidArgumentError(e.message);
        if (!(e instanceof StreamLimitError)) throw e;
      }
      await this.transport.streamCredit(true);
    }
    const d: HqDownload = { controller: undefined, done: false };
    this.#downloads.set(id, d);
    return new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          d.controller = c;
        },
        pull: () => this.transport.resume(id),
        cancel: () => {
          d.done = true;
          this.#downloads.delete(id);
          this.transport.resume(id);
          this.hq.cancel(id);
        },
      },
      { highWaterMark: BODY_HIGH_WATER, size: byteLength },
    );
  }

  /** Fetches `path` completely. */
  async fetchBytes(path: string): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let n = 0;
    for await (const c of await this.get(path)) {
      parts.push(c);
      n += c.length;
    }
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  async close(): Promise<void> {
    this.hq.close(0);
    await this.connection.close(0);
  }

  afterInput(): void {
    for (let e = this.hq.poll(); e !== undefined; e = this.hq.poll()) {
      switch (e.type) {
        case 'data': {
          const d = this.#downloads.get(e.streamId);
          if (!d || d.done) break;
          const c = d.controller!;
          if (e.data.length > 0) c.enqueue(e.data);
          if (e.endStream) {
            d.done = true;
            this.#downloads.delete(e.streamId);
            c.close();
          } else if ((c.desiredSize ?? 1) <= 0) {
            this.transport.pause(e.streamId);
          }
          break;
        }
        case 'reset': {
          const d = this.#downloads.get(e.streamId);
          if (!d || d.done) break;
          d.done = true;
          this.#downloads.delete(e.streamId);
          d.controller!.error(
            e.local
              ? new QuicHttpError(e.errorCode, `stream ${e.streamId} aborted`)
              : new QuicStreamResetError(e.streamId, e.errorCode, 'reset'),
          );
          break;
        }
        case 'closed': {
          const err = closedError(this.connection, e.errorCode, e.reason);
          this.#closeError = err;
          for (const d of this.#downloads.values()) {
            if (!d.done) d.controller!.error(err);
            d.done = true;
          }
          this.#downloads.clear();
          break;
        }
        default:
          break;
      }
    }
  }
}

/** What an hq-interop handler returns: the body, or undefined to refuse (stream reset). */
export type HqHandler = (path: string) => Promise<AsyncIterable<Uint8Array> | Uint8Array | undefined>;

/** hq-interop server on one connection. */
export class HqServerConnection extends HqGlue {
  readonly #handler: HqHandler;
  readonly #aborted = new Set<number>();
  readonly #closedPromise = deferred<void>();

  constructor(conn: QuicConnection, handler: HqHandler) {
    super(conn);
    this.#handler = handler;
    this.#closedPromise.promise.catch(noop);
    this.start();
  }

  /** Resolves when the connection closed. */
  get done(): Promise<void> {
    return this.#closedPromise.promise;
  }

  afterInput(): void {
    for (let e = this.hq.poll(); e !== undefined; e = this.hq.poll()) {
      switch (e.type) {
        case 'request':
          void this.#serve(e.streamId, e.path);
          break;
        case 'stop-sending':
        case 'reset':
          this.#aborted.add(e.streamId);
          break;
        case 'closed':
          this.#closedPromise.resolve();
          break;
        default:
          break;
      }
    }
  }

  async #serve(id: number, path: string): Promise<void> {
    let body: AsyncIterable<Uint8Array> | Uint8Array | undefined;
    try {
      body = await this.#handler(path);
    } catch {
      body = undefined;
    }
    if (this.hq.closed) return;
    if (body === undefined) {
      this.hq.cancel(id, H3ErrorCode.H3_REQUEST_REJECTED);
      return;
    }
    try {
      const copy = !hasFreshChunks(body);
      const chunks: AsyncIterable<Uint8Array> = body instanceof Uint8Array ? single(body) : body;
      for await (const chunk of chunks) {
        if (this.#aborted.has(id) || this.hq.closed) return;
        if (chunk.length === 0) continue;
        // The core keeps references until acknowledged: copy what the handler might reuse.
        if (!this.hq.sendData(id, copy ? new Uint8Array(chunk) : chunk, false)) return;
        if (this.transport.queued(id) > 0) await this.transport.drained(id);
      }
      if (!this.hq.closed) this.hq.sendData(id, new Uint8Array(0), true);
    } catch {
      if (!this.hq.closed) this.hq.cancel(id, H3ErrorCode.H3_INTERNAL_ERROR);
    } finally {
      this.#aborted.delete(id);
    }
  }
}

async function* single(b: Uint8Array): AsyncGenerator<Uint8Array> {
  yield b;
}

/** A handler serving files under `root` (missing files: the stream is reset). */
export function hqStaticFiles(root: string): HqHandler {
  return async (path) => {
    const r = await resolveStaticFile(root, path);
    return r.status === 200 ? markFreshChunks(r.body()) : undefined;
  };
}

/** hq-interop server: serves every accepted connection whose ALPN is hq-interop. */
export class HqServer {
  readonly handler: HqHandler;

  /** `root`: a folder to serve, or a handler. */
  constructor(root: string | HqHandler) {
    this.handler = typeof root === 'string' ? hqStaticFiles(root) : root;
  }

  serve(conn: QuicConnection): HqServerConnection {
    return new HqServerConnection(conn, this.handler);
  }

  async listen(endpoint: QuicEndpoint): Promise<void> {
    for await (const conn of endpoint) {
      if (conn.alpn === 'hq-interop') this.serve(conn);
    }
  }
}
