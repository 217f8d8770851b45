// Property tests: the HTTP/3 and QPACK decoders throw nothing but H3Error on arbitrary input.
// checkDecoder accepts only TransportError, so H3Error is converted (code = the H3 code).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromHex } from '../../src/common/bytes.js';
import { TransportError } from '../../src/common/errors.js';
import { SeededRandom } from '../../src/common/random.js';
import { H3Connection } from '../../src/h3/connection.js';
import { H3Error, H3ErrorCode } from '../../src/h3/errors.js';
import {
  encodeFrame,
  encodeIdFrame,
  encodeSettingsFrame,
  FrameReader,
  FrameType,
  parseIdPayload,
  parseSettings,
  ReadResult,
} from '../../src/h3/frames.js';
import { QpackDecoder } from '../../src/h3/qpack/decoder.js';
import { QpackEncoder } from '../../src/h3/qpack/encoder.js';
import type { FieldLine } from '../../src/h3/qpack/types.js';
import type { H3Transport } from '../../src/h3/transport.js';
import { checkDecoder } from '../support/property.js';

/** Runs `f`, turning H3Error into TransportError for checkDecoder. */
function h3(f: (input: Uint8Array) => unknown): (input: Uint8Array) => unknown {
  return (input) => {
    try {
      return f(input);
    } catch (e) {
      if (e instanceof H3Error) throw new TransportError(e.code, e.reason);
      throw e;
    }
  };
}

const B2_ENCODER = '3fbd01c00f7777772e6578616d706c652e636f6dc10c2f73616d706c652f70617468';
const B3_ENCODER = '4a637573746f6d2d6b65790c637573746f6d2d76616c7565';
const B5_ENCODER = '810d637573746f6d2d76616c756532';

function sampleFields(rng: SeededRandom): FieldLine[] {
  const names = [
    ':method',
    ':path',
    ':authority',
    'content-type',
    'x-custom',
    'user-agent',
    'cookie',
    'accept',
  ];
  const out: FieldLine[] = [];
  for (let i = 0; i < 1 + rng.int(6); i++) {
    const v = new Uint8Array(rng.int(20));
    for (let k = 0; k < v.length; k++) v[k] = 0x20 + rng.int(95);
    out.push([names[rng.int(names.length)]!, Buffer.from(v).toString('latin1')]);
  }
  return out;
}

