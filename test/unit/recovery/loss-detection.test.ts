import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TransportError, TransportErrorCode } from '../../../src/common/errors.js';
import { Space } from '../../../src/common/levels.js';
import { SeededRandom } from '../../../src/common/random.js';
import {
  K_PACKET_THRESHOLD,
  LossDetection,
  type LossTimerOptions,
  type SentPacket,
} from '../../../src/recovery/loss-detection.js';
import { K_GRANULARITY, RttEstimator } from '../../../src/recovery/rtt.js';
import { checkDecoder } from '../../support/property.js';

type P = SentPacket<string>;

const MS = 1000;

function pkt(pn: number, timeSent: number, extra: Partial<P> = {}): P {
  return {
    pn,
    timeSent,
    size: 1200,
    ackEliciting: true,
    inFlight: true,
    pathId: 0,
    frames: `p${pn}`,
    isMtuProbe: false,
    ...extra,
  };
}

const confirmed: LossTimerOptions = {
  handshakeConfirmed: true,
  serverAmplificationBlocked: false,
  hasHandshakeKeys: true,
};

/** An estimator with fixed values (samples are ignored), for exact timer arithmetic. */
class FixedRtt extends RttEstimator {
  constructor(
    smoothed: number,
    rttvar: number,
    latest = smoothed,
    firstSampleTime = Number.NEGATIVE_INFINITY,
  ) {
    super();
    this.smoothed = smoothed;
    this.rttvar = rttvar;
    this.latest = latest;
    this.min = latest;
    this.hasSample = true;
    this.firstSampleTime = firstSampleTime;
  }
  override update(): void {}
}

function sampled(rttUs: number): RttEstimator {
  const r = new RttEstimator();
  r.update(rttUs, 0, true, 0, 0);
  return r;
}

function pns(list: readonly P[]): number[] {
  return list.map((p) => p.pn);
}

function assertViolation(fn: () => unknown): void {
  assert.throws(
    fn,
    (e: unknown) => e instanceof TransportError && e.code === TransportErrorCode.PROTOCOL_VIOLATION,
  );
}

describe('LossDetection: acknowledgement-based loss (RFC 9002 §6.1)', () => {
  it('packet threshold: kPacketThreshold = 3', () => {
    assert.equal(K_PACKET_THRESHOLD, 3);
    const ld = new LossDetection<string>('server');
    const rtt = sampled(100 * MS);
    for (let pn = 0; pn < 6; pn++) ld.onPacketSent(Space.Application, pkt(pn, pn * MS));
    const r = ld.onAckReceived(Space.Application, [5, 5], 0, 10 * MS, rtt, true, 25 * MS);
    assert.deepEqual(pns(r.newlyAcked), [5]);
    // 5 >= pn + 3 for pn <= 2; 3 and 4 wait for the time threshold.
    assert.deepEqual(pns(r.lost), [0, 1, 2]);
    assert.equal(ld.outstanding(Space.Application), 2);
    const lossDelay = (9 / 8) * Math.max(rtt.latest, rtt.smoothed);
    assert.equal(ld.timeout(rtt, 25 * MS, confirmed), 3 * MS + lossDelay);
  });

  it('time threshold: 9/8·max(smoothed, latest) with a kGranularity floor', () => {
    const ld = new LossDetection<string>('server');
    const rtt = new FixedRtt(80 * MS, 10 * MS, 100 * MS);
    for (let pn = 0; pn < 3; pn++) ld.onPacketSent(Space.Application, pkt(pn, pn * MS));
    const r = ld.onAckReceived(Space.Application, [2, 2], 0, 50 * MS, rtt, true, 0);
    assert.deepEqual(pns(r.lost), []);
    const lossDelay = (9 / 8) * 100 * MS; // latest > smoothed
    const t0 = ld.timeout(rtt, 0, confirmed);
    assert.equal(t0, 0 + lossDelay);
    assert.equal(ld.onTimeout(t0 - 1, rtt, 0, confirmed), undefined);
    const fired = ld.onTimeout(t0, rtt, 0, confirmed);
    assert.ok(fired && fired.kind === 'loss');
    assert.equal(fired.space, Space.Application);
    assert.deepEqual(pns(fired.lost), [0]);
    assert.equal(fired.persistentCongestion, false);
    // Packet 1 is next: its own deadline.
    assert.equal(ld.timeout(rtt, 0, confirmed), 1 * MS + lossDelay);
    assert.equal(ld.ptoCount, 0);

    // The threshold never drops below kGranularity.
    const fast = new LossDetection<string>('server');
    const tiny = new FixedRtt(100, 10, 100);
    fast.onPacketSent(Space.Application, pkt(0, 0));
    fast.onPacketSent(Space.Application, pkt(1, 10));
    fast.onAckReceived(Space.Application, [1, 1], 0, 200, tiny, true, 0);
    assert.equal(fast.timeout(tiny, 0, confirmed), K_GRANULARITY);
  });

  it('acknowledged and lost packets are removed; packets above the largest acknowledged stay', () => {
    const ld = new LossDetection<string>('server');
    const rtt = sampled(10 * MS);
    for (let pn = 0; pn < 10; pn++) ld.onPacketSent(Space.Application, pkt(pn, pn));
    const r = ld.onAckReceived(Space.Application, [6, 5, 2, 0], 0, 20 * MS, rtt, true, 0);
    assert.deepEqual(pns(r.newlyAcked), [0, 1, 2, 5, 6]);
    assert.deepEqual(pns(r.lost), [3]); // 6 >= 3 + 3; 4 is within the reordering window
    assert.deepEqual(pns([...ld.unacked(Space.Application)]), [4, 7, 8, 9]);
    // Re-acknowledging changes nothing.
    const again = ld.onAckReceived(Space.Application, [6, 5, 2, 0], 0, 21 * MS, rtt, true, 0);
    assert.equal(again.newlyAcked.length, 0);
    assert.equal(again.largestNewlyAcked, undefined);
    assert.equal(again.largestAckedIncreased, false);
    assert.equal(ld.largestAcked(Space.Application), 6);
    assert.equal(ld.largestSent(Space.Application), 9);
  });
});

