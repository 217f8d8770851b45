// Recovery machinery on the simulator: ECN, DPLPMTUD, pacing, datagrams, stream resets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Events, Payload, QuicSim } from '../sim/quic.js';
import { serveDownloads, startDownload } from '../sim/transfer.js';

test('DPLPMTUD raises the datagram size up to the link MTU and no further', () => {
  const q = new QuicSim({
    seed: 121,
    link: { delay: 10_000, mtu: 1350 },
    serverTransport: { maxUdpPayloadSize: 1500 },
    clientTransport: { maxUdpPayloadSize: 1500 },
  });
  const payload = new Payload(2_000_000);
  serveDownloads(q, payload);
  const { client, server } = q.handshake();
  const d = startDownload(q, client, payload);
  q.runUntil(() => d.result() !== undefined);
  assert.equal(d.result()!.received, d.result()!.expected);
  const mtu = server.stats().mtu;
  assert.ok(mtu > 1300 && mtu <= 1350, `server PMTU ${mtu}`);
});

test('PMTU black hole: the path MTU shrinks mid-transfer and the sender falls back to 1200', () => {
  const q = new QuicSim({ seed: 122, link: { delay: 10_000, rateBps: 20e6, queueBytes: 100_000 } });
  const payload = new Payload(3_000_000);
  serveDownloads(q, payload);
  const { client, server } = q.handshake();
  const d = startDownload(q, client, payload);
  q.runUntil(() => server.stats().mtu > 1200 && server.stats().bytesSent > 300_000);
  // A route change: datagrams above 1280 octets now vanish.
  q.sim.link(q.serverAddress.address, q.clientAddress.address).update({ mtu: 1280 });
  q.runUntil(() => d.result() !== undefined, 120_000_000);
  assert.equal(d.result()!.received, d.result()!.expected);
  assert.ok(server.stats().mtu <= 1280, `fell back to ${server.stats().mtu}`);
});

test('ECN: CE marks on a congested queue make the sender back off without losses', () => {
  const q = new QuicSim({
    seed: 123,
    link: { delay: 10_000, rateBps: 20e6, queueBytes: 400_000, ecnCeOnQueue: 40_000 },
  });
  const payload = new Payload(3_000_000);
  serveDownloads(q, payload);
  const { client, server } = q.handshake();
  const d = startDownload(q, client, payload);
  q.runUntil(() => d.result() !== undefined);
  assert.equal(d.result()!.received, d.result()!.expected);
  const s = server.stats();
  assert.ok(s.congestionEvents > 0, 'CE counts reported in ACK frames triggered congestion responses');
  assert.equal(s.packetsLost, 0, 'queue never overflowed');
});

test('pacing spreads a window over the RTT instead of bursting it', () => {
  const q = new QuicSim({ seed: 124, link: { delay: 40_000, rateBps: 100e6, queueBytes: 1_000_000 } });
  const payload = new Payload(3_000_000);
  serveDownloads(q, payload);
  const { client } = q.handshake();
  const sendTimes: number[] = [];
  q.sim.onDatagram((ev) => {
    if (ev.kind === 'send' && ev.src.port === q.serverAddress.port && ev.size > 1000) sendTimes.push(ev.time);
  });
  const d = startDownload(q, client, payload);
  q.runUntil(() => d.result() !== undefined);
  // Count the largest number of full datagrams sent at the same instant.
  let burst = 1;
  let run = 1;
  for (let i = 1; i < sendTimes.length; i++) {
    run = sendTimes[i] === sendTimes[i - 1] ? run + 1 : 1;
    burst = Math.max(burst, run);
  }
  assert.ok(burst <= 12, `largest burst ${burst} datagrams`);
});

test('DATAGRAM frames (RFC 9221) are delivered unreliably but intact', () => {
  const q = new QuicSim({ seed: 125, link: { delay: 10_000, loss: 0.05 } });
  const { client, server } = q.handshake();
  assert.ok(client.maxDatagramSize > 1000);
  const sent = 200;
  for (let i = 0; i < sent; i++) client.sendDatagram(new TextEncoder().encode(`datagram ${i}`));
  q.clientHost.wake();
  const ev = new Events(server);
  q.runFor(2_000_000);
  const got = ev.of('datagram').map((e) => new TextDecoder().decode(e.data));
  assert.ok(got.length > sent * 0.85 && got.length <= sent, `received ${got.length}`);
  for (const g of got) assert.match(g, /^datagram \d+$/);
});

test('STOP_SENDING makes the sender reset the stream with the same code (RFC 9000 §3.5)', () => {
  const q = new QuicSim({ seed: 126, link: { delay: 10_000 } });
  const { client, server } = q.handshake();
  const id = client.openStream(true)!;
  client.writeStream(id, new Uint8Array(1000), false);
  q.clientHost.wake();
  const sev = new Events(server);
  q.runUntil(() => sev.has('stream-opened'));
  server.stopSending(id, 77);
  q.serverHost.wake();
  const cev = new Events(client);
  q.runUntil(() => cev.has('stream-stop-sending') && sev.has('stream-reset'));
  assert.equal(cev.of('stream-stop-sending')[0]!.errorCode, 77);
  assert.equal(sev.of('stream-reset')[0]!.errorCode, 77);
});
