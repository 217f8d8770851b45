import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromHex, hex } from '../../../src/common/bytes.js';
import { SeededRandom } from '../../../src/common/random.js';
import { H3Error, H3ErrorCode } from '../../../src/h3/errors.js';
import { QpackDecoder } from '../../../src/h3/qpack/decoder.js';
import { QpackEncoder } from '../../../src/h3/qpack/encoder.js';
import {
  writeDuplicate,
  writeInsertCountIncrement,
  writeInsertWithLiteralName,
  writeInsertWithNameRef,
  writeSectionAck,
  writeSetCapacity,
  writeStreamCancel,
} from '../../../src/h3/qpack/instructions.js';
import type { FieldLine } from '../../../src/h3/qpack/types.js';
import { BufferWriter } from '../../../src/wire/writer.js';

const { QPACK_DECOMPRESSION_FAILED, QPACK_ENCODER_STREAM_ERROR, QPACK_DECODER_STREAM_ERROR } = H3ErrorCode;

function bytes(f: (w: BufferWriter) => void): string {
  const w = new BufferWriter(64);
  f(w);
  return hex(w.view());
}

function h3err(code: number) {
  return (e: unknown) => e instanceof H3Error && e.code === code;
}

function tableEntries(d: QpackDecoder | QpackEncoder): [number, string, string][] {
  const t = d.table;
  const out: [number, string, string][] = [];
  for (let a = t.dropped; a < t.insertCount; a++) out.push([a, t.name(a), t.value(a)]);
  return out;
}

// RFC 9204 Appendix B, byte for byte.
const B2_ENCODER = '3fbd01c00f7777772e6578616d706c652e636f6dc10c2f73616d706c652f70617468';
const B3_ENCODER = '4a637573746f6d2d6b65790c637573746f6d2d76616c7565';
const B4_ENCODER = '02';
const B4_SECTION = '050080c181';
const B5_ENCODER = '810d637573746f6d2d76616c756532';

