import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Path } from '../../../src/common/addr.js';
import type { SeededRandom } from '../../../src/common/random.js';
import { ms, seconds } from '../../../src/common/time.js';
import { forEachSeed } from '../../sim/seeds.js';
import { formatDatagramEvent, Simulation } from '../../sim/sim.js';
import {
  EchoEndpoint,
  PingEndpoint,
  RateSender,
  SinkEndpoint,
  ToyEndpoint,
} from '../../sim/toy-endpoints.js';
import type { Ecn, SimEndpoint, Transmit } from '../../sim/types.js';
import { A, addr, B } from './fixtures.js';

/** Sends random-sized datagrams at random intervals (driven by its forked RNG) and echoes back. */
class Chatter extends ToyEndpoint {
  #rng: SeededRandom;
  #local: ReturnType<typeof addr>;
  #remote: ReturnType<typeof addr>;
  #next = 0;
  #left: number;

  constructor(
    rng: SeededRandom,
    local: ReturnType<typeof addr>,
    remote: ReturnType<typeof addr>,
    count: number,
  ) {
    super();
    this.#rng = rng;
    this.#local = local;
    this.#remote = remote;
    this.#left = count;
  }

  override handleTimeout(now: number): void {
    if (this.#left === 0 || now < this.#next) return;
    const data = new Uint8Array(20 + this.#rng.int(1200));
    this.#rng.fill(data);
    this.send(this.#local, this.#remote, data, (this.#rng.int(3) as Ecn) || 0);
    this.#left--;
    this.#next = now + 1 + this.#rng.int(ms(3));
  }

  override pollTimeout(): number {
    return this.#left > 0 ? this.#next : Number.POSITIVE_INFINITY;
  }

  protected override onDatagram(_now: number, path: Path, data: Uint8Array): void {
    if (data.length > 600) this.send(path.local, path.remote, data.subarray(0, 100));
  }
}

/** A busy scenario exercising every random element; returns its full trace. */
function scenario(seed: number): string[] {
  const PUB = '203.0.113.1';
  const sim = new Simulation({ seed });
  const nat = sim.addNat({ publicAddress: PUB });
  sim.connect(PUB, B, {
    delay: ms(20),
    jitter: ms(5),
    rateBps: 5_000_000,
    queueBytes: 30_000,
    loss: 0.02,
    duplicate: 0.02,
    reorder: { probability: 0.05, extraDelay: ms(4) },
    corrupt: 0.02,
    ecnCeOnQueue: 10_000,
  });
  const client = new Chatter(sim.forkRandom(), addr('192.168.1.2', 5000), addr(B, 443), 300);
  const server = new Chatter(sim.forkRandom(), addr(B, 443), addr(PUB, 1), 0);
  sim.addHost({ endpoint: client, addresses: ['192.168.1.2'], via: nat });
  sim.addHost({ endpoint: server, addresses: [B] });
  nat.rebindEvery(ms(200), 'port');
  sim.at(ms(500), () =>
    sim.link(PUB, B).update({ lossBurst: { pGoodToBad: 0.05, pBadToGood: 0.3, lossInBad: 0.9 } }),
  );
  const trace: string[] = [];
  sim.onDatagram((e) =>
    trace.push(`${formatDatagramEvent(e)} ${createHash('sha1').update(e.data).digest('hex')}`),
  );
  sim.runFor(seconds(2));
  return trace;
}

describe('Simulation determinism', () => {
  it('replays the same trace from the same seed, and a different one from another seed', () => {
    const a = scenario(42);
    const b = scenario(42);
    const c = scenario(43);
    assert.ok(a.length > 500, `trace of ${a.length} events`);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    for (const kind of ['send', 'deliver', 'drop', 'cause=loss', 'cause=nat-no-mapping']) {
      assert.ok(
        a.some((l) => l.includes(` ${kind}`)),
        `trace has ${kind}`,
      );
    }
  });

  it('forks independent generators: endpoints forking more does not change link randomness', () => {
    const losses = (extraForks: number): number => {
      const sim = new Simulation({ seed: 9 });
      sim.connect(A, B, { loss: 0.3 });
      for (let i = 0; i < extraForks; i++) sim.forkRandom();
      const sink = new SinkEndpoint();
      sim.addHost({
        endpoint: new RateSender({
          local: addr(A, 1),
          remote: addr(B, 2),
          count: 200,
          size: 10,
          interval: 10,
        }),
        addresses: [A],
      });
      sim.addHost({ endpoint: sink, addresses: [B] });
      sim.runUntilIdle();
      return sink.received.length;
    };
    assert.equal(losses(0), losses(5));
    assert.equal(
      new Simulation({ seed: 9 }).forkRandom().u32(),
      new Simulation({ seed: 9 }).forkRandom().u32(),
    );
  });
});

describe('Simulation running', () => {
  it('runUntil stops as soon as the predicate holds', () => {
    const sim = new Simulation({ seed: 1 });
    sim.connect(A, B, { delay: ms(10) });
    const sink = new SinkEndpoint();
    sim.addHost({
      endpoint: new RateSender({
        local: addr(A, 1),
        remote: addr(B, 2),
        count: 10,
        size: 10,
        interval: ms(1),
      }),
      addresses: [A],
    });
    sim.addHost({ endpoint: sink, addresses: [B] });
    sim.runUntil(() => sink.received.length === 3);
    assert.equal(sim.now, ms(12));
    assert.equal(sink.received.length, 3);
    sim.runUntil(() => true);
    assert.equal(sim.now, ms(12));
  });

  it('runUntil throws with the seed when a limit is hit or nothing is left to do', () => {
    const mk = (): Simulation => {
      const sim = new Simulation({ seed: 1234 });
      sim.connect(A, B, { delay: ms(10) });
      sim.addHost({
        endpoint: new RateSender({
          local: addr(A, 1),
          remote: addr(B, 2),
          count: 1000,
          size: 10,
          interval: ms(1),
        }),
        addresses: [A],
      });
      sim.addHost({ endpoint: new SinkEndpoint(), addresses: [B] });
      return sim;
    };
    const never = (): boolean => false;
    assert.throws(
      () => mk().runUntil(never, { maxTime: ms(50) }),
      /time limit t=50000µs .*\(seed=1234, replay: SIM_SEED=1234\)/,
    );
    assert.throws(() => mk().runUntil(never, { maxDuration: ms(50) }), /time limit t=50000µs .*seed=1234/);
    assert.throws(
      () => mk().runUntil(never, { maxEvents: 100 }),
      /event limit 100 .*\(seed=1234, replay: SIM_SEED=1234\)/,
    );
    assert.throws(
      () => mk().runUntil(never),
      /no events left at t=1009000µs .*\(seed=1234, replay: SIM_SEED=1234\)/,
    );
  });

  it('runFor advances the clock exactly, running only the events up to the end', () => {
    const sim = new Simulation({ seed: 1 });
    const log: number[] = [];
    sim.at(ms(5), () => log.push(sim.now));
    sim.at(ms(10), () => log.push(sim.now));
    sim.at(ms(11), () => log.push(sim.now));
    sim.runFor(ms(10));
    assert.equal(sim.now, ms(10));
    assert.deepEqual(log, [ms(5), ms(10)]);
    sim.after(ms(2), () => log.push(sim.now));
    sim.runFor(ms(5));
    assert.deepEqual(log, [ms(5), ms(10), ms(11), ms(12)]);
    assert.equal(sim.now, ms(15));
    assert.throws(() => sim.at(ms(14), () => {}), RangeError);
  });

  it('runs scripted link changes at their time', () => {
    const sim = new Simulation({ seed: 1 });
    sim.connect(A, B, { delay: ms(10) });
    const client = new RateSender({
      local: addr(A, 1),
      remote: addr(B, 443),
      count: 40,
      size: 50,
      interval: ms(100),
    });
    const server = new EchoEndpoint();
    sim.addHost({ endpoint: client, addresses: [A] });
    sim.addHost({ endpoint: server, addresses: [B] });
    sim.at(seconds(2), () => sim.link(A, B).update({ blackhole: true }));
    sim.at(seconds(3), () => sim.link(A, B).update({ blackhole: false, delay: ms(30) }));
    sim.runUntilIdle();
    assert.equal(server.received.length, 30);
    assert.equal(server.received[19]!.time, seconds(1.9) + ms(10));
    assert.equal(server.received[20]!.time, seconds(3) + ms(30));
    assert.equal(client.received.length, 30);
    assert.equal(sim.link(A, B).stats.dropped.blackhole, 10);
  });

  it('simulates well over 200k events per second', (t) => {
    // Lean endpoints, so that the simulator's own cost is measured: a fixed-rate sender and an echo.
    const n = 100_000;
    const payload = new Uint8Array(1200);
    const path = { local: addr(A, 1), remote: addr(B, 443) };
    let sent = 0;
    let next = 0;
    let echoed = 0;
    const sender: SimEndpoint = {
      handleDatagram() {
        echoed++;
      },
      handleTimeout() {},
      pollTransmit(now) {
        if (sent >= n || next > now) return undefined;
        sent++;
        next += 100;
        return { path, data: payload, ecn: 0 };
      },
      pollTimeout: () => (sent < n ? next : Number.POSITIVE_INFINITY),
    };
    let reply: Transmit | undefined;
    const echo: SimEndpoint = {
      handleDatagram(_now, p, data) {
        reply = { path: p, data, ecn: 0 };
      },
      handleTimeout() {},
      pollTransmit() {
        const r = reply;
        reply = undefined;
        return r;
      },
      pollTimeout: () => Number.POSITIVE_INFINITY,
    };
    const sim = new Simulation({ seed: 1 });
    sim.connect(A, B, { delay: ms(20), rateBps: 100_000_000, queueBytes: 1_000_000, loss: 0.01 });
    sim.addHost({ endpoint: sender, addresses: [A] });
    sim.addHost({ endpoint: echo, addresses: [B] });
    const t0 = performance.now();
    sim.runUntilIdle();
    const elapsed = (performance.now() - t0) / 1000;
    const rate = sim.events / elapsed;
    t.diagnostic(`${sim.events} events in ${elapsed.toFixed(3)} s: ${Math.round(rate)} events/s`);
    assert.ok(sim.events > 2.9 * n, `${sim.events} events`);
    assert.ok(echoed > 0.97 * n && echoed < n, `${echoed} echoed`);
    assert.ok(rate > 200_000, `${Math.round(rate)} events/s`);
  });
});

describe('forEachSeed', () => {
  it('runs every seed and prefixes failures with the seed', () => {
    const seen: number[] = [];
    forEachSeed([1, 2, 3], (s) => {
      seen.push(s);
    });
    assert.deepEqual(seen, [1, 2, 3]);
    const ran: number[] = [];
    assert.throws(
      () =>
        forEachSeed([5, 6, 7], (s) => {
          ran.push(s);
          assert.equal(s, 5, 'boom');
        }),
      (e: unknown) => {
        assert.ok(e instanceof assert.AssertionError);
        assert.ok(e.message.startsWith('seed=6 (replay: SIM_SEED=6): boom'), e.message);
        assert.ok(e.stack?.startsWith('AssertionError [ERR_ASSERTION]: seed=6 (replay: SIM_SEED=6): boom'));
        return true;
      },
    );
    assert.deepEqual(ran, [5, 6]);
    assert.throws(
      () =>
        forEachSeed([8], () => {
          throw 'plain';
        }),
      { message: 'seed=8 (replay: SIM_SEED=8): plain' },
    );
  });

  it('drives a scenario per seed', () => {
    const rtts: number[][] = [];
    forEachSeed([1, 2, 3], (seed) => {
      const sim = new Simulation({ seed });
      sim.connect(A, B, { delay: ms(10), jitter: ms(4) });
      const ping = new PingEndpoint(addr(A, 1), addr(B, 2), 20);
      sim.addHost({ endpoint: ping, addresses: [A] });
      sim.addHost({ endpoint: new EchoEndpoint(), addresses: [B] });
      sim.runUntil(() => ping.done, { maxDuration: seconds(5) });
      assert.ok(ping.rtts.every((r) => r >= ms(20) && r <= ms(28)));
      rtts.push(ping.rtts);
    });
    assert.equal(rtts.length, 3);
    assert.notDeepEqual(rtts[0], rtts[1]);
  });

  it('runs only SIM_SEED when it is set', () => {
    const saved = process.env['SIM_SEED'];
    try {
      process.env['SIM_SEED'] = '77';
      const seen: number[] = [];
      forEachSeed([1, 2, 3], (s) => {
        seen.push(s);
      });
      assert.deepEqual(seen, [77]);
      process.env['SIM_SEED'] = 'x';
      assert.throws(() => forEachSeed([1], () => {}), /SIM_SEED must be an integer/);
    } finally {
      if (saved === undefined) delete process.env['SIM_SEED'];
      else process.env['SIM_SEED'] = saved;
    }
  });
});
