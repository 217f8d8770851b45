import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ms, seconds } from '../../../src/common/time.js';
import type { Nat, NatOptions } from '../../sim/nat.js';
import { Simulation } from '../../sim/sim.js';
import { EchoEndpoint, ToyEndpoint } from '../../sim/toy-endpoints.js';
import type { DatagramEvent } from '../../sim/types.js';
import { addr } from './fixtures.js';

const PRIV = '192.168.0.10';
const PUB = '203.0.113.1';
const SERVER = '198.51.100.1';
const LOCAL = addr(PRIV, 5000);
const REMOTE = addr(SERVER, 443);

interface NatSetup {
  sim: Simulation;
  nat: Nat;
  client: ToyEndpoint;
  server: EchoEndpoint;
  trace: DatagramEvent[];
  /** Client sends a datagram of `size` octets at `time`. */
  sendAt(time: number, size?: number): void;
}

function natSetup(options: Partial<NatOptions> = {}, defaultLink = false): NatSetup {
  const sim = new Simulation({ seed: 21, ...(defaultLink ? { defaultLink: { delay: ms(5) } } : {}) });
  const nat = sim.addNat({ publicAddress: PUB, ...options });
  if (!defaultLink) sim.connect(PUB, SERVER, { delay: ms(5) });
  const client = new ToyEndpoint();
  const server = new EchoEndpoint();
  const clientHost = sim.addHost({ name: 'client', endpoint: client, addresses: [PRIV], via: nat });
  sim.addHost({ name: 'server', endpoint: server, addresses: [SERVER] });
  const trace: DatagramEvent[] = [];
  sim.onDatagram((e) => trace.push(e));
  return {
    sim,
    nat,
    client,
    server,
    trace,
    sendAt(time, size = 10) {
      sim.at(time, () => {
        client.send(LOCAL, REMOTE, new Uint8Array(size));
        clientHost.wake();
      });
    },
  };
}

