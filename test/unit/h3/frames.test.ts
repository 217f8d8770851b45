import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromHex, hex } from '../../../src/common/bytes.js';
import { greaseValue, H3Error, H3ErrorCode, isGrease } from '../../../src/h3/errors.js';
import {
  encodeFrame,
  encodeFrameHeader,
  encodeIdFrame,
  encodePushPromiseFrame,
  encodeSettingsFrame,
  FrameReader,
  FrameType,
  isHttp2FrameType,
  parseIdPayload,
  parsePushPromise,
  parseSettings,
  ReadResult,
} from '../../../src/h3/frames.js';

const h3err = (code: number) => (e: unknown) => e instanceof H3Error && e.code === code;

interface Item {
  kind: 'header' | 'payload' | 'chunk';
  type: number;
  bytes?: string;
  length?: number;
}

/** Drives a FrameReader: DATA streamed, unknown types skipped, the rest buffered. */
function readAll(r: FrameReader): Item[] {
  const out: Item[] = [];
  for (;;) {
    const k = r.next();
    if (k === ReadResult.NEED_MORE) return out;
    if (k === ReadResult.HEADER) {
      out.push({ kind: 'header', type: r.frameType, length: r.frameLength });
      if (r.frameType === FrameType.DATA) r.streamPayload();
      else if (r.frameType > 0x0d) r.skipPayload();
      else r.bufferPayload();
    } else if (k === ReadResult.PAYLOAD) {
      out.push({ kind: 'payload', type: r.frameType, bytes: hex(r.payload) });
    } else {
      out.push({ kind: 'chunk', type: r.frameType, bytes: hex(r.chunk) });
    }
  }
}

describe('HTTP/3 frames (RFC 9114 §7)', () => {
  it('encodes frames as type, length, payload varints', () => {
    assert.equal(hex(encodeFrame(FrameType.DATA, fromHex('616263'))), '0003616263');
    assert.equal(hex(encodeFrameHeader(FrameType.HEADERS, 300)), '01412c');
    assert.equal(hex(encodeIdFrame(FrameType.GOAWAY, 4)), '070104');
    assert.equal(hex(encodeIdFrame(FrameType.MAX_PUSH_ID, 1000)), '0d0243e8');
    assert.equal(
      hex(
        encodeSettingsFrame([
          [0x06, 16384],
          [0x01, 0],
        ]),
      ),
      '040706800040000100',
    );
  });

  it('parses SETTINGS with defaults and keeps unknown identifiers', () => {
    const s = parseSettings(
      encodeSettingsFrame([
        [0x01, 4096],
        [0x07, 16],
        [0x06, 100],
        [0x21, 7],
        [0x4242, 1],
      ]).subarray(2),
    );
    assert.equal(s.qpackMaxTableCapacity, 4096);
    assert.equal(s.qpackBlockedStreams, 16);
    assert.equal(s.maxFieldSectionSize, 100);
    assert.equal(s.parameters.length, 5);
    const d = parseSettings(new Uint8Array(0));
    assert.deepEqual(
      [d.qpackMaxTableCapacity, d.qpackBlockedStreams, d.maxFieldSectionSize],
      [0, 0, Number.POSITIVE_INFINITY],
    );
  });

  it('rejects duplicate and HTTP/2 settings (H3_SETTINGS_ERROR) and truncation (H3_FRAME_ERROR)', () => {
    assert.throws(() => parseSettings(fromHex('06010602')), h3err(H3ErrorCode.H3_SETTINGS_ERROR));
    for (const id of [2, 3, 4, 5])
      assert.throws(() => parseSettings(new Uint8Array([id, 0])), h3err(H3ErrorCode.H3_SETTINGS_ERROR));
    // 0x00 is reserved but not an HTTP/2 setting: ignored.
    assert.equal(parseSettings(fromHex('0000')).parameters.length, 1);
    assert.throws(() => parseSettings(fromHex('06')), h3err(H3ErrorCode.H3_FRAME_ERROR));
    assert.throws(() => parseSettings(fromHex('0640')), h3err(H3ErrorCode.H3_FRAME_ERROR));
  });

  it('parses one-varint payloads exactly (RFC 9114 §7.1)', () => {
    assert.equal(parseIdPayload(fromHex('4104')), 260);
    assert.throws(() => parseIdPayload(fromHex('0400')), h3err(H3ErrorCode.H3_FRAME_ERROR));
    assert.throws(() => parseIdPayload(new Uint8Array(0)), h3err(H3ErrorCode.H3_FRAME_ERROR));
    assert.throws(() => parseIdPayload(fromHex('80')), h3err(H3ErrorCode.H3_FRAME_ERROR));
  });

  it('encodes and parses PUSH_PROMISE', () => {
    const f = encodePushPromiseFrame(70, fromHex('0000d1'));
    assert.equal(hex(f), '05054046' + '0000d1');
    const p = parsePushPromise(f.subarray(2));
    assert.equal(p.pushId, 70);
    assert.equal(hex(p.fieldSection), '0000d1');
  });

  it('knows reserved GREASE values and HTTP/2 frame types', () => {
    assert.ok(isGrease(0x21) && isGrease(0x40) && isGrease(0x1f * 1000 + 0x21));
    assert.ok(!isGrease(0x20) && !isGrease(0x22) && !isGrease(0));
    for (let n = 0; n < 100; n++) assert.ok(isGrease(greaseValue(n * 337)));
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xd].filter(isHttp2FrameType), [2, 6, 8, 9]);
  });
});