describe('LossDetection: RTT samples (RFC 9002 §5.1)', () => {
  it('samples from the largest acknowledged when it is newly acknowledged', () => {
    const ld = new LossDetection<string>('server');
    const rtt = new RttEstimator();
    ld.onPacketSent(Space.Application, pkt(0, 1_000));
    ld.onPacketSent(Space.Application, pkt(1, 2_000));
    const r = ld.onAckReceived(Space.Application, [1, 0], 5_000, 52_000, rtt, true, 25 * MS);
    assert.equal(r.rttSampled, true);
    assert.equal(r.largestNewlyAcked?.pn, 1);
    assert.equal(rtt.latest, 50_000);
    assert.equal(rtt.firstSampleTime, 52_000);
  });

  it('no sample when the largest acknowledged was already acknowledged', () => {
    const ld = new LossDetection<string>('server');
    const rtt = new RttEstimator();
    for (let pn = 0; pn < 3; pn++) ld.onPacketSent(Space.Application, pkt(pn, pn));
    ld.onAckReceived(Space.Application, [2, 2], 0, 10 * MS, rtt, true, 0);
    assert.equal(rtt.latest, 10 * MS - 2);
    const r = ld.onAckReceived(Space.Application, [2, 1], 0, 11 * MS, rtt, true, 0);
    assert.deepEqual(pns(r.newlyAcked), [1]);
    assert.equal(r.rttSampled, false);
    assert.equal(rtt.latest, 10 * MS - 2);
  });

  it('no sample when only non-ack-eliciting packets are newly acknowledged', () => {
    const ld = new LossDetection<string>('server');
    const rtt = new RttEstimator();
    ld.onPacketSent(Space.Application, pkt(0, 0, { ackEliciting: false, inFlight: false }));
    const r = ld.onAckReceived(Space.Application, [0, 0], 0, 40 * MS, rtt, true, 0);
    assert.deepEqual(pns(r.newlyAcked), [0]);
    assert.equal(r.rttSampled, false);
    assert.equal(rtt.hasSample, false);
  });

  it('the ack delay is ignored in the Initial space and applied elsewhere', () => {
    for (const [space, expected] of [
      [Space.Initial, 60 * MS],
      [Space.Handshake, 50 * MS],
    ] as const) {
      const ld = new LossDetection<string>('server');
      const rtt = new RttEstimator();
      rtt.update(40 * MS, 0, false, 0);
      ld.onPacketSent(space, pkt(0, 0));
      ld.onAckReceived(space, [0, 0], 10 * MS, 60 * MS, rtt, false, 25 * MS);
      assert.equal(rtt.smoothed, (7 / 8) * 40 * MS + expected / 8, `space ${space}`);
    }
  });

  it('with an RTT lookup the sample goes to the path of the largest acknowledged packet', () => {
    const ld = new LossDetection<string>('server');
    const paths = [new RttEstimator(), new RttEstimator()];
    ld.onPacketSent(Space.Application, pkt(0, 0, { pathId: 0 }));
    ld.onPacketSent(Space.Application, pkt(1, 1_000, { pathId: 1 }));
    ld.onAckReceived(Space.Application, [1, 0], 0, 31_000, (id) => paths[id]!, true, 0);
    assert.equal(paths[0]!.hasSample, false);
    assert.equal(paths[1]!.latest, 30_000);
  });
});

