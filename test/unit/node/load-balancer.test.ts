// QuicLoadBalancer with fake sockets: routing by CID and by the 4-tuple fallback, the envelope
// both ways, the trust boundary of the tunnel, health (heartbeat, goodbye, timeout), and garbage.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SocketAddress } from '../../../src/common/addr.js';
import { fromHex } from '../../../src/common/bytes.js';
import { SeededRandom } from '../../../src/common/random.js';
import { decodeEnvelope, encodeEnvelope } from '../../../src/node/envelope.js';
import {
  type LoadBalancerRouteMessage,
  loadBalancerRouteChannel,
  QuicLoadBalancer,
  type QuicLoadBalancerOptions,
  sharedKeys,
} from '../../../src/node/load-balancer.js';
import type { DatagramRemoteInfo, DatagramSocket } from '../../../src/node/socket.js';
import { ControlType, encodeControl } from '../../../src/node/tunnel-socket.js';
import { QuicLbConfig } from '../../../src/quic-lb/config.js';
import { QuicLbConnectionIdGenerator } from '../../../src/quic-lb/generator.js';
import { generateInput } from '../../support/property.js';

const KEY = fromHex('8f95f09245765f80256934e50c66207f');
const CONFIG = new QuicLbConfig({ configRotation: 2, serverIdLength: 1, nonceLength: 8, key: KEY });
const PUBLIC: SocketAddress = { address: '203.0.113.1', port: 443 };
const TUNNEL: SocketAddress = { address: '10.0.0.1', port: 4500 };
const B1: SocketAddress = { address: '10.0.0.11', port: 4501 };
const B2: SocketAddress = { address: '10.0.0.12', port: 4502 };

class FakeSocket implements DatagramSocket {
  readonly sent: { data: Uint8Array; to: SocketAddress }[] = [];
  closed = false;
  #listeners: ((msg: Buffer, rinfo: DatagramRemoteInfo) => void)[] = [];