describe('QPACK RFC 9204 Appendix B examples', () => {
  it('B.1: literal field line with static name reference', () => {
    const enc = new QpackEncoder({ huffman: false });
    const block = enc.encodeFieldSection(0, [[':path', '/index.html']]);
    assert.equal(hex(block), '0000510b2f696e6465782e68746d6c');
    const dec = new QpackDecoder({ maxTableCapacity: 220 });
    assert.deepEqual(dec.decodeFieldSection(0, block), [[':path', '/index.html']]);
    // Required Insert Count 0: no Section Acknowledgment.
    assert.equal(dec.takeDecoderStreamData(), undefined);
  });

  it('encodes the B.2–B.5 encoder and decoder instructions byte-exactly', () => {
    assert.equal(
      bytes((w) => {
        writeSetCapacity(w, 220);
        writeInsertWithNameRef(w, true, 0, 'www.example.com', false);
        writeInsertWithNameRef(w, true, 1, '/sample/path', false);
      }),
      B2_ENCODER,
    );
    assert.equal(
      bytes((w) => writeSectionAck(w, 4)),
      '84',
    );
    assert.equal(
      bytes((w) => writeInsertWithLiteralName(w, 'custom-key', 'custom-value', false)),
      B3_ENCODER,
    );
    assert.equal(
      bytes((w) => writeInsertCountIncrement(w, 1)),
      '01',
    );
    assert.equal(
      bytes((w) => writeDuplicate(w, 2)),
      B4_ENCODER,
    );
    assert.equal(
      bytes((w) => writeStreamCancel(w, 8)),
      '48',
    );
    assert.equal(
      bytes((w) => writeInsertWithNameRef(w, false, 1, 'custom-value2', false)),
      B5_ENCODER,
    );
  });

  it('decodes B.2–B.5 and emits the RFC decoder-stream bytes', () => {
    const dec = new QpackDecoder({ maxTableCapacity: 220, maxBlockedStreams: 1 });
    // B.2
    assert.deepEqual(dec.handleEncoderStream(fromHex(B2_ENCODER)), []);
    assert.equal(dec.table.capacity, 220);
    assert.equal(dec.table.size, 106);
    assert.deepEqual(dec.decodeFieldSection(4, fromHex('03811011')), [
      [':authority', 'www.example.com'],
      [':path', '/sample/path'],
    ]);
    assert.equal(hex(dec.takeDecoderStreamData()!), '84');
    // B.3
    dec.handleEncoderStream(fromHex(B3_ENCODER));
    assert.equal(dec.table.size, 160);
    assert.equal(hex(dec.takeDecoderStreamData()!), '01');
    // B.4: the field section arrives before the Duplicate, blocks, then the stream is reset.
    assert.equal(dec.decodeFieldSection(8, fromHex(B4_SECTION)), undefined);
    assert.equal(dec.blockedStreams, 1);
    dec.cancelStream(8);
    assert.equal(dec.blockedStreams, 0);
    assert.equal(hex(dec.takeDecoderStreamData()!), '48');
    dec.handleEncoderStream(fromHex(B4_ENCODER));
    assert.equal(dec.table.size, 217);
    assert.equal(hex(dec.takeDecoderStreamData()!), '01');
    // The same section decodes now (Base 4: relative 0 = abs 3, static 1, relative 1 = abs 2).
    assert.deepEqual(dec.decodeFieldSection(12, fromHex(B4_SECTION)), [
      [':authority', 'www.example.com'],
      [':path', '/'],
      ['custom-key', 'custom-value'],
    ]);
    assert.equal(hex(dec.takeDecoderStreamData()!), '8c');
    // B.5: the insertion evicts absolute index 0.
    dec.handleEncoderStream(fromHex(B5_ENCODER));
    assert.equal(dec.table.size, 215);
    assert.deepEqual(tableEntries(dec), [
      [1, ':path', '/sample/path'],
      [2, 'custom-key', 'custom-value'],
      [3, ':authority', 'www.example.com'],
      [4, 'custom-key', 'custom-value2'],
    ]);
    // A reference to the evicted entry is now invalid (RFC 9204 §2.2.3).
    assert.throws(
      () => dec.decodeFieldSection(16, fromHex('0200' + '10')),
      h3err(QPACK_DECOMPRESSION_FAILED),
    );
  });

  it('tracks the encoder side of B.2–B.4 through decoder instructions', () => {
    // Drive the encoder's table with the same insertions, then feed the RFC decoder stream.
    const enc = new QpackEncoder({ maxTableCapacity: 220 });
    enc.applyPeerSettings(220, 1);
    assert.equal(hex(enc.takeEncoderStreamData()!), '3fbd01');
    const block = enc.encodeFieldSection(4, [
      ['x-a', 'one'],
      ['x-b', 'two'],
    ]);
    const ins = enc.takeEncoderStreamData()!;
    const dec = new QpackDecoder({ maxTableCapacity: 220 });
    dec.handleEncoderStream(fromHex('3fbd01'));
    dec.handleEncoderStream(ins);
    assert.deepEqual(dec.decodeFieldSection(4, block), [
      ['x-a', 'one'],
      ['x-b', 'two'],
    ]);
    assert.equal(enc.knownReceivedCount, 0);
    enc.handleDecoderStream(dec.takeDecoderStreamData()!);
    assert.equal(enc.knownReceivedCount, 2);
    // A second acknowledgment for stream 4 has nothing to acknowledge (RFC 9204 §4.4.1).
    assert.throws(() => enc.handleDecoderStream(fromHex('84')), h3err(QPACK_DECODER_STREAM_ERROR));
  });
});

