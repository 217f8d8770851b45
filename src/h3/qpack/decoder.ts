// QPACK decoder (RFC 9204 §2.2): decodes encoded field sections, applies the peer's encoder
// stream to the dynamic table, blocks sections until their Required Insert Count is reached,
// and produces decoder-stream instructions (Section Acknowledgment, Stream Cancellation,
// Insert Count Increment). All violations throw H3Error with the RFC 9204 §6 code.
import { BufferWriter } from '../../wire/writer.js';
import { H3Error, H3ErrorCode } from '../errors.js';
import { DynamicTable, entrySize } from './dynamic-table.js';
import {
  readEncoderInstruction,
  writeInsertCountIncrement,
  writeSectionAck,
  writeStreamCancel,
} from './instructions.js';
import { INCOMPLETE, QpackReader } from './primitives.js';
import { STATIC_TABLE } from './static-table.js';
import type { FieldLine } from './types.js';

const DECOMPRESSION_FAILED = H3ErrorCode.QPACK_DECOMPRESSION_FAILED;
const ENCODER_STREAM_ERROR = H3ErrorCode.QPACK_ENCODER_STREAM_ERROR;
const NONE: readonly number[] = Object.freeze([]);

export interface QpackDecoderOptions {
  /** SETTINGS_QPACK_MAX_TABLE_CAPACITY we advertise (default 4096). */
  maxTableCapacity?: number;
  /** SETTINGS_QPACK_BLOCKED_STREAMS we advertise (default 16). */
  maxBlockedStreams?: number;
  /** SETTINGS_MAX_FIELD_SECTION_SIZE we advertise (default 65536; Infinity = unlimited). */
  maxFieldSectionSize?: number;
}

interface BlockedSection {
  readonly requiredInsertCount: number;
  readonly base: number;
  readonly block: Uint8Array;
  /** Offset of the first field line representation in `block`. */
  readonly offset: number;
}

export class QpackDecoder {
  readonly table = new DynamicTable();
  readonly maxTableCapacity: number;
  readonly maxBlockedStreams: number;
  readonly maxFieldSectionSize: number;
  readonly #maxEntries: number;
  /** Insert count the encoder knows we have received (RFC 9204 §2.1.4). */
  #knownReceivedCount = 0;
  readonly #blocked = new Map<number, BlockedSection>();
  #out = new BufferWriter(64);
  /** Unprocessed tail of the encoder stream (an incomplete instruction). */
  #inBuf = new BufferWriter(64);
  #inNeed = 0;
  readonly #encoderReader: QpackReader;
  readonly #maxString: number;

  constructor(opts: QpackDecoderOptions = {}) {
    this.maxTableCapacity = opts.maxTableCapacity ?? 4096;
    this.maxBlockedStreams = opts.maxBlockedStreams ?? 16;
    this.maxFieldSectionSize = opts.maxFieldSectionSize ?? 65536;
    // RFC 9204 §4.5.1.1: MaxEntries = floor(MaxTableCapacity / 32).
    this.#maxEntries = Math.floor(this.maxTableCapacity / 32);
    // An entry must fit the capacity; a Huffman string is at most 30/8 of its decoded length.
    this.#maxString = Math.ceil((this.maxTableCapacity * 30) / 8);
    this.#encoderReader = new QpackReader(new Uint8Array(0), 0, 0, ENCODER_STREAM_ERROR, true);
  }

  /** Number of streams currently blocked on dynamic table updates. */
  get blockedStreams(): number {
    return this.#blocked.size;
  }

  isBlocked(streamId: number): boolean {
    return this.#blocked.has(streamId);
  }

  /**
   * Processes encoder-stream octets (RFC 9204 §4.3). Returns the IDs of streams whose blocked
   * field section can now be decoded (call `resumeFieldSection` for each).
   */
  handleEncoderStream(data: Uint8Array): readonly number[] {
    let buf = data;
    let end = data.length;
    if (this.#inBuf.offset > 0) {
      this.#inBuf.bytes(data);
      if (this.#inBuf.offset < this.#inNeed) return NONE;
      buf = this.#inBuf.buf;
      end = this.#inBuf.offset;
    }
    const r = this.#encoderReader;
    r.reset(buf, 0, end);
    const before = this.table.insertCount;
    let start = 0;
    try {
      while (r.pos < r.end) {
        start = r.pos;
        this.#applyInstruction(r);
      }
      start = r.end;
    } catch (e) {
      if (e !== INCOMPLETE) throw e;
    }
    this.#keepTail(buf, start, end, r.needEnd - start);
    if (this.table.insertCount === before) return NONE;
    let unblocked: number[] | undefined;
    for (const [id, s] of this.#blocked) {
      if (s.requiredInsertCount <= this.table.insertCount) (unblocked ??= []).push(id);
    }
    return unblocked ?? NONE;
  }

  #keepTail(buf: Uint8Array, start: number, end: number, need: number): void {
    if (start >= end) {
      this.#inBuf.offset = 0;
      this.#inNeed = 0;
      return;
    }
    if (buf === this.#inBuf.buf) {
      this.#inBuf.buf.copyWithin(0, start, end);
      this.#inBuf.offset = end - start;
    } else {
      this.#inBuf.offset = 0;
      this.#inBuf.bytes(buf.subarray(start, end));
    }
    this.#inNeed = need;
  }

