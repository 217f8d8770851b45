import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Space } from '../../../src/common/levels.js';
import { ms, NEVER } from '../../../src/common/time.js';
import { AckTracker, EcnCodepoint } from '../../../src/connection/ack-tracker.js';
import { decodeFrame, writeAckFrame } from '../../../src/wire/frames.js';
import { BufferReader } from '../../../src/wire/reader.js';
import { BufferWriter } from '../../../src/wire/writer.js';

const MAX_ACK_DELAY = ms(25);
const { NotEct, Ect0, Ect1, Ce } = EcnCodepoint;

describe('AckTracker', () => {
  it('delays the ACK of one in-order 1-RTT packet by max_ack_delay', () => {
    const t = new AckTracker(Space.Application);
    assert.equal(t.ackDeadline(MAX_ACK_DELAY), NEVER);
    assert.equal(t.onPacketReceived(0, 1000, true, NotEct), true);
    assert.equal(t.ackDeadline(MAX_ACK_DELAY), 1000 + MAX_ACK_DELAY);
    assert.equal(t.ackElicitingPending, true);
    assert.equal(t.largestReceived, 0);
    assert.equal(t.largestReceivedTime, 1000);
  });

  it('acknowledges the second ack-eliciting packet immediately (§13.2.2)', () => {
    const t = new AckTracker(Space.Application);
    t.onPacketReceived(0, 1000, true, NotEct);
    t.onPacketReceived(1, 1500, true, NotEct);
    assert.equal(t.ackDeadline(MAX_ACK_DELAY), 1500);
    t.onAckSent(1600);
    assert.equal(t.ackDeadline(MAX_ACK_DELAY), NEVER);
    assert.equal(t.ackPending, false);
    // The count restarts after an ACK.
    t.onPacketReceived(2, 2000, true, NotEct);
    assert.equal(t.ackDeadline(MAX_ACK_DELAY), 2000 + MAX_ACK_DELAY);
    t.onPacketReceived(3, 2100, true, NotEct);
    assert.equal(t.ackDeadline(MAX_ACK_DELAY), 2100);
  });

  it('honours a custom ack-eliciting threshold', () => {
    const t = new AckTracker(Space.Application, { ackElicitingThreshold: 3 });
    t.onPacketReceived(0, 10, true, NotEct);
    t.onPacketReceived(1, 20, true, NotEct);
    assert.equal(t.ackDeadline(MAX_ACK_DELAY), 10 + MAX_ACK_DELAY);
    t.onPacketReceived(2, 30, true, NotEct);
    assert.equal(t.ackDeadline(MAX_ACK_DELAY), 30);
  });

  it('acknowledges Initial and Handshake packets immediately (§13.2.1)', () => {
    for (const space of [Space.Initial, Space.Handshake]) {
      const t = new AckTracker(space);
      t.onPacketReceived(0, 500, true, NotEct);
      assert.equal(t.ackDeadline(MAX_ACK_DELAY), 500);
    }
  });

  it('never schedules an ACK for non-ack-eliciting packets alone, but includes them', () => {
    const t = new AckTracker(Space.Initial);
    t.onPacketReceived(0, 100, false, NotEct);
    t.onPacketReceived(5, 200, false, NotEct); // a gap, still no ACK of its own (§13.2.1)
    assert.equal(t.ackDeadline(MAX_ACK_DELAY), NEVER);
    assert.equal(t.ackPending, true);
    assert.equal(t.ackElicitingPending, false);
    const ack = t.buildAck(300, 3);
    assert.deepEqual(ack?.ranges, [5, 5, 0, 0]);
  });

  it('acknowledges a packet that creates a gap immediately (§13.2.1)', () => {
    const t = new AckTracker(Space.Application);
    t.onPacketReceived(0, 100, true, NotEct);
    t.onAckSent(150);
    t.onPacketReceived(2, 200, true, NotEct);
    assert.equal(t.ackDeadline(MAX_ACK_DELAY), 200);
  });

  it('does not treat a gap filled by non-ack-eliciting packets as missing', () => {
    const t = new AckTracker(Space.Application);
    t.onPacketReceived(0, 100, true, NotEct);
    t.onAckSent(150);
    t.onPacketReceived(1, 160, false, NotEct);
    t.onPacketReceived(2, 200, true, NotEct);
    assert.equal(t.ackDeadline(MAX_ACK_DELAY), 200 + MAX_ACK_DELAY);
  });

  it('treats the first packet of a space above 0 as creating a gap', () => {
    const t = new AckTracker(Space.Application);
    t.onPacketReceived(3, 100, true, NotEct);
    assert.equal(t.ackDeadline(MAX_ACK_DELAY), 100);
  });

  it('acknowledges an out-of-order packet that fills a gap immediately', () => {
    const t = new AckTracker(Space.Application);
    t.onPacketReceived(0, 100, true, NotEct);
    t.onPacketReceived(2, 200, true, NotEct);
    t.onAckSent(250);
    t.onPacketReceived(1, 300, true, NotEct);
    assert.equal(t.ackDeadline(MAX_ACK_DELAY), 300);
    assert.equal(t.largestReceived, 2, 'largest stays');
    assert.equal(t.largestReceivedTime, 200);
    assert.deepEqual(t.buildAck(300, 3)?.ranges, [2, 0]);
  });

  it('acknowledges CE-marked ack-eliciting packets immediately', () => {
    const t = new AckTracker(Space.Application);
    t.onPacketReceived(0, 100, true, Ce);
    assert.equal(t.ackDeadline(MAX_ACK_DELAY), 100);
  });

  it('keeps the deadline of the first packet that made the ACK immediate', () => {
    const t = new AckTracker(Space.Application);
    t.onPacketReceived(0, 100, true, NotEct);
    t.onPacketReceived(1, 200, true, NotEct);
    t.onPacketReceived(2, 300, true, NotEct);
    assert.equal(t.ackDeadline(MAX_ACK_DELAY), 200);
  });

  it('encodes the ack delay with the exponent (§13.2.5, §19.3)', () => {
    const t = new AckTracker(Space.Application);
    t.onPacketReceived(7, 10_000, true, NotEct);
    t.onPacketReceived(3, 10_500, true, NotEct); // not the largest: does not move the reference
    const ack = t.buildAck(10_000 + 8 * 100 + 7, 3);
    assert.ok(ack);
    assert.equal(ack.ackDelay, 100);
    assert.equal(t.buildAck(10_000 + 1234, 0)?.ackDelay, 1234);
    assert.equal(t.buildAck(10_000 + 2 ** 20 * 5, 20)?.ackDelay, 5);
    assert.equal(t.buildAck(9_000, 3)?.ackDelay, 0, 'never negative');
  });

  it('detects duplicates, including below the floor raised by acknowledged ACKs (§13.2.4)', () => {
    const t = new AckTracker(Space.Application);
    for (const pn of [0, 1, 2, 5, 6]) t.onPacketReceived(pn, 100, true, NotEct);
    assert.equal(t.isDuplicate(1), true);
    assert.equal(t.isDuplicate(3), false);
    assert.equal(t.isDuplicate(7), false);
    assert.equal(t.onPacketReceived(5, 200, true, Ect0), false);
    assert.equal(t.ect0, 0, 'duplicates do not count ECN (§13.4.1)');
    const ack = t.buildAck(200, 3);
    assert.deepEqual(ack?.ranges, [6, 5, 2, 0]);
    t.onAckSent(200);
    t.onAckFrameAcked(ack!.ranges[0]!);
    // Everything at or below the acknowledged Largest Acknowledged is a duplicate now.
    assert.equal(t.isDuplicate(3), true);
    assert.equal(t.isDuplicate(4), true);
    assert.equal(t.onPacketReceived(4, 300, true, NotEct), false);
    assert.equal(t.buildAck(300, 3), undefined, 'nothing left to acknowledge');
    assert.equal(t.largestReceived, 6, 'largest packet number is retained (§13.2.3)');
    // The next packet is in order: no gap relative to the forgotten packets.
    t.onPacketReceived(7, 400, true, NotEct);
    assert.equal(t.ackDeadline(MAX_ACK_DELAY), 400 + MAX_ACK_DELAY);
    assert.deepEqual(t.buildAck(400, 3)?.ranges, [7, 7]);
  });

  it('stops reporting only ranges at or below the acknowledged ACK frame', () => {
    const t = new AckTracker(Space.Application);
    for (const pn of [0, 2, 4]) t.onPacketReceived(pn, 100, true, NotEct);
    const first = t.buildAck(100, 3)!;
    t.onAckSent(100);
    for (const pn of [6, 8]) t.onPacketReceived(pn, 200, true, NotEct);
    t.onAckFrameAcked(first.ranges[0]!);
    assert.deepEqual(t.buildAck(200, 3)?.ranges, [8, 8, 6, 6]);
  });

  it('limits ranges in a frame and forgets the oldest beyond the tracking cap', () => {
    const t = new AckTracker(Space.Application, { maxTrackedRanges: 4 });
    for (let pn = 0; pn <= 20; pn += 2) t.onPacketReceived(pn, 100, false, NotEct);
    assert.equal(t.rangeCount, 4);
    assert.deepEqual(t.buildAck(100, 3)?.ranges, [20, 20, 18, 18, 16, 16, 14, 14]);
    assert.deepEqual(t.buildAck(100, 3, 2)?.ranges, [20, 20, 18, 18]);
    // Forgotten ranges and the gaps between them count as received.
    assert.equal(t.isDuplicate(0), true);
    assert.equal(t.isDuplicate(11), true);
    assert.equal(t.isDuplicate(13), false);
  });

  it('limits a frame to 32 ranges by default (§13.2.3)', () => {
    const t = new AckTracker(Space.Application);
    for (let pn = 0; pn < 200; pn += 2) t.onPacketReceived(pn, 100, false, NotEct);
    const ack = t.buildAck(100, 3)!;
    assert.equal(ack.ranges.length, 64);
    assert.equal(ack.ranges[0], 198);
    assert.equal(ack.ranges[63], 198 - 31 * 2);
  });

  it('counts ECN codepoints per space and reports them only once one is seen', () => {
    const t = new AckTracker(Space.Application);
    t.onPacketReceived(0, 1, false, NotEct);
    assert.equal(t.buildAck(1, 3)?.ecn, undefined);
    t.onPacketReceived(1, 2, false, Ect0);
    t.onPacketReceived(2, 3, false, Ect0);
    t.onPacketReceived(3, 4, false, Ect1);
    t.onPacketReceived(4, 5, false, Ce);
    assert.deepEqual(t.buildAck(5, 3)?.ecn, { ect0: 2, ect1: 1, ce: 1 });
    assert.deepEqual(t.ecnCounts, { ect0: 2, ect1: 1, ce: 1 });
  });

  it('produces ACK frames that round-trip through the frame codec', () => {
    const t = new AckTracker(Space.Application);
    for (const pn of [1, 2, 3, 7, 8, 20, 100, 101]) t.onPacketReceived(pn, 1000, true, Ect1);
    const ack = t.buildAck(1000 + 64, 3)!;
    const w = new BufferWriter(64);
    writeAckFrame(w, ack.ranges, ack.ackDelay, ack.ecn);
    const f = decodeFrame(new BufferReader(w.finish()));
    assert.equal(f.type, 'ack');
    if (f.type !== 'ack') return;
    assert.equal(f.largest, 101);
    assert.equal(f.ackDelay, 8);
    assert.deepEqual(f.ranges, [101, 100, 20, 20, 8, 7, 3, 1]);
    assert.deepEqual(f.ecn, { ect0: 0, ect1: 8, ce: 0 });
  });
});