describe('QPACK decoder', () => {
  it('blocks field sections until their inserts arrive, then unblocks in any order', () => {
    const enc = new QpackEncoder({ maxTableCapacity: 4096 });
    enc.applyPeerSettings(4096, 16);
    const setCap = enc.takeEncoderStreamData()!;
    const fields: FieldLine[] = [
      [':method', 'GET'],
      [':authority', 'example.org'],
      ['user-agent', 'feather-test'],
      ['x-custom', 'v1'],
    ];
    const b1 = enc.encodeFieldSection(0, fields);
    const ins1 = enc.takeEncoderStreamData()!;
    const b2 = enc.encodeFieldSection(4, [...fields, ['x-other', 'v2']]);
    const ins2 = enc.takeEncoderStreamData()!;
    const dec = new QpackDecoder();
    assert.equal(dec.decodeFieldSection(4, b2), undefined);
    assert.equal(dec.decodeFieldSection(0, b1), undefined);
    assert.equal(dec.blockedStreams, 2);
    assert.deepEqual(dec.handleEncoderStream(setCap), []);
    assert.deepEqual(dec.handleEncoderStream(ins1), [0]);
    assert.deepEqual(dec.resumeFieldSection(0), fields);
    assert.equal(dec.isBlocked(4), true);
    // Split the last instructions octet by octet: the stream unblocks on the final one.
    for (let i = 0; i < ins2.length - 1; i++)
      assert.deepEqual(dec.handleEncoderStream(ins2.subarray(i, i + 1)), []);
    assert.deepEqual(dec.handleEncoderStream(ins2.subarray(ins2.length - 1)), [4]);
    assert.deepEqual(dec.resumeFieldSection(4), [...fields, ['x-other', 'v2']]);
    enc.handleDecoderStream(dec.takeDecoderStreamData()!);
    assert.equal(enc.knownReceivedCount, enc.table.insertCount);
    assert.equal(enc.blockingStreams, 0);
  });

  it('treats more blocked streams than allowed as QPACK_DECOMPRESSION_FAILED (§2.1.2)', () => {
    const dec = new QpackDecoder({ maxTableCapacity: 4096, maxBlockedStreams: 2 });
    // Required Insert Count 1 (encoded 2), Base 1, indexed relative 0.
    const section = fromHex('020080');
    assert.equal(dec.decodeFieldSection(0, section), undefined);
    assert.equal(dec.decodeFieldSection(4, section), undefined);
    assert.throws(() => dec.decodeFieldSection(8, section), h3err(QPACK_DECOMPRESSION_FAILED));
    // With zero blocked streams allowed, any blocking section fails.
    const none = new QpackDecoder({ maxTableCapacity: 4096, maxBlockedStreams: 0 });
    assert.throws(() => none.decodeFieldSection(0, section), h3err(QPACK_DECOMPRESSION_FAILED));
  });

  it('reports QPACK_DECOMPRESSION_FAILED for invalid field sections', () => {
    const dec = new QpackDecoder({ maxTableCapacity: 220 });
    dec.handleEncoderStream(fromHex(B2_ENCODER)); // two entries
    const bad: [string, string][] = [
      ['ff00', 'invalid static index 99+'],
      ['0000ff24', 'static index 99 (T=1, 6-bit prefix)'],
      ['00005f55', 'literal with invalid static name index'],
      ['0d00', 'encoded Required Insert Count above FullRange (12)'],
      ['0381' + '12', 'post-Base index beyond Required Insert Count'],
      ['0300' + '82', 'relative index below zero'],
      ['0282' + '80', 'negative Base (Sign=1, Delta Base >= RIC)'],
      ['0200' + '81', 'reference to an absolute index >= Required Insert Count'],
      ['0000' + '2f', 'truncated literal name'],
      ['0000' + '5181ff', 'invalid Huffman padding'],
      ['00', 'truncated prefix'],
    ];
    for (const [h, why] of bad)
      assert.throws(() => dec.decodeFieldSection(0, fromHex(h)), h3err(QPACK_DECOMPRESSION_FAILED), why);
    // A decoder with zero capacity rejects any non-zero Required Insert Count.
    const zero = new QpackDecoder({ maxTableCapacity: 0 });
    assert.throws(() => zero.decodeFieldSection(0, fromHex('0100')), h3err(QPACK_DECOMPRESSION_FAILED));
  });

  it('reconstructs wrapped Required Insert Counts (§4.5.1.1 example)', () => {
    // Table of 100 octets: MaxEntries 3, encoded modulo 6. After 10 inserts, 4 means 9.
    const dec = new QpackDecoder({ maxTableCapacity: 100 });
    const w = new BufferWriter(64);
    writeSetCapacity(w, 100);
    for (let i = 0; i < 10; i++) writeInsertWithLiteralName(w, 'n', `${i}`, false);
    dec.handleEncoderStream(w.view());
    assert.equal(dec.table.insertCount, 10);
    // RIC 9 (encoded 4), Base 9: relative index 0 is absolute 8.
    assert.deepEqual(dec.decodeFieldSection(0, fromHex('040080')), [['n', '8']]);
    // Sign bit as in §4.5.1.2: RIC 9, Sign 1, Delta Base 2 → Base 6; post-Base 2 → abs 8.
    assert.deepEqual(dec.decodeFieldSection(0, fromHex('048212')), [['n', '8']]);
    // Absolute 7 was evicted (two 34-octet entries fit in 100).
    assert.throws(() => dec.decodeFieldSection(0, fromHex('048211')), h3err(QPACK_DECOMPRESSION_FAILED));
  });

  it('reports QPACK_ENCODER_STREAM_ERROR for invalid encoder instructions', () => {
    const cases: [string, string][] = [
      ['3f8d21', 'capacity 4142 above the 4096 maximum'],
      ['3fbd01' + 'ff24' + '0161', 'insert with an invalid static name index'],
      ['3fbd01' + '80' + '0161', 'insert with a missing dynamic name'],
      ['3fbd01' + '00', 'duplicate of a missing entry'],
      [
        '3f01' + '4a637573746f6d2d6b65790c637573746f6d2d76616c7565',
        'entry larger than the capacity (32 < 54)',
      ],
      ['3fbd01' + '61ff0161', 'invalid Huffman in a name'],
    ];
    for (const [h, why] of cases) {
      const dec = new QpackDecoder({ maxTableCapacity: 4096 });
      assert.throws(() => dec.handleEncoderStream(fromHex(h)), h3err(QPACK_ENCODER_STREAM_ERROR), why);
    }
    // Inserting evicted-then-referenced entries: B.5 state, then a duplicate of evicted abs 0.
    const dec = new QpackDecoder({ maxTableCapacity: 220 });
    dec.handleEncoderStream(fromHex(B2_ENCODER + B3_ENCODER + B4_ENCODER + B5_ENCODER));
    assert.throws(() => dec.handleEncoderStream(fromHex('04')), h3err(QPACK_ENCODER_STREAM_ERROR));
    // Any insert into a table whose maximum capacity is zero.
    const zero = new QpackDecoder({ maxTableCapacity: 0 });
    assert.throws(
      () => zero.handleEncoderStream(fromHex('c10c2f73616d706c652f70617468')),
      h3err(QPACK_ENCODER_STREAM_ERROR),
    );
  });

  it('evicts on capacity reduction and on insertion (RFC 9204 §3.2.2)', () => {
    const dec = new QpackDecoder({ maxTableCapacity: 220 });
    dec.handleEncoderStream(fromHex(B2_ENCODER + B3_ENCODER));
    assert.equal(dec.table.length, 3);
    // Set capacity 110: evict from the oldest until size <= 110 (160 - 57 = 103).
    dec.handleEncoderStream(fromHex('3f4f'));
    assert.deepEqual(tableEntries(dec), [
      [1, ':path', '/sample/path'],
      [2, 'custom-key', 'custom-value'],
    ]);
    assert.equal(dec.table.size, 103);
    // Capacity 0 clears the table; insertion then fails.
    dec.handleEncoderStream(fromHex('20'));
    assert.equal(dec.table.length, 0);
    assert.equal(dec.table.insertCount, 3);
    assert.throws(() => dec.handleEncoderStream(fromHex(B3_ENCODER)), h3err(QPACK_ENCODER_STREAM_ERROR));
  });

  it('enforces the field section size limit as a stream error', () => {
    const dec = new QpackDecoder({ maxFieldSectionSize: 100 });
    const enc = new QpackEncoder();
    const block = enc.encodeFieldSection(0, [
      ['x-a', 'a'.repeat(40)],
      ['x-b', 'b'.repeat(40)],
    ]);
    assert.throws(
      () => dec.decodeFieldSection(0, block),
      (e: unknown) => e instanceof H3Error && e.stream && e.code === H3ErrorCode.H3_EXCESSIVE_LOAD,
    );
  });
});

