import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TransportErrorCode as E, TransportError } from '../../../src/common/errors.js';
import { StreamUsageError } from '../../../src/streams/errors.js';
import { type StreamEvent, StreamManager, type StreamRecord } from '../../../src/streams/stream-manager.js';
import type { Frame } from '../../../src/wire/frames.js';
import { BufferWriter } from '../../../src/wire/writer.js';
import {
  buildPacket,
  config,
  decodeAll,
  deliver,
  flush,
  limitsOf,
  pair,
  readAll,
  streamData,
} from './helpers.js';

function transportError(code: number, frameType?: number) {
  return (e: unknown) =>
    e instanceof TransportError && e.code === code && (frameType === undefined || e.frameType === frameType);
}

function events(m: StreamManager): StreamEvent[] {
  const out: StreamEvent[] = [];
  for (let e = m.pollEvent(); e; e = m.pollEvent()) out.push(e);
  return out;
}

function stream(streamId: number, offset: number, data: Uint8Array, fin = false): Frame {
  return { type: 'stream', streamId, offset, data, fin };
}

/** Frames written by `m` into one packet of `size` octets. */
function written(m: StreamManager, size = 1200, now = 0): { frames: Frame[]; records: StreamRecord[] } {
  const w = new BufferWriter(new Uint8Array(size));
  const records: StreamRecord[] = [];
  m.writeFrames(w, records, now);
  return { frames: decodeAll(w.view()), records };
}

/** A server whose peer (client) limits are the defaults. */
function server(over = {}): StreamManager {
  const m = new StreamManager(config('server', over));
  m.setPeerLimits(limitsOf(config('client')));
  return m;
}

function client(over = {}, peerOver = {}): StreamManager {
  const m = new StreamManager(config('client', over));
  m.setPeerLimits(limitsOf(config('server', peerOver)));
  return m;
}