describe('LossDetection: invalid acknowledgements (RFC 9000 §13.1, §21.4)', () => {
  it('an ACK of a packet number never sent is a PROTOCOL_VIOLATION', () => {
    const ld = new LossDetection<string>('client');
    const rtt = new RttEstimator();
    assertViolation(() => ld.onAckReceived(Space.Initial, [0, 0], 0, 0, rtt, false, 0));
    ld.onPacketSent(Space.Initial, pkt(0, 0));
    ld.onPacketSent(Space.Initial, pkt(1, 0));
    assertViolation(() => ld.onAckReceived(Space.Initial, [2, 0], 0, 1, rtt, false, 0));
    // Packet-number spaces are separate.
    assertViolation(() => ld.onAckReceived(Space.Handshake, [0, 0], 0, 1, rtt, false, 0));
    // Nothing changed: a valid ACK still works.
    const r = ld.onAckReceived(Space.Initial, [1, 0], 0, 2, rtt, false, 0);
    assert.deepEqual(pns(r.newlyAcked), [0, 1]);
  });

  it('an ACK covering a skipped packet number is a PROTOCOL_VIOLATION', () => {
    const ld = new LossDetection<string>('server');
    const rtt = new RttEstimator();
    ld.onPacketSent(Space.Application, pkt(0, 0));
    ld.skipPacketNumber(Space.Application, 1);
    ld.onPacketSent(Space.Application, pkt(2, 1));
    assertViolation(() => ld.onAckReceived(Space.Application, [1, 1], 0, 5, rtt, true, 0));
    assertViolation(() => ld.onAckReceived(Space.Application, [2, 0], 0, 5, rtt, true, 0));
    const ok = ld.onAckReceived(Space.Application, [2, 2, 0, 0], 0, 5, rtt, true, 0);
    assert.deepEqual(pns(ok.newlyAcked), [0, 2]);
    assert.throws(() => ld.onPacketSent(Space.Application, pkt(2, 9)), RangeError);
  });

  it('a gap in sent packet numbers counts as skipped', () => {
    const ld = new LossDetection<string>('server');
    const rtt = new RttEstimator();
    ld.onPacketSent(Space.Application, pkt(0, 0));
    ld.onPacketSent(Space.Application, pkt(5, 1));
    for (const pn of [1, 2, 3, 4])
      assertViolation(() => ld.onAckReceived(Space.Application, [pn, pn], 0, 5, rtt, true, 0));
    assert.equal(ld.onAckReceived(Space.Application, [5, 5, 0, 0], 0, 5, rtt, true, 0).newlyAcked.length, 2);
  });

  it('malformed ranges are a FRAME_ENCODING_ERROR, never another exception', () => {
    const ld = new LossDetection<string>('server');
    const rtt = new RttEstimator();
    for (let pn = 0; pn < 10; pn++) ld.onPacketSent(Space.Application, pkt(pn, pn));
    for (const ranges of [[], [5], [3, 4], [5, 4, 6, 6], [5, 4, 4, 2], [2, -1]]) {
      assert.throws(
        () => ld.onAckReceived(Space.Application, ranges, 0, 20, rtt, true, 0),
        (e: unknown) => e instanceof TransportError && e.code === TransportErrorCode.FRAME_ENCODING_ERROR,
        JSON.stringify(ranges),
      );
    }
  });
});

