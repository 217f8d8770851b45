import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FRAME_FLAGS,
  FRAME_PACKET_MASK,
  FrameFlag,
  isAckEliciting,
  isCongestionControlled,
  isFlowControlled,
  isFrameAllowed,
  isProbing,
  PacketTypeBit,
} from '../../../src/wire/frame-rules.js';
import { isKnownFrameType } from '../../../src/wire/frames.js';
import type { PacketType } from '../../../src/wire/header.js';

const PACKET_TYPES: PacketType[] = ['initial', '0rtt', 'handshake', '1rtt'];

/** RFC 9000 §12.4 Table 3 "Pkts" column (I, H, 0, 1), and RFC 9221 §5 for DATAGRAM. */
const PKTS: [number, number, string][] = [
  [0x00, 0x00, 'IH01'],
  [0x01, 0x01, 'IH01'],
  [0x02, 0x03, 'IH_1'],
  [0x04, 0x05, '__01'],
  [0x06, 0x06, 'IH_1'],
  [0x07, 0x07, '___1'],
  [0x08, 0x0f, '__01'],
  [0x10, 0x17, '__01'],
  [0x18, 0x1a, '__01'],
  [0x1b, 0x1b, '___1'],
  [0x1c, 0x1c, 'IH01'],
  [0x1d, 0x1d, '__01'],
  [0x1e, 0x1e, '___1'],
  [0x30, 0x31, '__01'],
];

function allowedString(t: number): string {
  return (
    (isFrameAllowed(t, 'initial') ? 'I' : '_') +
    (isFrameAllowed(t, 'handshake') ? 'H' : '_') +
    (isFrameAllowed(t, '0rtt') ? '0' : '_') +
    (isFrameAllowed(t, '1rtt') ? '1' : '_')
  );
}

describe('frame rules (RFC 9000 §12.4 Table 3)', () => {
  it('allows frames in the packet types of the Pkts column', () => {
    for (const [first, last, pkts] of PKTS) {
      for (let t = first; t <= last; t++) assert.equal(allowedString(t), pkts, `type 0x${t.toString(16)}`);
    }
  });

  it('forbids CONNECTION_CLOSE 0x1d in Initial/Handshake and ACK in 0-RTT (§12.5)', () => {
    assert.ok(isFrameAllowed(0x1c, 'initial'));
    assert.ok(!isFrameAllowed(0x1d, 'initial'));
    assert.ok(!isFrameAllowed(0x1d, 'handshake'));
    assert.ok(!isFrameAllowed(0x02, '0rtt'));
    assert.ok(!isFrameAllowed(0x03, '0rtt'));
    assert.ok(!isFrameAllowed(0x06, '0rtt'));
  });

  it('knows nothing about unknown types', () => {
    for (let t = 0; t < 0x100; t++) {
      if (isKnownFrameType(t)) {
        assert.ok(FRAME_FLAGS[t]! & FrameFlag.KNOWN);
        continue;
      }
      for (const p of PACKET_TYPES) assert.ok(!isFrameAllowed(t, p));
      assert.ok(!isAckEliciting(t) && !isProbing(t) && !isCongestionControlled(t) && !isFlowControlled(t));
    }
    assert.ok(!isFrameAllowed(2 ** 40, '1rtt'));
  });

  it('marks N (not ack-eliciting): PADDING, ACK, CONNECTION_CLOSE', () => {
    const n = [];
    for (let t = 0; t < 0x40; t++) if (isKnownFrameType(t) && !isAckEliciting(t)) n.push(t);
    assert.deepEqual(n, [0x00, 0x02, 0x03, 0x1c, 0x1d]);
    assert.ok(isAckEliciting(0x30) && isAckEliciting(0x31)); // RFC 9221 §5.2
  });

  it('marks P (probing, §9.1): PADDING, NEW_CONNECTION_ID, PATH_CHALLENGE, PATH_RESPONSE', () => {
    const p = [];
    for (let t = 0; t < 0x40; t++) if (isProbing(t)) p.push(t);
    assert.deepEqual(p, [0x00, 0x18, 0x1a, 0x1b]);
  });

  it('marks C (not congestion controlled): ACK only; F (flow controlled): STREAM only', () => {
    const c = [];
    const f = [];
    for (let t = 0; t < 0x40; t++) {
      if (isKnownFrameType(t) && !isCongestionControlled(t)) c.push(t);
      if (isFlowControlled(t)) f.push(t);
    }
    assert.deepEqual(c, [0x02, 0x03]);
    assert.deepEqual(f, [0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f]);
  });

  it('exposes typed arrays for per-packet lookups', () => {
    assert.ok(FRAME_PACKET_MASK instanceof Uint8Array);
    assert.equal(
      FRAME_PACKET_MASK[0x06],
      PacketTypeBit.initial | PacketTypeBit.handshake | PacketTypeBit['1rtt'],
    );
  });
});