describe('StreamManager: stream IDs and states (RFC 9000 §2.1, §3)', () => {
  it('opens streams with the right IDs for each role and type', () => {
    const c = client();
    const s = server();
    assert.deepEqual([c.open(true), c.open(true), c.open(false), c.open(false)], [0, 4, 2, 6]);
    assert.deepEqual([s.open(true), s.open(false), s.open(true)], [1, 3, 5]);
  });

  it('STREAM, RESET_STREAM or STREAM_DATA_BLOCKED on our unidirectional stream: STREAM_STATE_ERROR', () => {
    const c = client();
    const id = c.open(false)!; // 2: client-initiated uni (send-only for the client)
    assert.throws(
      () => c.onFrame(stream(id, 0, new Uint8Array(1)), 0),
      transportError(E.STREAM_STATE_ERROR, 0x08),
    );
    assert.throws(
      () => c.onFrame({ type: 'reset_stream', streamId: id, errorCode: 0, finalSize: 0 }, 0),
      transportError(E.STREAM_STATE_ERROR, 0x04),
    );
    assert.throws(
      () => c.onFrame({ type: 'stream_data_blocked', streamId: id, limit: 0 }, 0),
      transportError(E.STREAM_STATE_ERROR, 0x15),
    );
    // MAX_STREAM_DATA and STOP_SENDING are fine on it.
    c.onFrame({ type: 'max_stream_data', streamId: id, maximum: 1 << 20 }, 0);
    c.onFrame({ type: 'stop_sending', streamId: id, errorCode: 7 }, 0);
  });

  it('MAX_STREAM_DATA or STOP_SENDING on a receive-only stream: STREAM_STATE_ERROR', () => {
    const c = client();
    // 3: server-initiated uni (receive-only for the client)
    assert.throws(
      () => c.onFrame({ type: 'max_stream_data', streamId: 3, maximum: 10 }, 0),
      transportError(E.STREAM_STATE_ERROR, 0x11),
    );
    assert.throws(
      () => c.onFrame({ type: 'stop_sending', streamId: 3, errorCode: 0 }, 0),
      transportError(E.STREAM_STATE_ERROR, 0x05),
    );
    // Data on it is fine.
    c.onFrame(stream(3, 0, new Uint8Array(5)), 0);
  });

  it('frames for a locally initiated stream not yet opened: STREAM_STATE_ERROR (§19.4–19.10)', () => {
    const c = client();
    c.open(true); // 0 exists, 4 does not
    const cases: Frame[] = [
      stream(4, 0, new Uint8Array(1)),
      { type: 'reset_stream', streamId: 4, errorCode: 0, finalSize: 0 },
      { type: 'stop_sending', streamId: 4, errorCode: 0 },
      { type: 'max_stream_data', streamId: 4, maximum: 100 },
      { type: 'stream_data_blocked', streamId: 4, limit: 0 },
      { type: 'max_stream_data', streamId: 2, maximum: 100 }, // uni 2 not opened either
    ];
    for (const f of cases) assert.throws(() => c.onFrame(f, 0), transportError(E.STREAM_STATE_ERROR), f.type);
    c.onFrame(stream(0, 0, new Uint8Array(1)), 0);
  });

  it('peer opening beyond our limit: STREAM_LIMIT_ERROR (§4.6)', () => {
    const s = server({ maxStreamsBidi: 3, maxStreamsUni: 2 });
    s.onFrame(stream(8, 0, new Uint8Array(1)), 0); // client bidi index 2: the 3rd stream, allowed
    assert.throws(
      () => s.onFrame(stream(12, 0, new Uint8Array(1)), 0),
      transportError(E.STREAM_LIMIT_ERROR, 0x08),
    );
    // The direction rule applies before the limit: client uni 6 is receive-only for the server.
    assert.throws(
      () => s.onFrame({ type: 'stop_sending', streamId: 6, errorCode: 1 }, 0),
      transportError(E.STREAM_STATE_ERROR, 0x05),
    );
  });

  it('peer opening beyond our uni limit, with any frame type: STREAM_LIMIT_ERROR', () => {
    const s = server({ maxStreamsUni: 2 });
    s.onFrame(stream(6, 0, new Uint8Array(1)), 0);
    assert.throws(
      () => s.onFrame({ type: 'reset_stream', streamId: 10, errorCode: 0, finalSize: 0 }, 0),
      transportError(E.STREAM_LIMIT_ERROR, 0x04),
    );
    const s2 = server({ maxStreamsBidi: 1 });
    assert.throws(
      () => s2.onFrame({ type: 'max_stream_data', streamId: 4, maximum: 5 }, 0),
      transportError(E.STREAM_LIMIT_ERROR, 0x11),
    );
  });

  it('opening a stream opens all lower-numbered streams of its type (§3.2)', () => {
    const s = server();
    s.onFrame(stream(8, 0, Uint8Array.of(1)), 0);
    const ev = events(s);
    assert.deepEqual(
      ev.filter((e) => e.type === 'opened').map((e) => (e as { id: number }).id),
      [0, 4, 8],
    );
    assert.ok(ev.some((e) => e.type === 'readable' && e.id === 8));
    // A later frame for stream 4 does not open it again.
    s.onFrame(stream(4, 0, Uint8Array.of(1)), 0);
    assert.ok(!events(s).some((e) => e.type === 'opened'));
  });

  it('MAX_STREAM_DATA / STOP_SENDING open a peer bidirectional stream (§3.2)', () => {
    const s = server();
    s.onFrame({ type: 'max_stream_data', streamId: 0, maximum: 1 << 20 }, 0);
    assert.deepEqual(events(s), [{ type: 'opened', id: 0 }]);
    s.onFrame({ type: 'stop_sending', streamId: 4, errorCode: 9 }, 0);
    assert.deepEqual(events(s), [
      { type: 'opened', id: 4 },
      { type: 'stop-sending', id: 4, errorCode: 9 },
    ]);
    const { frames } = written(s);
    assert.deepEqual(frames, [{ type: 'reset_stream', streamId: 4, errorCode: 9, finalSize: 0 }]);
  });

  it('application misuse throws StreamUsageError', () => {
    const c = client();
    assert.throws(() => c.write(3, new Uint8Array(1), false), StreamUsageError); // receive-only
    assert.throws(() => c.write(0, new Uint8Array(1), false), StreamUsageError); // not opened
    const id = c.open(false)!;
    assert.throws(() => c.read(id, 10, 0), StreamUsageError); // send-only
    c.write(id, new Uint8Array(1), true);
    assert.throws(
      () => c.write(id, new Uint8Array(1), false),
      (e: unknown) => {
        return e instanceof StreamUsageError && e.code === 'ERR_QUIC_STREAM_FINISHED';
      },
    );
    const id2 = c.open(true)!;
    c.reset(id2, 1);
    assert.throws(
      () => c.write(id2, new Uint8Array(1), false),
      (e: unknown) => {
        return e instanceof StreamUsageError && e.code === 'ERR_QUIC_STREAM_RESET';
      },
    );
  });
});

