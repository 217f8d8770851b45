import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromHex, hex } from '../../../src/common/bytes.js';
import { TransportError, TransportErrorCode } from '../../../src/common/errors.js';
import { SeededRandom } from '../../../src/common/random.js';
import {
  ackFrameLength,
  cryptoFrameHeaderLength,
  decodeFrame,
  encodeFrame,
  type Frame,
  FrameType,
  frameEncodedLength,
  frameTypeName,
  peekFrameType,
  readFrameType,
  streamFrameHeaderLength,
  writeAckFrame,
  writeCryptoFrameHeader,
  writeStreamFrameHeader,
} from '../../../src/wire/frames.js';
import { BufferReader } from '../../../src/wire/reader.js';
import { BufferWriter } from '../../../src/wire/writer.js';
import { randomFrame } from './frame-gen.js';

const FEE = TransportErrorCode.FRAME_ENCODING_ERROR;
const PV = TransportErrorCode.PROTOCOL_VIOLATION;

function encode(f: Frame, last = false): Uint8Array {
  const w = new BufferWriter(16);
  encodeFrame(w, f, last);
  assert.equal(w.offset, frameEncodedLength(f, last), `length of ${f.type}`);
  return w.finish();
}

function decodeAll(bytes: Uint8Array): Frame[] {
  const r = new BufferReader(bytes);
  const out: Frame[] = [];
  while (!r.done) out.push(decodeFrame(r));
  return out;
}

function decodeOne(h: string): Frame {
  const frames = decodeAll(fromHex(h));
  assert.equal(frames.length, 1);
  return frames[0]!;
}

function rejects(h: string | Uint8Array, code: number, frameType: number): void {
  const bytes = typeof h === 'string' ? fromHex(h) : h;
  assert.throws(
    () => decodeAll(bytes),
    (e: unknown) => {
      assert.ok(e instanceof TransportError, String(e));
      assert.equal(e.code, code, `code for ${hex(bytes)}: ${e.message}`);
      assert.equal(e.frameType, frameType, `frameType for ${hex(bytes)}`);
      return true;
    },
  );
}

/** A plain-object copy of a frame (views become arrays) for deepEqual. */
function plain(f: Frame): unknown {
  return JSON.parse(JSON.stringify(f, (_k, v) => (v instanceof Uint8Array ? Array.from(v) : v)));
}

const bytes = (n: number, fill = 0xab) => new Uint8Array(n).fill(fill);

const EXAMPLES: Frame[] = [
  { type: 'padding', length: 5 },
  { type: 'ping' },
  { type: 'ack', largest: 100, ackDelay: 25, ranges: [100, 90, 80, 80, 10, 0], ecn: undefined },
  { type: 'ack', largest: 7, ackDelay: 0, ranges: [7, 7], ecn: { ect0: 5, ect1: 0, ce: 70000 } },
  { type: 'reset_stream', streamId: 4, errorCode: 0x101, finalSize: 1_000_000 },
  { type: 'stop_sending', streamId: 3, errorCode: 7 },
  { type: 'crypto', offset: 0, data: bytes(30) },
  { type: 'crypto', offset: 2 ** 40, data: bytes(1) },
  { type: 'new_token', token: bytes(32) },
  { type: 'stream', streamId: 0, offset: 0, data: bytes(10), fin: false },
  { type: 'stream', streamId: 2 ** 50, offset: 12345, data: new Uint8Array(0), fin: true },
  { type: 'max_data', maximum: 2 ** 52 },
  { type: 'max_stream_data', streamId: 8, maximum: 65536 },
  { type: 'max_streams', bidi: true, maximum: 100 },
  { type: 'max_streams', bidi: false, maximum: 2 ** 60 },
  { type: 'data_blocked', limit: 1 },
  { type: 'stream_data_blocked', streamId: 1, limit: 2 },
  { type: 'streams_blocked', bidi: true, limit: 3 },
  { type: 'streams_blocked', bidi: false, limit: 2 ** 60 },
  {
    type: 'new_connection_id',
    sequence: 3,
    retirePriorTo: 3,
    connectionId: bytes(20),
    resetToken: bytes(16, 1),
  },
  { type: 'retire_connection_id', sequence: 9 },
  { type: 'path_challenge', data: bytes(8, 3) },
  { type: 'path_response', data: bytes(8, 4) },
  { type: 'connection_close', application: false, errorCode: 0x0a, frameType: 0x08, reason: 'bad stream' },
  { type: 'connection_close', application: true, errorCode: 0x100, frameType: 0, reason: 'ça va 🚀' },
  { type: 'handshake_done' },
  { type: 'datagram', data: bytes(100) },
  { type: 'datagram', data: new Uint8Array(0) },
];

