// Retry, resumption, 0-RTT (accepted and rejected), key updates and version negotiation (issue 3).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Connection } from '../../src/connection/connection.js';
import { QUIC_V1, QUIC_V2 } from '../../src/wire/versions.js';
import { Events, Payload, QuicSim, StreamReader } from '../sim/quic.js';
import { serveDownloads, startDownload } from '../sim/transfer.js';

/** Echo server: reads each client stream to its end and writes the same bytes back. */
function serveEcho(q: QuicSim): void {
  const bufs = new Map<string, Uint8Array[]>();
  const events = new Map<Connection, Events>();
  q.onServerActivity = () => {
    for (const [ci, conn] of q.accepted.entries()) {
      let ev = events.get(conn);
      if (!ev) events.set(conn, (ev = new Events(conn)));
      for (const e of ev.drain()) {
        if (e.type !== 'stream-readable') continue;
        const key = `${ci}:${e.id}`;
        const parts = bufs.get(key) ?? [];
        bufs.set(key, parts);
        for (let r = conn.readStream(e.id); r; r = conn.readStream(e.id)) {
          parts.push(new Uint8Array(r.data));
          if (r.fin) {
            const all = Buffer.concat(parts);
            conn.writeStream(e.id, all, true);
          }
        }
      }
    }
  };
}

function echo(q: QuicSim, conn: Connection, text: string): () => string | undefined {
  const id = conn.openStream(true)!;
  conn.writeStream(id, new TextEncoder().encode(text), true);
  const chunks: Uint8Array[] = [];
  let done = false;
  const prev = q.onClientActivity;
  q.onClientActivity = (now) => {
    prev?.(now);
    for (let r = conn.readStream(id); r; r = conn.readStream(id)) {
      chunks.push(new Uint8Array(r.data));
      if (r.fin) done = true;
    }
  };
  return () => (done ? Buffer.concat(chunks).toString() : undefined);
}

test('Retry: the server validates the address first and the handshake completes', () => {
  const q = new QuicSim({ seed: 61, link: { delay: 10_000 }, server: { retry: 'always' } });
  serveEcho(q);
  const { client, server } = q.handshake();
  assert.equal(q.server.endpoint.stats.retrySent, 1);
  assert.ok(server.peerParameters, 'transport parameters authenticated (retry_source_connection_id checked)');
  assert.ok(client.peerParameters?.retrySourceConnectionId, 'server sent retry_source_connection_id');
  const got = echo(q, client, 'after retry');
  q.runUntil(() => got() !== undefined);
  assert.equal(got(), 'after retry');
});

test('a Retry token from another connection attempt is refused', () => {
  const q = new QuicSim({ seed: 62, link: { delay: 10_000 }, server: { retry: 'always' } });
  const { client } = q.handshake();
  assert.equal(client.state, 'established');
  assert.equal(q.server.endpoint.stats.refused, 0);
});

function resumptionTicket(q: QuicSim): Uint8Array {
  const first = q.connect();
  const ev = new Events(first);
  q.runUntil(() => ev.has('session-ticket'));
  const ticket = ev.of('session-ticket')[0]!.ticket;
  first.close(q.now, 0, 'done');
  q.clientHost.wake();
  q.runUntil(() => first.isClosed);
  return ticket;
}

test('resumption: the second connection resumes with the first one’s ticket', () => {
  const q = new QuicSim({ seed: 63, link: { delay: 10_000 } });
  const ticket = resumptionTicket(q);
  const { client, server } = q.handshake({ session: ticket });
  assert.equal(client.tls.resumed, true);
  assert.equal(server.tls.resumed, true);
});

test('0-RTT accepted: request data sent before the handshake completes is answered', () => {
  const q = new QuicSim({ seed: 64, link: { delay: 25_000 } });
  serveEcho(q);
  const ticket = resumptionTicket(q);
  const client = q.connect({ session: ticket, earlyData: true });
  const got = echo(q, client, 'early hello');
  const ev = new Events(client);
  q.runUntil(() => got() !== undefined);
  assert.equal(got(), 'early hello');
  assert.deepEqual(
    ev.of('early-data').map((e) => e.accepted),
    [true],
  );
  const server = q.accepted.at(-1)!;
  assert.ok(server.tls.earlyDataAccepted);
  assert.ok(server.stats().zeroRttReceived > 0, 'request arrived in 0-RTT packets');
  // The request reached the server in 0-RTT packets: the answer came within ~1 RTT of starting.
  assert.ok(q.server.endpoint.stats.accepted >= 2);
});

