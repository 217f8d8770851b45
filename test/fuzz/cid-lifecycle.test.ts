// Two-party property test of the connection-ID lifecycle: peer A's LocalCids issues CIDs to
// peer B's RemoteCids through encoded frames over a lossy, duplicating, reordering channel,
// while B migrates (binds, switches, releases paths) and A rotates (Retire Prior To jumps).
// Invariants are checked after every step; both sides follow the rules, so no TransportError
// may ever be thrown. PROPERTY_SEED=<n> CID_FUZZ_RUNS=1 replays the failing run it prints
// (CID_FUZZ_TRACE=1 logs every step).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hex } from '../../src/common/bytes.js';
import { SeededRandom } from '../../src/common/random.js';
import { RandomConnectionIdGenerator } from '../../src/endpoint/cid-generator.js';
import { type CidRecord, LocalCids } from '../../src/paths/local-cids.js';
import { RemoteCids } from '../../src/paths/remote-cids.js';
import { decodeFrame } from '../../src/wire/frames.js';
import { BufferReader } from '../../src/wire/reader.js';
import { BufferWriter } from '../../src/wire/writer.js';

const BASE_SEED = Number(process.env.PROPERTY_SEED ?? 0x5eed) >>> 0;
const RUNS = Number(process.env.CID_FUZZ_RUNS ?? 100_000);
const STEPS = 40;
const MAX_PATHS = 4;
const TRACE = process.env.CID_FUZZ_TRACE === '1';

interface Packet {
  readonly payload: Uint8Array;
  /** Frames to acknowledge or declare lost at the sender; undefined for a network duplicate. */
  readonly records: CidRecord[] | undefined;
  /** Destination CID (B → A packets): A routes by it and checks §19.16 against it. */
  readonly dcid: Uint8Array;
}

const coverage = {
  rotations: 0,
  pathsLostCid: 0,
  unroutable: 0,
  retireBelowRpt: 0,
  preferredProbes: 0,
  duplicates: 0,
  spuriousLosses: 0,
  zeroLengthRuns: 0,
};

function tokenFor(cid: Uint8Array): Uint8Array {
  const t = new Uint8Array(16);
  for (let i = 0; i < 16; i++) t[i] = (cid.length > 0 ? cid[i % cid.length]! : 0) ^ (i * 37 + 11);
  return t;
}

class Run {
  readonly rng: SeededRandom;
  readonly a: LocalCids;
  readonly b: RemoteCids;
  readonly limit: number;
  readonly maxActive: number;
  lastRpt = 0;
  readonly zero: boolean;
  readonly toB: Packet[] = [];
  readonly toA: Packet[] = [];
  /** Records whose ACK arrives after the sender already declared them lost. */
  readonly lateAtA: CidRecord[][] = [];
  readonly lateAtB: CidRecord[][] = [];
  /** A's routing table, built from its events: hex(cid) → sequence. */
  readonly routing = new Map<string, number>();
  /** B's tokens in use, built from its events. */
  readonly tokens = new Set<string>();
  /** Sequence → the only path it was ever bound to (§9.5). */
  readonly boundTo = new Map<number, number>();
  readonly paths: number[] = [0];
  nextPathId = 1;
  readonly loss: number;
  readonly ackLoss: number;

  constructor(seed: number) {
    const rng = new SeededRandom(seed);
    this.rng = rng;
    this.zero = rng.next() < 0.03;
    const length = this.zero ? 0 : 4 + rng.int(17);
    const gen = new RandomConnectionIdGenerator(length, rng.fork());
    const preferred = !this.zero && rng.next() < 0.5;
    this.maxActive = 2 + rng.int(7);
    this.a = new LocalCids({
      generator: gen,
      resetTokenFor: tokenFor,
      initialCid: gen.generate(),
      ...(preferred ? { preferredAddressCid: gen.generate() } : {}),
      maxActive: this.maxActive,
    });
    this.limit = 2 + rng.int(7);
    const seq0 = this.a.get(0)!;
    this.b = new RemoteCids({
      initialCid: seq0.cid,
      activeLimit: this.limit,
      ...(rng.next() < 0.5 ? { initialResetToken: seq0.resetToken } : {}),
    });
    if (preferred) {
      const p = this.a.get(1)!;
      this.b.setPreferredAddressCid(p.cid, p.resetToken);
    }
    this.a.setPeerActiveLimit(this.limit);
    this.b.bind(0);
    this.loss = rng.next() * 0.3;
    this.ackLoss = rng.next() * 0.3;
    if (this.zero) coverage.zeroLengthRuns++;
  }

