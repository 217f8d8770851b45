// Connection termination (RFC 9000 §10): idle timeout, immediate close in every state, closing
// and draining periods, stateless reset, refusal.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TransportErrorCode } from '../../src/common/errors.js';
import { Endpoint } from '../../src/endpoint/endpoint.js';
import { QuicSim, SIM_EPOCH_MS, TEST_CHAIN, TEST_KEY } from '../sim/quic.js';

function countSends(q: QuicSim, fromPort: number): () => number {
  let n = 0;
  q.sim.onDatagram((ev) => {
    if (ev.kind === 'send' && ev.src.port === fromPort) n++;
  });
  return () => n;
}

test('idle timeout: both sides close silently after the smaller advertised timeout (§10.1)', () => {
  const q = new QuicSim({
    seed: 101,
    link: { delay: 10_000 },
    clientTransport: { maxIdleTimeout: 5_000_000 },
  });
  const { client, server } = q.handshake();
  q.runUntil(() => client.handshakeConfirmed);
  let lastSend = q.now;
  q.sim.onDatagram((ev) => {
    if (ev.kind === 'send') lastSend = ev.time;
  });
  q.runUntil(() => client.isClosed && server.isClosed, 60_000_000);
  assert.equal(client.closeInfo!.source, 'idle');
  assert.equal(server.closeInfo!.source, 'idle');
  // Closed once 5 s passed without traffic, and the close itself sent nothing.
  const quiet = q.now - lastSend;
  assert.ok(quiet >= 4_900_000 && quiet <= 5_500_000, `closed ${quiet} µs after the last datagram`);
});

test('keep-alive PINGs prevent the idle timeout', () => {
  const q = new QuicSim({
    seed: 102,
    link: { delay: 10_000 },
    clientTransport: { maxIdleTimeout: 2_000_000, keepAliveInterval: 500_000 },
  });
  const { client, server } = q.handshake();
  q.runFor(10_000_000);
  assert.equal(client.state, 'established');
  assert.equal(server.state, 'established');
});

test('application close: the peer drains, both reach closed after the closing period (§10.2)', () => {
  const q = new QuicSim({ seed: 103, link: { delay: 10_000 } });
  const { client, server } = q.handshake();
  q.runUntil(() => client.handshakeConfirmed);
  client.close(q.now, 42, 'bye');
  assert.equal(client.state, 'closing');
  q.runUntil(() => server.closeInfo !== undefined);
  assert.deepEqual(server.closeInfo, {
    source: 'remote',
    application: true,
    code: 42,
    frameType: 0,
    reason: 'bye',
  });
  assert.equal(server.state, 'draining');
  // Draining: the server sends nothing more.
  const serverSends = countSends(q, q.serverAddress.port);
  q.runUntil(() => client.isClosed && server.isClosed, 10_000_000);
  assert.equal(serverSends(), 0);
  assert.equal(client.closeInfo!.source, 'local');
});

test('closing state: a lost CONNECTION_CLOSE is repeated when the peer keeps sending (§10.2.1)', () => {
  const q = new QuicSim({ seed: 104, link: { delay: 10_000 } });
  const { client, server } = q.handshake();
  q.runUntil(() => client.handshakeConfirmed);
  // The server has data in flight; the client's first CONNECTION_CLOSE is lost.
  const id = server.openStream(true)!;
  server.writeStream(id, new Uint8Array(100_000), true);
  q.serverHost.wake();
  q.runFor(5_000);
  const up = q.sim.link(q.clientAddress.address, q.serverAddress.address);
  up.update({ blackhole: true });
  client.close(q.now, 7, 'lost');
  q.clientHost.wake();
  q.runFor(1_000);
  up.update({ blackhole: false });
  q.runUntil(() => server.closeInfo !== undefined, 10_000_000);
  assert.equal(server.closeInfo!.source, 'remote');
  assert.equal(server.closeInfo!.code, 7);
});

test('close during the handshake: the application code becomes APPLICATION_ERROR in Initial/Handshake (§10.2.3)', () => {
  const q = new QuicSim({ seed: 105, link: { delay: 10_000 } });
  const client = q.connect();
  q.runUntil(() => q.accepted.length === 1);
  client.close(q.now, 99, 'secret reason');
  q.clientHost.wake();
  const server = q.accepted[0]!;
  q.runUntil(() => server.closeInfo !== undefined);
  assert.equal(server.closeInfo!.application, false);
  assert.equal(server.closeInfo!.code, TransportErrorCode.APPLICATION_ERROR);
  assert.equal(server.closeInfo!.reason, '', 'the reason is not sent before the handshake is confirmed');
});

test('both sides close at the same time', () => {
  const q = new QuicSim({ seed: 106, link: { delay: 10_000 } });
  const { client, server } = q.handshake();
  q.runUntil(() => client.handshakeConfirmed);
  client.close(q.now, 1, 'c');
  server.close(q.now, 2, 's');
  q.clientHost.wake();
  q.serverHost.wake();
  q.runUntil(() => client.isClosed && server.isClosed, 10_000_000);
  assert.equal(client.closeInfo!.code, 1);
  assert.equal(server.closeInfo!.code, 2);
});

test('stateless reset: a server that lost its state resets the connection (§10.3)', () => {
  const key = new Uint8Array(32).fill(3);
  const q = new QuicSim({ seed: 107, link: { delay: 10_000 }, serverEndpoint: { statelessResetKey: key } });
  const { client } = q.handshake();
  q.runUntil(() => client.handshakeConfirmed);
  // The server restarts with the same reset key but no connections.
  q.server.endpoint = new Endpoint({
    random: q.sim.forkRandom(),
    wallClock: () => SIM_EPOCH_MS,
    statelessResetKey: key,
    server: { tls: { certificateChain: TEST_CHAIN, privateKey: TEST_KEY, alpnProtocols: ['test'] } },
  });
  client.ping();
  q.clientHost.wake();
  q.runUntil(() => client.closeInfo !== undefined, 10_000_000);
  assert.equal(client.closeInfo!.source, 'stateless-reset');
  assert.ok(q.server.endpoint.stats.statelessResetSent >= 1);
  q.runUntil(() => client.isClosed, 10_000_000);
});

test('stateless resets are never sent in reply to datagrams too small to be smaller than (§10.3.3)', () => {
  const q = new QuicSim({ seed: 108, link: { delay: 10_000 } });
  const ep = q.server.endpoint;
  const path = { local: q.serverAddress, remote: q.clientAddress };
  ep.handleDatagram(q.now, path, new Uint8Array(21).fill(0x41), 0);
  assert.equal(ep.pollTransmit(q.now), undefined, 'no reset for a 21-octet trigger');
  ep.handleDatagram(q.now, path, new Uint8Array(50).fill(0x41), 0);
  const t = ep.pollTransmit(q.now);
  assert.ok(t && t.data.length < 50 && t.data.length >= 21, 'reset smaller than its trigger');
  assert.equal(t.data[0]! & 0xc0, 0x40, 'looks like a short header');
});

test('connections beyond the limit are refused with CONNECTION_REFUSED', () => {
  const q = new QuicSim({ seed: 109, link: { delay: 10_000 }, server: { maxConnections: 1 } });
  const { client: first } = q.handshake();
  const second = q.connect();
  q.runUntil(() => second.closeInfo !== undefined);
  assert.equal(second.closeInfo!.code, TransportErrorCode.CONNECTION_REFUSED);
  assert.equal(first.state, 'established');
});