describe('LossDetection: probe timeout (RFC 9002 §6.2, §A.8)', () => {
  const rtt = new FixedRtt(100 * MS, 20 * MS);
  const base = 100 * MS + 4 * 20 * MS; // smoothed + max(4·rttvar, kGranularity)
  const mad = 25 * MS;

  it('Application Data PTO includes max_ack_delay and backs off exponentially', () => {
    const ld = new LossDetection<string>('server');
    ld.onPacketSent(Space.Application, pkt(0, 10 * MS));
    assert.equal(ld.timeout(rtt, mad, confirmed), 10 * MS + base + mad);
    const t1 = 10 * MS + base + mad;
    assert.equal(ld.onTimeout(t1 - 1, rtt, mad, confirmed), undefined);
    assert.deepEqual(ld.onTimeout(t1, rtt, mad, confirmed), {
      kind: 'pto',
      space: Space.Application,
      antiDeadlock: false,
    });
    assert.equal(ld.ptoCount, 1);
    // The probe itself is sent at t1.
    ld.onPacketSent(Space.Application, pkt(1, t1));
    assert.equal(ld.timeout(rtt, mad, confirmed), t1 + 2 * (base + mad));
    const t2 = t1 + 2 * (base + mad);
    assert.equal(ld.onTimeout(t2, rtt, mad, confirmed)?.kind, 'pto');
    assert.equal(ld.ptoCount, 2);
    ld.onPacketSent(Space.Application, pkt(2, t2));
    assert.equal(ld.timeout(rtt, mad, confirmed), t2 + 4 * (base + mad));
    // A PTO does not declare anything lost (§6.2).
    assert.equal(ld.outstanding(Space.Application), 3);
    // An acknowledgement resets the backoff (server: the client's address is validated).
    ld.onAckReceived(Space.Application, [2, 2], 0, t2 + 10 * MS, rtt, true, mad);
    assert.equal(ld.ptoCount, 0);
    ld.resetPtoCount();
    assert.equal(ld.ptoCount, 0);
  });

  it('Initial and Handshake PTOs exclude max_ack_delay; the earliest space wins', () => {
    const ld = new LossDetection<string>('server');
    const opts = { ...confirmed, handshakeConfirmed: false };
    ld.onPacketSent(Space.Initial, pkt(0, 0));
    ld.onPacketSent(Space.Handshake, pkt(0, 10 * MS));
    assert.equal(ld.timeout(rtt, mad, opts), base);
    const fired = ld.onTimeout(base, rtt, mad, opts);
    assert.deepEqual(fired, { kind: 'pto', space: Space.Initial, antiDeadlock: false });
    // The backoff applies across spaces (§6.2.1).
    assert.equal(ld.timeout(rtt, mad, opts), 2 * base);
    ld.onAckReceived(Space.Initial, [0, 0], 0, base + 1, rtt, false, mad);
    assert.equal(ld.ptoCount, 0); // server
    ld.onPacketSent(Space.Handshake, pkt(1, 400 * MS));
    assert.equal(ld.timeout(rtt, mad, opts), 400 * MS + base);
  });

  it('no Application Data PTO before handshake confirmation', () => {
    const ld = new LossDetection<string>('server');
    const unconfirmed = { ...confirmed, handshakeConfirmed: false };
    ld.onPacketSent(Space.Application, pkt(0, 0));
    assert.equal(ld.timeout(rtt, mad, unconfirmed), Number.POSITIVE_INFINITY);
    ld.onPacketSent(Space.Handshake, pkt(0, 50 * MS));
    assert.equal(ld.timeout(rtt, mad, unconfirmed), 50 * MS + base);
    assert.equal(ld.onTimeout(50 * MS + base, rtt, mad, unconfirmed)?.space, Space.Handshake);
    assert.equal(ld.timeout(rtt, mad, confirmed), 0 + 2 * (base + mad));
  });

  it('a server at its amplification limit arms no timer (§6.2.2.1)', () => {
    const ld = new LossDetection<string>('server');
    ld.onPacketSent(Space.Initial, pkt(0, 0));
    const blocked = { handshakeConfirmed: false, serverAmplificationBlocked: true, hasHandshakeKeys: false };
    assert.equal(ld.timeout(rtt, mad, blocked), Number.POSITIVE_INFINITY);
    assert.equal(ld.onTimeout(10_000 * MS, rtt, mad, blocked), undefined);
    // Unblocked by a datagram: the timer is re-armed, already in the past, so it fires at once (§A.6).
    const unblocked = { ...blocked, serverAmplificationBlocked: false };
    assert.equal(ld.timeout(rtt, mad, unblocked), base);
    assert.equal(ld.onTimeout(10_000 * MS, rtt, mad, unblocked)?.kind, 'pto');
  });

  it('a server with nothing in flight arms no PTO', () => {
    const ld = new LossDetection<string>('server');
    assert.equal(ld.timeout(rtt, mad, { ...confirmed, handshakeConfirmed: false }), Number.POSITIVE_INFINITY);
    ld.onPacketSent(Space.Initial, pkt(0, 0, { ackEliciting: false, inFlight: false }));
    assert.equal(ld.timeout(rtt, mad, { ...confirmed, handshakeConfirmed: false }), Number.POSITIVE_INFINITY);
  });

  it('a client keeps an anti-deadlock PTO until the server validated its address (§6.2.2.1)', () => {
    const ld = new LossDetection<string>('client');
    const noKeys = { handshakeConfirmed: false, serverAmplificationBlocked: false, hasHandshakeKeys: false };
    ld.onPacketSent(Space.Initial, pkt(0, 0));
    assert.equal(ld.timeout(rtt, mad, noKeys), base);
    // The server acknowledges the Initial: nothing in flight, yet the client arms the PTO.
    ld.onAckReceived(Space.Initial, [0, 0], 0, 30 * MS, rtt, false, mad);
    assert.equal(ld.inFlightAckEliciting(Space.Initial), false);
    assert.equal(ld.timeout(rtt, mad, noKeys), 30 * MS + base);
    assert.deepEqual(ld.onTimeout(30 * MS + base, rtt, mad, noKeys), {
      kind: 'pto',
      space: Space.Initial,
      antiDeadlock: true,
    });
    // With Handshake keys the anti-deadlock probe is a Handshake packet; the backoff doubles.
    const withKeys = { ...noKeys, hasHandshakeKeys: true };
    assert.equal(ld.timeout(rtt, mad, withKeys), 30 * MS + base + 2 * base);
    assert.equal(ld.onTimeout(30 * MS + 3 * base, rtt, mad, withKeys)?.space, Space.Handshake);
    // A Handshake ACK proves the address is validated: no timer with nothing in flight.
    ld.onPacketSent(Space.Handshake, pkt(0, 700 * MS));
    ld.onAckReceived(Space.Handshake, [0, 0], 0, 750 * MS, rtt, false, mad);
    assert.equal(ld.timeout(rtt, mad, withKeys), Number.POSITIVE_INFINITY);
    // An explicit override wins.
    assert.notEqual(
      ld.timeout(rtt, mad, { ...withKeys, peerCompletedAddressValidation: false }),
      Number.POSITIVE_INFINITY,
    );
  });

  it('a client with only 0-RTT packets in flight still arms the anti-deadlock PTO', () => {
    const ld = new LossDetection<string>('client');
    const noKeys = { handshakeConfirmed: false, serverAmplificationBlocked: false, hasHandshakeKeys: false };
    ld.onPacketSent(Space.Initial, pkt(0, 0));
    ld.onPacketSent(Space.Application, pkt(0, 1 * MS, { frames: '0rtt' }));
    ld.onAckReceived(Space.Initial, [0, 0], 0, 40 * MS, rtt, false, mad);
    assert.equal(ld.inFlightAckEliciting(Space.Application), true);
    assert.equal(ld.timeout(rtt, mad, noKeys), 40 * MS + base);
    assert.deepEqual(ld.onTimeout(40 * MS + base, rtt, mad, noKeys), {
      kind: 'pto',
      space: Space.Initial,
      antiDeadlock: true,
    });
    // A server in the same situation (address validation not in question) waits.
    const srv = new LossDetection<string>('server');
    srv.onPacketSent(Space.Application, pkt(0, 0));
    assert.equal(srv.timeout(rtt, mad, noKeys), Number.POSITIVE_INFINITY);
  });

  it('the role can come from the timer options', () => {
    const ld = new LossDetection<string>();
    const opts = {
      handshakeConfirmed: false,
      serverAmplificationBlocked: false,
      hasHandshakeKeys: false,
      isClient: true,
    };
    ld.onPacketSent(Space.Initial, pkt(0, 0));
    ld.onAckReceived(Space.Initial, [0, 0], 0, 30 * MS, rtt, false, mad);
    assert.equal(ld.timeout(rtt, mad, opts), 30 * MS + base); // client anti-deadlock
    ld.onTimeout(30 * MS + base, rtt, mad, opts);
    ld.onPacketSent(Space.Initial, pkt(1, 300 * MS));
    ld.onAckReceived(Space.Initial, [1, 1], 0, 330 * MS, rtt, false, mad);
    assert.equal(ld.ptoCount, 1);
  });

  it('a client does not reset the backoff on an Initial ACK (§6.2.1)', () => {
    const ld = new LossDetection<string>('client');
    const opts = { handshakeConfirmed: false, serverAmplificationBlocked: false, hasHandshakeKeys: false };
    ld.onPacketSent(Space.Initial, pkt(0, 0));
    ld.onTimeout(base, rtt, mad, opts);
    assert.equal(ld.ptoCount, 1);
    ld.onPacketSent(Space.Initial, pkt(1, base));
    ld.onAckReceived(Space.Initial, [1, 0], 0, base + 50 * MS, rtt, false, mad);
    assert.equal(ld.ptoCount, 1);
    ld.onPacketSent(Space.Handshake, pkt(0, base + 60 * MS));
    ld.onAckReceived(Space.Handshake, [0, 0], 0, base + 90 * MS, rtt, false, mad);
    assert.equal(ld.ptoCount, 0);
  });

  it('the time-threshold timer takes precedence over the PTO (§6.2.1)', () => {
    const ld = new LossDetection<string>('server');
    ld.onPacketSent(Space.Application, pkt(0, 0));
    ld.onPacketSent(Space.Application, pkt(1, 1 * MS));
    ld.onPacketSent(Space.Application, pkt(2, 500 * MS));
    ld.onAckReceived(Space.Application, [1, 1], 0, 2 * MS, rtt, true, mad);
    const lossTime = (9 / 8) * 100 * MS;
    assert.equal(ld.timeout(rtt, mad, confirmed), lossTime);
    assert.equal(ld.onTimeout(lossTime, rtt, mad, confirmed)?.kind, 'loss');
    assert.equal(ld.timeout(rtt, mad, confirmed), 500 * MS + base + mad);
  });
});