  step(): void {
    const rng = this.rng;
    const x = rng.int(100);
    if (x < 15) this.sendA();
    else if (x < 30) this.sendB();
    else if (x < 48) this.deliverToB(rng.int(this.toB.length));
    else if (x < 66) this.deliverToA(rng.int(this.toA.length));
    else if (x < 72) this.drop();
    else if (x < 76) this.flushLate();
    else if (x < 82) this.newPath();
    else if (x < 88) this.switchPath();
    else if (x < 92) this.releasePath();
    else if (x < 95) this.probePreferred();
    else if (x < 99) this.a.rotate();
    else this.b.retireHandshakeCid();
    if (TRACE) this.trace(x);
    this.check();
  }

  sendA(): void {
    if (!this.a.hasPendingFrames()) return;
    const w = new BufferWriter(new Uint8Array(30 + this.rng.int(150)));
    const records: CidRecord[] = [];
    this.a.writeFrames(w, records);
    if (records.length > 0) this.toB.push({ payload: w.finish(), records, dcid: new Uint8Array(0) });
  }

  /** Sends B's pending RETIRE_CONNECTION_IDs on some path that has a CID. */
  sendB(): boolean {
    if (!this.b.hasPendingFrames()) return false;
    const start = this.rng.int(this.paths.length);
    for (let i = 0; i < this.paths.length; i++) {
      const cur = this.b.current(this.paths[(start + i) % this.paths.length]!);
      if (!cur) continue;
      const w = new BufferWriter(new Uint8Array(2 + this.rng.int(40)));
      const records: CidRecord[] = [];
      this.b.writeFrames(w, records, cur.sequence);
      if (records.length > 0) this.toA.push({ payload: w.finish(), records, dcid: cur.cid });
      return true;
    }
    return false;
  }

