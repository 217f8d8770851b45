import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  isQuicError,
  QuicAbortError,
  QuicApplicationError,
  type QuicConnection,
  QuicError,
  QuicHandshakeFailedError,
  QuicIdleTimeoutError,
} from '../../src/node/index.js';
import {
  blackHole,
  clientTls,
  echo,
  nextEvent,
  payload,
  serveEcho,
  startClient,
  startServer,
  UNRELATED_CA,
  within,
} from './support.js';

test('close with an application code is a typed error at the peer', { timeout: 10_000 }, async () => {
  const server = await startServer();
  const client = await startClient();
  try {
    const accepted = server.accept();
    const conn = await client.connect(server.address, { alpn: 'test', ...clientTls });
    const peer = (await within(5000, accepted, 'accept'))!;
    await peer.close(42, 'bye now');
    // We closed: our `closed` resolves with what we sent.
    const info = await peer.closed;
    assert.equal(info.source, 'local');
    assert.equal(info.code, 42);
    const err = await within(
      5000,
      conn.closed.then(
        () => undefined,
        (e: unknown) => e,
      ),
      'closed',
    );
    assert.ok(err instanceof QuicApplicationError);
    assert.ok(err instanceof QuicError);
    assert.ok(isQuicError(err));
    assert.equal(err.code, 'ERR_QUIC_APPLICATION_ERROR');
    assert.equal(err.errorCode, 42);
    assert.equal(err.reason, 'bye now');
    assert.equal(err.remote, true);
    // Commands on the closed connection fail with the same typed error.
    await assert.rejects(conn.openStream(), { code: 'ERR_QUIC_APPLICATION_ERROR', errorCode: 42 });
    assert.throws(() => conn.sendDatagram(new Uint8Array(1)), { code: 'ERR_QUIC_APPLICATION_ERROR' });
  } finally {
    await client.close();
    await server.close();
  }
});

test('a clean close by the peer resolves closed', { timeout: 10_000 }, async () => {
  const server = await startServer();
  const client = await startClient();
  try {
    const accepted = server.accept();
    const conn = await client.connect(server.address, { alpn: 'test', ...clientTls });
    await (await accepted)!.close();
    const info = await within(5000, conn.closed, 'closed');
    assert.equal(info.source, 'remote');
    assert.equal(info.code, 0);
    await assert.rejects(conn.openStream(), { code: 'ERR_QUIC_CONNECTION_CLOSED' });
    // The endpoint forgets the connection once it is drained.
    await within(
      5000,
      (async () => {
        while (client.connections.length > 0) await new Promise((r) => setTimeout(r, 20));
      })(),
    );
  } finally {
    await client.close();
    await server.close();
  }
});

test('idle timeout rejects closed with ERR_QUIC_IDLE_TIMEOUT', { timeout: 10_000 }, async () => {
  const server = await startServer({ idleTimeout: 400 });
  const client = await startClient({ idleTimeout: 300 });
  try {
    const conn = await client.connect(server.address, { alpn: 'test', ...clientTls });
    const t0 = performance.now();
    const err = await within(
      5000,
      conn.closed.then(
        () => undefined,
        (e: unknown) => e,
      ),
      'idle close',
    );
    const elapsed = performance.now() - t0;
    assert.ok(err instanceof QuicIdleTimeoutError);
    assert.equal((err as QuicError).code, 'ERR_QUIC_IDLE_TIMEOUT');
    assert.equal(conn.closeInfo?.source, 'idle');
    // RFC 9000 §10.1: the smaller idle timeout (300 ms) applies.
    assert.ok(elapsed >= 250 && elapsed < 2000, `closed after ${elapsed} ms`);
  } finally {
    await client.close();
    await server.close();
  }
});

test('an AbortSignal aborts connect()', { timeout: 10_000 }, async () => {
  const hole = await blackHole();
  const client = await startClient();
  try {
    const t0 = performance.now();
    const err = await client
      .connect(hole.address, { alpn: 'test', ...clientTls, signal: AbortSignal.timeout(200) })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof QuicAbortError);
    assert.equal((err as QuicError).code, 'ERR_QUIC_ABORTED');
    assert.equal(((err as QuicError).cause as Error).name, 'TimeoutError');
    assert.ok(performance.now() - t0 < 1500);
    // An already aborted signal fails at once.
    const ac = new AbortController();
    ac.abort('stop');
    await assert.rejects(client.connect(hole.address, { alpn: 'test', ...clientTls, signal: ac.signal }), {
      code: 'ERR_QUIC_ABORTED',
      cause: 'stop',
    });
  } finally {
    await client.close({ timeout: 100 });
    hole.close();
  }
});

