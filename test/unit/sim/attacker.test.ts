import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ms } from '../../../src/common/time.js';
import { Simulation } from '../../sim/sim.js';
import { EchoEndpoint, numbered, SinkEndpoint, seqOf, ToyEndpoint } from '../../sim/toy-endpoints.js';
import type { DatagramEvent } from '../../sim/types.js';
import { A, addr, B } from './fixtures.js';

const VICTIM = '10.0.0.66';

function setup() {
  const sim = new Simulation({ seed: 31, defaultLink: { delay: ms(2) } });
  sim.connect(A, B, { delay: ms(10) });
  const client = new ToyEndpoint();
  const server = new EchoEndpoint();
  const victim = new SinkEndpoint();
  const clientHost = sim.addHost({ name: 'client', endpoint: client, addresses: [A] });
  sim.addHost({ name: 'server', endpoint: server, addresses: [B] });
  sim.addHost({ name: 'victim', endpoint: victim, addresses: [VICTIM] });
  const trace: DatagramEvent[] = [];
  sim.onDatagram((e) => trace.push(e));
  return { sim, client, server, victim, clientHost, trace };
}

describe('OffPathAttacker', () => {
  it('captures copies of datagrams crossing a link and replays them from a spoofed source', () => {
    const s = setup();
    const attacker = s.sim.addAttacker('mallory');
    const stop = attacker.capture(s.sim.link(A, B));
    s.client.send(addr(A, 4000), addr(B, 443), numbered(7, 1200, 0xab), 2);
    s.sim.runFor(ms(30));
    stop();
    assert.equal(attacker.captured.length, 1);
    const c = attacker.captured[0]!;
    assert.deepEqual([c.src, c.dst, c.time, c.data.length, c.ecn], [addr(A, 4000), addr(B, 443), 0, 1200, 2]);

    attacker.replay(c, { from: addr(VICTIM, 9999), delay: ms(3) });
    s.sim.runUntilIdle();
    // The server got the original, then the replay carrying the spoofed source...
    assert.equal(s.server.received.length, 2);
    const replayed = s.server.received[1]!;
    assert.equal(replayed.time, ms(33));
    assert.deepEqual(replayed.path, { local: addr(B, 443), remote: addr(VICTIM, 9999) });
    assert.deepEqual(replayed.data, s.server.received[0]!.data);
    assert.equal(seqOf(replayed.data), 7);
    // ...and reflected its answer to the victim.
    assert.equal(s.victim.received.length, 1);
    assert.deepEqual(s.victim.received[0]!.path.remote, addr(B, 443));
    const send = s.trace.find((e) => e.kind === 'send' && e.where === 'mallory')!;
    assert.deepEqual([send.src, send.time], [addr(VICTIM, 9999), ms(30)]);
    assert.equal(s.sim.network.stats.injected, 1);
  });

  it('keeps its own copy of captured data', () => {
    const s = setup();
    const attacker = s.sim.addAttacker();
    attacker.capture(s.sim.link(A, B), (dg) => dg.data.length > 5);
    s.client.send(addr(A, 1), addr(B, 443), new Uint8Array(3));
    s.client.send(addr(A, 1), addr(B, 443), new Uint8Array(8).fill(1));
    s.sim.runUntilIdle();
    assert.equal(attacker.captured.length, 1);
    s.server.received[1]!.data.fill(9);
    assert.deepEqual(attacker.captured[0]!.data, new Uint8Array(8).fill(1));
  });

  it('sends arbitrary spoofed octets', () => {
    const s = setup();
    const attacker = s.sim.addAttacker();
    attacker.send(new Uint8Array([1, 2, 3]), addr('1.2.3.4', 5), addr(B, 443), { delay: ms(1), ecn: 3 });
    s.sim.runUntilIdle();
    assert.deepEqual(
      s.server.received.map((r) => [r.time, r.path.remote, r.ecn, [...r.data]]),
      [[ms(1), addr('1.2.3.4', 5), 3, [1, 2, 3]]],
    );
  });
});

describe('OnPathAttacker', () => {
  it('rewrites sources of datagrams in flight until stopped', () => {
    const s = setup();
    const mitm = s.sim.onPathAttacker(s.sim.link(A, B));
    mitm.rewriteSources((src) => (src.port === 4000 ? addr(VICTIM, 1) : undefined));
    s.client.send(addr(A, 4000), addr(B, 443), new Uint8Array(10));
    s.client.send(addr(A, 4001), addr(B, 443), new Uint8Array(11));
    s.sim.runFor(ms(20));
    mitm.stop();
    s.client.send(addr(A, 4000), addr(B, 443), new Uint8Array(12));
    s.clientHost.wake();
    s.sim.runUntilIdle();
    assert.deepEqual(
      s.server.received.map((r) => [r.data.length, r.path.remote]),
      [
        [10, addr(VICTIM, 1)],
        [11, addr(A, 4001)],
        [12, addr(A, 4000)],
      ],
    );
    assert.equal(mitm.rewritten, 1);
    // The server answers the rewritten source.
    assert.deepEqual(
      s.victim.received.map((r) => r.data.length),
      [10],
    );
    assert.deepEqual(
      s.client.received.map((r) => r.data.length),
      [11, 12],
    );
  });
});
