// Connection migration on the simulator (issue 5): NAT rebinding under load, attackers,
// preferred address, client probes, and the §9.4 path-state policy.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { QlogSink } from '../../src/common/qlog.js';
import { Events, Payload, QuicSim } from '../sim/quic.js';
import { forEachSeed } from '../sim/seeds.js';
import { serveDownloads, startDownload } from '../sim/transfer.js';

const LINK = { delay: 10_000, rateBps: 40e6, queueBytes: 150_000 };

function rebindingDownload(seed: number, intervalUs: number, kind: 'port' | 'address'): void {
  const q = new QuicSim({ seed, link: LINK, natPublicIp: '192.0.2.1' });
  const payload = new Payload(5_000_000, seed);
  serveDownloads(q, payload);
  const { client, server } = q.handshake();
  q.runUntil(() => client.handshakeConfirmed);
  const d = startDownload(q, client, payload);
  const rebinder = q.nat!.rebindEvery(intervalUs, kind);
  q.runUntil(() => d.result() !== undefined, 300_000_000);
  rebinder.stop();
  const r = d.result()!;
  assert.equal(r.received, r.expected, 'byte-exact');
  const migrations = new Events(server).of('peer-migrated').length;
  assert.ok(migrations >= 3, `server followed the client ${migrations} times`);
  assert.equal(client.state, 'established');
}

for (const interval of [50_000, 100_000, 300_000]) {
  test(`5 MB download while the NAT rebinds the client port every ${interval / 1000} ms`, () => {
    forEachSeed([131, 132], (seed) => rebindingDownload(seed, interval, 'port'));
  });
}

test('5 MB download while the NAT changes the client address every 300 ms', () => {
  forEachSeed([133, 134], (seed) => rebindingDownload(seed, 300_000, 'address'));
});

test('an off-path attacker replaying packets from a spoofed address never captures the connection', () => {
  const q = new QuicSim({ seed: 135, link: LINK });
  const payload = new Payload(3_000_000);
  serveDownloads(q, payload);
  const { client, server } = q.handshake();
  const d = startDownload(q, client, payload);
  const attacker = q.sim.addAttacker('mallory');
  attacker.capture(q.sim.link(q.clientAddress.address, q.serverAddress.address));
  const spoofed = { address: '203.0.113.66', port: 6666 };
  // Replay every captured client datagram from the attacker's address, racing the original.
  let replayed = 0;
  q.sim.onDatagram((ev) => {
    if (ev.kind === 'send' && ev.src.address === q.clientAddress.address && replayed < 400) {
      replayed++;
      attacker.send(ev.data, spoofed, q.serverAddress, { delay: 1_000 });
    }
  });
  q.runUntil(() => d.result() !== undefined, 120_000_000);
  assert.equal(d.result()!.received, d.result()!.expected);
  assert.deepEqual(server.activePath.remote, q.clientAddress, 'still talking to the real client');
  assert.ok(server.paths().length <= server.config.maxPaths, 'path state stays bounded');
});

test('an on-path attacker rewriting source addresses causes at most a bounded detour', () => {
  const q = new QuicSim({ seed: 136, link: LINK });
  const payload = new Payload(3_000_000);
  serveDownloads(q, payload);
  const { client, server } = q.handshake();
  const d = startDownload(q, client, payload);
  q.runUntil(() => server.stats().bytesSent > 500_000);
  const up = q.sim.link(q.clientAddress.address, q.serverAddress.address);
  const mitm = q.sim.onPathAttacker(up);
  const fake = { address: '198.51.100.9', port: 9999 };
  mitm.rewriteSources(() => fake);
  const startedAt = q.now;
  q.runFor(200_000);
  mitm.stop();
  q.runUntil(() => d.result() !== undefined, 120_000_000);
  assert.equal(d.result()!.received, d.result()!.expected);
  assert.deepEqual(server.activePath.remote, q.clientAddress, 'back on the genuine path');
  const detour = new Events(server).of('peer-migrated');
  assert.ok(detour.length >= 1, 'the server followed the rewritten address');
  // Bounded: while unvalidated, the fake address got at most 3× what it sent (checked by the
  // amplification invariant), and the server was back within a few RTTs of the attack ending.
  const back = detour.filter((e) => e.to.remote.address === q.clientAddress.address);
  assert.ok(back.length >= 1);
  assert.ok(q.now - startedAt < 120_000_000);
});

