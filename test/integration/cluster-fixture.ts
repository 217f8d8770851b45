// Worker script of test/integration/cluster.test.ts (forked by startClusterServer, never run
// by the test runner): a download service with Retry for every new client. On each
// bidirectional stream the request is `<size>` (answered with payload(size, 7)) or `who`
// (answered with this worker's index). FQ_FIXTURE_FAIL=1 makes start() fail.
import { startClusterServer } from '../../src/node/cluster.js';
import { type QuicConnection, QuicEndpoint } from '../../src/node/index.js';
import { payload, readAll, serverTls, writeAll } from './support.js';

const cache = new Map<number, Uint8Array>();

function body(size: number): Uint8Array {
  let b = cache.get(size);
  if (!b) {
    b = payload(size, 7);
    if (cache.size < 8) cache.set(size, b);
  }
  return b;
}

async function serve(conn: QuicConnection, index: number): Promise<void> {
  for await (const s of conn.incomingStreams) {
    void (async () => {
      const req = new TextDecoder().decode(await readAll(s.readable));
      const out = req === 'who' ? new TextEncoder().encode(String(index)) : body(Number(req));
      await writeAll(s.writable, out);
    })().catch(() => {});
  }
}

await startClusterServer({
  // The primary's workers and address count; these only satisfy the type.
  workers: 1,
  address: '127.0.0.1:0',
  start: async (options, worker) => {
    if (process.env['FQ_FIXTURE_FAIL']) throw new Error('fixture start failure');
    const endpoint = await QuicEndpoint.bind({ ...options, server: { ...serverTls(), retry: true } });
    void (async () => {
      for await (const conn of endpoint) void serve(conn, worker.index).catch(() => {});
    })();
    return endpoint;
  },
});