describe('H3/QPACK decoders never throw anything but H3Error', () => {
  it('QPACK field-section decoder', () => {
    const rng = new SeededRandom(1);
    const enc = new QpackEncoder({ maxTableCapacity: 220 });
    enc.applyPeerSettings(220, 16);
    const dec = new QpackDecoder({ maxTableCapacity: 220, maxBlockedStreams: 4 });
    const corpus: Uint8Array[] = [
      fromHex('0000510b2f696e6465782e68746d6c'),
      fromHex('03811011'),
      fromHex('050080c181'),
    ];
    for (let i = 0; i < 40; i++) {
      corpus.push(enc.encodeFieldSection(i * 4, sampleFields(rng)));
      const ins = enc.takeEncoderStreamData();
      if (ins) dec.handleEncoderStream(ins);
    }
    dec.handleEncoderStream(fromHex(B2_ENCODER.slice(6)));
    let id = 0;
    const decoded = checkDecoder(
      'field section',
      h3((input) => {
        id += 4;
        try {
          return dec.decodeFieldSection(id, input);
        } finally {
          dec.cancelStream(id); // forget blocked sections
          dec.takeDecoderStreamData();
        }
      }),
      {
        corpus,
        onDecoded: (_input, value) => {
          if (value === undefined) return; // blocked
          assert.ok(Array.isArray(value));
          for (const line of value as FieldLine[])
            assert.ok(typeof line[0] === 'string' && typeof line[1] === 'string');
        },
      },
    );
    assert.ok(decoded > 1000, `only ${decoded} inputs decoded`);
  });

  it('QPACK encoder-stream instruction decoder', () => {
    const rng = new SeededRandom(2);
    const enc = new QpackEncoder({ maxTableCapacity: 300 });
    enc.applyPeerSettings(300, 16);
    const corpus: Uint8Array[] = [fromHex(B2_ENCODER), fromHex(`${B2_ENCODER}${B3_ENCODER}02${B5_ENCODER}`)];
    for (let i = 0; i < 30; i++) {
      enc.encodeFieldSection(i * 4, sampleFields(rng));
      const ins = enc.takeEncoderStreamData();
      if (ins) corpus.push(ins);
    }
    const decoded = checkDecoder(
      'encoder stream',
      h3((input) => {
        const dec = new QpackDecoder({ maxTableCapacity: 300 });
        // Two calls: instructions split across reads are reassembled.
        const mid = input.length >> 1;
        dec.handleEncoderStream(input.subarray(0, mid));
        dec.handleEncoderStream(input.subarray(mid));
        return dec.table;
      }),
      {
        corpus,
        onDecoded: (_input, t) => {
          const table = t as QpackDecoder['table'];
          assert.ok(table.size <= table.capacity && table.capacity <= 300);
        },
      },
    );
    assert.ok(decoded > 1000, `only ${decoded} inputs decoded`);
  });

  it('QPACK decoder-stream instruction decoder', () => {
    const corpus = [fromHex('84'), fromHex('01'), fromHex('48'), fromHex('7fed01'), fromHex('8001')];
    const decoded = checkDecoder(
      'decoder stream',
      h3((input) => {
        const enc = new QpackEncoder();
        enc.applyPeerSettings(4096, 16);
        enc.encodeFieldSection(0, [['x-a', 'b']]);
        enc.encodeFieldSection(4, [['x-c', 'd']]);
        enc.handleDecoderStream(input);
        return enc.knownReceivedCount;
      }),
      { corpus, cases: 100_000 },
    );
    assert.ok(decoded > 1000, `only ${decoded} inputs decoded`);
  });

  it('H3 frame parser (frames, SETTINGS, GOAWAY/MAX_PUSH_ID/CANCEL_PUSH payloads)', () => {
    const corpus = [
      encodeSettingsFrame([
        [0x01, 4096],
        [0x06, 65536],
        [0x07, 16],
        [0x21, 5],
      ]),
      encodeIdFrame(FrameType.GOAWAY, 8),
      encodeIdFrame(FrameType.MAX_PUSH_ID, 100),
      encodeIdFrame(FrameType.CANCEL_PUSH, 3),
      encodeFrame(FrameType.DATA, new Uint8Array(20)),
      encodeFrame(FrameType.HEADERS, new QpackEncoder().encodeFieldSection(0, [[':status', '200']])),
      encodeFrame(0x21, new Uint8Array(3)),
    ];
    const decoded = checkDecoder(
      'frames',
      h3((input) => {
        const r = new FrameReader();
        // Feed in two pieces to cross chunk boundaries.
        const mid = input.length >> 1;
        r.push(input.subarray(0, mid));
        r.push(input.subarray(mid));
        const frames: number[] = [];
        for (;;) {
          const k = r.next();
          if (k === ReadResult.NEED_MORE) break;
          if (k === ReadResult.HEADER) {
            frames.push(r.frameType);
            if (r.frameType === FrameType.DATA) r.streamPayload();
            else if (r.frameLength <= 1 << 16) r.bufferPayload();
            else r.skipPayload();
          } else if (k === ReadResult.PAYLOAD) {
            if (r.frameType === FrameType.SETTINGS) parseSettings(r.payload);
            else if (
              r.frameType === FrameType.GOAWAY ||
              r.frameType === FrameType.MAX_PUSH_ID ||
              r.frameType === FrameType.CANCEL_PUSH
            ) {
              parseIdPayload(r.payload);
            }
          } else {
            assert.ok(r.chunk.length > 0);
          }
        }
        return frames;
      }),
      { corpus },
    );
    assert.ok(decoded > 1000, `only ${decoded} inputs decoded`);
  });

  it('H3Connection on arbitrary control and request stream input (no internal errors)', () => {
    const noop: H3Transport = {
      role: 'server',
      openStream: (() => {
        let n = 3;
        return () => (n += 4);
      })(),
      write() {},
      resetStream() {},
      stopSending() {},
      close() {},
    };
    const corpus = [
      new Uint8Array([0x00, ...encodeSettingsFrame([[0x06, 100]]), ...encodeIdFrame(FrameType.GOAWAY, 4)]),
      new Uint8Array([
        ...encodeFrame(
          FrameType.HEADERS,
          new QpackEncoder().encodeFieldSection(0, [
            [':method', 'GET'],
            [':scheme', 'https'],
            [':authority', 'a'],
            [':path', '/'],
          ]),
        ),
        ...encodeFrame(FrameType.DATA, new Uint8Array(5)),
      ]),
      new Uint8Array([0x02, ...fromHex(B2_ENCODER)]),
    ];
    checkDecoder(
      'connection',
      (input) => {
        const h = new H3Connection(noop, { grease: false, maxFieldSectionSize: 4096 });
        const mid = input.length >> 1;
        h.handleStreamData(2, input.subarray(0, mid), false);
        h.handleStreamData(0, input, false);
        h.handleStreamData(2, input.subarray(mid), false);
        h.handleStreamData(0, new Uint8Array(0), true);
        for (let e = h.poll(); e; e = h.poll()) {
          if (e.type === 'closed' && e.errorCode === H3ErrorCode.H3_INTERNAL_ERROR) throw new Error(e.reason);
        }
        return h;
      },
      { corpus, cases: 100_000 },
    );
  });
});