describe('StreamManager: flow control (RFC 9000 §4)', () => {
  it('data beyond the stream limit: FLOW_CONTROL_ERROR', () => {
    const s = server({ initialMaxStreamDataBidiRemote: 1000 });
    s.onFrame(stream(0, 0, new Uint8Array(1000)), 0);
    assert.throws(
      () => s.onFrame(stream(0, 1000, new Uint8Array(1)), 0),
      transportError(E.FLOW_CONTROL_ERROR, 0x08),
    );
  });

  it('data beyond the connection limit across streams: FLOW_CONTROL_ERROR', () => {
    const s = server({ initialMaxData: 1500, initialMaxStreamDataBidiRemote: 1000 });
    s.onFrame(stream(0, 0, new Uint8Array(1000)), 0);
    s.onFrame(stream(0, 0, new Uint8Array(1000)), 0); // retransmission: not counted twice
    s.onFrame(stream(4, 0, new Uint8Array(500)), 0);
    assert.throws(
      () => s.onFrame(stream(4, 500, new Uint8Array(1)), 0),
      transportError(E.FLOW_CONTROL_ERROR),
    );
  });

  it('out-of-order data counts by highest offset (§19.10)', () => {
    const s = server({ initialMaxData: 1000, initialMaxStreamDataBidiRemote: 1000 });
    s.onFrame(stream(0, 900, new Uint8Array(100)), 0); // counts 1000 at once
    assert.throws(() => s.onFrame(stream(4, 0, new Uint8Array(1)), 0), transportError(E.FLOW_CONTROL_ERROR));
  });

  it('RESET_STREAM final size counts toward connection flow control (§4.5)', () => {
    const s = server({ initialMaxData: 1000, initialMaxStreamDataBidiRemote: 1000 });
    s.onFrame(stream(0, 0, new Uint8Array(100)), 0);
    s.onFrame(stream(4, 0, new Uint8Array(300)), 0);
    s.onFrame({ type: 'reset_stream', streamId: 0, errorCode: 5, finalSize: 700 }, 0);
    assert.equal(s.stats().connRecvReceived, 1000);
    const s2 = server({ initialMaxData: 1000, initialMaxStreamDataBidiRemote: 1000 });
    s2.onFrame(stream(4, 0, new Uint8Array(300)), 0);
    assert.throws(
      () => s2.onFrame({ type: 'reset_stream', streamId: 0, errorCode: 5, finalSize: 701 }, 0),
      transportError(E.FLOW_CONTROL_ERROR, 0x04),
    );
  });

  it('RESET_STREAM final size beyond the stream limit: FLOW_CONTROL_ERROR', () => {
    const s = server({ initialMaxStreamDataBidiRemote: 1000 });
    assert.throws(
      () => s.onFrame({ type: 'reset_stream', streamId: 0, errorCode: 0, finalSize: 1001 }, 0),
      transportError(E.FLOW_CONTROL_ERROR, 0x04),
    );
  });

  it('a reset returns the unread credit to the connection window', () => {
    const s = server({
      initialMaxData: 1000,
      initialMaxStreamDataBidiRemote: 1000,
      maxConnectionWindow: 1000,
    });
    s.onFrame(stream(0, 0, new Uint8Array(900)), 0);
    s.onFrame({ type: 'reset_stream', streamId: 0, errorCode: 0, finalSize: 900 }, 0);
    const { frames } = written(s);
    assert.deepEqual(frames, [{ type: 'max_data', maximum: 1900 }]);
  });

  it('reading sends MAX_STREAM_DATA and MAX_DATA; lost updates resend the current value', () => {
    const s = server({
      initialMaxData: 10_000,
      initialMaxStreamDataBidiRemote: 1000,
      maxStreamWindow: 1000,
      maxConnectionWindow: 10_000,
    });
    s.onFrame(stream(0, 0, new Uint8Array(1000)), 0);
    assert.ok(!s.hasPendingFrames());
    s.read(0, 600, 0);
    const first = written(s);
    assert.deepEqual(first.frames, [{ type: 'max_stream_data', streamId: 0, maximum: 1600 }]);
    s.read(0, 400, 1);
    s.onFrame(stream(0, 1000, new Uint8Array(600)), 2);
    s.read(0, 600, 3);
    const second = written(s);
    assert.deepEqual(second.frames, [{ type: 'max_stream_data', streamId: 0, maximum: 2600 }]);
    // The first (older) update is declared lost: resend the *current* limit.
    s.onLost(first.records[0]!);
    assert.deepEqual(written(s).frames, [{ type: 'max_stream_data', streamId: 0, maximum: 2600 }]);
  });

  it('lost MAX_DATA is resent with the latest value', () => {
    const s = server({ initialMaxData: 1000, maxConnectionWindow: 1000 });
    s.onFrame(stream(0, 0, new Uint8Array(1000)), 0);
    s.read(0, 600, 0);
    const a = written(s);
    assert.deepEqual(a.frames, [{ type: 'max_data', maximum: 1600 }]);
    s.onFrame(stream(0, 1000, new Uint8Array(600)), 0);
    assert.equal(s.read(0, 1000, 0)!.data.length, 400, 'one contiguous piece at a time');
    assert.equal(s.read(0, 1000, 0)!.data.length, 600);
    const b = written(s);
    assert.deepEqual(
      b.frames.filter((f) => f.type === 'max_data'),
      [{ type: 'max_data', maximum: 2600 }],
    );
    s.onLost(a.records.find((r) => r.kind === 'max_data')!);
    assert.deepEqual(
      written(s).frames.filter((f) => f.type === 'max_data'),
      [{ type: 'max_data', maximum: 2600 }],
    );
  });

  for (const [label, gap, grows] of [
    ['grows the stream window when the reader keeps up within 2 RTTs', 10_000, true],
    ['keeps the stream window when the reader is slower than 2 RTTs', 300_000, false],
  ] as const) {
    it(`auto-tuning ${label}`, () => {
      const s = server({ initialMaxStreamDataBidiRemote: 1000, maxStreamWindow: 64_000 });
      s.setSmoothedRtt(100_000);
      s.onFrame(stream(0, 0, new Uint8Array(0)), 0); // opened at t=0
      let now = 0;
      let offset = 0;
      let limit = 1000;
      const windows: number[] = [];
      for (let i = 0; i < 8; i++) {
        // The peer sends up to the limit; we read it all, `gap` µs after the last update.
        now += gap;
        s.onFrame(stream(0, offset, new Uint8Array(limit - offset)), now);
        offset = limit;
        readAll(s, 0, now);
        const update = written(s, 1200, now).frames.find((f) => f.type === 'max_stream_data');
        assert.ok(update?.type === 'max_stream_data');
        windows.push(update.maximum - offset);
        limit = update.maximum;
      }
      if (grows) assert.deepEqual(windows, [2000, 4000, 8000, 16_000, 32_000, 64_000, 64_000, 64_000]);
      else assert.deepEqual(windows, [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000]);
    });
  }

  it("the peer's DATA_BLOCKED / STREAMS_BLOCKED below our current limits re-sends them", () => {
    const s = server({ initialMaxData: 1000, maxConnectionWindow: 1000 });
    s.onFrame(stream(0, 0, new Uint8Array(1000)), 0);
    readAll(s, 0);
    assert.deepEqual(written(s).frames, [{ type: 'max_data', maximum: 2000 }]);
    s.onFrame({ type: 'data_blocked', limit: 1000 }, 0); // it never got our MAX_DATA
    assert.deepEqual(written(s).frames, [{ type: 'max_data', maximum: 2000 }]);
    s.onFrame({ type: 'data_blocked', limit: 2000 }, 0); // current: nothing to do
    assert.equal(s.hasPendingFrames(), false);
    s.onFrame({ type: 'streams_blocked', bidi: true, limit: 100 }, 0);
    assert.equal(s.hasPendingFrames(), false);
  });

  it('DATA_BLOCKED and STREAM_DATA_BLOCKED are sent once per limit', () => {
    const c = client({}, { initialMaxData: 1500, initialMaxStreamDataBidiRemote: 1000 });
    const a = c.open(true)!;
    const b = c.open(true)!;
    c.write(a, new Uint8Array(2000), false);
    c.write(b, new Uint8Array(2000), false);
    const all: Frame[] = [];
    for (let i = 0; i < 10 && c.hasPendingFrames(); i++) all.push(...written(c, 1200).frames);
    const sdb = all.filter((f) => f.type === 'stream_data_blocked');
    const db = all.filter((f) => f.type === 'data_blocked');
    assert.deepEqual(sdb, [{ type: 'stream_data_blocked', streamId: a, limit: 1000 }]);
    assert.deepEqual(db, [{ type: 'data_blocked', limit: 1500 }]);
    assert.equal(c.hasPendingFrames(), false, 'blocked: nothing more to send');
    assert.equal(
      all
        .filter((f) => f.type === 'stream')
        .reduce((n, f) => n + (f.type === 'stream' ? f.data.length : 0), 0),
      1500,
      'exactly the connection credit was used',
    );
    c.onFrame({ type: 'max_data', maximum: 1500 }, 0); // not an increase: ignored
    assert.equal(c.hasPendingFrames(), false);
    c.onFrame({ type: 'max_data', maximum: 1800 }, 0);
    const more = written(c).frames;
    assert.equal(
      more
        .filter((f) => f.type === 'stream')
        .reduce((n, f) => n + (f.type === 'stream' ? f.data.length : 0), 0),
      300,
    );
    assert.deepEqual(
      more.filter((f) => f.type === 'data_blocked'),
      [{ type: 'data_blocked', limit: 1800 }],
      'blocked again at the new limit',
    );
  });

  it('a lost STREAM_DATA_BLOCKED is resent only while still blocked', () => {
    const c = client({}, { initialMaxStreamDataBidiRemote: 100 });
    const id = c.open(true)!;
    c.write(id, new Uint8Array(200), false);
    const p1 = written(c);
    const rec = p1.records.find((r) => r.kind === 'stream_data_blocked');
    assert.ok(rec, 'blocked signalled');
    c.onLost(rec);
    assert.deepEqual(written(c).frames, [{ type: 'stream_data_blocked', streamId: id, limit: 100 }]);
    c.onFrame({ type: 'max_stream_data', streamId: id, maximum: 150 }, 0);
    c.onLost(rec);
    const p3 = written(c).frames;
    assert.ok(p3.some((f) => f.type === 'stream' && f.offset === 100 && f.data.length === 50));
    // Blocked again at 150, but the lost signal for 100 is not resent.
    assert.deepEqual(
      p3.filter((f) => f.type === 'stream_data_blocked'),
      [{ type: 'stream_data_blocked', streamId: id, limit: 150 }],
    );
  });
});