  send(data: Uint8Array, port: number, address: string, cb?: (e: Error | null, n?: number) => void): void {
    this.sent.push({ data: Uint8Array.from(data), to: { address, port } });
    cb?.(null, data.length);
  }
  on(event: 'message', l: (msg: Buffer, rinfo: DatagramRemoteInfo) => void): this;
  on(event: 'error', l: (e: Error) => void): this;
  on(event: string, l: unknown): this {
    if (event === 'message') this.#listeners.push(l as (msg: Buffer, rinfo: DatagramRemoteInfo) => void);
    return this;
  }
  deliver(msg: Uint8Array, from: SocketAddress): void {
    for (const l of this.#listeners) l(Buffer.from(msg), { address: from.address, port: from.port });
  }
  take(): { data: Uint8Array; to: SocketAddress }[] {
    return this.sent.splice(0);
  }
  close(): void {
    this.closed = true;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}

interface Rig {
  lb: QuicLoadBalancer;
  pub: FakeSocket;
  tunnel: FakeSocket;
  changes: string[];
  heartbeat(from: SocketAddress, sid: number): void;
}

async function rig(extra: Partial<QuicLoadBalancerOptions> = {}, live = true): Promise<Rig> {
  const pub = new FakeSocket();
  const tunnel = new FakeSocket();
  const changes: string[] = [];
  const lb = await QuicLoadBalancer.bind({
    publicSocket: { socket: pub, local: PUBLIC },
    tunnelSocket: { socket: tunnel, local: TUNNEL },
    backends: { '01': B1, '02': B2 },
    configs: CONFIG,
    fallbackSeed: 7,
    onBackendChange: (sid, up) => changes.push(`${sid} ${up ? 'up' : 'down'}`),
    ...extra,
  });
  const heartbeat = (from: SocketAddress, sid: number): void =>
    tunnel.deliver(encodeControl(ControlType.Heartbeat, Uint8Array.of(sid)), from);
  if (live) {
    heartbeat(B1, 1);
    heartbeat(B2, 2);
  }
  return { lb, pub, tunnel, changes, heartbeat };
}

const generators = [1, 2].map(
  (sid) => new QuicLbConnectionIdGenerator(CONFIG, Uint8Array.of(sid), { random: new SeededRandom(sid) }),
);

function shortPacket(cid: Uint8Array, n = 40): Uint8Array {
  const p = new Uint8Array(1 + cid.length + n).fill(0x5a);
  p[0] = 0x41;
  p.set(cid, 1);
  return p;
}

function initialPacket(dcid: Uint8Array): Uint8Array {
  const p = new Uint8Array(1200);
  p.set([0xc0, 0, 0, 0, 1, dcid.length], 0);
  p.set(dcid, 6);
  return p;
}

const client = (i: number): SocketAddress => ({ address: `198.51.100.${1 + (i % 200)}`, port: 1024 + i });

test('client datagrams with a QUIC-LB CID go to the backend it names, in an envelope (client, public address)', async () => {
  const { lb, pub, tunnel } = await rig();
  assert.deepEqual(lb.liveBackends, ['01', '02']);
  assert.deepEqual(lb.address, PUBLIC);
  assert.deepEqual(lb.tunnelAddress, TUNNEL);
  for (let i = 0; i < 200; i++) {
    const which = i % 2;
    const cid = generators[which]!.generate();
    // Short and long headers, from ever-changing client addresses (migration, rebinding).
    const pkt = i % 4 < 2 ? shortPacket(cid) : initialPacket(cid);
    const from = client(i);
    pub.deliver(pkt, from);
    const [out] = tunnel.take();
    assert.ok(out);
    assert.deepEqual(out.to, which === 0 ? B1 : B2);
    const env = decodeEnvelope(out.data)!;
    assert.deepEqual(env.peer, from);
    assert.deepEqual(env.local, PUBLIC);
    assert.deepEqual(env.payload, pkt);
  }
  const st = lb.stats;
  assert.equal(st.routedByCid, 200);
  assert.equal(st.routedByFallback, 0);
  assert.equal(st.clientDatagrams, 200);
  assert.deepEqual(
    st.backends.map((b) => b.datagramsTo),
    [100, 100],
  );
  assert.equal(pub.sent.length, 0);
});

test('client-chosen DCIDs: the first flight meets at one backend from any 4-tuple; unroutable short headers follow the 4-tuple', async () => {
  const { lb, pub, tunnel } = await rig();
  const rng = new SeededRandom(3);
  const per = new Map<string, number>();
  for (let i = 0; i < 300; i++) {
    const dcid = new Uint8Array(8);
    rng.fill(dcid);
    if (i % 3 === 0) dcid[0] = 0xe7; // config rotation 0b111: always unroutable (§3.2)
    const from = client(i);
    pub.deliver(initialPacket(dcid), from);
    const first = tunnel.take()[0]!.to;
    // A retransmission, and 0-RTT (long header, same DCID) replayed from another address, meet
    // at the same backend: its anti-replay sees every copy (RFC 9001 §9.2).
    pub.deliver(initialPacket(dcid), from);
    const zeroRtt = initialPacket(dcid);
    zeroRtt[0] = 0xd0;
    pub.deliver(zeroRtt, client(i + 1000));
    for (const o of tunnel.take()) assert.deepEqual(o.to, first);
    per.set(first.address, (per.get(first.address) ?? 0) + 1);
    // A short header with an unroutable DCID: the 4-tuple decides, stably.
    pub.deliver(shortPacket(dcid), from);
    pub.deliver(shortPacket(dcid), from);
    const [a, b] = tunnel.take();
    assert.deepEqual(a!.to, b!.to);
  }
  assert.equal(lb.stats.routedByFallback, 1500);
  assert.equal(lb.stats.routedByCid, 0);
  for (const b of [B1, B2]) assert.ok((per.get(b.address) ?? 0) > 100, JSON.stringify([...per]));
  // An ID that is not a configured server (§4.1) falls back too.
  const foreign = new QuicLbConnectionIdGenerator(CONFIG, Uint8Array.of(9)).generate();
  pub.deliver(shortPacket(foreign), client(1));
  assert.equal(tunnel.take().length, 1);
  assert.equal(lb.stats.routedByFallback, 1501);
});

test('backend envelopes go out of the public socket; unknown senders, foreign public addresses and garbage are dropped', async () => {
  const { lb, pub, tunnel } = await rig();
  const to: SocketAddress = { address: '2001:db8::5', port: 61000 };
  const payload = Uint8Array.of(0x40, 1, 2, 3, 4);
  tunnel.deliver(encodeEnvelope(to, PUBLIC, payload), B2);
  assert.deepEqual(pub.take(), [{ data: payload, to }]);
  // Not a configured backend: the trust boundary.
  tunnel.deliver(encodeEnvelope(to, PUBLIC, payload), { address: '10.0.0.13', port: 4502 });
  tunnel.deliver(encodeEnvelope(to, PUBLIC, payload), { address: B1.address, port: B1.port + 1 });
  tunnel.deliver(encodeControl(ControlType.Goodbye, Uint8Array.of(1)), { address: '10.0.0.99', port: 1 });
  // From a backend, but not ours / not well-formed / naming another server.
  tunnel.deliver(encodeEnvelope(to, { address: '203.0.113.2', port: 443 }, payload), B1);
  tunnel.deliver(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9), B1);
  tunnel.deliver(encodeControl(ControlType.Heartbeat, Uint8Array.of(2)), B1);
  assert.equal(pub.sent.length, 0);
  const st = lb.stats;
  assert.deepEqual(st.dropped, {
    noBackend: 0,
    unknownSender: 3,
    malformed: 1,
    wrongLocal: 1,
    serverIdMismatch: 1,
    queueFull: 0,
    sendError: 0,
    internal: 0,
  });
  assert.equal(st.backendDatagrams, 1);
  assert.equal(st.backendBytes, payload.length);
  assert.equal(st.backends[1]!.datagramsFrom, 1);
  assert.deepEqual(lb.liveBackends, ['01', '02'], 'the goodbye of a stranger changes nothing');
  // Client datagrams never arrive on the tunnel side, and envelopes from clients are just QUIC
  // datagrams to route (never relayed back out).
  pub.deliver(encodeEnvelope(to, PUBLIC, payload), client(0));
  assert.equal(pub.sent.length, 0);
  assert.equal(tunnel.take().length, 1);
});

test('health: live from the first heartbeat, dead on goodbye or silence; a dead backend’s CIDs fall back to live ones', async () => {
  const { lb, pub, tunnel, changes, heartbeat } = await rig({ healthTimeout: 60 }, false);
  const cid2 = generators[1]!.generate();
  pub.deliver(shortPacket(cid2), client(0));
  assert.equal(lb.stats.dropped.noBackend, 1, 'no live backend yet');
  heartbeat(B1, 1);
  pub.deliver(shortPacket(cid2), client(0));
  assert.deepEqual(tunnel.take()[0]!.to, B1, 'server 02 is not live: fallback');
  assert.equal(lb.stats.routedByFallback, 1);
  heartbeat(B2, 2);
  pub.deliver(shortPacket(cid2), client(0));
  assert.deepEqual(tunnel.take()[0]!.to, B2);
  assert.equal(lb.stats.routedByCid, 1);
  // Goodbye: at once.
  tunnel.deliver(encodeControl(ControlType.Goodbye, Uint8Array.of(2)), B2);
  assert.deepEqual(lb.liveBackends, ['01']);
  pub.deliver(shortPacket(cid2), client(0));
  assert.deepEqual(tunnel.take()[0]!.to, B1);
  // A datagram from a backend counts as a heartbeat.
  tunnel.deliver(encodeEnvelope(client(3), PUBLIC, Uint8Array.of(0x40, 0)), B2);
  assert.deepEqual(lb.liveBackends, ['01', '02']);
  // Silence: both die after the timeout (checked every 15 ms).
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(lb.liveBackends, []);
  pub.deliver(shortPacket(cid2), client(0));
  assert.equal(lb.stats.dropped.noBackend, 2);
  assert.deepEqual(changes, ['01 up', '02 up', '02 down', '02 up', '01 down', '02 down']);
  lb.close();
  assert.ok(pub.closed && tunnel.closed);
});

test('healthTimeout 0: every backend is always live; heartbeats are still counted', async () => {
  const { lb } = await rig({ healthTimeout: 0 }, false);
  assert.deepEqual(lb.liveBackends, ['01', '02']);
  lb.close();
});

test('the route diagnostics channel reports each decision (only when subscribed)', async () => {
  const { pub } = await rig();
  const seen: LoadBalancerRouteMessage[] = [];
  const sub = (m: unknown): void => {
    seen.push(m as LoadBalancerRouteMessage);
  };
  loadBalancerRouteChannel.subscribe(sub);
  try {
    pub.deliver(shortPacket(generators[0]!.generate()), client(5));
    pub.deliver(initialPacket(new Uint8Array(8)), client(6));
  } finally {
    loadBalancerRouteChannel.unsubscribe(sub);
  }
  assert.equal(seen.length, 2);
  assert.deepEqual(seen[0], { reason: 'cid', serverId: '01', client: client(5), length: 51 });
  assert.equal(seen[1]!.reason, 'fallback');
});

test('bad configurations are RangeErrors', async () => {
  const o = (backends: Record<string, string>, configs: QuicLbConfig[] = [CONFIG]) =>
    QuicLoadBalancer.bind({
      publicSocket: { socket: new FakeSocket(), local: PUBLIC },
      tunnelSocket: { socket: new FakeSocket(), local: TUNNEL },
      backends,
      configs,
    });
  await assert.rejects(o({}), RangeError);
  await assert.rejects(o({ '0102': '10.0.0.1:1' }), /2 octets; the configuration says 1/);
  await assert.rejects(o({ zz: '10.0.0.1:1' }), /hex/);
  await assert.rejects(o({ '01': '10.0.0.1:1', '02': '10.0.0.1:1' }), /same address/);
  await assert.rejects(o({ '01': '10.0.0.1:1' }, []), RangeError);
});

test('100k random and mutated datagrams on both sockets never throw and are all accounted for', async () => {
  const { lb, pub, tunnel } = await rig({ healthTimeout: 0 }, false);
  const rng = new SeededRandom(0x1b);
  const clientCorpus = [
    shortPacket(generators[0]!.generate()),
    initialPacket(generators[1]!.generate()).subarray(0, 64),
    initialPacket(new Uint8Array(20)).subarray(0, 40),
  ];
  const tunnelCorpus = [
    encodeEnvelope(client(1), PUBLIC, Uint8Array.of(0x40, 1, 2)),
    encodeEnvelope({ address: '2001:db8::1', port: 9 }, PUBLIC, Uint8Array.of(0x40)),
    encodeControl(ControlType.Heartbeat, Uint8Array.of(1)),
    encodeControl(ControlType.Goodbye, Uint8Array.of(2)),
  ];
  let fromBackends = 0;
  for (let i = 0; i < 100_000; i++) {
    if (i % 2 === 0) {
      pub.deliver(generateInput(rng, clientCorpus, 64), client(rng.int(1000)));
    } else {
      const known = rng.next() < 0.9;
      if (known) fromBackends++;
      tunnel.deliver(generateInput(rng, tunnelCorpus, 64), known ? (rng.next() < 0.5 ? B1 : B2) : client(i));
    }
    if (i % 1000 === 0) {
      fromBackends++;
      tunnel.deliver(encodeControl(ControlType.Heartbeat, Uint8Array.of(1)), B1);
    }
  }
  const st = lb.stats;
  assert.equal(st.dropped.internal, 0);
  assert.equal(st.clientDatagrams, 50_000);
  assert.equal(st.routedByCid + st.routedByFallback, 50_000);
  assert.equal(tunnel.sent.length, 50_000);
  assert.ok(st.routedByCid > 1000, `${st.routedByCid} routed by CID`);
  const d = st.dropped;
  assert.equal(d.unknownSender, 50_100 - fromBackends);
  assert.equal(
    st.backendDatagrams + st.heartbeats + st.goodbyes + d.malformed + d.wrongLocal + d.serverIdMismatch,
    fromBackends,
  );
  assert.equal(pub.sent.length, st.backendDatagrams);
  assert.ok(st.backendDatagrams > 1000 && st.heartbeats >= 100, JSON.stringify(st));
});

test('sharedKeys: deterministic, distinct keys of the endpoint’s sizes from one secret', () => {
  const a = sharedKeys(new Uint8Array(32).fill(1));
  const b = sharedKeys(new Uint8Array(32).fill(1));
  const c = sharedKeys(new Uint8Array(32).fill(2));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.statelessResetKey, c.statelessResetKey);
  assert.equal(a.statelessResetKey.length, 32);
  assert.equal(a.tokenKey.length, 16);
  assert.equal(a.ticketKey.length, 32);
  assert.notDeepEqual(a.statelessResetKey.subarray(0, 16), a.tokenKey);
  assert.throws(() => sharedKeys(new Uint8Array(15)), RangeError);
});
