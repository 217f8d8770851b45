import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type CongestionAlgorithm,
  type CongestionController,
  type CongestionPacket,
  createCongestionController,
} from '../../../src/recovery/congestion.js';
import { initialWindow, minimumWindow } from '../../../src/recovery/congestion-base.js';
import { CUBIC_ALPHA, CUBIC_BETA, CUBIC_C, Cubic } from '../../../src/recovery/cubic.js';
import { NewReno } from '../../../src/recovery/new-reno.js';
import { RttEstimator } from '../../../src/recovery/rtt.js';

const MDS = 1200;
const MS = 1000;

function rttOf(us: number): RttEstimator {
  const r = new RttEstimator();
  r.update(us, 0, true, 0, 0);
  return r;
}

/** Sends a full window at `now`, acknowledges it all one RTT later; returns the new time. */
function fullRound(cc: CongestionController, now: number, rtt: RttEstimator, appLimited = false): number {
  const sent: CongestionPacket[] = [];
  while (cc.canSend(MDS)) {
    cc.onPacketSent(now, MDS);
    sent.push({ size: MDS, timeSent: now });
  }
  const ackAt = now + rtt.smoothed;
  cc.onPacketsAcked(ackAt, sent, rtt, appLimited);
  return ackAt;
}

/** Ack-clocked sender: every packet is acknowledged one RTT after it was sent. */
class AckClock {
  readonly cc: CongestionController;
  readonly rtt: RttEstimator;
  queue: CongestionPacket[] = [];
  head = 0;
  now = 0;
  constructor(cc: CongestionController, rtt: RttEstimator) {
    this.cc = cc;
    this.rtt = rtt;
    this.fill();
  }
  fill(): void {
    while (this.cc.canSend(MDS)) {
      this.cc.onPacketSent(this.now, MDS);
      this.queue.push({ size: MDS, timeSent: this.now });
    }
  }
  /** Acknowledges the oldest packet (then refills the window unless `appLimited`). */
  step(appLimited = false, sampleOf?: (window: number) => number): void {
    const p = this.queue[this.head++]!;
    this.now = p.timeSent + this.rtt.smoothed;
    if (sampleOf) this.rtt.latest = sampleOf(this.cc.window);
    this.cc.onPacketsAcked(this.now, [p], this.rtt, appLimited);
    if (!appLimited) this.fill();
  }
  runUntil(t: number, appLimited = false): void {
    while (this.head < this.queue.length && this.queue[this.head]!.timeSent + this.rtt.smoothed <= t)
      this.step(appLimited);
  }
  loseOldest(): void {
    const p = this.queue[this.head++]!;
    this.cc.onPacketsLost(this.now, [p], false);
  }
  get flight(): number {
    return this.queue.length - this.head;
  }
}

describe('congestion window sizes (RFC 9002 §7.2)', () => {
  it('initial window = min(10·mds, max(14720, 2·mds)); minimum = 2·mds', () => {
    assert.equal(initialWindow(1200), 12_000);
    assert.equal(initialWindow(1472), 14_720);
    assert.equal(initialWindow(1500), 14_720);
    assert.equal(initialWindow(9000), 18_000);
    assert.equal(minimumWindow(1200), 2400);
    for (const algo of ['newreno', 'cubic'] as CongestionAlgorithm[]) {
      const cc = createCongestionController(algo, 1200);
      assert.equal(cc.name, algo);
      assert.equal(cc.window, 12_000);
      assert.equal(cc.ssthresh, Number.POSITIVE_INFINITY);
      assert.equal(cc.bytesInFlight, 0);
      assert.equal(cc.state, 'slow_start');
    }
  });

  it('a new maximum datagram size recalculates an untouched initial window', () => {
    const cc = createCongestionController('newreno', 1200);
    cc.maxDatagramSize = 1500;
    assert.equal(cc.maxDatagramSize, 1500);
    assert.equal(cc.window, 14_720);
    fullRound(cc, 0, rttOf(50 * MS));
    const grown = cc.window;
    cc.maxDatagramSize = 1200;
    assert.equal(cc.window, grown);
    // Never below the minimum window for the new size.
    cc.onPacketsLost(1e9, [{ size: 1200, timeSent: 1e9 }], true);
    assert.equal(cc.window, 2400);
    cc.maxDatagramSize = 9000;
    assert.equal(cc.window, 18_000);
  });

  it('canSend is bytesInFlight + bytes <= window; discard removes bytes without reaction', () => {
    const cc = createCongestionController('newreno', MDS);
    for (let i = 0; i < 9; i++) cc.onPacketSent(0, MDS);
    assert.equal(cc.canSend(MDS), true);
    cc.onPacketSent(0, MDS);
    assert.equal(cc.bytesInFlight, 12_000);
    assert.equal(cc.canSend(1), false);
    cc.discard(2 * MDS);
    assert.equal(cc.bytesInFlight, 9600);
    assert.equal(cc.window, 12_000);
    assert.equal(cc.canSend(2 * MDS), true);
    cc.discard(1e9);
    assert.equal(cc.bytesInFlight, 0);
  });
});