describe('StreamManager: final size (RFC 9000 §4.5)', () => {
  it('a changed final size or data past it: FINAL_SIZE_ERROR', () => {
    const s = server();
    s.onFrame(stream(0, 0, new Uint8Array(10), true), 0);
    assert.throws(
      () => s.onFrame(stream(0, 0, new Uint8Array(11), true), 0),
      transportError(E.FINAL_SIZE_ERROR),
    );
    assert.throws(() => s.onFrame(stream(0, 10, new Uint8Array(1)), 0), transportError(E.FINAL_SIZE_ERROR));
    assert.throws(
      () => s.onFrame({ type: 'reset_stream', streamId: 0, errorCode: 0, finalSize: 12 }, 0),
      transportError(E.FINAL_SIZE_ERROR, 0x04),
    );
  });

  it('a RESET_STREAM final size below received data: FINAL_SIZE_ERROR', () => {
    const s = server();
    s.onFrame(stream(0, 50, new Uint8Array(50)), 0);
    assert.throws(
      () => s.onFrame({ type: 'reset_stream', streamId: 0, errorCode: 0, finalSize: 99 }, 0),
      transportError(E.FINAL_SIZE_ERROR, 0x04),
    );
  });

  it('after a reset, data beyond the final size is still an error', () => {
    const s = server();
    s.onFrame({ type: 'reset_stream', streamId: 0, errorCode: 3, finalSize: 100 }, 0);
    assert.deepEqual(events(s), [
      { type: 'opened', id: 0 },
      { type: 'reset', id: 0, errorCode: 3, finalSize: 100 },
    ]);
    // Bidirectional: our sending part is still open, so the stream is kept.
    s.onFrame(stream(0, 0, new Uint8Array(100)), 0);
    assert.throws(() => s.onFrame(stream(0, 100, new Uint8Array(1)), 0), transportError(E.FINAL_SIZE_ERROR));
  });
});

