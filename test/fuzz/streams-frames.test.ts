// Property test: StreamManager.onFrame (and the output path that follows) with random and
// mutated frame sequences throws nothing but TransportError. PROPERTY_SEED=<n> replays a run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TransportError } from '../../src/common/errors.js';
import { SeededRandom } from '../../src/common/random.js';
import { Datagrams } from '../../src/streams/datagrams.js';
import {
  StreamManager,
  type StreamManagerConfig,
  type StreamRecord,
} from '../../src/streams/stream-manager.js';
import { decodeFrame, encodeFrame, type Frame } from '../../src/wire/frames.js';
import { BufferReader } from '../../src/wire/reader.js';
import { BufferWriter } from '../../src/wire/writer.js';
import { checkDecoder } from '../support/property.js';

function config(role: 'client' | 'server'): StreamManagerConfig {
  return {
    role,
    maxStreamsBidi: 16,
    maxStreamsUni: 16,
    initialMaxData: 50_000,
    initialMaxStreamDataBidiLocal: 8000,
    initialMaxStreamDataBidiRemote: 8000,
    initialMaxStreamDataUni: 8000,
    maxConnectionWindow: 200_000,
    maxStreamWindow: 32_000,
    sendBufferLimit: 20_000,
  };
}

/** Valid frame sequences touching every stream frame type, for mutation. */
function corpus(rng: SeededRandom): Uint8Array[] {
  const out: Uint8Array[] = [];
  const id = () => rng.int(48);
  const small = () => rng.int(rng.next() < 0.5 ? 64 : 20_000);
  const gen = (): Frame => {
    switch (rng.int(10)) {
      case 0:
        return { type: 'reset_stream', streamId: id(), errorCode: small(), finalSize: small() };
      case 1:
        return { type: 'stop_sending', streamId: id(), errorCode: small() };
      case 2:
        return { type: 'max_data', maximum: small() * 10 };
      case 3:
        return { type: 'max_stream_data', streamId: id(), maximum: small() };
      case 4:
        return { type: 'max_streams', bidi: rng.next() < 0.5, maximum: rng.int(40) };
      case 5:
        return { type: 'data_blocked', limit: small() };
      case 6:
        return { type: 'stream_data_blocked', streamId: id(), limit: small() };
      case 7:
        return { type: 'streams_blocked', bidi: rng.next() < 0.5, limit: rng.int(40) };
      default: {
        const data = new Uint8Array(rng.int(40));
        rng.fill(data);
        return {
          type: 'stream',
          streamId: id(),
          offset: rng.next() < 0.3 ? 0 : small(),
          data,
          fin: rng.next() < 0.3,
        };
      }
    }
  };
  for (let i = 0; i < 400; i++) {
    const w = new BufferWriter(256);
    const n = 1 + rng.int(4);
    for (let k = 0; k < n; k++) encodeFrame(w, gen(), false);
    out.push(w.finish());
  }
  return out;
}

describe('StreamManager property test', () => {
  it('onFrame with random/mutated frames throws only TransportError (>= 100k cases)', () => {
    const seed = Number(process.env.PROPERTY_SEED ?? 0x5eed) >>> 0;
    const rng = new SeededRandom(seed ^ 0x51);
    let m = fresh();
    let cases = 0;
    let now = 0;
    let errors = 0;

    function fresh(): StreamManager {
      const role = rng.next() < 0.5 ? 'client' : 'server';
      const s = new StreamManager(config(role));
      const peer = config(role === 'client' ? 'server' : 'client');
      s.setPeerLimits({
        initialMaxData: peer.initialMaxData,
        initialMaxStreamDataBidiLocal: peer.initialMaxStreamDataBidiLocal,
        initialMaxStreamDataBidiRemote: peer.initialMaxStreamDataBidiRemote,
        initialMaxStreamDataUni: peer.initialMaxStreamDataUni,
        initialMaxStreamsBidi: 6,
        initialMaxStreamsUni: 6,
      });
      for (let i = 0; i < 3; i++) {
        const a = s.open(true);
        const b = s.open(false);
        if (a !== undefined) s.write(a, new Uint8Array(100 + rng.int(3000)), rng.next() < 0.5);
        if (b !== undefined) s.write(b, new Uint8Array(rng.int(3000)), rng.next() < 0.5);
      }
      return s;
    }

    const records: StreamRecord[] = [];
    const decode = (input: Uint8Array): void => {
      cases++;
      now += 1000;
      if (cases % 500 === 0) m = fresh();
      const r = new BufferReader(input);
      try {
        while (!r.done) m.onFrame(decodeFrame(r), now);
      } catch (e) {
        errors++;
        m = fresh(); // a TransportError closes the connection
        throw e;
      }
      // The output path must never throw after any accepted input.
      for (let id = 0; id < 48; id++) {
        if (!m.has(id)) continue;
        try {
          m.read(id, 1 + rng.int(5000), now);
        } catch (e) {
          if (!(e instanceof Error && e.name === 'StreamUsageError')) throw e;
        }
      }
      records.length = 0;
      const w = new BufferWriter(new Uint8Array(30 + rng.int(1400)));
      m.writeFrames(w, records, now, rng.next() < 0.5);
      // Our own output must decode.
      const out = new BufferReader(w.view());
      while (!out.done) decodeFrame(out);
      for (const rec of records) {
        if (rng.next() < 0.3) m.onLost(rec);
        else m.onAcked(rec);
      }
      if (rng.next() < 0.01) m.discardZeroRttData();
    };
    const decoded = checkDecoder('StreamManager.onFrame', decode, {
      corpus: corpus(rng),
      cases: 100_000,
      maxLength: 48,
    });
    assert.ok(decoded > 10_000, `only ${decoded} inputs were accepted`);
    assert.ok(errors > 10_000, `only ${errors} inputs were rejected`);
  });

  it('Datagrams.onFrame throws only TransportError', () => {
    const rng = new SeededRandom(3);
    let d = new Datagrams({ maxFrameSize: 0, sendQueueBytes: 1000, recvQueueBytes: 1000 });
    let n = 0;
    checkDecoder(
      'Datagrams.onFrame',
      (input) => {
        if (n++ % 100 === 0) {
          d = new Datagrams({ maxFrameSize: rng.int(100), sendQueueBytes: 1000, recvQueueBytes: 1000 });
        }
        const r = new BufferReader(input);
        const f = decodeFrame(r);
        if (f.type === 'datagram') d.onFrame(f.data, r.offset);
        d.recv();
      },
      { corpus: [Uint8Array.of(0x30, 1, 2, 3), Uint8Array.of(0x31, 2, 1, 2)], cases: 100_000 },
    );
    assert.ok(d instanceof Datagrams);
    void TransportError;
  });
});
