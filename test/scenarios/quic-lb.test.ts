// QUIC-LB connection IDs in live connections (draft-ietf-quic-load-balancers): a stateless
// router in front of the server, fed every datagram the client sends, must send each one to the
// server's ID by CID alone — through CID rotation, active migration and NAT rebinding — while a
// 4-tuple hash would have scattered them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromHex } from '../../src/common/bytes.js';
import { SeededRandom } from '../../src/common/random.js';
import type { Connection } from '../../src/connection/connection.js';
import {
  type FourTuple,
  QuicLbConfig,
  QuicLbConnectionIdGenerator,
  QuicLbRouter,
  rendezvousFallback,
  unroutableGenerator,
} from '../../src/quic-lb/index.js';
import { Events, Payload, QuicSim } from '../sim/quic.js';
import { serveDownloads, startDownload } from '../sim/transfer.js';

const LINK = { delay: 10_000, rateBps: 40e6, queueBytes: 150_000 };
const KEY = fromHex('8f95f09245765f80256934e50c66207f');
const OUR_SID = 'ed793a';
const POOL = new Map([
  [OUR_SID, 'A'],
  ['0c0c0c', 'B'],
  ['5d5d5d', 'C'],
  ['a1a1a1', 'D'],
]);

interface Tally {
  byCid: Map<string, number>;
  fallback: number;
  /** Datagrams a 4-tuple hash over the same pool would have sent to another server. */
  hashMisroutes: number;
  total: number;
}

/** Routes every client→server datagram with a stateless router and tallies the decisions. */
function routeClientTraffic(q: QuicSim, router: QuicLbRouter<string>): Tally {
  const hash = rendezvousFallback(POOL, 7);
  const tally: Tally = { byCid: new Map(), fallback: 0, hashMisroutes: 0, total: 0 };
  q.sim.onDatagram((ev) => {
    if (ev.kind !== 'send' || ev.dst.address !== q.serverAddress.address) return;
    const tuple: FourTuple = {
      srcAddr: ev.src.address,
      srcPort: ev.src.port,
      dstAddr: ev.dst.address,
      dstPort: ev.dst.port,
    };
    const r = router.route(ev.data, tuple);
    tally.total++;
    if (r.reason === 'fallback') tally.fallback++;
    else tally.byCid.set(r.target, (tally.byCid.get(r.target) ?? 0) + 1);
    if (hash(tuple) !== 'A') tally.hashMisroutes++;
  });
  return tally;
}

function localCids(c: Connection): { issued: number; retired: number; active: number } {
  return (c.stats().cids as { local: { issued: number; retired: number; active: number } }).local;
}

function fourPass(
  seed: number,
  lifetime?: number,
): { config: QuicLbConfig; gen: QuicLbConnectionIdGenerator } {
  const config = new QuicLbConfig({ configRotation: 1, serverIdLength: 3, nonceLength: 6, key: KEY });
  const gen = new QuicLbConnectionIdGenerator(config, fromHex(OUR_SID), {
    random: new SeededRandom(seed),
    ...(lifetime !== undefined ? { lifetime } : {}),
  });
  return { config, gen };
}

test('QUIC-LB CIDs: after the first flight every client datagram routes by CID to our server, through CID rotation and two active migrations', () => {
  const { config, gen } = fourPass(151, 150_000);
  const q = new QuicSim({ seed: 151, link: LINK, serverEndpoint: { cidGenerator: gen } });
  q.clientHost.addAddress('10.0.0.12');
  q.clientHost.addAddress('10.0.0.13');
  const tally = routeClientTraffic(q, new QuicLbRouter([config], POOL, () => 'fallback'));
  const payload = new Payload(4_000_000);
  serveDownloads(q, payload);
  const { client, server } = q.handshake();
  assert.ok(gen.validate(server.initialScid), 'the handshake CID carries our server ID');
  const d = startDownload(q, client, payload);
  const ev = new Events(client);
  for (const [address, after] of [
    ['10.0.0.12', 1_000_000],
    ['10.0.0.13', 2_500_000],
  ] as const) {
    q.runUntil(() => d.reader.received > after, 60_000_000);
    const migrated = ev.of('migrated').length;
    client.probePath(q.now, { address, port: 50_100 }, undefined, true);
    q.runUntil(() => ev.of('migrated').length > migrated, 10_000_000);
  }
  q.runUntil(() => d.result() !== undefined, 120_000_000);
  assert.equal(d.result()!.received, d.result()!.expected, 'byte-exact');
  assert.deepEqual(server.activePath.remote, { address: '10.0.0.13', port: 50_100 });
  const cids = localCids(server);
  assert.ok(cids.retired >= 6, `CIDs rotated: ${cids.retired} retired of ${cids.issued}`);
  // Only the client's Initial flight (its own random DCID) cannot be routed by CID.
  assert.ok(tally.fallback >= 1 && tally.fallback <= 3, `fallback for ${tally.fallback} datagrams`);
  assert.deepEqual([...tally.byCid.keys()], ['A'], 'never routed to another server');
  assert.ok(tally.byCid.get('A')! > 300, `${tally.byCid.get('A')} datagrams routed by CID`);
  assert.ok(tally.hashMisroutes > 0, 'a 4-tuple hash would have misrouted the moved client');
});