test('preferred address: the client follows it, retires the handshake CID and stops using the old address', () => {
  const q = new QuicSim({
    seed: 137,
    link: LINK,
    extraServerIps: ['10.0.0.3'],
    server: { preferredAddress: { ipv4: { address: '10.0.0.3', port: 4433 } } },
  });
  const payload = new Payload(3_000_000);
  serveDownloads(q, payload);
  const { client, server } = q.handshake();
  const ev = new Events(client);
  q.runUntil(() => ev.has('migrated'));
  const m = ev.of('migrated')[0]!;
  assert.equal(m.preferredAddress, true);
  assert.deepEqual(m.to.remote, { address: '10.0.0.3', port: 4433 });
  const d = startDownload(q, client, payload);
  let oldAddressUsed = 0;
  q.sim.onDatagram((e) => {
    if (e.kind === 'send' && (e.dst.address === '10.0.0.2' || e.src.address === '10.0.0.2')) oldAddressUsed++;
  });
  q.runUntil(() => d.result() !== undefined, 120_000_000);
  assert.equal(d.result()!.received, d.result()!.expected);
  assert.deepEqual(server.activePath.local, { address: '10.0.0.3', port: 4433 });
  assert.equal(oldAddressUsed, 0, 'nothing more on the handshake address');
  assert.ok(
    (client.stats().cids as { remote: { retired: number } }).remote.retired >= 1,
    'handshake CID retired',
  );
});

test('preferred address on a lossy path: validation fails and the client stays on the original address', () => {
  const q = new QuicSim({
    seed: 138,
    link: LINK,
    extraServerIps: ['10.0.0.3'],
    server: { preferredAddress: { ipv4: { address: '10.0.0.3', port: 4433 } } },
  });
  // The preferred address is unreachable (all datagrams to it are lost).
  q.sim.link(q.clientAddress.address, '10.0.0.3').update({ loss: 1 });
  const payload = new Payload(2_000_000);
  serveDownloads(q, payload);
  const { client } = q.handshake();
  const ev = new Events(client);
  const d = startDownload(q, client, payload);
  q.runUntil(() => d.result() !== undefined && ev.has('path-failed'), 120_000_000);
  assert.equal(d.result()!.received, d.result()!.expected);
  assert.equal(ev.of('migrated').length, 0);
  assert.deepEqual(client.activePath.remote, q.serverAddress);
});

test('client probe to a black-holed path rejects within 3×PTO while the transfer continues', () => {
  const q = new QuicSim({ seed: 139, link: LINK });
  q.clientHost.addAddress('10.0.0.11');
  q.sim.connect('10.0.0.11', q.serverAddress.address, { ...LINK, blackhole: true }, LINK);
  const payload = new Payload(4_000_000);
  serveDownloads(q, payload);
  const { client } = q.handshake();
  q.runUntil(() => client.handshakeConfirmed);
  const d = startDownload(q, client, payload);
  q.runUntil(() => d.reader.received > 500_000);
  const ev = new Events(client);
  const start = q.now;
  const received0 = d.reader.received;
  const pto = 3 * (client.stats().rtt + Math.max(4 * 5_000, 1_000) + 25_000);
  const pathId = client.probePath(q.now, { address: '10.0.0.11', port: 50001 });
  q.runUntil(() => ev.has('path-failed'), 30_000_000);
  const failed = ev.of('path-failed')[0]!;
  assert.equal(failed.pathId, pathId);
  assert.equal(failed.reason, 'timeout');
  const took = q.now - start;
  // 3 × max(PTO of the current path, PTO of the new path with kInitialRtt) (RFC 9000 §8.2.4).
  assert.ok(took <= 3 * 1_100_000, `rejected after ${took} µs`);
  assert.ok(d.reader.received > received0, 'data kept flowing on the old path during the probe');
  void pto;
  q.runUntil(() => d.result() !== undefined, 120_000_000);
  assert.equal(d.result()!.received, d.result()!.expected);
});