  #applyInstruction(r: QpackReader): void {
    const ins = readEncoderInstruction(r, this.#maxString);
    const t = this.table;
    switch (ins.type) {
      case 'set-capacity':
        // RFC 9204 §4.3.1: a capacity above our SETTINGS_QPACK_MAX_TABLE_CAPACITY is an error.
        if (ins.capacity > this.maxTableCapacity) r.fail('capacity exceeds maximum');
        t.setCapacity(ins.capacity);
        return;
      case 'insert-name-ref': {
        let name: string;
        if (ins.isStatic) {
          // RFC 9204 §3.1: invalid static index on the encoder stream.
          const e = STATIC_TABLE[ins.index];
          if (!e) r.fail('invalid static table index');
          name = e[0];
        } else {
          // RFC 9204 §3.2.5 / §2.2.3: relative to the most recent insertion.
          const abs = t.insertCount - 1 - ins.index;
          if (!t.has(abs)) r.fail('reference to a missing dynamic table entry');
          name = t.name(abs);
        }
        this.#insert(r, name, ins.value);
        return;
      }
      case 'insert-literal':
        this.#insert(r, ins.name, ins.value);
        return;
      case 'duplicate': {
        // RFC 9204 §4.3.4
        const abs = t.insertCount - 1 - ins.index;
        if (!t.has(abs)) r.fail('duplicate of a missing dynamic table entry');
        this.#insert(r, t.name(abs), t.value(abs));
        return;
      }
    }
  }

