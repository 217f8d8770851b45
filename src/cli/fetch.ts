// Client side of the CLI and the interop endpoint: GET over HTTP/3 or hq-interop on one
// connection, bodies streamed to files or hashed, with progress callbacks.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { basename } from 'node:path';
import { H3Client, HqClient, type QuicConnection } from '../node/index.js';
import { CliError } from './args.js';

export type Alpn = 'h3' | 'hq-interop';

export interface FetchResponse {
  status: number;
  /** content-length when the server sent it (h3 only). */
  length: number | undefined;
  body: ReadableStream<Uint8Array>;
}

/** HTTP/3 or hq-interop requests on one QUIC connection. */
export class HttpSession {
  readonly conn: QuicConnection;
  readonly alpn: Alpn;
  readonly #h3: H3Client | undefined;
  readonly #hq: HqClient | undefined;

  /** `authority` is the :authority of HTTP/3 requests (host:port of the URL). */
  constructor(conn: QuicConnection, alpn: Alpn, authority: string) {
    this.conn = conn;
    this.alpn = alpn;
    if (alpn === 'h3') this.#h3 = new H3Client(conn, { authority });
    else this.#hq = new HqClient(conn);
  }

  async get(url: URL): Promise<FetchResponse> {
    const path = `${url.pathname}${url.search}`;
    if (this.#h3) {
      const res = await this.#h3.request('GET', path);
      const len = res.get('content-length');
      return { status: res.status, length: len !== undefined ? Number(len) : undefined, body: res.body };
    }
    return { status: 200, length: undefined, body: await this.#hq!.get(path) };
  }

  /** Closes HTTP (GOAWAY-less) and the connection with code 0 (H3_NO_ERROR for h3). */
  async close(): Promise<void> {
    try {
      if (this.#h3) await this.#h3.close();
      else await this.#hq!.close();
    } catch {
      // Already closed.
    }
  }
}

export interface BodyResult {
  size: number;
  sha256: string;
  ms: number;
}

/**
 * Reads a body to its end, writing it to `file` when given (with backpressure), hashing it,
 * and calling `onData` with each chunk's size.
 */
export async function consumeBody(
  body: ReadableStream<Uint8Array>,
  file: string | undefined,
  onData?: (n: number) => void,
): Promise<BodyResult> {
  const t0 = performance.now();
  const h = createHash('sha256');
  const out = file ? createWriteStream(file) : undefined;
  let outError: Error | undefined;
  out?.on('error', (e) => {
    outError = e;
  });
  let size = 0;
  try {
    for await (const chunk of body) {
      if (outError) throw new CliError(`cannot write ${file}: ${outError.message}`);
      h.update(chunk);
      size += chunk.length;
      onData?.(chunk.length);
      if (out && !out.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            out.off('drain', done);
            out.off('error', done);
            resolve();
          };
          out.on('drain', done);
          out.on('error', done);
        });
      }
    }
  } finally {
    if (out) {
      await new Promise<void>((resolve) => {
        out.end(() => resolve());
        out.once('error', () => resolve());
      });
    }
  }
  if (outError) throw new CliError(`cannot write ${file}: ${(outError as Error).message}`);
  return { size, sha256: h.digest('hex'), ms: performance.now() - t0 };
}

/** File name a URL's body is saved under (its last path segment, else index.html). */
export function fileNameOf(url: URL): string {
  let name = '';
  try {
    name = basename(decodeURIComponent(url.pathname));
  } catch {
    name = basename(url.pathname);
  }
  if (!name || name === '/' || name === '.' || name === '..') return 'index.html';
  return name;
}

/** The `host:port` of a URL for :authority (default port 443). */
export function authorityOf(url: URL): string {
  return url.port ? url.host : `${url.host}:443`;
}

/** Host (brackets removed) and port of a URL. */
export function hostPortOf(url: URL): { host: string; port: number } {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port: url.port ? Number(url.port) : 443 };
}

/** Parses the URLs given on the command line (https only). */
export function parseUrls(texts: readonly string[], onError: (msg: string) => Error): URL[] {
  return texts.map((t) => {
    let u: URL;
    try {
      u = new URL(t);
    } catch {
      throw onError(`invalid URL '${t}'`);
    }
    if (u.protocol !== 'https:') throw onError(`only https:// URLs are supported, got '${t}'`);
    return u;
  });
}

/** Runs `fn` over `items` with at most `parallel` in flight; rejects with the first error. */
export async function forEachParallel<T>(
  items: readonly T[],
  parallel: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        await fn(items[i]!, i);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, items.length)) }, worker));
  if (failed !== undefined) throw failed;
}
