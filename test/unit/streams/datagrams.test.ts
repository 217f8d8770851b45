import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TransportError, TransportErrorCode } from '../../../src/common/errors.js';
import { Datagrams, datagramFrameSize } from '../../../src/streams/datagrams.js';
import { StreamUsageError } from '../../../src/streams/errors.js';
import { BufferWriter } from '../../../src/wire/writer.js';
import { decodeAll } from './helpers.js';

function dg(
  over: Partial<{ maxFrameSize: number; sendQueueBytes: number; recvQueueBytes: number }> = {},
): Datagrams {
  return new Datagrams({ maxFrameSize: 65535, sendQueueBytes: 10_000, recvQueueBytes: 10_000, ...over });
}

const violation = (e: unknown) =>
  e instanceof TransportError && e.code === TransportErrorCode.PROTOCOL_VIOLATION && e.frameType === 0x30;

describe('Datagrams (RFC 9221)', () => {
  it('DATAGRAM without advertised support: PROTOCOL_VIOLATION (§3)', () => {
    const d = dg({ maxFrameSize: 0 });
    assert.throws(() => d.onFrame(new Uint8Array(1)), violation);
    assert.throws(() => d.onFrame(new Uint8Array(0)), violation);
  });

  it('DATAGRAM larger than our max_datagram_frame_size: PROTOCOL_VIOLATION (§3)', () => {
    const d = dg({ maxFrameSize: 100 });
    d.onFrame(new Uint8Array(97), datagramFrameSize(97)); // 1 + 2 + 97 = 100: at the limit
    assert.throws(() => d.onFrame(new Uint8Array(98), datagramFrameSize(98)), violation);
    d.onFrame(new Uint8Array(99)); // without a Length field: 1 + 99 = 100
    assert.throws(() => d.onFrame(new Uint8Array(100)), violation);
    assert.equal(d.stats().received, 2);
  });

  it('delivers copies of received datagrams in order', () => {
    const d = dg();
    const packet = Uint8Array.of(1, 2, 3, 4);
    d.onFrame(packet.subarray(0, 2));
    d.onFrame(packet.subarray(2));
    packet.fill(0); // the packet buffer is reused: the queued datagrams must not change
    assert.deepEqual(d.recv(), Uint8Array.of(1, 2));
    assert.deepEqual(d.recv(), Uint8Array.of(3, 4));
    assert.equal(d.recv(), undefined);
  });

  it('bounds the incoming queue, dropping the oldest', () => {
    const d = dg({ recvQueueBytes: 250 });
    for (let i = 0; i < 5; i++) d.onFrame(new Uint8Array(100).fill(i));
    assert.equal(d.stats().droppedIncoming, 3);
    assert.equal(d.recv()![0], 3);
    assert.equal(d.recv()![0], 4);
    assert.equal(d.recv(), undefined);
  });

  it('refuses to send before the peer advertised support', () => {
    const d = dg();
    assert.throws(
      () => d.send(new Uint8Array(1)),
      (e: unknown) => e instanceof StreamUsageError && e.code === 'ERR_QUIC_DATAGRAMS_UNSUPPORTED',
    );
    assert.equal(d.maxPayload, 0);
  });

  it("refuses datagrams larger than the peer's max_datagram_frame_size", () => {
    const d = dg();
    d.setPeerMaxFrameSize(100);
    assert.equal(d.maxPayload, 97);
    d.send(new Uint8Array(97));
    assert.throws(
      () => d.send(new Uint8Array(98)),
      (e: unknown) =>
        e instanceof StreamUsageError && e.code === 'ERR_QUIC_DATAGRAM_TOO_LARGE' && /100/.test(e.message),
    );
    d.setPathMaxFrameSize(50);
    assert.equal(d.maxPayload, 48);
    assert.throws(() => d.send(new Uint8Array(60)), StreamUsageError);
  });

  it('bounds the outgoing queue, dropping the oldest and counting drops', () => {
    const d = dg({ sendQueueBytes: 300 });
    d.setPeerMaxFrameSize(65535);
    for (let i = 0; i < 5; i++) d.send(new Uint8Array(100).fill(i));
    assert.equal(d.stats().droppedOutgoing, 2);
    assert.equal(d.stats().queuedOutgoing, 3);
    const w = new BufferWriter(new Uint8Array(1200));
    assert.equal(d.writeFrames(w), 3);
    const frames = decodeAll(w.view());
    assert.deepEqual(
      frames.map((f) => (f.type === 'datagram' ? f.data[0] : -1)),
      [2, 3, 4],
    );
    assert.equal(d.stats().sent, 3);
    assert.equal(d.hasPendingFrames(), false);
  });

  it('writes what fits and keeps the rest; the last may omit its Length', () => {
    const d = dg();
    d.setPeerMaxFrameSize(65535);
    d.send(new Uint8Array(500).fill(1));
    d.send(new Uint8Array(500).fill(2));
    const w = new BufferWriter(new Uint8Array(1002));
    assert.equal(d.writeFrames(w), 1);
    assert.equal(w.offset, 503);
    const w2 = new BufferWriter(new Uint8Array(501));
    assert.equal(d.writeFrames(w2, true), 1);
    assert.equal(w2.view()[0], 0x30, 'no Length field');
    const frames = decodeAll(w2.view());
    assert.deepEqual(frames, [{ type: 'datagram', data: new Uint8Array(500).fill(2) }]);
  });

  it('drops queued datagrams that no longer fit the path', () => {
    const d = dg();
    d.setPeerMaxFrameSize(65535);
    d.send(new Uint8Array(1000));
    d.send(new Uint8Array(10));
    d.setPathMaxFrameSize(500);
    const w = new BufferWriter(new Uint8Array(1200));
    assert.equal(d.writeFrames(w), 1);
    assert.equal(d.stats().droppedOutgoing, 1);
  });
});
