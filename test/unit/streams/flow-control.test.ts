import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TransportError, TransportErrorCode } from '../../../src/common/errors.js';
import { ReceiveWindow, SendCredit } from '../../../src/streams/flow-control.js';

const ms = 1000;

describe('SendCredit', () => {
  it('ignores limits that do not increase (RFC 9000 §4.1)', () => {
    const c = new SendCredit(1000);
    assert.equal(c.update(500), false);
    assert.equal(c.update(1000), false);
    assert.equal(c.limit, 1000);
    assert.equal(c.update(2000), true);
    assert.equal(c.limit, 2000);
  });

  it('queues one blocked signal per limit', () => {
    const c = new SendCredit(100);
    c.markBlocked();
    assert.equal(c.blockedPending, false, 'not blocked while credit remains');
    c.consume(100);
    assert.equal(c.available, 0);
    c.markBlocked();
    assert.equal(c.blockedPending, true);
    assert.equal(c.takeBlocked(), 100);
    c.markBlocked();
    assert.equal(c.blockedPending, false, 'same limit: not again');
    c.onBlockedLost();
    assert.equal(c.blockedPending, true, 'lost while still blocked: resent');
    c.takeBlocked();
    c.update(200);
    c.onBlockedLost();
    assert.equal(c.blockedPending, false, 'no longer blocked: not resent');
    c.consume(100);
    c.markBlocked();
    assert.equal(c.blockedPending, true, 'blocked at the new limit');
    assert.equal(c.takeBlocked(), 200);
  });
});

describe('ReceiveWindow', () => {
  it('FLOW_CONTROL_ERROR when the peer exceeds the advertised limit (RFC 9000 §4.1)', () => {
    const w = new ReceiveWindow({ initial: 1000, max: 1000 });
    assert.equal(w.onReceivedUpTo(600), 600);
    assert.equal(w.onReceivedUpTo(500), 0, 'reordering does not count twice');
    assert.equal(w.onReceivedUpTo(1000), 400);
    assert.throws(
      () => w.onReceivedUpTo(1001, 0x08),
      (e: unknown) =>
        e instanceof TransportError && e.code === TransportErrorCode.FLOW_CONTROL_ERROR && e.frameType === 8,
    );
    const c = new ReceiveWindow({ initial: 100, max: 100 });
    c.onReceived(100);
    assert.throws(
      () => c.onReceived(1, 0x04),
      (e: unknown) =>
        e instanceof TransportError && e.code === TransportErrorCode.FLOW_CONTROL_ERROR && e.frameType === 4,
    );
  });

  it('updates once more than half the window is consumed', () => {
    const w = new ReceiveWindow({ initial: 1000, max: 1000 });
    w.onReceivedUpTo(1000);
    assert.equal(w.onConsumed(400, 0, 100 * ms), false);
    assert.equal(w.updatePending, false);
    assert.equal(w.onConsumed(100, 0, 100 * ms), true);
    assert.equal(w.takeUpdate(), 1500);
    assert.equal(w.updatePending, false);
    w.onUpdateLost();
    assert.equal(w.updatePending, true, 'lost: resend the current value');
  });

  it('auto-tuning doubles the window when the reader keeps up faster than 2 RTTs', () => {
    const rtt = 50 * ms;
    const w = new ReceiveWindow({ initial: 1000, max: 16_000 }, 0);
    let now = 0;
    const sizes: number[] = [];
    for (let i = 0; i < 6; i++) {
      now += rtt; // each half-window consumed within one RTT
      w.onConsumed(w.window / 2 + 1, now, rtt);
      sizes.push(w.window);
    }
    assert.deepEqual(sizes, [2000, 4000, 8000, 16_000, 16_000, 16_000], 'doubles up to the maximum');
    assert.equal(w.advertised, w.consumed + 16_000);
  });

  it('does not grow when the reader is slower than 2 RTTs', () => {
    const rtt = 50 * ms;
    const w = new ReceiveWindow({ initial: 1000, max: 16_000 }, 0);
    let now = 0;
    for (let i = 0; i < 6; i++) {
      now += 3 * rtt;
      w.onConsumed(600, now, rtt);
    }
    assert.equal(w.window, 1000);
    assert.equal(w.advertised, w.consumed + 1000);
  });

  it('ensureWindow grows up to the maximum only', () => {
    const w = new ReceiveWindow({ initial: 1000, max: 4000 });
    w.ensureWindow(500);
    assert.equal(w.window, 1000);
    w.ensureWindow(3000);
    assert.equal(w.window, 3000);
    w.ensureWindow(10_000);
    assert.equal(w.window, 4000);
  });
});