test('an untrusted certificate fails the handshake with ERR_QUIC_HANDSHAKE_FAILED', {
  timeout: 10_000,
}, async () => {
  const server = await startServer();
  const client = await startClient();
  try {
    // Trust an unrelated CA only: certificate verification fails (alert from the client).
    const err = await client
      .connect(server.address, { alpn: 'test', ca: UNRELATED_CA, serverName: 'localhost' })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof QuicHandshakeFailedError, String(err));
    assert.equal((err as QuicHandshakeFailedError).code, 'ERR_QUIC_HANDSHAKE_FAILED');
    assert.ok((err as QuicHandshakeFailedError).alert > 0);
  } finally {
    await client.close();
    await server.close();
  }
});

test('key update initiated by both sides', { timeout: 15_000 }, async () => {
  const server = await startServer();
  const client = await startClient();
  const accepted = serveEcho(server);
  try {
    const conn = await client.connect(server.address, { alpn: 'test', ...clientTls });
    const peer = await within(5000, accepted, 'accept');
    const data = payload(200_000, 5);
    // Wait until the handshake is confirmed and 1-RTT traffic was acknowledged.
    assert.deepEqual(await echo(conn, data), data);
    const serverSaw = nextEvent<{ phase: number; initiator: string }>(peer, 'keyupdate');
    const clientSaw = nextEvent<{ phase: number; initiator: string }>(conn, 'keyupdate');
    assert.equal(conn.updateKey(), true);
    const mine = await within(2000, clientSaw, 'local keyupdate');
    assert.equal(mine.detail.initiator, 'local');
    assert.equal(mine.detail.phase, 1);
    assert.deepEqual(await echo(conn, data), data);
    const theirs = await within(5000, serverSaw, 'remote keyupdate');
    assert.equal(theirs.detail.initiator, 'remote');
    assert.equal(theirs.detail.phase, 1);

    // Now the server updates (phase 2); the client follows.
    const clientSaw2 = nextEvent<{ phase: number; initiator: string }>(conn, 'keyupdate');
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = peer.updateKey();
      if (!ok) assert.deepEqual(await echo(conn, data), data);
    }
    assert.equal(ok, true);
    assert.deepEqual(await echo(conn, data), data);
    const second = await within(5000, clientSaw2, 'second keyupdate');
    assert.equal(second.detail.initiator, 'remote');
    assert.equal(second.detail.phase, 2);
    assert.ok(conn.stats().keyUpdates >= 1);
    assert.deepEqual(await echo(conn, data), data);
  } finally {
    await client.close();
    await server.close();
  }
});

test('resumption and 0-RTT with the session ticket of the first connection', {
  timeout: 15_000,
}, async () => {
  const server = await startServer();
  const client = await startClient();
  serveEcho(server);
  try {
    const first = await client.connect(server.address, { alpn: 'test', ...clientTls });
    assert.equal(first.resumed, false);
    const ticketEvent = first.sessionTicket
      ? undefined
      : await within(5000, nextEvent<{ ticket: Uint8Array }>(first, 'sessionticket'), 'session ticket');
    const ticket = first.sessionTicket!;
    assert.ok(ticket.length > 0);
    if (ticketEvent) assert.deepEqual(ticketEvent.detail.ticket, ticket);
    await first.close();

    const conn: QuicConnection = await client.connectEarly(server.address, {
      alpn: 'test',
      ...clientTls,
      session: ticket,
      earlyData: true,
      ...(first.newToken ? { token: first.newToken } : {}),
    });
    assert.equal(conn.handshakeComplete, false);
    const early = nextEvent<{ accepted: boolean }>(conn, 'earlydata');
    // Opened and written before the handshake completes: 0-RTT.
    const s = await conn.openStream();
    const w = s.writable.getWriter();
    const msg = new TextEncoder().encode('hello in 0-RTT');
    await w.write(msg);
    await w.close();
    assert.equal(conn.handshakeComplete, false);
    const info = await within(5000, conn.opened, 'handshake');
    assert.equal(info.resumed, true);
    assert.equal(conn.resumed, true);
    assert.equal((await within(5000, early, 'early-data event')).detail.accepted, true);
    assert.equal(conn.earlyDataAccepted, true);
    const reader = s.readable.getReader();
    const got: number[] = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) got.push(...r.value);
    assert.deepEqual(new Uint8Array(got), msg);
  } finally {
    await client.close();
    await server.close();
  }
});