describe('NAT', () => {
  it('maps the private source to a public one and back; the client never sees it', () => {
    const s = natSetup();
    s.sendAt(0);
    s.sendAt(ms(20));
    s.sim.runUntilIdle();
    const pub = s.nat.mappingFor(LOCAL)!;
    assert.equal(pub.address, PUB);
    assert.ok(pub.port >= 1024 && pub.port <= 65535);
    assert.deepEqual(
      s.server.received.map((r) => r.path.remote),
      [pub, pub],
    );
    assert.deepEqual(
      s.client.received.map((r) => [r.time, r.path]),
      [
        [ms(10), { local: LOCAL, remote: REMOTE }],
        [ms(30), { local: LOCAL, remote: REMOTE }],
      ],
    );
    assert.deepEqual(s.nat.mappings, [{ private: LOCAL, public: pub }]);
    assert.equal(s.nat.stats.translatedOut, 2);
    assert.equal(s.nat.stats.translatedIn, 2);
  });

  it('gives distinct private sources distinct public ports', () => {
    const s = natSetup();
    s.client.send(LOCAL, REMOTE, new Uint8Array(1));
    s.client.send(addr(PRIV, 5001), REMOTE, new Uint8Array(1));
    s.sim.runUntilIdle();
    const ports = s.server.received.map((r) => r.path.remote.port);
    assert.equal(new Set(ports).size, 2);
    assert.deepEqual(s.client.received.map((r) => r.path.local.port).sort(), [5000, 5001]);
  });

  it('rebindPort: replies to the old mapping are dropped, the server sees the new source', () => {
    const s = natSetup();
    s.sendAt(0);
    let oldPort = 0;
    s.sim.at(ms(7), () => {
      oldPort = s.nat.mappingFor(LOCAL)!.port;
      s.nat.rebindPort();
    });
    s.sendAt(ms(20));
    s.sim.runUntilIdle();
    const newPort = s.nat.mappingFor(LOCAL)!.port;
    assert.notEqual(newPort, oldPort);
    assert.deepEqual(
      s.server.received.map((r) => r.path.remote),
      [addr(PUB, oldPort), addr(PUB, newPort)],
    );
    // The reply to the old port (arriving at 10 ms) is lost; the one to the new port arrives.
    assert.deepEqual(
      s.client.received.map((r) => r.time),
      [ms(30)],
    );
    assert.deepEqual(s.client.received[0]!.path, { local: LOCAL, remote: REMOTE });
    const drop = s.trace.find((e) => e.kind === 'drop')!;
    assert.equal(drop.cause, 'nat-no-mapping');
    assert.equal(drop.time, ms(10));
    assert.deepEqual(drop.dst, addr(PUB, oldPort));
    assert.equal(s.nat.stats.droppedNoMapping, 1);
    assert.equal(s.nat.stats.portRebinds, 1);
  });

  it('rebindAddress: the old public address is released, mappings move to the new one', () => {
    const NEW = '203.0.113.77';
    const s = natSetup({}, true);
    s.sendAt(0);
    let before = addr('0.0.0.0', 0);
    s.sim.at(ms(7), () => {
      before = s.nat.mappingFor(LOCAL)!;
      s.nat.rebindAddress(NEW);
    });
    s.sendAt(ms(20));
    s.sim.runUntilIdle();
    assert.equal(s.nat.publicAddress, NEW);
    assert.deepEqual(
      s.server.received.map((r) => r.path.remote),
      [before, addr(NEW, before.port)],
    );
    assert.deepEqual(
      s.client.received.map((r) => r.time),
      [ms(30)],
    );
    assert.equal(s.trace.find((e) => e.kind === 'drop')!.cause, 'unroutable');
    assert.equal(s.sim.network.ownerOf(PUB), undefined);
    assert.equal(s.sim.network.ownerOf(NEW), s.nat);
  });

  it('expireMappings and idle timeouts allocate fresh mappings', () => {
    const s = natSetup({ mappingTimeout: seconds(30) });
    s.sendAt(0);
    s.sim.runFor(ms(50));
    const first = s.nat.mappingFor(LOCAL)!;
    s.nat.expireMappings();
    assert.equal(s.nat.mappingFor(LOCAL), undefined);
    assert.deepEqual(s.nat.mappings, []);
    s.sendAt(ms(100));
    s.sim.runFor(ms(100));
    const second = s.nat.mappingFor(LOCAL)!;
    assert.ok(second);
    // Idle for more than 30 s: the mapping lapses and the next datagram gets a new one.
    s.sim.runFor(seconds(31));
    assert.equal(s.nat.mappingFor(LOCAL), undefined);
    s.sendAt(s.sim.now);
    s.sim.runUntilIdle();
    const third = s.nat.mappingFor(LOCAL)!;
    assert.ok(third);
    assert.equal(s.server.received.length, 3);
    assert.equal(s.client.received.length, 3);
    assert.deepEqual(
      s.server.received.map((r) => r.path.remote.port),
      [first.port, second.port, third.port],
    );
  });

  it('rebindEvery rebinds the port periodically until stopped', () => {
    const s = natSetup();
    for (let t = 0; t < ms(1000); t += ms(50)) s.sendAt(t);
    const r = s.nat.rebindEvery(ms(100), 'port');
    s.sim.at(ms(1050), () => r.stop());
    s.sim.runUntilIdle();
    assert.equal(s.nat.stats.portRebinds, 10);
    const ports = new Set(s.server.received.map((x) => x.path.remote.port));
    assert.equal(ports.size, 10);
    assert.equal(s.server.received.length, 20);
  });

  it('rebindEvery address walks to the next free addresses by default', () => {
    const s = natSetup({}, true);
    for (let t = 0; t < ms(300); t += ms(50)) s.sendAt(t);
    const r = s.nat.rebindEvery(ms(100), 'address');
    s.sim.at(ms(299), () => r.stop());
    s.sim.runUntilIdle();
    assert.deepEqual(
      [...new Set(s.server.received.map((x) => x.path.remote.address))],
      ['203.0.113.1', '203.0.113.2', '203.0.113.3'],
    );
    assert.equal(s.nat.stats.addressRebinds, 2);
  });

  it('filters unsolicited inbound datagrams when not endpoint-independent', () => {
    for (const [filtering, delivered] of [
      ['endpoint-independent', 2],
      ['address', 1],
      ['address-and-port', 0],
    ] as const) {
      const s = natSetup({ filtering }, true);
      const other = new ToyEndpoint();
      s.sim.addHost({ endpoint: other, addresses: ['198.51.100.2'] });
      s.sendAt(0);
      s.sim.at(ms(20), () => {
        const pub = s.nat.mappingFor(LOCAL)!;
        // From the same server IP but another port, and from another IP.
        s.server.send(REMOTE, pub, new Uint8Array(1));
        s.sim.hosts[1]!.wake();
        s.server.send(addr(SERVER, 444), pub, new Uint8Array(2));
        other.send(addr('198.51.100.2', 443), pub, new Uint8Array(3));
        s.sim.hosts[2]!.wake();
      });
      s.sim.runUntilIdle();
      // The echo (10 ms) and the reply from the exact remote always pass.
      const sizes = s.client.received.map((x) => x.data.length);
      assert.equal(sizes.length, 2 + delivered, filtering);
      assert.equal(s.nat.stats.droppedFiltered, 2 - delivered, filtering);
    }
  });
});