  #take(queue: Packet[], index: number): Packet | undefined {
    const p = queue[index];
    if (!p) return undefined;
    if (this.rng.next() < 0.1) {
      queue[index] = { payload: p.payload, records: undefined, dcid: p.dcid };
      coverage.duplicates++;
    } else {
      queue[index] = queue[queue.length - 1]!;
      queue.pop();
    }
    return p;
  }

  deliverToB(index: number, reliable = false): void {
    const p = this.#take(this.toB, index);
    if (!p) return;
    if (!reliable && this.rng.next() < this.loss) {
      if (p.records) for (const r of p.records) this.a.onLost(r);
      return;
    }
    const r = new BufferReader(p.payload);
    while (!r.done) {
      const f = decodeFrame(r);
      assert.equal(f.type, 'new_connection_id');
      if (f.type !== 'new_connection_id') continue;
      if (f.sequence < this.b.retirePriorTo) coverage.retireBelowRpt++;
      const lost = this.b.onNewConnectionId(f);
      if (lost.length > 0) coverage.pathsLostCid += lost.length;
      this.rebindAll(...lost);
    }
    if (p.records) this.#ackAt(p.records, this.a, this.lateAtA, reliable);
  }

  deliverToA(index: number, reliable = false): void {
    const p = this.#take(this.toA, index);
    if (!p) return;
    // The endpoint routes by DCID: a CID retired meanwhile no longer reaches the connection.
    this.syncEvents();
    const routed = this.routing.get(hex(p.dcid));
    if ((!reliable && this.rng.next() < this.loss) || routed === undefined) {
      if (routed === undefined) coverage.unroutable++;
      if (p.records) for (const r of p.records) this.b.onLost(r);
      return;
    }
    assert.equal(this.a.lookup(p.dcid), routed);
    const r = new BufferReader(p.payload);
    while (!r.done) {
      const f = decodeFrame(r);
      assert.equal(f.type, 'retire_connection_id');
      if (f.type === 'retire_connection_id') this.a.onRetireConnectionId(f.sequence, p.dcid);
    }
    if (p.records) this.#ackAt(p.records, this.b, this.lateAtB, reliable);
  }

  #ackAt(records: CidRecord[], sender: LocalCids | RemoteCids, late: CidRecord[][], reliable: boolean): void {
    if (!reliable && this.rng.next() < this.ackLoss) {
      // The ACK is lost: the sender declares the frames lost (spuriously); the ACK may turn up later.
      coverage.spuriousLosses++;
      for (const r of records) sender.onLost(r);
      if (this.rng.next() < 0.5) late.push(records);
      return;
    }
    for (const r of records) sender.onAcked(r);
  }

  drop(): void {
    const toB = this.rng.next() < 0.5;
    const q = toB ? this.toB : this.toA;
    if (q.length === 0) return;
    const i = this.rng.int(q.length);
    const p = q[i]!;
    q[i] = q[q.length - 1]!;
    q.pop();
    if (!p.records) return;
    for (const r of p.records) (toB ? this.a : this.b).onLost(r);
  }

  flushLate(): void {
    for (const rs of this.lateAtA) for (const r of rs) this.a.onAcked(r);
    for (const rs of this.lateAtB) for (const r of rs) this.b.onAcked(r);
    this.lateAtA.length = 0;
    this.lateAtB.length = 0;
  }

  newPath(): void {
    if (this.paths.length >= MAX_PATHS) return;
    const id = this.nextPathId++;
    if (this.b.bind(id)) this.paths.push(id);
  }

  probePreferred(): void {
    if (this.paths.length >= MAX_PATHS) return;
    const id = this.nextPathId++;
    if (this.b.bind(id, 1)) {
      coverage.preferredProbes++;
      this.paths.push(id);
    }
  }

  switchPath(): void {
    this.b.switchCid(this.paths[this.rng.int(this.paths.length)]!);
  }

  releasePath(): void {
    if (this.paths.length < 2) return;
    const i = 1 + this.rng.int(this.paths.length - 1);
    this.b.release(this.paths[i]!);
    this.paths.splice(i, 1);
  }

  /** Moves paths that lost their CID to fresh ones, the initial path first. */
  rebindAll(...lost: number[]): void {
    if (lost.length === 0) return;
    for (const p of this.paths) if (!this.b.current(p)) this.b.bind(p);
  }

  /** Applies A's and B's events to the routing table and the token set. */
  syncEvents(): void {
    const { a, b } = this;
    for (let e = a.pollEvent(); e; e = a.pollEvent()) {
      const k = hex(e.cid);
      if (e.type === 'issued') {
        assert.equal(this.routing.has(k), false, 'a CID issued twice');
        this.routing.set(k, e.sequence);
      } else {
        assert.equal(this.routing.get(k), e.sequence);
        this.routing.delete(k);
      }
    }
    for (let e = b.pollEvent(); e; e = b.pollEvent()) {
      if (e.type === 'active-token') this.tokens.add(hex(e.token));
      else this.tokens.delete(hex(e.token));
    }
  }

  check(): void {
    const { a, b } = this;
    this.syncEvents();
    assert.equal(this.routing.size, a.activeCount, 'routing table follows the events');
    // Never more than the limit unretired at B.
    assert.ok(b.activeCount <= this.limit, 'active_connection_id_limit exceeded');
    // Every CID B holds is still accepted by A under the same sequence.
    if (!this.zero) {
      for (const e of b.held())
        assert.equal(a.lookup(e.cid), e.sequence, `B holds seq ${e.sequence} that A retired`);
    }
    // Retire Prior To always comes with a fresh CID: the initial path is never left without one.
    assert.ok(this.zero || b.current(0) !== undefined, 'B has no CID for its initial path');
    // No CID on two paths at once, nor ever on two different paths (§9.5).
    if (!this.zero) {
      const seen = new Set<number>();
      for (const p of this.paths) {
        const cur = b.current(p);
        if (!cur) continue;
        assert.equal(seen.has(cur.sequence), false, `seq ${cur.sequence} bound to two paths`);
        seen.add(cur.sequence);
        const first = this.boundTo.get(cur.sequence);
        assert.ok(
          first === undefined || first === p,
          `seq ${cur.sequence} reused on path ${p} after ${first}`,
        );
        this.boundTo.set(cur.sequence, p);
      }
    }
    if (this.rng.next() < 0.1) this.checkRouting();
    if (this.rng.next() < 0.05) this.checkTokens();
  }

  /** The routing table built from A's events is exactly A's active set. */
  checkRouting(): void {
    for (const e of this.a.active()) assert.equal(this.routing.get(hex(e.cid)), e.sequence, 'routing table');
  }

  trace(action: number): void {
    const b = this.b;
    console.log(
      `action ${action} paths ${JSON.stringify(this.paths.map((p) => [p, b.current(p)?.sequence]))}`,
      `B holds ${[...b.held()].map((e) => e.sequence)} A active ${[...this.a.active()].map((e) => e.sequence)}`,
      `rpt A ${this.a.retirePriorTo} B ${b.retirePriorTo} in flight ${this.toB.length}/${this.toA.length}`,
    );
  }

  checkTokens(): void {
    let inUse = 0;
    for (const e of this.b.held()) {
      if (!e.used) continue;
      const t = this.a.get(e.sequence)?.resetToken;
      if (!t) continue;
      // Sequence 0's token is only known to B when it came in the transport parameters.
      const known = e.sequence !== 0 || this.tokens.has(hex(t));
      if (known) {
        inUse++;
        assert.equal(this.b.matchesStatelessReset(t), true, `token of seq ${e.sequence}`);
        assert.equal(this.tokens.has(hex(t)), true);
      }
    }
    assert.equal(this.tokens.size, inUse, 'token events follow the CIDs in use');
  }

  /** Delivers everything reliably until both sides are quiescent. */
  drain(): void {
    for (let round = 0; round < 50; round++) {
      this.flushLate();
      for (const p of this.paths) if (!this.b.current(p)) this.b.bind(p);
      while (this.a.hasPendingFrames()) this.sendA();
      if (this.b.hasPendingFrames()) assert.ok(this.sendB(), 'B has RETIREs to send but no CID on any path');
      while (this.b.hasPendingFrames() && this.sendB()) {}
      while (this.toB.length > 0) this.deliverToB(0, true);
      while (this.toA.length > 0) this.deliverToA(0, true);
      this.check();
      this.checkRouting();
      if (
        !this.a.hasPendingFrames() &&
        !this.b.hasPendingFrames() &&
        this.lateAtA.length === 0 &&
        this.lateAtB.length === 0
      ) {
        break;
      }
    }
    assert.equal(this.a.hasPendingFrames(), false, 'A never quiesced');
    assert.equal(this.b.hasPendingFrames(), false, 'B never quiesced');
    if (this.zero) {
      assert.equal(this.a.activeCount, 1);
      return;
    }
    // Every sequence B retired was RETIRE'd to A, and A retired nothing B still holds.
    const held = [...this.b.held()].map((e) => e.sequence).sort((x, y) => x - y);
    const active = [...this.a.active()].map((e) => e.sequence).sort((x, y) => x - y);
    assert.deepEqual(active, held, 'A and B agree on the active CIDs');
    assert.equal(this.a.rotating, false, 'rotation completed');
    assert.equal(this.b.pendingRetireCount, 0);
    // LocalCids keeps min(peer limit, its cap) active once rotations settled.
    assert.equal(this.a.activeCount, Math.min(this.limit, this.maxActive));
  }
}