describe('QPACK encoder', () => {
  it('uses only the static table and literals until the peer allows a dynamic table', () => {
    const enc = new QpackEncoder();
    const fields: FieldLine[] = [
      [':method', 'GET'],
      [':status', '200'],
      ['content-type', 'application/x-unknown'],
      ['x-custom', 'value'],
    ];
    const block = enc.encodeFieldSection(0, fields);
    assert.equal(enc.takeEncoderStreamData(), undefined);
    // Prefix 0000, indexed static 17 and 25, literal with static name 44, literal name.
    assert.equal(hex(block.subarray(0, 4)), '0000d1d9');
    assert.deepEqual(new QpackDecoder({ maxTableCapacity: 0 }).decodeFieldSection(0, block), fields);
    // A zero peer capacity keeps the encoder stream silent (RFC 9204 §3.2.3).
    enc.applyPeerSettings(0, 100);
    enc.encodeFieldSection(4, fields);
    assert.equal(enc.takeEncoderStreamData(), undefined);
  });

  it('uses Huffman only when shorter, and the N bit for sensitive fields', () => {
    const enc = new QpackEncoder();
    const block = enc.encodeFieldSection(0, [['authorization', 'secret']]);
    // Literal with static name reference 84 (authorization) and the N bit: 01 1 1 + 4-bit prefix.
    assert.equal(block[2]! & 0xf0, 0x70);
    assert.deepEqual(new QpackDecoder().decodeFieldSection(0, block), [['authorization', 'secret']]);
  });

  it('never evicts unacknowledged or referenced entries (RFC 9204 §2.1.1)', () => {
    for (const blocked of [0, 4]) {
      const enc = new QpackEncoder({ maxTableCapacity: 200 });
      enc.applyPeerSettings(200, blocked);
      const dec = new QpackDecoder({ maxTableCapacity: 200, maxBlockedStreams: blocked });
      const rng = new SeededRandom(9204 + blocked);
      // Field sections are decoded late and in random order, encoder instructions are delayed;
      // an entry evicted while a pending section references it would make that section fail.
      const pending: [number, Uint8Array, FieldLine[]][] = [];
      const blockedOn = new Map<number, FieldLine[]>();
      const instructions: Uint8Array[] = [];
      let stream = 0;
      let decoded = 0;
      let sawBlocked = false;
      for (let round = 0; round < 600; round++) {
        const fields: FieldLine[] = [];
        for (let k = 0; k < 1 + rng.int(4); k++) fields.push([`x-h${rng.int(8)}`, `v${rng.int(5)}`]);
        pending.push([stream, enc.encodeFieldSection(stream, fields), fields]);
        stream += 4;
        const ins = enc.takeEncoderStreamData();
        if (ins) instructions.push(ins);
        while (instructions.length > 0 && rng.next() < 0.6) {
          for (const id of dec.handleEncoderStream(instructions.shift()!)) {
            assert.deepEqual(dec.resumeFieldSection(id), blockedOn.get(id));
            blockedOn.delete(id);
            decoded++;
          }
        }
        while (pending.length > 0 && rng.next() < 0.5) {
          const [id, block, want] = pending.splice(rng.int(pending.length), 1)[0]!;
          const got = dec.decodeFieldSection(id, block);
          if (got === undefined) {
            sawBlocked = true;
            blockedOn.set(id, want);
            continue;
          }
          assert.deepEqual(got, want);
          decoded++;
        }
        const back = dec.takeDecoderStreamData();
        if (back) enc.handleDecoderStream(back);
        assert.ok(enc.table.size <= 200);
        assert.ok(enc.blockingStreams <= blocked);
        assert.ok(dec.blockedStreams <= blocked);
      }
      assert.equal(sawBlocked, blocked > 0);
      assert.ok(enc.table.insertCount > 10, 'the dynamic table was used');
      assert.ok(decoded > 400);
    }
  });

  it('limits blocking streams to the peer setting and round-trips with blocking', () => {
    const enc = new QpackEncoder();
    enc.applyPeerSettings(4096, 2);
    const dec = new QpackDecoder({ maxTableCapacity: 4096, maxBlockedStreams: 2 });
    const pending: [number, Uint8Array, FieldLine[]][] = [];
    const held: Uint8Array[] = [];
    for (let i = 0; i < 5; i++) {
      const fields: FieldLine[] = [
        [':authority', 'example.org'],
        [`x-n${i}`, `value-${i}`],
      ];
      pending.push([i * 4, enc.encodeFieldSection(i * 4, fields), fields]);
      const ins = enc.takeEncoderStreamData();
      if (ins) held.push(ins);
    }
    assert.ok(enc.blockingStreams <= 2);
    // Field sections first (as if the encoder stream were delayed): at most 2 block.
    const results = new Map<number, FieldLine[]>();
    for (const [id, block] of pending) {
      const lines = dec.decodeFieldSection(id, block);
      if (lines) results.set(id, lines);
    }
    assert.ok(dec.blockedStreams <= 2);
    for (const ins of held)
      for (const id of dec.handleEncoderStream(ins)) results.set(id, dec.resumeFieldSection(id));
    for (const [id, , fields] of pending) assert.deepEqual(results.get(id), fields);
  });

  it('reports QPACK_DECODER_STREAM_ERROR for invalid decoder instructions', () => {
    const enc = new QpackEncoder();
    enc.applyPeerSettings(4096, 16);
    enc.encodeFieldSection(0, [['x-a', 'b']]);
    assert.equal(enc.table.insertCount, 1);
    // Insert Count Increment of zero; beyond what was sent; acknowledgment of an unknown stream.
    assert.throws(
      () => new QpackEncoder().handleDecoderStream(fromHex('00')),
      h3err(QPACK_DECODER_STREAM_ERROR),
    );
    assert.throws(() => enc.handleDecoderStream(fromHex('02')), h3err(QPACK_DECODER_STREAM_ERROR));
    assert.throws(() => enc.handleDecoderStream(fromHex('84')), h3err(QPACK_DECODER_STREAM_ERROR));
    // Valid: acknowledge stream 0, which raises the Known Received Count to 1.
    enc.handleDecoderStream(fromHex('80'));
    assert.equal(enc.knownReceivedCount, 1);
    // Split instructions are reassembled: stream cancellation of stream 300 (6-bit prefix).
    enc.handleDecoderStream(fromHex('7f'));
    enc.handleDecoderStream(fromHex('ed01'));
  });
});
