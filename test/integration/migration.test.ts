import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Path } from '../../src/common/addr.js';
import { QuicEndpoint, QuicPathError } from '../../src/node/index.js';
import {
  blackHole,
  clientTls,
  echo,
  hashStream,
  nextEvent,
  payload,
  requestDownload,
  serveDownloads,
  serverTls,
  sha256,
  startClient,
  startServer,
  within,
} from './support.js';

test('client follows the server preferred_address; the download continues byte-exact', {
  timeout: 20_000,
}, async () => {
  // One endpoint, two sockets; the second is advertised as preferred address (RFC 9000 §9.6).
  const server = await QuicEndpoint.bind({
    address: ['127.0.0.1:0', '127.0.0.1:0'],
    server: { ...serverTls(), preferredAddress: { ipv4: 1 } },
  });
  const client = await startClient();
  const peerP = serveDownloads(server);
  try {
    const [main, preferred] = server.addresses as [typeof server.address, typeof server.address];
    assert.notEqual(main.port, preferred.port);
    const conn = await client.connect(main, { alpn: 'test', ...clientTls });
    const migrated = nextEvent<{ pathId: number; from: Path; to: Path; preferredAddress: boolean }>(
      conn,
      'migrated',
    );
    const size = 8 * 1024 * 1024;
    const download = hashStream(await requestDownload(conn, size));
    const ev = await within(5000, migrated, 'migrated event');
    assert.equal(ev.detail.preferredAddress, true);
    assert.deepEqual(ev.detail.from.remote, main);
    assert.deepEqual(ev.detail.to.remote, preferred);
    const r = await within(15_000, download, 'download');
    assert.equal(r.size, size);
    assert.equal(r.sha256, sha256(payload(size, 7)));
    assert.deepEqual(conn.remoteAddress, preferred);
    const peer = await peerP;
    assert.deepEqual(peer.localAddress, preferred);
    // Traffic keeps flowing on the preferred path.
    const more = await hashStream(await requestDownload(conn, 100_000));
    assert.equal(more.sha256, sha256(payload(100_000, 7)));
    assert.ok(conn.paths().some((p) => p.active && p.remote.port === preferred.port && p.validated));
  } finally {
    await client.close();
    await server.close();
  }
});

test('client migrate() to a new local socket mid-download; the server sees peermigrated', {
  timeout: 20_000,
}, async () => {
  const server = await startServer();
  const client = await startClient();
  const peerP = serveDownloads(server);
  try {
    const conn = await client.connect(server.address, { alpn: 'test', ...clientTls });
    const peer = await within(5000, peerP, 'accept');
    const peerMigrated = nextEvent<{ pathId: number; from: Path; to: Path }>(peer, 'peermigrated');
    const oldLocal = conn.localAddress;
    const size = 12 * 1024 * 1024;
    const readable = await requestDownload(conn, size);
    const reader = readable.getReader();
    const h = (await import('node:crypto')).createHash('sha256');
    let got = 0;
    let migration: Promise<{ pathId: number; rtt: number }> | undefined;
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      h.update(r.value);
      got += r.value.length;
      if (!migration && got >= 1024 * 1024) migration = conn.migrate();
    }
    assert.equal(got, size);
    assert.equal(h.digest('hex'), sha256(payload(size, 7)));
    const m = await within(5000, migration!, 'migrate');
    assert.ok(m.rtt >= 0 && m.rtt < 1000, `rtt ${m.rtt}`);
    assert.notEqual(conn.localAddress.port, oldLocal.port);
    assert.equal(client.addresses.length, 2);
    assert.deepEqual(conn.localAddress, client.addresses[1]);
    const ev = await within(5000, peerMigrated, 'peermigrated');
    assert.deepEqual(ev.detail.from.remote, oldLocal);
    assert.deepEqual(ev.detail.to.remote, conn.localAddress);
    assert.deepEqual(peer.remoteAddress, conn.localAddress);
    // The new path carries traffic both ways.
    const more = await hashStream(await requestDownload(conn, 200_000));
    assert.equal(more.sha256, sha256(payload(200_000, 7)));
  } finally {
    await client.close();
    await server.close();
  }
});

test('probePath() to a black hole rejects with QuicPathError within 3×PTO; the connection keeps working', {
  timeout: 20_000,
}, async () => {
  const server = await startServer();
  const client = await startClient();
  serveDownloads(server);
  const hole = await blackHole();
  try {
    const conn = await client.connect(server.address, { alpn: 'test', ...clientTls });
    // Confirm the handshake first (probing needs it, RFC 9000 §9).
    await hashStream(await requestDownload(conn, 10_000));
    const failed = nextEvent<{ pathId: number; reason: string }>(conn, 'pathfailed');
    const t0 = performance.now();
    const probe = conn.probePath(conn.localAddress, { remote: hole.address });
    // A transfer during the probe is not disturbed.
    const size = 4 * 1024 * 1024;
    const during = await within(
      10_000,
      hashStream(await requestDownload(conn, size)),
      'download during probe',
    );
    assert.equal(during.sha256, sha256(payload(size, 7)));
    const err = await within(
      10_000,
      probe.then(
        () => undefined,
        (e: unknown) => e,
      ),
      'probe',
    );
    const elapsed = performance.now() - t0;
    assert.ok(err instanceof QuicPathError, String(err));
    assert.equal(err.code, 'ERR_QUIC_PATH_VALIDATION_FAILED');
    assert.equal(err.reason, 'timeout');
    assert.deepEqual(err.path?.remote, hole.address);
    // RFC 9000 §8.2.4: 3 × max(current PTO, PTO of the new path with kInitialRtt = 333 ms):
    // 3 × (333 + 4 × 333/2 + 25) ms.
    const bound = 3 * (333 + (4 * 333) / 2 + 25);
    assert.ok(elapsed <= bound + 500, `failed after ${elapsed} ms (bound ${bound})`);
    assert.equal((await failed).detail.reason, 'timeout');
    // The old path is untouched.
    assert.deepEqual(conn.remoteAddress, server.address);
    assert.deepEqual(await echo(conn, new Uint8Array(0)), new Uint8Array(0));
    const after = await hashStream(await requestDownload(conn, 100_000));
    assert.equal(after.sha256, sha256(payload(100_000, 7)));
    // Probing from an address that is not ours is refused at once.
    await assert.rejects(conn.probePath('127.0.0.1:1'), { code: 'ERR_QUIC_INVALID_ARGUMENT' });
  } finally {
    hole.close();
    await client.close();
    await server.close();
  }
});
