// HTTP/3 (RFC 9114) on the runtime: H3Client (request → response with a streaming body) and
// H3Server (a handler per request, or `for await` over requests), plus a static-file handler.
// Bodies stream both ways with backpressure: a response body is read from the core only while
// its ReadableStream has room, and a body being sent waits while the core's buffer is full.

import { H3Connection, type H3ConnectionOptions } from '../h3/connection.js';
import { H3ErrorCode, h3ErrorName } from '../h3/errors.js';
import type { HeadersInit } from '../h3/headers.js';
import { toFieldLines } from '../h3/headers.js';
import type { FieldLine } from '../h3/qpack/types.js';
import { resolveStaticFile, type StaticFileOptions } from '../h3/static-files.js';
import type { QuicConnection } from './connection.js';
import type { QuicConnectOptions, QuicEndpoint } from './endpoint.js';
import {
  isQuicError,
  QuicAbortError,
  QuicConnectionClosedError,
  QuicError,
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
import { type AddressInput, AsyncQueue, type Deferred, deferred, noop, toHostPort } from './util.js';

export type { HeadersInit } from '../h3/headers.js';
export type { FieldLine } from '../h3/qpack/types.js';

/** A body to send: bytes, text, or chunks (async iterable or web stream). */
export type BodyInit = Uint8Array | string | AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>;

const BODY_HIGH_WATER = 256 * 1024;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const byteLength = (c: Uint8Array): number => c.byteLength;

function header(lines: readonly FieldLine[], name: string): string | undefined {
  for (const [n, v] of lines) if (n === name) return v;
  return undefined;
}

async function* chunksOf(body: BodyInit): AsyncGenerator<Uint8Array> {
  if (typeof body === 'string') {
    yield encoder.encode(body);
    return;
  }
  if (body instanceof Uint8Array) {
    yield body;
    return;
  }
  for await (const c of body as AsyncIterable<Uint8Array>) {
    if (!(c instanceof Uint8Array)) throw new QuicInvalidArgumentError('body chunks must be Uint8Array');
    yield c;
  }
}

/** Sends `body` on `streamId` with backpressure, then FIN (or trailers). False when the stream went away. */
async function sendBody(
  t: QuicStreamTransport,
  h3: H3Connection,
  streamId: number,
  body: BodyInit,
  copy: boolean,
  trailers?: HeadersInit,
): Promise<boolean> {
  for await (const chunk of chunksOf(body)) {
    if (chunk.length === 0) continue;
    // The core keeps references until acknowledged: copy what the caller might reuse.
    if (h3.closed || !h3.sendData(streamId, copy ? new Uint8Array(chunk) : chunk, false)) return false;
    if (t.queued(streamId) > 0) {
      try {
        await t.drained(streamId);
      } catch {
        return false;
      }
    }
  }
  if (h3.closed) return false;
  if (trailers) return h3.sendTrailers(streamId, trailers);
  return h3.sendData(streamId, EMPTY, true);
}

function mapH3Error(e: unknown): unknown {
  if (isQuicError(e) || e instanceof QuicError) return e;
  if (e instanceof TypeError || e instanceof RangeError) return new QuicInvalidArgumentError(e.message);
  if (e instanceof Error && /closed/.test(e.message)) return new QuicConnectionClosedError(e.message);
  return e;
}

/** The error for requests pending when the HTTP/3 connection closed. */
function closedError(conn: QuicConnection, errorCode: number, reason: string): QuicError {
  if (conn.closeError) return conn.closeError;
  if (errorCode === H3ErrorCode.H3_NO_ERROR || errorCode === 0) {
    return new QuicConnectionClosedError(`HTTP/3 connection closed${reason ? `: ${reason}` : ''}`);
  }
  return new QuicHttpError(
    errorCode,
    `HTTP/3 connection closed with ${h3ErrorName(errorCode)}${reason ? `: ${reason}` : ''}`,
  );
}

function streamError(streamId: number, errorCode: number, local: boolean): QuicError {
  if (local) return new QuicHttpError(errorCode, `stream ${streamId} aborted: ${h3ErrorName(errorCode)}`);
  return new QuicStreamResetError(streamId, errorCode, 'reset', true);
}

/** A ReadableStream fed by H3 'data' events, pausing the QUIC stream when full. */
class BodySource {
  readonly stream: ReadableStream<Uint8Array>;
  #c: ReadableStreamDefaultController<Uint8Array> | undefined;
  #done = false;

  constructor(t: QuicStreamTransport, streamId: number, onCancel: (reason: unknown) => void) {
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.#c = c;
        },
        pull: () => t.resume(streamId),
        cancel: (reason) => {
          this.#done = true;
          onCancel(reason);
        },
      },
      { highWaterMark: BODY_HIGH_WATER, size: byteLength },
    );
  }

  /** Enqueues; returns false when the consumer's queue is full (pause reading). */
  push(data: Uint8Array): boolean {
    if (this.#done) return true;
    if (data.length > 0) this.#c!.enqueue(data);
    return (this.#c!.desiredSize ?? 1) > 0;
  }

  end(): void {
    if (this.#done) return;
    this.#done = true;
    this.#c!.close();
  }

  error(e: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#c!.error(e);
  }

  get done(): boolean {
    return this.#done;
  }
}

/** Runs the sans-IO HTTP/3 connection over a QuicConnection (shared by client and server). */
abstract class H3Glue implements StreamConsumer {
  readonly connection: QuicConnection;
  readonly h3: H3Connection;
  protected readonly transport: QuicStreamTransport;

  constructor(conn: QuicConnection, options: H3ConnectionOptions) {
    this.connection = conn;
    // RFC 9114 §8.1: H3_NO_ERROR closes an HTTP/3 connection cleanly.
    conn.applicationNoError = H3ErrorCode.H3_NO_ERROR;
    this.transport = new QuicStreamTransport(conn);
    this.h3 = new H3Connection(this.transport, options);
  }

  /** Subclasses call this last in their constructor: input may be delivered at once. */
  protected start(): void {
    this.transport.attach(this);
  }

  handleStreamData(streamId: number, data: Uint8Array, fin: boolean): void {
    this.h3.handleStreamData(streamId, data, fin);
    // Deliver at once so a full body pauses the stream before more is read.
    this.afterInput();
  }

  handleStreamReset(streamId: number, errorCode: number): void {
    this.h3.handleStreamReset(streamId, errorCode);
  }

  handleStopSending(streamId: number, errorCode: number): void {
    this.h3.handleStopSending(streamId, errorCode);
  }

  handleConnectionClose(errorCode: number, reason: string): void {
    this.h3.handleConnectionClose(errorCode, reason);
  }

  abstract afterInput(): void;
}

// ====================================================================== client

export interface H3Response {
  readonly streamId: number;
  readonly status: number;
  /** Response fields (lowercase names), pseudo-fields excluded. */
  readonly headers: FieldLine[];
  /** First value of a field. */
  get(name: string): string | undefined;
  readonly body: ReadableStream<Uint8Array>;
  /** Trailer fields once the body ended (undefined when none were sent). */
  readonly trailers: Promise<FieldLine[] | undefined>;
}

export interface H3RequestInit {
  headers?: HeadersInit;
  body?: BodyInit | null;
  signal?: AbortSignal;
}

export interface H3ClientOptions extends H3ConnectionOptions {
  /** :authority of path-only requests (default: the server name or address given to connect()). */
  authority?: string;
}

interface ClientRequest {
  readonly id: number;
  readonly response: Deferred<H3Response>;
  readonly trailers: Deferred<FieldLine[] | undefined>;
  readonly body: BodySource;
  gotResponse: boolean;
  bodyStopped: boolean;
}

export class H3Client extends H3Glue {
  readonly #authority: string;
  readonly #requests = new Map<number, ClientRequest>();
  #closeError: QuicError | undefined;

  /** Connects with ALPN 'h3' and starts HTTP/3. */
  static async connect(
    endpoint: QuicEndpoint,
    remote: AddressInput,
    options: Omit<QuicConnectOptions, 'alpn'> & { alpn?: string; h3?: H3ClientOptions },
  ): Promise<H3Client> {
    const { h3, alpn, ...rest } = options;
    const conn = await endpoint.connect(remote, { ...rest, alpn: alpn ?? 'h3' });
    const { host, port } = toHostPort(remote);
    const name = options.serverName ?? host;
    return new H3Client(conn, { authority: `${name.includes(':') ? `[${name}]` : name}:${port}`, ...h3 });
  }

  constructor(conn: QuicConnection, options: H3ClientOptions = {}) {
    const { authority, ...h3 } = options;
    super(conn, h3);
    const r = conn.remoteAddress;
    this.#authority =
      authority ?? (r.address.includes(':') ? `[${r.address}]:${r.port}` : `${r.address}:${r.port}`);
    this.start();
  }

  /**
   * Sends a request; resolves with the response head once it arrives (the body streams).
   * `target` is a path ('/x?y') or an absolute URL (its authority and scheme are used).
   */
  async request(method: string, target: string, init: H3RequestInit = {}): Promise<H3Response> {
    let path = target;
    let authority = this.#authority;
    let scheme = 'https';
    if (!target.startsWith('/')) {
      let url: URL;
      try {
        url = new URL(target);
      } catch {
        throw new QuicInvalidArgumentError(`invalid request target: ${target}`);
      }
      path = `${url.pathname}${url.search}`;
      authority = url.host;
      scheme = url.protocol.slice(0, -1);
    }
    const signal = init.signal;
    if (signal?.aborted) throw new QuicAbortError(signal.reason);
    const lines: FieldLine[] = [
      [':method', method],
      [':scheme', scheme],
      [':authority', authority],
      [':path', path],
      ...toFieldLines(init.headers ?? []),
    ];
    const body = init.body ?? undefined;
    let id: number;
    for (;;) {
      if (this.#closeError) throw this.#closeError;
      try {
        id = this.h3.request(lines, { endStream: body === undefined });
        break;
      } catch (e) {
        if (!(e instanceof StreamLimitError)) throw mapH3Error(e);
      }
      await this.transport.streamCredit(true);
    }
    const req: ClientRequest = {
      id,
      response: deferred<H3Response>(),
      trailers: deferred<FieldLine[] | undefined>(),
      body: new BodySource(this.transport, id, () => this.#cancel(id, H3ErrorCode.H3_REQUEST_CANCELLED)),
      gotResponse: false,
      bodyStopped: false,
    };
    req.trailers.promise.catch(noop);
    this.#requests.set(id, req);
    if (body !== undefined) {
      void sendBody(this.transport, this.h3, id, body, true).catch((e: unknown) => {
        this.#fail(req, e);
        this.#cancel(id, H3ErrorCode.H3_REQUEST_CANCELLED);
      });
    }
    if (signal) {
      const onAbort = (): void => {
        this.#fail(req, new QuicAbortError(signal.reason));
        this.#cancel(id, H3ErrorCode.H3_REQUEST_CANCELLED);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      void req.body.stream;
      req.trailers.promise.finally(() => signal.removeEventListener('abort', onAbort)).catch(noop);
    }
    return req.response.promise;
  }

  /** GET (or `init.method`) and read the whole body. */
  async fetchBytes(
    target: string,
    init: H3RequestInit & { method?: string } = {},
  ): Promise<{ status: number; headers: FieldLine[]; body: Uint8Array; trailers: FieldLine[] | undefined }> {
    const res = await this.request(init.method ?? 'GET', target, init);
    const parts: Uint8Array[] = [];
    let n = 0;
    for await (const c of res.body) {
      parts.push(c);
      n += c.length;
    }
    const body = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      body.set(p, o);
      o += p.length;
    }
    return { status: res.status, headers: res.headers, body, trailers: await res.trailers };
  }

  /** Closes HTTP/3 (H3_NO_ERROR) and the QUIC connection; resolves when closed. */
  async close(): Promise<void> {
    if (!this.h3.closed) this.h3.close(H3ErrorCode.H3_NO_ERROR);
    await this.connection.close(H3ErrorCode.H3_NO_ERROR);
  }

  #cancel(id: number, code: number): void {
    this.#requests.delete(id);
    this.transport.resume(id);
    if (!this.h3.closed) this.h3.cancel(id, code);
  }

  #fail(req: ClientRequest, e: unknown): void {
    this.#requests.delete(req.id);
    if (!req.gotResponse) req.response.reject(e);
    req.body.error(e);
    req.trailers.reject(e);
  }

  afterInput(): void {
    for (let e = this.h3.poll(); e !== undefined; e = this.h3.poll()) {
      switch (e.type) {
        case 'headers': {
          const req = this.#requests.get(e.streamId);
          if (!req || req.gotResponse) break;
          const status = Number(header(e.headers, ':status'));
          if (status < 200) break; // interim response (RFC 9114 §4.1)
          req.gotResponse = true;
          const headers = e.headers.filter(([n]) => !n.startsWith(':'));
          req.response.resolve({
            streamId: e.streamId,
            status,
            headers,
            get: (name) => header(headers, name.toLowerCase()),
            body: req.body.stream,
            trailers: req.trailers.promise,
          });
          if (e.endStream) this.#finish(req);
          break;
        }
        case 'data': {
          const req = this.#requests.get(e.streamId);
          if (!req) break;
          if (!req.body.push(e.data)) this.transport.pause(e.streamId);
          if (e.endStream) this.#finish(req);
          break;
        }
        case 'trailers': {
          const req = this.#requests.get(e.streamId);
          if (!req) break;
          req.trailers.resolve(e.headers);
          if (e.endStream) this.#finish(req);
          break;
        }
        case 'reset': {
          const req = this.#requests.get(e.streamId);
          if (req) this.#fail(req, streamError(e.streamId, e.errorCode, e.local));
          break;
        }
        case 'stop-sending': {
          const req = this.#requests.get(e.streamId);
          if (req) req.bodyStopped = true;
          break;
        }
        case 'goaway':
        case 'settings':
          break;
        case 'closed': {
          const err = closedError(this.connection, e.errorCode, e.reason);
          this.#closeError = err;
          for (const req of [...this.#requests.values()]) this.#fail(req, err);
          break;
        }
      }
    }
  }

  #finish(req: ClientRequest): void {
    this.#requests.delete(req.id);
    req.body.end();
    req.trailers.resolve(undefined);
    this.transport.resume(req.id);
  }
}

// ====================================================================== server

export interface H3ResponseInit {
  status: number;
  headers?: HeadersInit;
  body?: BodyInit | null;
  trailers?: HeadersInit;
}

/** A request received by a server. */
export class H3Request {
  readonly streamId: number;
  readonly method: string;
  readonly path: string;
  readonly authority: string | undefined;
  readonly scheme: string | undefined;
  /** Request fields (lowercase), pseudo-fields excluded. */
  readonly headers: FieldLine[];
  readonly body: ReadableStream<Uint8Array>;
  readonly connection: QuicConnection;
  /** Aborted when the client resets the stream, stops reading, or the connection closes. */
  readonly signal: AbortSignal;
  readonly #server: H3ServerConnection;
  readonly #abort = new AbortController();
  /** @internal */
  readonly _body: BodySource;
  readonly #trailers = deferred<FieldLine[] | undefined>();
  #responded = false;
  /** @internal The response was sent completely (or abandoned). */
  _sent = false;

  /** @internal */
  constructor(server: H3ServerConnection, streamId: number, lines: FieldLine[], body: BodySource) {
    this.#server = server;
    this.connection = server.connection;
    this.streamId = streamId;
    this.method = header(lines, ':method') ?? 'GET';
    this.path = header(lines, ':path') ?? '/';
    this.authority = header(lines, ':authority') ?? header(lines, 'host');
    this.scheme = header(lines, ':scheme');
    this.headers = lines.filter(([n]) => !n.startsWith(':'));
    this._body = body;
    this.body = body.stream;
    this.signal = this.#abort.signal;
    this.#trailers.promise.catch(noop);
  }

  get(name: string): string | undefined {
    return header(this.headers, name.toLowerCase());
  }

  /** Trailers of the request body (undefined when none). */
  get trailers(): Promise<FieldLine[] | undefined> {
    return this.#trailers.promise;
  }

  get responded(): boolean {
    return this.#responded;
  }

  /**
   * Sends the response: head, then the body streamed with backpressure. Resolves when the
   * whole body was handed to QUIC (false if the client went away first).
   */
  respond(status: number, headers?: HeadersInit, body?: BodyInit | null): Promise<boolean>;
  respond(init: H3ResponseInit): Promise<boolean>;
  respond(a: number | H3ResponseInit, headers?: HeadersInit, body?: BodyInit | null): Promise<boolean> {
    const init: H3ResponseInit =
      typeof a === 'number' ? { status: a, headers: headers ?? [], body: body ?? null } : a;
    if (this.#responded) return Promise.reject(new QuicInvalidArgumentError('already responded'));
    this.#responded = true;
    return this.#server._respond(this, init);
  }

  /** Resets the response stream (and stops reading the request). */
  cancel(code: number = H3ErrorCode.H3_REQUEST_CANCELLED): void {
    this.#responded = true;
    this.#server._cancel(this.streamId, code);
  }

  /** @internal */
  _aborted(reason: unknown): void {
    if (!this.#abort.signal.aborted) this.#abort.abort(reason);
    this._body.error(reason);
    this.#trailers.resolve(undefined);
  }

  /** @internal */
  _trailers(lines: FieldLine[] | undefined): void {
    this.#trailers.resolve(lines);
  }
}

export type H3Handler = (req: H3Request) => H3ResponseInit | Promise<H3ResponseInit>;

export interface H3ServerOptions extends H3ConnectionOptions {}

/** The server side of HTTP/3 on one QUIC connection: requests as an async iterable. */
export class H3ServerConnection extends H3Glue {
  readonly #requests = new Map<number, H3Request>();
  readonly #queue = new AsyncQueue<H3Request>();

  constructor(conn: QuicConnection, options: H3ServerOptions = {}) {
    super(conn, options);
    this.start();
  }

  /** Requests in arrival order; ends when the connection closes. */
  get requests(): AsyncIterable<H3Request> {
    return this.#queue;
  }

  /** Sends GOAWAY (RFC 9114 §5.2), then closes once `closeAfter` resolves. */
  goaway(): void {
    if (!this.h3.closed) this.h3.goaway();
  }

  async close(): Promise<void> {
    if (!this.h3.closed) this.h3.close(H3ErrorCode.H3_NO_ERROR);
    await this.connection.close(H3ErrorCode.H3_NO_ERROR);
  }

  /** @internal */
  async _respond(req: H3Request, init: H3ResponseInit): Promise<boolean> {
    try {
      return await this.#respond(req, init);
    } finally {
      req._sent = true;
      this.#maybeForget(req);
    }
  }

  async #respond(req: H3Request, init: H3ResponseInit): Promise<boolean> {
    const id = req.streamId;
    if (this.h3.closed || req.signal.aborted) return false;
    const body = init.body ?? undefined;
    const hasBody = body !== undefined || init.trailers !== undefined;
    try {
      this.h3.respond(id, init.status, init.headers ?? [], { endStream: !hasBody });
    } catch (e) {
      throw mapH3Error(e);
    }
    if (!hasBody) return true;
    const fresh = hasFreshChunks(body);
    try {
      return await sendBody(this.transport, this.h3, id, body ?? EMPTY, !fresh, init.trailers);
    } catch (e) {
      this._cancel(id, H3ErrorCode.H3_INTERNAL_ERROR);
      throw mapH3Error(e);
    }
  }

  /** @internal */
  _cancel(id: number, code: number): void {
    const req = this.#requests.get(id);
    this.#requests.delete(id);
    this.transport.resume(id);
    if (!this.h3.closed) this.h3.cancel(id, code);
    req?._aborted(new QuicHttpError(code, `request cancelled (${h3ErrorName(code)})`));
  }

  afterInput(): void {
    for (let e = this.h3.poll(); e !== undefined; e = this.h3.poll()) {
      switch (e.type) {
        case 'headers': {
          if (this.#requests.has(e.streamId)) break;
          const id = e.streamId;
          const body = new BodySource(this.transport, id, () => {
            this.transport.resume(id);
            if (!this.h3.closed) this.transport.stopSending(id, H3ErrorCode.H3_NO_ERROR);
          });
          const req = new H3Request(this, id, e.headers, body);
          this.#requests.set(id, req);
          if (e.endStream) {
            body.end();
            req._trailers(undefined);
          }
          this.#queue.push(req);
          break;
        }
        case 'data': {
          const req = this.#requests.get(e.streamId);
          if (!req) break;
          if (!req._body.push(e.data)) this.transport.pause(e.streamId);
          if (e.endStream) {
            req._body.end();
            req._trailers(undefined);
            this.#maybeForget(req);
          }
          break;
        }
        case 'trailers': {
          const req = this.#requests.get(e.streamId);
          if (!req) break;
          req._trailers(e.headers);
          if (e.endStream) {
            req._body.end();
            this.#maybeForget(req);
          }
          break;
        }
        case 'reset': {
          const req = this.#requests.get(e.streamId);
          this.#requests.delete(e.streamId);
          req?._aborted(streamError(e.streamId, e.errorCode, e.local));
          break;
        }
        case 'stop-sending': {
          const req = this.#requests.get(e.streamId);
          this.#requests.delete(e.streamId);
          req?._aborted(new QuicStreamResetError(e.streamId, e.errorCode, 'stop-sending', true));
          break;
        }
        case 'goaway':
        case 'settings':
          break;
        case 'closed': {
          const err = closedError(this.connection, e.errorCode, e.reason);
          for (const req of this.#requests.values()) req._aborted(err);
          this.#requests.clear();
          this.#queue.end();
          break;
        }
      }
    }
  }

  /** Forgets a request once its body was received and its response sent. */
  #maybeForget(req: H3Request): void {
    if (req._sent && req._body.done) this.#requests.delete(req.streamId);
  }
}

/** Serves HTTP/3 on `conn` with `handler` until the connection closes. */
export async function serveH3(
  conn: QuicConnection,
  handler: H3Handler,
  options: H3ServerOptions = {},
): Promise<void> {
  const server = new H3ServerConnection(conn, options);
  for await (const req of server.requests) void handleRequest(req, handler);
}

async function handleRequest(req: H3Request, handler: H3Handler): Promise<void> {
  let res: H3ResponseInit;
  try {
    res = await handler(req);
  } catch {
    if (!req.responded && !req.signal.aborted) {
      await req
        .respond(500, { 'content-type': 'text/plain; charset=utf-8' }, 'Internal Server Error\n')
        .catch(noop);
    }
    return;
  }
  if (req.responded) return;
  try {
    await req.respond(res);
  } catch {
    // The client went away or the body failed; the stream is reset.
  }
}

/** Serves files under `root` (GET and HEAD; 400/403/404/405 otherwise). */
export function staticFiles(root: string, options: Omit<StaticFileOptions, 'method'> = {}): H3Handler {
  return async (req) => {
    const r = await resolveStaticFile(root, req.path, { ...options, method: req.method });
    // Chunks of the file reader are fresh buffers: no copy needed.
    const body = markFreshChunks(r.body());
    return { status: r.status, headers: r.headers, body: req.method === 'HEAD' ? null : body };
  };
}

/** An HTTP/3 server: `listen(endpoint)` serves every accepted connection whose ALPN is h3. */
export class H3Server {
  readonly handler: H3Handler;
  readonly options: H3ServerOptions;

  constructor(handler: H3Handler, options: H3ServerOptions = {}) {
    this.handler = handler;
    this.options = options;
  }

  serve(conn: QuicConnection): Promise<void> {
    return serveH3(conn, this.handler, this.options);
  }

  /** Serves connections accepted by `endpoint` until it closes. Other ALPNs are ignored. */
  async listen(endpoint: QuicEndpoint): Promise<void> {
    for await (const conn of endpoint) {
      if (conn.alpn === 'h3') void this.serve(conn).catch(noop);
    }
  }
}
