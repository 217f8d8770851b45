import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  H3Client,
  type H3Request,
  H3Server,
  HqClient,
  HqServer,
  type QuicEndpoint,
  serveH3,
  staticFiles,
} from '../../src/node/index.js';
import {
  clientTls,
  hashStream,
  payload,
  readAll,
  sha256,
  startClient,
  startServer,
  within,
} from './support.js';

let dir: string;
let server: QuicEndpoint;
let client: QuicEndpoint;
const FILE_SIZE = 5 * 1024 * 1024;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fq-http-'));
  writeFileSync(join(dir, 'file.bin'), payload(FILE_SIZE, 11));
  writeFileSync(join(dir, 'hello.txt'), 'hello world\n');
  server = await startServer({ alpn: ['h3', 'hq-interop'] });
  client = await startClient();
  const files = staticFiles(dir);
  // h3: /echo streams the request body back with a trailer; everything else is a file.
  const h3 = new H3Server(async (req: H3Request) => {
    if (req.path === '/echo') {
      const body = await readAll(req.body);
      return {
        status: 200,
        headers: { 'x-length': String(body.length) },
        body,
        trailers: { 'x-sha256': sha256(body) },
      };
    }
    if (req.path === '/boom') throw new Error('handler failure');
    return files(req);
  });
  const hq = new HqServer(dir);
  void (async () => {
    for await (const conn of server) {
      if (conn.alpn === 'h3') void h3.serve(conn);
      else if (conn.alpn === 'hq-interop') hq.serve(conn);
    }
  })();
});

after(async () => {
  await client.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

test('HTTP/3 GET of a 5 MB file from a static folder', { timeout: 20_000 }, async () => {
  const h3 = await H3Client.connect(client, server.address, clientTls);
  assert.equal(h3.connection.alpn, 'h3');
  const res = await within(5000, h3.request('GET', '/file.bin'), 'response head');
  assert.equal(res.status, 200);
  assert.equal(res.get('content-length'), String(FILE_SIZE));
  assert.equal(res.get('content-type'), 'application/octet-stream');
  const r = await within(15_000, hashStream(res.body), 'body');
  assert.equal(r.size, FILE_SIZE);
  assert.equal(r.sha256, sha256(payload(FILE_SIZE, 11)));
  assert.equal(await res.trailers, undefined);

  const small = await h3.fetchBytes(`https://localhost:${server.address.port}/hello.txt`);
  assert.equal(small.status, 200);
  assert.equal(new TextDecoder().decode(small.body), 'hello world\n');
  assert.equal((await h3.fetchBytes('/missing')).status, 404);
  assert.equal((await h3.fetchBytes('/../etc/passwd')).status, 403);
  const head = await h3.fetchBytes('/file.bin', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
  assert.equal((await h3.fetchBytes('/boom')).status, 500);
  await h3.close();
  // H3_NO_ERROR is a clean close for HTTP/3: `closed` resolves.
  const info = await h3.connection.closed;
  assert.equal(info.code, 0x100);
  assert.equal(h3.connection.closeError, undefined);
});

test('a response body arrives in deliveries joining several packets, at most 64 KiB each', {
  timeout: 20_000,
}, async () => {
  const h3 = await H3Client.connect(client, server.address, clientTls);
  const res = await within(5000, h3.request('GET', '/file.bin'), 'response head');
  const sizes: number[] = [];
  const parts: Uint8Array[] = [];
  const reader = res.body.getReader();
  for (;;) {
    const { value, done } = await within(15_000, reader.read(), 'body chunk');
    if (done) break;
    sizes.push(value.length);
    parts.push(value);
  }
  assert.equal(sha256(Buffer.concat(parts)), sha256(payload(FILE_SIZE, 11)));
  assert.ok(Math.max(...sizes) <= 65536, `largest chunk ${Math.max(...sizes)}`);
  // Larger than any datagram (16 KiB on loopback): packets read together were joined.
  assert.ok(Math.max(...sizes) > 16384, `largest chunk ${Math.max(...sizes)}`);
  await h3.close();
});

test('HTTP/3 request body and trailers stream both ways', { timeout: 20_000 }, async () => {
  const h3 = await H3Client.connect(client, server.address, clientTls);
  const data = payload(1_500_000, 12);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const buf = new Uint8Array(50_000);
    for (let o = 0; o < data.length; o += buf.length) {
      // One reused buffer: the client must copy.
      buf.set(data.subarray(o, o + buf.length));
      yield o + buf.length <= data.length ? buf : buf.subarray(0, data.length - o);
    }
  }
  const res = await within(
    10_000,
    h3.request('POST', '/echo', { body: chunks(), headers: { 'content-type': 'application/octet-stream' } }),
    'head',
  );
  assert.equal(res.status, 200);
  assert.equal(res.get('x-length'), String(data.length));
  const back = await within(10_000, readAll(res.body), 'body');
  assert.equal(sha256(back), sha256(data));
  const trailers = await res.trailers;
  assert.deepEqual(trailers, [['x-sha256', sha256(data)]]);
  // Ten requests in parallel on one connection.
  const all = await within(
    10_000,
    Promise.all(
      Array.from({ length: 10 }, (_, i) => h3.fetchBytes('/echo', { method: 'POST', body: `request ${i}` })),
    ),
    'parallel',
  );
  for (const [i, r] of all.entries()) assert.equal(new TextDecoder().decode(r.body), `request ${i}`);
  await h3.close();
});

test('hq-interop GET', { timeout: 20_000 }, async () => {
  const hq = await HqClient.connect(client, server.address, clientTls);
  assert.equal(hq.connection.alpn, 'hq-interop');
  const body = await within(15_000, hq.fetchBytes('/file.bin'), 'hq body');
  assert.equal(body.length, FILE_SIZE);
  assert.equal(sha256(body), sha256(payload(FILE_SIZE, 11)));
  assert.equal(new TextDecoder().decode(await hq.fetchBytes('/hello.txt')), 'hello world\n');
  // A missing file: the server resets the stream.
  await assert.rejects(hq.fetchBytes('/missing'), { code: 'ERR_QUIC_STREAM_RESET' });
  await hq.close();
});

test('requests that arrive before the server starts HTTP/3 are served', { timeout: 15_000 }, async () => {
  const late = await startServer({ alpn: ['h3', 'hq-interop'] });
  void (async () => {
    for await (const conn of late) {
      // Start HTTP/3 (or hq-interop) only after the client's request is already buffered.
      await new Promise((r) => setTimeout(r, 200));
      if (conn.alpn === 'h3') void serveH3(conn, () => ({ status: 200, body: 'late but fine' }));
      else new HqServer(dir).serve(conn);
    }
  })();
  try {
    const h3 = await H3Client.connect(client, late.address, clientTls);
    const r = await within(5000, h3.fetchBytes('/x'), 'late h3');
    assert.equal(r.status, 200);
    assert.equal(new TextDecoder().decode(r.body), 'late but fine');
    await h3.close();
    const hq = await HqClient.connect(client, late.address, clientTls);
    assert.equal(
      new TextDecoder().decode(await within(5000, hq.fetchBytes('/hello.txt'), 'late hq')),
      'hello world\n',
    );
    await hq.close();
  } finally {
    await late.close();
  }
});