describe('LossDetection: persistent congestion (RFC 9002 §7.6)', () => {
  const U = 100 * MS;
  // smoothed + max(4·rttvar, kGranularity) + max_ack_delay = 2 units, as in §7.6.3.
  const twoUnits = () => new FixedRtt(1.5 * U, 0.125 * U, 1.5 * U, -1);

  /** The §7.6.3 sequence; returns the result of the acknowledgement of packet 9 at t = 12.2. */
  function example(rtt: RttEstimator, ackedAlso: number[] = [], mad = 0) {
    const ld = new LossDetection<string>('server');
    const times = [0, 1, 2, 3, 4, 5, 6, 8, 12];
    times.forEach((t, i) => {
      ld.onPacketSent(Space.Application, pkt(i + 1, t * U));
      if (i === 1) ld.onAckReceived(Space.Application, [1, 1], 0, 1.2 * U, rtt, true, mad);
    });
    const ranges = [9, 9];
    for (const pn of ackedAlso) ranges.push(pn, pn);
    return ld.onAckReceived(Space.Application, ranges, 0, 12.2 * U, rtt, true, mad);
  }

  it('the example of §7.6.3 establishes persistent congestion', () => {
    const rtt = twoUnits();
    rtt.latest = 0.7 * U;
    const r = example(rtt);
    assert.deepEqual(pns(r.lost), [2, 3, 4, 5, 6, 7, 8]);
    assert.equal(r.persistentCongestion, true);
    assert.deepEqual(r.persistentCongestionPaths, [0]);
    // §5.2: min_rtt is reset to the newest sample.
    assert.equal(rtt.min, 0.7 * U);
  });

  it('not when the period (7) does not exceed the duration', () => {
    // max_ack_delay of 0.5 units: duration = 2.5 · 3 = 7.5 > 7.
    const r = example(twoUnits(), [], 0.5 * U);
    assert.equal(r.lost.length, 7);
    assert.equal(r.persistentCongestion, false);
    assert.deepEqual(r.persistentCongestionPaths, []);
  });

  it('not when a packet sent in between was acknowledged', () => {
    const r = example(twoUnits(), [5]);
    assert.deepEqual(pns(r.lost), [2, 3, 4, 6, 7, 8]);
    assert.equal(r.persistentCongestion, false);
  });

  it('only packets sent after the first RTT sample count', () => {
    const rtt = twoUnits();
    rtt.firstSampleTime = 5 * U; // packets 7 (t=6) and 8 (t=8) remain: 2 < 6
    assert.equal(example(rtt).persistentCongestion, false);
    const none = new FixedRtt(1.5 * U, 0.125 * U, 1.5 * U, Number.POSITIVE_INFINITY);
    assert.equal(example(none).persistentCongestion, false);
  });

  it('the two endpoints must be ack-eliciting', () => {
    const ld = new LossDetection<string>('server');
    const rtt = twoUnits();
    ld.onPacketSent(Space.Application, pkt(0, 0, { ackEliciting: false }));
    for (let pn = 1; pn < 7; pn++) ld.onPacketSent(Space.Application, pkt(pn, 1 * U + pn));
    ld.onPacketSent(Space.Application, pkt(7, 8 * U, { ackEliciting: false }));
    ld.onPacketSent(Space.Application, pkt(8, 12 * U));
    const r = ld.onAckReceived(Space.Application, [8, 8], 0, 12.1 * U, rtt, true, 0);
    assert.equal(r.lost.length, 8);
    assert.equal(r.persistentCongestion, false);
  });

  it('is evaluated per path', () => {
    const ld = new LossDetection<string>('server');
    const rtts = [twoUnits(), twoUnits()];
    // Path 0 loses packets spanning 8 units, path 1 packets spanning 2 units, interleaved.
    for (let pn = 0; pn < 9; pn++)
      ld.onPacketSent(Space.Application, pkt(pn, pn * U, { pathId: pn % 2 === 0 ? 0 : pn < 4 ? 1 : 2 }));
    ld.onPacketSent(Space.Application, pkt(9, 12 * U, { pathId: 0 }));
    const r = ld.onAckReceived(
      Space.Application,
      [9, 9],
      0,
      12.2 * U,
      (id) => rtts[Math.min(id, 1)]!,
      true,
      0,
    );
    assert.equal(r.lost.length, 9);
    assert.deepEqual(r.persistentCongestionPaths, [0]);
  });

  it('on a time-threshold timeout too, and across compaction of acknowledged slots', () => {
    for (const ackMiddle of [true, false]) {
      const ld = new LossDetection<string>('server');
      const rtt = twoUnits();
      // 9000 acknowledged packets, then A (9000), B (9001), C (9002).
      for (let pn = 0; pn < 9000; pn++) ld.onPacketSent(Space.Application, pkt(pn, pn));
      ld.onPacketSent(Space.Application, pkt(9000, 1 * U));
      ld.onPacketSent(Space.Application, pkt(9001, 1 * U + 1));
      const ranges = ackMiddle ? [9001, 9001, 8999, 0] : [8999, 0];
      const first = ld.onAckReceived(Space.Application, ranges, 0, 1 * U + 2, rtt, true, 0);
      assert.equal(first.lost.length, 0);
      // Sending triggers compaction of the dead slots.
      ld.onPacketSent(Space.Application, pkt(9002, 10 * U));
      ld.onPacketSent(Space.Application, pkt(9003, 12 * U));
      ld.onPacketSent(Space.Application, pkt(9004, 13 * U));
      ld.onPacketSent(Space.Application, pkt(9005, 14 * U));
      ld.onPacketSent(Space.Application, pkt(9006, 15 * U));
      const r = ld.onAckReceived(Space.Application, [9006, 9006], 0, 15.1 * U, rtt, true, 0);
      assert.deepEqual(pns(r.lost), ackMiddle ? [9000, 9002, 9003, 9004] : [9000, 9001, 9002, 9003, 9004]);
      assert.equal(r.persistentCongestion, !ackMiddle, `ackMiddle=${ackMiddle}`);
    }
  });

  it('a time-threshold loss on timeout reports persistent congestion', () => {
    const ld = new LossDetection<string>('server');
    const rtt = twoUnits();
    ld.onPacketSent(Space.Application, pkt(0, 0));
    ld.onPacketSent(Space.Application, pkt(1, 7 * U));
    ld.onPacketSent(Space.Application, pkt(2, 7 * U + 1));
    rtt.latest = 8 * U; // a large sample: nothing is lost by time yet
    const r = ld.onAckReceived(Space.Application, [2, 2], 0, 7 * U + 2, rtt, true, 0);
    assert.equal(r.lost.length, 0);
    rtt.latest = 1.5 * U;
    const deadline = ld.timeout(rtt, 0, confirmed);
    assert.equal(deadline, 9 * U);
    const fired = ld.onTimeout(deadline, rtt, 0, confirmed);
    assert.ok(fired?.kind === 'loss');
    assert.deepEqual(pns(fired.lost), [0, 1]);
    assert.equal(fired.persistentCongestion, true);
  });
});

