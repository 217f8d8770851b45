import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PACING_BURST_PACKETS, PACING_GAIN, Pacer } from '../../../src/recovery/pacer.js';

const MDS = 1200;
const MS = 1000;

describe('Pacer (RFC 9002 §7.7)', () => {
  it('rate = 1.25 · window / smoothed_rtt', () => {
    assert.equal(PACING_GAIN, 1.25);
    assert.equal(Pacer.rate(120_000, 100 * MS), 1.5); // bytes per µs
  });

  it('no delay when the whole window fits in one burst', () => {
    const p = new Pacer();
    const window = PACING_BURST_PACKETS * MDS;
    for (let i = 0; i < 50; i++) {
      assert.equal(p.nextSendTime(1000, MDS, window, 100 * MS, MDS), 1000);
      p.onSent(1000, MDS);
    }
  });

  it('sends a burst of 10 datagrams, then one every interval', () => {
    const p = new Pacer();
    const window = 100 * MDS;
    const srtt = 100 * MS;
    const interval = MDS / Pacer.rate(window, srtt); // 800 µs
    assert.equal(interval, 800);
    let now = 5000;
    for (let i = 0; i < PACING_BURST_PACKETS; i++) {
      assert.equal(p.nextSendTime(now, MDS, window, srtt, MDS), now);
      p.onSent(now, MDS);
    }
    const next = p.nextSendTime(now, MDS, window, srtt, MDS);
    assert.equal(next, now + interval);
    assert.equal(p.nextSendTime(next - 1, MDS, window, srtt, MDS), next);
    // A sender waking up exactly when told keeps the rate.
    const start = now;
    let sent = 0;
    for (let i = 0; i < 1000; i++) {
      now = p.nextSendTime(now, MDS, window, srtt, MDS);
      p.onSent(now, MDS);
      sent++;
    }
    const avg = (now - start) / sent;
    assert.ok(Math.abs(avg - interval) < 1, `average interval ${avg}`);
  });

  it('after an idle period the credit is capped at one burst', () => {
    const p = new Pacer();
    const window = 200 * MDS;
    const srtt = 50 * MS;
    p.nextSendTime(0, MDS, window, srtt, MDS);
    p.onSent(0, MDS);
    const later = 10_000 * MS;
    let n = 0;
    while (p.nextSendTime(later, MDS, window, srtt, MDS) === later) {
      p.onSent(later, MDS);
      n++;
    }
    assert.equal(n, PACING_BURST_PACKETS);
  });

  it('a smaller window slows the pace; reset() restores a full burst', () => {
    const p = new Pacer();
    const srtt = 100 * MS;
    for (let i = 0; i < PACING_BURST_PACKETS; i++) p.onSent(0, MDS);
    p.nextSendTime(0, MDS, 50 * MDS, srtt, MDS);
    for (let i = 0; i < PACING_BURST_PACKETS; i++) p.onSent(0, MDS);
    const slow = p.nextSendTime(0, MDS, 50 * MDS, srtt, MDS);
    assert.equal(slow, Math.ceil(MDS / Pacer.rate(50 * MDS, srtt)));
    p.reset();
    assert.equal(p.nextSendTime(0, MDS, 50 * MDS, srtt, MDS), 0);
  });
});
