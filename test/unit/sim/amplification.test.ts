import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressKey, type SocketAddress } from '../../../src/common/addr.js';
import { ms } from '../../../src/common/time.js';
import { Simulation } from '../../sim/sim.js';
import { AmplifyingEndpoint, ToyEndpoint } from '../../sim/toy-endpoints.js';
import { A, addr, B } from './fixtures.js';

function run(factor: number, isValidated: (l: SocketAddress, r: SocketAddress) => boolean = () => false) {
  const sim = new Simulation({ seed: 3 });
  sim.connect(A, B, { delay: ms(5) });
  const client = new ToyEndpoint();
  const server = new AmplifyingEndpoint(factor);
  sim.addHost({ endpoint: client, addresses: [A] });
  const serverHost = sim.addHost({ name: 'server', endpoint: server, addresses: [B] });
  const checker = sim.checkAmplification(serverHost, isValidated);
  client.send(addr(A, 1), addr(B, 443), new Uint8Array(1200));
  sim.at(ms(20), () => {
    client.send(addr(A, 1), addr(B, 443), new Uint8Array(600));
    sim.hosts[0]!.wake();
  });
  sim.runUntilIdle();
  return { checker, client, server };
}

describe('AmplificationChecker', () => {
  it('passes an endpoint that sends exactly 3× what it received', () => {
    const { checker, client } = run(3);
    assert.equal(
      client.received.reduce((n, r) => n + r.data.length, 0),
      3 * 1800,
    );
    assert.deepEqual(checker.violations, []);
    checker.assertNoViolations();
    assert.deepEqual(checker.counters(addr(B, 443), addr(A, 1)), { received: 1800, sent: 5400 });
  });

  it('flags an endpoint that sends 4× before validation, with details', () => {
    const { checker } = run(4);
    // 1200 in → 4800 out as 4 datagrams of 1200: the 4th passes 3600. Then 600 in → 2400 out.
    assert.deepEqual(
      checker.violations.map((v) => [
        v.time,
        addressKey(v.local),
        addressKey(v.remote),
        v.received,
        v.sent,
        v.size,
      ]),
      [
        [ms(5), '10.0.0.2:443', '10.0.0.1:1', 1200, 4800, 1200],
        [ms(25), '10.0.0.2:443', '10.0.0.1:1', 1800, 6000, 1200],
        [ms(25), '10.0.0.2:443', '10.0.0.1:1', 1800, 7200, 1200],
      ],
    );
    assert.throws(
      () => checker.assertNoViolations(),
      /server: 3 anti-amplification violation\(s\) \(RFC 9000 §8\.1\):\n {2}t=5000µs 10\.0\.0\.2:443 -> 10\.0\.0\.1:1: sent 4800 B \(datagram of 1200 B\) > 3 × received 1200 B/,
    );
  });

  it('does not limit validated addresses', () => {
    const { checker } = run(4, (local, remote) => local.port === 443 && remote.address === A);
    checker.assertNoViolations();
    // Once validated, the counters start over (the limit applies again only if the host forgets
    // the address, e.g. after evicting its path).
    assert.ok(checker.counters(addr(B, 443), addr(A, 1))!.sent < 7200);
  });

  it('asks the predicate with the pair being sent on, and counts pairs apart', () => {
    const sim = new Simulation({ seed: 3, defaultLink: { delay: ms(1) } });
    const c1 = new ToyEndpoint();
    const c2 = new ToyEndpoint();
    const server = new AmplifyingEndpoint(4);
    sim.addHost({ endpoint: c1, addresses: [A] });
    sim.addHost({ endpoint: c2, addresses: ['10.0.0.3'] });
    const host = sim.addHost({ endpoint: server, addresses: [B] });
    const asked = new Set<string>();
    const checker = sim.checkAmplification(host, (l, r) => {
      asked.add(`${addressKey(l)}>${addressKey(r)}`);
      return r.address === A;
    });
    c1.send(addr(A, 1), addr(B, 443), new Uint8Array(100));
    c2.send(addr('10.0.0.3', 2), addr(B, 443), new Uint8Array(100));
    sim.runUntilIdle();
    assert.deepEqual([...asked].sort(), ['10.0.0.2:443>10.0.0.1:1', '10.0.0.2:443>10.0.0.3:2']);
    assert.deepEqual(
      checker.violations.map((v) => v.remote),
      [addr('10.0.0.3', 2)],
    );
    checker.detach();
  });
});
