// The cluster routing socket (src/node/routing-socket.ts) over fake sockets: own datagrams reach
// the endpoint, others are relayed to their owner in an envelope, envelopes are accepted only
// from the other workers' forwarding ports, and nothing a peer sends makes it throw.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SeededRandom } from '../../../src/common/random.js';
import { decodeEnvelope, encodeEnvelope } from '../../../src/node/envelope.js';
import {
  type ClusterRoute,
  clusterQuicLbConfig,
  clusterRoute,
  clusterServerId,
  RoutingSocket,
  type RoutingTuple,
} from '../../../src/node/routing-socket.js';
import type { DatagramRemoteInfo, DatagramSocket } from '../../../src/node/socket.js';
import { QuicLbConnectionIdGenerator } from '../../../src/quic-lb/generator.js';

const HOST = '127.0.0.1';
const PUBLIC = { address: '192.0.2.10', port: 443 };
const CLIENT = { address: '198.51.100.7', port: 50_000 };
const KEY = Uint8Array.from({ length: 16 }, (_, i) => i * 17);

interface Sent {
  data: Uint8Array;
  port: number;
  address: string;
}

/** A DatagramSocket that records sends and lets the test inject datagrams. */
class FakeSocket implements DatagramSocket {
  readonly sent: Sent[] = [];
  readonly #message: ((msg: Buffer, rinfo: DatagramRemoteInfo) => void)[] = [];
  readonly #error: ((e: Error) => void)[] = [];
  closed = false;
  refs = 0;
  /** Delivers sends to another fake socket (a tiny loopback network). */
  network: Map<number, FakeSocket> | undefined;
  readonly port: number;

  constructor(port = 0) {
    this.port = port;
  }

  send(data: Uint8Array, port: number, address: string, cb?: (e: Error | null, n?: number) => void): void {
    this.sent.push({ data: new Uint8Array(data), port, address });
    const to = this.network?.get(port);
    if (to && address === HOST) to.inject(Buffer.from(data), { address: HOST, port: this.port });
    cb?.(null, data.length);
  }

  on(event: 'message', l: (msg: Buffer, rinfo: DatagramRemoteInfo) => void): this;
  on(event: 'error', l: (e: Error) => void): this;
  on(event: string, l: never): this {
    if (event === 'message') this.#message.push(l);
    else this.#error.push(l);
    return this;
  }

