// Runnable migration example: a server on two sockets advertises the second one as its
// preferred address; the client downloads 8 MB on a raw QUIC stream, follows the preferred
// address, then migrates to a new local socket mid-transfer. Everything is logged as it happens.
//   npm run build && node dist/examples/migration.js
import { createHash } from 'node:crypto';
import { DEFAULT_CERTIFICATE_PEM, DEFAULT_PRIVATE_KEY_PEM } from '../src/cli/default-certificate.js';
import { QuicEndpoint } from '../src/index.js';

const SIZE = 8 * 1024 * 1024;
const payload = new Uint8Array(SIZE).map((_, i) => (i * 31 + 7) & 0xff);

// Server: two sockets, preferred_address = the second one (RFC 9000 §9.6).
const server = await QuicEndpoint.bind({
  address: ['127.0.0.1:0', '127.0.0.1:0'],
  server: {
    certificateChain: DEFAULT_CERTIFICATE_PEM,
    privateKey: DEFAULT_PRIVATE_KEY_PEM,
    alpn: ['example'],
    preferredAddress: { ipv4: 1 },
  },
});
void (async () => {
  for await (const conn of server) {
    conn.addEventListener('peermigrated', (e) =>
      console.log(`server: following the client ${fmt(e.detail.from.remote)} → ${fmt(e.detail.to.remote)}`),
    );
    void (async () => {
      const stream = await conn.acceptStream();
      if (!stream) return;
      const w = stream.writable.getWriter();
      for (let off = 0; off < SIZE; off += 256 * 1024) await w.write(payload.subarray(off, off + 256 * 1024));
      await w.close();
    })();
  }
})();

// Client: one socket to start with, never connect()ed, so it can move.
const client = await QuicEndpoint.bind({ address: '127.0.0.1:0' });
const conn = await client.connect(server.addresses[0]!, {
  alpn: 'example',
  serverName: 'localhost',
  ca: DEFAULT_CERTIFICATE_PEM,
});
console.log(`client: connected ${fmt(conn.localAddress)} → ${fmt(conn.remoteAddress)}`);
conn.addEventListener('pathvalidated', (e) =>
  console.log(`client: path ${e.detail.pathId} validated, RTT ${e.detail.rtt.toFixed(2)} ms`),
);
conn.addEventListener('migrated', (e) =>
  console.log(
    `client: migrated ${fmt(e.detail.from.local)}→${fmt(e.detail.from.remote)} to ${fmt(e.detail.to.local)}→${fmt(e.detail.to.remote)}${e.detail.preferredAddress ? ' (server preferred address)' : ''}`,
  ),
);

const stream = await conn.openStream();
const w = stream.writable.getWriter();
await w.close(); // an empty request
const hash = createHash('sha256');
let received = 0;
let migrated = false;
for await (const chunk of stream.readable) {
  hash.update(chunk);
  received += chunk.length;
  if (!migrated && received > SIZE / 2) {
    migrated = true;
    // Probe a path from a new local socket; switch once PATH_RESPONSE arrives (RFC 9000 §9.2).
    const { pathId, rtt } = await conn.migrate();
    console.log(
      `client: migrate() done — path ${pathId}, RTT ${rtt.toFixed(2)} ms, now ${fmt(conn.localAddress)}`,
    );
  }
}
const ok = hash.digest('hex') === createHash('sha256').update(payload).digest('hex');
console.log(
  `client: ${received} bytes, sha256 ${ok ? 'matches' : 'MISMATCH'}, smoothed RTT ${(conn.stats().rtt / 1000).toFixed(2)} ms`,
);
await conn.close();
await client.close();
await server.close();
process.exitCode = ok ? 0 : 1;

function fmt(a: { address: string; port: number }): string {
  return `${a.address}:${a.port}`;
}