describe('connection-ID lifecycle (two-party property test)', () => {
  it(`keeps A and B consistent over ${RUNS} random interleavings`, () => {
    const t0 = performance.now();
    for (let i = 0; i < RUNS; i++) {
      const seed = (BASE_SEED + i) >>> 0;
      let step = -1;
      try {
        const run = new Run(seed);
        for (step = 0; step < STEPS; step++) {
          run.step();
          if (run.a.retirePriorTo !== run.lastRpt) {
            run.lastRpt = run.a.retirePriorTo;
            coverage.rotations++;
          }
        }
        step = STEPS;
        run.drain();
      } catch (e) {
        assert.fail(
          `run ${i} failed at step ${step} (PROPERTY_SEED=${seed} CID_FUZZ_RUNS=1 replays it): ` +
            `${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`,
        );
      }
    }
    const elapsed = performance.now() - t0;
    if (RUNS >= 10_000) {
      // The interesting situations actually happened.
      assert.ok(
        coverage.pathsLostCid > 100,
        `paths losing their CID to Retire Prior To: ${coverage.pathsLostCid}`,
      );
      assert.ok(coverage.unroutable > 100, `packets to retired CIDs: ${coverage.unroutable}`);
      assert.ok(
        coverage.retireBelowRpt > 100,
        `CIDs arriving below Retire Prior To: ${coverage.retireBelowRpt}`,
      );
      assert.ok(coverage.preferredProbes > 100, `preferred-address probes: ${coverage.preferredProbes}`);
      assert.ok(coverage.zeroLengthRuns > 100);
      assert.ok(coverage.rotations > 1000, `rotations: ${coverage.rotations}`);
    }
    console.log(`cid-lifecycle: ${RUNS} runs in ${Math.round(elapsed)} ms`, coverage);
  });
});