describe('StreamManager: stream limits (RFC 9000 §4.6)', () => {
  it('STREAMS_BLOCKED once per limit; MAX_STREAMS raises the limit and signals streams-available', () => {
    const c = client({}, { maxStreamsBidi: 1 });
    assert.equal(c.open(true), 0);
    assert.equal(c.open(true), undefined);
    assert.equal(c.open(true), undefined);
    assert.deepEqual(written(c).frames, [{ type: 'streams_blocked', bidi: true, limit: 1 }]);
    assert.equal(c.open(true), undefined);
    assert.equal(c.hasPendingFrames(), false, 'not again for the same limit');
    c.onFrame({ type: 'max_streams', bidi: true, maximum: 1 }, 0); // not an increase
    assert.deepEqual(events(c), []);
    c.onFrame({ type: 'max_streams', bidi: true, maximum: 2 }, 0);
    assert.deepEqual(events(c), [{ type: 'streams-available', bidi: true }]);
    assert.equal(c.open(true), 4);
    assert.equal(c.open(true), undefined);
    assert.deepEqual(written(c).frames, [{ type: 'streams_blocked', bidi: true, limit: 2 }]);
    assert.equal(c.open(false), 2, 'the unidirectional limit is separate');
  });

  it('MAX_STREAMS above 2^60: FRAME_ENCODING_ERROR', () => {
    const c = client();
    assert.throws(
      () => c.onFrame({ type: 'max_streams', bidi: false, maximum: 2 ** 60 + 2 ** 20 }, 0),
      transportError(E.FRAME_ENCODING_ERROR, 0x13),
    );
  });

  it('re-issues stream credit as peer streams close, keeping the peer at our concurrency limit', () => {
    const { client: c, server: s } = pair({}, { maxStreamsBidi: 2 });
    const ids = [c.open(true)!, c.open(true)!];
    assert.equal(c.open(true), undefined);
    for (const id of ids) c.write(id, Uint8Array.of(1, 2, 3), true);
    flush(c, s);
    for (const id of ids) {
      assert.deepEqual(s.read(id, 100, 0)!.fin, true);
      s.write(id, Uint8Array.of(9), true);
    }
    const p = buildPacket(s, 1200, 0)!;
    assert.ok(
      !decodeAll(p.payload).some((f) => f.type === 'max_streams'),
      'not yet: the server side is only done once its FIN is acked',
    );
    assert.equal(s.stats().openStreams, 2);
    deliver(s, c, p, 0);
    assert.equal(s.stats().openStreams, 0);
    const after = flush(s, c).flatMap((p) => decodeAll(p.payload));
    assert.deepEqual(after, [{ type: 'max_streams', bidi: true, maximum: 4 }]);
    assert.ok(events(c).some((e) => e.type === 'streams-available'));
    assert.equal(c.open(true), 8);
  });
});