test('client migrate(): probe, switch, retire the old CID; the server follows and the download stays byte-exact', () => {
  const q = new QuicSim({ seed: 140, link: LINK });
  q.clientHost.addAddress('10.0.0.12');
  const payload = new Payload(4_000_000);
  serveDownloads(q, payload);
  const { client, server } = q.handshake();
  q.runUntil(() => client.handshakeConfirmed);
  const d = startDownload(q, client, payload);
  q.runUntil(() => d.reader.received > 1_000_000);
  const ev = new Events(client);
  const newLocal = { address: '10.0.0.12', port: 50002 };
  client.probePath(q.now, newLocal, undefined, true);
  q.runUntil(() => ev.has('migrated'), 10_000_000);
  assert.deepEqual(client.activePath.local, newLocal);
  q.runUntil(() => d.result() !== undefined, 120_000_000);
  assert.equal(d.result()!.received, d.result()!.expected);
  assert.deepEqual(server.activePath.remote, newLocal, 'the server follows the client');
  assert.ok(new Events(server).has('peer-migrated'));
  assert.ok(new Events(client).has('path-validated'));
});

/** Records qlog events of one endpoint. */
function recorder(): { sink: () => QlogSink; events: { name: string; data: Record<string, unknown> }[] } {
  const events: { name: string; data: Record<string, unknown> }[] = [];
  return { events, sink: () => ({ event: (_t, name, data) => events.push({ name, data }) }) };
}

for (const family of [4, 6] as const) {
  for (const change of ['port', 'address'] as const) {
    test(`path-state policy, IPv${family} ${change} change: ${change === 'port' ? 'keep RTT/CC, re-probe PMTU' : 'reset RTT/CC/PMTU'} (§9.4)`, () => {
      const ip = (n: number): string => (family === 4 ? `10.0.0.${n}` : `fd00::${n}`);
      const rec = recorder();
      const q = new QuicSim({
        seed: 141,
        clientIp: ip(1),
        serverIp: ip(2),
        link: { delay: 20_000, rateBps: 40e6, queueBytes: 150_000 },
        serverEndpoint: { qlog: rec.sink },
      });
      q.clientHost.addAddress(ip(21));
      const payload = new Payload(2_000_000);
      serveDownloads(q, payload);
      const { client, server } = q.handshake();
      const d = startDownload(q, client, payload);
      q.runUntil(() => d.reader.received > 1_000_000);
      const newLocal = change === 'port' ? { address: ip(1), port: 50009 } : { address: ip(21), port: 50000 };
      const ev = new Events(client);
      client.probePath(q.now, newLocal, undefined, true);
      q.runUntil(() => ev.has('migrated'), 10_000_000);
      // Let the server see the first non-probing packet from the new address.
      q.runUntil(
        () =>
          server.activePath.remote.port === newLocal.port &&
          server.activePath.remote.address === newLocal.address,
      );
      const reset = rec.events.filter((e) => e.name === 'recovery:parameters_reset').at(-1)!;
      assert.equal(reset.data.change, change);
      assert.equal(reset.data.kept_congestion_state, change === 'port');
      const prev = reset.data.previous as { congestion_window: number; smoothed_rtt: number; mtu: number };
      const cur = reset.data.current as { congestion_window: number; smoothed_rtt: number; mtu: number };
      assert.ok(prev.congestion_window > 20_000 && prev.smoothed_rtt > 30, 'the old path had grown state');
      if (change === 'port') {
        assert.equal(cur.congestion_window, prev.congestion_window, 'congestion window kept');
        assert.equal(cur.smoothed_rtt, prev.smoothed_rtt, 'RTT estimate kept');
      } else {
        assert.equal(cur.congestion_window, 12_000, 'congestion window back to the initial 10 × 1200');
        assert.equal(cur.smoothed_rtt, 333, 'RTT estimator back to kInitialRtt');
      }
      assert.equal(cur.mtu, 1200, 'PMTU re-validated from the base');
      assert.ok(rec.events.some((e) => e.name === 'transport:path_updated' && e.data.active === true));
      q.runUntil(() => d.result() !== undefined, 120_000_000);
      assert.equal(d.result()!.received, d.result()!.expected);
    });
  }
}

