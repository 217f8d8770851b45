import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Space } from '../../../src/common/levels.js';
import { ECN_TESTING_PACKETS, EcnValidator } from '../../../src/recovery/ecn.js';

const A = Space.Application;

function sendMarked(v: EcnValidator, n: number): number {
  let marked = 0;
  for (let i = 0; i < n; i++) {
    const m = v.shouldMark();
    v.onPacketSent(m);
    if (m) marked++;
  }
  return marked;
}

describe('EcnValidator (RFC 9000 §13.4.2, §A.4)', () => {
  it('marks the first ten packets, then validates the path as capable', () => {
    const v = new EcnValidator();
    assert.equal(v.state, 'testing');
    assert.equal(ECN_TESTING_PACKETS, 10);
    assert.equal(sendMarked(v, 15), 10);
    assert.equal(v.state, 'unknown');
    assert.equal(v.shouldMark(), false);
    assert.equal(v.onAck(A, 4, { ect0: 4, ect1: 0, ce: 0 }), false);
    assert.equal(v.state, 'capable');
    assert.equal(v.shouldMark(), true);
    assert.equal(v.onAck(A, 6, { ect0: 10, ect1: 0, ce: 0 }), false);
    assert.equal(v.state, 'capable');
  });

  it('stays unknown until a marked packet is acknowledged', () => {
    const v = new EcnValidator();
    sendMarked(v, 10);
    assert.equal(v.onAck(A, 0, { ect0: 0, ect1: 0, ce: 0 }), false);
    assert.equal(v.state, 'unknown');
  });

  it('a CE increase is a congestion signal (RFC 9002 §7.1)', () => {
    const v = new EcnValidator();
    sendMarked(v, 10);
    assert.equal(v.onAck(A, 3, { ect0: 3, ect1: 0, ce: 0 }), false);
    assert.equal(v.onAck(A, 2, { ect0: 4, ect1: 0, ce: 1 }), true);
    assert.equal(v.state, 'capable');
    assert.equal(v.onAck(A, 1, { ect0: 5, ect1: 0, ce: 1 }), false);
    // Counts are per packet-number space.
    assert.equal(v.onAck(Space.Handshake, 1, { ect0: 0, ect1: 0, ce: 1 }), true);
  });

  it('fails when counts decrease', () => {
    const v = new EcnValidator();
    sendMarked(v, 10);
    v.onAck(A, 5, { ect0: 5, ect1: 0, ce: 0 });
    assert.equal(v.onAck(A, 1, { ect0: 4, ect1: 0, ce: 2 }), false);
    assert.equal(v.state, 'failed');
    assert.equal(v.shouldMark(), false);
    // Failed: no more congestion signals from counts.
    assert.equal(v.onAck(A, 1, { ect0: 9, ect1: 0, ce: 9 }), false);
  });

  it('fails when marked packets are acknowledged without counts', () => {
    const v = new EcnValidator();
    sendMarked(v, 3);
    assert.equal(v.onAck(A, 0, undefined), false);
    assert.equal(v.state, 'testing');
    v.onAck(A, 2, undefined);
    assert.equal(v.state, 'failed');
  });

  it('fails when ECT(0)+CE increase less than the newly acknowledged marked packets', () => {
    const v = new EcnValidator();
    sendMarked(v, 10);
    v.onAck(A, 5, { ect0: 4, ect1: 0, ce: 0 });
    assert.equal(v.state, 'failed');
  });

  it('fails on an ECT(1) count (never applied)', () => {
    const v = new EcnValidator();
    sendMarked(v, 10);
    v.onAck(A, 2, { ect0: 2, ect1: 1, ce: 0 });
    assert.equal(v.state, 'failed');
  });

  it('does not fail on an ACK that does not raise the largest acknowledged', () => {
    const v = new EcnValidator();
    sendMarked(v, 10);
    v.onAck(A, 5, { ect0: 5, ect1: 0, ce: 0 });
    assert.equal(v.onAck(A, 1, { ect0: 2, ect1: 0, ce: 0 }, false), false);
    assert.equal(v.state, 'capable');
    assert.equal(v.onAck(A, 1, { ect0: 6, ect1: 0, ce: 0 }), false);
    assert.equal(v.state, 'capable');
  });

  it('fails when every marked packet is lost', () => {
    const v = new EcnValidator();
    sendMarked(v, 10);
    v.onPacketsLost(9);
    assert.equal(v.state, 'unknown');
    v.onPacketsLost(1);
    assert.equal(v.state, 'failed');
    const ok = new EcnValidator();
    sendMarked(ok, 10);
    ok.onAck(A, 1, { ect0: 1, ect1: 0, ce: 0 });
    ok.onPacketsLost(9);
    assert.equal(ok.state, 'capable');
  });

  it('reset() restarts testing and keeps the per-space baseline', () => {
    const v = new EcnValidator();
    sendMarked(v, 10);
    v.onAck(A, 4, { ect0: 3, ect1: 0, ce: 1 });
    v.onPacketsLost(100);
    v.reset();
    assert.equal(v.state, 'testing');
    assert.equal(sendMarked(v, 12), 10);
    // Old CE marks do not count again on the new path.
    assert.equal(v.onAck(A, 2, { ect0: 5, ect1: 0, ce: 1 }), false);
    assert.equal(v.state, 'capable');

    const fresh = new EcnValidator();
    fresh.adoptBaseline(v);
    sendMarked(fresh, 1);
    assert.equal(fresh.onAck(A, 1, { ect0: 6, ect1: 0, ce: 1 }), false);
    assert.equal(fresh.state, 'testing');
  });
});