describe('FrameReader', () => {
  const stream = new Uint8Array([
    ...encodeFrame(0x21, fromHex('aabb')), // reserved: skipped
    ...encodeFrame(FrameType.HEADERS, fromHex('00001122')),
    ...encodeFrame(FrameType.DATA, fromHex('0102030405')),
    ...encodeFrame(FrameType.DATA, new Uint8Array(0)),
    ...encodeFrame(FrameType.GOAWAY, fromHex('08')),
  ]);

  it('reads whole frames and streams DATA', () => {
    const r = new FrameReader();
    r.push(stream);
    assert.deepEqual(readAll(r), [
      { kind: 'header', type: 0x21, length: 2 },
      { kind: 'header', type: 1, length: 4 },
      { kind: 'payload', type: 1, bytes: '00001122' },
      { kind: 'header', type: 0, length: 5 },
      { kind: 'chunk', type: 0, bytes: '0102030405' },
      { kind: 'header', type: 0, length: 0 },
      { kind: 'header', type: 7, length: 1 },
      { kind: 'payload', type: 7, bytes: '08' },
    ]);
    assert.equal(r.atFrameBoundary, true);
  });

  it('gives the same frames when fed one octet at a time (DATA in pieces)', () => {
    const r = new FrameReader();
    const items: Item[] = [];
    for (let i = 0; i < stream.length; i++) {
      r.push(stream.subarray(i, i + 1));
      items.push(...readAll(r));
    }
    const data = items
      .filter((x) => x.kind === 'chunk')
      .map((x) => x.bytes)
      .join('');
    assert.equal(data, '0102030405');
    assert.deepEqual(
      items.filter((x) => x.kind === 'payload'),
      [
        { kind: 'payload', type: 1, bytes: '00001122' },
        { kind: 'payload', type: 7, bytes: '08' },
      ],
    );
    assert.equal(r.atFrameBoundary, true);
  });

  it('returns views without copying when a payload is contiguous', () => {
    const r = new FrameReader();
    const input = encodeFrame(FrameType.HEADERS, fromHex('0000aa'));
    r.push(input);
    assert.equal(r.next(), ReadResult.HEADER);
    r.bufferPayload();
    assert.equal(r.next(), ReadResult.PAYLOAD);
    assert.equal(r.payload.buffer, input.buffer);
  });

  it('reports partial frames and reads stream-type varints', () => {
    const r = new FrameReader();
    r.push(fromHex('4041')); // two-octet varint 0x41, then a partial frame header
    assert.equal(r.readVarint(), 0x41);
    assert.equal(r.readVarint(), -1);
    r.push(fromHex('00'));
    assert.equal(r.next(), ReadResult.NEED_MORE);
    r.push(fromHex('05'));
    assert.equal(r.next(), ReadResult.HEADER);
    assert.deepEqual([r.frameType, r.frameLength], [FrameType.DATA, 5]);
    r.streamPayload();
    assert.equal(r.next(), ReadResult.NEED_MORE);
    assert.equal(r.atFrameBoundary, false);
    r.clear();
    assert.equal(r.atFrameBoundary, true);
    assert.throws(() => {
      r.push(fromHex('0000'));
      r.next();
      r.next();
    }, /disposition/);
  });
});