  inject(msg: Uint8Array, rinfo: DatagramRemoteInfo): void {
    for (const l of this.#message) l(Buffer.from(msg), rinfo);
  }

  fail(e: Error): void {
    for (const l of this.#error) l(e);
  }

  close(): void {
    this.closed = true;
  }

  ref(): this {
    this.refs++;
    return this;
  }

  unref(): this {
    this.refs--;
    return this;
  }
}

interface Rig {
  routing: RoutingSocket;
  shared: FakeSocket;
  forward: FakeSocket;
  delivered: { msg: Buffer; rinfo: DatagramRemoteInfo }[];
  errors: Error[];
}

/** Worker `index` of 3 (forwarding ports 7000 + i); `owner` decides every route. */
function rig(index: number, owner: ClusterRoute, peers = [7000, 7001, 7002]): Rig {
  const shared = new FakeSocket();
  const forward = new FakeSocket(peers[index]);
  const routing = new RoutingSocket({
    shared,
    local: PUBLIC,
    forward,
    forwardHost: HOST,
    index,
    route: owner,
    peers,
  });
  const delivered: Rig['delivered'] = [];
  const errors: Error[] = [];
  routing.on('message', (msg, rinfo) => delivered.push({ msg, rinfo }));
  routing.on('error', (e) => errors.push(e));
  return { routing, shared, forward, delivered, errors };
}

const QUIC = Buffer.from([0x40, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

describe('RoutingSocket', () => {
  test('a datagram it owns goes to the endpoint unchanged, with the client as peer', () => {
    const r = rig(1, () => 1);
    r.shared.inject(QUIC, CLIENT);
    assert.equal(r.delivered.length, 1);
    assert.deepEqual(r.delivered[0]!.msg, QUIC);
    assert.deepEqual(r.delivered[0]!.rinfo, CLIENT);
    assert.equal(r.forward.sent.length, 0);
    const s = r.routing.stats;
    assert.equal(s.received, 1);
    assert.equal(s.deliveredLocally, 1);
    assert.equal(s.forwarded, 0);
  });

  test("another worker's datagram is relayed to its forwarding port with client and public address", () => {
    const r = rig(0, () => 2);
    r.shared.inject(QUIC, CLIENT);
    assert.equal(r.delivered.length, 0);
    assert.equal(r.forward.sent.length, 1);
    const out = r.forward.sent[0]!;
    assert.equal(out.port, 7002);
    assert.equal(out.address, HOST);
    const env = decodeEnvelope(out.data);
    assert.ok(env);
    assert.deepEqual(env.peer, CLIENT);
    assert.deepEqual(env.local, PUBLIC);
    assert.deepEqual(Buffer.from(env.payload), QUIC);
    assert.equal(r.routing.stats.forwarded, 1);
    assert.equal(r.routing.stats.deliveredLocally, 0);
  });

  test('the route sees the 4-tuple of the datagram', () => {
    const seen: RoutingTuple[] = [];
    const r = rig(0, (_d, t) => {
      seen.push({ ...t });
      return 0;
    });
    r.shared.inject(QUIC, CLIENT);
    assert.deepEqual(seen, [
      { srcAddr: CLIENT.address, srcPort: CLIENT.port, dstAddr: PUBLIC.address, dstPort: PUBLIC.port },
    ]);
  });

  test('an envelope from another worker reaches the endpoint as if read from the public socket', () => {
    const r = rig(1, () => 1);
    r.forward.inject(encodeEnvelope(CLIENT, PUBLIC, QUIC), { address: HOST, port: 7002 });
    assert.equal(r.delivered.length, 1);
    assert.deepEqual(r.delivered[0]!.msg, QUIC);
    assert.ok(Buffer.isBuffer(r.delivered[0]!.msg));
    assert.deepEqual({ ...r.delivered[0]!.rinfo }, CLIENT);
    assert.equal(r.routing.stats.receivedForwarded, 1);
  });

  test('envelopes from unknown ports, other hosts or our own port are rejected (trust boundary)', () => {
    const r = rig(1, () => 1);
    const env = encodeEnvelope(CLIENT, PUBLIC, QUIC);
    r.forward.inject(env, { address: HOST, port: 9999 });
    r.forward.inject(env, { address: '127.0.0.2', port: 7000 });
    r.forward.inject(env, { address: HOST, port: 7001 }); // ourselves
    r.forward.inject(env, CLIENT);
    assert.equal(r.delivered.length, 0);
    const s = r.routing.stats;
    assert.equal(s.untrusted, 4);
    assert.equal(s.dropped, 4);
    assert.equal(s.receivedForwarded, 0);
    // A worker that went down (port 0 in the table) is no longer trusted.
    r.routing.setPeers([0, 7001, 7002]);
    r.forward.inject(env, { address: HOST, port: 7000 });
    assert.equal(r.delivered.length, 0);
    assert.equal(r.routing.stats.untrusted, 5);
    r.forward.inject(env, { address: HOST, port: 7002 });
    assert.equal(r.delivered.length, 1);
  });

  test('malformed envelopes and envelopes for another public address are dropped', () => {
    const r = rig(0, () => 0);
    const from = { address: HOST, port: 7001 };
    r.forward.inject(Buffer.from('not an envelope'), from);
    r.forward.inject(Buffer.alloc(0), from);
    r.forward.inject(encodeEnvelope(CLIENT, { address: PUBLIC.address, port: 444 }, QUIC), from);
    r.forward.inject(encodeEnvelope(CLIENT, { address: '192.0.2.11', port: 443 }, QUIC), from);
    r.forward.inject(encodeEnvelope(CLIENT, PUBLIC, new Uint8Array(0)), from);
    assert.equal(r.delivered.length, 0);
    assert.equal(r.routing.stats.malformed, 5);
    assert.equal(r.routing.stats.dropped, 5);
  });

  test("a datagram whose owner is not running is handled here (its CIDs' resets use the shared key)", () => {
    const r = rig(0, () => 2, [7000, 7001, 0]);
    r.shared.inject(QUIC, CLIENT);
    assert.equal(r.delivered.length, 1);
    assert.equal(r.forward.sent.length, 0);
    assert.equal(r.routing.stats.ownerDown, 1);
    assert.equal(r.routing.stats.deliveredLocally, 1);
    // Back up: relayed again.
    r.routing.setPeers([7000, 7001, 7005]);
    r.shared.inject(QUIC, CLIENT);
    assert.equal(r.forward.sent.at(-1)?.port, 7005);
  });

  test('sends leave from the shared socket; close, ref, unref and errors reach both sockets', () => {
    const r = rig(0, () => 0);
    let cbErr: Error | null | undefined;
    r.routing.send(QUIC, CLIENT.port, CLIENT.address, (e) => {
      cbErr = e;
    });
    assert.deepEqual(r.shared.sent, [
      { data: new Uint8Array(QUIC), port: CLIENT.port, address: CLIENT.address },
    ]);
    assert.equal(cbErr, null);
    assert.equal(r.forward.sent.length, 0);
    r.routing.unref();
    r.routing.ref();
    r.routing.ref();
    assert.equal(r.shared.refs, 1);
    assert.equal(r.forward.refs, 1);
    r.shared.fail(new Error('a'));
    r.forward.fail(new Error('b'));
    assert.deepEqual(
      r.errors.map((e) => e.message),
      ['a', 'b'],
    );
    r.routing.close();
    r.routing.close();
    assert.ok(r.shared.closed && r.forward.closed);
  });

  test('two workers: a relayed datagram arrives at its owner exactly once, with the true path', () => {
    const network = new Map<number, FakeSocket>();
    const route: ClusterRoute = (d) => d[1]! % 2; // the second octet names the owner
    const a = rig(0, route, [7000, 7001]);
    const b = rig(1, route, [7000, 7001]);
    for (const x of [a, b]) {
      x.forward.network = network;
      network.set(x.forward.port, x.forward);
    }
    const toB = Buffer.from([0x40, 1, 0xaa]);
    const toA = Buffer.from([0x40, 2, 0xbb]);
    a.shared.inject(toB, CLIENT);
    a.shared.inject(toA, CLIENT);
    b.shared.inject(toA, CLIENT);
    assert.deepEqual(
      b.delivered.map((x) => [x.msg.toString('hex'), x.rinfo.address, x.rinfo.port]),
      [['4001aa', CLIENT.address, CLIENT.port]],
    );
    assert.deepEqual(
      a.delivered.map((x) => x.msg.toString('hex')),
      ['4002bb', '4002bb'],
    );
    assert.equal(a.routing.stats.forwarded, 1);
    assert.equal(b.routing.stats.receivedForwarded, 1);
    assert.equal(a.routing.stats.receivedForwarded, 1);
  });

  test('never throws and never delivers unauthenticated relays: 100k random datagrams on both sockets', () => {
    const rng = new SeededRandom(0xc1a5);
    const route = clusterRoute(clusterQuicLbConfig(KEY), 3, 99);
    const r = rig(1, route);
    const addrs = [HOST, '127.0.0.2', CLIENT.address, '::1', '2001:db8::5'];
    const t0 = performance.now();
    let envelopes = 0;
    for (let i = 0; i < 100_000; i++) {
      const len = rng.int(80);
      const d = new Uint8Array(len);
      rng.fill(d);
      const rinfo = { address: addrs[rng.int(addrs.length)]!, port: 7000 + rng.int(4) };
      const kind = rng.next();
      if (kind < 0.5) r.shared.inject(d, rinfo);
      else if (kind < 0.75) r.forward.inject(d, rinfo);
      else {
        // A well-formed envelope, trusted or not.
        envelopes++;
        r.forward.inject(encodeEnvelope(CLIENT, PUBLIC, d), rinfo);
      }
    }
    assert.ok(performance.now() - t0 < 5000);
    const s = r.routing.stats;
    assert.deepEqual(r.errors, []);
    assert.equal(s.received, s.deliveredLocally + s.forwarded);
    assert.equal(s.dropped, s.untrusted + s.malformed + s.forwardErrors);
    // Every delivery is a public datagram we own or a relay from another worker's port.
    assert.equal(r.delivered.length, s.deliveredLocally + s.receivedForwarded);
    assert.ok(s.receivedForwarded > 0 && s.receivedForwarded < envelopes);
    assert.ok(s.forwarded > 0 && s.deliveredLocally > 0 && s.untrusted > 0 && s.malformed > 0);
    for (const f of r.forward.sent) assert.ok(f.port === 7000 || f.port === 7002);
  });

  test('a throwing route keeps the datagram here', () => {
    const r = rig(0, () => {
      throw new Error('bug');
    });
    r.shared.inject(QUIC, CLIENT);
    assert.equal(r.delivered.length, 1);
  });
});

describe('clusterRoute', () => {
  const config = clusterQuicLbConfig(KEY);
  const tuple = (port: number, addr = CLIENT.address): RoutingTuple => ({
    srcAddr: addr,
    srcPort: port,
    dstAddr: PUBLIC.address,
    dstPort: PUBLIC.port,
  });
  const short = (cid: Uint8Array): Uint8Array => Uint8Array.from([0x41, ...cid, 0xde, 0xad, 0xbe, 0xef]);
  const long = (dcid: Uint8Array): Uint8Array =>
    Uint8Array.from([0xc3, 0, 0, 0, 1, dcid.length, ...dcid, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0x41, 0]);

  test('every CID of worker i routes to i, from any 4-tuple (migration, NAT rebinding)', () => {
    const route = clusterRoute(config, 4, 5);
    for (let w = 0; w < 4; w++) {
      const gen = new QuicLbConnectionIdGenerator(config, clusterServerId(w), {
        random: new SeededRandom(w),
      });
      for (let i = 0; i < 50; i++) {
        const cid = gen.generate();
        assert.equal(cid.length, 9);
        assert.equal(route(short(cid), tuple(1000 + i)), w);
        assert.equal(route(short(cid), tuple(2000 + i, '203.0.113.9')), w);
        // A Handshake packet (long header) to our CID too.
        assert.equal(route(long(cid), tuple(3000 + i)), w);
      }
    }
  });

  test("a client's first flight meets at one worker whatever its 4-tuple (replays included)", () => {
    const route = clusterRoute(config, 4, 5);
    const rng = new SeededRandom(77);
    const owners = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const dcid = new Uint8Array(8 + rng.int(13));
      rng.fill(dcid);
      const d = long(dcid);
      const first = route(d, tuple(40_000 + i));
      owners.add(first);
      for (let p = 0; p < 5; p++) assert.equal(route(d, tuple(1 + rng.int(65535), `10.0.0.${p}`)), first);
    }
    assert.deepEqual([...owners].sort(), [0, 1, 2, 3]);
  });

  test('unroutable short headers follow the 4-tuple, the same in every worker', () => {
    const a = clusterRoute(config, 4, 5);
    const b = clusterRoute(clusterQuicLbConfig(KEY), 4, 5);
    const other = clusterRoute(config, 4, 6);
    const rng = new SeededRandom(3);
    const counts = [0, 0, 0, 0];
    let differs = 0;
    for (let i = 0; i < 400; i++) {
      const d = new Uint8Array(30);
      rng.fill(d);
      d[0] = 0x40;
      d[1] = 0xe0 | (d[1]! & 0x1f); // config rotation 0b111: unroutable (§3.2)
      const t = tuple(10_000 + i);
      const w = a(d, t);
      assert.equal(b(d, t), w);
      d.fill(0x55, 2);
      assert.equal(a(d, t), w, 'only the 4-tuple counts');
      if (other(d, t) !== w) differs++;
      counts[w]!++;
    }
    for (const c of counts) assert.ok(c > 50, `spread ${counts}`);
    assert.ok(differs > 100, 'the seed changes the mapping');
  });

  test('rejects worker counts that do not fit the one-octet server ID', () => {
    assert.throws(() => clusterRoute(config, 0, 1), RangeError);
    assert.throws(() => clusterRoute(config, 257, 1), RangeError);
    assert.equal(clusterRoute(config, 1, 1)(new Uint8Array(0), tuple(1)), 0);
  });
});