describe('StreamManager: reset and STOP_SENDING (RFC 9000 §3.5, §19.4, §19.5)', () => {
  it('STOP_SENDING makes us reset with the same error code and final size = sent octets', () => {
    const { client: c, server: s } = pair();
    const id = c.open(true)!;
    c.write(id, new Uint8Array(3000), false);
    buildPacket(c, 1200, 0);
    c.onFrame({ type: 'stop_sending', streamId: id, errorCode: 77 }, 0);
    assert.deepEqual(events(c), [{ type: 'stop-sending', id, errorCode: 77 }]);
    const { frames, records } = written(c);
    assert.equal(frames.length, 1);
    const f = frames[0]!;
    assert.equal(f.type, 'reset_stream');
    assert.ok(f.type === 'reset_stream' && f.errorCode === 77 && f.finalSize > 1100 && f.finalSize < 1200);
    // The RESET_STREAM is resent, unchanged, when lost.
    c.onLost(records[0]!);
    assert.deepEqual(written(c).frames, frames);
    void s;
  });

  it('stopSending queues STOP_SENDING, discards data but keeps counting flow control', () => {
    const s = server({
      initialMaxData: 2000,
      initialMaxStreamDataBidiRemote: 2000,
      maxConnectionWindow: 2000,
    });
    s.onFrame(stream(0, 0, new Uint8Array(500)), 0);
    s.stopSending(0, 42);
    assert.equal(s.read(0, 100, 0), undefined);
    const { frames, records } = written(s);
    assert.deepEqual(
      frames.filter((f) => f.type === 'stop_sending'),
      [{ type: 'stop_sending', streamId: 0, errorCode: 42 }],
    );
    s.onFrame(stream(0, 500, new Uint8Array(1000)), 0);
    assert.equal(s.stats().recvBufferedBytes, 0);
    assert.throws(
      () => s.onFrame(stream(0, 1500, new Uint8Array(501)), 0),
      transportError(E.FLOW_CONTROL_ERROR),
    );
    // Lost STOP_SENDING is resent until the peer's RESET_STREAM arrives.
    const stopRecord = records.find((r) => r.kind === 'stop_sending')!;
    s.onLost(stopRecord);
    assert.ok(written(s).frames.some((f) => f.type === 'stop_sending'));
    s.onFrame({ type: 'reset_stream', streamId: 0, errorCode: 42, finalSize: 1500 }, 0);
    s.onLost(stopRecord);
    assert.ok(!written(s).frames.some((f) => f.type === 'stop_sending'));
  });

  it('reset() stops retransmissions (§13.3)', () => {
    const c = client();
    const id = c.open(false)!;
    c.write(id, new Uint8Array(5000), false);
    const p = buildPacket(c, 1200, 0)!;
    c.reset(id, 1);
    for (const r of p.records) c.onLost(r);
    const { frames } = written(c);
    assert.deepEqual(
      frames.map((f) => f.type),
      ['reset_stream'],
    );
  });

  it('frames for a closed and forgotten stream are ignored', () => {
    const { client: c, server: s } = pair();
    const id = c.open(false)!;
    c.write(id, Uint8Array.of(1, 2), true);
    flush(c, s);
    assert.deepEqual(s.read(id, 10, 0), { data: Uint8Array.of(1, 2), fin: true });
    assert.equal(s.stats().openStreams, 0);
    assert.equal(c.stats().openStreams, 0);
    s.onFrame(stream(id, 0, Uint8Array.of(1, 2), true), 0);
    c.onFrame({ type: 'stop_sending', streamId: id, errorCode: 0 }, 0);
    assert.equal(s.stats().openStreams, 0);
    assert.equal(s.read(id, 10, 0), undefined);
    assert.equal(c.hasPendingFrames(), false);
  });
});