describe('LossDetection: discarding and draining (RFC 9002 §6.4, §A.11)', () => {
  it('discardSpace returns the in-flight packets, clears timers and resets pto_count', () => {
    const ld = new LossDetection<string>('client');
    const rtt = new FixedRtt(100 * MS, 10 * MS);
    const opts = { handshakeConfirmed: false, serverAmplificationBlocked: false, hasHandshakeKeys: true };
    ld.onPacketSent(Space.Initial, pkt(0, 0));
    ld.onPacketSent(Space.Initial, pkt(1, 1, { ackEliciting: false, inFlight: false }));
    ld.onPacketSent(Space.Initial, pkt(2, 2, { ackEliciting: false, inFlight: true }));
    ld.onTimeout(ld.timeout(rtt, 0, opts), rtt, 0, opts);
    assert.equal(ld.ptoCount, 1);
    ld.onPacketSent(Space.Handshake, pkt(0, 500 * MS));
    const removed = ld.discardSpace(Space.Initial);
    assert.deepEqual(pns(removed), [0, 2]);
    assert.equal(ld.ptoCount, 0);
    assert.equal(ld.inFlightAckEliciting(Space.Initial), false);
    assert.equal(ld.outstanding(Space.Initial), 0);
    assert.equal(ld.timeout(rtt, 0, opts), 500 * MS + 140 * MS);
    // Packet numbers continue (e.g. after Retry).
    assert.equal(ld.largestSent(Space.Initial), 2);
    ld.onPacketSent(Space.Initial, pkt(3, 600 * MS));
    assert.equal(ld.onAckReceived(Space.Initial, [3, 0], 0, 700 * MS, rtt, false, 0).newlyAcked.length, 1);
  });

  it('drainUnacked removes matching outstanding packets (0-RTT rejection)', () => {
    const ld = new LossDetection<string>('client');
    for (let pn = 0; pn < 6; pn++)
      ld.onPacketSent(Space.Application, pkt(pn, pn, { frames: pn < 4 ? '0rtt' : '1rtt' }));
    const rtt = new RttEstimator();
    ld.onAckReceived(Space.Application, [1, 1], 0, 10, rtt, true, 0);
    const drained = ld.drainUnacked(Space.Application, (p) => p.frames === '0rtt');
    assert.deepEqual(pns(drained), [0, 2, 3]);
    assert.deepEqual(pns([...ld.unacked(Space.Application)]), [4, 5]);
    assert.deepEqual(pns(ld.oldestUnacked(Space.Application, 1)), [4]);
    assert.deepEqual(pns(ld.oldestUnacked(Space.Application, 5)), [4, 5]);
    assert.equal(ld.outstanding(Space.Application), 2);
    assert.deepEqual(pns(ld.drainUnacked(Space.Application)), [4, 5]);
    assert.equal(ld.inFlightAckEliciting(Space.Application), false);
    assert.equal(ld.onAckReceived(Space.Application, [5, 0], 0, 20, rtt, true, 0).newlyAcked.length, 0);
  });
});