test('CID rotation: a generator lifetime makes the server replace its CIDs during a transfer', () => {
  const payload = new Payload(3_000_000);
  // A generator asking for rotation every 200 ms.
  const rotating = new QuicSim({
    seed: 146,
    link: LINK,
    serverEndpoint: {
      cidGenerator: { length: 8, lifetime: 200_000, generate: () => randomCid(8) },
    },
  });
  serveDownloads(rotating, payload);
  const { client, server } = rotating.handshake();
  const d = startDownload(rotating, client, payload);
  rotating.runUntil(() => d.result() !== undefined, 60_000_000);
  assert.equal(d.result()!.received, d.result()!.expected);
  const serverCids = (server.stats().cids as { local: { issued: number; retired: number } }).local;
  assert.ok(serverCids.retired >= 4, `retired ${serverCids.retired} of ${serverCids.issued}`);
});

let cidCounter = 0;
function randomCid(n: number): Uint8Array {
  const b = new Uint8Array(n);
  b[0] = 0x40;
  b[1] = ++cidCounter & 0xff;
  b[2] = (cidCounter >> 8) & 0xff;
  for (let i = 3; i < n; i++) b[i] = (cidCounter * 37 + i) & 0xff;
  return b;
}

test('disable_active_migration: probes are refused until the client acted on the preferred address (§9, §18.2)', () => {
  // Without a preferred address: active migration stays off.
  const q1 = new QuicSim({ seed: 147, link: LINK, serverTransport: { disableActiveMigration: true } });
  q1.clientHost.addAddress('10.0.0.13');
  const { client: c1 } = q1.handshake();
  q1.runUntil(() => c1.handshakeConfirmed);
  assert.throws(
    () => c1.probePath(q1.now, { address: '10.0.0.13', port: 50003 }),
    (e: Error & { code?: string }) =>
      e.code === 'ERR_QUIC_MIGRATION' && /disabled active migration/.test(e.message),
  );
  // With one: it is followed anyway, and migrating after that is allowed (§18.2).
  const q2 = new QuicSim({
    seed: 150,
    link: LINK,
    extraServerIps: ['10.0.0.3'],
    server: { preferredAddress: { ipv4: { address: '10.0.0.3', port: 4433 } } },
    serverTransport: { disableActiveMigration: true },
  });
  q2.clientHost.addAddress('10.0.0.13');
  const { client: c2 } = q2.handshake();
  const ev = new Events(c2);
  q2.runUntil(() => ev.has('migrated'));
  assert.equal(ev.of('migrated')[0]!.preferredAddress, true);
  c2.probePath(q2.now, { address: '10.0.0.13', port: 50003 }, undefined, true);
  q2.runUntil(() => ev.of('migrated').length === 2);
  assert.deepEqual(c2.activePath.local, { address: '10.0.0.13', port: 50003 });
});

test('preferred address of another family is not followed (§9.6.3)', () => {
  const q = new QuicSim({
    seed: 148,
    link: LINK,
    server: { preferredAddress: { ipv6: { address: 'fd00::3', port: 4433 } } },
  });
  const { client } = q.handshake();
  q.runUntil(() => client.handshakeConfirmed);
  q.runFor(2_000_000);
  const ev = new Events(client);
  assert.equal(ev.of('migrated').length, 0);
  assert.deepEqual(client.activePath.remote, q.serverAddress);
});

test('zero-length client connection IDs: routed by 4-tuple, transfer byte-exact, no migration offered', () => {
  const q = new QuicSim({
    seed: 149,
    link: LINK,
    clientEndpoint: { cidGenerator: { length: 0, generate: () => new Uint8Array(0) } },
  });
  q.clientHost.addAddress('10.0.0.14');
  const payload = new Payload(1_000_000);
  serveDownloads(q, payload);
  const { client, server } = q.handshake();
  assert.equal(client.initialScid.length, 0);
  const d = startDownload(q, client, payload);
  q.runUntil(() => d.result() !== undefined);
  assert.equal(d.result()!.received, d.result()!.expected);
  // The server never sends NEW_CONNECTION_ID-dependent frames to a zero-length peer and the
  // client issues none (RFC 9000 §5.1.1).
  assert.equal((client.stats().cids as { local: { issued: number } }).local.issued <= 1, true);
  assert.equal(server.state, 'established');
});