test('0-RTT that overtakes its Initial is buffered by the server and accepted (RFC 9000 §5.2.2)', () => {
  const q = new QuicSim({ seed: 69, link: { delay: 25_000 } });
  serveEcho(q);
  const ticket = resumptionTicket(q);
  // The client's first datagram (its Initial) takes 20 ms longer than the 0-RTT ones behind it.
  const up = q.sim.link(q.clientAddress.address, q.serverAddress.address)!;
  up.update({ reorder: { probability: 1, extraDelay: 20_000 } });
  const stop = up.tap(() => up.update({ reorder: undefined }));
  const client = q.connect({ session: ticket, earlyData: true });
  const request = 'x'.repeat(4000);
  const got = echo(q, client, request);
  const ev = new Events(client);
  const t0 = q.now;
  q.runUntil(() => got() !== undefined);
  stop();
  assert.equal(got(), request);
  assert.deepEqual(
    ev.of('early-data').map((e) => e.accepted),
    [true],
  );
  const stats = q.server.endpoint.stats;
  assert.ok(stats.zeroRttBuffered >= 2, `0-RTT datagrams buffered: ${stats.zeroRttBuffered}`);
  assert.equal(stats.zeroRttReplayed, stats.zeroRttBuffered, 'all of them delivered after the Initial');
  const server = q.accepted.at(-1)!;
  assert.ok(server.stats().zeroRttReceived >= 2, 'the buffered 0-RTT packets were decrypted');
  assert.equal(client.stats().packetsLost, 0, 'nothing had to be resent');
  // One round trip plus the Initial's extra delay: no retransmission round.
  assert.ok(q.now - t0 < 2 * 50_000 + 20_000 + 10_000, `answered after ${(q.now - t0) / 1000} ms`);
});

test('the 0-RTT buffer is bounded: a flood of 0-RTT packets for unknown CIDs keeps at most 64 CIDs', () => {
  const q = new QuicSim({ seed: 70, link: { delay: 1_000 } });
  const ep = q.server.endpoint;
  const path = { local: q.serverAddress, remote: q.clientAddress };
  // Hand-built 0-RTT long headers (v1 type 0x1): DCID 8 octets, SCID 0, length 20, junk payload.
  for (let i = 0; i < 1000; i++) {
    const d = new Uint8Array(1 + 4 + 1 + 8 + 1 + 1 + 20);
    d[0] = 0xd0;
    d.set([0, 0, 0, 1], 1);
    d[5] = 8;
    new DataView(d.buffer).setUint32(6, i);
    d[14] = 0;
    d[15] = 20;
    ep.handleDatagram(q.now, path, d);
  }
  assert.equal(ep.stats.zeroRttBuffered, 64);
  assert.equal(ep.connections.size, 0);
  // After the time-to-live the buffer takes new ones again (expired ones were dropped).
  ep.handleDatagram(
    q.now + 300_000,
    path,
    (() => {
      const d = new Uint8Array(36);
      d.set([0xd0, 0, 0, 0, 1, 8, 9, 9, 9, 9, 9, 9, 9, 9, 0, 20]);
      return d;
    })(),
  );
  assert.equal(ep.stats.zeroRttBuffered, 65);
});

test('0-RTT rejected (replayed ticket): the data is resent in 1-RTT and answered', () => {
  const q = new QuicSim({ seed: 65, link: { delay: 25_000 } });
  serveEcho(q);
  const ticket = resumptionTicket(q);
  const c1 = q.connect({ session: ticket, earlyData: true });
  const got1 = echo(q, c1, 'first use');
  q.runUntil(() => got1() !== undefined);
  // Same ticket again: anti-replay rejects the early data (RFC 8446 §8, RFC 9001 §4.6.2).
  const c2 = q.connect({ session: ticket, earlyData: true });
  const ev2 = new Events(c2);
  const got2 = echo(q, c2, 'second use');
  q.runUntil(() => got2() !== undefined);
  assert.equal(got2(), 'second use');
  assert.deepEqual(
    ev2.of('early-data').map((e) => e.accepted),
    [false],
  );
  assert.ok(c2.stats().zeroRttSent > 0);
  assert.equal(q.accepted.at(-1)!.stats().zeroRttReceived, 0);
});