for (const algo of ['newreno', 'cubic'] as const) {
  const beta = algo === 'newreno' ? 0.5 : CUBIC_BETA;

  describe(`${algo}: shared behaviour (RFC 9002 §7.3, Appendix B)`, () => {
    it('slow start doubles the window every round trip', () => {
      const cc = createCongestionController(algo, MDS);
      const rtt = rttOf(50 * MS);
      let now = 0;
      for (let round = 1; round <= 4; round++) {
        now = fullRound(cc, now, rtt);
        assert.equal(cc.window, 12_000 * 2 ** round);
        assert.equal(cc.bytesInFlight, 0);
        assert.equal(cc.state, 'slow_start');
      }
    });

    it(`a loss reduces the window by ${beta} once per recovery period`, () => {
      const cc = createCongestionController(algo, MDS);
      const rtt = rttOf(50 * MS);
      const now = fullRound(cc, fullRound(cc, 0, rtt), rtt); // 48000
      const w = cc.window;
      for (let i = 0; i < 10; i++) cc.onPacketSent(now + i, MDS);
      cc.onPacketsLost(now + 100, [{ size: MDS, timeSent: now }], false);
      assert.equal(cc.window, Math.floor(w * beta));
      assert.equal(cc.ssthresh, w * beta);
      assert.equal(cc.state, 'recovery');
      assert.equal(cc.bytesInFlight, 9 * MDS);
      // Packets sent before the recovery period began: no further reduction, no growth.
      cc.onPacketsLost(now + 200, [{ size: MDS, timeSent: now + 5 }], false);
      cc.onEcnCongestion(now + 200, now + 6);
      cc.onPacketsAcked(now + 200, [{ size: MDS, timeSent: now + 7 }], rtt, false);
      assert.equal(cc.window, Math.floor(w * beta));
      assert.equal(cc.state, 'recovery');
      // Acknowledging a packet sent during recovery ends it.
      cc.onPacketSent(now + 300, MDS);
      cc.onPacketsAcked(now + 400, [{ size: MDS, timeSent: now + 300 }], rtt, false);
      assert.equal(cc.state, 'congestion_avoidance');
      assert.ok(cc.window >= Math.floor(w * beta));
      // A loss of a packet sent after the recovery start is a new congestion event.
      const w2 = cc.window;
      cc.onPacketsLost(now + 500, [{ size: MDS, timeSent: now + 300 }], false);
      assert.ok(cc.window < w2);
      assert.equal(cc.state, 'recovery');
    });

    it('an ECN-CE increase is a congestion event (§7.1, §B.7)', () => {
      const cc = createCongestionController(algo, MDS);
      const w = cc.window;
      cc.onEcnCongestion(1000, 500);
      assert.equal(cc.window, Math.floor(w * beta));
      assert.equal(cc.state, 'recovery');
      cc.onEcnCongestion(2000, 900);
      assert.equal(cc.window, Math.floor(w * beta));
    });

    it('the window never drops below the minimum on loss', () => {
      const cc = createCongestionController(algo, MDS);
      let t = 0;
      for (let i = 0; i < 10; i++) {
        t += 1000;
        cc.onPacketSent(t, MDS);
        cc.onPacketsLost(t + 1, [{ size: MDS, timeSent: t }], false);
        t += 1;
      }
      assert.equal(cc.window, 2 * MDS);
    });

    it('persistent congestion collapses the window to kMinimumWindow (§7.6.2)', () => {
      const cc = createCongestionController(algo, MDS);
      const rtt = rttOf(50 * MS);
      const now = fullRound(cc, fullRound(cc, 0, rtt), rtt);
      cc.onPacketSent(now, MDS);
      cc.onPacketSent(now + 1, MDS);
      cc.onPacketsLost(
        now + 500 * MS,
        [
          { size: MDS, timeSent: now },
          { size: MDS, timeSent: now + 1 },
        ],
        true,
      );
      assert.equal(cc.window, 2 * MDS);
      assert.equal(cc.bytesInFlight, 0);
      // Back in slow start (window below ssthresh), and out of recovery.
      assert.equal(cc.state, 'slow_start');
      cc.onPacketSent(now + 600 * MS, MDS);
      cc.onPacketsAcked(now + 650 * MS, [{ size: MDS, timeSent: now + 600 * MS }], rtt, false);
      assert.equal(cc.window, 3 * MDS);
    });

    it('no growth while application limited (§7.8)', () => {
      const cc = createCongestionController(algo, MDS);
      const rtt = rttOf(50 * MS);
      cc.onPacketSent(0, MDS);
      cc.onPacketSent(0, MDS);
      cc.onPacketsAcked(
        50 * MS,
        [
          { size: MDS, timeSent: 0 },
          { size: MDS, timeSent: 0 },
        ],
        rtt,
        true,
      );
      assert.equal(cc.window, 12_000);
      assert.equal(cc.bytesInFlight, 0);
      assert.equal(cc.state, 'application_limited');
      // Also in congestion avoidance.
      const now = fullRound(cc, 100 * MS, rtt);
      cc.onPacketSent(now, MDS);
      cc.onPacketsLost(now + 1, [{ size: MDS, timeSent: now }], false);
      const w = cc.window;
      let t = now + 10;
      for (let r = 0; r < 5; r++) t = fullRound(cc, t, rtt, true);
      assert.equal(cc.window, w);
    });

    it('reset() returns to the initial state (RFC 9000 §9.4)', () => {
      const cc = createCongestionController(algo, MDS);
      const rtt = rttOf(50 * MS);
      const now = fullRound(cc, 0, rtt);
      cc.onPacketSent(now, MDS);
      cc.onPacketsLost(now + 1, [{ size: MDS, timeSent: now }], false);
      cc.onPacketSent(now + 2, MDS);
      cc.reset();
      assert.equal(cc.window, 12_000);
      assert.equal(cc.ssthresh, Number.POSITIVE_INFINITY);
      assert.equal(cc.bytesInFlight, 0);
      assert.equal(cc.state, 'slow_start');
      // A stale acknowledgement of a pre-reset packet cannot drive bytes in flight negative.
      cc.onPacketsAcked(now + 3, [{ size: MDS, timeSent: now + 2 }], rtt, false);
      assert.equal(cc.bytesInFlight, 0);
    });
  });
}