  #insert(r: QpackReader, name: string, value: string): void {
    // RFC 9204 §3.2.2: an entry larger than the capacity is an encoder stream error.
    if (entrySize(name, value) > this.table.capacity) r.fail('entry larger than table capacity');
    this.table.insert(name, value);
  }

  /**
   * Decodes an encoded field section (RFC 9204 §4.5) received on `streamId`. Returns undefined
   * when the section is blocked (RFC 9204 §2.2.1): the decoder keeps `block` (do not reuse it)
   * until `handleEncoderStream` reports the stream unblocked.
   */
  decodeFieldSection(streamId: number, block: Uint8Array): FieldLine[] | undefined {
    const r = new QpackReader(block, 0, block.length, DECOMPRESSION_FAILED);
    const ric = this.#requiredInsertCount(r, r.int(8));
    // RFC 9204 §4.5.1.2: Base from the sign bit and Delta Base.
    const sign = (r.peek() & 0x80) !== 0;
    const deltaBase = r.int(7);
    if (sign && ric <= deltaBase) r.fail('negative Base');
    const base = sign ? ric - deltaBase - 1 : ric + deltaBase;
    if (ric > this.table.insertCount) {
      // RFC 9204 §2.1.2: more blocked streams than we allow is QPACK_DECOMPRESSION_FAILED.
      if (this.#blocked.size >= this.maxBlockedStreams || this.#blocked.has(streamId)) {
        r.fail('too many blocked streams');
      }
      this.#blocked.set(streamId, { requiredInsertCount: ric, base, block, offset: r.pos });
      return undefined;
    }
    return this.#decodeLines(streamId, r, ric, base);
  }

  /** Decodes the field section that blocked `streamId`, now that the inserts have arrived. */
  resumeFieldSection(streamId: number): FieldLine[] {
    const s = this.#blocked.get(streamId);
    if (!s || s.requiredInsertCount > this.table.insertCount) {
      throw new H3Error(H3ErrorCode.H3_INTERNAL_ERROR, 'stream is not unblocked');
    }
    this.#blocked.delete(streamId);
    const r = new QpackReader(s.block, s.offset, s.block.length, DECOMPRESSION_FAILED);
    return this.#decodeLines(streamId, r, s.requiredInsertCount, s.base);
  }

  /**
   * The stream was reset or its reading abandoned (RFC 9204 §2.2.2.2): forgets a blocked
   * section and emits a Stream Cancellation (omitted when our maximum capacity is zero).
   */
  cancelStream(streamId: number): void {
    this.#blocked.delete(streamId);
    if (this.maxTableCapacity > 0) writeStreamCancel(this.#out, streamId);
  }

  /**
   * Pending decoder-stream octets (to write on our decoder stream), or undefined. New entries
   * not yet covered by a Section Acknowledgment are reported here with one Insert Count
   * Increment (RFC 9204 §2.2.2.3, §4.4.3), so call it after each batch of input.
   */
  takeDecoderStreamData(): Uint8Array | undefined {
    if (this.table.insertCount > this.#knownReceivedCount) {
      writeInsertCountIncrement(this.#out, this.table.insertCount - this.#knownReceivedCount);
      this.#knownReceivedCount = this.table.insertCount;
    }
    if (this.#out.offset === 0) return undefined;
    const out = this.#out.finish();
    this.#out.offset = 0;
    return out;
  }

  /** RFC 9204 §4.5.1.1: reconstructs the Required Insert Count from its encoding. */
  #requiredInsertCount(r: QpackReader, encoded: number): number {
    if (encoded === 0) return 0;
    const maxEntries = this.#maxEntries;
    const fullRange = 2 * maxEntries;
    if (encoded > fullRange) r.fail('invalid Required Insert Count');
    const maxValue = this.table.insertCount + maxEntries;
    const maxWrapped = Math.floor(maxValue / fullRange) * fullRange;
    let ric = maxWrapped + encoded - 1;
    if (ric > maxValue) {
      if (ric <= fullRange) r.fail('invalid Required Insert Count');
      ric -= fullRange;
    }
    if (ric === 0) r.fail('invalid Required Insert Count');
    return ric;
  }

  #decodeLines(streamId: number, r: QpackReader, ric: number, base: number): FieldLine[] {
    const t = this.table;
    const lines: FieldLine[] = [];
    const limit = this.maxFieldSectionSize;
    const maxString = r.end - r.pos;
    let total = 0;
    while (r.pos < r.end) {
      const b = r.peek();
      let name: string;
      let value: string;
      if (b & 0x80) {
        // RFC 9204 §4.5.2 Indexed Field Line: 1 T Index(6+).
        const index = r.int(6);
        if (b & 0x40) {
          const e = STATIC_TABLE[index];
          // RFC 9204 §3.1: invalid static index.
          if (!e) r.fail('invalid static table index');
          name = e[0];
          value = e[1];
        } else {
          const abs = this.#dynamicIndex(r, base - 1 - index, ric);
          name = t.name(abs);
          value = t.value(abs);
        }
      } else if (b & 0x40) {
        // RFC 9204 §4.5.4 Literal Field Line with Name Reference: 01 N T NameIndex(4+).
        const index = r.int(4);
        if (b & 0x10) {
          const e = STATIC_TABLE[index];
          if (!e) r.fail('invalid static table index');
          name = e[0];
        } else {
          name = t.name(this.#dynamicIndex(r, base - 1 - index, ric));
        }
        value = r.string(8, maxString);
      } else if (b & 0x20) {
        // RFC 9204 §4.5.6 Literal Field Line with Literal Name: 001 N H NameLen(3+).
        name = r.string(4, maxString);
        value = r.string(8, maxString);
      } else if (b & 0x10) {
        // RFC 9204 §4.5.3 Indexed Field Line with Post-Base Index: 0001 Index(4+).
        const abs = this.#dynamicIndex(r, base + r.int(4), ric);
        name = t.name(abs);
        value = t.value(abs);
      } else {
        // RFC 9204 §4.5.5 Literal Field Line with Post-Base Name Reference: 0000 N NameIdx(3+).
        name = t.name(this.#dynamicIndex(r, base + r.int(3), ric));
        value = r.string(8, maxString);
      }
      // RFC 9114 §4.2.2: field section size = sum of name + value + 32 per field.
      total += entrySize(name, value);
      if (total > limit) {
        throw new H3Error(
          H3ErrorCode.H3_EXCESSIVE_LOAD,
          'field section exceeds SETTINGS_MAX_FIELD_SECTION_SIZE',
          true,
        );
      }
      lines.push([name, value]);
    }
    if (ric > 0) {
      // RFC 9204 §4.4.1 / §2.2.2.1: acknowledge sections with dynamic references.
      writeSectionAck(this.#out, streamId);
      if (ric > this.#knownReceivedCount) this.#knownReceivedCount = ric;
    }
    return lines;
  }

  /** RFC 9204 §2.2.3: a reference must be below the Required Insert Count and not evicted. */
  #dynamicIndex(r: QpackReader, abs: number, ric: number): number {
    if (abs < 0 || abs >= ric || !this.table.has(abs)) r.fail('invalid dynamic table reference');
    return abs;
  }
}
