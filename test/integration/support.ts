// Shared set-up of the integration tests: test PKI, server/client endpoints on loopback,
// deterministic payloads, helpers to read web streams.
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { SeededRandom } from '../../src/common/random.js';
import {
  type QuicConnection,
  QuicEndpoint,
  type QuicEndpointOptions,
  type QuicServerOptions,
} from '../../src/node/index.js';

const certDir = new URL('../../../test/fixtures/certs/', import.meta.url);
const pem = (name: string): string => readFileSync(new URL(name, certDir), 'utf8');

export const TEST_CA = pem('ca.pem');
export const TEST_CHAIN = pem('leaf-p256.pem') + pem('intermediate.pem');
export const TEST_KEY = pem('leaf-p256.key');
export const UNRELATED_CA = pem('unrelated-ca.pem');

export function serverTls(alpn: readonly string[] = ['test']): QuicServerOptions {
  return { certificateChain: TEST_CHAIN, privateKey: TEST_KEY, alpn };
}

export const clientTls = { ca: TEST_CA, serverName: 'localhost' } as const;

export async function startServer(
  o: Partial<QuicEndpointOptions> & {
    alpn?: readonly string[];
    serverExtra?: Partial<QuicServerOptions>;
  } = {},
): Promise<QuicEndpoint> {
  const { alpn, serverExtra, ...rest } = o;
  return QuicEndpoint.bind({
    address: '127.0.0.1:0',
    ...rest,
    server: { ...serverTls(alpn), ...serverExtra },
  });
}

export function startClient(o: Partial<QuicEndpointOptions> = {}): Promise<QuicEndpoint> {
  return QuicEndpoint.bind({ address: '127.0.0.1:0', ...o });
}

/** Deterministic bytes of any size. */
export function payload(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  new SeededRandom(seed).fill(out);
  return out;
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Reads a web stream to its end. */
export async function readAll(r: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of r) {
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

/** Reads a web stream to its end, hashing it; returns size and sha256. */
export async function hashStream(r: ReadableStream<Uint8Array>): Promise<{ size: number; sha256: string }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of r) {
    h.update(c);
    size += c.length;
  }
  return { size, sha256: h.digest('hex') };
}

/** Writes `data` in chunks of `chunk` octets and closes the stream. */
export async function writeAll(
  w: WritableStream<Uint8Array>,
  data: Uint8Array,
  chunk = 65536,
): Promise<void> {
  const writer = w.getWriter();
  for (let o = 0; o < data.length; o += chunk)
    await writer.write(data.subarray(o, Math.min(o + chunk, data.length)));
  await writer.close();
}

/** Rejects after `ms` (a test's own upper bound). */
export function within<T>(ms: number, p: Promise<T>, what = 'operation'): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}

/** A UDP socket that swallows everything sent to it. */
export async function blackHole(): Promise<{ address: { address: string; port: number }; close(): void }> {
  const s = dgram.createSocket('udp4');
  s.on('message', () => {});
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const a = s.address();
  return { address: { address: a.address, port: a.port }, close: () => s.close() };
}

export function nextEvent<T = unknown>(target: EventTarget, type: string): Promise<CustomEvent<T>> {
  return new Promise((resolve) =>
    target.addEventListener(type, (e) => resolve(e as CustomEvent<T>), { once: true }),
  );
}

/**
 * Download service: every bidirectional stream carries a request `<size>` (decimal ASCII, then
 * FIN); the server answers with `payload(size, seed)` streamed in 64 KiB chunks.
 */
export function serveDownloads(server: QuicEndpoint, seed = 7): Promise<QuicConnection> {
  let first: (c: QuicConnection) => void = () => {};
  const p = new Promise<QuicConnection>((r) => {
    first = r;
  });
  void (async () => {
    for await (const conn of server) {
      first(conn);
      void (async () => {
        for await (const s of conn.incomingStreams) {
          void (async () => {
            const req = await readAll(s.readable);
            const size = Number(new TextDecoder().decode(req));
            const data = payload(size, seed);
            await writeAll(s.writable, data);
          })().catch(() => {});
        }
      })().catch(() => {});
    }
  })();
  return p;
}

/** Requests `size` octets on a new stream; returns the readable side. */
export async function requestDownload(
  conn: QuicConnection,
  size: number,
): Promise<ReadableStream<Uint8Array>> {
  const s = await conn.openStream();
  const w = s.writable.getWriter();
  await w.write(new TextEncoder().encode(String(size)));
  await w.close();
  return s.readable;
}

/** Echo service: every bidirectional stream is piped back. Resolves with the first connection. */
export function serveEcho(server: QuicEndpoint): Promise<QuicConnection> {
  let first: (c: QuicConnection) => void = () => {};
  const p = new Promise<QuicConnection>((r) => {
    first = r;
  });
  void (async () => {
    for await (const conn of server) {
      first(conn);
      void (async () => {
        for await (const s of conn.incomingStreams) void s.readable.pipeTo(s.writable).catch(() => {});
      })().catch(() => {});
    }
  })();
  return p;
}

export async function echo(conn: QuicConnection, data: Uint8Array): Promise<Uint8Array> {
  const s = await conn.openStream();
  const [, back] = await Promise.all([writeAll(s.writable, data), readAll(s.readable)]);
  return back;
}