describe('StreamManager: output', () => {
  it('the last STREAM frame omits the Length field; earlier ones carry it', () => {
    const c = client();
    const a = c.open(false)!;
    const b = c.open(false)!;
    c.write(a, new Uint8Array(100).fill(1), true);
    c.write(b, new Uint8Array(100).fill(2), true);
    const w = new BufferWriter(new Uint8Array(1200));
    const records: StreamRecord[] = [];
    c.writeFrames(w, records, 0);
    const view = w.view();
    // First frame: type with LEN (0x02) and FIN (0x01), no OFF.
    assert.equal(view[0], 0x0b);
    const frames = decodeAll(view);
    assert.equal(frames.length, 2);
    const second = 1 + 1 + 2 + 100; // type, id, length (2-octet varint), data
    assert.equal(view[second], 0x09, 'last frame: FIN, no LEN');
    assert.equal(w.offset, second + 2 + 100);
    assert.deepEqual(
      records.map((r) => (r.kind === 'stream' ? [r.id, r.offset, r.length, r.fin] : r.kind)),
      [
        [a, 0, 100, true],
        [b, 0, 100, true],
      ],
    );
  });

  it('with allowImplicitLength=false every STREAM frame carries its Length', () => {
    const c = client();
    const a = c.open(true)!;
    const b = c.open(false)!;
    c.write(a, new Uint8Array(50_000).fill(1), true);
    c.write(b, new Uint8Array(50_000).fill(2), true);
    let total = 0;
    for (let size = 20; size < 1500 && c.hasPendingFrames(); size += 7) {
      const w = new BufferWriter(new Uint8Array(size + 1));
      w.limit = size;
      const records: StreamRecord[] = [];
      c.writeFrames(w, records, 0, false);
      assert.ok(w.offset <= size);
      w.limit = size + 1;
      w.u8(0x01); // a PING after the last frame must still parse as a PING
      const frames = decodeAll(w.view());
      assert.equal(frames.at(-1)?.type, 'ping', `size ${size}`);
      assert.equal(frames.length - 1, records.length);
      total += records.reduce((n, r) => n + (r.kind === 'stream' ? r.length : 0), 0);
    }
    assert.ok(total > 50_000);
  });

  it('fills a packet exactly', () => {
    const c = client();
    const id = c.open(true)!;
    c.write(id, new Uint8Array(10_000), false);
    for (const size of [40, 100, 1200, 1500]) {
      const w = new BufferWriter(new Uint8Array(size));
      c.writeFrames(w, [], 0);
      assert.equal(w.offset, size, `size ${size}`);
      decodeAll(w.view());
    }
  });

  it('control frames come before STREAM frames', () => {
    const s = server({ initialMaxStreamDataBidiRemote: 1000, maxStreamWindow: 1000 });
    s.onFrame(stream(0, 0, new Uint8Array(1000)), 0);
    s.read(0, 1000, 0);
    s.write(0, new Uint8Array(50), false);
    assert.deepEqual(
      written(s).frames.map((f) => f.type),
      ['max_stream_data', 'stream'],
    );
  });

  it('emits writable once the send buffer drains below its limit', () => {
    const { client: c, server: s } = pair({ sendBufferLimit: 1000 });
    const id = c.open(true)!;
    assert.equal(c.write(id, new Uint8Array(1500), false), 1000);
    assert.equal(c.write(id, new Uint8Array(10), false), 0);
    const p = buildPacket(c, 600, 0)!;
    assert.deepEqual(events(c), []);
    deliver(c, s, p, 0);
    assert.deepEqual(events(c), [{ type: 'writable', id }]);
    assert.ok(c.write(id, new Uint8Array(1000), false) > 0);
  });

  it('finished is emitted when all data and the FIN are acknowledged', () => {
    const { client: c, server: s } = pair();
    const id = c.open(false)!;
    c.write(id, new Uint8Array(3000), true);
    const packets = [buildPacket(c, 1200, 0)!, buildPacket(c, 1200, 0)!, buildPacket(c, 1200, 0)!];
    deliver(c, s, packets[2]!, 0);
    deliver(c, s, packets[0]!, 0);
    assert.deepEqual(events(c), []);
    deliver(c, s, packets[1]!, 0);
    assert.deepEqual(events(c), [{ type: 'finished', id }]);
    assert.equal(c.stats().openStreams, 0);
  });

  it('discardZeroRttData resends everything from the start (RFC 9001 §4.6.2)', () => {
    const { client: c, server: s } = pair();
    const id = c.open(true)!;
    const data = streamData(id, 2500);
    c.write(id, data, true);
    const lost = [buildPacket(c, 1200, 0)!, buildPacket(c, 1200, 0)!, buildPacket(c, 1200, 0)!];
    assert.equal(c.hasPendingFrames(), false);
    assert.equal(c.stats().connSendUsed, 2500);
    c.discardZeroRttData();
    assert.equal(c.stats().connSendUsed, 0);
    const resent = flush(c, s);
    assert.ok(resent.length >= 3);
    void lost;
    const got = readAll(s, id);
    assert.deepEqual(got.data, data);
    assert.equal(got.fin, true);
  });

  it('abandon releases all buffers', () => {
    const { client: c } = pair();
    for (let i = 0; i < 10; i++) c.write(c.open(true)!, new Uint8Array(10_000), false);
    assert.equal(c.stats().sendBufferedBytes, 100_000);
    c.abandon();
    assert.equal(c.stats().sendBufferedBytes, 0);
    assert.equal(c.stats().openStreams, 0);
    assert.equal(c.hasPendingFrames(), false);
  });
});