describe('NewReno congestion avoidance (RFC 9002 §7.3.3)', () => {
  it('grows by at most one datagram per window acknowledged', () => {
    const cc = new NewReno(MDS);
    const rtt = rttOf(50 * MS);
    let now = fullRound(cc, fullRound(cc, 0, rtt), rtt); // 48000
    cc.onPacketSent(now, MDS);
    cc.onPacketsLost(now + 1, [{ size: MDS, timeSent: now }], false);
    assert.equal(cc.window, 24_000);
    now += 10;
    for (let r = 0; r < 10; r++) {
      const before = cc.window;
      now = fullRound(cc, now, rtt);
      const growth = cc.window - before;
      assert.ok(growth <= MDS && growth >= 0.9 * MDS, `growth ${growth}`);
      assert.equal(cc.state, 'congestion_avoidance');
    }
  });
});

describe('CUBIC (RFC 9438)', () => {
  it('constants: C = 0.4, β = 0.7, α = 3(1−β)/(1+β)', () => {
    assert.equal(CUBIC_C, 0.4);
    assert.equal(CUBIC_BETA, 0.7);
    assert.ok(Math.abs(CUBIC_ALPHA - 0.9 / 1.7) < 1e-12);
  });

  it('fast convergence lowers W_max when the window is below it (§4.7)', () => {
    const cc = new Cubic(MDS);
    const rtt = rttOf(50 * MS);
    const now = fullRound(cc, fullRound(cc, fullRound(cc, 0, rtt), rtt), rtt); // 96000
    cc.onPacketSent(now, MDS);
    cc.onPacketsLost(now + 1, [{ size: MDS, timeSent: now }], false);
    assert.equal(cc.wMax, 96_000);
    assert.equal(cc.window, 67_200);
    cc.onPacketSent(now + 2, MDS);
    cc.onPacketsLost(now + 3, [{ size: MDS, timeSent: now + 2 }], false);
    assert.equal(cc.wMax, 67_200 * 0.85);
    assert.equal(cc.window, Math.floor(67_200 * 0.7));
  });

  /** Slow start to 160 datagrams on an ack-clocked path, then one loss. */
  function afterLoss(rttUs: number): AckClock {
    const cc = new Cubic(MDS);
    const sim = new AckClock(cc, rttOf(rttUs));
    while (cc.window < 160 * MDS) sim.step();
    assert.equal(cc.window, 160 * MDS);
    sim.loseOldest();
    assert.equal(cc.window, 112 * MDS);
    assert.equal(cc.wMax, 160 * MDS);
    return sim;
  }

  it('the window follows W_cubic(t) = C(t−K)³ + W_max (§4.2, §4.4, §4.5)', () => {
    const sim = afterLoss(100 * MS);
    const cc = sim.cc as Cubic;
    sim.runUntil(sim.now + 300 * MS); // leave recovery, start the epoch
    assert.ok(cc.epochStart > 0);
    // K = cbrt((160 − 112)/0.4) s.
    assert.ok(Math.abs(cc.k - Math.cbrt(48 / 0.4)) < 1e-9);
    let concave = 0;
    let convex = 0;
    for (let t = 0.5; t <= 9; t += 0.5) {
      sim.runUntil(cc.epochStart + t * 1e6);
      const elapsed = (sim.now - cc.epochStart) / 1e6;
      const expected = cc.wCubic(elapsed);
      const err = Math.abs(cc.window - expected) / expected;
      assert.ok(err < 0.02, `t=${elapsed}: window ${cc.window / MDS} vs W_cubic ${expected / MDS}`);
      if (elapsed < cc.k) concave++;
      else convex++;
      // Cubic growth dominates Reno at this RTT.
      assert.ok(cc.window >= cc.wEst);
    }
    assert.ok(concave > 5 && convex > 5);
    // Plateau around W_max at t = K, then probing beyond it.
    assert.ok(cc.window > 160 * MDS);
  });

  it('in the Reno-friendly region the window is W_est (§4.3)', () => {
    const sim = afterLoss(5 * MS);
    const cc = sim.cc as Cubic;
    sim.runUntil(sim.now + 15 * MS);
    const start = sim.now;
    const w0 = cc.window;
    sim.runUntil(start + 50 * 5 * MS); // 50 round trips
    const elapsed = (sim.now - cc.epochStart) / 1e6;
    assert.ok(cc.wCubic(elapsed) < cc.wEst);
    assert.ok(Math.abs(cc.window - cc.wEst) <= 1);
    // α_cubic ≈ 0.53 datagrams per round trip while W_est < cwnd_prior.
    const perRtt = (cc.window - w0) / MDS / 50;
    assert.ok(Math.abs(perRtt - CUBIC_ALPHA) < 0.05, `per RTT ${perRtt}`);
    // Once W_est reaches cwnd_prior (160), α becomes 1.
    sim.runUntil(sim.now + 100 * 5 * MS);
    const w1 = cc.window;
    sim.runUntil(sim.now + 20 * 5 * MS);
    const perRtt1 = (cc.window - w1) / MDS / 20;
    assert.ok(Math.abs(perRtt1 - 1) < 0.05, `per RTT ${perRtt1}`);
  });

  it('application-limited and idle periods do not advance t (§5.8)', () => {
    const sim = afterLoss(100 * MS);
    const cc = sim.cc as Cubic;
    sim.runUntil(sim.now + 300 * MS);
    const epoch0 = cc.epochStart;
    sim.runUntil(epoch0 + 1e6);
    // The application stops: the flight drains with application-limited ACKs, then 2 s idle.
    const w = cc.window;
    while (sim.flight > 0) sim.step(true);
    assert.equal(cc.window, w);
    sim.now += 2e6;
    sim.fill();
    const active = sim.now;
    sim.runUntil(active + 1e6);
    // Effective time in the stage ≈ 1 s before + 1 s after.
    const t = (sim.now - cc.epochStart) / 1e6;
    assert.ok(Math.abs(t - 2) < 0.15, `t=${t}`);
    assert.ok(Math.abs(cc.window - cc.wCubic(t)) / cc.wCubic(t) < 0.03);
    assert.ok(cc.window < 152 * MDS, 'without the shift the window would be near W_max');
  });

  it('after persistent congestion the next stage starts with K = 0 and W_max = cwnd (§4.8)', () => {
    const sim = afterLoss(100 * MS);
    const cc = sim.cc as Cubic;
    sim.runUntil(sim.now + 2e6);
    cc.onPacketsLost(sim.now, [], true);
    assert.equal(cc.window, 2 * MDS);
    assert.equal(cc.state, 'slow_start');
    // Slow start up to ssthresh, then a fresh stage.
    while (cc.window < cc.ssthresh) sim.step();
    sim.step();
    assert.equal(cc.k, 0);
    assert.ok(Math.abs(cc.wMax - cc.window) <= 2 * MDS);
  });

  it('reset() clears the CUBIC state', () => {
    const sim = afterLoss(100 * MS);
    const cc = sim.cc as Cubic;
    sim.runUntil(sim.now + 1e6);
    cc.reset();
    assert.equal(cc.wMax, 0);
    assert.equal(cc.k, 0);
    assert.equal(cc.epochStart, Number.NEGATIVE_INFINITY);
    assert.equal(cc.window, 12_000);
  });
});