describe('frames: round trips (RFC 9000 §19, RFC 9221 §4)', () => {
  it('round-trips every frame type', () => {
    for (const f of EXAMPLES) {
      assert.deepEqual(plain(decodeOne(hex(encode(f)))), plain(f), f.type);
      if (f.type === 'stream' || f.type === 'datagram') {
        assert.deepEqual(plain(decodeOne(hex(encode(f, true)))), plain(f), `${f.type} without length`);
      }
    }
  });

  it('round-trips a whole payload of frames and re-encodes it octet for octet', () => {
    const w = new BufferWriter(64);
    EXAMPLES.forEach((f, i) => {
      encodeFrame(w, f, i === EXAMPLES.length - 1);
    });
    const payload = w.finish();
    const frames = decodeAll(payload);
    assert.deepEqual(frames.map(plain), EXAMPLES.map(plain));
    const again = new BufferWriter(64);
    frames.forEach((f, i) => {
      encodeFrame(again, f, i === frames.length - 1);
    });
    assert.equal(hex(again.finish()), hex(payload));
  });

  it('decodes all 8 STREAM flag combinations (OFF/LEN/FIN)', () => {
    for (let t = 0x08; t <= 0x0f; t++) {
      const off = (t & 0x04) !== 0;
      const len = (t & 0x02) !== 0;
      const fin = (t & 0x01) !== 0;
      const h = `${t.toString(16).padStart(2, '0')}04${off ? '4100' : ''}${len ? '03' : ''}aabbcc`;
      const f = decodeOne(h);
      assert.deepEqual(
        plain(f),
        plain({ type: 'stream', streamId: 4, offset: off ? 256 : 0, data: fromHex('aabbcc'), fin }),
      );
      // The fast-path writer produces the same octets (OFF is set iff the offset is non-zero).
      const w = new BufferWriter(16);
      writeStreamFrameHeader(w, 4, off ? 256 : 0, 3, fin, len);
      w.bytes(fromHex('aabbcc'));
      assert.equal(hex(w.finish()), h);
      assert.equal(streamFrameHeaderLength(4, off ? 256 : 0, 3, len), h.length / 2 - 3);
    }
    // OFF set with an explicit offset of 0 decodes as offset 0.
    assert.equal((decodeOne('0c0400aa') as { offset: number }).offset, 0);
  });

  it('STREAM without LEN takes the rest of the payload; DATAGRAM 0x30 too', () => {
    const f = decodeAll(fromHex('0801aabbccdd'));
    assert.equal(f.length, 1);
    assert.equal(hex((f[0] as { data: Uint8Array }).data), 'aabbccdd');
    const d = decodeAll(fromHex('30aabb'));
    assert.equal(hex((d[0] as { data: Uint8Array }).data), 'aabb');
    const d2 = decodeAll(fromHex('3102aabb01'));
    assert.deepEqual(
      d2.map((x) => x.type),
      ['datagram', 'ping'],
    );
  });

  it('returns views into the payload', () => {
    const payload = encode({ type: 'crypto', offset: 5, data: bytes(10) });
    const f = decodeOne(hex(payload));
    const r = new BufferReader(payload);
    const g = decodeFrame(r) as { data: Uint8Array };
    assert.equal(g.data.buffer, payload.buffer);
    assert.equal(f.type, 'crypto');
  });

  it('collapses runs of PADDING', () => {
    const frames = decodeAll(fromHex('0000000001000000'));
    assert.deepEqual(frames, [
      { type: 'padding', length: 4 },
      { type: 'ping' },
      { type: 'padding', length: 3 },
    ]);
  });

  it('decodes the CRYPTO frame and PADDING of the RFC 9001 A.2 client Initial payload', () => {
    const payload = new Uint8Array(1162);
    payload.set(fromHex('060040f1010000ed0303ebf8fa56f129'));
    const r = new BufferReader(payload);
    const crypto = decodeFrame(r);
    assert.equal(crypto.type, 'crypto');
    assert.equal((crypto as { offset: number }).offset, 0);
    assert.equal((crypto as { data: Uint8Array }).data.length, 0xf1);
    assert.deepEqual(decodeFrame(r), { type: 'padding', length: 1162 - 4 - 0xf1 });
    assert.ok(r.done);
  });

  it('writes ACK frames from flattened ranges', () => {
    const w = new BufferWriter(32);
    writeAckFrame(w, [100, 90, 80, 80, 10, 0], 25, undefined);
    // largest 100, delay 25, 2 ranges, first 10, gap 90-80-2=8 len 0, gap 80-10-2=68 len 10
    assert.equal(hex(w.view()), '02' + '4064' + '19' + '02' + '0a' + '08' + '00' + '4044' + '0a');
    assert.equal(ackFrameLength([100, 90, 80, 80, 10, 0], 25, undefined), w.offset);
    const w2 = new BufferWriter(32);
    writeAckFrame(w2, [0, 0], 0, { ect0: 1, ect1: 2, ce: 3 });
    assert.equal(hex(w2.view()), '0300000000010203');
    assert.equal(ackFrameLength([0, 0], 0, { ect0: 1, ect1: 2, ce: 3 }), 8);
    assert.throws(() => writeAckFrame(new BufferWriter(32), [10, 5, 4, 0], 0, undefined), RangeError);
    assert.throws(() => writeAckFrame(new BufferWriter(32), [10], 0, undefined), RangeError);
  });

  it('writes CRYPTO frame headers', () => {
    const w = new BufferWriter(16);
    writeCryptoFrameHeader(w, 1000, 300);
    assert.equal(hex(w.view()), '0643e8412c');
    assert.equal(cryptoFrameHeaderLength(1000, 300), 5);
  });

  it('round-trips random frames octet for octet', () => {
    const rng = new SeededRandom(0xf4a3e);
    for (let i = 0; i < 20_000; i++) {
      const f = randomFrame(rng);
      const last = rng.next() < 0.5;
      const enc = encode(f, last);
      const r = new BufferReader(enc);
      const g = decodeFrame(r);
      assert.ok(r.done);
      assert.deepEqual(plain(g), plain(f));
      assert.equal(hex(encode(g, last)), hex(enc));
    }
  });

  it('reads and peeks frame types', () => {
    const r = new BufferReader(fromHex('1e'));
    assert.equal(peekFrameType(r), FrameType.HANDSHAKE_DONE);
    assert.equal(r.offset, 0);
    assert.equal(readFrameType(r), 0x1e);
    assert.equal(r.offset, 1);
    assert.equal(frameTypeName(0x0d), 'STREAM');
    assert.equal(frameTypeName(0x1d), 'CONNECTION_CLOSE_APP');
    assert.equal(frameTypeName(0x31), 'DATAGRAM');
  });
});