describe('LossDetection: cost of ACK processing', () => {
  it('an ACK with 1000 ranges over 100k outstanding packets is fast', () => {
    const ld = new LossDetection<string>('server');
    const rtt = sampled(50 * MS);
    const n = 100_000;
    for (let pn = 0; pn < n; pn++) ld.onPacketSent(Space.Application, pkt(pn, pn));
    // 1000 ranges of 50 packets with gaps of 50, from the top.
    const ranges: number[] = [];
    for (let k = 0; k < 1000; k++) ranges.push(n - 1 - 100 * k, n - 50 - 100 * k);
    const t0 = performance.now();
    const r = ld.onAckReceived(Space.Application, ranges, 0, n + 10, rtt, true, 0);
    const elapsed = performance.now() - t0;
    assert.equal(r.newlyAcked.length, 50_000);
    assert.equal(r.lost.length, 50_000);
    // Linear in acknowledged + lost packets: ~15 ms warm; generous for loaded CI machines.
    assert.ok(elapsed < 1000, `took ${elapsed} ms`);
  });

  it('repeated ACKs cost O(ranges), not O(outstanding)', () => {
    const ld = new LossDetection<string>('server');
    const rtt = sampled(50 * MS);
    const n = 100_000;
    for (let pn = 0; pn < n; pn++) ld.onPacketSent(Space.Application, pkt(pn, pn));
    ld.onAckReceived(Space.Application, [49_999, 0], 0, n, rtt, true, 0);
    const old: number[] = [];
    for (let k = 0; k < 999; k++) old.push(49_999 - 50 * k, 49_999 - 50 * k - 10);
    const acks: number[][] = [];
    for (let k = 0; k < 1000; k++) acks.push([50_000 + k, 50_000, ...old]);
    let newly = 0;
    const t0 = performance.now();
    for (let k = 0; k < 1000; k++)
      newly += ld.onAckReceived(Space.Application, acks[k]!, 0, n + k, rtt, true, 0).newlyAcked.length;
    const elapsed = performance.now() - t0;
    assert.equal(newly, 1000);
    assert.equal(ld.outstanding(Space.Application), 49_000);
    // ~40 µs per ACK of 1000 ranges; O(outstanding) per ACK would be ~50k steps each.
    assert.ok(elapsed < 2000, `took ${elapsed} ms`);
  });

  it('agrees with a naive model on random traffic (seeded)', () => {
    const rng = new SeededRandom(7);
    for (let round = 0; round < 20; round++) {
      const ld = new LossDetection<string>('server');
      const rtt = new FixedRtt(20 * MS, 2 * MS);
      const outstanding = new Map<number, number>(); // pn → timeSent
      const acked = new Set<number>();
      let pn = 0;
      let now = 0;
      let largest = -1;
      for (let step = 0; step < 400; step++) {
        now += rng.int(3 * MS);
        if (rng.next() < 0.6 || pn === 0) {
          if (rng.next() < 0.05) pn++; // skip one
          ld.onPacketSent(Space.Application, pkt(pn, now));
          outstanding.set(pn, now);
          pn++;
          continue;
        }
        // Acknowledge a random subset of sent packet numbers as ranges.
        const sent = [...outstanding.keys(), ...acked].sort((a, b) => b - a);
        const pick = sent.filter(() => rng.next() < 0.5);
        if (pick.length === 0) continue;
        const ranges: number[] = [];
        for (const x of pick) {
          const last = ranges.length - 1;
          if (last > 0 && ranges[last] === x + 1 && sent.includes(x)) ranges[last] = x;
          else ranges.push(x, x);
        }
        const r = ld.onAckReceived(Space.Application, ranges, 0, now, rtt, true, 0);
        const expectAcked = pick.filter((x) => outstanding.has(x)).sort((a, b) => a - b);
        assert.deepEqual(pns(r.newlyAcked), expectAcked);
        for (const x of expectAcked) {
          outstanding.delete(x);
          acked.add(x);
        }
        largest = Math.max(largest, pick[0]!);
        if (expectAcked.length === 0) {
          assert.equal(r.lost.length, 0); // §A.7: nothing newly acknowledged, no loss detection
          continue;
        }
        const lossDelay = (9 / 8) * 20 * MS;
        const expectLost = [...outstanding.entries()]
          .filter(([p, t]) => p <= largest && (t <= now - lossDelay || largest >= p + 3))
          .map(([p]) => p)
          .sort((a, b) => a - b);
        assert.deepEqual(pns(r.lost), expectLost);
        for (const x of expectLost) outstanding.delete(x);
      }
      assert.deepEqual(
        pns([...ld.unacked(Space.Application)]),
        [...outstanding.keys()].sort((a, b) => a - b),
      );
    }
  });
});

