import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { K_GRANULARITY, K_INITIAL_RTT, RttEstimator } from '../../../src/recovery/rtt.js';

describe('RttEstimator (RFC 9002 §5)', () => {
  it('starts from kInitialRtt = 333 ms (§6.2.2, §5.3)', () => {
    const r = new RttEstimator();
    assert.equal(K_INITIAL_RTT, 333_000);
    assert.equal(r.smoothed, 333_000);
    assert.equal(r.rttvar, 166_500);
    assert.equal(r.min, 0);
    assert.equal(r.latest, 0);
    assert.equal(r.hasSample, false);
    assert.equal(r.firstSampleTime, Number.POSITIVE_INFINITY);
    // §6.2.2: the handshake starts with a PTO of about one second.
    assert.equal(r.pto(0, false), 333_000 + 4 * 166_500);
  });

  it('first sample resets the estimator and ignores ack delay (§5.3)', () => {
    const r = new RttEstimator();
    r.update(100_000, 20_000, true, 25_000, 5_000_000);
    assert.equal(r.hasSample, true);
    assert.equal(r.latest, 100_000);
    assert.equal(r.min, 100_000);
    assert.equal(r.smoothed, 100_000);
    assert.equal(r.rttvar, 50_000);
    assert.equal(r.firstSampleTime, 5_000_000);
  });

  it('before handshake confirmation the ack delay is not capped by max_ack_delay', () => {
    const r = new RttEstimator();
    r.update(100_000, 0, false, 25_000);
    r.update(150_000, 40_000, false, 25_000);
    // adjusted = 150 - 40 = 110 ms; rttvar = 3/4·50 + 1/4·|100 − 110| = 40; srtt = 7/8·100 + 1/8·110.
    assert.equal(r.rttvar, 40_000);
    assert.equal(r.smoothed, 101_250);
    assert.equal(r.min, 100_000);
  });

  it('after confirmation the ack delay is min(ack_delay, max_ack_delay)', () => {
    const r = new RttEstimator();
    r.update(100_000, 0, true, 25_000);
    r.update(150_000, 40_000, true, 25_000);
    // adjusted = 150 − 25 = 125 ms.
    assert.equal(r.rttvar, 43_750);
    assert.equal(r.smoothed, 103_125);
  });

  it('does not subtract the ack delay below min_rtt', () => {
    const r = new RttEstimator();
    r.update(100_000, 0, true, 50_000);
    r.update(120_000, 40_000, true, 50_000);
    // 120 < 100 + 40: adjusted stays 120 ms.
    assert.equal(r.smoothed, 102_500);
    assert.equal(r.rttvar, 42_500);
  });

  it('min_rtt ignores ack delay and only decreases (§5.2)', () => {
    const r = new RttEstimator();
    r.update(100_000, 0, true, 25_000);
    r.update(90_000, 30_000, true, 25_000);
    assert.equal(r.min, 90_000);
    assert.equal(r.latest, 90_000);
    r.update(200_000, 0, true, 25_000);
    assert.equal(r.min, 90_000);
  });

  it('pto() is smoothed + max(4·rttvar, kGranularity) (+ max_ack_delay) (§6.2.1)', () => {
    const r = new RttEstimator();
    r.update(100_000, 0, true, 25_000);
    assert.equal(r.pto(25_000, false), 300_000);
    assert.equal(r.pto(25_000, true), 325_000);
    const tiny = new RttEstimator();
    tiny.update(1_000, 0, true, 0);
    for (let i = 0; i < 50; i++) tiny.update(1_000, 0, true, 0);
    assert.ok(4 * tiny.rttvar < K_GRANULARITY);
    assert.equal(tiny.pto(0, false), tiny.smoothed + K_GRANULARITY);
  });

  it('reset() returns to initial values, clone() is independent', () => {
    const r = new RttEstimator();
    r.update(80_000, 0, true, 0, 1);
    const c = r.clone();
    r.reset();
    assert.equal(r.smoothed, K_INITIAL_RTT);
    assert.equal(r.rttvar, K_INITIAL_RTT / 2);
    assert.equal(r.min, 0);
    assert.equal(r.hasSample, false);
    assert.equal(r.firstSampleTime, Number.POSITIVE_INFINITY);
    assert.equal(c.smoothed, 80_000);
    assert.equal(c.min, 80_000);
    assert.equal(c.hasSample, true);
    assert.equal(c.firstSampleTime, 1);
    c.update(40_000, 0, true, 0);
    assert.equal(r.hasSample, false);
  });

  it('setInitialRtt() only applies before the first sample (§6.2.2)', () => {
    const r = new RttEstimator();
    r.setInitialRtt(50_000);
    assert.equal(r.smoothed, 50_000);
    assert.equal(r.rttvar, 25_000);
    assert.equal(r.hasSample, false);
    r.update(70_000, 0, true, 0);
    r.setInitialRtt(10_000);
    assert.equal(r.smoothed, 70_000);
  });

  it('onPersistentCongestion() sets min_rtt to the newest sample (§5.2)', () => {
    const r = new RttEstimator();
    r.update(50_000, 0, true, 0);
    r.update(200_000, 0, true, 0);
    assert.equal(r.min, 50_000);
    r.onPersistentCongestion();
    assert.equal(r.min, 200_000);
  });
});