test('QUIC-LB CIDs under NAT rebinding every 100 ms: routed by CID with no per-connection state', () => {
  const { config, gen } = fourPass(152);
  const q = new QuicSim({
    seed: 152,
    link: LINK,
    natPublicIp: '192.0.2.1',
    serverEndpoint: { cidGenerator: gen },
  });
  const tally = routeClientTraffic(q, new QuicLbRouter([config], POOL, () => 'fallback'));
  const payload = new Payload(3_000_000);
  serveDownloads(q, payload);
  const { client, server } = q.handshake();
  q.runUntil(() => client.handshakeConfirmed);
  const d = startDownload(q, client, payload);
  const rebinder = q.nat!.rebindEvery(100_000, 'port');
  q.runUntil(() => d.result() !== undefined, 120_000_000);
  rebinder.stop();
  assert.equal(d.result()!.received, d.result()!.expected, 'byte-exact');
  assert.ok(new Events(server).of('peer-migrated').length >= 3, 'the server followed the rebindings');
  assert.deepEqual([...tally.byCid.keys()], ['A']);
  assert.ok(tally.fallback <= 3, `fallback for ${tally.fallback} datagrams`);
  assert.ok(tally.hashMisroutes > 0, 'a 4-tuple hash would have misrouted rebound datagrams');
});

test('plaintext QUIC-LB config: the server never sends NEW_CONNECTION_ID (draft §9); the transfer completes', () => {
  const config = new QuicLbConfig({ configRotation: 2, serverIdLength: 3, nonceLength: 8 });
  const gen = new QuicLbConnectionIdGenerator(config, fromHex(OUR_SID), { random: new SeededRandom(153) });
  const q = new QuicSim({ seed: 153, link: LINK, serverEndpoint: { cidGenerator: gen } });
  const tally = routeClientTraffic(q, new QuicLbRouter([config], POOL, () => 'fallback'));
  const payload = new Payload(1_000_000);
  serveDownloads(q, payload);
  const { client, server } = q.handshake();
  const d = startDownload(q, client, payload);
  q.runUntil(() => d.result() !== undefined, 60_000_000);
  assert.equal(d.result()!.received, d.result()!.expected);
  assert.deepEqual(localCids(server), { issued: 1, retired: 0, active: 1 }, 'only the handshake CID');
  assert.deepEqual([...tally.byCid.keys()], ['A']);
});

test('server without a QUIC-LB config: unroutable CIDs (CR 0b111), disable_active_migration, one CID (draft §3.2)', () => {
  const gen = unroutableGenerator(8, new SeededRandom(154));
  const config = new QuicLbConfig({ configRotation: 0, serverIdLength: 3, nonceLength: 6, key: KEY });
  const q = new QuicSim({ seed: 154, link: LINK, serverEndpoint: { cidGenerator: gen } });
  const tally = routeClientTraffic(q, new QuicLbRouter([config], POOL, () => 'fallback'));
  const { client, server } = q.handshake();
  assert.equal(server.initialScid[0]! >> 5, 0b111);
  assert.equal(client.peerParameters?.disableActiveMigration, true);
  q.runFor(200_000);
  assert.deepEqual(localCids(server), { issued: 1, retired: 0, active: 1 }, 'only the handshake CID');
  assert.equal(tally.byCid.size, 0, 'nothing is routable by CID');
  assert.ok(tally.fallback > 0);
});