describe('LossDetection: untrusted ACK ranges (property)', () => {
  it('any ranges either process or throw a TransportError; newly acknowledged packets are in range', () => {
    const skipped = new Set([7, 8, 40, 41, 42, 100, 200]);
    let ld = new LossDetection<string>('server');
    let cases = 0;
    let now = 0;
    const rtt = new RttEstimator();
    const fresh = () => {
      ld = new LossDetection<string>('server');
      for (let pn = 0; pn < 256; pn++) {
        if (skipped.has(pn)) ld.skipPacketNumber(Space.Application, pn);
        else ld.onPacketSent(Space.Application, pkt(pn, now, { ackEliciting: pn % 3 !== 0 }));
      }
    };
    fresh();
    /** Byte 0 picks raw numbers or an ACK-frame-like encoding (largest, first range, gap/length pairs). */
    const toRanges = (input: Uint8Array): number[] => {
      if (input.length === 0 || (input[0]! & 1) === 0) return Array.from(input.subarray(1));
      const ranges: number[] = [];
      let hi = (input[1] ?? 0) + (input[0]! >> 7) * 60;
      let lo = hi - (input[2] ?? 0);
      ranges.push(hi, lo);
      for (let i = 3; i + 1 < input.length; i += 2) {
        hi = lo - input[i]! - 2;
        lo = hi - input[i + 1]!;
        ranges.push(hi, lo);
      }
      return ranges;
    };
    const corpus = [
      Uint8Array.of(1, 10, 3),
      Uint8Array.of(1, 250, 10, 5, 20, 0, 0),
      Uint8Array.of(0x81, 90, 30, 1, 2, 3, 4),
      Uint8Array.of(0, 9, 5, 3, 1),
    ];
    const decoded = checkDecoder(
      'LossDetection.onAckReceived',
      (input) => {
        if (++cases % 50 === 0) fresh();
        now += 1000;
        const ranges = toRanges(input);
        const r = ld.onAckReceived(
          Space.Application,
          ranges,
          input.length * 100,
          now,
          rtt,
          cases % 2 === 0,
          25 * MS,
        );
        return { ranges, r };
      },
      {
        corpus,
        maxLength: 24,
        onDecoded: (_input, value) => {
          const { ranges, r } = value as { ranges: number[]; r: ReturnType<typeof ld.onAckReceived> };
          for (const p of r.newlyAcked) {
            assert.ok(!skipped.has(p.pn));
            let inside = false;
            for (let i = 0; i < ranges.length; i += 2)
              if (p.pn <= ranges[i]! && p.pn >= ranges[i + 1]!) inside = true;
            assert.ok(inside, `pn ${p.pn} outside ${ranges}`);
          }
        },
      },
    );
    assert.ok(decoded > 5_000, `only ${decoded} valid ACKs`);
  });
});