describe('frames: decoding rules', () => {
  it('unknown types are FRAME_ENCODING_ERROR (§12.4)', () => {
    rejects('1f', FEE, 0x1f);
    rejects('2f', FEE, 0x2f);
    rejects('32', FEE, 0x32);
    rejects('4020', FEE, 0x20);
    rejects('80001000', FEE, 0x1000);
    const r = new BufferReader(fromHex('21'));
    assert.throws(
      () => peekFrameType(r),
      (e: unknown) => e instanceof TransportError && e.code === FEE,
    );
  });

  it('non-minimal frame types are PROTOCOL_VIOLATION (§12.4)', () => {
    rejects('4001', PV, 0x01);
    rejects('8000001e', PV, 0x1e);
    rejects('c000000000000008', PV, 0x08);
    rejects('4030', PV, 0x30);
  });

  it('every truncation of a length-delimited frame is FRAME_ENCODING_ERROR with its type', () => {
    for (const f of EXAMPLES) {
      if (f.type === 'padding' || f.type === 'ping' || f.type === 'handshake_done') continue;
      const enc = encode(f);
      for (let n = 1; n < enc.length; n++) rejects(enc.subarray(0, n), FEE, enc[0]!);
    }
    rejects('40', FEE, 0);
  });

  it('ACK ranges below 0 (§19.3.1)', () => {
    rejects('0205000006', FEE, 0x02); // largest 5, first range 6
    assert.equal(decodeOne('0205000005').type, 'ack');
    rejects('02050001010005', FEE, 0x02); // smallest 4, gap 0 -> largest 2, length 5
    rejects('02050001010300', FEE, 0x02); // smallest 4, gap 3 -> largest -1
    assert.deepEqual((decodeOne('02050001010200') as { ranges: number[] }).ranges, [5, 4, 0, 0]);
    // An ACK Range Count the frame cannot hold.
    rejects('0205008fffffff00', FEE, 0x02);
    // ECN counts missing.
    rejects('0305000000', FEE, 0x03);
  });

  it('ACK ranges below 0 are found exactly above 2^53', () => {
    // largest 2^53, first range 2^53 + 1: doubles would round both to 2^53.
    rejects('02c020000000000000' + '00' + '00' + 'c020000000000001', FEE, 0x02);
    assert.equal(decodeOne('02c020000000000000' + '00' + '00' + 'c020000000000000').type, 'ack');
  });

  it('STREAM and CRYPTO data beyond 2^62-1 (§19.6, §19.8)', () => {
    // offset 2^62-2 + 1 octet ends at 2^62-1: allowed; 2 octets: not.
    assert.equal(decodeOne('0e00fffffffffffffffe01aa').type, 'stream');
    rejects('0e00fffffffffffffffe02aabb', FEE, 0x0e);
    assert.equal(decodeOne('06fffffffffffffffe01aa').type, 'crypto');
    rejects('06fffffffffffffffe02aabb', FEE, 0x06);
    assert.equal(decodeOne('06ffffffffffffffff00').type, 'crypto');
    rejects('06ffffffffffffffff01aa', FEE, 0x06);
    // Without LEN: the data runs to the end of the payload.
    rejects('0c00ffffffffffffffffaa', FEE, 0x0c);
  });

  it('MAX_STREAMS and STREAMS_BLOCKED above 2^60 (§19.11, §19.14)', () => {
    assert.equal((decodeOne('12d000000000000000') as { maximum: number }).maximum, 2 ** 60);
    rejects('12d000000000000001', FEE, 0x12);
    rejects('13ffffffffffffffff', FEE, 0x13);
    assert.equal((decodeOne('17d000000000000000') as { limit: number }).limit, 2 ** 60);
    rejects('16d000000000000001', FEE, 0x16);
    rejects('17d000000000000100', FEE, 0x17);
  });

  it('NEW_CONNECTION_ID length and Retire Prior To (§19.15)', () => {
    const token = '00'.repeat(16);
    rejects(`180100${'00'}${token}`, FEE, 0x18);
    rejects(`180100${'15'}${'11'.repeat(21)}${token}`, FEE, 0x18);
    assert.equal(decodeOne(`180100${'14'}${'11'.repeat(20)}${token}`).type, 'new_connection_id');
    rejects(`180102${'04'}${'11'.repeat(4)}${token}`, FEE, 0x18);
    assert.equal(decodeOne(`180202${'04'}${'11'.repeat(4)}${token}`).type, 'new_connection_id');
    // Exact comparison above 2^53 (2^53 + 1 vs 2^53).
    rejects(`18c020000000000000c020000000000001${'04'}${'11'.repeat(4)}${token}`, FEE, 0x18);
    assert.equal(
      decodeOne(`18c020000000000001c020000000000000${'04'}${'11'.repeat(4)}${token}`).type,
      'new_connection_id',
    );
    // Reset token truncated.
    rejects(`180100${'04'}${'11'.repeat(4)}${'00'.repeat(15)}`, FEE, 0x18);
  });

  it('NEW_TOKEN must not be empty (§19.7)', () => {
    rejects('0700', FEE, 0x07);
    assert.equal(decodeOne('0701aa').type, 'new_token');
  });

  it('PATH_CHALLENGE and PATH_RESPONSE carry exactly 8 octets (§19.17, §19.18)', () => {
    rejects('1a01020304050607', FEE, 0x1a);
    rejects('1b', FEE, 0x1b);
    assert.deepEqual(
      decodeAll(fromHex('1a0102030405060708' + '01')).map((f) => f.type),
      ['path_challenge', 'ping'],
    );
  });

  it('CONNECTION_CLOSE reasons: replacement for bad UTF-8, bounded by the frame (§19.19)', () => {
    const f = decodeOne('1c0a0003ff41c3') as { reason: string; frameType: number; errorCode: number };
    assert.equal(f.reason, '\ufffdA\ufffd');
    assert.equal(f.errorCode, 0x0a);
    rejects('1c0a0005414243', FEE, 0x1c);
    // A leading U+FEFF is kept, so the reason re-encodes to the same octets.
    const bom = decodeOne('1c000004efbbbf41');
    assert.equal((bom as { reason: string }).reason, '\ufeffA');
    assert.equal(hex(encode(bom)), '1c000004efbbbf41');
    rejects('1d0a05414243', FEE, 0x1d);
    const app = decodeOne('1d4101026869') as {
      application: boolean;
      frameType: number;
      reason: string;
      errorCode: number;
    };
    assert.deepEqual([app.application, app.frameType, app.reason, app.errorCode], [true, 0, 'hi', 0x101]);
  });
});
