import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { QuicEndpoint } from '../../src/node/index.js';
import { clientTls, payload, readAll, startClient, startServer, within, writeAll } from './support.js';

let server: QuicEndpoint;
let client: QuicEndpoint;

before(async () => {
  server = await startServer();
  client = await startClient();
  // Echo server: every bidi stream is echoed back.
  void (async () => {
    for await (const conn of server) {
      void (async () => {
        for await (const s of conn.incomingStreams) void s.readable.pipeTo(s.writable).catch(() => {});
      })().catch(() => {});
    }
  })();
});

after(async () => {
  await client.close();
  await server.close();
});

test('handshake and echo on a bidirectional stream', { timeout: 10_000 }, async () => {
  const conn = await within(5000, client.connect(server.address, { alpn: 'test', ...clientTls }), 'connect');
  assert.equal(conn.alpn, 'test');
  assert.equal(conn.remoteAddress.port, server.address.port);
  const s = await conn.openStream();
  const data = payload(100_000);
  const [, echoed] = await Promise.all([writeAll(s.writable, data), readAll(s.readable)]);
  assert.equal(echoed.length, data.length);
  assert.deepEqual(echoed, data);
  await conn.close();
  assert.equal(conn.closeInfo?.source, 'local');
});