test('0-RTT rejected when the server’s limits shrank (RFC 9000 §7.4.1)', () => {
  const ticketKey = new Uint8Array(32).fill(7);
  const q1 = new QuicSim({ seed: 66, link: { delay: 25_000 }, serverEndpoint: { ticketKey } });
  const ticket = resumptionTicket(q1);
  // The same service later, with a smaller stream window: remembered parameters no longer hold.
  const q2 = new QuicSim({
    seed: 67,
    startTime: q1.now + 1_000_000,
    link: { delay: 25_000 },
    serverEndpoint: { ticketKey },
    serverTransport: { initialMaxStreamDataBidiRemote: 64 * 1024 },
  });
  serveEcho(q2);
  const c = q2.connect({ session: ticket, earlyData: true });
  const ev = new Events(c);
  const got = echo(q2, c, 'smaller limits');
  q2.runUntil(() => got() !== undefined);
  assert.equal(got(), 'smaller limits');
  assert.deepEqual(
    ev.of('early-data').map((e) => e.accepted),
    [false],
  );
  assert.ok(c.stats().zeroRttSent > 0, 'the client did send 0-RTT packets');
  assert.equal(q2.accepted[0]!.stats().zeroRttReceived, 0, 'the server decrypted none of them');
});

test('key updates: each side initiates, several times, during a transfer', () => {
  const q = new QuicSim({ seed: 68, link: { delay: 10_000, rateBps: 50e6, queueBytes: 200_000 } });
  const payload = new Payload(8_000_000, 68);
  serveDownloads(q, payload);
  const { client, server } = q.handshake();
  const d = startDownload(q, client, payload);
  const clientEv = new Events(client);
  const serverUpdates: number[] = [];
  let step = 0;
  q.runUntil(() => {
    // Alternate initiators every 50 ms once the previous update was acknowledged.
    if (q.now > 100_000 + step * 50_000 && step < 6) {
      const ok = step % 2 === 0 ? client.initiateKeyUpdate(q.now) : server.initiateKeyUpdate(q.now);
      if (ok) {
        step++;
        serverUpdates.push(server.stats().keyUpdates);
      }
    }
    return d.result() !== undefined;
  }, 60_000_000);
  const r = d.result()!;
  assert.equal(r.received, r.expected);
  assert.ok(step >= 4, `updates initiated: ${step}`);
  assert.ok(client.stats().keyUpdates >= 4 && server.stats().keyUpdates >= 4);
  const initiators = new Set(clientEv.of('key-update').map((e) => e.initiator));
  assert.deepEqual([...initiators].sort(), ['local', 'remote']);
});

test('version negotiation: a v2-only server makes a v1 client retry in v2', () => {
  const q = new QuicSim({
    seed: 69,
    link: { delay: 10_000 },
    serverEndpoint: { supportedVersions: [QUIC_V2] },
  });
  serveEcho(q);
  const { client, server } = q.handshake({ version: QUIC_V1 });
  assert.equal(client.version, QUIC_V2);
  assert.equal(server.version, QUIC_V2);
  assert.equal(q.server.endpoint.stats.versionNegotiationSent, 1);
  const got = echo(q, client, 'v2');
  q.runUntil(() => got() !== undefined);
  assert.equal(got(), 'v2');
});

test('QUIC v2 end to end', () => {
  const q = new QuicSim({ seed: 70, link: { delay: 10_000 } });
  serveEcho(q);
  const { client } = q.handshake({ version: QUIC_V2 });
  assert.equal(client.version, QUIC_V2);
  const got = echo(q, client, 'hello v2');
  q.runUntil(() => got() !== undefined);
  assert.equal(got(), 'hello v2');
  void StreamReader;
});

test('compatible version negotiation: a v1 ClientHello becomes a v2 connection (RFC 9368 §2.3)', () => {
  const q = new QuicSim({ seed: 71, link: { delay: 10_000 }, serverEndpoint: { preferredVersion: QUIC_V2 } });
  serveEcho(q);
  const { client, server } = q.handshake({ version: QUIC_V1 });
  assert.equal(server.version, QUIC_V2);
  assert.equal(client.version, QUIC_V2);
  assert.equal(q.server.endpoint.stats.versionNegotiationSent, 0, 'no Version Negotiation round trip');
  const got = echo(q, client, 'upgraded');
  q.runUntil(() => got() !== undefined);
  assert.equal(got(), 'upgraded');
});

test('NEW_TOKEN: a token from the first connection skips Retry on the next one (RFC 9000 §8.1.3)', () => {
  const q = new QuicSim({ seed: 72, link: { delay: 10_000 }, server: { retry: 'always' } });
  const { client } = q.handshake();
  const ev = new Events(client);
  q.runUntil(() => ev.has('new-token'));
  const token = ev.of('new-token')[0]!.token;
  assert.equal(q.server.endpoint.stats.retrySent, 1);
  const { client: second } = q.handshake({ token });
  assert.equal(second.state, 'established');
  assert.equal(q.server.endpoint.stats.retrySent, 1, 'no second Retry');
});
