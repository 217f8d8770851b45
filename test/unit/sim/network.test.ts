import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ms } from '../../../src/common/time.js';
import { MAX_TIMEOUTS_PER_INSTANT } from '../../sim/host.js';
import { Simulation } from '../../sim/sim.js';
import { EchoEndpoint, PingEndpoint, SinkEndpoint, ToyEndpoint } from '../../sim/toy-endpoints.js';
import type { DatagramEvent, SimEndpoint } from '../../sim/types.js';
import { A, addr, B } from './fixtures.js';

describe('Network routing', () => {
  it('routes by destination address and delivers the reverse path to the endpoint', () => {
    const sim = new Simulation({ seed: 1 });
    sim.connect(A, B, { delay: ms(10) }, { delay: ms(30) });
    const ping = new PingEndpoint(addr(A, 5000), addr(B, 443), 3, 200);
    const echo = new EchoEndpoint();
    sim.addHost({ endpoint: ping, addresses: [A] });
    sim.addHost({ endpoint: echo, addresses: [B] });
    sim.runUntil(() => ping.done);
    assert.deepEqual(ping.rtts, [ms(40), ms(40), ms(40)]);
    assert.equal(sim.now, ms(120));
    const r = echo.received[0]!;
    assert.deepEqual(r.path, { local: addr(B, 443), remote: addr(A, 5000) });
    assert.equal(r.data.length, 200);
    assert.deepEqual(ping.received[0]!.path, { local: addr(A, 5000), remote: addr(B, 443) });
  });

  it('drops datagrams to an address nobody owns, and counts them', () => {
    const sim = new Simulation({ seed: 1, defaultLink: { delay: ms(1) } });
    const trace: DatagramEvent[] = [];
    sim.onDatagram((e) => trace.push(e));
    const src = new ToyEndpoint();
    const sink = new SinkEndpoint();
    sim.addHost({ name: 'src', endpoint: src, addresses: [A] });
    sim.addHost({ name: 'sink', endpoint: sink, addresses: [B] });
    src.send(addr(A, 1), addr('10.0.0.99', 2), new Uint8Array(10));
    src.send(addr(A, 1), addr(B, 2), new Uint8Array(11));
    sim.runUntilIdle();
    assert.equal(sink.received.length, 1);
    assert.equal(sim.network.stats.unroutable, 1);
    const drop = trace.find((e) => e.kind === 'drop')!;
    assert.equal(drop.cause, 'unroutable');
    assert.equal(drop.dst.address, '10.0.0.99');
    assert.equal(drop.time, ms(1));
    // The default link was created per pair on first use.
    assert.ok(sim.network.link(A, '10.0.0.99'));
    assert.equal(sim.link(A, B).stats.delivered, 1);
  });

  it('drops datagrams between unconnected addresses when there is no default link', () => {
    const sim = new Simulation({ seed: 1 });
    const trace: DatagramEvent[] = [];
    sim.onDatagram((e) => trace.push(e));
    const src = new ToyEndpoint();
    const sink = new SinkEndpoint();
    sim.addHost({ endpoint: src, addresses: [A] });
    sim.addHost({ endpoint: sink, addresses: [B] });
    src.send(addr(A, 1), addr(B, 2), new Uint8Array(10));
    sim.runUntilIdle();
    assert.equal(sink.received.length, 0);
    assert.equal(sim.network.stats.noLink, 1);
    assert.deepEqual(
      trace.map((e) => e.cause),
      [undefined, 'no-link'],
    );
  });

  it('drops datagrams in flight to an address removed meanwhile', () => {
    const sim = new Simulation({ seed: 1 });
    sim.connect(A, B, { delay: ms(10) });
    const src = new ToyEndpoint();
    const sink = new SinkEndpoint();
    sim.addHost({ endpoint: src, addresses: [A] });
    const sinkHost = sim.addHost({ endpoint: sink, addresses: [B] });
    src.send(addr(A, 1), addr(B, 2), new Uint8Array(10));
    sim.at(ms(5), () => sinkHost.removeAddress(B));
    sim.runUntilIdle();
    assert.equal(sink.received.length, 0);
    assert.equal(sim.network.stats.unroutable, 1);
    assert.equal(sinkHost.owns(B), false);
    assert.throws(() => sinkHost.removeAddress(B), /does not own/);
  });

  it('gives each address one owner', () => {
    const sim = new Simulation({ seed: 1 });
    sim.addHost({ endpoint: new SinkEndpoint(), addresses: [A] });
    assert.throws(() => sim.addHost({ endpoint: new SinkEndpoint(), addresses: [A] }), /already owned/);
    assert.throws(() => sim.connect(A, A), RangeError);
    sim.connect(A, B);
    assert.throws(() => sim.connect(B, A), /already connected/);
  });
});