describe('HyStart++ (RFC 9406)', () => {
  /** Base RTT 50 ms; 20 ms of queueing once the window exceeds 100 datagrams. */
  const delayOf = (window: number) => (window > 100 * MDS ? 70 * MS : 50 * MS);

  it('leaves slow start on a delay increase and enters congestion avoidance after CSS rounds', () => {
    for (const algo of ['newreno', 'cubic'] as const) {
      const cc = createCongestionController(algo, MDS, { hystart: true });
      const sim = new AckClock(cc, rttOf(50 * MS));
      let steps = 0;
      while (cc.ssthresh === Number.POSITIVE_INFINITY && steps++ < 100_000) sim.step(false, delayOf);
      assert.ok(cc.ssthresh < Number.POSITIVE_INFINITY, `${algo}: no exit`);
      // Exit without any loss: CSS enters around 200 datagrams and grows by 1/4 per round for
      // CSS_ROUNDS = 5 rounds (×1.25⁵ ≈ 3); plain slow start would have reached 200·2⁵.
      assert.ok(cc.window > 100 * MDS && cc.window < 800 * MDS, `${algo}: window ${cc.window / MDS}`);
      assert.equal(cc.state, 'congestion_avoidance');
    }
  });

  it('behaves as standard slow start when the delay does not grow', () => {
    const cc = createCongestionController('newreno', MDS, { hystart: true });
    const rtt = rttOf(50 * MS);
    let now = 0;
    for (let round = 1; round <= 6; round++) {
      now = fullRound(cc, now, rtt);
      assert.equal(cc.window, 12_000 * 2 ** round);
    }
    assert.equal(cc.ssthresh, Number.POSITIVE_INFINITY);
  });
});
