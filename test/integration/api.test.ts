import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { once } from 'node:events';
import { test } from 'node:test';
import type { Path } from '../../src/common/addr.js';
import { diagnosticsChannels, QuicMigrationError, type QuicStream } from '../../src/node/index.js';
import {
  clientTls,
  echo,
  nextEvent,
  payload,
  readAll,
  serveEcho,
  startClient,
  startServer,
  within,
} from './support.js';

test('toNodeStream(): a node:stream Duplex over a QUIC stream', { timeout: 10_000 }, async () => {
  const server = await startServer();
  const client = await startClient();
  serveEcho(server);
  try {
    const conn = await client.connect(server.address, { alpn: 'test', ...clientTls });
    const s = await conn.openStream();
    const d = s.toNodeStream();
    const chunks: Buffer[] = [];
    d.on('data', (c: Buffer) => chunks.push(c));
    d.write(Buffer.from('hello '));
    d.end(Buffer.from('duplex'));
    await within(5000, once(d, 'end'), 'end');
    assert.equal(Buffer.concat(chunks).toString(), 'hello duplex');
  } finally {
    await client.close();
    await server.close();
  }
});

test('unidirectional streams and waiting for stream credit', { timeout: 15_000 }, async () => {
  // The server allows 2 concurrent client bidi streams.
  const server = await startServer({ transport: { initialMaxStreamsBidi: 2 } });
  const client = await startClient();
  const uni: Promise<Uint8Array>[] = [];
  void (async () => {
    for await (const c of server) {
      for await (const s of c.incomingStreams) {
        if (s.bidirectional) void s.readable.pipeTo(s.writable).catch(() => {});
        else uni.push(readAll(s.readable));
      }
    }
  })();
  try {
    const conn = await client.connect(server.address, { alpn: 'test', ...clientTls });
    const a = await conn.openStream();
    const b = await conn.openStream();
    let third: QuicStream | undefined;
    const opening = conn.openStream().then((s) => {
      third = s;
      return s;
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(third, undefined, 'the third stream waits for MAX_STREAMS');
    // Finishing the first stream lets the server grant another (RFC 9000 §4.6).
    const wa = a.writable.getWriter();
    await wa.write(new Uint8Array([1]));
    await wa.close();
    assert.deepEqual(await readAll(a.readable), new Uint8Array([1]));
    const c = await within(5000, opening, 'third stream');
    assert.equal(c.id, 8);
    assert.equal(c.bidirectional, true);
    assert.equal(b.id, 4);

    const u = await conn.openStream({ bidirectional: false });
    assert.equal(u.bidirectional, false);
    assert.equal(u.id, 2);
    // A send-only stream has nothing to read.
    assert.deepEqual(await readAll(u.readable), new Uint8Array(0));
    const uw = u.writable.getWriter();
    await uw.write(new TextEncoder().encode('one way'));
    await uw.close();
    await within(
      5000,
      (async () => {
        while (uni.length === 0) await new Promise((r) => setTimeout(r, 10));
      })(),
    );
    assert.equal(new TextDecoder().decode(await within(5000, uni[0]!, 'uni data')), 'one way');
    await within(5000, u.closed, 'uni closed');
  } finally {
    await client.close();
    await server.close();
  }
});

test('explicit probePath() then switchPath(); migration errors are typed', { timeout: 15_000 }, async () => {
  const server = await startServer();
  const client = await startClient();
  const peerP = serveEcho(server);
  try {
    const conn = await client.connect(server.address, { alpn: 'test', ...clientTls });
    const data = payload(20_000, 9);
    assert.deepEqual(await echo(conn, data), data);
    const peer = await peerP;
    // Servers do not initiate migration (RFC 9000 §9): the core refuses with ERR_QUIC_MIGRATION.
    await assert.rejects(peer.probePath(peer.localAddress), (e: unknown) => {
      assert.ok(e instanceof QuicMigrationError);
      assert.equal(e.code, 'ERR_QUIC_MIGRATION');
      return true;
    });
    const newLocal = await client.addSocket('127.0.0.1:0');
    const validated = nextEvent<{ pathId: number; path: Path; rtt: number }>(conn, 'pathvalidated');
    const r = await within(5000, conn.probePath(newLocal), 'probe');
    assert.ok(r.rtt >= 0);
    const ev = await validated;
    assert.equal(ev.detail.pathId, r.pathId);
    assert.deepEqual(ev.detail.path.local, newLocal);
    // Probing does not move the connection.
    assert.deepEqual(conn.localAddress, client.addresses[0]);
    assert.deepEqual(await echo(conn, data), data);
    const migrated = nextEvent<{ pathId: number; from: Path; to: Path; preferredAddress: boolean }>(
      conn,
      'migrated',
    );
    conn.switchPath(r.pathId);
    const m = await within(5000, migrated, 'migrated');
    assert.equal(m.detail.preferredAddress, false);
    assert.deepEqual(m.detail.to.local, newLocal);
    assert.deepEqual(conn.localAddress, newLocal);
    assert.deepEqual(await echo(conn, data), data);
    assert.throws(() => conn.switchPath(999), { code: 'ERR_QUIC_UNKNOWN_PATH' });
  } finally {
    await client.close();
    await server.close();
  }
});

test('diagnostics_channel publishes connection events', { timeout: 10_000 }, async () => {
  assert.ok(diagnosticsChannels.includes('feather-quic:connection:handshake'));
  const seen: string[] = [];
  const onHandshake = (m: unknown): void => {
    seen.push(`handshake:${(m as { alpn: string }).alpn}`);
  };
  const onClosed = (m: unknown): void => {
    seen.push(`closed:${(m as { info: { source: string } }).info.source}`);
  };
  diagnostics.subscribe('feather-quic:connection:handshake', onHandshake);
  diagnostics.subscribe('feather-quic:connection:closed', onClosed);
  const server = await startServer();
  const client = await startClient();
  try {
    const conn = await client.connect(server.address, { alpn: 'test', ...clientTls });
    await conn.close();
    await client.close();
    await server.close();
    assert.ok(seen.includes('handshake:test'), seen.join());
    assert.ok(seen.includes('closed:local'), seen.join());
  } finally {
    diagnostics.unsubscribe('feather-quic:connection:handshake', onHandshake);
    diagnostics.unsubscribe('feather-quic:connection:closed', onClosed);
  }
});

test('send errors are counted, not thrown', { timeout: 15_000 }, async () => {
  const server = await startServer();
  const client = await startClient();
  serveEcho(server);
  try {
    const conn = await client.connect(server.address, { alpn: 'test', ...clientTls });
    const data = payload(1000, 1);
    assert.deepEqual(await echo(conn, data), data);
    // An IPv6 peer address on our IPv4 socket: every send of the probe fails in the OS.
    const probe = conn.probePath(conn.localAddress, { remote: '[::1]:4433' });
    const err = await within(
      10_000,
      probe.then(
        () => undefined,
        (e: unknown) => e,
      ),
      'probe',
    );
    assert.equal((err as { code?: string }).code, 'ERR_QUIC_PATH_VALIDATION_FAILED');
    assert.ok(client.stats.sendErrors > 0, `sendErrors ${client.stats.sendErrors}`);
    assert.deepEqual(await echo(conn, data), data);
  } finally {
    await client.close();
    await server.close();
  }
});