describe('Host', () => {
  it('lets a multi-homed client send from each of its addresses', () => {
    const C2 = '192.168.1.7';
    const sim = new Simulation({ seed: 1 });
    sim.connect(A, B, { delay: ms(10) });
    sim.connect(C2, B, { delay: ms(25) });
    const client = new ToyEndpoint();
    const server = new EchoEndpoint();
    const host = sim.addHost({ endpoint: client, addresses: [A] });
    host.addAddress(C2);
    assert.deepEqual(host.addresses, [A, C2]);
    sim.addHost({ endpoint: server, addresses: [B] });
    client.send(addr(A, 1111), addr(B, 443), new Uint8Array(10));
    client.send(addr(C2, 2222), addr(B, 443), new Uint8Array(10));
    sim.runUntilIdle();
    assert.deepEqual(
      server.received.map((r) => [r.time, r.path.remote]),
      [
        [ms(10), addr(A, 1111)],
        [ms(25), addr(C2, 2222)],
      ],
    );
    assert.deepEqual(
      client.received.map((r) => [r.time, r.path.local]),
      [
        [ms(20), addr(A, 1111)],
        [ms(50), addr(C2, 2222)],
      ],
    );
  });

  it('lets a server listen on several addresses', () => {
    const B2 = '10.0.0.3';
    const sim = new Simulation({ seed: 1, defaultLink: { delay: ms(1) } });
    const client = new ToyEndpoint();
    const server = new EchoEndpoint();
    sim.addHost({ endpoint: client, addresses: [A] });
    sim.addHost({ endpoint: server, addresses: [B, B2] });
    client.send(addr(A, 1), addr(B, 443), new Uint8Array(1));
    client.send(addr(A, 1), addr(B2, 443), new Uint8Array(2));
    sim.runUntilIdle();
    assert.deepEqual(
      client.received.map((r) => [r.path.remote.address, r.data.length]),
      [
        [B, 1],
        [B2, 2],
      ],
    );
  });

  it('throws on a transmit from an address the host does not own', () => {
    const sim = new Simulation({ seed: 5 });
    const client = new ToyEndpoint();
    client.send(addr('10.9.9.9', 1), addr(B, 2), new Uint8Array(1));
    sim.addHost({ name: 'liar', endpoint: client, addresses: [A] });
    assert.throws(
      () => sim.runUntilIdle(),
      /liar: transmit from 10\.9\.9\.9:1 to 10\.0\.0\.2:2, an address it does not own \(owns: 10\.0\.0\.1\)/,
    );
  });

  it('copies datagrams: the sender may reuse its buffer, the receiver may modify its own', () => {
    const sim = new Simulation({ seed: 1 });
    sim.connect(A, B, { delay: ms(1) });
    const client = new ToyEndpoint();
    const seen: number[] = [];
    const server: SimEndpoint = {
      handleDatagram(_now, _path, data) {
        seen.push(data[0]!);
        data[0] = 0xff;
      },
      handleTimeout() {},
      pollTransmit: () => undefined,
      pollTimeout: () => Number.POSITIVE_INFINITY,
    };
    sim.addHost({ endpoint: client, addresses: [A] });
    sim.addHost({ endpoint: server, addresses: [B] });
    const buf = new Uint8Array([1]);
    client.send(addr(A, 1), addr(B, 2), buf);
    sim.runFor(0); // pumped at t=0
    buf[0] = 2;
    client.send(addr(A, 1), addr(B, 2), buf);
    sim.hosts[0]!.wake();
    sim.runUntilIdle();
    assert.deepEqual(seen, [1, 2]);
    assert.equal(buf[0], 2);
  });

  it('fires the timer at pollTimeout(), re-arming when the deadline moves', () => {
    const sim = new Simulation({ seed: 1 });
    const calls: number[] = [];
    let deadlines = [ms(10), ms(5), ms(30), ms(20)];
    let deadline = Number.POSITIVE_INFINITY;
    const ep: SimEndpoint = {
      handleDatagram() {},
      handleTimeout(now) {
        calls.push(now);
        deadline = deadlines.shift() ?? Number.POSITIVE_INFINITY;
      },
      pollTransmit: () => undefined,
      pollTimeout: () => deadline,
    };
    const host = sim.addHost({ endpoint: ep, addresses: [A] });
    // Deadline moves: 10 ms, then earlier (5 ms), then later (30 ms) before anything fires.
    deadline = deadlines.shift()!;
    host.wake();
    sim.runFor(ms(1));
    deadline = deadlines.shift()!;
    host.wake();
    sim.runFor(ms(1));
    assert.equal(host.deadline, ms(5));
    deadline = deadlines.shift()!;
    host.wake();
    deadlines = [ms(40)];
    sim.runUntilIdle();
    assert.deepEqual(calls, [ms(30), ms(40)]);
    assert.equal(host.stats.timeouts, 2);
  });

  it('handles a timeout at or before now at once', () => {
    const sim = new Simulation({ seed: 1 });
    sim.connect(A, B);
    const sink = new SinkEndpoint();
    // Asks for a timeout at 0 and only sends once it has had it.
    class Eager extends ToyEndpoint {
      fired = 0;
      override handleTimeout(): void {
        if (++this.fired === 1) this.send(addr(A, 1), addr(B, 1), new Uint8Array(3));
      }
      override pollTimeout(): number {
        return this.fired === 0 ? 0 : Number.POSITIVE_INFINITY;
      }
    }
    const ep = new Eager();
    sim.addHost({ endpoint: ep, addresses: [A] });
    sim.addHost({ endpoint: sink, addresses: [B] });
    sim.runUntilIdle();
    assert.equal(ep.fired, 1);
    assert.equal(sink.received.length, 1);
    assert.equal(sink.received[0]!.time, 0);
  });

  it('throws when an endpoint keeps asking for a timeout at the same instant', () => {
    const sim = new Simulation({ seed: 1 });
    const ep: SimEndpoint = {
      handleDatagram() {},
      handleTimeout() {},
      pollTransmit: () => undefined,
      pollTimeout: () => 0,
    };
    sim.addHost({ name: 'stuck', endpoint: ep, addresses: [A] });
    assert.throws(
      () => sim.runUntilIdle(),
      new RegExp(`stuck: endpoint asked for a timeout at t=0µs more than ${MAX_TIMEOUTS_PER_INSTANT} times`),
    );
  });
});
