import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BLACK_HOLE_THRESHOLD,
  MAX_PROBES,
  MtuDiscovery,
  PMTU_RAISE_INTERVAL,
  SEARCH_MIN_GAP,
} from '../../../src/recovery/mtud.js';

let pn = 0;

/** Runs probes against a link that delivers datagrams of size <= `link`; returns probes sent. */
function converge(m: MtuDiscovery, link: number, now = 0): number {
  let probes = 0;
  for (;;) {
    const size = m.pollProbe(now);
    if (size === undefined) return probes;
    assert.ok(size > m.current && size <= m.maxProbe, `probe size ${size}`);
    const id = pn++;
    m.onProbeSent(id, size, now);
    probes++;
    if (size <= link) m.onProbeAcked(id);
    else m.onProbeLost(id);
    now += 1000;
    assert.ok(probes < 100, 'no convergence');
  }
}

describe('MtuDiscovery (RFC 8899, RFC 9000 §14.3)', () => {
  it('converges to the link MTU within a bounded number of probes', () => {
    for (const link of [1200, 1201, 1250, 1280, 1350, 1400, 1420, 1450, 1472, 1499, 1500, 9000]) {
      const m = new MtuDiscovery(1200, 1500);
      const probes = converge(m, link);
      const expected = Math.min(link, 1500);
      assert.equal(m.state, 'search_complete');
      assert.ok(m.current <= expected, `link ${link}: ${m.current}`);
      assert.ok(expected - m.current <= SEARCH_MIN_GAP, `link ${link}: ${m.current}`);
      // MAX_PROBES failures at MAX_PLPMTU, then a binary search over (1200, 1500).
      assert.ok(probes <= MAX_PROBES + 4 * MAX_PROBES + 1, `link ${link}: ${probes} probes`);
      if (link >= 1500) assert.equal(probes, 1);
    }
  });

  it('converges over a large search range', () => {
    for (const link of [1280, 1500, 8900]) {
      const m = new MtuDiscovery(1200, 65_527);
      const probes = converge(m, link);
      assert.ok(link - m.current <= SEARCH_MIN_GAP && m.current <= link);
      assert.ok(probes <= MAX_PROBES * 13, `${probes} probes`);
    }
  });

  it('gives a size up only after MAX_PROBES consecutive losses', () => {
    const m = new MtuDiscovery(1200, 1500);
    for (let i = 0; i < MAX_PROBES; i++) {
      assert.equal(m.pollProbe(0), 1500);
      m.onProbeSent(10 + i, 1500, 0);
      assert.equal(m.pollProbe(0), undefined, 'one probe outstanding at a time');
      m.onProbeLost(10 + i);
    }
    assert.equal(m.pollProbe(0), 1350);
    // Unknown packet numbers are ignored.
    m.onProbeSent(20, 1350, 0);
    assert.equal(m.onProbeAcked(99), false);
    assert.equal(m.current, 1200);
    assert.equal(m.onProbeAcked(20), true);
    assert.equal(m.current, 1350);
    assert.equal(m.probesSent, 4);
  });

  it('is complete from the start when MAX_PLPMTU <= BASE_PLPMTU', () => {
    const m = new MtuDiscovery(1200, 1200);
    assert.equal(m.state, 'search_complete');
    assert.equal(m.pollProbe(0), undefined);
    assert.equal(m.timeout(), Number.POSITIVE_INFINITY);
    const d = new MtuDiscovery();
    assert.equal(d.current, 1200);
    assert.equal(d.pollProbe(0), undefined);
  });

  it('re-searches when PMTU_RAISE_TIMER (600 s) expires', () => {
    const m = new MtuDiscovery(1200, 1500);
    converge(m, 1400, 0);
    const found = m.current;
    const deadline = m.timeout();
    assert.ok(deadline > PMTU_RAISE_INTERVAL - 1 && deadline < PMTU_RAISE_INTERVAL + 100_000);
    assert.equal(m.pollProbe(deadline - 1), undefined);
    // The path now carries 1500 octets.
    const probes = converge(m, 1500, deadline);
    assert.equal(probes, 1);
    assert.equal(m.current, 1500);
    assert.ok(found < 1500);
    assert.equal(m.timeout(), Number.POSITIVE_INFINITY, 'at MAX_PLPMTU nothing is left to raise');
  });

  it('detects a black hole, falls back to BASE_PLPMTU and searches below the failed size', () => {
    const m = new MtuDiscovery(1200, 1500);
    converge(m, 1500);
    assert.equal(m.current, 1500);
    // The path shrinks to 1400: full-size packets vanish, small ones still get through.
    for (let i = 0; i < BLACK_HOLE_THRESHOLD - 1; i++) {
      assert.equal(m.onPacketLost(1500), false);
      m.onPacketAcked(100);
    }
    assert.equal(m.onPacketLost(1500), true);
    assert.equal(m.current, 1200);
    assert.equal(m.state, 'searching');
    const probes = converge(m, 1400);
    assert.ok(1400 - m.current <= SEARCH_MIN_GAP && m.current <= 1400);
    assert.ok(probes <= 4 * MAX_PROBES, `${probes} probes`);
  });

  it('no black hole on isolated or congestion losses', () => {
    const m = new MtuDiscovery(1200, 1500);
    converge(m, 1500);
    // Losses without any small packet acknowledged: a blackout, not a PMTU problem.
    for (let i = 0; i < 3 * BLACK_HOLE_THRESHOLD; i++) assert.equal(m.onPacketLost(1500), false);
    m.onPacketAcked(1500);
    // Large packets still acknowledged in between: congestion.
    for (let i = 0; i < 10; i++) {
      for (let j = 0; j < BLACK_HOLE_THRESHOLD - 1; j++) {
        m.onPacketAcked(50);
        assert.equal(m.onPacketLost(1500), false);
      }
      m.onPacketAcked(1500);
    }
    // Small packets are never a black-hole symptom.
    for (let i = 0; i < 20; i++) {
      m.onPacketAcked(50);
      assert.equal(m.onPacketLost(1100), false);
    }
    assert.equal(m.current, 1500);
  });

  it('reset() returns to BASE_PLPMTU and probes again', () => {
    const m = new MtuDiscovery(1200, 1500);
    converge(m, 1450);
    m.onProbeSent(500, 1490, 0);
    m.reset();
    assert.equal(m.current, 1200);
    assert.equal(m.state, 'searching');
    assert.equal(m.timeout(), Number.POSITIVE_INFINITY);
    assert.equal(m.onProbeAcked(500), false, 'probes from before the reset are ignored');
    assert.equal(m.pollProbe(0), 1500);
    converge(m, 1300);
    assert.ok(m.current <= 1300 && m.current > 1280);
  });

  it('maxProbe follows the peer limit: lowering clamps, raising re-searches', () => {
    const m = new MtuDiscovery(1200, 1500);
    converge(m, 1500);
    m.maxProbe = 1350;
    assert.equal(m.current, 1350);
    assert.equal(m.state, 'search_complete');
    m.maxProbe = 1452;
    assert.equal(m.state, 'searching');
    assert.equal(m.pollProbe(0), 1452);
    converge(m, 9000);
    assert.equal(m.current, 1452);
    m.maxProbe = 1000;
    assert.equal(m.maxProbe, 1200);
    assert.equal(m.current, 1200);
  });
});
